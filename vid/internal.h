/* SPDX-License-Identifier: MIT */
/* vid internals, shared by the files of this directory only. */
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "vid/vid.h"

struct io_range {
        uint64_t base, len;
        const struct vid_io_ops *ops;
        void *opaque;
};

/* A window a guest moves (a PCI I/O BAR, io.c): base is
 * VID_PIO_WINDOW_OFF while it decodes nothing. */
struct io_window {
        _Atomic uint32_t base;
        uint32_t len;
        const struct vid_io_ops *ops;
        void *opaque;
};

struct io_registry {
        struct io_range *ranges; /* sorted by base, non-overlapping */
        size_t n, cap;
        struct io_window windows[VID_PIO_WINDOWS_MAX]; /* fixed in number once started */
        unsigned n_windows;
};

static inline uint64_t vid_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct ram_region {
        uint64_t gpa, size, memfd_offset;
        uint8_t *host;
};

/* A KVM memory slot of guest RAM (memory.c, vid_ram_slots): a region, or
 * a piece of the low one. */
struct ram_slot {
        uint32_t slot;
        uint64_t gpa, size, memfd_offset;
        uint8_t *host;
        bool read_only;
};
/* The low region in 15 pieces once split (memory.c), and two more. */
#define VID_RAM_SLOTS_MAX 17u

#define VID_MAX_ROUTES 1024u
#define VID_MSR_RANGE_MAX 0x600u /* MSRs per filter range */
#define VID_FIRST_MSI_GSI 24u /* 0..23 are the IOAPIC pins */

struct vid_vp {
        struct vid_partition *p;
        unsigned index;
        int fd;
        struct kvm_run *run;
        pthread_t thread;
        bool thread_started;
        uint64_t cpu_ns_final; /* cputime.c: the thread's CPU time when it ended (atomic) */
        bool on_thread_exit; /* inside an exit callback: regs live in run->s.regs */
        uint64_t pvm_lstar;  /* the guest's LSTAR (PVM syscall trampoline) */
        /* Throttling (throttle.c), this VP's thread only: the start of
         * the period, the share it was timed for, the end of its guest
         * share (0: not throttled) and its timer. */
        uint64_t throttle_start, throttle_due;
        /* Parked past what was asked (a sleep's wake-up comes late): taken
         * off the next parks (throttle.c). */
        uint64_t throttle_overslept;
        uint64_t throttle_cpu_mark; /* the thread's CPU time when its last park began; 0: none */
        unsigned throttle_pct;
        timer_t throttle_timer;
        bool throttle_timer_on;
};

struct vid_partition {
        int kvm_fd, vm_fd;
        bool pvm;
        /* KVM is kvm_amd: at a triple fault SVM's shutdown intercept resets
         * the vCPU (its VMCB is undefined after it) before the exit, so the
         * RIP the exit carries is the reset vector's. */
        bool svm;
        /* KVM_GET_SUPPORTED_CPUID, asked once: every host CPUID it runs is
         * an exit to L0 on a nested host (~1 ms in all). */
        struct kvm_cpuid2 *supported_cpuid;
        uint32_t tsc_khz;
        size_t vcpu_mmap_size;

        int memfd;
        uint8_t *ram;
        /* vid_ram_set_guard: before a second mapping or a discard. */
        void (*ram_guard)(void *opaque, uint64_t offset, uint64_t len);
        void *ram_guard_opaque;
        uint64_t ram_bytes; /* the memfd: boot RAM, then the hot-add window */
        struct ram_region regions[3]; /* below the hole, from 4 GiB, the window */
        size_t n_regions, n_boot_regions;
        /* Device memory (devmem.c), under lock: KVM slots VID_DEVMEM_SLOT0 + i. */
        struct {
                uint64_t gpa, len;
                void *host;
                bool used;
                /* Mapped while dirty-logged: its slot's log is new, the
                 * writes through an earlier slot lost (vid_devmem_dirty_get
                 * reports all of it once). */
                bool all_dirty;
        } devmem[VID_DEVMEM_MAX];
        /* Dirty logging on the device memory slots (devmem.c), under lock. */
        bool devmem_logging;
        /* Set by the last VP thread of a stopped partition (memory.c). */
        bool slots_removed;
        /* The firmware image's read-only slot (firmware.c). */
        void *firmware;
        size_t firmware_len;
        /* Under slots_lock: the RAM slots' KVM_MEM_* flags as last set;
         * shadow_split: the low RAM's slot split so that each piece of
         * 0xC0000-0xFFFFF has one of its own (a firmware VM, firmware.c),
         * shadow_ro: the pieces read-only (VID_SHADOW_*, PAM,
         * vid_firmware_set_shadow_ro). */
        pthread_mutex_t slots_lock;
        uint32_t slot_flags;
        bool shadow_split;
        uint32_t shadow_ro;
        /* KVM's in-kernel PIT (vid_partition_config.pit). */
        bool pit;

