// SPDX-License-Identifier: MIT
/* hvshim's saved state (hvshim/state.h, docs/saved-state.md "HVPT" and
 * "HVSY"). A guest (tests/guests/hvshim_guest.S, HG_CMD_STATE) enables the
 * hypercall page, the reference TSC page and its SynIC and reads reference
 * time; the host leaves a message in its slot and another queued behind
 * it, sets event flags, and masks the SINT to owe it an interrupt. The
 * partition is paused, saved (vid's and hvshim's sections in one file),
 * destroyed, and a new one restored from the file runs on: the guest finds
 * its registers, message, queued message, flags and owed interrupt, and
 * reference time continues without a jump either way. Also: flags
 * signalled while SIEFP was off, the pure decoders' refusals and what a
 * restore refuses. */
#include <sys/mman.h>

#include "common/macro.h"
#include "hvshim/decode.h"
#include "hvshim/state.h"
#include "tests/component/test-hvshim-harness.h"
#include "vid/state.h"

#define SINT 2u
#define SAVED_GAP_MS 1000 /* the state lies in its file this long */

/* ---- the pure decoders ------------------------------------------------- */

struct file {
        int fd;
        struct vmstate_writer *w;
        uint8_t *buf;
        size_t len;
        struct vmstate_section secs[64];
        size_t n;
};

static void file_new(struct file *f) {
        memset(f, 0, sizeof *f);
        f->fd = memfd_create("state", MFD_CLOEXEC);
        ASSERT_TRUE(f->fd >= 0);
        ASSERT_OK(vmstate_writer_new(f->fd, 0, &f->w));
}

/* Finishes the file, maps and indexes it. */
static void file_index(struct file *f) {
        ASSERT_OK(vmstate_finish(f->w));
        f->len = (size_t)vmstate_written(f->w);
        vmstate_writer_free(f->w);
        f->w = NULL;
        f->buf = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, f->fd, 0);
        ASSERT_TRUE(f->buf != MAP_FAILED);
        char err[256] = "";
        struct vmstate_header h;
        int n = vmstate_index(f->buf, f->len, &h, f->secs, ARRAY_SIZE(f->secs), err, sizeof err);
        if (n < 0)
                fprintf(stderr, "vmstate_index: %s\n", err);
        ASSERT_TRUE(n > 0);
        f->n = (size_t)n;
}

static void file_free(struct file *f) {
        munmap(f->buf, f->len);
        close(f->fd);
}

static struct hvshim_partition_state good_partition(void) {
        struct hvshim_partition_state ps = {
                .n_vps = 1, .reference_tsc = true, .frequency_msrs = true, .tsc_invariant = true,
                .crash_msrs = true, .guest_os_id = 0x8100000601000000ull, .hypercall = 0x100001,
                .reference_tsc_msr = 0x105001, .n_crash_p = 5, .tsc_hz = 2999999000ull, .time_dilation = 1,
                .ref_offset = (uint64_t)-123456789ll, .tsc_sequence = 7, .reference_time = 55555,
        };
        ps.tsc_scale = hv_tsc_scale(ps.tsc_hz);
        return ps;
}

static void good_synic(struct hvshim_synic_state *st) {
        memset(st, 0, sizeof *st);
        st->scontrol = 1, st->simp = 0x103001, st->siefp = 0x104001;
        for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
                st->sint[i] = HV_SYNIC_SINT_MASKED;
        st->sint[SINT] = 0xf3;
        st->n_sint = HV_SYNIC_SINT_COUNT;
        st->pending_irq = 1u << 5;
        st->shadow_word[0] = SINT * 32 + 1, st->shadow_bits[0] = 1ull << 63;
        st->n_shadow_word = st->n_shadow_bits = 1;
        st->msg_sint[0] = SINT, st->msg_type[0] = HVMSG_VMBUS, st->msg_size[0] = 3;
        st->n_msg_sint = st->n_msg_type = st->n_msg_size = 1;
        memcpy(st->msg_payload, "abc", 3);
        st->msg_payload_len = 3;
}

/* An HVSY section written field by field: n_msgs queued messages (empty,
 * SINT 2), and an extra field id when unknown_id is not 0. */
