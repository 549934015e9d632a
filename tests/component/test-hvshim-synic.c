// SPDX-License-Identifier: MIT
/* SynIC delivery against /dev/kvm (docs/hyperv-guest-interface.md §3):
 * messages into SIMP slot 2 with msg_pending/EOM queueing, event flags
 * with an interrupt on each 0 -> 1 transition, interrupts owed while
 * masked or disabled, a vector change (route retargeted), and the
 * kexec-like disable that drops the queue and reports synic_reset. The
 * guest (tests/guests/hvshim_guest.S, HG_CMD_SYNIC) reports every SINT
 * interrupt and consumes or scans only when the host tells it to. */
#include <sys/eventfd.h>

#include "common/log.h"
#include "hvshim/decode.h"
#include "tests/component/test-hvshim-harness.h"

#define SINT 2u

struct resets {
        pthread_mutex_t lock;
        unsigned calls, vp;
};

static void on_reset(void *opaque, unsigned vp_index) {
        struct resets *r = opaque;
        pthread_mutex_lock(&r->lock);
        r->calls++;
        r->vp = vp_index;
        pthread_mutex_unlock(&r->lock);
}

static int post(struct hg *h, uint32_t word0) {
        uint32_t payload[2] = { word0, ~word0 };
        return synic_post_message(h->hv, 0, SINT, HVMSG_VMBUS, payload, sizeof payload);
}

/* Wait for the n-th SINT interrupt and return its vector. */
static uint64_t irq(struct hg *h, unsigned n) {
        struct hg_mark m;
        ASSERT_TRUE(hg_wait_mark(h, HG_MARK_IRQ, n, HG_TIMEOUT_MS, &m));
        return m.res[HG_R_VECTOR];
}

static void expect_message(struct hg *h, unsigned nth, uint32_t word0, unsigned flags) {
        hg_step(h, HG_OP_CONSUME);
        struct hg_mark m;
        ASSERT_TRUE(hg_wait_mark(h, HG_MARK_MESSAGE, nth, 0, &m));
        ASSERT_EQ(m.res[HG_R_MSG_TYPE], HVMSG_VMBUS);
        ASSERT_EQ(m.res[HG_R_MSG_SIZE], 8u);
        ASSERT_EQ(m.res[HG_R_MSG_WORD0], word0);
        ASSERT_EQ(m.res[HG_R_MSG_FLAGS], flags);
}

/* Scan: the flags reported since the last scan, in bit order. */
static void expect_flags(struct hg *h, const unsigned *flags, unsigned n) {
        unsigned before = hg_count(h, HG_MARK_FLAG);
        hg_step(h, HG_OP_SCAN);
        ASSERT_EQ(hg_count(h, HG_MARK_FLAG), before + n);
        for (unsigned i = 0; i < n; i++) {
                struct hg_mark m;
                ASSERT_TRUE(hg_wait_mark(h, HG_MARK_FLAG, before + i + 1, 0, &m));
                ASSERT_EQ(m.res[HG_R_FLAG], flags[i]);
        }
}

static uint8_t slot_flags(struct hg *h) {
        uint8_t f = 0;
        ASSERT_OK(gm_read(h->p, HG_SIMP + SINT * 256 + 5, &f, 1));
        return f;
}

/* Before the guest enables anything: queued and remembered. */
static void before_enable(struct hg *h) {
        ASSERT_OK(synic_signal_event(h->hv, 0, SINT, 3));
        ASSERT_OK(post(h, 0xaaaa0001));
        hg_start(h);
        ASSERT_TRUE(hg_wait_mark(h, HG_MARK_READY, 1, HG_TIMEOUT_MS, NULL));
        ASSERT_EQ(irq(h, 1), (uint64_t)HG_VECTOR_SINT);
        expect_flags(h, (const unsigned[]){ 3 }, 1);
        expect_message(h, 1, 0xaaaa0001, 0);
}

/* Slot busy: the next message is queued with msg_pending set on the one
 * in the slot; the guest's EOM brings it in with a new interrupt. */
