// SPDX-License-Identifier: MIT
/* hvshim's saved state (hvshim/state.h): the section descriptors and pure
 * checks of HVPT and HVSY (docs/saved-state.md), and the order of save and
 * restore. The SynIC and reference-time parts are captured and applied by
 * their owners, synic.c and reftime.c.
 *
 * A register value is checked by replaying it through the guest's own
 * write path (hv_msr_write, pure) on scratch registers: a file can hold
 * nothing that a guest could not have written. */
#include <errno.h>
#include <string.h>

#include "common/device.h"
#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vid/state.h"


/* ---- descriptors ------------------------------------------------------ */

#define F(id, kind, m) VMSTATE_FIELD(id, kind, struct hvshim_partition_state, m)
#define A(id, kind, m, n) VMSTATE_ARRAY(id, kind, struct hvshim_partition_state, m, n)
static const struct vmstate_field_desc partition_fields[] = {
        F(1, VMSTATE_U32, n_vps),
        F(2, VMSTATE_BOOL, reference_tsc),
        F(3, VMSTATE_BOOL, frequency_msrs),
        F(4, VMSTATE_BOOL, tsc_invariant),
        F(5, VMSTATE_BOOL, crash_msrs),
        F(6, VMSTATE_U64, guest_os_id),
        F(7, VMSTATE_U64, hypercall),
        F(8, VMSTATE_U64, reference_tsc_msr),
        F(9, VMSTATE_U64, tsc_invariant_control),
        A(10, VMSTATE_U64_ARRAY, crash_p, n_crash_p),
        F(11, VMSTATE_U64, crash_ctl),
        F(12, VMSTATE_U64, tsc_hz),
        F(13, VMSTATE_U32, time_dilation),
        F(14, VMSTATE_U64, tsc_scale),
        F(15, VMSTATE_U64, ref_offset),
        F(16, VMSTATE_U32, tsc_sequence),
        F(17, VMSTATE_U64, reference_time),
};
#undef F
#undef A

const struct vmstate_desc hvshim_partition_state_desc = {
        .tag = HVSHIM_STATE_TAG_PARTITION, .version = 1, .fields = partition_fields,
        .n_fields = ARRAY_SIZE(partition_fields), .name = "Hyper-V partition",
};

#define F(id, kind, m) VMSTATE_FIELD(id, kind, struct hvshim_synic_state, m)
#define A(id, kind, m, n) VMSTATE_ARRAY(id, kind, struct hvshim_synic_state, m, n)
static const struct vmstate_field_desc synic_fields[] = {
        F(1, VMSTATE_U64, vp_assist),
        F(2, VMSTATE_U64, scontrol),
        F(3, VMSTATE_U64, siefp),
        F(4, VMSTATE_U64, simp),
        A(5, VMSTATE_U64_ARRAY, sint, n_sint),
        F(6, VMSTATE_U32, pending_irq),
        A(7, VMSTATE_U32_ARRAY, shadow_word, n_shadow_word),
        A(8, VMSTATE_U64_ARRAY, shadow_bits, n_shadow_bits),
        A(9, VMSTATE_U32_ARRAY, msg_sint, n_msg_sint),
        A(10, VMSTATE_U32_ARRAY, msg_type, n_msg_type),
        A(11, VMSTATE_U32_ARRAY, msg_size, n_msg_size),
        A(12, VMSTATE_VARBYTES, msg_payload, msg_payload_len),
};
#undef F
#undef A

const struct vmstate_desc hvshim_synic_state_desc = {
        .tag = HVSHIM_STATE_TAG_SYNIC, .version = 1, .fields = synic_fields, .n_fields = ARRAY_SIZE(synic_fields),
        .name = "SynIC",
};

/* ---- checks (pure) ------------------------------------------------------ */

struct reg {
        uint32_t index;
        const char *name;
        uint64_t value;
};

/* The first register a guest could not have given this value, or NULL.
 * Zero is every register's reset value but the SINTs' (masked), so only
 * SINTs are replayed when zero. */
