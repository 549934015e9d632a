// SPDX-License-Identifier: MIT
/* SynIC runtime (docs/hyperv-guest-interface.md §3): message slots with
 * msg_pending/EOM queueing, event flags, and SINT interrupts as ordinary
 * fixed interrupts into KVM's in-kernel LAPIC (we advertise
 * deprecate-AEOI, §1.8), through one MSI route + irqfd per (VP, SINT) in
 * use, so that raising one is an eventfd write from any thread.
 *
 * Interrupts owed while a SINT cannot be delivered (masked, SCONTROL off)
 * are remembered in pending_irq and raised when it becomes deliverable.
 * Both sides use seq_cst RMWs/loads on pending_irq and deliverable:
 *   raiser:  pending |= bit;  if (deliverable & bit) take-and-inject
 *   enabler: deliverable |= bit;  take-and-inject
 * where take-and-inject injects if (pending &= ~bit) had the bit. In the
 * single total order at least one side sees the other's write, and only
 * the one whose fetch_and returned the bit injects: no lost or doubled
 * interrupt. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/macro.h"
#include "internal.h"

#define SLOT_SIZE sizeof(struct hv_message)
#define SLOT_TYPE 0  /* u32 */
#define SLOT_SIZE_BYTE 4
#define SLOT_FLAGS 5
#define SLOT_PAYLOAD 16

void synic_vp_init(struct hvshim *hv, struct synic_vp *sv, unsigned index) {
        sv->hv = hv;
        sv->index = index;
        sv->apic_id = vid_vp_apic_id(vid_partition_vp(hv->p, index));
        hv_msr_vp_init(&sv->msrs);
        for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
                atomic_init(&sv->irq_fd[i], -1);
        pthread_mutex_init(&sv->lock, NULL);
        sv->lock_init = true;
}

void synic_queues_free(struct synic_queue q[HV_SYNIC_SINT_COUNT]) {
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++) {
                for (struct synic_qmsg *m = q[s].head, *next; m; m = next) {
                        next = m->next;
                        free(m);
                }
                q[s] = (struct synic_queue){ 0 };
        }
}

static void queue_drop(struct synic_vp *sv) {
        synic_queues_free(sv->queue);
        sv->n_queued = 0;
}

void synic_vp_free(struct synic_vp *sv) {
        if (!sv->lock_init)
                return;
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++) {
                int fd = atomic_load(&sv->irq_fd[s]);
                if (fd >= 0) {
                        (void)vid_irqfd_deassign(sv->hv->p, fd, sv->gsi[s]);
                        safe_close(fd);
                }
        }
        queue_drop(sv);
        pthread_mutex_destroy(&sv->lock);
        sv->lock_init = false;
}

/* ---- interrupts ---- */

static void synic_inject(struct synic_vp *sv, unsigned sint) {
        int fd = atomic_load_explicit(&sv->irq_fd[sint], memory_order_acquire);
        if (fd >= 0 && write(fd, &(uint64_t){ 1 }, sizeof(uint64_t)) == sizeof(uint64_t))
                return;
        /* No irqfd (no route could be made): a one-off MSI, same effect. */
        (void)vid_msi_send(sv->hv->p, sv->apic_id, atomic_load(&sv->vector[sint]));
}

static void synic_raise(struct synic_vp *sv, unsigned sint) {
        unsigned bit = 1u << sint;
        atomic_fetch_or(&sv->pending_irq, bit);
        if ((atomic_load(&sv->deliverable) & bit) && (atomic_fetch_and(&sv->pending_irq, ~bit) & bit))
                synic_inject(sv, sint);
}

static unsigned deliverable_mask(const struct hv_msr_vp *m) {
        if (!hv_msr_enabled(m->scontrol))
                return 0;
        unsigned mask = 0;
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
                if (!hv_sint_masked(m->sint[s]) && hv_sint_vector(m->sint[s]) >= HV_SYNIC_FIRST_VALID_VECTOR)
                        mask |= 1u << s;
        return mask;
}