        unsigned n_vps;
        struct vid_vp *vps[VID_MAX_VPS];

        struct io_registry pio, mmio;

        vid_msr_fn msr_fn;
        void *msr_opaque;
        struct vid_msr_range msr_ranges[KVM_MSR_FILTER_MAX_RANGES];
        size_t n_msr_ranges;
        struct vid_msr_range msr_applied[KVM_MSR_FILTER_MAX_RANGES]; /* KVM's filter now */
        size_t n_msr_applied;

        /* PVM compatibility layer state (pvm.c), unused elsewhere */
        bool pvm_tramp;          /* the syscall trampoline is in use */
        uint64_t pvm_lstar_real; /* what KVM's LSTAR holds: the trampoline */

        struct vid_cpuid_entry *cpuid;
        size_t n_cpuid;

        /* Dirty-page tracking (dirty.c): on while migrating; host writes
         * are marked in dirty_user, a bit per page of RAM. */
        atomic_bool dirty_active;
        _Atomic uint64_t *dirty_user;

        /* Throttling (throttle.c): the share of each period the VPs spend
         * parked, 0..VID_THROTTLE_MAX_PCT, set under lock; their time slept.
         * throttle_pct is auto-converge's share, cpu_limit_pct the
         * configured processor limit as set (VID_CPU_LIMIT_MIN_PCT..100;
         * 0, never set, is no limit like 100); the VPs park
         * vid_throttle_effective() of the two. */
        atomic_uint throttle_pct;
        atomic_uint cpu_limit_pct;
        _Atomic uint64_t throttled_ns;

        /* The MSRs a VP's saved state holds (state.c), found on first use. */
        uint32_t *state_msrs;
        size_t n_state_msrs;

        pthread_mutex_t irq_lock;
        struct kvm_irq_routing_entry *routes;
        unsigned n_routes;

        /* run control, under lock */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool started, pause_requested, stop_requested, joined;
        /* CLOCK_MONOTONIC of VP 0's first KVM_RUN and of the first stop
         * request (vid_partition_times; 0: not yet). */
        _Atomic uint64_t first_run_ns, stop_ns;
        unsigned n_running, n_parked;
        int stop_status;
        char stop_reason[512];
        int stop_efd;
        vid_exit_fn on_exit;
        void *on_exit_opaque;

        struct {
                atomic_uint_fast64_t exits, pio_exits, mmio_exits, msr_exits, unhandled_io;
                atomic_uint_fast64_t pvm_fixups, pvm_int3, pvm_fwait, pvm_clac_stac, pvm_rdtscp, pvm_lsl_lar, pvm_syscall,
                        pvm_reexec;
                atomic_uint_fast64_t msr_filter_sets, cpuid_sets, cpuid_sets_skipped;
        } stats;
};

/* io.c */
int vid_io_dispatch(struct io_registry *reg, struct vid_vp *vp, uint64_t addr, void *data, unsigned len,
                    bool write);
void vid_io_free(struct io_registry *reg);

/* irq.c */
int vid_irq_init(struct vid_partition *p);
void vid_irq_free(struct vid_partition *p);

/* memory.c */
#define VID_DEVMEM_SLOT0 16u
#define VID_FIRMWARE_SLOT 15u
#define VID_LOW_TAIL_SLOT 13u /* the low RAM from 1 MiB, once split */
#define VID_SHADOW_SLOT0 20u  /* + i: the shadowed pieces, the BIOS segment last */
#define VID_SHADOW_END 0x100000ull
_Static_assert(VID_SHADOW_SLOT0 >= VID_DEVMEM_SLOT0 + VID_DEVMEM_MAX, "slot numbers");
_Static_assert(VID_SHADOW_START + (VID_SHADOW_PIECES - 1) * VID_SHADOW_PIECE_SIZE == 0xF0000ull, "the pieces");
/* The KVM slots guest RAM is registered as: a slot per region, the low
 * one in 15 while p->shadow_split (below 0xC0000, the 12 pieces, the BIOS
 * segment, from 1 MiB; under slots_lock). */
size_t vid_ram_slots(const struct vid_partition *p, struct ram_slot out[VID_RAM_SLOTS_MAX]);
/* Splits the low RAM's slot at the shadowed pieces (firmware.c: before
 * the VPs run), all read-only; -EINVAL when the low RAM ends at 1 MiB or
 * below. */
