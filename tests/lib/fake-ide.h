/* SPDX-License-Identifier: MIT */
/* A device test's IDE callbacks for a controller run on an emu_service:
 * FAKE_IDE_OPS(svc_) defines ide_edges[] (each channel's rising interrupt
 * edges), ide_level[], kick() (wakes svc_, an emu_service *) and ide_ops
 * over FAKE_RAM_OPS's fake_ram_read and fake_ram_map, which must come
 * first (tests/lib/fake-ram.h). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "emu/ide.h"
#include "emu/service.h"

#define FAKE_IDE_OPS(svc_)                                                                     \
        static atomic_uint ide_edges[IDE_CHANNELS];                                            \
        static bool ide_level[IDE_CHANNELS];                                                   \
        static void ide_irq(void *o, unsigned ch, bool level) {                                \
                (void)o;                                                                       \
                if (level && !ide_level[ch])                                                   \
                        atomic_fetch_add(&ide_edges[ch], 1);                                   \
                ide_level[ch] = level;                                                         \
        }                                                                                      \
        static void kick(void *o) {                                                            \
                (void)o;                                                                       \
                emu_service_kick(svc_);                                                        \
        }                                                                                      \
        static const struct ide_ops ide_ops = {                                                \
                .irq = ide_irq, .gm_read = fake_ram_read, .gm_map = fake_ram_map, .kick = kick \
        };
