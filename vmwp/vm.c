// SPDX-License-Identifier: MIT
/* Building a VM from its configuration (the assembly point, see vm.h). */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "disk/disk.h"
#include "hv/vmstack.h"
#include "hvshim/hvshim.h"
#include "vid/vid.h"
#include "vm-emu.h"
#include "vm-internal.h"
#include "vm-net.h"
#include "vmwp/acpi.h"
#include "vmwp/boot.h"
#include "vmwp/migrate.h"
#include "vmwp/sandbox.h"

/* vid writes its own pages (the PVM syscall trampoline) in the reserved
 * legacy area: the ACPI tables must end before them. */
_Static_assert(BOOT_ACPI_GPA + BOOT_ACPI_SIZE <= VID_RESERVED_RAM_GPA, "ACPI tables overlap vid's pages");
_Static_assert(VID_RESERVED_RAM_GPA >= BOOT_LOW_RESERVED_START &&
                       VID_RESERVED_RAM_GPA + VID_RESERVED_RAM_SIZE <= BOOT_HIGH_MEMORY,
               "vid's pages must be in the reserved legacy area");

#define COM1_PORT 0x3f8
#define COM1_IRQ 4
#define BOOT_FILE_MAX (1ull << 30) /* kernel or initrd: 1 GiB at most */

uint64_t vmwp_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vmwp_vm_options_init(struct vmwp_vm_options *o) {
        *o = (struct vmwp_vm_options){ .serial.kind = VMWP_CONSOLE_NONE, .start_ns = vmwp_now_ns(),
                                       .kernel_fd = -1, .initrd_fd = -1, .serial_log_fd = -1,
                                       .saved_state_fd = -1, .migrate_incoming_fd = -1 };
        for (size_t i = 0; i < VM_DVD_DRIVES_MAX; i++)
                o->dvd_fds[i] = -1;
        o->phase_ns[VMWP_PHASE_START] = o->start_ns;
}

const char *vmwp_phase_name(enum vmwp_phase p) {
        static const char *const names[VMWP_PHASE_COUNT] = {
                [VMWP_PHASE_START] = "start",     [VMWP_PHASE_CONFIG] = "config",   [VMWP_PHASE_SANDBOX] = "sandbox",
                [VMWP_PHASE_KVM] = "kvm",         [VMWP_PHASE_DEVICES] = "devices", [VMWP_PHASE_IMAGE] = "image",
                [VMWP_PHASE_ENTERED] = "entered", [VMWP_PHASE_STARTED] = "started", [VMWP_PHASE_GUEST] = "guest",
                [VMWP_PHASE_STOP] = "stop",       [VMWP_PHASE_JOINED] = "joined",   [VMWP_PHASE_FREED] = "freed",
        };
        return (unsigned)p < VMWP_PHASE_COUNT ? names[p] : "?";
}

/* ---- device callbacks (vCPU threads) ---- */

static void uart_tx(void *opaque, uint8_t byte) {
        struct vmwp_vm *vm = opaque;
        uint64_t zero = 0;
        atomic_compare_exchange_strong(&vm->first_serial_ns, &zero, vmwp_now_ns());
        vmwp_console_output(vm->console, byte);
}

static void uart_irq(void *opaque, bool level) {
        struct vmwp_vm *vm = opaque;
        (void)vid_irq_line(vm->p, COM1_IRQ, level);
}

static void uart_rx_space(void *opaque) {
        struct vmwp_vm *vm = opaque;
        vmwp_console_input_ready(vm->console);
}

static const struct uart_ops vm_uart_ops = { .tx = uart_tx, .irq = uart_irq, .rx_space = uart_rx_space };

static void pm_power_off(void *opaque) {
        struct vmwp_vm *vm = opaque;
        vid_partition_request_stop(vm->p, VMWP_EXIT_POWEROFF, "powered off (ACPI S5)");
}

