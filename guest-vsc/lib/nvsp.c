// SPDX-License-Identifier: MIT
/* The NVSP half of a netvsc client (§7.2, §7.3, §7.7): channel, version
 * negotiation, NDIS config and version, the receive and send buffers, and
 * the teardown, in netvsc_device_add / netvsc_device_remove order. */
#include "net-internal.h"

/* netvsc_connect_vsp's ver_list, tried newest first (§7.3). */
static const uint32_t nvsp_versions[] = {
        NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_6, NVSP_PROTOCOL_VERSION_5,
        NVSP_PROTOCOL_VERSION_4,  NVSP_PROTOCOL_VERSION_2, NVSP_PROTOCOL_VERSION_1,
};
#define RECV_BUF_LEGACY_MAX (15u << 20) /* NVSP <= 2 hosts allow less (§7.1) */

void vsc_net_config_default(struct vsc_net_config *c) {
        c->ring_bytes = VSC_NET_RING_BYTES;
        c->recv_buf_bytes = VSC_NET_RECV_BUF_BYTES;
        c->send_buf_bytes = VSC_NET_SEND_BUF_BYTES;
        c->mtu = 1500;
}

/* ---- one request at a time ---- */

uint64_t vsc_net_ctrl_tid(struct vsc_net *net) {
        return VSC_NET_CTRL_TID + (net->next_ctrl++ & 0xffffu);
}

void vsc_net_wait_arm(struct vsc_net *net, uint64_t tid, uint32_t type, uint32_t req_id) {
        net->wait_tid = tid;
        net->wait_comp = false;
        net->wait_resp = type == 0;
        net->wait_type = type;
        net->wait_req_id = req_id;
        net->comp_len = net->resp_len = 0;
}

int vsc_net_wait(struct vsc_net *net, const char *what) {
        struct vsc_bus *bus = net->bus;
        uint64_t start = bus->ops->now_ns(bus->ctx), deadline = start + bus->timeout_ns;
        for (;;) {
                int r = vsc_net_poll(net, 0);
                if (r < 0)
                        return r;
                if (net->wait_comp && net->wait_resp) {
                        net->wait_tid = 0;
                        return 0;
                }
                uint64_t now = bus->ops->now_ns(bus->ctx);
                if (now >= deadline)
                        break;
                r = vsc_channel_wait(&net->ch, deadline - now);
                if (r < 0 && r != -ETIMEDOUT)
                        return r;
        }
        net->wait_tid = 0;
        return vsc_fail(bus, -ETIMEDOUT, "timeout: no %s %s from the host within %lu ms", what,
                        net->wait_comp ? "response" : "completion", (unsigned long)(bus->timeout_ns / 1000000));
}

/* With a completion expected of type `type`: waits for it, its size
 * checked (§7.2). */
int vsc_net_nvsp_send(struct vsc_net *net, const uint32_t *w, unsigned n, uint32_t type, const char *what) {
        uint8_t m[NVSP_MESSAGE_SIZE];
        vsc_memset(m, 0, sizeof m);
        vsc_memcpy(m, w, 4u * n);
        if (type == 0) /* SEND_NDIS_CONFIG, SEND_NDIS_VER, REVOKE_*: no completion */
                return vsc_channel_send(&net->ch, VM_PKT_DATA_INBAND, 0, VSC_NET_NO_RESPONSE_TID, m, sizeof m);
        uint64_t tid = vsc_net_ctrl_tid(net);
        vsc_net_wait_arm(net, tid, 0, 0);
        int r = vsc_channel_send(&net->ch, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, tid, m,
                                 sizeof m);
        if (r < 0)
                return vsc_fail(net->bus, r, "netvsc: cannot send %s (%d)", what, r);
        r = vsc_net_wait(net, what);
        if (r < 0)
                return r;
        if (vsc_net_rd32(net->comp_msg) != type)
                return vsc_fail(net->bus, -EPROTO, "bad host message: NVSP type %u completes %s (expected %u)",
                                vsc_net_rd32(net->comp_msg), what, type);
        return 0;
}

/* ---- §7.3 ---- */

