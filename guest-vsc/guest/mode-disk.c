// SPDX-License-Identifier: MIT
/* Shared by vsc.mode=disk-check and disk-bench: find every synthetic SCSI
 * controller, open and initialise it as Linux 6.1's storvsc does (§6.3,
 * optional sub-channels §6.7), and discover its disks as scsi_scan and sd
 * do (§6.8): INQUIRY of LUN 0, REPORT LUNS, then per LUN INQUIRY, TEST
 * UNIT READY, READ CAPACITY(16) (our host claims SPC-4) cross-checked with
 * READ CAPACITY(10), MODE SENSE(6) for write protection. Runs at CPL0,
 * where a wait sleeps in hlt until the host's interrupt.
 *
 * Lines:
 *   VSC disk_controller=<c> relid=<r> instance=<guid> protocol=0x0602 max_transfer=<bytes>
 *       multi_channel=<0|1> max_sub_channels=<n> channels=<open> open_us=<t> init_us=<t>
 *   VSC disk=<c>:<lun> vendor=<v> product=<p> revision=<r> version=<spc> blocks=<n> block_size=<b>
 *       phys_block_size=<b> capacity_mib=<m> wp=<0|1> dpofua=<0|1> lbpme=<0|1> lbprz=<0|1>
 *   VSC disks=<n> */
#include "mode-disk.h"

static const uint8_t scsi_class[16] = HV_SCSI_GUID;

uint64_t disk_opt(const struct guest *g, const char *key, uint64_t def, uint64_t min, uint64_t max) {
        char name[48];
        vsc_snprintf(name, sizeof name, "vsc.disk.%s", key);
        return guest_opt(g, name, def, min, max);
}

void disk_sense_text(const struct vsc_stor_result *res, char *out, size_t len) {
        struct vsc_scsi_sense s;
        if (res->sense_len && vsc_scsi_parse_sense(res->sense, res->sense_len, &s) == 0)
                vsc_snprintf(out, len, "sense_key=0x%x asc=0x%x ascq=0x%x", s.key, s.asc, s.ascq);
        else
                vsc_snprintf(out, len, "sense=none");
}

int disk_exec(struct disk_env *e, const struct disk_lun *lun, const uint8_t *cdb, uint8_t cdb_len,
              enum vsc_stor_dir dir, void *buf, uint32_t len, struct vsc_stor_result *res) {
        struct vsc_stor *s = disk_stor(e, lun);
        struct vsc_stor_cmd cmd = { .cdb_len = cdb_len, .lun = lun->lun, .dir = dir, .buf = buf, .len = len };
        memcpy(cmd.cdb, cdb, cdb_len);
        int r = vsc_stor_exec(s, &cmd, res);
        return r < 0 ? guest_fail(r, "%s", vsc_bus_error(s->bus)) : 0;
}

/* A discovery command that must succeed with at least min bytes of data. */
static int must(struct disk_env *e, const struct disk_lun *lun, const char *what, const uint8_t *cdb, uint8_t cdb_len,
                uint32_t alloc, uint32_t min, uint32_t *got) {
        struct vsc_stor_result res;
        memset(e->scratch, 0, 4096);
        int r = disk_exec(e, lun, cdb, cdb_len, alloc ? VSC_STOR_DIR_IN : VSC_STOR_DIR_NONE, e->scratch, alloc, &res);
        if (r < 0)
                return r;
        if (!vsc_stor_result_ok(&res) || res.data_len < min) {
                char sense[64];
                disk_sense_text(&res, sense, sizeof sense);
                return guest_fail(-EIO, "%s of disk %u:%u failed: srb_status=0x%x scsi_status=0x%x data_len=%u %s",
                                  what, lun->ctrl, lun->lun, res.srb_status, res.scsi_status, res.data_len, sense);
        }
        if (got)
                *got = res.data_len;
        return 0;
}

