// SPDX-License-Identifier: MIT
/* Firmware VMs in the management layer (issue #57): vmms's firmware
 * directory rule (vmms/paths.h) and --firmware-dir, vmctl's firmware flags
 * and the IDE default for a VM without a kernel (vmctl/config-build.h),
 * and the worker's side of the config message: "firmware" among the
 * "files" and the DVD ISOs that "dvd_fds" counts (vmwp/control.h). */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/config.h"
#include "common/macro.h"
#include "tests/lib/control-message.h"
#include "common/test.h"
#include "vmctl/config-build.h"
#include "vmms/core/daemon.h"
#include "vmms/lifecycle.h"
#include "vmms/paths.h"
#include "vmwp/control.h"
#include "vmwp/vm.h"

static int parse_args(struct vmms_options *o, char *err, size_t errlen, const char *const *args) {
        static char store[8][128];
        char *argv[8];
        int n = 0;
        for (; args[n] && n < 7; n++)
                argv[n] = strncpy(store[n], args[n], sizeof store[n] - 1);
        argv[n] = NULL;
        return vmms_options_parse(n, argv, o, err, errlen);
}

TEST(firmware_dir_options) {
        struct vmms_options o;
        char err[256];
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", NULL }), 0);
        ASSERT_EQ(o.paths.n_firmware_dirs, 1u);
        ASSERT_STREQ(o.paths.firmware_dirs[0], VMMS_DEFAULT_FIRMWARE_DIR);
        ASSERT_EQ(parse_args(&o, err, sizeof err,
                             (const char *const[]){ "vmms", "--firmware-dir=/opt/fw", "--firmware-dir=/srv/bios",
                                                    NULL }),
                  0);
        ASSERT_EQ(o.paths.n_firmware_dirs, 2u); /* given: the default is not added */
        ASSERT_STREQ(o.paths.firmware_dirs[1], "/srv/bios");
        const char *bad[] = { "--firmware-dir=/", "--firmware-dir=fw", "--firmware-dir=/a/../etc",
                              "--firmware-dir=/a/" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", bad[i], NULL }), EINVAL);
        ASSERT_ERROR(parse_args(&o, err, sizeof err,
                                (const char *const[]){ "vmms", "--firmware-dir=/a", "--firmware-dir=/a", NULL }),
                     EINVAL);
        ASSERT_STREQ(err, "--firmware-dir=/a: given twice");
}

static struct vmms_path_policy fw_policy(void) {
        struct vmms_path_policy p = { .n_pools = 1 };
        snprintf(p.pools[0].dir, sizeof p.pools[0].dir, "/pool");
        ASSERT_OK(vmms_firmware_dir_add(&p, "/usr/share/seabios"));
        return p;
}

TEST(firmware_path_place) {
        struct vmms_path_policy p = fw_policy();
        struct vmms_path_place pl;
        char err[512];
        ASSERT_OK(vmms_path_place(&p, "/usr/share/seabios/bios-256k.bin", VMMS_FILE_FIRMWARE, false, &pl, err,
                                  sizeof err));
        ASSERT_STREQ(pl.root, "/usr/share/seabios");
        ASSERT_STREQ(pl.rel, "bios-256k.bin");
        ASSERT_FALSE(pl.block);
        /* A pool is no firmware directory, and a firmware directory no pool. */
        ASSERT_ERROR(vmms_path_place(&p, "/pool/bios.bin", VMMS_FILE_FIRMWARE, true, &pl, err, sizeof err), EPERM);
        ASSERT_STREQ(err, "/pool/bios.bin: not in a firmware directory (/usr/share/seabios; vmms --firmware-dir "
                          "adds one)");
        ASSERT_ERROR(vmms_path_place(&p, "/usr/share/seabios/bios.bin", VMMS_FILE_DISK_RO, true, &pl, err,
                                     sizeof err),
                     EPERM);
        ASSERT_ERROR(vmms_path_place(&p, "/dev/sda", VMMS_FILE_FIRMWARE, true, &pl, err, sizeof err), EPERM);
        ASSERT_ERROR(vmms_path_place(&p, "/usr/share/seabios/../../../etc/shadow", VMMS_FILE_FIRMWARE, true, &pl,
                                     err, sizeof err),
                     EINVAL);
        ASSERT_ERROR(vmms_path_place(&p, "/usr/share/seabios", VMMS_FILE_FIRMWARE, true, &pl, err, sizeof err),
                     EPERM);
        ASSERT_ERROR(vmms_firmware_dir_add(&p, "/usr/share/seabios"), EEXIST);
        ASSERT_ERROR(vmms_firmware_dir_add(&p, "/"), EINVAL);
}

TEST(firmware_config_paths) {
        struct vmms_path_policy p = fw_policy();
        struct vm_config *c = calloc(1, sizeof *c);
        char err[1200];
        ASSERT_NOT_NULL(c);
        c->boot_kind = VM_BOOT_FIRMWARE;
        snprintf(c->firmware, sizeof c->firmware, "/usr/share/seabios/bios-256k.bin");
        c->n_disks = 1;
        snprintf(c->disks[0].path, sizeof c->disks[0].path, "/pool/web.vhdx");
        c->n_dvds = 1;
        snprintf(c->dvds[0].path, sizeof c->dvds[0].path, "/pool/d.iso");
        /* No kernel: a firmware VM has none, and its firmware is checked instead. */
        ASSERT_OK(vmms_config_check_paths(&p, c, NULL, false, err, sizeof err));
        snprintf(c->firmware, sizeof c->firmware, "/pool/evil.bin");
        ASSERT_ERROR(vmms_config_check_paths(&p, c, NULL, true, err, sizeof err), EPERM);
        ASSERT_STREQ(err, "boot.firmware: /pool/evil.bin: not in a firmware directory (/usr/share/seabios; vmms "
                          "--firmware-dir adds one)");
        snprintf(c->firmware, sizeof c->firmware, "/usr/share/seabios/bios-256k.bin");
        snprintf(c->dvds[0].path, sizeof c->dvds[0].path, "/home/u/x.iso");
        ASSERT_ERROR(vmms_config_check_paths(&p, c, NULL, true, err, sizeof err), EPERM);
        ASSERT_NOT_NULL(strstr(err, "dvd_drives[0].path: /home/u/x.iso: not in a storage pool"));
        /* had_path: the firmware a VM had is the firmware's own use. */
        ASSERT_TRUE(vmms_config_had_path(c, "/usr/share/seabios/bios-256k.bin", VMMS_FILE_FIRMWARE));
        ASSERT_FALSE(vmms_config_had_path(c, "/usr/share/seabios/bios-256k.bin", VMMS_FILE_DISK_RO));
        free(c);
}

static const struct vmctl_build_ctx ide_ctx = { .cwd = "/home/op", .ide_disks = true };
static const struct vmctl_build_ctx scsi_ctx = { .cwd = "/home/op" };

static void parse_ok(json_object *cfg, struct vm_config *c) {
        char err[256];
        const char *s = json_object_to_json_string(cfg);
        if (vm_config_parse(s, strlen(s), c, err, sizeof err) < 0)
                test_fail_(__FILE__, __LINE__, s, err);
}

TEST(vmctl_firmware_flags) {
        struct vm_config *c = calloc(1, sizeof *c);
        char err[256];
        ASSERT_NOT_NULL(c);
        /* vmctl create --name=web --disk=web.vhdx: no kernel, a firmware VM with an IDE disk */
        ASSERT_TRUE(vmctl_create_boots_firmware(NULL, false, NULL));
        json_object *cfg = json_object_new_object();
        ASSERT_OK(vmctl_config_set(cfg, "name", "web", &ide_ctx, err, sizeof err));
        ASSERT_OK(vmctl_config_set(cfg, "disk", "web.vhdx", &ide_ctx, err, sizeof err));
        ASSERT_OK(vmctl_config_set(cfg, "disk", "data.img,bus=scsi", &ide_ctx, err, sizeof err));
        ASSERT_OK(vmctl_config_set(cfg, "dvd", "/iso/d.iso", &ide_ctx, err, sizeof err));
        ASSERT_OK(vmctl_config_set(cfg, "disk", "b.img", &ide_ctx, err, sizeof err));
        ASSERT_OK(vmctl_config_set(cfg, "disk", "c.img", &ide_ctx, err, sizeof err));
        vmctl_config_default_firmware(cfg);
        ASSERT_TRUE(vmctl_config_is_firmware(cfg));
        parse_ok(cfg, c);
        ASSERT_EQ(c->boot_kind, VM_BOOT_FIRMWARE);
        ASSERT_STREQ(c->firmware, VM_FIRMWARE_DEFAULT);
        ASSERT_EQ(c->n_disks, 4u);
        ASSERT_EQ(c->disks[0].bus, VM_DISK_IDE);
        ASSERT_EQ(c->disks[0].lun, 0u); /* primary master: what the BIOS boots */
        ASSERT_STREQ(c->disks[0].path, "/home/op/web.vhdx");
        ASSERT_EQ(c->disks[1].bus, VM_DISK_SCSI);
        ASSERT_EQ(c->disks[2].lun, 1u);
        ASSERT_EQ(c->disks[3].lun, 3u); /* 2 is the DVD drive's place (secondary master) */
        ASSERT_EQ(c->n_dvds, 1u);
        ASSERT_EQ(c->dvds[0].channel, 1u);
        ASSERT_EQ(c->dvds[0].position, 0u);
        ASSERT_STREQ(c->dvds[0].path, "/iso/d.iso");
        /* --dvd again changes the disc of that drive, adds no other */
        ASSERT_OK(vmctl_config_set(cfg, "dvd", "e.iso", &ide_ctx, err, sizeof err));
        ASSERT_OK(vmctl_config_set(cfg, "firmware", "/usr/share/seabios/bios.bin", &ide_ctx, err, sizeof err));
        ASSERT_OK(vmctl_config_set(cfg, "boot-order", "disk,dvd", &ide_ctx, err, sizeof err));
        parse_ok(cfg, c);
        ASSERT_EQ(c->n_dvds, 1u);
        ASSERT_STREQ(c->dvds[0].path, "/home/op/e.iso");
        ASSERT_STREQ(c->firmware, "/usr/share/seabios/bios.bin");
        ASSERT_EQ(c->n_boot_order, 2u);
        ASSERT_EQ(c->boot_order[0], VM_BOOT_DEVICE_DISK);
        ASSERT_EQ(c->boot_order[1], VM_BOOT_DEVICE_DVD);
        const char *bad_orders[] = { "", "dvd,dvd", "net", "disk,dvd,disk", "," };
        for (size_t i = 0; i < ARRAY_SIZE(bad_orders); i++)
                ASSERT_ERROR(vmctl_config_set(cfg, "boot-order", bad_orders[i], &ide_ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "dvd", "", &ide_ctx, err, sizeof err), EINVAL);
        json_object_put(cfg);
        free(c);
}

TEST(vmctl_kernel_vms_unchanged) {
        char err[256];
        /* With a kernel (flag or file) or a kernel boot kind: as before, SCSI disks. */
        ASSERT_FALSE(vmctl_create_boots_firmware(NULL, true, NULL));
        ASSERT_FALSE(vmctl_create_boots_firmware(NULL, false, "linux"));
        ASSERT_TRUE(vmctl_create_boots_firmware(NULL, false, "firmware"));
        json_object *base = json_tokener_parse("{\"boot\":{\"kernel\":\"/k\"}}");
        ASSERT_FALSE(vmctl_create_boots_firmware(base, false, NULL));
        json_object_put(base);
        base = json_tokener_parse("{\"boot\":{\"kind\":\"pvh\"}}");
        ASSERT_FALSE(vmctl_create_boots_firmware(base, false, NULL));
        json_object_put(base);
        json_object *cfg = json_object_new_object();
        ASSERT_OK(vmctl_config_set(cfg, "disk", "a.img", &scsi_ctx, err, sizeof err));
        json_object *d = json_object_array_get_idx(json_object_object_get(cfg, "disks"), 0), *bus;
        ASSERT_FALSE(json_object_object_get_ex(d, "bus", &bus)); /* the document stays as before */
        ASSERT_FALSE(vmctl_config_is_firmware(cfg));
        json_object_put(cfg);
}

TEST(dvd_ops_states) {
        char msg[200];
        ASSERT_STREQ(vmms_op_to_string(VMMS_OP_INSERT_DVD), "InsertDvd");
        ASSERT_STREQ(vmms_op_to_string(VMMS_OP_EJECT_DVD), "EjectDvd");
        enum vmms_state ok[] = { VMMS_STATE_OFF, VMMS_STATE_CRASHED, VMMS_STATE_RUNNING };
        enum vmms_state no[] = { VMMS_STATE_PAUSED, VMMS_STATE_SAVED, VMMS_STATE_STARTING, VMMS_STATE_MIGRATING };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                ASSERT_OK(vmms_state_check_op(ok[i], VMMS_OP_INSERT_DVD, msg, sizeof msg));
                ASSERT_OK(vmms_state_check_op(ok[i], VMMS_OP_EJECT_DVD, msg, sizeof msg));
        }
        for (size_t i = 0; i < ARRAY_SIZE(no); i++)
                ASSERT_TRUE(vmms_state_check_op(no[i], VMMS_OP_INSERT_DVD, msg, sizeof msg) < 0);
}

