// SPDX-License-Identifier: MIT
/* The path policy of VM configurations (vmms/include/vmms/paths.h): pure
 * string checks; files.c does the opening. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vmms/paths.h"
#include "vmms/seed.h"

bool vmms_path_is_plain(const char *path) {
        if (!path || path[0] != '/' || !path[1])
                return false;
        for (const char *s = path + 1;;) {
                const char *e = strchr(s, '/');
                size_t n = e ? (size_t)(e - s) : strlen(s);
                if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
                if (!e)
                        return true;
                s = e + 1;
        }
}

int vmms_pool_parse(const char *arg, struct vmms_pool *out) {
        size_t n = strlen(arg);
        bool ro = n > 3 && !strcmp(arg + n - 3, ":ro");
        if (ro)
                n -= 3;
        if (n >= sizeof out->dir)
                return -EINVAL;
        memcpy(out->dir, arg, n);
        out->dir[n] = 0;
        out->read_only = ro;
        return vmms_path_is_plain(out->dir) ? 0 : -EINVAL;
}

int vmms_path_policy_add(struct vmms_path_policy *p, const struct vmms_pool *pool) {
        for (size_t i = 0; i < p->n_pools; i++)
                if (!strcmp(p->pools[i].dir, pool->dir))
                        return -EEXIST;
        if (p->n_pools >= VMMS_POOLS_MAX)
                return -E2BIG;
        p->pools[p->n_pools++] = *pool;
        return 0;
}

int vmms_firmware_dir_add(struct vmms_path_policy *p, const char *dir) {
        if (!vmms_path_is_plain(dir) || strlen(dir) >= sizeof p->firmware_dirs[0])
                return -EINVAL;
        for (size_t i = 0; i < p->n_firmware_dirs; i++)
                if (!strcmp(p->firmware_dirs[i], dir))
                        return -EEXIST;
        if (p->n_firmware_dirs >= VMMS_FIRMWARE_DIRS_MAX)
                return -E2BIG;
        snprintf(p->firmware_dirs[p->n_firmware_dirs++], sizeof p->firmware_dirs[0], "%s", dir);
        return 0;
}

/* The part of path below dir, or NULL. */
static const char *below(const char *dir, const char *path) {
        size_t n = strlen(dir);
        if (strncmp(path, dir, n) || path[n] != '/' || !path[n + 1])
                return NULL;
        return path + n + 1;
}

static void pools_list(const struct vmms_path_policy *p, char *buf, size_t len) {
        size_t used = 0;
        buf[0] = 0;
        for (size_t i = 0; i < p->n_pools && used < len; i++) {
                int k = snprintf(buf + used, len - used, "%s%s%s", i ? ", " : "", p->pools[i].dir,
                                 p->pools[i].read_only ? " (read-only)" : "");
                if (k < 0)
                        break;
                used += (size_t)k;
        }
        if (!p->n_pools)
                snprintf(buf, len, "none");
}

/* A firmware image: below a firmware directory only (the innermost). */
static int firmware_place(const struct vmms_path_policy *p, const char *path, struct vmms_path_place *out, char *err,
                          size_t errlen) {
        const char *best = NULL;
        for (size_t i = 0; i < p->n_firmware_dirs; i++)
                if (below(p->firmware_dirs[i], path) && (!best || strlen(p->firmware_dirs[i]) > strlen(best)))
                        best = p->firmware_dirs[i];
        if (best) {
                *out = (struct vmms_path_place){ .root = best, .rel = below(best, path) };
                return 0;
        }
        char dirs[512];
        size_t used = 0;
        dirs[0] = 0;
        for (size_t i = 0; i < p->n_firmware_dirs && used < sizeof dirs; i++) {
                int k = snprintf(dirs + used, sizeof dirs - used, "%s%s", i ? ", " : "", p->firmware_dirs[i]);
                if (k < 0)
                        break;
                used += (size_t)k;
        }
        snprintf(err, errlen, "%s: not in a firmware directory (%s; vmms --firmware-dir adds one)", path,
                 p->n_firmware_dirs ? dirs : "none");
        return -EPERM;
}

