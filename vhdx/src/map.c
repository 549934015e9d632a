// SPDX-License-Identifier: MIT
/* Where a virtual range lives (§2.5: BAT, payload block states, sector
 * bitmaps), block allocation for writes, and the commit of metadata
 * changes through the log.
 *
 * Allocation order and crash safety: a new block is placed at the end of
 * the file (ftruncate: it reads as zeros), the BAT entry (and in a
 * differencing image the sector bits) change in memory and the caller
 * writes the data. The metadata reaches the file only in vhdx_commit,
 * which the owner calls after the data is durable (a guest's flush): a
 * crash before the commit leaves the old BAT and an unreferenced tail,
 * never a BAT entry pointing at data that was not written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "vhdx-internal.h"

static uint64_t payload_index(const struct vhdx *v, uint64_t block) {
        return block + block / v->chunk_ratio;
}

static uint64_t sb_index(const struct vhdx *v, uint64_t chunk) {
        return chunk * (v->chunk_ratio + 1) + v->chunk_ratio;
}

static void bat_set(struct vhdx *v, uint64_t i, uint64_t entry) {
        v->bat[i] = entry;
        v->bat_dirty[i / 512] = 1;
        v->dirty = true;
}

/* Loads the sector bitmap of a chunk (zeros if its block is absent). */
int vhdx_bitmap_load(struct vhdx *v, uint64_t chunk) {
        if (v->bitmaps[chunk])
                return 0;
        uint8_t *b = vhdx_buf(VHDX_SB_BLOCK_SIZE), *d = calloc(1, VHDX_SB_BLOCK_SIZE / 4096);
        if (!b || !d) {
                free(b);
                free(d);
                return -ENOMEM;
        }
        uint64_t e = v->bat[sb_index(v, chunk)];
        if (VHDX_BAT_STATE(e) == VHDX_SB_PRESENT) {
                int r = vhdx_pread_all(v->fd, b, VHDX_SB_BLOCK_SIZE, VHDX_BAT_OFFSET(e));
                if (r < 0) {
                        free(b);
                        free(d);
                        return r;
                }
        }
        v->bitmaps[chunk] = b;
        v->bitmap_dirty[chunk] = d;
        return 0;
}

static bool bit_get(const uint8_t *bm, uint64_t bit) {
        return ((unsigned)bm[bit / 8] >> (bit % 8)) & 1u;
}

/* The run of sectors from `first` (of at most n) whose bits equal the first one. */
static uint64_t bit_run(const uint8_t *bm, uint64_t first, uint64_t n, bool *value) {
        *value = bit_get(bm, first);
        uint64_t k = 1;
        while (k < n && bit_get(bm, first + k) == *value)
                k++;
        return k;
}

static int map_locked(struct vhdx *v, uint64_t voff, uint64_t len, struct vhdx_extent *e) {
        const uint64_t bs = v->meta.block_size, ss = v->meta.logical_sector;
        uint64_t block = voff / bs, in = voff % bs, run = MIN(len, bs - in);
        uint64_t entry = v->bat[payload_index(v, block)];
        e->image = v;
        e->len = run;
        switch (VHDX_BAT_STATE(entry)) {
        case VHDX_PAYLOAD_FULLY_PRESENT:
                e->kind = VHDX_EXT_DATA;
                e->file_off = VHDX_BAT_OFFSET(entry) + in;
                return 0;
        case VHDX_PAYLOAD_PARTIALLY_PRESENT: {
                uint64_t chunk = block / v->chunk_ratio;
                int r = vhdx_bitmap_load(v, chunk);
                if (r < 0)
                        return r;
                uint64_t first = ((block % v->chunk_ratio) * bs + in) / ss;
                bool here;
                e->len = bit_run(v->bitmaps[chunk], first, run / ss, &here) * ss;
                e->kind = here ? VHDX_EXT_DATA : VHDX_EXT_PARENT;
                e->file_off = VHDX_BAT_OFFSET(entry) + in;
                return 0;
        }
        case VHDX_PAYLOAD_NOT_PRESENT:
        case VHDX_PAYLOAD_UNDEFINED:
                /* §2.5.1.1: the parent's data in a differencing image, else zeros */
                e->kind = v->meta.has_parent ? VHDX_EXT_PARENT : VHDX_EXT_ZERO;
                return 0;
        default: /* ZERO, UNMAPPED */
                e->kind = VHDX_EXT_ZERO;
                return 0;
        }
}

