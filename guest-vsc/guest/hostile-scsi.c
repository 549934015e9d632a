// SPDX-License-Identifier: MIT
/* vsc.hostile=scsi: SCSI garbage on the first disk (docs/storvsp.md, "SRB
 * results"):
 *
 *  - random CDBs (random opcode, bytes, CDB length, LUN, direction and
 *    data length up to 64 KiB, vsc.hostile.cdbs of them, 16 in flight) at
 *    CPL3 through the storage client: every one must complete and every
 *    completion must pass the client's checks (status histogram reported);
 *  - raw EXECUTE_SRB packets the client would never build: data lengths
 *    that disagree with the GPA range, too many or too few PFNs, ranges
 *    past the maximum transfer, range counts 0 and 2, PFNs past RAM / in
 *    the MMIO hole / >= 2^52 (reads and writes), direction against the CDB,
 *    CDB lengths 0/17/255, truncated vstor packets, unknown operations, a
 *    huge sense length, absent paths/targets/LUNs, data without a range.
 *    None may succeed; each is answered with an error or dropped;
 *  - then a pattern written, read back and compared (I/O still right), and
 *    the survivor check. */
#include "hostile.h"

static const uint8_t scsi_class[16] = HV_SCSI_GUID;

#define INFLIGHT 16u
#define RAW_TID 0xd0000000ull
#define RAW_RING_PAGES 2u /* scratch pages the raw cases point at */

struct rnd {
        struct hostile *h;
        struct vsc_stor *s;
        uint8_t lun;
        uint64_t n, submitted, completed;
        uint64_t good, check_condition, invalid_request, invalid_lun, other;
        int err;
};

static void random_cmd(struct rnd *x, struct vsc_stor_cmd *c) {
        struct hostile *h = x->h;
        uint32_t v = hostile_random(h);
        memset(c, 0, sizeof *c);
        c->cdb_len = (uint8_t)(1 + v % 16);
        for (unsigned i = 0; i < c->cdb_len; i++)
                c->cdb[i] = (uint8_t)hostile_random(h);
        c->lun = (v >> 8) % 8 == 0 ? (uint8_t)(v >> 16) : x->lun; /* mostly our LUN */
        c->dir = (enum vsc_stor_dir)((v >> 24) % 3);
        if (c->dir != VSC_STOR_DIR_NONE) {
                c->len = 1 + hostile_random(h) % (HOSTILE_SCRATCH_PAGES * 4096);
                c->buf = h->scratch;
        }
}

static void count(struct rnd *x, const struct vsc_stor_result *r) {
        x->completed++;
        if (vsc_stor_result_ok(r))
                x->good++;
        else if (r->scsi_status == 2)
                x->check_condition++;
        else if ((r->srb_status & SRB_STATUS_CODE_MASK) == SRB_STATUS_INVALID_REQUEST)
                x->invalid_request++;
        else if ((r->srb_status & SRB_STATUS_CODE_MASK) == SRB_STATUS_INVALID_LUN)
                x->invalid_lun++;
        else
                x->other++;
}

/* CPL3: keep INFLIGHT random commands going until n completed. */
static long random_loop(void *arg) {
        struct rnd *x = arg;
        struct vsc_stor_result res[INFLIGHT];
        uint64_t last = clock_ns();
        while (x->completed < x->n) {
                while (x->submitted < x->n && vsc_stor_inflight(x->s) < INFLIGHT) {
                        struct vsc_stor_cmd c;
                        random_cmd(x, &c);
                        int r = vsc_stor_submit(x->s, 0, &c);
                        if (r == -EAGAIN)
                                break;
                        if (r < 0)
                                return x->err = r;
                        x->submitted++;
                }
                vsc_stor_flush(x->s);
                int n = vsc_stor_poll(x->s, res, INFLIGHT);
                if (n < 0)
                        return x->err = n;
                for (int i = 0; i < n; i++)
                        count(x, &res[i]);
                if (n > 0)
                        last = clock_ns();
                else if (clock_ns() - last > x->h->g->timeout_ns)
                        return x->err = -ETIMEDOUT;
                else
                        cpu_relax();
        }
        return 0;
}

