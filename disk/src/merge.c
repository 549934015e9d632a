// SPDX-License-Identifier: MIT
/* Merging a running VHDX disk into its parent (disk/disk.h,
 * docs/checkpoints.md "Merging while the VM runs"): the passes of a live
 * migration's disk copy (copy.c's write tracking), with vhdx's
 * incremental merge, and at the end the disk moved onto the parent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "disk-internal.h"

#define MERGE_BUF (4u << 20)

struct disk_merge {
        struct disk *d;
        int pfd;
        struct vhdx *p; /* the parent, writable */
        uint8_t *buf;
        uint64_t *dirty; /* chunks to copy in the next pass */
        size_t words;
        bool first_done;
};

static int same_file(int a, int b) {
        struct stat sa, sb;
        if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
                return -errno;
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int disk_merge_prepare(struct disk *d, int pfd, struct disk_merge **out, char *err, size_t errlen) {
        char why[512] = "";
        int r = 0;
        struct disk_merge *m = calloc(1, sizeof *m);
        if (!m) {
                safe_close(pfd);
                return -ENOMEM;
        }
        *m = (struct disk_merge){ .d = d, .pfd = pfd, .words = disk_track_words(d) };
        if (!d->vhdx || d->info.read_only || d->n_parents == 0 || d->deferred) {
                r = -EINVAL, snprintf(why, sizeof why, "not a writable differencing VHDX disk");
        } else if ((r = same_file(pfd, d->parent_fds[0])) <= 0) {
                r = r < 0 ? r : -EINVAL;
                snprintf(why, sizeof why, "the file given is not the disk's parent");
        } else {
                r = 0;
        }
        /* Exclusive from now on: the shared lock of our read-only
         * description goes, the writable one takes it exclusively. */
        bool unlocked = false;
        if (r == 0) {
                (void)flock(d->parent_fds[0], LOCK_UN);
                unlocked = true;
                if (flock(pfd, LOCK_EX | LOCK_NB) < 0)
                        r = errno == EWOULDBLOCK ? -EBUSY : -errno,
                        snprintf(why, sizeof why, "the parent is in use elsewhere");
        }
        if (r == 0 && (r = vhdx_open(pfd, VHDX_OPEN_WRITABLE, &m->p, why, sizeof why)) == 0 && d->n_parents > 1)
                r = vhdx_set_parent(m->p, d->parents[1], why, sizeof why); /* the chain below stays */
        if (r == 0 && (r = vhdx_merge_begin(d->vhdx, m->p)) < 0)
                snprintf(why, sizeof why, "the parent's size or sector size differs");
        if (r == 0 && (posix_memalign((void **)&m->buf, 4096, MERGE_BUF) != 0 ||
                       !(m->dirty = calloc(m->words, sizeof *m->dirty))))
                r = -ENOMEM, snprintf(why, sizeof why, "out of memory");
        if (r == 0 && (r = disk_track_start(d)) < 0)
                snprintf(why, sizeof why, "tracking its writes: %s", strerror(-r));
        if (r < 0) {
                if (m->p) {
                        vhdx_merge_abandon(m->p);
                        (void)vhdx_close(m->p);
                }
                safe_close(m->pfd);
                if (unlocked)
                        (void)flock(d->parent_fds[0], LOCK_SH | LOCK_NB);
                free(m->buf), free(m->dirty), free(m);
                snprintf(err, errlen, "%s", why);
                return r;
        }
        *out = m;
        return 0;
}

static int copy_chunk(struct disk_merge *m, uint64_t c, uint64_t *copied) {
        uint64_t off = c * DISK_TRACK_CHUNK, size = m->d->info.size;
        if (off >= size)
                return 0;
        return vhdx_merge_range(m->d->vhdx, m->p, off, MIN(size - off, (uint64_t)DISK_TRACK_CHUNK), m->buf, MERGE_BUF,
                                copied);
}

static int copy_dirty(struct disk_merge *m, uint64_t *copied) {
        int r = 0;
        for (size_t w = 0; r == 0 && w < m->words; w++)
                for (; r == 0 && m->dirty[w]; m->dirty[w] &= m->dirty[w] - 1)
                        r = copy_chunk(m, (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(m->dirty[w]), copied);
        return r;
}

int disk_merge_pass(struct disk_merge *m, uint64_t *copied, uint64_t *dirty) {
        int r = 0;
        if (!m->first_done) {
                for (uint64_t c = 0; r == 0 && c * DISK_TRACK_CHUNK < m->d->info.size; c++)
                        r = copy_chunk(m, c, copied);
                m->first_done = true;
        } else {
                r = copy_dirty(m, copied);
        }
        if (r < 0)
                return r;
        disk_track_take(m->d, m->dirty);
        uint64_t n = 0;
        for (size_t w = 0; w < m->words; w++)
                n += (uint64_t)__builtin_popcountll(m->dirty[w]);
        *dirty = n * DISK_TRACK_CHUNK;
        return 0;
}

uint64_t disk_merge_max_file_size(const struct disk_merge *m) {
        return vhdx_max_file_size(m->p);
}

int disk_merge_finish(struct disk_merge *m, uint64_t *copied, char *err, size_t errlen) {
        struct disk *d = m->d;
        uint64_t dirty;
        int r = disk_merge_pass(m, copied, &dirty); /* everything so far, quiesced: nothing more comes */
        if (r == 0)
                r = copy_dirty(m, copied);
        if (r == 0 && (r = vhdx_merge_end(d->vhdx, m->p)) < 0)
                snprintf(err, errlen, "making the parent durable: %s", strerror(-r));
        else if (r < 0)
                snprintf(err, errlen, "copying into the parent: %s", strerror(-r));
        if (r == 0 && d->info.direct && (r = disk_set_direct(m->pfd, true)) < 0)
                snprintf(err, errlen, "O_DIRECT on the parent: %s", strerror(-r));
        if (r < 0) {
                disk_merge_abort(m);
                return r;
        }
        /* The parent holds everything and says so (its DataWriteGuid): the
         * disk runs on it. */
        disk_track_stop(d);
        (void)vhdx_close(d->vhdx); /* quiesced: writes its clean header */
        safe_close(d->fd);
        (void)vhdx_close(d->parents[0]);
        safe_close(d->parent_fds[0]);
        d->n_parents--;
        memmove(&d->parents[0], &d->parents[1], d->n_parents * sizeof d->parents[0]);
        memmove(&d->parent_fds[0], &d->parent_fds[1], d->n_parents * sizeof d->parent_fds[0]);
        d->parents[d->n_parents] = NULL;
        d->parent_fds[d->n_parents] = -1;
        d->vhdx = m->p;
        d->fd = m->pfd;
        d->locked = true;
        d->fd_gen++;
        d->info.chain_depth = d->n_parents;
        d->info.max_file_size = MAX(d->info.max_file_size, vhdx_max_file_size(m->p));
        free(m->buf), free(m->dirty), free(m);
        return 0;
}

void disk_merge_abort(struct disk_merge *m) {
        if (!m)
                return;
        disk_track_stop(m->d);
        vhdx_merge_abandon(m->p);
        (void)vhdx_close(m->p);
        (void)flock(m->pfd, LOCK_UN);
        safe_close(m->pfd);
        (void)flock(m->d->parent_fds[0], LOCK_SH | LOCK_NB);
        free(m->buf), free(m->dirty), free(m);
}
