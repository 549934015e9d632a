// SPDX-License-Identifier: MIT
/* vsc.hostile=flood: a guest that repeats things as fast as it can, so the
 * host can show that what it keeps for a guest is bounded
 * (docs/THREAT_MODEL.md; tests/integration/test-hostile-vmms.sh measures
 * the worker's memory and fds at the two hostile_phase lines):
 *
 *  - post storm: HvPostMessage of a message the host drops (vsc.hostile.posts);
 *  - reply storm: requests the host must answer, sent without ever reading
 *    an answer (vsc.hostile.replies): the host must refuse with
 *    HV_STATUS_INSUFFICIENT_BUFFERS once its SynIC queue and reply queue are
 *    full, and later deliver exactly the accepted answers, in order;
 *  - doorbell storm at CPL3: a registered connection id (a spurious wake-up
 *    each) and unregistered ones (an exit each) (vsc.hostile.doorbells);
 *  - open/close storm: every SCSI controller, the NIC and the heartbeat
 *    channel opened, used and closed again (vsc.hostile.cycles);
 *  - GPADL storm: 64-page GPADLs created and torn down (vsc.hostile.gpadls).
 * Then the survivor check. */
#include "hostile.h"
#include "hv/vmstack.h"
#include "vsc/ic.h"
#include "vsc/net.h"

static const uint8_t scsi_class[16] = HV_SCSI_GUID;
static const uint8_t nic_class[16] = HV_NIC_GUID;
static const uint8_t heartbeat_class[16] = HV_HEART_BEAT_GUID;

static uint64_t rate(uint64_t n, uint64_t ns) {
        return ns ? n * 1000000000ull / ns : 0;
}

static int post_storm(struct hostile *h) {
        uint64_t n = hostile_opt(h, "posts", 1, 10000000, 20000), bad = 0;
        struct vmbus_channel_relid_message m = { .header.msgtype = CHANNELMSG_CLOSECHANNEL, .child_relid = 0 };
        uint64_t t0 = clock_ns();
        for (uint64_t i = 0; i < n; i++)
                if (hostile_send(h, &m, sizeof m) != HV_STATUS_SUCCESS)
                        bad++;
        uint64_t ns = clock_ns() - t0;
        int r = hostile_barrier(h);
        if (r < 0)
                return r;
        hostile_case(h, "post_storm", bad == 0 && h->n_replies == 0, "posts=%lu refused=%lu replies=%u per_s=%lu", n,
                     bad, h->n_replies, rate(n, ns));
        return 0;
}

/* Reads the answers (each EOM lets the host deliver the next), checking
 * that every accepted request gets exactly its own, in order; then the
 * barrier shows that nothing else was owed. */
static int drain_replies(struct hostile *h, uint32_t first, uint64_t accepted, uint64_t *answered, bool *in_order) {
        uint64_t deadline = clock_ns() + h->g->timeout_ns;
        *answered = 0;
        *in_order = true;
        while (*answered < accepted) {
                struct vsc_msg m;
                int r = vsc_poll_message(h->bus, &m);
                if (r < 0)
                        return guest_fail(r, "reply storm: %s", vsc_bus_error(h->bus));
                if (r > 0) {
                        if (m.type != CHANNELMSG_GPADL_TORNDOWN || m.u.gpadl_torndown.gpadl != first + *answered)
                                *in_order = false;
                        (*answered)++;
                        continue;
                }
                if (clock_ns() >= deadline)
                        break;
                h->bus->ops->idle(h->bus->ctx, deadline);
        }
        int r = hostile_barrier(h);
        if (r < 0)
                return r;
        *answered += h->n_replies; /* more than were accepted: the case fails */
        return 0;
}

static int reply_storm(struct hostile *h) {
        uint64_t n = hostile_opt(h, "replies", 1, 1000000, 4000), accepted = 0, refused = 0, other = 0;
        uint32_t first = 0x5707000u;
        bool gap = false; /* once refused, nothing later may be accepted: the queue only drains when we read */
        for (uint64_t i = 0; i < n; i++) {
                struct vmbus_channel_gpadl_teardown t = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
                                                          .gpadl = first + (uint32_t)i };
                uint16_t st = hostile_send(h, &t, sizeof t);
                if (st == HV_STATUS_SUCCESS && !refused)
                        accepted++;
                else if (st == HV_STATUS_SUCCESS)
                        gap = true;
                else if (st == HV_STATUS_INSUFFICIENT_BUFFERS)
                        refused++;
                else
                        other++;
        }
        hostile_phase(h, "replies_queued");
        uint64_t answered;
        bool in_order;
        int r = drain_replies(h, first, accepted, &answered, &in_order);
        if (r < 0)
                return r;
        /* accepted: the SynIC slot, hvshim's queue (256) and the server's reply queue (2 x channels + 16) */
        hostile_case(h, "reply_storm", refused > 0 && !gap && !other && accepted < 1100 && answered == accepted &&
                                               in_order,
                     "requests=%lu accepted=%lu refused_busy=%lu other=%lu answered=%lu in_order=%d", n, accepted,
                     refused, other, answered, in_order);
        return 0;
}

struct doorbells {
        uint32_t registered;
        uint64_t n_registered, n_unregistered;
        uint64_t ns_registered, ns_unregistered;
};

