// SPDX-License-Identifier: MIT
/* vsc.mode=disk-check: every disk on every synthetic SCSI controller
 * (mode-disk.c) gets the self-describing pattern of vsc/stor.h written
 * into regions spread from its first to its last block, a SYNCHRONIZE
 * CACHE, and everything read back and compared (region I/O at CPL3,
 * mode-disk-io.c); a disk with UNMAP gets a block unmapped and read back;
 * then requests the device must refuse, whose SRB status and sense are
 * reported, and a read that must still work afterwards. A write-protected
 * disk must refuse a write with DATA PROTECT and is read only.
 *
 * Options: vsc.disk.seed=N (pattern seed, default 1), vsc.disk.verify_only=1
 * (read and compare what an earlier boot or the host wrote), vsc.disk.regions=N
 * (16), vsc.disk.region_kib=K (256), vsc.disk.subchannels=N (0),
 * vsc.disk.durable_blocks=N (instead of all this: mode-disk-durable.c),
 * vsc.disk.progress_ms=T (0: off; a disk_progress line every T ms of the
 * guest's clock while the region I/O runs, as vsc.soak.progress_ms).
 *
 * Lines (besides mode-disk.c's):
 *   VSC disk_region=<c>:<l> index=<i> offset=<bytes> bytes=<n>
 *   VSC disk_write=<c>:<l> regions=<n> bytes=<b> commands=<k> us=<t>
 *   VSC disk_progress=<c>:<l> seq=<n> ms=<guest clock> <write|read> region=<i>/<n> done=<b>/<region bytes>
 *       commands=<k> inflight=<q> since_completion_ms=<t>     (vsc.disk.progress_ms=)
 *   VSC disk_flush=<c>:<l> ok
 *   VSC disk_read=<c>:<l> regions=<n> bytes=<b> commands=<k> us=<t> compared=<0|1>
 *   VSC disk_unmap=<c>:<l> offset=<o> bytes=<n> lbprz=<0|1> zeroed=<0|1>
 *   VSC bad_request=<name> disk=<c>:<l> srb_status=0x.. scsi_status=0x.. status=0x.. sense_key=0x.. asc=0x.. ascq=0x..
 *     names: unsupported_opcode, lba_out_of_range, transfer_exceeds_buffer, absent_lun, write_protected
 *   VSC after_bad_requests=<c>:<l> ok */
#include "mode-disk-check.h"

uint64_t disk_region_offset(const struct disk_check *k, unsigned i) {
        uint64_t disk = k->lun->cap.blocks * k->lun->cap.block_size;
        if (k->regions == 1)
                return 0;
        if (i == k->regions - 1)
                return disk - k->region_bytes;
        return (disk - k->region_bytes) / (k->regions - 1) * i / k->align * k->align;
}

/* Regions of whole alignment units, at least two units apart so UNMAP has
 * a unit of its own right after region 0. */
static void layout(struct disk_check *k, unsigned regions, uint64_t region_bytes) {
        uint64_t bs = k->lun->cap.block_size, disk = k->lun->cap.blocks * bs;
        k->align = bs > 4096 ? bs : 4096;
        k->region_bytes = region_bytes / k->align * k->align;
        if (k->region_bytes > disk / k->align * k->align)
                k->region_bytes = disk / k->align * k->align;
        if (k->region_bytes == 0) /* a disk smaller than a page: whole blocks */
                k->region_bytes = disk;
        uint64_t fit = disk / (k->region_bytes + 2 * k->align);
        k->regions = regions < 2 || fit < 2 ? 1 : regions < fit ? regions : (unsigned)fit;
}

static int run_regions(struct disk_check *k, bool write, bool compare) {
        struct vsc_stor *s = disk_stor(k->e, k->lun);
        k->write = write;
        k->compare = compare;
        k->io = (struct disk_io){ .s = s, .lun = k->lun, .write = write, .timeout_ns = k->e->g->timeout_ns,
                                  .progress_ns = k->progress_ns, .progress_lines = k->io.progress_lines };
        vsc_stor_mask(s, true); /* polling at CPL3: no interrupts (§5.6) */
        long r = cpu_run_user(disk_check_regions, k, false);
        vsc_stor_mask(s, false);
        if (r < 0)
                return guest_fail((int)r, "disk %u:%u: %s", k->lun->ctrl, k->lun->lun, k->io.why);
        report("disk_%s=%u:%u regions=%u bytes=%lu commands=%lu us=%lu%s", write ? "write" : "read", k->lun->ctrl,
               k->lun->lun, k->regions, k->region_bytes * k->regions, k->io.commands, k->ns / 1000,
               write ? "" : compare ? " compared=1" : " compared=0");
        return 0;
}

