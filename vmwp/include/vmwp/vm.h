/* SPDX-License-Identifier: MIT */
/* One VM as the worker runs it (docs/vmwp.md). vmwp_vm_create() is the
 * assembly point:
 *
 *   partition (vid) -> platform devices (COM1, ACPI PM, reset, markers)
 *     -> [Hyper-V interface (hvshim) -> VMBus server -> providers from the
 *         config: storvsp per SCSI controller, netvsp per NIC, ICs]
 *     -> ACPI tables -> boot image (PVH or bzImage) -> vCPU 0 entry state
 *
 * vmwp_run() then drives it from the main thread's event loop until the VM
 * ends, and returns the exit status (enum vmwp_exit_status). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/proto.h"
#include "vmwp/console.h"

struct vmwp_vm;
struct vid_partition;
struct json_object;

#define VMWP_MAX_FDS (VM_DISKS_MAX + VM_NIC_QUEUES_MAX + VM_NICS_MAX + 4 + VM_DVD_DRIVES_MAX + PROTO_MAX_PARENT_FDS)

enum {
        VMWP_FILE_KERNEL = 1,
        VMWP_FILE_INITRD = 2,
        VMWP_FILE_SERIAL_LOG = 4,
        VMWP_FILE_SAVED_STATE = 8,
        VMWP_FILE_MIGRATE_INCOMING = 16,
        VMWP_FILE_FIRMWARE = 32, /* kind firmware's image: it takes kernel_fd's place */
};

/* Where a worker's start and exit go (--timing, docs/vmwp.md
 * "Performance"): CLOCK_MONOTONIC ns at the end of each phase, 0 for one
 * not reached. Recorded always (a clock read each), printed with --timing. */
enum vmwp_phase {
        VMWP_PHASE_START,     /* main() entered */
        VMWP_PHASE_CONFIG,    /* configuration read and parsed (file or vmms) */
        VMWP_PHASE_SANDBOX,   /* sandbox step one: fds closed, namespaces */
        VMWP_PHASE_KVM,       /* KVM VM, RAM, irqchip, vCPUs, CPUID (vid) */
        VMWP_PHASE_DEVICES,   /* devices, hvshim, VMBus, providers */
        VMWP_PHASE_IMAGE,     /* ACPI + boot image, or the saved state applied */
        VMWP_PHASE_ENTERED,   /* sandbox step two: empty root, credentials, filter */
        VMWP_PHASE_STARTED,   /* vCPU threads started ("ready" to vmms) */
        VMWP_PHASE_GUEST,     /* vCPU 0's first KVM_RUN */
        VMWP_PHASE_STOP,      /* the guest's exit (or a stop) requested */
        VMWP_PHASE_JOINED,    /* vCPU threads joined, event loop done */
        VMWP_PHASE_FREED,     /* the VM torn down: devices, KVM VM, RAM */
        VMWP_PHASE_COUNT
};
/* CLOCK_MONOTONIC in ns. */
uint64_t vmwp_now_ns(void);
/* "start", "config", ...: the names --timing prints. */
const char *vmwp_phase_name(enum vmwp_phase p);

