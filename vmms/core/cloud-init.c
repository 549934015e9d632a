// SPDX-License-Identifier: MIT
/* cloud-init seeds made by vmms (core/cloud-init.h). The client sends the
 * files' bytes, never a path: user-data is often the caller's private
 * file, read by vmctl with the caller's rights, and vmms (root) opens no
 * file of the caller's for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "core/cloud-init.h"
#include "common/vmstate.h"
#include "vmms/cloud-init.h"
#include "vmms/migchan.h"
#include "vmms/names.h"
#include "vmms/seed.h"

/* Reads the dictionary a{say} that follows the configuration string into
 * in (pointers into the message). InvalidArgument for an unknown key, a
 * repeated one, a file too large or empty, or no user-data. */
static int read_files(sd_bus_message *m, struct cloud_init_input *in, sd_bus_error *e) {
        const char *json, *key;
        const void *data;
        size_t len;
        char err[200];
        int r;
        *in = (struct cloud_init_input){ 0 };
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "s", &json)) < 0 ||
            (r = sd_bus_message_enter_container(m, 'a', "{say}")) < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "say")) > 0) {
                if ((r = sd_bus_message_read(m, "s", &key)) < 0 ||
                    (r = sd_bus_message_read_array(m, 'y', &data, &len)) < 0 ||
                    (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
                int f = cloud_init_file_from_name(key);
                if (f < 0)
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                                 "cloud_init: '%.40s' is not a seed file (user-data, meta-data, "
                                                 "network-config)", key);
                if (in->data[f])
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "cloud_init: %s appears twice", key);
                if (cloud_init_check_file((enum cloud_init_file)f, len, err, sizeof err) < 0)
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "%s", err);
                in->data[f] = len ? data : "";
                in->len[f] = len;
        }
        if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                return r;
        if (!in->data[CLOUD_INIT_USER_DATA])
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "cloud_init: user-data is required (meta-data defaults to the VM's id and "
                                         "name)");
        return 0;
}

int vmms_cloud_init_precheck(sd_bus_message *m, sd_bus_error *e) {
        struct cloud_init_input in;
        return read_files(m, &in, e);
}

int vmms_cloud_init_make(struct vmms_daemon *d, sd_bus_message *m, struct vm_config *c, char *seed_path,
                         size_t len, sd_bus_error *e) {
        struct cloud_init_input in;
        _cleanup_free_ uint8_t *img = NULL;
        size_t img_len;
        char id[GUID_STRING_MAX], err[300];
        int r;
        seed_path[0] = 0;
        if ((r = read_files(m, &in, e)) < 0)
                return r;
        guid_to_string(&c->id, id);
        r = cloud_init_seed_build(&in, id, c->name, (int64_t)time(NULL), &img, &img_len, err, sizeof err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "%s", err);
        if ((r = vmms_seed_path(d->opt.paths.seed_dir, &c->id, seed_path, len)) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cloud-init: the seed's path is too long");
        if (vmms_seed_place(c, seed_path, err, sizeof err) < 0) {
                seed_path[0] = 0;
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_CONFIG, "%s", err);
        }
        if ((r = write_file_atomic(seed_path, img, img_len, 0600)) < 0) {
                seed_path[0] = 0;
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot write the cloud-init seed in %s: %s",
                                         d->opt.paths.seed_dir, strerror(-r));
        }
        return 0;
}

int vmms_seed_open(const char *path, const char *field, char *err, size_t errlen) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        int r = fd < 0 || fstat(fd, &st) < 0 ? -errno : 0;
        if (r < 0)
                return snprintf(err, errlen, "%s: %s: %s (the VM's cloud-init seed; vmctl create --cloud-init makes "
                                "one)", field, path, strerror(-r)), r;
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
                return snprintf(err, errlen, "%s: %s: not a seed vmms made (a regular file of uid %u)", field, path,
                                (unsigned)geteuid()),
                       -EINVAL;
        if (flock(fd, LOCK_SH | LOCK_NB) < 0) /* as any ISO a drive holds */
                return snprintf(err, errlen, "%s: %s is locked by another process", field, path), -EBUSY;
        return TAKE_FD(fd);
}

int vmms_seed_check(const char *path, const char *field, char *err, size_t errlen) {
        int fd = vmms_seed_open(path, field, err, errlen);
        if (fd < 0)
                return fd == -ENOENT ? -EINVAL : fd;
        safe_close(fd);
        return 0;
}

