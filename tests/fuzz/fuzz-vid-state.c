// SPDX-License-Identifier: MIT
/* vid's saved-state sections (vid/state.h): a state file is indexed and
 * each PART, VP and RAM section goes through its pure decoder/checker, as a
 * restore does before it applies anything. A VP section that decodes must
 * encode back to a section that decodes to the same struct. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/fuzz/fuzz-check.h"
#include "vid/state.h"

static void vp_round_trip(const struct vid_vp_state *st) {
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        struct vmstate_writer *w;
        CHECK(fd >= 0 && vmstate_writer_new(fd, 0, &w) == 0);
        CHECK(vmstate_encode(w, &vid_vp_state_desc, 0, st) == 0 && vmstate_finish(w) == 0);
        size_t len = (size_t)vmstate_written(w);
        vmstate_writer_free(w);
        uint8_t *buf = malloc(len);
        CHECK(buf && pread(fd, buf, len, 0) == (ssize_t)len);
        struct vmstate_section secs[2];
        struct vmstate_header h;
        char err[256];
        CHECK(vmstate_index(buf, len, &h, secs, 2, err, sizeof err) == 1);
        struct vid_vp_state *back = malloc(sizeof *back);
        CHECK(back && vid_vp_state_decode(&secs[0], back, err, sizeof err) == 0);
        CHECK(memcmp(back, st, sizeof *st) == 0);
        free(back);
        free(buf);
        close(fd);
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
        int n = vmstate_index(data, size, &h, secs, VMSTATE_SECTIONS_MAX, err, sizeof err);
        for (int i = 0; i < n; i++) {
                const struct vmstate_section *s = &secs[i];
                if (s->tag == VID_STATE_TAG_VP && vid_vp_state_decode(s, st, err, sizeof err) == 0)
                        vp_round_trip(st);
                else if (s->tag == VID_STATE_TAG_PART)
                        (void)vid_partition_state_decode(s, &ps, err, sizeof err);
                else if (s->tag == VID_STATE_TAG_RAM)
                        (void)vid_ram_check(s, 16u << 20, err, sizeof err);
        }
        free(st);
        return 0;
}