int vmms_path_place(const struct vmms_path_policy *p, const char *path, enum vmms_file_use use, bool owner_root,
                    struct vmms_path_place *out, char *err, size_t errlen) {
        if (!vmms_path_is_plain(path)) {
                snprintf(err, errlen, "%s: needs a plain absolute path (no '.', '..' or empty components)", path);
                return -EINVAL;
        }
        if (use == VMMS_FILE_FIRMWARE)
                return firmware_place(p, path, out, err, errlen);
        const char *rel = below(VMMS_BLOCK_ROOT, path);
        if (rel) {
                if (use == VMMS_FILE_BOOT) {
                        snprintf(err, errlen, "%s: a kernel or initrd must be a file in a storage pool", path);
                        return -EPERM;
                }
                if (!owner_root && !p->allow_block_devices) {
                        snprintf(err, errlen, "%s: only VMs owned by root may use block devices (vmms "
                                 "--allow-block-devices allows them for everyone who can open them)", path);
                        return -EPERM;
                }
                *out = (struct vmms_path_place){ .root = VMMS_BLOCK_ROOT, .rel = rel, .block = true };
                return 0;
        }
        /* The innermost pool: a pool inside another (a file system mounted
         * there) is where its files are resolved. */
        const struct vmms_pool *best = NULL;
        for (size_t i = 0; i < p->n_pools; i++)
                if (below(p->pools[i].dir, path) && (!best || strlen(p->pools[i].dir) > strlen(best->dir)))
                        best = &p->pools[i];
        if (best) {
                if (best->read_only && use == VMMS_FILE_DISK_RW) {
                        snprintf(err, errlen, "%s: storage pool %s is read-only; attach the disk read-only", path,
                                 best->dir);
                        return -EPERM;
                }
                *out = (struct vmms_path_place){ .root = best->dir, .rel = below(best->dir, path) };
                return 0;
        }
        char pools[512];
        pools_list(p, pools, sizeof pools);
        snprintf(err, errlen, "%s: not in a storage pool (pools: %s; vmms --storage-pool adds one)", path, pools);
        return -EPERM;
}

struct check_ctx {
        const struct vmms_path_policy *p;
        const struct vm_config *next, *cur;
        bool root;
        char *err;
        size_t errlen;
};

bool vmms_config_had_path(const struct vm_config *cur, const char *path, enum vmms_file_use use) {
        if (!cur)
                return false;
        if (use == VMMS_FILE_BOOT)
                return !strcmp(cur->kernel, path) || !strcmp(cur->initrd, path);
        if (use == VMMS_FILE_FIRMWARE)
                return cur->boot_kind == VM_BOOT_FIRMWARE && !strcmp(cur->firmware, path);
        for (uint32_t i = 0; i < cur->n_disks; i++)
                if (!strcmp(cur->disks[i].path, path) &&
                    (use == VMMS_FILE_DISK_RO || !cur->disks[i].read_only))
                        return true;
        for (uint32_t i = 0; use == VMMS_FILE_DISK_RO && i < cur->n_dvds && i < VM_DVD_DRIVES_MAX; i++)
                if (!strcmp(cur->dvds[i].path, path))
                        return true;
        return false;
}

static int check_one(void *opaque, const char *field, const char *path, enum vmms_file_use use) {
        struct check_ctx *c = opaque;
        struct vmms_path_place place;
        char why[768];
        if (vmms_config_had_path(c->cur, path, use))
                return 0;
        if (vmms_seed_field_is_own(field, c->p->seed_dir, &c->next->id, path))
                return 0; /* vmms's own file (vmms/seed.h); files.c checks that it exists */
        int r = vmms_path_place(c->p, path, use, c->root, &place, why, sizeof why);
        if (r < 0)
                snprintf(c->err, c->errlen, "%s: %s", field, why);
        return r;
}

int vmms_config_for_each_path(const struct vm_config *c, vmms_path_fn fn, void *opaque) {
        char field[32];
        int r;
        if (c->boot_kind == VM_BOOT_FIRMWARE) { /* the guest's own boot loader: no kernel, no initrd */
                r = fn(opaque, "boot.firmware", c->firmware, VMMS_FILE_FIRMWARE);
        } else {
                r = fn(opaque, "boot.kernel", c->kernel, VMMS_FILE_BOOT);
                if (r >= 0 && c->initrd[0])
                        r = fn(opaque, "boot.initrd", c->initrd, VMMS_FILE_BOOT);
        }
        for (uint32_t i = 0; r >= 0 && i < c->n_disks && i < VM_DISKS_MAX; i++) {
                snprintf(field, sizeof field, "disks[%u].path", i);
                r = fn(opaque, field, c->disks[i].path,
                       c->disks[i].read_only ? VMMS_FILE_DISK_RO : VMMS_FILE_DISK_RW);
        }
        /* A DVD's ISO: a read-only disk's rules (pools, the owner's rights). */
        for (uint32_t i = 0; r >= 0 && i < c->n_dvds && i < VM_DVD_DRIVES_MAX; i++) {
                if (!c->dvds[i].path[0])
                        continue;
                snprintf(field, sizeof field, "dvd_drives[%u].path", i);
                r = fn(opaque, field, c->dvds[i].path, VMMS_FILE_DISK_RO);
        }
        return r;
}

