// SPDX-License-Identifier: MIT
/* Live migration between two vmwp workers on this host (docs/migration.md):
 * the interrupt-driven echo guest moves over a stream socketpair in the
 * middle of its serial session and goes on echoing on the destination,
 * back and forth; a destination that dies mid-transfer or never reports
 * running, and a guest that cannot meet its downtime budget, leave the
 * VM running on the source; a corrupt or cut stream is refused by the
 * destination (a relay process between the two flips a byte or stops),
 * and so is device memory it has no room for (the relay adds a record). */
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/macro.h"
#include "common/migstream.h"
#include "common/vmstate.h"
#include "common/proto.h"
#include "common/test.h"
#include "tests/guests/tinyguest.h"
#include "tests/lib/cpufeat-missing.h"
#include "tests/lib/serial-socket.h"
#include "tests/lib/test-files.h"
#include "tests/lib/vmwp-child.h"

TINY_GUEST(vmwp_irq_elf);

static char dir[] = "/tmp/vmwp-migrate-test-XXXXXX";
static char vmwp_bin[1024], config_json[2048];

static void setup(void) {
        char kernel[512];
        snprintf(kernel, sizeof kernel, "%s/irq.elf", dir);
        test_write_file(kernel, tg_vmwp_irq_elf, tg_vmwp_irq_elf_len);
        snprintf(config_json, sizeof config_json,
                 "{\"name\":\"mvm\",\"memory_mib\":32,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\","
                 "\"cmdline\":\"\"}}",
                 kernel);
}

static int connect_retry(const char *path) {
        return unix_connect_retry(path);
}

/* Writes text to the guest and reads until its echo came (20 s at most). */
static bool echo(int con, const char *text) {
        char buf[4096];
        size_t n = 0;
        if (write(con, text, strlen(text)) != (ssize_t)strlen(text))
                return false;
        for (int i = 0; i < 2000 && n < sizeof buf - 1; i++) {
                struct pollfd p = { .fd = con, .events = POLLIN };
                if (poll(&p, 1, 10) <= 0)
                        continue;
                ssize_t k = read(con, buf + n, sizeof buf - 1 - n);
                if (k <= 0)
                        return false;
                n += (size_t)k;
                if (memmem(buf, n, text, strlen(text)))
                        return true;
        }
        return false;
}

struct worker {
        struct vmwp_child c;
        int ctl;   /* our end of its control socket */
        int con;   /* its serial console */
        char sock[600];
};

/* A worker booting the guest (mig_fd < 0) or receiving it over mig_fd;
 * a booted one's console is connected. */
static void worker_start(struct worker *w, int n, int mig_fd) {
        snprintf(w->sock, sizeof w->sock, "%s/serial-%d.sock", dir, n);
        char serial[700];
        snprintf(serial, sizeof serial, "socket:%s", w->sock);
        const char *args[] = { "--control-fd", "3", "--serial", serial, NULL };
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
        w->c = vmwp_child_spawn(vmwp_bin, args, sv[1], true);
        close(sv[1]);
        w->ctl = sv[0];
        char msg[4096];
        snprintf(msg, sizeof msg, "{\"op\":\"config\",\"config\":%s%s}", config_json,
                 mig_fd >= 0 ? ",\"files\":[\"migrate_incoming\"]" : "");
        struct json_object *m = json_tokener_parse(msg);
        ASSERT_OK(proto_send(w->ctl, m, mig_fd >= 0 ? &mig_fd : NULL, mig_fd >= 0 ? 1 : 0));
        json_object_put(m);
        w->con = -1;
        if (mig_fd < 0) {
                m = vmwp_ctl_recv(w->ctl);
                ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
                json_object_put(m);
                w->con = connect_retry(w->sock);
                ASSERT_GE(w->con, 0);
        }
}

