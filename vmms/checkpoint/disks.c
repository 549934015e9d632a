// SPDX-License-Identifier: MIT
/* What a checkpoint does to a VM's disks (docs/checkpoints.md "Disks"):
 *
 *  take    VHDX: a differencing child of the current image, in its
 *          directory, named <stem>_<8 hex of the checkpoint id>.avhdx; the
 *          VM goes on on the child, the current image is frozen.
 *          Raw: a reflinked copy (FICLONE) <path>.<8 hex>.ckpt; the VM
 *          goes on on its file. Read-only disks: nothing.
 *  revert  VHDX: a new child of the checkpoint's frozen image. Raw: the
 *          copy reflinked back over the disk.
 *  compact images vmms made that nothing needs go; a present image vmms
 *          made whose parent nothing else needs is merged into that parent
 *          (vhdx_merge_into_parent), which takes its place: deleting every
 *          checkpoint leaves the VM on its own image again.
 *
 * Every file is opened or created by vmms as the VM's owner under the
 * path policy (files.c); images are read with the vhdx library. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "checkpoint/checkpoint.h"
#include "common/fd-util.h"
#include "vhdx/vhdx.h"
#include "core/daemon.h"
#include "host/host.h"

/* "<dir>/<stem>_<8 hex>.avhdx"; the stem drops an earlier "_<8 hex>" of ours. */
int vmms_ckpt_child_name(const char *image, const struct guid *id, char *out, size_t len) {
        const char *base = strrchr(image, '/');
        base = base ? base + 1 : image;
        const char *dot = strrchr(base, '.');
        size_t stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
        if (stem > 9 && base[stem - 9] == '_' && dot && !strcmp(dot, ".avhdx")) {
                bool hex = true;
                for (size_t i = stem - 8; i < stem; i++)
                        hex = hex && ((base[i] >= '0' && base[i] <= '9') || (base[i] >= 'a' && base[i] <= 'f'));
                if (hex)
                        stem -= 9;
        }
        char g[GUID_STRING_MAX];
        guid_to_string(id, g);
        int n = snprintf(out, len, "%.*s%.*s_%.8s.avhdx", (int)(base - image), image, (int)stem, base, g);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const char *base_name(const char *p) {
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

/* Opens an image read-only as the owner and reads it as it is on disk (no
 * replay). clean: refuse one whose log awaits a replay (a parent for a new
 * child must be complete); a running VM's own image always has a log. */
static int inspect(struct vmms_vm *vm, const struct vmms_cred *as, const char *path, bool clean, int *fd,
                   struct vhdx **v, char *err, size_t errlen) {
        char why[1024];
        *fd = vmms_file_open(&vm->d->opt.paths, path, VMMS_FILE_DISK_RO, as, why, sizeof why);
        if (*fd < 0)
                return snprintf(err, errlen, "%s", why), *fd;
        int r = vhdx_open(*fd, VHDX_OPEN_INSPECT, v, why, sizeof why);
        if (r < 0) {
                *fd = safe_close(*fd);
                return snprintf(err, errlen, "%s: %s", path, why), r;
        }
        struct vhdx_info info;
        vhdx_get_info(*v, &info);
        if (clean && info.log_replayed) {
                vhdx_close(*v);
                *fd = safe_close(*fd);
                return snprintf(err, errlen, "%s was not closed cleanly and its log must be replayed: start the VM "
                                             "once first", path), -EROFS;
        }
        return 0;
}

static int child_of(struct vmms_vm *vm, const struct vmms_cred *as, const char *parent, const char *child,
                    char *err, size_t errlen) {
        int pfd, r;
        struct vhdx *p;
        if ((r = inspect(vm, as, parent, true, &pfd, &p, err, errlen)) < 0)
                return r;
        char why[1024];
        int cfd = vmms_file_create(&vm->d->opt.paths, child, as, why, sizeof why);
        if (cfd < 0) {
                snprintf(err, errlen, "%s", why);
                r = cfd;
        } else {
                struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent = p,
                                                 .parent_relative = base_name(parent) };
                if ((r = vhdx_create(cfd, &o, why, sizeof why)) < 0) {
                        snprintf(err, errlen, "%s: %s", child, why);
                        (void)unlink(child);
                }
                close(cfd);
        }
        vhdx_close(p);
        close(pfd);
        return r;
}

/* dst gets src's content by reflink (FICLONE): instant and sharing space,
 * on btrfs and XFS; elsewhere refused with the way out. */
static int reflink(int dst, int src, const char *what, char *err, size_t errlen) {
        struct stat st;
        if (fstat(src, &st) < 0 || ftruncate(dst, 0) < 0)
                return -errno;
        if (ioctl(dst, FICLONE, src) < 0) {
                int e = errno;
                if (e == EOPNOTSUPP || e == EXDEV || e == EINVAL || e == ENOTTY)
                        snprintf(err, errlen, "%s is a raw image on a file system without reflinks (FICLONE: %s): "
                                              "convert it to VHDX (vmctl disk convert) to checkpoint it",
                                 what, strerror(e));
                else
                        snprintf(err, errlen, "%s: FICLONE: %s", what, strerror(e));
                return -e;
        }
        return 0;
}

static int raw_copy(struct vmms_vm *vm, const struct vmms_cred *as, const char *disk, const char *copy, char *err,
                    size_t errlen) {
        char why[1024];
        _cleanup_close_ int sfd = vmms_file_open(&vm->d->opt.paths, disk, VMMS_FILE_DISK_RO, as, why, sizeof why);
        if (sfd < 0)
                return snprintf(err, errlen, "%s", why), sfd;
        _cleanup_close_ int cfd = vmms_file_create(&vm->d->opt.paths, copy, as, why, sizeof why);
        if (cfd < 0)
                return snprintf(err, errlen, "%s", why), cfd;
        int r = reflink(cfd, sfd, disk, err, errlen);
        if (r < 0)
                (void)unlink(copy);
        return r;
}

/* Own what was made (the index remembers it); a file we cannot own (the
 * set is full) is refused rather than leaked. */
static int own(struct vmms_vm *vm, const char *path, char *err, size_t errlen) {
        int r = vmms_checkpoints_own(vm->ckpts, path);
        if (r < 0) {
                (void)unlink(path);
                snprintf(err, errlen, "%s: vmms keeps at most %u image files for a VM's checkpoints", path,
                         VMMS_CHECKPOINT_OWNED_MAX);
        }
        return r;
}

static int take_disk(struct vmms_vm *vm, const struct vmms_cred *as, struct vmms_checkpoint *c, uint32_t i,
                     struct vm_config *next, char *err, size_t errlen) {
        const struct vm_disk_config *dc = &vm->config->disks[i];
        struct vmms_ckpt_disk *d = &c->disks[i];
        snprintf(d->image, sizeof d->image, "%s", dc->path);
        if (dc->read_only) {
                d->kind = VMMS_CKPT_DISK_UNCHANGED;
                return 0;
        }
        int r;
        if (dc->format == VM_DISK_VHDX) {
                d->kind = VMMS_CKPT_DISK_VHDX;
                char child[VM_PATH_MAX];
                if ((r = vmms_ckpt_child_name(dc->path, &c->id, child, sizeof child)) < 0 ||
                    (r = child_of(vm, as, dc->path, child, err, errlen)) < 0 || (r = own(vm, child, err, errlen)) < 0)
                        return r;
                snprintf(next->disks[i].path, sizeof next->disks[i].path, "%s", child);
                return 0;
        }
        d->kind = VMMS_CKPT_DISK_RAW_COPY;
        char g[GUID_STRING_MAX];
        int n = snprintf(d->image, sizeof d->image, "%s.%.8s.ckpt", dc->path, guid_to_string(&c->id, g));
        if (n < 0 || (size_t)n >= sizeof d->image)
                return -ENAMETOOLONG;
        if ((r = raw_copy(vm, as, dc->path, d->image, err, errlen)) < 0)
                return r;
        return own(vm, d->image, err, errlen);
}

int vmms_ckpt_take_disks(struct vmms_vm *vm, const struct vmms_cred *as, struct vmms_checkpoint *c,
                         struct vm_config *next, char *err, size_t errlen) {
        c->n_disks = vm->config->n_disks;
        c->disks = calloc(c->n_disks ? c->n_disks : 1, sizeof *c->disks);
        if (!c->disks)
                return -ENOMEM;
        int r = 0;
        err[0] = 0;
        for (uint32_t i = 0; r == 0 && i < c->n_disks; i++) {
                r = take_disk(vm, as, c, i, next, err, errlen);
                if (r < 0 && !err[0])
                        snprintf(err, errlen, "disks[%u]: %s", i, strerror(-r));
        }
        if (r < 0) /* all or nothing: what this attempt made goes */
                vmms_ckpt_drop_disks(vm, c, next);
        return r;
}

void vmms_ckpt_drop_disks(struct vmms_vm *vm, const struct vmms_checkpoint *c, const struct vm_config *next) {
        for (uint32_t i = 0; i < c->n_disks && i < next->n_disks; i++) {
                const char *made = c->disks[i].kind == VMMS_CKPT_DISK_VHDX     ? next->disks[i].path
                                   : c->disks[i].kind == VMMS_CKPT_DISK_RAW_COPY ? c->disks[i].image
                                                                                 : NULL;
                /* only what this checkpoint made: an owned file of its name */
                if (made && made[0] && vmms_checkpoints_owns(vm->ckpts, made) && strcmp(made, vm->config->disks[i].path)) {
                        (void)unlink(made);
                        vmms_checkpoints_disown(vm->ckpts, made);
                }
        }
}

int vmms_ckpt_revert_disks(struct vmms_vm *vm, const struct vmms_cred *as, const struct vmms_checkpoint *k,
                           const struct guid *new_id, struct vm_config *next, char *err, size_t errlen) {
        if (k->n_disks != next->n_disks)
                return snprintf(err, errlen, "the checkpoint has %u disks, its configuration %u", k->n_disks,
                                next->n_disks), -EINVAL;
        int r = 0;
        uint32_t i;
        err[0] = 0;
        for (i = 0; r == 0 && i < k->n_disks; i++) {
                const struct vmms_ckpt_disk *d = &k->disks[i];
                if (d->kind == VMMS_CKPT_DISK_VHDX) {
                        char child[VM_PATH_MAX];
                        if ((r = vmms_ckpt_child_name(d->image, new_id, child, sizeof child)) == 0 &&
                            (r = child_of(vm, as, d->image, child, err, errlen)) == 0 &&
                            (r = own(vm, child, err, errlen)) == 0)
                                snprintf(next->disks[i].path, sizeof next->disks[i].path, "%s", child);
                } else if (d->kind == VMMS_CKPT_DISK_RAW_COPY) {
                        char why[1024] = "";
                        _cleanup_close_ int src = vmms_file_open(&vm->d->opt.paths, d->image, VMMS_FILE_DISK_RO, as,
                                                                 why, sizeof why);
                        _cleanup_close_ int dst = src < 0 ? -1 : vmms_file_open(&vm->d->opt.paths, next->disks[i].path,
                                                                                VMMS_FILE_DISK_RW, as, why, sizeof why);
                        r = src < 0 ? src : dst < 0 ? dst : reflink(dst, src, next->disks[i].path, err, errlen);
                        if (r < 0 && !err[0])
                                snprintf(err, errlen, "%s", why);
                }
                if (r < 0 && !err[0])
                        snprintf(err, errlen, "disks[%u]: %s", i, strerror(-r));
        }
        if (r < 0) /* new children made so far go; a raw disk already copied back stays reverted */
                for (uint32_t j = 0; j + 1 < i; j++)
                        if (k->disks[j].kind == VMMS_CKPT_DISK_VHDX) {
                                (void)unlink(next->disks[j].path);
                                vmms_checkpoints_disown(vm->ckpts, next->disks[j].path);
                        }
        return r;
}

int vmms_ckpt_parent_of(struct vmms_vm *vm, const struct vmms_cred *as, const char *image, char *parent, size_t len) {
        char err[2 * VM_PATH_MAX + 64]; /* inspect's "<path>: <reason>" */
        int fd, r;
        struct vhdx *v;
        if ((r = inspect(vm, as, image, false, &fd, &v, err, sizeof err)) < 0)
                return r;
        struct vhdx_info info;
        vhdx_get_info(v, &info);
        r = info.type != VHDX_DIFFERENCING ? 0 : vhdx_parent_path(image, &info, parent, len) < 0 ? -ENAMETOOLONG : 1;
        vhdx_close(v);
        close(fd);
        return r;
}

/* ---- what is needed, and compaction ---- */

/* The set of images something needs: every checkpoint's, the present
 * configuration's, and all their ancestors (by locator). */
struct image_set {
        char (*p)[VM_PATH_MAX];
        size_t n, cap;
};

static bool set_has(const struct image_set *s, const char *path) {
        for (size_t i = 0; i < s->n; i++)
                if (!strcmp(s->p[i], path))
                        return true;
        return false;
}

static int set_add(struct image_set *s, const char *path) {
        if (set_has(s, path))
                return 0;
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 32;
                void *p = realloc(s->p, cap * sizeof *s->p);
                if (!p)
                        return -ENOMEM;
                s->p = p, s->cap = cap;
        }
        snprintf(s->p[s->n++], VM_PATH_MAX, "%s", path);
        return 0;
}

