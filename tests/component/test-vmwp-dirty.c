// SPDX-License-Identifier: MIT
/* Dirty-page marking by every writer of guest RAM, proved the way live
 * migration will rely on it (docs/vm-state.md, "Dirty pages"): the test
 * guest in vsc.mode=soak keeps a storvsp disk and a netvsp NIC busy
 * (checksummed blocks written and read back, UDP pings echoed by a peer on
 * a bridge in a network namespace of our own), while the worker's
 * dirty-check op copies guest RAM to a side buffer, re-copies the dirty
 * pages round after round, pauses (vCPUs and devices quiesced), copies the
 * last ones and compares: any page a device wrote without marking it
 * (ring packets and indices, SynIC message and event pages, disk reads,
 * receive-buffer slots) differs. Then the guest must go on and end well:
 * the check disturbs nothing. The op's refusals are checked too. The
 * first check runs in a sandboxed worker, as vmms starts it (the device
 * threads under their own seccomp policies, the op on the main thread's). */
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/test.h"
#include "tests/lib/test-files.h"
#include "tests/lib/vmwp-child.h"

#define BRIDGE "dirtybr0"
#define PEER_PORT 7798
#define STOP_PORT 7799

static char dir[] = "/tmp/vmwp-dirty-XXXXXX";
static char build[512], vmwp_bin[600], peer_bin[600], elf[600];
static pid_t peer = -1, worker = -1, worker2 = -1;

static void sh(const char *cmd) {
        ASSERT_EQ(system(cmd), 0);
}

static size_t file_text(const char *path, char *buf, size_t cap) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, cap - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        return n > 0 ? (size_t)n : 0;
}

/* The last max bytes of a serial file on stderr (a failure's evidence). */
static void show_tail(const char *path, const char *what, size_t max) {
        static char tail[1 << 20];
        size_t len = file_text(path, tail, sizeof tail);
        fprintf(stderr, "# %s (last %zu of %zu bytes):\n%s\n", what, MIN(len, max), len,
                tail + (len > max ? len - max : 0));
}

/* KEY's value on the last "VSC soak_progress" line of the serial log. */
static long progress(const char *serial, const char *key) {
        static char buf[1 << 20];
        file_text(serial, buf, sizeof buf);
        /* The last whole line: the guest writes its console a byte at a
         * time, and a read can end inside a line (on the emulated AMD-V
         * host one ended before " answered=", and the value read -1). */
        char *end = strrchr(buf, '\n');
        if (end)
                end[1] = '\0';
        else
                buf[0] = '\0';
        char *line = NULL, *p = buf;
        while ((p = strstr(p, "VSC soak_progress ")))
                line = p++;
        char want[64];
        snprintf(want, sizeof want, " %s=", key);
        char *v = line ? strstr(line, want) : NULL;
        return v ? strtol(v + strlen(want), NULL, 10) : -1;
}

/* The reply to a dirty-check; the guest's exit before it fails the test
 * as what it is (its run ended before the checks did: on a loaded host a
 * check takes seconds). */
static struct json_object *dirty_check(int sock, int rounds, int round_ms) {
        char req[128];
        snprintf(req, sizeof req, "{\"op\":\"dirty-check\",\"id\":9,\"rounds\":%d,\"round_ms\":%d}", rounds, round_ms);
        /* Each round copies and compares all of the guest's 128 MiB: under
         * the emulated AMD-V host's TCG (tests/amdv/), with other work on
         * the machine, six of them passed vmwp_ctl_reply's 20 s. */
        struct json_object *m = vmwp_ctl_reply_within(sock, req, 180000);
        ASSERT_NOT_NULL(m);
        if (vmwp_ctl_str(m, "event")[0])
                ASSERT_STREQ("the guest's exit", "a reply to the dirty-check");
        return m;
}

/* Ends a soak run: the stop datagram to the guest at ip until it says it
 * stopped, its exit event and status 0, then its verdict: result=ok and
 * no bad block. The run's last lines are printed. */