static void synic_raw(struct vmstate_writer *w, uint32_t instance, uint32_t n_msgs, uint16_t unknown_id) {
        uint64_t sint[HV_SYNIC_SINT_COUNT];
        for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
                sint[i] = HV_SYNIC_SINT_MASKED;
        uint32_t *msg_sint = calloc(n_msgs + 1, 4), *msg_type = calloc(n_msgs + 1, 4), *msg_size = calloc(n_msgs + 1, 4);
        for (uint32_t i = 0; i < n_msgs; i++)
                msg_sint[i] = SINT, msg_type[i] = HVMSG_VMBUS;
        ASSERT_OK(vmstate_begin(w, HVSHIM_STATE_TAG_SYNIC, instance, 1, 0));
        for (uint16_t id = 1; id <= 4; id++)
                ASSERT_OK(vmstate_put_u64(w, id, 0));
        ASSERT_OK(vmstate_put(w, 5, VMSTATE_U64_ARRAY, sint, sizeof sint));
        ASSERT_OK(vmstate_put_u32(w, 6, 0));
        ASSERT_OK(vmstate_put(w, 7, VMSTATE_U32_ARRAY, NULL, 0));
        ASSERT_OK(vmstate_put(w, 8, VMSTATE_U64_ARRAY, NULL, 0));
        ASSERT_OK(vmstate_put(w, 9, VMSTATE_U32_ARRAY, msg_sint, 4ull * n_msgs));
        ASSERT_OK(vmstate_put(w, 10, VMSTATE_U32_ARRAY, msg_type, 4ull * n_msgs));
        ASSERT_OK(vmstate_put(w, 11, VMSTATE_U32_ARRAY, msg_size, 4ull * n_msgs));
        ASSERT_OK(vmstate_put(w, 12, VMSTATE_VARBYTES, NULL, 0));
        if (unknown_id)
                ASSERT_OK(vmstate_put_u32(w, unknown_id, 1));
        ASSERT_OK(vmstate_end(w));
        free(msg_sint), free(msg_type), free(msg_size);
}

static void expect_synic_refused(const struct file *f, uint32_t instance, const char *why) {
        struct hvshim_synic_state *st = malloc(sizeof *st);
        char err[256] = "";
        const struct vmstate_section *s = vmstate_find(f->secs, f->n, HVSHIM_STATE_TAG_SYNIC, instance);
        ASSERT_NOT_NULL(s);
        ASSERT_ERROR(hvshim_synic_state_decode(s, st, err, sizeof err), EINVAL);
        if (!strstr(err, why))
                fprintf(stderr, "HVSY #%u: \"%s\" does not say \"%s\"\n", instance, err, why);
        ASSERT_NOT_NULL(strstr(err, why));
        free(st);
}

static void expect_partition_refused(const struct hvshim_partition_state *ps, const char *why) {
        struct file f;
        file_new(&f);
        ASSERT_OK(vmstate_encode(f.w, &hvshim_partition_state_desc, 0, ps));
        file_index(&f);
        struct hvshim_partition_state back;
        char err[256] = "";
        ASSERT_ERROR(hvshim_partition_state_decode(&f.secs[0], &back, err, sizeof err), EINVAL);
        if (!strstr(err, why))
                fprintf(stderr, "HVPT: \"%s\" does not say \"%s\"\n", err, why);
        ASSERT_NOT_NULL(strstr(err, why));
        file_free(&f);
}

TEST(decoders_accept_what_save_writes) {
        struct file f;
        file_new(&f);
        struct hvshim_partition_state ps = good_partition(), pb;
        struct hvshim_synic_state *st = malloc(sizeof *st), *back = malloc(sizeof *back);
        good_synic(st);
        ASSERT_OK(vmstate_encode(f.w, &hvshim_partition_state_desc, 0, &ps));
        ASSERT_OK(vmstate_encode(f.w, &hvshim_synic_state_desc, 0, st));
        file_index(&f);
        char err[256] = "";
        ASSERT_OK(hvshim_partition_state_decode(&f.secs[0], &pb, err, sizeof err));
        ASSERT_TRUE(memcmp(&pb, &ps, sizeof ps) == 0);
        ASSERT_OK(hvshim_synic_state_decode(&f.secs[1], back, err, sizeof err));
        ASSERT_TRUE(memcmp(back, st, sizeof *st) == 0);
        file_free(&f);
        free(st), free(back);
}