static int range_ok(const struct vhdx *v, uint64_t voff, uint64_t len) {
        uint64_t ss = v->meta.logical_sector;
        /* an inspection's view is not the image's to read through: its log
         * may be pending (needs_replay: only an inspection opens such an
         * image), and a writer elsewhere may be changing the BAT it read
         * once (a migration's destination before the switch-over) */
        if (v->flags & VHDX_OPEN_INSPECT)
                return -EBADF;
        if (len == 0 || voff % ss || len % ss || voff >= v->meta.virtual_size || len > v->meta.virtual_size - voff)
                return -EINVAL;
        return 0;
}

int vhdx_map(struct vhdx *v, uint64_t voff, uint64_t len, struct vhdx_extent *e) {
        int r = range_ok(v, voff, len);
        if (r < 0)
                return r;
        pthread_mutex_lock(&v->lock);
        r = map_locked(v, voff, len, e);
        pthread_mutex_unlock(&v->lock);
        return r;
}

int vhdx_map_chain(struct vhdx *v, uint64_t voff, uint64_t len, struct vhdx_extent *e) {
        struct vhdx *img = v;
        for (unsigned depth = 0;; depth++) {
                int r = vhdx_map(img, voff, len, e);
                if (r < 0 || e->kind != VHDX_EXT_PARENT)
                        return r;
                if (!img->parent || depth >= VHDX_CHAIN_MAX)
                        return -ENOLINK; /* a differencing image whose parent was not set */
                len = e->len;
                img = img->parent;
        }
}

/* A new block of `len` bytes at the end of the file. */
static int alloc_at_end(struct vhdx *v, uint64_t len, uint64_t *off) {
        uint64_t at = v->eof;
        if (ftruncate(v->fd, (off_t)(at + len)) < 0)
                return -errno;
        v->eof = at + len;
        *off = at;
        return 0;
}

/* Marks sectors [first, first + n) of a chunk present. */
static int bits_set(struct vhdx *v, uint64_t chunk, uint64_t first, uint64_t n) {
        uint64_t si = sb_index(v, chunk);
        if (VHDX_BAT_STATE(v->bat[si]) != VHDX_SB_PRESENT) {
                uint64_t off = 0;
                int r = alloc_at_end(v, VHDX_SB_BLOCK_SIZE, &off);
                if (r < 0)
                        return r;
                bat_set(v, si, VHDX_BAT_ENTRY(VHDX_SB_PRESENT, off));
        }
        uint8_t *bm = v->bitmaps[chunk];
        for (uint64_t b = first; b < first + n; b++) {
                if (bit_get(bm, b))
                        continue;
                bm[b / 8] |= (uint8_t)(1u << (b % 8));
                v->bitmap_dirty[chunk][b / 8 / 4096] = 1;
                v->dirty = true;
        }
        return 0;
}

