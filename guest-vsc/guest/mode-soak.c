// SPDX-License-Identifier: MIT
/* vsc.mode=soak: disk and network traffic at once, for as long as asked,
 * every byte checked (docs/guest-vsc.md "Soak mode"): what issue #19's
 * save/resume soak runs (tests/integration/test-save-soak.sh). Set-up at
 * CPL0: the disks (mode-disk.c), the NIC (mode-net.c) on the same VMBus
 * connection. Then one CPL3 loop, polling with every inbound interrupt
 * mask set, that keeps the disk half's requests in flight
 * (mode-soak-disk.c) and, between its polls, sends numbered UDP pings to
 * the peer's echo port, at most vsc.soak.window unanswered, and counts
 * every reply (vsc/soak.h's tracker). A ping unanswered for
 * vsc.soak.ping_timeout_ms is lost: a save may lose those in flight (the
 * host's TAP is gone while the VM is saved). The run ends after
 * vsc.soak.ms, after vsc.soak.rounds over the area, or when the datagram
 * "VSCSOAK-STOP" arrives on vsc.soak.stop_port; then the lanes finish,
 * the last pings are answered or lost, and every block written is read
 * once more. The mode fails on any bad block, duplicated, corrupt or
 * never-sent reply, or if the peer answered nothing.
 *
 * Lines:
 *   VSC soak_start=<c>:<l> blocks=<n> block_bytes=<b> qd=<q> seed=<s> window=<w> ping_us=<t>
 *       ping_size=<n> port=<p>
 *   VSC soak_progress ms=<t> written=<n> read=<n> bad=<n> pings=<n> resolved=<n> answered=<n> lost=<n> dup=<n>
 *       (resolved: every ping below it was answered or lost)
 *   VSC soak_bad=<c>:<l> block=<i> phase=old|new|final verdict=<v> want_seq=<n> found_seq=<n>  (the first 4)
 *   VSC soak_stop=duration|rounds|datagram ms=<t>
 *   VSC soak_disk=<c>:<l> written=<n> read=<n> final_read=<n> bad=<n> rounds=<n>
 *   VSC soak_net pings=<n> answered=<n> lost=<n> dup=<n> late=<n> reordered=<n> corrupt=<n> rtt_us_avg=<t> rtt_us_max=<t> */
#include "mode-net.h"
#include "mode-soak.h"

#define SOAK_SPORT 40001

struct soak {
        struct guest *g;
        struct net_mode *m;
        struct soak_disk disk;
        struct vsc_soak_pings pings;
        uint64_t run_ns, ping_ns, progress_ns;
        uint32_t ping_size;
        uint16_t stop_port;
        bool stop_datagram, flush_pending;
        const char *stop_why;
        uint64_t corrupt;
        uint64_t t0, stop_at, next_ping, next_progress;
        uint8_t payload[VSC_SOAK_PING_MAX];
        uint8_t frame[VSC_IP_UDP_HLEN + VSC_SOAK_PING_MAX];
        int err;
        char why[240];
};

/* Frames the responder left: echoed pings and the stop datagram. */
static void on_frame(struct net_mode *m, const struct vsc_ip_frame *fr, const uint8_t *f, uint32_t len) {
        struct soak *k = m->priv;
        uint64_t seq;
        if (fr->kind != VSC_IP_UDP || fr->dip != m->ip)
                return;
        if (k->stop_port && fr->dport == k->stop_port) {
                k->stop_datagram = k->stop_datagram || vsc_soak_is_stop(fr->data, fr->data_len);
                return;
        }
        if (fr->sip != m->peer || fr->sport != m->port || fr->dport != SOAK_SPORT)
                return;
        if (vsc_soak_ping_parse(fr->data, fr->data_len, k->ping_size, &seq) < 0)
                k->corrupt++;
        else
                vsc_soak_pings_reply(&k->pings, seq, clock_ns());
}

