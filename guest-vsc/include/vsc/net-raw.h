/* SPDX-License-Identifier: MIT */
/* Raw NVSP packets on an open vsc_net, for tests that play a hostile guest
 * (guest-vsc/guest/hostile-net.c, docs/hostile-guests.md): the packet is
 * sent as given, without the checks the client makes on what it sends, and
 * only its completion is waited for. What the host sends back is still
 * validated by the client (vsc_net_poll): nothing here weakens that. */
#pragma once

#include "vsc/net.h"

/* One NVSP packet: type VM_PKT_DATA_INBAND, or VM_PKT_DATA_USING_GPA_DIRECT
 * with `extra` (the GPA-direct fields after the descriptor, a multiple of 8
 * bytes), COMPLETION_REQUESTED, a fresh control transaction id. Waits up to
 * timeout_ns for the host's completion of that id: 0 with *comp_type and
 * *comp_status (the completion's first two words) filled; -ETIMEDOUT if none
 * came (the host dropped the packet); -EAGAIN (ring full), -EPROTO (ring). */
int vsc_net_send_raw(struct vsc_net *net, uint16_t pkt_type, const void *extra, size_t extra_len, const void *msg,
                     uint32_t len, uint64_t timeout_ns, uint32_t *comp_type, uint32_t *comp_status);