static int write_locked(struct vhdx *v, uint64_t voff, uint64_t len, struct vhdx_extent *e) {
        const uint64_t bs = v->meta.block_size, ss = v->meta.logical_sector;
        uint64_t block = voff / bs, in = voff % bs, run = MIN(len, bs - in), bi = payload_index(v, block);
        unsigned st = VHDX_BAT_STATE(v->bat[bi]);
        e->kind = VHDX_EXT_DATA;
        e->image = v;
        e->len = run;
        if (st == VHDX_PAYLOAD_FULLY_PRESENT) {
                e->file_off = VHDX_BAT_OFFSET(v->bat[bi]) + in;
                return 0;
        }
        /* In a differencing image a block the parent holds becomes partly
         * present (unless this write covers all of it); elsewhere a new
         * block replaces zeros, which its fresh space reads as. */
        bool partial = v->meta.has_parent && (st == VHDX_PAYLOAD_NOT_PRESENT || st == VHDX_PAYLOAD_UNDEFINED ||
                                              st == VHDX_PAYLOAD_PARTIALLY_PRESENT) && run < bs;
        uint64_t chunk = block / v->chunk_ratio;
        int r = partial ? vhdx_bitmap_load(v, chunk) : 0;
        if (r < 0)
                return r;
        if (st != VHDX_PAYLOAD_PARTIALLY_PRESENT || !partial) {
                uint64_t off = VHDX_BAT_OFFSET(v->bat[bi]);
                if (st != VHDX_PAYLOAD_PARTIALLY_PRESENT && (r = alloc_at_end(v, bs, &off)) < 0)
                        return r;
                if (st != VHDX_PAYLOAD_PARTIALLY_PRESENT)
                        v->blocks_present++;
                bat_set(v, bi, VHDX_BAT_ENTRY(partial ? VHDX_PAYLOAD_PARTIALLY_PRESENT : VHDX_PAYLOAD_FULLY_PRESENT,
                                              off));
        }
        if (partial && (r = bits_set(v, chunk, ((block % v->chunk_ratio) * bs + in) / ss, run / ss)) < 0)
                return r;
        e->file_off = VHDX_BAT_OFFSET(v->bat[bi]) + in;
        return 0;
}

/* §2.2.2: DataWriteGuid changes before the first change of user data, so a
 * child made from this image can tell it was changed. */
static int data_guid_locked(struct vhdx *v) {
        if (v->data_guid_done)
                return 0;
        struct vhdx_header h = v->hdr;
        int r = guid_generate(&h.data_write);
        if (r < 0 || (r = vhdx_write_header(v, &h)) < 0)
                return r;
        v->data_guid_done = true;
        return 0;
}

int vhdx_map_write(struct vhdx *v, uint64_t voff, uint64_t len, struct vhdx_extent *e, bool *allocated) {
        if (!(v->flags & VHDX_OPEN_WRITABLE))
                return -EROFS;
        int r = range_ok(v, voff, len);
        if (r < 0)
                return r;
        pthread_mutex_lock(&v->lock);
        bool was_dirty = v->dirty;
        v->dirty = false;
        r = data_guid_locked(v);
        if (r == 0)
                r = write_locked(v, voff, len, e);
        if (allocated)
                *allocated = v->dirty;
        v->dirty = v->dirty || was_dirty;
        pthread_mutex_unlock(&v->lock);
        return r;
}

bool vhdx_dirty(struct vhdx *v) {
        pthread_mutex_lock(&v->lock);
        bool d = v->dirty;
        pthread_mutex_unlock(&v->lock);
        return d;
}

/* ---- commit ---- */

struct dirty_sector {
        uint64_t file_off;
        uint8_t *data; /* 4 KiB in the snapshot's aligned buffer */
};

/* Copies every dirty sector (under the lock) and clears the flags. */
static int snapshot_dirty(struct vhdx *v, struct dirty_sector **out, uint8_t **data, size_t *n) {
        size_t count = 0, cap = 0;
        struct dirty_sector *s = NULL;
        uint8_t *d = NULL;
        for (int pass = 0; pass < 2; pass++) {
                count = 0;
                for (uint64_t i = 0; i < v->n_bat_sectors; i++) {
                        if (!v->bat_dirty[i])
                                continue;
                        if (pass) {
                                s[count].file_off = v->bat_region.offset + i * 4096;
                                for (unsigned k = 0; k < 512; k++)
                                        vmstate_put_le64(s[count].data + k * 8, v->bat[i * 512 + k]);
                                v->bat_dirty[i] = 0;
                        }
                        count++;
                }
                for (uint64_t c = 0; v->bitmaps && c < v->n_sb; c++) {
                        for (uint64_t i = 0; v->bitmap_dirty[c] && i < VHDX_SB_BLOCK_SIZE / 4096; i++) {
                                if (!v->bitmap_dirty[c][i])
                                        continue;
                                if (pass) {
                                        s[count].file_off = VHDX_BAT_OFFSET(v->bat[sb_index(v, c)]) + i * 4096;
                                        memcpy(s[count].data, v->bitmaps[c] + i * 4096, 4096);
                                        v->bitmap_dirty[c][i] = 0;
                                }
                                count++;
                        }
                }
                if (!pass) {
                        cap = count;
                        if (!cap)
                                break;
                        s = malloc(cap * sizeof *s);
                        d = vhdx_buf(cap * 4096);
                        if (!s || !d) {
                                free(s);
                                free(d);
                                return -ENOMEM;
                        }
                        for (size_t i = 0; i < cap; i++)
                                s[i].data = d + i * 4096;
                }
        }
        v->dirty = false;
        *out = s;
        *data = d;
        *n = cap ? count : 0;
        return 0;
}

