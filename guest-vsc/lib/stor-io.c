// SPDX-License-Identifier: MIT
/* storvsc client, I/O path: EXECUTE_SRB packets as Linux 6.1's
 * storvsc_queuecommand/storvsc_do_io build them (§6.4, §6.5), batching
 * (queue, then one publish and at most one doorbell per channel), and the
 * validation of every packet the host sends back, matched to its request
 * by trans_id (slot index + 1, like blk-mq tag + 1, §5.7). */
#include "stor-internal.h"

#define STOR_RECV_BUF 512u /* > 80 (§5.4): an oversized packet is consumed and refused */

int vsc_stor_parse_reply(const void *pkt, size_t len, struct vsc_stor_reply *out, const char **why) {
        struct vmpacket_descriptor d;
        vsc_memset(out, 0, sizeof *out);
        if (len < sizeof d) {
                *why = "shorter than a packet descriptor";
                return -EPROTO;
        }
        vsc_memcpy(&d, pkt, sizeof d);
        size_t total = (size_t)d.len8 * 8, off = (size_t)d.offset8 * 8;
        if (total != len || off < sizeof d || off > total) {
                *why = "descriptor offset/length out of range";
                return -EPROTO;
        }
        if (total > STORVSC_MAX_PKT_SIZE) {
                *why = "longer than storvsc's 80-byte maximum (section 5.4)";
                return -EPROTO;
        }
        size_t payload = total - off;
        vsc_memcpy(&out->pkt, (const uint8_t *)pkt + off, payload < sizeof out->pkt ? payload : sizeof out->pkt);
        out->trans_id = d.trans_id;
        if (d.trans_id == 0) { /* unsolicited (§6.6) */
                uint32_t op = out->pkt.operation;
                if (d.type != VM_PKT_DATA_INBAND || payload < sizeof op) {
                        *why = "unsolicited packet (trans_id 0) that is not an inband operation";
                        return -EPROTO;
                }
                if (op != VSTOR_OPERATION_ENUMERATE_BUS && op != VSTOR_OPERATION_REMOVE_DEVICE) {
                        *why = "unsolicited packet that is not ENUMERATE_BUS or REMOVE_DEVICE";
                        return -EPROTO;
                }
                out->unsolicited = true;
                return 0;
        }
        if (d.type != VM_PKT_COMP) {
                *why = "reply is not a completion packet (type 0xB)";
                return -EPROTO;
        }
        if (payload < VSTOR_PACKET_SIZE) {
                *why = "completion shorter than a 64-byte vstor_packet";
                return -EPROTO;
        }
        if (out->pkt.operation != VSTOR_OPERATION_COMPLETE_IO) {
                *why = "completion whose operation is not COMPLETE_IO";
                return -EPROTO;
        }
        return 0;
}

int vsc_stor_parse_srb(const struct vstor_packet *pkt, uint32_t len, struct vsc_stor_result *res, const char **why) {
        const struct vmscsi_request *srb = &pkt->vm_srb;
        vsc_memset(res, 0, sizeof *res);
        res->status = pkt->status;
        res->srb_status = srb->srb_status;
        res->scsi_status = srb->scsi_status;
        res->data_len = srb->data_transfer_length;
        if (res->data_len > len) {
                *why = "data_transfer_length larger than the request's buffer";
                return -EPROTO;
        }
        res->resid = len - res->data_len;
        /* Linux copies sense only for CHECK CONDITION with AUTOSENSE_VALID,
         * at most its 20-byte buffer (§6.5). */
        if (srb->scsi_status == 0x02 && (srb->srb_status & SRB_STATUS_AUTOSENSE_VALID)) {
                uint8_t n = srb->sense_info_length;
                res->sense_len = n < STORVSC_SENSE_BUFFER_SIZE ? n : (uint8_t)STORVSC_SENSE_BUFFER_SIZE;
                vsc_memcpy(res->sense, srb->sense_data, res->sense_len);
        }
        return 0;
}

int vsc_stor_take(struct vsc_stor *s, unsigned chan, struct vsc_stor_reply *out) {
        uint64_t buf[STOR_RECV_BUF / 8];
        struct vsc_packet p;
        const char *why;
        struct vsc_channel *ch = &s->ch[chan];
        int r = vsc_channel_recv(ch, buf, sizeof buf, &p);
        if (r == -EMSGSIZE) {
                s->stats.bad_packets++;
                return vsc_fail(s->bus, -EPROTO, "storvsc: host packet of %u bytes on channel %u (at most 80, §5.4)",
                                p.len, chan);
        }
        if (r < 0)
                return r; /* -EAGAIN, or the ring's error (line set) */
        r = vsc_stor_parse_reply(buf, p.len, out, &why);
        if (r < 0) {
                s->stats.bad_packets++;
                return vsc_fail(s->bus, r, "storvsc: bad host packet (type %u, %u bytes, trans_id 0x%lx) on channel %u: %s",
                                p.type, p.len, p.trans_id, chan, why);
        }
        if (out->unsolicited) {
                s->rescan = true;
                s->stats.unsolicited++;
        }
        return 0;
}

