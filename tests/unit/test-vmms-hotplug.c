// SPDX-License-Identifier: MIT
/* The configuration side of AttachDisk, DetachDisk, ResizeDisk, AttachNic
 * and DetachNic (vmms/include/vmms/hotplug.h): an entry appended and the
 * whole parsed as Update parses it, a LUN or a NIC instance filled in
 * when the caller left it out (never the instance another NIC kept after
 * a removal moved it down), clashes told apart (-EEXIST) from bad fields
 * (-EINVAL) and limits (-ENOSPC), removals moving the later entries down,
 * a resize's checks, "hot_plug"'s file size, and the states the five
 * methods are allowed in. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/test.h"
#include "vmms/hotplug.h"
#include "vmms/lifecycle.h"
#include "vmms/validate.h"
#include "vmctl/config-build.h"

#define ID "3f2a9c1d-0b7e-4c55-9a0e-7d2b1c4e5f60"

static char err[1400];

/* A VM with the disks and NICs given as JSON arrays' contents. */
static struct vm_config *vm(const char *disks, const char *nics) {
        char json[8192];
        struct vm_config *c = malloc(sizeof *c);
        ASSERT_NOT_NULL(c);
        snprintf(json, sizeof json,
                 "{\"name\":\"t\",\"id\":\"" ID "\",\"vcpus\":2,\"boot\":{\"kernel\":\"/p/k\"},\"disks\":[%s],"
                 "\"nics\":[%s]}",
                 disks, nics);
        ASSERT_OK(vm_config_parse(json, strlen(json), c, err, sizeof err));
        return c;
}

static int add_disk(const struct vm_config *cur, const char *entry, struct vm_config *out) {
        err[0] = 0;
        return vmms_config_add_disk(cur, entry, strlen(entry), out, err, sizeof err);
}

static int add_nic(const struct vm_config *cur, const char *entry, struct vm_config *out) {
        err[0] = 0;
        return vmms_config_add_nic(cur, entry, strlen(entry), out, err, sizeof err);
}

static struct guid derived(const char *name) {
        struct guid id, g;
        ASSERT_OK(guid_from_string(ID, &id));
        guid_derive(&id, name, &g);
        return g;
}

TEST(disk_appended_with_the_next_free_lun) {
        struct vm_config *c = vm("{\"path\":\"/p/a\"},{\"path\":\"/p/b\",\"lun\":2},"
                                 "{\"path\":\"/p/c\",\"controller\":1}", "");
        struct vm_config *out = malloc(sizeof *out);
        ASSERT_OK(add_disk(c, "{\"path\":\"/p/d\"}", out));
        ASSERT_EQ(out->n_disks, 4u);
        ASSERT_STREQ(out->disks[3].path, "/p/d");
        ASSERT_EQ(out->disks[3].lun, 1u); /* 0 and 2 are taken on controller 0 */
        ASSERT_EQ(out->disks[3].sector_size, 512u);
        ASSERT_OK(add_disk(c, "{\"path\":\"/p/d\",\"controller\":1,\"read_only\":true} \n", out));
        ASSERT_EQ(out->disks[3].controller, 1u);
        ASSERT_EQ(out->disks[3].lun, 1u);
        ASSERT_TRUE(out->disks[3].read_only);
        ASSERT_OK(add_disk(c, "{\"path\":\"/p/d\",\"lun\":9}", out)); /* as given */
        ASSERT_EQ(out->disks[3].lun, 9u);
        ASSERT_OK(add_disk(c, "{\"path\":\"/p/e.vhdx\"}", out));
        ASSERT_EQ(out->disks[3].format, VM_DISK_VHDX);
        ASSERT_OK(add_disk(c, "{\"path\":\"/p/ide\",\"bus\":\"ide\"}", out)); /* IDE has its own LUNs */
        ASSERT_EQ(out->disks[3].bus, VM_DISK_IDE);
        ASSERT_EQ(out->disks[3].lun, 0u);
        /* the VM's other settings stay */
        ASSERT_STREQ(out->name, "t");
        ASSERT_EQ(out->vcpus, 2u);
        ASSERT_TRUE(guid_equal(&out->id, &c->id));
        free(out), free(c);
}

