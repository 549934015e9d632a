// SPDX-License-Identifier: MIT
/* Virtual processors: creation, register access, and the run loop with its
 * pause/resume/stop protocol.
 *
 * Kicking a VP out of KVM_RUN: the requester sets its flag, then
 * run->immediate_exit, then signals the thread (SIGRTMIN, empty handler, no
 * SA_RESTART). The VP thread clears immediate_exit *before* it checks the
 * flags, so whichever order the two race in, the request is seen either by
 * the check or by KVM_RUN returning -EINTR at once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "internal.h"

#define SYNC_FLAGS (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)

/* The VP's run area, for the kick handler: a kick sets immediate_exit
 * before it signals, but the throttle's timer (throttle.c) only signals;
 * setting it here too means a signal that arrives just before KVM_RUN
 * still makes it return at once. */
static _Thread_local struct kvm_run *kick_run;

static void kick_handler(int sig) {
        (void)sig;
        if (kick_run)
                __atomic_store_n(&kick_run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
static void install_kick_handler(void) {
        struct sigaction sa = { .sa_handler = kick_handler };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGRTMIN, &sa, NULL);
}

int vid_vp_create(struct vid_partition *p, unsigned index, struct vid_vp **out) {
        struct vid_vp *vp = calloc(1, sizeof *vp);
        if (!vp)
                return -ENOMEM;
        vp->p = p;
        vp->index = index;
        vp->fd = ioctl(p->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
        if (vp->fd < 0) {
                int r = -errno;
                free(vp);
                return r;
        }
        void *run = mmap(NULL, p->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vp->fd, 0);
        if (run == MAP_FAILED) {
                int r = -errno;
                safe_close(vp->fd);
                free(vp);
                return r;
        }
        vp->run = run;
        vp->run->kvm_valid_regs = SYNC_FLAGS;
        *out = vp;
        return 0;
}

void vid_vp_destroy(struct vid_vp *vp) {
        if (!vp)
                return;
        if (vp->run)
                munmap(vp->run, vp->p->vcpu_mmap_size);
        safe_close(vp->fd);
        free(vp);
}

struct vid_partition *vid_vp_partition(struct vid_vp *vp) {
        return vp->p;
}

unsigned vid_vp_index(const struct vid_vp *vp) {
        return vp->index;
}

uint32_t vid_vp_apic_id(const struct vid_vp *vp) {
        /* KVM's LAPIC ID defaults to the vcpu id, which is our index. */
        return vp->index;
}

/* ---- registers ---- */

static void regs_from_kvm(struct vid_regs *r, const struct kvm_regs *k) {
        *r = (struct vid_regs){
                .rax = k->rax, .rbx = k->rbx, .rcx = k->rcx, .rdx = k->rdx, .rsi = k->rsi, .rdi = k->rdi,
                .rsp = k->rsp, .rbp = k->rbp, .r8 = k->r8, .r9 = k->r9, .r10 = k->r10, .r11 = k->r11,
                .r12 = k->r12, .r13 = k->r13, .r14 = k->r14, .r15 = k->r15, .rip = k->rip, .rflags = k->rflags,
        };
}

static void regs_to_kvm(struct kvm_regs *k, const struct vid_regs *r) {
        *k = (struct kvm_regs){
                .rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx, .rsi = r->rsi, .rdi = r->rdi,
                .rsp = r->rsp, .rbp = r->rbp, .r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11,
                .r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15, .rip = r->rip, .rflags = r->rflags,
        };
}

static void seg_from_kvm(struct vid_segment *s, const struct kvm_segment *k) {
        *s = (struct vid_segment){ .base = k->base, .limit = k->limit, .selector = k->selector, .type = k->type,
                                   .present = k->present, .dpl = k->dpl, .db = k->db, .s = k->s, .l = k->l,
                                   .g = k->g, .avl = k->avl, .unusable = k->unusable };
}

static void seg_to_kvm(struct kvm_segment *k, const struct vid_segment *s) {
        *k = (struct kvm_segment){ .base = s->base, .limit = s->limit, .selector = s->selector, .type = s->type,
                                   .present = s->present, .dpl = s->dpl, .db = s->db, .s = s->s, .l = s->l,
                                   .g = s->g, .avl = s->avl, .unusable = s->unusable };
}

static void sregs_from_kvm(struct vid_sregs *s, const struct kvm_sregs *k) {
        seg_from_kvm(&s->cs, &k->cs), seg_from_kvm(&s->ds, &k->ds), seg_from_kvm(&s->es, &k->es);
        seg_from_kvm(&s->fs, &k->fs), seg_from_kvm(&s->gs, &k->gs), seg_from_kvm(&s->ss, &k->ss);
        seg_from_kvm(&s->tr, &k->tr), seg_from_kvm(&s->ldt, &k->ldt);
        s->gdt = (struct vid_dtable){ .base = k->gdt.base, .limit = k->gdt.limit };
        s->idt = (struct vid_dtable){ .base = k->idt.base, .limit = k->idt.limit };
        s->cr0 = k->cr0, s->cr2 = k->cr2, s->cr3 = k->cr3, s->cr4 = k->cr4, s->cr8 = k->cr8;
        s->efer = k->efer, s->apic_base = k->apic_base;
}

/* Keeps the fields vid does not model (interrupt_bitmap) from *k. */
static void sregs_to_kvm(struct kvm_sregs *k, const struct vid_sregs *s) {
        seg_to_kvm(&k->cs, &s->cs), seg_to_kvm(&k->ds, &s->ds), seg_to_kvm(&k->es, &s->es);
        seg_to_kvm(&k->fs, &s->fs), seg_to_kvm(&k->gs, &s->gs), seg_to_kvm(&k->ss, &s->ss);
        seg_to_kvm(&k->tr, &s->tr), seg_to_kvm(&k->ldt, &s->ldt);
        k->gdt = (struct kvm_dtable){ .base = s->gdt.base, .limit = s->gdt.limit };
        k->idt = (struct kvm_dtable){ .base = s->idt.base, .limit = s->idt.limit };
        k->cr0 = s->cr0, k->cr2 = s->cr2, k->cr3 = s->cr3, k->cr4 = s->cr4, k->cr8 = s->cr8;
        k->efer = s->efer, k->apic_base = s->apic_base;
}

/* Inside an exit callback the registers are already in the run area
 * (KVM_CAP_SYNC_REGS); writes go back there and are applied on entry. */
int vid_vp_get_regs(struct vid_vp *vp, struct vid_regs *r) {
        if (vp->on_thread_exit) {
                regs_from_kvm(r, &vp->run->s.regs.regs);
                return 0;
        }
        struct kvm_regs k;
        if (ioctl(vp->fd, KVM_GET_REGS, &k) < 0)
                return -errno;
        regs_from_kvm(r, &k);
        return 0;
}

int vid_vp_set_regs(struct vid_vp *vp, const struct vid_regs *r) {
        if (vp->on_thread_exit) {
                regs_to_kvm(&vp->run->s.regs.regs, r);
                vp->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
                return 0;
        }
        struct kvm_regs k;
        regs_to_kvm(&k, r);
        return ioctl(vp->fd, KVM_SET_REGS, &k) < 0 ? -errno : 0;
}

int vid_vp_get_sregs(struct vid_vp *vp, struct vid_sregs *s) {
        if (vp->on_thread_exit) {
                sregs_from_kvm(s, &vp->run->s.regs.sregs);
                return 0;
        }
        struct kvm_sregs k;
        if (ioctl(vp->fd, KVM_GET_SREGS, &k) < 0)
                return -errno;
        sregs_from_kvm(s, &k);
        return 0;
}

int vid_vp_set_sregs(struct vid_vp *vp, const struct vid_sregs *s) {
        if (vp->on_thread_exit) {
                sregs_to_kvm(&vp->run->s.regs.sregs, s);
                vp->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
                return 0;
        }
        struct kvm_sregs k;
        if (ioctl(vp->fd, KVM_GET_SREGS, &k) < 0)
                return -errno;
        sregs_to_kvm(&k, s);
        return ioctl(vp->fd, KVM_SET_SREGS, &k) < 0 ? -errno : 0;
}

int vid_vp_cpl(struct vid_vp *vp) {
        struct vid_sregs s;
        if (vid_vp_get_sregs(vp, &s) < 0)
                return 0;
        /* CPL is SS.DPL (CS.DPL differs for conforming code segments). */
        return s.ss.dpl & 3;
}

/* struct kvm_msrs ends in a flexible array: room for one entry. */
union one_msr {
        struct kvm_msrs h;
        uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
};

int vid_vp_get_msr(struct vid_vp *vp, uint32_t index, uint64_t *value) {
        union one_msr m = { .h.nmsrs = 1 };
        m.h.entries[0].index = index;
        int r = ioctl(vp->fd, KVM_GET_MSRS, &m);
        if (r < 0)
                return -errno;
        if (r != 1)
                return -EINVAL;
        *value = m.h.entries[0].data;
        return 0;
}

int vid_vp_set_msr(struct vid_vp *vp, uint32_t index, uint64_t value) {
        union one_msr m = { .h.nmsrs = 1 };
        m.h.entries[0].index = index;
        m.h.entries[0].data = value;
        int r = ioctl(vp->fd, KVM_SET_MSRS, &m);
        if (r < 0)
                return -errno;
        return r == 1 ? 0 : -EINVAL;
}

int vid_vp_inject_exception(struct vid_vp *vp, uint8_t vector, bool has_error_code, uint32_t error_code) {
        struct kvm_vcpu_events ev;
        if (ioctl(vp->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
                return -errno;
        ev.exception.injected = 1;
        ev.exception.nr = vector;
        ev.exception.has_error_code = has_error_code;
        ev.exception.error_code = error_code;
        ev.flags = 0;
        return ioctl(vp->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

int vid_vp_complete_io(struct vid_vp *vp) {
        if (!vp->on_thread_exit)
                return -EINVAL;
        /* With immediate_exit KVM applies the dirty sync regs, runs its
         * completion of the exit and returns -EINTR without entering the
         * guest, refreshing the registers in the run area. A kick that sets
         * immediate_exit meanwhile is not lost: kicks are flags that the
         * run loop checks after clearing immediate_exit. */
        __atomic_store_n(&vp->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
        int r = ioctl(vp->fd, KVM_RUN, 0);
        int err = r < 0 ? errno : 0;
        __atomic_store_n(&vp->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        vp->run->kvm_dirty_regs = 0;
        return r < 0 && err != EINTR ? -err : 0;
}

int vid_vp_tsc_offset(struct vid_vp *vp, int64_t *offset) {
        uint64_t v;
        struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
                                     .addr = (uint64_t)(uintptr_t)&v };
        if (ioctl(vp->fd, KVM_HAS_DEVICE_ATTR, &a) < 0 || ioctl(vp->fd, KVM_GET_DEVICE_ATTR, &a) < 0)
                return errno == ENXIO || errno == ENOTTY || errno == EINVAL ? -ENOTSUP : -errno;
        *offset = (int64_t)v;
        return 0;
}

int vid_vp_translate(struct vid_vp *vp, uint64_t gva, uint64_t *gpa) {
        struct kvm_translation t = { .linear_address = gva };
        if (ioctl(vp->fd, KVM_TRANSLATE, &t) < 0)
                return -errno;
        if (!t.valid)
                return -EFAULT;
        *gpa = t.physical_address;
        return 0;
}

static struct vid_segment flat_seg(uint16_t sel, uint8_t type, bool code64) {
        return (struct vid_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
                                     .present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64,
                                     .g = 1 };
}

int vid_vp_set_protected_mode_flat(struct vid_vp *vp) {
        struct vid_sregs s;
        int r = vid_vp_get_sregs(vp, &s);
        if (r < 0)
                return r;
        s.cs = flat_seg(0x08, 0xb, false);
        s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x10, 0x3, false);
        s.tr = (struct vid_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
        s.cr0 = 0x11; /* PE | ET */
        s.cr4 = 0;
        s.efer = 0;
        return vid_vp_set_sregs(vp, &s);
}

int vid_vp_set_long_mode(struct vid_vp *vp, uint64_t cr3, uint64_t gdt_base, uint16_t gdt_limit) {
        struct vid_sregs s;
        int r = vid_vp_get_sregs(vp, &s);
        if (r < 0)
                return r;
        s.cs = flat_seg(0x10, 0xb, true);
        s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x18, 0x3, false);
        s.tr = (struct vid_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
        s.gdt = (struct vid_dtable){ .base = gdt_base, .limit = gdt_limit };
        s.cr3 = cr3;
        s.cr4 = 0x20;          /* PAE */
        s.cr0 = 0x80050033;    /* PG | AM | WP | NE | ET | MP | PE */
        s.efer = 0x500;        /* LME | LMA */
        return vid_vp_set_sregs(vp, &s);
}

/* ---- the run loop ---- */

size_t vid_emulation_failure_bytes(const struct kvm_run *run, const uint8_t **bytes) {
        if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
            run->emulation_failure.suberror != KVM_INTERNAL_ERROR_EMULATION || run->emulation_failure.ndata < 3 ||
            !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
                return 0;
        *bytes = run->emulation_failure.insn_bytes;
        return MIN((size_t)run->emulation_failure.insn_size, sizeof run->emulation_failure.insn_bytes);
}

static void record_exit(struct vid_vp *vp, struct vid_exit *e, enum vid_exit_kind kind) {
        struct kvm_run *run = vp->run;
        *e = (struct vid_exit){ .kind = kind, .reason = run->exit_reason, .rip = run->s.regs.regs.rip };
        if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
                e->suberror = run->internal.suberror;
                for (unsigned i = 0; i < MIN(run->internal.ndata, 4u); i++)
                        e->data[i] = run->internal.data[i];
                const uint8_t *emu;
                size_t k = vid_emulation_failure_bytes(run, &emu);
                if (k > 0) {
                        e->emu_insn_len = (uint8_t)MIN(k, sizeof e->emu_insn);
                        memcpy(e->emu_insn, emu, e->emu_insn_len);
                }
        } else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
                e->data[0] = run->fail_entry.hardware_entry_failure_reason;
        }
        /* The instruction bytes are the first thing anyone debugging an
         * internal error asks for. The linear RIP is CS.base + RIP. */
        uint64_t gpa = 0;
        uint64_t lin = run->s.regs.sregs.cs.base + e->rip;
        if (vid_vp_translate(vp, lin, &gpa) == 0) {
                size_t n = sizeof e->insn;
                size_t to_page_end = VID_PAGE_SIZE - (gpa & (VID_PAGE_SIZE - 1));
                n = MIN(n, to_page_end);
                if (gm_read(vp->p, gpa, e->insn, n) == 0)
                        e->insn_len = (uint8_t)n;
        }
}

static void handle_io(struct vid_vp *vp) {
        struct kvm_run *run = vp->run;
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        bool write = run->io.direction == KVM_EXIT_IO_OUT;
        atomic_fetch_add(&vp->p->stats.pio_exits, 1);
        /* String I/O arrives as count consecutive elements. */
        for (uint32_t i = 0; i < run->io.count; i++)
                if (vid_io_dispatch(&vp->p->pio, vp, run->io.port, data + i * run->io.size, run->io.size, write) < 0)
                        atomic_fetch_add(&vp->p->stats.unhandled_io, 1);
}

static void handle_mmio(struct vid_vp *vp) {
        struct kvm_run *run = vp->run;
        atomic_fetch_add(&vp->p->stats.mmio_exits, 1);
        if (vp->p->pvm && vid_pvm_mmio(vp, run->mmio.phys_addr, run->mmio.is_write))
                return;
        unsigned len = MIN(run->mmio.len, 8u);
        if (vid_io_dispatch(&vp->p->mmio, vp, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write) < 0)
                atomic_fetch_add(&vp->p->stats.unhandled_io, 1);
}

static void handle_msr(struct vid_vp *vp, bool write) {
        struct kvm_run *run = vp->run;
        struct vid_partition *p = vp->p;
        uint64_t value = write ? run->msr.data : 0;
        atomic_fetch_add(&p->stats.msr_exits, 1);
        int r;
        if (!(p->pvm && vid_pvm_msr(vp, write, run->msr.index, &value, &r)))
                r = p->msr_fn ? p->msr_fn(p->msr_opaque, vp, write, run->msr.index, &value) : -EPERM;
        run->msr.error = r < 0 ? 1 : 0; /* error: KVM injects #GP */
        if (!write && r >= 0)
                run->msr.data = value;
}

/* Returns 0 to keep running, or a positive stop status. */
static int handle_exit(struct vid_vp *vp) {
        struct kvm_run *run = vp->run;
        struct vid_partition *p = vp->p;
        struct vid_exit e;
        atomic_fetch_add(&p->stats.exits, 1);

        switch (run->exit_reason) {
        case KVM_EXIT_IO:
                handle_io(vp);
                return 0;
        case KVM_EXIT_MMIO:
                handle_mmio(vp);
                return 0;
        case KVM_EXIT_X86_RDMSR:
                handle_msr(vp, false);
                return 0;
        case KVM_EXIT_X86_WRMSR:
                handle_msr(vp, true);
                return 0;
        case KVM_EXIT_INTR:
        case KVM_EXIT_HLT:
        case KVM_EXIT_IRQ_WINDOW_OPEN:
                return 0;
        case KVM_EXIT_SHUTDOWN:
                record_exit(vp, &e, VID_EXIT_SHUTDOWN);
                e.rip_lost = vp->p->svm;
                break;
        case KVM_EXIT_INTERNAL_ERROR:
                if (vid_pvm_fixup(vp))
                        return 0;
                record_exit(vp, &e, VID_EXIT_INTERNAL);
                break;
        case KVM_EXIT_FAIL_ENTRY:
                record_exit(vp, &e, VID_EXIT_FAIL_ENTRY);
                break;
        case KVM_EXIT_HYPERCALL:
                record_exit(vp, &e, VID_EXIT_HYPERCALL);
                break;
        default:
                record_exit(vp, &e, VID_EXIT_UNKNOWN);
                break;
        }
        int status = p->on_exit ? p->on_exit(p->on_exit_opaque, vp, &e) : 1;
        if (status > 0 && vid_partition_stop_requested(p, NULL, 0) < 0)
                vid_partition_request_stop(p, status, "vCPU %u: unhandled exit %u at rip 0x%llx", vp->index,
                                           e.reason, (unsigned long long)e.rip);
        return status;
}

/* Complete any pending I/O (and apply dirty sync regs) without entering
 * the guest, so a parked VP is at an instruction boundary. */
static void flush_pending(struct vid_vp *vp) {
        __atomic_store_n(&vp->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
        (void)ioctl(vp->fd, KVM_RUN, 0);
        vp->run->kvm_dirty_regs = 0;
}

/* Waits while paused. Returns false when the VP must stop. */
static bool park_if_requested(struct vid_vp *vp) {
        struct vid_partition *p = vp->p;
        pthread_mutex_lock(&p->lock);
        if (p->pause_requested && !p->stop_requested) {
                pthread_mutex_unlock(&p->lock);
                flush_pending(vp);
                pthread_mutex_lock(&p->lock);
                p->n_parked++;
                pthread_cond_broadcast(&p->cond);
                while (p->pause_requested && !p->stop_requested)
                        pthread_cond_wait(&p->cond, &p->lock);
                p->n_parked--;
        }
        bool go = !p->stop_requested;
        pthread_mutex_unlock(&p->lock);
        return go;
}

static void *vp_thread(void *arg) {
        struct vid_vp *vp = arg;
        struct vid_partition *p = vp->p;
        char name[16];
        snprintf(name, sizeof name, "vcpu%u", vp->index);
        pthread_setname_np(pthread_self(), name);

        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGRTMIN);
        kick_run = vp->run;
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        if (vp->index == 0)
                atomic_store(&p->first_run_ns, vid_now_ns());

        for (;;) {
                __atomic_store_n(&vp->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
                if (!park_if_requested(vp))
                        break;
                vid_vp_throttle(vp);
                vp->run->kvm_valid_regs = SYNC_FLAGS;
                int r = ioctl(vp->fd, KVM_RUN, 0);
                if (r < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        vid_partition_request_stop(p, VMWP_EXIT_INTERNAL, "vCPU %u: KVM_RUN failed: %s", vp->index,
                                                   strerror(errno));
                        break;
                }
                vp->run->kvm_dirty_regs = 0;
                vp->on_thread_exit = true;
                int status = handle_exit(vp);
                vp->on_thread_exit = false;
                if (status > 0)
                        break;
        }
        vid_vp_throttle_end(vp);
        /* Leave the VP consistent for a later state save. */
        flush_pending(vp);
        vid_vp_cpu_time_keep(vp);
        pthread_mutex_lock(&p->lock);
        /* The partition never runs again after a stop: the last VP thread
         * takes the RAM out of the guest's address space (memory.c says
         * why here). A VP thread vid_partition_start() creates after this
         * sees stop_requested before it would enter the guest. */
        if (p->n_running == 1 && p->stop_requested) {
                pthread_mutex_unlock(&p->lock);
                vid_memory_remove_slots(p);
                pthread_mutex_lock(&p->lock);
        }
        p->n_running--;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

int vid_partition_start(struct vid_partition *p, vid_exit_fn on_exit, void *opaque) {
        if (p->started)
                return -EBUSY;
        pthread_once(&kick_once, install_kick_handler);
        p->on_exit = on_exit;
        p->on_exit_opaque = opaque;
        p->started = true;

        /* VP threads unblock the kick signal themselves; everyone else keeps
         * it blocked so a stray kick cannot interrupt an unrelated syscall. */
        sigset_t set, old;
        sigemptyset(&set);
        sigaddset(&set, SIGRTMIN);
        pthread_sigmask(SIG_BLOCK, &set, &old);
        int r = 0;
        for (unsigned i = 0; i < p->n_vps; i++) {
                struct vid_vp *vp = p->vps[i];
                pthread_mutex_lock(&p->lock);
                p->n_running++;
                pthread_mutex_unlock(&p->lock);
                r = -pthread_create(&vp->thread, NULL, vp_thread, vp);
                if (r < 0) {
                        pthread_mutex_lock(&p->lock);
                        p->n_running--;
                        pthread_mutex_unlock(&p->lock);
                        vid_partition_request_stop(p, VMWP_EXIT_SETUP, "cannot start vCPU thread: %s", strerror(-r));
                        break;
                }
                vp->thread_started = true;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return r;
}

void vid_kick_all(struct vid_partition *p) {
        for (unsigned i = 0; i < p->n_vps; i++) {
                struct vid_vp *vp = p->vps[i];
                if (!vp->thread_started || pthread_equal(vp->thread, pthread_self()))
                        continue;
                __atomic_store_n(&vp->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
                pthread_kill(vp->thread, SIGRTMIN);
        }
}

int vid_partition_pause(struct vid_partition *p) {
        if (!p->started)
                return -EINVAL;
        pthread_mutex_lock(&p->lock);
        p->pause_requested = true;
        pthread_cond_broadcast(&p->cond); /* a throttled VP asleep (throttle.c) parks now */
        pthread_mutex_unlock(&p->lock);
        vid_kick_all(p);
        pthread_mutex_lock(&p->lock);
        while (p->n_parked < p->n_running && !p->stop_requested)
                pthread_cond_wait(&p->cond, &p->lock);
        /* A stop came first (the guest powered off or reset, a vCPU
         * failed): its VPs are leaving, not parked, and the last thing the
         * guest did was ask to end. Saying "paused" here made a save or a
         * migration carry a guest past its power-off. */
        bool stopping = p->stop_requested;
        if (stopping)
                p->pause_requested = false;
        pthread_mutex_unlock(&p->lock);
        return stopping ? -ESHUTDOWN : 0;
}

int vid_partition_resume(struct vid_partition *p) {
        pthread_mutex_lock(&p->lock);
        p->pause_requested = false;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

bool vid_partition_is_paused(const struct vid_partition *p) {
        struct vid_partition *mp = (struct vid_partition *)p;
        pthread_mutex_lock(&mp->lock);
        bool paused = p->pause_requested && p->n_parked == p->n_running;
        pthread_mutex_unlock(&mp->lock);
        return paused;
}

bool vid_partition_started(const struct vid_partition *p) {
        return p->started;
}

bool vid_partition_is_quiet(const struct vid_partition *p) {
        return !p->started || vid_partition_is_paused(p) || vid_partition_stop_requested(p, NULL, 0) >= 0;
}

void vid_partition_join(struct vid_partition *p) {
        if (!p->started || p->joined)
                return;
        if (vid_partition_stop_requested(p, NULL, 0) < 0)
                vid_partition_request_stop(p, VMWP_EXIT_STOPPED, "stopped by the host");
        vid_kick_all(p);
        for (unsigned i = 0; i < p->n_vps; i++)
                if (p->vps[i]->thread_started) {
                        pthread_join(p->vps[i]->thread, NULL);
                        p->vps[i]->thread_started = false;
                }
        p->joined = true;
}