static void route_drop(struct synic_vp *sv, unsigned s) {
        int fd = atomic_exchange(&sv->irq_fd[s], -1);
        if (fd >= 0) {
                (void)vid_irqfd_deassign(sv->hv->p, fd, sv->gsi[s]);
                safe_close(fd);
        }
        sv->routed[s] = false;
}

/* One MSI route + irqfd per SINT in use, retargeted when its vector
 * changes. On any failure the SINT falls back to KVM_SIGNAL_MSI. */
static void route_update(struct synic_vp *sv, unsigned s) {
        struct vid_partition *p = sv->hv->p;
        uint64_t v = sv->msrs.sint[s];
        uint8_t vector = hv_sint_vector(v);
        atomic_store(&sv->vector[s], vector);
        if (hv_sint_masked(v) || vector < HV_SYNIC_FIRST_VALID_VECTOR)
                return; /* keep any route; it is not used while masked */
        if (sv->routed[s]) {
                if (sv->routed_vector[s] == vector)
                        return;
                if (vid_msi_route_set(p, sv->gsi[s], sv->apic_id, vector) == 0)
                        sv->routed_vector[s] = vector;
                else
                        route_drop(sv, s);
                return;
        }
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
                return;
        unsigned gsi;
        if (vid_msi_route_add(p, sv->apic_id, vector, &gsi) < 0 || vid_irqfd_assign(p, fd, gsi) < 0) {
                safe_close(fd);
                return;
        }
        sv->gsi[s] = gsi;
        sv->routed_vector[s] = vector;
        sv->routed[s] = true;
        atomic_store_explicit(&sv->irq_fd[s], fd, memory_order_release);
}

/* ---- message slots ---- */

/* Write m into a free slot: payload, size and flags first, message_type
 * last with release ordering (§3.4), then mark the slot dirty (the page is
 * guest RAM: docs/vm-state.md, "Dirty pages"). False if the slot is
 * occupied. */
static bool slot_write(struct vid_partition *p, uint8_t *slot, const struct hv_message *m, bool more) {
        uint32_t *type = (uint32_t *)(void *)(slot + SLOT_TYPE);
        if (__atomic_load_n(type, __ATOMIC_ACQUIRE) != HVMSG_NONE)
                return false;
        memcpy(slot + SLOT_PAYLOAD, m->payload, HV_MESSAGE_PAYLOAD_BYTES);
        memset(slot + SLOT_SIZE_BYTE, 0, SLOT_PAYLOAD - SLOT_SIZE_BYTE); /* size, flags, reserved, sender */
        slot[SLOT_SIZE_BYTE] = m->header.payload_size;
        slot[SLOT_FLAGS] = more ? HV_MESSAGE_FLAG_PENDING : 0;
        __atomic_store_n(type, m->header.message_type, __ATOMIC_RELEASE);
        vid_mark_dirty_host(p, slot, SLOT_SIZE);
        return true;
}

/* Deliver queued messages of one SINT while its slot is free. When it is
 * busy, set msg_pending so that the guest writes EOM after freeing it,
 * then look again: the guest may have freed it before it could see the
 * flag (it frees, then reads the flag; we set, then read the type). */
static void flush_sint(struct synic_vp *sv, unsigned s) {
        struct synic_queue *q = &sv->queue[s];
        while (q->head && sv->active) {
                uint8_t *slot = sv->simp + s * SLOT_SIZE;
                struct synic_qmsg *m = q->head;
                if (slot_write(sv->hv->p, slot, &m->msg, m->next != NULL)) {
                        q->head = m->next;
                        if (!q->head)
                                q->tail = NULL;
                        free(m);
                        sv->n_queued--;
                        HV_STAT_INC(sv->hv, messages_posted);
                        synic_raise(sv, s);
                        continue;
                }
                __atomic_fetch_or(slot + SLOT_FLAGS, HV_MESSAGE_FLAG_PENDING, __ATOMIC_SEQ_CST);
                vid_mark_dirty_host(sv->hv->p, slot + SLOT_FLAGS, 1);
                if (__atomic_load_n((uint32_t *)(void *)(slot + SLOT_TYPE), __ATOMIC_SEQ_CST) != HVMSG_NONE)
                        break;
        }
}