static void soak_finish(struct vmwp_child *c, int ctl, const char *serial, uint32_t ip) {
        static char log[1 << 20], out[1 << 16];
        int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(u, 0);
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(STOP_PORT), .sin_addr.s_addr = htonl(ip) };
        for (int i = 0; i < 60 && (file_text(serial, log, sizeof log), !strstr(log, "VSC soak_stop=")); i++) {
                (void)sendto(u, "VSCSOAK-STOP", 12, 0, (struct sockaddr *)&to, sizeof to);
                usleep(500000);
        }
        close(u);
        ASSERT_NOT_NULL(strstr(log, "VSC soak_stop="));
        struct json_object *m = vmwp_ctl_recv(ctl);
        for (int i = 0; i < 10 && m && strcmp(vmwp_ctl_str(m, "event"), "exit") != 0; i++) {
                json_object_put(m);
                m = vmwp_ctl_recv(ctl);
        }
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "exit");
        json_object_put(m);
        ASSERT_EQ(vmwp_child_finish(c, 60, out, sizeof out), 0);
        close(ctl);
        worker = -1;
        file_text(serial, log, sizeof log);
        char *disk_line = strstr(log, "VSC soak_disk"), *net_line = strstr(log, "VSC soak_net");
        if (disk_line)
                printf("# %.*s\n", (int)strcspn(disk_line, "\n"), disk_line);
        if (net_line)
                printf("# %.*s\n", (int)strcspn(net_line, "\n"), net_line);
        if (!strstr(log, "VSC result=ok"))
                ASSERT_STREQ(disk_line ? disk_line : log, "VSC result=ok");
        ASSERT_NOT_NULL(strstr(log, " bad=0 "));
}

