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
 * timeout_ns for the host's completion of that id: 0 with the completion's
 * NVSP message in comp (zero-padded to NVSP_MESSAGE_SIZE); -ETIMEDOUT if
 * none came (the host dropped the packet); -EAGAIN (ring full), -EPROTO
 * (ring). Only completions of a type the client knows are matched. */
int vsc_net_send_raw(struct vsc_net *net, uint16_t pkt_type, const void *extra, size_t extra_len, const void *msg,
                     uint32_t len, uint64_t timeout_ns, uint8_t comp[NVSP_MESSAGE_SIZE]);
