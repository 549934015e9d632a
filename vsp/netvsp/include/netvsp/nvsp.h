/* SPDX-License-Identifier: MIT */
/* NVSP messages as pure functions (docs/hyperv-guest-interface.md §7.2,
 * §7.3): parse what the guest sends, negotiate the version, build the
 * completions of the sizes the 6.1 guest requires. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/nvsp.h"

/* A guest NVSP message, decoded and range-checked. */
struct nvsp_request {
        uint32_t type; /* enum nvsp_msg_type */
        union {
                struct {
                        uint32_t min_ver, max_ver;
                } init;
                struct {
                        uint32_t mtu;
                        uint64_t capability;
                } ndis_config;
                struct {
                        uint32_t major, minor;
                } ndis_ver;
                struct {
                        uint32_t gpadl;
                        uint16_t id;
                } buf; /* SEND_RECV_BUF, SEND_SEND_BUF */
                struct {
                        uint16_t id;
                } revoke; /* REVOKE_RECV_BUF, REVOKE_SEND_BUF */
                struct {
                        uint32_t channel_type, section_index, section_size;
                } rndis_pkt;
                struct {
                        uint32_t status;
                } rndis_pkt_complete; /* guest's completion of our transfer-page packets */
                struct {
                        uint32_t op, num;
                } subchannel;
                struct {
                        uint32_t active_datapath;
                } switch_dp;
        };
};

/* Parses one message of len bytes. version: the negotiated NVSP version
 * (0 before INIT completed); messages newer than it are refused.
 * Returns 0, -EBADMSG (shorter than its type needs, or a field out of its
 * domain), or -EOPNOTSUPP (a type we do not serve at this version). */
int nvsp_parse(const void *buf, size_t len, uint32_t version, struct nvsp_request *out);

/* Version negotiation (§7.3): the newest of 6.1, 6, 5, 4, 2, 1 within
 * [min_ver, max_ver], or 0 if none. */
uint32_t nvsp_negotiate(uint32_t min_ver, uint32_t max_ver);
bool nvsp_version_supported(uint32_t version);

/* Completions. Each fills *m and returns the byte count to send: always
 * NVSP_MESSAGE_SIZE (40) for INIT, SEND_RECV_BUF, SEND_SEND_BUF and
 * SUBCHANNEL (the guest needs >= 28 / >= 12, §7.2), 8 for
 * SEND_RNDIS_PKT_COMPLETE (6.1.192 drops shorter ones). */
size_t nvsp_build_init_complete(struct nvsp_message *m, uint32_t version, uint32_t status);
size_t nvsp_build_recv_buf_complete(struct nvsp_message *m, uint32_t status, uint32_t sub_alloc_size,
                                    uint32_t num_sub_allocs);
size_t nvsp_build_send_buf_complete(struct nvsp_message *m, uint32_t status, uint32_t section_size);
size_t nvsp_build_rndis_pkt_complete(struct nvsp_message *m, uint32_t status);
size_t nvsp_build_subchannel_complete(struct nvsp_message *m, uint32_t status, uint32_t num);
/* The NVSP 107 header of host -> guest transfer-page packets (§7.4):
 * channel_type, no send section. 16 bytes are enough for the guest. */
size_t nvsp_build_rndis_pkt(struct nvsp_message *m, uint32_t channel_type);

const char *nvsp_msg_type_to_string(uint32_t type);