static int random_cdbs(struct hostile *h, struct vsc_stor *s, uint8_t lun) {
        struct rnd x = { .h = h, .s = s, .lun = lun, .n = hostile_opt(h, "cdbs", 1, 10000000, 20000) };
        uint64_t t0 = clock_ns();
        vsc_stor_mask(s, true);
        cpu_run_user(random_loop, &x, false);
        vsc_stor_mask(s, false);
        if (x.err == -ETIMEDOUT)
                return guest_fail(x.err, "random CDBs: no completion for %lu ms with %u in flight",
                                  h->g->timeout_ns / 1000000, vsc_stor_inflight(s));
        if (x.err < 0)
                return guest_fail(x.err, "random CDBs: %s", vsc_bus_error(h->bus));
        hostile_case(h, "random_cdbs", x.completed == x.n,
                     "sent=%lu completed=%lu good=%lu check_condition=%lu invalid_request=%lu invalid_lun=%lu "
                     "other=%lu ms=%lu",
                     x.submitted, x.completed, x.good, x.check_condition, x.invalid_request, x.invalid_lun, x.other,
                     (clock_ns() - t0) / 1000000);
        return 0;
}

/* ---- raw packets ---- */

struct raw_case {
        const char *name;
        uint8_t cdb[16];
        uint8_t cdb_len, data_in, lun, path, target, sense_len;
        uint32_t xfer;          /* data_transfer_length */
        uint32_t ranges;        /* range_cnt; 0 with pfns 0: inband */
        uint32_t byte_count, byte_offset, pfns;
        uint64_t pfn;           /* 0: the scratch pages */
        uint32_t operation;     /* 0: EXECUTE_SRB */
        uint32_t payload;       /* 0: a whole vstor_packet */
        uint16_t srb_length;    /* 0: 0x34 */
        bool gpa_no_extra;      /* a GPA-direct packet without the range fields */
};

#define READ10(blocks) { 0x28, 0, 0, 0, 0, 0, 0, 0, (blocks), 0 }
#define WRITE10(blocks) { 0x2a, 0, 0, 0, 0, 0, 0, 0, (blocks), 0 }

