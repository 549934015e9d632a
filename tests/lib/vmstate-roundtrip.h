/* SPDX-License-Identifier: MIT */
/* One described struct through the real writer and reader, in memory: the
 * encode -> memfd -> index -> decode trip that the state fuzz targets make
 * for every state their decoders accept, and unit tests use to build a
 * section from a struct. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/vmstate.h"

/* A file holding st as its one section (instance), read back into *data
 * (the caller frees it); 0 or a negative errno. */
static inline int vmstate_test_encode(const struct vmstate_desc *d, uint32_t instance, const void *st,
                                      uint8_t **data, size_t *len) {
        *data = NULL;
        *len = 0;
        int fd = memfd_create("vmstate-test", MFD_CLOEXEC);
        if (fd < 0)
                return -1;
        struct vmstate_writer *w;
        int r = vmstate_writer_new(fd, 0, &w);
        if (r == 0) {
                if ((r = vmstate_encode(w, d, instance, st)) == 0)
                        r = vmstate_finish(w);
                *len = (size_t)vmstate_written(w);
                vmstate_writer_free(w);
        }
        *data = r == 0 ? malloc(*len) : NULL;
        if (r == 0 && (!*data || pread(fd, *data, *len, 0) != (ssize_t)*len)) {
                free(*data);
                *data = NULL;
                r = -1;
        }
        close(fd);
        return r;
}

typedef int (*vmstate_test_decode_fn)(const struct vmstate_section *s, void *out, char *err, size_t errlen);

/* True when st, encoded and indexed, decodes with decode to the same bytes. */
static inline bool vmstate_test_round_trip(const struct vmstate_desc *d, uint32_t instance, const void *st,
                                           size_t size, vmstate_test_decode_fn decode) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (vmstate_test_encode(d, instance, st, &buf, &len) < 0)
                return false;
        struct vmstate_section secs[2];
        struct vmstate_header h;
        char err[256];
        void *back = calloc(1, size);
        bool ok = back && vmstate_index(buf, len, &h, secs, 2, err, sizeof err) == 1 &&
                  secs[0].instance == instance && decode(&secs[0], back, err, sizeof err) == 0 &&
                  memcmp(back, st, size) == 0;
        free(back);
        free(buf);
        return ok;
}
