// SPDX-License-Identifier: MIT
/* A firmware VM's boot status from SeaBIOS's log (vmwp/vm-firmware.c,
 * docs/firmware.md "Nothing bootable"): the lines of its debug port as
 * the emulated port (emu/debugcon.c) cuts them, SeaBIOS's own words
 * (src/boot.c boot_fail(), call_boot_entry()), and what the guest writes
 * to the port after a boot sector got control changes nothing. */
#include <string.h>

#include "common/test.h"
#include "emu/debugcon.h"
#include "vmwp/vm.h"

static enum vmwp_boot_status st;

static void line(void *opaque, const char *s) {
        st = vmwp_firmware_boot_line(st, s);
}

static enum vmwp_boot_status feed(const char *log) {
        struct debugcon d;
        st = VMWP_BOOT_FIRMWARE;
        debugcon_init(&d, line, NULL);
        while (*log)
                debugcon_put(&d, (uint8_t)*log++);
        debugcon_destroy(&d);
        return st;
}

TEST(nothing_bootable_after_each_try_failed) {
        ASSERT_EQ(feed("SeaBIOS (version 1.16.2-debian-1.16.2-1)\n"
                       "Searching bootorder for: /pci@i0cf8/*@1,1/drive@0/disk@0\n"
                       "Booting from DVD/CD...\n"
                       "Boot failed: Could not read from CDROM (code 0003)\n"
                       "Booting from Hard Disk...\n"
                       "Boot failed: not a bootable disk\n\n"
                       "No bootable device.\n"),
                  VMWP_BOOT_NOTHING_BOOTABLE);
        /* With a retry time (another firmware configuration) too. */
        ASSERT_EQ(feed("No bootable device.  Retrying in 60 seconds.\r\n"), VMWP_BOOT_NOTHING_BOOTABLE);
}

TEST(a_boot_sector_got_control) {
        ASSERT_EQ(feed("Booting from Hard Disk...\nBooting from 0000:7c00\n"), VMWP_BOOT_LOADER);
        /* Then the port is the guest's: its words change nothing. */
        ASSERT_EQ(feed("Booting from 0000:7c00\nNo bootable device.\n"), VMWP_BOOT_LOADER);
        ASSERT_EQ(feed("Booting from 07c0:0000\r\n"), VMWP_BOOT_LOADER);
}

TEST(other_lines_leave_it_in_the_firmware) {
        ASSERT_EQ(feed("Booting from Hard Disk...\nBooting from DVD/CD...\n"), VMWP_BOOT_FIRMWARE);
        ASSERT_EQ(feed("Booting from 0000:7c0\nBooting from 0000:7c00x\nBooting from 00g0:7c00\n"), VMWP_BOOT_FIRMWARE);
        ASSERT_EQ(feed("No bootable device\nNo bootable device. \n  No bootable device.\n"), VMWP_BOOT_FIRMWARE);
        ASSERT_EQ(feed("No bootable device."), VMWP_BOOT_FIRMWARE); /* no end of line yet */
        /* Once nothing was bootable, a later jump does not undo it. */
        ASSERT_EQ(feed("No bootable device.\nBooting from 0000:7c00\n"), VMWP_BOOT_NOTHING_BOOTABLE);
}

TEST(the_protocol_words) {
        ASSERT_STREQ(vmwp_boot_status_name(VMWP_BOOT_FIRMWARE), "firmware");
        ASSERT_STREQ(vmwp_boot_status_name(VMWP_BOOT_LOADER), "booted");
        ASSERT_STREQ(vmwp_boot_status_name(VMWP_BOOT_NOTHING_BOOTABLE), "no-bootable-device");
}

int main(int argc, char **argv) {
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