static inline void outl_port(uint16_t port, uint32_t v) {
        __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static long ring_doorbells(void *arg) {
        struct doorbells *d = arg;
        uint64_t t0 = clock_ns();
        for (uint64_t i = 0; i < d->n_registered; i++)
                outl_port(VMSTACK_DOORBELL_PORT, d->registered);
        uint64_t t1 = clock_ns();
        for (uint64_t i = 0; i < d->n_unregistered; i++) /* connection ids nobody registered */
                outl_port(VMSTACK_DOORBELL_PORT, 0x3000u + (uint32_t)(i & 0xfff));
        d->ns_registered = t1 - t0;
        d->ns_unregistered = clock_ns() - t1;
        return 0;
}

static int doorbell_storm(struct hostile *h) {
        const struct vsc_offer *o = hostile_offer(h, heartbeat_class, 0);
        if (!o)
                return guest_fail(-ENODEV, "flood: no heartbeat offer for the doorbell storm");
        struct vsc_channel ch;
        int r = vsc_channel_open(h->bus, &ch, o, VSC_IC_RING_BYTES, VSC_IC_RING_BYTES, NULL, 0);
        if (r < 0)
                return guest_fail(r, "flood: opening the heartbeat channel: %s", vsc_bus_error(h->bus));
        uint64_t n = hostile_opt(h, "doorbells", 1, 100000000, 200000);
        struct doorbells d = { .registered = ch.connection_id, .n_registered = n, .n_unregistered = n / 10 };
        cpu_run_user(ring_doorbells, &d, false);
        r = vsc_channel_close(&ch);
        if (r < 0)
                return guest_fail(r, "flood: closing the heartbeat channel: %s", vsc_bus_error(h->bus));
        hostile_case(h, "doorbell_storm", true, "registered=%lu per_s=%lu unregistered=%lu per_s=%lu", d.n_registered,
                     rate(d.n_registered, d.ns_registered), d.n_unregistered, rate(d.n_unregistered, d.ns_unregistered));
        return 0;
}

/* Open, use, close: a leak per cycle in a provider shows in the host's
 * measurements; a failure here is a case that fails. */
static int cycle_nic(struct hostile *h, const struct vsc_offer *o, struct vsc_net *n) {
        struct vsc_net_config cfg;
        vsc_net_config_default(&cfg);
        cfg.ring_bytes = 64 * 1024;
        cfg.recv_buf_bytes = 1024 * 1024;
        cfg.send_buf_bytes = 256 * 1024;
        int r = vsc_net_open(h->bus, n, o, &cfg);
        if (r == 0)
                r = vsc_net_close(n);
        return r;
}

static int openclose_storm(struct hostile *h) {
        uint64_t cycles = hostile_opt(h, "cycles", 1, 100000, 30);
        const struct vsc_offer *nic = hostile_offer(h, nic_class, 0), *hb = hostile_offer(h, heartbeat_class, 0);
        size_t net_pages = (sizeof(struct vsc_net) + 4095) / 4096;
        struct vsc_net *net = nic ? mem_alloc_pages(net_pages) : NULL;
        uint64_t done = 0, opens = 0;
        int r = 0;
        uint64_t t0 = clock_ns();
        for (; r == 0 && done < cycles; done++) {
                const struct vsc_offer *o;
                for (unsigned k = 0; r == 0 && (o = hostile_offer(h, scsi_class, k)); k++) {
                        struct vsc_stor *s = hostile_stor_open(h, o);
                        r = s ? 0 : -EIO;
                        hostile_stor_close(h, s);
                        opens++;
                }
                if (r == 0 && net) {
                        r = cycle_nic(h, nic, net);
                        opens++;
                }
                if (r == 0 && hb) {
                        struct vsc_channel ch;
                        r = vsc_channel_open(h->bus, &ch, hb, VSC_IC_RING_BYTES, VSC_IC_RING_BYTES, NULL, 0);
                        if (r == 0)
                                r = vsc_channel_close(&ch);
                        opens++;
                }
        }
        if (r < 0)
                guest_fail(r, "open/close cycle %lu: %s", done, vsc_bus_error(h->bus));
        else if (net)
                mem_free_pages(net, net_pages);
        hostile_case(h, "openclose_storm", r == 0, "cycles=%lu opens=%lu ms=%lu", done, opens,
                     (clock_ns() - t0) / 1000000);
        return 0;
}

static int gpadl_storm(struct hostile *h) {
        const struct vsc_offer *o = hostile_offer(h, heartbeat_class, 0);
        uint64_t n = hostile_opt(h, "gpadls", 1, 1000000, 300), done = 0;
        int r = 0;
        uint64_t t0 = clock_ns();
        for (; o && r == 0 && done < n; done++) {
                uint32_t handle;
                r = vsc_gpadl_create(h->bus, o->child_relid, h->scratch, HOSTILE_SCRATCH_PAGES * 4096, &handle);
                if (r == 0)
                        r = vsc_gpadl_teardown(h->bus, o->child_relid, handle);
        }
        if (r < 0)
                guest_fail(r, "GPADL cycle %lu: %s", done, vsc_bus_error(h->bus));
        hostile_case(h, "gpadl_storm", o && r == 0, "gpadls=%lu pages_each=%u ms=%lu", done, HOSTILE_SCRATCH_PAGES,
                     (clock_ns() - t0) / 1000000);
        return 0;
}

int hostile_flood(struct hostile *h) {
        int r = hostile_connect(h);
        if (r < 0)
                return r;
        hostile_phase(h, "flood_start");
        r = post_storm(h);
        if (r == 0)
                r = reply_storm(h);
        if (r == 0)
                r = doorbell_storm(h);
        if (r == 0)
                r = openclose_storm(h);
        if (r == 0)
                r = gpadl_storm(h);
        if (r == 0)
                hostile_phase(h, "flood_end");
        return r < 0 ? r : hostile_alive(h, 0);
}