static int flush(struct disk_env *e, const struct disk_lun *l) {
        uint8_t cdb[16];
        struct vsc_stor_result res;
        int r = disk_exec(e, l, cdb, vsc_scsi_sync_cache10(cdb), VSC_STOR_DIR_NONE, NULL, 0, &res);
        if (r < 0)
                return r;
        if (!vsc_stor_result_ok(&res))
                return guest_fail(-EIO, "disk %u:%u: SYNCHRONIZE CACHE failed: srb_status=0x%x", l->ctrl, l->lun,
                                  res.srb_status);
        report("disk_flush=%u:%u ok", l->ctrl, l->lun);
        return 0;
}

/* UNMAP of the alignment unit after region 0; with LBPRZ it reads zeros. */
static int unmap(struct disk_check *k) {
        const struct disk_lun *l = k->lun;
        uint64_t off = k->region_bytes, bytes = k->align, bs = l->cap.block_size;
        if (!l->cap.lbpme || k->regions < 2)
                return 0;
        uint8_t cdb[16];
        struct vsc_stor_result res;
        struct disk_io io = { .s = disk_stor(k->e, l), .lun = l, .buf = k->wbuf, .offset = off, .bytes = bytes,
                              .chunk_bytes = bytes, .write = true, .timeout_ns = k->e->g->timeout_ns };
        vsc_stor_pattern_fill(k->wbuf, bytes, k->seed, l->ctrl, l->lun, off);
        int r = disk_io_run(&io);
        if (r < 0)
                return guest_fail(r, "disk %u:%u: %s", l->ctrl, l->lun, io.why);
        r = disk_exec(k->e, l, cdb, vsc_scsi_unmap(cdb, k->e->scratch, off / bs, (uint32_t)(bytes / bs)),
                      VSC_STOR_DIR_OUT, k->e->scratch, VSC_SCSI_UNMAP_PARAM_LEN, &res);
        if (r == 0 && !vsc_stor_result_ok(&res))
                r = guest_fail(-EIO, "disk %u:%u: UNMAP failed: srb_status=0x%x", l->ctrl, l->lun, res.srb_status);
        io = (struct disk_io){ .s = io.s, .lun = l, .buf = k->rbuf, .offset = off, .bytes = bytes,
                               .chunk_bytes = bytes, .timeout_ns = io.timeout_ns };
        if (r == 0 && (r = disk_io_run(&io)) < 0)
                r = guest_fail(r, "disk %u:%u: %s", l->ctrl, l->lun, io.why);
        if (r < 0)
                return r;
        bool zero = true;
        for (uint64_t i = 0; i < bytes; i++)
                zero = zero && k->rbuf[i] == 0;
        report("disk_unmap=%u:%u offset=%lu bytes=%lu lbprz=%d zeroed=%d", l->ctrl, l->lun, off, bytes,
               l->cap.lbprz, zero);
        return l->cap.lbprz && !zero ? guest_fail(-EIO, "disk %u:%u: unmapped blocks do not read as zeros (LBPRZ=1)",
                                                  l->ctrl, l->lun)
                                     : 0;
}

/* A request the device must refuse; reported, never GOOD. */
static int refuse(struct disk_env *e, const struct disk_lun *l, uint8_t lun, const char *name, const uint8_t *cdb,
                  uint8_t cdb_len, enum vsc_stor_dir dir, uint32_t len) {
        struct disk_lun at = *l;
        struct vsc_stor_result res;
        char sense[64];
        at.lun = lun;
        int r = disk_exec(e, &at, cdb, cdb_len, dir, len ? e->scratch : NULL, len, &res);
        if (r < 0)
                return r;
        disk_sense_text(&res, sense, sizeof sense);
        report("bad_request=%s disk=%u:%u srb_status=0x%x scsi_status=0x%x status=0x%x %s", name, l->ctrl, lun,
               res.srb_status, res.scsi_status, res.status, sense);
        if (res.srb_status == SRB_STATUS_SUCCESS)
                return guest_fail(-EPROTO, "disk %u:%u: %s was accepted", l->ctrl, lun, name);
        return 0;
}

static uint8_t absent_lun(const struct disk_env *e, unsigned ctrl) {
        for (unsigned n = 254;; n--) {
                bool used = false;
                for (unsigned i = 0; i < e->n_luns; i++)
                        used = used || (e->luns[i].ctrl == ctrl && e->luns[i].lun == n);
                if (!used || n == 0)
                        return (uint8_t)n;
        }
}