static void pm_reset(void *opaque, const char *source) {
        struct vmwp_vm *vm = opaque;
        vid_partition_request_stop(vm->p, VMWP_EXIT_RESET, "reset requested (%s)", source);
}

static void pm_sci(void *opaque, bool level) {
        struct vmwp_vm *vm = opaque;
        (void)vid_irq_line(vm->p, ACPI_SCI_IRQ, level);
}

static void pm_marker(void *opaque, uint32_t value) {
        struct vmwp_vm *vm = opaque;
        uint64_t zero = 0;
        /* The --sandbox-probe from a vCPU thread, on the guest's first exit. */
        if (value == VMSTACK_MARKER_FIRST_INSN &&
            atomic_compare_exchange_strong(&vm->first_insn_ns, &zero, vmwp_now_ns()))
                sandbox_probe(vm->sandbox_probe, "vCPU thread");
        else if (value == VMSTACK_MARKER_BOOTED)
                atomic_compare_exchange_strong(&vm->booted_ns, &zero, vmwp_now_ns());
}

static const struct acpi_pm_ops vm_pm_ops = {
        .power_off = pm_power_off, .reset = pm_reset, .sci = pm_sci, .marker = pm_marker,
};

static void hex_bytes(char *out, size_t size, const uint8_t *b, unsigned n) {
        for (unsigned i = 0, pos = 0; i < n && pos < size; i++)
                pos += (unsigned)snprintf(out + pos, size - pos, "%s%02x", i ? " " : "", b[i]);
}

/* Every way a vCPU can end the VM gets its status and a reason naming the
 * vCPU, RIP and, for emulation failures, the instruction bytes (and those
 * KVM's emulator failed on, where it says and they differ: code that
 * changed under it). */
int vmwp_exit_reason(const struct vid_exit *e, unsigned vcpu, char *buf, size_t len) {
        unsigned long long rip = (unsigned long long)e->rip;
        char bytes[16 * 3 + 1] = "unreadable";
        if (e->insn_len)
                hex_bytes(bytes, sizeof bytes, e->insn, MIN(e->insn_len, 16u));
        char emu[sizeof e->emu_insn * 3 + 40] = "";
        unsigned emu_len = MIN(e->emu_insn_len, (unsigned)sizeof e->emu_insn);
        if (emu_len && memcmp(e->emu_insn, e->insn, MIN(emu_len, (unsigned)e->insn_len)) != 0) {
                int k = snprintf(emu, sizeof emu, "; the emulator failed on: ");
                hex_bytes(emu + k, sizeof emu - (size_t)k, e->emu_insn, emu_len);
        }
        switch (e->kind) {
        case VID_EXIT_SHUTDOWN:
                if (e->rip_lost)
                        snprintf(buf, len, "triple fault on vCPU %u (where: not known; KVM on AMD-V resets the vCPU "
                                           "at a triple fault)", vcpu);
                else
                        snprintf(buf, len, "triple fault on vCPU %u at rip 0x%llx", vcpu, rip);
                return VMWP_EXIT_TRIPLE_FAULT;
        case VID_EXIT_INTERNAL:
                snprintf(buf, len, "internal error on vCPU %u at rip 0x%llx (KVM suberror %u), instruction bytes: %s%s",
                         vcpu, rip, e->suberror, bytes, emu);
                return VMWP_EXIT_INTERNAL;
        case VID_EXIT_FAIL_ENTRY:
                snprintf(buf, len, "VM entry failed on vCPU %u at rip 0x%llx (hardware reason 0x%llx)", vcpu, rip,
                         (unsigned long long)e->data[0]);
                return VMWP_EXIT_INTERNAL;
        default:
                snprintf(buf, len, "internal error on vCPU %u at rip 0x%llx: unhandled exit reason %u, "
                         "instruction bytes: %s", vcpu, rip, e->reason, bytes);
                return VMWP_EXIT_INTERNAL;
        }
}

