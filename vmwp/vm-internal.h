/* SPDX-License-Identifier: MIT */
/* struct vmwp_vm, shared by vmwp/vm*.c and run.c only. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/config.h"
#include "common/evrate.h"
#include "devices.h"
#include "vmwp/console.h"
#include "emu/acpi-pm.h"
#include "emu/uart.h"
#include "vmwp/vm.h"

struct mapped_file {
        const uint8_t *data;
        size_t len;
};
/* A boot file (kernel, initrd, firmware): the fd vmms opened, or
 * (standalone) the path; 1 byte to 1 GiB; err says which and why. */
int vmwp_map_file(const char *what, const char *path, int given_fd, struct mapped_file *m, char *err,
                  size_t errlen);
void vmwp_unmap_file(struct mapped_file *m);

/* The guest-driven state events that are coalesced (vm->guest_rates). */
enum vmwp_gev_kind { VMWP_GEV_DISPLAY, VMWP_GEV_MEMORY, VMWP_GEV_HEARTBEAT, VMWP_GEV_N };

struct vmwp_vm {
        struct vm_config cfg;
        struct vid_partition *p;
        struct uart *uart;
        struct acpi_pm *pm;
        struct vmwp_firmware *firmware; /* boot kind firmware (vm-firmware.c), else NULL */
        struct vmwp_console *console;
        struct hvshim *hv;
        struct vmbus_host_hv *vmbus_host;
        struct vmbus_server *vmbus;
        struct icvsp *ic;
        struct hvsock *hvsock; /* hv_sock (vm-hvsock.c), NULL unless configured */
        struct dmvsp *dm;      /* Dynamic Memory (vm-dm.c), NULL unless configured */
        struct vmwp_display *display; /* video, keyboard, mouse (vm-display.c), NULL unless configured */
        _Atomic uint64_t dm_discard_failures;
        int hvsock_listen_fd;  /* the VM's socket for host clients, -1 */
        /* Guest connects waiting to go to vmms (guest_lock). */
        struct {
                uint32_t port;
                uint64_t token;
        } hvsock_pending[64];
        unsigned n_hvsock_pending;
        struct vmwp_emu *emu; /* the emulated legacy devices (vm-emu.c) */
        /* Every row of guest-visible state but vid's (devices.h), in
         * dependency order. */
        struct vmwp_devices devices;

        /* Guest events from service threads, for the main loop (vm-ic.c). */
        pthread_mutex_t guest_lock;
        struct vmwp_guest_events guest;
        int guest_event_fd;
        /* State events to vmms (run.c, main loop only): a guest that
         * flips its mode, drivers or services cannot flood vmms and the
         * bus. */
        struct evrate guest_rates[VMWP_GEV_N];
        int fcopy_fd; /* the source of the file copy in progress (guest_lock), -1 */

        int disk_fds[VM_DISKS_MAX];
        size_t n_disk_fds;
        int dvd_fds[VM_DVD_DRIVES_MAX]; /* as in vmwp_vm_options; -1 once a drive took it */
        int tap_fds[VM_NIC_QUEUES_MAX + VM_NICS_MAX]; /* NIC by NIC, each NIC's queues (n_nic_queues[i]), then its steering map (nic_steer[i]) */
        size_t n_tap_fds;
        uint8_t n_nic_queues[VM_NICS_MAX]; /* proto.h "nic_queues"; 0: one */
        bool nic_steer[VM_NICS_MAX];       /* proto.h "nic_steer" */
        int parent_fds[PROTO_MAX_PARENT_FDS]; /* as in vmwp_vm_options; -1 once a disk took it */
        size_t n_parent_fds;
        uint8_t n_disk_parents[VM_DISKS_MAX];
        /* Every disk opened, by configuration index (references), for the
         * operations on a disk of a running VM (disk-push). */
        struct disk *disks[VM_DISKS_MAX];
        bool qos_not_met[VM_DISKS_MAX]; /* disk-qos.c: the minimum's last state reported */
        /* The VMBus devices of the SCSI controllers (by controller index)
         * and of the NICs (by configuration index), owned by the server;
         * NULL: none. For hot plug (vm-storage-hotplug.c, vm-net.c), which
         * keeps them, the device table and cfg in step. */
        struct storvsp_device *scsi[VM_SCSI_CONTROLLERS_MAX];
        struct vmbus_device *scsi_dev[VM_SCSI_CONTROLLERS_MAX];
        struct netvsp_nic *nic[VM_NICS_MAX];
        struct vmbus_device *nic_dev[VM_NICS_MAX];
        /* The sandbox holds the storvsp / netvsp thread policies (the VM
         * had disks / NICs when it started: policies join only then). */
        bool storvsp_policy, netvsp_policy;
        bool hotplug_disks, hotplug_nics; /* the options': prepare for them */

