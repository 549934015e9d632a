// SPDX-License-Identifier: MIT
/* The console and worker logs of a VM: bounded and removed with the VM.
 *
 * The writers (the worker's console, its stdout/stderr) hold the files open
 * with O_APPEND, so the logs are rotated the way logrotate's copytruncate
 * does it: when a log has grown past --log-max-size, its last max bytes are
 * copied to "<log>.1" (a new file renamed over the old one) and the log is
 * truncated; the writers go on at the new end. Bytes written between the
 * copy and the truncation are lost, as with copytruncate. Checked on a
 * timer on vmms's event loop for the VMs that run, and when a worker ends.
 * Paths are never followed through a symlink (vmms_log_open), nothing that
 * is not a regular file is touched, and the copy is bounded by max bytes,
 * so a guest that prints without end costs vmms a bounded amount of work. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* Copies len bytes of in from off to out (where out is). */
static int copy_range(int in, off_t off, int out, uint64_t len) {
        char buf[64 * 1024];
        bool plain = false; /* copy_file_range unsupported here: read and write */
        while (len > 0) {
                ssize_t n = plain ? -1 : copy_file_range(in, &off, out, NULL, len, 0);
                if (n < 0 && !plain && errno != EINTR)
                        plain = true;
                if (n < 0 && plain) {
                        n = pread(in, buf, MIN(len, sizeof buf), off);
                        if (n > 0) {
                                int r = write_full(out, buf, (size_t)n);
                                if (r < 0)
                                        return r;
                                off += n;
                        }
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0; /* the file got shorter meanwhile */
                len -= (uint64_t)n;
        }
        return 0;
}

/* "<path>.1" receives the last max bytes of path, atomically replaced. */
static int copy_tail(int fd, const struct stat *st, const char *path, uint64_t max, char *err, size_t errlen) {
        char old[PATH_MAX], tmp[PATH_MAX];
        if (snprintf(old, sizeof old, "%s.1", path) >= (int)sizeof old ||
            snprintf(tmp, sizeof tmp, "%s.1.XXXXXX", path) >= (int)sizeof tmp)
                return snprintf(err, errlen, "%s: name too long", path), -ENAMETOOLONG;
        /* mkostemp creates with O_EXCL: never through a symlink. rename()
         * then replaces whatever "<path>.1" is (a symlink included) without
         * writing to what it points to. */
        _cleanup_close_ int out = mkostemp(tmp, O_CLOEXEC);
        if (out < 0)
                return snprintf(err, errlen, "%s: %s", tmp, strerror(errno)), -errno;
        uint64_t size = (uint64_t)st->st_size, from = size > max ? size - max : 0;
        int r = copy_range(fd, (off_t)from, out, size - from);
        if (r >= 0 && fchmod(out, st->st_mode & 0777) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, old) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                return snprintf(err, errlen, "%s: %s", old, strerror(-r)), r;
        }
        return 0;
}

int vmms_log_rotate(const char *path, uint64_t max_bytes, char *err, size_t errlen) {
        struct stat st;
        if (!max_bytes)
                return 0;
        /* Most checks find nothing to do: a stat, no open. */
        if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno);
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size <= max_bytes)
                return 0; /* not a log of ours (vmms_log_open refused it), or small enough */
        _cleanup_close_ int fd = vmms_log_open(path, VMMS_LOG_ROTATE, err, errlen);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno;
        int r = copy_tail(fd, &st, path, max_bytes, err, errlen);
        if (r >= 0 && ftruncate(fd, 0) < 0)
                r = -errno, snprintf(err, errlen, "%s: cannot truncate: %s", path, strerror(errno));
        return r;
}

void vmms_vm_logs_rotate(struct vmms_vm *vm) {
        char path[PATH_MAX], err[2 * PATH_MAX];
        int r = 0;
        if (vmms_console_log_path(vm, path, sizeof path) >= 0)
                r = vmms_log_rotate(path, vm->d->opt.log_max_bytes, err, sizeof err);
        if (r >= 0 && !vm->d->journal && vmms_worker_log_path(vm, path, sizeof path) >= 0)
                r = vmms_log_rotate(path, vm->d->opt.log_max_bytes, err, sizeof err);
        /* Once per kind of failure, not on every tick. */
        if (r < 0 && r != vm->log_rotate_error)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "cannot rotate a log: %s", err);
        vm->log_rotate_error = r;
}

static void unlink_log(struct vmms_vm *vm, const char *path) {
        char old[PATH_MAX + 2];
        if (unlink(path) < 0 && errno != ENOENT)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, -errno, "cannot remove %s: %m", path);
        snprintf(old, sizeof old, "%s.1", path);
        if (unlink(old) < 0 && errno != ENOENT)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, -errno, "cannot remove %s: %m", old);
}

/* Whether the console log is vmms's: the default, or a serial_log that
 * root put into the log directory. One root chose elsewhere is root's. */
static bool console_log_is_ours(const struct vmms_vm *vm, const char *path) {
        size_t n = strlen(vm->d->opt.log_dir);
        return !vm->config->serial_log[0] ||
               (!strncmp(path, vm->d->opt.log_dir, n) && path[n] == '/' && !strchr(path + n + 1, '/'));
}

void vmms_vm_logs_remove(struct vmms_vm *vm) {
        char path[PATH_MAX];
        if (vmms_console_log_path(vm, path, sizeof path) >= 0 && console_log_is_ours(vm, path))
                unlink_log(vm, path);
        if (vmms_worker_log_path(vm, path, sizeof path) >= 0)
                unlink_log(vm, path);
}

static int on_log_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_daemon *d = userdata;
        for (size_t i = 0; i < d->n_vms; i++)
                if (d->vms[i]->worker)
                        vmms_vm_logs_rotate(d->vms[i]);
        (void)sd_event_source_set_time_relative(s, d->opt.log_check_us);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int vmms_logs_timer_start(struct vmms_daemon *d) {
        if (!d->opt.log_max_bytes)
                return 0;
        return sd_event_add_time_relative(d->event, &d->log_timer, CLOCK_MONOTONIC, d->opt.log_check_us, 0,
                                          on_log_timer, d);
}
