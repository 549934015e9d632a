// SPDX-License-Identifier: MIT
/* Worker start-up cost (docs/vmwp.md "Performance"):
 *   - exec of vmwp -> the guest's first instruction (it writes
 *     VMSTACK_MARKER_FIRST_INSN; vmwp --timing reports when it arrived),
 *   - exec -> the first serial byte read from vmwp's stdout,
 *   - the worker's resident memory without guest RAM (/proc/PID/smaps minus
 *     the "vid-guest-ram" memfd mapping), while the guest idles.
 * Baseline, measured in the same run: this program re-executed as a minimal
 * raw-KVM VMM (VM, memory slot, one vCPU in flat protected mode) running the
 * same tiny guest to its first instruction. It talks to /dev/kvm directly,
 * which is the point of a baseline; nothing else above vid does.
 * Files come from the build tree next to this binary: vmwp/vmwp and the
 * tiny guest tests/tg_vmwp_basic.{elf,bin}. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define RUNS 5
#define GUEST_MIB 64u
#define GUEST_LOAD 0x100000u

static char build_dir[PATH_MAX - 64];

/* Resident KiB of pid, without mappings whose name contains skip. */
static long rss_kib_without(pid_t pid, const char *skip) {
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        long total = 0;
        bool skipping = false;
        while (fgets(line, sizeof line, f)) {
                unsigned long a, b;
                if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, ' ')) {
                        skipping = strstr(line, skip) != NULL;
                        continue;
                }
                long kib;
                if (!skipping && sscanf(line, "Rss: %ld kB", &kib) == 1)
                        total += kib;
        }
        fclose(f);
        return total;
}

/* ---- baseline: a minimal raw-KVM VMM (child process) ---- */

static int baseline_child(void) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/tests/tg_vmwp_basic.bin", build_dir);
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (kvm < 0 || vm < 0)
                return 1;
        size_t ram = (size_t)GUEST_MIB << 20;
        int memfd = memfd_create("baseline-guest-ram", MFD_CLOEXEC);
        if (memfd < 0 || ftruncate(memfd, (off_t)ram) < 0)
                return 1;
        uint8_t *mem = mmap(NULL, ram, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, memfd, 0);
        struct kvm_userspace_memory_region r = { .memory_size = ram, .userspace_addr = (uint64_t)(uintptr_t)mem };
        if (mem == MAP_FAILED || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
                return 1;
        FILE *g = fopen(path, "r");
        if (!g)
                return 1;
        size_t n = fread(mem + GUEST_LOAD, 1, ram - GUEST_LOAD, g);
        fclose(g);
        (void)ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
        int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        int mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
        struct kvm_run *run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        if (n == 0 || vcpu < 0 || run == MAP_FAILED)
                return 1;
        struct kvm_sregs s;
        ioctl(vcpu, KVM_GET_SREGS, &s);
        struct kvm_segment code = { .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1, .db = 1, .s = 1, .g = 1 };
        struct kvm_segment data = code;
        data.selector = 16, data.type = 3;
        s.cs = code, s.ds = s.es = s.fs = s.gs = s.ss = data;
        s.cr0 = 0x11;
        struct kvm_regs regs = { .rip = GUEST_LOAD, .rflags = 2 };
        if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
                return 1;
        for (;;) {
                if (ioctl(vcpu, KVM_RUN, 0) < 0)
                        return 1;
                if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0xe08) {
                        uint64_t t = bench_now_ns();
                        printf("%llu %ld\n", (unsigned long long)t, rss_kib_without(getpid(), "baseline-guest-ram"));
                        return 0;
                }
                if (run->exit_reason != KVM_EXIT_IO)
                        return 1;
        }
}

