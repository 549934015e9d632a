// SPDX-License-Identifier: MIT
/* Guest RAM: one memfd (so it can be shared, snapshotted or backed by huge
 * pages), mapped once; two KVM slots (below the MMIO hole and above 4 GiB),
 * the low one in 15 for a firmware VM (the pieces of 0xC0000-0xFFFFF,
 * which PAM makes read-only: vid_firmware_set_shadow_ro).
 * Every access from the host goes through the bounds checks here. */
#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"
#include "internal.h"

int vid_memory_init(struct vid_partition *p, uint64_t ram_bytes, uint64_t hot_add_bytes, bool hugepages) {
        unsigned flags = MFD_CLOEXEC | (hugepages ? (MFD_HUGETLB | MFD_HUGE_2MB) : 0);
        uint64_t total = ram_bytes + hot_add_bytes;
        p->memfd = memfd_create("vid-guest-ram", flags);
        if (p->memfd < 0)
                return -errno;
        if (ftruncate(p->memfd, (off_t)total) < 0)
                return -errno;
        void *ram = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, p->memfd, 0);
        if (ram == MAP_FAILED)
                return -errno;
        p->ram = ram;
        p->ram_bytes = total;
        /* Guest memory is not ours to dump, and a forked helper must not see it. */
        (void)madvise(ram, total, MADV_DONTDUMP);
        (void)madvise(ram, total, MADV_DONTFORK);

        uint64_t low = MIN(ram_bytes, VID_LOW_RAM_MAX), end = low;
        p->regions[0] = (struct ram_region){ .gpa = 0, .size = low, .memfd_offset = 0, .host = p->ram };
        p->n_regions = 1;
        if (ram_bytes > low) {
                p->regions[1] = (struct ram_region){ .gpa = VID_HIGH_RAM_START, .size = ram_bytes - low,
                                                     .memfd_offset = low, .host = p->ram + low };
                p->n_regions = 2;
                end = VID_HIGH_RAM_START + ram_bytes - low;
        }
        p->n_boot_regions = p->n_regions;
        if (hot_add_bytes) {
                /* Above 4 GiB and above the RAM, aligned as Linux adds
                 * memory (hv_balloon: 128 MiB blocks). */
                uint64_t gpa = ALIGN_UP(MAX(end, VID_HIGH_RAM_START), VID_HOT_ADD_ALIGN);
                p->regions[p->n_regions++] = (struct ram_region){ .gpa = gpa, .size = hot_add_bytes,
                                                                  .memfd_offset = ram_bytes,
                                                                  .host = p->ram + ram_bytes };
        }
        return vid_memory_set_flags(p, 0);
}

size_t vid_ram_slots(const struct vid_partition *p, struct ram_slot out[VID_RAM_SLOTS_MAX]) {
        size_t n = 0;
        for (size_t i = 0; i < p->n_regions; i++) {
                const struct ram_region *r = &p->regions[i];
                if (i == 0 && p->shadow_split) {
                        /* Below the shadowed area, its 13 pieces, from 1 MiB. */
                        out[n++] = (struct ram_slot){ .slot = 0, .size = VID_SHADOW_START, .host = r->host };
                        for (unsigned k = 0; k < VID_SHADOW_PIECES; k++) {
                                bool seg = k == VID_SHADOW_PIECES - 1;
                                uint64_t gpa = VID_SHADOW_START + k * VID_SHADOW_PIECE_SIZE;
                                out[n++] = (struct ram_slot){
                                        .slot = VID_SHADOW_SLOT0 + k,
                                        .gpa = gpa,
                                        .size = seg ? VID_SHADOW_END - gpa : VID_SHADOW_PIECE_SIZE,
                                        .memfd_offset = gpa,
                                        .host = r->host + gpa,
                                        .read_only = p->shadow_ro >> k & 1,
                                };
                        }
                        out[n++] = (struct ram_slot){ .slot = VID_LOW_TAIL_SLOT, .gpa = VID_SHADOW_END,
                                                      .size = r->size - VID_SHADOW_END, .memfd_offset = VID_SHADOW_END,
                                                      .host = r->host + VID_SHADOW_END };
                        continue;
                }
                out[n++] = (struct ram_slot){ .slot = (uint32_t)i, .gpa = r->gpa, .size = r->size,
                                              .memfd_offset = r->memfd_offset, .host = r->host };
        }
        return n;
}

