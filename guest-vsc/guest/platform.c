// SPDX-License-Identifier: MIT
/* The machine under the vsc library in the test guest: CPUID, MSRs and the
 * hypercall page at CPL0, the doorbell port at any CPL, the TSC clock, hlt
 * idling and the page allocator. Memory is identity-mapped (mem.c). */
#include "hv/vmstack.h"

#include "guest.h"

static void g_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4]) {
        cpuid(leaf, sub, out);
}

static uint64_t g_rdmsr(void *ctx, uint32_t msr) {
        return rdmsr(msr);
}

static void g_wrmsr(void *ctx, uint32_t msr, uint64_t v) {
        wrmsr(msr, v);
}

/* Linux's x64 hypercall ABI (§1.6): control in RCX, input in RDX, output in
 * R8, status in RAX; the page may clobber RCX, RDX, R8-R11 and flags. */
static uint64_t g_hypercall(void *ctx, void *page, uint64_t control, uint64_t input, uint64_t output) {
        uint64_t status;
        register uint64_t r8 __asm__("r8") = output;
        __asm__ volatile("call *%[page]"
                         : "=a"(status), "+c"(control), "+d"(input), "+r"(r8)
                         : [page] "r"(page)
                         : "r9", "r10", "r11", "cc", "memory");
        return status;
}

/* HvSignalEvent's fast path without the hypercall page: OUT EAX (the
 * connection id) to the doorbell port (hv/vmstack.h). Legal at CPL3 because
 * the guest runs CPL3 code with IOPL 3. */
static void g_doorbell(void *ctx, uint32_t connection_id) {
        outl(VMSTACK_DOORBELL_PORT, connection_id);
}

static unsigned g_cpl(void *ctx) {
        return current_cpl();
}

static uint64_t g_now_ns(void *ctx) {
        return clock_ns();
}

static void g_idle(void *ctx, uint64_t deadline_ns) {
        clock_idle(deadline_ns);
}

static void *g_alloc_pages(void *ctx, size_t n) {
        return mem_alloc_pages(n);
}

static void *g_alloc_pages_unzeroed(void *ctx, size_t n) {
        return mem_alloc_pages_unzeroed(n);
}

static void g_free_pages(void *ctx, void *p, size_t n) {
        mem_free_pages(p, n);
}

static uint64_t g_virt_to_phys(void *ctx, const void *p) {
        return (uint64_t)(uintptr_t)p;
}

const struct vsc_ops guest_vsc_ops = {
        .cpuid = g_cpuid,
        .rdmsr = g_rdmsr,
        .wrmsr = g_wrmsr,
        .hypercall = g_hypercall,
        .doorbell = g_doorbell,
        .cpl = g_cpl,
        .now_ns = g_now_ns,
        .idle = g_idle,
        .alloc_pages = g_alloc_pages,
        .alloc_pages_unzeroed = g_alloc_pages_unzeroed,
        .free_pages = g_free_pages,
        .virt_to_phys = g_virt_to_phys,
};