static int read_capacity(struct disk_env *e, struct disk_lun *l) {
        uint8_t cdb[16];
        uint32_t n;
        struct vsc_scsi_capacity c10;
        int r = must(e, l, "READ CAPACITY(16)", cdb, vsc_scsi_read_capacity16(cdb, 32), 32, 32, &n);
        if (r == 0 && vsc_scsi_parse_capacity16(e->scratch, n, &l->cap) < 0)
                r = guest_fail(-EPROTO, "disk %u:%u: READ CAPACITY(16) data makes no sense", l->ctrl, l->lun);
        if (r == 0)
                r = must(e, l, "READ CAPACITY(10)", cdb, vsc_scsi_read_capacity10(cdb), 8, 8, &n);
        if (r == 0 && vsc_scsi_parse_capacity10(e->scratch, n, &c10) < 0)
                r = guest_fail(-EPROTO, "disk %u:%u: READ CAPACITY(10) data makes no sense", l->ctrl, l->lun);
        if (r < 0)
                return r;
        /* RC10 saturates at FFFFFFFFh (+1) for disks past 2 TiB */
        uint64_t want10 = l->cap.blocks > 0xffffffffull ? 0x100000000ull : l->cap.blocks;
        if (c10.block_size != l->cap.block_size || c10.blocks != want10 || l->cap.blocks == 0)
                return guest_fail(-EPROTO, "disk %u:%u: READ CAPACITY(10) says %lu x %u, (16) says %lu x %u", l->ctrl,
                                  l->lun, c10.blocks, c10.block_size, l->cap.blocks, l->cap.block_size);
        return 0;
}

static int probe_lun(struct disk_env *e, unsigned c, uint16_t lun) {
        struct disk_lun *l = &e->luns[e->n_luns];
        uint8_t cdb[16];
        uint32_t n;
        *l = (struct disk_lun){ .ctrl = c, .lun = (uint8_t)lun };
        int r = must(e, l, "INQUIRY", cdb, vsc_scsi_inquiry(cdb, false, 0, 36), 36, 36, &n);
        if (r == 0 && vsc_scsi_parse_inquiry(e->scratch, n, &l->inq) < 0)
                r = guest_fail(-EPROTO, "disk %u:%u: short INQUIRY data", c, lun);
        if (r < 0)
                return r;
        if (l->inq.qualifier != 0 || l->inq.device_type != 0) {
                report("lun_skipped=%u:%u qualifier=%u device_type=0x%x", c, lun, l->inq.qualifier,
                       l->inq.device_type);
                return 0;
        }
        r = must(e, l, "TEST UNIT READY", cdb, vsc_scsi_test_unit_ready(cdb), 0, 0, NULL);
        if (r == 0)
                r = read_capacity(e, l);
        /* sd's first write-protect probe: page 3Fh, 4 bytes (§6.8 step 4) */
        if (r == 0)
                r = must(e, l, "MODE SENSE(6)", cdb, vsc_scsi_mode_sense6(cdb, 0x3f, 4), 4, 4, &n);
        if (r == 0 && vsc_scsi_parse_mode6_header(e->scratch, n, &l->wp, &l->dpofua) < 0)
                r = guest_fail(-EPROTO, "disk %u:%u: MODE SENSE(6) without a mode parameter header", c, lun);
        if (r < 0)
                return r;
        uint64_t bytes = l->cap.blocks * l->cap.block_size;
        report("disk=%u:%u vendor=%s product=%s revision=%s version=%u blocks=%lu block_size=%u phys_block_size=%u "
               "capacity_mib=%lu wp=%d dpofua=%d lbpme=%d lbprz=%d",
               c, lun, l->inq.vendor, l->inq.product, l->inq.revision, l->inq.version, l->cap.blocks,
               l->cap.block_size, l->cap.block_size << l->cap.phys_exponent, bytes >> 20, l->wp, l->dpofua,
               l->cap.lbpme, l->cap.lbprz);
        e->n_luns++;
        return 0;
}

/* scsi_scan_host for path 0, target 0: INQUIRY of LUN 0 (PQ 3 only says
 * "no LUN 0"), then REPORT LUNS with Linux's 4 KiB allocation. */
static int discover(struct disk_env *e, unsigned c) {
        struct disk_lun lun0 = { .ctrl = c, .lun = 0 };
        struct vsc_scsi_inquiry inq;
        uint16_t luns[VSC_SCSI_MAX_LUNS];
        uint8_t cdb[16];
        uint32_t n;
        unsigned count;
        int r = must(e, &lun0, "INQUIRY", cdb, vsc_scsi_inquiry(cdb, false, 0, 36), 36, 36, &n);
        if (r == 0 && vsc_scsi_parse_inquiry(e->scratch, n, &inq) < 0)
                r = guest_fail(-EPROTO, "controller %u: short INQUIRY data at LUN 0", c);
        if (r == 0)
                r = must(e, &lun0, "REPORT LUNS", cdb, vsc_scsi_report_luns(cdb, 4096), 4096, 8, &n);
        if (r == 0 && vsc_scsi_parse_report_luns(e->scratch, n, luns, VSC_SCSI_MAX_LUNS, &count) < 0)
                r = guest_fail(-EPROTO, "controller %u: malformed REPORT LUNS data", c);
        for (unsigned i = 0; r == 0 && i < count; i++) {
                if (e->n_luns == DISK_MAX_LUNS)
                        return guest_fail(-ENOSPC, "more than %u disks", DISK_MAX_LUNS);
                r = probe_lun(e, c, luns[i]);
        }
        return r;
}