static const struct reg *first_unwritable(const struct hvshim_config *cfg, const struct reg *regs, size_t n) {
        struct hv_msr_partition pm;
        struct hv_msr_vp vm;
        hv_msr_partition_init(&pm);
        hv_msr_vp_init(&vm);
        for (size_t i = 0; i < n; i++) {
                bool sint = regs[i].index >= HV_X64_MSR_SINT0 && regs[i].index <= HV_X64_MSR_SINT15;
                unsigned fx;
                if ((regs[i].value || sint) && hv_msr_write(cfg, &pm, &vm, regs[i].index, regs[i].value, &fx) < 0)
                        return &regs[i];
        }
        return NULL;
}

static int bad_register(const struct vmstate_section *s, const struct reg *r, char *err, size_t errlen) {
        char tag[5];
        vmstate_tag_name(s->tag, tag);
        return errorf(err, errlen, -EINVAL,
                      "section %s #%u: %s = 0x%llx, a value a guest write would have been refused (reserved "
                      "bits, a SINT vector below 16, a feature not offered)",
                      tag, s->instance, r->name, (unsigned long long)r->value);
}

static const char *partition_time_check(const struct hvshim_partition_state *st) {
        if (st->time_dilation == 0 || st->time_dilation > HVSHIM_MAX_TIME_DILATION)
                return "time dilation out of range (1..64)";
        if (st->tsc_scale != hv_tsc_scale(st->tsc_hz))
                return "reference TSC scale does not belong to the TSC rate";
        if (st->reference_tsc && !st->tsc_scale)
                return "reference TSC page offered without a TSC rate";
        if (st->frequency_msrs && !st->tsc_hz)
                return "frequency MSRs offered without a TSC rate";
        if (st->tsc_sequence == 0xffffffffu)
                return "reference TSC sequence 0xffffffff is never published";
        if (!st->tsc_scale && st->reference_time > UINT64_MAX / 100u / st->time_dilation)
                return "reference time beyond what the clock without a TSC rate can continue";
        return NULL;
}

int hvshim_partition_state_decode(const struct vmstate_section *s, struct hvshim_partition_state *out, char *err,
                                  size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &hvshim_partition_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = NULL;
        if (out->n_vps == 0 || out->n_vps > VID_MAX_VPS)
                bad = "vCPU count out of range";
        else if (out->n_crash_p != HVSHIM_STATE_CRASH_P)
                bad = "crash registers: not 5 values";
        else
                bad = partition_time_check(out);
        if (bad)
                return errorf(err, errlen, -EINVAL, "section HVPT: %s", bad);
        const struct hvshim_config cfg = { .reference_tsc = out->reference_tsc, .frequency_msrs = out->frequency_msrs,
                                           .tsc_invariant = out->tsc_invariant, .crash_msrs = out->crash_msrs };
        const struct reg regs[] = {
                { HV_X64_MSR_GUEST_OS_ID, "GUEST_OS_ID", out->guest_os_id },
                { HV_X64_MSR_HYPERCALL, "HYPERCALL", out->hypercall },
                { HV_X64_MSR_REFERENCE_TSC, "REFERENCE_TSC", out->reference_tsc_msr },
                { HV_X64_MSR_TSC_INVARIANT_CONTROL, "TSC_INVARIANT_CONTROL", out->tsc_invariant_control },
                { HV_X64_MSR_CRASH_P0, "CRASH_P0", out->crash_p[0] },
                { HV_X64_MSR_CRASH_P0 + 1, "CRASH_P1", out->crash_p[1] },
                { HV_X64_MSR_CRASH_P0 + 2, "CRASH_P2", out->crash_p[2] },
                { HV_X64_MSR_CRASH_P0 + 3, "CRASH_P3", out->crash_p[3] },
                { HV_X64_MSR_CRASH_P4, "CRASH_P4", out->crash_p[4] },
                { HV_X64_MSR_CRASH_CTL, "CRASH_CTL", out->crash_ctl },
        };
        const struct reg *b = first_unwritable(&cfg, regs, ARRAY_SIZE(regs));
        return b ? bad_register(s, b, err, errlen) : 0;
}

