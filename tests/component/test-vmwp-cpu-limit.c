// SPDX-License-Identifier: MIT
/* The processor limit on KVM (docs/vmms.md "Processor limit"): the tiny
 * guest tests/guests/vmwp_spin.S spins on both vCPUs; its vCPU threads'
 * CPU time is read from the host's accounting (/proc/PID/task/TID/
 * schedstat: time on a CPU, time waiting for one), never from the guest:
 *   - under a configured 25 % limit each vCPU runs 25 % ± 2 of the time;
 *   - a limit changed on the running VM ("processor" op) holds within a
 *     second (measured over the second after the reply), 50 % then none;
 *   - a bad limit is refused and changes nothing;
 *   - the accuracy at 10, 25, 50 and 90 % is printed (the benchmark the
 *     issue asks for, bench/README.md) and each holds ± 2 points.
 * A window in which the vCPU threads waited for a CPU more than 2 % of
 * the time measures the host, not the limit: it is taken again (up to 8
 * times); when the host stays that busy, the limit is a ceiling (run at
 * most limit + 2) and the time waited counts toward the floor. Skips (77)
 * without /dev/kvm; runs on the emulated AMD-V host in `amdv/component`. */
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/test.h"
#include "tests/lib/proc-threads.h"
#include "tests/lib/test-files.h"
#include "tests/lib/vmwp-child.h"
#include "tests/guests/tinyguest.h"

TINY_GUEST(vmwp_spin_elf);

static char dir[] = "/tmp/vmwp-cpulimit-test-XXXXXX";
static char vmwp_bin[1024], elf[700], serial_path[700];

