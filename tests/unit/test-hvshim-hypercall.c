// SPDX-License-Identifier: MIT
/* Hypercall decoding and validation, the hypercall page, the CPUID leaves
 * and the reference-time arithmetic (hvshim/hypercall.c, cpuid.c):
 * well-formed and malformed input, with the TLFS status each gets. */
#include <time.h>

#include "common/test.h"
#include "hv/vmstack.h"
#include "hvshim/decode.h"
#include "hvshim/internal.h"

#define POST HVCALL_POST_MESSAGE
#define SIGNAL HVCALL_SIGNAL_EVENT
#define FAST HV_HYPERCALL_FAST_BIT

static uint16_t decode(uint64_t control) {
        struct hv_hypercall_control c;
        return hv_hypercall_decode(control, &c);
}

TEST(control_word_valid) {
        struct hv_hypercall_control c;
        ASSERT_EQ(hv_hypercall_decode(POST, &c), HV_STATUS_SUCCESS);
        ASSERT_EQ(c.code, POST);
        ASSERT_FALSE(c.fast);
        ASSERT_EQ(hv_hypercall_decode(SIGNAL | FAST, &c), HV_STATUS_SUCCESS);
        ASSERT_EQ(c.code, SIGNAL);
        ASSERT_TRUE(c.fast);
        ASSERT_EQ(decode(SIGNAL), HV_STATUS_SUCCESS); /* slow HvSignalEvent */
}

TEST(control_word_unknown_codes) {
        const uint64_t codes[] = { 0, 1, 0x0002, 0x000b, HVCALL_GET_PARTITION_ID, 0x0050, 0x005b, 0x005e,
                                   0x8001, 0xffff };
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
                ASSERT_EQ(decode(codes[i]), HV_STATUS_INVALID_HYPERCALL_CODE);
                ASSERT_EQ(decode(codes[i] | FAST), HV_STATUS_INVALID_HYPERCALL_CODE);
        }
        /* The code is checked first: reserved bits do not change it. */
        ASSERT_EQ(decode(0x99 | (1ull << 63)), HV_STATUS_INVALID_HYPERCALL_CODE);
}

TEST(control_word_reserved_and_rep) {
        for (unsigned b = 17; b < 64; b++) {
                bool reserved = (b >= 27 && b <= 31) || (b >= 44 && b <= 47) || b >= 60;
                bool varhead = b >= 17 && b <= 26, rep = (b >= 32 && b <= 43) || (b >= 48 && b <= 59);
                ASSERT_TRUE(reserved || varhead || rep);
                /* Any of them on a simple call without a variable header. */
                ASSERT_EQ(decode(POST | (1ull << b)), HV_STATUS_INVALID_HYPERCALL_INPUT);
                ASSERT_EQ(decode(SIGNAL | FAST | (1ull << b)), HV_STATUS_INVALID_HYPERCALL_INPUT);
        }
        struct hv_hypercall_control c;
        uint64_t control = SIGNAL | (5ull << HV_HYPERCALL_REP_COUNT_SHIFT) | (2ull << HV_HYPERCALL_REP_START_SHIFT) |
                           (3ull << HV_HYPERCALL_VARHEAD_SHIFT);
        ASSERT_EQ(hv_hypercall_decode(control, &c), HV_STATUS_INVALID_HYPERCALL_INPUT);
        ASSERT_EQ(c.rep_count, 5u);
        ASSERT_EQ(c.rep_start, 2u);
        ASSERT_EQ(c.var_header, 3u);
        /* 256 bytes of HvPostMessage input do not fit in registers. */
        ASSERT_EQ(decode(POST | FAST), HV_STATUS_INVALID_HYPERCALL_INPUT);
}

TEST(parameter_gpa) {
        const size_t n = sizeof(struct hv_input_post_message);
        ASSERT_EQ(hv_hypercall_check_gpa(0x1000, n), HV_STATUS_SUCCESS);
        ASSERT_EQ(hv_hypercall_check_gpa(0x1f00, n), HV_STATUS_SUCCESS); /* ends exactly at the page end */
        for (uint64_t off = 1; off < 8; off++)
                ASSERT_EQ(hv_hypercall_check_gpa(0x1000 + off, n), HV_STATUS_INVALID_ALIGNMENT);
        ASSERT_EQ(hv_hypercall_check_gpa(0x1f08, n), HV_STATUS_INVALID_ALIGNMENT); /* crosses a page */
        ASSERT_EQ(hv_hypercall_check_gpa(0x1ff8, 8), HV_STATUS_SUCCESS);
        ASSERT_EQ(hv_hypercall_check_gpa(0x1ffc, 8), HV_STATUS_INVALID_ALIGNMENT);
        ASSERT_EQ(hv_hypercall_check_gpa(UINT64_MAX - 7, 8), HV_STATUS_SUCCESS); /* RAM checks are gm_read's */
        ASSERT_EQ(hv_hypercall_check_gpa(0, HV_HYP_PAGE_SIZE + 8), HV_STATUS_INVALID_ALIGNMENT);
}

