// SPDX-License-Identifier: MIT
/* The PVM ("pagetable-based") nested KVM of our development and CI machines
 * emulates guest CPL0 code and fails on a few instructions a stock kernel
 * uses (docs/pvm-host-notes.md, docs/pvm.md). We complete them here. This is
 * the only place such workarounds live, and it only runs when PVM was
 * detected at partition creation: on VT-x/AMD-V hosts these instructions
 * never cause an exit. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"
#include "internal.h"
#include "pvm-lsl-lar.h"

#define RFLAGS_AC (1ull << 18)
#define MSR_IA32_TSC 0x10u
#define MSR_TSC_AUX 0xc0000103u
#define VECTOR_BP 3

bool vid_pvm_detect(void) {
        return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/* docs/pvm-host-notes.md: cmpxchg16b is hidden through CPUID (below);
 * XSAVE, SMAP and the SSE4/AES/POPCNT/PCLMUL families cannot be hidden that
 * way on PVM (KVM reports the host's bits), so the guest is asked to leave
 * them alone. cryptomgr.notests saves ~600 s of emulated self-tests and the
 * initcall blacklist five more slow ones that only cost time: tracing's
 * set-up (tracer_init_tracefs alone, the files of /sys/kernel/tracing, took
 * 6.9 s of the guest's time, 55 s of real time, in a Debian 6.1 boot
 * timed with initcall_debug) and two self-tests (a KDF's, BLAKE2s's: 0.7 s);
 * nokaslr keeps the kernel-half layout the syscall trampoline relies on. */
const char *vid_pvm_linux_cmdline(const struct vid_partition *p) {
        return p->pvm ? "noxsave nokaslr mitigations=off nowatchdog cryptomgr.notests "
                        "clearcpuid=59,129,137,147,148,151,153,308 "
                        "initcall_blacklist=ftrace_check_for_weak_functions,trace_eval_init,tracer_init_tracefs,"
                        "crypto_kdf108_init,blake2s_mod_init"
                      : "";
}

/* docs/pvm.md, "Time dilation": with HZ=250 and a tick that costs
 * milliseconds when emulated, half of a booting kernel's vCPU time went to
 * the tick; at 8 the tick comes every 32 ms of real time. */
#define PVM_LINUX_TIME_DILATION 8u

unsigned vid_pvm_linux_time_dilation(const struct vid_partition *p) {
        return p->pvm ? PVM_LINUX_TIME_DILATION : 1u;
}

#define CPUID1_ECX_CX16 (1u << 13)

void vid_pvm_cpuid_fixup(const struct vid_partition *p, struct kvm_cpuid_entry2 *e) {
        if (p->pvm && e->function == 1)
                e->ecx &= ~CPUID1_ECX_CX16;
}

/* Reads len bytes at a linear address through the guest's page tables;
 * returns how many it could read (fewer where a page is not mapped). */
static int read_linear(struct vid_vp *vp, uint64_t lin, uint8_t *buf, size_t len) {
        size_t done = 0;
        while (done < len) {
                uint64_t gpa;
                int ret = vid_vp_translate(vp, lin + done, &gpa);
                if (ret < 0)
                        return done ? (int)done : ret;
                size_t n = MIN(len - done, VID_PAGE_SIZE - (gpa & (VID_PAGE_SIZE - 1)));
                if (gm_read(vp->p, gpa, buf + done, n) < 0)
                        return done ? (int)done : -EFAULT;
                done += n;
        }
        return (int)done;
}

static int fetch_insn(struct vid_vp *vp, const struct kvm_regs *r, const struct kvm_sregs *s, uint8_t *buf,
                      size_t len) {
        return read_linear(vp, s->cs.base + r->rip, buf, len);
}

static int complete_rdtscp(struct vid_vp *vp, struct kvm_regs *r) {
        uint64_t tsc, aux;
        int ret = vid_vp_get_msr(vp, MSR_IA32_TSC, &tsc);
        if (ret < 0)
                return ret;
        ret = vid_vp_get_msr(vp, MSR_TSC_AUX, &aux);
        if (ret < 0)
                return ret;
        r->rax = (uint32_t)tsc;
        r->rdx = tsc >> 32;
        r->rcx = (uint32_t)aux;
        return 0;
}

