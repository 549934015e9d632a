// SPDX-License-Identifier: MIT
/* Guest-controlled input of netvsp's pure parsers: a guest -> host VMBus
 * packet (descriptor, GPA-direct ranges, §5.3), the NVSP message in it
 * (§7.2) at every negotiated version, and the offload request of a frame
 * (PPI values + frame headers, §7.6). Input: [u32 csum][u32 lso][u32 vlan]
 * [u16 packet length][packet][frame]. */
#include <stdlib.h>
#include <string.h>

#include "netvsp/nvsp.h"
#include "netvsp/offload.h"
#include "netvsp/sg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_packet(const uint8_t *p, size_t len) {
        static const uint32_t versions[] = { 0, NVSP_PROTOCOL_VERSION_1, NVSP_PROTOCOL_VERSION_2,
                                             NVSP_PROTOCOL_VERSION_4, NVSP_PROTOCOL_VERSION_61 };
        struct netvsp_vmbus_packet *d = malloc(sizeof *d);
        if (!d)
                return;
        if (netvsp_vmbus_packet_decode(p, len, d) == 0) {
                uint64_t sum = 0;
                if (d->payload < p || d->payload + d->payload_len > p + len || d->n_pages > NETVSP_MAX_GPA_PAGES)
                        abort();
                for (uint32_t i = 0; i < d->n_pages; i++) {
                        if (d->pages[i].len == 0 || d->pages[i].len > 4096 ||
                            (d->pages[i].gpa & 4095) + d->pages[i].len > 4096)
                                abort();
                        sum += d->pages[i].len;
                }
                if (sum != d->gpa_bytes)
                        abort();
                for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
                        struct nvsp_request q;
                        (void)nvsp_parse(d->payload, d->payload_len, versions[v], &q);
                }
        }
        free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct rndis_tx_packet pkt = { .flags = 0 };
        uint16_t plen;
        if (size < 14)
                return 0;
        memcpy(&pkt.csum_info, data, 4);
        memcpy(&pkt.lso_info, data + 4, 4);
        memcpy(&pkt.vlan_info, data + 8, 4);
        memcpy(&plen, data + 12, 2);
        data += 14;
        size -= 14;
        if (plen > size)
                plen = (uint16_t)size;
        uint8_t *copy = malloc(plen ? plen : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, plen);
        check_packet(copy, plen);
        free(copy);

        /* the rest is a frame; the PPI words decide which offloads it asks for */
        const uint8_t *frame = data + plen;
        size_t flen = size - plen, head = flen < NETVSP_TX_HDR_MAX ? flen : NETVSP_TX_HDR_MAX;
        pkt.flags = (pkt.csum_info & 1 ? RNDIS_TX_CSUM : 0) | (pkt.lso_info & 1 ? RNDIS_TX_LSO : 0) |
                    (pkt.vlan_info & 1 ? RNDIS_TX_VLAN : 0);
        struct netvsp_tx_frame *out = malloc(sizeof *out);
        if (out && netvsp_tx_prepare(&pkt, frame, head, flen, out) == 0) {
                if (out->replace_len > flen || out->hdr_len > sizeof out->hdr ||
                    (out->vnet.flags && (size_t)out->vnet.csum_start + out->vnet.csum_offset + 2 >
                                                flen + out->hdr_len - out->replace_len))
                        abort();
        }
        free(out);
        /* receive side: checksum info and completion over the same bytes */
        struct virtio_net_hdr vh = { .flags = (uint8_t)(pkt.csum_info >> 8), .csum_start = (uint16_t)pkt.lso_info,
                                     .csum_offset = (uint16_t)pkt.vlan_info };
        struct rndis_rx_info info;
        uint8_t *f2 = malloc(flen ? flen : 1);
        if (f2) {
                memcpy(f2, frame, flen);
                netvsp_rx_info(&vh, f2, flen, &info);
                (void)netvsp_csum_complete(f2, flen, vh.csum_start, vh.csum_offset);
                free(f2);
        }
        return 0;
}
