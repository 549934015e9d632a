// SPDX-License-Identifier: MIT
/* The disk half of vsc.mode=soak (mode-soak.h): up to vsc.soak.qd lanes,
 * each holding one block of the soak area at a time and taking blocks in
 * order, round after round. A lane reads what the previous round left
 * there (from round 1 on: it must be the write the guest last saw
 * complete), writes the block's next generation (vsc/soak.h: block index,
 * sequence number, round, checksum; every other write FUA) and reads it
 * back. Every read goes into a zeroed buffer and is checked, so a request
 * that was lost, doubled, completed early or replayed late after a save
 * shows as a foreign, stale, future, torn or misplaced block. A completion
 * that is not GOOD with the whole transfer, or nothing completed for the
 * guest's timeout, ends the run. */
#include "mode-soak.h"

static uint64_t block_off(const struct soak_disk *d, uint32_t block) {
        return (uint64_t)block * d->block_bytes;
}

static const struct disk_lun *writable_lun(const struct disk_env *e) {
        for (unsigned i = 0; i < e->n_luns; i++)
                if (!e->luns[i].wp)
                        return &e->luns[i];
        return NULL;
}

int soak_disk_init(struct soak_disk *d, struct disk_env *e) {
        struct guest *g = e->g;
        *d = (struct soak_disk){ .l = writable_lun(e), .timeout_ns = g->timeout_ns };
        if (!d->l)
                return guest_fail(-ENODEV, "vsc.mode=soak: no writable disk");
        d->s = disk_stor(e, d->l);
        uint64_t bs = d->l->cap.block_size, disk = d->l->cap.blocks * bs;
        d->block_bytes = bs > 4096 ? bs : 4096;
        d->qd = (unsigned)guest_opt(g, "vsc.soak.qd", 8, 1, SOAK_MAX_QD);
        d->seed = (uint32_t)guest_opt(g, "vsc.soak.seed", 1, 0, 0xffffffffu);
        uint64_t want = guest_opt(g, "vsc.soak.blocks", 1024, 2 * d->qd, 1u << 20);
        if (want * d->block_bytes > disk)
                return guest_fail(-ENOSPC, "vsc.soak.blocks=%lu: disk %u:%u holds %lu blocks of %lu bytes", want,
                                  d->l->ctrl, d->l->lun, disk / d->block_bytes, d->block_bytes);
        d->blocks = (uint32_t)want;
        d->limit = guest_opt(g, "vsc.soak.rounds", 0, 0, 1u << 20) * d->blocks;
        size_t buf_bytes = 2 * d->qd * d->block_bytes, table_bytes = d->blocks * 9ull;
        d->pages = (buf_bytes + table_bytes + 4095) / 4096;
        uint8_t *mem = mem_alloc_pages(d->pages);
        if (!mem)
                return guest_fail(-ENOMEM, "no %zu pages for the soak area's buffers and tables", d->pages);
        for (unsigned i = 0; i < d->qd; i++) {
                d->lanes[i].wbuf = mem + 2 * i * d->block_bytes;
                d->lanes[i].rbuf = d->lanes[i].wbuf + d->block_bytes;
        }
        d->expect = (uint64_t *)(mem + buf_bytes);
        d->busy = mem + buf_bytes + d->blocks * 8ull;
        return 0;
}

void soak_disk_free(struct soak_disk *d) {
        if (d->pages)
                mem_free_pages(d->lanes[0].wbuf, d->pages);
        d->pages = 0;
}

bool soak_disk_idle(const struct soak_disk *d) {
        for (unsigned i = 0; i < d->qd; i++)
                if (d->lanes[i].step != SOAK_IDLE)
                        return false;
        return true;
}

bool soak_disk_rounds_done(const struct soak_disk *d) {
        return d->limit && d->cursor >= d->limit && soak_disk_idle(d);
}

void soak_disk_begin_verify(struct soak_disk *d) {
        d->verifying = true;
        d->stopping = false;
        d->cursor = 0;
}

bool soak_disk_verified(const struct soak_disk *d) {
        return d->verifying && d->cursor >= d->blocks && soak_disk_idle(d);
}

static void start_write(struct soak_disk *d, struct soak_lane *ln) {
        ln->step = SOAK_WRITE;
        ln->seq = ++d->next_seq;
        vsc_soak_block_fill(ln->wbuf, d->block_bytes, d->seed, ln->block, ln->seq, ln->round, d->l->ctrl, d->l->lun,
                            block_off(d, ln->block));
}

/* The next block in order for an idle lane; false if there is none now. */
static bool take_block(struct soak_disk *d, struct soak_lane *ln) {
        if (d->verifying) { /* blocks never written have nothing to check */
                while (d->cursor < d->blocks && d->expect[d->cursor] == 0)
                        d->cursor++;
                if (d->cursor >= d->blocks)
                        return false;
        } else if (d->stopping || (d->limit && d->cursor >= d->limit)) {
                return false;
        }
        uint32_t b = (uint32_t)(d->cursor % d->blocks);
        if (d->busy[b]) /* a lane of the previous round is still on it */
                return false;
        d->busy[b] = 1;
        ln->block = b;
        ln->round = (uint32_t)(d->cursor / d->blocks);
        d->cursor++;
        if (d->expect[b])
                ln->step = SOAK_READ_OLD;
        else
                start_write(d, ln);
        return true;
}

