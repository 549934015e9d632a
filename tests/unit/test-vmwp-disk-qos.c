// SPDX-License-Identifier: MIT
/* The worker's disk-qos request (common/proto.h, vmwp/control.h
 * vmwp_control_parse_disk_qos): checked against the configuration (a SCSI
 * or an IDE disk; a field left out keeps its value) with named errors for
 * bad settings, and routed by the dispatcher to its handler (the disk
 * library's side: tests/unit/test-disk-qos-queue.c). */
#include <json-c/json.h>
#include <stdlib.h>

#include "common/config.h"
#include "common/test.h"
#include "vmwp/control.h"

#define BASE                                                                                                  \
        "{\"name\":\"q\",\"memory_mib\":64,\"vcpus\":2,\"boot\":{\"kernel\":\"/k\"},"                          \
        "\"disks\":[{\"path\":\"/a.img\",\"qos\":{\"max_iops\":800,\"min_iops\":50}},"                          \
        "{\"path\":\"/cd.img\",\"bus\":\"ide\"}]}"

static struct vm_config *cfg;
static char err[512];
static uint32_t disk;
static struct vm_disk_qos q;

static int parse(const char *req) {
        if (!cfg) {
                cfg = malloc(sizeof *cfg);
                ASSERT_NOT_NULL(cfg);
                ASSERT_OK(vm_config_parse(BASE, strlen(BASE), cfg, err, sizeof err));
        }
        struct json_object *o = json_tokener_parse(req);
        ASSERT_NOT_NULL(o);
        err[0] = 0;
        int r = vmwp_control_parse_disk_qos(cfg, o, &disk, &q, err, sizeof err);
        json_object_put(o);
        if (r < 0)
                ASSERT_TRUE(err[0] != 0);
        return -r;
}

TEST(accepted_and_merged_with_the_configuration) {
        ASSERT_EQ(parse("{\"op\":\"disk-qos\",\"disk\":0,\"max_iops\":500}"), 0);
        ASSERT_EQ(disk, 0u);
        ASSERT_EQ(q.max_iops, 500u);
        ASSERT_EQ(q.min_iops, 50u); /* kept */
        ASSERT_EQ(q.max_bytes_per_s, 0u);
        /* an IDE disk too: the disk library enforces it under both */
        ASSERT_EQ(parse("{\"op\":\"disk-qos\",\"disk\":1,\"max_bytes_per_s\":1048576,\"min_iops\":0}"), 0);
        ASSERT_EQ(disk, 1u);
        ASSERT_EQ(q.max_bytes_per_s, 1048576u);
        /* all zero: none */
        ASSERT_EQ(parse("{\"disk\":0,\"max_iops\":0,\"min_iops\":0}"), 0);
        ASSERT_EQ(q.max_iops, 0u);
        ASSERT_EQ(q.min_iops, 0u);
}

TEST(bad_settings_named_and_nothing_taken) {
        q = (struct vm_disk_qos){ .max_iops = 12345 };
        ASSERT_EQ(parse("{\"disk\":0,\"max_iops\":40}"), EINVAL); /* below the configured minimum 50 */
        ASSERT_STREQ(err, "disks[0].qos.min_iops: is above max_iops (a minimum the maximum forbids)");
        ASSERT_EQ(q.max_iops, 12345u); /* out untouched */
        ASSERT_EQ(parse("{\"disk\":0,\"max_iops\":-1}"), EINVAL);
        ASSERT_STREQ(err, "\"max_iops\" must be a non-negative integer (0: none)");
        ASSERT_EQ(parse("{\"disk\":0,\"min_iops\":\"5\"}"), EINVAL);
        ASSERT_EQ(parse("{\"disk\":0,\"max_bytes_per_s\":1.5}"), EINVAL);
        ASSERT_EQ(parse("{\"disk\":0,\"max_iops\":10000001}"), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "disks[0].qos.max_iops: must be at most 10000000"));
        ASSERT_EQ(parse("{\"disk\":0,\"max_bytes_per_s\":99999999999999999}"), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "disks[0].qos.max_bytes_per_s"));
        ASSERT_EQ(parse("{\"disk\":2,\"max_iops\":5}"), ENOENT);
        ASSERT_EQ(parse("{\"disk\":-1}"), EINVAL);
        ASSERT_EQ(parse("{\"max_iops\":5}"), EINVAL);
        ASSERT_EQ(parse("[1]"), EINVAL);
        ASSERT_EQ(cfg->disks[0].qos.max_iops, 800u); /* the parse never writes the configuration */
}

static int calls;
static struct json_object *handler(void *opaque, struct vmwp_request *rq) {
        (void)opaque;
        calls++;
        return vmwp_control_reply(rq, 0, "");
}

TEST(dispatched_to_its_handler) {
        const struct vmwp_control_ops with = { .disk_qos = handler }, without = { 0 };
        struct json_object *req = json_tokener_parse("{\"op\":\"disk-qos\",\"id\":3,\"disk\":0,\"max_iops\":1}");
        const char *state;
        struct json_object *rep = vmwp_control_handle(&with, NULL, req, NULL, 0, &state), *v;
        ASSERT_EQ(calls, 1);
        ASSERT_TRUE(json_object_object_get_ex(rep, "ok", &v) && json_object_get_boolean(v));
        json_object_put(rep);
        rep = vmwp_control_handle(&without, NULL, req, NULL, 0, &state);
        ASSERT_TRUE(json_object_object_get_ex(rep, "errno", &v));
        ASSERT_EQ(json_object_get_int(v), EOPNOTSUPP);
        json_object_put(rep);
        json_object_put(req);
}

TEST_MAIN();
