// SPDX-License-Identifier: MIT
/* hvshim lifecycle and the synthetic-MSR exit handler: validation is
 * msr.c's (pure), the effects of a write are applied here. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "internal.h"

/* The synthetic MSRs we route to user space (§1.5): 0x40000000-0x40000118. */
static const struct vid_msr_range msr_ranges[] = {
        { .first = HV_MSR_FIRST, .count = HV_MSR_LAST - HV_MSR_FIRST + 1 },
};

size_t hvshim_msr_ranges(const struct vid_msr_range **ranges) {
        *ranges = msr_ranges;
        return ARRAY_SIZE(msr_ranges);
}

static uint64_t ref_time_cb(void *opaque) {
        return hvshim_reference_time(opaque);
}

static int msr_read(struct hvshim *hv, struct synic_vp *sv, uint32_t index, uint64_t *value) {
        struct hv_msr_env env = { .vp_index = sv->index, .tsc_hz = hv->tsc_hz, .apic_hz = HV_KVM_APIC_HZ * hv->time_dilation,
                                  .ref_time = ref_time_cb, .opaque = hv };
        pthread_mutex_t *lock = hv_msr_is_per_vp(index) ? &sv->lock : &hv->msr_lock;
        HV_STAT_INC(hv, msr_reads);
        pthread_mutex_lock(lock);
        int r = hv_msr_read(&hv->cfg, &env, &hv->pmsrs, &sv->msrs, index, value);
        pthread_mutex_unlock(lock);
        return r;
}

/* The tail of the guest's log (§9.6: P3 = GPA, P4 = length), printable. */
static void crash_message(struct hvshim *hv, struct hvshim_crash_report *rep) {
        uint64_t gpa = rep->p[3], len = rep->p[4], end;
        size_t n = (size_t)MIN(len, (uint64_t)HV_HYP_PAGE_SIZE);
        n = MIN(n, sizeof rep->message - 1);
        if (n == 0 || ADD_OVERFLOW(gpa, len, &end) || gm_read(hv->p, end - n, rep->message, n) < 0)
                n = 0;
        for (size_t i = 0; i < n; i++) {
                char c = rep->message[i];
                if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                        rep->message[i] = '?';
        }
        rep->message[n] = '\0';
}

/* Partition-wide registers: msr_lock held. */
static void apply_partition_effects(struct hvshim *hv, unsigned fx, struct hvshim_crash_report *rep,
                                    bool *crashed) {
        if (fx & HV_MSR_FX_HYPERCALL_PAGE) {
                uint8_t page[HV_HYP_PAGE_SIZE];
                hv_hypercall_page_fill(page);
                /* A page outside RAM cannot hold the stub; the guest's call
                 * then faults in the guest, as its own doing. */
                (void)gm_write(hv->p, hv_msr_page_gpa(hv->pmsrs.hypercall), page, sizeof page);
        }
        if (fx & HV_MSR_FX_REFERENCE_TSC)
                (void)hvshim_tsc_page_update(hv, hv->pmsrs.reference_tsc);
        if (fx & HV_MSR_FX_CRASH) {
                memset(rep, 0, sizeof *rep);
                memcpy(rep->p, hv->pmsrs.crash_p, sizeof rep->p);
                rep->ctl = hv->pmsrs.crash_ctl;
                if (rep->ctl & HV_CRASH_CTL_CRASH_NOTIFY_MSG)
                        crash_message(hv, rep);
                *crashed = true;
        }
}

static int msr_write(struct hvshim *hv, struct synic_vp *sv, uint32_t index, uint64_t value) {
        struct hvshim_crash_report rep;
        bool crashed = false, reset = false;
        unsigned fx = 0;
        int r;
        HV_STAT_INC(hv, msr_writes);
        if (hv_msr_is_per_vp(index)) {
                pthread_mutex_lock(&sv->lock);
                struct hv_msr_vp old = sv->msrs;
                r = hv_msr_write(&hv->cfg, &hv->pmsrs, &sv->msrs, index, value, &fx);
                if (r == 0 && (fx & HV_MSR_FX_SYNIC))
                        reset = synic_msrs_changed(sv, &old);
                if (r == 0 && (fx & HV_MSR_FX_EOM))
                        synic_eom(sv);
                pthread_mutex_unlock(&sv->lock);
        } else {
                pthread_mutex_lock(&hv->msr_lock);
                r = hv_msr_write(&hv->cfg, &hv->pmsrs, &sv->msrs, index, value, &fx);
                if (r == 0)
                        apply_partition_effects(hv, fx, &rep, &crashed);
                pthread_mutex_unlock(&hv->msr_lock);
        }
        if (!reset && !crashed)
                return r;
        /* Owner callbacks run without our locks: they may post messages. */
        pthread_mutex_lock(&hv->ops_lock);
        struct hvshim_owner_ops ops = hv->ops;
        void *opaque = hv->ops_opaque;
        pthread_mutex_unlock(&hv->ops_lock);
        if (reset && ops.synic_reset)
                ops.synic_reset(opaque, sv->index);
        if (crashed && ops.guest_crashed)
                ops.guest_crashed(opaque, &rep);
        return r;
}

/* vid_msr_fn: a negative return raises #GP in the guest. */
static int hvshim_msr(void *opaque, struct vid_vp *vp, bool write, uint32_t index, uint64_t *value) {
        struct hvshim *hv = opaque;
        unsigned i = vid_vp_index(vp);
        int r = i < hv->n_vps ? (write ? msr_write(hv, &hv->vps[i], index, *value)
                                       : msr_read(hv, &hv->vps[i], index, value))
                              : -EPERM;
        if (r < 0) {
                HV_STAT_INC(hv, msr_gp);
                return -EPERM;
        }
        return 0;
}