        /* Between vmwp_vm_create and vmwp_vm_start of a restored VM: the
         * mapped, indexed state file the device rows restore from
         * (vm-state.c). */
        struct vmwp_restore *restore;
        /* ... and once the rows took it, until the vCPUs run: its munmap
         * (a TLB shootdown to every CPU the worker's threads ran on, some
         * 40 us on the nested host) stays out of a migration's downtime. */
        struct vmwp_restore *restore_spent;
        bool restored;
        /* A migration destination's socket, for RUNNING once the vCPUs
         * run (migrate-in.c); -1 otherwise. */
        int migrate_fd;
        /* Receiving a live migration (options' migrate_incoming_fd): its
         * disks are opened without the image lock, which the source holds
         * until it is stopped (docs/migration.md, "Storage"). */
        bool incoming;
        /* ... and the disks' content with it (options' migrate_disks). */
        bool incoming_disks;
        /* A source that may switch to post-copy (the hello's flag), and
         * once it did, the pager that brings the missing pages in
         * (vmwp/postcopy.h); NULL otherwise. */
        bool incoming_postcopy;
        struct postcopy_dest *postcopy;

        struct sandbox *sandbox; /* not owned */
        const char *sandbox_probe;

        bool timing;
        uint64_t start_ns;
        uint64_t *phase_ns; /* the options' (enum vmwp_phase) */
        _Atomic uint64_t first_insn_ns, booted_ns, first_serial_ns;
};

/* Saved state (vm-state.c): step 1 of a restore, before the sandbox:
 * index the file and apply vid's sections; step 2, on the thread that
 * starts the vCPUs: restore the device rows and resume them. */
struct vmwp_restore;
int vmwp_vm_restore_prepare(struct vmwp_vm *vm, int fd, char *err, size_t errlen);
int vmwp_vm_restore_devices(struct vmwp_vm *vm, char *err, size_t errlen);
void vmwp_vm_restore_release(struct vmwp_vm *vm);
void vmwp_restore_free(struct vmwp_restore *rs);
/* The Hyper-V interface, then (after hv_sock, vm-hvsock.c) the VMBus
 * server the providers are offered on (vm-vmbus.c). */
