// SPDX-License-Identifier: MIT
/* Live migration with real work in the guest (docs/migration.md), beside
 * test-vmwp-migrate.c's echo guest: the built-in test guest checking its
 * pattern on a shared disk (vsc.mode=disk-check) moves mid-I/O three times
 * and finishes on the last worker; a destination SIGKILLed after a fixed
 * number of stream bytes (a relay thread, so the kill always lands
 * mid-transfer) leaves the guest running on the source; a guest that
 * dirties 12 MiB over and over, checking on every sweep that each page
 * holds the previous sweep's value, is refused a 0 ms budget and runs on,
 * then moves with the default budget and keeps checking on the
 * destination: a write lost in the move fails it. Shared-nothing: the
 * guest's disk moves with it, raw -> dynamic VHDX -> raw, into new images,
 * while it writes and reads back its pattern; a later boot on the last
 * image finds every region; a destination that expects shared storage
 * refuses a source copying its disks. A guest that powers off mid-move
 * ends it with an error that says so. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/test.h"
#include "tests/lib/proc-threads.h"
#include "tests/lib/test-files.h"
#include "tests/lib/vmwp-child.h"
#include "tests/guests/tinyguest.h"
#include "vhdx/vhdx.h"

TINY_GUEST(vmwp_basic_elf);

static char dir[] = "/tmp/vmwp-migrate-io-test-XXXXXX";
static char vmwp_bin[1024], elf[1024];

struct worker {
        struct vmwp_child c;
        int sock;
        char serial[700];
};

static char tiny_elf[700];
/* The image the next worker gets: the shared one, or (shared-nothing)
 * each worker its own. */
static char disk_name[64] = "disk.img";
static bool disk_vhdx;
/* The disk's "qos" in the next worker's configuration ("" for none). */
static const char *disk_qos = "";

/* The test guest on the shared disk, or (cmdline "w...") the tiny guest
 * that dirties 12 MiB over and over, without a disk. */
static void config_json(char *json, size_t cap, const char *cmdline) {
        bool tiny = cmdline[0] == 'w';
        char disks[700] = "";
        if (!tiny)
                snprintf(disks, sizeof disks, ",\"disks\":[{\"path\":\"%s/%s\"%s%s}]", dir, disk_name,
                         disk_vhdx ? ",\"format\":\"vhdx\"" : "", disk_qos);
        snprintf(json, cap,
                 "{\"name\":\"mig\",\"memory_mib\":64,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\","
                 "\"cmdline\":\"%s\"}%s}",
                 tiny ? tiny_elf : elf, cmdline, disks);
}

static int open_disk(void) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, disk_name);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        return fd;
}

#define GUEST_CMDLINE "vsc.mode=disk-check vsc.disk.regions=64 vsc.disk.region_kib=1024"

static void worker_args(struct worker *w, int n, const char *args[5]) {
        snprintf(w->serial, sizeof w->serial, "%s/serial%d.out", dir, n);
        static char spec[5][720];
        snprintf(spec[n % 5], sizeof spec[0], "file:%s", w->serial);
        args[0] = "--control-fd", args[1] = "3", args[2] = "--serial", args[3] = spec[n % 5], args[4] = NULL;
}

/* A worker that boots the guest, once "ready". */
static struct worker start_source(int n, const char *cmdline) {
        struct worker w;
        const char *args[5];
        char json[2048];
        int sv[2];
        worker_args(&w, n, args);
        config_json(json, sizeof json, cmdline);
        int disk = cmdline[0] == 'w' ? -1 : open_disk();
        w.c = vmwp_child_start_controlled(vmwp_bin, args, json, &disk, disk >= 0, -1, sv, NULL);
        if (disk >= 0)
                close(disk);
        w.sock = sv[0];
        return w;
}

/* A worker waiting for a migration on stream (passed, then closed here);
 * extra: more of the config message ("" or ",\"migrate_disks\":true"). */
