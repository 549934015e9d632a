// SPDX-License-Identifier: MIT
/* Device memory (vid.h, "device memory"): host memory a device shares
 * with the guest at a guest-physical address of the guest's choosing,
 * through a KVM memory slot of its own (a synthetic video card's VRAM,
 * which Linux's hyperv_drm places in the VMBus MMIO window and tells the
 * host about). KVM maps it into the guest: the guest's stores land in the
 * owner's memory with no exit. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/macro.h"
#include "internal.h"

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
        return a < b + blen && b < a + alen;
}

/* The PC platform's fixed ranges at the top of the 32-bit space, which no
 * device memory may cover: KVM looks for its in-kernel devices (IOAPIC,
 * local APIC) only where no memory slot is, so a slot there would turn the
 * guest's interrupt controller into its VRAM; the HPET and chipset range
 * is the platform's even where we emulate nothing yet; and the top 16 MiB
 * is where boot firmware (a BIOS or UEFI image) maps. Each as a PC
 * chipset reserves it, a MiB or more. */
static const struct {
        uint64_t gpa, len;
} platform_ranges[] = {
        { 0xfec00000ull, 0x100000ull },  /* I/O APIC (KVM's at 0xfec00000) */
        { 0xfed00000ull, 0x100000ull },  /* HPET (0xfed00000), TPM (0xfed40000), chipset */
        { 0xfee00000ull, 0x100000ull },  /* local APIC, MSI address range */
        { 0xff000000ull, 0x1000000ull }, /* firmware image, reset vector 0xfffffff0 */
};

int vid_gpa_platform_check(uint64_t gpa, uint64_t len, unsigned phys_bits) {
        uint64_t end;
        if (!len || ADD_OVERFLOW(gpa, len, &end))
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(platform_ranges); i++)
                if (overlaps(gpa, len, platform_ranges[i].gpa, platform_ranges[i].len))
                        return -EEXIST;
        /* The guest cannot address past its width (and KVM's MMU would
         * refuse or truncate such a slot). */
        if (phys_bits < 64 && end > (1ull << phys_bits))
                return -ERANGE;
        return 0;
}

/* Lock held. */
static int check_place(const struct vid_partition *p, uint64_t gpa, uint64_t len) {
        uint64_t end;
        if (!len || !IS_ALIGNED(gpa, VID_PAGE_SIZE) || !IS_ALIGNED(len, VID_PAGE_SIZE) ||
            ADD_OVERFLOW(gpa, len, &end))
                return -EINVAL;
        for (size_t i = 0; i < p->n_regions; i++)
                if (overlaps(gpa, len, p->regions[i].gpa, p->regions[i].size))
                        return -EEXIST;
        for (size_t i = 0; i < VID_DEVMEM_MAX; i++)
                if (p->devmem[i].used && overlaps(gpa, len, p->devmem[i].gpa, p->devmem[i].len))
                        return -EEXIST;
        for (size_t i = 0; i < p->mmio.n; i++)
                if (overlaps(gpa, len, p->mmio.ranges[i].base, p->mmio.ranges[i].len))
                        return -EEXIST;
        if (overlaps(gpa, len, VID_RESERVED_GPA, VID_RESERVED_SIZE))
                return -EEXIST;
        return vid_gpa_platform_check(gpa, len, vid_cpuid_phys_bits(p->cpuid, p->cpuid ? p->n_cpuid : 0));
}

static int set_slot(struct vid_partition *p, unsigned i, uint64_t gpa, uint64_t len, void *host) {
        struct kvm_userspace_memory_region m = {
                .slot = VID_DEVMEM_SLOT0 + i,
                .flags = len && p->devmem_logging ? KVM_MEM_LOG_DIRTY_PAGES : 0,
                .guest_phys_addr = gpa,
                .memory_size = len, /* 0: delete */
                .userspace_addr = (uint64_t)(uintptr_t)host,
        };
        return ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &m) < 0 ? -errno : 0;
}