int vmms_config_check_paths(const struct vmms_path_policy *p, const struct vm_config *next,
                            const struct vm_config *cur, bool caller_root, char *err, size_t errlen) {
        /* The console log: vmms creates it in its log directory. A chosen
         * path is root's alone: vmms appends guest output to it. */
        if (next->serial_log[0] && !caller_root && !(cur && !strcmp(cur->serial_log, next->serial_log))) {
                snprintf(err, errlen, "serial_log: only root may choose the console log's path (by default "
                         "vmms keeps it in its log directory)");
                return -EPERM;
        }
        if (next->serial_log[0] && !vmms_path_is_plain(next->serial_log)) {
                snprintf(err, errlen, "serial_log: %s: needs a plain absolute path (no '.', '..' or empty "
                         "components)", next->serial_log);
                return -EINVAL;
        }
        /* hv_sock: vmms binds the VM's socket itself, and connects to the
         * services' sockets with its own rights on the guest's behalf: a
         * path there is root's alone, as serial_log. */
        if (next->hvsock.socket[0]) {
                snprintf(err, errlen, "hvsock.socket: set by vmms (the VM's runtime directory), not configurable");
                return -EINVAL;
        }
        if (next->display.socket[0]) {
                snprintf(err, errlen, "display.socket: set by vmms (the VM's runtime directory), not configurable");
                return -EINVAL;
        }
        for (uint32_t i = 0; i < next->hvsock.n_services && i < VM_HVSOCK_SERVICES_MAX; i++) {
                const char *path = next->hvsock.services[i].path;
                bool had = false;
                for (uint32_t j = 0; cur && j < cur->hvsock.n_services && j < VM_HVSOCK_SERVICES_MAX && !had; j++)
                        had = cur->hvsock.services[j].port == next->hvsock.services[i].port &&
                              !strcmp(cur->hvsock.services[j].path, path);
                if (!caller_root && !had) {
                        snprintf(err, errlen, "hvsock.services[%u].path: only root may choose the host sockets a "
                                 "guest reaches (vmms connects to them with its own rights)", i);
                        return -EPERM;
                }
                if (!vmms_path_is_plain(path) || strlen(path) >= 108) {
                        snprintf(err, errlen, "hvsock.services[%u].path: %s: needs a plain absolute path (no '.', "
                                 "'..' or empty components) of less than 108 bytes (a Unix socket's)", i, path);
                        return -EINVAL;
                }
        }
        struct check_ctx c = { .p = p, .next = next, .cur = cur, .root = caller_root, .err = err, .errlen = errlen };
        return vmms_config_for_each_path(next, check_one, &c);
}

const struct vmms_pool *vmms_pool_find(const struct vmms_path_policy *p, const char *dir) {
        for (size_t i = 0; i < p->n_pools; i++)
                if (!strcmp(p->pools[i].dir, dir))
                        return &p->pools[i];
        return NULL;
}

int vmms_pool_name_check(const char *name, const char *what, char *err, size_t errlen) {
        size_t n = strlen(name);
        if (n == 0 || n > VMMS_POOL_IMAGE_NAME_MAX) {
                snprintf(err, errlen, "%s: must be 1 to %u characters", what, VMMS_POOL_IMAGE_NAME_MAX);
                return -EINVAL;
        }
        if (name[0] == '.' || name[0] == '-' || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                              "0123456789._-") != n) {
                snprintf(err, errlen, "%s: '%.64s' is not a file name in a pool (letters, digits, '.', '_' and "
                         "'-', not starting with '.' or '-'; no '/')", what, name);
                return -EINVAL;
        }
        return 0;
}

static bool has_ext(const char *name, const char *ext) {
        size_t n = strlen(name), e = strlen(ext);
        return n > e && !strcasecmp(name + n - e, ext);
}

const char *vmms_pool_image_format(const char *name) {
        if (has_ext(name, ".vhdx") || has_ext(name, ".avhdx"))
                return "vhdx";
        if (has_ext(name, ".iso"))
                return "iso";
        if (has_ext(name, ".img") || has_ext(name, ".raw"))
                return "raw";
        return "file";
}

int vmms_pool_create_check(const char *name, const char *format, uint64_t size, const char *parent, char *err,
                           size_t errlen) {
        int r = vmms_pool_name_check(name, "name", err, errlen);
        if (r < 0)
                return r;
        bool vhdx = !strcmp(format, "vhdx");
        if (!vhdx && strcmp(format, "raw"))
                return snprintf(err, errlen, "format: must be vhdx or raw, not '%.16s'", format), -EINVAL;
        if (!has_ext(name, vhdx ? ".vhdx" : ".img") && (vhdx || !has_ext(name, ".raw")))
                return snprintf(err, errlen, "name: a %s image's name ends in %s", format,
                                vhdx ? ".vhdx" : ".img or .raw"), -EINVAL;
        if (parent[0]) {
                if ((r = vmms_pool_name_check(parent, "parent", err, errlen)) < 0)
                        return r;
                if (!vhdx || strcmp(vmms_pool_image_format(parent), "vhdx"))
                        return snprintf(err, errlen, "parent: a differencing image is a VHDX of a VHDX parent"),
                               -EINVAL;
                if (!strcmp(parent, name))
                        return snprintf(err, errlen, "parent: an image cannot be its own parent"), -EINVAL;
                if (size)
                        return snprintf(err, errlen, "size: must be 0 for a differencing image (it has its "
                                                     "parent's)"), -EINVAL;
                return 0;
        }
        if (size < VMMS_POOL_IMAGE_MIN_BYTES || size > VMMS_POOL_IMAGE_MAX_BYTES || size % 512)
                return snprintf(err, errlen, "size: %llu bytes; must be a multiple of 512 from 1 MiB to 64 TiB",
                                (unsigned long long)size), -EINVAL;
        return 0;
}
