/* SPDX-License-Identifier: MIT */
/* Runtime records: one small JSON file per running VM under the runtime
 * directory (<runtime-dir>/vms/<id>/worker.json) that lets a restarted vmms
 * find and re-attach to the worker. The identity of a worker is its pid plus
 * its start time from /proc/<pid>/stat, checked after pidfd_open(), so a
 * recycled pid is never mistaken for the worker. Parsing is pure and fuzzed:
 * the file may be corrupt or from another version. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/guid.h"

#define VMMS_RUNTIME_RECORD_MAX 4096u
#define VMMS_SOCKET_PATH_MAX 108 /* sizeof(sockaddr_un.sun_path) */
#define VMMS_BOOT_ID_LEN 36
#define VMMS_MIGRATION_DEST_MAX 272 /* "HOST:PORT": a host name and a port */

struct vmms_runtime_record {
        struct guid id;
        pid_t pid;
        uint64_t starttime;        /* /proc/<pid>/stat field 22, clock ticks after boot */
        char boot_id[VMMS_BOOT_ID_LEN + 1]; /* /proc/sys/kernel/random/boot_id */
        char control[VMMS_SOCKET_PATH_MAX]; /* the worker's reconnectable control socket */
        char console[VMMS_SOCKET_PATH_MAX]; /* the worker's console socket; may be empty */
        uint64_t started_at_us;    /* CLOCK_REALTIME when the worker was spawned */
        uint64_t running_since_us; /* CLOCK_REALTIME when it reported ready; 0 if not yet */
        bool reattach;             /* the worker announced the "reattach" feature */
        /* The worker committed a live migration to this HOST:PORT without
         * its confirmation: a restarted vmms asks there who has the VM
         * (docs/migration.md "One running copy"); "" when none. */
        char migration_unresolved[VMMS_MIGRATION_DEST_MAX];
        /* The operator's Dynamic Memory target (SetTarget) in bytes, so a
         * restarted vmms keeps it; 0: none. */
        uint64_t memory_target;
        /* A restored worker's BootStatus (a resume, an incoming migration):
         * its boot happened in the worker that saved it, so its "status"
         * reply has none and a restarted vmms takes this one; "" none. */
        char boot_status[24];
};

/* Returns 0 or -EINVAL with "<field>: <reason>" in err. */
int vmms_runtime_record_parse(const char *json, size_t len, struct vmms_runtime_record *out, char *err,
                              size_t errlen);
/* Newly allocated JSON text (free()), NULL on allocation failure. */
char *vmms_runtime_record_to_json(const struct vmms_runtime_record *r);

/* From the text of /proc/<pid>/stat: the state letter, the start time (field
 * 22) and, for a zombie, the exit code (field 52, wait status form; -1 when
 * the kernel does not show it). -EINVAL if malformed. The command name may
 * contain spaces and parentheses, so fields are counted from the last ')'. */
struct vmms_proc_stat {
        char state;
        uint64_t starttime;
        int exit_code;
};
int vmms_proc_stat_parse(const char *text, size_t len, struct vmms_proc_stat *out);
