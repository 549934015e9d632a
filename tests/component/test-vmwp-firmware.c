// SPDX-License-Identifier: MIT
/* Boot kind firmware end to end (docs/firmware.md): Debian's SeaBIOS from
 * the reset vector boots an IDE disk's MBR, whose 16-bit code talks on
 * COM1; the firmware's screen reaches COM1 too (sercon) and its log the
 * worker's; the BIOS segment and the option ROMs' area are read-only to
 * it (PAM0-6), after a restore too; a VM saved in the boot loader
 * resumes in a new worker (PIT,
 * fw_cfg, the BIOS's RAM and the disk's IDE channel on VMBus in the
 * state); nothing bootable says so, on the console and to vmms (the
 * "firmware" event, the "status" reply's boot_status; SIGUSR1's counters
 * count the BIOS's IDE reads); a bad firmware file is a clear error. */
#include <fcntl.h>
#include <signal.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "common/test.h"
#include "tests/lib/serial-socket.h"
#include "tests/lib/test-files.h"
#include "tests/lib/vmwp-child.h"

#define SEABIOS "/usr/share/seabios/bios-256k.bin"

static char dir[] = "/tmp/vmwp-fw-XXXXXX";
static char vmwp_bin[1024];

/* An MBR (loaded at 0000:7C00 in real mode) that tries to change a byte of
 * the BIOS segment (the reset vector's at F000:FFF0) and one of the option
 * ROMs' area (C000:0000), putting each back if it took, and says on COM1
 * whether it could ("mbr: f-seg ro" or "rw", "mbr: c-seg ro" or "rw":
 * SeaBIOS leaves both read-only through PAM0 and PAM1, as on a PC), then
 * prints "mbr: echo" and echoes what comes in (polling the line status
 * register), checks again at a '?' and powers off through PM1a_CNT (S5)
 * after a '.'. Assembled (GNU as, .code16; ld -Ttext 0x7c00 --oformat
 * binary) from:
 *   _start: cli; xor ax,ax; mov ds,ax; mov ax,0xf000; mov es,ax
 *      mov di,0xfff0; mov si,fro; call probe
 *      mov ax,0xc000; mov es,ax; xor di,di; mov si,cro; call probe
 *      mov si,echo; call print
 *   3: mov dx,0x3fd; 4: in al,dx; test al,1; jz 4b
 *      mov dx,0x3f8; in al,dx; cmp al,'?'; je _start
 *      out dx,al; cmp al,'.'; jne 3b
 *      mov dx,0x604; mov ax,(5<<10)|0x2000; out dx,ax
 *   5: hlt; jmp 5b
 *   probe: mov bl,[es:di]; mov al,bl; not al; mov [es:di],al
 *      mov al,[es:di]; cmp al,bl; je print; mov [es:di],bl; add si,16
 *   print: mov dx,0x3f8; 6: lodsb; test al,al; jz 7f; out dx,al; jmp 6b; 7: ret
 *   fro: .asciz "mbr: f-seg ro\r\n"; .asciz "mbr: f-seg rw\r\n"
 *   cro: .asciz "mbr: c-seg ro\r\n"; .asciz "mbr: c-seg rw\r\n"
 *   echo: .asciz "mbr: echo\r\n"; then .org 510; .word 0xaa55 */