static void progress(struct soak *k, uint64_t now) {
        const struct soak_disk *d = &k->disk;
        const struct vsc_soak_pings *p = &k->pings;
        report("soak_progress ms=%lu written=%lu read=%lu bad=%lu pings=%lu resolved=%lu answered=%lu lost=%lu dup=%lu",
               (now - k->t0) / 1000000, d->written, d->read, d->bad, p->sent, p->lo, p->answered, p->lost, p->dup);
        k->next_progress = now + k->progress_ns;
}

/* The next ping if one is due and the window has room. A frame the NIC
 * took is sent, whatever the flush says: -EAGAIN there (the ring is full)
 * only means it is published by a later flush. */
static int ping(struct soak *k, uint64_t now) {
        struct net_mode *m = k->m;
        int r;
        if (k->flush_pending) {
                if ((r = vsc_net_flush(&m->net)) == -EAGAIN)
                        return 0;
                k->flush_pending = false;
                if (r < 0)
                        return r;
        }
        if (k->stop_why || now < k->next_ping || !vsc_soak_pings_can_send(&k->pings))
                return 0;
        vsc_soak_ping_build(k->payload, k->ping_size, k->pings.sent);
        uint32_t len = (uint32_t)vsc_ip_udp(k->frame, m->peer_mac, m->net.mac, m->ip, m->peer, SOAK_SPORT, m->port,
                                            k->payload, k->ping_size);
        r = vsc_net_send(&m->net, k->frame, len);
        if (r == -EAGAIN) /* no free section: after the next poll */
                return 0;
        if (r < 0)
                return r;
        vsc_soak_pings_sent(&k->pings, now);
        k->next_ping = now + k->ping_ns;
        r = vsc_net_flush(&m->net);
        k->flush_pending = r == -EAGAIN;
        return r == -EAGAIN ? 0 : r;
}

static const char *stop_reason(struct soak *k, uint64_t now) {
        if (k->stop_datagram)
                return "datagram";
        if (soak_disk_rounds_done(&k->disk))
                return "rounds";
        if (k->run_ns && now - k->t0 >= k->run_ns)
                return "duration";
        return NULL;
}

static long soak_fail(struct soak *k, int r, const char *what, const char *detail) {
        k->err = r;
        vsc_snprintf(k->why, sizeof k->why, "%s: %s", what, detail);
        return r;
}

/* One round of both halves; 1 when the run is over. */
static long step(struct soak *k) {
        struct soak_disk *d = &k->disk;
        uint64_t now = clock_ns();
        int r = soak_disk_step(d, now);
        if (r < 0)
                return soak_fail(k, r, "disk", d->why);
        if ((r = net_mode_poll(k->m)) < 0 || (r = ping(k, now)) < 0)
                return soak_fail(k, r, "network", vsc_bus_error(&k->g->bus));
        vsc_soak_pings_expire(&k->pings, now);
        if (now >= k->next_progress)
                progress(k, now);
        if (!k->stop_why && (k->stop_why = stop_reason(k, now)) != NULL) {
                k->stop_at = now;
                d->stopping = true;
        }
        if (!k->stop_why || vsc_soak_pings_outstanding(&k->pings))
                return 0;
        if (!d->verifying && soak_disk_idle(d))
                soak_disk_begin_verify(d);
        return soak_disk_verified(d) ? 1 : 0;
}

static long soak_loop(void *arg) {
        struct soak *k = arg;
        struct net_mode *m = k->m;
        long r = net_mode_resolve_peer(m, clock_ns() + k->g->timeout_ns);
        if (r < 0)
                return soak_fail(k, (int)r, "ARP for the peer", "no answer in time");
        k->t0 = k->disk.last_ns = k->next_ping = clock_ns();
        k->next_progress = k->t0 + k->progress_ns;
        while ((r = step(k)) == 0)
                ;
        return r < 0 ? r : 0;
}