/* ---- the worker's config message ---- */

static struct vm_config wcfg;
static struct vmwp_vm_options opt;
static char werr[256];

static struct json_object *message(const char *json) {
        return control_message(json, &wcfg, &opt);
}

#define FW_VM                                                                                              \
        "{\"op\":\"config\",\"config\":{\"name\":\"f\",\"memory_mib\":64,\"boot\":{\"kind\":\"firmware\"}," \
        "\"disks\":[{\"path\":\"/a.img\",\"bus\":\"ide\"}],\"dvd_drives\":[{\"path\":\"/x.iso\"},"          \
        "{\"channel\":0,\"position\":1},{\"channel\":1,\"position\":1,\"path\":\"/y.iso\"}]}"

TEST(worker_firmware_and_dvd_fds) {
        struct json_object *m = message(FW_VM ",\"files\":[\"firmware\",\"serial_log\"],\"dvd_fds\":2}");
        int fds[5];
        control_new_fds(fds, 5); /* disk, firmware, serial_log, 2 ISOs */
        ASSERT_EQ(vmwp_control_assign_fds(&wcfg, m, fds, 5, &opt, werr, sizeof werr), 0);
        ASSERT_EQ(opt.disk_fds[0], fds[0]);
        ASSERT_EQ(opt.kernel_fd, fds[1]); /* the boot image: vm-firmware.c maps it */
        ASSERT_EQ(opt.serial_log_fd, fds[2]);
        ASSERT_EQ(opt.dvd_fds[0], fds[3]);
        ASSERT_EQ(opt.dvd_fds[1], -1); /* the empty drive */
        ASSERT_EQ(opt.dvd_fds[2], fds[4]);
        for (size_t i = 0; i < 5; i++)
                close(fds[i]);
        json_object_put(m);
}