static const struct hvshim_config default_config = {
        .reference_tsc = true, .frequency_msrs = true, .tsc_invariant = true, .crash_msrs = true,
};

static int hvshim_init(struct hvshim *hv, struct vid_partition *p, const struct hvshim_config *cfg) {
        hv->p = p;
        hv->cfg = cfg ? *cfg : default_config;
        if (hv->cfg.time_dilation > HVSHIM_MAX_TIME_DILATION)
                return -EINVAL;
        hv->time_dilation = hv->cfg.time_dilation ? hv->cfg.time_dilation : 1u;
        hv->n_vps = vid_partition_vp_count(p);
        pthread_mutex_init(&hv->msr_lock, NULL);
        pthread_mutex_init(&hv->ops_lock, NULL);
        pthread_rwlock_init(&hv->conn_lock, NULL);
        pthread_rwlock_init(&hv->event_lock, NULL);
        hv->locks_init = true;
        hv_msr_partition_init(&hv->pmsrs);
        hv->vps = calloc(hv->n_vps, sizeof *hv->vps);
        if (!hv->vps)
                return -ENOMEM;
        for (; hv->n_vps_init < hv->n_vps; hv->n_vps_init++)
                synic_vp_init(hv, &hv->vps[hv->n_vps_init], hv->n_vps_init);
        return hvshim_time_init(hv);
}

int hvshim_create(struct vid_partition *p, const struct hvshim_config *cfg, struct hvshim **out) {
        if (!p || !out || vid_partition_vp_count(p) == 0)
                return -EINVAL;
        struct hvshim *hv = calloc(1, sizeof *hv);
        if (!hv)
                return -ENOMEM;
        int r = hvshim_init(hv, p, cfg);
        if (r >= 0)
                r = hvshim_cpuid_install(hv);
        /* Registrations last: vid cannot undo them, so after one of them
         * fails the partition must be destroyed, not started. */
        if (r >= 0)
                r = hvshim_register_ports(hv);
        if (r >= 0)
                r = vid_set_msr_handler(p, msr_ranges, ARRAY_SIZE(msr_ranges), hvshim_msr, hv);
        if (r < 0) {
                hvshim_destroy(hv);
                return r;
        }
        *out = hv;
        return 0;
}

void hvshim_destroy(struct hvshim *hv) {
        if (!hv)
                return;
        for (unsigned i = 0; i < hv->n_vps_init; i++)
                synic_vp_free(&hv->vps[i]);
        free(hv->vps);
        if (hv->locks_init) {
                hvshim_connections_free(hv);
                pthread_rwlock_destroy(&hv->conn_lock);
                pthread_rwlock_destroy(&hv->event_lock);
                pthread_mutex_destroy(&hv->ops_lock);
                pthread_mutex_destroy(&hv->msr_lock);
        }
        free(hv);
}

void hvshim_set_owner_ops(struct hvshim *hv, const struct hvshim_owner_ops *ops, void *opaque) {
        pthread_mutex_lock(&hv->ops_lock);
        hv->ops = ops ? *ops : (struct hvshim_owner_ops){ 0 };
        hv->ops_opaque = opaque;
        pthread_mutex_unlock(&hv->ops_lock);
}

static void add_overlay(uint64_t msr, uint64_t *pfns, size_t max, size_t *n) {
        if (!hv_msr_enabled(msr))
                return;
        if (*n < max)
                pfns[*n] = hv_msr_page_gpa(msr) >> VID_PAGE_SHIFT;
        (*n)++;
}

size_t hvshim_overlay_pages(struct hvshim *hv, uint64_t *pfns, size_t max) {
        size_t n = 0;
        pthread_mutex_lock(&hv->msr_lock);
        add_overlay(hv->pmsrs.hypercall, pfns, max, &n);
        add_overlay(hv->pmsrs.reference_tsc, pfns, max, &n);
        pthread_mutex_unlock(&hv->msr_lock);
        for (unsigned i = 0; i < hv->n_vps_init; i++) {
                struct synic_vp *sv = &hv->vps[i];
                pthread_mutex_lock(&sv->lock);
                add_overlay(sv->msrs.simp, pfns, max, &n);
                add_overlay(sv->msrs.siefp, pfns, max, &n);
                add_overlay(sv->msrs.vp_assist, pfns, max, &n);
                pthread_mutex_unlock(&sv->lock);
        }
        return n;
}

void hvshim_get_stats(struct hvshim *hv, struct hvshim_stats *out) {
        *out = (struct hvshim_stats){
                .hypercalls = atomic_load(&hv->stats.hypercalls),
                .post_messages = atomic_load(&hv->stats.post_messages),
                .signal_events_user = atomic_load(&hv->stats.signal_events_user),
                .hypercall_errors = atomic_load(&hv->stats.hypercall_errors),
                .msr_reads = atomic_load(&hv->stats.msr_reads),
                .msr_writes = atomic_load(&hv->stats.msr_writes),
                .msr_gp = atomic_load(&hv->stats.msr_gp),
                .messages_posted = atomic_load(&hv->stats.messages_posted),
                .messages_queued = atomic_load(&hv->stats.messages_queued),
                .messages_dropped = atomic_load(&hv->stats.messages_dropped),
                .events_signaled = atomic_load(&hv->stats.events_signaled),
        };
}