/* The vCPU threads' (comm "vcpuN") time on a CPU and waiting for one. */
static struct proc_threads vcpu_acct(pid_t pid) {
        return proc_threads(pid, "vcpu");
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Each vCPU's share of the time over `ms` (percent): run, and waited for
 * a CPU (ready to run: a busy host's, not the limit's). */
struct share {
        double run, wait;
};

static struct share share_over(pid_t pid, unsigned ms) {
        struct proc_threads a = vcpu_acct(pid);
        uint64_t t0 = now_ns();
        usleep(ms * 1000u);
        struct proc_threads b = vcpu_acct(pid);
        double wall = (double)(now_ns() - t0) * 2; /* two vCPUs */
        ASSERT_EQ(a.threads, 2u);
        ASSERT_EQ(b.threads, 2u);
        struct share s = { (double)(b.run_ns - a.run_ns) / wall * 100, (double)(b.wait_ns - a.wait_ns) / wall * 100 };
        fprintf(stderr, "  %u ms: each vCPU ran %.1f %%, waited for a CPU %.1f %%\n", ms, s.run, s.wait);
        return s;
}

/* The share over `ms`, taken again (up to 8 windows) while the host keeps
 * the vCPU threads waiting for a CPU more than 2 % of the time; the last
 * window's when it always did. */
static struct share share(pid_t pid, unsigned ms) {
        struct share s = { 0, 0 };
        for (int i = 0; i < 8; i++)
                if ((s = share_over(pid, ms)).wait <= 2)
                        break;
        return s;
}

/* The limit holds: the vCPUs ran no more than limit + 2 %, and no less
 * than limit - 2 % but for the time the host kept them waiting for a CPU
 * (the limit is a ceiling: a host with no CPU to spare gives less). */
static bool within(struct share s, double limit) {
        return s.run <= limit + 2 && s.run + s.wait >= limit - 2;
}

static struct json_object *set_limit(int sock, const char *limit) {
        char req[96];
        snprintf(req, sizeof req, "{\"op\":\"processor\",\"id\":5,\"limit_pct\":%s}", limit);
        return vmwp_ctl_reply(sock, req);
}

struct worker {
        struct vmwp_child c;
        int sock;
};

static struct worker start(unsigned limit) {
        struct worker w;
        char spec[720], json[1024];
        int sv[2];
        snprintf(spec, sizeof spec, "file:%s", serial_path);
        const char *args[] = { "--control-fd", "3", "--serial", spec, NULL };
        snprintf(json, sizeof json,
                 "{\"name\":\"spin\",\"memory_mib\":32,\"vcpus\":2,\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\"},"
                 "\"processor\":{\"limit_pct\":%u}}",
                 elf, limit);
        w.c = vmwp_child_start_controlled(vmwp_bin, args, json, NULL, 0, -1, sv, NULL);
        w.sock = sv[0];
        char out[256] = "";
        for (int i = 0; i < 6000 && !strstr(out, "spin: Aok\n"); i++) {
                usleep(10000);
                (void)test_read_file(serial_path, out, sizeof out - 1);
        }
        ASSERT_NOT_NULL(strstr(out, "spin: Aok\n")); /* both vCPUs spin */
        usleep(100000);
        return w;
}

static void stop(struct worker *w) {
        json_object_put(vmwp_ctl_request(w->sock, "{\"op\":\"stop\",\"id\":4}"));
        struct json_object *m;
        while ((m = vmwp_ctl_recv(w->sock)) && strcmp(vmwp_ctl_str(m, "event"), "exit") != 0)
                json_object_put(m);
        json_object_put(m);
        char err[16384];
        ASSERT_EQ(vmwp_child_finish(&w->c, 120, err, sizeof err), 14);
        close(w->sock);
}

TEST(a_configured_limit_holds_and_a_live_change_within_a_second) {
        struct worker w = start(25);
        ASSERT_TRUE(within(share(w.c.pid, 3000), 25));

        /* Bad limits: refused, the limit stays. */
        static const char *const bad[] = { "0", "200", "\"50\"" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct json_object *m = set_limit(w.sock, bad[i]);
                ASSERT_EQ(vmwp_ctl_int(m, "errno"), EINVAL);
                json_object_put(m);
        }
        struct json_object *m = vmwp_ctl_reply(w.sock, "{\"op\":\"processor\",\"id\":6}");
        ASSERT_EQ(vmwp_ctl_int(m, "limit_pct"), 25);
        json_object_put(m);

        /* 50 %: answered at once, holding over the next second. */
        uint64_t t0 = now_ns();
        m = set_limit(w.sock, "50");
        ASSERT_EQ(vmwp_ctl_int(m, "limit_pct"), 50);
        json_object_put(m);
        ASSERT_LT(now_ns() - t0, 1000000000u);
        ASSERT_TRUE(within(share(w.c.pid, 1000), 50));

        /* None: nothing parks the vCPUs any more (the worker's count of
         * parked time stands still past the period under way), and they
         * run or wait for a CPU all the time (a 2-CPU host may be busy). */
        m = set_limit(w.sock, "100");
        ASSERT_EQ(vmwp_ctl_int(m, "limit_pct"), 100);
        json_object_put(m);
        usleep(50000);
        m = vmwp_ctl_reply(w.sock, "{\"op\":\"processor\",\"id\":7}");
        int parked0 = vmwp_ctl_int(m, "throttled_ms");
        json_object_put(m);
        struct proc_threads a = vcpu_acct(w.c.pid);
        t0 = now_ns();
        usleep(1000000);
        struct proc_threads b = vcpu_acct(w.c.pid);
        double busy = (double)(b.run_ns - a.run_ns + b.wait_ns - a.wait_ns) / ((double)(now_ns() - t0) * 2) * 100;
        m = vmwp_ctl_reply(w.sock, "{\"op\":\"processor\",\"id\":8}");
        int parked1 = vmwp_ctl_int(m, "throttled_ms");
        json_object_put(m);
        fprintf(stderr, "  no limit: the vCPUs ran or waited %.1f %%, parked %d ms\n", busy, parked1 - parked0);
        ASSERT_GE(parked0, 0);
        ASSERT_EQ(parked1, parked0);
        ASSERT_GT(busy, 95);
        stop(&w);
}

TEST(accuracy_at_10_25_50_90) {
        static const unsigned limits[] = { 10, 25, 50, 90 };
        struct share got[ARRAY_SIZE(limits)];
        struct worker w = start(100);
        for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
                char l[8];
                snprintf(l, sizeof l, "%u", limits[i]);
                json_object_put(set_limit(w.sock, l));
                usleep(100000);
                got[i] = share(w.c.pid, 3000);
        }
        stop(&w);
        fprintf(stderr, "processor limit accuracy (each vCPU's share of the time, host accounting, 3 s):\n");
        for (size_t i = 0; i < ARRAY_SIZE(limits); i++)
                fprintf(stderr, "  limit %2u %%: %.1f %% (%+.1f), waited for a CPU %.1f %%\n", limits[i], got[i].run,
                        got[i].run - limits[i], got[i].wait);
        for (size_t i = 0; i < ARRAY_SIZE(limits); i++)
                ASSERT_TRUE(within(got[i], limits[i]));
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        vmwp_child_require_bin(vmwp_bin, sizeof vmwp_bin);
        if (access("/proc/self/schedstat", R_OK) != 0)
                TEST_SKIP("no /proc/PID/schedstat (a kernel without CONFIG_SCHED_INFO)");
        signal(SIGPIPE, SIG_IGN);
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(elf, sizeof elf, "%s/spin.elf", dir);
        snprintf(serial_path, sizeof serial_path, "%s/serial.out", dir);
        test_write_file(elf, tg_vmwp_spin_elf, tg_vmwp_spin_elf_len);
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        (void)test_remove_tree(dir);
        return r;
}
