// SPDX-License-Identifier: MIT
/* Where a guest may place device memory (its VRAM), the checks that need
 * no /dev/kvm (vid_gpa_platform_check, vid_cpuid_phys_bits; the whole of
 * vid_devmem_map is tests/component/test-vid.c's): the places issue 60
 * found acknowledged (the LAPIC, IOAPIC and HPET pages, the firmware's
 * top of 4 GiB, past the address width) refused, the VMBus window's
 * places kept. */
#include "common/macro.h"
#include "common/test.h"
#include "vid/vid.h"

#define VRAM (16ull << 20)

TEST(the_platforms_fixed_ranges_are_refused) {
        static const uint64_t refused[] = {
                0xfee00000, /* LAPIC */
                0xfec00000, /* IOAPIC */
                0xfed00000, /* HPET */
                0xfff00000, /* firmware */
                0xff000000, 0xfffff000, 0xfeeff000, 0xfecff000,
        };
        for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
                ASSERT_ERROR(vid_gpa_platform_check(refused[i], 4096, 46), EEXIST);
        /* a VRAM that starts below and runs into them */
        ASSERT_ERROR(vid_gpa_platform_check(0xfec00000 - VRAM + 4096, VRAM, 46), EEXIST);
        ASSERT_ERROR(vid_gpa_platform_check(0xfe000000, VRAM * 2, 46), EEXIST);
        /* the VMBus MMIO window and the gaps between the ranges */
        ASSERT_OK(vid_gpa_platform_check(0xe0000000, VRAM, 46));
        ASSERT_OK(vid_gpa_platform_check(0xfec00000 - VRAM, VRAM, 46));
        ASSERT_OK(vid_gpa_platform_check(0xfef00000, 0x100000, 46));
        ASSERT_OK(vid_gpa_platform_check(0x100000000ull, VRAM, 46)); /* above 4 GiB */
}

TEST(a_range_past_the_guests_address_width_is_refused) {
        ASSERT_ERROR(vid_gpa_platform_check(0x400000000000ull, VRAM, 46), ERANGE);
        ASSERT_ERROR(vid_gpa_platform_check(0xfffffffff000ull, VRAM, 48), ERANGE);
        ASSERT_ERROR(vid_gpa_platform_check(0x3ffffffff000ull, VRAM, 46), ERANGE); /* runs past the end */
        ASSERT_OK(vid_gpa_platform_check(0x400000000000ull - VRAM, VRAM, 46));   /* ends at it */
        ASSERT_OK(vid_gpa_platform_check(0x400000000000ull, VRAM, 52));
        ASSERT_ERROR(vid_gpa_platform_check(0x1000000000ull - 4096, VRAM, 36), ERANGE);
        ASSERT_ERROR(vid_gpa_platform_check(0xfffffffffffff000ull, VRAM, 64), EINVAL); /* wraps */
        ASSERT_ERROR(vid_gpa_platform_check(0xe0000000, 0, 46), EINVAL);
}

TEST(the_address_width_is_what_the_guests_cpuid_reports) {
        struct vid_cpuid_entry e[3] = {
                { .function = 0, .eax = 0xd },
                { .function = 0x80000000u, .eax = 0x80000008u },
                { .function = 0x80000008u, .eax = 0x3027 }, /* 39 bits physical, 48 virtual */
        };
        ASSERT_EQ(vid_cpuid_phys_bits(e, 3), 39u);
        e[2].eax = 0x302e;
        ASSERT_EQ(vid_cpuid_phys_bits(e, 3), 46u);
        ASSERT_EQ(vid_cpuid_phys_bits(e, 2), 36u); /* no leaf: the architecture's default */
        ASSERT_EQ(vid_cpuid_phys_bits(NULL, 0), 36u);
        e[2].eax = 0x3000; /* 0: as good as none */
        ASSERT_EQ(vid_cpuid_phys_bits(e, 3), 36u);
}

TEST_MAIN();