void synic_eom(struct synic_vp *sv) {
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
                flush_sint(sv, s);
}

int synic_post_message(struct hvshim *hv, unsigned vp_index, unsigned sint, uint32_t message_type,
                       const void *payload, size_t len) {
        if (!hv || vp_index >= hv->n_vps || sint >= HV_SYNIC_SINT_COUNT || len > HV_MESSAGE_PAYLOAD_BYTES ||
            message_type == HVMSG_NONE || (len && !payload))
                return -EINVAL;
        struct synic_qmsg *qm = calloc(1, sizeof *qm);
        if (!qm)
                return -ENOMEM;
        qm->msg.header.message_type = message_type;
        qm->msg.header.payload_size = (uint8_t)len;
        if (len)
                memcpy(qm->msg.payload, payload, len);

        struct synic_vp *sv = &hv->vps[vp_index];
        pthread_mutex_lock(&sv->lock);
        struct synic_queue *q = &sv->queue[sint];
        int r = 0;
        if (sv->active && !q->head && slot_write(hv->p, sv->simp + sint * SLOT_SIZE, &qm->msg, false)) {
                HV_STAT_INC(hv, messages_posted);
                synic_raise(sv, sint);
                free(qm);
        } else if (sv->n_queued >= HVSHIM_MAX_QUEUED) {
                free(qm);
                r = -ENOBUFS;
        } else {
                if (q->tail)
                        q->tail->next = qm;
                else
                        q->head = qm;
                q->tail = qm;
                sv->n_queued++;
                HV_STAT_INC(hv, messages_queued);
                flush_sint(sv, sint);
        }
        pthread_mutex_unlock(&sv->lock);
        return r;
}

/* ---- event flags ---- */

/* Signallers hold sief_users while they use a `sief` pointer they loaded;
 * after publishing a new pointer, wait until none can hold the old one. */
static void sief_quiesce(struct synic_vp *sv) {
        while (atomic_load(&sv->sief_users))
                sched_yield();
}

int synic_signal_event(struct hvshim *hv, unsigned vp_index, unsigned sint, unsigned flag) {
        if (!hv || vp_index >= hv->n_vps || sint >= HV_SYNIC_SINT_COUNT || flag >= HV_EVENT_FLAGS_COUNT)
                return -EINVAL;
        struct synic_vp *sv = &hv->vps[vp_index];
        uint64_t bit = 1ull << (flag % 64);
        unsigned word = flag / 64;
        atomic_fetch_add(&sv->sief_users, 1);
        uint64_t *page = atomic_load(&sv->sief);
        uint64_t *w = page ? &page[sint * HV_SIEF_WORDS_PER_SINT + word] : &sv->shadow[sint][word];
        /* The guest test-and-clears bits atomically (§3.3). */
        uint64_t old = __atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST);
        if (page && !(old & bit)) /* the page is guest RAM (gm_map): dirty now */
                vid_mark_dirty_host(hv->p, w, sizeof *w);
        atomic_fetch_sub(&sv->sief_users, 1);
        HV_STAT_INC(hv, events_signaled);
        /* Interrupt only when the flag goes 0 -> 1: a flag still set has an
         * interrupt outstanding or being handled (TLFS event flag delivery). */
        if (!(old & bit))
                synic_raise(sv, sint);
        return 0;
}

/* The enabled page at the register's GPA, as it is. */
static uint8_t *page_map(struct vid_partition *p, uint64_t v) {
        void *page;
        if (!hv_msr_enabled(v) || gm_map(p, hv_msr_page_gpa(v), HV_HYP_PAGE_SIZE, &page) < 0)
                return NULL;
        return page;
}

/* A guest's MSR write: an overlay page appears zeroed (as KVM and OpenVMM
 * do) when enabled or moved. Never on restore, where the page holds the
 * saved guest's messages and flags (docs/vm-state.md). */
