// SPDX-License-Identifier: MIT
/* Pattern I/O for vsc.mode=disk-check, run at CPL3 (cpu_run_user): a
 * region of a disk written or read in chunks of a given size with up to
 * DISK_IO_QD requests in flight, spread over the controller's channels,
 * each batch published with one flush (at most one doorbell), completions
 * polled with the inbound interrupt mask set (docs/guest-vsc.md,
 * "Signalling decision"). Every completion must be GOOD with the whole
 * transfer; a read region is then compared with the pattern. */
#include "mode-disk-check.h"

static int io_fail(struct disk_io *io, int r, const char *what) {
        io->err = r;
        vsc_snprintf(io->why, sizeof io->why, "%s", what);
        return r;
}

static int io_fail_result(struct disk_io *io, const struct vsc_stor_result *res) {
        char sense[64];
        disk_sense_text(res, sense, sizeof sense);
        io->err = -EIO;
        vsc_snprintf(io->why, sizeof io->why,
                     "%s at offset %lu: srb_status=0x%x scsi_status=0x%x status=0x%x data_len=%u of %lu %s",
                     io->write ? "write" : "read", io->offset + res->user, res->srb_status, res->scsi_status,
                     res->status, res->data_len, io->chunk_bytes, sense);
        return -EIO;
}

/* Queues the next chunk; -EAGAIN when out of slots or ring space. */
static int submit_chunk(struct disk_io *io, uint64_t at, unsigned chan) {
        struct vsc_stor *s = io->s;
        uint32_t bs = io->lun->cap.block_size;
        uint64_t len = io->bytes - at < io->chunk_bytes ? io->bytes - at : io->chunk_bytes;
        uint64_t index = at / io->chunk_bytes;
        struct vsc_stor_cmd cmd = { .lun = io->lun->lun, .buf = io->buf + at, .len = (uint32_t)len, .user = at,
                                    .dir = io->write ? VSC_STOR_DIR_OUT : VSC_STOR_DIR_IN };
        /* every other write is FUA: both flush paths of the device get used */
        cmd.cdb_len = vsc_scsi_rw(cmd.cdb, io->write, (io->offset + at) / bs, (uint32_t)(len / bs),
                                  io->write && (index & 1), io->force16);
        return vsc_stor_submit(s, chan, &cmd);
}

/* A line that tells a slow run from a stuck one (a soak under load): the
 * counters advance while requests complete; lines with the same counters
 * mean a request the host never completed; no lines at all, a guest that
 * does not run. */
static void progress(struct disk_io *io, uint64_t done, uint64_t now, uint64_t last) {
        report("disk_progress=%u:%u seq=%lu ms=%lu %s region=%u/%u done=%lu/%lu commands=%lu inflight=%u "
               "since_completion_ms=%lu",
               io->lun->ctrl, io->lun->lun, ++io->progress_lines, now / 1000000, io->write ? "write" : "read",
               io->region, io->regions, done, io->bytes, io->commands, vsc_stor_inflight(io->s),
               (now - last) / 1000000);
}

int disk_io_run(struct disk_io *io) {
        struct vsc_stor *s = io->s;
        struct vsc_stor_result res[DISK_IO_QD];
        uint64_t next = 0, done = 0, last = clock_ns();
        unsigned chan = 0;
        if (io->progress_ns && !io->next_progress_ns)
                io->next_progress_ns = last + io->progress_ns;
        io->err = 0;
        while (done < io->bytes) {
                int r = 0;
                while (next < io->bytes && vsc_stor_inflight(s) < DISK_IO_QD &&
                       (r = submit_chunk(io, next, chan)) == 0) {
                        next += io->chunk_bytes < io->bytes - next ? io->chunk_bytes : io->bytes - next;
                        chan = (chan + 1) % s->n_channels;
                        io->commands++;
                }
                if (r < 0 && r != -EAGAIN)
                        return io_fail(io, r, vsc_bus_error(s->bus));
                vsc_stor_flush(s);
                int n = vsc_stor_poll(s, res, DISK_IO_QD);
                if (n < 0)
                        return io_fail(io, n, vsc_bus_error(s->bus));
                for (int i = 0; i < n; i++) {
                        uint64_t want = io->bytes - res[i].user < io->chunk_bytes ? io->bytes - res[i].user
                                                                                   : io->chunk_bytes;
                        if (!vsc_stor_result_ok(&res[i]) || res[i].data_len != want)
                                return io_fail_result(io, &res[i]);
                        done += want;
                }
                uint64_t now = clock_ns();
                if (io->progress_ns && now >= io->next_progress_ns) {
                        progress(io, done, now, n > 0 ? now : last);
                        io->next_progress_ns = now + io->progress_ns;
                }
                if (n > 0)
                        last = now;
                else if (now - last > io->timeout_ns)
                        return io_fail(io, -ETIMEDOUT, "timeout: a disk request was not completed in time");
                else /* CPL3: pause; CPL0: hlt until the host's interrupt */
                        s->bus->ops->idle(s->bus->ctx, last + io->timeout_ns);
        }
        return 0;
}

/* A region: fill and write, or read and compare. */
static int region(struct disk_check *k, unsigned i) {
        struct disk_io *io = &k->io;
        const struct disk_lun *l = k->lun;
        uint32_t bs = l->cap.block_size;
        /* chunk sizes cycle through 1, 8, 64 blocks and the whole region */
        static const uint32_t chunk_blocks[] = { 1, 8, 64, 0 };
        uint64_t chunk = chunk_blocks[i % 4] ? (uint64_t)chunk_blocks[i % 4] * bs : k->region_bytes;
        uint64_t max = k->e->ctrl[l->ctrl].max_transfer / bs * bs;
        io->chunk_bytes = chunk < max ? chunk : max;
        io->offset = disk_region_offset(k, i);
        io->bytes = k->region_bytes;
        io->force16 = i & 1;
        io->region = i;
        io->regions = k->regions;
        /* a buffer that starts inside a page: byte_offset != 0 in the range (§6.5) */
        io->buf = (k->write ? k->wbuf : k->rbuf) + (i % 3 == 2 ? 512 : 0);
        if (k->write)
                vsc_stor_pattern_fill(io->buf, io->bytes, k->seed, l->ctrl, l->lun, io->offset);
        else
                memset(io->buf, 0, io->bytes);
        int r = disk_io_run(io);
        if (r < 0 || k->write || !k->compare)
                return r;
        uint64_t bad;
        if (vsc_stor_pattern_check(io->buf, io->bytes, k->seed, l->ctrl, l->lun, io->offset, &bad) == 0)
                return 0;
        const uint8_t *rec = io->buf + (bad - io->offset);
        char found[48];
        for (unsigned c = 0; c < 46; c++)
                found[c] = rec[c] > ' ' && rec[c] < 0x7f ? (char)rec[c] : '_';
        found[46] = 0;
        io->err = -EBADMSG;
        vsc_snprintf(io->why, sizeof io->why, "data mismatch at offset %lu (region %u): found %s", bad, i, found);
        return -EBADMSG;
}

long disk_check_regions(void *arg) {
        struct disk_check *k = arg;
        uint64_t t0 = clock_ns();
        k->io.commands = 0;
        for (unsigned i = 0; i < k->regions; i++) {
                int r = region(k, i);
                if (r < 0)
                        return r;
        }
        k->ns = clock_ns() - t0;
        return 0;
}
