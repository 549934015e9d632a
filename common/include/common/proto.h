/* SPDX-License-Identifier: MIT */
/* The vmms <-> vmwp protocol.
 *
 * Transport: a SOCK_SEQPACKET unix socket pair created by vmms; the worker
 * gets its end as fd 3 (--control-fd). Each datagram is one JSON object of at
 * most PROTO_MAX_MSG bytes; file descriptors travel as SCM_RIGHTS with it.
 *
 * Start-up: vmms sends {"op":"config","config":{...}} with the disk image fds
 * (in config order, one per disk) and TAP fds (one per NIC or per queue, -1 slots not
 * allowed: a NIC the worker should create itself has no fd) attached, in that
 * order. The worker answers {"event":"ready"} once the guest runs, or exits.
 *
 * Every op and every event below is a row of the table after this comment
 * (PROTO_OPS, PROTO_EVENTS), with its fields and the fds it keeps.
 *
 * Requests (vmms -> worker), each with an integer "id" echoed in the reply:
 *   {"op":"pause"} {"op":"resume"}
 *   {"op":"shutdown","reboot":bool} (guest's shutdown service; errno ENOTCONN
 *     until the guest opened it, ENOTSUP if not configured: fall back to
 *     power-button)
 *   {"op":"power-button"} {"op":"stop"} {"op":"status"} {"op":"stats"}
 *   {"op":"nmi"} (an NMI to every vCPU: reply "vcpus", how many took it;
 *     EAGAIN if none could)
 *   {"op":"kvp-get"[,"key":s]} (KVP integration service: reply "items" {key:
 *     value} the guest's items from its last scan, "host" the host items,
 *     "ready" whether the guest's service is negotiated; with "key": also
 *     "value", ENOENT if the guest has no such item)
 *   {"op":"kvp-set","key":s,"value":s} / {"op":"kvp-set","key":s,"delete":true}
 *     (a host item for the guest's host-to-guest pool, pushed when its
 *     service is up; EINVAL key/value not valid or too long, ENOSPC too
 *     many items, ENOENT deleting an unknown item; ENOTSUP without the
 *     service, for every kvp op)
 *   {"op":"console-status"} (the serial console socket's one client slot:
 *     reply "connected" bool, "clients" how many were accepted so far, the
 *     holder being number "clients", "since_us" CLOCK_REALTIME µs when the
 *     holder connected; connections already queued are accepted and a
 *     client that hung up is dropped before the answer; ENOTSUP when the
 *     console is not a socket. The worker refuses a second client with a
 *     line of text and closes it, so nobody waits silently)
 * Replies: {"id":n,"ok":true,...} or {"id":n,"ok":false,"errno":e,"error":s}
 * Events (worker -> vmms, no id):
 *   {"event":"ready"}, {"event":"state","state":"running"|"paused"},
 *   {"event":"heartbeat","status":"ok"|"no-contact"|"lost","last_us":n}
 *      (on each change of status and each answered beat, at most one per
 *      heartbeat interval; last_us: wall-clock time of the last answered
 *      beat, µs since the epoch, 0 if none; "status" replies carry
 *      "heartbeat"/"last_beat_us"),
 *   {"event":"kvp","items":{...}} (the guest's items changed; as kvp-get's
 *      "items"), {"event":"guest-shutdown","ok":bool} (the guest answered
 *      the shutdown request: accepted, or refused with a failure status),
 *   {"event":"firmware","status":"booted"|"no-bootable-device"[,"message":s]}
 *      (a firmware VM's boot left the firmware: a boot sector got control,
 *      or the firmware found nothing to boot and waits, "message" its
 *      words; at most once per worker, from the firmware's log port, so a
 *      guest can only mislabel its own VM; the "status" reply of a
 *      firmware VM carries "boot_status": "firmware" while neither),
 *   {"event":"exit","status":n,"reason":s} (last message before exit)
 *
 * Additions for vmms (issue #9), compatible with workers that ignore them:
 *
 * - TAPs: vmms creates the TAP of every NIC itself (IFF_TAP|IFF_NO_PI|
 *   IFF_VNET_HDR, MTU set, up, on its bridge; or attaches to the NIC's
 *   pre-created "tap") and writes its name into the NIC's "tap" in the
 *   config it sends, so every NIC arrives with its fd. A NIC with
 *   "queues" > 1 (vRSS, docs/netvsp.md) gets a multi-queue TAP
 *   (IFF_MULTI_QUEUE) and min(queues, vcpus) fds, its queues in order;
 *   the message's "nic_queues" then has one count per NIC (absent: one
 *   each; a pre-created TAP without multi_queue gives one), and
 *   "nic_steer" one boolean per NIC: true, the fd after the NIC's queue
 *   fds is the RSS steering map of the program vmms attached to its TAP
 *   (common/rss-steer.h; false where the kernel refused the program).
 *   Disk fds are opened
 *   O_RDWR or O_RDONLY as "read_only" says and flock()ed by vmms (the lock
 *   lives as long as the worker's copy); the worker may add O_DIRECT with
 *   fcntl(F_SETFL). vmms passes "--serial socket:PATH" and sets
 *   "serial_log" to the VM's console log.
 * - Re-attach, so that VMs keep running across a vmms restart or upgrade:
 *   right after the config, vmms sends {"op":"reattach-listen","id":n} with
 *   one fd, a listening SOCK_SEQPACKET socket that vmms bound in its runtime
 *   directory. A worker that supports it answers ok and accepts on it: each
 *   accepted connection becomes the control connection (the newest wins,
 *   the previous one is closed), and when the control connection ends the
 *   worker keeps running instead of exiting with VMWP_EXIT_CONTROL_LOST. A
 *   restarted vmms connects, sends {"op":"status"} and carries on; events
 *   while no vmms is connected are dropped. A worker without it answers
 *   EOPNOTSUPP (closing the fd) and vmms knows the VM will not survive.
 *   The worker answers once its loop runs, after it has built the VM (a
 *   restore, an incoming migration): vmms sets this request no time limit.
 * - The "status" reply carries "state":"running"|"paused"; the "heartbeat"
 *   event's last_us is CLOCK_REALTIME in µs of the guest's last heartbeat
 *   (0: none yet).
 *
 * Saved state (issue #19, docs/vm-state.md):
 * - {"op":"save","id":n} with one fd, the state file vmms created: the
 *   worker pauses the VM if it runs (vCPUs, then every device quiesced),
 *   writes the whole state to the fd (a regular file is fdatasync'd),
 *   sends {"event":"save-progress","done":bytes,"total":bytes} a few times
 *   a second and once with done == total, then replies ok with "bytes"
 *   and "ms" and STAYS PAUSED (vmms then stops it for the Saved state).
 *   On failure it replies with errno and a sentence and is in the state it
 *   was in before (running or paused). Without exactly one fd: EINVAL.
 * - Restore: the config message's "files" ends with "saved_state", the
 *   state file's fd (read-only): the worker builds the VM from the config,
 *   applies the state instead of booting (kernel and initrd are not needed)
 *   and sends "ready" once the restored VM runs; a state that is corrupt,
 *   truncated, newer or for another configuration ends the worker with
 *   status 3 and a reason starting "saved state: ".
 *
 * Test aid (docs/vm-state.md, "Dirty pages"); vmms never sends it:
 * - {"op":"dirty-check","id":n[,"rounds":1-1000 (5)][,"round_ms":1-10000
 *   (50)]}: a pre-copy of guest RAM against a side buffer (tracking on,
 *   full copy, the dirty pages each round, pause, last copy, compare,
 *   resume). Replies "ram_pages", "copied", "last", "mismatched" (pages
 *   that differ: written without a mark) and "mismatch_gpas" (the first
 *   8). EBUSY while paused, EINVAL for bad arguments.
 *
 * Live migration (issue #20, docs/migration.md):
 * - {"op":"migrate-send","id":n[,"max_downtime_ms":300][,"max_passes":30]
 *   [,"max_time_ms":60000][,"peer_timeout_ms":30000]} with one fd, a
 *   connected stream socket to the destination worker: the worker sends
 *   the running VM (pre-copy passes), sends {"event":"migrate-progress",
 *   "pass":n,"bytes":n,"dirty_pages":n,"dirty_rate":pages/s,
 *   "bandwidth":bytes/s,"expected_downtime_ms":n} after each pass, pauses
 *   when the rest fits max_downtime_ms, sends the final state, waits for
 *   the destination's READY, sends COMMIT and waits for RUNNING; then
 *   replies ok with "passes", "bytes", "pages", "zero_pages",
 *   "final_pages", "total_ms", "downtime_ms" and STAYS PAUSED (the caller
 *   stops it). On failure before the COMMIT (refused, peer gone, no
 *   convergence, no READY in time) it replies with errno and a sentence
 *   and the VM runs as before; after it (no RUNNING) the reply also has
 *   "committed":true and the VM STAYS PAUSED: the destination's side
 *   decides (docs/migration.md "One running copy").
 * - Destination: the config message's "files" ends with
 *   "migrate_incoming", the socket's fd (not with "saved_state"): the
 *   worker builds the VM, receives the whole stream before the sandbox,
 *   restores, tells the source as its vCPUs start and sends "ready"
 *   (with "postcopy":true while pages still come from the source); a
 *   refused, corrupt or cut stream ends it with status 3 and a reason
 *   starting "migration: ".
 *
 * VHDX disks (issue #21, docs/vmms.md "VHDX disks"):
 * - "files" names the fds after the disks and TAPs, in this order:
 *   "kernel" (or, for boot kind firmware, "firmware": the firmware image
 *   vmms read from its firmware directory; the two exclude each other),
 *   "initrd", "serial_log", then "saved_state" or "migrate_incoming".
 * - "dvd_fds":n: the DVD drives' ISOs follow the files, one per drive
 *   with a "path", in drive order, opened read-only by vmms as the owner
 *   (absent: none; standalone vmwp opens the paths itself).
 * - A differencing VHDX disk's parents travel as fds of the config message
 *   too, AFTER all the others (disks, TAPs, "files"), so that those keep
 *   their places: disk by disk in config order, each disk's nearest parent
 *   first. The message's "disk_parents" is an array with one count per
 *   disk (n_disks entries, each 0..VHDX_CHAIN_MAX); absent when no disk
 *   has a parent. vmms opens each parent O_RDONLY with the owner's rights
 *   and the path policy, holds flock(LOCK_SH) on it (no VM may write a
 *   parent while a chain uses it) and has checked its linkage. At most
 *   PROTO_MAX_PARENT_FDS in all. The worker hands them to the disk backend
 *   (disk/disk.h, disk_options.parent_fds), which then opens no path.
 *
 * Disks and NICs of a running VM (issue #23, docs/vmwp.md "Disks and NICs
 * of a running VM"; every fd sent is the worker's: taken or closed, also
 * on an error; refused with EBUSY while the VM is paused). The config
 * message's "hot_plug":{"disks":bool,"nics":bool,"max_file_size":bytes}
 * (each optional) prepares a sandboxed worker for them at start: without
 * it a VM started without disks (NICs) cannot get one (EOPNOTSUPP), and a
 * writable image that may grow past the largest at start (1 GiB at least)
 * is refused with EFBIG.
 * - {"op":"disk-attach","id":n,"disk":{entry},"parents":p} with the image's
 *   fd (opened and flock()ed as at start) then its p VHDX parents (nearest
 *   first; p 0..16, absent 0): entry is one of the configuration's "disks"
 *   (bus "scsi"; IDE is EOPNOTSUPP), checked by vm_config_parse appended to
 *   the configuration. Reply "disk" (its index: the old count),
 *   "controller_added", "size".
 * - {"op":"disk-detach","id":n,"disk":i}: the LUN's I/O in flight
 *   completes, the LUN goes (a controller with it when it was the last),
 *   the image is closed (its lock released) before the reply;
 *   "controller_removed". The later disks move down one index.
 * - {"op":"disk-resize","id":n,"disk":i,"size":bytes}: the raw image (grown
 *   by vmms first) must now hold exactly size bytes, whole sectors, not
 *   fewer than before; the guest is told (a unit attention, ENUMERATE_BUS).
 *   "size", "grown". VHDX: EOPNOTSUPP.
 * - {"op":"nic-attach","id":n,"nic":{entry},"queues":q[,"steer":true]}
 *   with the TAP's q queue fds (q 1..the NIC's queues, absent 1; the entry
 *   names its "tap") and, with "steer", its RSS steering map's fd after them:
 *   "nic" (its index), "instance" (derived from the new index if absent).
 * - {"op":"nic-detach","id":n,"nic":i}: rescinded, its TAP fds closed; the
 *   later NICs move down one index.
 * - {"op":"dvd-insert","id":n,"drive":i[,"path":s]} with the ISO's fd
 *   (opened read-only by vmms as the owner, flock(LOCK_SH)): the disc of
 *   dvd_drives[i] (replacing one that is in; the guest sees a media
 *   change); "path" is kept in the worker's configuration.
 *   {"op":"dvd-eject","id":n,"drive":i}: the drive is empty. Both run on
 *   the emulated devices' service thread (retried while a read of the old
 *   disc is in flight) and reply "drive". ENOENT: no such drive; EBUSY:
 *   paused, or the drive stayed busy; EINVAL: not a disc image.
 * - {"op":"disk-qos","id":n,"disk":i[,"max_iops":n][,"min_iops":n]
 *   [,"max_bytes_per_s":n]}: disks[i]'s Storage QoS (SCSI or IDE; a field
 *   left out keeps its value, 0 is none) takes effect at once, for
 *   requests already held too (docs/storvsp.md "Storage QoS"); the
 *   worker's configuration follows. Also while paused. EINVAL (a field;
 *   "disks[i].qos.min_iops: is above max_iops" and the other checks of
 *   vm_disk_qos_invalid), ENOENT (no such disk); nothing changes then.
 * - {"op":"nic-qos","id":n,"nic":i[,"max_in_bps":n][,"max_out_bps":n]}:
 *   nics[i]'s bandwidth caps (bits/s; in = host -> guest, out = guest ->
 *   host; a field left out keeps its value, 0 is none) hold from each of
 *   its channels' next frame (docs/netvsp.md "Bandwidth caps"); the
 *   worker's configuration follows. Also while paused. EINVAL (a field;
 *   "nics[i].qos.max_in_bps: must be 0 (no cap) or 1000000..." from
 *   vm_nic_qos_invalid), ENOENT (no such NIC); nothing changes then.
 *   Errors: EINVAL, ENOENT (index), ENOSPC (VM_DISKS_MAX, VM_NICS_MAX,
 *   VM_NIC_QUEUES_MAX), EEXIST (controller+LUN, path, MAC, TAP, instance),
 *   EOPNOTSUPP, EBUSY, EFBIG, and the backend's own with a sentence.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct json_object;

#define PROTO_MAX_MSG (64u * 1024u)
/* The VHDX parents of all of a VM's disks together ("disk_parents"). */
#define PROTO_MAX_PARENT_FDS 128u
/* One message's fds: the kernel's SCM_MAX_FD. The config message carries
 * at most VM_DISKS_MAX + VM_NIC_QUEUES_MAX + VM_NICS_MAX + 5 +
 * VM_DVD_DRIVES_MAX + PROTO_MAX_PARENT_FDS. */
