// SPDX-License-Identifier: MIT
/* The emulated i8042 end to end: the emu_kbd tiny guest probes the
 * controller and the keyboard as Linux does, then takes IRQ 1 for the
 * characters the test types into vmwp's --keyboard socket (arriving as
 * translated set-1 scan codes), and resets the machine through the
 * controller's pulse command, which ends vmwp with the reset status. */
#include "test-emu-harness.h"
#include "tests/guests/tinyguest.h"

TINY_GUEST(emu_kbd_elf);

/* Waits until the serial file holds `want`. */
static bool serial_has(const char *path, const char *want, char *buf, size_t cap) {
        for (int i = 0; i < 3000; i++) {
                test_read_file(path, buf, cap);
                if (strstr(buf, want))
                        return true;
                usleep(10000);
        }
        return false;
}

TEST(keyboard_bytes_arrive_and_reset_through_the_controller) {
        char out[600], spec[700], kspec[700], sock[600], err[8192], serial[4096];
        const char *cfg = emu_setup(tg_emu_kbd_elf, tg_emu_kbd_elf_len, NULL);
        snprintf(out, sizeof out, "%s/serial.out", emu_dir);
        snprintf(spec, sizeof spec, "file:%s", out);
        snprintf(sock, sizeof sock, "%s/kbd.sock", emu_dir);
        snprintf(kspec, sizeof kspec, "socket:%s", sock);
        const char *args[] = { "--config", cfg, "--serial", spec, "--keyboard", kspec, NULL };
        struct vmwp_child c = emu_spawn(args);
        int fd = unix_connect_retry(sock);
        ASSERT_GE(fd, 0);
        bool ready = serial_has(out, "kbd ready\n", serial, sizeof serial);
        if (!ready)
                fprintf(stderr, "serial:\n%s\n", serial);
        ASSERT_TRUE(ready);
        ASSERT_NOT_NULL(strstr(serial, "controller ok\n"));
        ASSERT_NOT_NULL(strstr(serial, "keyboard ok\n"));
        /* 'a', Shift+'b', '.': make and break codes, set 2 translated to set 1. */
        ASSERT_EQ(write(fd, "aB.", 3), 3);
        int status = vmwp_child_finish(&c, 60, err, sizeof err);
        test_read_file(out, serial, sizeof serial);
        fputs(serial, stdout);
        ASSERT_EQ(status, 10);
        ASSERT_NOT_NULL(strstr(err, "vmwp: emu: reset requested (keyboard controller reset (0xFE to port 0x64))"));
        ASSERT_NOT_NULL(strstr(serial, "scan 1e9e2a30b0aa34b4\n"));
        emu_cost(serial, "kbc", 1000);
        ASSERT_NULL(strstr(serial, "FAIL"));
        close(fd);
}

TEST(keyboard_option_refuses_other_kinds) {
        char err[4096];
        const char *cfg = emu_setup(tg_emu_kbd_elf, tg_emu_kbd_elf_len, NULL);
        const char *args[] = { "--config", cfg, "--serial", "none", "--keyboard", "pty", NULL };
        struct vmwp_child c = emu_spawn(args);
        ASSERT_EQ(vmwp_child_finish(&c, 30, err, sizeof err), 2);
        ASSERT_NOT_NULL(strstr(err, "--keyboard: invalid value \"pty\""));
}

EMU_TEST_MAIN()
