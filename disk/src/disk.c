// SPDX-License-Identifier: MIT
/* Opening and probing a disk image: regular file or block device, from a
 * path or a handed-over fd; O_DIRECT when the file system takes it and its
 * alignment fits the guest's logical block size; size, lock and discard
 * support. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "disk-internal.h"

void disk_note(struct disk *d, const char *msg) {
        size_t n = strlen(d->note);
        snprintf(d->note + n, sizeof d->note - n, "%s%s", n ? "; " : "", msg);
        d->info.note = d->note;
}

int disk_set_direct(int fd, bool on) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
                return -errno;
        fl = on ? fl | O_DIRECT : fl & ~O_DIRECT;
        return RET_NERRNO(fcntl(fd, F_SETFL, fl));
}

static int disk_acquire_fd(const struct disk_options *o, int *out) {
        if (o->fd >= 0) {
                int fl = fcntl(o->fd, F_GETFL);
                if (fl < 0)
                        return -errno;
                if (!o->read_only && (fl & O_ACCMODE) != O_RDWR)
                        return -EBADF; /* handed over read-only, asked writable */
                *out = o->fd;
                return 0;
        }
        if (!o->path)
                return -EINVAL;
        int fd = open(o->path, (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        *out = fd;
        return 0;
}

/* O_DIRECT alignment from statx (Linux 6.1+), else the device's logical
 * block size, else a probe read. Returns false if O_DIRECT cannot work. */
static bool disk_probe_alignment(struct disk *d, uint64_t raw_size) {
        struct statx sx;
        if (statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
                if (sx.stx_dio_mem_align == 0 || sx.stx_dio_offset_align == 0)
                        return false; /* the file system says: no direct I/O */
                d->info.dio_mem_align = sx.stx_dio_mem_align;
                d->info.dio_len_align = sx.stx_dio_offset_align;
                return true;
        }
        int lbs;
        if (d->info.block_device && ioctl(d->fd, BLKSSZGET, &lbs) == 0 && lbs > 0) {
                d->info.dio_mem_align = d->info.dio_len_align = (uint32_t)lbs;
                return true;
        }
        for (uint32_t a = 512; a <= 4096 && a <= raw_size; a *= 8) {
                void *buf;
                if (posix_memalign(&buf, a, a) != 0)
                        return false;
                ssize_t n = pread(d->fd, buf, a, 0);
                free(buf);
                if (n == (ssize_t)a) {
                        d->info.dio_mem_align = d->info.dio_len_align = a;
                        return true;
                }
        }
        return false;
}

static void disk_setup_direct(struct disk *d, const struct disk_options *o, uint64_t raw_size) {
        if (o->buffered) {
                disk_note(d, "buffered I/O by request");
                return;
        }
        if (disk_set_direct(d->fd, true) < 0) {
                disk_note(d, "file system refuses O_DIRECT: buffered I/O");
                return;
        }
        if (!disk_probe_alignment(d, raw_size) || d->info.dio_len_align > d->info.block_size ||
            d->info.dio_mem_align > 4096) {
                /* e.g. a 4Kn host device under a 512-byte guest disk */
                (void)disk_set_direct(d->fd, false);
                d->info.dio_mem_align = d->info.dio_len_align = 0;
                disk_note(d, "O_DIRECT alignment does not fit the logical block size: buffered I/O");
                return;
        }
        d->info.direct = true;
}

static void disk_probe_discard(struct disk *d, const struct stat *st) {
        if (d->info.read_only)
                return;
        if (d->n_parents) /* a hole in a differencing image would read as zeros, not as its parent */
                return;
        if (d->info.block_device) {
                char path[96], buf[32] = "";
                snprintf(path, sizeof path, "/sys/dev/block/%u:%u/queue/discard_max_bytes", major(st->st_rdev),
                         minor(st->st_rdev));
                FILE *f = fopen(path, "re");
                if (f) {
                        if (!fgets(buf, sizeof buf, f))
                                buf[0] = 0;
                        fclose(f);
                }
                d->info.discard = strtoull(buf, NULL, 10) > 0;
                /* a device discard need not zero: LBPRZ stays 0 */
                return;
        }
        /* Punching past EOF changes nothing but tells whether holes work. */
        off_t at = (off_t)ALIGN_UP((uint64_t)st->st_size, 4096u);
        if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, 4096) == 0) {
                d->info.discard = true;
                d->info.discard_zeroes = true;
        } else {
                disk_note(d, "no hole punching: discard disabled");
        }
}

