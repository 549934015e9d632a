/* SPDX-License-Identifier: MIT */
/* The vmms side of one worker process (spawn.c starts it, worker.c talks to
 * it and watches it). Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "daemon.h"
#include "vmms/disk-chain.h"

#define VMMS_WORKER_MAX_REQUESTS 32u

struct vmms_request {
        struct vmms_request *next;
        struct vmms_worker *w;
        uint64_t id;
        vmms_reply_fn cb;
        sd_bus_message *call;
        sd_event_source *timer;
        char op[24];
        uint64_t timeout_us;
};

struct vmms_worker {
        struct vmms_vm *vm;
        pid_t pid;
        int pidfd;
        bool is_child;   /* spawned by this vmms: waitid() gives the exit status */
        int ctl_fd;
        sd_event_source *ctl_src, *pid_src, *eof_timer;
        uint64_t next_id;
        struct vmms_request *requests;
        unsigned n_requests;
        bool ended;      /* its pidfd fired: the process is gone */
        bool exit_event; /* the worker's {"event":"exit"} arrived */
        bool ctl_reset_seen; /* one connection error read already (on_control) */
        int exit_event_status;
        char exit_event_reason[VMMS_EXIT_REASON_MAX];
        struct vmms_runtime_record rec;
        struct vmms_console_holder console_holder; /* whom vmms handed the console to last */
        struct vmms_console_holder console_claim;  /* the caller whose console-status is outstanding */
        bool console_claiming;
};

/* Takes ownership of pidfd and ctl_fd (also on failure). */
int vmms_worker_attach(struct vmms_vm *vm, pid_t pid, int pidfd, int ctl_fd, bool is_child,
                       const struct vmms_runtime_record *rec, struct vmms_worker **out);

/* disk-open.c: one disk of the VM (disks[i] is dc) opened for its worker
 * as Start opens it: the path policy and owner's rights, the mode
 * "read_only" says, flock()ed, a VHDX image's parents (nearest first).
 * -errno with "disks[i].path: ..." in err (-EBUSY: in use by another VM);
 * nothing stays open then. */
struct vmms_disk_fds {
        int fd;
        int parents[VHDX_CHAIN_MAX];
        size_t n_parents;
};
int vmms_disk_open(struct vmms_vm *vm, const struct vmms_cred *owner, const struct vm_disk_config *dc, uint32_t i,
                   struct vmms_disk_fds *out, char *err, size_t errlen);
void vmms_disk_fds_done(struct vmms_disk_fds *f);