/* path and its ancestors (a VHDX chain; at most VHDX_CHAIN_MAX deep). An
 * image that cannot be read fails the whole walk: a chain cut short would
 * make its ancestors look unneeded. */
static int add_chain(struct vmms_vm *vm, const struct vmms_cred *as, struct image_set *s, const char *path,
                     bool vhdx) {
        char cur[VM_PATH_MAX], parent[VM_PATH_MAX];
        snprintf(cur, sizeof cur, "%s", path);
        for (unsigned depth = 0; depth <= VHDX_CHAIN_MAX; depth++) {
                int r = set_add(s, cur);
                if (r < 0 || !vhdx || (r = vmms_ckpt_parent_of(vm, as, cur, parent, sizeof parent)) <= 0)
                        return r;
                snprintf(cur, sizeof cur, "%s", parent);
        }
        return -ELOOP;
}

/* Needed images; skip (may be -1) is a disk of the configuration left out. */
static int needed(struct vmms_vm *vm, const struct vmms_cred *as, const struct vm_config *cfg, int skip,
                  struct image_set *s) {
        int r = 0;
        for (uint32_t i = 0; r == 0 && i < vm->ckpts->n; i++)
                for (uint32_t k = 0; r == 0 && k < vm->ckpts->c[i]->n_disks; k++)
                        r = add_chain(vm, as, s, vm->ckpts->c[i]->disks[k].image,
                                      vm->ckpts->c[i]->disks[k].kind == VMMS_CKPT_DISK_VHDX);
        for (uint32_t i = 0; r == 0 && i < cfg->n_disks; i++)
                if ((int)i != skip)
                        r = add_chain(vm, as, s, cfg->disks[i].path, cfg->disks[i].format == VM_DISK_VHDX);
        return r;
}

