// SPDX-License-Identifier: MIT
/* Hypercall decoding and validation, the hypercall page, and the
 * reference-time arithmetic: pure functions over guest-controlled values
 * (docs/hyperv-guest-interface.md §1.6, §1.7, §9.2; TLFS "Hypercall
 * Interface", HvCallPostMessage, HvCallSignalEvent). */
#include <string.h>

#include "hv/vmstack.h"
#include "hvshim/decode.h"

#define CONTROL_RESERVED (HV_HYPERCALL_RSVD0_MASK | HV_HYPERCALL_RSVD1_MASK | HV_HYPERCALL_RSVD2_MASK)

uint16_t hv_hypercall_decode(uint64_t control, struct hv_hypercall_control *out) {
        *out = (struct hv_hypercall_control){
                .code = (uint16_t)(control & HV_HYPERCALL_CODE_MASK),
                .fast = (control & HV_HYPERCALL_FAST_BIT) != 0,
                .var_header = (uint16_t)((control & HV_HYPERCALL_VARHEAD_MASK) >> HV_HYPERCALL_VARHEAD_SHIFT),
                .rep_count = (uint16_t)((control & HV_HYPERCALL_REP_COUNT_MASK) >> HV_HYPERCALL_REP_COUNT_SHIFT),
                .rep_start = (uint16_t)((control & HV_HYPERCALL_REP_START_MASK) >> HV_HYPERCALL_REP_START_SHIFT),
        };
        if (out->code != HVCALL_POST_MESSAGE && out->code != HVCALL_SIGNAL_EVENT)
                return HV_STATUS_INVALID_HYPERCALL_CODE;
        /* Both are simple (non-rep) calls without a variable header; any
         * reserved bit, a rep count or a rep start index is
         * INVALID_HYPERCALL_INPUT (TLFS common status codes). Bit 31 is
         * "nested" in newer kernels: not for us, so reserved. */
        if ((control & CONTROL_RESERVED) || out->rep_count || out->rep_start || out->var_header)
                return HV_STATUS_INVALID_HYPERCALL_INPUT;
        if (out->code == HVCALL_POST_MESSAGE && out->fast)
                return HV_STATUS_INVALID_HYPERCALL_INPUT;
        return HV_STATUS_SUCCESS;
}

uint16_t hv_hypercall_check_gpa(uint64_t gpa, size_t size) {
        if (gpa & (HV_HYPERCALL_PARAM_ALIGN - 1))
                return HV_STATUS_INVALID_ALIGNMENT;
        uint64_t in_page = gpa & (HV_HYP_PAGE_SIZE - 1);
        if (size > HV_HYP_PAGE_SIZE || in_page + size > HV_HYP_PAGE_SIZE)
                return HV_STATUS_INVALID_ALIGNMENT; /* spans pages */
        return HV_STATUS_SUCCESS;
}

uint16_t hv_post_message_parse(const struct hv_input_post_message *in, struct hv_post_message *out) {
        /* One read of each field: the input is a private copy, but keep the
         * habit for shared memory. */
        uint32_t conn = in->connection_id, rsvd = in->reserved, type = in->message_type, size = in->payload_size;
        if ((conn & ~HV_CONNECTION_ID_MASK) || rsvd)
                return HV_STATUS_INVALID_HYPERCALL_INPUT;
        if (type == HVMSG_NONE || (type & 0x80000000u) || size > HV_MESSAGE_PAYLOAD_BYTES)
                return HV_STATUS_INVALID_PARAMETER;
        *out = (struct hv_post_message){ .connection_id = conn, .message_type = type, .payload_size = size,
                                         .payload = in->payload };
        return HV_STATUS_SUCCESS;
}

uint16_t hv_signal_event_parse(uint64_t input, struct hv_signal_event *out) {
        uint32_t conn = (uint32_t)input;
        uint16_t flag = (uint16_t)(input >> HV_SIGNAL_EVENT_FLAG_SHIFT);
        uint16_t rsvd = (uint16_t)(input >> HV_SIGNAL_EVENT_RSVD_SHIFT);
        if ((conn & ~HV_CONNECTION_ID_MASK) || rsvd)
                return HV_STATUS_INVALID_HYPERCALL_INPUT;
        if (flag >= HV_EVENT_FLAGS_COUNT)
                return HV_STATUS_INVALID_PARAMETER;
        *out = (struct hv_signal_event){ .connection_id = conn, .flag_number = flag };
        return HV_STATUS_SUCCESS;
}

/* See the listing in hvshim/decode.h. */
#define LE16(v) (uint8_t)((v) & 0xff), (uint8_t)(((v) >> 8) & 0xff)
const uint8_t hv_hypercall_stub[] = {
        0xf3, 0x0f, 0x1e, 0xfa,                   /* 0x00 endbr64 */
        0x48, 0x81, 0xf9, 0x5d, 0x00, 0x01, 0x00, /* 0x04 cmp $0x1005d, %rcx */
        0x75, 0x11,                               /* 0x0b jne 0x1e */
        0x89, 0xd0,                               /* 0x0d mov %edx, %eax */
        0x48, 0x39, 0xd0,                         /* 0x0f cmp %rdx, %rax */
        0x75, 0x0a,                               /* 0x12 jne 0x1e */
        0xba, LE16(VMSTACK_DOORBELL_PORT), 0, 0,  /* 0x14 mov $port, %edx */
        0xef,                                     /* 0x19 out %eax, (%dx) */
        0x31, 0xc0,                               /* 0x1a xor %eax, %eax */
        0xc3,                                     /* 0x1c ret */
        0xcc,                                     /* 0x1d int3 */
        0x49, 0x89, 0xd1,                         /* 0x1e mov %rdx, %r9 */
        0xba, LE16(VMSTACK_HYPERCALL_PORT), 0, 0, /* 0x21 mov $port, %edx */
        0xed,                                     /* 0x26 in (%dx), %eax */
        0xc3,                                     /* 0x27 ret */
};
const size_t hv_hypercall_stub_len = sizeof hv_hypercall_stub;
_Static_assert(sizeof hv_hypercall_stub == 0x28, "stub layout");

void hv_hypercall_page_fill(uint8_t page[HV_HYP_PAGE_SIZE]) {
        memset(page, 0xcc, HV_HYP_PAGE_SIZE);
        memcpy(page, hv_hypercall_stub, sizeof hv_hypercall_stub);
}

uint64_t hv_tsc_scale(uint64_t tsc_hz) {
        if (tsc_hz <= HV_REFERENCE_TIME_HZ)
                return 0;
        return (uint64_t)(((unsigned __int128)HV_REFERENCE_TIME_HZ << 64) / tsc_hz);
}

uint64_t hv_tsc_to_ref(uint64_t tsc, uint64_t scale, int64_t offset) {
        uint64_t t = (uint64_t)(((unsigned __int128)tsc * scale) >> 64);
        return t + (uint64_t)offset;
}

uint32_t hv_tsc_sequence_next(uint32_t seq) {
        seq++;
        return seq == HV_TSC_SEQUENCE_INVALID || seq == 0xffffffffu ? 1 : seq;
}