struct vmwp_vm_options {
        struct vmwp_console_spec serial;
        /* --keyboard: VMWP_CONSOLE_NONE, or VMWP_CONSOLE_SOCKET with a path
         * whose clients type on the emulated i8042 (docs/emulated-devices.md). */
        struct vmwp_console_spec keyboard;
        bool timing;          /* print boot timestamps at exit */
        uint64_t start_ns;    /* CLOCK_MONOTONIC at worker start (for timing) */
        /* Received from vmms; ownership passes to the VM (closed on free). */
        int disk_fds[VM_DISKS_MAX];
        size_t n_disk_fds;
        int tap_fds[VM_NIC_QUEUES_MAX + VM_NICS_MAX]; /* NIC by NIC, each NIC's queues (n_nic_queues[i]), then its steering map (nic_steer[i]) */
        size_t n_tap_fds;
        uint8_t n_nic_queues[VM_NICS_MAX]; /* proto.h "nic_queues"; 0: one */
        bool nic_steer[VM_NICS_MAX];       /* proto.h "nic_steer" */
        /* VHDX disks' parents from vmms (proto.h "disk_parents"), disk by
         * disk, each disk's nearest first; disk i has n_disk_parents[i].
         * Owned like disk_fds. None (standalone): the disk backend opens
         * a differencing image's parents by their locators. */
        int parent_fds[PROTO_MAX_PARENT_FDS];
        size_t n_parent_fds;
        uint8_t n_disk_parents[VM_DISKS_MAX];
        /* vmms opens the boot files and the console log (-1: open the
         * configuration's paths, standalone). The VM reads the boot files
         * and takes the log fd; main() closes what is left. */
        int kernel_fd, initrd_fd, serial_log_fd;
        /* The DVD drives' ISOs from vmms (proto.h "dvd_fds"), by drive index
         * (-1: empty, or standalone: open the configuration's path). Owned
         * like disk_fds. */
        int dvd_fds[VM_DVD_DRIVES_MAX];
        /* A saved state (docs/vm-state.md) to restore instead of booting:
         * vmms's fd, or --restore FILE standalone; -1: boot. Not owned. */
        int saved_state_fd;
        /* A live migration's incoming stream socket (docs/migration.md):
         * vmms's fd, or --incoming standalone; -1: none. Not owned (the VM
         * keeps a duplicate until it has told the source it runs). */
        int migrate_incoming_fd;
        /* With migrate_incoming_fd: a shared-nothing migration, whose
         * stream carries the writable disks' content (their images here
         * are new and empty); proto "migrate_disks". */
        bool migrate_disks;
        /* Disks and NICs the VM may get while it runs (proto "hot_plug",
         * docs/vmwp.md "Disks and NICs of a running VM"): its sandbox
         * gets storvsp's / netvsp's thread policies (and the host's network
         * namespace) even without disks / NICs at start, and an
         * RLIMIT_FSIZE of at least hotplug_file_size bytes. */
        bool hotplug_disks, hotplug_nics;
        uint64_t hotplug_file_size;
        /* The worker sandbox (vmwp/sandbox.h), entered by vmwp_vm_start();
         * NULL: none (--no-sandbox, tests, benchmarks). Not owned. */
        struct sandbox *sandbox;
        const char *sandbox_probe; /* --sandbox-probe PATH, or NULL */
        /* The phases (enum vmwp_phase); the VM records its own into this
         * array, which must outlive it. */
        uint64_t phase_ns[VMWP_PHASE_COUNT];
};

void vmwp_vm_options_init(struct vmwp_vm_options *o);

/* Builds everything; the VM does not run yet. Errors: -errno and a sentence. */
int vmwp_vm_create(const struct vm_config *cfg, struct vmwp_vm_options *opt, struct vmwp_vm **out, char *err,
                   size_t errlen);
/* Starts the vCPUs. With a sandbox, enters it first (every fd the VM
 * needs exists by now), starts the vCPU threads under the "vcpu" policy and
 * narrows the calling (main) thread to "main"; a failure stops the VM with
 * VMWP_EXIT_SETUP and a "sandbox: ..." reason. */
int vmwp_vm_start(struct vmwp_vm *vm);
void vmwp_vm_free(struct vmwp_vm *vm);

const struct vm_config *vmwp_vm_config(const struct vmwp_vm *vm);
struct vid_partition *vmwp_vm_partition(struct vmwp_vm *vm);
struct vmwp_console *vmwp_vm_console(struct vmwp_vm *vm);
struct uart *vmwp_vm_uart(struct vmwp_vm *vm);

/* Saved state (docs/vm-state.md): pauses the VM if it runs (vCPUs, then
 * every device), writes the whole VM to fd (a regular file is fdatasync'd
 * before this returns) and leaves it paused. progress (may be NULL) hears
 * (bytes written, bytes expected) a few times a second and once at the
 * end with done == total. Returns the bytes written, or -errno with a
 * sentence; on failure a VM that ran runs again. Main thread. */
int64_t vmwp_vm_save(struct vmwp_vm *vm, int fd, void (*progress)(void *opaque, uint64_t done, uint64_t total),
                     void *opaque, char *err, size_t errlen);
