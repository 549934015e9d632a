// SPDX-License-Identifier: MIT
/* The worker's disk-qos and nic-qos requests (common/proto.h,
 * vmwp/control.h vmwp_control_parse_disk_qos, vmwp_control_parse_nic_qos):
 * checked against the configuration (a SCSI or an IDE disk, any NIC; a
 * field left out keeps its value) with named errors for bad settings, and
 * routed by the dispatcher to their handlers (the disk library's side:
 * tests/unit/test-disk-qos-queue.c; netvsp's: tests/unit/test-netvsp-qos.c). */
#include <json-c/json.h>
#include <stdlib.h>

#include "common/config.h"
#include "common/test.h"
#include "vmwp/control.h"

#define BASE                                                                                                  \
        "{\"name\":\"q\",\"memory_mib\":64,\"vcpus\":2,\"boot\":{\"kernel\":\"/k\"},"                          \
        "\"disks\":[{\"path\":\"/a.img\",\"qos\":{\"max_iops\":800,\"min_iops\":50}},"                          \
        "{\"path\":\"/cd.img\",\"bus\":\"ide\"}],"                                                                 \
        "\"nics\":[{\"mac\":\"00:15:5d:00:00:01\",\"qos\":{\"max_in_bps\":100000000}},"                         \
        "{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"adm0\"}]}"

static struct vm_config *cfg;
static char err[512];
static uint32_t disk, nic;
static struct vm_disk_qos dq;
static struct vm_nic_qos nq;

/* The request as JSON, the configuration parsed once, err cleared. */
static struct json_object *request(const char *req) {
        if (!cfg) {
                cfg = malloc(sizeof *cfg);
                ASSERT_NOT_NULL(cfg);
                ASSERT_OK(vm_config_parse(BASE, strlen(BASE), cfg, err, sizeof err));
        }
        struct json_object *o = json_tokener_parse(req);
        ASSERT_NOT_NULL(o);
        err[0] = 0;
        return o;
}

/* A parse's result as a positive errno (0: accepted); a refusal says why. */
static int result(struct json_object *o, int r) {
        json_object_put(o);
        if (r < 0)
                ASSERT_TRUE(err[0] != 0);
        return -r;
}

static int parse_disk(const char *req) {
        struct json_object *o = request(req);
        return result(o, vmwp_control_parse_disk_qos(cfg, o, &disk, &dq, err, sizeof err));
}

static int parse_nic(const char *req) {
        struct json_object *o = request(req);
        return result(o, vmwp_control_parse_nic_qos(cfg, o, &nic, &nq, err, sizeof err));
}

TEST(disk_accepted_and_merged_with_the_configuration) {
        ASSERT_EQ(parse_disk("{\"op\":\"disk-qos\",\"disk\":0,\"max_iops\":500}"), 0);
        ASSERT_EQ(disk, 0u);
        ASSERT_EQ(dq.max_iops, 500u);
        ASSERT_EQ(dq.min_iops, 50u); /* kept */
        ASSERT_EQ(dq.max_bytes_per_s, 0u);
        /* an IDE disk too: the disk library enforces it under both */
        ASSERT_EQ(parse_disk("{\"op\":\"disk-qos\",\"disk\":1,\"max_bytes_per_s\":1048576,\"min_iops\":0}"), 0);
        ASSERT_EQ(disk, 1u);
        ASSERT_EQ(dq.max_bytes_per_s, 1048576u);
        /* all zero: none */
        ASSERT_EQ(parse_disk("{\"disk\":0,\"max_iops\":0,\"min_iops\":0}"), 0);
        ASSERT_EQ(dq.max_iops, 0u);
        ASSERT_EQ(dq.min_iops, 0u);
}

TEST(disk_bad_settings_named_and_nothing_taken) {
        dq = (struct vm_disk_qos){ .max_iops = 12345 };
        ASSERT_EQ(parse_disk("{\"disk\":0,\"max_iops\":40}"), EINVAL); /* below the configured minimum 50 */
        ASSERT_STREQ(err, "disks[0].qos.min_iops: is above max_iops (a minimum the maximum forbids)");
        ASSERT_EQ(dq.max_iops, 12345u); /* out untouched */
        ASSERT_EQ(parse_disk("{\"disk\":0,\"max_iops\":-1}"), EINVAL);
        ASSERT_STREQ(err, "\"max_iops\" must be a non-negative integer (0: none)");
        ASSERT_EQ(parse_disk("{\"disk\":0,\"min_iops\":\"5\"}"), EINVAL);
        ASSERT_EQ(parse_disk("{\"disk\":0,\"max_bytes_per_s\":1.5}"), EINVAL);
        ASSERT_EQ(parse_disk("{\"disk\":0,\"max_iops\":10000001}"), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "disks[0].qos.max_iops: must be at most 10000000"));
        ASSERT_EQ(parse_disk("{\"disk\":0,\"max_bytes_per_s\":99999999999999999}"), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "disks[0].qos.max_bytes_per_s"));
        ASSERT_EQ(parse_disk("{\"disk\":2,\"max_iops\":5}"), ENOENT);
        ASSERT_EQ(parse_disk("{\"disk\":-1}"), EINVAL);
        ASSERT_EQ(parse_disk("{\"max_iops\":5}"), EINVAL);
        ASSERT_EQ(parse_disk("[1]"), EINVAL);
        ASSERT_EQ(cfg->disks[0].qos.max_iops, 800u); /* the parse never writes the configuration */
}

