/* SPDX-License-Identifier: MIT */
/* vid: the Virtualization Infrastructure layer. A backend-neutral API for a
 * partition (VM), its virtual processors (VPs), guest memory and interrupts;
 * the only backend is KVM. Nothing above vid includes <linux/kvm.h>.
 *
 * Threading: vid owns one thread per VP once vid_partition_start() is
 * called. Device callbacks (PIO/MMIO/MSR handlers) run on the VP thread that
 * caused the exit and must not block for long. Everything else may be called
 * from any thread unless noted. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vid_partition;
struct vid_vp;

#define VID_PAGE_SIZE 4096u
#define VID_PAGE_SHIFT 12
#define VID_MAX_VPS 64u

/* Guest physical layout: RAM from 0 up to VID_LOW_RAM_MAX, the rest above
 * 4 GiB; [VID_MMIO_HOLE_START, 4 GiB) is the MMIO hole (LAPIC, IOAPIC, ...). */
#define VID_MMIO_HOLE_START 0xC0000000ull
#define VID_LOW_RAM_MAX VID_MMIO_HOLE_START
#define VID_HIGH_RAM_START 0x100000000ull
/* The hot-add window (vid_partition_config.hot_add_bytes): its alignment
 * and largest size. */
#define VID_HOT_ADD_ALIGN (128ull << 20)
#define VID_HOT_ADD_MAX (1ull << 40)
/* Guest-physical range vid reserves inside the MMIO hole for itself (the PVM
 * syscall trampoline's doorbell, docs/pvm.md); devices must not use it. */
#define VID_RESERVED_GPA 0xfeb00000ull
#define VID_RESERVED_SIZE 0x10000ull
/* Guest RAM pages vid may write for itself (the PVM syscall trampoline's
 * page tables and code): in the legacy BIOS area below 1 MiB, which boot
 * loaders keep reserved in the guest's memory map and leave alone. Linux
 * maps the first MiB in its direct map whatever the memory map says, so
 * its page-table walkers can read tables placed here. */
#define VID_RESERVED_RAM_GPA 0xfc000ull
#define VID_RESERVED_RAM_SIZE 0x4000ull

struct vid_msr_range;
struct vid_partition_config {
        uint64_t ram_bytes; /* multiple of 2 MiB */
        unsigned n_vps;     /* 1..VID_MAX_VPS */
        bool hugepages;     /* back RAM with MFD_HUGETLB (fails if none reserved) */
        /* Dynamic Memory's hot-add window (docs/dynamic-memory.md): this
         * much more guest-physical RAM above the rest (a multiple of
         * 128 MiB; 0: none), mapped from the start but in no memory map
         * the guest boots with: the host offers it at run time. Until then
         * it costs nothing (its pages are holes of the memfd). */
        uint64_t hot_add_bytes;
        /* The MSR ranges the owner will pass to vid_set_msr_handler, if it
         * knows them now (optional): KVM's MSR filter is then installed
         * once, first, where it is cheap; set later it waits for a grace
         * period of KVM's SRCU (~13 ms on the PVM host, docs/vmwp.md). */
        const struct vid_msr_range *msr_ranges;
        size_t n_msr_ranges;
        /* KVM's in-kernel PIT (i8254, IRQ 0) with port 61h: for firmware,
         * which counts time with it. Saved and restored with the
         * partition (section "VPIT"). */
        bool pit;
};

/* Creates the VM, its RAM and VPs (not yet running). Checks the KVM
 * capabilities we need and fails with -ENOTSUP, naming the missing one in err. */
int vid_partition_create(const struct vid_partition_config *cfg, struct vid_partition **out,
                         char *err, size_t errlen);
/* Stops VP threads if running, then frees everything. Accepts NULL. */
void vid_partition_destroy(struct vid_partition *p);

unsigned vid_partition_vp_count(const struct vid_partition *p);
struct vid_vp *vid_partition_vp(struct vid_partition *p, unsigned index);
struct vid_partition *vid_vp_partition(struct vid_vp *vp);
unsigned vid_vp_index(const struct vid_vp *vp);
uint32_t vid_vp_apic_id(const struct vid_vp *vp);
/* The CPU time the VP's thread used so far (its kernel CPU clock: guest
 * time in KVM_RUN and exit handling), in ns; once the thread ended, what
 * it had used then; -ESRCH before its thread started. From any thread of
 * the process. */