static void queue_and_eom(struct hg *h) {
        unsigned n = hg_count(h, HG_MARK_IRQ);
        ASSERT_OK(post(h, 0xbbbb0002));
        irq(h, n + 1);
        ASSERT_EQ(slot_flags(h), 0u);
        ASSERT_OK(post(h, 0xcccc0003));
        ASSERT_EQ(slot_flags(h) & HV_MESSAGE_FLAG_PENDING, HV_MESSAGE_FLAG_PENDING);
        expect_message(h, 2, 0xbbbb0002, HV_MESSAGE_FLAG_PENDING);
        irq(h, n + 2);
        expect_message(h, 3, 0xcccc0003, 0);
        struct hvshim_stats st;
        hvshim_get_stats(h->hv, &st);
        ASSERT_EQ(st.messages_queued, 2u); /* 0xaaaa0001 before enable, 0xcccc0003 */
        ASSERT_EQ(st.messages_posted, 3u);
}

/* An interrupt on each 0 -> 1 transition only. */
static void events(struct hg *h) {
        unsigned n = hg_count(h, HG_MARK_IRQ);
        ASSERT_OK(synic_signal_event(h->hv, 0, SINT, 5));
        ASSERT_EQ(irq(h, n + 1), (uint64_t)HG_VECTOR_SINT);
        ASSERT_OK(synic_signal_event(h->hv, 0, SINT, 5)); /* still set: no interrupt */
        usleep(100000);
        ASSERT_EQ(hg_count(h, HG_MARK_IRQ), n + 1);
        ASSERT_OK(synic_signal_event(h->hv, 0, SINT, 2047));
        irq(h, n + 2);
        expect_flags(h, (const unsigned[]){ 5, 2047 }, 2);
}

static bool page_dirty(struct hg *h, uint64_t gpa) {
        size_t words = vid_dirty_bitmap_words(h->p);
        uint64_t *b = calloc(words, sizeof *b);
        ASSERT_NOT_NULL(b);
        ASSERT_OK(vid_dirty_log_get(h->p, b, words));
        bool dirty = b[gpa / 4096 / 64] & (1ull << (gpa / 4096 % 64));
        free(b);
        return dirty;
}

/* Masked: the flag is set, the interrupt waits for the unmask. The flag
 * is in guest RAM that only the host wrote meanwhile: hvshim marked its
 * page dirty (docs/vm-state.md, "Dirty pages"). */
static void masked(struct hg *h) {
        hg_step(h, HG_OP_MASK);
        unsigned n = hg_count(h, HG_MARK_IRQ);
        ASSERT_OK(vid_dirty_log_start(h->p));
        (void)page_dirty(h, HG_SIEFP); /* clears the log */
        ASSERT_OK(synic_signal_event(h->hv, 0, SINT, 9));
        ASSERT_TRUE(page_dirty(h, HG_SIEFP));
        ASSERT_OK(vid_dirty_log_stop(h->p));
        usleep(100000);
        ASSERT_EQ(hg_count(h, HG_MARK_IRQ), n);
        hg_step(h, HG_OP_UNMASK);
        irq(h, n + 1);
        expect_flags(h, (const unsigned[]){ 9 }, 1);
}

static void revector(struct hg *h) {
        hg_step(h, HG_OP_REVECTOR);
        unsigned n = hg_count(h, HG_MARK_IRQ);
        ASSERT_OK(synic_signal_event(h->hv, 0, SINT, 10));
        ASSERT_EQ(irq(h, n + 1), (uint64_t)HG_VECTOR_ALT);
        expect_flags(h, (const unsigned[]){ 10 }, 1);
}

/* kexec-like: SCONTROL and SIMP off reports a reset; messages queue while
 * off (up to the limit) and flow when the guest enables again; the next
 * disable drops what is still queued. */