void vmms_ckpt_remove_unneeded(struct vmms_vm *vm, const struct vmms_cred *as) {
        struct image_set s = { 0 };
        int r = needed(vm, as, vm->config, -1, &s);
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "checkpoint images not cleaned up: a chain cannot be read: %m");
        else
                for (uint32_t i = 0; i < vm->ckpts->n_owned;) {
                        if (set_has(&s, vm->ckpts->owned[i])) {
                                i++;
                                continue;
                        }
                        if (unlink(vm->ckpts->owned[i]) < 0 && errno != ENOENT)
                                vmms_vm_log(vm, LOG_LEVEL_WARNING, -errno, "cannot remove %s: %m", vm->ckpts->owned[i]);
                        else
                                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "removed %s (no checkpoint needs it)",
                                            vm->ckpts->owned[i]);
                        vmms_checkpoints_disown(vm->ckpts, vm->ckpts->owned[i]);
                }
        free(s.p);
}

int vmms_ckpt_next_pop(struct vmms_vm *vm, const struct vmms_cred *as, const struct vm_config *cfg,
                       char parent[static VM_PATH_MAX]) {
        for (uint32_t i = 0; i < cfg->n_disks; i++) {
                const struct vm_disk_config *dc = &cfg->disks[i];
                if (dc->read_only || dc->format != VM_DISK_VHDX || !vmms_checkpoints_owns(vm->ckpts, dc->path) ||
                    vmms_ckpt_parent_of(vm, as, dc->path, parent, VM_PATH_MAX) <= 0)
                        continue;
                struct image_set s = { 0 };
                bool busy = needed(vm, as, cfg, (int)i, &s) < 0 || set_has(&s, parent);
                free(s.p);
                if (!busy)
                        return (int)i;
        }
        return -1;
}