void vmms_seed_remove(struct vmms_vm *vm) {
        char path[PATH_MAX];
        if (vmms_seed_path(vm->d->opt.paths.seed_dir, &vm->config->id, path, sizeof path) == 0 && unlink(path) < 0 &&
            errno != ENOENT)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, -errno, "cannot remove the cloud-init seed %s: %m", path);
}

/* The drive whose path is a seed of this id, under any directory (the
 * exporting host's state directory), or -1. */
static int exported_seed_drive(const struct vm_config *c) {
        char want[GUID_STRING_MAX + sizeof VMMS_SEED_SUFFIX];
        guid_to_string(&c->id, want);
        strcat(want, VMMS_SEED_SUFFIX);
        for (uint32_t i = 0; i < c->n_dvds && i < VM_DVD_DRIVES_MAX; i++) {
                const char *slash = strrchr(c->dvds[i].path, '/');
                if (slash && !strcmp(slash + 1, want))
                        return (int)i;
        }
        return -1;
}

/* The caller's seed file, whole and checked: its bytes (malloc'd). */
static int read_seed(int fd, uint8_t **out, size_t *len, sd_bus_error *e) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > (off_t)VMMS_MIGCHAN_SEED_MAX)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "seed: a regular file of 1 byte to %u bytes, as export-saved wrote it",
                                         VMMS_MIGCHAN_SEED_MAX);
        _cleanup_free_ uint8_t *b = malloc((size_t)st.st_size);
        if (!b)
                return -ENOMEM;
        size_t n = 0;
        while (n < (size_t)st.st_size) {
                ssize_t k = pread(fd, b + n, (size_t)st.st_size - n, (off_t)n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "seed: %s",
                                                 k < 0 ? strerror(errno) : "shorter than its size");
                n += (size_t)k;
        }
        char err[200];
        struct vmms_migchan_seed s = { .size = (uint32_t)n, .crc32c = vmstate_crc32c(0, b, n) };
        if (vmms_migchan_seed_check(b, n, &s, err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "%s", err);
        *out = TAKE_PTR(b);
        *len = n;
        return 0;
}

int vmms_seed_take(struct vmms_daemon *d, sd_bus_message *m, struct vm_config *c, char *seed_path, size_t len,
                   sd_bus_error *e) {
        const char *json;
        _cleanup_free_ uint8_t *img = NULL;
        size_t img_len;
        int fd, r;
        seed_path[0] = 0;
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "sh", &json, &fd)) < 0)
                return r;
        int drive = exported_seed_drive(c);
        if (drive < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_CONFIG,
                                         "seed: no DVD drive of the configuration names a cloud-init seed "
                                         "(<dir>/<id>%s, as export-saved --config writes it)", VMMS_SEED_SUFFIX);
        if ((r = read_seed(fd, &img, &img_len, e)) < 0)
                return r;
        if ((r = vmms_seed_path(d->opt.paths.seed_dir, &c->id, seed_path, len)) < 0 ||
            strlen(seed_path) >= sizeof c->dvds[drive].path) {
                seed_path[0] = 0;
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "seed: the seed's path here is too long");
        }
        if ((r = write_file_atomic(seed_path, img, img_len, 0600)) < 0) {
                seed_path[0] = 0;
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot write the cloud-init seed in %s: %s",
                                         d->opt.paths.seed_dir, strerror(-r));
        }
        snprintf(c->dvds[drive].path, sizeof c->dvds[drive].path, "%s", seed_path);
        return 0;
}

int vmms_seed_export(struct vmms_vm *vm, char *err, size_t errlen) {
        char path[PATH_MAX];
        for (uint32_t i = 0; i < vm->config->n_dvds && i < VM_DVD_DRIVES_MAX; i++)
                if (vmms_path_is_seed(vm->d->opt.paths.seed_dir, &vm->config->id, vm->config->dvds[i].path)) {
                        snprintf(path, sizeof path, "%s", vm->config->dvds[i].path);
                        return vmms_seed_open(path, "seed", err, errlen);
                }
        return snprintf(err, errlen, "VM '%s' has no cloud-init seed in a DVD drive", vm->config->name), -ENOENT;
}