TEST(disk_refusals) {
        struct vm_config *c = vm("{\"path\":\"/p/a\"}", "");
        struct vm_config *out = malloc(sizeof *out);
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/a\"}", out), EEXIST);
        ASSERT_NOT_NULL(strstr(err, "disks[1].path: /p/a is disks[0] already"));
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/b\",\"lun\":0}", out), EEXIST);
        ASSERT_STREQ(err, "disks[1].lun: duplicates disks[0]");
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/b\",\"sector_size\":1000}", out), EINVAL);
        ASSERT_STREQ(err, "disks[1].sector_size: must be 512 or 4096");
        ASSERT_ERROR(add_disk(c, "{\"path\":\"relative\"}", out), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "disks[1].path"));
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/b\",\"colour\":1}", out), EINVAL);
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/b\",\"controller\":\"x\"}", out), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "controller"));
        ASSERT_ERROR(add_disk(c, "{\"lun\":3}", out), EINVAL); /* no path */
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/b\",\"path\":\"/p/c\"}", out), EINVAL);
        ASSERT_STREQ(err, "disk: path: appears twice in one object (only one may be given)");
        ASSERT_ERROR(add_disk(c, "[{\"path\":\"/p/b\"}]", out), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "disk: must be one JSON object"));
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/b\"} {}", out), EINVAL);
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/b\"", out), EINVAL);
        ASSERT_ERROR(add_disk(c, "", out), EINVAL);
        ASSERT_ERROR(vmms_config_add_disk(c, "{\"path\":\"/p/b\"}\0x", 18, out, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "disk: contains a NUL byte");
        /* nothing changed in the VM's configuration */
        ASSERT_EQ(c->n_disks, 1u);
        free(out), free(c);
}

TEST(disk_limits) {
        char disks[8192] = "";
        for (unsigned i = 0; i < VM_DISKS_MAX; i++)
                snprintf(disks + strlen(disks), sizeof disks - strlen(disks), "%s{\"path\":\"/p/%u\",\"lun\":%u}",
                         i ? "," : "", i, i);
        struct vm_config *c = vm(disks, ""), *out = malloc(sizeof *out);
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/x\"}", out), ENOSPC);
        ASSERT_STREQ(err, "disks: the VM has 64 disks, the most it may have");
        free(c);
        c = vm("{\"path\":\"/p/0\",\"bus\":\"ide\",\"lun\":0},{\"path\":\"/p/1\",\"bus\":\"ide\",\"lun\":1},"
               "{\"path\":\"/p/2\",\"bus\":\"ide\",\"lun\":2},{\"path\":\"/p/3\",\"bus\":\"ide\",\"lun\":3}",
               "");
        ASSERT_ERROR(add_disk(c, "{\"path\":\"/p/x\",\"bus\":\"ide\"}", out), ENOSPC);
        ASSERT_STREQ(err, "disks[4].lun: the IDE controller 0 has no LUN free");
        ASSERT_OK(add_disk(c, "{\"path\":\"/p/x\"}", out)); /* SCSI's LUN 0 is free */
        free(out), free(c);
}

