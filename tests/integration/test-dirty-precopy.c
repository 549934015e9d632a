// SPDX-License-Identifier: MIT
/* Every host write into guest RAM is marked dirty (docs/vm-state.md, "Dirty
 * pages"), proved the way live migration would find out: a pre-copy. The
 * test guest in vsc.mode=soak (docs/guest-vsc.md) writes and reads back
 * checksummed blocks on its disk (storvsp: io_uring reads into guest
 * pages, ring packets, completions) while it pings a UDP echo peer through
 * a bridge (netvsp: receive-buffer slots, send completions), under a real
 * worker as vmms runs it. The worker's test-only "test-precopy" op copies
 * all guest RAM aside with tracking on, copies the dirty pages again each
 * round while everything runs, pauses the VM (vCPUs parked, devices
 * quiesced), copies the last dirty pages and compares: every page must be
 * equal. Repeated PASSES times; the guest's traffic must have moved during
 * them, and the guest must end with result=ok (no bad block, every ping
 * answered). Needs root (a network namespace of its own, a bridge). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/test.h"
#include "tests/lib/test-files.h"
#include "tests/lib/vmwp-child.h"

#define PASSES 10
#define ECHO_PORT 7798
#define STOP_PORT 7799

static char dir[256], vmwp_bin[512], peer_bin[512], elf[512], serial_path[600];
static struct vmwp_child worker;

/* The worker went away: its exit status and stderr, then fail. */
static void worker_gone(void) {
        char err[16384];
        int st = vmwp_child_finish(&worker, 10, err, sizeof err);
        fprintf(stderr, "vmwp exited (%d):\n%s\n", st, err);
        ASSERT_TRUE(false);
}

/* The newest value of key on the guest's "VSC soak_progress" lines, -1 if none. */
static long progress(const char *key) {
        static char buf[1 << 20];
        size_t n = test_read_file(serial_path, buf, sizeof buf);
        buf[MIN(n, sizeof buf - 1)] = 0;
        long v = -1;
        char pat[64];
        snprintf(pat, sizeof pat, " %s=", key);
        for (char *l = strstr(buf, "VSC soak_progress "); l; l = strstr(l + 1, "VSC soak_progress ")) {
                char *k = strstr(l, pat), *eol = strchr(l, '\n');
                if (k && (!eol || k < eol))
                        v = strtol(k + strlen(pat), NULL, 10);
        }
        return v;
}

static bool serial_has(const char *s) {
        static char buf[1 << 20];
        size_t n = test_read_file(serial_path, buf, sizeof buf);
        buf[MIN(n, sizeof buf - 1)] = 0;
        return strstr(buf, s) != NULL;
}

static void sh(const char *cmd) {
        int r = system(cmd);
        if (r != 0)
                TEST_SKIP("'%s' failed (%d): needs iproute2 and CAP_NET_ADMIN", cmd, r);
}

static pid_t start_peer(void) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                char addr[64];
                snprintf(addr, sizeof addr, "10.97.0.1:%d", ECHO_PORT);
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 2);
                execl(peer_bin, "bench-net-guest", "--echo", addr, "--seconds", "300", (char *)NULL);
                _exit(127);
        }
        return pid;
}

/* The next reply with our id (events before it skipped). */
static struct json_object *request(int sock, const char *json, int id) {
        struct json_object *req = json_tokener_parse(json);
        ASSERT_NOT_NULL(req);
        ASSERT_OK(proto_send(sock, req, NULL, 0));
        json_object_put(req);
        for (;;) {
                struct json_object *m = vmwp_ctl_recv(sock);
                if (!m || strcmp(vmwp_ctl_str(m, "event"), "exit") == 0)
                        worker_gone();
                if (vmwp_ctl_int(m, "id") == id)
                        return m;
                json_object_put(m);
        }
}

static int64_t field(struct json_object *m, const char *k) {
        struct json_object *v;
        ASSERT_TRUE(json_object_object_get_ex(m, k, &v));
        return json_object_get_int64(v);
}

static void send_stop(void) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(s, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(STOP_PORT) };
        inet_pton(AF_INET, "10.97.0.2", &a.sin_addr);
        for (int i = 0; i < 120 && !serial_has("VSC soak_stop="); i++) {
                sendto(s, "VSCSOAK-STOP", 12, 0, (struct sockaddr *)&a, sizeof a);
                usleep(250000);
        }
        close(s);
        ASSERT_TRUE(serial_has("VSC soak_stop="));
}

