// SPDX-License-Identifier: MIT
/* MODE SENSE(6/10) and MODE SELECT(6/10) (SPC-4 6.11-6.14) with the pages
 * Linux sd reads (fact sheet §6.8 step 4): 08h caching (WCE; the guest
 * sends SYNCHRONIZE CACHE only when WCE = 1), 0Ah control, 3Fh all. The
 * header carries WP (read-only LUN) and DPOFUA (we honour FUA).
 * MODE SELECT may change WCE (WCE = 0 turns every write into a FUA write);
 * any other change is refused with INVALID FIELD IN PARAMETER LIST. */
#include <stdbool.h>
#include <string.h>

#include "scsi-internal.h"

#define PAGE_CACHING 0x08u
#define PAGE_CONTROL 0x0Au
#define PAGE_ALL 0x3Fu
#define CACHING_LEN 20u
#define CONTROL_LEN 12u
#define CACHING_WCE 0x04u

#define PC_CURRENT 0u
#define PC_CHANGEABLE 1u
#define PC_DEFAULT 2u
#define PC_SAVED 3u

#define DEVSPEC_WP 0x80u
#define DEVSPEC_DPOFUA 0x10u

static void page_caching(uint8_t *p, unsigned pc, bool wce) {
        memset(p, 0, CACHING_LEN);
        p[0] = PAGE_CACHING; /* PS = 0: not saveable */
        p[1] = CACHING_LEN - 2;
        /* changeable mask: WCE; default: write-back; current: the LUN's */
        if (pc == PC_CHANGEABLE || pc == PC_DEFAULT || wce)
                p[2] = CACHING_WCE;
}

static void page_control(uint8_t *p, unsigned pc) {
        memset(p, 0, CONTROL_LEN);
        p[0] = PAGE_CONTROL;
        p[1] = CONTROL_LEN - 2;
        if (pc == PC_CHANGEABLE)
                return; /* nothing changeable */
        /* TST 0, D_SENSE 0 (fixed sense); QUEUE ALGORITHM MODIFIER 1:
         * unrestricted reordering, which is what a host page cache gives */
        p[3] = 0x10;
        put_be16(p + 8, 0xffff); /* BUSY TIMEOUT PERIOD: unlimited */
}

struct mode_sense_args {
        bool ten, dbd, llbaa;
        unsigned pc, page, subpage;
        uint32_t alloc;
};

static void mode_sense_parse(const uint8_t *cdb, struct mode_sense_args *a) {
        a->ten = cdb[0] == SCSI_OP_MODE_SENSE_10;
        a->dbd = (cdb[1] & 0x08u) != 0;
        a->llbaa = a->ten && (cdb[1] & 0x10u) != 0;
        a->pc = cdb[2] >> 6;
        a->page = cdb[2] & 0x3fu;
        a->subpage = cdb[3];
        a->alloc = a->ten ? get_be16(cdb + 7) : cdb[4];
}

/* Header + block descriptor; returns the bytes written. */
static size_t mode_header(const struct scsi_lun_config *cfg, const struct mode_sense_args *a, uint8_t *b) {
        size_t hl = a->ten ? 8 : 4;
        size_t bdl = a->dbd ? 0 : a->llbaa ? 16 : 8;
        uint8_t devspec = (uint8_t)(DEVSPEC_DPOFUA | (cfg->read_only ? DEVSPEC_WP : 0u));
        if (a->ten) {
                b[3] = devspec;
                b[4] = a->llbaa && bdl ? 0x01 : 0x00; /* LONGLBA */
                put_be16(b + 6, (uint16_t)bdl);
        } else {
                b[2] = devspec;
                b[3] = (uint8_t)bdl;
        }
        uint8_t *d = b + hl;
        if (bdl == 16) {
                put_be64(d, cfg->n_blocks);
                put_be32(d + 12, cfg->block_size);
        } else if (bdl == 8) {
                /* short descriptor: saturate at FFFFFFh (SPC-4 7.5.5.2) */
                uint32_t n = cfg->n_blocks > 0xffffffu ? 0xffffffu : (uint32_t)cfg->n_blocks;
                put_be32(d, n);                   /* density code 0, 24-bit count */
                put_be32(d + 4, cfg->block_size); /* reserved 0, 24-bit length */
        }
        return hl + bdl;
}

void scsi_mode_sense(struct scsi_ctx *c) {
        struct mode_sense_args a;
        mode_sense_parse(c->cdb, &a);
        if (a.pc == PC_SAVED) {
                scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMS_NOT_SUPPORTED);
                return;
        }
        bool all = a.page == PAGE_ALL;
        if (a.page != PAGE_CACHING && a.page != PAGE_CONTROL && !all) {
                scsi_ctx_bad_cdb(c, 2, 5);
                return;
        }
        if (a.subpage != 0 && !(all && a.subpage == 0xff)) {
                scsi_ctx_bad_cdb(c, 3, -1);
                return;
        }
        uint8_t *b = scsi_ctx_buf(c, 8 + 16 + CACHING_LEN + CONTROL_LEN);
        size_t len = mode_header(&c->lun->cfg, &a, b);
        if (a.page == PAGE_CACHING || all) {
                page_caching(b + len, a.pc, scsi_lun_write_cache_enabled(c->lun));
                len += CACHING_LEN;
        }
        if (a.page == PAGE_CONTROL || all) {
                page_control(b + len, a.pc);
                len += CONTROL_LEN;
        }
        /* MODE DATA LENGTH excludes itself */
        if (a.ten)
                put_be16(b, (uint16_t)(len - 2));
        else
                b[0] = (uint8_t)(len - 1);
        scsi_ctx_data(c, len, a.alloc);
}