TEST(synic_decoder_refusals) {
        struct file f;
        file_new(&f);
        struct hvshim_synic_state *st = malloc(sizeof *st);
        uint32_t i = 0;
#define CASE(change)                                                           \
        do {                                                                   \
                good_synic(st);                                                \
                change;                                                        \
                ASSERT_OK(vmstate_encode(f.w, &hvshim_synic_state_desc, i++, st)); \
        } while (0)
        CASE(st->sint[3] = 0x5);                          /* 0: unmasked, vector below 16 */
        CASE(st->sint[4] = HV_SYNIC_SINT_MASKED | 1ull << 40); /* 1: reserved bit */
        CASE(st->simp = 0x103003);                        /* 2: reserved bit 1 */
        CASE(st->n_sint = 15);                            /* 3 */
        CASE(st->pending_irq = 1u << 16);                 /* 4 */
        CASE(st->msg_sint[0] = 16);                       /* 5 */
        CASE(st->msg_type[0] = HVMSG_NONE);               /* 6 */
        CASE(st->msg_size[0] = 2);                        /* 7: payload bytes do not add up */
        CASE(st->n_msg_type = 0);                         /* 8 */
        CASE(st->shadow_bits[0] = 0);                     /* 9 */
        CASE(st->shadow_word[0] = 512);                   /* 10 */
#undef CASE
        synic_raw(f.w, 11, 0, 99);                        /* unknown field id */
        synic_raw(f.w, 12, HVSHIM_MAX_QUEUED + 1, 0);     /* one message over the limit */
        synic_raw(f.w, 13, HVSHIM_MAX_QUEUED, 0);         /* at the limit: fine */
        file_index(&f);
        expect_synic_refused(&f, 0, "SINT3 = 0x5");
        expect_synic_refused(&f, 1, "SINT4");
        expect_synic_refused(&f, 2, "SIMP");
        expect_synic_refused(&f, 3, "not 16");
        expect_synic_refused(&f, 4, "above 15");
        expect_synic_refused(&f, 5, "SINT above 15");
        expect_synic_refused(&f, 6, "type 0");
        expect_synic_refused(&f, 7, "do not add up");
        expect_synic_refused(&f, 8, "differ in number");
        expect_synic_refused(&f, 9, "empty word");
        expect_synic_refused(&f, 10, "out of range");
        expect_synic_refused(&f, 11, "unknown field id 99");
        expect_synic_refused(&f, 12, "msg_sint");
        char err[256] = "";
        ASSERT_OK(hvshim_synic_state_decode(vmstate_find(f.secs, f.n, HVSHIM_STATE_TAG_SYNIC, 13), st, err,
                                            sizeof err));
        ASSERT_EQ(st->n_msg_sint, HVSHIM_MAX_QUEUED);
        file_free(&f);
        free(st);
}

TEST(partition_decoder_refusals) {
        struct hvshim_partition_state ps = good_partition();
        ps.tsc_scale++;
        expect_partition_refused(&ps, "scale");
        ps = good_partition(), ps.time_dilation = 0;
        expect_partition_refused(&ps, "dilation");
        ps = good_partition(), ps.time_dilation = HVSHIM_MAX_TIME_DILATION + 1;
        expect_partition_refused(&ps, "dilation");
        ps = good_partition(), ps.n_vps = 0;
        expect_partition_refused(&ps, "vCPU count");
        ps = good_partition(), ps.n_crash_p = 4;
        expect_partition_refused(&ps, "crash registers");
        ps = good_partition(), ps.hypercall |= 0x4;
        expect_partition_refused(&ps, "HYPERCALL = 0x100005");
        ps = good_partition(), ps.crash_msrs = false, ps.crash_p[2] = 1;
        expect_partition_refused(&ps, "CRASH_P2");
        ps = good_partition(), ps.reference_tsc = false;
        expect_partition_refused(&ps, "REFERENCE_TSC"); /* enabled, but not offered */
        ps = good_partition(), ps.tsc_invariant_control = 2;
        expect_partition_refused(&ps, "TSC_INVARIANT_CONTROL");
        ps = good_partition(), ps.tsc_hz = 0, ps.tsc_scale = 0;
        expect_partition_refused(&ps, "without a TSC rate");
        ps = good_partition(), ps.tsc_sequence = 0xffffffffu;
        expect_partition_refused(&ps, "sequence");
}

/* ---- against /dev/kvm ----------------------------------------------------- */

/* vid's sections and hvshim's of a paused (or unstarted) partition. */
static void save(struct hg *h, struct file *f) {
        file_new(f);
        ASSERT_OK(vid_state_save(h->p, f->w));
        ASSERT_OK(hvshim_state_save(h->hv, f->w));
        file_index(f);
}

