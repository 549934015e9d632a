// SPDX-License-Identifier: MIT
/* Device memory (vid.h, "device memory"): host memory a device shares
 * with the guest at a guest-physical address of the guest's choosing,
 * through a KVM memory slot of its own (a synthetic video card's VRAM,
 * which Linux's hyperv_drm places in the VMBus MMIO window and tells the
 * host about). KVM maps it into the guest: the guest's stores land in the
 * owner's memory with no exit. */
#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "common/macro.h"
#include "internal.h"

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
        return a < b + blen && b < a + alen;
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
        return 0;
}

static int set_slot(struct vid_partition *p, unsigned i, uint64_t gpa, uint64_t len, void *host) {
        struct kvm_userspace_memory_region m = {
                .slot = VID_DEVMEM_SLOT0 + i,
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
                p->devmem[i] = (typeof(p->devmem[i])){ .gpa = gpa, .len = len, .host = host, .used = true };
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