static struct worker start_dest_extra(int n, int stream, const char *cmdline, const char *extra) {
        struct worker w;
        const char *args[5];
        char json[2048];
        int sv[2];
        worker_args(&w, n, args);
        config_json(json, sizeof json, cmdline);
        int disk = cmdline[0] == 'w' ? -1 : open_disk(); /* shared storage: the source's image */
        w.c = vmwp_child_spawn_configured_extra(vmwp_bin, args, json, &disk, disk >= 0, stream, "migrate_incoming",
                                                extra, sv);
        close(stream);
        if (disk >= 0)
                close(disk);
        w.sock = sv[0];
        return w;
}

static struct worker start_dest(int n, int stream, const char *cmdline) {
        return start_dest_extra(n, stream, cmdline, "");
}

static bool serial_has(const struct worker *w, const char *needle) {
        static char buf[1 << 20];
        size_t n = test_read_file(w->serial, buf, sizeof buf);
        return memmem(buf, MIN(n, sizeof buf), needle, strlen(needle)) != NULL; /* the output holds NULs */
}

static void wait_serial(const struct worker *w, const char *needle) {
        for (int i = 0; i < 6000 && !serial_has(w, needle); i++)
                usleep(10000);
        ASSERT_TRUE(serial_has(w, needle));
}

/* Post-copy's progress events of the last migrate(). */
static int postcopy_events;

/* {"op":"migrate-send"} with the stream: the reply; the passes' progress
 * events counted in *progress, post-copy's in postcopy_events. */