static struct hv_input_post_message good_post(void) {
        struct hv_input_post_message in = { .connection_id = 4, .message_type = 1, .payload_size = 40 };
        for (unsigned i = 0; i < sizeof in.payload; i++)
                in.payload[i] = (uint8_t)i;
        return in;
}

TEST(post_message_input) {
        struct hv_input_post_message in = good_post();
        struct hv_post_message m;
        ASSERT_EQ(hv_post_message_parse(&in, &m), HV_STATUS_SUCCESS);
        ASSERT_EQ(m.connection_id, 4u);
        ASSERT_EQ(m.message_type, 1u);
        ASSERT_EQ(m.payload_size, 40u);
        ASSERT_TRUE(m.payload == in.payload);
        in.payload_size = HV_MESSAGE_PAYLOAD_BYTES;
        ASSERT_EQ(hv_post_message_parse(&in, &m), HV_STATUS_SUCCESS);
        in.payload_size = 0;
        ASSERT_EQ(hv_post_message_parse(&in, &m), HV_STATUS_SUCCESS);
        in.message_type = 0x7fffffff;
        ASSERT_EQ(hv_post_message_parse(&in, &m), HV_STATUS_SUCCESS);

        struct { uint32_t conn, rsvd, type, size; uint16_t want; } bad[] = {
                { 4, 0, 1, HV_MESSAGE_PAYLOAD_BYTES + 1, HV_STATUS_INVALID_PARAMETER },
                { 4, 0, 1, UINT32_MAX, HV_STATUS_INVALID_PARAMETER },
                { 4, 0, 0, 8, HV_STATUS_INVALID_PARAMETER },           /* type 0 */
                { 4, 0, 0x80000001u, 8, HV_STATUS_INVALID_PARAMETER }, /* hypervisor types */
                { 0x01000004, 0, 1, 8, HV_STATUS_INVALID_HYPERCALL_INPUT },
                { 4, 1, 1, 8, HV_STATUS_INVALID_HYPERCALL_INPUT },     /* RsvdZ */
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                in = good_post();
                in.connection_id = bad[i].conn;
                in.reserved = bad[i].rsvd;
                in.message_type = bad[i].type;
                in.payload_size = bad[i].size;
                ASSERT_EQ(hv_post_message_parse(&in, &m), bad[i].want);
        }
}

TEST(signal_event_input) {
        struct hv_signal_event ev;
        ASSERT_EQ(hv_signal_event_parse(0x00abcdef, &ev), HV_STATUS_SUCCESS);
        ASSERT_EQ(ev.connection_id, 0xabcdefu);
        ASSERT_EQ(ev.flag_number, 0u);
        ASSERT_EQ(hv_signal_event_parse(7 | (2047ull << 32), &ev), HV_STATUS_SUCCESS);
        ASSERT_EQ(ev.flag_number, 2047u);
        ASSERT_EQ(hv_signal_event_parse(7 | (2048ull << 32), &ev), HV_STATUS_INVALID_PARAMETER);
        ASSERT_EQ(hv_signal_event_parse(7 | (0xffffull << 32), &ev), HV_STATUS_INVALID_PARAMETER);
        ASSERT_EQ(hv_signal_event_parse(7 | (1ull << 48), &ev), HV_STATUS_INVALID_HYPERCALL_INPUT);
        ASSERT_EQ(hv_signal_event_parse(0x01000007, &ev), HV_STATUS_INVALID_HYPERCALL_INPUT);
}

TEST(hypercall_page_layout) {
        const uint8_t *s = hv_hypercall_stub;
        ASSERT_EQ(hv_hypercall_stub_len, 0x28u);
        const uint8_t endbr[4] = { 0xf3, 0x0f, 0x1e, 0xfa }; /* 6.1.192+ look for it (§1.6) */
        ASSERT_MEMEQ(s, endbr, 4);
        ASSERT_EQ(s[HV_STUB_OUT_OFFSET], 0xefu); /* out %eax, (%dx) */
        ASSERT_EQ(s[HV_STUB_RET_OFFSET], 0xc3u);
        ASSERT_EQ(s[HV_STUB_IN_OFFSET], 0xedu);  /* in (%dx), %eax */
        ASSERT_EQ(s[HV_STUB_IN_OFFSET + 1], 0xc3u);
        /* mov $port, %edx right before each port access. */
        ASSERT_EQ(s[HV_STUB_OUT_OFFSET - 5], 0xbau);
        ASSERT_EQ(s[HV_STUB_OUT_OFFSET - 4] | s[HV_STUB_OUT_OFFSET - 3] << 8, VMSTACK_DOORBELL_PORT);
        ASSERT_EQ(s[HV_STUB_IN_OFFSET - 5], 0xbau);
        ASSERT_EQ(s[HV_STUB_IN_OFFSET - 4] | s[HV_STUB_IN_OFFSET - 3] << 8, VMSTACK_HYPERCALL_PORT);
        /* Both conditional jumps land on the slow path (mov %rdx, %r9). */
        ASSERT_EQ(s[0x0b], 0x75u);
        ASSERT_EQ(0x0d + (int8_t)s[0x0c], 0x1e);
        ASSERT_EQ(s[0x12], 0x75u);
        ASSERT_EQ(0x14 + (int8_t)s[0x13], 0x1e);
        const uint8_t slow[3] = { 0x49, 0x89, 0xd1 };
        ASSERT_MEMEQ(s + 0x1e, slow, 3);
        uint8_t page[HV_HYP_PAGE_SIZE];
        hv_hypercall_page_fill(page);
        ASSERT_MEMEQ(page, s, hv_hypercall_stub_len);
        for (size_t i = hv_hypercall_stub_len; i < sizeof page; i++)
                ASSERT_EQ(page[i], 0xccu);
}

