// SPDX-License-Identifier: MIT
/* vsc.mode=hostile (hostile.h, docs/hostile-guests.md): the sub-mode table,
 * and what the sub-modes share: raw HvPostMessage, the reply barrier, the
 * connection per sub-mode and the survivor check.
 *
 * Options: vsc.hostile=<sub>[,<sub>...] (required), vsc.hostile.seed=N
 * (random input, default 1), vsc.hostile.pause_ms=N (idle after each
 * hostile_phase line, default 0), plus each sub-mode's own. */
#include "hostile.h"
#include "vsc/ic.h"
#include "vsc/net.h"

static const uint8_t scsi_class[16] = HV_SCSI_GUID;
static const uint8_t nic_class[16] = HV_NIC_GUID;
static const uint8_t heartbeat_class[16] = HV_HEART_BEAT_GUID;

static const struct {
        const char *name;
        int (*run)(struct hostile *h);
} subs[] = {
        { "msg", hostile_msg },     { "gpadl", hostile_gpadl }, { "ring", hostile_ring },
        { "flood", hostile_flood }, { "scsi", hostile_scsi },   { "rndis", hostile_rndis },
        { "link", hostile_link },   { "diskfault", hostile_diskfault },
};

uint64_t hostile_opt(const struct hostile *h, const char *key, uint64_t lo, uint64_t hi, uint64_t dflt) {
        char name[48], v[24];
        bool ok = false;
        vsc_snprintf(name, sizeof name, "vsc.hostile.%s", key);
        if (boot_cmdline_get(&h->g->boot, name, v, sizeof v) < 0)
                return dflt;
        uint64_t n = parse_u64(v, &ok);
        if (ok && n >= lo && n <= hi)
                return n;
        report("warning=ignoring %s=%s (allowed %lu..%lu)", name, v, lo, hi);
        return dflt;
}

uint32_t hostile_random(struct hostile *h) {
        uint32_t x = h->rng; /* xorshift32: reproducible from vsc.hostile.seed */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return h->rng = x;
}

void hostile_case(struct hostile *h, const char *name, bool ok, const char *fmt, ...) {
        char what[200];
        va_list ap;
        va_start(ap, fmt);
        vsc_vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        h->cases++;
        if (!ok)
                h->unexpected++;
        report("hostile_case=%s/%s ok=%d %s", h->sub, name, ok, what);
}

void hostile_phase(struct hostile *h, const char *name) {
        report("hostile_phase=%s", name);
        uint64_t until = clock_ns() + h->pause_ns;
        while (clock_ns() < until)
                clock_idle(until);
}

/* ---- the connection ---- */

int hostile_connect(struct hostile *h) {
        int r = guest_vmbus_connect(h->g);
        if (r < 0)
                return r;
        r = vsc_request_offers(h->bus);
        return r < 0 ? guest_fail(r, "%s", vsc_bus_error(h->bus)) : 0;
}

int hostile_disconnect(struct hostile *h) {
        return h->bus->hv_enabled ? guest_vmbus_disconnect(h->g) : 0;
}

const struct vsc_offer *hostile_offer(const struct hostile *h, const uint8_t class_id[16], unsigned n) {
        for (unsigned i = 0; i < h->bus->n_offers; i++) {
                const struct vsc_offer *o = &h->bus->offers[i];
                if (!o->rescinded && o->sub_channel_index == 0 && !memcmp(o->if_type, class_id, 16) && n-- == 0)
                        return o;
        }
        return NULL;
}

/* ---- raw messages and the barrier ---- */

uint16_t hostile_post(struct hostile *h, uint32_t conn_id, uint32_t message_type, uint32_t payload_size,
                      const void *msg, uint32_t copy_len) {
        struct vsc_bus *bus = h->bus;
        struct hv_input_post_message *in = bus->post;
        memset(in, 0, sizeof *in);
        in->connection_id = conn_id;
        in->message_type = message_type;
        in->payload_size = payload_size;
        memcpy(in->payload, msg, copy_len <= sizeof in->payload ? copy_len : sizeof in->payload);
        return (uint16_t)bus->ops->hypercall(bus->ctx, bus->hypercall_page, HVCALL_POST_MESSAGE,
                                             bus->ops->virt_to_phys(bus->ctx, in), 0);
}

