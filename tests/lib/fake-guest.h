/* SPDX-License-Identifier: MIT */
/* A guest-memory writer over a plain buffer, for the boot loader tests and
 * fuzzers: RAM is [0, size) (optionally plus a region at 4 GiB that is
 * only checked, never stored). */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmwp/boot.h"

struct fake_guest {
        uint8_t *ram;
        uint64_t size;
        unsigned writes;
};

static inline int fake_guest_write(void *opaque, uint64_t gpa, const void *buf, size_t len) {
        struct fake_guest *f = opaque;
        f->writes++;
        if (gpa >= 0x100000000ull)
                return 0; /* high RAM: bounds were checked by the loader, nothing to keep */
        if (gpa > f->size || len > f->size - gpa)
                return -EFAULT;
        memcpy(f->ram + gpa, buf, len);
        return 0;
}

/* high: bytes of RAM at 4 GiB (0 for none). */
static inline void fake_guest_init(struct fake_guest *f, struct boot_guest *g, uint64_t size, uint64_t high) {
        f->ram = calloc(1, size);
        f->size = size;
        f->writes = 0;
        *g = (struct boot_guest){ .write = fake_guest_write, .opaque = f, .n_ram = 1 };
        g->ram[0] = (struct boot_ram_region){ .gpa = 0, .size = size };
        if (high) {
                g->ram[1] = (struct boot_ram_region){ .gpa = 0x100000000ull, .size = high };
                g->n_ram = 2;
        }
}

static inline void fake_guest_free(struct fake_guest *f) {
        free(f->ram);
        f->ram = NULL;
}
