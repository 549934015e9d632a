// SPDX-License-Identifier: MIT
/* The host bridge's PAM0-6 (emu/pci.h, piix.c; docs/firmware.md
 * "Shadowing"): which pieces of 0xC0000-0xFFFFF they leave read-only
 * (piix_pam_read_only, a pure function), and the hook that hands that
 * mask on (vmwp gives it to vid_firmware_set_shadow_ro): on a guest's
 * configuration write that touches PAM0-6, with what the registers say
 * after it, not on one that does not, and on a restore. SeaBIOS's own
 * writes (src/fw/shadow.c) are the cases: its POST opens everything
 * (PAM1-6 0x33, PAM0 0x30), then protects the option ROMs' area up to
 * its upper memory's end and the BIOS segment (0x11, a last 0x31 where
 * that end falls in the lower half, PAM0 0x10). */
#include "common/macro.h"
#include "common/test.h"
#include "emu/pci.h"
#include "emu/state.h"

#define HOST_DEVFN 0x00u /* 00:00.0 */
#define ALL ((1u << 13) - 1u)

static uint32_t last = 0xffffffffu;
static unsigned calls;

static void hook(void *opaque, uint32_t read_only) {
        (void)opaque;
        last = read_only;
        calls++;
}

static void cfg_write(struct pci_bus *b, unsigned off, unsigned len, uint32_t v) {
        pci_conf1_write(b, 0xcf8, 4, 0x80000000u | HOST_DEVFN << 8 | (off & 0xfc));
        pci_conf1_write(b, (uint16_t)(0xcfc + (off & 3)), len, v);
}

TEST(the_mask_from_the_registers) {
        uint8_t pam[PIIX_PAM_COUNT] = { 0 };
        /* Reset: every piece to the ROM, so read-only. */
        ASSERT_EQ(piix_pam_read_only(pam), ALL);
        /* SeaBIOS's make_bios_writable: everything read/write. */
        pam[0] = 0x30;
        for (unsigned n = 1; n < PIIX_PAM_COUNT; n++)
                pam[n] = 0x33;
        ASSERT_EQ(piix_pam_read_only(pam), 0u);
        /* make_bios_readonly with its upper memory ending in 0xE8000-
         * 0xEBFFF: 0x11 up to 0xE7FFF, 0x31 for 0xE8000-0xEFFFF (the lower
         * half read-only, the upper writable), PAM0 0x10. */
        pam[0] = 0x10;
        for (unsigned n = 1; n < 6; n++)
                pam[n] = 0x11;
        pam[6] = 0x31;
        ASSERT_EQ(piix_pam_read_only(pam), ALL & ~(1u << 11));
        /* Write-only (10) writes; 01 and 00 drop writes; each half of a
         * register is its own piece; PAM0's low half is reserved. */
        memset(pam, 0, sizeof pam);
        pam[0] = 0x2f;
        pam[1] = 0x02; /* 0xC0000 write-only, 0xC4000 to the ROM */
        pam[3] = 0x13; /* 0xD0000 read/write, 0xD4000 read-only */
        ASSERT_EQ(piix_pam_read_only(pam), ALL & ~(PIIX_SHADOW_BIOS_SEG | 1u << 0 | 1u << 4));
        ASSERT_EQ(PIIX_SHADOW_BIOS_SEG, 1u << 12);
}

TEST(the_hook_follows_the_guest_and_a_restore) {
        struct piix x;
        ASSERT_OK(piix_init(&x, NULL, NULL, NULL));
        piix_set_shadow_hook(&x, hook, NULL);
        /* SeaBIOS's two double words, 58h-5Bh then 5Ch-5Fh. */
        cfg_write(&x.bus, 0x58, 4, 0x33333000u);
        ASSERT_EQ(calls, 1u);
        ASSERT_EQ(last, ALL & ~(PIIX_SHADOW_BIOS_SEG | 0xfu)); /* PAM0-2 open */
        cfg_write(&x.bus, 0x5c, 4, 0x33333333u);
        ASSERT_EQ(calls, 2u);
        ASSERT_EQ(last, 0u);
        /* A byte write to PAM6 alone. */
        cfg_write(&x.bus, 0x5f, 1, 0x31);
        ASSERT_EQ(calls, 3u);
        ASSERT_EQ(last, 1u << 10);
        /* Not PAM: no call (57h, 60h). */
        cfg_write(&x.bus, 0x54, 4, 0x12345678u);
        cfg_write(&x.bus, 0x60, 4, 0x0u);
        ASSERT_EQ(calls, 3u);
        /* A word across 58h-59h touches PAM0. */
        cfg_write(&x.bus, 0x58, 2, 0x1000u);
        ASSERT_EQ(calls, 4u);
        ASSERT_EQ(last, PIIX_SHADOW_BIOS_SEG | 1u << 10);

        /* The state as saved, into a fresh bus: the hook says it again. */
        static struct piix_state st;
        piix_get_state(&x, &st);
        piix_destroy(&x);
        struct piix y;
        ASSERT_OK(piix_init(&y, NULL, NULL, NULL));
        piix_set_shadow_hook(&y, hook, NULL);
        last = 0xffffffffu;
        char err[256];
        ASSERT_OK(piix_set_state(&y, &st, err, sizeof err));
        ASSERT_EQ(calls, 5u);
        ASSERT_EQ(last, PIIX_SHADOW_BIOS_SEG | 1u << 10);
        piix_destroy(&y);
}

TEST_MAIN()