TEST(worker_refuses_mismatched_files) {
        const char *bad[] = {
                FW_VM ",\"files\":[\"firmware\"],\"dvd_fds\":1}",      /* two drives have an ISO */
                FW_VM ",\"files\":[\"kernel\"],\"dvd_fds\":2}",        /* a firmware VM's image is "firmware" */
                FW_VM ",\"files\":[\"firmware\",\"kernel\"],\"dvd_fds\":2}",
                FW_VM ",\"files\":[\"firmware\"],\"dvd_fds\":\"2\"}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct json_object *m = message(bad[i]);
                int fds[4];
                control_new_fds(fds, 4);
                ASSERT_ERROR(vmwp_control_assign_fds(&wcfg, m, fds, 4, &opt, werr, sizeof werr), EINVAL);
                for (size_t k = 0; k < 4; k++)
                        ASSERT_FALSE(control_fd_is_open(fds[k])); /* all closed */
                json_object_put(m);
        }
        /* A kernel VM does not take "firmware". */
        struct json_object *m = message("{\"op\":\"config\",\"config\":{\"name\":\"k\",\"memory_mib\":64,"
                                        "\"boot\":{\"kernel\":\"/k\"}},\"files\":[\"firmware\"]}");
        int fd[1];
        control_new_fds(fd, 1);
        ASSERT_ERROR(vmwp_control_assign_fds(&wcfg, m, fd, 1, &opt, werr, sizeof werr), EINVAL);
        ASSERT_FALSE(control_fd_is_open(fd[0]));
        json_object_put(m);
        /* Without "dvd_fds" (standalone, an older vmms) the drives keep their paths. */
        m = message(FW_VM ",\"files\":[\"firmware\"]}");
        control_new_fds(fd, 1);
        int two[2] = { fd[0], eventfd(0, EFD_CLOEXEC) };
        ASSERT_EQ(vmwp_control_assign_fds(&wcfg, m, two, 2, &opt, werr, sizeof werr), 0);
        ASSERT_EQ(opt.dvd_fds[0], -1);
        ASSERT_EQ(opt.dvd_fds[2], -1);
        close(two[0]), close(two[1]);
        json_object_put(m);
}

