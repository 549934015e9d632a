// SPDX-License-Identifier: MIT
/* Saving a VM and restoring it in a new worker (docs/vm-state.md).
 *
 * Save: pause (vCPUs parked, then every row of the device table quiesced),
 * then write vid's partition and vCPU sections, every device's sections in
 * table order, guest RAM last (the one big, streamed section), the end
 * section, and fdatasync. The VM stays paused: the caller decides what
 * follows (vmms stops the worker for the Saved state; a checkpoint
 * resumes it).
 *
 * Restore happens in two steps, on either side of the sandbox:
 *  1. vmwp_vm_create (before the sandbox, on the main thread): the file is
 *     mapped and indexed (every CRC, the end section, nothing after it),
 *     then vid's sections are applied (KVM's set ioctls, which the sandbox
 *     never allows later). The boot image and ACPI tables are not loaded:
 *     RAM comes from the file.
 *  2. vmwp_vm_start: the device table's rows are restored on the thread
 *     that also starts the vCPUs (under the "vcpu" policy when sandboxed),
 *     as a guest's OPENCHANNEL on a vCPU thread would have opened them, so
 *     the device threads a restore creates hold the same seccomp filter as
 *     those a running guest creates. Rows come back quiesced; they are
 *     resumed, then the vCPUs run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/vmstate.h"
#include "vid/state.h"
#include "vid/vid.h"
#include "vm-internal.h"

/* Progress events at most this often (and at the end). */
#define SAVE_PROGRESS_NS (50u * 1000000u)

struct save_progress {
        void (*fn)(void *opaque, uint64_t done, uint64_t total);
        void *opaque;
        uint64_t total, last_ns;
};

static void on_written(void *opaque, uint64_t written) {
        struct save_progress *p = opaque;
        uint64_t now = vmwp_now_ns();
        if (now - p->last_ns < SAVE_PROGRESS_NS)
                return;
        p->last_ns = now;
        p->fn(p->opaque, MIN(written, p->total), p->total);
}

static int save_sections(struct vmwp_vm *vm, struct vmstate_writer *w, char *err, size_t errlen) {
        /* vid_state_save writes PART and the VPs, then RAM; the devices go
         * between them so that RAM, the bulk, is last. */
        int r = vmwp_devices_save(&vm->devices, w, err, errlen);
        if (r < 0)
                return r;
        r = vid_state_save(vm->p, w);
        if (r < 0)
                return errorf(err, errlen, r, "saving the vCPUs and RAM: %s", strerror(-r));
        r = vmstate_finish(w);
        return r < 0 ? errorf(err, errlen, r, "writing the end section: %s", strerror(-r)) : 0;
}

int64_t vmwp_vm_save(struct vmwp_vm *vm, int fd, void (*progress)(void *opaque, uint64_t done, uint64_t total),
                     void *opaque, char *err, size_t errlen) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return errorf(err, errlen, -errno, "the state file: %s", strerror(errno));
        if (!S_ISREG(st.st_mode) && !S_ISSOCK(st.st_mode) && !S_ISFIFO(st.st_mode))
                return errorf(err, errlen, -EINVAL, "the state file is not a regular file, socket or pipe");
        bool was_running = !vmwp_vm_is_paused(vm);
        int r = was_running ? vmwp_vm_pause(vm) : 0;
        if (r < 0)
                return errorf(err, errlen, r, "pausing the VM: %s", vmwp_pause_strerror(r));
        struct save_progress sp = { .fn = progress, .opaque = opaque, .last_ns = vmwp_now_ns() };
        uint64_t ram = 0;
        if (progress && (r = vid_ram_save_size(vm->p, &ram)) < 0)
                errorf(err, errlen, r, "measuring guest RAM: %s", strerror(-r));
        sp.total = ram + 64 * 1024; /* the small sections: a generous estimate, fixed at the end */
        struct vmstate_writer *w = NULL;
        if (r >= 0 && (r = vmstate_writer_new(fd, 0, &w)) < 0)
                errorf(err, errlen, r, "writing the state: %s", strerror(-r));
        if (r >= 0) {
                if (progress)
                        vmstate_writer_set_progress(w, on_written, &sp);
                r = save_sections(vm, w, err, errlen);
        }
        uint64_t bytes = vmstate_written(w);
        vmstate_writer_free(w);
        /* Durable before anyone is told: a regular file is synced. */
        if (r >= 0 && S_ISREG(st.st_mode) && fdatasync(fd) < 0)
                r = errorf(err, errlen, -errno, "syncing the state file: %s", strerror(errno));
        if (r < 0) {
                if (was_running)
                        (void)vmwp_vm_resume(vm);
                return r;
        }
        if (progress)
                progress(opaque, bytes, bytes);
        return (int64_t)MIN(bytes, (uint64_t)INT64_MAX);
}

