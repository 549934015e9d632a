/* SPDX-License-Identifier: MIT */
/* vmctl internals: one command per cmd-*.c file, bus helpers in bus.c,
 * output in output.c. Exit codes are part of the interface (vmctl --help,
 * docs/vmms.md). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "common/config.h"
#include "common/macro.h"
#include "vhdx/vhdx.h"

enum vmctl_exit {
        VMCTL_EXIT_OK = 0,
        VMCTL_EXIT_FAILURE = 1,       /* the operation failed (see the message) */
        VMCTL_EXIT_USAGE = 2,         /* bad command line */
        VMCTL_EXIT_NO_SUCH_VM = 3,
        VMCTL_EXIT_INVALID = 4,       /* invalid configuration or argument */
        VMCTL_EXIT_STATE = 5,         /* not possible in the VM's current state */
        VMCTL_EXIT_DENIED = 6,        /* permission denied */
        VMCTL_EXIT_LIMIT = 7,         /* a limit was reached */
        VMCTL_EXIT_UNREACHABLE = 8,   /* vmms is not running or not reachable */
        VMCTL_EXIT_TIMEOUT = 9,       /* the wait timed out */
        VMCTL_EXIT_EXISTS = 10,       /* the name or id is taken */
        VMCTL_EXIT_BUSY = 11,         /* in use by someone else (the interactive console) */
};

struct vmctl {
        sd_bus *bus;
        const char *address; /* NULL: the system bus (or $DBUS_SYSTEM_BUS_ADDRESS) */
        bool json;
        bool quiet;
};

struct vmctl_command {
        const char *name;
        const char *args;
        const char *summary;
        int (*run)(struct vmctl *c, int argc, char **argv);
        void (*help)(void);
        bool local; /* works on files, without vmms: no bus */
};

/* bus.c */
int vmctl_connect(struct vmctl *c);
/* Prints "vmctl: <what>: <message>" (with a hint) and returns the exit code
 * that the D-Bus error (or errno) means. */
int vmctl_fail(const sd_bus_error *e, int r, const char *what);
/* Resolves a name or id to an object path (GetVM); prints errors itself and
 * returns a vmctl_exit code on failure, 0 on success. */
int vmctl_resolve(struct vmctl *c, const char *ref, char **path);
int vmctl_get_string(struct vmctl *c, const char *path, const char *prop, char **out);
/* Waits until State is one of `want` (comma-separated). If it becomes one of
 * `fail` first, prints the VM's ExitReason and returns VMCTL_EXIT_FAILURE. */
int vmctl_wait_state(struct vmctl *c, const char *path, const char *want, const char *fail, uint64_t timeout_us);
int vmctl_call_vm(struct vmctl *c, const char *path, const char *method, const char *what, const char *types, ...);
/* A long VM method (Save, Migrate): sends the method call m (built by the
 * caller; timeout_us 0 for the bus's default of 25 s, UINT64_MAX for none:
 * vmms answers when the operation ends, however long) and, until the reply, calls
 * progress(c, path, tty, opaque) after each PropertiesChanged of the VM,
 * unless --quiet or --json (tty: the line is redrawn in place and cleared
 * at the end). 0, or vmctl_fail()'s exit code with what. */
int vmctl_call_with_progress(struct vmctl *c, const char *path, sd_bus_message *m, uint64_t timeout_us,
                             const char *what, void (*progress)(struct vmctl *c, const char *path, bool tty, void *opaque),
                             void *opaque);
/* The same, where Ctrl-C (or SIGTERM) calls cancel_method on the VM (once;
 * the call's own answer then ends the command) and a second one stops
 * waiting: the operation goes on in vmms, the exit code is 1. */
int vmctl_call_with_progress_cancel(struct vmctl *c, const char *path, sd_bus_message *m, uint64_t timeout_us,
                                    const char *what, const char *cancel_method,
                                    void (*progress)(struct vmctl *c, const char *path, bool tty, void *opaque),
                                    void *opaque);

struct json_object;
/* cmd-show.c: GetAll of one interface of an object into obj (JSON values
 * by D-Bus type); 0 or -errno (nothing printed). The Memory interface's
 * properties as `vmctl show` prints them. */
int vmctl_get_properties(struct vmctl *c, const char *path, const char *iface, struct json_object *obj);
void vmctl_print_memory(struct json_object *mem);