TEST(worker_dvd_requests) {
        struct json_object *m = message(FW_VM "}");
        json_object_put(m);
        uint32_t drive;
        bool insert;
        char path[VM_PATH_MAX];
        struct json_object *rq = json_tokener_parse("{\"op\":\"dvd-insert\",\"id\":1,\"drive\":2,\"path\":\"/p/d.iso\"}");
        ASSERT_OK(vmwp_control_parse_dvd(&wcfg, rq, true, &drive, &insert, path, werr, sizeof werr));
        ASSERT_EQ(drive, 2u);
        ASSERT_TRUE(insert);
        ASSERT_STREQ(path, "/p/d.iso");
        ASSERT_ERROR(vmwp_control_parse_dvd(&wcfg, rq, false, &drive, &insert, path, werr, sizeof werr), EINVAL);
        json_object_put(rq);
        rq = json_tokener_parse("{\"op\":\"dvd-eject\",\"drive\":3}");
        ASSERT_ERROR(vmwp_control_parse_dvd(&wcfg, rq, false, &drive, &insert, path, werr, sizeof werr), ENOENT);
        json_object_put(rq);
        rq = json_tokener_parse("{\"op\":\"dvd-eject\",\"drive\":1}");
        ASSERT_OK(vmwp_control_parse_dvd(&wcfg, rq, false, &drive, &insert, path, werr, sizeof werr));
        ASSERT_FALSE(insert);
        ASSERT_ERROR(vmwp_control_parse_dvd(&wcfg, rq, true, &drive, &insert, path, werr, sizeof werr), EINVAL);
        json_object_put(rq);
        rq = json_tokener_parse("{\"op\":\"dvd-eject\",\"drive\":1,\"path\":\"/x\"}");
        ASSERT_ERROR(vmwp_control_parse_dvd(&wcfg, rq, false, &drive, &insert, path, werr, sizeof werr), EINVAL);
        json_object_put(rq);
        rq = json_tokener_parse("{\"op\":\"dvd-insert\",\"drive\":\"0\"}");
        ASSERT_ERROR(vmwp_control_parse_dvd(&wcfg, rq, true, &drive, &insert, path, werr, sizeof werr), EINVAL);
        json_object_put(rq);
}

TEST_MAIN();