/* LSL and LAR (pvm-lsl-lar.c): descriptors through the guest's page tables. */
static int read_desc(void *opaque, uint64_t lin, uint64_t *desc) {
        return read_linear(opaque, lin, (uint8_t *)desc, sizeof *desc) == (int)sizeof *desc ? 0 : -EFAULT;
}

/* Cross-modifying code: the emulator failed on bytes that are no longer
 * there. Linux patches a live instruction (jump labels, static calls,
 * alternatives) by writing an int3 over its first byte, then its tail,
 * then the new first byte, with an IPI round between the steps; yet a vCPU
 * whose emulator fetched the int3 can exit after another vCPU finished the
 * patch. Seen once in CI, a stock 6.1 kernel just before init: the emulator
 * failed on `cc 90`, memory held `66 90` (the 2-byte NOP of the jump label
 * sched_clock_init_late enables, in local_clock). Re-entering at the same
 * RIP runs whatever is there now, as a CPU may run cross-modified code.
 * Only done with proof: KVM reported the bytes it failed on (it has since
 * Linux 5.14; PVM does) and memory no longer holds them, so a failure on
 * bytes that stay put is reported at once. */
static bool reexecute(const struct kvm_run *run, const uint8_t *mem, size_t n) {
        const uint8_t *emu;
        size_t k = MIN(vid_emulation_failure_bytes(run, &emu), n);
        return k > 0 && memcmp(emu, mem, k) != 0;
}

/* Called on the VP thread for KVM_EXIT_INTERNAL_ERROR / emulation failure.
 * Returns true if the instruction was completed and the VP can resume. */