TEST(nic_instance_filled_and_kept) {
        struct vm_config *c = vm("", "{\"mac\":\"00:15:5d:00:00:01\"},{\"mac\":\"00:15:5d:00:00:02\"}");
        struct vm_config *out = malloc(sizeof *out), *less = malloc(sizeof *less);
        struct guid nic1 = derived("nic1"), nic2 = derived("nic2");
        ASSERT_TRUE(guid_equal(&c->nics[1].instance, &nic1));
        ASSERT_OK(add_nic(c, "{\"mac\":\"00:15:5d:00:00:03\",\"bridge\":\"br0\"}", out));
        ASSERT_EQ(out->n_nics, 3u);
        ASSERT_TRUE(guid_equal(&out->nics[2].instance, &nic2)); /* as vm_config_parse derives index 2's */
        ASSERT_STREQ(out->nics[2].bridge, "br0");
        /* nics[0] goes: nics[1] moves down with its instance, "nic1" */
        ASSERT_OK(vmms_config_remove_nic(c, 0, less, err, sizeof err));
        ASSERT_EQ(less->n_nics, 1u);
        ASSERT_TRUE(guid_equal(&less->nics[0].instance, &nic1));
        ASSERT_EQ(less->nics[0].mac[5], 2);
        /* a new NIC at index 1 cannot have "nic1": the next free one */
        ASSERT_OK(add_nic(less, "{\"mac\":\"00:15:5d:00:00:04\"}", out));
        ASSERT_TRUE(guid_equal(&out->nics[1].instance, &nic2));
        ASSERT_FALSE(guid_equal(&out->nics[1].instance, &out->nics[0].instance));
        /* one given is kept, unless another NIC has it */
        ASSERT_OK(add_nic(less, "{\"mac\":\"00:15:5d:00:00:04\",\"instance\":\"11111111-2222-3333-4444-555555555555\"}",
                          out));
        ASSERT_STREQ(guid_to_string(&out->nics[1].instance, (char[GUID_STRING_MAX]){ 0 }),
                     "11111111-2222-3333-4444-555555555555");
        char entry[160];
        snprintf(entry, sizeof entry, "{\"mac\":\"00:15:5d:00:00:04\",\"instance\":\"%s\"}",
                 guid_to_string(&nic1, (char[GUID_STRING_MAX]){ 0 }));
        ASSERT_ERROR(add_nic(less, entry, out), EEXIST);
        ASSERT_NOT_NULL(strstr(err, "nics[1].instance: "));
        ASSERT_NOT_NULL(strstr(err, "is nics[0]'s already"));
        free(out), free(less), free(c);
}

TEST(nic_refusals) {
        struct vm_config *c = vm("", "{\"mac\":\"00:15:5d:00:00:01\",\"tap\":\"tapa\",\"queues\":8}");
        struct vm_config *out = malloc(sizeof *out);
        ASSERT_ERROR(add_nic(c, "{\"mac\":\"00:15:5d:00:00:01\"}", out), EEXIST);
        ASSERT_STREQ(err, "nics[1].mac: duplicates nics[0]");
        ASSERT_ERROR(add_nic(c, "{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tapa\"}", out), EEXIST);
        ASSERT_STREQ(err, "nics[1].tap: duplicates nics[0]");
        ASSERT_ERROR(add_nic(c, "{\"mac\":\"01:15:5d:00:00:02\"}", out), EINVAL);
        ASSERT_STREQ(err, "nics[1].mac: must be a unicast address");
        ASSERT_ERROR(add_nic(c, "{\"bridge\":\"br0\"}", out), EINVAL); /* no MAC */
        ASSERT_ERROR(add_nic(c, "{\"mac\":\"00:15:5d:00:00:02\",\"queues\":9}", out), EINVAL);
        ASSERT_ERROR(add_nic(c, "\"00:15:5d:00:00:02\"", out), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "nic: must be one JSON object"));
        free(c);
        /* 32 queues in all */
        c = vm("", "{\"mac\":\"00:15:5d:00:00:01\",\"queues\":8},{\"mac\":\"00:15:5d:00:00:02\",\"queues\":8},"
                   "{\"mac\":\"00:15:5d:00:00:03\",\"queues\":8},{\"mac\":\"00:15:5d:00:00:04\",\"queues\":7}");
        ASSERT_OK(add_nic(c, "{\"mac\":\"00:15:5d:00:00:05\"}", out));
        ASSERT_ERROR(add_nic(c, "{\"mac\":\"00:15:5d:00:00:05\",\"queues\":2}", out), ENOSPC);
        ASSERT_NOT_NULL(strstr(err, "queues"));
        free(c);
        c = vm("", "{\"mac\":\"00:15:5d:00:00:01\"},{\"mac\":\"00:15:5d:00:00:02\"},{\"mac\":\"00:15:5d:00:00:03\"},"
                   "{\"mac\":\"00:15:5d:00:00:04\"},{\"mac\":\"00:15:5d:00:00:05\"},{\"mac\":\"00:15:5d:00:00:06\"},"
                   "{\"mac\":\"00:15:5d:00:00:07\"},{\"mac\":\"00:15:5d:00:00:08\"}");
        ASSERT_ERROR(add_nic(c, "{\"mac\":\"00:15:5d:00:00:09\"}", out), ENOSPC);
        ASSERT_STREQ(err, "nics: the VM has 8 NICs, the most it may have");
        free(out), free(c);
}