/* The exit event and status; reason (if given) must be in it. */
static void worker_end(struct worker *w, int status, const char *reason) {
        char err[16384];
        struct json_object *m = vmwp_ctl_recv(w->ctl);
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "exit");
        if (reason && !strstr(vmwp_ctl_str(m, "reason"), reason))
                ASSERT_STREQ(vmwp_ctl_str(m, "reason"), reason);
        ASSERT_EQ(vmwp_ctl_int(m, "status"), status);
        json_object_put(m);
        ASSERT_EQ(vmwp_child_finish(&w->c, 30, err, sizeof err), status);
        close(w->ctl);
        if (w->con >= 0)
                close(w->con);
}

static void worker_stop(struct worker *w) {
        json_object_put(vmwp_ctl_request(w->ctl, "{\"op\":\"stop\",\"id\":99}"));
        worker_end(w, 14, "stopped by vmms");
}

static const char *state_of(struct worker *w) {
        static char state[32];
        struct json_object *m = vmwp_ctl_request(w->ctl, "{\"op\":\"status\",\"id\":7}");
        ASSERT_EQ(vmwp_ctl_int(m, "id"), 7); /* its reply, not an event left unread */
        snprintf(state, sizeof state, "%s", vmwp_ctl_str(m, "state"));
        json_object_put(m);
        return state;
}

/* {"op":"migrate-send"} with fd and extra options: the reply, after
 * counting the progress events (each with every field). */
static struct json_object *migrate(struct worker *w, int fd, const char *opts, int *progress) {
        char req[512];
        snprintf(req, sizeof req, "{\"op\":\"migrate-send\",\"id\":5%s}", opts);
        struct json_object *m = json_tokener_parse(req);
        ASSERT_OK(proto_send(w->ctl, m, &fd, 1));
        json_object_put(m);
        *progress = 0;
        for (;;) {
                m = vmwp_ctl_recv(w->ctl);
                if (!m || !strcmp(vmwp_ctl_str(m, "event"), "exit")) { /* the source died: say why */
                        char err[16384];
                        vmwp_child_finish(&w->c, 30, err, sizeof err);
                        fprintf(stderr, "source worker:\n%s\n", err);
                }
                ASSERT_NOT_NULL(m);
                if (!strcmp(vmwp_ctl_str(m, "event"), "exit"))
                        ASSERT_STREQ(vmwp_ctl_str(m, "reason"), "");
                if (strcmp(vmwp_ctl_str(m, "event"), "migrate-progress") == 0) {
                        static const char *const keys[] = { "pass", "bytes", "dirty_pages", "dirty_rate",
                                                            "bandwidth", "expected_downtime_ms" };
                        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                                ASSERT_TRUE(json_object_object_get_ex(m, keys[i], NULL));
                        ASSERT_EQ(vmwp_ctl_int(m, "pass"), *progress + 1);
                        (*progress)++;
                        json_object_put(m);
                        continue;
                }
                ASSERT_EQ(vmwp_ctl_int(m, "id"), 5);
                return m;
        }
}

/* src -> a new worker; returns the new one, running, console connected. */
static void migrate_ok(struct worker *src, struct worker *dst, int n) {
        int sp[2], progress;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
        worker_start(dst, n, sp[1]);
        close(sp[1]);
        struct json_object *m = migrate(src, sp[0], "", &progress);
        close(sp[0]);
        if (strcmp(vmwp_ctl_str(m, "ok"), "true") != 0)
                ASSERT_STREQ(vmwp_ctl_str(m, "error"), "");
        ASSERT_GE(progress, 1);
        ASSERT_GT(vmwp_ctl_int(m, "bytes"), 0);
        ASSERT_GT(vmwp_ctl_int(m, "pages"), 0);
        json_object_put(m);
        ASSERT_STREQ(state_of(src), "paused");
        m = vmwp_ctl_recv(dst->ctl);
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
        json_object_put(m);
        dst->con = connect_retry(dst->sock);
        ASSERT_GE(dst->con, 0);
}

/* The echo guest moves mid-session, then back and forth: each new worker
 * echoes, the one it left stays paused until stopped. */
