// SPDX-License-Identifier: MIT
/* vsc.hostile=diskfault: the guest side of the fault tests
 * (tests/integration/test-fault-disk.sh, docs/hostile-guests.md "Fault matrix").
 * The host makes the disk's storage fail under the running VM (a full file
 * system, one that turns read-only, one that returns I/O errors); the
 * guest writes numbered blocks with FUA, one at a time, and says which ones
 * are acknowledged; it reports the sense of the first write that fails,
 * what a SYNCHRONIZE CACHE, another write and reading the acknowledged
 * blocks back get afterwards, and shows that the rest of the VM (the other
 * disks, the NIC, the heartbeat service) still works.
 *
 * Options: vsc.hostile.fault_ctrl=N (which SCSI controller, default 0),
 * vsc.hostile.fault_blocks=N (blocks written before "hostile_phase=
 * disk_written", default 64), vsc.hostile.fault_delay_ms=N (between the
 * writes after it, default 20), vsc.hostile.fault_wait_ms=N (how long to
 * wait for a failure, default 60000), vsc.hostile.seed (the pattern).
 * "hostile_phase=fault_reported" follows the report, before the disk closes.
 *
 * Lines: VSC fault_disk=<c>:<lun> block_bytes=<B> blocks=<disk blocks>
 *        VSC fault_ack=<n>               (block n is acknowledged: FUA write GOOD)
 *        VSC hostile_case=diskfault/first_failed_write ok=1 block=<n> srb_status=.. status=.. sense_key=.. asc=.. ascq=..
 *        VSC hostile_case=diskfault/sync_after_fault ...  write_again ...  read_acknowledged ... */
#include "hostile.h"

static const uint8_t scsi_class[16] = HV_SCSI_GUID;

struct fault {
        struct hostile *h;
        struct vsc_stor *s;
        uint8_t ctrl, lun;
        uint32_t bs, seed;
        uint64_t block_bytes, disk_blocks;
        uint64_t acked; /* blocks 0..acked-1 are acknowledged */
};

static void sense_text(const struct vsc_stor_result *res, char *out, size_t len) {
        struct vsc_scsi_sense s;
        if (res->sense_len && vsc_scsi_parse_sense(res->sense, res->sense_len, &s) == 0)
                vsc_snprintf(out, len, "sense_key=0x%x asc=0x%x ascq=0x%x", s.key, s.asc, s.ascq);
        else
                vsc_snprintf(out, len, "sense=none");
}

static int exec(struct fault *f, struct vsc_stor_cmd *c, struct vsc_stor_result *res) {
        c->lun = f->lun;
        int r = vsc_stor_exec(f->s, c, res);
        return r < 0 ? guest_fail(r, "diskfault: %s", vsc_bus_error(f->h->bus)) : 0;
}

static int write_block(struct fault *f, uint64_t n, struct vsc_stor_result *res) {
        uint64_t off = n * f->block_bytes;
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_OUT, .buf = f->h->scratch, .len = (uint32_t)f->block_bytes };
        vsc_stor_pattern_fill(c.buf, f->block_bytes, f->seed, f->ctrl, f->lun, off);
        c.cdb_len = vsc_scsi_rw(c.cdb, true, off / f->bs, (uint32_t)(f->block_bytes / f->bs), true, false);
        return exec(f, &c, res);
}

/* Writes the next blocks until one fails (1), the deadline passes or the
 * disk ends (0), pausing delay_ns between writes. */
static int write_until(struct fault *f, uint64_t limit, uint64_t delay_ns, uint64_t deadline,
                       struct vsc_stor_result *res) {
        while (f->acked < limit && f->acked < f->disk_blocks && clock_ns() < deadline) {
                int r = write_block(f, f->acked, res);
                if (r < 0)
                        return r;
                if (!vsc_stor_result_ok(res))
                        return 1;
                report("fault_ack=%lu", f->acked);
                f->acked++;
                uint64_t until = clock_ns() + delay_ns;
                while (clock_ns() < until)
                        clock_idle(until);
        }
        return 0;
}

static int discover(struct fault *f) {
        struct vsc_stor_result res;
        uint16_t luns[8];
        unsigned n = 0;
        struct vsc_scsi_capacity cap;
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_IN, .buf = f->h->scratch, .len = 4096 };
        c.cdb_len = vsc_scsi_report_luns(c.cdb, 4096);
        int r = vsc_stor_exec(f->s, &c, &res);
        if (r == 0 && (vsc_scsi_parse_report_luns(f->h->scratch, res.data_len, luns, 8, &n) < 0 || n == 0))
                return guest_fail(-ENODEV, "diskfault: no LUN on controller %u", f->ctrl);
        if (r < 0)
                return guest_fail(r, "diskfault: %s", vsc_bus_error(f->h->bus));
        f->lun = (uint8_t)luns[0];
        c = (struct vsc_stor_cmd){ .dir = VSC_STOR_DIR_IN, .buf = f->h->scratch, .len = 32 };
        c.cdb_len = vsc_scsi_read_capacity16(c.cdb, 32);
        if ((r = exec(f, &c, &res)) < 0)
                return r;
        if (!vsc_stor_result_ok(&res) || vsc_scsi_parse_capacity16(f->h->scratch, res.data_len, &cap) < 0)
                return guest_fail(-EIO, "diskfault: READ CAPACITY(16) failed");
        f->bs = cap.block_size;
        f->block_bytes = f->bs > 4096 ? f->bs : 4096;
        f->disk_blocks = cap.blocks * f->bs / f->block_bytes;
        report("fault_disk=%u:%u block_bytes=%lu blocks=%lu", f->ctrl, f->lun, f->block_bytes, f->disk_blocks);
        return 0;
}

