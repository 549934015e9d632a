// SPDX-License-Identifier: MIT
/* vsc.mode=disk-bench: I/O throughput of one disk through storvsc, with
 * the hot loop at CPL3 (docs/guest-vsc.md, "Signalling decision"): the
 * inbound interrupt mask set, completions polled, every completion
 * answered at once with the next request on the same buffer, and each
 * poll's new requests published with one flush (at most one doorbell per
 * channel, none while the host polls with our doorbell masked).
 *
 * Options: vsc.disk.rw=randread|randwrite|read|write (randread),
 * vsc.disk.bs=<bytes> (4096), vsc.disk.qd=<n> (32), vsc.disk.ms=<run> (5000),
 * vsc.disk.warmup_ms=<n> (200, not counted), vsc.disk.ctrl=<c> and
 * vsc.disk.lun=<l> (the first disk), vsc.disk.span_mib=<n> (whole disk),
 * vsc.disk.subchannels=<n> (0: requests spread over the open channels),
 * vsc.disk.sleep_us=<n> (0: poll only; else after n us without a
 * completion sleep at CPL0 until the host's interrupt, giving the core
 * back on an oversubscribed host).
 *
 * Line: VSC disk_bench=<rw> disk=<c>:<l> bs=<b> qd=<n> channels=<k> ms=<t> ios=<n> iops=<n>
 *       mbps=<x.yy> avg_lat_us=<x.y> doorbells=<n> ring_full=<n> sleeps=<n> sint_interrupts=<n>
 *       timer_interrupts=<n> */
#include "mode-disk.h"

struct bench {
        struct vsc_stor *s;
        const struct disk_lun *l;
        bool write, random;
        uint32_t bs;
        unsigned qd, chan;
        uint64_t units, seq, rng; /* units: bs-sized pieces of the span */
        uint8_t *buf;
        uint64_t *submitted; /* per buffer: when its request went out */
        uint64_t warmup_ns, run_ns, timeout_ns, sleep_ns;
        uint64_t start, t0, end, last;
        bool primed, measuring;
        uint64_t ios, lat_ns, ns, sleeps;
        int err;
        char why[160];
};

static uint64_t next_unit(struct bench *b) {
        if (!b->random)
                return b->seq++ % b->units;
        b->rng ^= b->rng << 13; /* xorshift64 */
        b->rng ^= b->rng >> 7;
        b->rng ^= b->rng << 17;
        return b->rng % b->units;
}

static int submit(struct bench *b, unsigned i, uint64_t now) {
        uint32_t per = b->bs / b->l->cap.block_size;
        struct vsc_stor_cmd cmd = { .lun = b->l->lun, .buf = b->buf + (size_t)i * b->bs, .len = b->bs, .user = i,
                                    .dir = b->write ? VSC_STOR_DIR_OUT : VSC_STOR_DIR_IN };
        cmd.cdb_len = vsc_scsi_rw(cmd.cdb, b->write, next_unit(b) * per, per, false, false);
        b->submitted[i] = now;
        int r = vsc_stor_submit(b->s, b->chan, &cmd);
        b->chan = (b->chan + 1) % b->s->n_channels;
        return r;
}

static long bench_fail(struct bench *b, int r, const char *why) {
        b->err = r;
        vsc_snprintf(b->why, sizeof b->why, "%s", why);
        return r;
}

/* Primes the queue on the first call; returns 0 when done, BENCH_SLEEP
 * when it has polled sleep_ns without a completion (the caller sleeps at
 * CPL0 until the host's interrupt and calls again), < 0 on failure. */