int vid_vp_cpu_time_ns(const struct vid_vp *vp, uint64_t *ns);
/* True on a PVM ("pagetable-based") nested KVM host; see docs/pvm.md.
 * vid_pvm_detect asks the host (kvm_pvm loaded), before any partition:
 * the benchmarks' host line; a partition keeps its answer. */
bool vid_pvm_detect(void);
bool vid_partition_is_pvm(const struct vid_partition *p);
/* Kernel command-line options a stock Linux guest needs on this host, to
 * keep it off instructions the PVM emulator cannot execute at CPL0
 * (docs/pvm.md); "" on every other host. */
const char *vid_pvm_linux_cmdline(const struct vid_partition *p);
/* How many times slower than real time a stock Linux guest's clock should
 * run here (hvshim_config.time_dilation): on PVM the guest's timer tick
 * runs emulated and would take most of the vCPU (docs/pvm.md, "Time
 * dilation"); 1 on every other host. */
unsigned vid_pvm_linux_time_dilation(const struct vid_partition *p);
/* Host TSC frequency in kHz as KVM reports it (guest TSC runs at the same rate). */
uint32_t vid_partition_tsc_khz(const struct vid_partition *p);

/* ---- guest memory (memory.c) ---------------------------------------- */

/* RAM regions as the guest boots with them (for e820 / memory maps). */
struct vid_ram_region {
        uint64_t gpa;
        uint64_t size;
};
size_t vid_ram_regions(const struct vid_partition *p, struct vid_ram_region out[2]);
/* The hot-add window (vid_partition_config.hot_add_bytes): 0 with its
 * place, -ENOENT without one. 128 MiB aligned, above every boot region. */
int vid_ram_window(const struct vid_partition *p, struct vid_ram_region *out);
/* All RAM the partition maps, the window included: the size of the RAM
 * memfd, of the dirty bitmap and of the saved state's RAM. */
uint64_t vid_ram_size(const struct vid_partition *p);
/* The guest gave [gpa, gpa + len) up (a balloon, docs/dynamic-memory.md):
 * its host memory is freed (a hole punched into the memfd); the guest
 * reads zeros there afterwards. Page-aligned; -EFAULT outside RAM. The
 * pages count as written for a live migration's dirty tracking. */
int vid_ram_discard(struct vid_partition *p, uint64_t gpa, uint64_t len);

/* A hook called before vid maps guest RAM a second time (vid_map_pages)
 * or discards it (vid_ram_discard), with the range's RAM offset and
 * length: a post-copy migration's destination makes the pages it still
 * lacks present first (vmwp/postcopy.h), since only the main mapping is
 * watched for them. NULL: none. Set while no other thread maps or
 * discards. */
void vid_ram_set_guard(struct vid_partition *p, void (*guard)(void *opaque, uint64_t offset, uint64_t len),
                       void *opaque);

/* Bounds-checked access: -EFAULT unless [gpa, gpa+len) lies entirely in RAM
 * (a range may span the two RAM regions only for read/write, never for map). */
int gm_read(struct vid_partition *p, uint64_t gpa, void *buf, size_t len);
int gm_write(struct vid_partition *p, uint64_t gpa, const void *buf, size_t len);
/* Host pointer to a contiguous guest range inside one RAM region. */
int gm_map(struct vid_partition *p, uint64_t gpa, size_t len, void **out);
/* The RAM memfd and the offset of gpa in it (for zero-copy I/O and mmap). */
int gm_fd_offset(struct vid_partition *p, uint64_t gpa, size_t len, int *fd, uint64_t *offset);

/* A contiguous host view of an arbitrary list of guest pages (GPADLs, rings).
 * With VID_PAGES_WRAP the pages from wrap_from to the end are mapped a second
 * time right after the first mapping, so a reader can copy across the end of
 * a ring without splitting. Each PFN is checked against RAM (-EFAULT). */
#define VID_PAGES_WRAP 1u
struct vid_pages {
        void *base;     /* first page */
        size_t n_pages; /* pages in the first mapping */
        size_t map_len; /* bytes mapped in total (incl. the wrap copy) */
};
int vid_map_pages(struct vid_partition *p, const uint64_t *pfns, size_t n_pages, unsigned flags,
                  size_t wrap_from, struct vid_pages *out);