#define PROTO_MAX_FDS 253u
#define PROTO_CONTROL_FD 3

/* ---- The table: every op the worker answers and every event it sends ----
 *
 * One row each: the name on the wire, and what travels with it (the
 * request's fields, its fds, its reply's fields / the event's fields); the
 * prose above and the docs it names say what each means. The worker's one
 * dispatcher (vmwp/control.c) finds a request's handler by this enum, and
 * its device modules name the events they emit by it. Adding an op or an
 * event starts here.
 *
 * fds: what the worker keeps of the fds a request came with (SCM_RIGHTS):
 *   NONE  any are closed;
 *   ONE   exactly one is the op's (with any other count none is: all are
 *         closed and the op refuses);
 *   FIRST the first is the op's (none: the op refuses or takes "errno"),
 *         any more are closed;
 *   ALL   the op takes them all, in the order its row says. */
enum proto_fds { PROTO_FDS_NONE, PROTO_FDS_ONE, PROTO_FDS_FIRST, PROTO_FDS_ALL };

/* X(ENUM, "name", fds, "request fields -> reply fields") */
#define PROTO_OPS(X) \
        X(CONFIG, "config", ALL, "config,files,nic_queues,nic_steer,disk_parents,hot_plug,migrate_disks,dvd_fds + " \
                                 "disk, TAP, file, DVD, parent fds (first message only; later: EBUSY)") \
        X(PAUSE, "pause", NONE, "-> (state event)") \
        X(RESUME, "resume", NONE, "-> (state event)") \
        X(STOP, "stop", NONE, "->") \
        X(POWER_BUTTON, "power-button", NONE, "->") \
        X(NMI, "nmi", NONE, "-> vcpus") \
        X(STATUS, "status", NONE, "-> state,heartbeat,last_beat_us,boot_status?,name,vcpus,memory_mib,uptime_us") \
        X(STATS, "stats", NONE, "-> the VM's statistics") \
        X(SHUTDOWN, "shutdown", NONE, "reboot? ->") \
        X(VSS, "vss", NONE, "operation -> (vss event)") \
        X(MEMORY, "memory", NONE, "target_bytes? -> connected,*_bytes,operation,note") \
        X(PROCESSOR, "processor", NONE, "limit_pct? -> limit_pct,throttled_ms") \
        X(KVP_GET, "kvp-get", NONE, "key? -> items,host,ready,value?") \
        X(KVP_SET, "kvp-set", NONE, "key,value|delete ->") \
        X(CONSOLE_STATUS, "console-status", NONE, "-> connected,clients,since_us") \
        X(SAVE, "save", ONE, "+ state file fd -> bytes,ms (save-progress events)") \
        X(MIGRATE_SEND, "migrate-send", ONE, "max_downtime_ms?,max_passes?,max_time_ms?,peer_timeout_ms?,... " \
                                             "+ socket fd -> passes,bytes,pages,... (migrate-progress events)") \
        X(DIRTY_CHECK, "dirty-check", NONE, "rounds?,round_ms? -> ram_pages,copied,last,mismatched,mismatch_gpas") \
        X(DISK_MERGE, "disk-merge", ALL, "disk + parent fd -> passes,bytes,final_bytes,pause_ms (merge-progress)") \
        X(DISK_PUSH, "disk-push", ALL, "disks + one fd per disk ->") \
        X(FCOPY, "fcopy", FIRST, "dir,name,size,overwrite?,create_path? + file fd -> (fcopy-progress, fcopy events)") \
        X(FCOPY_CANCEL, "fcopy-cancel", NONE, "->") \
        X(HVSOCK_CONNECTED, "hvsock-connected", FIRST, "token,errno? + socket fd (without errno) ->") \
        X(DISK_ATTACH, "disk-attach", ALL, "disk,parents? + image fd, parent fds -> disk,controller_added,size") \
        X(DISK_DETACH, "disk-detach", ALL, "disk -> controller_removed") \
        X(DISK_RESIZE, "disk-resize", ALL, "disk,size -> size,grown") \
        X(NIC_ATTACH, "nic-attach", ALL, "nic,queues?,steer? + TAP queue fds, steering map fd -> nic,instance") \
        X(NIC_DETACH, "nic-detach", ALL, "nic ->") \
        X(DVD_INSERT, "dvd-insert", ONE, "drive,path? + ISO fd -> drive") \
        X(DVD_EJECT, "dvd-eject", NONE, "drive -> drive") \
        X(REATTACH_LISTEN, "reattach-listen", ALL, "+ one listening socket fd ->") \
        X(DISK_QOS, "disk-qos", NONE, "disk,max_iops?,min_iops?,max_bytes_per_s? ->") \
        X(NIC_QOS, "nic-qos", NONE, "nic,max_in_bps?,max_out_bps? ->")