static int negotiate(struct vsc_net *net) {
        for (unsigned i = 0; i < sizeof nvsp_versions / sizeof nvsp_versions[0]; i++) {
                uint32_t v = nvsp_versions[i], w[3] = { NVSP_MSG_TYPE_INIT, v, v };
                int r = vsc_net_nvsp_send(net, w, 3, NVSP_MSG_TYPE_INIT_COMPLETE, "NVSP INIT");
                if (r < 0)
                        return r;
                if (vsc_net_rd32(net->comp_msg + 12) == NVSP_STAT_SUCCESS) {
                        net->nvsp_version = v;
                        return 0;
                }
        }
        return vsc_fail(net->bus, -EPROTO, "netvsc: the host accepted none of NVSP 6.1, 6, 5, 4, 2, 1");
}

/* SEND_NDIS_CONFIG (>= 2) and SEND_NDIS_VER, neither completed (§7.3). */
static int send_ndis(struct vsc_net *net) {
        uint64_t caps = NVSP_NDIS_CONFIG_CAP_IEEE8021Q;
        if (net->nvsp_version >= NVSP_PROTOCOL_VERSION_5)
                caps |= NVSP_NDIS_CONFIG_CAP_SRIOV | NVSP_NDIS_CONFIG_CAP_TEAMING;
        if (net->nvsp_version >= NVSP_PROTOCOL_VERSION_61)
                caps |= NVSP_NDIS_CONFIG_CAP_RSC;
        if (net->nvsp_version >= NVSP_PROTOCOL_VERSION_2) {
                uint32_t w[5] = { NVSP_MSG2_TYPE_SEND_NDIS_CONFIG, net->cfg.mtu + 14, 0, (uint32_t)caps,
                                  (uint32_t)(caps >> 32) };
                int r = vsc_net_nvsp_send(net, w, 5, 0, "SEND_NDIS_CONFIG");
                if (r < 0)
                        return r;
        }
        /* NDIS 6.1 for NVSP <= 4, else 6.30 */
        uint32_t w[3] = { NVSP_MSG1_TYPE_SEND_NDIS_VER, 6, net->nvsp_version <= NVSP_PROTOCOL_VERSION_4 ? 1u : 30u };
        return vsc_net_nvsp_send(net, w, 3, 0, "SEND_NDIS_VER");
}

static int recv_buffer(struct vsc_net *net) {
        struct vsc_bus *bus = net->bus;
        net->recv_len = net->cfg.recv_buf_bytes;
        if (net->nvsp_version <= NVSP_PROTOCOL_VERSION_2 && net->recv_len > RECV_BUF_LEGACY_MAX)
                net->recv_len = RECV_BUF_LEGACY_MAX;
        /* Unzeroed: the guest reads only the ranges the host's transfer
         * pages name, which the host wrote (net-rx.c copies exactly those);
         * 16 MiB zeroed took 0.85 s of emulated CPL0 on a PVM host. */
        net->recv_buf = vsc_pages_alloc_unzeroed(bus, net->recv_len / VMBUS_PAGE_SIZE);
        if (!net->recv_buf)
                return vsc_fail(bus, -ENOMEM, "netvsc: no memory for a %u KiB receive buffer", net->recv_len / 1024);
        int r = vsc_gpadl_create(bus, net->ch.relid, net->recv_buf, net->recv_len, &net->recv_gpadl);
        if (r < 0)
                return r;
        net->recv_ok = true; /* from here on the GPADL must be torn down */
        uint32_t w[3] = { NVSP_MSG1_TYPE_SEND_RECV_BUF, net->recv_gpadl, NVSP_RECV_BUF_ID };
        r = vsc_net_nvsp_send(net, w, 3, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE, "SEND_RECV_BUF");
        if (r < 0)
                return r;
        const uint8_t *c = net->comp_msg;
        uint32_t status = vsc_net_rd32(c + 4), sections = vsc_net_rd32(c + 8), offset = vsc_net_rd32(c + 12);
        net->recv_slot_size = vsc_net_rd32(c + 16);
        net->recv_slots = vsc_net_rd32(c + 20);
        if (status != NVSP_STAT_SUCCESS)
                return vsc_fail(bus, -EIO, "netvsc: host refused the receive buffer (NVSP status %u)", status);
        /* netvsc_init_buf: one section at offset 0, sub-allocations >= 68
         * bytes that fit in the buffer */
        if (sections != 1 || offset != 0 || net->recv_slot_size < VSC_NET_MTU_MIN ||
            (uint64_t)net->recv_slot_size * net->recv_slots > net->recv_len)
                return vsc_fail(bus, -EPROTO,
                                "bad host message: receive buffer of %u sections, offset %u, %u x %u bytes in %u",
                                sections, offset, net->recv_slots, net->recv_slot_size, net->recv_len);
        return 0;
}