static int bad_requests(struct disk_env *e, const struct disk_lun *l) {
        uint8_t cdb[16] = { 0x02 }; /* unassigned 6-byte operation code */
        uint32_t bs = l->cap.block_size;
        int r = refuse(e, l, l->lun, "unsupported_opcode", cdb, 6, VSC_STOR_DIR_NONE, 0);
        if (r == 0)
                r = refuse(e, l, l->lun, "lba_out_of_range", cdb, vsc_scsi_rw(cdb, false, l->cap.blocks, 1, false, true),
                           VSC_STOR_DIR_IN, bs);
        if (r == 0) /* two blocks asked for, a buffer of one */
                r = refuse(e, l, l->lun, "transfer_exceeds_buffer", cdb, vsc_scsi_rw(cdb, false, 0, 2, false, false),
                           VSC_STOR_DIR_IN, bs);
        if (r == 0)
                r = refuse(e, l, absent_lun(e, l->ctrl), "absent_lun", cdb, vsc_scsi_test_unit_ready(cdb),
                           VSC_STOR_DIR_NONE, 0);
        if (r == 0 && l->wp)
                r = refuse(e, l, l->lun, "write_protected", cdb, vsc_scsi_rw(cdb, true, 0, 1, false, false),
                           VSC_STOR_DIR_OUT, bs);
        if (r < 0)
                return r;
        /* the controller keeps working */
        struct vsc_stor_result res;
        r = disk_exec(e, l, cdb, vsc_scsi_rw(cdb, false, 0, 1, false, false), VSC_STOR_DIR_IN, e->scratch, bs, &res);
        if (r == 0 && (!vsc_stor_result_ok(&res) || res.data_len != bs))
                r = guest_fail(-EIO, "disk %u:%u: a read after the bad requests failed: srb_status=0x%x", l->ctrl,
                               l->lun, res.srb_status);
        if (r == 0)
                report("after_bad_requests=%u:%u ok", l->ctrl, l->lun);
        return r;
}

static int check_lun(struct disk_check *k, bool verify_only) {
        const struct disk_lun *l = k->lun;
        for (unsigned i = 0; i < k->regions; i++)
                report("disk_region=%u:%u index=%u offset=%lu bytes=%lu", l->ctrl, l->lun, i, disk_region_offset(k, i),
                       k->region_bytes);
        int r = 0;
        if (!verify_only && !l->wp) {
                r = run_regions(k, true, false);
                if (r == 0)
                        r = flush(k->e, l);
        }
        if (r == 0)
                r = run_regions(k, false, verify_only || !l->wp);
        if (r == 0 && !verify_only && !l->wp)
                r = unmap(k);
        if (r == 0)
                r = bad_requests(k->e, l);
        return r;
}

static int run(struct disk_env *e) {
        struct guest *g = e->g;
        uint32_t seed = (uint32_t)disk_opt(g, "seed", 1, 0, 0xffffffffu);
        unsigned durable = (unsigned)disk_opt(g, "durable_blocks", 0, 0, 65536);
        if (durable) {
                for (unsigned i = 0; i < e->n_luns; i++)
                        if (!e->luns[i].wp)
                                return disk_durable(e, &e->luns[i], seed, durable);
                return guest_fail(-ENODEV, "vsc.disk.durable_blocks: no writable disk");
        }
        bool verify_only = disk_opt(g, "verify_only", 0, 0, 1) != 0;
        unsigned regions = (unsigned)disk_opt(g, "regions", 16, 1, 64);
        uint64_t region_bytes = disk_opt(g, "region_kib", 256, 4, 4096) * 1024;
        uint64_t progress_ms = disk_opt(g, "progress_ms", 0, 0, 3600000);
        size_t pages = (size_t)(region_bytes / 4096 + 1);
        struct disk_check k = { .e = e, .seed = seed, .wbuf = mem_alloc_pages(pages), .rbuf = mem_alloc_pages(pages),
                                .progress_ns = progress_ms * 1000000ull };
        int r = k.wbuf && k.rbuf ? 0 : guest_fail(-ENOMEM, "no 2 x %zu pages for region buffers", pages);
        for (unsigned i = 0; r == 0 && i < e->n_luns; i++) {
                k.lun = &e->luns[i];
                layout(&k, regions, region_bytes);
                r = check_lun(&k, verify_only);
        }
        if (k.wbuf)
                mem_free_pages(k.wbuf, pages);
        if (k.rbuf)
                mem_free_pages(k.rbuf, pages);
        return r;
}

int mode_disk_check(struct guest *g) {
        struct disk_env *e = NULL;
        int r = disk_setup(g, &e);
        if (r == 0)
                r = run(e);
        return e ? disk_teardown(e, r) : r;
}