void vid_unmap_pages(struct vid_pages *m);

/* ---- firmware (firmware.c) ------------------------------------------ */

/* A BIOS image (len a multiple of 4 KiB, at most VID_FIRMWARE_MAX) mapped
 * read-only so that it ends at 4 GiB, with low_copy its last 128 KiB
 * copied into guest RAM at 0xE0000-0xFFFFF (not for a restored VM, whose
 * RAM there is the guest's); vCPU 0 then starts at the reset vector in it
 * (KVM's reset state), the others wait for INIT/SIPI. Before the VPs run.
 * -EEXIST: one already; -EINVAL: bad size; -ENOTSUP: KVM has no
 * read-only memory slots. */
#define VID_FIRMWARE_END 0x100000000ull
#define VID_FIRMWARE_MAX (16u << 20) /* the top 16 MiB devices leave free */
int vid_firmware_map(struct vid_partition *p, const void *image, size_t len, bool low_copy);
/* The PC's shadowed area, 0xC0000-0xFFFFF of guest RAM, in the pieces
 * the host bridge's PAM registers (emu/pci.h) switch one by one: bit i
 * below 12 is the 16 KiB at 0xC0000 + i * 16 KiB (PAM1-6, two each), bit
 * 12 the BIOS segment 0xF0000-0xFFFFF (PAM0). Once a firmware is mapped
 * each piece is a KVM slot of its own. */
#define VID_SHADOW_PIECES 13u
#define VID_SHADOW_PIECE_SIZE 0x4000ull
#define VID_SHADOW_START 0xC0000ull
#define VID_SHADOW_BIOS_SEG (1u << 12)
#define VID_SHADOW_ALL ((1u << VID_SHADOW_PIECES) - 1u)
/* Makes the pieces whose bits are set in read_only read-only and the
 * others writable, as the host bridge's PAM registers say: while
 * read-only a guest's write to a piece is dropped, as a ROM's. All are
 * read-only after vid_firmware_map (PAM's reset value: the ROMs). A
 * piece that changes is deleted and made again (KVM changes a slot's
 * read-only flag no other way): a VP touching it in between exits as MMIO
 * (reads all ones), and while dirty logging is on its pages count as
 * dirty (the deleted slot's log goes with it); SeaBIOS switches them in
 * its POST, while the other vCPUs wait halted. -ENOENT without a
 * firmware; -EINVAL for bits past VID_SHADOW_ALL. */
int vid_firmware_set_shadow_ro(struct vid_partition *p, uint32_t read_only);

/* ---- device memory (devmem.c) ---------------------------------------- */

/* Memory of a device the guest reads and writes directly (a synthetic
 * video card's VRAM, docs/video.md): len bytes of the owner's mapping at
 * host, seen by the guest at gpa through a memory slot of its own. gpa and
 * len page-aligned; never over RAM (the window included), another device
 * memory, a registered MMIO range, vid's reserved page or the platform's
 * fixed ranges (vid_gpa_platform_check), and inside the guest's physical
 * address width (its CPUID). Any thread, also while the VPs run. Returns
 * an id >= 0; -EINVAL, -EEXIST (an overlap), -ERANGE (past the address
 * width), -ENOSPC (VID_DEVMEM_MAX), or KVM's error. The owner keeps the mapping
 * valid until it is unmapped. Not in the RAM dirty bitmap: its owner
 * saves it, and a live migration copies it ahead with
 * vid_devmem_dirty_get. */
#define VID_DEVMEM_MAX 4u
int vid_devmem_map(struct vid_partition *p, uint64_t gpa, uint64_t len, void *host);
/* The guest's accesses there become unclaimed MMIO again. */
int vid_devmem_unmap(struct vid_partition *p, int id);
/* Where a guest may not place device memory whatever else is there, as a
 * pure check of [gpa, gpa + len): 0; -EEXIST over the in-kernel IOAPIC
 * (0xfec00000-0xfecfffff), the HPET and chipset range
 * (0xfed00000-0xfedfffff), the local APIC and interrupt-message range
 * (0xfee00000-0xfeefffff) or the firmware's 16 MiB under 4 GiB
 * (0xff000000-0xffffffff: the reset vector, a BIOS or UEFI image);
 * -ERANGE when it ends past 2^phys_bits; -EINVAL for an empty or wrapping
 * range. */