static int on_vcpu_exit(void *opaque, struct vid_vp *vp, const struct vid_exit *e) {
        struct vmwp_vm *vm = opaque;
        char reason[256];
        int status = vmwp_exit_reason(e, vid_vp_index(vp), reason, sizeof reason);
        vid_partition_request_stop(vm->p, status, "%s", reason);
        return status;
}

/* ---- building ---- */

/* Maps a boot file: the fd vmms opened, or (standalone) the path, opened
 * non-blocking so that a FIFO cannot hold the worker in setup. */
int vmwp_map_file(const char *what, const char *path, int given_fd, struct mapped_file *m, char *err,
                    size_t errlen) {
        _cleanup_close_ int own = given_fd < 0 ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) : -1;
        int fd = given_fd < 0 ? own : given_fd;
        if (fd < 0)
                return snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno)), -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno)), -errno;
        if (!S_ISREG(st.st_mode) || st.st_size == 0 || (uint64_t)st.st_size > BOOT_FILE_MAX)
                return snprintf(err, errlen, "%s %s: not a regular file of 1 byte to 1 GiB", what, path), -EINVAL;
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno)), -errno;
        m->data = p;
        m->len = (size_t)st.st_size;
        return 0;
}

void vmwp_unmap_file(struct mapped_file *m) {
        if (m->data)
                munmap((void *)m->data, m->len);
        *m = (struct mapped_file){ 0 };
}

static int guest_write(void *opaque, uint64_t gpa, const void *buf, size_t len) {
        return gm_write(opaque, gpa, buf, len);
}

static int set_entry(struct vmwp_vm *vm, const struct boot_entry *e) {
        struct vid_vp *vp = vid_partition_vp(vm->p, 0);
        int r = e->mode == BOOT_MODE_LONG ? vid_vp_set_long_mode(vp, e->cr3, e->gdt_base, e->gdt_limit)
                                          : vid_vp_set_protected_mode_flat(vp);
        if (r < 0)
                return r;
        struct vid_regs regs = { .rip = e->rip, .rsi = e->rsi, .rbx = e->rbx, .rsp = e->rsp, .rflags = 2 };
        return vid_vp_set_regs(vp, &regs);
}

static int load_boot_image(struct vmwp_vm *vm, const struct vmwp_vm_options *opt, uint64_t rsdp, char *err,
                           size_t errlen) {
        const struct vm_config *c = &vm->cfg;
        _cleanup_(vmwp_unmap_file) struct mapped_file kernel = { 0 }, initrd = { 0 };
        int r = vmwp_map_file("kernel", c->kernel, opt->kernel_fd, &kernel, err, errlen);
        if (r < 0)
                return r;
        if (c->initrd[0] && (r = vmwp_map_file("initrd", c->initrd, opt->initrd_fd, &initrd, err, errlen)) < 0)
                return r;
        struct boot_guest g = { .write = guest_write, .opaque = vm->p };
        struct vid_ram_region regions[2];
        g.n_ram = vid_ram_regions(vm->p, regions);
        for (size_t i = 0; i < g.n_ram; i++)
                g.ram[i] = (struct boot_ram_region){ .gpa = regions[i].gpa, .size = regions[i].size };
        /* A stock kernel on a PVM host needs a few extra options (vid/pvm.c);
         * empty everywhere else. */
        char cmdline[VM_CMDLINE_MAX + 512];
        const char *extra = c->boot_kind == VM_BOOT_LINUX ? vid_pvm_linux_cmdline(vm->p) : "";
        if ((size_t)snprintf(cmdline, sizeof cmdline, "%s%s%s", c->cmdline, c->cmdline[0] && extra[0] ? " " : "",
                             extra) >= sizeof cmdline)
                return errorf(err, errlen, -E2BIG, "the command line with the host's options (%s) is too long", extra);
        struct boot_request req = { .image = kernel.data, .image_len = kernel.len, .initrd = initrd.data,
                                    .initrd_len = initrd.len, .cmdline = cmdline, .rsdp_gpa = rsdp };
        struct boot_entry e;
        char why[256] = "";
        /* "linux" takes a bzImage or an uncompressed vmlinux (an ELF with
         * the PVH note, which spares the guest its decompressor). */
        bool elf = kernel.len >= 4 && memcmp(kernel.data, "\177ELF", 4) == 0;
        r = c->boot_kind == VM_BOOT_LINUX && !elf ? boot_linux_load(&req, &g, &e, why, sizeof why)
                                                  : boot_pvh_load(&req, &g, &e, why, sizeof why);
        if (r < 0)
                return snprintf(err, errlen, "kernel %s: %s", c->kernel, why), r;
        r = set_entry(vm, &e);
        if (r < 0)
                snprintf(err, errlen, "setting the boot vCPU state: %s", strerror(-r));
        return r;
}

