/* SPDX-License-Identifier: MIT */
/* A device test's guest RAM: FAKE_RAM_OPS(ram, size) defines the
 * bounds-checked read and map callbacks (emu's ide_ops gm_read/gm_map
 * shape) over a static array, -EFAULT outside it, as vid's gm_read and
 * gm_map answer. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define FAKE_RAM_OPS(ram_, size_)                                                              \
        static int fake_ram_read(void *o, uint64_t gpa, void *buf, size_t len) {               \
                (void)o;                                                                       \
                if (gpa >= (size_) || len > (size_) - gpa)                                     \
                        return -EFAULT;                                                        \
                memcpy(buf, (ram_) + gpa, len);                                                \
                return 0;                                                                      \
        }                                                                                      \
        static int fake_ram_map(void *o, uint64_t gpa, size_t len, void **host) {              \
                (void)o;                                                                       \
                if (gpa >= (size_) || len > (size_) - gpa)                                     \
                        return -EFAULT;                                                        \
                *host = (ram_) + gpa;                                                          \
                return 0;                                                                      \
        }
