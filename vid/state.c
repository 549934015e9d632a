// SPDX-License-Identifier: MIT
/* vCPU and partition state as plain data (vid/state.h): capture from KVM,
 * apply to KVM, and the section descriptors and checks of the saved-state
 * format (docs/saved-state.md, "VP" and "PART").
 *
 * Apply order follows what KVM needs: registers, XSAVE and XCRs, system
 * registers (APIC base among them), the local APIC page, MSRs (the TSC
 * first, TSC_DEADLINE last: KVM ignores a deadline until the LAPIC timer is
 * in TSC-deadline mode), MP state, pending events, debug registers. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vid/state.h"

#define MSR_IA32_TSC 0x10u
#define MSR_IA32_TSC_DEADLINE 0x6e0u

_Static_assert(sizeof(struct kvm_pic_state) == 16, "kvm_pic_state");
_Static_assert(sizeof(struct kvm_ioapic_state) == 216, "kvm_ioapic_state");
_Static_assert(sizeof(struct kvm_lapic_state) == VID_STATE_LAPIC_SIZE, "kvm_lapic_state");
_Static_assert(sizeof(struct kvm_xsave) <= VID_STATE_XSAVE_MAX, "kvm_xsave");

/* ---- descriptors ------------------------------------------------------ */

#define F(id, kind, m) VMSTATE_FIELD(id, kind, struct vid_vp_state, m)
#define A(id, kind, m, n) VMSTATE_ARRAY(id, kind, struct vid_vp_state, m, n)
static const struct vmstate_field_desc vp_fields[] = {
        A(1, VMSTATE_U64_ARRAY, gprs, n_gprs),
        A(2, VMSTATE_U64_ARRAY, seg_base, n_seg_base),
        A(3, VMSTATE_U32_ARRAY, seg_limit, n_seg_limit),
        A(4, VMSTATE_U32_ARRAY, seg_attr, n_seg_attr),
        F(5, VMSTATE_U64, gdt_base),
        F(6, VMSTATE_U32, gdt_limit),
        F(7, VMSTATE_U64, idt_base),
        F(8, VMSTATE_U32, idt_limit),
        F(9, VMSTATE_U64, cr0),
        F(10, VMSTATE_U64, cr2),
        F(11, VMSTATE_U64, cr3),
        F(12, VMSTATE_U64, cr4),
        F(13, VMSTATE_U64, cr8),
        F(14, VMSTATE_U64, efer),
        F(15, VMSTATE_U64, apic_base),
        A(16, VMSTATE_VARBYTES, xsave, xsave_len),
        A(17, VMSTATE_U32_ARRAY, xcr_index, n_xcr_index),
        A(18, VMSTATE_U64_ARRAY, xcr_value, n_xcr_value),
        F(19, VMSTATE_BYTES, lapic),
        F(20, VMSTATE_BOOL, exc_injected),
        F(21, VMSTATE_BOOL, exc_pending),
        F(22, VMSTATE_BOOL, exc_has_error_code),
        F(23, VMSTATE_BOOL, exc_has_payload),
        F(24, VMSTATE_U8, exc_vector),
        F(25, VMSTATE_U32, exc_error_code),
        F(26, VMSTATE_U64, exc_payload),
        F(27, VMSTATE_BOOL, irq_injected),
        F(28, VMSTATE_BOOL, irq_soft),
        F(29, VMSTATE_U8, irq_vector),
        F(30, VMSTATE_U8, interrupt_shadow),
        F(31, VMSTATE_BOOL, nmi_injected),
        F(32, VMSTATE_BOOL, nmi_pending),
        F(33, VMSTATE_BOOL, nmi_masked),
        F(34, VMSTATE_U32, sipi_vector),
        F(35, VMSTATE_U32, mp_state),
        A(36, VMSTATE_U64_ARRAY, dr, n_dr),
        F(37, VMSTATE_U64, dr6),
        F(38, VMSTATE_U64, dr7),
        A(39, VMSTATE_U32_ARRAY, msr_index, n_msr_index),
        A(40, VMSTATE_U64_ARRAY, msr_value, n_msr_value),
};
#undef F
#undef A