TEST(precopy_under_disk_and_network_traffic) {
        char cfg[2048], img[600], serial_spec[700], serial[600];
        snprintf(img, sizeof img, "%s/disk.img", dir);
        snprintf(serial, sizeof serial, "%s/serial.out", dir);
        snprintf(serial_spec, sizeof serial_spec, "file:%s", serial);
        int disk = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(disk, 0);
        ASSERT_OK(ftruncate(disk, 64 << 20));
        snprintf(cfg, sizeof cfg,
                 "{\"name\":\"dirty\",\"memory_mib\":128,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\","
                 "\"cmdline\":\"vsc.mode=soak vsc.ip=10.98.0.2 vsc.peer=10.98.0.1 vsc.port=%d vsc.soak.ms=0 "
                 "vsc.soak.stop_port=%d vsc.soak.progress_ms=100 vsc.soak.ping_us=200 vsc.timeout_ms=30000\"},"
                 "\"disks\":[{\"path\":\"%s\"}],\"nics\":[{\"mac\":\"02:00:5e:10:00:98\",\"bridge\":\"" BRIDGE "\"}]}",
                 elf, PEER_PORT, STOP_PORT, img);
        const char *args[] = { "--control-fd", "3", "--serial", serial_spec, NULL };
        int sv[2];
        struct json_object *ev = NULL;
        struct vmwp_child c = vmwp_child_start_controlled(vmwp_bin, args, cfg, &disk, 1, -1, sv, &ev);
        close(disk);
        worker = c.pid;
        if (ev)
                ASSERT_STREQ(vmwp_ctl_str(ev, "reason"), "");

        /* Both kinds of traffic flowing before the first check. */
        for (int i = 0; i < 600 && (progress(serial, "written") < 32 || progress(serial, "answered") < 32); i++)
                usleep(50000);
        if (progress(serial, "written") < 32 || progress(serial, "answered") < 32)
                show_tail(serial, "the guest's serial", 2048);
        ASSERT_GE(progress(serial, "written"), 32);
        ASSERT_GE(progress(serial, "answered"), 32);

        for (int i = 0; i < 3; i++) {
                long w0 = progress(serial, "written"), a0 = progress(serial, "answered");
                struct json_object *m = dirty_check(sv[0], 6, 40);
                if (strcmp(vmwp_ctl_str(m, "ok"), "true") != 0)
                        ASSERT_STREQ(vmwp_ctl_str(m, "error"), "");
                printf("# round %d: ram_pages=%d copied=%d last=%d mismatched=%d %s\n", i,
                       vmwp_ctl_int(m, "ram_pages"), vmwp_ctl_int(m, "copied"), vmwp_ctl_int(m, "last"),
                       vmwp_ctl_int(m, "mismatched"), vmwp_ctl_str(m, "mismatch_gpas"));
                ASSERT_EQ(vmwp_ctl_int(m, "ram_pages"), 128 * 256);
                ASSERT_GT(vmwp_ctl_int(m, "copied"), 0); /* the guest and devices dirtied pages */
                ASSERT_EQ(vmwp_ctl_int(m, "mismatched"), 0);
                json_object_put(m);
                /* The traffic went on across the check and after it. */
                for (int k = 0; k < 200 && (progress(serial, "written") <= w0 || progress(serial, "answered") <= a0);
                     k++)
                        usleep(50000);
                ASSERT_GT(progress(serial, "written"), w0);
                ASSERT_GT(progress(serial, "answered"), a0);
        }

        /* netvsp's counters in the "stats" reply: the pings went both ways. */
        struct json_object *st = vmwp_ctl_request(sv[0], "{\"op\":\"stats\",\"id\":7}"), *nics = NULL;
        ASSERT_TRUE(json_object_object_get_ex(st, "nics", &nics));
        ASSERT_EQ(json_object_array_length(nics), 1u);
        struct json_object *n0 = json_object_array_get_idx(nics, 0);
        ASSERT_GT(vmwp_ctl_int(n0, "rx_packets"), 32);
        ASSERT_GT(vmwp_ctl_int(n0, "tx_packets"), 32);
        ASSERT_EQ(vmwp_ctl_int(n0, "bad_packets"), 0);
        ASSERT_EQ(vmwp_ctl_int(n0, "tx_malformed"), 0);
        ASSERT_STREQ(vmwp_ctl_str(n0, "link_up"), "true");
        json_object_put(st);

        /* Refusals: bad arguments, a paused VM. */
        struct json_object *m = vmwp_ctl_request(sv[0], "{\"op\":\"dirty-check\",\"id\":1,\"rounds\":0}");
        ASSERT_EQ(vmwp_ctl_int(m, "errno"), EINVAL);
        json_object_put(m);
        m = vmwp_ctl_request(sv[0], "{\"op\":\"dirty-check\",\"id\":1,\"round_ms\":\"x\"}");
        ASSERT_EQ(vmwp_ctl_int(m, "errno"), EINVAL);
        json_object_put(m);
        m = vmwp_ctl_request(sv[0], "{\"op\":\"pause\",\"id\":2}");
        ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "true");
        json_object_put(m);
        json_object_put(vmwp_ctl_recv(sv[0])); /* state: paused */
        m = dirty_check(sv[0], 1, 1);
        ASSERT_EQ(vmwp_ctl_int(m, "errno"), EBUSY);
        json_object_put(m);
        m = vmwp_ctl_request(sv[0], "{\"op\":\"resume\",\"id\":3}");
        ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "true");
        json_object_put(m);
        json_object_put(vmwp_ctl_recv(sv[0])); /* state: running */

        /* The guest ends its run with every block and ping accounted for:
         * the stop datagram until it says it stopped. */
        soak_finish(&c, sv[0], serial, 0x0a620002); /* 10.98.0.2 */
}

/* Reads only, of data that differs from block to block, at queue depth 32
 * (vsc.mode=disk-bench randread): every completed read changes guest pages
 * the guest itself never writes, so a read storvsp forgot to mark stays
 * stale in the copy; and each completion's ring packet and SynIC event
 * flag are written by the host alone in the window between the vCPUs
 * parking and the devices quiescing. */