#define BENCH_SLEEP 1
static long bench_loop(void *arg) {
        struct bench *b = arg;
        struct vsc_stor_result res[64];
        uint64_t spin_since = clock_ns();
        if (!b->primed) {
                b->primed = true;
                b->start = b->last = spin_since;
                b->t0 = b->start + b->warmup_ns;
                b->end = b->t0 + b->run_ns;
                for (unsigned i = 0; i < b->qd; i++)
                        if (submit(b, i, b->start) < 0)
                                return bench_fail(b, -EIO, vsc_bus_error(b->s->bus));
                vsc_stor_flush(b->s);
        }
        while (vsc_stor_inflight(b->s) > 0) {
                int n = vsc_stor_poll(b->s, res, 64);
                if (n < 0)
                        return bench_fail(b, n, vsc_bus_error(b->s->bus));
                uint64_t now = clock_ns();
                if (!b->measuring && now >= b->t0) { /* warm-up over: count from here */
                        b->measuring = true;
                        b->ios = b->lat_ns = b->sleeps = 0;
                }
                for (int i = 0; i < n; i++) {
                        unsigned k = (unsigned)res[i].user;
                        if (!vsc_stor_result_ok(&res[i]) || res[i].data_len != b->bs)
                                return bench_fail(b, -EIO, "a request failed or moved less than asked");
                        if (now >= b->end)
                                continue; /* draining: not counted */
                        b->ios++;
                        b->lat_ns += now - b->submitted[k];
                        if (submit(b, k, now) < 0)
                                return bench_fail(b, -EIO, vsc_bus_error(b->s->bus));
                }
                if (n > 0) {
                        vsc_stor_flush(b->s);
                        b->last = spin_since = now;
                } else if (now - b->last > b->timeout_ns) {
                        return bench_fail(b, -ETIMEDOUT, "timeout: requests not completed");
                } else if (b->sleep_ns && now - spin_since > b->sleep_ns) {
                        return BENCH_SLEEP;
                } else {
                        cpu_relax();
                }
        }
        b->ns = b->end - b->t0;
        return 0;
}

/* CPL3 polling; with vsc.disk.sleep_us, idle stretches are slept at CPL0
 * with the inbound interrupt unmasked (the host signals on empty ->
 * non-empty, §5.6), which gives the core back on an oversubscribed host. */
static long bench_run(struct bench *b) {
        long k;
        do {
                vsc_stor_mask(b->s, true);
                k = cpu_run_user(bench_loop, b, false);
                if (k == BENCH_SLEEP && vsc_stor_mask(b->s, false) == 0) {
                        b->sleeps++;
                        clock_idle(clock_ns() + b->timeout_ns);
                }
        } while (k == BENCH_SLEEP);
        vsc_stor_mask(b->s, false);
        return k;
}

static int bench_params(struct disk_env *e, struct bench *b, char rw[16]) {
        struct guest *g = e->g;
        unsigned ctrl = (unsigned)disk_opt(g, "ctrl", 0, 0, DISK_MAX_CTRL - 1);
        unsigned lun = (unsigned)disk_opt(g, "lun", e->luns[0].lun, 0, 254);
        for (unsigned i = 0; i < e->n_luns && !b->l; i++)
                if (e->luns[i].ctrl == ctrl && e->luns[i].lun == lun)
                        b->l = &e->luns[i];
        if (!b->l)
                return guest_fail(-ENODEV, "no disk %u:%u", ctrl, lun);
        if (boot_cmdline_get(&g->boot, "vsc.disk.rw", rw, 16) < 0)
                memcpy(rw, "randread", 9);
        b->random = !strncmp(rw, "rand", 4);
        b->write = !strncmp(rw + (b->random ? 4 : 0), "write", 6);
        if (strncmp(rw + (b->random ? 4 : 0), b->write ? "write" : "read", 6))
                return guest_fail(-EINVAL, "vsc.disk.rw=%s (randread, randwrite, read, write)", rw);
        b->s = disk_stor(e, b->l);
        uint32_t bsz = b->l->cap.block_size;
        b->bs = (uint32_t)disk_opt(g, "bs", 4096, bsz, b->s->max_transfer);
        /* at most what the outbound ring holds: a request is the descriptor,
         * the GPA range with its PFNs and the vstor_packet, plus the trailer */
        uint64_t pkt = 16 + 16 + 8 * (b->bs / 4096 + 1) + VSTOR_PACKET_SIZE + 8;
        uint64_t fit = (VSC_STOR_RING_BYTES - 4096) / pkt - 1;
        b->qd = (unsigned)disk_opt(g, "qd", 32, 1, fit < VSC_STOR_MAX_INFLIGHT ? fit : VSC_STOR_MAX_INFLIGHT);
        b->run_ns = disk_opt(g, "ms", 5000, 1, 3600000) * 1000000;
        b->warmup_ns = disk_opt(g, "warmup_ms", 200, 0, 60000) * 1000000;
        uint64_t disk = b->l->cap.blocks * bsz, span = disk_opt(g, "span_mib", 0, 0, 1u << 30) << 20;
        b->units = (span && span < disk ? span : disk) / b->bs;
        if (b->bs % bsz || b->units == 0)
                return guest_fail(-EINVAL, "vsc.disk.bs=%u: not a multiple of %u or larger than the disk", b->bs, bsz);
        b->rng = 0x9e3779b97f4a7c15ull ^ disk_opt(g, "seed", 1, 0, 0xffffffffu);
        b->timeout_ns = g->timeout_ns;
        b->sleep_ns = disk_opt(g, "sleep_us", 0, 0, 1000000) * 1000;
        return 0;
}

