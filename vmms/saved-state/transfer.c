// SPDX-License-Identifier: MIT
/* A Saved VM's state in and out of vmms (docs/vm-state.md "Export and
 * import"), Hyper-V's Export-VM/Import-VM for the saved state: what lets a
 * cluster resume a VM on another node (docs/clustering.md).
 *
 * ExportSavedState() hands the caller a read-only fd of <id>.vmrs; the
 * caller copies it where it wants, as itself. The file is never written in
 * place (a resume removes it, a save renames a new one over it), so the fd
 * stays a consistent copy whatever happens to the VM meanwhile.
 *
 * ImportSavedState(h) makes an Off VM Saved from a file the caller opened:
 * on a job thread (gigabytes must not stall vmms) the file is copied into
 * <id>.vmrs.tmp, synced and checked whole (vmstate_index: every section's
 * CRC-32C, the end section), then renamed into place on the loop. The VM is
 * busy meanwhile (Operation "importing"); a file that is not a complete
 * saved state is refused and nothing is left. Whether the state fits the
 * VM's configuration is the worker's check at Start, as for any saved
 * state: a mismatch leaves the VM Saved with the worker's reason. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/vmstate.h"
#include "migration/quick.h"
#include "core/daemon.h"
#include "saved-state/saved-state.h"

#define IMPORT_CHUNK (1u << 20)
/* Beyond guest memory a state holds device state: far less than this. */
#define IMPORT_SLACK (256ull << 20)

struct vmms_saved_import {
        int src, dst;
        uint64_t size;
        char tmp[PATH_MAX];
        bool stop; /* vmms is ending: the thread gives up at its next chunk */
        char why[256];
};

int vmms_saved_check_fd(int fd, uint64_t size, char *why, size_t whylen) {
        if (size == 0)
                return snprintf(why, whylen, "the state file is empty"), -EBADMSG;
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
                return snprintf(why, whylen, "cannot map the state file: %s", strerror(errno)), -errno;
        _cleanup_free_ struct vmstate_section *secs = malloc(VMSTATE_SECTIONS_MAX * sizeof *secs);
        char err[256] = "";
        int r = secs ? vmstate_index(map, size, NULL, secs, VMSTATE_SECTIONS_MAX, err, sizeof err) : -ENOMEM;
        munmap(map, size);
        if (r < 0)
                snprintf(why, whylen, "the state file is not a complete saved state: %s", err[0] ? err : strerror(-r));
        return r < 0 ? r : 0;
}

static int import_run(void *arg, uint64_t *done, uint64_t *total) {
        struct vmms_saved_import *j = arg;
        _cleanup_free_ char *buf = malloc(IMPORT_CHUNK);
        if (!buf)
                return snprintf(j->why, sizeof j->why, "out of memory"), -ENOMEM;
        __atomic_store_n(total, j->size, __ATOMIC_RELAXED);
        for (uint64_t off = 0; off < j->size;) {
                if (__atomic_load_n(&j->stop, __ATOMIC_RELAXED))
                        return snprintf(j->why, sizeof j->why, "vmms is ending"), -ECANCELED;
                size_t want = (size_t)MIN((uint64_t)IMPORT_CHUNK, j->size - off);
                ssize_t n = pread(j->src, buf, want, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return snprintf(j->why, sizeof j->why, "reading the file at byte %llu of %llu: %s",
                                        (unsigned long long)off, (unsigned long long)j->size,
                                        n < 0 ? strerror(errno) : "it ended (it shrank)"),
                               n < 0 ? -errno : -EBADMSG;
                int w = write_full(j->dst, buf, (size_t)n); /* our own file, written in order */
                if (w < 0)
                        return snprintf(j->why, sizeof j->why, "writing the state file: %s", strerror(-w)), w;
                off += (uint64_t)n;
                __atomic_store_n(done, off, __ATOMIC_RELAXED);
        }
        if (fdatasync(j->dst) < 0)
                return snprintf(j->why, sizeof j->why, "syncing the state file: %s", strerror(errno)), -errno;
        return vmms_saved_check_fd(j->dst, j->size, j->why, sizeof j->why);
}

/* On the loop, the thread done: the file goes into place, or away. */
static void import_done(struct vmms_vm *vm, int r, void *arg) {
        struct vmms_saved_import *j = arg;
        char path[PATH_MAX], why[sizeof j->why + 64];
        snprintf(why, sizeof why, "%s", j->why);
        if (r >= 0 && (r = vmms_saved_path(vm, false, path, sizeof path)) >= 0 && rename(j->tmp, path) < 0) {
                r = -errno;
                snprintf(why, sizeof why, "putting the state file in place: %s", strerror(-r));
        }
        if (r < 0) {
                (void)unlink(j->tmp);
                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0, "saved state import refused: %s", why);
                char msg[sizeof why + 32];
                snprintf(msg, sizeof msg, "import refused: %s", why);
                vmms_ckpt_op_finish(vm, r, msg, NULL);
                return;
        }
        j->tmp[0] = 0; /* in place: the op's end must not remove it */
        vmms_saved_sync_dir(vm->d->opt.state_dir);
        vm->saved->saved_bytes = vm->saved->save_done = vm->saved->save_total = j->size;
        snprintf(vm->exit_reason, sizeof vm->exit_reason, "saved");
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "saved state imported (%llu bytes)", (unsigned long long)j->size);
        vmms_vm_set_state(vm, VMMS_STATE_SAVED);
        vmms_saved_emit_props(vm);
        vmms_ckpt_op_finish(vm, 0, NULL, NULL);
}