TEST(migrate_back_and_forth) {
        struct worker a, b;
        worker_start(&a, 0, -1);
        ASSERT_TRUE(echo(a.con, "ab"));
        for (int i = 1; i <= 4; i++) {
                char text[16];
                /* Typed on the source just before the move: reaches the
                 * destination's guest or was echoed before the pause. */
                migrate_ok(&a, &b, i);
                worker_stop(&a);
                snprintf(text, sizeof text, "m%d", i);
                ASSERT_TRUE(echo(b.con, text));
                a = b;
        }
        ASSERT_EQ(write(a.con, ".", 1), 1); /* powers off, on the last destination */
        worker_end(&a, 0, "powered off");
}

/* A relay between source and destination (a child process): copies both
 * ways, flipping one bit at byte `flip` of the source's stream (>= 0), or
 * closing both after `cut` bytes of it (>= 0). */
static pid_t relay(int src, int dst, long flip, long cut) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid)
                return pid;
        long at = 0;
        char buf[65536];
        for (;;) {
                struct pollfd p[2] = { { .fd = src, .events = POLLIN }, { .fd = dst, .events = POLLIN } };
                if (poll(p, 2, 30000) <= 0)
                        _exit(1);
                for (int i = 0; i < 2; i++) {
                        if (!p[i].revents)
                                continue;
                        ssize_t k = read(p[i].fd, buf, sizeof buf);
                        if (k <= 0)
                                _exit(0);
                        if (i == 0) {
                                if (cut >= 0 && at + k > cut)
                                        _exit(write(dst, buf, (size_t)(cut - at)) < 0);
                                if (flip >= at && flip < at + k)
                                        buf[flip - at] ^= 0x10;
                                at += k;
                        }
                        if (write(p[1 - i].fd, buf, (size_t)k) != k)
                                _exit(0);
                }
        }
}

/* Corrupt (a flipped bit in the hello, a record header, a page, the final
 * state) and cut streams: the destination refuses with a reason and never
 * runs the guest; the source is told or sees the stream end, and its
 * guest keeps echoing. */
TEST(corrupt_or_cut_stream_is_refused) {
        static const struct {
                long flip, cut;
                const char *reason;
        } cases[] = {
                { 3, -1, "magic" },          /* the hello */
                { 200, -1, "CRC" },          /* the first record's header (the hello is 192 bytes) or its pages */
                { 20000, -1, "CRC" },        /* inside the pages */
                { -1, 60, "closed the stream" },
                { -1, 20000, "closed the stream" },
        };
        struct worker a, b;
        worker_start(&a, 0, -1);
        ASSERT_TRUE(echo(a.con, "ab"));
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                int s1[2], s2[2], progress;
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1));
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2));
                worker_start(&b, 10 + (int)i, s2[1]);
                close(s2[1]);
                pid_t r = relay(s1[1], s2[0], cases[i].flip, cases[i].cut);
                close(s1[1]), close(s2[0]);
                struct json_object *m = migrate(&a, s1[0], ",\"peer_timeout_ms\":5000", &progress);
                close(s1[0]);
                ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "false");
                json_object_put(m);
                worker_end(&b, 3, cases[i].reason);
                waitpid(r, NULL, 0);
                ASSERT_STREQ(state_of(&a), "running");
                char text[16];
                snprintf(text, sizeof text, "c%zu", i);
                ASSERT_TRUE(echo(a.con, text));
        }
        worker_stop(&a);
}

static bool read_full(int fd, void *buf, size_t len) {
        for (size_t done = 0; done < len;) {
                ssize_t k = read(fd, (uint8_t *)buf + done, len - done);
                if (k <= 0)
                        return false;
                done += (size_t)k;
        }
        return true;
}

/* A relay (a child process) that rewrites the source's hello so that its
 * guest claims a CPU feature this host lacks (a source on a host with
 * more), then copies both ways. Into report: the feature's name (64
 * bytes), then, once either side closes, how many bytes of the source's
 * stream followed the hello (a long). */
