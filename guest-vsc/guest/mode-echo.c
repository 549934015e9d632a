// SPDX-License-Identifier: MIT
/* vsc.mode=echo: a channel end to end against the echo test provider
 * (tests/lib/vmbustest, vmbustest/echo.h): open it, check that packets
 * come back intact, and measure the signalling paths docs/guest-vsc.md
 * compares:
 *   echo=cpl0-interrupt  CPL0, inbound interrupts on, wait in hlt for SINT2
 *   echo=cpl3-poll       CPL3, inbound interrupt_mask set, doorbell + polling
 *   echo=cpl3-batch      CPL3, 16 packets per doorbell, polling
 * One line each: VSC echo=<path> n=<packets> us_per_packet=<t> signals=<s> sint_interrupts=<i>
 *   timer_interrupts=<wake-ups by the idle timer>
 * vsc.echo_n=<round trips> (default 200). */
#include "guest.h"

/* 3c5e0e3a-7b1d-4f36-9d0c-6f6b2a1e5c01, VMBUS_ECHO_CLASS_ID on the host. */
static const uint8_t echo_class[16] =
        HV_GUID_BYTES(0x3c5e0e3a, 0x7b1d, 0x4f36, 0x9d, 0x0c, 0x6f, 0x6b, 0x2a, 0x1e, 0x5c, 0x01);

#define ECHO_RING_BYTES (16u * 4096)
#define ECHO_PAYLOAD 64u
#define ECHO_BATCH 16u

struct echo_run {
        struct vsc_channel *ch;
        unsigned n, batch;
        uint64_t timeout_ns, ns;
        int err;
        char why[96];
};

static void fill(uint8_t *p, uint64_t id) {
        for (unsigned i = 0; i < ECHO_PAYLOAD; i++)
                p[i] = (uint8_t)(id * 31 + i);
}

/* Waits for the echo of packet id and checks it; the channel's inbound
 * interrupt mask decides whether the wait sleeps (CPL0) or polls. */
static int echo_take(struct echo_run *e, uint64_t id) {
        uint8_t buf[256], want[ECHO_PAYLOAD];
        struct vsc_packet p;
        int r = vsc_channel_wait(e->ch, e->timeout_ns);
        if (r == 0)
                r = vsc_channel_recv(e->ch, buf, sizeof buf, &p);
        if (r < 0) {
                vsc_snprintf(e->why, sizeof e->why, "no echo of packet %lu (%d)", id, r);
                return r;
        }
        fill(want, id);
        if (p.type != VM_PKT_COMP || p.trans_id != id || p.len - p.payload_off < ECHO_PAYLOAD ||
            memcmp(buf + p.payload_off, want, ECHO_PAYLOAD)) {
                vsc_snprintf(e->why, sizeof e->why, "packet %lu came back wrong (type %u, id %lu)", id, p.type,
                             p.trans_id);
                return -EPROTO;
        }
        return 0;
}

/* n packets in groups of e->batch: queue the group, publish it with one
 * flush (one doorbell at most), then take its echoes. */
static long echo_loop(void *arg) {
        struct echo_run *e = arg;
        uint8_t payload[ECHO_PAYLOAD];
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < e->n; i += e->batch) {
                for (unsigned j = i; j < i + e->batch; j++) {
                        fill(payload, j + 1);
                        e->err = vsc_channel_queue(e->ch, VM_PKT_DATA_INBAND,
                                                   VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, j + 1, payload,
                                                   sizeof payload);
                        if (e->err < 0) {
                                vsc_snprintf(e->why, sizeof e->why, "send of packet %u failed", j + 1);
                                return e->err;
                        }
                }
                vsc_channel_flush(e->ch);
                for (unsigned j = i; j < i + e->batch; j++)
                        if ((e->err = echo_take(e, j + 1)) < 0)
                                return e->err;
        }
        e->ns = clock_tsc_to_ns(rdtsc() - t0);
        return 0;
}

static int echo_path(struct guest *g, struct vsc_channel *ch, const char *name, unsigned cpl, unsigned n,
                     unsigned batch) {
        struct echo_run e = { .ch = ch, .n = n, .batch = batch, .timeout_ns = g->timeout_ns };
        struct cpu_counters c0, c1;
        uint64_t db0 = ch->bus->stats.signals_doorbell + ch->bus->stats.signals_hypercall;
        /* §5.6: polling = inbound interrupt_mask set; unmask and re-check after. */
        vsc_channel_mask(ch, cpl == 3);
        cpu_counters(&c0);
        long r = cpl == 3 ? cpu_run_user(echo_loop, &e, false) : echo_loop(&e);
        cpu_counters(&c1);
        if (vsc_channel_mask(ch, false) != 0 && r == 0)
                return guest_fail(-EPROTO, "echo %s: packets left over after the run", name);
        if (r < 0)
                return guest_fail((int)r, "echo %s: %s: %s", name, e.why, vsc_bus_error(ch->bus));
        uint64_t signals = ch->bus->stats.signals_doorbell + ch->bus->stats.signals_hypercall - db0;
        report("echo=%s n=%u us_per_packet=%lu.%02lu signals=%lu sint_interrupts=%lu timer_interrupts=%lu", name, n,
               e.ns / n / 1000, e.ns / n / 10 % 100, signals, c1.sint - c0.sint, c1.timer - c0.timer);
        return 0;
}

static unsigned echo_count(const struct guest *g) {
        char v[16];
        bool ok = false;
        uint64_t n = 0;
        if (boot_cmdline_get(&g->boot, "vsc.echo_n", v, sizeof v) == 0)
                n = parse_u64(v, &ok);
        return ok && n >= ECHO_BATCH && n <= 1000000 ? (unsigned)(n / ECHO_BATCH * ECHO_BATCH) : 200;
}

int mode_echo(struct guest *g) {
        struct vsc_channel ch;
        int r = guest_vmbus_connect(g);
        if (r < 0)
                return r;
        r = vsc_request_offers(&g->bus);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        const struct vsc_offer *o = vsc_find_offer(&g->bus, echo_class, 0);
        if (!o)
                return guest_fail(-ENOENT, "no echo device offered (class 3c5e0e3a-7b1d-4f36-9d0c-6f6b2a1e5c01)");
        r = vsc_channel_open(&g->bus, &ch, o, ECHO_RING_BYTES, ECHO_RING_BYTES, NULL, 0);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        report("echo_channel relid=%u conn_id=0x%x gpadl=0x%x", ch.relid, ch.connection_id, ch.gpadl);
        unsigned n = echo_count(g);
        r = echo_path(g, &ch, "cpl0-interrupt", 0, n / 10 < ECHO_BATCH ? ECHO_BATCH : n / 10, 1);
        if (r == 0)
                r = echo_path(g, &ch, "cpl3-poll", 3, n, 1);
        if (r == 0)
                r = echo_path(g, &ch, "cpl3-batch", 3, n, ECHO_BATCH);
        int c = vsc_channel_close(&ch);
        if (r == 0 && c < 0)
                r = guest_fail(c, "%s", vsc_bus_error(&g->bus));
        if (r < 0)
                return r;
        return guest_vmbus_disconnect(g);
}