/* ---- submission ---- */

static void build_srb(const struct vsc_stor_cmd *cmd, struct vstor_packet *v) {
        struct vmscsi_request *srb = &v->vm_srb;
        vsc_memset(v, 0, sizeof *v);
        v->operation = VSTOR_OPERATION_EXECUTE_SRB;
        v->flags = REQUEST_COMPLETION_FLAG;
        srb->length = sizeof *srb;
        srb->path_id = cmd->path_id;
        srb->target_id = cmd->target_id;
        srb->lun = cmd->lun;
        srb->cdb_length = cmd->cdb_len;
        srb->sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
        srb->data_transfer_length = cmd->len;
        vsc_memcpy(srb->cdb, cmd->cdb, cmd->cdb_len);
        /* storvsc_queuecommand for a tagged disk: simple tag, untagged slot */
        srb->queue_tag = SP_UNTAGGED;
        srb->queue_action = SRB_SIMPLE_TAG_REQUEST;
        srb->time_out_value = 60;
        srb->srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER | SRB_FLAGS_QUEUE_ACTION_ENABLE | SRB_FLAGS_NO_QUEUE_FREEZE;
        switch (cmd->dir) {
        case VSC_STOR_DIR_IN:
                srb->data_in = READ_TYPE;
                srb->srb_flags |= SRB_FLAGS_DATA_IN;
                break;
        case VSC_STOR_DIR_OUT:
                srb->data_in = WRITE_TYPE;
                srb->srb_flags |= SRB_FLAGS_DATA_OUT;
                break;
        default:
                srb->data_in = UNKNOWN_TYPE;
                break;
        }
}

/* The GPA-direct extra fields (§5.3): reserved, range_cnt = 1, the range,
 * then one PFN per page the buffer touches. Returns their byte count. */
static size_t build_gpa_range(struct vsc_stor *s, const struct vsc_stor_cmd *cmd, uint64_t *extra) {
        uintptr_t va = (uintptr_t)cmd->buf;
        uint64_t offset = va & 4095u;
        size_t pages = (size_t)((offset + cmd->len + 4095u) / 4096u);
        extra[0] = 1ull << 32;                             /* reserved = 0, range_cnt = 1 */
        extra[1] = (uint64_t)cmd->len | offset << 32;      /* byte_count, byte_offset */
        for (size_t i = 0; i < pages; i++)
                extra[2 + i] = s->bus->ops->virt_to_phys(s->bus->ctx, (const void *)(va - offset + i * 4096u)) >> 12;
        return (2 + pages) * 8;
}

static bool cmd_valid(const struct vsc_stor *s, unsigned chan, const struct vsc_stor_cmd *cmd) {
        if (chan >= s->n_channels || cmd->cdb_len == 0 || cmd->cdb_len > STORVSC_MAX_CMD_LEN)
                return false;
        if (cmd->len > s->max_transfer || (cmd->len && !cmd->buf))
                return false;
        return (cmd->dir == VSC_STOR_DIR_NONE) == (cmd->len == 0);
}

int vsc_stor_submit(struct vsc_stor *s, unsigned chan, const struct vsc_stor_cmd *cmd) {
        uint64_t extra[2 + VSC_STOR_MAX_PFNS];
        struct vstor_packet v;
        if (!s->initialized)
                return vsc_fail(s->bus, -ENOTCONN, "storvsc: I/O before the handshake");
        if (!cmd_valid(s, chan, cmd))
                return vsc_fail(s->bus, -EINVAL, "storvsc: refusing a command (channel %u, cdb_len %u, %u bytes)",
                                chan, cmd->cdb_len, cmd->len);
        if (s->n_free == 0)
                return -EAGAIN;
        uint16_t slot = s->free_slots[s->n_free - 1];
        build_srb(cmd, &v);
        size_t extra_len = cmd->len ? build_gpa_range(s, cmd, extra) : 0;
        uint16_t type = cmd->len ? VM_PKT_DATA_USING_GPA_DIRECT : VM_PKT_DATA_INBAND;
        int r = vsc_ring_put(&s->ch[chan].out, type, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, slot + 1u,
                             extra_len ? extra : NULL, extra_len, &v, sizeof v);
        if (r == -EAGAIN) {
                s->stats.ring_full++; /* storvsc returns BUSY here; never pending_send_sz (§5.5) */
                return r;
        }
        if (r < 0)
                return vsc_fail(s->bus, -EPROTO, "storvsc: channel %u: host read_index out of range", chan);
        s->n_free--;
        s->slots[slot] = (struct vsc_stor_slot){ .busy = true, .channel = (uint16_t)chan, .len = cmd->len,
                                                 .user = cmd->user };
        s->ch[chan].stats.sent++;
        s->stats.submitted++;
        return 0;
}