static const uint8_t echo_mbr[] = {
        0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xb8, 0x00, 0xf0, 0x8e, 0xc0, 0xbf, 0xf0, 0xff,
        0xbe, 0x68, 0x7c, 0xe8, 0x32, 0x00, 0xb8, 0x00, 0xc0, 0x8e, 0xc0, 0x31, 0xff,
        0xbe, 0x88, 0x7c, 0xe8, 0x25, 0x00, 0xbe, 0xa8, 0x7c, 0xe8, 0x36, 0x00, 0xba,
        0xfd, 0x03, 0xec, 0xa8, 0x01, 0x74, 0xfb, 0xba, 0xf8, 0x03, 0xec, 0x3c, 0x3f,
        0x74, 0xca, 0xee, 0x3c, 0x2e, 0x75, 0xeb, 0xba, 0x04, 0x06, 0xb8, 0x00, 0x34,
        0xef, 0xf4, 0xeb, 0xfd, 0x26, 0x8a, 0x1d, 0x88, 0xd8, 0xf6, 0xd0, 0x26, 0x88,
        0x05, 0x26, 0x8a, 0x05, 0x38, 0xd8, 0x74, 0x06, 0x26, 0x88, 0x1d, 0x83, 0xc6,
        0x10, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xc3,
        0x6d, 0x62, 0x72, 0x3a, 0x20, 0x66, 0x2d, 0x73, 0x65, 0x67, 0x20, 0x72, 0x6f,
        0x0d, 0x0a, 0x00, 0x6d, 0x62, 0x72, 0x3a, 0x20, 0x66, 0x2d, 0x73, 0x65, 0x67,
        0x20, 0x72, 0x77, 0x0d, 0x0a, 0x00, 0x6d, 0x62, 0x72, 0x3a, 0x20, 0x63, 0x2d,
        0x73, 0x65, 0x67, 0x20, 0x72, 0x6f, 0x0d, 0x0a, 0x00, 0x6d, 0x62, 0x72, 0x3a,
        0x20, 0x63, 0x2d, 0x73, 0x65, 0x67, 0x20, 0x72, 0x77, 0x0d, 0x0a, 0x00, 0x6d,
        0x62, 0x72, 0x3a, 0x20, 0x65, 0x63, 0x68, 0x6f, 0x0d, 0x0a, 0x00,
};

/* A raw disk of 1 MiB, with the echo MBR or with nothing bootable. */
static int make_disk(const char *path, bool bootable) {
        static uint8_t sector[512];
        memset(sector, 0, sizeof sector);
        if (bootable) {
                memcpy(sector, echo_mbr, sizeof echo_mbr);
                sector[510] = 0x55;
                sector[511] = 0xaa;
        }
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(pwrite(fd, sector, sizeof sector, 0), (ssize_t)sizeof sector);
        ASSERT_OK(ftruncate(fd, 1 << 20));
        return fd;
}

/* iso: NULL, or a DVD drive (secondary master) with it, tried first. */
static void config(char *json, size_t len, const char *disk, const char *firmware, const char *iso) {
        char dvd[700] = "";
        if (iso)
                snprintf(dvd, sizeof dvd, ",\"dvd_drives\":[{\"channel\":1,\"position\":0,\"path\":\"%s\"}]", iso);
        snprintf(json, len,
                 "{\"name\":\"fw\",\"memory_mib\":64,\"vcpus\":2,\"boot\":{\"kind\":\"firmware\",\"firmware\":\"%s\","
                 "\"order\":[%s\"disk\"]},\"disks\":[{\"path\":\"%s\",\"bus\":\"ide\",\"lun\":0,\"format\":\"raw\"}]%s}",
                 firmware, iso ? "\"dvd\"," : "", disk, dvd);
}

static struct vmwp_child start_with(int sv[2], const char *disk, bool bootable, const char *serial, int state_fd,
                                    const char *iso) {
        char json[2048];
        const char *args[] = { "--control-fd", "3", "--serial", serial, NULL };
        int fd = state_fd >= 0 ? open(disk, O_RDWR | O_CLOEXEC) : make_disk(disk, bootable);
        ASSERT_GE(fd, 0);
        config(json, sizeof json, disk, SEABIOS, iso);
        struct vmwp_child c = vmwp_child_start_controlled(vmwp_bin, args, json, &fd, 1, state_fd, sv, NULL);
        close(fd);
        return c;
}

static struct vmwp_child start(int sv[2], const char *disk, bool bootable, const char *serial, int state_fd) {
        return start_with(sv, disk, bootable, serial, state_fd, NULL);
}

/* The next "firmware" event (others before it are passed over). */
static struct json_object *firmware_event(int sock) {
        struct json_object *m = vmwp_ctl_recv(sock);
        while (m && strcmp(vmwp_ctl_str(m, "event"), "firmware") != 0 && strcmp(vmwp_ctl_str(m, "event"), "exit") != 0) {
                json_object_put(m);
                m = vmwp_ctl_recv(sock);
        }
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "firmware");
        return m;
}

