// SPDX-License-Identifier: MIT
/* Guest -> host: NVSP SEND_RNDIS_PKT (§7.4, §7.6). The message stream is
 * the send-buffer section (if any) followed by the GPA-direct ranges; it is
 * walked message by message (msg_len), RNDIS PACKETs go to the backend,
 * control messages to the RNDIS device. Headers are copied out of guest
 * memory before they are parsed; frames go to writev() straight from guest
 * memory. A full backend stalls the packet where it stopped (no frame is
 * lost, the completion waits). */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "netvsp-internal.h"
#include "netvsp/qos.h"

/* RNDIS header + PPIs are read from this many bytes (Linux: 44 + <= 64). */
#define TX_MSG_HEAD 256u
#define TX_IOV_MAX (NETVSP_SG_MAX + 2)

static int build_stream(struct netvsp_dev *nd, const struct netvsp_vmbus_packet *p, uint32_t index,
                        uint32_t size, struct netvsp_sg *sg) {
        netvsp_sg_init(sg);
        if (index != NVSP_INVALID_SECTION_INDEX) {
                /* size = bytes used in the section, at most a section */
                if (!nd->send_ok || index >= nd->send_sections || size == 0 || size > nd->cfg.send_section_size)
                        return -EBADMSG;
                netvsp_sg_append(sg, nd->send_base + (size_t)index * nd->cfg.send_section_size, size);
        }
        for (uint32_t i = 0; i < p->n_pages; i++) {
                void *host;
                if (nd->host->map_gpa(nd->host_ctx, p->pages[i].gpa, p->pages[i].len, &host) < 0)
                        return -EFAULT;
                if (netvsp_sg_append(sg, host, p->pages[i].len) < 0)
                        return -EBADMSG;
        }
        return sg->total ? 0 : -EBADMSG;
}

/* Largest frame we pass on: MTU + Ethernet header + a VLAN tag, or an LSO
 * frame within what we advertised. */
static size_t max_frame(const struct netvsp_dev *nd, const struct rndis_tx_packet *pkt) {
        if ((pkt->flags & RNDIS_TX_LSO) && (nd->rndis.offload.lso_ip4 || nd->rndis.offload.lso_ip6))
                return MAX((size_t)nd->cfg.rndis.caps.lso_max_size, (size_t)nd->cfg.rndis.mtu) + 18;
        return (size_t)nd->cfg.rndis.mtu + 18;
}

static int send_frame(struct netvsp_dev *nd, const struct rndis_tx_packet *pkt, size_t frame_off) {
        struct netvsp_tx_stall *s = &nd->stall;
        struct netvsp_tx_frame fr = { .hdr_len = 0, .replace_len = 0 };
        struct iovec iov[TX_IOV_MAX];
        int k = 1, r;

        if (pkt->flags & (RNDIS_TX_CSUM | RNDIS_TX_LSO | RNDIS_TX_VLAN)) {
                uint8_t head[NETVSP_TX_HDR_MAX];
                size_t hl = netvsp_sg_copy(&s->sg, frame_off, head, MIN((size_t)pkt->data_len, sizeof head));
                if (netvsp_tx_prepare(pkt, head, hl, pkt->data_len, &fr) < 0) {
                        nd->stats.tx_malformed++; /* it would leave corrupt: drop it */
                        return 0;
                }
        } else {
                memset(&fr.vnet, 0, sizeof fr.vnet);
        }
        iov[0] = (struct iovec){ &fr.vnet, sizeof fr.vnet };
        if (fr.hdr_len)
                iov[k++] = (struct iovec){ fr.hdr, fr.hdr_len };
        r = netvsp_sg_slice(&s->sg, frame_off + fr.replace_len, pkt->data_len - fr.replace_len, iov + k,
                            TX_IOV_MAX - (unsigned)k);
        if (r < 0) {
                nd->stats.tx_malformed++;
                return 0;
        }
        struct netvsp_qos_bucket *qb = netvsp_qos_capped(nd->qos ? &nd->qos->out : NULL);
        uint64_t now = qb ? netvsp_qos_now_ns() : 0, wait = qb ? netvsp_qos_wait_ns(qb, now) : 0;
        if (wait) { /* held by the cap: the stall resumes here */
                nd->stats.tx_qos_waits++;
                nd->qos_tx_held = true;
                nd->qos_wait_ns = netvsp_qos_hold_ns(qb, wait);
                return -EAGAIN;
        }
        r = nd->be->tx(nd->be_ctx, iov, k + r);
        if (r == -EAGAIN) {
                nd->stats.tx_stalls++;
                return -EAGAIN;
        }
        if (r == -ENODEV) {
                nd->be_gone = true;
                netvsp_set_link(nd, false);
        }
        if (r < 0) {
                nd->stats.tx_dropped++;
                return 0;
        }
        if (qb)
                netvsp_qos_charge(qb, now, pkt->data_len);
        nd->stats.tx_packets++;
        nd->stats.tx_bytes += pkt->data_len;
        return 0;
}

