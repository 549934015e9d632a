// SPDX-License-Identifier: MIT
/* A storage pool's images over D-Bus (docs/dbus-api.md "Storage pools"):
 * ListPoolImages (anyone: the directory is read with the caller's
 * file-system identity, so it shows what the caller could see with ls),
 * CreatePoolImage and DeletePoolImage (the manage action, and then the
 * caller's own rights on the pool, as vmctl's disk commands have). A pool
 * is named by its directory exactly as --storage-pool gave it, an image by
 * a plain name in it (vmms_pool_name_check: no '/', no ".."): nothing here
 * leaves the pools' top directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "host/host.h"
#include "vhdx/vhdx.h"

struct pool_image {
        char name[VMMS_POOL_IMAGE_NAME_MAX + 1];
        const char *format;
        uint64_t virtual_size, file_size;
};

static int pool_arg(struct vmms_daemon *d, const char *dir, const struct vmms_pool **out, sd_bus_error *e) {
        *out = vmms_pool_find(&d->opt.paths, dir);
        if (!*out)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "pool: '%.200s' is not a storage pool (GetHostCapabilities' storage_pools "
                                         "lists them; vmms --storage-pool adds one)", dir);
        return 0;
}

static int caller(sd_bus_message *m, struct vmms_cred *cred, sd_bus_error *e) {
        int r = vmms_auth_caller_cred(m, cred);
        if (r < 0)
                return sd_bus_error_set_errnof(e, r, "cannot determine the caller's identity: %s", strerror(-r));
        return 0;
}

/* A VHDX's virtual size from its headers (0 when it cannot be read). */
static uint64_t vhdx_size(int dfd, const char *name) {
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        struct vhdx *v = NULL;
        struct vhdx_info info = { 0 };
        char err[256];
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || vhdx_open(fd, VHDX_OPEN_INSPECT, &v, err, sizeof err) < 0)
                return 0;
        vhdx_get_info(v, &info);
        vhdx_close(v);
        return info.virtual_size;
}

/* The pool's regular files (no directories, links, hidden names), at most
 * VMMS_POOL_IMAGES_MAX, as the current identity. */
static int read_pool(const char *dir, struct pool_image *out, size_t *n) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        DIR *dp = fdopendir(dfd);
        if (!dp)
                return safe_close(dfd), -errno;
        struct dirent *de;
        *n = 0;
        while (*n < VMMS_POOL_IMAGES_MAX && (de = readdir(dp))) {
                struct stat st;
                char why[160];
                if (vmms_pool_name_check(de->d_name, "name", why, sizeof why) < 0 ||
                    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                struct pool_image *img = &out[(*n)++];
                snprintf(img->name, sizeof img->name, "%s", de->d_name);
                img->format = vmms_pool_image_format(img->name);
                img->file_size = (uint64_t)st.st_blocks * 512;
                img->virtual_size = strcmp(img->format, "vhdx") ? (uint64_t)st.st_size : vhdx_size(dfd, de->d_name);
        }
        closedir(dp);
        return 0;
}

static int by_name(const void *a, const void *b) {
        return strcmp(((const struct pool_image *)a)->name, ((const struct pool_image *)b)->name);
}

static bool config_uses(const struct vm_config *c, const char *path) {
        if (!strcmp(c->kernel, path) || !strcmp(c->initrd, path))
                return true;
        for (uint32_t i = 0; i < c->n_disks && i < VM_DISKS_MAX; i++)
                if (!strcmp(c->disks[i].path, path))
                        return true;
        for (uint32_t i = 0; i < c->n_dvds && i < VM_DVD_DRIVES_MAX; i++)
                if (!strcmp(c->dvds[i].path, path))
                        return true;
        return false;
}

/* The first VM whose configuration names pool/name, or NULL. */
static struct vmms_vm *user_of(struct vmms_daemon *d, const char *path, size_t from, size_t *at) {
        for (size_t i = from; i < d->n_vms; i++)
                if (config_uses(d->vms[i]->config, path))
                        return *at = i, d->vms[i];
        return NULL;
}