bool vid_pvm_fixup(struct vid_vp *vp) {
        struct vid_partition *p = vp->p;
        struct kvm_regs *r = &vp->run->s.regs.regs;
        const struct kvm_sregs *s = &vp->run->s.regs.sregs;
        uint8_t b[15] = { 0 }; /* the longest instruction */
        unsigned len;

        if (!p->pvm || vp->run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
                return false;
        int n = fetch_insn(vp, r, s, b, sizeof b);
        if (n < 1)
                return false;

        if (b[0] == 0xcc) { /* int3: a trap, so the guest sees RIP after it */
                r->rip += 1;
                vp->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
                if (vid_vp_inject_exception(vp, VECTOR_BP, false, 0) < 0)
                        return false;
                atomic_fetch_add(&p->stats.pvm_int3, 1);
        } else if (b[0] == 0x9b) { /* fwait: no x87 exception can be pending */
                r->rip += 1;
                atomic_fetch_add(&p->stats.pvm_fwait, 1);
        } else if (b[0] == 0x0f && b[1] == 0x01 && (b[2] == 0xca || b[2] == 0xcb)) { /* clac / stac */
                r->rflags = b[2] == 0xca ? (r->rflags & ~RFLAGS_AC) : (r->rflags | RFLAGS_AC);
                r->rip += 3;
                atomic_fetch_add(&p->stats.pvm_clac_stac, 1);
        } else if (b[0] == 0x0f && b[1] == 0x01 && b[2] == 0xf9) { /* rdtscp */
                if (complete_rdtscp(vp, r) < 0)
                        return false;
                r->rip += 3;
                atomic_fetch_add(&p->stats.pvm_rdtscp, 1);
        } else if ((len = pvm_lsl_lar(r, s, b, (size_t)n, read_desc, vp)) > 0) {
                r->rip += len;
                atomic_fetch_add(&p->stats.pvm_lsl_lar, 1);
        } else if (reexecute(vp->run, b, (size_t)n)) {
                atomic_fetch_add(&p->stats.pvm_reexec, 1);
                return true; /* nothing changed: the same instruction, again */
        } else
                return false;

        vp->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
        atomic_fetch_add(&p->stats.pvm_fixups, 1);
        return true;
}

/* ---- SYSCALL from CPL3 --------------------------------------------------
 * On PVM a guest SYSCALL from CPL3 arrives at LSTAR still at CPL3 (measured:
 * CS 0x33, SS 0x2b at the entry). Fix: vid keeps the guest's LSTAR and
 * points the real one at a trampoline mapped user-executable in a PML4 slot
 * of the kernel half (copied into every process's page table from
 * swapper_pg_dir). The trampoline's only instruction is a
 * one-byte MMIO write; KVM completes an MMIO write before it exits, so at
 * the exit vid can load the kernel CS/SS from STAR, apply FMASK and resume
 * at the guest's LSTAR. RCX and R11 were set by the SYSCALL itself. */

#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u
/* PDPT, PD, PT and code in guest RAM that Linux direct-maps, so its own
 * page-table walkers (the W+X check at mark_rodata_ro, ptdump) can follow
 * our PML4 entry; the doorbell page has no memslot, so a write is MMIO. */
#define TRAMP_GPA VID_RESERVED_RAM_GPA
#define TRAMP_PAGES 4u
#define TRAMP_DOORBELL_GPA (VID_RESERVED_GPA + 0x8000)
_Static_assert(TRAMP_PAGES * VID_PAGE_SIZE <= VID_RESERVED_RAM_SIZE, "trampoline pages");
/* PML4 slot 509 (0xfffffe8000000000): an unused hole in Linux's x86-64
 * layout (Documentation/x86/x86_64/mm.rst), above KASLR's vaddr_end so no
 * randomised region lands there. Slot 256, Linux's "reserved for the
 * hypervisor" hole, is taken by the PVM host itself: a guest CPL3 fetch
 * there faults (measured). Every other kernel slot works. */
#define TRAMP_PML4_SLOT 509u
#define TRAMP_VA (0xffff000000000000ull | ((uint64_t)TRAMP_PML4_SLOT << 39))
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_NX (1ull << 63)
#define EFER_NXE (1ull << 11)
#define CR4_LA57 (1ull << 12)
#define CR3_ADDR_MASK 0x000ffffffffff000ull

/* mov %al, 0xffa(%rip) -> TRAMP_VA + 0x1000 (the doorbell page); ud2 */
static const uint8_t tramp_code[] = { 0x88, 0x05, 0xfa, 0x0f, 0x00, 0x00, 0x0f, 0x0b };
#define TRAMP_INSN_END (TRAMP_VA + 6)

void vid_pvm_prepare(struct vid_partition *p) {
        p->pvm_tramp = true;
        p->pvm_lstar_real = TRAMP_VA;
}

/* The trampoline's page tables and code, written into the reserved RAM
 * pages each time it is installed: nothing the loader or the guest did to
 * those pages before can break it. A and D are preset, so the guest's
 * walker never writes these tables; NX on the doorbell page (when the guest
 * enabled NX) keeps it from being a W+X mapping. */
static int write_trampoline(struct vid_vp *vp, const struct kvm_sregs *s) {
        uint8_t page[VID_PAGE_SIZE];
        uint64_t *e = (uint64_t *)(void *)page;
        bool nx = s->efer & EFER_NXE;
        int r = 0;
        for (unsigned i = 0; i < TRAMP_PAGES && r == 0; i++) {
                memset(page, 0, sizeof page);
                if (i < 2) /* PDPT[0] -> PD, PD[0] -> PT */
                        e[0] = (TRAMP_GPA + (i + 1) * VID_PAGE_SIZE) | PTE_P | PTE_RW | PTE_US | PTE_A;
                else if (i == 2) {
                        e[0] = (TRAMP_GPA + 3 * VID_PAGE_SIZE) | PTE_P | PTE_US | PTE_A; /* code: read + execute */
                        e[1] = TRAMP_DOORBELL_GPA | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | (nx ? PTE_NX : 0);
                } else
                        memcpy(page, tramp_code, sizeof tramp_code);
                r = gm_write(vp->p, TRAMP_GPA + i * VID_PAGE_SIZE, page, sizeof page);
        }
        return r;
}

size_t vid_pvm_msr_ranges(const struct vid_partition *p, struct vid_msr_range *out, size_t max) {
        if (!p->pvm || !p->pvm_tramp || max < 1)
                return 0;
        out[0] = (struct vid_msr_range){ .first = MSR_LSTAR, .count = 1 };
        return 1;
}

/* Map the trampoline into the address space the guest runs now (s): its
 * kernel page tables when it programs LSTAR (syscall_init, per CPU). */
static int install_trampoline(struct vid_vp *vp, const struct kvm_sregs *s) {
        if (s->cr4 & CR4_LA57)
                return -EOPNOTSUPP; /* 5-level paging: not handled */
        int r = write_trampoline(vp, s);
        if (r < 0)
                return r;
        uint64_t entry = TRAMP_GPA | PTE_P | PTE_RW | PTE_US | PTE_A;
        return gm_write(vp->p, (s->cr3 & CR3_ADDR_MASK) + TRAMP_PML4_SLOT * 8, &entry, sizeof entry);
}

/* The guest's LSTAR goes to vp->pvm_lstar; KVM's points at the trampoline.
 * If the trampoline cannot be installed, the guest's value goes through:
 * syscalls then fail as they would without us. */
static int set_lstar(struct vid_vp *vp, uint64_t value, const struct kvm_sregs *s) {
        vp->pvm_lstar = value;
        uint64_t real = value && install_trampoline(vp, s) == 0 ? vp->p->pvm_lstar_real : value;
        return vid_vp_set_msr(vp, MSR_LSTAR, real);
}

bool vid_pvm_msr(struct vid_vp *vp, bool write, uint32_t index, uint64_t *value, int *result) {
        if (index != MSR_LSTAR || !vp->p->pvm_tramp)
                return false;
        if (!write) {
                *value = vp->pvm_lstar;
                *result = 0;
                return true;
        }
        *result = set_lstar(vp, *value, &vp->run->s.regs.sregs);
        return true;
}

uint64_t vid_pvm_msr_saved(const struct vid_vp *vp, uint32_t index, uint64_t kvm_value) {
        return index == MSR_LSTAR && vp->p->pvm_tramp ? vp->pvm_lstar : kvm_value;
}

/* A restored guest may come from a host without the trampoline: install it
 * in the restored address space as if the guest had just written LSTAR. */
bool vid_pvm_msr_restore(struct vid_vp *vp, uint32_t index, uint64_t value, const struct kvm_sregs *s, int *r) {
        if (index != MSR_LSTAR || !vp->p->pvm_tramp)
                return false;
        *r = set_lstar(vp, value, s);
        return true;
}

static struct kvm_segment kernel_seg(uint16_t sel, bool code) {
        return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = code ? 0xb : 0x3,
                                     .present = 1, .dpl = 0, .db = code ? 0 : 1, .s = 1, .l = code, .g = 1 };
}

