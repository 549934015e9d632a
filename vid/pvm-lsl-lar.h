/* SPDX-License-Identifier: MIT */
/* LSL and LAR with register operands, completed for PVM hosts (pvm.c,
 * docs/pvm.md): the decoding and the SDM's checks, apart from the guest
 * memory they read, so that the fuzz target (tests/fuzz/fuzz-pvm-lsl-lar.c)
 * drives them with any bytes, registers and descriptor tables. */
#pragma once

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

/* General-purpose register n (0-15, the instruction encoding's order:
 * rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8-r15) of r. */
__u64 *pvm_gpr(struct kvm_regs *r, unsigned n);

/* Reads the 8 bytes of a descriptor at linear address lin: 0, or < 0 where
 * they cannot be read. */
typedef int (*pvm_read_desc_fn)(void *opaque, uint64_t lin, uint64_t *desc);

/* b: the instruction's first n bytes. If they are a register-operand LSL
 * or LAR, completes it on r (the destination register and ZF, nothing
 * else) and returns its length; returns 0 (r unchanged) if they are not,
 * or if the descriptor table cannot be read. Reads only 8-byte descriptors
 * inside the GDT's or LDT's limit. */
unsigned pvm_lsl_lar(struct kvm_regs *r, const struct kvm_sregs *s, const uint8_t *b, size_t n,
                     pvm_read_desc_fn read_desc, void *opaque);
