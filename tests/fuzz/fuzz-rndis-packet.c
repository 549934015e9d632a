// SPDX-License-Identifier: MIT
/* RNDIS PACKET parsing of guest frames (§7.6): the first byte says how many
 * bytes are "contiguous" (the rest stands for GPA-direct ranges); a send
 * section is walked message by message as netvsp does. Whatever parses must
 * describe a frame inside the message, and the message inside the stream. */
#include <stdlib.h>
#include <string.h>

#include "rndis/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        size_t split = data[0];
        data++;
        size--;
        uint8_t *copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        for (size_t pos = 0; pos < size;) {
                struct rndis_tx_packet p;
                size_t total = size - pos, avail = split && split < total ? split : total;
                if (rndis_packet_parse(copy + pos, avail, total, &p) < 0)
                        break;
                if (p.msg_len < RNDIS_PACKET_HEADER_SIZE || p.msg_len > total || p.data_len == 0 ||
                    p.data_offset < RNDIS_PACKET_HEADER_SIZE || p.data_offset > p.msg_len ||
                    p.data_len > p.msg_len - p.data_offset)
                        abort();
                pos += p.msg_len;
        }
        /* building is total: any length either fails cleanly or is exact */
        uint8_t hdr[128];
        struct rndis_rx_info info = { .has_csum = size & 1, .has_vlan = size & 2, .has_hash = size & 4 };
        uint32_t msg_len;
        int off = rndis_packet_build_rx_header(hdr, sizeof hdr, size, &info, 0, &msg_len);
        if (size && (off < 0 || msg_len != (uint32_t)off + size))
                abort();
        free(copy);
        return 0;
}