/* One PACKET message at the stream position. -EBADMSG: the walk cannot go
 * on (its length is unusable); -EAGAIN: backend full. */
static int tx_packet(struct netvsp_dev *nd, size_t avail, size_t left, uint32_t *msg_len) {
        struct rndis_tx_packet pkt;

        if (rndis_packet_parse(nd->msg_copy, avail, left, &pkt) < 0)
                return -EBADMSG;
        *msg_len = pkt.msg_len;
        /* Not a running NIC, or the frame is larger than anything we
         * advertised: dropped as a NIC would; the message is still fine. */
        if (nd->rndis.state != RNDIS_STATE_INITIALIZED || nd->be_gone || pkt.data_len > max_frame(nd, &pkt) ||
            pkt.data_len < 14) {
                nd->stats.tx_dropped++;
                return 0;
        }
        return send_frame(nd, &pkt, nd->stall.pos + pkt.data_offset);
}

/* A control message: copied whole (bounded), answered by the RNDIS device,
 * the response queued for a receive slot. */
static int tx_control(struct netvsp_dev *nd, size_t left, uint32_t *msg_len) {
        size_t n = netvsp_sg_copy(&nd->stall.sg, nd->stall.pos, nd->msg_copy, MIN(left, sizeof nd->msg_copy));
        uint32_t ml;
        int r;

        memcpy(&ml, nd->msg_copy + 4, sizeof ml);
        nd->stats.ctrl_requests++;
        if (nd->sub_index) { /* control is the primary channel's (§7.8): not answered here */
                nd->stats.ctrl_dropped++;
        } else {
                r = rndis_device_control(&nd->rndis, nd->msg_copy, n, nd->resp, sizeof nd->resp);
                if (r > 0)
                        netvsp_queue_ctrl(nd, nd->resp, (size_t)r);
        }
        if (ml < RNDIS_HEADER_SIZE || ml > left)
                return -EBADMSG;
        *msg_len = ml;
        return 0;
}

/* Walks from stall.pos; true when the packet is done (completion queued). */
static bool walk(struct netvsp_dev *nd) {
        struct netvsp_tx_stall *s = &nd->stall;

        while (s->pos < s->sg.total) {
                size_t left = s->sg.total - s->pos, n;
                uint32_t type, msg_len = 0;
                int r;

                if (s->msgs == NETVSP_MSGS_PER_PACKET) {
                        s->status = NVSP_STAT_INVALID_RNDIS_PKT;
                        break;
                }
                n = netvsp_sg_copy(&s->sg, s->pos, nd->msg_copy, MIN(left, (size_t)TX_MSG_HEAD));
                if (n < RNDIS_HEADER_SIZE) {
                        s->status = NVSP_STAT_INVALID_RNDIS_PKT;
                        break;
                }
                memcpy(&type, nd->msg_copy, sizeof type);
                r = type == RNDIS_MSG_PACKET ? tx_packet(nd, n, left, &msg_len) : tx_control(nd, left, &msg_len);
                if (r == -EAGAIN)
                        return false;
                if (r < 0) {
                        nd->stats.tx_malformed++;
                        s->status = NVSP_STAT_INVALID_RNDIS_PKT;
                        break;
                }
                s->msgs++;
                s->pos += msg_len;
        }
        s->active = false;
        if (s->want_comp)
                netvsp_complete_rndis(nd, s->trans_id, s->status);
        return true;
}

void netvsp_rndis_pkt(struct netvsp_dev *nd, const struct netvsp_vmbus_packet *p, bool want_comp,
                      uint32_t section_index, uint32_t section_size) {
        struct netvsp_tx_stall *s = &nd->stall;

        s->active = false;
        s->want_comp = want_comp;
        s->trans_id = p->trans_id;
        s->status = NVSP_STAT_SUCCESS;
        s->msgs = 0;
        s->pos = 0;
        s->section_index = section_index;
        s->section_size = section_size;
        s->n_pages = p->n_pages;
        memcpy(s->pages, p->pages, (size_t)p->n_pages * sizeof *p->pages);
        if (build_stream(nd, p, section_index, section_size, &s->sg) < 0) {
                nd->stats.tx_malformed++;
                if (want_comp)
                        netvsp_complete_rndis(nd, p->trans_id, NVSP_STAT_INVALID_RNDIS_PKT);
                return;
        }
        s->active = true;
        walk(nd);
}

bool netvsp_tx_resume(struct netvsp_dev *nd) {
        return !nd->stall.active || walk(nd);
}