TEST(precopy_under_disk_reads) {
        char cfg[2048], img[600], serial_spec[700], serial[600], out[1 << 16];
        static char log[1 << 20];
        snprintf(img, sizeof img, "%s/random.img", dir);
        snprintf(serial, sizeof serial, "%s/reads.out", dir);
        snprintf(serial_spec, sizeof serial_spec, "file:%s", serial);
        int disk = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(disk, 0);
        static uint64_t chunk[1 << 17]; /* 1 MiB */
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (int mib = 0; mib < 16; mib++) {
                for (size_t i = 0; i < ARRAY_SIZE(chunk); i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        chunk[i] = x;
                }
                ASSERT_EQ(write(disk, chunk, sizeof chunk), (ssize_t)sizeof chunk);
        }
        /* 20 s of reads: the checks below outlasted the 6 s they once had
         * in CI's asan+ubsan suite beside the stock-Linux test. */
        snprintf(cfg, sizeof cfg,
                 "{\"name\":\"dirty-reads\",\"memory_mib\":64,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\","
                 "\"cmdline\":\"vsc.mode=disk-bench vsc.disk.rw=randread vsc.disk.qd=32 vsc.disk.ms=20000 "
                 "vsc.disk.warmup_ms=0 vsc.disk.span_mib=16 vsc.timeout_ms=30000\"},\"disks\":[{\"path\":\"%s\"}]}",
                 elf, img);
        const char *args[] = { "--control-fd", "3", "--no-sandbox", "--serial", serial_spec, NULL };
        int sv[2];
        struct json_object *ev = NULL;
        struct vmwp_child c = vmwp_child_start_controlled(vmwp_bin, args, cfg, &disk, 1, -1, sv, &ev);
        close(disk);
        worker = c.pid;
        if (ev)
                ASSERT_STREQ(vmwp_ctl_str(ev, "reason"), "");
        for (int i = 0; i < 400 && (file_text(serial, log, sizeof log), !strstr(log, "VSC disks=")); i++)
                usleep(50000);
        ASSERT_NOT_NULL(strstr(log, "VSC disks="));
        usleep(200000);
        int busy_pauses = 0;
        /* Three checks, and up to seven more until one paused mid-read: a
         * pause that finds the device threads idle is quick (devworker.h)
         * and then often falls between two reads. */
        for (int i = 0; i < 10 && (i < 3 || busy_pauses == 0); i++) {
                struct json_object *m = dirty_check(sv[0], 4, 40);
                if (strcmp(vmwp_ctl_str(m, "ok"), "true") != 0)
                        ASSERT_STREQ(vmwp_ctl_str(m, "error"), "");
                printf("# reads %d: copied=%d last=%d mismatched=%d %s\n", i, vmwp_ctl_int(m, "copied"),
                       vmwp_ctl_int(m, "last"), vmwp_ctl_int(m, "mismatched"), vmwp_ctl_str(m, "mismatch_gpas"));
                busy_pauses += vmwp_ctl_int(m, "last") > 0;
                ASSERT_EQ(vmwp_ctl_int(m, "mismatched"), 0);
                json_object_put(m);
        }
        /* Pages were written as it paused (the reads in flight completing
         * between the vCPUs parking and the devices quiescing), in at least
         * one check: a pause can fall between two completions. */
        ASSERT_GT(busy_pauses, 0);
        struct json_object *m = vmwp_ctl_recv(sv[0]);
        for (int i = 0; i < 10 && m && strcmp(vmwp_ctl_str(m, "event"), "exit") != 0; i++) {
                json_object_put(m);
                m = vmwp_ctl_recv(sv[0]);
        }
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "exit");
        json_object_put(m);
        ASSERT_EQ(vmwp_child_finish(&c, 60, out, sizeof out), 0);
        worker = -1;
        close(sv[0]);
        file_text(serial, log, sizeof log);
        ASSERT_NOT_NULL(strstr(log, "VSC disk_bench=randread"));
        ASSERT_NOT_NULL(strstr(log, "VSC result=ok"));
}

/* A worker receiving the VM over mig (config "files": the disk, then
 * "migrate_incoming"); its "ready" comes once the stream is in. The disk
 * is the image opened again, as vmms opens it for each worker: a worker
 * sets O_DIRECT on its disk's open file description (disk_setup_direct),
 * so one description shared with the source would change the source's
 * I/O under it. */