static int append_image(struct vmms_daemon *d, sd_bus_message *reply, const char *dir, const struct pool_image *img) {
        char path[PATH_MAX];
        size_t at = 0;
        snprintf(path, sizeof path, "%s/%s", dir, img->name);
        int r = sd_bus_message_open_container(reply, 'r', "ssttas");
        if (r >= 0)
                r = sd_bus_message_append(reply, "sstt", img->name, img->format, img->virtual_size, img->file_size);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "s");
        for (struct vmms_vm *vm = user_of(d, path, 0, &at); r >= 0 && vm; vm = user_of(d, path, at + 1, &at))
                r = sd_bus_message_append(reply, "s", vm->config->name);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

int vmms_pool_list(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        _cleanup_free_ struct vmms_cred *cred = malloc(sizeof *cred);
        _cleanup_free_ struct pool_image *imgs = calloc(VMMS_POOL_IMAGES_MAX, sizeof *imgs);
        const struct vmms_pool *pool;
        const char *dir;
        size_t n = 0;
        int r = sd_bus_message_read(m, "s", &dir);
        if (r < 0 || (r = pool_arg(d, dir, &pool, e)) < 0)
                return r;
        if (!cred || !imgs)
                return -ENOMEM;
        if ((r = caller(m, cred, e)) < 0)
                return r;
        struct vmms_fs_identity id;
        r = vmms_identity_enter(cred, &id);
        if (r >= 0)
                r = read_pool(pool->dir, imgs, &n);
        vmms_identity_leave(&id);
        if (r == -EACCES || r == -EPERM)
                return sd_bus_error_setf(e, VMMS_ERROR_PERMISSION_DENIED, "%s: permission denied for uid %u",
                                         pool->dir, (unsigned)cred->uid);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "%s: %s", pool->dir, strerror(-r));
        qsort(imgs, n, sizeof *imgs, by_name);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ssttas)");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = append_image(d, reply, pool->dir, &imgs[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* ---- CreatePoolImage ---- */

struct create_args {
        const char *dir, *name, *format, *parent;
        uint64_t size;
};

static int read_create(sd_bus_message *m, struct create_args *a) {
        int r = sd_bus_message_rewind(m, true);
        return r < 0 ? r : sd_bus_message_read(m, "sssts", &a->dir, &a->name, &a->format, &a->size, &a->parent);
}

static int error_of(int r, sd_bus_error *e, const char *why) {
        if (r == -EEXIST)
                return sd_bus_error_setf(e, VMMS_ERROR_EXISTS, "%s", why);
        if (r == -EPERM || r == -EACCES)
                return sd_bus_error_setf(e, VMMS_ERROR_PERMISSION_DENIED, "%s", why);
        if (r == -ENOENT || r == -EINVAL || r == -EROFS)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "%s", why);
        return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "%s", why);
}

/* The parent, opened as the caller and read as it is on disk; one whose
 * log awaits a replay is refused (a child needs it complete). */
static int open_parent(struct vmms_daemon *d, const struct vmms_cred *cred, const char *path, int *fd,
                       struct vhdx **v, char *err, size_t errlen) {
        char why[1024];
        struct vhdx_info info;
        *fd = vmms_file_open(&d->opt.paths, path, VMMS_FILE_DISK_RO, cred, why, sizeof why);
        if (*fd < 0)
                return snprintf(err, errlen, "parent: %s", why), *fd;
        int r = vhdx_open(*fd, VHDX_OPEN_INSPECT, v, why, sizeof why);
        if (r >= 0) {
                vhdx_get_info(*v, &info);
                if (info.log_replayed) {
                        vhdx_close(*v);
                        snprintf(why, sizeof why, "was not closed cleanly and its log must be replayed first");
                        r = -EROFS;
                }
        }
        if (r < 0) {
                *fd = safe_close(*fd);
                snprintf(err, errlen, "parent: %s: %s", path, why);
                return r == -EROFS ? r : -EINVAL;
        }
        return 0;
}

