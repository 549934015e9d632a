// SPDX-License-Identifier: MIT
/* Opening a VHDX image: file identifier, the current of the two headers,
 * the log (replayed before anything else is read, §2.3.3), region table,
 * metadata, BAT; closing it cleanly; the header update protocol (§2.2.2:
 * the older copy is rewritten with the next sequence number). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "vhdx-internal.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)
#define VHDX_METADATA_MAX (16u << 20) /* a larger metadata region is refused */
#define VHDX_BAT_MAX (1ull << 30)     /* BAT bytes we hold in memory (64 TiB at 1 MiB blocks: 512 MiB) */

void *vhdx_buf(size_t len) {
        void *p = NULL;
        size_t n = ALIGN_UP(len ? len : 1, (size_t)4096);
        if (posix_memalign(&p, 4096, n) != 0)
                return NULL;
        return memset(p, 0, n);
}

int vhdx_pread_all(int fd, void *buf, size_t len, uint64_t off) {
        uint8_t *p = buf;
        while (len) {
                ssize_t n = pread(fd, p, len, (off_t)off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0) /* past the end of the file: zeros, as a sparse tail */
                        return memset(p, 0, len), 0;
                p += n, len -= (size_t)n, off += (uint64_t)n;
        }
        return 0;
}

int vhdx_pwrite_all(int fd, const void *buf, size_t len, uint64_t off) {
        const uint8_t *p = buf;
        while (len) {
                ssize_t n = pwrite(fd, p, len, (off_t)off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n, len -= (size_t)n, off += (uint64_t)n;
        }
        return 0;
}

/* The header update protocol: the non-current copy gets the next sequence
 * number and becomes current once durable. */
int vhdx_write_header(struct vhdx *v, const struct vhdx_header *h) {
        _cleanup_free_ uint8_t *buf = vhdx_buf(VHDX_HEADER_SIZE);
        if (!buf)
                return -ENOMEM;
        struct vhdx_header n = *h;
        n.sequence = v->hdr.sequence + 1;
        vhdx_build_header(buf, &n);
        unsigned slot = v->hdr_slot ^ 1u;
        int r = vhdx_pwrite_all(v->fd, buf, VHDX_HEADER_SIZE, slot ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
        if (r < 0)
                return r;
        if (fdatasync(v->fd) < 0)
                return -errno;
        v->hdr = n;
        v->hdr_slot = slot;
        return 0;
}

static int read_headers(struct vhdx *v, char *err, size_t errlen) {
        _cleanup_free_ uint8_t *buf = vhdx_buf(VHDX_HEADER_SIZE);
        if (!buf)
                return -ENOMEM;
        int r = vhdx_pread_all(v->fd, buf, VHDX_HEADER_SIZE, VHDX_FILE_ID_OFF);
        if (r < 0)
                return r;
        if (memcmp(buf, "vhdxfile", 8) != 0)
                return ERR("not a VHDX image (no \"vhdxfile\" signature)");
        struct vhdx_header h[2];
        bool ok[2];
        for (unsigned i = 0; i < 2; i++) {
                if ((r = vhdx_pread_all(v->fd, buf, VHDX_HEADER_SIZE, i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF)) < 0)
                        return r;
                ok[i] = vhdx_parse_header(buf, &h[i]) == 0;
        }
        if (!ok[0] && !ok[1])
                return ERR("neither header is valid (bad signature or checksum)");
        v->hdr_slot = ok[0] && ok[1] ? (h[1].sequence > h[0].sequence) : ok[1];
        v->hdr = h[v->hdr_slot];
        if (v->hdr.version != 1)
                return snprintf(err, errlen, "VHDX version %u (we read version 1)", v->hdr.version), -ENOTSUP;
        if (v->hdr.log_version != 0)
                return snprintf(err, errlen, "log version %u (we read version 0)", v->hdr.log_version), -ENOTSUP;
        if (v->hdr.log_offset % MiB || v->hdr.log_offset < MiB || v->hdr.log_length % MiB ||
            v->hdr.log_offset > UINT64_MAX - v->hdr.log_length)
                return ERR("the log (offset %llu, length %u) is not 1 MiB aligned past the first MiB",
                           (unsigned long long)v->hdr.log_offset, v->hdr.log_length);
        return 0;
}

static int read_regions(struct vhdx *v, char *err, size_t errlen) {
        _cleanup_free_ uint8_t *buf = vhdx_buf(VHDX_REGION_SIZE);
        if (!buf)
                return -ENOMEM;
        int r = -EINVAL;
        for (unsigned i = 0; i < 2; i++) {
                int k = vhdx_pread_all(v->fd, buf, VHDX_REGION_SIZE, i ? VHDX_REGION2_OFF : VHDX_REGION1_OFF);
                if (k < 0)
                        return k;
                r = vhdx_parse_regions(buf, &v->bat_region, &v->meta_region, err, errlen);
                if (r == 0 || r == -ENOTSUP)
                        return r;
        }
        return r;
}

static int read_metadata(struct vhdx *v, char *err, size_t errlen) {
        if (v->meta_region.length > VHDX_METADATA_MAX)
                return ERR("the metadata region is %u bytes (at most %u)", v->meta_region.length, VHDX_METADATA_MAX);
        _cleanup_free_ uint8_t *buf = vhdx_buf(v->meta_region.length);
        if (!buf)
                return -ENOMEM;
        int r = vhdx_pread_all(v->fd, buf, v->meta_region.length, v->meta_region.offset);
        if (r < 0)
                return r;
        return vhdx_parse_metadata(buf, v->meta_region.length, &v->meta, err, errlen);
}

/* §2.5: chunk ratio and the number of BAT entries. */
int vhdx_geometry(struct vhdx *v, char *err, size_t errlen) {
        const struct vhdx_meta *m = &v->meta;
        v->chunk_ratio = ((1ull << 23) * m->logical_sector) / m->block_size;
        v->n_payload = (m->virtual_size + m->block_size - 1) / m->block_size;
        v->n_sb = (v->n_payload + v->chunk_ratio - 1) / v->chunk_ratio;
        v->n_bat = m->has_parent ? v->n_sb * (v->chunk_ratio + 1) : v->n_payload + (v->n_payload - 1) / v->chunk_ratio;
        if (v->n_bat * 8 > v->bat_region.length)
                return ERR("the BAT region (%u bytes) is too small for %llu entries", v->bat_region.length,
                           (unsigned long long)v->n_bat);
        if (v->n_bat * 8 > VHDX_BAT_MAX)
                return snprintf(err, errlen, "the BAT is larger than we hold in memory"), -ENOTSUP;
        v->n_bat_sectors = (v->n_bat * 8 + 4095) / 4096;
        return 0;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
        return a < b + blen && b < a + alen;
}

/* A block's file range must not cover a structure of the file: a guest
 * write there would rewrite the image's own metadata. */
static bool range_clear(const struct vhdx *v, uint64_t off, uint64_t len) {
        return off >= MiB && off <= UINT64_MAX - len &&
               !overlaps(off, len, v->hdr.log_offset, v->hdr.log_length) &&
               !overlaps(off, len, v->bat_region.offset, v->bat_region.length) &&
               !overlaps(off, len, v->meta_region.offset, v->meta_region.length);
}

static uint64_t structures_end(const struct vhdx *v) {
        uint64_t e = MAX(v->hdr.log_offset + v->hdr.log_length, v->bat_region.offset + v->bat_region.length);
        return MAX(e, v->meta_region.offset + v->meta_region.length);
}

/* No two present blocks share space: a guest's write to one would change
 * the other. BAT offsets are MiB-granular: a bit per MiB of the file where
 * that map is no larger than the BAT itself; else (a sparse file may claim
 * petabytes) the blocks sorted by offset, each against the next: the
 * memory follows the BAT, never the file's size. */
static int check_overlaps(struct vhdx *v, uint64_t file_size, char *err, size_t errlen) {
        uint64_t map_bytes = file_size / MiB / 8 + 1;
        if (map_bytes <= MAX(v->n_bat * 8, 4096)) {
                _cleanup_free_ uint8_t *used = calloc(map_bytes, 1);
                if (!used)
                        return -ENOMEM;
                for (uint64_t i = 0; i < v->n_bat; i++) {
                        if (!vhdx_bat_present(v, i))
                                continue;
                        uint64_t off = VHDX_BAT_OFFSET(v->bat[i]), len = vhdx_bat_len(v, i);
                        for (uint64_t mb = off / MiB; mb < (off + len) / MiB; mb++) {
                                if (used[mb / 8] & (1u << (mb % 8)))
                                        return ERR("BAT entry %llu points at %llu, space another block uses",
                                                   (unsigned long long)i, (unsigned long long)off);
                                used[mb / 8] |= (uint8_t)(1u << (mb % 8));
                        }
                }
                return 0;
        }
        size_t n = 0;
        _cleanup_free_ struct vhdx_span *spans = vhdx_present_spans(v, &n);
        if (!spans)
                return -ENOMEM;
        for (size_t k = 1; k < n; k++)
                if (spans[k].off < spans[k - 1].off + spans[k - 1].len) {
                        uint64_t i = MAX(spans[k].index, spans[k - 1].index);
                        return ERR("BAT entry %llu points at %llu, space another block uses", (unsigned long long)i,
                                   (unsigned long long)VHDX_BAT_OFFSET(v->bat[i]));
                }
        return 0;
}

/* Every present block lies inside the file (an image cut short is
 * refused, not read as zeros), off the image's own structures and on space
 * of its own (check_overlaps). */
static int check_bat(struct vhdx *v, char *err, size_t errlen) {
        struct stat fst;
        if (fstat(v->fd, &fst) < 0)
                return -errno;
        uint64_t file_size = (uint64_t)fst.st_size, end = structures_end(v);
        v->blocks_present = 0;
        for (uint64_t i = 0; i < v->n_bat; i++) {
                uint64_t e = v->bat[i], off = VHDX_BAT_OFFSET(e);
                unsigned st = VHDX_BAT_STATE(e);
                bool sb = vhdx_bat_is_sb(v, i);
                bool present = vhdx_bat_present(v, i);
                bool known = sb ? st == VHDX_SB_NOT_PRESENT || present
                                : st <= VHDX_PAYLOAD_UNMAPPED || present;
                if (!known || (!sb && st == VHDX_PAYLOAD_PARTIALLY_PRESENT && !v->meta.has_parent) ||
                    (sb && present && !v->meta.has_parent))
                        return ERR("BAT entry %llu has state %u, invalid here", (unsigned long long)i, st);
                if (!present)
                        continue;
                uint64_t len = vhdx_bat_len(v, i);
                if (!range_clear(v, off, len))
                        return ERR("BAT entry %llu points at %llu, over the image's own structures",
                                   (unsigned long long)i, (unsigned long long)off);
                if (off > file_size || len > file_size - off)
                        return ERR("BAT entry %llu points at %llu, past the end of the file (%llu bytes): the "
                                   "image was truncated", (unsigned long long)i, (unsigned long long)off,
                                   (unsigned long long)file_size);
                end = MAX(end, off + len);
                if (!sb)
                        v->blocks_present++;
        }
        int r = check_overlaps(v, file_size, err, errlen);
        if (r < 0)
                return r;
        v->eof = ALIGN_UP(end, MiB);
        return 0;
}

static int read_bat(struct vhdx *v, char *err, size_t errlen) {
        size_t bytes = (size_t)v->n_bat_sectors * 4096;
        _cleanup_free_ uint8_t *raw = vhdx_buf(bytes);
        v->bat = calloc(v->n_bat_sectors * 512, sizeof *v->bat);
        v->bat_dirty = calloc(v->n_bat_sectors, 1);
        if (!raw || !v->bat || !v->bat_dirty)
                return -ENOMEM;
        int r = vhdx_pread_all(v->fd, raw, bytes, v->bat_region.offset);
        if (r < 0)
                return r;
        for (uint64_t i = 0; i < v->n_bat; i++)
                v->bat[i] = le64(raw + i * 8);
        if (v->meta.has_parent) {
                v->bitmaps = calloc(v->n_sb, sizeof *v->bitmaps);
                v->bitmap_dirty = calloc(v->n_sb, sizeof *v->bitmap_dirty);
                if (!v->bitmaps || !v->bitmap_dirty)
                        return -ENOMEM;
        }
        return check_bat(v, err, errlen);
}

static void vhdx_free(struct vhdx *v) {
        if (!v)
                return;
        if (v->bitmaps)
                for (uint64_t i = 0; i < v->n_sb; i++) {
                        free(v->bitmaps[i]);
                        free(v->bitmap_dirty[i]);
                }
        free(v->bitmaps);
        free(v->bitmap_dirty);
        free(v->bat);
        free(v->bat_dirty);
        pthread_mutex_destroy(&v->lock);
        pthread_mutex_destroy(&v->commit_lock);
        free(v);
}

static int open_steps(struct vhdx *v, char *err, size_t errlen) {
        int r = read_headers(v, err, errlen);
        if (r < 0)
                return r;
        /* §2.3.3: the log is replayed before any other structure is read. */
        if ((r = vhdx_log_replay(v, v->flags & VHDX_OPEN_WRITABLE, err, errlen)) < 0)
                return r;
        if (v->needs_replay && !(v->flags & VHDX_OPEN_INSPECT))
                return snprintf(err, errlen, "the image was not closed cleanly and its log must be replayed: "
                                             "open it writable once"), -EROFS;
        if ((r = read_regions(v, err, errlen)) < 0 || (r = read_metadata(v, err, errlen)) < 0 ||
            (r = vhdx_geometry(v, err, errlen)) < 0 || (r = read_bat(v, err, errlen)) < 0)
                return r;
        if (v->flags & VHDX_OPEN_WRITABLE) {
                if (v->hdr.log_length < MiB)
                        return snprintf(err, errlen, "the image has no log: we cannot change it safely"), -ENOTSUP;
                /* §2.2.2: a new FileWriteGuid before the first change. */
                struct vhdx_header h = v->hdr;
                if ((r = guid_generate(&h.file_write)) < 0 || (r = vhdx_write_header(v, &h)) < 0)
                        return snprintf(err, errlen, "cannot update the header: %s", strerror(-r)), r;
        }
        return 0;
}

int vhdx_open(int fd, unsigned flags, struct vhdx **out, char *err, size_t errlen) {
        if (fd < 0 || !out || ((flags & VHDX_OPEN_WRITABLE) && (flags & VHDX_OPEN_INSPECT)))
                return -EINVAL;
        struct vhdx *v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        v->fd = fd;
        v->flags = flags;
        pthread_mutex_init(&v->lock, NULL);
        pthread_mutex_init(&v->commit_lock, NULL);
        err[0] = 0;
        int r = open_steps(v, err, errlen);
        if (r < 0) {
                if (!err[0])
                        snprintf(err, errlen, "%s", strerror(-r));
                vhdx_free(v);
                return r;
        }
        *out = v;
        return 0;
}

int vhdx_close(struct vhdx *v) {
        if (!v)
                return 0;
        int r = 0;
        if (v->flags & VHDX_OPEN_WRITABLE) {
                r = vhdx_commit(v);
                if (v->log_active) {
                        /* A clean close: nothing in the log is needed any more. */
                        struct vhdx_header h = v->hdr;
                        memset(&h.log_guid, 0, sizeof h.log_guid);
                        int k = vhdx_write_header(v, &h);
                        r = r < 0 ? r : k;
                }
        }
        vhdx_free(v);
        return r;
}

void vhdx_discard(struct vhdx *v) {
        vhdx_free(v);
}

int vhdx_fd(const struct vhdx *v) {
        return v->fd;
}

void vhdx_get_info(const struct vhdx *v, struct vhdx_info *info) {
        memset(info, 0, sizeof *info);
        info->type = v->meta.has_parent ? VHDX_DIFFERENCING
                     : v->meta.leave_blocks_allocated ? VHDX_FIXED
                                                      : VHDX_DYNAMIC;
        info->virtual_size = v->meta.virtual_size;
        info->block_size = v->meta.block_size;
        info->logical_sector_size = v->meta.logical_sector;
        info->physical_sector_size = v->meta.physical_sector;
        info->virtual_disk_id = v->meta.disk_id;
        info->data_write_guid = v->hdr.data_write;
        info->parent_linkage = v->meta.parent_linkage;
        memcpy(info->parent_relative, v->meta.parent_relative, sizeof info->parent_relative);
        memcpy(info->parent_absolute, v->meta.parent_absolute, sizeof info->parent_absolute);
        info->file_size = v->eof;
        info->blocks_present = v->blocks_present;
        info->blocks_total = v->n_payload;
        info->log_replayed = v->replayed || v->needs_replay;
}

uint64_t vhdx_max_file_size(const struct vhdx *v) {
        uint64_t absent = v->n_payload - MIN(v->n_payload, v->blocks_present);
        return v->eof + absent * v->meta.block_size + (v->meta.has_parent ? v->n_sb * VHDX_SB_BLOCK_SIZE : 0);
}

int vhdx_set_parent(struct vhdx *child, struct vhdx *parent, char *err, size_t errlen) {
        if (!child->meta.has_parent)
                return ERR("the image has no parent");
        if (!guid_equal(&child->meta.parent_linkage, &parent->hdr.data_write) &&
            !guid_equal(&child->hdr.data_write, &parent->hdr.data_write))
                return ERR("the parent was changed after the differencing image was made (its DataWriteGuid is "
                           "not the child's parent_linkage)");
        if (parent->meta.virtual_size != child->meta.virtual_size ||
            parent->meta.logical_sector != child->meta.logical_sector)
                return ERR("the parent's size or sector size differs from the child's");
        child->parent = parent;
        return 0;
}

int vhdx_parent_path(const char *child_path, const struct vhdx_info *info, char *out, size_t outlen) {
        if (info->parent_relative[0]) {
                const char *rel = info->parent_relative;
                while (rel[0] == '.' && rel[1] == '/')
                        rel += 2;
                const char *slash = strrchr(child_path, '/');
                int n = slash ? snprintf(out, outlen, "%.*s/%s", (int)(slash - child_path), child_path, rel)
                              : snprintf(out, outlen, "%s", rel);
                return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
        }
        if (info->parent_absolute[0] == '/') {
                int n = snprintf(out, outlen, "%s", info->parent_absolute);
                return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
        }
        return -ENOENT;
}