static pid_t relay_claiming_a_feature(int src, int dst, int report) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid)
                return pid;
        uint8_t hello[MIG_HELLO_MAX], out[MIG_HELLO_MAX];
        struct mig_hello h;
        char err[512], name[64] = "";
        if (!read_full(src, hello, MIG_HELLO_HEADER) || mig_hello_parse(hello, MIG_HELLO_HEADER, &h, err, sizeof err))
                _exit(1);
        size_t len = mig_hello_size(hello);
        if (!read_full(src, hello + MIG_HELLO_HEADER, len - MIG_HELLO_HEADER) ||
            mig_hello_parse(hello, len, &h, err, sizeof err) != (int)len)
                _exit(1);
        const struct test_missing *m = test_missing_in(&h.cpu);
        if (!m)
                _exit(1);
        h.cpu.word[m->word] |= 1u << m->bit;
        snprintf(name, sizeof name, "%s", m->name);
        int n = mig_hello_encode(&h, out, sizeof out);
        if (n <= 0 || write(dst, out, (size_t)n) != n || write(report, name, sizeof name) != sizeof name)
                _exit(1);
        long after = 0;
        char buf[65536];
        for (;;) {
                struct pollfd p[2] = { { .fd = src, .events = POLLIN }, { .fd = dst, .events = POLLIN } };
                if (poll(p, 2, 30000) <= 0)
                        break;
                ssize_t k = 0;
                int i = p[0].revents ? 0 : 1;
                if ((k = read(p[i].fd, buf, sizeof buf)) <= 0)
                        break;
                if (i == 0)
                        after += k;
                if (write(p[1 - i].fd, buf, (size_t)k) != k)
                        break;
        }
        _exit(write(report, &after, sizeof after) == sizeof after ? 0 : 1);
}

/* The source's guest was offered a CPU feature the destination's host
 * lacks (the relay makes the hello say so): the destination refuses at
 * the hello, naming the feature, before a page moves; the source is told
 * why and its guest keeps echoing. */
TEST(destination_lacking_a_cpu_feature_refuses_at_the_hello) {
        struct worker a, b;
        worker_start(&a, 0, -1);
        ASSERT_TRUE(echo(a.con, "ab"));
        int s1[2], s2[2], rep[2], progress;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1));
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2));
        ASSERT_OK(pipe2(rep, O_CLOEXEC));
        worker_start(&b, 20, s2[1]);
        close(s2[1]);
        pid_t r = relay_claiming_a_feature(s1[1], s2[0], rep[1]);
        close(s1[1]), close(s2[0]), close(rep[1]);
        struct json_object *m = migrate(&a, s1[0], ",\"peer_timeout_ms\":5000", &progress);
        close(s1[0]);
        char name[64];
        ASSERT_TRUE(read_full(rep[0], name, sizeof name));
        name[sizeof name - 1] = 0;
        printf("# the hello claims %s, which this host lacks\n", name);
        ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "false");
        const char *e = vmwp_ctl_str(m, "error");
        if (!strstr(e, "the destination refused: ") || !strstr(e, name))
                ASSERT_STREQ(e, name);
        ASSERT_EQ(progress, 0); /* no pass began */
        json_object_put(m);
        char reason[160];
        snprintf(reason, sizeof reason, "this host's CPU lacks a feature the guest was offered: %s", name);
        worker_end(&b, 3, reason);
        int status;
        ASSERT_EQ(waitpid(r, &status, 0), r);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        long after = -1;
        ASSERT_TRUE(read_full(rep[0], &after, sizeof after));
        close(rep[0]);
        ASSERT_LE(after, (long)(MIG_RECORD_HEADER + MIG_TEXT_MAX)); /* an ABORT at most, never a page */
        ASSERT_STREQ(state_of(&a), "running");
        ASSERT_TRUE(echo(a.con, "cpu"));
        worker_stop(&a);
}

/* A relay child's rest: copies both ways until either side closes or
 * 30 s pass in silence, then exits 0. */