/* The ACPI tables' configuration, for both boot paths. */
void vmwp_vm_acpi_config(const struct vmwp_vm *vm, struct acpi_config *ac) {
        acpi_config_default(ac, BOOT_ACPI_GPA, vm->cfg.vcpus);
        vmwp_vm_emu_acpi(vm, ac);
        if (vm->display) { /* where the guest places the synthetic video's VRAM */
                ac->vmbus_mmio_base = ACPI_VMBUS_MMIO_BASE;
                ac->vmbus_mmio_size = ACPI_VMBUS_MMIO_SIZE;
        }
}

static int write_acpi(struct vmwp_vm *vm, char *err, size_t errlen) {
        struct acpi_config ac;
        vmwp_vm_acpi_config(vm, &ac);
        _cleanup_free_ uint8_t *buf = malloc(BOOT_ACPI_SIZE);
        if (!buf)
                return -ENOMEM;
        struct acpi_layout l;
        int r = acpi_build(&ac, buf, BOOT_ACPI_SIZE, &l);
        if (r >= 0)
                r = gm_write(vm->p, BOOT_ACPI_GPA, buf, l.size);
        if (r < 0)
                snprintf(err, errlen, "building the ACPI tables: %s", strerror(-r));
        return r;
}

static int add_platform(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        int r = vmwp_console_open(&opt->serial, vm->cfg.serial_log, opt->serial_log_fd, &vm->console, err, errlen);
        opt->serial_log_fd = -1; /* the console owns it now, whatever happened */
        if (r < 0)
                return r;
        if ((r = uart_new(&vm_uart_ops, vm, &vm->uart)) < 0 || (r = uart_register(vm->uart, vm->p, COM1_PORT)) < 0 ||
            (r = acpi_pm_new(&vm_pm_ops, vm, VMSTACK_SLP_TYP_S5, &vm->pm)) < 0 ||
            (r = acpi_pm_register(vm->pm, vm->p)) < 0 ||
            (r = vmwp_devices_add(&vm->devices, &uart_device_ops, vm->uart)) < 0 ||
            (r = vmwp_devices_add(&vm->devices, &acpi_pm_device_ops, vm->pm)) < 0) {
                snprintf(err, errlen, "creating the platform devices: %s", strerror(-r));
                return r;
        }
        return 0;
}

/* What a VM is built from, in order: each part builds its devices from the
 * configuration and adds their rows to the device table, so this is the
 * table's order (docs/vm-state.md: quiesce runs backwards through it,
 * resume and restore forwards; a restore builds the same parts in the same
 * order). Disks and NICs added to a running VM append their rows. */
