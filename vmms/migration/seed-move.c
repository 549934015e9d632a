// SPDX-License-Identifier: MIT
/* A VM's cloud-init seed moves with it (docs/migration.md "The cloud-init
 * seed"): the source reads its <state-dir>/<id>.cidata.iso and sends it
 * in a SEED frame right after the request that names it; the destination
 * checks the bytes (migration/channel-seed.c) and writes them as its own
 * <state-dir>/<id>.cidata.iso, which the drive then names. The seed is
 * vmms's file on both hosts (vmms/seed.h): neither owner's pools nor
 * paths are involved. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "common/vmstate.h"
#include "vmms/seed.h"
#include "migration/conn.h"
#include "migration/migration.h"

/* Which drive of c holds the seed of c's id under dir, or -1. */
static int seed_drive(const char *dir, const struct vm_config *c) {
        for (uint32_t i = 0; i < c->n_dvds && i < VM_DVD_DRIVES_MAX; i++)
                if (vmms_path_is_seed(dir, &c->id, c->dvds[i].path))
                        return (int)i;
        return -1;
}

static int read_seed(const char *path, struct vmms_seed_out *out, char *err, size_t errlen) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;
                return snprintf(err, errlen, "the cloud-init seed %s: %s", path, strerror(-r)), r;
        }
        if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > (off_t)VMMS_MIGCHAN_SEED_MAX)
                return snprintf(err, errlen, "the cloud-init seed %s: not a file of 1 to %u bytes", path,
                                VMMS_MIGCHAN_SEED_MAX),
                       -EFBIG;
        out->len = (uint32_t)st.st_size;
        if (!(out->bytes = malloc(out->len)))
                return -ENOMEM;
        for (uint32_t done = 0; done < out->len;) {
                ssize_t n = pread(fd, out->bytes + done, out->len - done, done);
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        vmms_seed_out_free(out);
                        return snprintf(err, errlen, "reading the cloud-init seed %s: %s", path, strerror(-r)), r;
                }
                done += (uint32_t)n;
        }
        return 0;
}

int vmms_seed_out_prepare(struct vmms_vm *vm, const struct vm_config *c, char **request, struct vmms_seed_out *out,
                          char *err, size_t errlen) {
        *out = (struct vmms_seed_out){ 0 };
        int drive = seed_drive(vm->d->opt.paths.seed_dir, c);
        if (drive < 0)
                return 0;
        int r = read_seed(c->dvds[drive].path, out, err, errlen);
        if (r < 0)
                return r;
        struct vmms_migchan_seed s = { .drive = (uint32_t)drive, .size = out->len,
                                       .crc32c = vmstate_crc32c(0, out->bytes, out->len) };
        char *with = vmms_migchan_request_add_seed(*request, &s);
        if (!with) {
                vmms_seed_out_free(out);
                return -ENOMEM;
        }
        free(*request);
        *request = with;
        return 0;
}

int vmms_seed_out_send(struct vmms_mig_conn *c, const struct vmms_seed_out *s) {
        return s->bytes ? vmms_mig_send_frame_bytes(c, VMMS_MIGCHAN_SEED, s->bytes, s->len) : 0;
}

void vmms_seed_out_free(struct vmms_seed_out *s) {
        free(s->bytes);
        *s = (struct vmms_seed_out){ 0 };
}

int vmms_seed_in_recv(struct vmms_mig_conn *c, const char *body, size_t len, uint8_t **bytes, uint32_t *blen) {
        *bytes = NULL, *blen = 0;
        if (vmms_migchan_request_seed_size(body, len) <= 0)
                return 0; /* none (a malformed one: the request's parse refuses it) */
        char *b = NULL;
        int r = vmms_mig_recv_frame(c, VMMS_MIGCHAN_SEED, &b, blen);
        *bytes = (uint8_t *)b;
        return r;
}

/* bytes as path, never over a file there: through path.tmp, synced, then
 * linked (EEXIST when path exists). */
static int write_new(const char *path, const uint8_t *bytes, uint32_t len) {
        char tmp[PATH_MAX];
        if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
                return -ENAMETOOLONG;
        (void)unlink(tmp); /* of a move that died here */
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        int r = 0;
        for (uint32_t done = 0; r == 0 && done < len;) {
                ssize_t n = write(fd, bytes + done, len - done);
                if (n <= 0)
                        r = n < 0 ? -errno : -EIO;
                else
                        done += (uint32_t)n;
        }
        if (r == 0 && fdatasync(fd) < 0)
                r = -errno;
        if (r == 0 && link(tmp, path) < 0)
                r = -errno;
        (void)unlink(tmp);
        return r;
}

int vmms_seed_in_store(struct vmms_daemon *d, struct vmms_migchan_request *q, const uint8_t *bytes, uint32_t len,
                       char *written, size_t wlen, char *err, size_t errlen) {
        char path[PATH_MAX];
        struct vm_dvd_config *dvd = &q->config.dvds[q->seed.drive];
        int r = vmms_migchan_seed_check(bytes, len, &q->seed, err, errlen);
        if (r < 0)
                return r;
        if (q->mode == VMMS_MIGRATE_CHECK) { /* asked before a save: nothing is kept */
                dvd->path[0] = 0;
                return 0;
        }
        if ((r = vmms_seed_path(d->opt.paths.seed_dir, &q->config.id, path, sizeof path)) < 0 ||
            strlen(path) >= sizeof dvd->path)
                return snprintf(err, errlen, "the cloud-init seed's path here is too long"), -ENAMETOOLONG;
        if ((r = write_new(path, bytes, len)) < 0)
                return snprintf(err, errlen, "the cloud-init seed %s: %s", path,
                                r == -EEXIST ? "exists here (a VM with this id?)" : strerror(-r)),
                       r;
        snprintf(written, wlen, "%s", path);
        memcpy(dvd->path, path, strlen(path) + 1); /* fits: checked above */
        return 0;
}

void vmms_seed_in_discard(struct vmms_daemon *d, const struct vm_config *c) {
        int drive = seed_drive(d->opt.paths.seed_dir, c);
        if (drive >= 0)
                (void)unlink(c->dvds[drive].path);
}
