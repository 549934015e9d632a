// SPDX-License-Identifier: MIT
/* Hypercall input decoding (hvshim/decode.h): a control word, a parameter
 * GPA / fast input and an HvPostMessage input block, all guest-chosen.
 * Whatever the bytes, every function returns a TLFS status from its
 * documented set, and what it accepts satisfies the limits the rest of
 * hvshim relies on; anything else aborts. */
#include <stdlib.h>
#include <string.h>

#include "hvshim/decode.h"

static uint64_t take_u64(const uint8_t **data, size_t *size) {
        uint64_t v = 0;
        size_t n = *size < sizeof v ? *size : sizeof v;
        memcpy(&v, *data, n);
        *data += n;
        *size -= n;
        return v;
}

static void check_control(uint64_t control) {
        struct hv_hypercall_control c;
        uint16_t st = hv_hypercall_decode(control, &c);
        if (st == HV_STATUS_SUCCESS) {
                if (c.code != HVCALL_POST_MESSAGE && c.code != HVCALL_SIGNAL_EVENT)
                        abort();
                if (c.rep_count || c.rep_start || c.var_header || (c.code == HVCALL_POST_MESSAGE && c.fast))
                        abort();
                if (control & 0xf000f000f8000000ull) /* reserved bits */
                        abort();
        } else if (st != HV_STATUS_INVALID_HYPERCALL_CODE && st != HV_STATUS_INVALID_HYPERCALL_INPUT) {
                abort();
        }
}

static void check_gpa(uint64_t gpa) {
        const size_t sizes[] = { 8, sizeof(struct hv_input_post_message), HV_HYP_PAGE_SIZE, HV_HYP_PAGE_SIZE + 1 };
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                uint16_t st = hv_hypercall_check_gpa(gpa, sizes[i]);
                if (st == HV_STATUS_SUCCESS && ((gpa & 7) || (gpa & 0xfff) + sizes[i] > HV_HYP_PAGE_SIZE))
                        abort();
                if (st != HV_STATUS_SUCCESS && st != HV_STATUS_INVALID_ALIGNMENT)
                        abort();
        }
}

static void check_post(const struct hv_input_post_message *in) {
        struct hv_post_message m;
        uint16_t st = hv_post_message_parse(in, &m);
        if (st == HV_STATUS_SUCCESS) {
                if (m.payload_size > HV_MESSAGE_PAYLOAD_BYTES || m.message_type == 0 ||
                    (m.message_type & 0x80000000u) || (m.connection_id & ~HV_CONNECTION_ID_MASK) ||
                    m.payload != in->payload)
                        abort();
        } else if (st != HV_STATUS_INVALID_PARAMETER && st != HV_STATUS_INVALID_HYPERCALL_INPUT) {
                abort();
        }
}

static void check_signal(uint64_t input) {
        struct hv_signal_event ev;
        uint16_t st = hv_signal_event_parse(input, &ev);
        if (st == HV_STATUS_SUCCESS) {
                if (ev.flag_number >= HV_EVENT_FLAGS_COUNT || (ev.connection_id & ~HV_CONNECTION_ID_MASK) ||
                    (input >> 48) || ev.connection_id != (uint32_t)input)
                        abort();
        } else if (st != HV_STATUS_INVALID_PARAMETER && st != HV_STATUS_INVALID_HYPERCALL_INPUT) {
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint64_t control = take_u64(&data, &size);
        uint64_t param = take_u64(&data, &size);
        struct hv_input_post_message in;
        memset(&in, 0, sizeof in);
        memcpy(&in, data, size < sizeof in ? size : sizeof in);
        check_control(control);
        check_gpa(param);
        check_post(&in);
        check_signal(param);
        return 0;
}