TEST(precopy_copy_equals_guest_ram_under_disk_and_network_traffic) {
        sh("ip link set lo up && ip link add dprecopybr0 type bridge && ip addr add 10.97.0.1/24 dev dprecopybr0 && "
           "ip link set dprecopybr0 up");
        pid_t peer = start_peer();
        char img[600], json[2048], serial[700];
        snprintf(img, sizeof img, "%s/soak.img", dir);
        int disk = open(img, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        ASSERT_GE(disk, 0);
        ASSERT_OK(ftruncate(disk, 64 << 20));
        snprintf(json, sizeof json,
                 "{\"name\":\"dirty-precopy\",\"memory_mib\":128,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":"
                 "\"%s\",\"cmdline\":\"vsc.mode=soak vsc.ip=10.97.0.2 vsc.peer=10.97.0.1 vsc.port=%d vsc.soak.ms=0 "
                 "vsc.soak.stop_port=%d vsc.soak.progress_ms=50 vsc.timeout_ms=30000\"},"
                 "\"disks\":[{\"path\":\"%s\"}],\"nics\":[{\"mac\":\"02:00:5e:10:00:97\",\"bridge\":\"dprecopybr0\"}]}",
                 elf, ECHO_PORT, STOP_PORT, img);
        snprintf(serial, sizeof serial, "file:%s", serial_path);
        const char *args[] = { "--control-fd", "3", "--serial", serial, NULL };
        int sv[2];
        worker = vmwp_child_start_controlled(vmwp_bin, args, json, &disk, 1, -1, sv, NULL);
        close(disk);
        for (int i = 0; i < 600 && progress("pings") <= 0; i++)
                usleep(100000);
        ASSERT_GT(progress("pings"), 0);

        long written0 = progress("written"), answered0 = progress("answered");
        uint64_t recopied = 0, final_dirty = 0;
        for (int i = 0; i < PASSES; i++) {
                char req[128];
                snprintf(req, sizeof req, "{\"op\":\"test-precopy\",\"id\":%d,\"rounds\":4,\"round_ms\":50}", 100 + i);
                struct json_object *rep = request(sv[0], req, 100 + i);
                if (strcmp(vmwp_ctl_str(rep, "ok"), "true") != 0)
                        fprintf(stderr, "reply: %s\n", json_object_to_json_string(rep));
                ASSERT_STREQ(vmwp_ctl_str(rep, "ok"), "true");
                ASSERT_EQ(field(rep, "pages"), 128 * 256);
                if (field(rep, "mismatched") != 0)
                        fprintf(stderr, "pass %d: pages that differ (first GPAs): %s\n", i,
                                json_object_to_json_string(json_object_object_get(rep, "first_mismatch_gpa")));
                ASSERT_EQ(field(rep, "mismatched"), 0);
                recopied += (uint64_t)field(rep, "recopied");
                final_dirty += (uint64_t)field(rep, "final_dirty");
                json_object_put(rep);
        }
        printf("%d passes: %llu pages copied again while running, %llu while paused\n", PASSES,
               (unsigned long long)recopied, (unsigned long long)final_dirty);
        /* The copies raced real traffic: the guest moved on through them. */
        ASSERT_GT(recopied, 0u);
        ASSERT_GT(progress("written"), written0);
        ASSERT_GT(progress("answered"), answered0);
        /* Bad arguments are refused, and the VM still runs. */
        struct json_object *rep = request(sv[0], "{\"op\":\"test-precopy\",\"id\":7,\"rounds\":101}", 7);
        ASSERT_EQ(vmwp_ctl_int(rep, "errno"), EINVAL);
        json_object_put(rep);

        send_stop();
        char err[16384];
        ASSERT_EQ(vmwp_child_finish(&worker, 120, err, sizeof err), 0);
        close(sv[0]);
        kill(peer, SIGTERM);
        waitpid(peer, NULL, 0);
        if (!serial_has("VSC result=ok status=0"))
                fprintf(stderr, "worker: %s\n", err);
        ASSERT_TRUE(serial_has("VSC soak_disk=0:0 "));
        ASSERT_TRUE(serial_has("VSC result=ok status=0"));
}

int main(int argc, char **argv) {
        const char *build = getenv("VM_BUILD_DIR");
        if (!build)
                TEST_SKIP("VM_BUILD_DIR not set");
        TEST_REQUIRE_KVM();
        if (geteuid() != 0)
                TEST_SKIP("needs root (a network namespace, a bridge, a TAP)");
        snprintf(vmwp_bin, sizeof vmwp_bin, "%s/vmwp/vmwp", build);
        snprintf(peer_bin, sizeof peer_bin, "%s/bench/bench-net-guest", build);
        snprintf(elf, sizeof elf, "%s/guest-vsc/guest/vsc-guest.elf", build);
        if (access(vmwp_bin, X_OK) || access(peer_bin, X_OK) || access(elf, R_OK))
                TEST_SKIP("vmwp, bench-net-guest or the test guest is not built");
        if (unshare(CLONE_NEWNET) < 0)
                TEST_SKIP("cannot create a network namespace: %s", strerror(errno));
        snprintf(dir, sizeof dir, "/tmp/test-dirty-precopy-XXXXXX");
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(serial_path, sizeof serial_path, "%s/serial.out", dir);
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return r;
}