int vid_gpa_platform_check(uint64_t gpa, uint64_t len, unsigned phys_bits);

/* ---- dirty pages (dirty.c) ---------------------------------------------- */

/* Tracking of the guest RAM pages written since the last look, for live
 * migration. Bitmaps have a bit per page of RAM taken as one array (the
 * part below the MMIO hole, then the part from 4 GiB: vid_ram_regions()),
 * vid_dirty_bitmap_words() words long. gm_write() marks what it writes;
 * a device that writes guest RAM through a mapping (gm_map, vid_map_pages)
 * marks it with vid_mark_dirty() (cheap and a no-op while not tracking),
 * AFTER the write: a page marked before it is written may be copied and
 * cleared in between, and the write then never reaches the copy.
 * vid_dirty_log_get() returns the pages written since the previous call
 * (or since start) and clears them. docs/vm-state.md, "Dirty pages", says
 * who marks what. */
int vid_dirty_log_start(struct vid_partition *p);
int vid_dirty_log_stop(struct vid_partition *p);
size_t vid_dirty_bitmap_words(const struct vid_partition *p);
int vid_dirty_log_get(struct vid_partition *p, uint64_t *bitmap, size_t n_words);
void vid_mark_dirty(struct vid_partition *p, uint64_t gpa, uint64_t len);
/* The same for a host pointer gm_map() returned (or one inside its range):
 * [host, host + len) of the RAM mapping; anything outside it is ignored. */
void vid_mark_dirty_host(struct vid_partition *p, const void *host, size_t len);
/* True while tracking: a flag that lives as long as the partition, for a
 * layer that has work to do before it can mark (finding the GPAs of a
 * mapping) to skip it with one relaxed load while not tracking. */
const atomic_bool *vid_dirty_flag(const struct vid_partition *p);
/* The device memory at host (len bytes, as mapped with vid_devmem_map):
 * a bit per page written since tracking started or the previous call, into
 * bitmap (DIV_ROUND_UP(len / 4096, 64) words, cleared first). All of it
 * when it was mapped (or moved) since; none while it is not mapped (the
 * guest cannot write it then, only its owner). -EINVAL while not tracking
 * or for a len that is not the mapping's. */
int vid_devmem_dirty_get(struct vid_partition *p, const void *host, uint64_t len, uint64_t *bitmap);

/* ---- registers (vp.c) ------------------------------------------------ */

struct vid_regs {
        uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
        uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
        uint64_t rip, rflags;
};

struct vid_segment {
        uint64_t base;
        uint32_t limit;
        uint16_t selector;
        uint8_t type, present, dpl, db, s, l, g, avl, unusable;
};

struct vid_dtable {
        uint64_t base;
        uint16_t limit;
};

struct vid_sregs {
        struct vid_segment cs, ds, es, fs, gs, ss, tr, ldt;
        struct vid_dtable gdt, idt;
        uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};

/* Register access. On the VP's own thread (inside a callback) these are
 * cheap (synced through the shared run area); from another thread the
 * partition must be paused. */
int vid_vp_get_regs(struct vid_vp *vp, struct vid_regs *r);
int vid_vp_set_regs(struct vid_vp *vp, const struct vid_regs *r);
int vid_vp_get_sregs(struct vid_vp *vp, struct vid_sregs *s);
int vid_vp_set_sregs(struct vid_vp *vp, const struct vid_sregs *s);
int vid_vp_get_msr(struct vid_vp *vp, uint32_t index, uint64_t *value);
int vid_vp_set_msr(struct vid_vp *vp, uint32_t index, uint64_t value);
/* Keeps, in order, the MSRs of index[0..n) that KVM reads on this VP and
 * returns how many: one KVM_GET_MSRS per unreadable MSR plus one, not one
 * per MSR. */
size_t vid_vp_readable_msrs(struct vid_vp *vp, uint32_t *index, size_t n);
/* Current privilege level (0..3) of the VP, from the cached CS/SS. */
int vid_vp_cpl(struct vid_vp *vp);