static const char *synic_lists_check(const struct hvshim_synic_state *st) {
        if (st->n_shadow_word != st->n_shadow_bits)
                return "event flags: word indices and values differ in number";
        for (uint32_t i = 0; i < st->n_shadow_word; i++)
                if (st->shadow_word[i] >= HVSHIM_STATE_SIEF_WORDS || (i && st->shadow_word[i] <= st->shadow_word[i - 1]) ||
                    !st->shadow_bits[i])
                        return "event flags: a word index out of range or order, or an empty word";
        if (st->n_msg_type != st->n_msg_sint || st->n_msg_size != st->n_msg_sint)
                return "queued messages: SINTs, types and sizes differ in number";
        uint64_t total = 0;
        for (uint32_t i = 0; i < st->n_msg_sint; i++) {
                if (st->msg_sint[i] >= HV_SYNIC_SINT_COUNT)
                        return "queued message for a SINT above 15";
                if (st->msg_type[i] == HVMSG_NONE)
                        return "queued message of type 0 (an empty slot)";
                if (st->msg_size[i] > HV_MESSAGE_PAYLOAD_BYTES)
                        return "queued message larger than 240 bytes";
                total += st->msg_size[i];
        }
        if (total != st->msg_payload_len)
                return "queued messages: the payloads do not add up to their sizes";
        return NULL;
}

int hvshim_synic_state_decode(const struct vmstate_section *s, struct hvshim_synic_state *out, char *err,
                              size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &hvshim_synic_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = NULL;
        if (out->n_sint != HV_SYNIC_SINT_COUNT)
                bad = "SINTs: not 16 values";
        else if (out->pending_irq >> HV_SYNIC_SINT_COUNT)
                bad = "interrupts owed to SINTs above 15";
        else
                bad = synic_lists_check(out);
        if (bad)
                return errorf(err, errlen, -EINVAL, "section HVSY #%u: %s", s->instance, bad);
        static const char *const sint_names[HV_SYNIC_SINT_COUNT] = {
                "SINT0", "SINT1", "SINT2",  "SINT3",  "SINT4",  "SINT5",  "SINT6",  "SINT7",
                "SINT8", "SINT9", "SINT10", "SINT11", "SINT12", "SINT13", "SINT14", "SINT15",
        };
        struct reg regs[4 + HV_SYNIC_SINT_COUNT] = {
                { HV_X64_MSR_VP_ASSIST_PAGE, "VP_ASSIST_PAGE", out->vp_assist },
                { HV_X64_MSR_SCONTROL, "SCONTROL", out->scontrol },
                { HV_X64_MSR_SIEFP, "SIEFP", out->siefp },
                { HV_X64_MSR_SIMP, "SIMP", out->simp },
        };
        for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
                regs[4 + i] = (struct reg){ HV_X64_MSR_SINT0 + i, sint_names[i], out->sint[i] };
        /* No per-VP register depends on the configuration. */
        const struct hvshim_config cfg = { 0 };
        const struct reg *b = first_unwritable(&cfg, regs, ARRAY_SIZE(regs));
        return b ? bad_register(s, b, err, errlen) : 0;
}

/* ---- save and restore ---------------------------------------------------- */

static void partition_state_get(struct hvshim *hv, struct hvshim_partition_state *st) {
        memset(st, 0, sizeof *st);
        st->n_vps = hv->n_vps;
        st->reference_tsc = hv->cfg.reference_tsc;
        st->frequency_msrs = hv->cfg.frequency_msrs;
        st->tsc_invariant = hv->cfg.tsc_invariant;
        st->crash_msrs = hv->cfg.crash_msrs;
        pthread_mutex_lock(&hv->msr_lock);
        const struct hv_msr_partition *pm = &hv->pmsrs;
        st->guest_os_id = pm->guest_os_id;
        st->hypercall = pm->hypercall;
        st->reference_tsc_msr = pm->reference_tsc;
        st->tsc_invariant_control = pm->tsc_invariant_control;
        memcpy(st->crash_p, pm->crash_p, sizeof st->crash_p);
        st->n_crash_p = HVSHIM_STATE_CRASH_P;
        st->crash_ctl = pm->crash_ctl;
        hvshim_time_state_get(hv, st);
        pthread_mutex_unlock(&hv->msr_lock);
}