static _Noreturn void copy_both_ways_and_exit(int src, int dst) {
        char buf[65536];
        for (;;) {
                struct pollfd p[2] = { { .fd = src, .events = POLLIN }, { .fd = dst, .events = POLLIN } };
                if (poll(p, 2, 30000) <= 0)
                        _exit(0);
                int i = p[0].revents ? 0 : 1;
                ssize_t k = read(p[i].fd, buf, sizeof buf);
                if (k <= 0 || write(p[1 - i].fd, buf, (size_t)k) != k)
                        _exit(0);
        }
}

/* A relay (a child process) that passes the source's hello on, then
 * slips a DEVMEM record of one page in before the source's first record,
 * then copies both ways. */
static pid_t relay_injecting_devmem(int src, int dst) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid)
                return pid;
        uint8_t hello[MIG_HELLO_MAX], rec[MIG_RECORD_HEADER + 4096];
        struct mig_hello h;
        char err[512];
        if (!read_full(src, hello, MIG_HELLO_HEADER) || mig_hello_parse(hello, MIG_HELLO_HEADER, &h, err, sizeof err))
                _exit(1);
        size_t len = mig_hello_size(hello);
        if (!read_full(src, hello + MIG_HELLO_HEADER, len - MIG_HELLO_HEADER) || write(dst, hello, len) != (ssize_t)len)
                _exit(1);
        memset(rec + MIG_RECORD_HEADER, 0x5a, 4096);
        mig_record_encode_index(rec, MIG_DEVMEM, 0, 0, 4096, vmstate_crc32c(0, rec + MIG_RECORD_HEADER, 4096));
        if (write(dst, rec, sizeof rec) != (ssize_t)sizeof rec)
                _exit(1);
        copy_both_ways_and_exit(src, dst);
}

/* Device memory (a VRAM) for a VM that has none here: the destination
 * refuses the record, naming it, and never runs the guest; the source's
 * guest keeps echoing. */
TEST(device_memory_a_destination_lacks_is_refused) {
        struct worker a, b;
        worker_start(&a, 0, -1);
        ASSERT_TRUE(echo(a.con, "ab"));
        int s1[2], s2[2], progress;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1));
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2));
        worker_start(&b, 30, s2[1]);
        close(s2[1]);
        pid_t r = relay_injecting_devmem(s1[1], s2[0]);
        close(s1[1]), close(s2[0]);
        struct json_object *m = migrate(&a, s1[0], ",\"peer_timeout_ms\":5000", &progress);
        close(s1[0]);
        ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "false");
        json_object_put(m);
        worker_end(&b, 3, "device memory 0: this VM has no such memory");
        waitpid(r, NULL, 0);
        ASSERT_STREQ(state_of(&a), "running");
        ASSERT_TRUE(echo(a.con, "dm"));
        worker_stop(&a);
}

/* A relay that passes the hello on and the destination's ACCEPT back,
 * says so on `report` and holds until a byte comes on go[0] (go[1] closed
 * without one: it ends); then copies both ways. */
static pid_t relay_holding_after_accept(int src, int dst, int report, const int go[2]) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid)
                return pid;
        close(go[1]);
        uint8_t hello[MIG_HELLO_MAX], acc[MIG_RECORD_HEADER];
        struct mig_hello h;
        struct mig_record rec;
        char err[512], buf[65536];
        if (!read_full(src, hello, MIG_HELLO_HEADER) || mig_hello_parse(hello, MIG_HELLO_HEADER, &h, err, sizeof err))
                _exit(1);
        size_t len = mig_hello_size(hello);
        if (!read_full(src, hello + MIG_HELLO_HEADER, len - MIG_HELLO_HEADER) ||
            write(dst, hello, len) != (ssize_t)len || !read_full(dst, acc, sizeof acc) ||
            mig_record_parse(acc, 0, false, &rec, err, sizeof err) < 0 || rec.type != MIG_ACCEPT ||
            write(src, acc, sizeof acc) != (ssize_t)sizeof acc || write(report, "a", 1) != 1 ||
            read(go[0], buf, 1) != 1)
                _exit(1);
        copy_both_ways_and_exit(src, dst);
}