/* Queue an exception for the next entry (e.g. #UD 6, #GP 13). */
int vid_vp_inject_exception(struct vid_vp *vp, uint8_t vector, bool has_error_code, uint32_t error_code);
/* Inside a PIO/MMIO callback, on the VP's own thread: let KVM complete the
 * exiting instruction now (store the data of a read, step past it) rather
 * than on the next entry. Registers set afterwards are then final, e.g. RIP
 * set back to the instruction to turn it into a fault with
 * vid_vp_inject_exception() (KVM would otherwise complete the access and
 * deliver the fault past it). -EINVAL outside a callback. */
int vid_vp_complete_io(struct vid_vp *vp);
/* The VP's TSC offset: guest TSC = host TSC + offset (vid never scales the
 * TSC). -ENOTSUP where KVM cannot report it (KVM_VCPU_TSC_OFFSET, 5.16+). */
int vid_vp_tsc_offset(struct vid_vp *vp, int64_t *offset);

/* Flat 32-bit protected mode, paging off (PVH entry), or 64-bit long mode
 * with the given CR3 (Linux 64-bit boot). Sets segments/control registers. */
int vid_vp_set_protected_mode_flat(struct vid_vp *vp);
int vid_vp_set_long_mode(struct vid_vp *vp, uint64_t cr3, uint64_t gdt_base, uint16_t gdt_limit);

/* ---- CPUID ----------------------------------------------------------- */

struct vid_cpuid_entry {
        uint32_t function, index, flags; /* flags: VID_CPUID_SIGNIFICANT_INDEX */
        uint32_t eax, ebx, ecx, edx;
};
#define VID_CPUID_SIGNIFICANT_INDEX 1u
#define VID_CPUID_MAX_ENTRIES 256u

/* What the host supports (KVM_GET_SUPPORTED_CPUID), filtered: no KVM
 * signature leaves. Returns the number of entries. */
int vid_cpuid_supported(struct vid_partition *p, struct vid_cpuid_entry *out, size_t max);
/* Set the same table on every VP (before start); nothing is done when the
 * VPs have that table (as the guest sees it) already. */
int vid_cpuid_set(struct vid_partition *p, const struct vid_cpuid_entry *e, size_t n);
/* The guest-physical address width a table reports: leaf 0x80000008
 * EAX[7:0] (what hvshim and vid leave of the host's), 36 without it
 * (Intel SDM, CPUID.80000008H). */
unsigned vid_cpuid_phys_bits(const struct vid_cpuid_entry *e, size_t n);

/* ---- devices: PIO / MMIO / MSR dispatch (io.c) ----------------------- */

/* Called on the VP thread. offset is relative to the registered base; len
 * is 1, 2, 4 or 8. A read callback fills data; if it fails, the guest reads
 * all ones. Returning an error never stops the VM. */
struct vid_io_ops {
        void (*read)(void *opaque, struct vid_vp *vp, uint64_t offset, void *data, unsigned len);
        void (*write)(void *opaque, struct vid_vp *vp, uint64_t offset, const void *data, unsigned len);
};

/* Registration checks: non-zero length, no overflow, no overlap (-EEXIST).
 * Must happen before vid_partition_start(). */
int vid_register_pio(struct vid_partition *p, uint16_t base, uint16_t len, const struct vid_io_ops *ops,
                     void *opaque);
int vid_register_mmio(struct vid_partition *p, uint64_t base, uint64_t len, const struct vid_io_ops *ops,
                      void *opaque);

/* A port window the guest moves at run time (a PCI function's I/O BAR):
 * registered before vid_partition_start() like a fixed range, at base
 * (or VID_PIO_WINDOW_OFF: decoding nothing), then moved or switched off
 * by vid_pio_window_move() from any thread, for every VP at once (an
 * access racing with a move lands at the old or the new base). A fixed
 * range wins where a window is moved over it (PCI leaves a BAR over a
 * legacy device's ports undefined; the platform device keeps its ports),
 * and a window moved past the 64 KiB port space decodes nothing. */
#define VID_PIO_WINDOWS_MAX 4u
#define VID_PIO_WINDOW_OFF UINT32_MAX
int vid_register_pio_window(struct vid_partition *p, uint32_t base, uint16_t len, const struct vid_io_ops *ops,
                            void *opaque, unsigned *window);