/* X(ENUM, "name", "fields") */
#define PROTO_EVENTS(X) \
        X(READY, "ready", "postcopy?") \
        X(STATE, "state", "state") \
        X(HEARTBEAT, "heartbeat", "status,last_us (rate-bounded)") \
        X(KVP, "kvp", "items") \
        X(GUEST_SHUTDOWN, "guest-shutdown", "ok") \
        X(VSS, "vss", "operation,ok,status") \
        X(FCOPY_PROGRESS, "fcopy-progress", "bytes") \
        X(FCOPY, "fcopy", "ok,errno,status,why,bytes") \
        X(HVSOCK_CONNECT, "hvsock-connect", "port,token") \
        X(DISPLAY, "display", "the display's state (rate-bounded)") \
        X(MEMORY, "memory", "as the memory op's reply (rate-bounded)") \
        X(SAVE_PROGRESS, "save-progress", "done,total") \
        X(MERGE_PROGRESS, "merge-progress", "pass,bytes,dirty") \
        X(MIGRATE_PROGRESS, "migrate-progress", "pass,bytes,dirty_pages,dirty_rate,bandwidth,expected_downtime_ms," \
                                                "throttle_pct,dirty_disk_bytes,postcopy?,committed?") \
        X(DISK_QOS, "disk-qos", "disk,met,iops,min_iops,busy_permille (a disk's Storage QoS minimum went " \
                                "unmet or met again; at most one a second per disk)") \
        X(FIRMWARE, "firmware", "status,message? (a firmware VM's boot: once per worker at most)") \
        X(EXIT, "exit", "status,reason")