static const struct raw_case raw_cases[] = {
        { "range_bytes_8k_one_pfn", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 1, 8192, 0, 1, 0, 0, 0, 0, false },
        { "range_one_page_three_pfns", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 1, 4096, 0, 3, 0, 0, 0, 0, false },
        { "transfer_past_range", READ10(16), 10, READ_TYPE, 0, 0, 0, 20, 8192, 1, 4096, 0, 1, 0, 0, 0, 0, false },
        { "transfer_past_maximum", READ10(0), 10, READ_TYPE, 0, 0, 0, 20, 2101248, 1, 2101248, 0, 513, 0, 0, 0, 0,
          false },
        { "pfns_past_packet_limit", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 1, 600 * 4096, 0, 600, 0, 0, 0, 0,
          false },
        { "range_count_0", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 0, 4096, 0, 1, 0, 0, 0, 0, false },
        { "range_count_2", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 2, 4096, 0, 1, 0, 0, 0, 0, false },
        { "byte_offset_4096", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 1, 4096, 4096, 2, 0, 0, 0, 0, false },
        { "read_into_pfn_past_ram", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 1, 4096, 0, 1, 1ull << 28, 0, 0, 0,
          false },
        { "read_into_mmio_hole", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 1, 4096, 0, 1, 0xc0000, 0, 0, 0, false },
        { "read_into_lapic", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 1, 4096, 0, 1, 0xfee00, 0, 0, 0, false },
        { "read_into_pfn_2_52", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 1, 4096, 0, 1, 1ull << 52, 0, 0, 0,
          false },
        { "write_from_pfn_past_ram", WRITE10(8), 10, WRITE_TYPE, 0, 0, 0, 20, 4096, 1, 4096, 0, 1, 1ull << 28, 0, 0, 0,
          false },
        { "write_from_mmio_hole", WRITE10(8), 10, WRITE_TYPE, 0, 0, 0, 20, 4096, 1, 4096, 0, 1, 0xc0000, 0, 0, 0,
          false },
        { "read_cdb_write_direction", READ10(8), 10, WRITE_TYPE, 0, 0, 0, 20, 4096, 1, 4096, 0, 1, 0, 0, 0, 0, false },
        { "cdb_length_0", { 0 }, 0, UNKNOWN_TYPE, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, false },
        { "cdb_length_17", { 0 }, 17, UNKNOWN_TYPE, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, false },
        { "cdb_length_255", { 0 }, 255, UNKNOWN_TYPE, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, false },
        { "vstor_packet_8_bytes", { 0 }, 6, UNKNOWN_TYPE, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 8, 0, false },
        { "vstor_packet_40_bytes", { 0 }, 6, UNKNOWN_TYPE, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 40, 0, false },
        { "unknown_operation", { 0 }, 6, UNKNOWN_TYPE, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0x55, 0, 0, false },
        { "operation_complete_io", { 0 }, 6, UNKNOWN_TYPE, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 1, 0, 0, false },
        { "sense_length_255", { 0x02 }, 6, UNKNOWN_TYPE, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, false },
        { "path_7", READ10(8), 10, READ_TYPE, 0, 7, 0, 20, 4096, 1, 4096, 0, 1, 0, 0, 0, 0, false },
        { "target_9", READ10(8), 10, READ_TYPE, 0, 0, 9, 20, 4096, 1, 4096, 0, 1, 0, 0, 0, 0, false },
        { "lun_255", READ10(8), 10, READ_TYPE, 255, 0, 0, 20, 4096, 1, 4096, 0, 1, 0, 0, 0, 0, false },
        { "inband_with_data_length", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 0, 0, 0, 0, 0, 0, 0, 0, false },
        { "gpa_direct_without_range", READ10(8), 10, READ_TYPE, 0, 0, 0, 20, 4096, 0, 0, 0, 0, 0, 0, 0, 0, true },
};

static void build(const struct raw_case *c, uint8_t lun, struct vstor_packet *v) {
        struct vmscsi_request *srb = &v->vm_srb;
        memset(v, 0, sizeof *v);
        v->operation = c->operation ? c->operation : VSTOR_OPERATION_EXECUTE_SRB;
        v->flags = REQUEST_COMPLETION_FLAG;
        srb->length = c->srb_length ? c->srb_length : sizeof *srb;
        srb->path_id = c->path;
        srb->target_id = c->target;
        srb->lun = c->lun ? c->lun : lun;
        srb->cdb_length = c->cdb_len;
        srb->sense_info_length = c->sense_len;
        srb->data_in = c->data_in;
        srb->data_transfer_length = c->xfer;
        memcpy(srb->cdb, c->cdb, sizeof srb->cdb);
        srb->queue_tag = SP_UNTAGGED;
        srb->queue_action = SRB_SIMPLE_TAG_REQUEST;
        srb->srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER |
                         (c->data_in == READ_TYPE ? SRB_FLAGS_DATA_IN : c->data_in == WRITE_TYPE ? SRB_FLAGS_DATA_OUT : 0);
        srb->time_out_value = 60;
}

/* The GPA-direct fields: reserved + range_cnt, then one range header and
 * its PFNs (a second range for range_cnt 2 is left out on purpose). */
static size_t build_extra(struct hostile *h, const struct raw_case *c, uint64_t *extra) {
        uint64_t base = h->bus->ops->virt_to_phys(h->bus->ctx, h->scratch) >> 12;
        extra[0] = (uint64_t)c->ranges << 32;
        extra[1] = c->byte_count | (uint64_t)c->byte_offset << 32;
        for (uint32_t i = 0; i < c->pfns; i++)
                extra[2 + i] = c->pfn ? c->pfn + i : base + i % RAW_RING_PAGES;
        return (2 + c->pfns) * 8u;
}