static uint32_t msg_conn(const struct hostile *h) {
        return h->bus->msg_conn_id ? h->bus->msg_conn_id : VMBUS_MESSAGE_CONNECTION_ID;
}

uint16_t hostile_send(struct hostile *h, const void *msg, uint32_t len) {
        return hostile_post(h, msg_conn(h), HVMSG_VMBUS, len, msg, len);
}

int hostile_barrier(struct hostile *h) {
        struct vsc_bus *bus = h->bus;
        struct vmbus_channel_gpadl_teardown t = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
                                                  .gpadl = h->barrier_handle++ };
        h->n_replies = 0;
        int r = vsc_post_message(bus, msg_conn(h), &t, sizeof t, false);
        if (r < 0)
                return guest_fail(r, "barrier: %s", vsc_bus_error(bus));
        uint64_t deadline = clock_ns() + h->g->timeout_ns;
        for (;;) {
                struct vsc_msg m;
                r = vsc_poll_message(bus, &m);
                if (r < 0)
                        return guest_fail(r, "barrier: %s", vsc_bus_error(bus));
                if (r > 0 && m.type == CHANNELMSG_GPADL_TORNDOWN && m.u.gpadl_torndown.gpadl == t.gpadl)
                        return 0;
                if (r > 0 && h->n_replies < HOSTILE_MAX_REPLIES)
                        h->replies[h->n_replies++] = m;
                if (clock_ns() >= deadline)
                        return guest_fail(-ETIMEDOUT, "barrier: no GPADL_TORNDOWN for handle 0x%x within %lu ms",
                                          t.gpadl, h->g->timeout_ns / 1000000);
                if (r == 0)
                        bus->ops->idle(bus->ctx, deadline);
        }
}

const struct vsc_msg *hostile_reply(const struct hostile *h, uint32_t type) {
        for (unsigned i = 0; i < h->n_replies; i++)
                if (h->replies[i].type == type)
                        return &h->replies[i];
        return NULL;
}

void hostile_replies_text(const struct hostile *h, char *out, size_t len) {
        size_t at = 0;
        out[0] = '\0';
        for (unsigned i = 0; i < h->n_replies && at + 1 < len; i++) {
                vsc_snprintf(out + at, len - at, "%s%s", i ? "+" : "", vsc_msg_name(h->replies[i].type));
                at = strlen(out);
        }
        if (h->n_replies == 0)
                vsc_snprintf(out, len, "none");
}

/* ---- storage controllers ---- */

#define STOR_PAGES ((sizeof(struct vsc_stor) + 4095) / 4096)

struct vsc_stor *hostile_stor_open(struct hostile *h, const struct vsc_offer *o) {
        struct vsc_stor *s = mem_alloc_pages(STOR_PAGES);
        if (!s) {
                guest_fail(-ENOMEM, "no pages for a storage client");
                return NULL;
        }
        int r = vsc_stor_open(s, h->bus, o);
        if (r == 0)
                r = vsc_stor_init(s);
        if (r < 0) {
                guest_fail(r, "storage controller relid %u: %s", o->child_relid, vsc_bus_error(h->bus));
                if (s->n_channels)
                        (void)vsc_stor_close(s);
                mem_free_pages(s, STOR_PAGES);
                return NULL;
        }
        return s;
}

void hostile_stor_close(struct hostile *h, struct vsc_stor *s) {
        if (!s)
                return;
        if (vsc_stor_close(s) < 0)
                report("warning=closing a storage controller: %s", vsc_bus_error(h->bus));
        mem_free_pages(s, STOR_PAGES);
}