static struct vmwp_child migrate_target(const char *cfg, const char *serial_spec, const char *img, int mig,
                                        int sv[2]) {
        int disk = open(img, O_RDWR | O_CLOEXEC);
        ASSERT_GE(disk, 0);
        const char *args[] = { "--control-fd", "3", "--no-sandbox", "--serial", serial_spec, NULL };
        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
        struct vmwp_child c = vmwp_child_spawn(vmwp_bin, args, sv[1], true);
        close(sv[1]);
        static char msg[4096];
        snprintf(msg, sizeof msg, "{\"op\":\"config\",\"config\":%s,\"files\":[\"migrate_incoming\"]}", cfg);
        struct json_object *m = json_tokener_parse(msg);
        int fds[2] = { disk, mig };
        ASSERT_OK(proto_send(sv[0], m, fds, 2));
        json_object_put(m);
        close(disk);
        return c;
}

/* The same traffic moved by live migration (docs/migration.md) from worker
 * to worker, three times, on a shared disk image and the same bridge: the
 * pre-copy passes run while the guest's disk and NIC are busy, so every
 * page a device wrote during them must have been marked and sent again, or
 * the guest finds a stale block, ring or receive slot on the destination.
 * The guest finishes its run on the last worker with every block and ping
 * accounted for. */
TEST(live_migration_under_disk_and_network_traffic) {
        char cfg[2048], img[600], serial_spec[700], serial[600], out[1 << 16];
        snprintf(img, sizeof img, "%s/migrate.img", dir);
        int disk = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(disk, 0);
        ASSERT_OK(ftruncate(disk, 64 << 20));
        snprintf(cfg, sizeof cfg,
                 "{\"name\":\"migrate\",\"memory_mib\":128,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\","
                 "\"cmdline\":\"vsc.mode=soak vsc.ip=10.98.0.3 vsc.peer=10.98.0.1 vsc.port=%d vsc.soak.ms=0 "
                 "vsc.soak.stop_port=%d vsc.soak.progress_ms=100 vsc.soak.ping_us=200 vsc.timeout_ms=30000\"},"
                 "\"disks\":[{\"path\":\"%s\"}],\"nics\":[{\"mac\":\"02:00:5e:10:00:99\",\"bridge\":\"" BRIDGE "\"}]}",
                 elf, PEER_PORT, STOP_PORT, img);
        snprintf(serial, sizeof serial, "%s/migrate-0.out", dir);
        snprintf(serial_spec, sizeof serial_spec, "file:%s", serial);
        const char *args[] = { "--control-fd", "3", "--no-sandbox", "--serial", serial_spec, NULL };
        int sv[2];
        struct json_object *ev = NULL;
        struct vmwp_child c = vmwp_child_start_controlled(vmwp_bin, args, cfg, &disk, 1, -1, sv, &ev);
        worker = c.pid;
        if (ev)
                ASSERT_STREQ(vmwp_ctl_str(ev, "reason"), "");
        for (int i = 0; i < 600 && (progress(serial, "written") < 32 || progress(serial, "answered") < 32); i++)
                usleep(50000);
        if (progress(serial, "written") < 32 || progress(serial, "answered") < 32)
                show_tail(serial, "the guest's serial", 2048);
        ASSERT_GE(progress(serial, "written"), 32);
        ASSERT_GE(progress(serial, "answered"), 32);

        for (int n = 1; n <= 3; n++) {
                long w0 = progress(serial, "written"), a0 = progress(serial, "answered");
                char next[600], next_spec[700];
                snprintf(next, sizeof next, "%s/migrate-%d.out", dir, n);
                snprintf(next_spec, sizeof next_spec, "file:%s", next);
                int sp[2], dsv[2];
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
                struct vmwp_child d = migrate_target(cfg, next_spec, img, sp[1], dsv);
                worker2 = d.pid;
                close(sp[1]);
                struct json_object *req = json_tokener_parse("{\"op\":\"migrate-send\",\"id\":5}");
                ASSERT_OK(proto_send(sv[0], req, &sp[0], 1));
                json_object_put(req);
                close(sp[0]);
                struct json_object *m;
                int passes = 0;
                while ((m = vmwp_ctl_recv(sv[0])) && strcmp(vmwp_ctl_str(m, "event"), "migrate-progress") == 0) {
                        passes++;
                        json_object_put(m);
                }
                ASSERT_NOT_NULL(m);
                if (strcmp(vmwp_ctl_str(m, "ok"), "true") != 0)
                        ASSERT_STREQ(vmwp_ctl_str(m, "error"), "");
                printf("# migration %d: %d passes, %d pages, %d in the last pass, downtime %s ms\n", n, passes,
                       vmwp_ctl_int(m, "pages"), vmwp_ctl_int(m, "final_pages"), vmwp_ctl_str(m, "downtime_ms"));
                json_object_put(m);
                m = vmwp_ctl_recv(dsv[0]);
                ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
                json_object_put(m);
                /* The source stays paused until told: stop it. */
                json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":99}"));
                vmwp_child_finish(&c, 30, out, sizeof out);
                close(sv[0]);
                c = d, sv[0] = dsv[0], worker = d.pid, worker2 = -1;
                char prev[600];
                snprintf(prev, sizeof prev, "%s", serial);
                snprintf(serial, sizeof serial, "%s", next);
                /* Both kinds of traffic go on from where they were. */
                for (int k = 0; k < 400 && (progress(serial, "written") <= w0 || progress(serial, "answered") <= a0);
                     k++)
                        usleep(50000);
                if (progress(serial, "written") <= w0 || progress(serial, "answered") <= a0) {
                        /* the guest's last lines before the move, then after it */
                        show_tail(prev, "the source's serial", 2048);
                        show_tail(serial, "the destination's serial", 1024);
                }
                ASSERT_GT(progress(serial, "written"), w0);
                ASSERT_GT(progress(serial, "answered"), a0);
        }
        close(disk);

        soak_finish(&c, sv[0], serial, 0x0a620003); /* 10.98.0.3 */
}