/* ---- merging (vmms_ckpt_job's thread) ---- */

struct vmms_ckpt_merge {
        int pfd, cfd;
        bool stop;      /* set by the loop (vmms_ckpt_merge_stop), read by the thread */
        uint64_t *done; /* the job's progress counter */
        char top[VM_PATH_MAX], parent[VM_PATH_MAX];
        char err[2 * VM_PATH_MAX + 256];
};

int vmms_ckpt_merge_prepare(struct vmms_vm *vm, const struct vmms_cred *as, const char *top, const char *parent,
                            struct vmms_ckpt_merge **out, char *err, size_t errlen) {
        struct vmms_ckpt_merge *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        snprintf(m->top, sizeof m->top, "%s", top);
        snprintf(m->parent, sizeof m->parent, "%s", parent);
        char why[1024];
        m->cfd = vmms_file_open(&vm->d->opt.paths, top, VMMS_FILE_DISK_RO, as, why, sizeof why);
        m->pfd = m->cfd < 0 ? -1 : vmms_file_open(&vm->d->opt.paths, parent, VMMS_FILE_DISK_RW, as, why, sizeof why);
        int r = m->cfd < 0 ? m->cfd : m->pfd;
        /* Nobody may use either meanwhile: a worker (or another VM) holds a lock. */
        if (r >= 0 && (flock(m->pfd, LOCK_EX | LOCK_NB) < 0 || flock(m->cfd, LOCK_EX | LOCK_NB) < 0)) {
                r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                snprintf(why, sizeof why, "%s or %s is in use", top, parent);
        }
        if (r < 0) {
                snprintf(err, errlen, "%s", why);
                vmms_ckpt_merge_free(m);
                return r;
        }
        *out = m;
        return 0;
}

