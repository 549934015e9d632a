// SPDX-License-Identifier: MIT
/* An incoming migration's image locks (docs/migration.md "Storage"). Every
 * writable image a VM uses is flock(2)ed exclusively on the open file
 * description its worker inherits (spawn.c), which keeps two VMs off one
 * image. During a move the source's worker holds that lock until it is
 * stopped, after the destination took over; so the destination opens the
 * image without it, keeps a second fd to the same description here, and
 * once its worker runs the VM tries the lock every 100 ms until it has it
 * (the source's worker ends a moment after the switch-over) or 30 s have
 * passed (then someone else holds it: logged, the VM runs on unguarded). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "migration/migration.h"

#define HANDOVER_PERIOD_US 100000u
#define HANDOVER_TRIES 300u

struct vmms_lock_handover {
        struct {
                int fd; /* -1 once locked */
                uint32_t disk;
                bool shared;
        } pending[VM_DISKS_MAX];
        size_t n, left;
        unsigned tries;
        sd_event_source *timer;
};

int vmms_vm_handover_add(struct vmms_vm *vm, uint32_t disk, int fd, bool shared) {
        struct vmms_lock_handover *h = vm->mig->handover;
        if (!h && !(h = vm->mig->handover = calloc(1, sizeof *h)))
                return -ENOMEM;
        if (h->n >= ARRAY_SIZE(h->pending))
                return -E2BIG;
        int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* the same open file description, so the same lock */
        if (dup < 0)
                return -errno;
        h->pending[h->n].fd = dup, h->pending[h->n].disk = disk, h->pending[h->n].shared = shared;
        h->n++, h->left++;
        return 0;
}

void vmms_vm_handover_free(struct vmms_vm *vm) {
        struct vmms_lock_handover *h = vm->mig->handover;
        if (!h)
                return;
        for (size_t i = 0; i < h->n; i++)
                safe_close(h->pending[i].fd);
        sd_event_source_disable_unref(h->timer);
        free(h);
        vm->mig->handover = NULL;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        struct vmms_vm *vm = userdata;
        struct vmms_lock_handover *h = vm->mig->handover;
        for (size_t i = 0; i < h->n; i++) {
                if (h->pending[i].fd < 0)
                        continue;
                if (flock(h->pending[i].fd, (h->pending[i].shared ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
                        continue;
                /* Locked; the worker's fd keeps the description, and the lock, open. */
                h->pending[i].fd = safe_close(h->pending[i].fd);
                h->left--;
        }
        if (h->left == 0) {
                vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "took over the image lock%s of %zu disk%s from the source", h->n > 1 ? "s" : "",
                            h->n, h->n > 1 ? "s" : "");
                vmms_vm_handover_free(vm);
                return 0;
        }
        if (++h->tries >= HANDOVER_TRIES) {
                for (size_t i = 0; i < h->n; i++)
                        if (h->pending[i].fd >= 0)
                                vmms_vm_log(vm, LOG_LEVEL_WARNING, 0,
                                            "disks[%u].path: %s is still locked by another process %u s after the "
                                            "migration; the VM runs without the image lock",
                                            h->pending[i].disk, vm->config->disks[h->pending[i].disk].path,
                                            HANDOVER_TRIES * HANDOVER_PERIOD_US / 1000000u);
                vmms_vm_handover_free(vm);
                return 0;
        }
        (void)sd_event_source_set_time_relative(s, HANDOVER_PERIOD_US);
        (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

void vmms_vm_handover_start(struct vmms_vm *vm) {
        struct vmms_lock_handover *h = vm->mig->handover;
        if (!h || h->timer)
                return;
        /* The first try at once: a source on another host may hold no lock we see. */
        if (sd_event_add_time_relative(vm->d->event, &h->timer, CLOCK_MONOTONIC, 0, 0, on_tick, vm) < 0) {
                vmms_vm_log(vm, LOG_LEVEL_ERR, -ENOMEM, "cannot take over the image locks");
                vmms_vm_handover_free(vm);
        }
}