/* Puts the sectors back in the dirty sets after a failed commit, so the
 * next one tries again (the in-memory state is still the truth). */
static void redirty(struct vhdx *v) {
        memset(v->bat_dirty, 1, v->n_bat_sectors);
        for (uint64_t c = 0; v->bitmaps && c < v->n_sb; c++)
                if (v->bitmap_dirty[c])
                        memset(v->bitmap_dirty[c], 1, VHDX_SB_BLOCK_SIZE / 4096);
        v->dirty = true;
}

static int commit_round(struct vhdx *v, const struct dirty_sector *s, size_t n) {
        struct vhdx_log_write w[VHDX_LOG_DESC_PER_SECTOR] = { 0 }; /* n <= that, by vhdx_commit */
        for (size_t i = 0; i < n; i++)
                w[i] = (struct vhdx_log_write){ .file_off = s[i].file_off, .data = s[i].data };
        int r = vhdx_log_write(v, w, n);
        for (size_t i = 0; i < n && r == 0; i++)
                r = vhdx_pwrite_all(v->fd, s[i].data, 4096, s[i].file_off);
        if (r == 0 && fdatasync(v->fd) < 0)
                r = -errno;
        return r;
}

/* A snapshot's sectors, in rounds as large as the log takes. */
static int commit_sectors(struct vhdx *v, const struct dirty_sector *s, size_t n) {
        uint32_t per = (uint32_t)MIN((uint64_t)VHDX_LOG_DESC_PER_SECTOR, v->hdr.log_length / VHDX_LOG_SECTOR - 1);
        int r = 0;
        for (size_t i = 0; r == 0 && i < n; i += per)
                r = commit_round(v, s + i, MIN((size_t)per, n - i));
        return r;
}

int vhdx_commit(struct vhdx *v) {
        if (!(v->flags & VHDX_OPEN_WRITABLE))
                return 0;
        pthread_mutex_lock(&v->commit_lock);
        pthread_mutex_lock(&v->lock);
        struct dirty_sector *s = NULL;
        uint8_t *data = NULL;
        size_t n = 0;
        int r = snapshot_dirty(v, &s, &data, &n);
        pthread_mutex_unlock(&v->lock);
        if (r == 0)
                r = commit_sectors(v, s, n);
        if (r < 0) {
                pthread_mutex_lock(&v->lock);
                redirty(v);
                pthread_mutex_unlock(&v->lock);
        }
        free(s);
        free(data);
        pthread_mutex_unlock(&v->commit_lock);
        return r;
}

int vhdx_quiesce(struct vhdx *v) {
        if (!(v->flags & VHDX_OPEN_WRITABLE))
                return 0;
        int r = vhdx_commit(v);
        if (r < 0)
                return r;
        pthread_mutex_lock(&v->commit_lock);
        pthread_mutex_lock(&v->lock);
        if (v->log_active) {
                struct vhdx_header h = v->hdr;
                memset(&h.log_guid, 0, sizeof h.log_guid);
                r = vhdx_write_header(v, &h);
                if (r == 0)
                        v->log_active = false;
        }
        pthread_mutex_unlock(&v->lock);
        pthread_mutex_unlock(&v->commit_lock);
        return r;
}

/* ---- merging ---- */

/* Copies [voff, voff + len) of the child's own data (at file offset foff
 * in its file) into the parent through the parent's write path. */
