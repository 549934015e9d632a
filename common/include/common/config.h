/* SPDX-License-Identifier: MIT */
/* VM configuration: the JSON document vmms stores and hands to vmwp.
 * vm_config_parse() is a pure function (no file or device access) with a
 * fuzz target; it rejects anything out of range with the offending field. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/guid.h"

/* Hard limits (docs/THREAT_MODEL.md). */
#define VM_CONFIG_MAX_BYTES (64u * 1024u)
#define VM_NAME_MAX 64
#define VM_PATH_MAX 1024
#define VM_CMDLINE_MAX 2048
#define VM_MEMORY_MIN_MIB 16u
#define VM_MEMORY_MAX_MIB (256u * 1024u)
#define VM_VCPUS_MAX 64u
#define VM_DISKS_MAX 64u
#define VM_NICS_MAX 8u
#define VM_NIC_QUEUES_MAX 32u /* all NICs' queues together (each a TAP fd for the worker) */
#define VM_SCSI_CONTROLLERS_MAX 4u
#define VM_SCSI_LUNS_MAX 64u
#define VM_IFNAME_MAX 16 /* IFNAMSIZ */

enum vm_boot_kind {
        VM_BOOT_PVH,   /* ELF with a Xen PVH entry note (guest-vsc test guest) */
        VM_BOOT_LINUX, /* bzImage, 64-bit boot protocol, with ACPI */
        /* A BIOS image (Debian's SeaBIOS) from the reset vector, which
         * boots the guest's own disk or DVD: Hyper-V's Generation 1 VM
         * (docs/firmware.md). */
        VM_BOOT_FIRMWARE,
};

/* What the firmware tries, in order (Hyper-V's Gen 1 startup order). */
enum vm_boot_device {
        VM_BOOT_DEVICE_DVD,  /* the first ATAPI drive */
        VM_BOOT_DEVICE_DISK, /* the first IDE disk */
};
#define VM_BOOT_ORDER_MAX 2u
#define VM_FIRMWARE_DEFAULT "/usr/share/seabios/bios-256k.bin"

/* The image format. Never guessed from the content (a guest writing a
 * VHDX signature into a raw disk must not turn it into one): "format" in
 * the configuration, else the path's extension (.vhdx, .avhdx: VHDX). */
enum vm_disk_format {
        VM_DISK_RAW,
        VM_DISK_VHDX, /* docs/vhdx.md */
};

enum vm_disk_bus {
        VM_DISK_SCSI, /* synthetic SCSI controller (storvsp) */
        VM_DISK_IDE,  /* emulated IDE (issue #13) */
};

enum vm_restart_policy {
        VM_RESTART_NEVER,
        VM_RESTART_ON_FAILURE,
        VM_RESTART_ALWAYS,
};

/* What a checkpoint of the running VM is when its caller names no type
 * (docs/checkpoints.md): production freezes the guest's file systems
 * through the backup (VSS) integration service and keeps no memory state,
 * falling back to standard when the guest cannot; production-only fails
 * instead; standard saves the memory state; disabled refuses checkpoints. */
enum vm_checkpoint_type {
        VM_CHECKPOINT_PRODUCTION,
        VM_CHECKPOINT_PRODUCTION_ONLY,
        VM_CHECKPOINT_STANDARD,
        VM_CHECKPOINT_DISABLED,
};

/* Storage QoS of one disk (docs/storvsp.md, "Storage QoS"; disk/qos.h
 * enforces it): Hyper-V's MaximumIOPS/MinimumIOPS, normalised to 8 KiB,
 * and a byte rate (its MaximumIOBandwidth). 0: none. Changeable on a
 * running VM (SetDiskQoS). */
#define VM_DISK_QOS_MAX_IOPS 10000000ull             /* 10 M normalised IOPS */
#define VM_DISK_QOS_MAX_BYTES_PER_S 1000000000000ull /* 1 TB/s */
struct vm_disk_qos {
        uint64_t max_iops, min_iops, max_bytes_per_s;
};
/* Why the settings are refused (a value above the limits, a minimum above
 * the maximum), with the field in *field; NULL if they are valid. */
const char *vm_disk_qos_invalid(const struct vm_disk_qos *q, const char **field);