static struct json_object *migrate(struct worker *src, int stream, const char *opts, int *progress) {
        char req[256];
        snprintf(req, sizeof req, "{\"op\":\"migrate-send\",\"id\":7%s}", opts);
        struct json_object *m = json_tokener_parse(req);
        ASSERT_OK(proto_send(src->sock, m, &stream, 1));
        json_object_put(m);
        close(stream);
        *progress = 0;
        postcopy_events = 0;
        for (;;) {
                m = vmwp_ctl_recv(src->sock);
                if (!m) { /* the worker went away: show why */
                        char err[16384];
                        vmwp_child_finish(&src->c, 5, err, sizeof err);
                        fprintf(stderr, "%s", err);
                }
                ASSERT_NOT_NULL(m);
                const char *ev = vmwp_ctl_str(m, "event");
                if (!strcmp(ev, "migrate-progress")) {
                        if (getenv("MIG_DEBUG"))
                                fprintf(stderr, "progress: %s\n", json_object_to_json_string(m));
                        if (json_object_object_get_ex(m, "postcopy", NULL)) {
                                /* after the switch-over: the pages left, numbered after the last pass */
                                ASSERT_GT(vmwp_ctl_int(m, "pass"), *progress);
                                postcopy_events++;
                        } else {
                                ASSERT_EQ(postcopy_events, 0);
                                ASSERT_GE(vmwp_ctl_int(m, "pass"), *progress);
                                (*progress)++;
                        }
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

/* The worker's "exit" event and status. The last worker's comes when its
 * guest has finished its run and powered off: no latency is claimed, so a
 * busy machine gets two minutes. */
static void expect_exit(struct worker *w, int status, const char *reason) {
        struct json_object *m;
        while ((m = vmwp_ctl_recv_within(w->sock, 120000)) && strcmp(vmwp_ctl_str(m, "event"), "exit") != 0)
                json_object_put(m);
        ASSERT_NOT_NULL(m);
        if (reason && !strstr(vmwp_ctl_str(m, "reason"), reason))
                fprintf(stderr, "exit reason: %s\n", vmwp_ctl_str(m, "reason"));
        if (reason && !strstr(vmwp_ctl_str(m, "reason"), reason))
                ASSERT_STREQ(vmwp_ctl_str(m, "reason"), reason);
        ASSERT_EQ(vmwp_ctl_int(m, "status"), status);
        json_object_put(m);
        char err[16384];
        int st = vmwp_child_finish(&w->c, 120, err, sizeof err);
        if (st != status) /* the event said otherwise: show why */
                fprintf(stderr, "worker: %s", err);
        ASSERT_EQ(st, status);
        close(w->sock);
}

static void stream_pair(int s[2]) {
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
}

static void fresh_disk(void) {
        char path[600];
        snprintf(path, sizeof path, "%s/disk.img", dir);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_OK(ftruncate(fd, 128 << 20));
        close(fd);
}

static double num(struct json_object *m, const char *k) {
        return json_object_get_double(json_object_object_get(m, k));
}

static uint64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Three moves while the guest writes and checks its pattern; it finishes
 * on the fourth worker with every check passing. */
TEST(migrates_mid_io_back_and_forth) {
        fresh_disk();
        struct worker w[4];
        w[0] = start_source(0, GUEST_CMDLINE);
        wait_serial(&w[0], "VSC disk=0:0");
        for (int i = 1; i < 4; i++) {
                int s[2], progress;
                stream_pair(s);
                w[i] = start_dest(i, s[1], GUEST_CMDLINE);
                uint64_t asked = mono_ns();
                struct json_object *rep = migrate(&w[i - 1], s[0], "", &progress);
                uint64_t answered = mono_ns();
                if (strcmp(vmwp_ctl_str(rep, "ok"), "true") != 0) {
                        char err[16384];
                        vmwp_child_finish(&w[i].c, 5, err, sizeof err);
                        fprintf(stderr, "destination: %s", err);
                        ASSERT_STREQ(vmwp_ctl_str(rep, "error"), "");
                }
                ASSERT_GE(progress, 1);
                ASSERT_EQ(vmwp_ctl_int(rep, "passes"), progress);
                ASSERT_TRUE(num(rep, "downtime_ms") > 0 && num(rep, "downtime_ms") <= num(rep, "total_ms"));
                /* The pause on this host's CLOCK_MONOTONIC: after the
                 * request, and the downtime after it over before the reply. */
                uint64_t paused = (uint64_t)json_object_get_int64(json_object_object_get(rep, "paused_at_ns"));
                ASSERT_GT(paused, asked);
                ASSERT_LT(paused + (uint64_t)(num(rep, "downtime_ms") * 1e6), answered);
                fprintf(stderr, "move %d: %d passes, %.0f KiB sent, %d last pages, downtime %.2f ms, total %.2f ms\n", i,
                        progress, num(rep, "bytes") / 1024, vmwp_ctl_int(rep, "final_pages"), num(rep, "downtime_ms"),
                        num(rep, "total_ms"));
                json_object_put(rep);
                struct json_object *m = vmwp_ctl_recv(w[i].sock);
                ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
                json_object_put(m);
                ASSERT_STREQ(state_of(&w[i - 1]), "paused");
                json_object_put(vmwp_ctl_request(w[i - 1].sock, "{\"op\":\"stop\",\"id\":4}"));
                expect_exit(&w[i - 1], 14, "stopped by vmms");
                ASSERT_FALSE(serial_has(&w[i - 1], "VSC result=")); /* it moved mid-run */
        }
        expect_exit(&w[3], 0, "powered off");
        ASSERT_TRUE(serial_has(&w[3], "VSC result=ok status=0"));
}

/* Between source and destination: forwards both ways and SIGKILLs the
 * destination once kill_after bytes went to it. */
struct relay {
        int src, dst;
        pid_t victim;
        size_t kill_after, forwarded;
};

static void *relay_main(void *arg) {
        struct relay *r = arg;
        uint8_t buf[65536];
        for (;;) {
                struct pollfd p[2] = { { .fd = r->src, .events = POLLIN }, { .fd = r->dst, .events = POLLIN } };
                if (poll(p, 2, 30000) <= 0)
                        break;
                int from = p[0].revents ? r->src : r->dst, to = from == r->src ? r->dst : r->src;
                ssize_t n = read(from, buf, sizeof buf);
                if (n <= 0 || write(to, buf, (size_t)n) != n)
                        break;
                if (from == r->src && (r->forwarded += (size_t)n) >= r->kill_after) {
                        kill(r->victim, SIGKILL);
                        break;
                }
        }
        close(r->src);
        close(r->dst);
        return NULL;
}

TEST(destination_killed_mid_transfer_leaves_the_source_running) {
        fresh_disk();
        struct worker src = start_source(0, GUEST_CMDLINE);
        wait_serial(&src, "VSC disk=0:0");
        int a[2], b[2], progress;
        stream_pair(a);
        stream_pair(b);
        struct worker dst = start_dest(1, b[1], GUEST_CMDLINE);
        struct relay r = { .src = a[1], .dst = b[0], .victim = dst.c.pid, .kill_after = 64 * 1024 };
        pthread_t t;
        ASSERT_OK(pthread_create(&t, NULL, relay_main, &r));
        struct json_object *rep = migrate(&src, a[0], "", &progress);
        pthread_join(t, NULL);
        ASSERT_STREQ(vmwp_ctl_str(rep, "ok"), "false");
        ASSERT_TRUE(strstr(vmwp_ctl_str(rep, "error"), "the destination") != NULL);
        fprintf(stderr, "source: %s\n", vmwp_ctl_str(rep, "error"));
        json_object_put(rep);
        ASSERT_TRUE(r.forwarded >= r.kill_after);
        char err[16384];
        ASSERT_EQ(vmwp_child_finish(&dst.c, 30, err, sizeof err), 128 + SIGKILL);
        close(dst.sock);
        ASSERT_STREQ(state_of(&src), "running");
        expect_exit(&src, 0, "powered off");
        ASSERT_TRUE(serial_has(&src, "VSC result=ok status=0"));
}

/* A move that went through: the destination reports ready, both stop. */
static void moved_stop_both(struct worker *src, struct worker *dst) {
        struct json_object *m = vmwp_ctl_recv(dst->sock);
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
        json_object_put(m);
        json_object_put(vmwp_ctl_request(src->sock, "{\"op\":\"stop\",\"id\":4}"));
        expect_exit(src, 14, "stopped by vmms");
        json_object_put(vmwp_ctl_request(dst->sock, "{\"op\":\"stop\",\"id\":4}"));
        expect_exit(dst, 14, "stopped by vmms");
}

/* After a move of the 'w' guest: 128 more sweeps on the destination, each
 * checking every page holds the last one's value (no write was lost in
 * the move), then both stop. */
static void sweeps_on_then_stop(struct worker *src, struct worker *dst) {
        struct json_object *m = vmwp_ctl_recv(dst->sock);
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
        json_object_put(m);
        for (int i = 0; i < 6000 && !serial_has(dst, "..") && !serial_has(dst, "dirty BAD"); i++)
                usleep(10000);
        ASSERT_FALSE(serial_has(dst, "dirty BAD"));
        ASSERT_TRUE(serial_has(dst, ".."));
        json_object_put(vmwp_ctl_request(src->sock, "{\"op\":\"stop\",\"id\":4}"));
        expect_exit(src, 14, "stopped by vmms");
        ASSERT_STREQ(state_of(dst), "running");
        json_object_put(vmwp_ctl_request(dst->sock, "{\"op\":\"stop\",\"id\":4}"));
        expect_exit(dst, 14, "stopped by vmms");
}

/* A guest that dirties 12 MiB as fast as it can against the tiniest
 * budget (0 ms: only a pass that ends with nothing dirty meets it):
 * refused after the passes allowed, and the VM runs on (it then moves
 * with the default budget). */
TEST(a_budget_that_cannot_be_met_is_refused_and_the_guest_runs_on) {
        struct worker src, dst;
        struct json_object *rep = NULL;
        int s[2], progress;
        /* A vCPU thread starved for a whole pass on a loaded 2-core host
         * dirties nothing in it, which meets even this budget: try again. */
        for (int attempt = 0; attempt < 5; attempt++) {
                src = start_source(0, "w");
                wait_serial(&src, "."); /* 64 sweeps done: it is in its loop */
                stream_pair(s);
                dst = start_dest(1, s[1], "w");
                rep = migrate(&src, s[0], ",\"max_downtime_ms\":0,\"max_passes\":3", &progress);
                if (strcmp(vmwp_ctl_str(rep, "ok"), "false") == 0)
                        break;
                fprintf(stderr, "converged (a pass with nothing dirty): %s%s\n", json_object_to_json_string(rep),
                        serial_has(&src, "dirty BAD") ? " [the source's guest reported dirty BAD]" : "");
                json_object_put(rep);
                rep = NULL;
                moved_stop_both(&src, &dst);
        }
        ASSERT_NOT_NULL(rep);
        ASSERT_EQ(vmwp_ctl_int(rep, "errno"), ETIMEDOUT);
        ASSERT_TRUE(strstr(vmwp_ctl_str(rep, "error"), "did not converge: after 3 passes") != NULL);
        fprintf(stderr, "refused: %s\n", vmwp_ctl_str(rep, "error"));
        ASSERT_EQ(progress, 3);
        json_object_put(rep);
        ASSERT_STREQ(state_of(&src), "running");
        /* The source closed the stream: the destination gives up, never runs. */
        expect_exit(&dst, 3, "the source gave up: did not converge");
        ASSERT_STREQ(state_of(&src), "running");

        stream_pair(s);
        dst = start_dest(2, s[1], "w");
        rep = migrate(&src, s[0], "", &progress);
        if (strcmp(vmwp_ctl_str(rep, "ok"), "true") != 0)
                ASSERT_STREQ(vmwp_ctl_str(rep, "error"), "");
        fprintf(stderr, "dirtying guest, 300 ms budget: %d passes, %.0f KiB sent, %d last pages, downtime %.2f ms, "
                "total %.2f ms\n", progress, num(rep, "bytes") / 1024, vmwp_ctl_int(rep, "final_pages"),
                num(rep, "downtime_ms"), num(rep, "total_ms"));
        ASSERT_GT(vmwp_ctl_int(rep, "final_pages"), 0);
        json_object_put(rep);
        sweeps_on_then_stop(&src, &dst);
}

/* A guest that powers off while its VM moves: the move's error says so
 * and why, whatever step noticed it first (here the wait for the
 * destination's answer to the hello: the test holds the stream, answers
 * nothing, and closes it once the guest is done), not that step's errno;
 * the worker then exits as the guest asked. The test guest checks 4 MiB
 * of its disk and powers off, its disk capped at 2 MiB/s so that it runs
 * for seconds whatever the host (the move begins at once). Its console is
 * a file: the main loop, which serves a console socket's input, is in the
 * move. */
TEST(a_guest_that_powers_off_mid_move_is_named_in_the_error) {
        fresh_disk();
        disk_qos = ",\"qos\":{\"max_bytes_per_s\":2097152}";
        struct worker src = start_source(30, "vsc.mode=disk-check");
        disk_qos = "";
        int s[2];
        stream_pair(s);
        struct json_object *m =
                json_tokener_parse("{\"op\":\"migrate-send\",\"id\":7,\"peer_timeout_ms\":60000}");
        ASSERT_OK(proto_send(src.sock, m, &s[0], 1));
        json_object_put(m);
        close(s[0]);
        /* The hello came: the move is under way; then the guest finishes. */
        struct pollfd p = { .fd = s[1], .events = POLLIN };
        ASSERT_EQ(poll(&p, 1, 20000), 1);
        wait_serial(&src, "VSC result=ok");
        /* its power-off after that line, not the line, ends the guest:
         * then its vCPU thread (vid names it "vcpu0") is gone */
        for (int i = 0; i < 3000 && proc_threads(src.c.pid, "vcpu0").threads; i++)
                usleep(10000);
        ASSERT_EQ(proc_threads(src.c.pid, "vcpu0").threads, 0u);
        close(s[1]);
        while ((m = vmwp_ctl_recv_within(src.sock, 60000)) && strcmp(vmwp_ctl_str(m, "event"), "") != 0)
                json_object_put(m);
        ASSERT_NOT_NULL(m);
        fprintf(stderr, "the move's error: %s\n", vmwp_ctl_str(m, "error"));
        ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "false");
        ASSERT_EQ(vmwp_ctl_int(m, "errno"), ESHUTDOWN);
        ASSERT_TRUE(strstr(vmwp_ctl_str(m, "error"), "the VM stopped during the migration: powered off") != NULL);
        json_object_put(m);
        expect_exit(&src, 0, "powered off");
}

/* The same guest, the same impossible budget, with post-copy allowed: the
 * switch-over comes after the passes allowed all the same, the pages still
 * dirty then are fetched by the destination while its guest runs (its
 * faults first, the rest pushed), and the guest's checks on every sweep
 * there find every page as its last write left it. */
TEST(post_copy_moves_a_guest_that_cannot_converge) {
        struct worker src, dst;
        struct json_object *rep = NULL;
        int s[2], progress;
        for (int attempt = 0; attempt < 5; attempt++) {
                src = start_source(0, "w");
                wait_serial(&src, ".");
                stream_pair(s);
                dst = start_dest(1, s[1], "w");
                rep = migrate(&src, s[0], ",\"max_downtime_ms\":0,\"max_passes\":2,\"postcopy\":true", &progress);
                if (strcmp(vmwp_ctl_str(rep, "ok"), "true") != 0)
                        ASSERT_STREQ(vmwp_ctl_str(rep, "error"), "");
                if (json_object_object_get_ex(rep, "postcopy", NULL))
                        break;
                /* A pass with nothing dirty (a starved vCPU) met the budget:
                 * an ordinary move. Again. */
                json_object_put(rep);
                rep = NULL;
                moved_stop_both(&src, &dst);
        }
        ASSERT_NOT_NULL(rep);
        fprintf(stderr, "post-copy: %d passes, %.0f KiB sent, %d pages after the switch-over (%d asked for in %d "
                "requests), downtime %.2f ms, post-copy %.2f ms, total %.2f ms\n",
                progress, num(rep, "bytes") / 1024, vmwp_ctl_int(rep, "postcopy_pages"),
                vmwp_ctl_int(rep, "postcopy_requested"), vmwp_ctl_int(rep, "postcopy_requests"),
                num(rep, "downtime_ms"), num(rep, "postcopy_ms"), num(rep, "total_ms"));
        ASSERT_EQ(progress, 2);
        ASSERT_GT(postcopy_events, 0); /* at least the COMMIT's */
        ASSERT_GT(vmwp_ctl_int(rep, "postcopy_pages"), 0);
        ASSERT_EQ(vmwp_ctl_int(rep, "final_pages"), 0);
        json_object_put(rep);
        sweeps_on_then_stop(&src, &dst);
}

/* A new, empty image of 128 MiB: raw, or a dynamic VHDX. */
static void new_image(const char *name, bool vhdx) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        if (vhdx) {
                char err[256];
                struct vhdx_create_options o = { .type = VHDX_DYNAMIC, .virtual_size = 128 << 20 };
                ASSERT_OK(vhdx_create(fd, &o, err, sizeof err));
        } else {
                ASSERT_OK(ftruncate(fd, 128 << 20));
        }
        close(fd);
}

/* The guest's disk moves with it, mid-I/O, into a new image each time
 * (raw -> VHDX -> raw); it finishes its read-back on the third worker, and
 * a fourth boot verifies every region on the last image. The first two
 * workers cap the guest's disk at 2 MiB/s (Storage QoS, which moves with
 * the held requests), so its 64 MiB of writes outlast both moves on any
 * host: on the emulated AMD-V host the uncapped guest had finished before
 * the second move began. The third lifts the cap (disk-qos) once it runs. */
TEST(shared_nothing_moves_the_disk_mid_io) {
        static const struct {
                const char *name;
                bool vhdx;
        } images[] = { { "sn0.img", false }, { "sn1.vhdx", true }, { "sn2.img", false } };
        for (size_t i = 0; i < ARRAY_SIZE(images); i++)
                new_image(images[i].name, images[i].vhdx);
        struct worker w[4];
        snprintf(disk_name, sizeof disk_name, "%s", images[0].name);
        disk_vhdx = false;
        disk_qos = ",\"qos\":{\"max_bytes_per_s\":2097152}";
        w[0] = start_source(10, GUEST_CMDLINE);
        wait_serial(&w[0], "index=63 "); /* the region writes begin */
        usleep(20000);
        double disk_bytes = 0;
        for (int i = 1; i < 3; i++) {
                int s[2], progress;
                /* what this test is about: the guest is still writing */
                ASSERT_FALSE(serial_has(&w[i - 1], "disk_write="));
                stream_pair(s);
                snprintf(disk_name, sizeof disk_name, "%s", images[i].name);
                disk_vhdx = images[i].vhdx;
                w[i] = start_dest_extra(10 + i, s[1], GUEST_CMDLINE, ",\"migrate_disks\":true");
                struct json_object *rep = migrate(&w[i - 1], s[0], ",\"copy_disks\":true", &progress);
                if (strcmp(vmwp_ctl_str(rep, "ok"), "true") != 0) {
                        char err[16384];
                        vmwp_child_finish(&w[i].c, 5, err, sizeof err);
                        fprintf(stderr, "destination: %s", err);
                        ASSERT_STREQ(vmwp_ctl_str(rep, "error"), "");
                }
                disk_bytes += num(rep, "disk_bytes");
                fprintf(stderr,
                        "shared-nothing move %d (%s): %d passes, %.0f KiB of disk, %.0f KiB in the downtime, "
                        "downtime %.2f ms, total %.2f ms\n",
                        i, images[i].name, progress, num(rep, "disk_bytes") / 1024, num(rep, "final_disk_bytes") / 1024,
                        num(rep, "downtime_ms"), num(rep, "total_ms"));
                json_object_put(rep);
                struct json_object *m = vmwp_ctl_recv(w[i].sock);
                ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
                json_object_put(m);
                json_object_put(vmwp_ctl_request(w[i - 1].sock, "{\"op\":\"stop\",\"id\":4}"));
                expect_exit(&w[i - 1], 14, "stopped by vmms");
        }
        struct json_object *m =
                vmwp_ctl_reply(w[2].sock, "{\"op\":\"disk-qos\",\"id\":6,\"disk\":0,\"max_bytes_per_s\":0}");
        ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "true");
        json_object_put(m);
        disk_qos = "";
        ASSERT_GT(disk_bytes, 0);
        expect_exit(&w[2], 0, "powered off");
        ASSERT_TRUE(serial_has(&w[2], "VSC result=ok status=0"));
        ASSERT_TRUE(serial_has(&w[2], "compared=1"));
        /* Everything the guest wrote is on the last image. */
        w[3] = start_source(13, GUEST_CMDLINE " vsc.disk.verify_only=1");
        expect_exit(&w[3], 0, "powered off");
        ASSERT_TRUE(serial_has(&w[3], "compared=1"));
        ASSERT_TRUE(serial_has(&w[3], "VSC result=ok status=0"));
        snprintf(disk_name, sizeof disk_name, "disk.img");
}

