// SPDX-License-Identifier: MIT
#include "host.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vid/vid.h"
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

bool bench_host_emulated(const struct bench_host_facts *f) {
        /* QEMU's TCG names itself in the hypervisor leaf ("TCGTCGTCGTCG");
         * the emulated host's runs also say so in their environment, for a
         * -cpu model that may not (amdv-host.sh --cpu). */
        return !f->pvm && (f->amdv_env || strcmp(f->signature, "TCGTCGTCGTCG") == 0);
}

void bench_host_describe(const struct bench_host_facts *f, char *out, size_t n) {
        char cpu[96] = "";
        if (f->cpus)
                snprintf(cpu, sizeof cpu, "; %u CPUs%s%s", f->cpus, f->model[0] ? ", " : "", f->model);
        const char *module = f->module ? f->module : "kvm";
        if (!f->kvm)
                snprintf(out, n, "no /dev/kvm%s", cpu);
        else if (f->pvm)
                snprintf(out, n, "PVM KVM (kvm_pvm: nested, guest CPL0 code emulated, vid's PVM layer on): "
                                 "this host's figures, not hardware's%s", cpu);
        else if (bench_host_emulated(f))
                snprintf(out, n, "emulated AMD-V (QEMU TCG, %s): figures of an emulation, never performance%s",
                         module, cpu);
        else if (f->hypervisor)
                snprintf(out, n, "hardware virtualization (%s), nested under a hypervisor (%s)%s", module,
                         f->signature[0] ? f->signature : "unnamed", cpu);
        else
                snprintf(out, n, "hardware virtualization (%s)%s", module, cpu);
}

static void probe_cpuid(struct bench_host_facts *f) {
#if defined(__x86_64__) || defined(__i386__)
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d))
                return;
        f->hypervisor = c & (1u << 31);
        if (!f->hypervisor)
                return;
        __cpuid(0x40000000, a, b, c, d);
        memcpy(f->signature, &b, 4);
        memcpy(f->signature + 4, &c, 4);
        memcpy(f->signature + 8, &d, 4);
        f->signature[12] = 0;
        for (size_t i = 0; i < 12; i++) /* printable, or cut there */
                if (!isprint((unsigned char)f->signature[i])) {
                        f->signature[i] = 0;
                        break;
                }
#else
        (void)f;
#endif
}

static void probe_model(struct bench_host_facts *f) {
        FILE *in = fopen("/proc/cpuinfo", "re");
        char line[256];
        while (in && fgets(line, sizeof line, in)) {
                if (strncmp(line, "model name", 10) != 0 || !strchr(line, ':'))
                        continue;
                const char *v = strchr(line, ':') + 1;
                while (*v == ' ' || *v == '\t')
                        v++;
                snprintf(f->model, sizeof f->model, "%.*s", (int)strcspn(v, "\n"), v);
                break;
        }
        if (in)
                fclose(in);
}

void bench_host_probe(struct bench_host_facts *f) {
        memset(f, 0, sizeof *f);
        f->kvm = access("/dev/kvm", W_OK) == 0;
        f->pvm = vid_pvm_detect();
        if (access("/sys/module/kvm_amd", F_OK) == 0)
                f->module = "kvm_amd";
        else if (access("/sys/module/kvm_intel", F_OK) == 0)
                f->module = "kvm_intel";
        const char *e = getenv("AMDV_HOST");
        f->amdv_env = e && strcmp(e, "1") == 0;
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        f->cpus = n > 0 ? (unsigned)n : 0;
        probe_cpuid(f);
        probe_model(f);
}

void bench_host_line(char *out, size_t n) {
        struct bench_host_facts f;
        bench_host_probe(&f);
        bench_host_describe(&f, out, n);
}
