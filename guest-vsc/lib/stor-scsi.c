// SPDX-License-Identifier: MIT
/* SCSI for the storvsc client: CDBs of the commands Linux's sd and
 * scsi_scan send (§6.8) and parsers of what the device returns (SPC-4,
 * SBC-3). Every parser is a plain function of the bytes the host wrote and
 * their count, fuzzed by tests/fuzz/fuzz-vsc-stor.c. */
#include "stor-internal.h"

static void put_be16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_be64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint32_t get_be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p) {
        return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static uint8_t cdb_clear(uint8_t cdb[16], uint8_t op, uint8_t len) {
        vsc_memset(cdb, 0, 16);
        cdb[0] = op;
        return len;
}

uint8_t vsc_scsi_inquiry(uint8_t cdb[16], bool evpd, uint8_t page, uint16_t alloc) {
        cdb_clear(cdb, 0x12, 6);
        cdb[1] = evpd ? 1 : 0;
        cdb[2] = page;
        put_be16(cdb + 3, alloc);
        return 6;
}

uint8_t vsc_scsi_report_luns(uint8_t cdb[16], uint32_t alloc) {
        cdb_clear(cdb, 0xa0, 12);
        cdb[2] = 0x02; /* SELECT REPORT 02h: all LUNs, as Linux */
        put_be32(cdb + 6, alloc);
        return 12;
}

uint8_t vsc_scsi_read_capacity10(uint8_t cdb[16]) {
        return cdb_clear(cdb, 0x25, 10);
}

uint8_t vsc_scsi_read_capacity16(uint8_t cdb[16], uint32_t alloc) {
        cdb_clear(cdb, 0x9e, 16);
        cdb[1] = 0x10; /* SERVICE ACTION IN(16): READ CAPACITY(16) */
        put_be32(cdb + 10, alloc);
        return 16;
}

uint8_t vsc_scsi_test_unit_ready(uint8_t cdb[16]) {
        return cdb_clear(cdb, 0x00, 6);
}

uint8_t vsc_scsi_mode_sense6(uint8_t cdb[16], uint8_t page, uint8_t alloc) {
        cdb_clear(cdb, 0x1a, 6);
        cdb[1] = 0x08; /* DBD: no block descriptors */
        cdb[2] = page & 0x3f;
        cdb[4] = alloc;
        return 6;
}

uint8_t vsc_scsi_sync_cache10(uint8_t cdb[16]) {
        return cdb_clear(cdb, 0x35, 10); /* LBA 0, 0 blocks: the whole medium (sd's flush) */
}

uint8_t vsc_scsi_rw(uint8_t cdb[16], bool write, uint64_t lba, uint32_t blocks, bool fua, bool force16) {
        if (!force16 && lba <= 0xffffffffu && blocks <= 0xffffu) {
                cdb_clear(cdb, write ? 0x2a : 0x28, 10);
                cdb[1] = fua ? 0x08 : 0;
                put_be32(cdb + 2, (uint32_t)lba);
                put_be16(cdb + 7, (uint16_t)blocks);
                return 10;
        }
        cdb_clear(cdb, write ? 0x8a : 0x88, 16);
        cdb[1] = fua ? 0x08 : 0;
        put_be64(cdb + 2, lba);
        put_be32(cdb + 10, blocks);
        return 16;
}

uint8_t vsc_scsi_unmap(uint8_t cdb[16], uint8_t param[VSC_SCSI_UNMAP_PARAM_LEN], uint64_t lba, uint32_t blocks) {
        cdb_clear(cdb, 0x42, 10);
        put_be16(cdb + 7, VSC_SCSI_UNMAP_PARAM_LEN);
        vsc_memset(param, 0, VSC_SCSI_UNMAP_PARAM_LEN);
        put_be16(param, VSC_SCSI_UNMAP_PARAM_LEN - 2); /* UNMAP DATA LENGTH */
        put_be16(param + 2, 16);                       /* BLOCK DESCRIPTOR DATA LENGTH */
        put_be64(param + 8, lba);
        put_be32(param + 16, blocks);
        return 10;
}

/* ---- parsers ---- */

/* ASCII field -> C string, trailing blanks trimmed, inner blanks and
 * anything unprintable as '_' (report values carry no spaces). */
static void ascii_field(char *out, const uint8_t *in, size_t n) {
        size_t end = n;
        while (end > 0 && (in[end - 1] == ' ' || in[end - 1] == 0))
                end--;
        for (size_t i = 0; i < end; i++)
                out[i] = in[i] > ' ' && in[i] < 0x7f ? (char)in[i] : '_';
        out[end] = 0;
}

int vsc_scsi_parse_inquiry(const uint8_t *d, uint32_t len, struct vsc_scsi_inquiry *out) {
        vsc_memset(out, 0, sizeof *out);
        if (len < 36)
                return -EBADMSG;
        out->qualifier = d[0] >> 5;
        out->device_type = d[0] & 0x1f;
        out->version = d[2];
        out->cmdque = (d[7] & 0x02) != 0;
        ascii_field(out->vendor, d + 8, 8);
        ascii_field(out->product, d + 16, 16);
        ascii_field(out->revision, d + 32, 4);
        return 0;
}

int vsc_scsi_parse_report_luns(const uint8_t *d, uint32_t len, uint16_t *luns, unsigned max, unsigned *n) {
        *n = 0;
        if (len < 8)
                return -EBADMSG;
        uint32_t list = get_be32(d);
        if (list % 8)
                return -EBADMSG;
        /* the device may have more than we asked for: parse what came */
        uint32_t have = (len - 8) / 8, count = list / 8 < have ? list / 8 : have;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *e = d + 8 + 8 * (size_t)i;
                uint16_t lun;
                if ((e[0] >> 6) == 0 && e[0] == 0) /* peripheral device addressing, bus 0 */
                        lun = e[1];
                else if ((e[0] >> 6) == 1) /* flat space addressing */
                        lun = (uint16_t)((e[0] & 0x3f) << 8 | e[1]);
                else
                        return -EBADMSG;
                for (unsigned k = 2; k < 8; k++)
                        if (e[k])
                                return -EBADMSG; /* second-level addressing: not a LUN of ours */
                if (lun >= VSC_SCSI_MAX_LUNS)
                        return -EBADMSG;
                for (unsigned k = 0; k < *n; k++)
                        if (luns[k] == lun)
                                return -EBADMSG;
                if (*n == max)
                        return -ENOSPC;
                luns[(*n)++] = lun;
        }
        return 0;
}