struct vm_disk_config {
        char path[VM_PATH_MAX];
        bool read_only;
        enum vm_disk_bus bus;
        uint32_t controller; /* SCSI controller index (one VMBus device each) */
        uint32_t lun;        /* SCSI: 0..VM_SCSI_LUNS_MAX-1; IDE: 0..3 (channel*2+device) */
        uint32_t sector_size; /* 512 or 4096 */
        enum vm_disk_format format;
        struct vm_disk_qos qos;
};

/* A DVD drive on the emulated IDE controller (docs/emulated-devices.md):
 * at channel*2+position, as Hyper-V places it (secondary master by
 * default), with an ISO image opened read-only, or empty. */
#define VM_DVD_DRIVES_MAX 4u
struct vm_dvd_config {
        uint32_t channel;  /* 0 primary, 1 secondary [1] */
        uint32_t position; /* 0 master, 1 slave [0] */
        char path[VM_PATH_MAX]; /* empty: no disc */
};

/* Bandwidth caps of one NIC (docs/netvsp.md "Bandwidth caps"; netvsp/qos.h
 * enforces them): Hyper-V's MaximumBandwidth, each way, in bits per second
 * of Ethernet frames; in = host -> guest, out = guest -> host. 0: none,
 * else VM_NIC_QOS_MIN_BPS..VM_NIC_QOS_MAX_BPS. Changeable on a running VM
 * (SetNicQoS). */
#define VM_NIC_QOS_MIN_BPS 1000000ull       /* 1 Mbit/s */
#define VM_NIC_QOS_MAX_BPS 1000000000000ull /* 1 Tbit/s */
/* min_weight: Hyper-V's MinimumBandwidthWeight, the NIC's share of the
 * uplink vmms shapes while it is congested (docs/netvsp.md "Minimum
 * bandwidth weight"; vmms/net/uplink-qos.c); 0: none, else
 * 1..VM_NIC_QOS_MAX_WEIGHT. Not the worker's: SetNicMinWeight. */
#define VM_NIC_QOS_MAX_WEIGHT 100
struct vm_nic_qos {
        uint64_t max_in_bps, max_out_bps;
        uint64_t min_weight;
};
/* Why the settings are refused, with the field in *field; NULL if valid. */
const char *vm_nic_qos_invalid(const struct vm_nic_qos *q, const char **field);

struct vm_nic_config {
        uint8_t mac[6];
        char tap[VM_IFNAME_MAX];    /* pre-created TAP to use; empty: create one */
        char bridge[VM_IFNAME_MAX]; /* attach a created TAP to this bridge; may be empty */
        uint32_t mtu;               /* 68..65521 */
        bool link_up;               /* initial link state shown to the guest */
        uint32_t queues;            /* vRSS channels, 1..8 (at most one per vCPU; docs/netvsp.md) */
        struct guid instance;       /* VMBus instance GUID (stable across restarts) */
        struct vm_nic_qos qos;
};

/* The TAP queues (fds) a NIC is served with: one per channel, at most
 * one per vCPU (Linux opens min(queues, CPUs) channels, §7.8). */
static inline uint32_t vm_nic_queues(const struct vm_nic_config *nic, uint32_t vcpus) {
        uint32_t q = nic->queues ? nic->queues : 1u, v = vcpus ? vcpus : 1u;
        return q < v ? q : v;
}

struct vm_ic_config {
        bool shutdown, heartbeat, timesync, kvp;
        bool vss; /* backup (VSS): production checkpoints freeze the guest's file systems (off by default) */
        bool fcopy; /* file copy (Hyper-V's Guest Service Interface): CopyFile (off by default, as Hyper-V) */
        uint32_t timesync_interval_s; /* 0: only at start and resume */
};

/* Hyper-V sockets (docs/hvsock.md): a guest connecting to a service's port
 * reaches the Unix socket at path (vmms connects on the worker's behalf);
 * host processes reach guest listeners through the VM's socket. */
#define VM_HVSOCK_SERVICES_MAX 16u
struct vm_hvsock_service {
        uint32_t port; /* 0 .. 0x7fffffff */
        char path[VM_PATH_MAX];
};
struct vm_hvsock_config {
        bool enabled;
        uint32_t max_connections; /* [64] */
        uint32_t n_services;
        struct vm_hvsock_service services[VM_HVSOCK_SERVICES_MAX];
        /* The socket host processes connect to ("CONNECT <port>\n"): vmms
         * sets it for the worker (its runtime directory); empty: none. */
        char socket[VM_PATH_MAX];
};