/* What the disk says after the fault: a flush, another write, the
 * acknowledged blocks read back. Reported; the host test knows what each
 * kind of fault must give. */
static int after_fault(struct fault *f) {
        struct hostile *h = f->h;
        struct vsc_stor_result res;
        char sense[64];
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_NONE };
        c.cdb_len = vsc_scsi_sync_cache10(c.cdb);
        int r = exec(f, &c, &res);
        if (r < 0)
                return r;
        sense_text(&res, sense, sizeof sense);
        hostile_case(h, "sync_after_fault", true, "good=%d srb_status=0x%x %s", vsc_stor_result_ok(&res),
                     res.srb_status, sense);
        if ((r = write_block(f, f->acked, &res)) < 0)
                return r;
        sense_text(&res, sense, sizeof sense);
        hostile_case(h, "write_again", !vsc_stor_result_ok(&res), "block=%lu good=%d srb_status=0x%x %s", f->acked,
                     vsc_stor_result_ok(&res), res.srb_status, sense);
        uint64_t compared = 0, unreadable = 0, wrong = 0;
        char first[64] = "sense=none";
        for (uint64_t n = 0; n < f->acked; n++) {
                uint64_t off = n * f->block_bytes, bad;
                c = (struct vsc_stor_cmd){ .dir = VSC_STOR_DIR_IN, .buf = h->scratch, .len = (uint32_t)f->block_bytes };
                c.cdb_len = vsc_scsi_rw(c.cdb, false, off / f->bs, (uint32_t)(f->block_bytes / f->bs), false, false);
                if ((r = exec(f, &c, &res)) < 0)
                        return r;
                if (!vsc_stor_result_ok(&res)) {
                        if (!unreadable++)
                                sense_text(&res, first, sizeof first);
                        continue;
                }
                compared++;
                if (vsc_stor_pattern_check(h->scratch, f->block_bytes, f->seed, f->ctrl, f->lun, off, &bad) < 0)
                        wrong++;
        }
        /* A block that reads back wrong is acknowledged data lost; one that
         * cannot be read at all is the fault itself (the host checks the
         * image). */
        hostile_case(h, "read_acknowledged", wrong == 0, "acked=%lu compared=%lu unreadable=%lu wrong=%lu first_%s",
                     f->acked, compared, unreadable, wrong, first);
        return 0;
}

int hostile_diskfault(struct hostile *h) {
        int r = hostile_connect(h);
        if (r < 0)
                return r;
        unsigned ctrl = (unsigned)hostile_opt(h, "fault_ctrl", 0, 3, 0);
        const struct vsc_offer *o = hostile_offer(h, scsi_class, ctrl);
        if (!o)
                return guest_fail(-ENODEV, "diskfault: no SCSI controller %u", ctrl);
        struct fault f = { .h = h, .ctrl = (uint8_t)ctrl,
                           .seed = (uint32_t)hostile_opt(h, "seed", 1, 0xffffffffu, 1) };
        f.s = hostile_stor_open(h, o);
        if (!f.s)
                return -EIO;
        struct vsc_stor_result res;
        r = discover(&f);
        uint64_t before = hostile_opt(h, "fault_blocks", 0, 1u << 30, 64);
        uint64_t delay = hostile_opt(h, "fault_delay_ms", 0, 10000, 20) * 1000000ull;
        uint64_t wait = hostile_opt(h, "fault_wait_ms", 100, 3600000, 60000) * 1000000ull;
        int failed = r < 0 ? r : write_until(&f, before, 0, clock_ns() + wait, &res);
        if (failed == 0) {
                hostile_phase(h, "disk_written");
                failed = write_until(&f, UINT64_MAX, delay, clock_ns() + wait, &res);
        }
        if (failed < 0) {
                hostile_stor_close(h, f.s);
                return failed;
        }
        char sense[64];
        sense_text(&res, sense, sizeof sense);
        hostile_case(h, "first_failed_write", failed == 1 && res.sense_len > 0, "block=%lu srb_status=0x%x status=0x%x %s",
                     f.acked, res.srb_status, res.status, sense);
        r = failed == 1 ? after_fault(&f) : 0;
        /* the rest of the VM, with this disk still attached and failing */
        if (r == 0)
                r = hostile_alive(h, o->child_relid);
        if (r == 0) /* the host looks at the VM while it still runs */
                hostile_phase(h, "fault_reported");
        hostile_stor_close(h, f.s);
        return r;
}