/* A checkpoint (docs/checkpoints.md): each disks[k] (a configuration
 * index) moves onto the VHDX child open at fds[k] (disk_push_prepare), all
 * of them or none. The VM must be paused (a save leaves it so). Takes
 * every fd, even on error; -errno with the reason. Main thread. */
int vmwp_vm_disk_push(struct vmwp_vm *vm, const uint32_t *disks, const int *fds, size_t n, char *err,
                      size_t errlen);
/* Deleting a checkpoint of a running VM (docs/checkpoints.md "Merging
 * while the VM runs"): disk's present image (a differencing VHDX) is
 * merged into its parent, open writable at fd (taken, even on error), in
 * passes while the guest runs, until what it wrote during a pass is at
 * most 8 MiB (or after 20 passes); then the VM is paused (unless it is
 * already) for the last chunks and the move onto the parent, and runs on.
 * progress (may be NULL) hears each pass. -EFBIG: the parent could grow
 * past the file size this worker's sandbox allows; -EBUSY: someone else
 * holds the parent. On failure the disk runs on its image as before.
 * Main thread. */
struct vmwp_merge_result {
        uint32_t passes;
        uint64_t bytes;    /* copied into the parent, all passes */
        uint64_t final_bytes; /* of those, while paused */
        uint64_t pause_ns;
};
int vmwp_vm_disk_merge(struct vmwp_vm *vm, uint32_t disk, int fd,
                       void (*progress)(void *opaque, uint32_t pass, uint64_t bytes, uint64_t dirty), void *opaque,
                       struct vmwp_merge_result *res, char *err, size_t errlen);
/* VSS (docs/checkpoints.md "Production checkpoints"): ask the guest to
 * freeze or thaw its file systems (VSS_OP_FREEZE, VSS_OP_THAW); the answer
 * arrives as a guest event. -ENOTSUP (no VSS service), -ENOTCONN (the
 * guest has not opened it), -EBUSY (one unanswered). */
int vmwp_vm_vss(struct vmwp_vm *vm, uint8_t op);
/* File copy (docs/integration-services.md "File copy"): sends the file fd
 * (taken, closed at the end) into the guest as dir/name; progress and the
 * end arrive as guest events. -ENOTSUP (no file-copy service), -ENOTCONN
 * (the guest has not opened it), -EBUSY (a copy runs), -EINVAL (names). */
int vmwp_vm_fcopy(struct vmwp_vm *vm, int fd, const char *dir, const char *name, uint64_t size, uint32_t flags);
/* Cancels the copy in progress (icvsp_fcopy_cancel): its "fcopy" event
 * follows with why "cancelled" once the guest deleted what it wrote.
 * -ENOENT: none; -EALREADY: it is ending anyway; -ENOTSUP: no service. */
int vmwp_vm_fcopy_cancel(struct vmwp_vm *vm);
bool vmwp_vm_fcopy_busy(struct vmwp_vm *vm);
/* A post-copy migration is still bringing this VM's memory in from its
 * source (docs/migration.md "Post-copy"): no save or migration until it
 * is all here. */
bool vmwp_vm_postcopy_busy(struct vmwp_vm *vm);
/* The VM was restored from a saved state (options' saved_state_fd). */
bool vmwp_vm_restored(const struct vmwp_vm *vm);

/* The pre-copy check (vm-dirty.c; docs/vm-state.md, "Dirty pages"), a
 * test aid: with dirty-page tracking on, guest RAM is copied to a side
 * buffer while the VM runs, then for `rounds` rounds `round_ms` apart the
 * pages dirtied meanwhile; then the VM is paused (every device
 * quiesced), the last dirty pages are copied, the copy compared with RAM,
 * and the VM resumed. mismatched counts the pages that differ: written by
 * someone who did not mark them. -EBUSY while paused. Main thread
 * (the sandbox's main policy holds the dirty-log ioctls). */
struct vmwp_dirty_check {
        unsigned rounds;
        uint64_t ram_pages;
        uint64_t copied;     /* pages copied again while running */
        uint64_t last;       /* pages dirty at the pause */
        uint64_t mismatched; /* pages that differ after all */
        uint64_t mismatch_gpa[8];
};
int vmwp_vm_dirty_check(struct vmwp_vm *vm, unsigned rounds, unsigned round_ms, struct vmwp_dirty_check *res,
                        char *err, size_t errlen);