int vid_devmem_map(struct vid_partition *p, uint64_t gpa, uint64_t len, void *host) {
        if (!host || !IS_ALIGNED((uintptr_t)host, VID_PAGE_SIZE))
                return -EINVAL;
        pthread_mutex_lock(&p->lock);
        int r = p->slots_removed ? -ESHUTDOWN : check_place(p, gpa, len);
        unsigned i = 0;
        while (r == 0 && i < VID_DEVMEM_MAX && p->devmem[i].used)
                i++;
        if (r == 0 && i == VID_DEVMEM_MAX)
                r = -ENOSPC;
        if (r == 0 && (r = set_slot(p, i, gpa, len, host)) == 0)
                p->devmem[i] = (typeof(p->devmem[i])){ .gpa = gpa, .len = len, .host = host, .used = true,
                                                       .all_dirty = p->devmem_logging };
        pthread_mutex_unlock(&p->lock);
        return r < 0 ? r : (int)i;
}

int vid_devmem_unmap(struct vid_partition *p, int id) {
        if (id < 0 || (unsigned)id >= VID_DEVMEM_MAX)
                return -EINVAL;
        pthread_mutex_lock(&p->lock);
        int r = p->devmem[id].used ? 0 : -ENOENT;
        if (r == 0 && !p->slots_removed)
                r = set_slot(p, (unsigned)id, p->devmem[id].gpa, 0, p->devmem[id].host);
        if (r == 0)
                p->devmem[id].used = false;
        pthread_mutex_unlock(&p->lock);
        return r;
}

void vid_devmem_remove_all(struct vid_partition *p) {
        pthread_mutex_lock(&p->lock);
        p->slots_removed = true; /* no map after this one */
        for (unsigned i = 0; i < VID_DEVMEM_MAX; i++)
                if (p->devmem[i].used) {
                        (void)set_slot(p, i, p->devmem[i].gpa, 0, p->devmem[i].host);
                        p->devmem[i].used = false;
                }
        pthread_mutex_unlock(&p->lock);
}

/* Lock held. */
static int find_host(const struct vid_partition *p, const void *host, uint64_t len) {
        for (unsigned i = 0; i < VID_DEVMEM_MAX; i++)
                if (p->devmem[i].used && p->devmem[i].host == host)
                        return p->devmem[i].len == len ? (int)i : -EINVAL;
        return -ENOENT;
}

int vid_devmem_set_logging(struct vid_partition *p, bool on) {
        pthread_mutex_lock(&p->lock);
        int r = 0;
        p->devmem_logging = on && !p->slots_removed;
        for (unsigned i = 0; r == 0 && !p->slots_removed && i < VID_DEVMEM_MAX; i++)
                if (p->devmem[i].used) {
                        r = set_slot(p, i, p->devmem[i].gpa, p->devmem[i].len, p->devmem[i].host);
                        p->devmem[i].all_dirty = false; /* a new log: clean from here on */
                }
        if (r < 0)
                p->devmem_logging = false;
        pthread_mutex_unlock(&p->lock);
        return on && p->slots_removed ? -ESHUTDOWN : r;
}

int vid_devmem_dirty_get(struct vid_partition *p, const void *host, uint64_t len, uint64_t *bitmap) {
        uint64_t pages = len / VID_PAGE_SIZE, words = DIV_ROUND_UP(pages, 64);
        if (!IS_ALIGNED(len, VID_PAGE_SIZE) || !pages)
                return -EINVAL;
        memset(bitmap, 0, words * sizeof *bitmap);
        pthread_mutex_lock(&p->lock);
        int r = p->devmem_logging ? find_host(p, host, len) : -EINVAL;
        if (r == -ENOENT)
                r = 0; /* not mapped: the guest cannot have written it */
        else if (r >= 0) {
                unsigned i = (unsigned)r;
                struct kvm_dirty_log log = { .slot = VID_DEVMEM_SLOT0 + i, .dirty_bitmap = bitmap };
                r = ioctl(p->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0 ? -errno : 0;
                if (r == 0 && p->devmem[i].all_dirty) {
                        for (uint64_t w = 0; w < words; w++)
                                bitmap[w] = w + 1 < words || pages % 64 == 0 ? ~0ull : (1ull << (pages % 64)) - 1;
                        p->devmem[i].all_dirty = false;
                }
        }
        pthread_mutex_unlock(&p->lock);
        return r;
}