static int write_image(struct vmms_daemon *d, const struct vmms_cred *cred, const struct create_args *a, int fd,
                       const char *path, char *err, size_t errlen) {
        char why[512], ppath[PATH_MAX];
        if (!strcmp(a->format, "raw"))
                return ftruncate(fd, (off_t)a->size) < 0 ? (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno)
                                                          : 0;
        struct vhdx_create_options o = { .type = VHDX_DYNAMIC, .virtual_size = a->size };
        struct vhdx *p = NULL;
        int pfd = -1, r = 0;
        if (a->parent[0]) {
                snprintf(ppath, sizeof ppath, "%s/%s", a->dir, a->parent);
                if ((r = open_parent(d, cred, ppath, &pfd, &p, err, errlen)) < 0)
                        return r;
                o = (struct vhdx_create_options){ .type = VHDX_DIFFERENCING, .parent = p,
                                                  .parent_relative = a->parent, .parent_absolute = ppath };
        }
        if ((r = vhdx_create(fd, &o, why, sizeof why)) < 0)
                snprintf(err, errlen, "%s: %s", path, why);
        if (p)
                vhdx_close(p);
        safe_close(pfd);
        return r;
}

static int do_create(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        _cleanup_free_ struct vmms_cred *cred = malloc(sizeof *cred);
        const struct vmms_pool *pool;
        struct create_args a;
        char path[PATH_MAX], err[PATH_MAX + 1200];
        int r;
        if (!cred)
                return -ENOMEM;
        if ((r = read_create(m, &a)) < 0 || (r = pool_arg(d, a.dir, &pool, e)) < 0 || (r = caller(m, cred, e)) < 0)
                return r;
        if (pool->read_only)
                return sd_bus_error_setf(e, VMMS_ERROR_PERMISSION_DENIED, "pool: %s is read-only", pool->dir);
        snprintf(path, sizeof path, "%s/%s", pool->dir, a.name);
        _cleanup_close_ int fd = vmms_file_create(&d->opt.paths, path, cred, err, sizeof err);
        if (fd < 0)
                return error_of(fd, e, fd == -EEXIST ? "name: exists already (never overwritten)" : err);
        if ((r = write_image(d, cred, &a, fd, path, err, sizeof err)) < 0) {
                (void)unlink(path);
                return error_of(r, e, err);
        }
        log_info("%s: created by uid %u (%s, %llu bytes%s%s)", path, (unsigned)cred->uid, a.format,
                 (unsigned long long)a.size, a.parent[0] ? ", parent " : "", a.parent);
        return sd_bus_reply_method_return(m, "s", path);
}