static int merge_copy(struct vhdx *child, struct vhdx *parent, uint64_t voff, uint64_t foff, uint64_t len,
                      uint8_t *buf, size_t buflen) {
        while (len) {
                uint64_t n = MIN(len, (uint64_t)buflen);
                int r = foff ? vhdx_pread_all(child->fd, buf, (size_t)n, foff) : (memset(buf, 0, (size_t)n), 0);
                for (uint64_t done = 0; r == 0 && done < n;) {
                        struct vhdx_extent e;
                        if ((r = vhdx_map_write(parent, voff + done, n - done, &e, NULL)) < 0)
                                break;
                        r = vhdx_pwrite_all(parent->fd, buf + done, (size_t)e.len, e.file_off);
                        done += e.len;
                }
                if (r < 0)
                        return r;
                voff += n, len -= n;
                if (foff)
                        foff += n;
        }
        return 0;
}

int vhdx_merge_begin(struct vhdx *child, struct vhdx *parent) {
        if (!(parent->flags & VHDX_OPEN_WRITABLE) || child == parent ||
            child->meta.virtual_size != parent->meta.virtual_size ||
            child->meta.logical_sector != parent->meta.logical_sector)
                return -EINVAL;
        /* The parent keeps its DataWriteGuid while the child's data goes in
         * (not the fresh one an ordinary first write gives it): the child,
         * its only user, reads the same through it at every point, so one
         * interrupted here (a crash, a stop) stays linked and the merge can
         * simply run again. At the end the parent takes the child's. */
        pthread_mutex_lock(&parent->lock);
        parent->merge_fresh = !parent->data_guid_done;
        parent->data_guid_done = true;
        pthread_mutex_unlock(&parent->lock);
        return 0;
}

int vhdx_merge_range(struct vhdx *child, struct vhdx *parent, uint64_t voff, uint64_t len, uint8_t *buf,
                     size_t buflen, uint64_t *copied) {
        while (len) {
                struct vhdx_extent e;
                int r = vhdx_map(child, voff, len, &e);
                if (r < 0)
                        return r;
                /* its own data, and zeros where its BAT says so; the parent's own stays */
                if (e.kind == VHDX_EXT_DATA || e.kind == VHDX_EXT_ZERO) {
                        if ((r = merge_copy(child, parent, voff, e.kind == VHDX_EXT_DATA ? e.file_off : 0, e.len, buf,
                                            buflen)) < 0)
                                return r;
                        if (copied)
                                *copied += e.len;
                }
                voff += e.len, len -= e.len;
        }
        return 0;
}

int vhdx_merge_end(struct vhdx *child, struct vhdx *parent) {
        int r = fdatasync(parent->fd) < 0 ? -errno : 0;
        if (r == 0)
                r = vhdx_commit(parent);
        if (r == 0) {
                pthread_mutex_lock(&parent->lock);
                struct vhdx_header h = parent->hdr;
                h.data_write = child->hdr.data_write;
                r = vhdx_write_header(parent, &h);
                parent->data_guid_done = true;
                parent->merge_fresh = false;
                pthread_mutex_unlock(&parent->lock);
        }
        if (r < 0)
                vhdx_merge_abandon(parent);
        return r;
}

void vhdx_merge_abandon(struct vhdx *parent) {
        pthread_mutex_lock(&parent->lock);
        bool fresh = parent->merge_fresh;
        parent->merge_fresh = false;
        pthread_mutex_unlock(&parent->lock);
        if (!fresh)
                return;
        /* What went in stays committed when it can be (a clean state to run
         * again from); later ordinary writes change the DataWriteGuid again. */
        (void)vhdx_commit(parent);
        pthread_mutex_lock(&parent->lock);
        parent->data_guid_done = false;
        pthread_mutex_unlock(&parent->lock);
}

int vhdx_merge_into_parent(struct vhdx *child, struct vhdx *parent, vhdx_merge_progress_fn progress, void *opaque,
                           uint64_t *bytes) {
        if (child->parent != parent)
                return -EINVAL;
        const size_t buflen = 4u << 20;
        _cleanup_free_ uint8_t *buf = vhdx_buf(buflen);
        if (!buf)
                return -ENOMEM;
        int r = vhdx_merge_begin(child, parent);
        if (r < 0)
                return r;
        const uint64_t bs = child->meta.block_size, size = child->meta.virtual_size;
        uint64_t copied = 0;
        for (uint64_t voff = 0; r == 0 && voff < size; voff += bs) {
                r = vhdx_merge_range(child, parent, voff, MIN(bs, size - voff), buf, buflen, &copied);
                if (r == 0 && progress && !progress(opaque, copied))
                        r = -ECANCELED;
        }
        if (r == 0)
                r = vhdx_merge_end(child, parent);
        else
                vhdx_merge_abandon(parent);
        if (bytes)
                *bytes = copied;
        return r;
}

