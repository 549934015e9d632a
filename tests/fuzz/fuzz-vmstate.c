// SPDX-License-Identifier: MIT
/* The saved-state reader on any bytes: vmstate_index() on the input, then
 * every section's fields through vmstate_next_field() and vmstate_decode()
 * with a descriptor of every kind (the section's tag swapped for the
 * descriptor's, so the field parser sees every payload), and the input
 * itself as a payload. Invariants: the
 * index stays inside the input; a refused decode leaves the struct as it
 * was; a decoded struct encodes and decodes back to itself. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/vmstate.h"
#include "tests/fuzz/fuzz-check.h"
#include "tests/lib/vmstate-sample.h"

#define FUZZ_SECTIONS 512

/* Writes s as a sample section to a memfd and decodes it back. */
static void check_reencode(const struct vmstate_sample *s, uint16_t version) {
        const struct vmstate_desc *desc = version == 1 ? &vmstate_sample_v1 : &vmstate_sample_v2;
        int fd = memfd_create("fuzz-vmstate", MFD_CLOEXEC);
        CHECK(fd >= 0);
        struct vmstate_writer *w;
        CHECK(vmstate_writer_new(fd, 0, &w) == 0);
        CHECK(vmstate_encode(w, desc, 0, s) == 0);
        CHECK(vmstate_finish(w) == 0);
        size_t len = (size_t)vmstate_written(w);
        vmstate_writer_free(w);
        uint8_t *buf = malloc(len);
        CHECK(buf && pread(fd, buf, len, 0) == (ssize_t)len);
        close(fd);
        struct vmstate_section sec;
        struct vmstate_sample again = *s;
        char err[256];
        CHECK(vmstate_index(buf, len, NULL, &sec, 1, err, sizeof err) == 1);
        CHECK(vmstate_decode(&sec, desc, &again, err, sizeof err) == 0);
        CHECK(memcmp(&again, s, sizeof again) == 0);
        free(buf);
}

static void fuzz_section(const struct vmstate_section *orig) {
        struct vmstate_section s = *orig;
        struct vmstate_field f;
        uint64_t off = 0;
        int r;
        while ((r = vmstate_next_field(&s, &off, &f)) > 0)
                CHECK(off <= s.length && f.value + f.length <= s.payload + s.length);
        s.tag = VMSTATE_SAMPLE_TAG;
        struct vmstate_sample out, before;
        memset(&out, 0xa5, sizeof out);
        out.flag = true; /* a bool holds 0 or 1 only */
        out.n_words = out.n_quads = out.n_name = 0;
        before = out;
        char err[256];
        r = vmstate_decode(&s, &vmstate_sample_v2, &out, err, sizeof err);
        if (r < 0) {
                CHECK(err[0] && memcmp(&out, &before, sizeof out) == 0);
                return;
        }
        CHECK(out.n_words <= ARRAY_SIZE(out.words) && out.n_quads <= ARRAY_SIZE(out.quads) &&
              out.n_name <= sizeof out.name);
        check_reencode(&out, s.version);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vmstate_section *secs = malloc(FUZZ_SECTIONS * sizeof *secs);
        struct vmstate_header h;
        char err[256] = "";
        CHECK(secs);
        int n = vmstate_index(data, size, &h, secs, FUZZ_SECTIONS, err, sizeof err);
        CHECK(n >= 0 || err[0]);
        for (int i = 0; i < n; i++) {
                CHECK(secs[i].payload >= data && secs[i].length <= size &&
                      secs[i].payload + secs[i].length <= data + size);
                CHECK(vmstate_find(secs, (size_t)n, secs[i].tag, secs[i].instance) == &secs[i]);
                fuzz_section(&secs[i]);
        }
        /* The whole input as a payload too: mutations rarely get past the
         * CRCs, and the field parser is what a corrupt file reaches. */
        for (uint16_t v = 1; v <= 2; v++)
                fuzz_section(&(struct vmstate_section){ .version = v, .payload = data, .length = size });
        /* The sections of a refused file, as far as they go, one by one. */
        if (n < 0) {
                int r = vmstate_parse_header(data, size, &h, err, sizeof err);
                uint64_t off = r > 0 ? (uint64_t)r : 0;
                struct vmstate_section s;
                for (int i = 0; r > 0 && i < FUZZ_SECTIONS; i++) {
                        if (vmstate_next_section(data, size, &off, &s, err, sizeof err) <= 0)
                                break;
                        fuzz_section(&s);
                }
        }
        free(secs);
        return 0;
}
