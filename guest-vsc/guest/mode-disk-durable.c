// SPDX-License-Identifier: MIT
/* vsc.mode=disk-check vsc.disk.durable_blocks=N: durability as an
 * application sees it. Numbered blocks (block n at byte n * B, B = the
 * larger of the block size and 4 KiB, holding the pattern for that offset)
 * are written with up to DURABLE_QD writes in flight: odd blocks with FUA,
 * acknowledged when their write completes; even blocks plainly,
 * acknowledged when a SYNCHRONIZE CACHE sent after their write completed
 * has completed (SBC-3: the cache covers what completed before it). Each
 * acknowledgement is a line on the serial port, written before anything
 * else happens, so a host that kills the worker at any point can check that
 * every block a line names is in the image (tests/integration/
 * test-guest-disk-durability.sh). Runs at CPL3, polling.
 *
 * Lines: VSC durable_start=<c>:<l> blocks=<n> block_bytes=<B> seed=<s>
 *        VSC ack=<n>                                     (one per block)
 *        VSC durable_done=<c>:<l> acked=<n> syncs=<k> us=<t> */
#include "mode-disk-check.h"

#define DURABLE_QD 8u
#define SYNC_USER UINT64_MAX

struct durable {
        struct vsc_stor *s;
        const struct disk_lun *l;
        uint32_t seed;
        unsigned blocks, next, acked, syncs;
        uint64_t block_bytes, timeout_ns;
        uint8_t *buf;                 /* DURABLE_QD buffers */
        unsigned free_buf[DURABLE_QD], n_free;
        uint32_t *pending, n_pending; /* written plainly, not yet covered by a flush */
        uint32_t *covered, n_covered; /* covered by the SYNCHRONIZE CACHE in flight */
        bool sync_inflight;
        char why[160];
};

static int submit_write(struct durable *d) {
        unsigned b = d->free_buf[d->n_free - 1];
        uint64_t off = (uint64_t)d->next * d->block_bytes;
        uint32_t bs = d->l->cap.block_size;
        struct vsc_stor_cmd cmd = { .lun = d->l->lun, .dir = VSC_STOR_DIR_OUT, .len = (uint32_t)d->block_bytes,
                                    .buf = d->buf + b * d->block_bytes, .user = (uint64_t)b << 32 | d->next };
        vsc_stor_pattern_fill(cmd.buf, d->block_bytes, d->seed, d->l->ctrl, d->l->lun, off);
        cmd.cdb_len = vsc_scsi_rw(cmd.cdb, true, off / bs, (uint32_t)(d->block_bytes / bs), d->next & 1, false);
        int r = vsc_stor_submit(d->s, 0, &cmd);
        if (r == 0) {
                d->n_free--;
                d->next++;
        }
        return r;
}

static int submit_sync(struct durable *d) {
        struct vsc_stor_cmd cmd = { .lun = d->l->lun, .dir = VSC_STOR_DIR_NONE, .user = SYNC_USER };
        cmd.cdb_len = vsc_scsi_sync_cache10(cmd.cdb);
        int r = vsc_stor_submit(d->s, 0, &cmd);
        if (r < 0)
                return r;
        /* what completed before the command was sent is what it covers */
        uint32_t *t = d->covered;
        d->covered = d->pending;
        d->n_covered = d->n_pending;
        d->pending = t;
        d->n_pending = 0;
        d->sync_inflight = true;
        d->syncs++;
        return 0;
}

static void ack(struct durable *d, uint32_t block) {
        report("ack=%u", block);
        d->acked++;
}