/* INQUIRY, READ CAPACITY(10), READ(10) of block 0: all GOOD. */
static int alive_scsi(struct hostile *h, const struct vsc_offer *o) {
        struct vsc_stor *s = hostile_stor_open(h, o);
        if (!s)
                return -EIO;
        struct vsc_stor_result res;
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_IN, .buf = h->scratch, .len = 36 };
        c.cdb_len = vsc_scsi_inquiry(c.cdb, false, 0, 36);
        int r = vsc_stor_exec(s, &c, &res);
        struct vsc_scsi_capacity cap = { 0 };
        if (r == 0 && vsc_stor_result_ok(&res)) {
                c = (struct vsc_stor_cmd){ .dir = VSC_STOR_DIR_IN, .buf = h->scratch, .len = 8 };
                c.cdb_len = vsc_scsi_read_capacity10(c.cdb);
                r = vsc_stor_exec(s, &c, &res);
        }
        if (r == 0 && vsc_stor_result_ok(&res) && vsc_scsi_parse_capacity10(h->scratch, 8, &cap) == 0 &&
            cap.block_size <= 4096) {
                c = (struct vsc_stor_cmd){ .dir = VSC_STOR_DIR_IN, .buf = h->scratch, .len = cap.block_size };
                c.cdb_len = vsc_scsi_rw(c.cdb, false, 0, 1, false, false);
                r = vsc_stor_exec(s, &c, &res);
        }
        if (r == 0 && !vsc_stor_result_ok(&res))
                r = guest_fail(-EIO, "alive: controller relid %u: a command failed: srb_status=0x%x scsi_status=0x%x",
                               o->child_relid, res.srb_status, res.scsi_status);
        else if (r < 0)
                guest_fail(r, "alive: controller relid %u: %s", o->child_relid, vsc_bus_error(h->bus));
        hostile_stor_close(h, s);
        return r;
}

/* Up, one query answered (the control path), closed again. */
static int alive_nic(struct hostile *h, const struct vsc_offer *o) {
        size_t pages = (sizeof(struct vsc_net) + 4095) / 4096;
        struct vsc_net *n = mem_alloc_pages(pages);
        if (!n)
                return guest_fail(-ENOMEM, "alive: no pages for the NIC client");
        struct vsc_net_config cfg;
        vsc_net_config_default(&cfg);
        cfg.ring_bytes = 64 * 1024;
        cfg.recv_buf_bytes = 1024 * 1024;
        cfg.send_buf_bytes = 256 * 1024;
        uint32_t media = 0, got = 0;
        int r = vsc_net_open(h->bus, n, o, &cfg);
        if (r == 0)
                r = vsc_net_query(n, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &media, sizeof media, &got);
        int k = r == 0 || n->ch.open ? vsc_net_close(n) : 0;
        if (r == 0 && k < 0)
                r = k;
        if (r < 0)
                guest_fail(r, "alive: NIC: %s", vsc_bus_error(h->bus));
        else
                mem_free_pages(n, pages); /* pages the host may still map are kept (vsc_net_close) */
        return r;
}

/* The host speaks first on a service channel (§8.2): its negotiation. */
static int alive_heartbeat(struct hostile *h, const struct vsc_offer *o) {
        struct vsc_channel ch;
        struct vsc_ic ic;
        struct vsc_ic_result res;
        struct vsc_packet p;
        vsc_ic_init(&ic, VSC_IC_HEARTBEAT);
        int r = vsc_channel_open(h->bus, &ch, o, VSC_IC_RING_BYTES, VSC_IC_RING_BYTES, NULL, 0);
        uint64_t deadline = clock_ns() + h->g->timeout_ns;
        while (r == 0 && !ic.negotiated) {
                r = vsc_channel_recv(&ch, h->scratch, VSC_IC_MAX_PACKET, &p);
                if (r == -EAGAIN && clock_ns() < deadline) {
                        r = vsc_channel_wait(&ch, deadline - clock_ns());
                        continue;
                }
                if (r == -EAGAIN) {
                        vsc_snprintf(h->bus->err, sizeof h->bus->err, "no negotiation on the heartbeat channel");
                        r = -ETIMEDOUT;
                }
                if (r < 0)
                        break;
                uint8_t *payload = h->scratch + p.payload_off;
                size_t len = p.len - p.payload_off;
                if (p.type == VM_PKT_DATA_INBAND && vsc_ic_handle(&ic, NULL, payload, len, &res) == 1)
                        r = vsc_channel_send(&ch, VM_PKT_DATA_INBAND, 0, p.trans_id, payload, len);
        }
        int k = ch.open ? vsc_channel_close(&ch) : 0;
        if (r == 0)
                r = k;
        return r < 0 ? guest_fail(r, "alive: heartbeat: %s", vsc_bus_error(h->bus)) : 0;
}