bool vid_pvm_tsc_fixed(const struct vid_partition *p) {
        return p->pvm;
}

bool vid_pvm_mmio(struct vid_vp *vp, uint64_t gpa, bool write) {
        if (!vp->p->pvm_tramp || gpa < TRAMP_DOORBELL_GPA || gpa >= TRAMP_DOORBELL_GPA + VID_PAGE_SIZE)
                return false;
        struct kvm_regs *r = &vp->run->s.regs.regs;
        struct kvm_sregs *s = &vp->run->s.regs.sregs;
        /* Only the trampoline's own write, arriving from a SYSCALL at CPL3,
         * enters the kernel; any other touch of the page is ignored. */
        if (!write || (s->ss.dpl & 3) != 3 || r->rip != TRAMP_INSN_END)
                return true;
        uint64_t star, fmask;
        if (vid_vp_get_msr(vp, MSR_STAR, &star) < 0 || vid_vp_get_msr(vp, MSR_FMASK, &fmask) < 0)
                return true;
        uint16_t kcs = (uint16_t)((star >> 32) & 0xfffc);
        s->cs = kernel_seg(kcs, true);
        s->ss = kernel_seg((uint16_t)(kcs + 8), false);
        r->rip = vp->pvm_lstar;
        r->rflags &= ~fmask;
        r->rflags |= 2; /* bit 1 always reads as one */
        vp->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
        atomic_fetch_add(&vp->p->stats.pvm_syscall, 1);
        atomic_fetch_add(&vp->p->stats.pvm_fixups, 1);
        return true;
}
