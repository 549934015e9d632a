// SPDX-License-Identifier: MIT
/* A VHDX disk's parents, opened for the worker (vmms/disk-chain.h). Every
 * image is parsed here only to follow and check the chain (INSPECT: no
 * write, no replay); the worker parses them again for its data path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "vmms/disk-chain.h"

struct chain_walk {
        struct vhdx *img[VHDX_CHAIN_MAX + 1]; /* [0] the disk, then its parents */
        struct stat id[VHDX_CHAIN_MAX + 1];
        size_t n;
};

static void chain_walk_done(struct chain_walk *w) {
        for (size_t i = 0; i < w->n; i++)
                (void)vhdx_close(w->img[i]); /* INSPECT: frees, writes nothing */
}

static bool chain_has(const struct chain_walk *w, const struct stat *st) {
        for (size_t i = 0; i < w->n; i++)
                if (w->id[i].st_dev == st->st_dev && w->id[i].st_ino == st->st_ino)
                        return true;
        return false;
}

/* Parses the image at fd as the next of the chain. */
static int chain_add(struct chain_walk *w, int fd, const char *path, struct vhdx_info *info, char *err,
                     size_t errlen) {
        char why[512];
        struct stat st;
        if (fstat(fd, &st) < 0)
                return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno;
        if (chain_has(w, &st))
                return snprintf(err, errlen, "%s: a loop of parents (the image is already in the chain)", path),
                       -ELOOP;
        struct vhdx *v;
        int r = vhdx_open(fd, VHDX_OPEN_INSPECT, &v, why, sizeof why);
        if (r < 0)
                return snprintf(err, errlen, "%s: not a usable VHDX image: %s", path, why), r;
        w->img[w->n] = v, w->id[w->n] = st, w->n++;
        vhdx_get_info(v, info);
        return 0;
}

static int refuse_replay(const char *path, const char *what, char *err, size_t errlen) {
        snprintf(err, errlen,
                 "%s: %s was not closed cleanly and its log must be replayed, which needs write access: "
                 "use it once as a writable disk",
                 path, what);
        return -EROFS;
}

/* Opens, locks and checks the parent of the last image of the walk. */
static int chain_next(struct chain_walk *w, const char *child, const struct vhdx_info *cinfo,
                      vmms_parent_open_fn open_parent, void *opaque, struct vmms_disk_chain *out,
                      char ppath[static VHDX_PATH_MAX], struct vhdx_info *pinfo, char *err, size_t errlen) {
        char why[VHDX_PATH_MAX + 512];
        if (out->n >= VHDX_CHAIN_MAX)
                return snprintf(err, errlen, "%s: the chain of parents is deeper than %u", child,
                                (unsigned)VHDX_CHAIN_MAX),
                       -ELOOP;
        int r = vhdx_parent_path(child, cinfo, ppath, VHDX_PATH_MAX);
        if (r < 0)
                return snprintf(err, errlen, "%s: a differencing image %s", child,
                                r == -ENOENT ? "without a parent locator" : "whose parent's path is too long"),
                       r;
        int fd = open_parent(opaque, ppath, why, sizeof why);
        if (fd < 0)
                return snprintf(err, errlen, "%s: parent %s", child, why), fd;
        out->fds[out->n++] = fd;
        /* Shared: chains may share a base, but no writer may change it
         * under them (a writable disk holds LOCK_EX, vmms/worker/spawn.c). */
        if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
                int e = errno;
                if (e != EWOULDBLOCK)
                        return snprintf(err, errlen, "%s: parent %s: locking: %s", child, ppath, strerror(e)), -e;
                return snprintf(err, errlen, "%s: parent %s is in use by another VM", child, ppath), -EBUSY;
        }
        if ((r = chain_add(w, fd, ppath, pinfo, why, sizeof why)) < 0)
                return snprintf(err, errlen, "%s: parent %s", child, why), r;
        if (pinfo->log_replayed)
                return refuse_replay(child, "its parent", err, errlen);
        if ((r = vhdx_set_parent(w->img[w->n - 2], w->img[w->n - 1], why, sizeof why)) < 0)
                return snprintf(err, errlen, "%s: parent %s: %s", child, ppath, why), r;
        return 0;
}

int vmms_disk_chain_open(int fd, const char *path, bool read_only, vmms_parent_open_fn open_parent, void *opaque,
                         struct vmms_disk_chain *out, char *err, size_t errlen) {
        _cleanup_(chain_walk_done) struct chain_walk w = { .n = 0 };
        /* The current image's and its parent's, alternately (8 KiB each). */
        _cleanup_free_ struct chain_pair {
                char paths[2][VHDX_PATH_MAX];
                struct vhdx_info info[2];
        } *b = malloc(sizeof *b);
        out->n = 0;
        if (!b)
                return -ENOMEM;
        char (*paths)[VHDX_PATH_MAX] = b->paths;
        struct vhdx_info *info = b->info;
        int r = chain_add(&w, fd, path, &info[0], err, errlen);
        if (r < 0)
                return r;
        /* After an INSPECT open, log_replayed says a replay is pending. */
        if (read_only && info[0].log_replayed)
                return refuse_replay(path, "the image", err, errlen);
        snprintf(paths[0], sizeof paths[0], "%s", path);
        for (size_t k = 0; info[k & 1].type == VHDX_DIFFERENCING; k++) {
                r = chain_next(&w, paths[k & 1], &info[k & 1], open_parent, opaque, out, paths[(k + 1) & 1],
                               &info[(k + 1) & 1], err, errlen);
                if (r < 0) {
                        vmms_disk_chain_done(out);
                        return r;
                }
        }
        return 0;
}

void vmms_disk_chain_done(struct vmms_disk_chain *c) {
        for (size_t i = 0; i < c->n; i++)
                safe_close(c->fds[i]);
        c->n = 0;
}
