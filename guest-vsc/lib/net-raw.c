// SPDX-License-Identifier: MIT
/* Raw NVSP packets for hostile-guest tests (vsc/net-raw.h). */
#include "net-internal.h"
#include "vsc/net-raw.h"

int vsc_net_send_raw(struct vsc_net *net, uint16_t pkt_type, const void *extra, size_t extra_len, const void *msg,
                     uint32_t len, uint64_t timeout_ns, uint8_t comp[NVSP_MESSAGE_SIZE]) {
        struct vsc_bus *bus = net->bus;
        uint64_t tid = vsc_net_ctrl_tid(net);
        vsc_net_wait_arm(net, tid, 0, 0);
        int r = vsc_ring_put(&net->ch.out, pkt_type, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, tid, extra,
                             extra_len, msg, len);
        if (r < 0) {
                net->wait_tid = 0;
                return r;
        }
        vsc_channel_flush(&net->ch);
        uint64_t deadline = bus->ops->now_ns(bus->ctx) + timeout_ns;
        for (;;) {
                r = vsc_net_poll(net, 0);
                if (r < 0)
                        break;
                if (net->wait_comp) {
                        vsc_memcpy(comp, net->comp_msg, NVSP_MESSAGE_SIZE); /* zero-padded by the client */
                        r = 0;
                        break;
                }
                uint64_t now = bus->ops->now_ns(bus->ctx);
                if (now >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                r = vsc_channel_wait(&net->ch, deadline - now);
                if (r < 0 && r != -ETIMEDOUT)
                        break;
        }
        net->wait_tid = 0;
        return r;
}