/* A source copying its disks and a destination on shared storage (and the
 * reverse) disagree at the hello: refused, the source runs on. */
TEST(shared_nothing_and_shared_storage_do_not_mix) {
        for (int k = 0; k < 2; k++) {
                struct worker src = start_source(20 + k, "w");
                wait_serial(&src, ".");
                int s[2], progress;
                stream_pair(s);
                struct worker dst = start_dest_extra(22 + k, s[1], "w", k ? ",\"migrate_disks\":true" : "");
                struct json_object *rep = migrate(&src, s[0], k ? "" : ",\"copy_disks\":true", &progress);
                ASSERT_STREQ(vmwp_ctl_str(rep, "ok"), "false");
                fprintf(stderr, "refused: %s\n", vmwp_ctl_str(rep, "error"));
                ASSERT_TRUE(strstr(vmwp_ctl_str(rep, "error"), k ? "this destination expects the disks' content"
                                                                  : "the source copies its disks") != NULL);
                json_object_put(rep);
                expect_exit(&dst, 3, NULL);
                ASSERT_STREQ(state_of(&src), "running");
                json_object_put(vmwp_ctl_request(src.sock, "{\"op\":\"stop\",\"id\":4}"));
                expect_exit(&src, 14, "stopped by vmms");
        }
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        const char *b = getenv("VM_BUILD_DIR");
        snprintf(vmwp_bin, sizeof vmwp_bin, "%s/vmwp/vmwp", b ? b : "build/debug");
        snprintf(elf, sizeof elf, "%s/guest-vsc/guest/vsc-guest.elf", b ? b : "build/debug");
        if (access(vmwp_bin, X_OK) != 0 || access(elf, R_OK) != 0)
                TEST_SKIP("%s or %s not built", vmwp_bin, elf);
        signal(SIGPIPE, SIG_IGN);
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(tiny_elf, sizeof tiny_elf, "%s/basic.elf", dir);
        test_write_file(tiny_elf, tg_vmwp_basic_elf, tg_vmwp_basic_elf_len);
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        (void)test_remove_tree(dir);
        return r;
}
