/* SPDX-License-Identifier: MIT */
/* The vmms <-> vmwp protocol.
 *
 * Transport: a SOCK_SEQPACKET unix socket pair created by vmms; the worker
 * gets its end as fd 3 (--control-fd). Each datagram is one JSON object of at
 * most PROTO_MAX_MSG bytes; file descriptors travel as SCM_RIGHTS with it.
 *
 * Start-up: vmms sends {"op":"config","config":{...}} with the disk image fds
 * (in config order, one per disk) and TAP fds (one per NIC, -1 slots not
 * allowed: a NIC the worker should create itself has no fd) attached, in that
 * order. The worker answers {"event":"ready"} once the guest runs, or exits.
 *
 * Requests (vmms -> worker), each with an integer "id" echoed in the reply:
 *   {"op":"pause"} {"op":"resume"} {"op":"shutdown","reboot":bool}
 *   {"op":"power-button"} {"op":"stop"} {"op":"status"} {"op":"stats"}
 *   {"op":"kvp-get"} {"op":"kvp-set","key":s,"value":s}
 * Replies: {"id":n,"ok":true,...} or {"id":n,"ok":false,"errno":e,"error":s}
 * Events (worker -> vmms, no id):
 *   {"event":"ready"}, {"event":"state","state":"running"|"paused"},
 *   {"event":"heartbeat","status":"ok"|"no-contact"|"lost","last_us":n},
 *   {"event":"kvp","items":{...}}, {"event":"guest-shutdown","ok":bool},
 *   {"event":"exit","status":n,"reason":s} (last message before exit)
 *
 * Additions for vmms (issue #9); all optional for the worker to use, and a
 * worker that ignores them keeps working:
 *
 * - The config message carries an "fds" object naming every fd by its index
 *   in the SCM_RIGHTS array (proto_fds_get()). Disk and TAP fds still come
 *   first, in the order above, so a worker that ignores the map finds them:
 *     "disks":[i,...]          one per disk, opened O_RDWR or O_RDONLY as the
 *                              disk's read_only says and flock()ed by vmms (the
 *                              lock lives as long as the worker's copy); the
 *                              worker may add O_DIRECT with fcntl(F_SETFL)
 *     "taps":[i,...]           one per NIC: vmms always creates (or, for
 *                              "tap", attaches to) the TAP; IFF_TAP|IFF_NO_PI,
 *                              no vnet header, MTU set, up, on its bridge
 *     "tap_names":[s,...]      their interface names
 *     "kernel":i, "initrd":i   the boot files, O_RDONLY (initrd only if set)
 *     "control_listen":i       a listening SOCK_SEQPACKET socket: see Re-attach
 *     "console_listen":i       a listening SOCK_STREAM socket: see Console
 *     "console_log":i          the serial log, O_WRONLY|O_APPEND; with it the
 *                              worker does not open "serial_log" itself
 * - Re-attach (VMs keep running across a vmms restart): the worker accepts
 *   connections on control_listen; each accepted connection becomes the
 *   control connection (the newest wins; the old one is closed). When the
 *   control connection ends and the worker has control_listen, it keeps
 *   running and waits for the next connection; without control_listen it
 *   exits with VMWP_EXIT_CONTROL_LOST as before. Request ids are per
 *   connection. A worker that supports this says so in "ready".
 * - Console: the serial port's output goes to console_log and to every
 *   client accepted on console_listen; input from any client goes to the
 *   serial port's receiver. A client that half-closes (read-only viewers
 *   are shut down for writing by vmms) keeps receiving output.
 * - {"event":"ready","features":["reattach","console"]} names the optional
 *   features above that the worker implements.
 * - The "status" reply carries "state":"starting"|"running"|"paused" (vmms
 *   asks after re-attaching); "heartbeat" last_us is CLOCK_REALTIME in µs
 *   of the guest's last heartbeat (0: none yet).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct json_object;

#define PROTO_MAX_MSG (64u * 1024u)
#define PROTO_MAX_FDS 128u
#define PROTO_CONTROL_FD 3

/* Feature names a worker may list in its "ready" event. */
#define PROTO_FEATURE_REATTACH "reattach"
#define PROTO_FEATURE_CONSOLE "console"

/* Worker exit statuses: every way a VM ends has its own, plus a one-line
 * reason on stderr and in the "exit" event. */
enum vmwp_exit_status {
        VMWP_EXIT_POWEROFF = 0,      /* guest powered off (ACPI S5) */
        VMWP_EXIT_USAGE = 2,         /* bad command line or configuration */
        VMWP_EXIT_SETUP = 3,         /* could not build the VM (KVM caps, files, memory) */
        VMWP_EXIT_RESET = 10,        /* guest requested a reset/reboot */
        VMWP_EXIT_TRIPLE_FAULT = 11, /* triple fault / shutdown exit */
        VMWP_EXIT_INTERNAL = 12,     /* KVM internal error / emulation failure */
        VMWP_EXIT_GUEST_CRASH = 13,  /* guest reported a crash (Hyper-V crash MSRs) */
        VMWP_EXIT_STOPPED = 14,      /* stopped by the host (stop request, signal) */
        VMWP_EXIT_CONTROL_LOST = 15, /* control connection to vmms lost */
};

const char *vmwp_exit_status_to_string(int status);

/* Send one message with optional fds. Returns 0 or -errno. */
int proto_send(int sock, struct json_object *msg, const int *fds, size_t n_fds);
/* Receive one message. *msg must be put by the caller; received fds are
 * stored in fds (up to max_fds; extra fds are closed and -EMSGSIZE returned).
 * Returns 0, -ECONNRESET on EOF, -EBADMSG for a malformed message. */
int proto_recv(int sock, struct json_object **msg, int *fds, size_t max_fds, size_t *n_fds);

/* The fd that the config message's "fds" object names as `key` (an integer
 * index into fds[]); for an array member ("disks", "taps") the index-th
 * element. Returns the fd, or -ENOENT when absent, -EBADMSG when the index
 * is malformed or out of range. */
int proto_fds_get(struct json_object *msg, const char *key, size_t index, const int *fds, size_t n_fds);