TEST(removal_moves_the_later_ones_down) {
        struct vm_config *c = vm("{\"path\":\"/p/a\"},{\"path\":\"/p/b\",\"lun\":1},{\"path\":\"/p/c\",\"controller\":2}",
                                 "{\"mac\":\"00:15:5d:00:00:01\"}");
        struct vm_config *out = malloc(sizeof *out);
        ASSERT_OK(vmms_config_remove_disk(c, 0, out, err, sizeof err));
        ASSERT_EQ(out->n_disks, 2u);
        ASSERT_STREQ(out->disks[0].path, "/p/b");
        ASSERT_EQ(out->disks[0].lun, 1u);
        ASSERT_STREQ(out->disks[1].path, "/p/c");
        ASSERT_EQ(out->disks[1].controller, 2u);
        ASSERT_EQ(out->disks[2].path[0], 0); /* the freed slot is clean */
        ASSERT_TRUE(!memcmp(out->scsi_instance, c->scsi_instance, sizeof c->scsi_instance));
        ASSERT_ERROR(vmms_config_remove_disk(c, 3, out, err, sizeof err), ENOENT);
        ASSERT_STREQ(err, "disks[3]: no such disk (the VM has 3)");
        ASSERT_ERROR(vmms_config_remove_nic(c, 1, out, err, sizeof err), ENOENT);
        ASSERT_STREQ(err, "nics[1]: no such NIC (the VM has 1)");
        /* in place */
        ASSERT_OK(vmms_config_remove_disk(c, 2, c, err, sizeof err));
        ASSERT_OK(vmms_config_remove_nic(c, 0, c, err, sizeof err));
        ASSERT_EQ(c->n_disks, 2u);
        ASSERT_EQ(c->n_nics, 0u);
        free(out), free(c);
}

TEST(entries_as_json) {
        struct vm_config *c = vm("{\"path\":\"/p/a.vhdx\",\"read_only\":true,\"lun\":3,\"sector_size\":4096}",
                                 "{\"mac\":\"00:15:5d:00:00:01\",\"mtu\":9000}");
        json_object *d = vmms_config_disk_json(c, 0), *n = vmms_config_nic_json(c, 0);
        ASSERT_NOT_NULL(d);
        ASSERT_NOT_NULL(n);
        ASSERT_STREQ(json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                     "{\"path\":\"/p/a.vhdx\",\"read_only\":true,\"bus\":\"scsi\",\"controller\":0,\"lun\":3,"
                     "\"sector_size\":4096,\"format\":\"vhdx\"}");
        char want[200];
        snprintf(want, sizeof want, "{\"mac\":\"00:15:5d:00:00:01\",\"mtu\":9000,\"link_up\":true,\"instance\":\"%s\"}",
                 guid_to_string(&c->nics[0].instance, (char[GUID_STRING_MAX]){ 0 }));
        ASSERT_STREQ(json_object_to_json_string_ext(n, JSON_C_TO_STRING_PLAIN), want);
        ASSERT_NULL(vmms_config_disk_json(c, 1));
        ASSERT_NULL(vmms_config_nic_json(c, 1));
        /* what the worker parses back is the same entry */
        struct vm_config *e = vm("", ""), *out = malloc(sizeof *out);
        const char *s = json_object_to_json_string(d);
        ASSERT_OK(add_disk(e, s, out));
        ASSERT_TRUE(!memcmp(&out->disks[0], &c->disks[0], sizeof c->disks[0]));
        json_object_put(d), json_object_put(n);
        free(out), free(e), free(c);
}