static void disable_enable(struct hg *h, struct resets *rs) {
        hg_step(h, HG_OP_DISABLE);
        ASSERT_EQ(rs->calls, 1u);
        ASSERT_EQ(rs->vp, 0u);
        for (uint32_t i = 0; i < HVSHIM_MAX_QUEUED; i++)
                ASSERT_OK(post(h, 0xc0000000u + i));
        ASSERT_ERROR(post(h, 0xdead), ENOBUFS);
        unsigned n = hg_count(h, HG_MARK_IRQ);
        hg_step(h, HG_OP_ENABLE);
        ASSERT_EQ(irq(h, n + 1), (uint64_t)HG_VECTOR_ALT);
        expect_message(h, 4, 0xc0000000u, HV_MESSAGE_FLAG_PENDING);
        irq(h, n + 2);
        hg_step(h, HG_OP_DISABLE);
        ASSERT_EQ(rs->calls, 2u);
        struct hvshim_stats st;
        hvshim_get_stats(h->hv, &st);
        ASSERT_EQ(st.messages_dropped, HVSHIM_MAX_QUEUED - 2u);
}

TEST(synic_messages_events_masking_reset) {
        struct hg h;
        struct resets rs = { .lock = PTHREAD_MUTEX_INITIALIZER };
        hg_init(&h, HG_CMD_SYNIC, NULL);
        hvshim_set_owner_ops(h.hv, &(struct hvshim_owner_ops){ .synic_reset = on_reset }, &rs);
        before_enable(&h);
        queue_and_eom(&h);
        events(&h);
        masked(&h);
        revector(&h);
        disable_enable(&h, &rs);
        ASSERT_EQ(hg_count(&h, HG_MARK_EXC), 0u);
        hg_finish(&h, 0);
}

struct posted_vp {
        pthread_mutex_t lock;
        unsigned calls, vp;
};

static uint16_t on_message(void *opaque, unsigned vp_index, uint32_t type, const void *payload, uint32_t size) {
        struct posted_vp *m = opaque;
        pthread_mutex_lock(&m->lock);
        m->calls++;
        m->vp = vp_index;
        pthread_mutex_unlock(&m->lock);
        return HV_STATUS_SUCCESS;
}

static uint64_t guest_u64(struct hg *h, uint64_t gpa) {
        uint64_t v;
        ASSERT_OK(gm_read(h->p, gpa, &v, sizeof v));
        return v;
}

/* Per-VP SynIC state and routing: each VP's VP_INDEX and hypercalls, and
 * messages and events reaching the target VP's pages and APIC only. */