/* Registers s with flags (KVM_MEM_READONLY added for a read-only piece);
 * size 0 deletes it. */
static int set_slot(struct vid_partition *p, const struct ram_slot *s, uint64_t size, uint32_t flags) {
        struct kvm_userspace_memory_region m = {
                .slot = s->slot,
                .flags = size ? flags | (s->read_only ? KVM_MEM_READONLY : 0) : 0,
                .guest_phys_addr = s->gpa,
                .memory_size = size,
                .userspace_addr = (uint64_t)(uintptr_t)s->host,
        };
        return ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &m) < 0 ? -errno : 0;
}

int vid_memory_set_flags(struct vid_partition *p, uint32_t flags) {
        pthread_mutex_lock(&p->slots_lock);
        int r = p->slots_removed ? (flags ? -ESHUTDOWN : 0) : 0;
        struct ram_slot s[VID_RAM_SLOTS_MAX];
        size_t n = p->slots_removed ? 0 : vid_ram_slots(p, s);
        for (size_t i = 0; r == 0 && i < n; i++)
                r = set_slot(p, &s[i], s[i].size, flags);
        if (r == 0 && !p->slots_removed)
                p->slot_flags = flags;
        pthread_mutex_unlock(&p->slots_lock);
        return r;
}

/* The low region's pieces: slot 0 below the shadowed area, the area's
 * 13, the rest from 1 MiB. */
#define LOW_PIECES (VID_SHADOW_PIECES + 2u)

int vid_memory_split_shadow(struct vid_partition *p) {
        if (p->regions[0].size <= VID_SHADOW_END)
                return -EINVAL;
        pthread_mutex_lock(&p->slots_lock);
        int r = 0;
        if (!p->shadow_split && !p->slots_removed) {
                /* Slot 0 shrinks: KVM changes a slot's size only by
                 * deleting it first. No VP runs yet. */
                struct ram_slot s[VID_RAM_SLOTS_MAX];
                (void)vid_ram_slots(p, s);
                r = set_slot(p, &s[0], 0, 0);
                p->shadow_split = r == 0;
                p->shadow_ro = VID_SHADOW_ALL; /* PAM's reset value: the ROMs */
                /* The low region's pieces come first. */
                (void)vid_ram_slots(p, s);
                for (size_t i = 0; r == 0 && i < LOW_PIECES; i++)
                        r = set_slot(p, &s[i], s[i].size, p->slot_flags);
        }
        pthread_mutex_unlock(&p->slots_lock);
        return r;
}

int vid_memory_set_shadow_ro(struct vid_partition *p, uint32_t read_only) {
        if (read_only & ~VID_SHADOW_ALL)
                return -EINVAL;
        pthread_mutex_lock(&p->slots_lock);
        int r = p->shadow_split ? 0 : -ENOENT;
        struct ram_slot s[VID_RAM_SLOTS_MAX];
        (void)vid_ram_slots(p, s); /* s[1 + k]: piece k */
        for (unsigned k = 0; r == 0 && k < VID_SHADOW_PIECES; k++) {
                bool ro = read_only >> k & 1;
                struct ram_slot *piece = &s[1 + k];
                if (piece->read_only == ro)
                        continue;
                /* KVM changes a slot's read-only flag only by deleting it;
                 * a stopped partition's slots are gone: only the mode. */
                if (!p->slots_removed)
                        r = set_slot(p, piece, 0, 0);
                if (r == 0) {
                        piece->read_only = ro;
                        p->shadow_ro = (p->shadow_ro & ~(1u << k)) | (uint32_t)ro << k;
                        if (!p->slots_removed)
                                r = set_slot(p, piece, piece->size, p->slot_flags);
                        /* The deleted slot's dirty log went with it. */
                        vid_mark_dirty(p, piece->gpa, piece->size);
                }
        }
        pthread_mutex_unlock(&p->slots_lock);
        return r;
}