TEST(resize_checks) {
        struct vm_config *c = vm("{\"path\":\"/p/a\"},{\"path\":\"/p/b.vhdx\",\"lun\":3},"
                                 "{\"path\":\"/p/c\",\"bus\":\"ide\"},"
                                 "{\"path\":\"/p/d\",\"read_only\":true,\"lun\":1},{\"path\":\"/p/e\",\"lun\":2,"
                                 "\"sector_size\":4096}",
                                 "");
        ASSERT_OK(vmms_disk_resize_check(c, 0, 1ull << 30, true, err, sizeof err));
        ASSERT_ERROR(vmms_disk_resize_check(c, 0, 1000, true, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_disk_resize_check(c, 0, 0, false, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_disk_resize_check(c, 0, (1ull << 62) + 512, false, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_disk_resize_check(c, 4, 512 * 9, true, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "size: 4608 bytes are not a size of whole 4096-byte sectors (at most 2^62)");
        /* VHDX: grown by its metadata (vmms off, the worker running) */
        ASSERT_OK(vmms_disk_resize_check(c, 1, 1ull << 30, false, err, sizeof err));
        ASSERT_OK(vmms_disk_resize_check(c, 1, 1ull << 30, true, err, sizeof err));
        ASSERT_ERROR(vmms_disk_resize_check(c, 2, 1ull << 30, true, err, sizeof err), EOPNOTSUPP);
        ASSERT_NOT_NULL(strstr(err, "IDE"));
        ASSERT_OK(vmms_disk_resize_check(c, 2, 1ull << 30, false, err, sizeof err)); /* off: the file only */
        ASSERT_ERROR(vmms_disk_resize_check(c, 3, 1ull << 30, true, err, sizeof err), EOPNOTSUPP);
        ASSERT_OK(vmms_disk_resize_check(c, 3, 1ull << 30, false, err, sizeof err));
        ASSERT_ERROR(vmms_disk_resize_check(c, 5, 1ull << 30, false, err, sizeof err), ENOENT);
        free(c);
}

TEST(hot_plug_file_size) {
        const uint64_t small[] = { 1ull << 30, 8ull << 30 }, large[] = { 1ull << 30, 100ull << 30 };
        ASSERT_EQ(vmms_hot_plug_file_size(NULL, 0), VMMS_HOT_PLUG_FILE_SIZE);
        ASSERT_EQ(vmms_hot_plug_file_size(small, 2), VMMS_HOT_PLUG_FILE_SIZE);
        ASSERT_EQ(vmms_hot_plug_file_size(large, 2), 100ull << 30);
        const uint64_t huge[] = { UINT64_MAX };
        ASSERT_EQ(vmms_hot_plug_file_size(huge, 1), 1ull << 62);
}

/* vmctl disk attach builds the entry as edit --disk= does: a LUN left
 * out is the next free one on the bus and controller it names. */
TEST(vmctl_disk_spec_lun) {
        static const struct vmctl_build_ctx ctx = { .cwd = "/p" };
        json_object *cfg = json_tokener_parse("{\"disks\":[{\"path\":\"/p/a\"},{\"path\":\"/p/b\",\"lun\":1},"
                                              "{\"path\":\"/p/c\",\"bus\":\"ide\",\"lun\":0}]}"), *a;
        ASSERT_OK(vmctl_config_set(cfg, "disk", "d.img,bus=ide", &ctx, err, sizeof err));
        ASSERT_OK(vmctl_config_set(cfg, "disk", "e.img", &ctx, err, sizeof err));
        ASSERT_TRUE(json_object_object_get_ex(cfg, "disks", &a));
        ASSERT_STREQ(json_object_to_json_string_ext(json_object_array_get_idx(a, 3), JSON_C_TO_STRING_PLAIN |
                                                                                        JSON_C_TO_STRING_NOSLASHESCAPE),
                     "{\"path\":\"/p/d.img\",\"bus\":\"ide\",\"lun\":1}");
        ASSERT_STREQ(json_object_to_json_string_ext(json_object_array_get_idx(a, 4), JSON_C_TO_STRING_PLAIN |
                                                                                        JSON_C_TO_STRING_NOSLASHESCAPE),
                     "{\"path\":\"/p/e.img\",\"lun\":2}");
        json_object_put(cfg);
}

/* Update cannot change a running (or Saved) VM's Storage QoS: it says
 * which method does; an Off VM's changes. */
TEST(update_of_a_running_vms_disk_qos_points_to_set_disk_qos) {
        struct vm_config *c = vm("{\"path\":\"/p/a\"}", ""), *out = malloc(sizeof *out);
        *out = *c;
        out->disks[0].qos.max_iops = 500;
        ASSERT_ERROR(vmms_config_check_update(c, out, VMMS_STATE_RUNNING, err, sizeof err), EBUSY);
        ASSERT_STREQ(err, "disks[].qos: can only change while the VM is Off or Crashed (it is Running); a disk's "
                          "Storage QoS changes with SetDiskQoS (vmctl disk qos VM INDEX --max-iops=N ...) in any "
                          "state");
        ASSERT_ERROR(vmms_config_check_update(c, out, VMMS_STATE_SAVED, err, sizeof err), EBUSY);
        ASSERT_NOT_NULL(strstr(err, "SetDiskQoS"));
        ASSERT_OK(vmms_config_check_update(c, out, VMMS_STATE_OFF, err, sizeof err));
        out->disks[0].read_only = true; /* another change too: the disks */
        ASSERT_ERROR(vmms_config_check_update(c, out, VMMS_STATE_RUNNING, err, sizeof err), EBUSY);
        ASSERT_TRUE(strncmp(err, "disks: ", 7) == 0);
        free(out), free(c);
}

/* Likewise a NIC's bandwidth caps: SetNicQoS. */
TEST(update_of_a_running_vms_nic_qos_points_to_set_nic_qos) {
        struct vm_config *c = vm("", "{\"mac\":\"00:15:5d:00:00:01\",\"tap\":\"adm0\"}"), *out = malloc(sizeof *out);
        *out = *c;
        out->nics[0].qos.max_out_bps = 100000000;
        ASSERT_ERROR(vmms_config_check_update(c, out, VMMS_STATE_RUNNING, err, sizeof err), EBUSY);
        ASSERT_STREQ(err, "nics[].qos: can only change while the VM is Off or Crashed (it is Running); a NIC's "
                          "bandwidth caps change with SetNicQoS (vmctl nic qos VM INDEX --max-in-bps=N ...) in any "
                          "state");
        ASSERT_ERROR(vmms_config_check_update(c, out, VMMS_STATE_SAVED, err, sizeof err), EBUSY);
        ASSERT_NOT_NULL(strstr(err, "SetNicQoS"));
        ASSERT_OK(vmms_config_check_update(c, out, VMMS_STATE_OFF, err, sizeof err));
        out->nics[0].mtu = 9000; /* another change too: the NICs */
        ASSERT_ERROR(vmms_config_check_update(c, out, VMMS_STATE_RUNNING, err, sizeof err), EBUSY);
        ASSERT_TRUE(strncmp(err, "nics: ", 6) == 0);
        free(out), free(c);
}

TEST(update_of_a_running_vms_disks_points_here) {
        struct vm_config *c = vm("{\"path\":\"/p/a\"}", ""), *out = malloc(sizeof *out);
        ASSERT_OK(add_disk(c, "{\"path\":\"/p/b\"}", out));
        ASSERT_ERROR(vmms_config_check_update(c, out, VMMS_STATE_RUNNING, err, sizeof err), EBUSY);
        ASSERT_STREQ(err, "disks: can only change while the VM is Off or Crashed (it is Running); a running VM's "
                          "disks and NICs change one at a time with AttachDisk, DetachDisk, AttachNic, DetachNic "
                          "(vmctl disk|nic attach|detach)");
        ASSERT_OK(vmms_config_check_update(c, out, VMMS_STATE_OFF, err, sizeof err));
        free(out), free(c);
}

TEST(states) {
        char msg[200];
        for (enum vmms_op op = VMMS_OP_ATTACH_DISK; op <= VMMS_OP_DETACH_NIC; op++) {
                ASSERT_OK(vmms_state_check_op(VMMS_STATE_OFF, op, msg, sizeof msg));
                ASSERT_OK(vmms_state_check_op(VMMS_STATE_CRASHED, op, msg, sizeof msg));
                ASSERT_OK(vmms_state_check_op(VMMS_STATE_RUNNING, op, msg, sizeof msg));
                ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_PAUSED, op, msg, sizeof msg), EINVAL);
                ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_SAVED, op, msg, sizeof msg), EINVAL);
                ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_STARTING, op, msg, sizeof msg), EBUSY);
                ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_MIGRATING, op, msg, sizeof msg), EBUSY);
                ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_SAVING, op, msg, sizeof msg), EBUSY);
        }
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_PAUSED, VMMS_OP_DETACH_NIC, msg, sizeof msg), EINVAL);
        ASSERT_STREQ(msg, "DetachNic is not possible while the VM is Paused (possible in: Off, Running, Crashed)");
        ASSERT_STREQ(vmms_op_to_string(VMMS_OP_RESIZE_DISK), "ResizeDisk");
}

TEST_MAIN()