static int baseline(double *ms, double *rss_mib) {
        int p[2];
        if (pipe(p) < 0)
                return -1;
        uint64_t t0 = bench_now_ns();
        pid_t pid = fork();
        if (pid == 0) {
                dup2(p[1], 1);
                execl("/proc/self/exe", "bench-boot", "--baseline-child", build_dir, (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        char buf[128] = "";
        ssize_t n = read(p[0], buf, sizeof buf - 1);
        close(p[0]);
        int st;
        waitpid(pid, &st, 0);
        unsigned long long t;
        long kib;
        if (n <= 0 || sscanf(buf, "%llu %ld", &t, &kib) != 2)
                return -1;
        *ms = (double)(t - t0) / 1e6;
        *rss_mib = (double)kib / 1024.0;
        return 0;
}

/* ---- vmwp ---- */

static int worker(const char *config, double *insn_ms, double *serial_ms, double *rss_mib) {
        char vmwp[PATH_MAX];
        snprintf(vmwp, sizeof vmwp, "%s/vmwp/vmwp", build_dir);
        int out[2], err[2];
        if (pipe(out) < 0 || pipe(err) < 0)
                return -1;
        uint64_t t0 = bench_now_ns();
        pid_t pid = fork();
        if (pid == 0) {
                dup2(out[1], 1);
                dup2(err[1], 2);
                int devnull = open("/dev/null", O_RDONLY);
                dup2(devnull, 0);
                execl(vmwp, "vmwp", "--config", config, "--serial", "stdio", "--timing", (char *)NULL);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);
        char c;
        if (read(out[0], &c, 1) != 1)
                return -1;
        *serial_ms = (double)(bench_now_ns() - t0) / 1e6;
        usleep(100000); /* the guest prints its report and idles in HLT */
        *rss_mib = (double)rss_kib_without(pid, "vid-guest-ram") / 1024.0;
        kill(pid, SIGTERM);
        static char log[8192];
        size_t n = 0;
        ssize_t k;
        while ((k = read(err[0], log + n, sizeof log - 1 - n)) > 0)
                n += (size_t)k;
        log[n] = 0;
        close(out[0]);
        close(err[0]);
        waitpid(pid, NULL, 0);
        const char *s = strstr(log, "first-insn=");
        unsigned long long t;
        if (!s || sscanf(s, "first-insn=%llu", &t) != 1 || t == 0)
                return -1;
        *insn_ms = (double)(t - t0) / 1e6;
        return 0;
}

static int write_config(char *path, size_t len) {
        char dir[] = "/tmp/bench-boot-XXXXXX";
        if (!mkdtemp(dir))
                return -1;
        snprintf(path, len, "%s/vm.json", dir);
        FILE *f = fopen(path, "w");
        if (!f)
                return -1;
        fprintf(f, "{\"name\":\"bench\",\"memory_mib\":%u,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":"
                   "\"%s/tests/tg_vmwp_basic.elf\",\"cmdline\":\"h\"}}",
                GUEST_MIB, build_dir);
        fclose(f);
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "--baseline-child") == 0) {
                snprintf(build_dir, sizeof build_dir, "%s", argv[2]);
                return baseline_child();
        }
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
                return 1;
        self[n] = 0;
        *strrchr(self, '/') = 0; /* .../bench */
        *strrchr(self, '/') = 0; /* the build directory */
        if (strlen(self) >= sizeof build_dir)
                return 1;
        memcpy(build_dir, self, strlen(self) + 1);
        char config[PATH_MAX];
        if (write_config(config, sizeof config) < 0)
                return 1;
        double insn[RUNS], serial[RUNS], rss[RUNS], b_insn[RUNS], b_rss[RUNS];
        for (int i = 0; i < RUNS; i++)
                if (worker(config, &insn[i], &serial[i], &rss[i]) < 0 || baseline(&b_insn[i], &b_rss[i]) < 0) {
                        fprintf(stderr, "bench-boot: run %d failed (is %s/vmwp/vmwp built, /dev/kvm usable?)\n", i,
                                build_dir);
                        return 1;
                }
        double base_insn = bench_median(b_insn, RUNS);
        bench_result("boot: exec -> first guest instruction", bench_median(insn, RUNS), base_insn, "ms", "< 10",
                     "lower");
        bench_result("boot: exec -> first serial byte", bench_median(serial, RUNS), base_insn, "ms", "-", "lower");
        bench_result("boot: worker RSS without guest RAM", bench_median(rss, RUNS), bench_median(b_rss, RUNS), "MiB",
                     "< 3", "lower");
        char cmd[PATH_MAX + 16];
        *strrchr(config, '/') = 0;
        snprintf(cmd, sizeof cmd, "rm -rf %s", config);
        return system(cmd) == 0 ? 0 : 1;
}
