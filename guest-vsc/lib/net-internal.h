/* SPDX-License-Identifier: MIT */
/* Private helpers of the netvsc client (net-*.c, nvsp.c, rndis.c). */
#pragma once

#include "internal.h"
#include "vsc/net.h"

/* Little-endian field access in packets and shared buffers (no alignment). */
static inline uint32_t vsc_net_rd32(const uint8_t *p) {
        uint32_t v;
        vsc_memcpy(&v, p, 4);
        return v;
}
static inline void vsc_net_wr32(uint8_t *p, uint32_t v) {
        vsc_memcpy(p, &v, 4);
}

/* "no response" id of packets sent without COMPLETION_REQUESTED (§5.7). */
#define VSC_NET_NO_RESPONSE_TID 0xfffffffffffffffdull

/* net-tx.c */
/* An RNDIS control message from net->ctrl_page as netvsc sends it (§7.4):
 * GPA-direct, single-page ranges, NVSP 107 channel 1. Published at once. */
int vsc_net_send_control(struct vsc_net *net, uint32_t len, uint64_t tid);
/* Returns a section to the free pool (its completion came). */
void vsc_net_section_put(struct vsc_net *net, uint32_t section);

/* rndis.c / nvsp.c: waiting for the answer to one request */
/* Arms the wait for tid (and a response type/req_id when type != 0). */
void vsc_net_wait_arm(struct vsc_net *net, uint64_t tid, uint32_t type, uint32_t req_id);
/* Polls the channel until the armed answer is in or the deadline passes;
 * -ETIMEDOUT with "no <what> ...". */
int vsc_net_wait(struct vsc_net *net, const char *what);
/* A fresh transaction id for an init or control request. */
uint64_t vsc_net_ctrl_tid(struct vsc_net *net);

/* nvsp.c: an NVSP message of n words (40 bytes as Linux sends them); with a
 * completion type != 0 it waits for that completion (net->comp_msg). */
int vsc_net_nvsp_send(struct vsc_net *net, const uint32_t *w, unsigned n, uint32_t type, const char *what);

/* rndis.c: the §7.5 sequence after the buffers exist */
int vsc_net_rndis_init(struct vsc_net *net);
int vsc_net_rndis_halt(struct vsc_net *net);