static const struct vm_part {
        const char *name;
        int (*add)(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
} vm_parts[] = {
        { "platform devices", add_platform },              /* console; rows: uart, acpi-pm */
        { "emulated devices", vmwp_vm_add_emu },           /* RTC, i8042, PCI bus, IDE */
        { "Hyper-V interface", vmwp_vm_add_hvshim },       /* hvshim */
        { "hv_sock", vmwp_vm_hvsock_create },              /* its row after the server's */
        { "VMBus server", vmwp_vm_add_vmbus_server },      /* the server, hv_sock */
        { "integration services", vmwp_vm_add_integration_services },
        { "dynamic memory", vmwp_vm_add_dm },
        { "display", vmwp_vm_add_display },                /* synthetic video, keyboard and mouse */
        { "firmware", vmwp_vm_add_firmware },              /* boot kind firmware: its image, fw_cfg */
        { "disks", vmwp_vm_add_disks },                    /* a row per SCSI controller and IDE channel */
        { "NICs", vmwp_vm_add_nics },                      /* a row per NIC */
};

static int add_parts(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        for (size_t i = 0; i < ARRAY_SIZE(vm_parts); i++) {
                int r = vm_parts[i].add(vm, opt, err, errlen);
                if (r < 0)
                        return err[0] ? r : errorf(err, errlen, r, "%s: %s", vm_parts[i].name, strerror(-r));
        }
        return 0;
}

int vmwp_vm_create(const struct vm_config *cfg, struct vmwp_vm_options *opt, struct vmwp_vm **out, char *err,
                   size_t errlen) {
        struct vmwp_vm *vm = calloc(1, sizeof *vm);
        if (!vm)
                return -ENOMEM;
        pthread_mutex_init(&vm->guest_lock, NULL);
        vm->migrate_fd = -1;
        vm->fcopy_fd = -1;
        vm->hvsock_listen_fd = -1;
        for (size_t i = 0; i < VMWP_GEV_N; i++)
                vm->guest_rates[i] = (struct evrate)EVRATE_INIT(VMWP_GUEST_EVENT_INTERVAL_US);
        vm->guest_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vm->guest_event_fd < 0) {
                int e = -errno;
                pthread_mutex_destroy(&vm->guest_lock);
                free(vm);
                return e;
        }
        vm->cfg = *cfg;
        vm->timing = opt->timing;
        vm->start_ns = opt->start_ns;
        vm->phase_ns = opt->phase_ns;
        vm->sandbox = opt->sandbox;
        vm->sandbox_probe = opt->sandbox_probe;
        /* The fds are ours from here on, whatever happens. */
        memcpy(vm->disk_fds, opt->disk_fds, sizeof vm->disk_fds);
        memcpy(vm->tap_fds, opt->tap_fds, sizeof vm->tap_fds);
        memcpy(vm->dvd_fds, opt->dvd_fds, sizeof vm->dvd_fds);
        for (size_t i = 0; i < VM_DVD_DRIVES_MAX; i++)
                opt->dvd_fds[i] = -1;
        vm->n_disk_fds = opt->n_disk_fds, vm->n_tap_fds = opt->n_tap_fds;
        memcpy(vm->parent_fds, opt->parent_fds, sizeof vm->parent_fds);
        memcpy(vm->n_disk_parents, opt->n_disk_parents, sizeof vm->n_disk_parents);
        memcpy(vm->n_nic_queues, opt->n_nic_queues, sizeof vm->n_nic_queues);
        memcpy(vm->nic_steer, opt->nic_steer, sizeof vm->nic_steer);
        vm->n_parent_fds = opt->n_parent_fds;
        opt->n_disk_fds = opt->n_tap_fds = opt->n_parent_fds = 0;
        vm->hotplug_disks = opt->hotplug_disks;
        vm->hotplug_nics = opt->hotplug_nics;
        /* Disks attached or grown later may need more than the disks now
         * (docs/sandbox.md: the limit is fixed at sandbox_enter). */
        if (opt->sandbox && opt->hotplug_file_size)
                (void)sandbox_allow_file_size(opt->sandbox, opt->hotplug_file_size);
        vm->incoming = opt->migrate_incoming_fd >= 0;
        vm->incoming_disks = vm->incoming && opt->migrate_disks;

        bool firmware = cfg->boot_kind == VM_BOOT_FIRMWARE;
        struct vid_partition_config pc = { .ram_bytes = (uint64_t)cfg->memory_mib << 20, .n_vps = cfg->vcpus,
                                           .hot_add_bytes = (uint64_t)vm_dm_hot_add_mib(cfg) << 20,
                                           .pit = firmware };
        pc.n_msr_ranges = hvshim_msr_ranges(&pc.msr_ranges); /* hvshim's, known now: one early MSR filter */
        /* A restored VM's RAM, ACPI tables and the firmware's low copy
         * included, comes from the state (known before the parts build). */
        vm->restored = opt->saved_state_fd >= 0 || opt->migrate_incoming_fd >= 0;
        int r = vid_partition_create(&pc, &vm->p, err, errlen);
        vm->phase_ns[VMWP_PHASE_KVM] = vmwp_now_ns();
        /* The configured limit from the first instruction on (a restore's
         * and a migration's too: it is the configuration's, no state's). */
        if (r >= 0 && (r = vmwp_vm_set_cpu_limit(vm, cfg->processor.limit_pct)) < 0)
                snprintf(err, errlen, "processor.limit_pct: %s", strerror(-r));
        if (r >= 0)
                r = add_parts(vm, opt, err, errlen);
        vm->phase_ns[VMWP_PHASE_DEVICES] = vmwp_now_ns();
        /* Every policy is registered now: their filters compile on another
         * thread while the boot image or the saved state goes in (a
         * failure only means they compile when loaded). */
        if (r >= 0 && vm->sandbox)
                (void)sandbox_precompile_start(vm->sandbox);
        if (r >= 0 && opt->saved_state_fd >= 0)
                r = vmwp_vm_restore_prepare(vm, opt->saved_state_fd, err, errlen);
        else if (r >= 0 && opt->migrate_incoming_fd >= 0) /* the whole stream, before the sandbox */
                r = vmwp_vm_migrate_receive(vm, opt->migrate_incoming_fd, err, errlen);
        if (r >= 0 && !vm->restored && !firmware)
                r = write_acpi(vm, err, errlen);
        if (r >= 0 && !vm->restored && !firmware)
                r = load_boot_image(vm, opt, BOOT_ACPI_GPA, err, errlen);
        vm->phase_ns[VMWP_PHASE_IMAGE] = vmwp_now_ns();
        if (r < 0) {
                vmwp_vm_free(vm);
                return r;
        }
        *out = vm;
        return 0;
}