void vsc_stor_flush(struct vsc_stor *s) {
        for (unsigned i = 0; i < s->n_channels; i++)
                vsc_channel_flush(&s->ch[i]);
}

/* ---- completion ---- */

static int complete(struct vsc_stor *s, unsigned chan, const struct vsc_stor_reply *reply,
                    struct vsc_stor_result *res) {
        uint64_t id = reply->trans_id;
        const char *why;
        if (id == 0 || id > VSC_STOR_MAX_INFLIGHT || !s->slots[id - 1].busy) {
                s->stats.bad_packets++;
                return vsc_fail(s->bus, -EPROTO, "storvsc: completion for trans_id 0x%lx, which is not outstanding",
                                id);
        }
        struct vsc_stor_slot *slot = &s->slots[id - 1];
        if (slot->channel != chan) { /* §6.7: completed on the channel it came in on */
                s->stats.bad_packets++;
                return vsc_fail(s->bus, -EPROTO, "storvsc: trans_id %lu sent on channel %u completed on channel %u",
                                id, slot->channel, chan);
        }
        int r = vsc_stor_parse_srb(&reply->pkt, slot->len, res, &why);
        res->user = slot->user;
        res->channel = (uint16_t)chan;
        slot->busy = false;
        s->free_slots[s->n_free++] = (uint16_t)(id - 1);
        if (r < 0) {
                s->stats.bad_packets++;
                return vsc_fail(s->bus, r, "storvsc: completion of trans_id %lu: %s", id, why);
        }
        s->stats.completed++;
        return 0;
}

int vsc_stor_poll(struct vsc_stor *s, struct vsc_stor_result *out, unsigned max) {
        unsigned n = 0;
        if (s->deferred_err) { /* after the completions that came before it */
                int r = s->deferred_err;
                s->deferred_err = 0;
                return r;
        }
        for (unsigned c = 0; c < s->n_channels && n < max; c++) {
                while (n < max) {
                        struct vsc_stor_reply reply;
                        int r = vsc_stor_take(s, c, &reply);
                        if (r == 0 && reply.unsolicited)
                                continue;
                        if (r == 0)
                                r = complete(s, c, &reply, &out[n]);
                        if (r == -EAGAIN)
                                break;
                        if (r < 0 && n == 0)
                                return r;
                        if (r < 0) { /* the caller gets what completed first */
                                s->deferred_err = r;
                                return (int)n;
                        }
                        n++;
                }
        }
        return (int)n;
}

int vsc_stor_wait(struct vsc_stor *s, uint64_t deadline_ns) {
        struct vsc_bus *bus = s->bus;
        for (;;) {
                for (unsigned c = 0; c < s->n_channels; c++) {
                        int r = vsc_ring_has_data(&s->ch[c].in);
                        if (r < 0)
                                return vsc_fail(bus, -EPROTO, "storvsc: channel %u: host write_index out of range", c);
                        if (r > 0)
                                return 0;
                }
                if (bus->ops->now_ns(bus->ctx) >= deadline_ns)
                        return -ETIMEDOUT;
                bus->ops->idle(bus->ctx, deadline_ns);
        }
}

int vsc_stor_exec(struct vsc_stor *s, const struct vsc_stor_cmd *cmd, struct vsc_stor_result *res) {
        struct vsc_bus *bus = s->bus;
        if (vsc_stor_inflight(s))
                return vsc_fail(bus, -EBUSY, "storvsc: a synchronous command while %u are in flight",
                                vsc_stor_inflight(s));
        int r = vsc_stor_submit(s, 0, cmd);
        if (r == -EAGAIN)
                return vsc_fail(bus, -EIO, "storvsc: primary ring full with nothing in flight");
        if (r < 0)
                return r;
        vsc_stor_flush(s);
        uint64_t start = bus->ops->now_ns(bus->ctx), deadline = start + bus->timeout_ns;
        for (;;) {
                int n = vsc_stor_poll(s, res, 1);
                if (n != 0)
                        return n < 0 ? n : 0;
                r = vsc_stor_wait(s, deadline);
                if (r == -ETIMEDOUT)
                        return vsc_fail(bus, r, "timeout: no completion of SCSI command 0x%02x for LUN %u within %lu ms",
                                        cmd->cdb[0], cmd->lun, (bus->ops->now_ns(bus->ctx) - start) / 1000000);
                if (r < 0)
                        return r;
        }
}

int vsc_stor_mask(struct vsc_stor *s, bool masked) {
        int any = 0;
        for (unsigned i = 0; i < s->n_channels; i++) {
                int r = vsc_channel_mask(&s->ch[i], masked); /* clears the event flag on unmask */
                if (r < 0)
                        return r;
                any |= r;
        }
        return any;
}