static int send_buffer(struct vsc_net *net) {
        struct vsc_bus *bus = net->bus;
        net->send_len = net->cfg.send_buf_bytes;
        /* Unzeroed: every byte of a section the host may read (message,
         * frame, alignment padding) is written before it is sent (net-tx.c). */
        net->send_buf = vsc_pages_alloc_unzeroed(bus, net->send_len / VMBUS_PAGE_SIZE);
        if (!net->send_buf)
                return vsc_fail(bus, -ENOMEM, "netvsc: no memory for a %u KiB send buffer", net->send_len / 1024);
        int r = vsc_gpadl_create(bus, net->ch.relid, net->send_buf, net->send_len, &net->send_gpadl);
        if (r < 0)
                return r;
        net->send_ok = true;
        uint32_t w[3] = { NVSP_MSG1_TYPE_SEND_SEND_BUF, net->send_gpadl, NVSP_SEND_BUF_ID };
        r = vsc_net_nvsp_send(net, w, 3, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE, "SEND_SEND_BUF");
        if (r < 0)
                return r;
        uint32_t status = vsc_net_rd32(net->comp_msg + 4);
        net->section_size = vsc_net_rd32(net->comp_msg + 8);
        if (status != NVSP_STAT_SUCCESS)
                return vsc_fail(bus, -EIO, "netvsc: host refused the send buffer (NVSP status %u)", status);
        if (net->section_size < VSC_NET_MTU_MIN)
                return vsc_fail(bus, -EPROTO, "bad host message: send sections of %u bytes", net->section_size);
        /* the guest computes the count itself (§7.3 step 6); we track at most
         * VSC_NET_MAX_SECTIONS of them */
        net->sections = net->send_len / net->section_size;
        if (net->sections > VSC_NET_MAX_SECTIONS)
                net->sections = VSC_NET_MAX_SECTIONS;
        net->sections_free = net->sections;
        net->sec_first = 0;
        net->sec_end = net->sections;
        vsc_memset(net->section_busy, 0, sizeof net->section_busy);
        return 0;
}

static int check_config(struct vsc_net *net) {
        const struct vsc_net_config *c = &net->cfg;
        if (c->ring_bytes % VMBUS_PAGE_SIZE || c->recv_buf_bytes % VMBUS_PAGE_SIZE || c->recv_buf_bytes == 0 ||
            c->send_buf_bytes % VMBUS_PAGE_SIZE || c->send_buf_bytes == 0 || c->mtu < VSC_NET_MTU_MIN ||
            c->mtu > 65521)
                return vsc_fail(net->bus, -EINVAL, "netvsc: buffer sizes must be whole pages, MTU 68..65521");
        return 0;
}

static int open_steps(struct vsc_net *net, const struct vsc_offer *offer) {
        int r = check_config(net);
        if (r < 0)
                return r;
        net->ctrl_page = vsc_pages_alloc(net->bus, 1);
        net->lso_page = vsc_pages_alloc(net->bus, 1);
        if (!net->ctrl_page || !net->lso_page)
                return vsc_fail(net->bus, -ENOMEM, "netvsc: out of pages");
        r = vsc_channel_open(net->bus, &net->ch, offer, net->cfg.ring_bytes, net->cfg.ring_bytes, NULL, 0);
        if (r < 0)
                return r;
        if ((r = negotiate(net)) < 0 || (r = send_ndis(net)) < 0 || (r = recv_buffer(net)) < 0 ||
            (r = send_buffer(net)) < 0)
                return r;
        return vsc_net_rndis_init(net);
}

