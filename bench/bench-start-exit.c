// SPDX-License-Identifier: MIT
/* The worker's own start -> exit (issue #19, docs/vmwp.md "Performance"):
 * the minimal PVH guest (tests' tg_vmwp_basic, command line "p": it checks
 * its start info, prints a 60-byte report on COM1 and powers off through
 * PM1a) run from fork+exec of vmwp to its reaped exit, and where the time
 * goes: vmwp --timing's phases (vmwp_phase_name()), as medians:
 *   exec       fork+exec+libc start (the bench's fork -> vmwp's main)
 *   config     the configuration read and parsed
 *   sandbox    sandbox step one: fds closed, namespaces, bounding set
 *   kvm        KVM VM, RAM, irqchip, vCPU, CPUID (vid)
 *   devices    the devices, hvshim, VMBus
 *   image      ACPI tables, the boot image
 *   enter      sandbox step two: empty root, credentials, seccomp
 *   vcpu start the vCPU thread's "vcpu" policy -> its first KVM_RUN
 *   guest run  first KVM_RUN -> the power off seen
 *   join       -> vCPU threads joined, the event loop done
 *   teardown   devices, the KVM VM and its RAM freed
 *   exit       -> the process reaped (exit_group: namespaces, mm)
 * Baseline in the same run: QEMU 7.2 -M microvm (no firmware, no option
 * ROMs, no RTC; -cpu host without arch-capabilities, which the PVM host
 * cannot set) running the same ELF, its PM1a write ending QEMU through an
 * isa-debug-exit at port 0x604: exec -> reaped. Both guests' serial output
 * is checked, so each row is known to have run the guest to its end. */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "worker.h"

#define RUNS 15
#define GUEST_MIB 64u
#define REPORT "vmwp-pvh: start_info ok" /* the guest's first line */

static char build_dir[PATH_MAX - 64], dir[] = "/tmp/bench-start-exit-XXXXXX";

/* Runs argv with stdout and stderr into files; returns the wall time from
 * fork to the reaped exit in ms (-1: failed) and the exit status. */