/* Why a stopped partition drops its slots at once: KVM frees a replaced
 * I/O bus with call_srcu() (the in-kernel PIC and IOAPIC register theirs
 * at KVM_CREATE_IRQCHIP, each ioeventfd its own), and kvm_destroy_vm()
 * waits for those callbacks (srcu_barrier). Their grace period runs at
 * the normal, jiffy-paced speed: a VM closed within ~15 ms of its
 * creation waited 8-10 ms in close() on the PVM host (docs/vmwp.md,
 * "Performance"). Deleting a memory slot waits for an expedited grace
 * period, which ends the pending ones early. The VP threads hold the
 * memory-slot ioctl in their seccomp policy (the PVM trampoline's slot);
 * the main thread, which destroys the partition, does not, and keeps it
 * that way. */
void vid_memory_remove_slots(struct vid_partition *p) {
        pthread_mutex_lock(&p->slots_lock);
        struct ram_slot s[VID_RAM_SLOTS_MAX];
        size_t n = vid_ram_slots(p, s);
        for (size_t i = 0; i < n; i++)
                (void)set_slot(p, &s[i], 0, 0);
        p->slots_removed = true;
        pthread_mutex_unlock(&p->slots_lock);
        vid_devmem_remove_all(p);
        vid_firmware_remove_slot(p);
}

void vid_memory_free(struct vid_partition *p) {
        if (p->ram)
                munmap(p->ram, p->ram_bytes);
        p->ram = NULL;
        p->memfd = safe_close(p->memfd);
}

size_t vid_ram_regions(const struct vid_partition *p, struct vid_ram_region out[2]) {
        for (size_t i = 0; i < p->n_boot_regions; i++)
                out[i] = (struct vid_ram_region){ .gpa = p->regions[i].gpa, .size = p->regions[i].size };
        return p->n_boot_regions;
}

int vid_ram_window(const struct vid_partition *p, struct vid_ram_region *out) {
        if (p->n_regions == p->n_boot_regions)
                return -ENOENT;
        const struct ram_region *w = &p->regions[p->n_boot_regions];
        *out = (struct vid_ram_region){ .gpa = w->gpa, .size = w->size };
        return 0;
}

uint64_t vid_ram_size(const struct vid_partition *p) {
        return p->ram_bytes;
}

/* The region holding all of [gpa, gpa+len), or NULL. len 0 is treated as 1. */
static const struct ram_region *find_region(const struct vid_partition *p, uint64_t gpa, uint64_t len) {
        uint64_t end;
        if (ADD_OVERFLOW(gpa, len ? len : 1, &end))
                return NULL;
        for (size_t i = 0; i < p->n_regions; i++) {
                const struct ram_region *r = &p->regions[i];
                if (gpa >= r->gpa && end <= r->gpa + r->size)
                        return r;
        }
        return NULL;
}

int gm_map(struct vid_partition *p, uint64_t gpa, size_t len, void **out) {
        const struct ram_region *r = find_region(p, gpa, len);
        if (!r)
                return -EFAULT;
        *out = r->host + (gpa - r->gpa);
        return 0;
}

void vid_ram_set_guard(struct vid_partition *p, void (*guard)(void *opaque, uint64_t offset, uint64_t len),
                       void *opaque) {
        p->ram_guard = guard;
        p->ram_guard_opaque = opaque;
}

int vid_ram_discard(struct vid_partition *p, uint64_t gpa, uint64_t len) {
        const struct ram_region *r = find_region(p, gpa, len);
        if (!r || !IS_ALIGNED(gpa, VID_PAGE_SIZE) || !IS_ALIGNED(len, VID_PAGE_SIZE))
                return -EFAULT;
        /* A page still on its way (post-copy) would land in the hole later. */
        if (p->ram_guard)
                p->ram_guard(p->ram_guard_opaque, r->memfd_offset + (gpa - r->gpa), len);
        /* KVM's MMU notifier drops its mappings of the punched pages; the
         * guest's next touch faults in a zero page. */
        if (fallocate(p->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      (off_t)(r->memfd_offset + (gpa - r->gpa)), (off_t)len) < 0)
                return -errno;
        vid_mark_dirty(p, gpa, len); /* now zeros: a migration sends them so */
        return 0;
}

int gm_fd_offset(struct vid_partition *p, uint64_t gpa, size_t len, int *fd, uint64_t *offset) {
        const struct ram_region *r = find_region(p, gpa, len);
        if (!r)
                return -EFAULT;
        *fd = p->memfd;
        *offset = r->memfd_offset + (gpa - r->gpa);
        return 0;
}

/* Copy in pieces so that a range spanning both regions is handled, and a
 * range touching the hole fails without copying anything. */