TEST(nic_accepted_and_merged_with_the_configuration) {
        ASSERT_EQ(parse_nic("{\"op\":\"nic-qos\",\"nic\":0,\"max_out_bps\":20000000}"), 0);
        ASSERT_EQ(nic, 0u);
        ASSERT_EQ(nq.max_in_bps, 100000000u); /* kept */
        ASSERT_EQ(nq.max_out_bps, 20000000u);
        /* a TAP the admin made: netvsp enforces the caps, whoever made the TAP */
        ASSERT_EQ(parse_nic("{\"nic\":1,\"max_in_bps\":1000000,\"max_out_bps\":1000000000000}"), 0);
        ASSERT_EQ(nic, 1u);
        ASSERT_EQ(nq.max_in_bps, 1000000u);
        ASSERT_EQ(parse_nic("{\"nic\":0,\"max_in_bps\":0}"), 0); /* 0: no cap */
        ASSERT_EQ(nq.max_in_bps, 0u);
}

TEST(nic_bad_settings_named_and_nothing_taken) {
        nq = (struct vm_nic_qos){ .max_in_bps = 12345 };
        ASSERT_EQ(parse_nic("{\"nic\":0,\"max_in_bps\":999999}"), EINVAL);
        ASSERT_STREQ(err, "nics[0].qos.max_in_bps: must be 0 (no cap) or 1000000..1000000000000 bits/s (1 "
                          "Mbit/s..1 Tbit/s)");
        ASSERT_EQ(nq.max_in_bps, 12345u); /* out untouched */
        ASSERT_EQ(parse_nic("{\"nic\":0,\"max_out_bps\":-1}"), EINVAL);
        ASSERT_STREQ(err, "\"max_out_bps\" must be a non-negative integer (0: no cap)");
        ASSERT_EQ(parse_nic("{\"nic\":0,\"max_out_bps\":\"5\"}"), EINVAL);
        ASSERT_EQ(parse_nic("{\"nic\":0,\"max_in_bps\":1.5e8}"), EINVAL);
        ASSERT_EQ(parse_nic("{\"nic\":0,\"max_out_bps\":1000000000001}"), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "nics[0].qos.max_out_bps"));
        ASSERT_EQ(parse_nic("{\"nic\":2,\"max_in_bps\":5000000}"), ENOENT);
        ASSERT_EQ(parse_nic("{\"nic\":-1}"), EINVAL);
        ASSERT_EQ(parse_nic("{\"max_in_bps\":5000000}"), EINVAL);
        ASSERT_EQ(parse_nic("[1]"), EINVAL);
        ASSERT_EQ(cfg->nics[0].qos.max_in_bps, 100000000u); /* the parse never writes the configuration */
}

static int calls;
static struct json_object *handler(void *opaque, struct vmwp_request *rq) {
        (void)opaque;
        calls++;
        return vmwp_control_reply(rq, 0, "");
}

/* req reaches its handler in `with` once, and a worker without one
 * answers EOPNOTSUPP. */
static void dispatched(const struct vmwp_control_ops *with, const char *text) {
        const struct vmwp_control_ops without = { 0 };
        struct json_object *req = json_tokener_parse(text);
        const char *state;
        calls = 0;
        struct json_object *rep = vmwp_control_handle(with, NULL, req, NULL, 0, &state), *v;
        ASSERT_EQ(calls, 1);
        ASSERT_TRUE(json_object_object_get_ex(rep, "ok", &v) && json_object_get_boolean(v));
        json_object_put(rep);
        rep = vmwp_control_handle(&without, NULL, req, NULL, 0, &state);
        ASSERT_TRUE(json_object_object_get_ex(rep, "errno", &v));
        ASSERT_EQ(json_object_get_int(v), EOPNOTSUPP);
        json_object_put(rep);
        json_object_put(req);
}

TEST(disk_dispatched_to_its_handler) {
        const struct vmwp_control_ops with = { .disk_qos = handler };
        dispatched(&with, "{\"op\":\"disk-qos\",\"id\":3,\"disk\":0,\"max_iops\":1}");
}

TEST(nic_dispatched_to_its_handler) {
        const struct vmwp_control_ops with = { .nic_qos = handler };
        dispatched(&with, "{\"op\":\"nic-qos\",\"id\":3,\"nic\":0,\"max_in_bps\":1000000}");
}

TEST_MAIN();
