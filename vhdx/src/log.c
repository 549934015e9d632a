// SPDX-License-Identifier: MIT
/* The VHDX log (§2.3): metadata changes are written as a log entry and
 * made durable before they are written in place, so a crash between the
 * two is repaired by replaying the log on the next open.
 *
 * Writing: each entry describes whole 4 KiB sectors (the BAT and sector
 * bitmap sectors a commit changed); one entry per round of vhdx_commit,
 * written at the log's head with per-sector wrap-around, its Tail pointing
 * at itself because every earlier entry was applied and flushed already.
 * Sequence numbers increase by one per entry for the whole session, and a
 * session has its own LogGuid (set in the header at its first entry), so
 * entries of earlier sessions never count.
 *
 * Replaying: every valid entry (signature, length, LogGuid, descriptors,
 * data sector sequence numbers, CRC-32C) is a possible start; a sequence
 * is a run of entries, each following the previous one in the log with the
 * next sequence number. The active sequence is the one with the highest
 * last sequence number (the longest such run on a tie); it is applied in
 * order. Replaying older entries of a run before newer ones is harmless:
 * each writes whole sectors, the newest last. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "vhdx-internal.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)
#define VHDX_LOG_MAX (32u << 20) /* a longer log is refused (Hyper-V and qemu write 1 MiB) */

struct log_entry {
        bool valid;
        uint64_t seq;
        uint32_t sectors;
        uint64_t last_file_offset, flushed_file_offset;
};

struct log_view {
        const uint8_t *buf; /* the whole log */
        uint32_t n;         /* sectors */
};

static const uint8_t *log_sector(const struct log_view *l, uint64_t s) {
        return l->buf + (size_t)(s % l->n) * VHDX_LOG_SECTOR;
}

static uint32_t desc_sectors(uint32_t count) {
        return (count + 2 + 127) / 128; /* the 64-byte header takes two descriptor slots */
}

static const uint8_t *descriptor(const struct log_view *l, uint64_t start, uint32_t i) {
        uint64_t slot = (uint64_t)i + 2;
        return log_sector(l, start + slot / 128) + (slot % 128) * VHDX_LOG_DESC;
}

static uint32_t entry_checksum(const struct log_view *l, uint64_t start, uint32_t sectors) {
        uint32_t c = vmstate_crc32c(0, log_sector(l, start), 4);
        static const uint8_t zero[4];
        c = vmstate_crc32c(c, zero, 4);
        c = vmstate_crc32c(c, log_sector(l, start) + 8, VHDX_LOG_SECTOR - 8);
        for (uint32_t i = 1; i < sectors; i++)
                c = vmstate_crc32c(c, log_sector(l, start + i), VHDX_LOG_SECTOR);
        return c;
}

/* §2.3.1: one entry at sector `start`, checked in full. */
static void parse_entry(const struct vhdx *v, const struct log_view *l, uint64_t start, struct log_entry *e) {
        const uint8_t *h = log_sector(l, start);
        memset(e, 0, sizeof *e);
        uint32_t len = le32(h + 8), count = le32(h + 24);
        struct guid g;
        memcpy(g.b, h + 32, 16);
        if (le32(h) != VHDX_LOG_ENTRY_SIGNATURE || len == 0 || len % VHDX_LOG_SECTOR ||
            len / VHDX_LOG_SECTOR > l->n || le64(h + 16) == 0 || !guid_equal(&g, &v->hdr.log_guid))
                return;
        uint32_t sectors = len / VHDX_LOG_SECTOR, ds = desc_sectors(count);
        if (count > (uint32_t)l->n * 128 || ds > sectors)
                return;
        uint64_t seq = le64(h + 16), data = 0;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *d = descriptor(l, start, i);
                uint32_t sig = le32(d);
                if (le64(d + 24) != seq || le64(d + 16) % VHDX_LOG_SECTOR)
                        return;
                if (sig == VHDX_LOG_DESC_SIGNATURE) {
                        const uint8_t *s = log_sector(l, start + ds + data++);
                        if (ds + data > sectors || le32(s) != VHDX_LOG_DATA_SIGNATURE ||
                            (((uint64_t)le32(s + 4) << 32) | le32(s + 4092)) != seq)
                                return;
                } else if (sig != VHDX_LOG_ZERO_SIGNATURE || le64(d + 8) % VHDX_LOG_SECTOR) {
                        return;
                }
        }
        if (ds + data != sectors || le32(h + 4) != entry_checksum(l, start, sectors))
                return;
        e->valid = true;
        e->seq = seq;
        e->sectors = sectors;
        e->flushed_file_offset = le64(h + 48);
        e->last_file_offset = le64(h + 56);
}

/* Sequences: len[s] = entries in the run starting at s, last[s] = the
 * sequence number of its last entry. Runs only go to higher sequence
 * numbers, so following them terminates. */