static int gm_copy(struct vid_partition *p, uint64_t gpa, void *buf, size_t len, bool write) {
        uint64_t end;
        if (ADD_OVERFLOW(gpa, (uint64_t)len, &end))
                return -EFAULT;
        /* Validate first: a failed access must not leave a partial copy. */
        for (uint64_t a = gpa; a < end;) {
                const struct ram_region *r = find_region(p, a, 1);
                if (!r)
                        return -EFAULT;
                a = MIN(end, r->gpa + r->size);
        }
        for (uint64_t a = gpa; a < end;) {
                const struct ram_region *r = find_region(p, a, 1);
                size_t n = (size_t)(MIN(end, r->gpa + r->size) - a);
                uint8_t *h = r->host + (a - r->gpa);
                if (write)
                        memcpy(h, (const uint8_t *)buf + (a - gpa), n);
                else
                        memcpy((uint8_t *)buf + (a - gpa), h, n);
                a += n;
        }
        return 0;
}

int gm_read(struct vid_partition *p, uint64_t gpa, void *buf, size_t len) {
        return gm_copy(p, gpa, buf, len, false);
}

int gm_write(struct vid_partition *p, uint64_t gpa, const void *buf, size_t len) {
        int r = gm_copy(p, gpa, (void *)buf, len, true);
        if (r == 0)
                vid_mark_dirty(p, gpa, len);
        return r;
}

/* Map pfns[from..to) at dst, merging runs of pages adjacent in the memfd. */
static int map_run(struct vid_partition *p, uint8_t *dst, const uint64_t *pfns, size_t from, size_t to) {
        size_t i = from;
        while (i < to) {
                uint64_t off0;
                int fd;
                if (gm_fd_offset(p, pfns[i] << VID_PAGE_SHIFT, VID_PAGE_SIZE, &fd, &off0) < 0)
                        return -EFAULT;
                size_t j = i + 1;
                for (; j < to; j++) {
                        uint64_t off;
                        if (gm_fd_offset(p, pfns[j] << VID_PAGE_SHIFT, VID_PAGE_SIZE, &fd, &off) < 0)
                                return -EFAULT;
                        if (off != off0 + (j - i) * VID_PAGE_SIZE)
                                break;
                }
                /* This mapping is not the one a post-copy pager watches. */
                if (p->ram_guard)
                        p->ram_guard(p->ram_guard_opaque, off0, (j - i) * VID_PAGE_SIZE);
                void *m = mmap(dst + (i - from) * VID_PAGE_SIZE, (j - i) * VID_PAGE_SIZE, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_FIXED, p->memfd, (off_t)off0);
                if (m == MAP_FAILED)
                        return -errno;
                i = j;
        }
        return 0;
}

int vid_map_pages(struct vid_partition *p, const uint64_t *pfns, size_t n_pages, unsigned flags, size_t wrap_from,
                  struct vid_pages *out) {
        if (n_pages == 0 || n_pages > (1u << 20))
                return -EINVAL;
        if ((flags & VID_PAGES_WRAP) && wrap_from >= n_pages)
                return -EINVAL;
        for (size_t i = 0; i < n_pages; i++)
                if (pfns[i] > (UINT64_MAX >> VID_PAGE_SHIFT) || !find_region(p, pfns[i] << VID_PAGE_SHIFT, VID_PAGE_SIZE))
                        return -EFAULT;

        size_t total = n_pages + ((flags & VID_PAGES_WRAP) ? n_pages - wrap_from : 0);
        size_t len = total * VID_PAGE_SIZE;
        /* Reserve the whole range first so the fixed mappings cannot clobber
         * anything else in our address space. */
        uint8_t *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED)
                return -errno;
        int r = map_run(p, base, pfns, 0, n_pages);
        if (r == 0 && (flags & VID_PAGES_WRAP))
                r = map_run(p, base + n_pages * VID_PAGE_SIZE, pfns, wrap_from, n_pages);
        if (r < 0) {
                munmap(base, len);
                return r;
        }
        *out = (struct vid_pages){ .base = base, .n_pages = n_pages, .map_len = len };
        return 0;
}

void vid_unmap_pages(struct vid_pages *m) {
        if (m && m->base) {
                munmap(m->base, m->map_len);
                m->base = NULL;
        }
}