static uint8_t *page_enable(struct vid_partition *p, uint64_t now, uint64_t old) {
        uint8_t *page = page_map(p, now);
        if (page && (!hv_msr_enabled(old) || hv_msr_page_gpa(old) != hv_msr_page_gpa(now))) {
                memset(page, 0, HV_HYP_PAGE_SIZE);
                vid_mark_dirty_host(p, page, HV_HYP_PAGE_SIZE);
        }
        return page;
}

/* Publish the SIEF page (or NULL) and move into it what was signalled
 * while there was none. */
static void sief_publish(struct synic_vp *sv, uint64_t *page) {
        atomic_store(&sv->sief, page);
        sief_quiesce(sv);
        if (!page)
                return;
        /* Signallers now use the page; move what went to the shadow. */
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++) {
                uint64_t any = 0;
                for (unsigned w = 0; w < HV_SIEF_WORDS_PER_SINT; w++) {
                        uint64_t bits = __atomic_exchange_n(&sv->shadow[s][w], 0, __ATOMIC_SEQ_CST);
                        if (bits) {
                                __atomic_fetch_or(&page[s * HV_SIEF_WORDS_PER_SINT + w], bits, __ATOMIC_SEQ_CST);
                                vid_mark_dirty_host(sv->hv->p, &page[s * HV_SIEF_WORDS_PER_SINT + w], 8);
                        }
                        any |= bits;
                }
                if (any)
                        synic_raise(sv, s);
        }
}

static void siefp_changed(struct synic_vp *sv, uint64_t old) {
        sief_publish(sv, (uint64_t *)(void *)page_enable(sv->hv->p, sv->msrs.siefp, old));
}

/* Publish what is deliverable, then pay the interrupts owed to the SINTs
 * that just became deliverable (see the top of this file). */
static void deliverable_publish(struct synic_vp *sv) {
        unsigned mask = deliverable_mask(&sv->msrs);
        unsigned newly = mask & ~atomic_exchange(&sv->deliverable, mask);
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
                if ((newly & (1u << s)) && (atomic_fetch_and(&sv->pending_irq, ~(1u << s)) & (1u << s)))
                        synic_inject(sv, s);
}

/* Messaging switched off (kexec, CPU offline): what was queued or owed
 * belongs to the guest that is gone. */
static void synic_reset(struct synic_vp *sv) {
        HV_STAT_ADD(sv->hv, messages_dropped, sv->n_queued);
        queue_drop(sv);
        atomic_store(&sv->pending_irq, 0);
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
                for (unsigned w = 0; w < HV_SIEF_WORDS_PER_SINT; w++)
                        __atomic_store_n(&sv->shadow[s][w], 0, __ATOMIC_SEQ_CST);
}

bool synic_msrs_changed(struct synic_vp *sv, const struct hv_msr_vp *old) {
        const struct hv_msr_vp *now = &sv->msrs;
        if (now->simp != old->simp)
                sv->simp = page_enable(sv->hv->p, now->simp, old->simp);
        if (now->siefp != old->siefp)
                siefp_changed(sv, old->siefp);
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
                if (now->sint[s] != old->sint[s])
                        route_update(sv, s);

        bool was_active = sv->active;
        sv->active = hv_msr_enabled(now->scontrol) && sv->simp;
        bool reset = was_active && !sv->active;
        if (reset)
                synic_reset(sv);

        deliverable_publish(sv);
        if (sv->active)
                synic_eom(sv);
        return reset;
}

/* ---- saved state (hvshim/state.h) ---- */