/* A line of /proc/PID/status, the value after its name (static buffer). */
static const char *status_field(pid_t pid, const char *name) {
        static char line[256];
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        ASSERT_NOT_NULL(f);
        size_t n = strlen(name);
        const char *v = "";
        while (fgets(line, sizeof line, f))
                if (!strncmp(line, name, n) && line[n] == ':') {
                        line[strcspn(line, "\n")] = 0;
                        v = line + n + 1 + strspn(line + n + 1, " \t");
                        break;
                }
        fclose(f);
        return v;
}

/* The destination gives up its privileges as soon as it accepts the
 * hello, before a page of the peer's arrives (docs/sandbox.md "Order"):
 * no capabilities, no_new_privs, the sandbox user when started as root;
 * only the seccomp filter waits for the start. The move then completes
 * and the filter is on. */
TEST(destination_drops_its_privileges_at_the_hello) {
        struct worker a, b;
        worker_start(&a, 0, -1);
        ASSERT_TRUE(echo(a.con, "ab"));
        int s1[2], s2[2], rep[2], go[2], progress;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1));
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2));
        ASSERT_OK(pipe2(rep, O_CLOEXEC));
        ASSERT_OK(pipe2(go, O_CLOEXEC));
        worker_start(&b, 40, s2[1]);
        close(s2[1]);
        pid_t r = relay_holding_after_accept(s1[1], s2[0], rep[1], go);
        close(s1[1]), close(s2[0]), close(rep[1]), close(go[0]);
        char req[128];
        snprintf(req, sizeof req, "{\"op\":\"migrate-send\",\"id\":5,\"peer_timeout_ms\":30000}");
        struct json_object *m = json_tokener_parse(req);
        ASSERT_OK(proto_send(a.ctl, m, &s1[0], 1));
        json_object_put(m);
        close(s1[0]);
        char c;
        ASSERT_EQ(read(rep[0], &c, 1), 1); /* the destination accepted */
        static const char *const show[] = { "Uid", "CapEff", "NoNewPrivs", "Seccomp" };
        for (size_t i = 0; i < ARRAY_SIZE(show); i++) /* one at a time: status_field's buffer is static */
                printf("# destination after its ACCEPT: %s %s\n", show[i], status_field(b.c.pid, show[i]));
        ASSERT_STREQ(status_field(b.c.pid, "CapEff"), "0000000000000000");
        ASSERT_STREQ(status_field(b.c.pid, "NoNewPrivs"), "1");
        ASSERT_STREQ(status_field(b.c.pid, "Seccomp"), "0");
        if (geteuid() == 0)
                ASSERT_TRUE(strncmp(status_field(b.c.pid, "Uid"), "0\t", 2) != 0);
        ASSERT_EQ(write(go[1], "g", 1), 1);
        close(go[1]);
        for (progress = 0;; json_object_put(m)) {
                m = vmwp_ctl_recv(a.ctl);
                ASSERT_NOT_NULL(m);
                if (strcmp(vmwp_ctl_str(m, "event"), "migrate-progress") != 0)
                        break;
                progress++;
        }
        if (strcmp(vmwp_ctl_str(m, "ok"), "true") != 0)
                ASSERT_STREQ(vmwp_ctl_str(m, "error"), "");
        json_object_put(m);
        m = vmwp_ctl_recv(b.ctl);
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
        json_object_put(m);
        ASSERT_STREQ(status_field(b.c.pid, "Seccomp"), "2");
        b.con = connect_retry(b.sock);
        ASSERT_GE(b.con, 0);
        ASSERT_TRUE(echo(b.con, "moved"));
        waitpid(r, NULL, 0);
        close(rep[0]);
        worker_stop(&b);
        worker_stop(&a);
}

/* A destination that dies mid-transfer (the relay closes after the hello
 * and a few pages, as a killed worker's socket does) or after taking the
 * final state without ever reporting that it is ready: the source gives up
 * and its guest runs on. A budget nobody can meet (0 ms): refused after
 * max_passes, running on, and the destination told why. */
