// SPDX-License-Identifier: MIT
/* The hot-plug requests of the vmms <-> vmwp protocol (vmwp/control.h
 * vmwp_control_parse_hotplug, common/proto.h): disk-attach, disk-detach,
 * disk-resize, nic-attach, nic-detach checked against the worker's
 * configuration and the fd count, with the errno vmms tells apart: EINVAL
 * (a field, the fds), ENOENT (no such index), ENOSPC (a limit), EEXIST (a
 * clash with another disk or NIC), EOPNOTSUPP (IDE); a
 * new entry as vm_config_parse() reads it, a NIC's instance derived as
 * vmms's own parse derives it. */
#include <json-c/json.h>
#include <stdlib.h>

#include "common/config.h"
#include "common/test.h"
#include "vmwp/control.h"

#define BASE                                                                                                  \
        "{\"name\":\"hp\",\"id\":\"4b1e0000-0000-4000-8000-000000000001\",\"memory_mib\":64,\"vcpus\":2,"   \
        "\"boot\":{\"kernel\":\"/k\"},"                                                                       \
        "\"disks\":[{\"path\":\"/a.img\"},{\"path\":\"/cd.img\",\"bus\":\"ide\",\"read_only\":true},"        \
        "{\"path\":\"/b.vhdx\",\"lun\":1}],"                                                                   \
        "\"nics\":[{\"mac\":\"00:15:5d:00:00:01\",\"tap\":\"tap0\"}]}"

static struct vm_config *cfg;
static struct vmwp_hotplug h;
static char err[512];

static void load(const char *json) {
        free(cfg);
        cfg = malloc(sizeof *cfg);
        ASSERT_NOT_NULL(cfg);
        int r = vm_config_parse(json, strlen(json), cfg, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "config: %s\n", err);
        ASSERT_OK(r);
}

/* The errno (0 for ok) of req with n fds against cfg. */
static int parse(const char *req, size_t n_fds) {
        struct json_object *o = json_tokener_parse(req);
        ASSERT_NOT_NULL(o);
        int r = vmwp_control_parse_hotplug(cfg, o, n_fds, &h, err, sizeof err);
        json_object_put(o);
        if (r < 0)
                ASSERT_TRUE(err[0] != 0); /* always a sentence */
        return -r;
}

TEST(op_names) {
        struct json_object *o = json_tokener_parse("{\"op\":\"disk-resize\"}");
        ASSERT_EQ(vmwp_control_hotplug_op(o), VMWP_DISK_RESIZE);
        json_object_put(o);
        o = json_tokener_parse("{\"op\":\"disk-push\"}");
        ASSERT_EQ(vmwp_control_hotplug_op(o), VMWP_HOTPLUG_NONE);
        json_object_put(o);
        o = json_tokener_parse("[1]");
        ASSERT_EQ(vmwp_control_hotplug_op(o), VMWP_HOTPLUG_NONE);
        json_object_put(o);
        ASSERT_STREQ(vmwp_hotplug_op_name(VMWP_NIC_DETACH), "nic-detach");
}

TEST(disk_attach) {
        load(BASE);
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/n.img\",\"controller\":2,\"lun\":7}}", 1), 0);
        ASSERT_EQ(h.op, VMWP_DISK_ATTACH);
        ASSERT_EQ(h.index, 3u);
        ASSERT_STREQ(h.disk.path, "/n.img");
        ASSERT_EQ(h.disk.controller, 2u);
        ASSERT_EQ(h.disk.lun, 7u);
        ASSERT_EQ(h.disk.sector_size, 512u); /* the parse's defaults */
        ASSERT_EQ(h.disk.format, VM_DISK_RAW);
        ASSERT_EQ(h.parents, 0u);
        /* a differencing VHDX with its parents' fds after the image's */
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/c.avhdx\",\"lun\":2},\"parents\":2}", 3), 0);
        ASSERT_EQ(h.disk.format, VM_DISK_VHDX);
        ASSERT_EQ(h.parents, 2u);
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/c.avhdx\",\"lun\":2},\"parents\":2}", 2), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "got 2 fds"));
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/c.img\",\"lun\":2},\"parents\":1}", 2), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "only a VHDX"));
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/c.img\",\"lun\":2},\"parents\":17}", 18), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/c.img\",\"lun\":2},\"parents\":\"1\"}", 2), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/c.img\",\"lun\":2}}", 0), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":\"/c.img\"}", 1), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-attach\"}", 1), EINVAL);
}