/* ---- MODE SELECT ---- */

/* Checks the block descriptor(s) of a MODE SELECT list: only our own
 * geometry is accepted (no reformatting). Returns false after completing c. */
static bool select_block_descs(struct scsi_ctx *c, const uint8_t *p, size_t off, size_t bdl, bool longlba) {
        const struct scsi_lun_config *cfg = &c->lun->cfg;
        size_t dl = longlba ? 16 : 8;
        if (bdl % dl) {
                scsi_ctx_bad_param(c, (uint16_t)(longlba ? 6 : 3), -1);
                return false;
        }
        for (size_t i = off; i < off + bdl; i += dl) {
                uint64_t n = longlba ? get_be64(p + i) : get_be24(p + i + 1);
                uint32_t bs = longlba ? get_be32(p + i + 12) : get_be24(p + i + 5);
                if (bs != cfg->block_size) {
                        scsi_ctx_bad_param(c, (uint16_t)(i + (longlba ? 12 : 5)), -1);
                        return false;
                }
                uint64_t want = longlba || cfg->n_blocks <= 0xffffffu ? cfg->n_blocks : 0xffffffu;
                if (n != 0 && n != want) {
                        scsi_ctx_bad_param(c, (uint16_t)i, -1);
                        return false;
                }
        }
        return true;
}

/* Compares a page against our current values; only WCE may differ.
 * Returns the index of the first refused byte, or 0 if acceptable. */
static size_t select_page_diff(const uint8_t *p, size_t len, uint8_t code, bool wce) {
        uint8_t cur[CACHING_LEN];
        size_t want = code == PAGE_CACHING ? CACHING_LEN : CONTROL_LEN;
        if (len != want)
                return 1;
        if (code == PAGE_CACHING)
                page_caching(cur, PC_CURRENT, wce);
        else
                page_control(cur, PC_CURRENT);
        for (size_t i = 2; i < len; i++) {
                uint8_t mask = code == PAGE_CACHING && i == 2 ? (uint8_t)~CACHING_WCE : 0xffu;
                if ((p[i] ^ cur[i]) & mask)
                        return i;
        }
        return 0;
}

/* Walks the pages; returns false after completing c on a refused page. */
static bool select_pages(struct scsi_ctx *c, const uint8_t *p, size_t off, size_t end, int *new_wce) {
        bool wce = scsi_lun_write_cache_enabled(c->lun);
        while (off < end) {
                if (end - off < 2) {
                        scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
                        return false;
                }
                uint8_t code = p[off] & 0x3fu;
                size_t len = (size_t)p[off + 1] + 2;
                if ((p[off] & 0x40u) || (code != PAGE_CACHING && code != PAGE_CONTROL)) {
                        scsi_ctx_bad_param(c, (uint16_t)off, -1); /* subpage format or unknown page */
                        return false;
                }
                if (len > end - off) {
                        scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
                        return false;
                }
                size_t bad = select_page_diff(p + off, len, code, wce);
                if (bad) {
                        scsi_ctx_bad_param(c, (uint16_t)(off + bad), -1);
                        return false;
                }
                if (code == PAGE_CACHING)
                        *new_wce = (p[off + 2] & CACHING_WCE) ? 1 : 0;
                off += len;
        }
        return true;
}

void scsi_mode_select(struct scsi_ctx *c) {
        bool ten = c->cdb[0] == SCSI_OP_MODE_SELECT_10;
        uint32_t plen = ten ? get_be16(c->cdb + 7) : c->cdb[4];
        if (c->cdb[1] & 0x01u) { /* SP: nothing is saveable */
                scsi_ctx_bad_cdb(c, 1, 0);
                return;
        }
        if (plen == 0) {
                scsi_ctx_good(c);
                return;
        }
        if (plen > SCSI_PARAM_MAX) {
                scsi_ctx_bad_cdb(c, 7, -1);
                return;
        }
        if (!scsi_ctx_param(c, plen))
                return;
        const uint8_t *p = c->cmd->param;
        size_t hl = ten ? 8 : 4;
        if (plen < hl) {
                scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
                return;
        }
        size_t bdl = ten ? get_be16(p + 6) : p[3];
        bool longlba = ten && (p[4] & 0x01u);
        if (p[1] != 0) { /* medium type */
                scsi_ctx_bad_param(c, 1, -1);
                return;
        }
        if (bdl > plen - hl) {
                scsi_ctx_sense(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
                return;
        }
        if (!select_block_descs(c, p, hl, bdl, longlba))
                return;
        if (hl + bdl < plen && !(c->cdb[1] & 0x10u)) { /* pages need PF = 1 */
                scsi_ctx_bad_cdb(c, 1, 4);
                return;
        }
        int new_wce = -1;
        if (!select_pages(c, p, hl + bdl, plen, &new_wce))
                return;
        /* Applied only once the whole list was accepted (SPC-4 6.13). */
        if (new_wce >= 0)
                __atomic_store_n(&c->lun->wce, (uint8_t)new_wce, __ATOMIC_RELAXED);
        scsi_ctx_good(c);
}