/* args.c */
struct option;
/* getopt_long() over a command's options (cmd_opts, may be NULL) and the
 * global ones, which it applies to c (--address, --json, -q/--quiet: they may
 * follow the command). Returns the next command option, -1 at the end, or
 * '?' after printing what is wrong (unknown option, missing value). */
int vmctl_getopt(struct vmctl *c, int argc, char **argv, const struct option *cmd_opts);
/* After vmctl_getopt(): exactly `want` arguments are left, else the message
 * and VMCTL_EXIT_USAGE. */
int vmctl_check_args(int argc, char **argv, int want);

/* output.c */
void vmctl_format_duration(uint64_t usec, char *buf, size_t len);
struct vmctl_table;
struct vmctl_table *vmctl_table_new(unsigned n_cols, const char *const *headers);
int vmctl_table_add(struct vmctl_table *t, const char *const *cells);
void vmctl_table_print(struct vmctl_table *t);
void vmctl_table_free(struct vmctl_table *t);
int vmctl_parse_seconds(const char *s, uint64_t *usec);

/* disk-image.c: an image for the disk commands, read-only, as the caller */
struct vmctl_disk_image {
        const char *path;
        enum vm_disk_format format;
        int fd;
        uint64_t size;   /* the disk's: a VHDX's virtual size, a raw file's length */
        uint32_t sector; /* logical sector size */
        struct vhdx *v;  /* VHDX: the image, then its parents nearest first */
        struct vhdx *parents[VHDX_CHAIN_MAX];
        int pfd[VHDX_CHAIN_MAX];
        size_t n_parents;
};
struct vmctl_disk_extent {
        bool zero;         /* reads as zeros (no fd) */
        int fd;            /* else: the bytes are at file_off in fd */
        uint64_t file_off;
        uint64_t len;
};
/* The format of path: opt ("raw", "vhdx") if given, else by extension.
 * -EINVAL after saying why. */
int vmctl_disk_format(const char *path, const char *opt, enum vm_disk_format *out);
/* Opens path read-only; a VHDX with its chain, checked as a VM's Start
 * checks it. -errno with a sentence naming the image in err. */
int vmctl_disk_open(struct vmctl_disk_image *im, const char *path, enum vm_disk_format fmt, char *err,
                    size_t errlen);
void vmctl_disk_close(struct vmctl_disk_image *im);
/* Where the disk's bytes [off, off + len) start: one extent of at most len
 * (off and len multiples of the sector size, inside the disk). */
int vmctl_disk_extent(struct vmctl_disk_image *im, uint64_t off, uint64_t len, struct vmctl_disk_extent *e);

/* cmd-*.c */
extern const struct vmctl_command vmctl_cmd_create, vmctl_cmd_list, vmctl_cmd_show, vmctl_cmd_host,
        vmctl_cmd_start, vmctl_cmd_stop, vmctl_cmd_kill, vmctl_cmd_reboot, vmctl_cmd_pause, vmctl_cmd_resume, vmctl_cmd_nmi,
        vmctl_cmd_delete, vmctl_cmd_edit, vmctl_cmd_console, vmctl_cmd_wait, vmctl_cmd_kvp, vmctl_cmd_save,
        vmctl_cmd_discard_saved, vmctl_cmd_export_saved, vmctl_cmd_import_saved, vmctl_cmd_migrate, vmctl_cmd_migrate_cancel, vmctl_cmd_migrate_reconnect, vmctl_cmd_disk, vmctl_cmd_checkpoint, vmctl_cmd_checkpoints,
        vmctl_cmd_revert, vmctl_cmd_checkpoint_delete, vmctl_cmd_copy_to,
        vmctl_cmd_copy_cancel, vmctl_cmd_memory, vmctl_cmd_nic, vmctl_cmd_display, vmctl_cmd_screenshot,
        vmctl_cmd_dvd, vmctl_cmd_stats, vmctl_cmd_pool;
/* display-relay.c: vmctl display VM --stdio. vmctl_display_relay passes
 * bytes from sock to out and from in to sock until sock ends (or out stops
 * taking them); the end of in is passed on as a half close. 0 or -errno. */
int vmctl_display_relay(int sock, int in, int out);
/* OpenDisplay on the VM at path, relayed to stdin/stdout: 0, or an exit
 * code with the reason printed (vmms's refusal). */
int vmctl_display_stdio(struct vmctl *c, const char *path);
/* cmd-disk.c: option parsers and the new-file rule convert shares; each
 * prints what is wrong and returns VMCTL_EXIT_USAGE (0 if fine). */