void vmms_saved_import_stop(struct vmms_saved_import *j) {
        if (j)
                __atomic_store_n(&j->stop, true, __ATOMIC_RELAXED);
}

void vmms_saved_import_free(struct vmms_saved_import *j) {
        if (!j)
                return;
        if (j->tmp[0])
                (void)unlink(j->tmp);
        safe_close(j->src);
        safe_close(j->dst);
        free(j);
}

int vmms_saved_import(struct vmms_vm *vm, sd_bus_message *call, int fd, sd_bus_error *e) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return sd_bus_error_set_errnof(e, errno, "the state file: %m");
        if (!S_ISREG(st.st_mode))
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "the state file: not a regular file");
        uint64_t limit = ((uint64_t)vm->config->memory_mib << 20) + IMPORT_SLACK;
        if (st.st_size <= 0 || (uint64_t)st.st_size > limit)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT,
                                         "the state file: %lld bytes; a saved state of this VM (%u MiB) is 1 to "
                                         "%llu bytes",
                                         (long long)st.st_size, vm->config->memory_mib, (unsigned long long)limit);
        char err[128];
        int r = vmms_ckpt_check_ready(vm, err, sizeof err);
        if (r < 0)
                return sd_bus_error_setf(e, r == -EBUSY ? VMMS_ERROR_BUSY : VMMS_ERROR_FAILED, "VM '%s': %s",
                                         vm->config->name, err);
        _cleanup_free_ struct vmms_saved_import *j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->src = j->dst = -1;
        j->size = (uint64_t)st.st_size;
        if ((r = vmms_saved_path(vm, true, j->tmp, sizeof j->tmp)) < 0)
                return sd_bus_error_set_errnof(e, -r, "state file name: %m");
        (void)unlink(j->tmp); /* of a save or an import that died */
        j->dst = open(j->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (j->dst < 0) {
                r = sd_bus_error_set_errnof(e, errno, "%s: %m", j->tmp);
                j->tmp[0] = 0; /* not ours to remove */
                return r;
        }
        if ((j->src = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
                r = -errno;
                vmms_saved_import_free(TAKE_PTR(j));
                return sd_bus_error_set_errnof(e, -r, "the state file: %m");
        }
        if ((r = vmms_ckpt_op_new(vm, VMMS_CKPT_IMPORT, call)) < 0) {
                vmms_saved_import_free(TAKE_PTR(j));
                return r;
        }
        vmms_ckpt_op(vm)->import = j;
        if ((r = vmms_ckpt_job_start(vm, import_run, import_done, j, &vmms_ckpt_op(vm)->job)) < 0) {
                TAKE_PTR(j);
                vmms_ckpt_op_free(vm); /* frees j */
                return sd_bus_error_set_errnof(e, -r, "cannot start the import: %m");
        }
        TAKE_PTR(j);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "importing a saved state (%llu bytes)", (unsigned long long)st.st_size);
        return 1; /* answered when the job is done */
}