TEST(failed_migration_leaves_the_source_running) {
        struct worker a, b;
        worker_start(&a, 0, -1);
        ASSERT_TRUE(echo(a.con, "ab"));

        /* Destination killed mid-transfer. */
        int sp[2], progress;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
        worker_start(&b, 1, sp[1]);
        close(sp[1]);
        pid_t killer = fork();
        ASSERT_GE(killer, 0);
        if (killer == 0) { /* once the stream flows, the destination dies */
                usleep(1000);
                kill(b.c.pid, SIGKILL);
                _exit(0);
        }
        struct json_object *m = migrate(&a, sp[0], "", &progress);
        close(sp[0]);
        waitpid(killer, NULL, 0);
        /* On a fast host the move may have finished before the kill. */
        bool moved = strcmp(vmwp_ctl_str(m, "ok"), "true") == 0;
        json_object_put(m);
        char err[16384];
        vmwp_child_finish(&b.c, 30, err, sizeof err);
        close(b.ctl);
        if (moved)
                fprintf(stderr, "(the move finished before the kill)\n");
        else {
                ASSERT_STREQ(state_of(&a), "running");
                ASSERT_TRUE(echo(a.con, "k1"));
        }

        /* Destination that takes everything and never reports ready. */
        if (!moved) {
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
                pid_t mute = fork();
                ASSERT_GE(mute, 0);
                if (mute == 0) {
                        close(sp[0]);
                        uint8_t rec[MIG_RECORD_HEADER], buf[65536];
                        mig_record_encode(rec, MIG_ACCEPT, 0, 0, 0);
                        struct pollfd p = { .fd = sp[1], .events = POLLIN };
                        bool accepted = false;
                        while (poll(&p, 1, 20000) > 0 && read(sp[1], buf, sizeof buf) > 0)
                                if (!accepted)
                                        accepted = write(sp[1], rec, sizeof rec) == sizeof rec;
                        _exit(0);
                }
                close(sp[1]);
                m = migrate(&a, sp[0], ",\"peer_timeout_ms\":1500", &progress);
                close(sp[0]);
                ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "false");
                if (!strstr(vmwp_ctl_str(m, "error"), "did not report ready"))
                        ASSERT_STREQ(vmwp_ctl_str(m, "error"), "did not report ready");
                ASSERT_FALSE(json_object_object_get_ex(m, "committed", NULL)); /* nothing committed: resumed */
                json_object_put(m);
                kill(mute, SIGKILL);
                waitpid(mute, NULL, 0);
                ASSERT_STREQ(state_of(&a), "running");
                ASSERT_TRUE(echo(a.con, "k2"));
        }

        /* No budget: refused after 3 passes; the destination hears why. */
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
        worker_start(&b, 2, sp[1]);
        close(sp[1]);
        m = migrate(&a, sp[0], ",\"max_downtime_ms\":0,\"max_passes\":3", &progress);
        close(sp[0]);
        ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "false");
        if (!strstr(vmwp_ctl_str(m, "error"), "did not converge"))
                ASSERT_STREQ(vmwp_ctl_str(m, "error"), "did not converge");
        ASSERT_EQ(progress, 3);
        json_object_put(m);
        worker_end(&b, 3, "the source gave up: did not converge");
        ASSERT_STREQ(state_of(&a), "running");
        ASSERT_TRUE(echo(a.con, "k3"));
        worker_stop(&a);
}

/* A relay that cuts the stream at the commit (a child process): the
 * source's stream is copied whole, the destination's record by record
 * (ACCEPT, READY, RUNNING: 32 bytes each). drop_commit: after READY
 * reached the source, nothing more of the source's reaches the
 * destination (the COMMIT is lost with the link). Otherwise the COMMIT
 * goes through and the destination's RUNNING is lost. Both then close. */