TEST(disk_attach_refusals) {
        load(BASE);
        /* the configuration's own field checks, naming the field */
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/n.img\",\"sector_size\":1000}}", 1), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "sector_size"));
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/n.img\",\"lun\":64}}", 1), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/n.img\",\"colour\":1}}", 1), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"lun\":3}}", 1), EINVAL);
        /* clashes: controller 0 LUN 1 is /b.vhdx's, the image is /a.img */
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/n.img\",\"lun\":1}}", 1), EEXIST);
        ASSERT_NOT_NULL(strstr(err, "disks[2]"));
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/a.img\",\"lun\":5}}", 1), EEXIST);
        ASSERT_NOT_NULL(strstr(err, "disks[0]"));
        /* another controller's LUN 1 is free */
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/n.img\",\"lun\":1,\"controller\":3}}", 1), 0);
        /* emulated IDE has no hot plug */
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/n.img\",\"bus\":\"ide\",\"lun\":1}}", 1),
                  EOPNOTSUPP);
        ASSERT_NOT_NULL(strstr(err, "IDE"));
        /* VM_DISKS_MAX */
        char *big = malloc(VM_CONFIG_MAX_BYTES);
        ASSERT_NOT_NULL(big);
        int n = snprintf(big, VM_CONFIG_MAX_BYTES, "{\"name\":\"hp\",\"memory_mib\":64,\"boot\":{\"kernel\":\"/k\"},"
                                                   "\"disks\":[");
        for (unsigned i = 0; i < VM_DISKS_MAX; i++)
                n += snprintf(big + n, VM_CONFIG_MAX_BYTES - (size_t)n, "%s{\"path\":\"/d%u\",\"lun\":%u,\"controller\":%u}",
                              i ? "," : "", i, i % VM_SCSI_LUNS_MAX, i / VM_SCSI_LUNS_MAX);
        snprintf(big + n, VM_CONFIG_MAX_BYTES - (size_t)n, "]}");
        load(big);
        free(big);
        ASSERT_EQ(parse("{\"op\":\"disk-attach\",\"disk\":{\"path\":\"/n.img\",\"controller\":3}}", 1), ENOSPC);
}

TEST(disk_detach_and_resize) {
        load(BASE);
        ASSERT_EQ(parse("{\"op\":\"disk-detach\",\"disk\":2}", 0), 0);
        ASSERT_EQ(h.op, VMWP_DISK_DETACH);
        ASSERT_EQ(h.index, 2u);
        ASSERT_EQ(parse("{\"op\":\"disk-detach\",\"disk\":3}", 0), ENOENT);
        ASSERT_EQ(parse("{\"op\":\"disk-detach\",\"disk\":-1}", 0), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-detach\",\"disk\":\"0\"}", 0), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-detach\"}", 0), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-detach\",\"disk\":0}", 1), EINVAL); /* no fds */
        ASSERT_EQ(parse("{\"op\":\"disk-detach\",\"disk\":1}", 0), EOPNOTSUPP); /* IDE */
        ASSERT_EQ(parse("{\"op\":\"disk-resize\",\"disk\":0,\"size\":8388608}", 0), 0);
        ASSERT_EQ(h.op, VMWP_DISK_RESIZE);
        ASSERT_EQ(h.size, 8388608u);
        ASSERT_EQ(parse("{\"op\":\"disk-resize\",\"disk\":0,\"size\":8388609}", 0), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-resize\",\"disk\":0,\"size\":0}", 0), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-resize\",\"disk\":0}", 0), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-resize\",\"disk\":0,\"size\":1e9}", 0), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"disk-resize\",\"disk\":2,\"size\":8388608}", 0), 0); /* VHDX: grown in place */
        ASSERT_EQ(h.size, 8388608u);
        ASSERT_EQ(parse("{\"op\":\"disk-resize\",\"disk\":1,\"size\":8388608}", 0), EOPNOTSUPP); /* IDE */
        ASSERT_EQ(parse("{\"op\":\"disk-resize\",\"disk\":9,\"size\":8388608}", 0), ENOENT);
}

