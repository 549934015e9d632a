// SPDX-License-Identifier: MIT
/* hvshim's saved-state sections (hvshim/state.h): a state file is indexed
 * and each HVPT and HVSY section goes through its pure decoder, as a
 * restore does before it applies anything. A section that decodes must
 * encode back to one that decodes to the same struct, and what a decoder
 * accepts must be what a restore can apply without checking again: queued
 * messages in range and adding up to the payload, SINTs a guest could have
 * written. */
#include <stdlib.h>
#include <string.h>

#include "hvshim/decode.h"
#include "hvshim/state.h"
#include "tests/fuzz/fuzz-check.h"
#include "tests/lib/vmstate-roundtrip.h"

static int decode_synic(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return hvshim_synic_state_decode(s, out, err, errlen);
}

static int decode_partition(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return hvshim_partition_state_decode(s, out, err, errlen);
}

static void synic_accepted(const struct hvshim_synic_state *st) {
        CHECK(st->n_sint == HV_SYNIC_SINT_COUNT && st->pending_irq < 1u << HV_SYNIC_SINT_COUNT);
        for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
                CHECK(hv_sint_masked(st->sint[i]) || hv_sint_vector(st->sint[i]) >= HV_SYNIC_FIRST_VALID_VECTOR);
        CHECK(st->n_shadow_word == st->n_shadow_bits && st->n_shadow_word <= HVSHIM_STATE_SIEF_WORDS);
        for (uint32_t i = 0; i < st->n_shadow_word; i++)
                CHECK(st->shadow_word[i] < HVSHIM_STATE_SIEF_WORDS && st->shadow_bits[i]);
        CHECK(st->n_msg_sint <= HVSHIM_MAX_QUEUED && st->n_msg_type == st->n_msg_sint &&
              st->n_msg_size == st->n_msg_sint);
        uint64_t total = 0;
        for (uint32_t i = 0; i < st->n_msg_sint; i++) {
                CHECK(st->msg_sint[i] < HV_SYNIC_SINT_COUNT && st->msg_type[i] != HVMSG_NONE &&
                      st->msg_size[i] <= HV_MESSAGE_PAYLOAD_BYTES);
                total += st->msg_size[i];
        }
        CHECK(total == st->msg_payload_len);
}

static void check_synic(const struct vmstate_section *s, struct hvshim_synic_state *st) {
        char err[256];
        if (hvshim_synic_state_decode(s, st, err, sizeof err) < 0)
                return;
        synic_accepted(st);
        CHECK(vmstate_test_round_trip(&hvshim_synic_state_desc, 3, st, sizeof *st, decode_synic));
}

static void check_partition(const struct vmstate_section *s) {
        struct hvshim_partition_state ps;
        char err[256];
        if (hvshim_partition_state_decode(s, &ps, err, sizeof err) < 0)
                return;
        CHECK(ps.time_dilation >= 1 && ps.time_dilation <= HVSHIM_MAX_TIME_DILATION);
        CHECK(ps.tsc_scale == hv_tsc_scale(ps.tsc_hz) && ps.n_crash_p == HVSHIM_STATE_CRASH_P);
        CHECK(vmstate_test_round_trip(&hvshim_partition_state_desc, 3, &ps, sizeof ps, decode_partition));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct vmstate_section secs[VMSTATE_SECTIONS_MAX];
        struct hvshim_synic_state *st = malloc(sizeof *st);
        CHECK(st);
        /* Random bytes rarely get past the file's CRCs: also take the
         * input as each section's payload. */
        struct vmstate_section raw = { .version = 1, .payload = data, .length = size };
        raw.tag = HVSHIM_STATE_TAG_SYNIC;
        check_synic(&raw, st);
        raw.tag = HVSHIM_STATE_TAG_PARTITION;
        check_partition(&raw);
        struct vmstate_header h;
        char err[256];
        int n = vmstate_index(data, size, &h, secs, VMSTATE_SECTIONS_MAX, err, sizeof err);
        for (int i = 0; i < n; i++) {
                if (secs[i].tag == HVSHIM_STATE_TAG_SYNIC)
                        check_synic(&secs[i], st);
                else if (secs[i].tag == HVSHIM_STATE_TAG_PARTITION)
                        check_partition(&secs[i]);
        }
        free(st);
        return 0;
}
