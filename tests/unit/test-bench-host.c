// SPDX-License-Identifier: MIT
/* The benchmarks' host line (bench/host.h, issue #55): each kind of host
 * named from its facts, the emulated AMD-V host's figures never called
 * performance, and this machine's own line printed before a benchmark's
 * first result (bench_result). */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/host.h"
#include "common/test.h"

static char line[256];

static const char *describe(struct bench_host_facts f) {
        bench_host_describe(&f, line, sizeof line);
        return line;
}

TEST(each_kind_of_host) {
        struct bench_host_facts pvm = { .kvm = true, .pvm = true, .hypervisor = true, .signature = "KVMKVMKVM",
                                        .cpus = 2, .model = "AMD EPYC" };
        ASSERT_STREQ(describe(pvm), "PVM KVM (kvm_pvm: nested, guest CPL0 code emulated, vid's PVM layer on): "
                                    "this host's figures, not hardware's; 2 CPUs, AMD EPYC");
        struct bench_host_facts tcg = { .kvm = true, .module = "kvm_amd", .hypervisor = true,
                                        .signature = "TCGTCGTCGTCG", .cpus = 2,
                                        .model = "AMD QEMU TCG CPU version 2.5+" };
        ASSERT_STREQ(describe(tcg), "emulated AMD-V (QEMU TCG, kvm_amd): figures of an emulation, never performance; "
                                    "2 CPUs, AMD QEMU TCG CPU version 2.5+");
        ASSERT_TRUE(bench_host_emulated(&tcg));
        /* Another -cpu model under amdv-host.sh: its environment says so. */
        struct bench_host_facts epyc = { .kvm = true, .module = "kvm_amd", .amdv_env = true };
        ASSERT_TRUE(bench_host_emulated(&epyc));
        ASSERT_STREQ(describe(epyc), "emulated AMD-V (QEMU TCG, kvm_amd): figures of an emulation, never performance");
        struct bench_host_facts nested = { .kvm = true, .module = "kvm_intel", .hypervisor = true,
                                           .signature = "Microsoft Hv", .cpus = 16 };
        ASSERT_FALSE(bench_host_emulated(&nested));
        ASSERT_STREQ(describe(nested), "hardware virtualization (kvm_intel), nested under a hypervisor (Microsoft Hv); "
                                       "16 CPUs");
        struct bench_host_facts metal = { .kvm = true, .module = "kvm_amd" };
        ASSERT_STREQ(describe(metal), "hardware virtualization (kvm_amd)");
        struct bench_host_facts none = { .pvm = true, .cpus = 4 };
        ASSERT_STREQ(describe(none), "no /dev/kvm; 4 CPUs");
        /* A PVM host is never called emulated, whatever its environment. */
        pvm.amdv_env = true;
        ASSERT_FALSE(bench_host_emulated(&pvm));
}

TEST(a_short_buffer_is_cut_not_overrun) {
        struct bench_host_facts tcg = { .kvm = true, .module = "kvm_amd", .signature = "TCGTCGTCGTCG" };
        char small[16];
        memset(small, 'x', sizeof small);
        bench_host_describe(&tcg, small, 10);
        ASSERT_STREQ(small, "emulated ");
        ASSERT_EQ(small[10], 'x');
}

TEST(this_machine_and_the_first_result) {
        struct bench_host_facts f;
        bench_host_probe(&f);
        ASSERT_GT(f.cpus, 0u);
        char mine[256], described[256];
        bench_host_describe(&f, described, sizeof described);
        bench_host_line(mine, sizeof mine);
        ASSERT_STREQ(mine, described);
        /* bench_result's output, read back from a file as stdout. */
        char path[] = "/tmp/test-bench-host.XXXXXX";
        int fd = mkstemp(path);
        ASSERT_GE(fd, 0);
        fflush(stdout);
        int saved = dup(1);
        ASSERT_GE(saved, 0);
        ASSERT_EQ(dup2(fd, 1), 1);
        bench_result("a", 1, 2, "ms", "<= 1.0x", "lower");
        bench_result("b", 3, -1, "ms", NULL, NULL);
        fflush(stdout);
        ASSERT_EQ(dup2(saved, 1), 1);
        close(saved);
        char got[1024] = "", want[1024];
        FILE *in = fopen(path, "re");
        ASSERT_NOT_NULL(in);
        size_t n = fread(got, 1, sizeof got - 1, in);
        got[n] = 0;
        fclose(in);
        unlink(path);
        close(fd);
        snprintf(want, sizeof want, "host: %s\nRESULT\ta\t1\t2\tms\t<= 1.0x\tlower\nRESULT\tb\t3\t-1\tms\t-\t-\n", mine);
        ASSERT_STREQ(got, want);
}

TEST_MAIN()