const struct vmstate_desc vid_vp_state_desc = {
        .tag = VID_STATE_TAG_VP, .version = 1, .fields = vp_fields, .n_fields = ARRAY_SIZE(vp_fields), .name = "vCPU",
};

#define F(id, kind, m) VMSTATE_FIELD(id, kind, struct vid_partition_state, m)
static const struct vmstate_field_desc part_fields[] = {
        F(1, VMSTATE_U32, n_vps),
        F(2, VMSTATE_U64, ram_bytes),
        F(3, VMSTATE_U32, tsc_khz),
        F(4, VMSTATE_BYTES, pic),
        F(5, VMSTATE_BYTES, ioapic),
        F(6, VMSTATE_U64, clock_ns),
};
#undef F

const struct vmstate_desc vid_partition_state_desc = {
        .tag = VID_STATE_TAG_PART, .version = 1, .fields = part_fields, .n_fields = ARRAY_SIZE(part_fields),
        .name = "partition",
};

/* ---- checks (pure) ------------------------------------------------------ */

int vid_vp_state_decode(const struct vmstate_section *s, struct vid_vp_state *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &vid_vp_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = NULL;
        if (out->n_gprs != ARRAY_SIZE(out->gprs))
                bad = "general registers: not 18 values";
        else if (out->n_seg_base != VID_STATE_SEGMENTS || out->n_seg_limit != VID_STATE_SEGMENTS ||
                 out->n_seg_attr != VID_STATE_SEGMENTS)
                bad = "segments: not 8 of each";
        else if (out->n_dr != ARRAY_SIZE(out->dr))
                bad = "debug registers: not 4 addresses";
        else if (out->n_xcr_index != out->n_xcr_value)
                bad = "XCRs: indices and values differ in number";
        else if (out->n_msr_index != out->n_msr_value)
                bad = "MSRs: indices and values differ in number";
        else if (out->xsave_len < VID_STATE_XSAVE_MIN)
                bad = "XSAVE image shorter than its legacy area and header";
        else if (out->mp_state > VID_MP_MAX)
                bad = "unknown MP state";
        else if (out->exc_vector >= 32)
                bad = "pending exception vector above 31";
        else if (out->interrupt_shadow > 3)
                bad = "unknown interrupt-shadow bits";
        else if (out->gdt_limit > 0xffff || out->idt_limit > 0xffff)
                bad = "descriptor-table limit above 64 KiB";
        if (bad)
                return errorf(err, errlen, -EINVAL, "section VP #%u: %s", s->instance, bad);
        return 0;
}

int vid_partition_state_decode(const struct vmstate_section *s, struct vid_partition_state *out, char *err,
                               size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &vid_partition_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (out->n_vps == 0 || out->n_vps > VID_MAX_VPS)
                return errorf(err, errlen, -EINVAL, "section PART: %u vCPUs (1..%u)", out->n_vps, VID_MAX_VPS);
        if (out->ram_bytes == 0 || !IS_ALIGNED(out->ram_bytes, 2u << 20))
                return errorf(err, errlen, -EINVAL, "section PART: RAM size %llu is not a multiple of 2 MiB",
                              (unsigned long long)out->ram_bytes);
        return 0;
}

/* ---- the MSRs that make up a VP's state -------------------------------- */

/* KVM_GET_MSRS reads entries until the first it cannot and returns how
 * many it read, so one call covers every readable run. The first save
 * finds its list this way, and in a live migration that is the downtime. */
size_t vid_vp_readable_msrs(struct vid_vp *vp, uint32_t *idx, size_t n) {
        enum { BATCH = 256 }; /* KVM's MAX_IO_MSRS */
        struct kvm_msrs *m = calloc(1, sizeof *m + BATCH * sizeof(struct kvm_msr_entry));
        size_t kept = 0, at = 0;
        while (at < n) {
                size_t want = MIN(n - at, (size_t)BATCH), got;
                int r = -1;
                if (m) {
                        m->nmsrs = (uint32_t)want;
                        for (size_t i = 0; i < want; i++)
                                m->entries[i] = (struct kvm_msr_entry){ .index = idx[at + i] };
                        r = ioctl(vp->fd, KVM_GET_MSRS, m);
                }
                if (r < 0) { /* no batch (ENOMEM, a refused call): one at a time */
                        uint64_t v;
                        got = vid_vp_get_msr(vp, idx[at], &v) == 0;
                        want = 1;
                } else
                        got = MIN((size_t)r, want);
                memmove(idx + kept, idx + at, got * sizeof *idx);
                kept += got;
                at += got < want ? got + 1 : got; /* past the one it stopped at */
        }
        free(m);
        return kept;
}