/* ---- growing ---- */

/* The payload blocks whose entries a BAT of n_bat entries holds (a fixed
 * or dynamic image: a sector bitmap entry after every chunk_ratio). */
static uint64_t payload_room(uint64_t n_bat, uint64_t ratio) {
        uint64_t p = n_bat / (ratio + 1) * ratio + n_bat % (ratio + 1);
        while (p && p + (p - 1) / ratio > n_bat)
                p--;
        return p;
}

uint64_t vhdx_max_file_size_at(const struct vhdx *v, uint64_t size) {
        uint64_t n = (size + v->meta.block_size - 1) / v->meta.block_size;
        return vhdx_max_file_size(v) + (n > v->n_payload ? (n - v->n_payload) * v->meta.block_size : 0);
}

/* The virtual disk size item, patched in its 4 KiB sector of the metadata
 * region, through the log and then in place. */
static int write_virtual_size(struct vhdx *v, uint64_t size) {
        _cleanup_free_ uint8_t *table = vhdx_buf(VHDX_METADATA_TABLE_SIZE), *sector = vhdx_buf(4096);
        if (!table || !sector)
                return -ENOMEM;
        int r = vhdx_pread_all(v->fd, table, VHDX_METADATA_TABLE_SIZE, v->meta_region.offset);
        uint32_t off = 0, len = 0;
        if (r < 0 || (r = vhdx_metadata_item(table, v->meta_region.length, &vhdx_md_virtual_disk_size, &off, &len)) < 0)
                return r;
        if (len < 8 || off % 8) /* the open parsed it: cannot happen */
                return -EINVAL;
        uint64_t at = v->meta_region.offset + off / 4096 * 4096;
        if ((r = vhdx_pread_all(v->fd, sector, 4096, at)) < 0)
                return r;
        vmstate_put_le64(sector + off % 4096, size);
        struct vhdx_log_write w = { .file_off = at, .data = sector };
        if ((r = vhdx_log_write(v, &w, 1)) < 0 || (r = vhdx_pwrite_all(v->fd, sector, 4096, at)) < 0)
                return r;
        return fdatasync(v->fd) < 0 ? -errno : 0;
}

/* vhdx_grow: the in-memory BAT holds n_bat_sectors sectors of entries
 * (the new ones zero, not dirty). */
static int bat_room_locked(struct vhdx *v, uint64_t n_bat_sectors) {
        if (n_bat_sectors <= v->n_bat_sectors)
                return 0;
        uint64_t *bat = realloc(v->bat, n_bat_sectors * 512 * sizeof *bat);
        if (!bat)
                return -ENOMEM;
        v->bat = bat;
        uint8_t *dirty = realloc(v->bat_dirty, n_bat_sectors);
        if (!dirty)
                return -ENOMEM;
        v->bat_dirty = dirty;
        memset(v->bat + v->n_bat_sectors * 512, 0, (n_bat_sectors - v->n_bat_sectors) * 512 * 8);
        memset(v->bat_dirty + v->n_bat_sectors, 0, n_bat_sectors - v->n_bat_sectors);
        v->n_bat_sectors = n_bat_sectors;
        return 0;
}

/* vhdx_grow: the geometry becomes g's, its new BAT entries written (and,
 * for a fixed image, its new blocks allocated: *added of them). */