static int complete(struct durable *d, const struct vsc_stor_result *res) {
        if (!vsc_stor_result_ok(res)) {
                char sense[64];
                disk_sense_text(res, sense, sizeof sense);
                vsc_snprintf(d->why, sizeof d->why, "%s failed: srb_status=0x%x %s",
                             res->user == SYNC_USER ? "SYNCHRONIZE CACHE" : "a write", res->srb_status, sense);
                return -EIO;
        }
        if (res->user == SYNC_USER) {
                for (uint32_t i = 0; i < d->n_covered; i++)
                        ack(d, d->covered[i]);
                d->n_covered = 0;
                d->sync_inflight = false;
                return 0;
        }
        uint32_t block = (uint32_t)res->user;
        d->free_buf[d->n_free++] = (unsigned)(res->user >> 32);
        if (block & 1)
                ack(d, block); /* FUA: durable when complete */
        else
                d->pending[d->n_pending++] = block;
        return 0;
}

static long durable_loop(void *arg) {
        struct durable *d = arg;
        struct vsc_stor_result res[DURABLE_QD + 1];
        uint64_t last = clock_ns();
        while (d->acked < d->blocks) {
                int r = 0;
                while (d->next < d->blocks && d->n_free > 0 && (r = submit_write(d)) == 0)
                        ;
                if (r == 0 && !d->sync_inflight && d->n_pending > 0)
                        r = submit_sync(d);
                if (r < 0 && r != -EAGAIN) {
                        vsc_snprintf(d->why, sizeof d->why, "%s", vsc_bus_error(d->s->bus));
                        return r;
                }
                vsc_stor_flush(d->s);
                int n = vsc_stor_poll(d->s, res, DURABLE_QD + 1);
                if (n < 0) {
                        vsc_snprintf(d->why, sizeof d->why, "%s", vsc_bus_error(d->s->bus));
                        return n;
                }
                for (int i = 0; i < n; i++)
                        if ((r = complete(d, &res[i])) < 0)
                                return r;
                uint64_t now = clock_ns();
                if (n > 0) {
                        last = now;
                } else if (now - last > d->timeout_ns) {
                        vsc_snprintf(d->why, sizeof d->why, "timeout: %u requests not completed",
                                     vsc_stor_inflight(d->s));
                        return -ETIMEDOUT;
                } else {
                        cpu_relax();
                }
        }
        return 0;
}

int disk_durable(struct disk_env *e, const struct disk_lun *l, uint32_t seed, unsigned blocks) {
        uint64_t bs = l->cap.block_size, bb = bs > 4096 ? bs : 4096;
        if ((uint64_t)blocks * bb > l->cap.blocks * bs)
                return guest_fail(-ENOSPC, "disk %u:%u holds fewer than %u blocks of %lu bytes", l->ctrl, l->lun,
                                  blocks, bb);
        size_t buf_pages = (size_t)(DURABLE_QD * bb / 4096), list_pages = (blocks * 4u + 4095) / 4096;
        struct durable d = { .s = disk_stor(e, l), .l = l, .seed = seed, .blocks = blocks, .block_bytes = bb,
                             .timeout_ns = e->g->timeout_ns, .n_free = DURABLE_QD, .buf = mem_alloc_pages(buf_pages),
                             .pending = mem_alloc_pages(list_pages), .covered = mem_alloc_pages(list_pages) };
        for (unsigned i = 0; i < DURABLE_QD; i++)
                d.free_buf[i] = i;
        int r = d.buf && d.pending && d.covered ? 0 : guest_fail(-ENOMEM, "no pages for the durability run");
        if (r == 0) {
                report("durable_start=%u:%u blocks=%u block_bytes=%lu seed=%u", l->ctrl, l->lun, blocks, bb, seed);
                uint64_t t0 = clock_ns();
                vsc_stor_mask(d.s, true);
                long k = cpu_run_user(durable_loop, &d, false);
                vsc_stor_mask(d.s, false);
                if (k < 0)
                        r = guest_fail((int)k, "disk %u:%u: durability run: %s", l->ctrl, l->lun, d.why);
                else
                        report("durable_done=%u:%u acked=%u syncs=%u us=%lu", l->ctrl, l->lun, d.acked, d.syncs,
                               (clock_ns() - t0) / 1000);
        }
        mem_free_pages(d.buf, buf_pages);
        mem_free_pages(d.pending, list_pages);
        mem_free_pages(d.covered, list_pages);
        return r;
}