#define PROTO_ENUM_OP_(e, name, fds, shape) PROTO_OP_##e,
enum proto_op { PROTO_OP_UNKNOWN, PROTO_OPS(PROTO_ENUM_OP_) PROTO_OP_N };
#undef PROTO_ENUM_OP_
#define PROTO_ENUM_EV_(e, name, shape) PROTO_EV_##e,
enum proto_event { PROTO_EVENTS(PROTO_ENUM_EV_) PROTO_EV_N };
#undef PROTO_ENUM_EV_

struct proto_op_info {
        const char *name;
        enum proto_fds fds;
        const char *shape;
};
struct proto_event_info {
        const char *name;
        const char *shape;
};
/* Indexed by enum proto_op (PROTO_OP_UNKNOWN's row: name NULL) and enum
 * proto_event. */
extern const struct proto_op_info proto_ops[PROTO_OP_N];
extern const struct proto_event_info proto_events[PROTO_EV_N];

/* The op a request names; PROTO_OP_UNKNOWN for none (NULL) or another. */
enum proto_op proto_op_lookup(const char *name);
/* {"event":name}, the fields added by the caller; NULL without memory. */
struct json_object *proto_event_new(enum proto_event ev);

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
        VMWP_EXIT_SANDBOX = 16,      /* a system call the sandbox forbids (docs/sandbox.md) */
};

const char *vmwp_exit_status_to_string(int status);

/* Send one message with optional fds. Returns 0 or -errno. */
int proto_send(int sock, struct json_object *msg, const int *fds, size_t n_fds);
/* Receive one message. *msg must be put by the caller; received fds are
 * stored in fds (up to max_fds; extra fds are closed and -EMSGSIZE returned).
 * Returns 0, -ECONNRESET on EOF, -EBADMSG for a malformed message. */
int proto_recv(int sock, struct json_object **msg, int *fds, size_t max_fds, size_t *n_fds);