static bool merge_progress(void *opaque, uint64_t bytes) {
        struct vmms_ckpt_merge *m = opaque;
        __atomic_store_n(m->done, bytes, __ATOMIC_RELAXED);
        return !__atomic_load_n(&m->stop, __ATOMIC_RELAXED);
}

void vmms_ckpt_merge_stop(struct vmms_ckpt_merge *m) {
        if (m)
                __atomic_store_n(&m->stop, true, __ATOMIC_RELAXED);
}

int vmms_ckpt_merge_run(void *opaque, uint64_t *done, uint64_t *total) {
        struct vmms_ckpt_merge *m = opaque;
        m->done = done;
        struct vhdx *p = NULL, *c = NULL;
        int r = vhdx_open(m->pfd, VHDX_OPEN_WRITABLE, &p, m->err, sizeof m->err);
        if (r == 0)
                r = vhdx_open(m->cfd, 0, &c, m->err, sizeof m->err);
        if (r == 0)
                r = vhdx_set_parent(c, p, m->err, sizeof m->err);
        uint64_t bytes = 0;
        if (r == 0) {
                struct vhdx_info info;
                vhdx_get_info(c, &info);
                __atomic_store_n(total, info.blocks_present * info.block_size, __ATOMIC_RELAXED);
                if ((r = vhdx_merge_into_parent(c, p, merge_progress, m, &bytes)) < 0)
                        snprintf(m->err, sizeof m->err, "merging %s into %s: %s", m->top, m->parent,
                                 r == -ECANCELED ? "stopped (vmms is ending): it goes on when vmms starts again"
                                                 : strerror(-r));
        }
        __atomic_store_n(done, bytes, __ATOMIC_RELAXED);
        (void)vhdx_close(c);
        int k = vhdx_close(p);
        if (r == 0 && k < 0)
                snprintf(m->err, sizeof m->err, "%s: %s", m->parent, strerror(-k));
        return r < 0 ? r : k;
}

const char *vmms_ckpt_merge_error(const struct vmms_ckpt_merge *m) {
        return m->err;
}

const char *vmms_ckpt_merge_parent(const struct vmms_ckpt_merge *m) {
        return m->parent;
}

void vmms_ckpt_merge_free(struct vmms_ckpt_merge *m) {
        if (!m)
                return;
        safe_close(m->pfd);
        safe_close(m->cfd);
        free(m);
}
