// SPDX-License-Identifier: MIT
/* Auto-converge (docs/migration.md, "Convergence"): the tiny guest that
 * dirties 12 MiB over and over ("w": every sweep checks that each page
 * holds the previous sweep's value, a '.' every 64 sweeps) against a
 * downtime budget of a few ms, which its dirty set does not fit:
 *   - with auto_converge off the migration fails with the reason and the
 *     guest runs on at the speed it had (a budget of 1 ms: below the
 *     switch-over's fixed cost, so refused however the host schedules);
 *   - with it on but passes too few, the vCPUs end up throttled hard, the
 *     migration fails, and the guest is back at full speed afterwards (the
 *     rate of its '.' before and after, with a generous margin);
 *   - with it on (the default) the same budget is met: the throttle
 *     slows the guest until its dirty pages fit, the move succeeds and
 *     the guest keeps checking on the destination (a lost write fails it).
 * A wrong type for auto_converge is refused. Tests/unit/test-vid-throttle.c
 * has the throttle itself without KVM. */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/test.h"
#include "tests/lib/test-files.h"
#include "tests/lib/vmwp-child.h"
#include "tests/guests/tinyguest.h"

TINY_GUEST(vmwp_basic_elf);

static char dir[] = "/tmp/vmwp-autoconv-test-XXXXXX";
static char vmwp_bin[1024], elf[700];

/* A budget the dirtying guest does not fit: the switch-over's fixed cost
 * is taken as 3 ms, so only a pass that ends with no page dirty meets
 * it. Unthrottled, the vCPU writes pages all through every pass (unless
 * a loaded host starves its thread for a whole pass: the test tries
 * again); throttled hard, it sleeps through most of the short late
 * passes. Not a smaller one: below 3 ms it can never be met. */
#define SMALL_BUDGET ",\"max_downtime_ms\":3"

struct worker {
        struct vmwp_child c;
        int sock;
        char serial[700];
};

/* Every worker its own serial file. */
static void spawn_args(struct worker *w, const char *args[5], char *json, size_t cap) {
        static char spec[720];
        static int n;
        snprintf(w->serial, sizeof w->serial, "%s/serial%d.out", dir, n++);
        snprintf(spec, sizeof spec, "file:%s", w->serial);
        args[0] = "--control-fd", args[1] = "3", args[2] = "--serial", args[3] = spec, args[4] = NULL;
        snprintf(json, cap,
                 "{\"name\":\"ac\",\"memory_mib\":64,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\","
                 "\"cmdline\":\"w\"}}",
                 elf);
}

static struct worker start_source(void) {
        struct worker w;
        const char *args[5];
        char json[2048];
        int sv[2];
        spawn_args(&w, args, json, sizeof json);
        w.c = vmwp_child_start_controlled(vmwp_bin, args, json, NULL, 0, -1, sv, NULL);
        w.sock = sv[0];
        return w;
}

static struct worker start_dest(int stream) {
        struct worker w;
        const char *args[5];
        char json[2048];
        int sv[2];
        spawn_args(&w, args, json, sizeof json);
        w.c = vmwp_child_spawn_configured(vmwp_bin, args, json, NULL, 0, stream, "migrate_incoming", sv);
        close(stream);
        w.sock = sv[0];
        return w;
}

static const char *serial(const struct worker *w, size_t *len) {
        static char buf[1 << 20];
        *len = MIN(test_read_file(w->serial, buf, sizeof buf), sizeof buf);
        return buf;
}

static bool serial_has(const struct worker *w, const char *needle) {
        size_t n;
        const char *s = serial(w, &n);
        return memmem(s, n, needle, strlen(needle)) != NULL; /* the output holds NULs */
}

/* The guest's '.'s so far: one per 64 sweeps of 12 MiB (its boot output
 * has none). */