/* -EINVAL for a window that is not registered; a base where the window
 * would not fit below 0x10000 switches it off. */
int vid_pio_window_move(struct vid_partition *p, unsigned window, uint32_t base);

/* User-space MSR handling: MSRs in the ranges exit to handler (KVM MSR
 * filter). The handler returns 0, or -EPERM/-EINVAL to raise #GP. */
typedef int (*vid_msr_fn)(void *opaque, struct vid_vp *vp, bool write, uint32_t index, uint64_t *value);
struct vid_msr_range {
        uint32_t first, count;
};
int vid_set_msr_handler(struct vid_partition *p, const struct vid_msr_range *ranges, size_t n,
                        vid_msr_fn fn, void *opaque);

/* ---- interrupts (irq.c) ---------------------------------------------- */

/* ISA/IOAPIC line (e.g. 4 for COM1): edge devices pulse it. */
int vid_irq_line(struct vid_partition *p, unsigned gsi, bool level);
/* MSI to an APIC: fixed delivery, edge, physical destination. */
int vid_msi_send(struct vid_partition *p, uint32_t apic_id, uint8_t vector);
/* An NMI to every vCPU (an MSI with delivery mode NMI); returns how many
 * took it. */
int vid_partition_nmi(struct vid_partition *p);
/* An MSI route usable by an irqfd; vector and destination can be changed. */
int vid_msi_route_add(struct vid_partition *p, uint32_t apic_id, uint8_t vector, unsigned *gsi);
int vid_msi_route_set(struct vid_partition *p, unsigned gsi, uint32_t apic_id, uint8_t vector);
int vid_irqfd_assign(struct vid_partition *p, int eventfd, unsigned gsi);
int vid_irqfd_deassign(struct vid_partition *p, int eventfd, unsigned gsi);
/* Guest writes of exactly `len` bytes of value `datamatch` to the port/MMIO
 * address signal eventfd inside KVM, without any exit to user space. */
int vid_ioeventfd_assign(struct vid_partition *p, bool pio, uint64_t addr, unsigned len, uint64_t datamatch,
                         int eventfd);
int vid_ioeventfd_deassign(struct vid_partition *p, bool pio, uint64_t addr, unsigned len,
                           uint64_t datamatch, int eventfd);

/* ---- running (vp.c) -------------------------------------------------- */

enum vid_exit_kind {
        VID_EXIT_SHUTDOWN,   /* triple fault */
        VID_EXIT_INTERNAL,   /* KVM internal error / unhandled emulation failure */
        VID_EXIT_FAIL_ENTRY, /* hardware refused entry */
        VID_EXIT_HYPERCALL,  /* KVM_EXIT_HYPERCALL (unused by Hyper-V guests) */
        VID_EXIT_UNKNOWN,    /* an exit reason vid does not know */
};

struct vid_exit {
        enum vid_exit_kind kind;
        uint32_t reason;  /* backend exit reason */
        uint32_t suberror;
        uint64_t rip;
        /* rip (and insn) are not where the guest stopped: KVM on AMD-V
         * resets the vCPU at a triple fault before it exits. */
        bool rip_lost;
        uint8_t insn[16]; /* instruction bytes at rip, when readable */
        uint8_t insn_len;
        /* An emulation failure: the bytes KVM's emulator failed on, where
         * it says (they differ from insn when the code changed since). */
        uint8_t emu_insn[15];
        uint8_t emu_insn_len;
        uint64_t data[4]; /* backend detail */
};

/* Called on the VP thread for exits vid cannot handle itself. Return 0 to
 * continue running this VP, or a positive exit status to stop the partition
 * (it is passed to vid_partition_stop_requested()). */
typedef int (*vid_exit_fn)(void *opaque, struct vid_vp *vp, const struct vid_exit *exit);

/* Start one thread per VP. VP 0 runs; the others wait for INIT/SIPI from
 * the guest (in-kernel LAPIC) unless started_all is set. */
int vid_partition_start(struct vid_partition *p, vid_exit_fn on_exit, void *opaque);
/* Park every VP outside KVM_RUN with all pending exits completed; returns
 * once all are parked. Idempotent. -ESHUTDOWN when a stop was requested
 * (vid_partition_request_stop: by the guest, a vCPU or the owner) before
 * they were: the partition is ending, not paused. */