TEST(synic_two_vps) {
        struct hg h;
        struct posted_vp pm = { .lock = PTHREAD_MUTEX_INITIALIZER };
        hg_init_image(&h, tg_hvshim_guest, tg_hvshim_guest_len, 2, HG_CMD_SMP, NULL);
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_OK(hvshim_set_message_handler(h.hv, 0x11, on_message, &pm));
        ASSERT_OK(hvshim_register_event(h.hv, 0x22, efd));
        hg_mailbox(&h, HG_MB_ARG, 0x11);
        hg_mailbox(&h, HG_MB_ARG2, 0x22);
        hg_start(&h);
        struct hg_mark ap;
        ASSERT_TRUE(hg_wait_mark(&h, HG_MARK_AP_READY, 1, HG_TIMEOUT_MS, &ap));
        ASSERT_EQ(ap.res[HG_R_AP_VP_INDEX], 1u);
        ASSERT_EQ(ap.res[HG_R_AP_POST], HV_STATUS_SUCCESS);
        ASSERT_EQ(ap.res[HG_R_AP_SIGNAL], HV_STATUS_SUCCESS);
        ASSERT_EQ(pm.calls, 1u);
        ASSERT_EQ(pm.vp, 1u);
        uint64_t n = 0;
        ASSERT_EQ(read(efd, &n, sizeof n), (ssize_t)sizeof n);
        ASSERT_EQ(n, 1u);

        /* One at a time: the handlers of both CPUs share the result slots. */
        ASSERT_OK(synic_post_message(h.hv, 1, SINT, HVMSG_VMBUS, "vp1", 4));
        struct hg_mark m;
        ASSERT_TRUE(hg_wait_mark(&h, HG_MARK_IRQ, 1, HG_TIMEOUT_MS, &m));
        ASSERT_EQ(m.res[HG_R_IRQ_CPU], 1u);
        ASSERT_EQ(guest_u64(&h, HG_SIMP_AP + 0x200) & 0xffffffffu, HVMSG_VMBUS);
        ASSERT_EQ(guest_u64(&h, HG_SIMP_AP + 0x210) & 0xffffffffu, 0x00317076u); /* "vp1" */
        ASSERT_EQ(guest_u64(&h, HG_SIMP + 0x200), 0u);
        ASSERT_OK(post(&h, 0x5150aaaa));
        ASSERT_TRUE(hg_wait_mark(&h, HG_MARK_IRQ, 2, HG_TIMEOUT_MS, &m));
        ASSERT_EQ(m.res[HG_R_IRQ_CPU], 0u);
        ASSERT_EQ(guest_u64(&h, HG_SIMP + 0x200) & 0xffffffffu, HVMSG_VMBUS);
        ASSERT_EQ(guest_u64(&h, HG_SIMP + 0x210) & 0xffffffffu, 0x5150aaaau);

        ASSERT_OK(synic_signal_event(h.hv, 1, SINT, 8));
        ASSERT_TRUE(hg_wait_mark(&h, HG_MARK_IRQ, 3, HG_TIMEOUT_MS, &m));
        ASSERT_EQ(m.res[HG_R_IRQ_CPU], 1u);
        ASSERT_EQ(guest_u64(&h, HG_SIEFP_AP + 0x200), 1u << 8);
        ASSERT_EQ(guest_u64(&h, HG_SIEFP + 0x200), 0u);
        ASSERT_OK(synic_signal_event(h.hv, 0, SINT, 7));
        ASSERT_TRUE(hg_wait_mark(&h, HG_MARK_IRQ, 4, HG_TIMEOUT_MS, &m));
        ASSERT_EQ(m.res[HG_R_IRQ_CPU], 0u);
        ASSERT_EQ(guest_u64(&h, HG_SIEFP + 0x200), 1u << 7);
        ASSERT_EQ(guest_u64(&h, HG_SIEFP_AP + 0x200), 1u << 8);
        ASSERT_EQ(hg_count(&h, HG_MARK_EXC), 0u);
        hg_finish(&h, 0);
        close(efd);
}

TEST(synic_api_checks) {
        struct hg h;
        hg_init(&h, HG_CMD_SYNIC, NULL);
        uint8_t big[HV_MESSAGE_PAYLOAD_BYTES + 1] = { 0 };
        ASSERT_ERROR(synic_post_message(h.hv, 1, SINT, 1, big, 8), EINVAL);  /* no VP 1 */
        ASSERT_ERROR(synic_post_message(h.hv, 0, 16, 1, big, 8), EINVAL);    /* SINT 0..15 */
        ASSERT_ERROR(synic_post_message(h.hv, 0, SINT, 1, big, sizeof big), EINVAL);
        ASSERT_ERROR(synic_post_message(h.hv, 0, SINT, HVMSG_NONE, big, 8), EINVAL);
        ASSERT_ERROR(synic_post_message(h.hv, 0, SINT, 1, NULL, 8), EINVAL);
        ASSERT_OK(synic_post_message(h.hv, 0, SINT, 1, NULL, 0));
        ASSERT_OK(synic_post_message(h.hv, 0, SINT, 1, big, HV_MESSAGE_PAYLOAD_BYTES));
        ASSERT_ERROR(synic_signal_event(h.hv, 1, SINT, 0), EINVAL);
        ASSERT_ERROR(synic_signal_event(h.hv, 0, 16, 0), EINVAL);
        ASSERT_ERROR(synic_signal_event(h.hv, 0, SINT, HV_EVENT_FLAGS_COUNT), EINVAL);
        ASSERT_OK(synic_signal_event(h.hv, 0, SINT, HV_EVENT_FLAGS_COUNT - 1));
        struct hvshim_stats st;
        hvshim_get_stats(h.hv, &st);
        ASSERT_EQ(st.messages_queued, 2u); /* SynIC not enabled yet */
        ASSERT_EQ(st.events_signaled, 1u);
        hg_finish(&h, 0);
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        log_parse_environment();
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