static unsigned dots(const struct worker *w) {
        size_t n;
        const char *s = serial(w, &n);
        unsigned d = 0;
        for (size_t i = 0; i < n; i++)
                d += s[i] == '.';
        return d;
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The guest's progress: '.'s per second, timed from one '.' to the
 * third after it (or what came within 90 s: a guest slowed down shows
 * as a low rate, not as a hang). */
static double dot_rate(const struct worker *w) {
        unsigned d = dots(w);
        double t0 = now_s(), t;
        while (dots(w) == d && now_s() - t0 < 90)
                usleep(5000);
        d = dots(w);
        t0 = now_s();
        while (dots(w) < d + 3 && (t = now_s()) - t0 < 90)
                usleep(5000);
        t = now_s();
        return (double)(dots(w) - d) / (t - t0);
}

static void wait_dots(const struct worker *w, unsigned n) {
        for (int i = 0; i < 6000 && dots(w) < n && !serial_has(w, "dirty BAD"); i++)
                usleep(10000);
        ASSERT_FALSE(serial_has(w, "dirty BAD"));
        ASSERT_GE(dots(w), n);
}

/* A source whose guest sweeps, its vCPU thread at nice -10. The tests
 * take it that the guest writes all through every unthrottled pass, and a
 * host loaded by a test beside this one (ctest -j2 on 2 cores, beside
 * test-vmms-migrate) broke that: the vCPU thread waited 3.5 ms for a
 * core, a pass found no page dirty, and the passes after it took
 * microseconds each and found none either (20 passes in 70 us), so a
 * throttle raised to 99 % never got to park the vCPU. The nice value
 * needs root (CAP_SYS_NICE); without it the tests' retries remain. */
static struct worker sweeping_source(void) {
        struct worker w = start_source();
        wait_dots(&w, 1);
        char dir_path[64];
        snprintf(dir_path, sizeof dir_path, "/proc/%d/task", (int)w.c.pid);
        DIR *d = opendir(dir_path);
        unsigned boosted = 0;
        for (struct dirent *e; d && (e = readdir(d));) {
                char comm_path[384], comm[32] = "";
                snprintf(comm_path, sizeof comm_path, "%s/%s/comm", dir_path, e->d_name);
                (void)test_read_file(comm_path, comm, sizeof comm - 1);
                if (!strncmp(comm, "vcpu", 4) && setpriority(PRIO_PROCESS, (id_t)atoi(e->d_name), -10) == 0)
                        boosted++;
        }
        if (d)
                closedir(d);
        fprintf(stderr, "vCPU threads at nice -10: %u\n", boosted);
        return w;
}

/* {"op":"migrate-send"} with the stream: the reply; progress events
 * counted, the highest throttle_pct they reported in *max_pct. */
static struct json_object *migrate(struct worker *src, int stream, const char *opts, int *progress, int *max_pct) {
        char req[256];
        snprintf(req, sizeof req, "{\"op\":\"migrate-send\",\"id\":7%s}", opts);
        struct json_object *m = json_tokener_parse(req);
        ASSERT_NOT_NULL(m);
        ASSERT_OK(proto_send(src->sock, m, &stream, 1));
        json_object_put(m);
        close(stream);
        *progress = *max_pct = 0;
        for (;;) {
                m = vmwp_ctl_recv(src->sock);
                ASSERT_NOT_NULL(m);
                const char *ev = vmwp_ctl_str(m, "event");
                if (!strcmp(ev, "migrate-progress")) {
                        if (getenv("MIG_DEBUG"))
                                fprintf(stderr, "progress: %s\n", json_object_to_json_string(m));
                        (*progress)++;
                        *max_pct = MAX(*max_pct, vmwp_ctl_int(m, "throttle_pct"));
                } else if (!ev[0]) {
                        ASSERT_EQ(vmwp_ctl_int(m, "id"), 7);
                        return m;
                }
                json_object_put(m);
        }
}

static const char *state_of(struct worker *w) {
        static char s[32];
        struct json_object *m = vmwp_ctl_reply(w->sock, "{\"op\":\"status\",\"id\":3}");
        snprintf(s, sizeof s, "%s", vmwp_ctl_str(m, "state"));
        json_object_put(m);
        return s;
}

static void stop(struct worker *w, int status) {
        json_object_put(vmwp_ctl_request(w->sock, "{\"op\":\"stop\",\"id\":4}"));
        struct json_object *m;
        while ((m = vmwp_ctl_recv(w->sock)) && strcmp(vmwp_ctl_str(m, "event"), "exit") != 0)
                json_object_put(m);
        ASSERT_NOT_NULL(m);
        json_object_put(m);
        char err[16384];
        ASSERT_EQ(vmwp_child_finish(&w->c, 120, err, sizeof err), status);
        close(w->sock);
}

static double num(struct json_object *m, const char *k) {
        return json_object_get_double(json_object_object_get(m, k));
}

static bool ok(struct json_object *rep) {
        return json_object_get_boolean(json_object_object_get(rep, "ok"));
}

/* A failed move: the destination was told and ends without running. */
static void dest_gave_up(struct worker *dst) {
        char err[16384];
        ASSERT_EQ(vmwp_child_finish(&dst->c, 60, err, sizeof err), 3);
        close(dst->sock);
}

TEST(the_option_must_be_a_boolean) {
        struct worker src = start_source();
        for (int i = 0; i < 6000 && !serial_has(&src, "memmap"); i++) /* booted */
                usleep(10000);
        int s[2], progress, pct;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
        struct json_object *rep = migrate(&src, s[0], ",\"auto_converge\":1", &progress, &pct);
        close(s[1]);
        ASSERT_FALSE(ok(rep));
        ASSERT_EQ(vmwp_ctl_int(rep, "errno"), EINVAL);
        ASSERT_STREQ(vmwp_ctl_str(rep, "error"), "\"auto_converge\" must be true or false");
        ASSERT_EQ(progress, 0);
        json_object_put(rep);
        ASSERT_STREQ(state_of(&src), "running");
        stop(&src, 14);
}

/* Without auto-converge a budget the move cannot meet is refused, the
 * guest runs on unthrottled. Then with it, and passes too few to converge: the
 * throttle climbs to 70 % or more, the move fails all the same, and the
 * guest is back at full speed: half its rate before or better, where a
 * throttle left on would allow 30 % at most. */
TEST(a_failed_migration_leaves_the_guest_at_full_speed) {
        struct worker src = sweeping_source(), dst;
        double before = dot_rate(&src);
        int s[2], progress, pct;
        struct json_object *rep = NULL;
        /* 1 ms, below the switch-over's fixed cost: refused for sure. The
         * small budget was met now and then here too, five tries in a row
         * beside test-vmms-migrate on 2 cores: a pass that finds no page
         * dirty meets it, and the host starved the vCPU thread for a
         * whole pass each time. */
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
        dst = start_dest(s[1]);
        rep = migrate(&src, s[0], ",\"max_downtime_ms\":1,\"auto_converge\":false,\"max_passes\":6", &progress,
                      &pct);
        fprintf(stderr, "auto-converge off: %s\n", json_object_to_json_string(rep));
        ASSERT_NOT_NULL(rep);
        ASSERT_FALSE(ok(rep));
        ASSERT_EQ(vmwp_ctl_int(rep, "errno"), ETIMEDOUT);
        ASSERT_TRUE(strstr(vmwp_ctl_str(rep, "error"), "did not converge: after 6 passes") != NULL);
        ASSERT_TRUE(strstr(vmwp_ctl_str(rep, "error"), "(auto-converge off)") != NULL);
        ASSERT_EQ(progress, 6);
        ASSERT_EQ(pct, 0);
        ASSERT_EQ(vmwp_ctl_int(rep, "throttle_pct"), 0);
        ASSERT_TRUE(num(rep, "throttled_ms") == 0);
        json_object_put(rep);
        dest_gave_up(&dst);
        ASSERT_STREQ(state_of(&src), "running");

        /* 0 ms can never be met (the switch-over alone is taken as 3):
         * the throttle rises every pass the estimate does not clearly
         * fall, to 70 % or more within 20 passes. */
        /* The 20 passes take 40-90 ms, a few periods of the throttle: a
         * raised share must take effect within the period under way
         * (before vid did so, 1 run in 4 here parked nothing). A vCPU
         * thread that waits for a core through a pass (sweeping_source
         * says how a CI run's three tries came to 0 pages dirty and none
         * parked) parks none either: once more, at most three times. */
        for (int attempt = 0; attempt < 3; attempt++) {
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
                dst = start_dest(s[1]);
                rep = migrate(&src, s[0], ",\"max_downtime_ms\":0,\"max_passes\":20", &progress, &pct);
                fprintf(stderr, "auto-converge, 0 ms: %s\n", json_object_to_json_string(rep));
                if (ok(rep) || num(rep, "throttled_ms") > 0 || attempt == 2)
                        break;
                json_object_put(rep);
                dest_gave_up(&dst);
                usleep(100000);
        }
        ASSERT_FALSE(ok(rep));
        ASSERT_EQ(vmwp_ctl_int(rep, "errno"), ETIMEDOUT);
        ASSERT_TRUE(strstr(vmwp_ctl_str(rep, "error"), "with the vCPUs throttled (auto-converge: parked ") != NULL);
        ASSERT_GE(pct, 70);
        ASSERT_EQ(vmwp_ctl_int(rep, "throttle_pct"), pct);
        ASSERT_TRUE(num(rep, "throttled_ms") > 0);
        json_object_put(rep);
        dest_gave_up(&dst);
        ASSERT_STREQ(state_of(&src), "running");
        /* At 70 % or more still on, the rate would be 30 % or less. The
         * first sweeps after the moves may be slower for another reason:
         * the dirty log left each page write-protected, and each page's
         * first write after it faults once (on the emulated AMD-V host,
         * tests/amdv/, every such exit is translated by TCG). So up to
         * three windows of three sweeps; the throttle would hold in all. */
        double after = 0;
        for (int w = 0; w < 3 && after < before * 0.5; w++) {
                after = dot_rate(&src);
                fprintf(stderr, "guest progress: %.1f sweeps/s before, %.1f after the failed moves (window %d)\n",
                        before * 64, after * 64, w + 1);
                if (after == 0)
                        break; /* not a sweep in 90 s: stopped, not slow */
        }
        ASSERT_TRUE(before > 0 && after >= before * 0.5);
        ASSERT_FALSE(serial_has(&src, "dirty BAD"));
        stop(&src, 14);
}

/* The same small budget, auto-converge on (the default): the throttle
 * brings the dirty pages down until they fit; the guest moves and keeps
 * checking every page on the destination. */
TEST(auto_converge_meets_a_small_budget) {
        struct worker src = sweeping_source(), dst;
        int s[2], progress, pct;
        struct json_object *rep = NULL;
        /* A loaded 2-core host makes this a matter of luck either way,
         * so up to five tries: throttled hard, the vCPU still runs a
         * slice now and then, and one in the last short pass leaves a page
         * dirty (a local run: "4 ms expected, the budget is 3 ms"; the
         * guest runs on here); or the vCPU thread starved through the
         * early passes dirties nothing, and the guest moves unthrottled (a
         * CI run: 3 passes, throttle 0; another: a throttle set that the
         * vCPU never ran into, 0 ms parked; back to a fresh source). */
        for (int attempt = 0; attempt < 5; attempt++) {
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
                dst = start_dest(s[1]);
                rep = migrate(&src, s[0], SMALL_BUDGET, &progress, &pct);
                fprintf(stderr, "auto-converge on: %d passes, %s\n", progress, json_object_to_json_string(rep));
                bool throttled = ok(rep) && pct > 0 && num(rep, "throttled_ms") > 0;
                if (attempt == 4 || throttled || (!ok(rep) && vmwp_ctl_int(rep, "errno") != ETIMEDOUT))
                        break;
                bool moved = ok(rep);
                json_object_put(rep);
                if (moved) {
                        stop(&src, 14);
                        stop(&dst, 14);
                        src = sweeping_source();
                } else {
                        dest_gave_up(&dst);
                        ASSERT_STREQ(state_of(&src), "running");
                }
        }
        if (!ok(rep))
                ASSERT_STREQ(vmwp_ctl_str(rep, "error"), "");
        ASSERT_GT(pct, 0);
        ASSERT_GT(vmwp_ctl_int(rep, "throttle_pct"), 0);
        ASSERT_TRUE(num(rep, "throttled_ms") > 0);
        ASSERT_TRUE(num(rep, "downtime_ms") > 0);
        json_object_put(rep);
        struct json_object *m = vmwp_ctl_recv(dst.sock);
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
        json_object_put(m);
        ASSERT_STREQ(state_of(&src), "paused");
        stop(&src, 14);
        /* Two '.'s (128 sweeps) on the destination, at full speed, each
         * sweep checking every page holds the last one's value. */
        wait_dots(&dst, 2);
        ASSERT_STREQ(state_of(&dst), "running");
        stop(&dst, 14);
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        vmwp_child_require_bin(vmwp_bin, sizeof vmwp_bin);
        signal(SIGPIPE, SIG_IGN);
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(elf, sizeof elf, "%s/basic.elf", dir);
        test_write_file(elf, tg_vmwp_basic_elf, tg_vmwp_basic_elf_len);
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        (void)test_remove_tree(dir);
        return r;
}