static int find_active(const struct log_entry *e, uint32_t n, uint32_t *start, uint32_t *count) {
        _cleanup_free_ uint32_t *len = calloc(n, sizeof *len);
        _cleanup_free_ uint64_t *last = calloc(n, sizeof *last);
        _cleanup_free_ uint32_t *stack = calloc(n, sizeof *stack);
        if (!len || !last || !stack)
                return -ENOMEM;
        bool found = false;
        for (uint32_t s = 0; s < n; s++) {
                if (!e[s].valid)
                        continue;
                uint32_t depth = 0, at = s;
                while (e[at].valid && len[at] == 0 && depth < n) {
                        stack[depth++] = at;
                        uint32_t next = (uint32_t)((at + e[at].sectors) % n);
                        if (!e[next].valid || e[next].seq != e[at].seq + 1)
                                break;
                        at = next;
                }
                while (depth--) {
                        uint32_t x = stack[depth], next = (uint32_t)((x + e[x].sectors) % n);
                        bool follows = e[next].valid && e[next].seq == e[x].seq + 1 && len[next];
                        len[x] = follows ? len[next] + 1 : 1;
                        last[x] = follows ? last[next] : e[x].seq;
                }
                if (!found || last[s] > last[*start] || (last[s] == last[*start] && len[s] > len[*start])) {
                        *start = s;
                        found = true;
                }
        }
        *count = found ? len[*start] : 0;
        return 0;
}

static int apply_entry(struct vhdx *v, const struct log_view *l, uint64_t start, const struct log_entry *e,
                       char *err, size_t errlen) {
        struct stat st;
        if (fstat(v->fd, &st) < 0)
                return -errno;
        if (e->flushed_file_offset > (uint64_t)st.st_size)
                return ERR("the log says the file was %llu bytes, it is %llu: it was truncated",
                           (unsigned long long)e->flushed_file_offset, (unsigned long long)st.st_size);
        const uint8_t *h = log_sector(l, start);
        uint32_t count = le32(h + 24), ds = desc_sectors(count), data = 0;
        _cleanup_free_ uint8_t *sec = vhdx_buf(VHDX_LOG_SECTOR);
        if (!sec)
                return -ENOMEM;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *d = descriptor(l, start, i);
                uint64_t off = le64(d + 16);
                bool is_data = le32(d) == VHDX_LOG_DESC_SIGNATURE;
                uint64_t len = is_data ? VHDX_LOG_SECTOR : le64(d + 8);
                /* The log never writes the first megabyte (headers) or itself. */
                if (off < MiB || off > VHDX_MAX_VIRTUAL_SIZE * 2 || len > VHDX_MAX_BLOCK_SIZE ||
                    (off < v->hdr.log_offset + v->hdr.log_length && v->hdr.log_offset < off + len))
                        return ERR("a log entry writes at %llu, outside what a log may change",
                                   (unsigned long long)off);
                int r;
                if (is_data) {
                        const uint8_t *s = log_sector(l, start + ds + data++);
                        memcpy(sec, d + 8, 8);             /* LeadingBytes */
                        memcpy(sec + 8, s + 8, 4084);      /* the sector's data */
                        memcpy(sec + 4092, d + 4, 4);      /* TrailingBytes */
                        r = vhdx_pwrite_all(v->fd, sec, VHDX_LOG_SECTOR, off);
                } else {
                        memset(sec, 0, VHDX_LOG_SECTOR);
                        r = 0;
                        for (uint64_t k = 0; k < len && r == 0; k += VHDX_LOG_SECTOR)
                                r = vhdx_pwrite_all(v->fd, sec, VHDX_LOG_SECTOR, off + k);
                }
                if (r < 0)
                        return r;
        }
        if (e->last_file_offset > (uint64_t)st.st_size && e->last_file_offset <= VHDX_MAX_VIRTUAL_SIZE * 2 &&
            ftruncate(v->fd, (off_t)ALIGN_UP(e->last_file_offset, MiB)) < 0)
                return -errno;
        return 0;
}

static int replay_sequence(struct vhdx *v, const struct log_view *l, const struct log_entry *e, uint32_t start,
                           uint32_t count, char *err, size_t errlen) {
        uint64_t at = start;
        for (uint32_t i = 0; i < count; i++) {
                int r = apply_entry(v, l, at, &e[at % l->n], err, errlen);
                if (r < 0)
                        return r;
                at = (at + e[at % l->n].sectors) % l->n;
        }
        if (fdatasync(v->fd) < 0)
                return -errno;
        struct vhdx_header h = v->hdr;
        memset(&h.log_guid, 0, sizeof h.log_guid); /* the log is empty now */
        int r = vhdx_write_header(v, &h);
        if (r < 0)
                return r;
        v->replayed = true;
        return 0;
}

