// SPDX-License-Identifier: MIT
/* Boot firmware (vid.h, "firmware"): a BIOS image as a PC maps it. The
 * whole image is a read-only KVM slot ending at 4 GiB, where the reset
 * vector (0xfffffff0) is; its last 128 KiB also appear at 0xE0000-0xFFFFF,
 * where real-mode code runs (QEMU's x86_bios_rom_init() does the same,
 * firmware-facts.md §1.2). That low copy is plain guest RAM loaded with
 * those bytes: SeaBIOS unlocks it through the host bridge's PAM registers
 * and copies itself there again from the high copy (make_bios_writable,
 * src/fw/shadow.c), which lands the same bytes on the same RAM. Each
 * piece of 0xC0000-0xFFFFF that a PAM register switches (16 KiB each from
 * 0xC0000, then the BIOS segment 0xF0000-0xFFFFF) has a KVM slot of its
 * own, which the host bridge's PAM registers make read-only
 * (make_bios_readonly) or writable again (vid_firmware_set_shadow_ro): a
 * guest write to one while read-only exits as MMIO, which nothing
 * decodes, and is dropped, as on a PC. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "common/macro.h"
#include "internal.h"

#define LOW_ALIAS_END 0x100000ull
#define LOW_ALIAS_MAX (128u * 1024u)

static int set_slot(struct vid_partition *p, uint64_t len, void *host) {
        struct kvm_userspace_memory_region m = {
                .slot = VID_FIRMWARE_SLOT,
                .flags = len ? KVM_MEM_READONLY : 0,
                .guest_phys_addr = VID_FIRMWARE_END - (len ? len : p->firmware_len),
                .memory_size = len, /* 0: delete */
                .userspace_addr = (uint64_t)(uintptr_t)host,
        };
        return ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &m) < 0 ? -errno : 0;
}

int vid_firmware_map(struct vid_partition *p, const void *image, size_t len, bool low_copy) {
        if (p->firmware)
                return -EEXIST;
        if (len < VID_PAGE_SIZE || len > VID_FIRMWARE_MAX || !IS_ALIGNED(len, VID_PAGE_SIZE))
                return -EINVAL;
        /* Reads of the image come from the slot; a write exits as MMIO
         * and nothing decodes it (a ROM ignores writes). */
        if (ioctl(p->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
                return -ENOTSUP;
        size_t low = MIN(len, (size_t)LOW_ALIAS_MAX);
        int r = low_copy ? gm_write(p, LOW_ALIAS_END - low, (const uint8_t *)image + len - low, low) : 0;
        if (r < 0)
                return r;
        void *copy = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (copy == MAP_FAILED)
                return -errno;
        memcpy(copy, image, len);
        (void)mprotect(copy, len, PROT_READ);
        /* The shadowed pieces' slots of their own (PAM), then the image's; a
         * partition whose firmware failed to map is not started. */
        if ((r = vid_memory_split_shadow(p)) < 0 || (r = set_slot(p, len, copy)) < 0) {
                munmap(copy, len);
                return r;
        }
        p->firmware = copy;
        p->firmware_len = len;
        return 0;
}

int vid_firmware_set_shadow_ro(struct vid_partition *p, uint32_t read_only) {
        return vid_memory_set_shadow_ro(p, read_only);
}

void vid_firmware_remove_slot(struct vid_partition *p) {
        if (p->firmware)
                (void)set_slot(p, 0, NULL);
}

void vid_firmware_free(struct vid_partition *p) {
        if (p->firmware)
                munmap(p->firmware, p->firmware_len);
        p->firmware = NULL;
        p->firmware_len = 0;
}