static int open_controller(struct disk_env *e, const struct vsc_offer *o, unsigned subchannels) {
        struct vsc_stor *s = &e->ctrl[e->n_ctrl];
        uint64_t t0 = clock_ns();
        int r = vsc_stor_open(s, &e->g->bus, o);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(&e->g->bus));
        e->n_ctrl++;
        uint64_t t1 = clock_ns();
        r = vsc_stor_init(s);
        if (r >= 0)
                r = vsc_stor_open_subchannels(s, subchannels);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(&e->g->bus));
        char inst[VSC_GUID_STRLEN];
        vsc_guid_format(s->instance, inst);
        report("disk_controller=%u relid=%u instance=%s protocol=0x%04x max_transfer=%u multi_channel=%d "
               "max_sub_channels=%u channels=%u open_us=%lu init_us=%lu",
               e->n_ctrl - 1, o->child_relid, inst, s->version, s->props.max_transfer_bytes,
               (s->props.flags & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL) != 0, s->props.max_channel_cnt,
               s->n_channels, (t1 - t0) / 1000, (clock_ns() - t1) / 1000);
        return 0;
}

static int open_controllers(struct disk_env *e) {
        struct vsc_bus *bus = &e->g->bus;
        unsigned sub = (unsigned)disk_opt(e->g, "subchannels", 0, 0, VSC_STOR_MAX_CHANNELS - 1);
        /* the offer table changes while sub-channels are offered: walk a copy */
        uint32_t relids[DISK_MAX_CTRL];
        unsigned n = 0;
        for (unsigned i = 0; i < bus->n_offers && n < DISK_MAX_CTRL; i++) {
                const struct vsc_offer *o = &bus->offers[i];
                if (!o->rescinded && o->sub_channel_index == 0 && !memcmp(o->if_type, scsi_class, 16))
                        relids[n++] = o->child_relid;
        }
        if (n == 0)
                return guest_fail(-ENODEV, "no synthetic SCSI controller offered (class ba6163d9-...)");
        for (unsigned k = 0; k < n; k++) {
                const struct vsc_offer *o = NULL;
                for (unsigned i = 0; i < bus->n_offers; i++)
                        if (bus->offers[i].child_relid == relids[k])
                                o = &bus->offers[i];
                int r = open_controller(e, o, sub);
                if (r < 0)
                        return r;
        }
        return 0;
}

int disk_setup(struct guest *g, struct disk_env **out) {
        size_t pages = (sizeof(struct disk_env) + 4095) / 4096 + 1;
        struct disk_env *e = mem_alloc_pages(pages);
        if (!e)
                return guest_fail(-ENOMEM, "no %zu pages for the disk client", pages);
        e->g = g;
        e->pages = pages;
        e->scratch = (uint8_t *)e + (pages - 1) * 4096;
        *out = e;
        int r = guest_vmbus_connect(g);
        if (r < 0)
                return r;
        r = vsc_request_offers(&g->bus);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        r = open_controllers(e);
        for (unsigned c = 0; r == 0 && c < e->n_ctrl; c++)
                r = discover(e, c);
        if (r == 0)
                report("disks=%u", e->n_luns);
        if (r == 0 && e->n_luns == 0)
                r = guest_fail(-ENODEV, "no disk on any SCSI controller");
        return r;
}

int disk_teardown(struct disk_env *e, int r) {
        for (unsigned c = e->n_ctrl; c > 0; c--) {
                int k = vsc_stor_close(&e->ctrl[c - 1]);
                if (k < 0 && r == 0)
                        r = guest_fail(k, "%s", vsc_bus_error(&e->g->bus));
        }
        if (e->g->bus.version) {
                int k = guest_vmbus_disconnect(e->g);
                if (r == 0)
                        r = k;
        }
        mem_free_pages(e, e->pages);
        return r;
}