int vmwp_vm_add_hvshim(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
int vmwp_vm_add_vmbus_server(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
/* How many times slower the guest's clock runs than the host's (hvshim's
 * time dilation: 8 for a Linux guest booted on a PVM host, docs/pvm.md; 1
 * elsewhere; after a restore, the saved one, wherever it was saved). A
 * host deadline for something the guest must do scales by it, as the
 * guest's own deadlines do; a restore can change it (the device rows'
 * restore, vmwp_vm_restore_devices). */
unsigned vmwp_vm_time_dilation(const struct vmwp_vm *vm);
/* After a restore: the host's waits that mirror the guest's own deadlines
 * (hv_sock's offers, the KVP and file-copy requests) take its dilation
 * again. Any thread; no system call. */
void vmwp_vm_follow_guest_clock(struct vmwp_vm *vm);
/* One storvsp device per SCSI controller of the configuration (vm-storage.c). */
int vmwp_vm_add_disks(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
/* The disk image of config entry i: vmms's fd if it sent one, else the path.
 * why (may be empty on return) says what was wrong with the image. */
struct disk;
int vmwp_vm_open_disk(struct vmwp_vm *vm, uint32_t i, struct disk **out, char *why, size_t whylen);
/* disk-qos.c: a disk's Storage QoS from its configuration (at open), and
 * the live change (common/proto.h "disk-qos"). */
int vmwp_disk_apply_qos(struct disk *d, const struct vm_disk_qos *q, char *err, size_t errlen);
int vmwp_vm_set_disk_qos(struct vmwp_vm *vm, struct json_object *req, char *err, size_t errlen);
/* qos-request.c: a disk-qos or nic-qos request's device index (key, below
 * n; -EINVAL or -ENOENT with a sentence naming noun and array) and its
 * fields into *v[k] (absent: kept; -EINVAL unless a non-negative integer,
 * "0: <zero>" in the sentence). */
int vmwp_qos_request_index(struct json_object *req, const char *key, const char *noun, const char *array, uint32_t n,
                           uint32_t *index, char *err, size_t errlen);
int vmwp_qos_request_fields(struct json_object *req, const char *const *fields, uint64_t *const *v, size_t n,
                            const char *zero, char *err, size_t errlen);
/* nic-qos.c: a NIC's bandwidth caps changed live (common/proto.h "nic-qos"). */
int vmwp_vm_set_nic_qos(struct vmwp_vm *vm, struct json_object *req, char *err, size_t errlen);
/* An incoming migration on shared storage opened its writable VHDX disks
 * deferred (the source still ran on them): each is read again and taken
 * (disk_activate), at the source's STATE, its disks synced. */
int vmwp_vm_activate_disks(struct vmwp_vm *vm, char *err, size_t errlen);
/* Every disk's image lock goes (disk_release_lock): a migration's source
 * whose guest runs on the destination now. Returns how many disks. */
unsigned vmwp_vm_release_image_locks(struct vmwp_vm *vm);
/* SCSI controller ctrl's storvsp device, not offered yet (its LUNs are
 * attached next); then offered (a hot add once the guest asked for offers),
 * given its row of the device table and recorded in vm->scsi. On an offer
 * failure the device is still the caller's (storvsp_device_free). */
struct storvsp_device;
int vmwp_vm_scsi_new(struct vmwp_vm *vm, uint32_t ctrl, struct storvsp_device **out, char *err, size_t errlen);
/* Disk d as LUN dc->lun of SCSI controller device dev, with the identity
 * the guest reads in its VPD pages (vmwp/disk-id.h). */
int vmwp_vm_scsi_attach(const struct vmwp_vm *vm, struct storvsp_device *dev, const struct vm_disk_config *dc,
                        struct disk *d);
int vmwp_vm_scsi_offer(struct vmwp_vm *vm, uint32_t ctrl, struct storvsp_device *dev, char *err, size_t errlen);
/* Hot remove of controller ctrl (its channels closed, the offer
 * rescinded, its row gone). -EBUSY: the guest takes no VMBus message now. */
int vmwp_vm_scsi_remove(struct vmwp_vm *vm, uint32_t ctrl);
/* disk_open for configuration entry dc on the given fds (taken, also on
 * error), without the image-lock exception of an incoming migration. */
int vmwp_vm_open_disk_fds(struct vmwp_vm *vm, const struct vm_disk_config *dc, int fd, const int *parents,
                          unsigned n_parents, struct disk **out, char *why, size_t whylen);
/* The hot-plug ops (vm-storage-hotplug.c, vm-net.c), req checked by
 * vmwp_control_parse_hotplug; each takes the fds it is given. */
struct vmwp_hotplug;
int vmwp_vm_disk_attach(struct vmwp_vm *vm, const struct vmwp_hotplug *req, const int *fds, struct json_object *rep,
                        char *err, size_t errlen);
int vmwp_vm_disk_detach(struct vmwp_vm *vm, const struct vmwp_hotplug *req, struct json_object *rep, char *err,
                        size_t errlen);
int vmwp_vm_disk_resize(struct vmwp_vm *vm, const struct vmwp_hotplug *req, struct json_object *rep, char *err,
                        size_t errlen);
int vmwp_vm_nic_attach(struct vmwp_vm *vm, const struct vmwp_hotplug *req, const int *fds, struct json_object *rep,
                       char *err, size_t errlen);
int vmwp_vm_nic_detach(struct vmwp_vm *vm, const struct vmwp_hotplug *req, struct json_object *rep, char *err,
                       size_t errlen);
/* The control op: parses, checks the VM's state, runs it, replies
 * (run-hotplug.c). Takes the fds. */
struct json_object *vmwp_run_hotplug(struct vmwp_vm *vm, struct json_object *req, int *fds, size_t n_fds);
/* dvd-insert, dvd-eject (run-hotplug.c): fd the ISO (taken) or -1. */
struct json_object *vmwp_run_dvd(struct vmwp_vm *vm, struct json_object *req, int fd);
/* Tear that down again; the VPs must be stopped (vid_partition_join). */
void vmwp_vm_detach_vmbus(struct vmwp_vm *vm);
/* The integration services of the configuration (vm-ic.c), on vm->vmbus. */
int vmwp_vm_add_integration_services(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
/* Dynamic Memory (vm-dm.c), on vm->vmbus; freed after the server. */
int vmwp_vm_add_dm(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
void vmwp_vm_dm_free(struct vmwp_vm *vm);
/* The worker's own counters of Dynamic Memory into the "dm" object of a
 * "stats" reply (the device's come from its row). */
void vmwp_vm_dm_stats(struct vmwp_vm *vm, struct json_object *into);
/* vm-metering.c: each vCPU's CPU time and each disk's I/O, for metering. */
void vmwp_vm_metering_stats(struct vmwp_vm *vm, struct json_object *into);
/* Synthetic video, keyboard and mouse and the display socket
 * (vm-display.c, docs/console.md), on vm->vmbus. The display thread
 * starts under the sandbox and stops before the server goes; the devices
 * are freed after it. */
int vmwp_vm_add_display(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
/* Boot kind firmware (vm-firmware.c, docs/firmware.md): the BIOS image
 * mapped, fw_cfg with the files the firmware reads (its row), SeaBIOS's
 * debug port; nothing for the other kinds. After the display (the ACPI
 * tables describe its MMIO window). */
int vmwp_vm_add_firmware(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
void vmwp_vm_free_firmware(struct vmwp_vm *vm);
/* Pure: SeaBIOS's "bootorder" file for a configuration; its length or
 * -ENOSPC. */
int vmwp_firmware_bootorder(const struct vm_config *c, char *buf, size_t len);
/* The ACPI tables' configuration (vm.c), for both boot paths. */
struct acpi_config;
void vmwp_vm_acpi_config(const struct vmwp_vm *vm, struct acpi_config *ac);
int vmwp_vm_display_start(struct vmwp_vm *vm);
void vmwp_vm_display_stop(struct vmwp_vm *vm);
void vmwp_vm_display_free(struct vmwp_vm *vm);
/* The display server's counters and the worker's "display" events into
 * the "display" object of a "stats" reply (the devices' come from their
 * rows). */
void vmwp_vm_display_stats(struct vmwp_vm *vm, struct json_object *into);
/* The "display" event's fields (-ENOTSUP without a display). */
int vmwp_vm_display_status(struct vmwp_vm *vm, struct json_object *into);
int vmwp_vm_hvsock_create(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
int vmwp_vm_hvsock_start(struct vmwp_vm *vm);
/* The offer timeout from the guest's clock (vmwp_vm_time_dilation): at
 * creation, and again once a restore has set hvshim's. Any thread. */
void vmwp_vm_hvsock_follow_clock(struct vmwp_vm *vm);
void vmwp_vm_hvsock_stop(struct vmwp_vm *vm);
void vmwp_vm_hvsock_free(struct vmwp_vm *vm);

/* migrate-in.c: a post-copy destination's pager, stopped and freed (its
 * guard off vid); before the partition goes. */
void vmwp_vm_postcopy_free(struct vmwp_vm *vm);