int hostile_alive(struct hostile *h, uint32_t skip_relid) {
        unsigned scsi = 0;
        const struct vsc_offer *o;
        int r = 0;
        for (unsigned n = 0; r == 0 && (o = hostile_offer(h, scsi_class, n)); n++)
                if (o->child_relid != skip_relid && (r = alive_scsi(h, o)) == 0)
                        scsi++;
        const struct vsc_offer *nic = hostile_offer(h, nic_class, 0);
        const struct vsc_offer *hb = hostile_offer(h, heartbeat_class, 0);
        if (r == 0 && nic && nic->child_relid != skip_relid)
                r = alive_nic(h, nic);
        if (r == 0 && hb && hb->child_relid != skip_relid)
                r = alive_heartbeat(h, hb);
        if (r < 0)
                return r;
        report("hostile_alive=%s scsi=%u nic=%s heartbeat=%s", h->sub, scsi,
               nic && nic->child_relid != skip_relid ? "ok" : "none",
               hb && hb->child_relid != skip_relid ? "ok" : "none");
        return 0;
}

/* ---- the mode ---- */

static int run_sub(struct hostile *h, const char *name) {
        for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
                if (strncmp(subs[i].name, name, 16) != 0)
                        continue;
                h->sub = subs[i].name;
                h->cases = h->unexpected = 0;
                report("hostile_begin=%s", h->sub);
                int r = subs[i].run(h);
                int k = hostile_disconnect(h);
                if (r == 0)
                        r = k;
                if (r == 0 && h->unexpected)
                        r = guest_fail(-EPROTO, "hostile %s: %u of %u cases did not get the answer they must", h->sub,
                                       h->unexpected, h->cases);
                if (r == 0)
                        report("hostile_done=%s cases=%u unexpected=0", h->sub, h->cases);
                return r;
        }
        return guest_fail(-EINVAL, "unknown vsc.hostile=%s (known: msg gpadl ring flood scsi rndis link diskfault)",
                          name);
}

int mode_hostile(struct guest *g) {
        char list[96];
        if (boot_cmdline_get(&g->boot, "vsc.hostile", list, sizeof list) < 0)
                return guest_fail(-EINVAL, "vsc.mode=hostile needs vsc.hostile=<sub>[,<sub>...]");
        size_t pages = (sizeof(struct hostile) + 4095) / 4096;
        struct hostile *h = mem_alloc_pages(pages);
        uint8_t *scratch = mem_alloc_pages(HOSTILE_SCRATCH_PAGES);
        if (!h || !scratch)
                return guest_fail(-ENOMEM, "no pages for the hostile mode");
        *h = (struct hostile){ .g = g, .bus = &g->bus, .scratch = scratch, .barrier_handle = 0xba770000u,
                               .next_gpadl = 0x4057000u };
        h->rng = (uint32_t)hostile_opt(h, "seed", 1, 0xffffffffu, 1);
        h->pause_ns = hostile_opt(h, "pause_ms", 0, 60000, 0) * 1000000ull;
        for (char *p = list; *p;) {
                char *e = p;
                while (*e && *e != ',')
                        e++;
                bool last = *e == '\0';
                *e = '\0';
                int r = run_sub(h, p);
                if (r < 0)
                        return r;
                p = last ? e : e + 1;
        }
        return 0;
}