static bool has_kvm_signature(const struct hv_cpuid_leaf *l) {
        return l->ebx == 0x4b4d564bu && l->ecx == 0x564b4d56u && l->edx == 0x4du;
}

TEST(cpuid_leaves) {
        struct hv_cpuid_leaf l[HV_CPUID_LEAF_COUNT];
        struct hvshim_config all = { true, true, true, true }, none = { 0 };
        hv_cpuid_leaves(&all, 4, l);
        for (unsigned i = 0; i < HV_CPUID_LEAF_COUNT; i++) {
                ASSERT_EQ(l[i].function, 0x40000000u + i);
                ASSERT_FALSE(has_kvm_signature(&l[i]));
        }
        ASSERT_EQ(l[0].eax, 0x40000005u);
        ASSERT_EQ(l[1].eax, 0x31237648u); /* "Hv#1" */
        ASSERT_EQ(l[3].eax, 0x8a66u);     /* bits 1, 2, 5, 6, 9, 11, 15 */
        ASSERT_EQ(l[3].ebx, 0x30u);       /* post messages, signal events */
        ASSERT_EQ(l[3].edx, 0x500u);      /* bits 8, 10 */
        ASSERT_EQ(l[4].eax, 0x200u);
        ASSERT_EQ(l[4].ebx, 0xffffffffu);
        ASSERT_EQ(l[5].eax, 4u);
        ASSERT_EQ(l[5].ebx, 4u);
        hv_cpuid_leaves(&none, 1, l);
        ASSERT_EQ(l[3].eax, 0x66u);
        ASSERT_EQ(l[3].edx, 0u);
}

TEST(reference_time_math) {
        ASSERT_EQ(hv_tsc_scale(HV_REFERENCE_TIME_HZ), 0u); /* would not fit */
        ASSERT_EQ(hv_tsc_scale(0), 0u);
        uint64_t s = hv_tsc_scale(1000000000ull); /* 1 GHz: floor(2^64 / 100) */
        ASSERT_EQ(s, 184467440737095516ull);
        ASSERT_EQ(hv_tsc_to_ref(1000000000ull, s, 0), 9999999u); /* one second, floor */
        ASSERT_EQ(hv_tsc_to_ref(1000000000ull, s, 1), 10000000u);
        ASSERT_EQ(hv_tsc_to_ref(0, s, -5), (uint64_t)-5); /* modulo 2^64, as the guest computes */
        uint64_t s2 = hv_tsc_scale(2445424000ull);
        uint64_t prev = 0;
        for (uint64_t tsc = 1ull << 40; tsc < (1ull << 40) + 100000; tsc += 977) {
                uint64_t t = hv_tsc_to_ref(tsc, s2, -1000);
                ASSERT_GE(t, prev);
                prev = t;
        }
        ASSERT_EQ(hv_tsc_sequence_next(0), 1u);
        ASSERT_EQ(hv_tsc_sequence_next(1), 2u);
        ASSERT_EQ(hv_tsc_sequence_next(0xfffffffeu), 1u); /* never 0 or 0xffffffff */
        ASSERT_EQ(hv_tsc_sequence_next(0xffffffffu), 1u);
}

/* Without a usable TSC rate (tsc_scale 0) the reference counter follows
 * CLOCK_MONOTONIC from creation; no KVM needed to check that. */
TEST(reference_time_without_tsc_rate) {
        struct hvshim hv = { .tsc_scale = 0, .time_dilation = 1 };
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        hv.mono_start_ns = now - 2000000000ull; /* created 2 s ago */
        uint64_t t = hvshim_reference_time(&hv);
        ASSERT_GE(t, 20000000u);
        ASSERT_LT(t, 20000000u + 10000000u);
        ASSERT_GE(hvshim_reference_time(&hv), t);
        /* Dilated 2x: 2 s of real time are 1 s of guest time. */
        hv.time_dilation = 2;
        t = hvshim_reference_time(&hv);
        ASSERT_GE(t, 10000000u);
        ASSERT_LT(t, 10000000u + 5000000u);
}

TEST_MAIN();