int hvshim_state_save(struct hvshim *hv, struct vmstate_writer *w) {
        if (!vid_partition_is_quiet(hv->p))
                return -EBUSY;
        struct hvshim_partition_state ps;
        partition_state_get(hv, &ps);
        int r = vmstate_encode(w, &hvshim_partition_state_desc, 0, &ps);
        struct hvshim_synic_state *st = r == 0 ? malloc(sizeof *st) : NULL;
        if (r == 0 && !st)
                r = -ENOMEM;
        for (unsigned i = 0; r == 0 && i < hv->n_vps; i++) {
                synic_vp_state_get(&hv->vps[i], st);
                r = vmstate_encode(w, &hvshim_synic_state_desc, i, st);
        }
        free(st);
        return r;
}

/* The saved guest was offered these features in its CPUID, which this
 * hvshim has installed from its own configuration. */
static int state_fits(const struct hvshim *hv, const struct hvshim_partition_state *ps, char *err, size_t errlen) {
        if (ps->n_vps != hv->n_vps)
                return errorf(err, errlen, -EINVAL, "section HVPT: the state has %u vCPUs, this VM %u", ps->n_vps,
                              hv->n_vps);
        const struct {
                bool saved, now;
                const char *name;
        } f[] = {
                { ps->reference_tsc, hv->cfg.reference_tsc, "the reference TSC page" },
                { ps->frequency_msrs, hv->cfg.frequency_msrs, "the frequency MSRs" },
                { ps->tsc_invariant, hv->cfg.tsc_invariant, "TSC invariance control" },
                { ps->crash_msrs, hv->cfg.crash_msrs, "the crash MSRs" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(f); i++)
                if (f[i].saved != f[i].now)
                        return errorf(err, errlen, -EINVAL, "section HVPT: the guest was %s %s, this VM %s",
                                      f[i].saved ? "offered" : "not offered", f[i].name,
                                      f[i].now ? "offers them" : "does not");
        return 0;
}

/* Every HVSY section decoded into st[], none for a VP this VM lacks. */
static int synic_sections_decode(struct hvshim *hv, const struct vmstate_section *secs, size_t n,
                                 struct hvshim_synic_state *st, char *err, size_t errlen) {
        for (size_t i = 0; i < n; i++)
                if (secs[i].tag == HVSHIM_STATE_TAG_SYNIC && secs[i].instance >= hv->n_vps)
                        return errorf(err, errlen, -EINVAL, "section HVSY #%u: this VM has %u vCPUs",
                                      secs[i].instance, hv->n_vps);
        for (unsigned i = 0; i < hv->n_vps; i++) {
                const struct vmstate_section *s = vmstate_find(secs, n, HVSHIM_STATE_TAG_SYNIC, i);
                if (!s)
                        return errorf(err, errlen, -EINVAL, "the state has no SynIC section for vCPU %u", i);
                int r = hvshim_synic_state_decode(s, &st[i], err, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* msr_lock held. The hypercall page is in the restored RAM as the guest
 * left it; the reference TSC page gets the formula that continues its
 * time (reftime.c). */
static void partition_msrs_set(struct hvshim *hv, const struct hvshim_partition_state *ps) {
        struct hv_msr_partition *pm = &hv->pmsrs;
        pm->guest_os_id = ps->guest_os_id;
        pm->hypercall = ps->hypercall;
        pm->reference_tsc = ps->reference_tsc_msr;
        pm->tsc_invariant_control = ps->tsc_invariant_control;
        memcpy(pm->crash_p, ps->crash_p, sizeof pm->crash_p);
        pm->crash_ctl = ps->crash_ctl;
        if (hv->cfg.reference_tsc && hv_msr_enabled(pm->reference_tsc))
                (void)hvshim_tsc_page_update(hv, pm->reference_tsc); /* outside RAM: as on the guest's write */
}

/* VP 0's guest TSC as vid saved it: where reference time stopped. */
static int saved_guest_tsc(const struct vmstate_section *secs, size_t n, uint64_t *tsc, char *err,
                           size_t errlen) {
        const struct vmstate_section *s = vmstate_find(secs, n, VID_STATE_TAG_VP, 0);
        if (!s)
                return errorf(err, errlen, -EINVAL, "the state has no VP section for vCPU 0 (its TSC)");
        struct vid_vp_state *vs = malloc(sizeof *vs);
        if (!vs)
                return -ENOMEM;
        int r = vid_vp_state_decode(s, vs, err, errlen);
        if (r == 0 && !vid_vp_state_tsc(vs, tsc))
                r = errorf(err, errlen, -EINVAL, "section VP #0 holds no IA32_TSC");
        free(vs);
        return r;
}

/* Decode and check everything, build what needs memory, take the time
 * over (which may refuse), and only then apply what cannot fail. */
static int restore(struct hvshim *hv, const struct vmstate_section *secs, size_t n, struct hvshim_synic_state *st,
                   struct synic_queue (*q)[HV_SYNIC_SINT_COUNT], char *err, size_t errlen) {
        const struct vmstate_section *part = vmstate_find(secs, n, HVSHIM_STATE_TAG_PARTITION, 0);
        if (!part)
                return errorf(err, errlen, -EINVAL, "the state has no HVPT section");
        struct hvshim_partition_state ps;
        int r = hvshim_partition_state_decode(part, &ps, err, errlen);
        if (r == 0)
                r = state_fits(hv, &ps, err, errlen);
        if (r == 0)
                r = synic_sections_decode(hv, secs, n, st, err, errlen);
        uint64_t tsc = 0;
        if (r == 0)
                r = saved_guest_tsc(secs, n, &tsc, err, errlen);
        for (unsigned i = 0; r == 0 && i < hv->n_vps; i++) {
                if (hv->vps[i].n_queued)
                        return errorf(err, errlen, -EBUSY, "messages were posted to vCPU %u before the restore", i);
                r = synic_queues_build(&st[i], q[i]);
        }
        if (r < 0)
                return r;
        pthread_mutex_lock(&hv->msr_lock);
        r = hvshim_time_state_set(hv, &ps, tsc, err, errlen);
        if (r == 0)
                partition_msrs_set(hv, &ps);
        pthread_mutex_unlock(&hv->msr_lock);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < hv->n_vps; i++)
                synic_vp_state_set(&hv->vps[i], &st[i], q[i]);
        return 0;
}

int hvshim_state_restore(struct hvshim *hv, const struct vmstate_section *secs, size_t n, char *err,
                         size_t errlen) {
        if (vid_partition_started(hv->p))
                return errorf(err, errlen, -EBUSY, "the partition already ran");
        struct hvshim_synic_state *st = calloc(hv->n_vps, sizeof *st);
        struct synic_queue (*q)[HV_SYNIC_SINT_COUNT] = calloc(hv->n_vps, sizeof *q);
        int r = st && q ? restore(hv, secs, n, st, q, err, errlen) : -ENOMEM;
        for (unsigned i = 0; q && i < hv->n_vps; i++)
                synic_queues_free(q[i]); /* what was not taken over */
        free(q);
        free(st);
        return r;
}

/* ---- hvshim's row of the worker's device table ------------------------ */

/* hvshim runs on VP threads only (no timers of its own), so once the
 * vCPUs are parked and the rows after it (the VMBus server and the
 * providers, which post through it) are quiesced it has nothing left to
 * stop. */
static int row_quiesce(void *dev) {
        return 0;
}

static void row_resume(void *dev) {
}

static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        int r = hvshim_state_save(dev, w);
        return r < 0 ? errorf(err, errlen, r, "saving the Hyper-V interface: %s", strerror(-r)) : 0;
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        return hvshim_state_restore(dev, secs, n, err, errlen);
}

static const uint32_t row_tags[] = { HVSHIM_STATE_TAG_PARTITION, HVSHIM_STATE_TAG_SYNIC, 0 };

const struct device_ops hvshim_device_ops = {
        .name = "hvshim", .quiesce = row_quiesce, .resume = row_resume,
        .save = row_save, .restore = row_restore, .tags = row_tags,
};
