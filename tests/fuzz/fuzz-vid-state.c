// SPDX-License-Identifier: MIT
/* vid's saved-state sections (vid/state.h): a state file is indexed and
 * each CPID, PART, VPIT, VP and RAM section goes through its pure decoder/checker,
 * as a restore does before it applies anything. A VP or CPID section that
 * decodes must encode back to a section that decodes to the same struct; a
 * CPID table that decodes is compared with a fixed host's (common/cpufeat.h)
 * and passes against itself. */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz-check.h"
#include "tests/lib/vmstate-roundtrip.h"
#include "vid/state.h"

static int decode_vp(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return vid_vp_state_decode(s, out, err, errlen);
}

/* A VP section that decodes encodes back to one that decodes the same. */
static void vp_round_trip(const struct vid_vp_state *st) {
        CHECK(vmstate_test_round_trip(&vid_vp_state_desc, 0, st, sizeof *st, decode_vp));
}

static int decode_cpuid(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return vid_cpuid_state_decode(s, out, err, errlen);
}

static void cpuid_check(const struct vmstate_section *s, struct vid_cpuid_state *cs) {
        char err[512];
        if (vid_cpuid_state_decode(s, cs, err, sizeof err) < 0)
                return;
        CHECK(vmstate_test_round_trip(&vid_cpuid_state_desc, 0, cs, sizeof *cs, decode_cpuid));
        struct cpufeat g;
        vid_cpuid_state_features(cs, &g);
        CHECK(cpufeat_missing(&g, &g, err, sizeof err) == 0);
        struct cpufeat host = { .vendor = "AuthenticAMD", .phys_bits = 48, .word = { 0x7ed8320bu, 0x178bfbffu } };
        if (cpufeat_missing(&g, &host, err, sizeof err) < 0)
                CHECK(strlen(err) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct vmstate_section secs[VMSTATE_SECTIONS_MAX];
        struct vmstate_header h;
        char err[256];
        struct vid_vp_state *st = malloc(sizeof *st);
        struct vid_partition_state ps;
        CHECK(st);
        /* Random bytes rarely get past the file's CRCs: also take the
         * input as each section's payload. */
        struct vmstate_section raw = { .version = 1, .payload = data, .length = size };
        raw.tag = VID_STATE_TAG_VP;
        if (vid_vp_state_decode(&raw, st, err, sizeof err) == 0)
                vp_round_trip(st);
        raw.tag = VID_STATE_TAG_PART;
        (void)vid_partition_state_decode(&raw, &ps, err, sizeof err);
        raw.tag = VID_STATE_TAG_RAM;
        (void)vid_ram_check(&raw, 16u << 20, err, sizeof err);
        struct vid_pit_state pit;
        raw.tag = VID_STATE_TAG_PIT;
        (void)vid_pit_state_decode(&raw, &pit, err, sizeof err);
        struct vid_cpuid_state *cs = malloc(sizeof *cs);
        CHECK(cs);
        raw.tag = VID_STATE_TAG_CPUID;
        cpuid_check(&raw, cs);
        int n = vmstate_index(data, size, &h, secs, VMSTATE_SECTIONS_MAX, err, sizeof err);
        for (int i = 0; i < n; i++) {
                const struct vmstate_section *s = &secs[i];
                if (s->tag == VID_STATE_TAG_VP && vid_vp_state_decode(s, st, err, sizeof err) == 0)
                        vp_round_trip(st);
                else if (s->tag == VID_STATE_TAG_PART)
                        (void)vid_partition_state_decode(s, &ps, err, sizeof err);
                else if (s->tag == VID_STATE_TAG_RAM)
                        (void)vid_ram_check(s, 16u << 20, err, sizeof err);
                else if (s->tag == VID_STATE_TAG_CPUID)
                        cpuid_check(s, cs);
                else if (s->tag == VID_STATE_TAG_PIT)
                        (void)vid_pit_state_decode(s, &pit, err, sizeof err);
        }
        free(cs);
        free(st);
        return 0;
}