static void expect_exit(int sock, struct vmwp_child *c, int status, const char *reason, char *err, size_t cap) {
        struct json_object *m = vmwp_ctl_recv(sock);
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "exit");
        ASSERT_EQ(vmwp_ctl_int(m, "status"), status);
        if (!strstr(vmwp_ctl_str(m, "reason"), reason))
                ASSERT_STREQ(vmwp_ctl_str(m, "reason"), reason);
        json_object_put(m);
        ASSERT_EQ(vmwp_child_finish(c, 30, err, cap), status);
        close(sock);
}

TEST(an_ide_disk_boots_through_seabios_and_resumes_after_a_save) {
        char buf[8192], sock[600], serial[700], disk[600], state[600], err[65536];
        snprintf(sock, sizeof sock, "%s/con.sock", dir);
        snprintf(serial, sizeof serial, "socket:%s", sock);
        snprintf(disk, sizeof disk, "%s/boot.img", dir);
        snprintf(state, sizeof state, "%s/fw.vmrs", dir);
        int sv[2], progress;
        struct vmwp_child c = start(sv, disk, true, serial, -1);
        int con = unix_connect_retry(sock);
        ASSERT_GE(con, 0);
        /* The firmware's screen on COM1 (etc/sercon-port), then the MBR. */
        if (!serial_read_until(con, "mbr: echo", buf, sizeof buf, 60000))
                ASSERT_STREQ(buf, "SeaBIOS ... mbr: echo");
        ASSERT_NOT_NULL(strstr(buf, "SeaBIOS (version"));
        ASSERT_NOT_NULL(strstr(buf, "Booting from Hard Disk"));
        /* The BIOS segment and the option ROMs' area are read-only once
         * SeaBIOS booted (PAM0, PAM1). */
        if (!strstr(buf, "mbr: f-seg ro") || !strstr(buf, "mbr: c-seg ro"))
                ASSERT_STREQ(buf, "... mbr: f-seg ro ... mbr: c-seg ro ...");
        ASSERT_EQ(write(con, "ab", 2), 2);
        ASSERT_TRUE(serial_read_until(con, "ab", buf, sizeof buf, 20000));
        /* SeaBIOS jumped into the MBR ("Booting from 0000:7c00"). */
        struct json_object *st = vmwp_ctl_reply(sv[0], "{\"op\":\"status\",\"id\":7}");
        ASSERT_STREQ(vmwp_ctl_str(st, "boot_status"), "booted");
        json_object_put(st);

        /* Saved while the 16-bit code polls COM1. */
        int fd = open(state, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        struct json_object *m = vmwp_ctl_save(sv[0], fd, &progress);
        if (strcmp(vmwp_ctl_str(m, "ok"), "true") != 0)
                ASSERT_STREQ(vmwp_ctl_str(m, "error"), "");
        json_object_put(m);
        close(fd);
        /* The IDE disk is on VMBus too (docs/storvsp.md "IDE accelerator
         * channels"): the VM has no SCSI controller, so the storvsp row the
         * save quiesced is its IDE channel's. */
        m = vmwp_ctl_request(sv[0], "{\"op\":\"stats\",\"id\":8}");
        struct json_object *q = NULL;
        ASSERT_TRUE(json_object_object_get_ex(m, "storvsp_quiesces", &q));
        ASSERT_GE(json_object_get_int64(q), 1);
        json_object_put(m);
        json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":9}"));
        expect_exit(sv[0], &c, 14, "stopped by vmms", err, sizeof err);
        close(con);
        /* SeaBIOS's log went to the worker's, read from fw_cfg's files. */
        ASSERT_NOT_NULL(strstr(err, "firmware: Running on QEMU (i440fx)"));
        ASSERT_NOT_NULL(strstr(err, "firmware: ACPI: parse DSDT"));
        ASSERT_NOT_NULL(strstr(err, "firmware: Searching bootorder for: /pci@i0cf8/*@1,1/drive@0/disk@0"));
        ASSERT_NOT_NULL(strstr(err, "firmware: Booting from Hard Disk"));

        fd = open(state, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        c = start(sv, disk, true, serial, fd);
        close(fd);
        con = unix_connect_retry(sock);
        ASSERT_GE(con, 0);
        /* Its boot happened in the worker that saved it: nothing to say. */
        st = vmwp_ctl_reply(sv[0], "{\"op\":\"status\",\"id\":7}");
        ASSERT_STREQ(vmwp_ctl_str(st, "ok"), "true");
        ASSERT_FALSE(json_object_object_get_ex(st, "boot_status", NULL));
        json_object_put(st);
        /* PAM came back with the state: both are read-only still. */
        ASSERT_EQ(write(con, "?", 1), 1);
        ASSERT_TRUE(serial_read_until(con, "mbr: echo", buf, sizeof buf, 20000));
        if (!strstr(buf, "mbr: f-seg ro") || !strstr(buf, "mbr: c-seg ro"))
                ASSERT_STREQ(buf, "mbr: f-seg ro ... mbr: c-seg ro ... mbr: echo");
        ASSERT_EQ(write(con, "cd.", 3), 3);
        ASSERT_TRUE(serial_read_until(con, "cd.", buf, sizeof buf, 20000));
        expect_exit(sv[0], &c, 0, "powered off", err, sizeof err);
        close(con);
}