int vmms_pool_create(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct create_args a;
        const struct vmms_pool *pool;
        char err[320];
        int r = read_create(m, &a);
        if (r < 0 || (r = pool_arg(d, a.dir, &pool, e)) < 0) /* cheap checks before authorization */
                return r;
        if (vmms_pool_create_check(a.name, a.format, a.size, a.parent, err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "%s", err);
        return vmms_auth_run(d, m, VMMS_POLKIT_ACTION_MANAGE, do_create, e);
}

/* ---- DeletePoolImage ---- */

static int read_delete(sd_bus_message *m, const char **dir, const char **name) {
        int r = sd_bus_message_rewind(m, true);
        return r < 0 ? r : sd_bus_message_read(m, "ss", dir, name);
}

static int unlink_as(const struct vmms_cred *cred, const char *dir, const char *name) {
        struct vmms_fs_identity id;
        struct stat st;
        int r = vmms_identity_enter(cred, &id);
        if (r >= 0) {
                _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0 || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                else if (!S_ISREG(st.st_mode))
                        r = -EINVAL;
                else if (unlinkat(dfd, name, 0) < 0)
                        r = -errno;
        }
        vmms_identity_leave(&id);
        return r;
}

/* Whether the differencing VHDX dfd/name names the file target as its
 * parent, by its relative locator (resolved against the child's directory,
 * as the worker opens the chain) or by its absolute one. */
static bool names_parent(int dfd, const char *dir, const char *name, const struct stat *target) {
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ struct vhdx_info *info = calloc(1, sizeof *info);
        struct vhdx *v = NULL;
        struct stat st;
        char err[256], child[PATH_MAX], parent[PATH_MAX];
        if (!info || fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (st.st_dev == target->st_dev && st.st_ino == target->st_ino) ||
            vhdx_open(fd, VHDX_OPEN_INSPECT, &v, err, sizeof err) < 0)
                return false;
        vhdx_get_info(v, info);
        vhdx_close(v);
        if (info->type != VHDX_DIFFERENCING)
                return false;
        snprintf(child, sizeof child, "%s/%s", dir, name);
        if (vhdx_parent_path(child, info, parent, sizeof parent) == 0 && stat(parent, &st) == 0 &&
            st.st_dev == target->st_dev && st.st_ino == target->st_ino)
                return true;
        return info->parent_absolute[0] == '/' && stat(info->parent_absolute, &st) == 0 &&
               st.st_dev == target->st_dev && st.st_ino == target->st_ino;
}

/* The first differencing VHDX in any pool whose parent is target, into
 * child: 1, else 0. Read as vmms (not the caller): a child the caller
 * cannot read would break all the same. */
static int child_of(const struct vmms_daemon *d, const struct stat *target, char *child, size_t len) {
        for (size_t p = 0; p < d->opt.paths.n_pools; p++) {
                const char *dir = d->opt.paths.pools[p].dir;
                int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                DIR *dp = dfd < 0 ? NULL : fdopendir(dfd);
                if (!dp) {
                        safe_close(dfd);
                        continue;
                }
                struct dirent *de;
                bool found = false;
                for (size_t n = 0; !found && n < VMMS_POOL_IMAGES_MAX && (de = readdir(dp)); n++)
                        found = !strcmp(vmms_pool_image_format(de->d_name), "vhdx") &&
                                names_parent(dirfd(dp), dir, de->d_name, target);
                if (found)
                        snprintf(child, len, "%s/%s", dir, de->d_name);
                closedir(dp);
                if (found)
                        return 1;
        }
        return 0;
}

/* Busy when a VM's configuration names the image or a differencing image
 * in a pool names it as its parent (deleting it would break the child). */
static int check_unused(struct vmms_daemon *d, const char *path, const char *name, sd_bus_error *e) {
        char child[PATH_MAX];
        struct stat st;
        size_t at;
        struct vmms_vm *vm = user_of(d, path, 0, &at);
        if (vm)
                return sd_bus_error_setf(e, VMMS_ERROR_BUSY, "name: %s is used by VM '%s'; detach it first", name,
                                         vm->config->name);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && child_of(d, &st, child, sizeof child) > 0)
                return sd_bus_error_setf(e, VMMS_ERROR_BUSY,
                                         "name: %s is the parent of the differencing image %s; delete or merge "
                                         "that first", name, child);
        return 0;
}

static int do_delete(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        _cleanup_free_ struct vmms_cred *cred = malloc(sizeof *cred);
        const struct vmms_pool *pool;
        const char *dir, *name;
        char path[PATH_MAX];
        int r;
        if (!cred)
                return -ENOMEM;
        if ((r = read_delete(m, &dir, &name)) < 0 || (r = pool_arg(d, dir, &pool, e)) < 0 ||
            (r = caller(m, cred, e)) < 0)
                return r;
        if (pool->read_only)
                return sd_bus_error_setf(e, VMMS_ERROR_PERMISSION_DENIED, "pool: %s is read-only", pool->dir);
        snprintf(path, sizeof path, "%s/%s", pool->dir, name);
        if ((r = check_unused(d, path, name, e)) < 0)
                return r;
        r = unlink_as(cred, pool->dir, name);
        if (r == -ENOENT)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "name: %s is not in %s", name, pool->dir);
        if (r == -EINVAL)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "name: %s is not a regular file", name);
        if (r == -EACCES || r == -EPERM)
                return sd_bus_error_setf(e, VMMS_ERROR_PERMISSION_DENIED, "%s: permission denied for uid %u", path,
                                         (unsigned)cred->uid);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "%s: %s", path, strerror(-r));
        log_info("%s: deleted by uid %u", path, (unsigned)cred->uid);
        return sd_bus_reply_method_return(m, NULL);
}

int vmms_pool_delete(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        const struct vmms_pool *pool;
        const char *dir, *name;
        char err[320];
        int r = read_delete(m, &dir, &name);
        if (r < 0 || (r = pool_arg(d, dir, &pool, e)) < 0)
                return r;
        if (vmms_pool_name_check(name, "name", err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "%s", err);
        return vmms_auth_run(d, m, VMMS_POLKIT_ACTION_MANAGE, do_delete, e);
}