int vid_memory_split_shadow(struct vid_partition *p);
/* vid_firmware_set_shadow_ro's work: each piece whose mode changes made
 * again with KVM_MEM_READONLY set or not (-ENOENT: not split). */
int vid_memory_set_shadow_ro(struct vid_partition *p, uint32_t read_only);
/* firmware.c: the slot leaves with the RAM's; the copy at destroy. */
void vid_firmware_remove_slot(struct vid_partition *p);
void vid_firmware_free(struct vid_partition *p);
/* Removes the device memory slots (a stopped partition, memory.c). */
void vid_devmem_remove_all(struct vid_partition *p);
/* Dirty logging on or off for every device memory slot (dirty.c). */
int vid_devmem_set_logging(struct vid_partition *p, bool on);
int vid_memory_init(struct vid_partition *p, uint64_t ram_bytes, uint64_t hot_add_bytes, bool hugepages);
void vid_memory_free(struct vid_partition *p);
/* cputime.c: the calling thread's CPU time, 0 if its clock fails. */
uint64_t vid_thread_cpu_ns(void);
/* cputime.c: on the VP's thread as it ends: its CPU time, which
 * vid_vp_cpu_time_ns reports once the thread is gone. */
void vid_vp_cpu_time_keep(struct vid_vp *vp);

/* The last VP thread of a stopped partition: RAM leaves the guest's
 * address space (the host mapping stays: a save still reads it). */
void vid_memory_remove_slots(struct vid_partition *p);
/* Re-registers the RAM slots with these KVM_MEM_* flags; after
 * vid_memory_remove_slots only flags 0 (a no-op), else -ESHUTDOWN. */
int vid_memory_set_flags(struct vid_partition *p, uint32_t flags);

/* vp.c */
int vid_vp_create(struct vid_partition *p, unsigned index, struct vid_vp **out);
void vid_vp_destroy(struct vid_vp *vp);
int vid_vp_translate(struct vid_vp *vp, uint64_t gva, uint64_t *gpa);
/* Interrupt every VP thread (but the caller's) out of KVM_RUN. */
void vid_kick_all(struct vid_partition *p);

/* throttle.c, on the VP's thread: before each KVM_RUN (sleeps the
 * period's parked share once the guest share is used up, arms the timer
 * that ends the next one), and when the thread ends. */
void vid_vp_throttle(struct vid_vp *vp);
void vid_vp_throttle_end(struct vid_vp *vp);

/* pvm.c: workarounds for the PVM nested KVM; never active elsewhere. */
bool vid_pvm_fixup(struct vid_vp *vp);
/* For an emulation failure whose exit carries them
 * (KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES, Linux 5.14 on):
 * the bytes KVM's emulator failed on, and how many; 0 otherwise. */
size_t vid_emulation_failure_bytes(const struct kvm_run *run, const uint8_t **bytes);
/* Applied to every CPUID entry vid sets (hides CX16 on PVM). */
void vid_pvm_cpuid_fixup(const struct vid_partition *p, struct kvm_cpuid_entry2 *e);
/* Turns the syscall trampoline on (before the MSR filter is built). */
void vid_pvm_prepare(struct vid_partition *p);
/* MSRs vid itself filters on PVM (appended to the owner's ranges). */
size_t vid_pvm_msr_ranges(const struct vid_partition *p, struct vid_msr_range *out, size_t max);
/* Return true if vid handled the MSR access / MMIO exit itself. */
bool vid_pvm_msr(struct vid_vp *vp, bool write, uint32_t index, uint64_t *value, int *result);
bool vid_pvm_mmio(struct vid_vp *vp, uint64_t gpa, bool write);
/* Saved state (state.c): the value of MSR index to save, given what KVM
 * holds (the guest's LSTAR, not the trampoline's); and applying a saved
 * value, with the VP's system registers as restored (true: handled, *r set). */
uint64_t vid_pvm_msr_saved(const struct vid_vp *vp, uint32_t index, uint64_t kvm_value);
/* state.c: the state's VP count and RAM size are this partition's. */
struct vid_partition_state;
int vid_state_fits(const struct vid_partition *p, const struct vid_partition_state *st, char *err, size_t errlen);
bool vid_pvm_msr_restore(struct vid_vp *vp, uint32_t index, uint64_t value, const struct kvm_sregs *s, int *r);
/* Whether the guest TSC can be moved at all: not on PVM, where it is the
 * host's; its KVM accepts KVM_VCPU_TSC_OFFSET and leaves the TSC as it was
 * (vid/state.c then writes IA32_TSC as before, and hvshim's reference time
 * covers the jump). */
bool vid_pvm_tsc_fixed(const struct vid_partition *p);

/* partition.c */
int vid_msr_filter_apply(struct vid_partition *p);
