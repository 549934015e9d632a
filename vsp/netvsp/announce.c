// SPDX-License-Identifier: MIT
/* The announce after a restore (docs/netvsp.md "Saved state"): RARP
 * frames from the guest's MAC, so that switches learn the port it is on
 * now (after a migration, a new host's), as QEMU's announce-self does.
 * The schedule is the channel worker's (chan.c). */
#include <errno.h>
#include <string.h>
#include <linux/virtio_net.h>

#include "netvsp-internal.h"

size_t netvsp_rarp_build(uint8_t frame[NETVSP_RARP_LEN], const uint8_t mac[6]) {
        /* RFC 903: Ethernet (1), IPv4 (0x0800), hln 6, pln 4, op 3 (request
         * reverse), sender and target hardware address the MAC, no IPs;
         * padded with zeros to the 60-byte minimum frame. */
        static const uint8_t arp_hdr[8] = { 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03 };
        memset(frame, 0, NETVSP_RARP_LEN);
        memset(frame, 0xff, 6);
        memcpy(frame + 6, mac, 6);
        frame[12] = NETVSP_ETH_P_RARP >> 8;
        frame[13] = NETVSP_ETH_P_RARP & 0xff;
        memcpy(frame + 14, arp_hdr, sizeof arp_hdr);
        memcpy(frame + 22, mac, 6); /* sender hardware address; sender IP 0 */
        memcpy(frame + 32, mac, 6); /* target hardware address; target IP 0 */
        return NETVSP_RARP_LEN;
}

int netvsp_announce(struct netvsp_dev *nd) {
        /* A guest that has not brought the NIC up has nothing to announce;
         * with the TAP down the frame would go nowhere. */
        if (nd->rndis.state != RNDIS_STATE_INITIALIZED || !nd->be_link_up)
                return -ENOTCONN;
        struct virtio_net_hdr vh = { 0 };
        uint8_t f[NETVSP_RARP_LEN];
        struct iovec iov[2] = { { &vh, sizeof vh }, { f, netvsp_rarp_build(f, nd->rndis.current_mac) } };
        int r = nd->be->tx(nd->be_ctx, iov, 2);
        if (r == 0)
                nd->stats.announces++;
        return r;
}
