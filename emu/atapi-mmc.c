// SPDX-License-Identifier: MIT
/* The DVD drive's disc-structure and capability commands (MMC-6): READ
 * TOC/PMA/ATIP (formats 0 and 1, LBA and MSF), GET CONFIGURATION, GET
 * EVENT STATUS NOTIFICATION (media class, polled), MODE SENSE(10) (pages
 * 01h and 2Ah), READ DISC INFORMATION, MECHANISM STATUS. The disc is one
 * closed session with one data track starting at block 0. */
#include <string.h>

#include "atapi-internal.h"
#include "common/macro.h"
#include "scsi/scsi.h"

#define LEADOUT 0xaau
#define CONTROL_DATA 0x14u /* ADR 1 (position), control 4 (data track, no copy) */

/* An address in a TOC descriptor: an LBA, or MSF where block 0 is 00:02:00. */
static void put_addr(uint8_t *p, uint32_t lba, bool msf) {
        if (!msf)
                return atapi_put32(p, lba);
        uint64_t f = (uint64_t)lba + 150u;
        p[0] = 0;
        p[1] = (uint8_t)MIN(f / (60u * 75u), 255u);
        p[2] = (uint8_t)(f / 75u % 60u);
        p[3] = (uint8_t)(f % 75u);
}

static uint8_t *put_track(uint8_t *p, uint8_t track, uint32_t lba, bool msf) {
        p[1] = CONTROL_DATA;
        p[2] = track;
        put_addr(p + 4, lba, msf);
        return p + 8;
}

/* READ TOC/PMA/ATIP (MMC-6 6.32). The format is in byte 2; drives of the
 * SFF-8020 era took it from bits 7-6 of byte 9, which Linux's sr still
 * sends for the multi-session query: honoured when byte 2 says 0. */
void atapi_read_toc(struct atapi_ctx *c) {
        const uint8_t *cdb = c->cdb;
        bool msf = cdb[1] & 0x02u;
        uint8_t format = cdb[2] & 0x0fu, track = cdb[6];
        uint32_t alloc = atapi_be16(cdb + 7);
        if (format == 0)
                format = cdb[9] >> 6;
        if (!atapi_need_medium(c))
                return;
        uint8_t *d = c->reply, *p = d + 4;
        d[2] = d[3] = 1; /* first and last track, or session */
        if (format == 0) {
                if (track > 1 && track != LEADOUT)
                        return atapi_bad_field(c);
                if (track <= 1)
                        p = put_track(p, 1, 0, msf);
                p = put_track(p, LEADOUT, c->s->n_blocks, msf);
        } else if (format == 1) {
                p = put_track(p, 1, 0, msf); /* the first track of the last session */
        } else {
                return atapi_bad_field(c);
        }
        uint32_t len = (uint32_t)(p - d);
        atapi_put16(d, len - 2);
        atapi_data(c, len, alloc);
}

/* ---- GET CONFIGURATION (MMC-6 6.6) ---- */

#define PROFILE_CD_ROM 0x0008u
#define PROFILE_DVD_ROM 0x0010u

static uint16_t current_profile(const struct atapi_state *s) {
        if (!atapi_medium_present(s))
                return 0;
        return s->n_blocks > ATAPI_CD_MAX_BLOCKS ? PROFILE_DVD_ROM : PROFILE_CD_ROM;
}

/* One feature descriptor: code, version/persistent/current, its data. */
static uint32_t put_feature(uint8_t *p, uint16_t code, uint8_t flags, const uint8_t *data, uint8_t len) {
        atapi_put16(p, code);
        p[2] = flags;
        p[3] = len;
        memcpy(p + 4, data, len);
        return 4u + len;
}

static uint32_t feature(uint16_t code, const struct atapi_state *s, uint8_t *p, bool *current) {
        uint16_t prof = current_profile(s);
        bool medium = prof != 0;
        switch (code) {
        case 0x0000: { /* Profile List: DVD-ROM, CD-ROM */
                uint8_t d[8] = { 0, PROFILE_DVD_ROM, prof == PROFILE_DVD_ROM, 0,
                                 0, PROFILE_CD_ROM,  prof == PROFILE_CD_ROM,  0 };
                *current = true;
                return put_feature(p, code, 0x03, d, sizeof d);
        }
        case 0x0001: { /* Core: ATAPI, version 1 */
                uint8_t d[8] = { 0, 0, 0, 2, 0x01, 0, 0, 0 };
                *current = true;
                return put_feature(p, code, 0x07, d, sizeof d);
        }
        case 0x0003: { /* Removable Medium: tray, eject, lock (and its state) */
                uint8_t d[4] = { (uint8_t)(0x29u | (s->locked ? 0x04u : 0)), 0, 0, 0 };
                *current = true;
                return put_feature(p, code, 0x03, d, sizeof d);
        }
        case 0x0010: { /* Random Readable: 2048-byte blocks, blocking 1 */
                uint8_t d[8] = { 0, 0, ATAPI_BLOCK_SIZE >> 8, 0, 0, 1, 0, 0 };
                *current = medium;
                return put_feature(p, code, (uint8_t)(medium ? 0x01u : 0), d, sizeof d);
        }
        case 0x001f: { /* DVD Read */
                uint8_t d[4] = { 0 };
                *current = prof == PROFILE_DVD_ROM;
                return put_feature(p, code, (uint8_t)(*current ? 0x05u : 0x04u), d, sizeof d);
        }
        default:
                return 0;
        }
}