int vid_partition_pause(struct vid_partition *p);
int vid_partition_resume(struct vid_partition *p);
bool vid_partition_is_paused(const struct vid_partition *p);
/* Throttling (throttle.c; a live migration's auto-converge): every VP
 * spends pct % of each VID_THROTTLE_PERIOD_NS parked outside KVM_RUN
 * (asleep, kicked out of the guest by a timer of its own thread); 0, the
 * default, turns it off. Any thread; -EINVAL above VID_THROTTLE_MAX_PCT. */
#define VID_THROTTLE_PERIOD_NS 10000000u
#define VID_THROTTLE_MAX_PCT 99u
/* How long a VP parks after running ran_ns of a period at share pct (pure;
 * vid/throttle.c): pct % of the period, longer when it overran its guest
 * share or when its thread's CPU time since its last park began (cpu_ns,
 * 0: not known) passed its share of the cycle, at most ten periods. */
uint64_t vid_throttle_park_ns(unsigned pct, uint64_t ran_ns, uint64_t cpu_ns);
int vid_partition_set_throttle(struct vid_partition *p, unsigned pct);
unsigned vid_partition_throttle(const struct vid_partition *p);
/* The VPs' time parked by the throttle so far, all VPs together. */
uint64_t vid_partition_throttled_ns(const struct vid_partition *p);
/* The processor limit (Hyper-V's "virtual machine limit"): every VP runs
 * at most limit_pct % of each period, VID_CPU_LIMIT_MIN_PCT..100 (100: no
 * limit, the default). It combines with auto-converge's throttle: the VPs
 * park the larger of the two shares, so a migration never lifts the limit
 * and the limit never weakens auto-converge. Any thread; -EINVAL outside
 * the range. */
#define VID_CPU_LIMIT_MIN_PCT (100u - VID_THROTTLE_MAX_PCT)
int vid_partition_set_cpu_limit(struct vid_partition *p, unsigned limit_pct);
unsigned vid_partition_cpu_limit(const struct vid_partition *p);
/* The share of each period the VPs park: the stricter of auto-converge's
 * share (0..99) and what a limit of limit_pct (1..100; 0: none) leaves. */
unsigned vid_throttle_effective(unsigned converge_pct, unsigned limit_pct);
/* Whether vid_partition_start() was called. */
bool vid_partition_started(const struct vid_partition *p);
/* No VP runs guest code: never started, paused, or stopping. What saving
 * guest-visible state needs (vid/state.h and the layers above). */
bool vid_partition_is_quiet(const struct vid_partition *p);
/* Request the partition to stop with an exit status and a reason; any
 * thread, any time, first request wins. */
void vid_partition_request_stop(struct vid_partition *p, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* An eventfd that becomes readable once a stop was requested. */
int vid_partition_stop_fd(const struct vid_partition *p);
/* Returns the requested status (-1 if none yet) and copies the reason. */
int vid_partition_stop_requested(const struct vid_partition *p, char *reason, size_t len);
/* Stop and join all VP threads (after a request, or to force a stop). */
void vid_partition_join(struct vid_partition *p);
/* CLOCK_MONOTONIC (ns) when VP 0 first entered KVM_RUN and when the first
 * stop was requested; 0 for what has not happened (start-up and exit
 * timing, vmwp --timing). */
void vid_partition_times(const struct vid_partition *p, uint64_t *first_run_ns, uint64_t *stop_ns);

/* Statistics, counted per partition (atomic). */
struct vid_stats {
        uint64_t exits, pio_exits, mmio_exits, msr_exits, unhandled_io;
        /* PVM compatibility layer (docs/pvm.md): total and per instruction */
        uint64_t pvm_fixups, pvm_int3, pvm_fwait, pvm_clac_stac, pvm_rdtscp, pvm_lsl_lar, pvm_syscall, pvm_reexec;
        uint64_t msr_filter_sets; /* KVM_X86_SET_MSR_FILTER calls (each an SRCU grace period) */
        uint64_t cpuid_sets;         /* vid_cpuid_set calls that set the VPs' tables (KVM_SET_CPUID2 each) */
        uint64_t cpuid_sets_skipped; /* ... that found that table set already */
};
void vid_partition_stats(const struct vid_partition *p, struct vid_stats *out);