static int extend_locked(struct vhdx *v, const struct vhdx *g, uint64_t *added) {
        const struct vhdx_meta *m = &v->meta;
        const uint64_t old_payload = v->n_payload, old_bat = v->n_bat;
        /* A fixed image's new blocks, at the end of the file: zeros (the
         * file only ever grows here; ftruncate, as a new block's space). */
        uint64_t end = v->eof + (m->leave_blocks_allocated ? (g->n_payload - old_payload) * m->block_size : 0);
        struct stat st;
        if (end > v->eof && fstat(v->fd, &st) < 0)
                return -errno;
        if (end > v->eof && (uint64_t)st.st_size < end && ftruncate(v->fd, (off_t)end) < 0)
                return -errno;
        v->n_payload = g->n_payload, v->n_sb = g->n_sb, v->n_bat = g->n_bat;
        /* Every entry past the old ones is written (NOT_PRESENT, or the new
         * block): a foreign image's unused BAT space is not known to be zero. */
        for (uint64_t i = old_bat; i < g->n_bat; i++)
                bat_set(v, i, 0);
        for (uint64_t b = old_payload; m->leave_blocks_allocated && b < g->n_payload; b++) {
                bat_set(v, payload_index(v, b), VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, v->eof));
                v->eof += m->block_size;
                v->blocks_present++;
                (*added)++;
        }
        return 0;
}

int vhdx_grow(struct vhdx *v, uint64_t size, char *err, size_t errlen) {
        const struct vhdx_meta *m = &v->meta;
        if (!(v->flags & VHDX_OPEN_WRITABLE) || v->needs_replay)
                return snprintf(err, errlen, "the image is open read-only"), -EROFS;
        if (m->has_parent)
                return snprintf(err, errlen, "a differencing image has its parent's size (merge it first)"),
                       -EOPNOTSUPP;
        if (size % m->logical_sector || size > VHDX_MAX_VIRTUAL_SIZE || size < m->virtual_size)
                return snprintf(err, errlen, "%llu bytes: a VHDX disk grows to whole %u-byte sectors, from its %llu "
                                "bytes to at most 64 TiB", (unsigned long long)size, m->logical_sector,
                                (unsigned long long)m->virtual_size), -EINVAL;
        if (size == m->virtual_size)
                return 0;
        struct vhdx g = { .meta = *m, .bat_region = v->bat_region };
        g.meta.virtual_size = size;
        char why[160];
        if (vhdx_geometry(&g, why, sizeof why) < 0) {
                uint64_t room = payload_room(v->bat_region.length / 8, v->chunk_ratio);
                return snprintf(err, errlen, "its BAT region holds entries for %llu bytes at most (%s)",
                                (unsigned long long)MIN(room * m->block_size, VHDX_MAX_VIRTUAL_SIZE), why), -EINVAL;
        }
        pthread_mutex_lock(&v->commit_lock);
        pthread_mutex_lock(&v->lock);
        const uint64_t old_payload = v->n_payload, old_sb = v->n_sb, old_bat = v->n_bat;
        uint64_t added = 0; /* a fixed image's new blocks */
        int r = data_guid_locked(v);
        if (r == 0)
                r = bat_room_locked(v, g.n_bat_sectors);
        if (r == 0)
                r = extend_locked(v, &g, &added);
        struct dirty_sector *s = NULL;
        uint8_t *data = NULL;
        size_t n = 0;
        if (r == 0)
                r = snapshot_dirty(v, &s, &data, &n);
        pthread_mutex_unlock(&v->lock);
        /* The new entries first: a crash before the size leaves them unused. */
        if (r == 0)
                r = commit_sectors(v, s, n);
        if (r == 0)
                r = write_virtual_size(v, size);
        free(s);
        free(data);
        pthread_mutex_lock(&v->lock);
        if (r == 0) {
                v->meta.virtual_size = size;
        } else {
                /* The old geometry: its entries are the truth, the rest
                 * unused. The end of the file stays where it is: writers
                 * may have allocated past a fixed image's new blocks
                 * meanwhile (their space is simply not used). */
                for (uint64_t i = old_bat; i < v->n_bat; i++)
                        v->bat[i] = 0;
                v->n_payload = old_payload, v->n_sb = old_sb, v->n_bat = old_bat;
                v->blocks_present -= added;
                redirty(v);
        }
        pthread_mutex_unlock(&v->lock);
        pthread_mutex_unlock(&v->commit_lock);
        if (r < 0)
                snprintf(err, errlen, "growing the image: %s", strerror(-r));
        return r;
}