static int options(struct soak *k) {
        struct guest *g = k->g;
        k->run_ns = guest_opt(g, "vsc.soak.ms", 10000, 0, 24 * 3600000ull) * 1000000;
        k->ping_ns = guest_opt(g, "vsc.soak.ping_us", 1000, 0, 10000000) * 1000;
        k->ping_size = (uint32_t)guest_opt(g, "vsc.soak.ping_size", 64, VSC_SOAK_PING_MIN, VSC_SOAK_PING_MAX);
        k->progress_ns = guest_opt(g, "vsc.soak.progress_ms", 1000, 10, 3600000) * 1000000;
        k->stop_port = (uint16_t)guest_opt(g, "vsc.soak.stop_port", 0, 0, 65535);
        unsigned window = (unsigned)guest_opt(g, "vsc.soak.window", 8, 1, 256);
        uint64_t timeout = guest_opt(g, "vsc.soak.ping_timeout_ms", 2000, 1, 600000) * 1000000;
        vsc_soak_pings_init(&k->pings, window, timeout);
        if (!k->run_ns && !k->disk.limit && !k->stop_port)
                return guest_fail(-EINVAL, "vsc.soak.ms=0 needs vsc.soak.rounds= or vsc.soak.stop_port= to end");
        return 0;
}

static void report_end(const struct soak *k) {
        const struct soak_disk *d = &k->disk;
        const struct vsc_soak_pings *p = &k->pings;
        report("soak_disk=%u:%u written=%lu read=%lu final_read=%lu bad=%lu rounds=%lu", d->l->ctrl, d->l->lun,
               d->written, d->read, d->final_read, d->bad, d->written / d->blocks);
        report("soak_net pings=%lu answered=%lu lost=%lu dup=%lu late=%lu reordered=%lu corrupt=%lu rtt_us_avg=%lu "
               "rtt_us_max=%lu",
               p->sent, p->answered, p->lost, p->dup, p->late, p->reordered, k->corrupt + p->bogus,
               p->answered ? p->rtt_sum_ns / p->answered / 1000 : 0, p->rtt_max_ns / 1000);
}

static int verdict(const struct soak *k) {
        const struct vsc_soak_pings *p = &k->pings;
        if (k->disk.bad)
                return guest_fail(-EBADMSG, "%lu bad blocks", k->disk.bad);
        if (p->dup || k->corrupt || p->bogus)
                return guest_fail(-EBADMSG, "ping replies: %lu duplicated, %lu corrupt, %lu never sent", p->dup,
                                  k->corrupt, p->bogus);
        if (!p->answered)
                return guest_fail(-EIO, "the peer answered none of %lu pings", p->sent);
        return 0;
}

static int run(struct soak *k) {
        struct soak_disk *d = &k->disk;
        struct net_mode *m = k->m;
        report("soak_start=%u:%u blocks=%u block_bytes=%lu qd=%u seed=%u window=%u ping_us=%lu ping_size=%u port=%u",
               d->l->ctrl, d->l->lun, d->blocks, d->block_bytes, d->qd, d->seed, k->pings.window, k->ping_ns / 1000,
               k->ping_size, m->port);
        m->on_frame = on_frame;
        m->priv = k;
        vsc_stor_mask(d->s, true); /* polling at CPL3 (§5.6) */
        vsc_channel_mask(&m->net.ch, true);
        long r = cpu_run_user(soak_loop, k, false);
        vsc_channel_mask(&m->net.ch, false);
        vsc_stor_mask(d->s, false);
        if (k->stop_why)
                report("soak_stop=%s ms=%lu", k->stop_why, (k->stop_at - k->t0) / 1000000);
        report_end(k);
        if (r < 0)
                return guest_fail((int)r, "%s", k->why);
        return verdict(k);
}

int mode_soak(struct guest *g) {
        size_t pages = (sizeof(struct soak) + 4095) / 4096;
        struct soak *k = mem_alloc_pages(pages); /* ~30 KiB: not on a stack */
        struct disk_env *e = NULL;
        if (!k || !(k->m = net_mode_alloc()))
                return guest_fail(-ENOMEM, "no pages for the soak state");
        k->g = g;
        int r = disk_setup(g, &e);
        if (r == 0)
                r = soak_disk_init(&k->disk, e);
        if (r == 0)
                r = options(k);
        if (r == 0)
                r = net_mode_open(g, k->m);
        if (r == 0) {
                r = run(k);
                int c = net_mode_close_nic(k->m);
                r = r < 0 ? r : c;
        }
        soak_disk_free(&k->disk);
        return e ? disk_teardown(e, r) : r;
}