static int raw_put(struct vsc_stor *s, uint16_t type, uint64_t tid, const uint64_t *extra, size_t extra_len,
                   const void *payload, size_t len) {
        int r = vsc_ring_put(&s->ch[0].out, type, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, tid, extra, extra_len,
                             payload, len);
        if (r == 0)
                vsc_channel_flush(&s->ch[0]);
        return r;
}

struct outcome {
        unsigned replies, bad;
        bool good;
        uint8_t srb_status, scsi_status, sense_len;
        uint32_t status;
};

/* A TEST UNIT READY behind the case: everything before its completion that
 * carries the case's trans_id is the case's answer. */
static int barrier(struct hostile *h, struct vsc_stor *s, uint8_t lun, uint64_t case_tid, struct outcome *out) {
        static const struct raw_case tur = { "tur", { 0 }, 6, UNKNOWN_TYPE, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, false };
        struct vstor_packet v;
        build(&tur, lun, &v);
        uint64_t tid = case_tid + 1;
        int r = raw_put(s, VM_PKT_DATA_INBAND, tid, NULL, 0, &v, sizeof v);
        if (r < 0)
                return guest_fail(r, "scsi: the barrier does not fit the ring");
        memset(out, 0, sizeof *out);
        uint64_t deadline = clock_ns() + h->g->timeout_ns;
        for (;;) {
                uint64_t buf[64];
                struct vsc_packet p;
                struct vsc_stor_reply rep;
                const char *why;
                r = vsc_channel_recv(&s->ch[0], buf, sizeof buf, &p);
                if (r == -EAGAIN) {
                        if (clock_ns() >= deadline)
                                return guest_fail(-ETIMEDOUT, "scsi: no completion of the barrier TEST UNIT READY");
                        vsc_channel_wait(&s->ch[0], deadline - clock_ns());
                        continue;
                }
                if (r < 0 && r != -EMSGSIZE)
                        return guest_fail(r, "scsi: %s", vsc_bus_error(h->bus));
                if (r == -EMSGSIZE || vsc_stor_parse_reply(buf, p.len, &rep, &why) < 0) {
                        out->bad++; /* the host broke the protocol */
                        continue;
                }
                if (rep.trans_id == tid)
                        return 0;
                if (rep.trans_id != case_tid) {
                        out->bad++;
                        continue;
                }
                out->replies++;
                out->status = rep.pkt.status;
                out->srb_status = rep.pkt.vm_srb.srb_status;
                out->scsi_status = rep.pkt.vm_srb.scsi_status;
                out->sense_len = rep.pkt.vm_srb.sense_info_length;
                out->good = out->srb_status == SRB_STATUS_SUCCESS && out->status == 0;
        }
}

static int raw_one(struct hostile *h, struct vsc_stor *s, uint8_t lun, const struct raw_case *c, uint64_t tid) {
        uint64_t extra[2 + 600];
        struct vstor_packet v;
        build(c, lun, &v);
        size_t extra_len = 0;
        uint16_t type = VM_PKT_DATA_INBAND;
        if (c->gpa_no_extra) {
                type = VM_PKT_DATA_USING_GPA_DIRECT;
        } else if (c->ranges || c->pfns) {
                type = VM_PKT_DATA_USING_GPA_DIRECT;
                extra_len = build_extra(h, c, extra);
        }
        int r = raw_put(s, type, tid, extra_len ? extra : NULL, extra_len, &v, c->payload ? c->payload : sizeof v);
        if (r < 0)
                return guest_fail(r, "scsi: case %s does not fit the ring", c->name);
        struct outcome o;
        r = barrier(h, s, lun, tid, &o);
        if (r < 0)
                return r;
        /* never success; at most one answer; every packet a valid completion;
         * sense never longer than the 20 bytes a completion can carry */
        bool ok = !o.good && o.replies <= 1 && o.bad == 0 && o.sense_len <= STORVSC_SENSE_BUFFER_SIZE;
        if (o.replies)
                hostile_case(h, c->name, ok, "reply=refused srb_status=0x%x scsi_status=0x%x status=0x%x sense_len=%u",
                             o.srb_status, o.scsi_status, o.status, o.sense_len);
        else
                hostile_case(h, c->name, ok, "reply=none bad_packets=%u", o.bad);
        return 0;
}

