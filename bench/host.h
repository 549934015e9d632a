/* SPDX-License-Identifier: MIT */
/* Which kind of host a benchmark runs on (issue #55): a figure means
 * something only beside the host it was measured on, and the emulated
 * AMD-V host's (QEMU's TCG, tests/amdv/) are never performance. Every C
 * benchmark prints the line before its first result (bench_result), and
 * bench/run.sh above its table (the `host-kind` program). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct bench_host_facts {
        bool kvm;            /* /dev/kvm can be opened for writing */
        bool pvm;            /* the PVM KVM (/sys/module/kvm_pvm, as vid detects it) */
        const char *module;  /* "kvm_intel", "kvm_amd" or NULL */
        bool hypervisor;     /* CPUID.1:ECX[31]: this host is itself a guest */
        char signature[13];  /* CPUID 0x40000000's vendor, "" when none */
        bool amdv_env;       /* AMDV_HOST=1: tests/amdv/amdv-host.sh's run */
        unsigned cpus;       /* online CPUs */
        char model[64];      /* the CPU's model name, "" when unknown */
};

/* The kind, one line (no newline) into out: a pure function of f. */
void bench_host_describe(const struct bench_host_facts *f, char *out, size_t n);
/* True where the figures are an emulation's (QEMU's TCG), never performance. */
bool bench_host_emulated(const struct bench_host_facts *f);
/* This machine's facts. */
void bench_host_probe(struct bench_host_facts *f);
/* This machine's line: bench_host_probe, then bench_host_describe. */
void bench_host_line(char *out, size_t n);