void atapi_get_configuration(struct atapi_ctx *c) {
        static const uint16_t codes[] = { 0x0000, 0x0001, 0x0003, 0x0010, 0x001f };
        uint8_t rt = c->cdb[1] & 0x03u;
        uint16_t start = atapi_be16(c->cdb + 2);
        uint32_t alloc = atapi_be16(c->cdb + 7);
        if (rt == 3)
                return atapi_bad_field(c);
        uint8_t *d = c->reply;
        uint32_t len = 8;
        for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
                uint8_t tmp[16];
                bool current = false;
                if (rt == 2 ? codes[i] != start : codes[i] < start)
                        continue;
                uint32_t n = feature(codes[i], c->s, tmp, &current);
                if (rt == 1 && !current)
                        continue;
                memcpy(d + len, tmp, n);
                len += n;
        }
        atapi_put32(d, len - 4);
        atapi_put16(d + 6, current_profile(c->s));
        atapi_data(c, len, alloc);
}

/* ---- GET EVENT STATUS NOTIFICATION (MMC-6 6.7), polled only ---- */

#define CLASS_MEDIA 4u

void atapi_get_event_status(struct atapi_ctx *c) {
        struct atapi_state *s = c->s;
        uint8_t classes = c->cdb[4];
        uint32_t alloc = atapi_be16(c->cdb + 7);
        if (!(c->cdb[1] & 0x01u)) /* asynchronous notification: not supported */
                return atapi_bad_field(c);
        uint8_t *d = c->reply;
        d[3] = 1u << CLASS_MEDIA; /* supported classes */
        if (!(classes & (1u << CLASS_MEDIA))) {
                d[2] = 0x80; /* NEA: none of the requested classes */
                atapi_put16(d, 2);
                return atapi_data(c, 4, alloc);
        }
        d[2] = CLASS_MEDIA;
        atapi_put16(d, 6);
        d[4] = s->event;
        d[5] = (uint8_t)((s->tray_open ? 0x01u : 0) | (atapi_medium_present(s) ? 0x02u : 0));
        s->event = ATAPI_EVENT_NONE; /* reported */
        atapi_data(c, 8, alloc);
}

/* ---- MODE SENSE(10) (SPC-3 6.10, MMC-6 7) ---- */

static uint32_t page_recovery(uint8_t *p, bool changeable) {
        p[0] = 0x01;
        p[1] = 0x0a;
        if (!changeable)
                p[3] = 5; /* read retry count */
        return 12;
}

/* The capabilities page (MMC-3 5.5.10, as Linux's sr reads it). */
static uint32_t page_capabilities(uint8_t *p, const struct atapi_state *s, bool changeable) {
        p[0] = 0x2a;
        p[1] = 0x12;
        if (changeable)
                return 20;
        p[2] = 0x08; /* reads DVD-ROM (and CD-ROM, implied) */
        p[4] = 0x70; /* mode 2 form 1 and 2, multi-session */
        p[6] = (uint8_t)(0x29u | (s->locked ? 0x02u : 0)); /* tray, eject, lock, lock state */
        atapi_put16(p + 8, 2822);  /* maximum read speed, kB/s (obsolete; what drives report) */
        atapi_put16(p + 14, 2822); /* current read speed */
        return 20;
}

void atapi_mode_sense(struct atapi_ctx *c) {
        uint8_t pc = c->cdb[2] >> 6, page = c->cdb[2] & 0x3fu;
        uint32_t alloc = atapi_be16(c->cdb + 7);
        if (pc == 3)
                return atapi_fail(c, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMS_NOT_SUPPORTED);
        if (c->cdb[3] != 0 || (page != 0x01 && page != 0x2a && page != 0x3f))
                return atapi_bad_field(c);
        bool changeable = pc == 1;
        uint8_t *d = c->reply;
        uint32_t len = 8; /* header, no block descriptors */
        if (page == 0x01 || page == 0x3f)
                len += page_recovery(d + len, changeable);
        if (page == 0x2a || page == 0x3f)
                len += page_capabilities(d + len, c->s, changeable);
        atapi_put16(d, len - 2);
        atapi_data(c, len, alloc);
}

/* READ DISC INFORMATION (MMC-6 6.22), standard data: a finalized disc. */
void atapi_read_disc_info(struct atapi_ctx *c) {
        uint32_t alloc = atapi_be16(c->cdb + 7);
        if ((c->cdb[1] & 0x07u) != 0)
                return atapi_bad_field(c);
        if (!atapi_need_medium(c))
                return;
        uint8_t *d = c->reply;
        atapi_put16(d, 32);
        d[2] = 0x0e; /* last session complete, disc finalized */
        d[3] = 1;    /* first track */
        d[4] = 1;    /* sessions */
        d[5] = 1;    /* first and last track of the last session */
        d[6] = 1;
        d[7] = 0x20; /* unrestricted use */
        memset(d + 16, 0xff, 8); /* no lead-in/lead-out positions (finalized) */
        atapi_data(c, 34, alloc);
}

/* MECHANISM STATUS (MMC-6 6.11): no changer, the tray's state. */
void atapi_mechanism_status(struct atapi_ctx *c) {
        uint32_t alloc = atapi_be16(c->cdb + 8);
        c->reply[1] = (uint8_t)(c->s->tray_open ? 0x10u : 0);
        atapi_data(c, 8, alloc);
}