static bool block_size_ok(uint32_t bs) {
        return bs >= 512 && bs <= 65536 && (bs & (bs - 1)) == 0;
}

int vsc_scsi_parse_capacity10(const uint8_t *d, uint32_t len, struct vsc_scsi_capacity *out) {
        vsc_memset(out, 0, sizeof *out);
        if (len < 8)
                return -EBADMSG;
        out->blocks = (uint64_t)get_be32(d) + 1; /* FFFFFFFFh: "use READ CAPACITY(16)" */
        out->block_size = get_be32(d + 4);
        return block_size_ok(out->block_size) ? 0 : -EBADMSG;
}

int vsc_scsi_parse_capacity16(const uint8_t *d, uint32_t len, struct vsc_scsi_capacity *out) {
        vsc_memset(out, 0, sizeof *out);
        if (len < 32)
                return -EBADMSG;
        uint64_t last = get_be64(d);
        if (last == UINT64_MAX)
                return -EBADMSG;
        out->blocks = last + 1;
        out->block_size = get_be32(d + 8);
        out->phys_exponent = d[13] & 0x0f;
        out->lbpme = (d[14] & 0x80) != 0;
        out->lbprz = (d[14] & 0x40) != 0;
        return block_size_ok(out->block_size) ? 0 : -EBADMSG;
}

int vsc_scsi_parse_sense(const uint8_t *d, uint32_t len, struct vsc_scsi_sense *out) {
        vsc_memset(out, 0, sizeof *out);
        if (len < 1)
                return -EBADMSG;
        out->response = d[0] & 0x7f;
        if ((out->response == 0x70 || out->response == 0x71) && len >= 14) {
                out->key = d[2] & 0x0f;
                out->asc = d[12];
                out->ascq = d[13];
                return 0;
        }
        if ((out->response == 0x72 || out->response == 0x73) && len >= 4) {
                out->key = d[1] & 0x0f;
                out->asc = d[2];
                out->ascq = d[3];
                return 0;
        }
        return -EBADMSG;
}

int vsc_scsi_parse_mode6_header(const uint8_t *d, uint32_t len, bool *wp, bool *dpofua) {
        if (len < 4 || d[0] < 3) /* MODE DATA LENGTH counts the 3 bytes after it */
                return -EBADMSG;
        *wp = (d[2] & 0x80) != 0;
        *dpofua = (d[2] & 0x10) != 0;
        return 0;
}