/* Also on a failed assertion (it exits): nothing of ours outlives the test. */
static void cleanup(void) {
        if (worker > 0) {
                kill(worker, SIGKILL);
                waitpid(worker, NULL, 0);
        }
        if (worker2 > 0) {
                kill(worker2, SIGKILL);
                waitpid(worker2, NULL, 0);
        }
        if (peer > 0) {
                kill(peer, SIGTERM);
                waitpid(peer, NULL, 0);
        }
        (void)test_remove_tree(dir);
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        const char *b = getenv("VM_BUILD_DIR");
        snprintf(build, sizeof build, "%s", b ? b : "build/debug");
        snprintf(vmwp_bin, sizeof vmwp_bin, "%s/vmwp/vmwp", build);
        snprintf(peer_bin, sizeof peer_bin, "%s/bench/bench-net-guest", build);
        snprintf(elf, sizeof elf, "%s/guest-vsc/guest/vsc-guest.elf", build);
        if (access(vmwp_bin, X_OK) != 0 || access(peer_bin, X_OK) != 0 || access(elf, R_OK) != 0)
                TEST_SKIP("vmwp, bench-net-guest or vsc-guest.elf not built");
        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
                TEST_SKIP("needs root for a network namespace of its own");
        TEST_REQUIRE_PROGRAM("ip", "iproute2");
        sh("ip link set lo up && ip link add " BRIDGE " type bridge && ip addr add 10.98.0.1/24 dev " BRIDGE
           " && ip link set " BRIDGE " up");
        ASSERT_NOT_NULL(mkdtemp(dir));
        char addr[64];
        snprintf(addr, sizeof addr, "10.98.0.1:%d", PEER_PORT);
        peer = fork();
        ASSERT_GE(peer, 0);
        if (peer == 0) {
                int devnull = open("/dev/null", O_WRONLY);
                dup2(devnull, 2);
                execl(peer_bin, peer_bin, "--echo", addr, "--seconds", "300", (char *)NULL);
                _exit(127);
        }
        atexit(cleanup);
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
