/* SPDX-License-Identifier: MIT */
/* The vmms side of one worker process (spawn.c starts it, worker.c talks to
 * it and watches it). Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "../core/daemon.h"
#include "../guest/guest.h"
#include "vmms/disk-chain.h"

/* worker.c and spawn.c */
/* First thing in a child of vmms between fork() and exec() (a worker, a
 * display server): nothing blocked, SIGPIPE default, and a session of its
 * own, so a Ctrl-C aimed at a foreground vmms does not reach it; the
 * session's autogroup at vmms's nice. Async-signal-safe. */
void vmms_child_detach(void);
/* After fork(): closes the child's end of the exec-error pipe (errp, both
 * O_CLOEXEC) and waits for the child to exec or to write the errno its
 * exec failed with. 0 once it runs the program; else that errno (EIO if
 * garbled), the child reaped. */
int vmms_child_exec_result(pid_t pid, int errp[2]);
typedef void (*vmms_reply_fn)(struct vmms_vm *vm, sd_bus_message *call, struct json_object *reply, int error);
/* Why a request failed: the worker's "error" text, else strerror(-error)
 * (the connection reset, the request timed out). */
const char *vmms_worker_reply_why(struct json_object *reply, int error);
int vmms_worker_spawn(struct vmms_vm *vm, char *err, size_t errlen);
int vmms_worker_reattach(struct vmms_vm *vm, const struct vmms_runtime_record *rec, int pidfd, char *err,
                         size_t errlen);
/* Sends {"op":op,...args}; args (may be NULL) is consumed. cb runs once with
 * the reply, or with -ECONNRESET/-ETIMEDOUT. call (may be NULL) is passed
 * through to cb so that a D-Bus reply can wait for the worker. */
int vmms_worker_request(struct vmms_worker *w, const char *op, struct json_object *args, vmms_reply_fn cb,
                        sd_bus_message *call);
int vmms_worker_request_fds(struct vmms_worker *w, const char *op, struct json_object *args, const int *fds,
                            size_t n_fds, vmms_reply_fn cb, sd_bus_message *call);
/* The same with its own timeout (a migration outlasts --request-timeout);
 * 0: none, the reply or the worker's end settles it. */
int vmms_worker_request_fds_timeout(struct vmms_worker *w, const char *op, struct json_object *args, const int *fds,
                                    size_t n_fds, uint64_t timeout_us, vmms_reply_fn cb, sd_bus_message *call);
/* A long op shows it is alive (its progress events, its stream moving):
 * the timeouts of w's requests for op start again. A request's timeout is
 * thus the longest the worker may stay silent, not the op's length. */
void vmms_worker_request_alive(struct vmms_worker *w, const char *op);
/* A save's longest silence: its progress comes every 50 ms while it
 * writes; its last fsync may take long on a slow disk. */
#define VMMS_SAVE_QUIET_US (120 * 1000000ull)
int vmms_worker_kill(struct vmms_worker *w);
pid_t vmms_worker_pid(const struct vmms_worker *w);
/* Interactive: a connection to the worker's console socket. Read-only: the
 * console log, opened for reading (a reason in err when it is refused). */
int vmms_worker_open_console(struct vmms_worker *w, bool read_only, char *err, size_t errlen);
int vmms_worker_record_update(struct vmms_worker *w);
struct vmms_worker *vmms_worker_free(struct vmms_worker *w);
/* The identity check behind re-attach: opens a pidfd for rec->pid and
 * verifies its start time. -ESRCH if that process is gone. */
int vmms_worker_open_pidfd(const struct vmms_runtime_record *rec, int *pidfd);
int vmms_proc_stat_read(pid_t pid, struct vmms_proc_stat *out);

/* reattach.c */
int vmms_reattach_all(struct vmms_daemon *d);

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