int vhdx_log_replay(struct vhdx *v, bool apply, char *err, size_t errlen) {
        if (guid_is_null(&v->hdr.log_guid) || v->hdr.log_length == 0)
                return 0;
        if (v->hdr.log_length > VHDX_LOG_MAX)
                return snprintf(err, errlen, "the log is %u bytes (we replay up to %u)", v->hdr.log_length,
                                VHDX_LOG_MAX), -ENOTSUP;
        struct log_view l = { .n = v->hdr.log_length / VHDX_LOG_SECTOR };
        _cleanup_free_ uint8_t *buf = vhdx_buf(v->hdr.log_length);
        _cleanup_free_ struct log_entry *e = calloc(l.n, sizeof *e);
        if (!buf || !e)
                return -ENOMEM;
        int r = vhdx_pread_all(v->fd, buf, v->hdr.log_length, v->hdr.log_offset);
        if (r < 0)
                return r;
        l.buf = buf;
        for (uint32_t s = 0; s < l.n; s++)
                parse_entry(v, &l, s, &e[s]);
        uint32_t start = 0, count = 0;
        if ((r = find_active(e, l.n, &start, &count)) < 0)
                return r;
        if (count == 0)
                return 0; /* a LogGuid, but nothing valid under it: nothing to replay */
        if (!apply) {
                v->needs_replay = true;
                return 0;
        }
        return replay_sequence(v, &l, e, start, count, err, errlen);
}

/* ---- writing ---- */

static int log_begin(struct vhdx *v) {
        if (v->log_active)
                return 0;
        /* Header writes are serialized by the map lock (data_guid_locked). */
        pthread_mutex_lock(&v->lock);
        struct vhdx_header h = v->hdr;
        int r = guid_generate(&h.log_guid);
        if (r == 0)
                r = vhdx_write_header(v, &h);
        pthread_mutex_unlock(&v->lock);
        if (r < 0)
                return r;
        v->log_active = true;
        v->log_head = 0;
        v->log_sequence = 1;
        return 0;
}

/* One entry of n <= VHDX_LOG_DESC_PER_SECTOR data descriptors. */
int vhdx_log_write(struct vhdx *v, const struct vhdx_log_write *w, size_t n) {
        uint32_t nsec = v->hdr.log_length / VHDX_LOG_SECTOR;
        if (n == 0 || n > VHDX_LOG_DESC_PER_SECTOR || n + 1 > nsec)
                return -EINVAL;
        int r = log_begin(v);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(v->fd, &st) < 0)
                return -errno;
        size_t len = (n + 1) * VHDX_LOG_SECTOR;
        _cleanup_free_ uint8_t *buf = vhdx_buf(len);
        if (!buf)
                return -ENOMEM;
        uint64_t seq = v->log_sequence;
        vmstate_put_le32(buf, VHDX_LOG_ENTRY_SIGNATURE);
        vmstate_put_le32(buf + 8, (uint32_t)len);
        vmstate_put_le32(buf + 12, (uint32_t)(v->log_head * VHDX_LOG_SECTOR)); /* Tail: this entry */
        vmstate_put_le64(buf + 16, seq);
        vmstate_put_le32(buf + 24, (uint32_t)n);
        memcpy(buf + 32, v->hdr.log_guid.b, 16);
        vmstate_put_le64(buf + 48, (uint64_t)st.st_size);
        vmstate_put_le64(buf + 56, MAX(v->eof, (uint64_t)st.st_size));
        for (size_t i = 0; i < n; i++) {
                uint8_t *d = buf + VHDX_LOG_ENTRY_HEADER + i * VHDX_LOG_DESC;
                uint8_t *s = buf + (i + 1) * VHDX_LOG_SECTOR;
                vmstate_put_le32(d, VHDX_LOG_DESC_SIGNATURE);
                memcpy(d + 4, w[i].data + 4092, 4); /* TrailingBytes */
                memcpy(d + 8, w[i].data, 8);        /* LeadingBytes */
                vmstate_put_le64(d + 16, w[i].file_off);
                vmstate_put_le64(d + 24, seq);
                vmstate_put_le32(s, VHDX_LOG_DATA_SIGNATURE);
                vmstate_put_le32(s + 4, (uint32_t)(seq >> 32));
                memcpy(s + 8, w[i].data + 8, 4084);
                vmstate_put_le32(s + 4092, (uint32_t)seq);
        }
        struct log_view l = { .buf = buf, .n = (uint32_t)(n + 1) };
        vmstate_put_le32(buf + 4, entry_checksum(&l, 0, (uint32_t)(n + 1)));
        for (size_t i = 0; i <= n; i++) {
                uint64_t at = v->hdr.log_offset + ((v->log_head + i) % nsec) * VHDX_LOG_SECTOR;
                if ((r = vhdx_pwrite_all(v->fd, buf + i * VHDX_LOG_SECTOR, VHDX_LOG_SECTOR, at)) < 0)
                        return r;
        }
        if (fdatasync(v->fd) < 0)
                return -errno;
        v->log_head = (v->log_head + n + 1) % nsec;
        v->log_sequence++;
        return 0;
}
