// SPDX-License-Identifier: MIT
/* Copying a disk while the guest writes it (disk/disk.h): write
 * tracking for the chunks a request changed, and synchronous reads and
 * writes of the guest-visible content for a migration's source (reading,
 * beside the guest's queues) and destination (writing, before the VM
 * runs). The offsets and lengths here are multiples of the block size,
 * which is at least the O_DIRECT length alignment (disk.c refuses direct
 * I/O otherwise); only the buffer's address may need a bounce. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "disk-internal.h"

size_t disk_track_words(const struct disk *d) {
        return (size_t)DIV_ROUND_UP(DIV_ROUND_UP(d->info.size, DISK_TRACK_CHUNK), 64u);
}

int disk_track_start(struct disk *d) {
        size_t words = disk_track_words(d);
        if (!d->track) {
                uint64_t *b = calloc(words, sizeof *b);
                if (!b)
                        return -ENOMEM;
                d->track = b;
        }
        for (size_t i = 0; i < words; i++)
                __atomic_store_n(&d->track[i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&d->tracking, true, __ATOMIC_RELEASE);
        return 0;
}

void disk_track_stop(struct disk *d) {
        __atomic_store_n(&d->tracking, false, __ATOMIC_RELEASE);
}

void disk_track_take(struct disk *d, uint64_t *out) {
        if (!d->track)
                return;
        for (size_t i = 0, n = disk_track_words(d); i < n; i++)
                out[i] |= __atomic_exchange_n(&d->track[i], 0, __ATOMIC_ACQ_REL);
}

static void mark(struct disk *d, uint64_t off, uint64_t len) {
        if (!len || off >= d->info.size)
                return;
        uint64_t first = off / DISK_TRACK_CHUNK, last = (MIN(off + len, d->info.size) - 1) / DISK_TRACK_CHUNK;
        for (uint64_t c = first; c <= last; c++)
                __atomic_fetch_or(&d->track[c / 64], 1ull << (c % 64), __ATOMIC_RELEASE);
}

void disk_track_op(const struct disk_op *op) {
        struct disk *d = op->req.disk;
        if (!__atomic_load_n(&d->tracking, __ATOMIC_ACQUIRE))
                return;
        switch (op->req.kind) {
        case DISK_WRITE:
        case DISK_WRITE_ZEROES:
        case DISK_WRITE_SAME:
                mark(d, op->req.offset, op->req.len);
                break;
        case DISK_DISCARD: /* ranges: only when the discard did something (ops.c copies them then) */
                for (unsigned i = 0; op->ranges && i < op->req.n_ranges; i++)
                        mark(d, op->ranges[i].offset, op->ranges[i].len);
                break;
        default:
                break;
        }
}

static bool range_ok(const struct disk *d, uint64_t off, uint64_t len) {
        return len && off % d->info.block_size == 0 && len % d->info.block_size == 0 && off <= d->info.size &&
               len <= d->info.size - off;
}

/* pread/pwrite all of it on fd; an address O_DIRECT cannot take goes
 * through an aligned copy. */
static int fd_io(const struct disk *d, int fd, bool write, void *buf, size_t len, uint64_t off) {
        void *bounce = NULL;
        uint8_t *p = buf;
        if (fd == d->fd && d->info.direct && ((uintptr_t)buf % d->info.dio_mem_align)) {
                if (posix_memalign(&bounce, 4096, len) != 0)
                        return -ENOMEM;
                if (write)
                        memcpy(bounce, buf, len);
                p = bounce;
        }
        int r = 0;
        for (size_t done = 0; done < len;) {
                ssize_t k = write ? pwrite(fd, p + done, len - done, (off_t)(off + done))
                                  : pread(fd, p + done, len - done, (off_t)(off + done));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? -errno : write ? -ENOSPC : -EIO; /* a raw image shorter than the disk */
                        break;
                }
                done += (size_t)k;
        }
        if (r == 0 && bounce && !write)
                memcpy(buf, bounce, len);
        free(bounce);
        return r;
}

int disk_read_sync(struct disk *d, uint64_t off, void *buf, size_t len) {
        if (!range_ok(d, off, len))
                return -EINVAL;
        if (d->deferred)
                return -EIO;
        if (!d->vhdx)
                return fd_io(d, d->fd, false, buf, len, off);
        uint8_t *p = buf;
        while (len) {
                struct vhdx_extent e;
                int r = vhdx_map_chain(d->vhdx, off, len, &e);
                if (r < 0)
                        return r;
                if (e.kind == VHDX_EXT_DATA) {
                        if ((r = fd_io(d, vhdx_fd(e.image), false, p, e.len, e.file_off)) < 0)
                                return r;
                } else {
                        memset(p, 0, e.len);
                }
                p += e.len, off += e.len, len -= e.len;
        }
        return 0;
}

int disk_write_sync(struct disk *d, uint64_t off, const void *buf, size_t len) {
        if (d->info.read_only)
                return -EROFS;
        if (d->deferred)
                return -EIO;
        if (!range_ok(d, off, len))
                return -EINVAL;
        if (!d->vhdx)
                return fd_io(d, d->fd, true, (void *)buf, len, off);
        const uint8_t *p = buf;
        while (len) {
                struct vhdx_extent e;
                int r = vhdx_map_write(d->vhdx, off, len, &e, NULL);
                if (r < 0)
                        return r;
                if ((r = fd_io(d, vhdx_fd(e.image), true, (void *)p, e.len, e.file_off)) < 0)
                        return r;
                p += e.len, off += e.len, len -= e.len;
        }
        return 0;
}

int disk_zero_sync(struct disk *d, uint64_t off, uint64_t len) {
        if (d->info.read_only)
                return -EROFS;
        if (d->deferred)
                return -EIO;
        if (!range_ok(d, off, len))
                return -EINVAL;
        if (!d->vhdx && !d->info.block_device &&
            fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
                return 0;
        void *zeros;
        size_t chunk = (size_t)MIN(len, (uint64_t)DISK_TRACK_CHUNK);
        if (posix_memalign(&zeros, 4096, chunk) != 0)
                return -ENOMEM;
        memset(zeros, 0, chunk);
        int r = 0;
        while (r == 0 && len) {
                size_t k = (size_t)MIN(len, (uint64_t)chunk);
                struct vhdx_extent e;
                /* a VHDX range that reads as zeros already stays unallocated */
                if (d->vhdx && (r = vhdx_map_chain(d->vhdx, off, k, &e)) == 0 && e.kind == VHDX_EXT_ZERO)
                        k = (size_t)e.len;
                else if (r == 0)
                        r = disk_write_sync(d, off, zeros, k);
                off += k, len -= k;
        }
        free(zeros);
        return r;
}

int disk_flush_sync(struct disk *d) {
        if (d->info.read_only)
                return 0;
        if (fdatasync(d->fd) < 0)
                return -errno;
        return disk_sync_metadata(d);
}