/* KVM's list of MSRs to save, reduced to those it lets us read on this VP,
 * TSC first and TSC_DEADLINE last; asked once per partition. */
static int state_msrs(struct vid_vp *vp, const uint32_t **out, size_t *n_out) {
        struct vid_partition *p = vp->p;
        pthread_mutex_lock(&p->lock);
        int r = 0;
        if (!p->state_msrs) {
                struct kvm_msr_list probe = { .nmsrs = 0 };
                if (ioctl(p->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG) {
                        r = -errno;
                        goto out;
                }
                struct kvm_msr_list *l = calloc(1, sizeof *l + probe.nmsrs * sizeof(uint32_t));
                uint32_t *keep = calloc(probe.nmsrs + 1, sizeof *keep);
                if (!l || !keep) {
                        free(l), free(keep);
                        r = -ENOMEM;
                        goto out;
                }
                l->nmsrs = probe.nmsrs;
                if (ioctl(p->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
                        r = -errno;
                        free(l), free(keep);
                        goto out;
                }
                /* The candidates after TSC, TSC_DEADLINE (if listed) last. */
                size_t n = 0;
                bool deadline = false;
                for (uint32_t i = 0; i < l->nmsrs; i++) {
                        uint32_t idx = l->indices[i];
                        if (idx == MSR_IA32_TSC_DEADLINE)
                                deadline = true;
                        else if (idx != MSR_IA32_TSC)
                                keep[1 + n++] = idx;
                }
                if (deadline)
                        keep[1 + n++] = MSR_IA32_TSC_DEADLINE;
                free(l);
                /* Listed, but not state on this host/CPUID: left out. */
                n = 1 + vid_vp_readable_msrs(vp, keep + 1, n);
                keep[0] = MSR_IA32_TSC;
                if (n > VID_STATE_MSRS_MAX) {
                        free(keep);
                        r = -E2BIG;
                        goto out;
                }
                p->state_msrs = keep;
                p->n_state_msrs = n;
        }
        *out = p->state_msrs;
        *n_out = p->n_state_msrs;
out:
        pthread_mutex_unlock(&p->lock);
        return r;
}

static int msrs_get(struct vid_vp *vp, struct vid_vp_state *st) {
        const uint32_t *idx = NULL;
        size_t n = 0;
        int r = state_msrs(vp, &idx, &n);
        if (r < 0)
                return r;
        struct kvm_msrs *m = calloc(1, sizeof *m + n * sizeof(struct kvm_msr_entry));
        if (!m)
                return -ENOMEM;
        m->nmsrs = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
                m->entries[i].index = idx[i];
        r = ioctl(vp->fd, KVM_GET_MSRS, m);
        if (r >= 0 && (size_t)r != n)
                r = -EIO; /* readable when probed, not now */
        else if (r < 0)
                r = -errno;
        else {
                for (size_t i = 0; i < n; i++) {
                        st->msr_index[i] = idx[i];
                        st->msr_value[i] = vid_pvm_msr_saved(vp, idx[i], m->entries[i].data);
                }
                st->n_msr_index = st->n_msr_value = (uint32_t)n;
                r = 0;
        }
        free(m);
        return r;
}

/* ---- the TSC at restore --------------------------------------------------
 *
 * A restored guest's TSC goes on from the value saved: it stood still while
 * the state lay saved, as a Hyper-V guest's does. Written as IA32_TSC, KVM
 * takes a value within one second of the TSC it expects (the last value
 * written in the partition, plus the time since) for an attempt to
 * synchronize vCPUs, and keeps the offset it had instead
 * (kvm_synchronize_tsc). In a partition just made, the last value written
 * is the 0 KVM set when it created the vCPU, so a guest saved within about
 * a second of its start came back with its TSC moved back to the new
 * partition's age: seen on the emulated AMD-V host (Debian 12's 6.1), where
 * a guest's own clock, TSC minus the TSC at its boot, wrapped to 2^64
 * cycles (8.8e9 s) across a save and restore. Where KVM has the vCPU's TSC
 * offset attribute (KVM_VCPU_TSC_OFFSET, Linux 5.16), the offset is set
 * instead, which KVM applies as given: the TSC reads the saved value the
 * moment it is set. A VP whose saved TSC lies within a second of the first
 * VP's gets that VP's offset, as KVM's matching would give it, so TSCs that
 * ran synchronized stay so. Without the attribute (older KVMs), and on
 * PVM, whose KVM takes the attribute but cannot move the guest's TSC (it is
 * the host's: vid_pvm_tsc_fixed), the MSR is written as before. */

bool vid_vp_state_tsc(const struct vid_vp_state *st, uint64_t *tsc) {
        for (uint32_t i = 0; i < st->n_msr_index; i++)
                if (st->msr_index[i] == MSR_IA32_TSC) {
                        *tsc = st->msr_value[i];
                        return true;
                }
        return false;
}

/* The offset that makes vp's TSC read tsc now; -ENOTSUP without the
 * attribute. */
static int tsc_offset_for(struct vid_vp *vp, uint64_t tsc, int64_t *offset) {
        int64_t cur;
        uint64_t now;
        int r = vid_vp_tsc_offset(vp, &cur);
        if (r == 0)
                r = vid_vp_get_msr(vp, MSR_IA32_TSC, &now);
        if (r == 0)
                *offset = (int64_t)((uint64_t)cur + (tsc - now));
        return r;
}

static int tsc_offset_set(struct vid_vp *vp, int64_t offset) {
        uint64_t v = (uint64_t)offset;
        struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
                                     .addr = (uint64_t)(uintptr_t)&v };
        return ioctl(vp->fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

/* tsc_offset: set as the VP's TSC offset in place of its saved IA32_TSC,
 * before the other MSRs (TSC_DEADLINE counts in that TSC); NULL: the
 * saved IA32_TSC is written. */
static int msrs_set(struct vid_vp *vp, const struct vid_vp_state *st, const struct kvm_sregs *sregs,
                    const int64_t *tsc_offset, char *err, size_t errlen) {
        if (tsc_offset) {
                int r = tsc_offset_set(vp, *tsc_offset);
                if (r < 0)
                        return errorf(err, errlen, r, "vCPU %u: setting the TSC offset: %s", vp->index, strerror(-r));
        }
        uint32_t n = st->n_msr_index;
        struct kvm_msrs *m = calloc(1, sizeof *m + n * sizeof(struct kvm_msr_entry));
        if (!m)
                return -ENOMEM;
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
                uint64_t v = st->msr_value[i];
                int r = 0;
                if (tsc_offset && st->msr_index[i] == MSR_IA32_TSC)
                        continue;
                if (vid_pvm_msr_restore(vp, st->msr_index[i], v, sregs, &r)) {
                        if (r < 0) {
                                free(m);
                                return errorf(err, errlen, r, "vCPU %u: MSR 0x%x: %s", vp->index,
                                              st->msr_index[i], strerror(-r));
                        }
                        continue;
                }
                m->entries[k].index = st->msr_index[i];
                m->entries[k++].data = v;
        }
        m->nmsrs = k;
        int r = ioctl(vp->fd, KVM_SET_MSRS, m);
        int e = errno;
        uint32_t failed = r >= 0 && (uint32_t)r < k ? m->entries[r].index : 0;
        free(m);
        if (r < 0)
                return errorf(err, errlen, -e, "vCPU %u: KVM_SET_MSRS: %s", vp->index, strerror(e));
        if ((uint32_t)r < k)
                return errorf(err, errlen, -EINVAL, "vCPU %u: this host refuses the saved value of MSR 0x%x",
                              vp->index, failed);
        return 0;
}

/* ---- capture and apply --------------------------------------------------- */

static uint32_t seg_attr(const struct vid_segment *s) {
        return s->selector | (uint32_t)(s->type & 0xf) << 16 | (uint32_t)(s->present & 1) << 20 |
               (uint32_t)(s->dpl & 3) << 21 | (uint32_t)(s->db & 1) << 23 | (uint32_t)(s->s & 1) << 24 |
               (uint32_t)(s->l & 1) << 25 | (uint32_t)(s->g & 1) << 26 | (uint32_t)(s->avl & 1) << 27 |
               (uint32_t)(s->unusable & 1) << 28;
}

static struct vid_segment seg_from(uint64_t base, uint32_t limit, uint32_t a) {
        return (struct vid_segment){ .base = base, .limit = limit, .selector = (uint16_t)a,
                                     .type = (a >> 16) & 0xf, .present = (a >> 20) & 1, .dpl = (a >> 21) & 3,
                                     .db = (a >> 23) & 1, .s = (a >> 24) & 1, .l = (a >> 25) & 1,
                                     .g = (a >> 26) & 1, .avl = (a >> 27) & 1, .unusable = (a >> 28) & 1 };
}

static struct vid_segment *sreg_seg(struct vid_sregs *s, unsigned i) {
        struct vid_segment *t[VID_STATE_SEGMENTS] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt };
        return t[i];
}

static int xsave_size(struct vid_partition *p) {
        int n = ioctl(p->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
        return n > (int)sizeof(struct kvm_xsave) ? n : (int)sizeof(struct kvm_xsave);
}

int vid_vp_state_get(struct vid_vp *vp, struct vid_vp_state *st) {
        memset(st, 0, sizeof *st);
        struct vid_regs g;
        struct vid_sregs s;
        int r = vid_vp_get_regs(vp, &g);
        if (r < 0 || (r = vid_vp_get_sregs(vp, &s)) < 0)
                return r;
        const uint64_t gp[18] = { g.rax, g.rbx, g.rcx, g.rdx, g.rsi, g.rdi, g.rsp, g.rbp, g.r8, g.r9,
                                  g.r10, g.r11, g.r12, g.r13, g.r14, g.r15, g.rip, g.rflags };
        memcpy(st->gprs, gp, sizeof gp);
        st->n_gprs = 18;
        for (unsigned i = 0; i < VID_STATE_SEGMENTS; i++) {
                const struct vid_segment *x = sreg_seg(&s, i);
                st->seg_base[i] = x->base;
                st->seg_limit[i] = x->limit;
                st->seg_attr[i] = seg_attr(x);
        }
        st->n_seg_base = st->n_seg_limit = st->n_seg_attr = VID_STATE_SEGMENTS;
        st->gdt_base = s.gdt.base, st->gdt_limit = s.gdt.limit;
        st->idt_base = s.idt.base, st->idt_limit = s.idt.limit;
        st->cr0 = s.cr0, st->cr2 = s.cr2, st->cr3 = s.cr3, st->cr4 = s.cr4, st->cr8 = s.cr8;
        st->efer = s.efer, st->apic_base = s.apic_base;

        int xlen = xsave_size(vp->p);
        if ((size_t)xlen > VID_STATE_XSAVE_MAX)
                return -E2BIG;
        /* KVM_GET_XSAVE2 fills as many bytes as KVM_CAP_XSAVE2 said. */
        unsigned long req = xlen > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
        if (ioctl(vp->fd, req, st->xsave) < 0)
                return -errno;
        st->xsave_len = (uint32_t)xlen;

        struct kvm_xcrs xcrs = { 0 };
        if (ioctl(vp->p->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
                if (ioctl(vp->fd, KVM_GET_XCRS, &xcrs) < 0)
                        return -errno;
                for (uint32_t i = 0; i < xcrs.nr_xcrs && i < VID_STATE_XCRS_MAX; i++) {
                        st->xcr_index[i] = xcrs.xcrs[i].xcr;
                        st->xcr_value[i] = xcrs.xcrs[i].value;
                }
                st->n_xcr_index = st->n_xcr_value = MIN(xcrs.nr_xcrs, VID_STATE_XCRS_MAX);
        }

        struct kvm_lapic_state lapic;
        if (ioctl(vp->fd, KVM_GET_LAPIC, &lapic) < 0)
                return -errno;
        memcpy(st->lapic, lapic.regs, sizeof st->lapic);

        struct kvm_vcpu_events ev;
        if (ioctl(vp->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
                return -errno;
        st->exc_injected = ev.exception.injected, st->exc_pending = ev.exception.pending;
        st->exc_has_error_code = ev.exception.has_error_code, st->exc_vector = ev.exception.nr;
        st->exc_error_code = ev.exception.error_code;
        st->exc_has_payload = ev.exception_has_payload, st->exc_payload = ev.exception_payload;
        st->irq_injected = ev.interrupt.injected, st->irq_soft = ev.interrupt.soft;
        st->irq_vector = ev.interrupt.nr, st->interrupt_shadow = ev.interrupt.shadow & 3;
        st->nmi_injected = ev.nmi.injected, st->nmi_pending = ev.nmi.pending, st->nmi_masked = ev.nmi.masked;
        st->sipi_vector = ev.sipi_vector;

        struct kvm_mp_state mp;
        if (ioctl(vp->fd, KVM_GET_MP_STATE, &mp) < 0)
                return -errno;
        st->mp_state = mp.mp_state;

        struct kvm_debugregs dr;
        if (ioctl(vp->fd, KVM_GET_DEBUGREGS, &dr) < 0)
                return -errno;
        memcpy(st->dr, dr.db, sizeof st->dr);
        st->n_dr = 4;
        st->dr6 = dr.dr6, st->dr7 = dr.dr7;
        return msrs_get(vp, st);
}

#define TRY(call, what)                                                                            \
        do {                                                                                       \
                if ((call) < 0)                                                                    \
                        return errorf(err, errlen, -errno, "vCPU %u: %s: %s", vp->index, (what), \
                                      strerror(errno));                                           \
        } while (0)

static int vp_state_apply(struct vid_vp *vp, const struct vid_vp_state *st, const int64_t *tsc_offset, char *err,
                          size_t errlen) {
        const uint64_t *x = st->gprs;
        struct vid_regs g = { x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9],
                              x[10], x[11], x[12], x[13], x[14], x[15], x[16], x[17] };
        int r = vid_vp_set_regs(vp, &g);
        if (r < 0)
                return errorf(err, errlen, r, "vCPU %u: KVM_SET_REGS: %s", vp->index, strerror(-r));

        int xlen = xsave_size(vp->p);
        if (st->xsave_len > (uint32_t)xlen)
                return errorf(err, errlen, -EINVAL,
                              "vCPU %u: the saved XSAVE image (%u bytes) is larger than this host's (%d): "
                              "it has processor features this host lacks",
                              vp->index, st->xsave_len, xlen);
        uint8_t *xs = calloc(1, (size_t)xlen);
        if (!xs)
                return -ENOMEM;
        memcpy(xs, st->xsave, st->xsave_len);
        r = ioctl(vp->fd, KVM_SET_XSAVE, xs);
        int e = errno;
        free(xs);
        if (r < 0)
                return errorf(err, errlen, -e, "vCPU %u: KVM_SET_XSAVE: %s (a feature in the image this host lacks?)",
                              vp->index, strerror(e));
        if (st->n_xcr_index) {
                struct kvm_xcrs xcrs = { .nr_xcrs = st->n_xcr_index };
                for (uint32_t i = 0; i < st->n_xcr_index; i++)
                        xcrs.xcrs[i].xcr = st->xcr_index[i], xcrs.xcrs[i].value = st->xcr_value[i];
                TRY(ioctl(vp->fd, KVM_SET_XCRS, &xcrs), "KVM_SET_XCRS");
        }

        struct vid_sregs s = { .gdt = { st->gdt_base, (uint16_t)st->gdt_limit },
                               .idt = { st->idt_base, (uint16_t)st->idt_limit },
                               .cr0 = st->cr0, .cr2 = st->cr2, .cr3 = st->cr3, .cr4 = st->cr4, .cr8 = st->cr8,
                               .efer = st->efer, .apic_base = st->apic_base };
        for (unsigned i = 0; i < VID_STATE_SEGMENTS; i++)
                *sreg_seg(&s, i) = seg_from(st->seg_base[i], st->seg_limit[i], st->seg_attr[i]);
        r = vid_vp_set_sregs(vp, &s);
        if (r < 0)
                return errorf(err, errlen, r, "vCPU %u: KVM_SET_SREGS: %s", vp->index, strerror(-r));

        struct kvm_lapic_state lapic;
        memcpy(lapic.regs, st->lapic, sizeof lapic.regs);
        TRY(ioctl(vp->fd, KVM_SET_LAPIC, &lapic), "KVM_SET_LAPIC");

        struct kvm_sregs ks;
        TRY(ioctl(vp->fd, KVM_GET_SREGS, &ks), "KVM_GET_SREGS");
        r = msrs_set(vp, st, &ks, tsc_offset, err, errlen);
        if (r < 0)
                return r;

        struct kvm_mp_state mp = { .mp_state = st->mp_state };
        TRY(ioctl(vp->fd, KVM_SET_MP_STATE, &mp), "KVM_SET_MP_STATE");

        struct kvm_vcpu_events ev = { 0 };
        ev.exception.injected = st->exc_injected, ev.exception.pending = st->exc_pending;
        ev.exception.has_error_code = st->exc_has_error_code, ev.exception.nr = st->exc_vector;
        ev.exception.error_code = st->exc_error_code;
        ev.interrupt.injected = st->irq_injected, ev.interrupt.soft = st->irq_soft;
        ev.interrupt.nr = st->irq_vector, ev.interrupt.shadow = st->interrupt_shadow;
        ev.nmi.injected = st->nmi_injected, ev.nmi.pending = st->nmi_pending, ev.nmi.masked = st->nmi_masked;
        ev.sipi_vector = st->sipi_vector;
        ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW;
        if (st->exc_has_payload || st->exc_pending) {
                ev.flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
                ev.exception_has_payload = st->exc_has_payload, ev.exception_payload = st->exc_payload;
        }
        TRY(ioctl(vp->fd, KVM_SET_VCPU_EVENTS, &ev), "KVM_SET_VCPU_EVENTS");

        struct kvm_debugregs dr = { .dr6 = st->dr6, .dr7 = st->dr7 };
        memcpy(dr.db, st->dr, sizeof dr.db);
        TRY(ioctl(vp->fd, KVM_SET_DEBUGREGS, &dr), "KVM_SET_DEBUGREGS");
        return 0;
}
#undef TRY

int vid_vp_state_set(struct vid_vp *vp, const struct vid_vp_state *st, char *err, size_t errlen) {
        return vid_vps_state_set(vp->p, &vp, st, 1, err, errlen);
}

int vid_vps_state_set(struct vid_partition *p, struct vid_vp *const *vps, const struct vid_vp_state *st, unsigned n,
                      char *err, size_t errlen) {
        uint64_t first_tsc = 0, second = (uint64_t)p->tsc_khz * 1000u;
        int64_t first_offset = 0;
        bool have_first = false;
        for (unsigned i = 0; i < n; i++) {
                uint64_t tsc;
                int64_t offset;
                const int64_t *use = NULL;
                if (vid_vp_state_tsc(&st[i], &tsc)) {
                        uint64_t d = tsc > first_tsc ? tsc - first_tsc : first_tsc - tsc;
                        if (have_first && d < second) {
                                offset = first_offset, use = &offset;
                        } else if (!vid_pvm_tsc_fixed(p)) {
                                int r = tsc_offset_for(vps[i], tsc, &offset);
                                if (r < 0 && r != -ENOTSUP)
                                        return errorf(err, errlen, r, "vCPU %u: reading its TSC offset: %s",
                                                      vps[i]->index, strerror(-r));
                                if (r == 0) {
                                        use = &offset;
                                        if (!have_first)
                                                first_tsc = tsc, first_offset = offset, have_first = true;
                                }
                        }
                }
                int r = vp_state_apply(vps[i], &st[i], use, err, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- partition ------------------------------------------------------------ */

static int irqchip_get(struct vid_partition *p, unsigned chip, void *out, size_t len) {
        struct kvm_irqchip c = { .chip_id = chip };
        if (ioctl(p->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
                return -errno;
        memcpy(out, &c.chip, len);
        return 0;
}

static int irqchip_set(struct vid_partition *p, unsigned chip, const void *in, size_t len) {
        struct kvm_irqchip c = { .chip_id = chip };
        memcpy(&c.chip, in, len);
        return ioctl(p->vm_fd, KVM_SET_IRQCHIP, &c) < 0 ? -errno : 0;
}

int vid_partition_state_get(struct vid_partition *p, struct vid_partition_state *st) {
        memset(st, 0, sizeof *st);
        st->n_vps = p->n_vps;
        st->ram_bytes = p->ram_bytes;
        st->tsc_khz = p->tsc_khz;
        int r = irqchip_get(p, KVM_IRQCHIP_PIC_MASTER, st->pic[0], sizeof st->pic[0]);
        if (r == 0)
                r = irqchip_get(p, KVM_IRQCHIP_PIC_SLAVE, st->pic[1], sizeof st->pic[1]);
        if (r == 0)
                r = irqchip_get(p, KVM_IRQCHIP_IOAPIC, st->ioapic, sizeof st->ioapic);
        if (r < 0)
                return r;
        struct kvm_clock_data clock = { 0 };
        if (ioctl(p->vm_fd, KVM_GET_CLOCK, &clock) < 0)
                return -errno;
        st->clock_ns = clock.clock;
        return 0;
}

/* KVM's own tolerance for "the same" TSC frequency: 250 ppm. */
static bool tsc_khz_close(uint32_t a, uint32_t b) {
        uint32_t d = a > b ? a - b : b - a;
        return (uint64_t)d * 4000 <= MAX(a, b);
}

int vid_state_fits(const struct vid_partition *p, const struct vid_partition_state *st, char *err, size_t errlen) {
        if (st->n_vps != p->n_vps)
                return errorf(err, errlen, -EINVAL, "the state has %u vCPUs, this VM %u", st->n_vps, p->n_vps);
        if (st->ram_bytes != p->ram_bytes)
                return errorf(err, errlen, -EINVAL, "the state has %llu MiB of RAM, this VM %llu MiB",
                              (unsigned long long)(st->ram_bytes >> 20), (unsigned long long)(p->ram_bytes >> 20));
        return 0;
}

int vid_partition_state_set(struct vid_partition *p, const struct vid_partition_state *st, char *err,
                            size_t errlen) {
        int r = vid_state_fits(p, st, err, errlen);
        if (r < 0)
                return r;
        if (st->tsc_khz && p->tsc_khz && !tsc_khz_close(st->tsc_khz, p->tsc_khz)) {
                /* The guest calibrated its clocks to the saved frequency: let KVM scale. */
                for (unsigned i = 0; i < p->n_vps; i++)
                        if (ioctl(p->vps[i]->fd, KVM_SET_TSC_KHZ, (unsigned long)st->tsc_khz) < 0)
                                return errorf(err, errlen, -ENOTSUP,
                                              "the guest's TSC ran at %u kHz, this host's at %u kHz, and KVM "
                                              "cannot scale it: %s",
                                              st->tsc_khz, p->tsc_khz, strerror(errno));
                p->tsc_khz = st->tsc_khz;
        }
        r = irqchip_set(p, KVM_IRQCHIP_PIC_MASTER, st->pic[0], sizeof st->pic[0]);
        if (r == 0)
                r = irqchip_set(p, KVM_IRQCHIP_PIC_SLAVE, st->pic[1], sizeof st->pic[1]);
        if (r == 0)
                r = irqchip_set(p, KVM_IRQCHIP_IOAPIC, st->ioapic, sizeof st->ioapic);
        if (r < 0)
                return errorf(err, errlen, r, "KVM_SET_IRQCHIP: %s", strerror(-r));
        struct kvm_clock_data clock = { .clock = st->clock_ns };
        if (ioctl(p->vm_fd, KVM_SET_CLOCK, &clock) < 0)
                return errorf(err, errlen, -errno, "KVM_SET_CLOCK: %s", strerror(errno));
        return 0;
}