void synic_vp_state_get(struct synic_vp *sv, struct hvshim_synic_state *st) {
        memset(st, 0, sizeof *st);
        pthread_mutex_lock(&sv->lock);
        st->vp_assist = sv->msrs.vp_assist;
        st->scontrol = sv->msrs.scontrol;
        st->siefp = sv->msrs.siefp;
        st->simp = sv->msrs.simp;
        memcpy(st->sint, sv->msrs.sint, sizeof st->sint);
        st->n_sint = HV_SYNIC_SINT_COUNT;
        st->pending_irq = atomic_load(&sv->pending_irq);
        uint32_t n = 0;
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
                for (unsigned w = 0; w < HV_SIEF_WORDS_PER_SINT; w++) {
                        uint64_t bits = __atomic_load_n(&sv->shadow[s][w], __ATOMIC_SEQ_CST);
                        if (bits) {
                                st->shadow_word[n] = s * HV_SIEF_WORDS_PER_SINT + w;
                                st->shadow_bits[n++] = bits;
                        }
                }
        st->n_shadow_word = st->n_shadow_bits = n;
        n = 0;
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
                for (const struct synic_qmsg *m = sv->queue[s].head; m && n < HVSHIM_MAX_QUEUED; m = m->next) {
                        uint8_t size = MIN(m->msg.header.payload_size, (uint8_t)HV_MESSAGE_PAYLOAD_BYTES);
                        st->msg_sint[n] = s;
                        st->msg_type[n] = m->msg.header.message_type;
                        st->msg_size[n++] = size;
                        memcpy(st->msg_payload + st->msg_payload_len, m->msg.payload, size);
                        st->msg_payload_len += size;
                }
        st->n_msg_sint = st->n_msg_type = st->n_msg_size = n;
        pthread_mutex_unlock(&sv->lock);
}

int synic_queues_build(const struct hvshim_synic_state *st, struct synic_queue q[HV_SYNIC_SINT_COUNT]) {
        memset(q, 0, HV_SYNIC_SINT_COUNT * sizeof *q);
        uint32_t at = 0;
        for (uint32_t i = 0; i < st->n_msg_sint; i++) {
                struct synic_qmsg *qm = calloc(1, sizeof *qm);
                if (!qm) {
                        synic_queues_free(q);
                        return -ENOMEM;
                }
                qm->msg.header.message_type = st->msg_type[i];
                qm->msg.header.payload_size = (uint8_t)st->msg_size[i];
                memcpy(qm->msg.payload, st->msg_payload + at, st->msg_size[i]);
                at += st->msg_size[i];
                struct synic_queue *sq = &q[st->msg_sint[i]];
                if (sq->tail)
                        sq->tail->next = qm;
                else
                        sq->head = qm;
                sq->tail = qm;
        }
        return 0;
}

/* The state of a VP that never ran (checked by hvshim_synic_state_decode),
 * with its queues already built. The SIMP and SIEF pages are guest RAM
 * that vid restored: they are mapped as they are, never zeroed as on a
 * guest's enable, or the messages in their slots and the flags not yet
 * taken would be lost. Nothing is delivered here: a queued message waits
 * for the guest's EOM as it did when saved, an owed interrupt for its
 * SINT to become deliverable (one that is deliverable is paid now, into
 * the LAPIC that vid restored). */
void synic_vp_state_set(struct synic_vp *sv, const struct hvshim_synic_state *st,
                        struct synic_queue q[HV_SYNIC_SINT_COUNT]) {
        pthread_mutex_lock(&sv->lock);
        sv->msrs.vp_assist = st->vp_assist;
        sv->msrs.scontrol = st->scontrol;
        sv->msrs.siefp = st->siefp;
        sv->msrs.simp = st->simp;
        memcpy(sv->msrs.sint, st->sint, sizeof sv->msrs.sint);
        atomic_store(&sv->pending_irq, st->pending_irq);
        for (uint32_t i = 0; i < st->n_shadow_word; i++)
                __atomic_store_n(&sv->shadow[st->shadow_word[i] / HV_SIEF_WORDS_PER_SINT]
                                            [st->shadow_word[i] % HV_SIEF_WORDS_PER_SINT],
                                 st->shadow_bits[i], __ATOMIC_SEQ_CST);
        memcpy(sv->queue, q, sizeof sv->queue);
        memset(q, 0, HV_SYNIC_SINT_COUNT * sizeof *q);
        sv->n_queued = st->n_msg_sint;

        sv->simp = page_map(sv->hv->p, st->simp);
        sv->active = hv_msr_enabled(st->scontrol) && sv->simp;
        for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
                route_update(sv, s);
        sief_publish(sv, (uint64_t *)(void *)page_map(sv->hv->p, st->siefp));
        deliverable_publish(sv);
        pthread_mutex_unlock(&sv->lock);
}