int vsc_net_open(struct vsc_bus *bus, struct vsc_net *net, const struct vsc_offer *offer,
                 const struct vsc_net_config *cfg) {
        vsc_memset(net, 0, sizeof *net);
        net->bus = bus;
        if (cfg)
                net->cfg = *cfg;
        else
                vsc_net_config_default(&net->cfg);
        net->next_req_id = 1; /* Linux: atomic_inc_return from 0 */
        if (offer) {
                vsc_memcpy(net->if_type, offer->if_type, 16);
                vsc_memcpy(net->if_instance, offer->if_instance, 16);
        }
        int r = open_steps(net, offer);
        if (r < 0) {
                char keep[sizeof bus->err];
                vsc_memcpy(keep, bus->err, sizeof keep); /* report the first failure */
                vsc_net_close(net);
                vsc_memcpy(bus->err, keep, sizeof keep);
        }
        return r;
}

/* A buffer's GPADL goes after the close; its pages are freed only once the
 * host acknowledged the teardown (it may still map them otherwise). */
static int release_buffer(struct vsc_net *net, uint8_t **buf, uint32_t len, bool *gpadl_live, uint32_t gpadl) {
        int r = 0;
        if (*gpadl_live) {
                r = vsc_gpadl_teardown(net->bus, net->ch.relid, gpadl);
                if (r < 0)
                        return r;
                *gpadl_live = false;
        }
        vsc_pages_free(net->bus, *buf, len / VMBUS_PAGE_SIZE);
        *buf = NULL;
        return r;
}

/* §7.7: HALT, revoke both buffers (no completion), close (the sub-channels
 * first, as vmbus_close does), then the GPADLs (VMBus >= 4.0 order; the
 * test guest negotiates 5.x). A sub-channel alone: its channel only. */
int vsc_net_close(struct vsc_net *net) {
        int r = 0, k;
        if (net->primary) {
                net->send_ok = net->recv_ok = false;
                return vsc_channel_close(&net->ch);
        }
        /* The frames still in flight are completed, not passed on: a guest
         * that stopped polling may find the whole receive buffer waiting
         * (16 MiB, thousands of frames), and the test guest closes at CPL0,
         * where parsing them all took seconds on a PVM host. HALT then
         * stops the host sending more. */
        net->closing = true;
        if (net->ch.open && net->max_pkt_per_msg)
                r = vsc_net_rndis_halt(net);
        if (net->ch.open && net->recv_ok) {
                uint32_t w[2] = { NVSP_MSG1_TYPE_REVOKE_RECV_BUF, NVSP_RECV_BUF_ID };
                k = vsc_net_nvsp_send(net, w, 2, 0, "REVOKE_RECV_BUF");
                r = r < 0 ? r : k;
        }
        if (net->ch.open && net->send_ok) {
                uint32_t w[2] = { NVSP_MSG1_TYPE_REVOKE_SEND_BUF, NVSP_SEND_BUF_ID };
                k = vsc_net_nvsp_send(net, w, 2, 0, "REVOKE_SEND_BUF");
                r = r < 0 ? r : k;
        }
        while (net->n_subs > 0) {
                k = vsc_net_close(&net->subs[--net->n_subs]);
                r = r < 0 ? r : k;
        }
        k = vsc_channel_close(&net->ch);
        r = r < 0 ? r : k;
        k = release_buffer(net, &net->recv_buf, net->recv_len, &net->recv_ok, net->recv_gpadl);
        r = r < 0 ? r : k;
        k = release_buffer(net, &net->send_buf, net->send_len, &net->send_ok, net->send_gpadl);
        r = r < 0 ? r : k;
        vsc_pages_free(net->bus, net->ctrl_page, 1);
        net->ctrl_page = NULL;
        vsc_pages_free(net->bus, net->lso_page, 1); /* the host completed or revoked every send */
        net->lso_page = NULL;
        net->lso_busy = net->lso_pending = 0;
        net->max_pkt_per_msg = 0;
        return r;
}
