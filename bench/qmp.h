// SPDX-License-Identifier: MIT
/* QEMU, the benchmarks' baseline, driven through QMP (bench-save,
 * bench-migrate): the PVH test guest under -M microvm without firmware,
 * as docs/DEVELOPING.md's "baseline at its best" asks. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct json_object;

struct qmp {
        pid_t pid;
        FILE *f;
};

/* Starts qemu-system-x86_64 on kernel (a PVH ELF) with mem_mib of RAM and
 * its QMP monitor on the Unix socket sock (and -incoming URI, and a
 * virtio-blk disk on the qcow2 image qcow2, if not NULL), connects and
 * negotiates capabilities. */
bool qmp_qemu_start(struct qmp *q, const char *sock, const char *kernel, unsigned mem_mib, const char *incoming,
                    const char *qcow2);
/* The same with the guest's command line (-append). */
bool qmp_qemu_start_append(struct qmp *q, const char *sock, const char *kernel, unsigned mem_mib,
                           const char *incoming, const char *qcow2, const char *append);
/* The same with everything optional in one place: serial (a file for
 * COM1; NULL: none), extra arguments (NULL-terminated, at most 8) and the
 * network namespace QEMU runs in (a path such as /run/netns/NAME; NULL:
 * this process's). */
struct qmp_opts {
        const char *sock, *kernel, *incoming, *qcow2, *append, *serial, *netns;
        unsigned mem_mib;
        const char *const *extra;
};
bool qmp_qemu_start_opts(struct qmp *q, const struct qmp_opts *o);
/* quit, and reaps the process. */
void qmp_qemu_end(struct qmp *q);
/* The next message that is not an event; NULL at the end. */
struct json_object *qmp_read(struct qmp *q);
/* Sends a command (JSON) and returns its reply. */
struct json_object *qmp_cmd(struct qmp *q, const char *json);
/* The command was answered with "return". */
bool qmp_ok(struct qmp *q, const char *json);
/* -1: failed, 0: in progress, 1: the reply's "return" has field == want. */
int qmp_status(struct qmp *q, const char *cmd, const char *field, const char *want);
/* qmp_status until it is not 0 (at most 30000 times): true when 1. */
bool qmp_wait_for(struct qmp *q, const char *cmd, const char *field, const char *want);