int vmctl_disk_parse_type(const char *s, enum vhdx_type *t);
int vmctl_disk_parse_block_size(const char *s, uint32_t *bytes);
/* A new image file (O_EXCL, 0600), or -1 after saying why. */
int vmctl_disk_new_file(const char *path);
/* cmd-disk-convert.c: vmctl disk convert (cmd-disk.c dispatches) */
int vmctl_disk_convert(struct vmctl *c, int argc, char **argv);
/* cmd-hotplug.c: vmctl disk attach|detach|resize (argv[0] names which;
 * cmd-disk.c dispatches; connects to vmms itself) */
int vmctl_disk_vm(struct vmctl *c, int argc, char **argv);
/* vmctl disk qos VM INDEX [--max-iops=N] [--min-iops=N] [--max-bytes-per-s=N] (cmd-qos.c) */
int vmctl_disk_qos(struct vmctl *c, int argc, char **argv);
/* vmctl nic qos VM INDEX [--max-in-bps=N] [--max-out-bps=N] (cmd-qos.c) */
int vmctl_nic_qos(struct vmctl *c, int argc, char **argv);

/* cmd-create.c: the configuration flags create and edit share. */
enum {
        VMCTL_OPT_CONFIG_FIRST = 0x100,
        VMCTL_OPT_NAME = VMCTL_OPT_CONFIG_FIRST, VMCTL_OPT_MEMORY, VMCTL_OPT_VCPUS, VMCTL_OPT_KERNEL,
        VMCTL_OPT_INITRD, VMCTL_OPT_CMDLINE, VMCTL_OPT_BOOT, VMCTL_OPT_DISK, VMCTL_OPT_NIC,
        VMCTL_OPT_RESTART_POLICY, VMCTL_OPT_STOP_TIMEOUT, VMCTL_OPT_SERIAL_LOG, VMCTL_OPT_REMOVE_DISK,
        VMCTL_OPT_REMOVE_NIC, VMCTL_OPT_FORCE, VMCTL_OPT_CHECKPOINT_TYPE, VMCTL_OPT_DYNAMIC_MEMORY,
        VMCTL_OPT_DISPLAY, VMCTL_OPT_FIRMWARE, VMCTL_OPT_BOOT_ORDER, VMCTL_OPT_DVD,
        VMCTL_OPT_CPU_LIMIT, VMCTL_OPT_CPU_WEIGHT, VMCTL_OPT_CONFIG_END,
};
/* getopt_long entries of the configuration flags, for create and edit. */
#define VMCTL_CONFIG_OPTION_ENTRIES                                            \
        { "name", required_argument, NULL, VMCTL_OPT_NAME },                   \
        { "memory", required_argument, NULL, VMCTL_OPT_MEMORY },               \
        { "vcpus", required_argument, NULL, VMCTL_OPT_VCPUS },                 \
        { "kernel", required_argument, NULL, VMCTL_OPT_KERNEL },               \
        { "initrd", required_argument, NULL, VMCTL_OPT_INITRD },               \
        { "cmdline", required_argument, NULL, VMCTL_OPT_CMDLINE },             \
        { "boot", required_argument, NULL, VMCTL_OPT_BOOT },                   \
        { "disk", required_argument, NULL, VMCTL_OPT_DISK },                   \
        { "nic", required_argument, NULL, VMCTL_OPT_NIC },                     \
        { "restart-policy", required_argument, NULL, VMCTL_OPT_RESTART_POLICY }, \
        { "stop-timeout", required_argument, NULL, VMCTL_OPT_STOP_TIMEOUT },   \
        { "serial-log", required_argument, NULL, VMCTL_OPT_SERIAL_LOG },       \
        { "force", no_argument, NULL, VMCTL_OPT_FORCE },                       \
        { "checkpoint-type", required_argument, NULL, VMCTL_OPT_CHECKPOINT_TYPE }, \
        { "dynamic-memory", required_argument, NULL, VMCTL_OPT_DYNAMIC_MEMORY }, \
        { "display", required_argument, NULL, VMCTL_OPT_DISPLAY },             \
        { "firmware", required_argument, NULL, VMCTL_OPT_FIRMWARE },           \
        { "boot-order", required_argument, NULL, VMCTL_OPT_BOOT_ORDER },       \
        { "dvd", required_argument, NULL, VMCTL_OPT_DVD },                     \
        { "cpu-limit", required_argument, NULL, VMCTL_OPT_CPU_LIMIT },         \
        { "cpu-weight", required_argument, NULL, VMCTL_OPT_CPU_WEIGHT }
