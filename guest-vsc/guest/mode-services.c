// SPDX-License-Identifier: MIT
/* vsc.mode=services: the integration services as hv_utils runs them
 * (docs/integration-services.md, §8). Opens the shutdown, heartbeat, time
 * sync and KVP channels the host offers, answers at CPL0 with inbound
 * interrupts (a few packets a second: hlt between them costs nothing,
 * polling at CPL3 would burn a host CPU; docs/guest-vsc.md), until the
 * host asks for a shutdown or reboot, the ACPI power button is pressed or
 * vsc.services_ms passes. Then the shutdown path: close the channels,
 * UNLOAD, and power off (or reset for a reboot).
 *
 * Options: vsc.ic=shutdown,heartbeat,timesync,kvp (default: all offered),
 * vsc.hostname=NAME, vsc.ip=ADDR (KVP intrinsic items), vsc.power_button=
 * ignore (a guest that does not react to it), vsc.services_ms=N (0: no
 * limit). Report lines: see docs/integration-services.md. */
#include "hv/vmstack.h"
#include "vsc/ic.h"

#include "guest.h"

static inline uint16_t inw(uint16_t port) {
        uint16_t v;
        __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

#define IDLE_NS 10000000ull /* hlt at most this long between checks */
#define PWRBTN_STS 0x100u   /* PM1 status, ACPI */

static const struct {
        const char *name;
        uint8_t class_id[16];
        uint32_t max_packet;
} kinds[VSC_IC_KINDS] = {
        [VSC_IC_SHUTDOWN] = { "shutdown", HV_SHUTDOWN_GUID, VSC_IC_MAX_PACKET },
        [VSC_IC_HEARTBEAT] = { "heartbeat", HV_HEART_BEAT_GUID, VSC_IC_MAX_PACKET },
        [VSC_IC_TIMESYNC] = { "timesync", HV_TS_GUID, VSC_IC_MAX_PACKET },
        [VSC_IC_KVP] = { "kvp", HV_KVP_GUID, VSC_IC_KVP_MAX_PACKET },
};

enum end { END_NONE, END_SHUTDOWN, END_REBOOT, END_POWER_BUTTON, END_TIME_LIMIT };
static const char *const end_names[] = { "none", "shutdown", "reboot", "power-button", "time-limit" };

struct svc {
        struct vsc_channel ch;
        struct vsc_ic ic;
        bool open, stuck, pool_done[KVP_POOL_COUNT];
};

struct services {
        struct svc s[VSC_IC_KINDS];
        struct vsc_kvp_store kvp;
        enum end end;
        uint64_t heartbeats, times, kvp_requests;
        char hostname[64], ip[64];
        bool ignore_power_button;
        uint8_t buf[VSC_IC_KVP_MAX_PACKET];
};

/* A report value: no spaces (the line format), printable, short. */
static void clean(const char *in, char *out, size_t cap) {
        size_t i = 0;
        for (; in[i] && i + 1 < cap; i++)
                out[i] = in[i] == ' ' ? '_' : (in[i] < 0x21 || in[i] > 0x7e) ? '?' : in[i];
        out[i] = 0;
}

static void report_kvp(struct services *sv, struct svc *s, const struct vsc_ic_result *r) {
        static const char *const ops[] = { "get", "set", "delete", "enumerate", "get-ip", "set-ip" };
        char key[64] = "", value[64] = "";
        sv->kvp_requests++;
        if (r->kvp_item) {
                clean(r->kvp_item->key, key, sizeof key);
                clean(r->kvp_item->value, value, sizeof value);
        }
        if (r->kvp_op == KVP_OP_ENUMERATE) {
                /* One line per pool, when the host first reached its end. */
                if (r->status != HV_S_OK && r->kvp_pool < KVP_POOL_COUNT && !s->pool_done[r->kvp_pool]) {
                        s->pool_done[r->kvp_pool] = true;
                        report("kvp=enumerated pool=%u items=%u", r->kvp_pool, r->kvp_index);
                }
                return;
        }
        report("kvp=%s pool=%u key=%s value=%s status=0x%x", r->kvp_op < 6 ? ops[r->kvp_op] : "unknown", r->kvp_pool,
               key, value, r->status);
}

static void report_time(struct services *sv, struct svc *s, const struct vsc_ic_result *r) {
        uint64_t unix_100ns = r->parenttime > IC_WLTIMEDELTA ? r->parenttime - IC_WLTIMEDELTA : 0;
        sv->times++;
        report("timesync=%s version=%u.%u host_unix_s=%lu.%07lu reftime=%lu n=%lu",
               r->time_flags & ICTIMESYNCFLAG_SYNC ? "sync" : r->time_flags & ICTIMESYNCFLAG_SAMPLE ? "sample" : "probe",
               s->ic.msg.major, s->ic.msg.minor, unix_100ns / 10000000, unix_100ns % 10000000, r->reftime, sv->times);
}

static void act(struct services *sv, struct svc *s, const struct vsc_ic_result *r) {
        switch (r->event) {
        case VSC_IC_EV_NEGOTIATE:
                report("ic=%s negotiated=%d framework=%u.%u version=%u.%u", kinds[s->ic.kind].name, s->ic.negotiated,
                       s->ic.fw.major, s->ic.fw.minor, s->ic.msg.major, s->ic.msg.minor);
                break;
        case VSC_IC_EV_HEARTBEAT:
                if (sv->heartbeats++ == 0)
                        report("heartbeat=first seq=%lu", r->seq);
                break;
        case VSC_IC_EV_SHUTDOWN:
        case VSC_IC_EV_REBOOT:
                report("shutdown=request flags=0x%x action=%s", r->shutdown_flags,
                       r->event == VSC_IC_EV_REBOOT ? "reboot" : "poweroff");
                sv->end = r->event == VSC_IC_EV_REBOOT ? END_REBOOT : END_SHUTDOWN;
                break;
        case VSC_IC_EV_REFUSED:
                report("ic=%s refused status=0x%x flags=0x%x", kinds[s->ic.kind].name, r->status, r->shutdown_flags);
                break;
        case VSC_IC_EV_TIME:
                report_time(sv, s, r);
                break;
        case VSC_IC_EV_KVP:
                report_kvp(sv, s, r);
                break;
        case VSC_IC_EV_DROPPED:
        default:
                break;
        }
}

/* Drains one channel; 1 if anything came, < 0 if the ring is unusable. */
static int serve(struct services *sv, struct svc *s) {
        int any = 0;
        while (s->open && !s->stuck && sv->end == END_NONE) {
                struct vsc_packet p;
                int r = vsc_channel_recv(&s->ch, sv->buf, sizeof sv->buf, &p);
                if (r == -EAGAIN)
                        break;
                if (r == -EMSGSIZE) { /* larger than the service accepts (§5.4): stop serving it */
                        report("warning=%s: host packet of %u bytes; service stopped", kinds[s->ic.kind].name, p.len);
                        s->stuck = true;
                        break;
                }
                if (r < 0)
                        return r;
                any = 1;
                struct vsc_ic_result res;
                uint8_t *payload = sv->buf + p.payload_off;
                size_t len = p.len - p.payload_off;
                if (p.type != VM_PKT_DATA_INBAND || len > kinds[s->ic.kind].max_packet ||
                    vsc_ic_handle(&s->ic, &sv->kvp, payload, len, &res) == 0)
                        continue;
                r = vsc_channel_send(&s->ch, VM_PKT_DATA_INBAND, 0, p.trans_id, payload, len);
                if (r < 0)
                        return r;
                act(sv, s, &res);
        }
        return any;
}

static bool power_button(struct services *sv) {
        if (sv->ignore_power_button || !(inw(VMSTACK_PM1A_EVT_PORT) & PWRBTN_STS))
                return false;
        outw(VMSTACK_PM1A_EVT_PORT, PWRBTN_STS); /* write 1 to clear */
        report("power_button=pressed");
        return true;
}

/* §3.3: the host raises SINT2 only when it sets a channel's event flag
 * that was clear (hvshim synic_signal_event, as Hyper-V), so the flags of
 * our channels are cleared before the rings are looked at, as Linux's
 * vmbus_chan_sched does; a signal after that interrupts again. */
static void clear_events(struct vsc_bus *bus, struct services *sv) {
        uint8_t *flags = bus->siefp->flags[VMBUS_MESSAGE_SINT];
        for (unsigned k = 0; k < VSC_IC_KINDS; k++)
                if (sv->s[k].open && sv->s[k].ch.relid < HV_EVENT_FLAGS_COUNT)
                        __atomic_fetch_and(&flags[sv->s[k].ch.relid / 8], (uint8_t)~(1u << (sv->s[k].ch.relid % 8)),
                                           __ATOMIC_SEQ_CST);
}

static int run(struct vsc_bus *bus, struct services *sv, uint64_t limit_ns) {
        uint64_t until = limit_ns ? clock_ns() + limit_ns : ~0ull;
        while (sv->end == END_NONE) {
                int busy = 0;
                clear_events(bus, sv);
                for (unsigned k = 0; k < VSC_IC_KINDS && sv->end == END_NONE; k++) {
                        int r = serve(sv, &sv->s[k]);
                        if (r < 0)
                                return guest_fail(r, "%s: %s", kinds[k].name, vsc_bus_error(sv->s[k].ch.bus));
                        busy |= r;
                }
                if (sv->end != END_NONE)
                        break;
                if (power_button(sv))
                        sv->end = END_POWER_BUTTON;
                else if (clock_ns() >= until)
                        sv->end = END_TIME_LIMIT;
                else if (!busy)
                        clock_idle(clock_ns() + IDLE_NS); /* SINT2 wakes us earlier */
        }
        return 0;
}

/* The host reads our last answer (a shutdown's) before we close. */
static void wait_drained(struct svc *s, uint32_t empty_space) {
        uint64_t until = clock_ns() + 1000000000ull;
        uint32_t space = 0;
        while (clock_ns() < until && vsc_ring_write_space(&s->ch.out, &space) == 0 && space < empty_space)
                clock_idle(clock_ns() + 1000000ull);
}

static int open_services(struct guest *g, struct services *sv) {
        char want[64] = "shutdown,heartbeat,timesync,kvp", line[96] = "";
        (void)boot_cmdline_get(&g->boot, "vsc.ic", want, sizeof want);
        for (unsigned k = 0; k < VSC_IC_KINDS; k++) {
                struct svc *s = &sv->s[k];
                vsc_ic_init(&s->ic, (enum vsc_ic_kind)k);
                const struct vsc_offer *o = vsc_find_offer(&g->bus, kinds[k].class_id, 0);
                bool wanted = false;
                for (const char *p = want; *p;) {
                        size_t n = strlen(kinds[k].name);
                        if (!strncmp(p, kinds[k].name, n) && (p[n] == ',' || p[n] == 0))
                                wanted = true;
                        while (*p && *p != ',')
                                p++;
                        if (*p)
                                p++;
                }
                if (o && wanted) {
                        int r = vsc_channel_open(&g->bus, &s->ch, o, VSC_IC_RING_BYTES, VSC_IC_RING_BYTES, NULL, 0);
                        if (r < 0)
                                return guest_fail(r, "opening %s: %s", kinds[k].name, vsc_bus_error(&g->bus));
                        s->open = true;
                        vsc_channel_mask(&s->ch, false); /* inbound interrupts: hv_utils' DIRECT mode */
                }
                size_t at = strlen(line);
                vsc_snprintf(line + at, sizeof line - at, "%s%s=%d", at ? " " : "", kinds[k].name, s->open);
        }
        report("services=open %s", line);
        return 0;
}

static void read_options(struct guest *g, struct services *sv) {
        char v[24];
        vsc_snprintf(sv->hostname, sizeof sv->hostname, "vsc-guest");
        (void)boot_cmdline_get(&g->boot, "vsc.hostname", sv->hostname, sizeof sv->hostname);
        (void)boot_cmdline_get(&g->boot, "vsc.ip", sv->ip, sizeof sv->ip);
        sv->ignore_power_button =
                boot_cmdline_get(&g->boot, "vsc.power_button", v, sizeof v) == 0 && !strncmp(v, "ignore", 7);
        /* The intrinsic items hv_kvp_daemon reports, in index order (§8.6). */
        static const char *const fixed[KVP_AUTO_KEY_COUNT] = {
                [1] = "0.1.0", [4] = "1", [5] = "vsc-guest", [6] = "0", [7] = "1", [8] = "0.1.0", [9] = "x86_64",
        };
        for (unsigned i = 0; i < KVP_AUTO_KEY_COUNT; i++)
                sv->kvp.auto_values[i] = fixed[i];
        sv->kvp.auto_values[0] = sv->hostname;
        sv->kvp.auto_values[2] = sv->ip;
}

static uint64_t time_limit_ns(const struct guest *g) {
        char v[24];
        bool ok = false;
        uint64_t ms = 0;
        if (boot_cmdline_get(&g->boot, "vsc.services_ms", v, sizeof v) == 0)
                ms = parse_u64(v, &ok);
        return ok && ms < 86400000ull ? ms * 1000000ull : 0;
}

/* The orderly end hv_utils starts (orderly_poweroff / orderly_reboot):
 * close the channels, UNLOAD, then power off or reset (§8.3). */
static int shutdown_path(struct guest *g, struct services *sv) {
        unsigned closed = 0;
        for (unsigned k = 0; k < VSC_IC_KINDS; k++) {
                struct svc *s = &sv->s[k];
                if (!s->open)
                        continue;
                if (k == VSC_IC_SHUTDOWN)
                        wait_drained(s, s->ch.out.size - 8);
                int r = vsc_channel_close(&s->ch);
                if (r < 0)
                        return guest_fail(r, "closing %s: %s", kinds[k].name, vsc_bus_error(&g->bus));
                s->open = false;
                closed++;
        }
        struct cpu_counters c;
        cpu_counters(&c);
        report("services=done reason=%s heartbeats=%lu timesync=%lu kvp_requests=%lu kvp_items=%u "
               "sint_interrupts=%lu timer_interrupts=%lu",
               end_names[sv->end], sv->heartbeats, sv->times, sv->kvp_requests, sv->kvp.n_items, c.sint, c.timer);
        int r = guest_vmbus_disconnect(g);
        if (r < 0)
                return r;
        report("shutdown_path=ran channels_closed=%u action=%s", closed, sv->end == END_REBOOT ? "reset" : "poweroff");
        g->reset_on_exit = sv->end == END_REBOOT;
        return 0;
}

int mode_services(struct guest *g) {
        size_t pages = (sizeof(struct services) + 4095) / 4096;
        struct services *sv = mem_alloc_pages(pages);
        if (!sv)
                return guest_fail(-ENOMEM, "no pages for the service state");
        read_options(g, sv);
        int r = guest_vmbus_connect(g);
        if (r < 0)
                return r;
        if ((r = vsc_request_offers(&g->bus)) < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        if ((r = open_services(g, sv)) < 0)
                return r;
        if ((r = run(&g->bus, sv, time_limit_ns(g))) < 0)
                return r;
        r = shutdown_path(g, sv);
        mem_free_pages(sv, pages);
        return r;
}