/* 64 KiB of the pattern at 1 MiB, written, flushed, read back, compared. */
static int io_still_right(struct hostile *h, struct vsc_stor *s, uint8_t lun, uint32_t bs) {
        const uint32_t bytes = HOSTILE_SCRATCH_PAGES * 4096, seed = 0x4057113u;
        const uint64_t off = 1u << 20;
        struct vsc_stor_result res;
        struct vsc_stor_cmd c = { .lun = lun, .dir = VSC_STOR_DIR_OUT, .buf = h->scratch, .len = bytes };
        vsc_stor_pattern_fill(h->scratch, bytes, seed, 0, lun, off);
        c.cdb_len = vsc_scsi_rw(c.cdb, true, off / bs, bytes / bs, true, false);
        int r = vsc_stor_exec(s, &c, &res);
        bool ok = r == 0 && vsc_stor_result_ok(&res);
        memset(h->scratch, 0, bytes);
        c.dir = VSC_STOR_DIR_IN;
        c.cdb_len = vsc_scsi_rw(c.cdb, false, off / bs, bytes / bs, false, false);
        if (ok)
                r = vsc_stor_exec(s, &c, &res);
        uint64_t bad = 0;
        ok = ok && r == 0 && vsc_stor_result_ok(&res) &&
             vsc_stor_pattern_check(h->scratch, bytes, seed, 0, lun, off, &bad) == 0;
        hostile_case(h, "io_after_garbage", ok, "bytes=%u offset=%lu compared=%d", bytes, off, ok);
        return r < 0 ? guest_fail(r, "scsi: %s", vsc_bus_error(h->bus)) : 0;
}

int hostile_scsi(struct hostile *h) {
        int r = hostile_connect(h);
        if (r < 0)
                return r;
        const struct vsc_offer *o = hostile_offer(h, scsi_class, 0);
        if (!o)
                return guest_fail(-ENODEV, "hostile scsi: needs a SCSI controller (a disk)");
        struct vsc_stor *s = hostile_stor_open(h, o);
        if (!s)
                return -EIO;
        /* the first LUN REPORT LUNS names, and its block size */
        uint16_t luns[8];
        unsigned n = 0;
        struct vsc_stor_result res;
        struct vsc_scsi_capacity cap = { .block_size = 512 };
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_IN, .buf = h->scratch, .len = 4096 };
        c.cdb_len = vsc_scsi_report_luns(c.cdb, 4096);
        r = vsc_stor_exec(s, &c, &res);
        if (r == 0 && (vsc_scsi_parse_report_luns(h->scratch, res.data_len, luns, 8, &n) < 0 || n == 0))
                r = guest_fail(-ENODEV, "hostile scsi: no LUN on controller relid %u", o->child_relid);
        c = (struct vsc_stor_cmd){ .lun = (uint8_t)luns[0], .dir = VSC_STOR_DIR_IN, .buf = h->scratch, .len = 8 };
        c.cdb_len = vsc_scsi_read_capacity10(c.cdb);
        if (r == 0 && (r = vsc_stor_exec(s, &c, &res)) == 0)
                vsc_scsi_parse_capacity10(h->scratch, 8, &cap);
        if (r == 0)
                r = random_cdbs(h, s, (uint8_t)luns[0]);
        for (size_t i = 0; r == 0 && i < sizeof raw_cases / sizeof raw_cases[0]; i++)
                r = raw_one(h, s, (uint8_t)luns[0], &raw_cases[i], RAW_TID + 2 * i);
        if (r == 0)
                r = io_still_right(h, s, (uint8_t)luns[0], cap.block_size);
        hostile_stor_close(h, s);
        return r < 0 ? r : hostile_alive(h, 0);
}
