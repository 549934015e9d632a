/* SPDX-License-Identifier: MIT */
/* Helpers of the saved-state tests: a state written into a memfd, mapped
 * and indexed as a restore reads it; a hash of guest RAM to show that
 * nothing wrote it. */
#pragma once

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/test.h"
#include "common/vmstate.h"

/* FNV-1a over n bytes. */
static inline uint64_t test_ram_hash(const uint8_t *p, size_t n) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 0x100000001b3ull;
        return h;
}

typedef int (*vmstate_test_save_fn)(void *opaque, struct vmstate_writer *w, char *err, size_t errlen);

/* save() writes its sections; the file is finished, mapped (*map, *len:
 * munmap them) and indexed into secs. Returns the section count. */
static inline int vmstate_test_save(vmstate_test_save_fn save, void *opaque, uint8_t **map, size_t *len,
                                    struct vmstate_section *secs, size_t max) {
        int fd = memfd_create("vmstate-test", MFD_CLOEXEC);
        ASSERT_GE(fd, 0);
        struct vmstate_writer *w;
        char err[256] = "";
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        if (save(opaque, w, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        ASSERT_OK(vmstate_finish(w));
        *len = (size_t)vmstate_written(w);
        vmstate_writer_free(w);
        *map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        ASSERT_TRUE(*map != MAP_FAILED);
        close(fd);
        struct vmstate_header h;
        int n = vmstate_index(*map, *len, &h, secs, max, err, sizeof err);
        ASSERT_GT(n, 0);
        return n;
}