/* Dynamic Memory (docs/dynamic-memory.md): memory_mib is the startup
 * memory; vmms moves the VM between minimum and maximum by the guest's
 * demand plus buffer percent, sharing the host's memory by weight. The
 * memory above startup is hot-added, in 128 MiB blocks: the maximum is
 * startup plus a multiple of 128 MiB (rounded down). */
#define VM_DM_BLOCK_MIB 128u
struct vm_dm_config {
        bool enabled;
        uint32_t minimum_mib;    /* at most memory_mib; 0: memory_mib (vm_dm_minimum_mib) */
        uint32_t maximum_mib;    /* at least memory_mib; 0: memory_mib (vm_dm_maximum_mib) */
        uint32_t buffer_percent; /* [20] 5..2000, Hyper-V's range */
        uint32_t weight;         /* [5000] 0..10000: who gets memory first when it is short */
};

/* Synthetic video, keyboard and mouse with a console (docs/console.md):
 * the guest sees the three VMBus devices; vmms runs a display server
 * (vmdisplay) that serves the screen over VNC on a Unix socket in the VM's
 * runtime directory and, when asked for, on loopback TCP ports (VNC,
 * and the web console). */
#define VM_DISPLAY_WIDTH_MIN 640u
#define VM_DISPLAY_HEIGHT_MIN 480u
#define VM_DISPLAY_WIDTH_MAX 2560u
#define VM_DISPLAY_HEIGHT_MAX 1600u
#define VM_KEYMAP_MAX 65u /* "LAYOUT:VARIANT", 32 bytes each */
/* "processor": Hyper-V's processor settings that bound the VM's use of
 * the host's CPUs (docs/vmms.md "Processor limit"). limit_pct: each vCPU
 * runs at most this share of the time (Hyper-V's "virtual machine
 * limit"), VM_CPU_LIMIT_MIN_PCT..100, 100 (the default) for none; the
 * worker enforces it (vid's throttle) on any host. weight: Hyper-V's
 * relative weight between VMs, 1..10000 (default 100), cgroup v2's
 * cpu.weight of the worker's systemd scope (vmms; not enforced without
 * systemd and cgroup v2, and said so). Both may change while the VM runs
 * and are re-applied from the configuration on every start, restore and
 * migration. */
#define VM_CPU_LIMIT_MIN_PCT 1u
#define VM_CPU_LIMIT_NONE 100u
#define VM_CPU_WEIGHT_MIN 1u
#define VM_CPU_WEIGHT_MAX 10000u
#define VM_CPU_WEIGHT_DEFAULT 100u
struct vm_processor_config {
        uint32_t limit_pct;
        uint32_t weight;
};

struct vm_display_config {
        bool enabled;
        uint32_t width, height; /* [1024 x 768] the resolution the guest is told to prefer */
        uint32_t vnc_port;      /* 0: no TCP VNC; else 127.0.0.1:vnc_port (vmms's alone) */
        uint32_t web_port;      /* 0: no web console; else http://127.0.0.1:web_port/ (vmms's alone) */
        /* The guest's keyboard layout, XKB's name (vm_keymap_is_valid):
         * what a viewer types goes to the keys that type it there; empty
         * or "us": US. */
        char keymap[VM_KEYMAP_MAX + 1];
        /* The worker's display socket (common/display.h): vmms sets it
         * for the worker (its runtime directory); empty: none. */
        char socket[VM_PATH_MAX];
};

struct vm_config {
        char name[VM_NAME_MAX + 1];
        struct guid id;
        uint32_t memory_mib;
        /* vmms refuses memory_mib above the host's RAM unless this is set
         * ("allow_memory_over_host": true, `vmctl create/edit --force`);
         * vmwp ignores it. */
        bool allow_memory_over_host;
        uint32_t vcpus;

        enum vm_boot_kind boot_kind;
        char kernel[VM_PATH_MAX];
        char initrd[VM_PATH_MAX]; /* empty: none */
        char cmdline[VM_CMDLINE_MAX];
        /* kind firmware: the image (default VM_FIRMWARE_DEFAULT) and the
         * boot order (default dvd, disk: Hyper-V's). */
        char firmware[VM_PATH_MAX];
        uint32_t n_boot_order;
        enum vm_boot_device boot_order[VM_BOOT_ORDER_MAX];

        char serial_log[VM_PATH_MAX]; /* empty: none */