/* -ESHUTDOWN: the VM is stopping (vid_partition_pause); vmwp_pause_strerror
 * says so in words, other errors as strerror. */
int vmwp_vm_pause(struct vmwp_vm *vm);
const char *vmwp_pause_strerror(int r);
int vmwp_vm_resume(struct vmwp_vm *vm);
bool vmwp_vm_is_paused(const struct vmwp_vm *vm);
void vmwp_vm_power_button(struct vmwp_vm *vm);
/* An NMI to every vCPU (Hyper-V's Debug-VM -InjectNonMaskableInterrupt);
 * how many took it. */
int vmwp_vm_nmi(struct vmwp_vm *vm);
/* The processor limit (vm-processor.c): 1..100 % of each vCPU's time
 * (100: none); -EINVAL outside. The report adds "limit_pct" and
 * "throttled_ms" (the vCPUs' time parked so far). */
int vmwp_vm_set_cpu_limit(struct vmwp_vm *vm, uint32_t limit_pct);
void vmwp_vm_processor_report(struct vmwp_vm *vm, struct json_object *into);
/* Adds the counters of every part ("exits", "serial_tx_bytes", ...). */
int vmwp_vm_stats(struct vmwp_vm *vm, struct json_object *into);

/* Graceful shutdown/reboot through the shutdown integration service.
 * -ENOTSUP without the service, -ENOTCONN if the guest has not opened it,
 * -EBUSY while a request is unanswered. */
int vmwp_vm_shutdown(struct vmwp_vm *vm, bool reboot);

/* KVP (§8.6): a host item for the guest's host-to-guest pool (value NULL
 * deletes it); -ENOTSUP without the service, -EINVAL/-ENOSPC/-ENOENT as
 * icvsp_kvp_set. */
int vmwp_vm_kvp_set(struct vmwp_vm *vm, const char *key, const char *value);
/* The guest's items from the last scan of its pools (guest = true) or the
 * host items set with vmwp_vm_kvp_set, as a new JSON object {key: value}. */
int vmwp_vm_kvp_items(struct vmwp_vm *vm, bool guest, struct json_object **out);
bool vmwp_vm_kvp_ready(struct vmwp_vm *vm);

/* A firmware VM's boot (vm-firmware.c, docs/firmware.md "Nothing
 * bootable"), from the lines of SeaBIOS's log: still in the firmware, a
 * boot sector got control, or the firmware found nothing to boot and
 * waits. It leaves VMWP_BOOT_FIRMWARE once per worker at most. */
enum vmwp_boot_status {
        VMWP_BOOT_FIRMWARE,
        VMWP_BOOT_LOADER,
        VMWP_BOOT_NOTHING_BOOTABLE,
};
/* Pure: the status after one line of the firmware's log (no newline). */
enum vmwp_boot_status vmwp_firmware_boot_line(enum vmwp_boot_status now, const char *line);
/* "firmware", "booted", "no-bootable-device": the "firmware" event's and
 * the "status" reply's words (common/proto.h). */
const char *vmwp_boot_status_name(enum vmwp_boot_status s);