/* A new partition restored from f, not started; its step counter
 * continues h's. */
static void restore(struct hg *h2, const struct hg *h, const struct file *f) {
        hg_init_bare(h2, 1, NULL);
        h2->step = h->step;
        char err[256] = "";
        int r = vid_state_restore(h2->p, f->secs, f->n, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "vid_state_restore: %s\n", err);
        ASSERT_OK(r);
        r = hvshim_state_restore(h2->hv, f->secs, f->n, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "hvshim_state_restore: %s\n", err);
        ASSERT_OK(r);
}

static int post(struct hg *h, uint32_t word0) {
        uint32_t payload[2] = { word0, ~word0 };
        return synic_post_message(h->hv, 0, SINT, HVMSG_VMBUS, payload, sizeof payload);
}

/* hg_step() for a guest whose step count continues from before a save
 * (the guest acts on a step number it has not seen): waits for the next
 * STEP_DONE mark of this partition rather than the step-th. */
static struct hg_mark step(struct hg *h, uint32_t op) {
        unsigned n = hg_count(h, HG_MARK_STEP_DONE);
        h->step++;
        hg_mailbox(h, HG_MB_OP, op);
        hg_mailbox(h, HG_MB_STEP, h->step);
        ASSERT_OK(vid_msi_send(h->p, 0, HG_VECTOR_WAKE));
        struct hg_mark m;
        ASSERT_TRUE(hg_wait_mark(h, HG_MARK_STEP_DONE, n + 1, HG_TIMEOUT_MS, &m));
        ASSERT_EQ(m.res[HG_R_STEP], (uint64_t)h->step);
        return m;
}

static uint64_t irq(struct hg *h, unsigned n) {
        struct hg_mark m;
        ASSERT_TRUE(hg_wait_mark(h, HG_MARK_IRQ, n, HG_TIMEOUT_MS, &m));
        return m.res[HG_R_VECTOR];
}

static void expect_message(struct hg *h, unsigned nth, uint32_t word0, unsigned flags) {
        step(h, HG_OP_CONSUME);
        struct hg_mark m;
        ASSERT_TRUE(hg_wait_mark(h, HG_MARK_MESSAGE, nth, 0, &m));
        ASSERT_EQ(m.res[HG_R_MSG_TYPE], HVMSG_VMBUS);
        ASSERT_EQ(m.res[HG_R_MSG_SIZE], 8u);
        ASSERT_EQ(m.res[HG_R_MSG_WORD0], word0);
        ASSERT_EQ(m.res[HG_R_MSG_FLAGS], flags);
}