static int start_vps(void *opaque) {
        struct vmwp_vm *vm = opaque;
        char err[512] = "";
        /* A restored VM's devices first (vm-state.c), on this thread. */
        int r = vmwp_vm_restore_devices(vm, err, sizeof err);
        if (r < 0) {
                vid_partition_request_stop(vm->p, VMWP_EXIT_SETUP, "%s", err);
                return r;
        }
        /* A migration's destination starts only once the source committed
         * to stop for good (READY, COMMIT: docs/migration.md "One running
         * copy"); without the COMMIT the source keeps or takes back the VM
         * and this copy must not start. */
        if ((r = vmwp_vm_migrate_commit(vm, err, sizeof err)) < 0) {
                vid_partition_request_stop(vm->p, VMWP_EXIT_SETUP, "migration: %s; the VM stays with the source",
                                           err);
                return r;
        }
        r = vid_partition_start(vm->p, on_vcpu_exit, vm);
        vmwp_vm_restore_release(vm);
        return r;
}

bool vmwp_vm_restored(const struct vmwp_vm *vm) {
        return vm->restored;
}

/* The sandbox goes on here: after this point nothing opens a path, and
 * before it no guest instruction has run (docs/sandbox.md, "Order"). */
int vmwp_vm_start(struct vmwp_vm *vm) {
        if (!vm->sandbox) {
                sandbox_probe(vm->sandbox_probe, "main thread");
                vm->phase_ns[VMWP_PHASE_ENTERED] = vmwp_now_ns();
                int r = vmwp_vm_hvsock_start(vm);
                if (r >= 0)
                        r = vmwp_vm_display_start(vm);
                if (r >= 0)
                        r = start_vps(vm);
                vm->phase_ns[VMWP_PHASE_STARTED] = vmwp_now_ns();
                return r;
        }
        char err[384] = "";
        int r = sandbox_enter(vm->sandbox, err, sizeof err);
        if (r >= 0 && (r = vmwp_vm_emu_sandboxed(vm)) < 0)
                snprintf(err, sizeof err, "loading the \"emu\" policy: %s", strerror(-r));
        /* Its thread narrows itself to "hvsock" first thing. */
        if (r >= 0 && (r = vmwp_vm_hvsock_start(vm)) < 0)
                snprintf(err, sizeof err, "starting the hv_sock thread: %s", strerror(-r));
        /* ... and the display thread to "display". */
        if (r >= 0 && (r = vmwp_vm_display_start(vm)) < 0)
                snprintf(err, sizeof err, "starting the display thread: %s", strerror(-r));
        vm->phase_ns[VMWP_PHASE_ENTERED] = vmwp_now_ns();
        if (r >= 0 && (r = sandbox_run_as(vm->sandbox, "vcpu", start_vps, vm)) < 0)
                snprintf(err, sizeof err, "starting the vCPUs under the \"vcpu\" policy: %s", strerror(-r));
        if (r >= 0 && (r = sandbox_thread_policy(vm->sandbox, "main")) < 0)
                snprintf(err, sizeof err, "loading the \"main\" policy: %s", strerror(-r));
        if (r < 0) {
                vid_partition_request_stop(vm->p, VMWP_EXIT_SETUP, "sandbox: %s", err);
                return r;
        }
        sandbox_probe(vm->sandbox_probe, "main thread");
        vm->phase_ns[VMWP_PHASE_STARTED] = vmwp_now_ns();
        /* Building the VM and the seccomp programs freed most of what they
         * allocated; give those pages back (the guest is running already). */
        malloc_trim(0);
        return 0;
}