        uint32_t n_disks;
        struct vm_disk_config disks[VM_DISKS_MAX];
        uint32_t n_dvds;
        struct vm_dvd_config dvds[VM_DVD_DRIVES_MAX];
        /* VMBus instance GUIDs of the SCSI controllers, by controller index. */
        struct guid scsi_instance[VM_SCSI_CONTROLLERS_MAX];

        uint32_t n_nics;
        struct vm_nic_config nics[VM_NICS_MAX];

        struct vm_ic_config ic;
        struct vm_hvsock_config hvsock;
        struct vm_dm_config dm;
        struct vm_display_config display;
        struct vm_processor_config processor;

        enum vm_restart_policy restart_policy;
        uint32_t stop_timeout_s;
        enum vm_checkpoint_type checkpoint_type; /* vmms's alone: may change while it runs */
};

static inline uint32_t vm_dm_minimum_mib(const struct vm_config *c) {
        return c->dm.minimum_mib ? c->dm.minimum_mib : c->memory_mib;
}
static inline uint32_t vm_dm_maximum_mib(const struct vm_config *c) {
        return c->dm.maximum_mib ? c->dm.maximum_mib : c->memory_mib;
}
/* The memory above startup the worker maps for hot-add (MiB): the part of
 * maximum - startup that is whole 128 MiB blocks, 0 without Dynamic Memory. */
static inline uint32_t vm_dm_hot_add_mib(const struct vm_config *c) {
        if (!c->dm.enabled || vm_dm_maximum_mib(c) <= c->memory_mib)
                return 0;
        return (vm_dm_maximum_mib(c) - c->memory_mib) / VM_DM_BLOCK_MIB * VM_DM_BLOCK_MIB;
}
/* The most memory the VM can reach (MiB): startup and the hot-add window. */
static inline uint64_t vm_dm_reach_mib(const struct vm_config *c) {
        return (uint64_t)c->memory_mib + vm_dm_hot_add_mib(c);
}

/* config-processor.c: "processor" from JSON (NULL: absent, the defaults
 * kept) with "processor.<field>: <reason>" in err, -EINVAL; and to JSON,
 * NULL when every field has its default (nothing to write). */
struct json_object;
int vm_processor_config_parse(struct json_object *o, struct vm_processor_config *out, char *err, size_t errlen);
struct json_object *vm_processor_config_to_json(const struct vm_processor_config *pc);

/* The format a disk path gets when its configuration names none. */
enum vm_disk_format vm_disk_format_for_path(const char *path);
const char *vm_disk_format_to_string(enum vm_disk_format f);

/* A key given twice in one object of the JSON text (json-c would keep the
 * last one silently): -EINVAL with "<key>: appears twice ..." in err. Part
 * of vm_config_parse(); for callers that rewrite the text before parsing. */
int vm_config_check_duplicate_keys(const char *json, size_t len, char *err, size_t errlen);

/* Parse and validate. On error returns -EINVAL (or -ENOMEM) and writes
 * "<field>: <reason>" into err. Missing optional fields get defaults;
 * missing instance GUIDs are derived from the VM id, so they are stable. */
int vm_config_parse(const char *json, size_t len, struct vm_config *out, char *err, size_t errlen);
/* Serialise to a newly allocated, NUL-terminated JSON string (free()). */
char *vm_config_to_json(const struct vm_config *c);
void vm_config_init_defaults(struct vm_config *c);

int vm_mac_parse(const char *s, uint8_t mac[6]);
void vm_mac_format(const uint8_t mac[6], char buf[static 18]);
bool vm_name_is_valid(const char *name);
/* A keyboard layout as XKB names it: LAYOUT or LAYOUT:VARIANT, each 1-32
 * bytes of letters, digits, '_' and '-', the layout starting with a
 * lower-case letter ("de", "fr", "de:nodeadkeys"). Only the name: whether
 * XKB has it, vmdisplay finds out. */
bool vm_keymap_is_valid(const char *spec);
/* What the messages refusing one say a layout name is. */
#define VM_KEYMAP_HINT "LAYOUT or LAYOUT:VARIANT as XKB names them: de, fr, gb, de:nodeadkeys"

const char *vm_boot_kind_to_string(enum vm_boot_kind k);
const char *vm_boot_device_to_string(enum vm_boot_device d);
const char *vm_restart_policy_to_string(enum vm_restart_policy p);
const char *vm_checkpoint_type_to_string(enum vm_checkpoint_type t);
/* The type of a name, or -EINVAL. */
int vm_checkpoint_type_from_string(const char *s);