static int disk_probe(struct disk *d, const struct disk_options *o) {
        struct stat st;
        if (fstat(d->fd, &st) < 0)
                return -errno;
        uint64_t raw;
        if (S_ISREG(st.st_mode)) {
                raw = (uint64_t)st.st_size;
        } else if (S_ISBLK(st.st_mode)) {
                d->info.block_device = true;
                if (ioctl(d->fd, BLKGETSIZE64, &raw) < 0)
                        return -errno;
        } else {
                return -EINVAL;
        }
        bool vhdx = o->format == DISK_FORMAT_VHDX;
        if (!vhdx) {
                if (raw < d->info.block_size)
                        return -EINVAL;
                d->info.size = ALIGN_DOWN(raw, (uint64_t)d->info.block_size);
                if (d->info.size != raw)
                        disk_note(d, "size not a multiple of the block size: tail ignored");
                d->info.max_file_size = raw; /* a raw image keeps its size */
        }
        if (!o->no_lock) {
                if (flock(d->fd, (o->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
                        return errno == EWOULDBLOCK ? -EBUSY : -errno;
                d->locked = true;
        }
        if (vhdx) {
                int r = disk_vhdx_open(d, o);
                if (r < 0)
                        return r;
        }
        disk_setup_direct(d, o, raw);
        disk_probe_discard(d, &st);
        return 0;
}

static void close_given_fds(const struct disk_options *o) {
        if (!o)
                return;
        safe_close(o->fd);
        for (unsigned i = 0; i < o->n_parent_fds; i++)
                safe_close(o->parent_fds[i]);
}

int disk_open(const struct disk_options *o, struct disk **out) {
        int owned_fd = o ? o->fd : -1;
        if (!o || !out || (o->block_size != 0 && o->block_size != 512 && o->block_size != 4096) ||
            o->n_parent_fds > DISK_MAX_PARENTS || (o->n_parent_fds && o->format != DISK_FORMAT_VHDX)) {
                close_given_fds(o);
                return -EINVAL;
        }
        struct disk *d = calloc(1, sizeof *d);
        if (!d) {
                close_given_fds(o);
                return -ENOMEM;
        }
        d->refs = 1;
        d->info.note = d->note;
        disk_qos_init(d);
        /* the parents' fds are the disk's from here, even on error */
        for (unsigned i = 0; i < DISK_MAX_PARENTS; i++)
                d->parent_fds[i] = i < o->n_parent_fds ? o->parent_fds[i] : -1;
        d->info.block_size = o->block_size ? o->block_size : 512;
        d->info.read_only = o->read_only;
        int r = disk_acquire_fd(o, &d->fd);
        if (r < 0) {
                d->fd = owned_fd;
                disk_unref(d);
                return r;
        }
        r = disk_probe(d, o);
        if (r < 0) {
                disk_unref(d);
                return r;
        }
        *out = d;
        return 0;
}

struct disk *disk_ref(struct disk *d) {
        if (d)
                __atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
        return d;
}

void disk_unref(struct disk *d) {
        if (!d || __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        /* The image must be free for the next user (a re-attach, a
         * restarted VM) as soon as we let go. close() releases the flock
         * unless an io_uring still holds the file: one that had it
         * registered and was torn down without unregistering it drops its
         * reference asynchronously, so then unlock explicitly. Queues
         * unregister their files (disk_queue_free, disk_queue_forget_disk),
         * so in the worker this is the exception, and the sandboxed main
         * thread that frees the last disks needs no flock (docs/sandbox.md). */
        disk_vhdx_close(d); /* VHDX: commits, marks the log empty; closes the parents */
        if (d->locked && __atomic_load_n(&d->uring_refs, __ATOMIC_ACQUIRE) > 0)
                (void)flock(d->fd, LOCK_UN);
        safe_close(d->fd);
        free(d->track);
        disk_qos_destroy(d);
        free(d);
}

void disk_release_lock(struct disk *d) {
        /* The lock belongs to the open file description, which vmms may
         * have locked before it handed it over (d->locked is then false):
         * unlock whatever it holds. */
        (void)flock(d->fd, LOCK_UN);
        d->locked = false;
}

void disk_get_info(const struct disk *d, struct disk_info *info) {
        *info = d->info;
        /* disk_resize may grow it meanwhile, from another thread */
        info->size = __atomic_load_n(&d->info.size, __ATOMIC_ACQUIRE);
        info->max_file_size = __atomic_load_n(&d->info.max_file_size, __ATOMIC_ACQUIRE);
}

/* The bytes the image holds now (a file's size, a block device's). */
static int raw_size(const struct disk *d, uint64_t *out) {
        struct stat st;
        if (fstat(d->fd, &st) < 0)
                return -errno;
        if (!d->info.block_device) {
                *out = (uint64_t)st.st_size;
                return 0;
        }
        return ioctl(d->fd, BLKGETSIZE64, out) < 0 ? -errno : 0;
}

uint64_t disk_resize_max_file_size(struct disk *d, uint64_t size) {
        return d->vhdx ? vhdx_max_file_size_at(d->vhdx, size) : size;
}

int disk_resize(struct disk *d, uint64_t size, char *err, size_t errlen) {
        uint64_t now = __atomic_load_n(&d->info.size, __ATOMIC_ACQUIRE), raw = 0;
        if (size % d->info.block_size)
                return errorf(err, errlen, -EINVAL, "%llu bytes are not whole %u-byte blocks",
                              (unsigned long long)size, d->info.block_size);
        if (size < now)
                return errorf(err, errlen, -EINVAL, "shrinking a disk (%llu to %llu bytes) is not supported",
                              (unsigned long long)now, (unsigned long long)size);
        if (d->deferred)
                return errorf(err, errlen, -EBUSY, "the image is still another process's (an incoming migration)");
        if (!d->vhdx) { /* vmms grew the file or the device */
                int r = raw_size(d, &raw);
                if (r < 0)
                        return errorf(err, errlen, r, "reading the image's size: %s", strerror(-r));
                if (ALIGN_DOWN(raw, (uint64_t)d->info.block_size) != size)
                        return errorf(err, errlen, -EINVAL, "the image holds %llu bytes, not %llu: grow it first",
                                      (unsigned long long)raw, (unsigned long long)size);
        }
        if (size == now)
                return 0;
        /* The tracking bitmap is sized for the old size (disk_track_words). */
        if (__atomic_load_n(&d->tracking, __ATOMIC_ACQUIRE))
                return errorf(err, errlen, -EBUSY, "the disk is being copied (a migration)");
        if (d->vhdx) {
                int r = vhdx_grow(d->vhdx, size, err, errlen);
                if (r < 0)
                        return r;
                raw = vhdx_max_file_size(d->vhdx);
        }
        free(TAKE_PTR(d->track));
        __atomic_store_n(&d->info.max_file_size, MAX(d->info.max_file_size, raw), __ATOMIC_RELEASE);
        __atomic_store_n(&d->info.size, size, __ATOMIC_RELEASE);
        return 0;
}

bool disk_iov_direct_ok(const struct disk *d, const struct iovec *iov, unsigned n) {
        uintptr_t mem_mask = d->info.dio_mem_align - 1, len_mask = d->info.dio_len_align - 1;
        if (n > DISK_MAX_IOV)
                return false;
        for (unsigned i = 0; i < n; i++)
                if (((uintptr_t)iov[i].iov_base & mem_mask) || (iov[i].iov_len & len_mask))
                        return false;
        return true;
}