static int bench(struct disk_env *e) {
        struct bench b = { 0 };
        char rw[16];
        int r = bench_params(e, &b, rw);
        if (r < 0)
                return r;
        size_t pages = ((size_t)b.qd * b.bs + 4095) / 4096, tpages = (b.qd * 8 + 4095) / 4096;
        b.buf = mem_alloc_pages(pages);
        b.submitted = mem_alloc_pages(tpages);
        if (!b.buf || !b.submitted)
                r = guest_fail(-ENOMEM, "no %zu pages for %u buffers of %u bytes", pages, b.qd, b.bs);
        if (r == 0 && b.write)
                vsc_stor_pattern_fill(b.buf, (size_t)b.qd * b.bs, 0, b.l->ctrl, b.l->lun, 0);
        uint64_t db0 = 0, db1 = 0;
        struct cpu_counters c0, c1;
        for (unsigned i = 0; i < b.s->n_channels; i++)
                db0 += b.s->ch[i].stats.signals;
        uint64_t full0 = b.s->stats.ring_full;
        cpu_counters(&c0);
        if (r == 0) {
                long k = bench_run(&b);
                if (k < 0)
                        r = guest_fail((int)k, "disk-bench %s: %s", rw, b.why);
        }
        cpu_counters(&c1);
        for (unsigned i = 0; i < b.s->n_channels; i++)
                db1 += b.s->ch[i].stats.signals;
        if (r == 0 && b.ns > 0) {
                uint64_t iops = b.ios * 1000000000ull / b.ns, cmbps = b.ios * b.bs * 100000ull / b.ns;
                uint64_t lat = b.ios ? b.lat_ns / b.ios : 0;
                report("disk_bench=%s disk=%u:%u bs=%u qd=%u channels=%u ms=%lu ios=%lu iops=%lu mbps=%lu.%02lu "
                       "avg_lat_us=%lu.%lu doorbells=%lu ring_full=%lu sleeps=%lu sint_interrupts=%lu timer_interrupts=%lu",
                       rw, b.l->ctrl, b.l->lun, b.bs, b.qd, b.s->n_channels, b.ns / 1000000, b.ios, iops,
                       cmbps / 100, cmbps % 100, lat / 1000, lat / 100 % 10, db1 - db0,
                       b.s->stats.ring_full - full0, b.sleeps, c1.sint - c0.sint, c1.timer - c0.timer);
        } else if (r == 0) {
                r = guest_fail(-EIO, "disk-bench %s: nothing measured", rw);
        }
        mem_free_pages(b.buf, pages);
        mem_free_pages(b.submitted, tpages);
        return r;
}

int mode_disk_bench(struct guest *g) {
        struct disk_env *e = NULL;
        int r = disk_setup(g, &e);
        if (r == 0)
                r = bench(e);
        return e ? disk_teardown(e, r) : r;
}