TEST(nic_attach_and_detach) {
        load(BASE);
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap1\"}}", 1), 0);
        ASSERT_EQ(h.op, VMWP_NIC_ATTACH);
        ASSERT_EQ(h.index, 1u);
        ASSERT_EQ(h.queues, 1u);
        ASSERT_STREQ(h.nic.tap, "tap1");
        ASSERT_EQ(h.nic.mtu, 1500u);
        /* the instance vmms's parse of its edited configuration derives */
        struct vm_config *two = malloc(sizeof *two);
        const char *two_json = "{\"name\":\"hp\",\"id\":\"4b1e0000-0000-4000-8000-000000000001\",\"memory_mib\":64,"
                               "\"vcpus\":2,\"boot\":{\"kernel\":\"/k\"},\"nics\":[{\"mac\":\"00:15:5d:00:00:01\","
                               "\"tap\":\"tap0\"},{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap1\"}]}";
        ASSERT_OK(vm_config_parse(two_json, strlen(two_json), two, err, sizeof err));
        ASSERT_TRUE(guid_equal(&h.nic.instance, &two->nics[1].instance));
        free(two);
        /* vRSS: up to the NIC's queues, at most one per vCPU (2) */
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap1\",\"queues\":4},"
                        "\"queues\":2}",
                        2),
                  0);
        ASSERT_EQ(h.queues, 2u);
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap1\",\"queues\":4},"
                        "\"queues\":3}",
                        3),
                  EINVAL);
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap1\"}}", 2), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap1\"},\"queues\":0}", 0),
                  EINVAL);
        /* the TAP comes from vmms: a NIC without one is refused */
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\"}}", 1), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"01:15:5d:00:00:02\",\"tap\":\"t\"}}", 1), EINVAL);
        /* clashes with nics[0] */
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:01\",\"tap\":\"tap1\"}}", 1), EEXIST);
        ASSERT_NOT_NULL(strstr(err, "MAC"));
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap0\"}}", 1), EEXIST);
        char s[GUID_STRING_MAX], req[300];
        snprintf(req, sizeof req,
                 "{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap1\",\"instance\":\"%s\"}}",
                 guid_to_string(&cfg->nics[0].instance, s));
        ASSERT_EQ(parse(req, 1), EEXIST);
        ASSERT_NOT_NULL(strstr(err, "instance"));
        ASSERT_EQ(parse("{\"op\":\"nic-detach\",\"nic\":0}", 0), 0);
        ASSERT_EQ(h.op, VMWP_NIC_DETACH);
        ASSERT_EQ(h.index, 0u);
        ASSERT_EQ(parse("{\"op\":\"nic-detach\",\"nic\":1}", 0), ENOENT);
        ASSERT_EQ(parse("{\"op\":\"nic-detach\",\"nic\":true}", 0), EINVAL);
        ASSERT_EQ(parse("{\"op\":\"nic-detach\",\"nic\":0}", 2), EINVAL);
}

TEST(nic_limits) {
        char json[4096];
        int n = snprintf(json, sizeof json, "{\"name\":\"hp\",\"memory_mib\":64,\"vcpus\":8,\"boot\":{\"kernel\":\"/k\"},"
                                            "\"nics\":[");
        for (unsigned i = 0; i < VM_NICS_MAX; i++)
                n += snprintf(json + n, sizeof json - (size_t)n, "%s{\"mac\":\"00:15:5d:00:01:%02x\",\"tap\":\"t%u\"}",
                              i ? "," : "", i, i);
        snprintf(json + n, sizeof json - (size_t)n, "]}");
        load(json);
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap9\"}}", 1), ENOSPC);
        /* four NICs of 8 queues: 32 in all, the most */
        n = snprintf(json, sizeof json, "{\"name\":\"hp\",\"memory_mib\":64,\"vcpus\":8,\"boot\":{\"kernel\":\"/k\"},"
                                        "\"nics\":[");
        for (unsigned i = 0; i < 4; i++)
                n += snprintf(json + n, sizeof json - (size_t)n,
                              "%s{\"mac\":\"00:15:5d:00:01:%02x\",\"tap\":\"t%u\",\"queues\":8}", i ? "," : "", i, i);
        snprintf(json + n, sizeof json - (size_t)n, "]}");
        load(json);
        ASSERT_EQ(parse("{\"op\":\"nic-attach\",\"nic\":{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap9\"}}", 1), ENOSPC);
        ASSERT_NOT_NULL(strstr(err, "queues"));
        free(cfg);
        cfg = NULL;
}

TEST_MAIN();