static int submit(struct soak_disk *d, unsigned i) {
        struct soak_lane *ln = &d->lanes[i];
        bool write = ln->step == SOAK_WRITE;
        uint32_t bs = d->l->cap.block_size;
        struct vsc_stor_cmd cmd = { .lun = d->l->lun, .buf = write ? ln->wbuf : ln->rbuf,
                                    .len = (uint32_t)d->block_bytes, .user = i,
                                    .dir = write ? VSC_STOR_DIR_OUT : VSC_STOR_DIR_IN };
        cmd.cdb_len = vsc_scsi_rw(cmd.cdb, write, block_off(d, ln->block) / bs, (uint32_t)(d->block_bytes / bs),
                                  write && (ln->seq & 1), false);
        if (!write) /* what a read did not fill must not pass for data */
                memset(ln->rbuf, 0, d->block_bytes);
        int r = vsc_stor_submit(d->s, d->chan, &cmd);
        if (r == 0) {
                ln->inflight = true;
                d->chan = (d->chan + 1) % d->s->n_channels;
        }
        return r;
}

static void check(struct soak_disk *d, const struct soak_lane *ln, uint64_t want, const char *phase) {
        uint64_t found;
        enum vsc_soak_verdict v = vsc_soak_block_check(ln->rbuf, d->block_bytes, d->seed, ln->block, want,
                                                       d->l->ctrl, d->l->lun, block_off(d, ln->block), &found);
        d->read++;
        if (v != VSC_SOAK_OK && d->bad++ < SOAK_BAD_LINES)
                report("soak_bad=%u:%u block=%u phase=%s verdict=%s want_seq=%lu found_seq=%lu", d->l->ctrl, d->l->lun,
                       ln->block, phase, vsc_soak_verdict_name(v), want, found);
}

static void release(struct soak_disk *d, struct soak_lane *ln) {
        d->busy[ln->block] = 0;
        ln->step = SOAK_IDLE;
}

static int complete(struct soak_disk *d, const struct vsc_stor_result *res) {
        if (res->user >= d->qd || !d->lanes[res->user].inflight) {
                vsc_snprintf(d->why, sizeof d->why, "a completion for no request of ours (user %lu)", res->user);
                return -EPROTO;
        }
        struct soak_lane *ln = &d->lanes[res->user];
        ln->inflight = false;
        if (!vsc_stor_result_ok(res) || res->data_len != d->block_bytes) {
                char sense[64];
                disk_sense_text(res, sense, sizeof sense);
                vsc_snprintf(d->why, sizeof d->why, "%s of block %u: srb_status=0x%x scsi_status=0x%x data_len=%u %s",
                             ln->step == SOAK_WRITE ? "write" : "read", ln->block, res->srb_status, res->scsi_status,
                             res->data_len, sense);
                return -EIO;
        }
        switch (ln->step) {
        case SOAK_READ_OLD:
                check(d, ln, d->expect[ln->block], d->verifying ? "final" : "old");
                if (d->verifying) {
                        d->final_read++;
                        release(d, ln);
                } else {
                        start_write(d, ln);
                }
                break;
        case SOAK_WRITE:
                d->expect[ln->block] = ln->seq;
                d->written++;
                ln->step = SOAK_READ_NEW;
                break;
        case SOAK_READ_NEW:
                check(d, ln, ln->seq, "new");
                release(d, ln);
                break;
        case SOAK_IDLE:
                break;
        }
        return 0;
}

int soak_disk_step(struct soak_disk *d, uint64_t now_ns) {
        struct vsc_stor_result res[SOAK_MAX_QD];
        for (unsigned i = 0; i < d->qd; i++) {
                struct soak_lane *ln = &d->lanes[i];
                if (ln->inflight || (ln->step == SOAK_IDLE && !take_block(d, ln)))
                        continue;
                int r = submit(d, i);
                if (r == -EAGAIN)
                        break; /* the ring is full: after the next poll */
                if (r < 0) {
                        vsc_snprintf(d->why, sizeof d->why, "%s", vsc_bus_error(d->s->bus));
                        return r;
                }
        }
        vsc_stor_flush(d->s);
        int n = vsc_stor_poll(d->s, res, SOAK_MAX_QD);
        if (n < 0) {
                vsc_snprintf(d->why, sizeof d->why, "%s", vsc_bus_error(d->s->bus));
                return n;
        }
        for (int i = 0; i < n; i++) {
                int r = complete(d, &res[i]);
                if (r < 0)
                        return r;
        }
        if (n > 0 || vsc_stor_inflight(d->s) == 0) {
                d->last_ns = now_ns;
        } else if (now_ns - d->last_ns > d->timeout_ns) {
                vsc_snprintf(d->why, sizeof d->why, "timeout: %u disk requests not completed in %lu ms",
                             vsc_stor_inflight(d->s), d->timeout_ns / 1000000);
                return -ETIMEDOUT;
        }
        return 0;
}