void vmwp_vm_free(struct vmwp_vm *vm) {
        if (!vm)
                return;
        /* vCPU threads first: they call into the devices; then what hangs
         * off the partition (irqfds, ioeventfds), then the partition. */
        if (vm->p)
                vid_partition_join(vm->p);
        vmwp_restore_free(vm->restore);
        vmwp_restore_free(vm->restore_spent);
        vmwp_vm_free_emu(vm);
        vmwp_vm_detach_vmbus(vm);
        vmwp_vm_postcopy_free(vm);
        vid_partition_destroy(vm->p);
        acpi_pm_free(vm->pm);
        uart_free(vm->uart);
        vmwp_console_free(vm->console);
        vmwp_vm_free_firmware(vm);
        for (size_t i = 0; i < vm->n_disk_fds; i++)
                safe_close(vm->disk_fds[i]);
        for (size_t i = 0; i < VM_DVD_DRIVES_MAX; i++)
                safe_close(vm->dvd_fds[i]);
        for (size_t i = 0; i < vm->n_tap_fds; i++)
                safe_close(vm->tap_fds[i]);
        for (size_t i = 0; i < vm->n_parent_fds; i++)
                safe_close(vm->parent_fds[i]);
        for (size_t i = 0; i < VM_DISKS_MAX; i++)
                disk_unref(vm->disks[i]);
        safe_close(vm->guest_event_fd);
        safe_close(vm->migrate_fd);
        safe_close(vm->fcopy_fd); /* the integration services went first */
        pthread_mutex_destroy(&vm->guest_lock);
        free(vm);
}
