// SPDX-License-Identifier: MIT
/* The PVM ("pagetable-based") nested KVM of our development and CI machines
 * emulates guest CPL0 code and fails on a few instructions a stock kernel
 * uses (docs/pvm-host-notes.md, docs/pvm.md). We complete them here. This is
 * the only place such workarounds live, and it only runs when PVM was
 * detected at partition creation: on VT-x/AMD-V hosts these instructions
 * never cause an exit. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "internal.h"

#define RFLAGS_AC (1ull << 18)
#define MSR_IA32_TSC 0x10u
#define MSR_TSC_AUX 0xc0000103u
#define VECTOR_BP 3

bool vid_pvm_detect(void) {
        return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/* Up to `len` instruction bytes at the VP's RIP, page by page. */
static int fetch_insn(struct vid_vp *vp, const struct kvm_regs *r, const struct kvm_sregs *s, uint8_t *buf,
                      size_t len) {
        uint64_t lin = s->cs.base + r->rip;
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

/* Called on the VP thread for KVM_EXIT_INTERNAL_ERROR / emulation failure.
 * Returns true if the instruction was completed and the VP can resume. */
bool vid_pvm_fixup(struct vid_vp *vp) {
        struct vid_partition *p = vp->p;
        struct kvm_regs *r = &vp->run->s.regs.regs;
        const struct kvm_sregs *s = &vp->run->s.regs.sregs;
        uint8_t b[3] = { 0 };

        if (!p->pvm || vp->run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
                return false;
        if (fetch_insn(vp, r, s, b, sizeof b) < 1)
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
        } else
                return false;

        vp->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
        atomic_fetch_add(&p->stats.pvm_fixups, 1);
        return true;
}
