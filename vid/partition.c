// SPDX-License-Identifier: MIT
/* Partition lifecycle: open /dev/kvm, check capabilities, create the VM,
 * its in-kernel irqchip, RAM and VPs. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "internal.h"

struct required_cap {
        int cap;
        const char *name;
        int min;
};

/* Everything the rest of the stack relies on; checked up front so a host
 * without one fails with its name instead of misbehaving later. */
static const struct required_cap required_caps[] = {
        { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", 1 },
        { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", 1 },
        { KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", 1 },
        { KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI", 1 },
        { KVM_CAP_IRQFD, "KVM_CAP_IRQFD", 1 },
        { KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", 1 },
        { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", 1 },
        { KVM_CAP_X86_USER_SPACE_MSR, "KVM_CAP_X86_USER_SPACE_MSR", 1 },
        { KVM_CAP_X86_MSR_FILTER, "KVM_CAP_X86_MSR_FILTER", 1 },
        { KVM_CAP_SYNC_REGS, "KVM_CAP_SYNC_REGS", KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS },
        { KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS", 1 },
        { KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", 1 },
        { KVM_CAP_GET_TSC_KHZ, "KVM_CAP_GET_TSC_KHZ", 1 },
        { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", 1 },
};

static int msr_ranges_set(struct vid_partition *p, const struct vid_msr_range *ranges, size_t n);

static int check_caps(struct vid_partition *p, unsigned n_vps, char *err, size_t errlen) {
        for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
                int v = ioctl(p->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap);
                if (v < required_caps[i].min ||
                    (required_caps[i].min > 1 && (v & required_caps[i].min) != required_caps[i].min))
                        return errorf(err, errlen, -ENOTSUP, "KVM lacks %s (required)", required_caps[i].name);
        }
        int max = ioctl(p->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
        if (max <= 0)
                max = ioctl(p->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
        if (max > 0 && (unsigned)max < n_vps)
                return errorf(err, errlen, -ENOTSUP, "KVM supports only %d vCPUs, %u requested", max, n_vps);
        return 0;
}

int vid_partition_create(const struct vid_partition_config *cfg, struct vid_partition **out, char *err,
                         size_t errlen) {
        int r;
        if (!cfg || cfg->n_vps == 0 || cfg->n_vps > VID_MAX_VPS)
                return errorf(err, errlen, -EINVAL, "vCPU count must be 1..%u", VID_MAX_VPS);
        if (cfg->ram_bytes == 0 || !IS_ALIGNED(cfg->ram_bytes, 2u << 20))
                return errorf(err, errlen, -EINVAL, "RAM size must be a non-zero multiple of 2 MiB");
        if (!IS_ALIGNED(cfg->hot_add_bytes, VID_HOT_ADD_ALIGN) || cfg->hot_add_bytes > VID_HOT_ADD_MAX)
                return errorf(err, errlen, -EINVAL, "the hot-add window must be a multiple of 128 MiB, at most %llu GiB",
                              (unsigned long long)(VID_HOT_ADD_MAX >> 30));

        struct vid_partition *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->kvm_fd = p->vm_fd = p->memfd = p->stop_efd = -1;
        p->stop_status = -1;
        pthread_mutex_init(&p->lock, NULL);
        pthread_mutex_init(&p->slots_lock, NULL);
        pthread_mutex_init(&p->irq_lock, NULL);
        /* Monotonic: a throttled VP's timed sleep (throttle.c) must not
         * stretch when the wall clock is set back. */
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cond, &ca);
        pthread_condattr_destroy(&ca);

        p->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (p->kvm_fd < 0) {
                r = errorf(err, errlen, -errno, "cannot open /dev/kvm: %s", strerror(errno));
                goto fail;
        }
        if (ioctl(p->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
                r = errorf(err, errlen, -ENOTSUP, "unsupported KVM API version");
                goto fail;
        }
        r = check_caps(p, cfg->n_vps, err, errlen);
        if (r < 0)
                goto fail;
        p->pvm = vid_pvm_detect();
        p->svm = access("/sys/module/kvm_amd", F_OK) == 0;
        int mmap_size = ioctl(p->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (mmap_size <= 0) {
                r = errorf(err, errlen, -EIO, "KVM_GET_VCPU_MMAP_SIZE failed");
                goto fail;
        }
        p->vcpu_mmap_size = (size_t)mmap_size;

        p->vm_fd = ioctl(p->kvm_fd, KVM_CREATE_VM, 0);
        if (p->vm_fd < 0) {
                r = errorf(err, errlen, -errno, "KVM_CREATE_VM: %s", strerror(errno));
                goto fail;
        }
        /* VT-x needs these three pages somewhere the guest will not use; the
         * top of the MMIO hole below the BIOS area is free in our layout. */
        if (ioctl(p->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ 0xfeffc000 }) < 0 ||
            ioctl(p->vm_fd, KVM_SET_TSS_ADDR, 0xfeffd000UL) < 0) {
                r = errorf(err, errlen, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
                goto fail;
        }
        struct kvm_enable_cap msr_cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR,
                                          .args[0] = KVM_MSR_EXIT_REASON_FILTER };
        if (ioctl(p->vm_fd, KVM_ENABLE_CAP, &msr_cap) < 0) {
                r = errorf(err, errlen, -errno, "enabling KVM_CAP_X86_USER_SPACE_MSR: %s", strerror(errno));
                goto fail;
        }
        /* The MSR filter first: KVM_X86_SET_MSR_FILTER waits for a normal
         * grace period of the VM's SRCU, cheap only while nothing has used
         * it yet; after the memory slot or the irqchip it took 13 ms on
         * the PVM host, most of a start (docs/vmwp.md, "Performance"). */
        if (cfg->n_msr_ranges) {
                r = msr_ranges_set(p, cfg->msr_ranges, cfg->n_msr_ranges);
                if (r < 0) {
                        errorf(err, errlen, r, "invalid MSR ranges in the partition config");
                        goto fail;
                }
        }
        if (p->pvm)
                vid_pvm_prepare(p);
        r = vid_msr_filter_apply(p);
        if (r < 0) {
                errorf(err, errlen, r, "KVM_X86_SET_MSR_FILTER: %s", strerror(-r));
                goto fail;
        }
        r = vid_memory_init(p, cfg->ram_bytes, cfg->hot_add_bytes, cfg->hugepages);
        if (r < 0) {
                errorf(err, errlen, r, "allocating %llu MiB of guest RAM (%llu MiB more to hot-add): %s",
                       (unsigned long long)(cfg->ram_bytes >> 20), (unsigned long long)(cfg->hot_add_bytes >> 20),
                       strerror(-r));
                goto fail;
        }
        if (ioctl(p->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
                r = errorf(err, errlen, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
                goto fail;
        }
        r = vid_irq_init(p);
        if (r < 0) {
                errorf(err, errlen, r, "setting up interrupt routing: %s", strerror(-r));
                goto fail;
        }
        /* The PIT a BIOS and its boot loaders count time with (IRQ 0), and
         * port 61h with its channel 2 output (bit 5), which SeaBIOS polls
         * to calibrate the TSC (src/hw/timer.c): KVM's speaker stub
         * (KVM_PIT_SPEAKER_DUMMY) answers that port in the kernel. */
        if (cfg->pit) {
                struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
                if (ioctl(p->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
                        r = errorf(err, errlen, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
                        goto fail;
                }
                p->pit = true;
        }
        int khz = ioctl(p->vm_fd, KVM_GET_TSC_KHZ, 0);
        p->tsc_khz = khz > 0 ? (uint32_t)khz : 0;

        p->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->stop_efd < 0) {
                r = -errno;
                goto fail;
        }
        for (unsigned i = 0; i < cfg->n_vps; i++) {
                r = vid_vp_create(p, i, &p->vps[i]);
                if (r < 0) {
                        errorf(err, errlen, r, "creating vCPU %u: %s", i, strerror(-r));
                        goto fail;
                }
                p->n_vps++;
        }
        /* Default CPUID: what the host supports, KVM leaves removed. */
        struct vid_cpuid_entry *e = calloc(VID_CPUID_MAX_ENTRIES, sizeof *e);
        if (!e) {
                r = -ENOMEM;
                goto fail;
        }
        r = vid_cpuid_supported(p, e, VID_CPUID_MAX_ENTRIES);
        if (r >= 0)
                r = vid_cpuid_set(p, e, (size_t)r);
        free(e);
        if (r < 0) {
                errorf(err, errlen, r, "setting CPUID: %s", strerror(-r));
                goto fail;
        }
        *out = p;
        return 0;
fail:
        vid_partition_destroy(p);
        return r;
}

void vid_partition_destroy(struct vid_partition *p) {
        if (!p)
                return;
        if (p->started)
                vid_partition_join(p);
        for (unsigned i = 0; i < p->n_vps; i++)
                vid_vp_destroy(p->vps[i]);
        vid_io_free(&p->pio);
        vid_io_free(&p->mmio);
        vid_irq_free(p);
        vid_memory_free(p);
        vid_firmware_free(p);
        free(p->cpuid);
        free(p->state_msrs);
        free((void *)p->dirty_user);
        safe_close(p->stop_efd);
        safe_close(p->vm_fd);
        safe_close(p->kvm_fd);
        free(p->supported_cpuid);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        pthread_mutex_destroy(&p->slots_lock);
        pthread_mutex_destroy(&p->irq_lock);
        free(p);
}

unsigned vid_partition_vp_count(const struct vid_partition *p) {
        return p->n_vps;
}

struct vid_vp *vid_partition_vp(struct vid_partition *p, unsigned index) {
        return index < p->n_vps ? p->vps[index] : NULL;
}

bool vid_partition_is_pvm(const struct vid_partition *p) {
        return p->pvm;
}

uint32_t vid_partition_tsc_khz(const struct vid_partition *p) {
        return p->tsc_khz;
}

int vid_partition_stop_fd(const struct vid_partition *p) {
        return p->stop_efd;
}

void vid_partition_stats(const struct vid_partition *p, struct vid_stats *out) {
        out->exits = atomic_load(&p->stats.exits);
        out->pio_exits = atomic_load(&p->stats.pio_exits);
        out->mmio_exits = atomic_load(&p->stats.mmio_exits);
        out->msr_exits = atomic_load(&p->stats.msr_exits);
        out->unhandled_io = atomic_load(&p->stats.unhandled_io);
        out->pvm_fixups = atomic_load(&p->stats.pvm_fixups);
        out->pvm_int3 = atomic_load(&p->stats.pvm_int3);
        out->pvm_fwait = atomic_load(&p->stats.pvm_fwait);
        out->pvm_clac_stac = atomic_load(&p->stats.pvm_clac_stac);
        out->pvm_rdtscp = atomic_load(&p->stats.pvm_rdtscp);
        out->pvm_lsl_lar = atomic_load(&p->stats.pvm_lsl_lar);
        out->pvm_reexec = atomic_load(&p->stats.pvm_reexec);
        out->msr_filter_sets = atomic_load(&p->stats.msr_filter_sets);
        out->cpuid_sets = atomic_load(&p->stats.cpuid_sets);
        out->cpuid_sets_skipped = atomic_load(&p->stats.cpuid_sets_skipped);
        out->pvm_syscall = atomic_load(&p->stats.pvm_syscall);
}

/* ---- CPUID ---- */

int vid_cpuid_supported(struct vid_partition *p, struct vid_cpuid_entry *out, size_t max) {
        if (!p->supported_cpuid) {
                size_t nent = VID_CPUID_MAX_ENTRIES;
                _cleanup_free_ struct kvm_cpuid2 *q =
                        calloc(1, sizeof *q + nent * sizeof(struct kvm_cpuid_entry2));
                if (!q)
                        return -ENOMEM;
                q->nent = (uint32_t)nent;
                if (ioctl(p->kvm_fd, KVM_GET_SUPPORTED_CPUID, q) < 0)
                        return -errno;
                p->supported_cpuid = TAKE_PTR(q);
        }
        const struct kvm_cpuid2 *c = p->supported_cpuid;
        size_t n = 0;
        for (uint32_t i = 0; i < c->nent; i++) {
                const struct kvm_cpuid_entry2 *k = &c->entries[i];
                /* The hypervisor range belongs to hvshim: a KVM signature
                 * anywhere in it makes Linux pick KVM over Hyper-V
                 * (docs/hyperv-guest-interface.md §1.1). */
                if ((k->function & 0xffff0000u) == 0x40000000u)
                        continue;
                if (n == max)
                        return -ENOBUFS;
                struct vid_cpuid_entry *o = &out[n++];
                *o = (struct vid_cpuid_entry){
                        .function = k->function, .index = k->index,
                        .flags = (k->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ? VID_CPUID_SIGNIFICANT_INDEX : 0,
                        .eax = k->eax, .ebx = k->ebx, .ecx = k->ecx, .edx = k->edx,
                };
                /* KVM passes through the APIC ID of the host CPU the ioctl
                 * ran on (leaf 1 EBX[31:24], x2APIC ID in 0xB/0x1F EDX,
                 * AMD's extended APIC ID in 0x8000001E EAX): not the
                 * guest's, and different from one partition to the next.
                 * vid_cpuid_set puts each VP's own in. */
                if (o->function == 1)
                        o->ebx &= 0x00ffffffu;
                if (o->function == 0xb || o->function == 0x1f)
                        o->edx = 0;
                if (o->function == 0x8000001eu)
                        o->eax = 0;
        }
        return (int)n;
}

unsigned vid_cpuid_phys_bits(const struct vid_cpuid_entry *e, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (e[i].function == 0x80000008u && e[i].index == 0 && (e[i].eax & 0xffu))
                        return e[i].eax & 0xffu;
        return 36;
}

/* The table as the guest sees it (host quirks applied, APIC IDs aside):
 * the saved state's CPID section and the migration hello carry it. */
static struct vid_cpuid_entry *cpuid_as_seen(const struct vid_partition *p, const struct vid_cpuid_entry *e, size_t n) {
        struct vid_cpuid_entry *copy = malloc(n * sizeof *copy + 1);
        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                struct kvm_cpuid_entry2 k = { .function = e[i].function, .index = e[i].index, .eax = e[i].eax,
                                              .ebx = e[i].ebx, .ecx = e[i].ecx, .edx = e[i].edx };
                vid_pvm_cpuid_fixup(p, &k);
                copy[i] = e[i];
                copy[i].eax = k.eax, copy[i].ebx = k.ebx, copy[i].ecx = k.ecx, copy[i].edx = k.edx;
        }
        return copy;
}

int vid_cpuid_set(struct vid_partition *p, const struct vid_cpuid_entry *e, size_t n) {
        if (n > VID_CPUID_MAX_ENTRIES)
                return -E2BIG;
        struct vid_cpuid_entry *copy = cpuid_as_seen(p, e, n);
        if (!copy)
                return -ENOMEM;
        /* The VPs have this table already (a restore of a state this host
         * saved, or a migration between alike hosts): KVM_SET_CPUID2 would
         * write the same entries, at ~0.1 ms a VP inside the downtime. */
        if (p->cpuid && p->n_cpuid == n && memcmp(p->cpuid, copy, n * sizeof *copy) == 0) {
                free(copy);
                atomic_fetch_add(&p->stats.cpuid_sets_skipped, 1);
                return 0;
        }
        _cleanup_free_ struct kvm_cpuid2 *c = calloc(1, sizeof *c + n * sizeof(struct kvm_cpuid_entry2));
        if (!c) {
                free(copy);
                return -ENOMEM;
        }
        for (unsigned v = 0; v < p->n_vps; v++) {
                uint32_t apic_id = vid_vp_apic_id(p->vps[v]);
                c->nent = (uint32_t)n;
                for (size_t i = 0; i < n; i++) {
                        struct kvm_cpuid_entry2 *k = &c->entries[i];
                        *k = (struct kvm_cpuid_entry2){
                                .function = copy[i].function, .index = copy[i].index,
                                .flags = (copy[i].flags & VID_CPUID_SIGNIFICANT_INDEX) ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX
                                                                                       : 0,
                                .eax = copy[i].eax, .ebx = copy[i].ebx, .ecx = copy[i].ecx, .edx = copy[i].edx,
                        };
                        /* Per-VP identity: initial APIC ID in leaf 1, x2APIC ID in
                         * 0xB/0x1F, extended APIC ID in 0x8000001E. */
                        if (k->function == 1)
                                k->ebx = (k->ebx & 0x00ffffffu) | (apic_id << 24);
                        if (k->function == 0xb || k->function == 0x1f)
                                k->edx = apic_id;
                        if (k->function == 0x8000001eu)
                                k->eax = apic_id;
                }
                if (ioctl(p->vps[v]->fd, KVM_SET_CPUID2, c) < 0) {
                        int r = -errno;
                        free(copy);
                        return r;
                }
        }
        atomic_fetch_add(&p->stats.cpuid_sets, 1);
        free(p->cpuid);
        /* The MSRs that make up a VP's state depend on its CPUID: asked
         * again at the next save. */
        free(p->state_msrs);
        p->state_msrs = NULL;
        p->n_state_msrs = 0;
        p->cpuid = copy;
        p->n_cpuid = n;
        return 0;
}

/* ---- MSR handler ---- */

/* Builds KVM's MSR filter from the owner's ranges plus vid's own (PVM);
 * no ioctl when KVM has that filter already (each one costs an SRCU grace
 * period, see vid_partition_create). */
int vid_msr_filter_apply(struct vid_partition *p) {
        struct vid_msr_range all[KVM_MSR_FILTER_MAX_RANGES];
        size_t n = p->n_msr_ranges;
        memcpy(all, p->msr_ranges, n * sizeof *all);
        n += vid_pvm_msr_ranges(p, all + n, ARRAY_SIZE(all) - n);
        if (n == p->n_msr_applied && memcmp(all, p->msr_applied, n * sizeof *all) == 0)
                return 0;
        struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };
        /* A zero bit in a range's bitmap denies the access in KVM, which
         * with KVM_MSR_EXIT_REASON_FILTER becomes an exit to us. */
        static const uint8_t deny_all[VID_MSR_RANGE_MAX / 8];
        for (size_t i = 0; i < n; i++)
                f.ranges[i] = (struct kvm_msr_filter_range){
                        .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
                        .nmsrs = all[i].count,
                        .base = all[i].first,
                        .bitmap = (uint8_t *)deny_all,
                };
        if (ioctl(p->vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0)
                return -errno;
        atomic_fetch_add(&p->stats.msr_filter_sets, 1);
        memcpy(p->msr_applied, all, n * sizeof *all);
        p->n_msr_applied = n;
        return 0;
}

/* Validates and stores the owner's MSR ranges (not yet applied). */
static int msr_ranges_set(struct vid_partition *p, const struct vid_msr_range *ranges, size_t n) {
        /* Keep room for the ranges vid filters itself on PVM. */
        if (n > KVM_MSR_FILTER_MAX_RANGES - 2 || (n && !ranges))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (ranges[i].count == 0 || ranges[i].count > VID_MSR_RANGE_MAX)
                        return -EINVAL;
        memcpy(p->msr_ranges, ranges, n * sizeof *ranges);
        p->n_msr_ranges = n;
        return 0;
}

int vid_set_msr_handler(struct vid_partition *p, const struct vid_msr_range *ranges, size_t n, vid_msr_fn fn,
                        void *opaque) {
        if (!fn)
                return -EINVAL;
        struct vid_msr_range old[KVM_MSR_FILTER_MAX_RANGES];
        size_t n_old = p->n_msr_ranges;
        memcpy(old, p->msr_ranges, n_old * sizeof *old);
        int r = msr_ranges_set(p, ranges, n);
        if (r == 0)
                r = vid_msr_filter_apply(p); /* nothing to do if declared at create */
        if (r < 0) {
                memcpy(p->msr_ranges, old, n_old * sizeof *old);
                p->n_msr_ranges = n_old;
                return r;
        }
        p->msr_fn = fn;
        p->msr_opaque = opaque;
        return 0;
}

void vid_partition_request_stop(struct vid_partition *p, int status, const char *fmt, ...) {
        pthread_mutex_lock(&p->lock);
        bool first = !p->stop_requested;
        if (first) {
                p->stop_requested = true;
                atomic_store(&p->stop_ns, vid_now_ns());
                p->stop_status = status;
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(p->stop_reason, sizeof p->stop_reason, fmt, ap);
                va_end(ap);
                pthread_cond_broadcast(&p->cond);
        }
        pthread_mutex_unlock(&p->lock);
        if (first) {
                uint64_t one = 1;
                (void)!write(p->stop_efd, &one, sizeof one);
                /* Kick the VPs out of KVM_RUN; they see stop_requested. */
                vid_kick_all(p);
        }
}

void vid_partition_times(const struct vid_partition *p, uint64_t *first_run_ns, uint64_t *stop_ns) {
        *first_run_ns = atomic_load(&p->first_run_ns);
        *stop_ns = atomic_load(&p->stop_ns);
}

int vid_partition_stop_requested(const struct vid_partition *p, char *reason, size_t len) {
        struct vid_partition *mp = (struct vid_partition *)p;
        pthread_mutex_lock(&mp->lock);
        int s = p->stop_requested ? p->stop_status : -1;
        if (reason && len)
                snprintf(reason, len, "%s", p->stop_requested ? p->stop_reason : "");
        pthread_mutex_unlock(&mp->lock);
        return s;
}