static void expect_flags(struct hg *h, const unsigned *flags, unsigned n) {
        unsigned before = hg_count(h, HG_MARK_FLAG);
        step(h, HG_OP_SCAN);
        ASSERT_EQ(hg_count(h, HG_MARK_FLAG), before + n);
        for (unsigned i = 0; i < n; i++) {
                struct hg_mark m;
                ASSERT_TRUE(hg_wait_mark(h, HG_MARK_FLAG, before + i + 1, 0, &m));
                ASSERT_EQ(m.res[HG_R_FLAG], flags[i]);
        }
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* The guest's state before the save: message A in slot 2 and B queued
 * behind it (msg_pending set), flag 7 taken with an interrupt, SINT 2
 * masked and flag 9 owing it an interrupt. */
static void prepare(struct hg *h) {
        ASSERT_OK(post(h, 0xaaaa0001));
        ASSERT_EQ(irq(h, 1), (uint64_t)HG_VECTOR_SINT);
        ASSERT_OK(post(h, 0xbbbb0002));
        ASSERT_OK(synic_signal_event(h->hv, 0, SINT, 7));
        irq(h, 2);
        step(h, HG_OP_MASK);
        ASSERT_OK(synic_signal_event(h->hv, 0, SINT, 9));
}

/* What the file holds about it. */
static void check_file(const struct file *f, uint64_t ref_before) {
        char err[256] = "";
        struct hvshim_partition_state ps;
        ASSERT_OK(hvshim_partition_state_decode(vmstate_find(f->secs, f->n, HVSHIM_STATE_TAG_PARTITION, 0), &ps,
                                                err, sizeof err));
        ASSERT_EQ(ps.hypercall, (uint64_t)(HG_HYPERCALL_PAGE | 1));
        ASSERT_EQ(ps.reference_tsc_msr, (uint64_t)(HG_TSC_PAGE | 1));
        ASSERT_EQ(ps.guest_os_id, 0x8100000601000000ull);
        ASSERT_EQ(ps.time_dilation, 1u);
        ASSERT_TRUE(ps.tsc_scale != 0 && ps.tsc_sequence != 0);
        ASSERT_TRUE(ps.reference_time > ref_before);
        struct hvshim_synic_state *st = malloc(sizeof *st);
        ASSERT_OK(hvshim_synic_state_decode(vmstate_find(f->secs, f->n, HVSHIM_STATE_TAG_SYNIC, 0), st, err,
                                            sizeof err));
        ASSERT_EQ(st->sint[SINT], (uint64_t)(HV_SYNIC_SINT_MASKED | HG_VECTOR_SINT));
        ASSERT_EQ(st->pending_irq, 1u << SINT);
        ASSERT_EQ(st->n_msg_sint, 1u);
        ASSERT_EQ(st->msg_sint[0], SINT);
        ASSERT_EQ(st->msg_size[0], 8u);
        ASSERT_EQ(st->n_shadow_word, 0u);
        free(st);
}

TEST(save_restore_synic_and_reference_time) {
        TEST_REQUIRE_KVM();
        struct hg h, h2;
        hg_init(&h, HG_CMD_STATE, NULL);
        hg_start(&h);
        ASSERT_TRUE(hg_wait_mark(&h, HG_MARK_READY, 1, HG_TIMEOUT_MS, NULL));

        uint64_t t_before_ref1 = hg_now_ns();
        struct hg_mark m1 = step(&h, HG_OP_TIME);
        uint64_t ref1 = m1.res[HG_R_REF1], seq1 = m1.res[HG_R_TSC_SEQ];
        ASSERT_TRUE(m1.res[HG_R_PAGE1] >= ref1); /* read after it, on the same timeline */
        prepare(&h);

        /* A running partition is not saved. */
        struct file busy;
        file_new(&busy);
        ASSERT_ERROR(hvshim_state_save(h.hv, busy.w), EBUSY);
        vmstate_writer_free(busy.w);
        close(busy.fd);

        sleep_ms(200); /* guest time that must show in reference time */
        ASSERT_OK(vid_partition_pause(h.p));
        uint64_t t_paused = hg_now_ns();
        struct file f;
        save(&h, &f);
        uint64_t t_saved = hg_now_ns();
        printf("# state file: %zu bytes, %zu sections\n", f.len, f.n);
        check_file(&f, ref1);
        struct hvshim_partition_state ps;
        char err[256] = "";
        ASSERT_OK(hvshim_partition_state_decode(vmstate_find(f.secs, f.n, HVSHIM_STATE_TAG_PARTITION, 0), &ps, err,
                                                sizeof err));
        hg_finish(&h, 0);

        sleep_ms(SAVED_GAP_MS); /* no guest time passes while saved */
        uint64_t t_restore = hg_now_ns();
        restore(&h2, &h, &f);
        /* Host side: the formula on the restored TSC gives the saved time
         * again (less what passed between vid's TSC read and hvshim's). */
        uint64_t ref_host = hvshim_reference_time(h2.hv);
        printf("# reference time: saved %llu, right after restore %llu (100 ns)\n",
               (unsigned long long)ps.reference_time, (unsigned long long)ref_host);
        ASSERT_TRUE(ref_host >= ref1);
        ASSERT_TRUE(ref_host + (t_saved - t_paused) / 100 + 100000 >= ps.reference_time);
        ASSERT_TRUE(ref_host <= ps.reference_time + (hg_now_ns() - t_restore) / 100 + 100000);
        hg_start(&h2);

        /* Registers as the guest left them. */
        struct hg_mark r = step(&h2, HG_OP_READ_MSRS);
        ASSERT_EQ(r.res[HG_R_SINT2], (uint64_t)(HV_SYNIC_SINT_MASKED | HG_VECTOR_SINT));
        ASSERT_EQ(r.res[HG_R_SIMP_MSR], (uint64_t)(HG_SIMP | 1));
        ASSERT_EQ(r.res[HG_R_SIEFP_MSR], (uint64_t)(HG_SIEFP | 1));
        ASSERT_EQ(r.res[HG_R_SCONTROL_MSR], 1u);
        ASSERT_EQ(r.res[HG_R_HC_MSR], (uint64_t)(HG_HYPERCALL_PAGE | 1));
        ASSERT_EQ(r.res[HG_R_OS_ID], 0x8100000601000000ull);
        ASSERT_EQ(r.res[HG_R_REFTSC_MSR], (uint64_t)(HG_TSC_PAGE | 1));
        /* A still in its slot, with B behind it: the guest's EOM brings B
         * in, whose interrupt waits, owed, until the SINT is unmasked. */
        expect_message(&h2, 1, 0xaaaa0001, HV_MESSAGE_FLAG_PENDING);
        ASSERT_EQ(hg_count(&h2, HG_MARK_IRQ), 0u);
        step(&h2, HG_OP_UNMASK);
        ASSERT_EQ(irq(&h2, 1), (uint64_t)HG_VECTOR_SINT);
        expect_message(&h2, 2, 0xbbbb0002, 0);
        expect_flags(&h2, (const unsigned[]){ 7, 9 }, 2);
        /* The SINT works as before: a new message, a new flag. */
        ASSERT_OK(post(&h2, 0xcccc0003));
        irq(&h2, 2);
        expect_message(&h2, 3, 0xcccc0003, 0);

        /* Reference time continued: later than before the save, by no more
         * than the guest ran (the time it lay saved excluded). */
        struct hg_mark m2 = step(&h2, HG_OP_TIME);
        uint64_t t_end = hg_now_ns();
        uint64_t ref2 = m2.res[HG_R_REF1];
        ASSERT_TRUE(m2.res[HG_R_PAGE1] >= ref2);
        ASSERT_EQ(m2.res[HG_R_TSC_SEQ], hv_tsc_sequence_next((uint32_t)seq1)); /* published again */
        uint64_t ran_max = (t_saved - t_before_ref1) + (t_end - t_restore);
        uint64_t ran_min = t_paused - m1.ns;
        printf("# reference time advanced %.3f s across the save; the guest ran %.3f..%.3f s, lay saved %.3f s\n",
               (double)(ref2 - ref1) / 1e7, (double)ran_min / 1e9, (double)ran_max / 1e9,
               (double)(t_restore - t_saved) / 1e9);
        ASSERT_TRUE(ref2 > ref1);
        ASSERT_TRUE(ref2 - ref1 + 100000 >= ran_min / 100); /* TSC rate vs. CLOCK_MONOTONIC */
        ASSERT_TRUE(ref2 - ref1 <= ran_max / 100 + 100000); /* + 10 ms */
        ASSERT_EQ(hg_count(&h2, HG_MARK_EXC), 0u);
        hg_finish(&h2, 0);
        file_free(&f);
}

/* Flags signalled while SIEFP was off wait in hvshim (not in guest RAM)
 * and reach the page when the restored guest enables it. */
TEST(save_restore_flags_while_siefp_off) {
        TEST_REQUIRE_KVM();
        struct hg h, h2;
        hg_init(&h, HG_CMD_STATE, NULL);
        hg_start(&h);
        ASSERT_TRUE(hg_wait_mark(&h, HG_MARK_READY, 1, HG_TIMEOUT_MS, NULL));
        step(&h, HG_OP_SIEFP_OFF);
        ASSERT_OK(synic_signal_event(h.hv, 0, SINT, 11));
        ASSERT_OK(synic_signal_event(h.hv, 0, SINT, 1000));
        irq(&h, 1);
        ASSERT_OK(vid_partition_pause(h.p));
        struct file f;
        save(&h, &f);
        hg_finish(&h, 0);
        struct hvshim_synic_state *st = malloc(sizeof *st);
        char err[256] = "";
        ASSERT_OK(hvshim_synic_state_decode(vmstate_find(f.secs, f.n, HVSHIM_STATE_TAG_SYNIC, 0), st, err,
                                            sizeof err));
        ASSERT_EQ(st->n_shadow_word, 2u);
        ASSERT_EQ(st->shadow_word[0], SINT * 32u);
        ASSERT_EQ(st->shadow_bits[0], 1ull << 11);
        ASSERT_EQ(st->shadow_word[1], SINT * 32u + 1000 / 64);
        ASSERT_EQ(st->shadow_bits[1], 1ull << (1000 % 64));
        free(st);

        restore(&h2, &h, &f);
        hg_start(&h2);
        step(&h2, HG_OP_SIEFP_ON);
        irq(&h2, 1);
        expect_flags(&h2, (const unsigned[]){ 11, 1000 }, 2);
        ASSERT_EQ(hg_count(&h2, HG_MARK_EXC), 0u);
        hg_finish(&h2, 0);
        file_free(&f);
}

/* The index without the sections of one tag. */
static size_t without(const struct file *f, uint32_t tag, struct vmstate_section *out) {
        size_t n = 0;
        for (size_t i = 0; i < f->n; i++)
                if (f->secs[i].tag != tag)
                        out[n++] = f->secs[i];
        return n;
}

/* A guest keeps the clock it calibrated: a state saved with time dilation
 * 8 (a Linux guest on PVM) restored where this host would choose 1 (a
 * VT-x host) runs on at 8, and says so to the owner, whose deadlines on
 * the guest (hv_sock's offers) scale by it. */
TEST(a_restore_keeps_the_saved_time_dilation) {
        TEST_REQUIRE_KVM();
        struct hvshim_config cfg = {
                .reference_tsc = true, .frequency_msrs = true, .tsc_invariant = true, .crash_msrs = true,
                .time_dilation = 8,
        };
        struct hg h, h2;
        hg_init(&h, HG_CMD_STATE, &cfg);
        ASSERT_EQ(hvshim_time_dilation(h.hv), 8u);
        struct file f;
        save(&h, &f);
        struct hvshim_partition_state ps;
        char err[256] = "";
        ASSERT_OK(hvshim_partition_state_decode(vmstate_find(f.secs, f.n, HVSHIM_STATE_TAG_PARTITION, 0), &ps, err,
                                                sizeof err));
        ASSERT_EQ(ps.time_dilation, 8u);
        cfg.time_dilation = 0; /* this host's choice: none */
        hg_init_bare(&h2, 1, &cfg);
        ASSERT_EQ(hvshim_time_dilation(h2.hv), 1u);
        ASSERT_OK(hvshim_state_restore(h2.hv, f.secs, f.n, err, sizeof err));
        ASSERT_EQ(hvshim_time_dilation(h2.hv), 8u);
        hg_finish(&h2, 0);
        hg_finish(&h, 0);
        file_free(&f);
}

/* What a restore refuses, leaving the hvshim as it was. */
TEST(restore_refusals) {
        TEST_REQUIRE_KVM();
        struct hg h, other;
        char err[256] = "";
        hg_init(&h, HG_CMD_STATE, NULL);
        struct file f;
        save(&h, &f); /* never started: quiet */
        ASSERT_EQ(f.n, 6u); /* CPID, PART, VP, RAM, HVPT, HVSY */

        hg_init_bare(&other, 2, NULL);
        ASSERT_ERROR(hvshim_state_restore(other.hv, f.secs, f.n, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "vCPUs"));
        hg_finish(&other, 0);

        struct hvshim_config cfg = { .reference_tsc = true, .frequency_msrs = true, .tsc_invariant = true };
        hg_init_bare(&other, 1, &cfg);
        ASSERT_ERROR(hvshim_state_restore(other.hv, f.secs, f.n, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "crash MSRs"));
        hg_finish(&other, 0);

        hg_init_bare(&other, 1, NULL);
        struct vmstate_section part[8];
        size_t n = without(&f, HVSHIM_STATE_TAG_SYNIC, part);
        ASSERT_ERROR(hvshim_state_restore(other.hv, part, n, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "no SynIC section for vCPU 0"));
        n = without(&f, HVSHIM_STATE_TAG_PARTITION, part);
        ASSERT_ERROR(hvshim_state_restore(other.hv, part, n, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "no HVPT"));
        n = without(&f, VID_STATE_TAG_VP, part);
        ASSERT_ERROR(hvshim_state_restore(other.hv, part, n, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "no VP section"));
        ASSERT_OK(post(&other, 0x1234)); /* a fresh hvshim only */
        ASSERT_ERROR(hvshim_state_restore(other.hv, f.secs, f.n, err, sizeof err), EBUSY);
        hg_finish(&other, 0);

        hg_start(&h); /* and one that never ran */
        ASSERT_TRUE(hg_wait_mark(&h, HG_MARK_READY, 1, HG_TIMEOUT_MS, NULL));
        ASSERT_ERROR(hvshim_state_restore(h.hv, f.secs, f.n, err, sizeof err), EBUSY);
        hg_finish(&h, 0);
        file_free(&f);
}

TEST_MAIN()
