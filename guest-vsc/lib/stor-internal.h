/* SPDX-License-Identifier: MIT */
/* Private helpers of the storvsc client (stor*.c). */
#pragma once

#include "internal.h"
#include "vsc/stor.h"

/* Reads and validates the next packet of channel chan: 0 with *out filled,
 * -EAGAIN if the ring is empty, -EPROTO (error line set) for a packet that
 * breaks the protocol (consumed) or a ring the host corrupted. */
int vsc_stor_take(struct vsc_stor *s, unsigned chan, struct vsc_stor_reply *out);