#define VMCTL_CONFIG_OPTIONS_HELP                                                                 \
        "  --name=NAME            VM name ([A-Za-z0-9._-], up to 64)\n"                               \
        "  --memory=SIZE          memory: 512, 512M, 2G (MiB by default); with Dynamic Memory\n"     \
        "                         the startup memory\n"                                             \
        "  --dynamic-memory=on|off|[on,]min=SIZE,max=SIZE[,buffer=PCT][,weight=N]\n"                 \
        "                         Dynamic Memory: between min and max by the guest's demand\n"      \
        "                         plus buffer percent (20), weight 0..10000 (5000) when short\n"    \
        "  --display=on|off|[on,]WIDTHxHEIGHT[,vnc=PORT][,web=PORT][,keymap=LAYOUT]\n"               \
        "                         synthetic video, keyboard and mouse with a console (VNC on a\n"  \
        "                         Unix socket; vnc=/web=: also on 127.0.0.1:PORT, web: noVNC;\n"  \
        "                         keymap: the guest's keyboard layout, de, fr, de:nodeadkeys)\n"  \
        "  --vcpus=N              virtual processors\n"                                               \
        "  --cpu-limit=PCT        each vCPU runs at most PCT percent of the time, 1..100\n"  \
        "                         (100: no limit); also on a running VM\n"                        \
        "  --cpu-weight=N         CPU weight against other VMs, 1..10000 (default 100; needs\n"      \
        "                         systemd and cgroup v2); also on a running VM\n"                  \
        "  --kernel=PATH          kernel (PVH ELF, or bzImage with --boot=linux)\n"                   \
        "  --initrd=PATH          initrd (linux boot only)\n"                                         \
        "  --cmdline=TEXT         kernel command line\n"                                              \
        "  --boot=pvh|linux|firmware  boot protocol (default pvh with --kernel; without a kernel\n"  \
        "                         the VM boots its own disk or DVD through the firmware)\n"        \
        "  --firmware=PATH        firmware image (default /usr/share/seabios/bios-256k.bin)\n"      \
        "  --boot-order=dvd,disk  what the firmware boots, in order (default dvd,disk)\n"            \
        "  --dvd=ISO              the disc in the DVD drive (secondary IDE master; added)\n"        \
        "  --disk=PATH[,ro][,bus=scsi|ide][,controller=N][,lun=N][,sector-size=N][,format=raw|vhdx]\n"     \
        "                         add a disk (format: by default from the extension, .vhdx/.avhdx;\n"     \
        "                         bus: ide for a firmware VM, which boots from IDE, else scsi)\n"       \
        "                         [,max-iops=N][,min-iops=N][,max-bytes-per-s=N]: Storage QoS, IOPS\n"   \
        "                         counted in 8 KiB units (vmctl disk qos changes it)\n"                 \
        "  --nic=[mac=MAC][,bridge=BR][,tap=IF][,mtu=N][,link=down][,queues=N]   add a NIC (\"auto\": defaults;\n" \
        "                 queues: vRSS channels, at most one per vCPU)\n" \
        "                 [,max-in-bps=N][,max-out-bps=N]: bandwidth caps, bits/s to and from the guest\n" \
        "  --restart-policy=never|on-failure|always\n"                                                \
        "  --stop-timeout=SEC     graceful shutdown timeout of Stop\n"                                \
        "  --checkpoint-type=production|production-only|standard|disabled\n"                         \
        "                         what a checkpoint is by default (default production)\n"             \
        "  --serial-log=PATH      console log file (default: vmms's log directory)\n"                 \
        "  --force                allow more memory than this host has (\"allow_memory_over_host\")\n"
struct json_object;
/* Applies a configuration option (its getopt value) to cfg; prints the error
 * and returns VMCTL_EXIT_INVALID, or 0. ide_disks: --disk without bus= is
 * an IDE disk (a firmware VM's). */
int vmctl_apply_option(struct json_object *cfg, int c, const char *arg, bool ide_disks);
/* Checks cfg with vm_config_parse() before it goes to vmms, so that the
 * message comes early; returns 0 or VMCTL_EXIT_INVALID. */
int vmctl_check_config(struct json_object *cfg, char **json_out);
/* Reads a whole file ("-": stdin), at most 64 KiB. */
int vmctl_read_input(const char *path, char **out);