/* A disk without a boot signature: SeaBIOS's message on the console, and
 * no reset loop (etc/boot-fail-wait). */
TEST(nothing_bootable_says_so) {
        char buf[8192], sock[600], serial[700], disk[600], err[65536];
        snprintf(sock, sizeof sock, "%s/none.sock", dir);
        snprintf(serial, sizeof serial, "socket:%s", sock);
        snprintf(disk, sizeof disk, "%s/empty.img", dir);
        int sv[2];
        struct vmwp_child c = start(sv, disk, false, serial, -1);
        int con = unix_connect_retry(sock);
        ASSERT_GE(con, 0);
        if (!serial_read_until(con, "No bootable device.", buf, sizeof buf, 60000))
                ASSERT_STREQ(buf, "... No bootable device.");
        ASSERT_NOT_NULL(strstr(buf, "Boot failed: not a bootable disk"));
        ASSERT_NULL(strstr(buf, "Retrying in"));
        /* vmms is told once, from the firmware's log port. */
        struct json_object *m = firmware_event(sv[0]);
        ASSERT_STREQ(vmwp_ctl_str(m, "status"), "no-bootable-device");
        ASSERT_STREQ(vmwp_ctl_str(m, "message"), "No bootable device.");
        json_object_put(m);
        m = vmwp_ctl_reply(sv[0], "{\"op\":\"status\",\"id\":8}");
        ASSERT_STREQ(vmwp_ctl_str(m, "boot_status"), "no-bootable-device");
        json_object_put(m);
        /* SIGUSR1: the vCPUs' sample and the counters on one line, where
         * bench-gen1-boot.sh reads the firmware's IDE reads: SeaBIOS read
         * the disk's first sector at least (IDENTIFY, READ). */
        ASSERT_OK(kill(c.pid, SIGUSR1));
        usleep(500000);
        json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":9}"));
        expect_exit(sv[0], &c, 14, "stopped by vmms", err, sizeof err);
        close(con);
        /* The firmware's words are in the worker's log. */
        ASSERT_NOT_NULL(strstr(err, "firmware: No bootable device."));
        ASSERT_NOT_NULL(strstr(err, "fw: vcpu0 rip="));
        const char *st = strstr(err, "fw: stats: {");
        ASSERT_NOT_NULL(st);
        const char *cmds = strstr(st, "\"ide_commands\":"), *pio = strstr(st, "\"ide_pio_bytes\":");
        ASSERT_TRUE(cmds && pio);
        ASSERT_GE(strtoull(cmds + strlen("\"ide_commands\":"), NULL, 10), 2ull);
        ASSERT_GE(strtoull(pio + strlen("\"ide_pio_bytes\":"), NULL, 10), 512ull);
}

/* An ISO whose El Torito boot image (no emulation, loaded at 07C0:0000)
 * is the echo code: SeaBIOS boots the DVD before the (empty) disk, and
 * the code talks on COM1 as from a disk. */