static pid_t commit_cutter(int src, int dst, bool drop_commit) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid)
                return pid;
        uint8_t buf[65536];
        bool ready = false;
        for (;;) {
                struct pollfd p[2] = { { .fd = src, .events = POLLIN }, { .fd = dst, .events = POLLIN } };
                if (poll(p, 2, 30000) <= 0)
                        _exit(1);
                if (p[0].revents) {
                        ssize_t k = read(src, buf, sizeof buf);
                        if (k <= 0)
                                _exit(0);
                        if (ready && drop_commit)
                                _exit(0); /* the COMMIT, into the void */
                        if (write(dst, buf, (size_t)k) != k)
                                _exit(0);
                }
                if (p[1].revents) {
                        size_t got = 0;
                        while (got < MIG_RECORD_HEADER) {
                                ssize_t k = read(dst, buf + got, MIG_RECORD_HEADER - got);
                                if (k <= 0)
                                        _exit(0);
                                got += (size_t)k;
                        }
                        uint32_t type = vmstate_le32(buf);
                        if (type == MIG_RUNNING)
                                _exit(0); /* the confirmation, lost */
                        if (write(src, buf, MIG_RECORD_HEADER) != MIG_RECORD_HEADER)
                                _exit(0);
                        ready |= type == MIG_READY;
                }
        }
}

/* The link fails at the commit point (docs/migration.md "One running
 * copy"). Never both copies run, and the source knows it must ask:
 * - the COMMIT is lost: the destination never runs the guest (it ends
 *   with status 3), the source reports committed and stays paused; its
 *   vmms learns from the destination's that it did not run, and resumes it;
 * - the RUNNING is lost: the destination runs the guest, the source
 *   reports committed and stays paused (its vmms learns that the
 *   destination runs it, and stops it). */
TEST(link_lost_at_the_commit_leaves_one_copy) {
        struct worker a, b;
        worker_start(&a, 0, -1);
        ASSERT_TRUE(echo(a.con, "ab"));
        for (int drop_commit = 1; drop_commit >= 0; drop_commit--) {
                int s1[2], s2[2], progress;
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1));
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2));
                worker_start(&b, 20 + drop_commit, s2[1]);
                close(s2[1]);
                pid_t cutter = commit_cutter(s1[1], s2[0], drop_commit);
                close(s1[1]), close(s2[0]);
                struct json_object *m = migrate(&a, s1[0], ",\"peer_timeout_ms\":5000", &progress);
                close(s1[0]);
                waitpid(cutter, NULL, 0);
                ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "false");
                ASSERT_STREQ(vmwp_ctl_str(m, "committed"), "true");
                if (!strstr(vmwp_ctl_str(m, "error"), "did not confirm running"))
                        ASSERT_STREQ(vmwp_ctl_str(m, "error"), "did not confirm running");
                json_object_put(m);
                ASSERT_STREQ(state_of(&a), "paused"); /* not resumed on its own */
                if (drop_commit) {
                        worker_end(&b, 3, "no COMMIT from the source");
                        /* What vmms does once the destination says it never ran. */
                        m = vmwp_ctl_request(a.ctl, "{\"op\":\"resume\",\"id\":8}");
                        ASSERT_EQ(vmwp_ctl_int(m, "id"), 8);
                        json_object_put(m);
                        /* the resume's "state" event, before any other reply */
                        m = vmwp_ctl_recv(a.ctl);
                        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "state");
                        json_object_put(m);
                        ASSERT_STREQ(state_of(&a), "running");
                        ASSERT_TRUE(echo(a.con, "r1"));
                        continue;
                }
                m = vmwp_ctl_recv(b.ctl);
                ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
                json_object_put(m);
                b.con = connect_retry(b.sock);
                ASSERT_GE(b.con, 0);
                ASSERT_TRUE(echo(b.con, "r2"));
                ASSERT_STREQ(state_of(&a), "paused");
                worker_stop(&a);
                worker_stop(&b);
        }
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        vmwp_child_require_bin(vmwp_bin, sizeof vmwp_bin);
        signal(SIGPIPE, SIG_IGN);
        ASSERT_NOT_NULL(mkdtemp(dir));
        setup();
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        (void)test_remove_tree(dir);
        return r;
}