static double run(const char *const argv[], const char *out, const char *err, int *status, uint64_t *t0_ns) {
        uint64_t t0 = bench_now_ns();
        pid_t pid = fork();
        if (pid == 0) {
                int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (o < 0 || e < 0 || null < 0 || dup2(null, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
                        _exit(127);
                execvp(argv[0], (char *const *)argv);
                _exit(127);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid)
                return -1;
        double ms = (double)(bench_now_ns() - t0) / 1e6;
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (t0_ns)
                *t0_ns = t0;
        return ms;
}

enum { P_EXEC, P_CONFIG, P_SANDBOX, P_KVM, P_DEVICES, P_IMAGE, P_ENTER, P_VCPU, P_GUEST, P_JOIN, P_TEARDOWN, P_EXIT, P_N };
static const char *const phase_label[P_N] = {
        "exec (fork -> main)", "config", "sandbox step one (namespaces)", "KVM VM, RAM, vCPU", "devices",
        "boot image + ACPI", "sandbox step two (root, creds, seccomp)", "vCPU thread -> first KVM_RUN",
        "guest run (first KVM_RUN -> power off)", "vCPUs joined", "teardown (devices, KVM VM, RAM)",
        "process exit -> reaped",
};
/* The vmwp phase that ends each of ours (P_EXEC: "start"; P_EXIT: reaped). */
static const char *const phase_end[P_N] = { "start", "config", "sandbox", "kvm",  "devices", "image",
                                            "entered", "guest", "stop", "joined", "freed", NULL };

static bool ours(const char *config, double *total, double ph[P_N]) {
        char vmwp[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
        snprintf(vmwp, sizeof vmwp, "%s/vmwp/vmwp", build_dir);
        snprintf(out, sizeof out, "%s/vmwp.out", dir);
        snprintf(err, sizeof err, "%s/vmwp.err", dir);
        const char *const argv[] = { vmwp, "--config", config, "--serial", "stdio", "--timing", NULL };
        int status;
        uint64_t t0;
        *total = run(argv, out, err, &status, &t0);
        if (*total < 0 || status != 0 || !strstr(bench_slurp(out), REPORT)) {
                fprintf(stderr, "bench-start-exit: vmwp exited with %d: %s\n", status, bench_slurp(err));
                return false;
        }
        const char *log = bench_slurp(err);
        uint64_t prev = t0;
        for (int i = 0; i < P_N; i++) {
                uint64_t t = phase_end[i] ? bench_phase_ns(log, phase_end[i]) : t0 + (uint64_t)(*total * 1e6);
                if (t < prev) {
                        fprintf(stderr, "bench-start-exit: no or unordered phase %s in: %s\n", phase_end[i], log);
                        return false;
                }
                ph[i] = (double)(t - prev) / 1e6;
                prev = t;
        }
        return true;
}

static bool qemu(double *total) {
        char kernel[PATH_MAX], out[PATH_MAX], err[PATH_MAX], serial[PATH_MAX + 8], mem[16];
        snprintf(kernel, sizeof kernel, "%s/tests/tg_vmwp_basic.elf", build_dir);
        snprintf(out, sizeof out, "%s/qemu.serial", dir);
        snprintf(err, sizeof err, "%s/qemu.err", dir);
        snprintf(serial, sizeof serial, "file:%s", out);
        snprintf(mem, sizeof mem, "%u", GUEST_MIB);
        const char *const argv[] = { "qemu-system-x86_64", "-M", "microvm,x-option-roms=off,rtc=off", "-enable-kvm", "-cpu",
                               "host,-arch-capabilities", "-m", mem, "-kernel", kernel, "-append", "p", "-nodefaults",
                               "-no-user-config", "-display", "none", "-serial", serial, "-device",
                               "isa-debug-exit,iobase=0x604,iosize=2", NULL };
        char qout[PATH_MAX];
        snprintf(qout, sizeof qout, "%s/qemu.stdout", dir);
        int status;
        *total = run(argv, qout, err, &status, NULL);
        /* isa-debug-exit: status (value << 1) | 1 of the guest's PM1a write. */
        if (*total < 0 || status != ((((5 << 10) | (1 << 13)) << 1 | 1) & 0xff) || !strstr(bench_slurp(out), REPORT)) {
                fprintf(stderr, "bench-start-exit: QEMU exited with %d: %s\n", status, bench_slurp(err));
                return false;
        }
        return true;
}

static bool have_qemu(void) {
        return system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
}

int main(void) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0 || !mkdtemp(dir))
                return 1;
        self[n] = 0;
        *strrchr(self, '/') = 0; /* .../bench */
        *strrchr(self, '/') = 0; /* the build directory */
        if (strlen(self) >= sizeof build_dir)
                return 1;
        memcpy(build_dir, self, strlen(self) + 1);
        char config[PATH_MAX];
        snprintf(config, sizeof config, "%s/vm.json", dir);
        FILE *f = fopen(config, "w");
        if (!f)
                return 1;
        fprintf(f, "{\"name\":\"bench\",\"memory_mib\":%u,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":"
                   "\"%s/tests/tg_vmwp_basic.elf\",\"cmdline\":\"p\"}}",
                GUEST_MIB, build_dir);
        fclose(f);
        bool q = have_qemu();
        if (!q)
                fprintf(stderr, "bench-start-exit: qemu-system-x86_64 not installed: no baseline\n");
        double tot[RUNS], qtot[RUNS], ph[P_N][RUNS];
        for (int i = 0; i < RUNS; i++) {
                double p[P_N];
                if (!ours(config, &tot[i], p))
                        return 1;
                for (int k = 0; k < P_N; k++)
                        ph[k][i] = p[k];
                if (q && !qemu(&qtot[i])) {
                        fprintf(stderr, "bench-start-exit: run %d of QEMU failed: no baseline\n", i);
                        q = false;
                }
                fprintf(stderr, "run %d: vmwp %.2f ms (QEMU %.2f)\n", i, tot[i], q ? qtot[i] : -1);
        }
        bench_result("start->exit: minimal PVH guest (vmwp vs QEMU microvm)", bench_median(tot, RUNS),
                     q ? bench_median(qtot, RUNS) : -1, "ms", "<= 0.1x", "lower");
        for (int k = 0; k < P_N; k++) {
                char metric[96];
                snprintf(metric, sizeof metric, "  phase: %s", phase_label[k]);
                bench_result(metric, bench_median(ph[k], RUNS), -1, "ms", "-", "lower");
        }
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : 1;
}