TEST(a_dvd_boots_through_el_torito) {
        char buf[8192], sock[600], serial[700], disk[600], iso[600], tree[600], img[700], cmd[2400], err[65536];
        if (system("command -v xorriso >/dev/null 2>&1") != 0)
                TEST_SKIP("xorriso not installed (scripts/deps.sh)");
        snprintf(tree, sizeof tree, "%s/isotree", dir);
        ASSERT_OK(mkdir(tree, 0700));
        snprintf(img, sizeof img, "%s/boot.img", tree);
        uint8_t boot[2048] = { 0 };
        memcpy(boot, echo_mbr, sizeof echo_mbr);
        test_write_file(img, boot, sizeof boot);
        snprintf(iso, sizeof iso, "%s/boot.iso", dir);
        snprintf(cmd, sizeof cmd, "xorriso -as mkisofs -quiet -o '%s' -b boot.img -no-emul-boot -boot-load-size 4 '%s'",
                 iso, tree);
        ASSERT_EQ(system(cmd), 0);
        snprintf(sock, sizeof sock, "%s/dvd.sock", dir);
        snprintf(serial, sizeof serial, "socket:%s", sock);
        snprintf(disk, sizeof disk, "%s/blank.img", dir);
        int sv[2];
        struct vmwp_child c = start_with(sv, disk, false, serial, -1, iso);
        int con = unix_connect_retry(sock);
        ASSERT_GE(con, 0);
        if (!serial_read_until(con, "mbr: echo", buf, sizeof buf, 60000)) {
                kill(c.pid, SIGTERM); /* say what the worker said */
                (void)vmwp_child_finish(&c, 30, err, sizeof err);
                fprintf(stderr, "the worker said:\n%s\n", err);
                ASSERT_STREQ(buf, "Booting from DVD/CD... mbr: echo");
        }
        ASSERT_NOT_NULL(strstr(buf, "Booting from DVD/CD"));
        /* SeaBIOS jumped into the disc's boot image: vmms is told. */
        struct json_object *m = firmware_event(sv[0]);
        ASSERT_STREQ(vmwp_ctl_str(m, "status"), "booted");
        json_object_put(m);
        ASSERT_EQ(write(con, "x.", 2), 2);
        ASSERT_TRUE(serial_read_until(con, "x.", buf, sizeof buf, 20000));
        expect_exit(sv[0], &c, 0, "powered off", err, sizeof err);
        close(con);
        ASSERT_NOT_NULL(strstr(err, "firmware: Searching bootorder for: /pci@i0cf8/*@1,1/drive@1/disk@0"));
}

static void expect_setup_error(const char *firmware, const char *want) {
        char json[1024], cfg[600], disk[600], err[8192];
        snprintf(disk, sizeof disk, "%s/any.img", dir);
        close(make_disk(disk, true));
        config(json, sizeof json, disk, firmware, NULL);
        snprintf(cfg, sizeof cfg, "%s/bad.json", dir);
        test_write_file(cfg, json, strlen(json));
        const char *args[] = { "--config", cfg, "--serial", "none", "--no-sandbox", NULL };
        struct vmwp_child c = vmwp_child_spawn(vmwp_bin, args, -1, true);
        ASSERT_EQ(vmwp_child_finish(&c, 30, err, sizeof err), 3);
        if (!strstr(err, want))
                ASSERT_STREQ(err, want);
}

TEST(a_bad_firmware_file_is_a_clear_error) {
        char small[600];
        expect_setup_error("/nonexistent/bios.bin", "firmware /nonexistent/bios.bin: No such file or directory");
        snprintf(small, sizeof small, "%s/small.bin", dir);
        test_write_file(small, "not a BIOS", 10);
        expect_setup_error(small, "10 bytes; a BIOS image is a multiple of 4 KiB from 64 KiB to 16 MiB");
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        if (access(SEABIOS, R_OK) != 0)
                TEST_SKIP("%s missing (Debian's seabios package, scripts/deps.sh)", SEABIOS);
        vmwp_child_require_bin(vmwp_bin, sizeof vmwp_bin);
        ASSERT_NOT_NULL(mkdtemp(dir));
        /* A worker that stops answering fails the test instead of holding
         * it (one such hang was seen once on a loaded emulated host and
         * not again in 20 runs): its workers end with the control socket. */
        alarm(300);
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        (void)test_remove_tree(dir);
        return r;
}