/* What the guest's services reported since the last call. */
struct vmwp_guest_events {
        int heartbeat;         /* enum icvsp_heartbeat_state */
        uint64_t last_beat_us; /* CLOCK_MONOTONIC */
        bool heartbeat_changed;
        bool shutdown_answered, shutdown_accepted;
        bool kvp_changed; /* vmwp_vm_kvp_items(vm, true) has news */
        bool vss_answered;  /* the guest answered a VSS request (vmwp_vm_vss) */
        uint8_t vss_op;     /* enum hv_vss_op */
        uint32_t vss_status; /* HV_S_OK or the guest's error */
        bool fcopy_progressed, fcopy_finished; /* the file copy (vmwp_vm_fcopy) */
        uint64_t fcopy_bytes;  /* the guest has taken so many */
        int fcopy_r;           /* finished: 0 or -errno (icvsp's fcopy_done) */
        uint32_t fcopy_status; /* the guest's status of a refusal */
        bool memory_changed;   /* Dynamic Memory: vmwp_vm_memory() has news */
        bool display_changed;  /* the guest's video, keyboard or mouse driver or its mode changed */
        int boot_status;       /* enum vmwp_boot_status (a firmware VM's) */
        bool boot_changed;
};
/* The state events a guest can make change at will ("display": its
 * drivers and mode; "memory": Dynamic Memory's driver connecting and
 * going; "heartbeat": each renegotiation is answered by a beat) go to
 * vmms at most once per this interval each (4/s), the latest state
 * winning; a change inside it goes when it ends (common/evrate.h,
 * docs/THREAT_MODEL.md). Counted in the stats: display.events and
 * display.events_coalesced, dm.events and dm.events_coalesced,
 * ic_heartbeat_events and ic_heartbeat_events_coalesced. */
#define VMWP_GUEST_EVENT_INTERVAL_US 250000u
/* Dynamic Memory (vm-dm.c, docs/dynamic-memory.md): with set, the VM's
 * memory should be target_bytes (clamped to its minimum and maximum; the
 * device balloons, gives back or hot-adds toward it); then its state into
 * `into` (connected, *_bytes, operation, note). -ENOTSUP without it. */
int vmwp_vm_memory(struct vmwp_vm *vm, bool set, uint64_t target_bytes, struct json_object *into);
/* Readable when there is something for vmwp_vm_take_guest_events(). */
int vmwp_vm_guest_event_fd(const struct vmwp_vm *vm);
void vmwp_vm_take_guest_events(struct vmwp_vm *vm, struct vmwp_guest_events *out);
/* The current state, without consuming the change flags. */
void vmwp_vm_peek_guest_events(struct vmwp_vm *vm, struct vmwp_guest_events *out);
/* Hyper-V sockets (vm-hvsock.c, docs/hvsock.md). The VM's socket for host
 * clients (-1 without): when readable, call vmwp_vm_hvsock_accept(). A
 * guest's connect waits for vmms: take them (after the guest event fd was
 * readable) and send each as an "hvsock-connect" event; vmms's answer goes
 * to vmwp_vm_hvsock_connected() (fd taken; < 0: refused). */
int vmwp_vm_hvsock_listen_fd(const struct vmwp_vm *vm);
void vmwp_vm_hvsock_accept(struct vmwp_vm *vm);
bool vmwp_vm_hvsock_take_connect(struct vmwp_vm *vm, uint32_t *port, uint64_t *token);
int vmwp_vm_hvsock_connected(struct vmwp_vm *vm, uint64_t token, int fd);
/* Before a save or a migration, while the guest runs: the device table's
 * rows end what a saved state cannot hold (hv_sock's connections to host
 * processes) and refuse more, until vmwp_vm_resume or vmwp_vm_attach (a
 * migration that failed with the VM running here). */
int vmwp_vm_detach(struct vmwp_vm *vm);
void vmwp_vm_attach(struct vmwp_vm *vm);
/* The VMBus server's back-pressure timer: when readable, call
 * vmwp_vm_vmbus_dispatch() (vmbus/server.h). -1 without a server. */
int vmwp_vm_vmbus_fd(const struct vmwp_vm *vm);
void vmwp_vm_vmbus_dispatch(struct vmwp_vm *vm);
/* Boot milestones (CLOCK_MONOTONIC ns, 0 if not reached). */
struct vmwp_timing {
        uint64_t start_ns, first_insn_ns, booted_ns, first_serial_ns;
};
void vmwp_vm_timing(const struct vmwp_vm *vm, struct vmwp_timing *out);

struct vid_exit;
/* The exit status and one-line reason for a vCPU exit vid could not handle
 * (triple fault, emulation failure, failed entry). */
int vmwp_exit_reason(const struct vid_exit *e, unsigned vcpu, char *buf, size_t len);

/* Runs the VM to its end. control_fd: the vmms socket, or -1 (CLI). Returns
 * the exit status and the one-line reason. */
int vmwp_run(struct vmwp_vm *vm, int control_fd, char *reason, size_t reason_len);