/* ---- restore ---- */

struct vmwp_restore {
        const uint8_t *map;
        size_t len;
        struct vmstate_section *secs;
        size_t n;
};

void vmwp_restore_free(struct vmwp_restore *rs) {
        if (!rs)
                return;
        if (rs->map)
                munmap((void *)rs->map, rs->len);
        free(rs->secs);
        free(rs);
}

static int restore_index(int fd, struct vmwp_restore **out, char *err, size_t errlen) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return errorf(err, errlen, -errno, "%s", strerror(errno));
        if (!S_ISREG(st.st_mode))
                return errorf(err, errlen, -EINVAL, "not a regular file");
        if (st.st_size < (off_t)VMSTATE_HEADER_SIZE)
                return errorf(err, errlen, -EINVAL, "%lld bytes: too short to be a saved state",
                              (long long)st.st_size);
        struct vmwp_restore *rs = calloc(1, sizeof *rs);
        if (!rs)
                return -ENOMEM;
        rs->len = (size_t)st.st_size;
        void *m = mmap(NULL, rs->len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        rs->secs = calloc(VMSTATE_SECTIONS_MAX, sizeof *rs->secs);
        int r = m == MAP_FAILED ? errorf(err, errlen, -errno, "%s", strerror(errno))
                : !rs->secs     ? -ENOMEM
                                : 0;
        rs->map = m == MAP_FAILED ? NULL : m;
        struct vmstate_header h;
        if (r >= 0)
                r = vmstate_index(rs->map, rs->len, &h, rs->secs, VMSTATE_SECTIONS_MAX, err, errlen);
        if (r < 0) {
                vmwp_restore_free(rs);
                return r;
        }
        rs->n = (size_t)r;
        *out = rs;
        return 0;
}

int vmwp_vm_restore_prepare(struct vmwp_vm *vm, int fd, char *err, size_t errlen) {
        char why[384] = "";
        /* vid's own sections; the device rows list theirs. Every section
         * is checked before anything is applied. */
        static const uint32_t vid_tags[] = { VID_STATE_TAG_CPUID, VID_STATE_TAG_PART, VID_STATE_TAG_VP,
                                             VID_STATE_TAG_RAM, VID_STATE_TAG_PIT, 0 };
        int r = restore_index(fd, &vm->restore, why, sizeof why);
        if (r >= 0)
                r = vmwp_devices_check_sections(&vm->devices, vid_tags, vm->restore->secs, vm->restore->n, why,
                                                sizeof why);
        if (r < 0 && vm->restore) {
                vmwp_restore_free(vm->restore);
                vm->restore = NULL;
        }
        if (r >= 0 && (r = vid_state_restore(vm->p, vm->restore->secs, vm->restore->n, why, sizeof why)) < 0) {
                vmwp_restore_free(vm->restore);
                vm->restore = NULL;
        }
        return r < 0 ? errorf(err, errlen, r, "saved state: %s", why) : 0;
}

int vmwp_vm_restore_devices(struct vmwp_vm *vm, char *err, size_t errlen) {
        struct vmwp_restore *rs = TAKE_PTR(vm->restore);
        if (!rs)
                return 0;
        char why[384] = "";
        int r = vmwp_devices_restore(&vm->devices, rs->secs, rs->n, why, sizeof why);
        if (r < 0) {
                vmwp_restore_free(rs);
                return errorf(err, errlen, r, "saved state: %s", why);
        }
        vm->restore_spent = rs; /* unmapped once the vCPUs run */
        /* hvshim took the guest's time dilation from the state, which may
         * be another host's choice: the waits on the guest follow it. */
        vmwp_vm_follow_guest_clock(vm);
        vmwp_devices_resume(&vm->devices);
        return 0;
}

void vmwp_vm_restore_release(struct vmwp_vm *vm) {
        vmwp_restore_free(TAKE_PTR(vm->restore_spent));
}
