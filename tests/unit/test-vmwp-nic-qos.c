// SPDX-License-Identifier: MIT
/* The worker's nic-qos request (common/proto.h, vmwp/control.h
 * vmwp_control_parse_nic_qos): checked against the configuration (a field
 * left out keeps its value) with named errors for bad settings, and
 * routed by the dispatcher to its handler (netvsp's side:
 * tests/unit/test-netvsp-qos.c). */
#include <json-c/json.h>
#include <stdlib.h>

#include "common/config.h"
#include "common/test.h"
#include "vmwp/control.h"

#define BASE                                                                                                  \
        "{\"name\":\"q\",\"memory_mib\":64,\"vcpus\":2,\"boot\":{\"kernel\":\"/k\"},"                          \
        "\"nics\":[{\"mac\":\"00:15:5d:00:00:01\",\"qos\":{\"max_in_bps\":100000000}},"                         \
        "{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"adm0\"}]}"

static struct vm_config *cfg;
static char err[512];
static uint32_t nic;
static struct vm_nic_qos q;

static int parse(const char *req) {
        if (!cfg) {
                cfg = malloc(sizeof *cfg);
                ASSERT_NOT_NULL(cfg);
                ASSERT_OK(vm_config_parse(BASE, strlen(BASE), cfg, err, sizeof err));
        }
        struct json_object *o = json_tokener_parse(req);
        ASSERT_NOT_NULL(o);
        err[0] = 0;
        int r = vmwp_control_parse_nic_qos(cfg, o, &nic, &q, err, sizeof err);
        json_object_put(o);
        if (r < 0)
                ASSERT_TRUE(err[0] != 0);
        return -r;
}

TEST(accepted_and_merged_with_the_configuration) {
        ASSERT_EQ(parse("{\"op\":\"nic-qos\",\"nic\":0,\"max_out_bps\":20000000}"), 0);
        ASSERT_EQ(nic, 0u);
        ASSERT_EQ(q.max_in_bps, 100000000u); /* kept */
        ASSERT_EQ(q.max_out_bps, 20000000u);
        /* a TAP the admin made: netvsp enforces the caps, whoever made the TAP */
        ASSERT_EQ(parse("{\"nic\":1,\"max_in_bps\":1000000,\"max_out_bps\":1000000000000}"), 0);
        ASSERT_EQ(nic, 1u);
        ASSERT_EQ(q.max_in_bps, 1000000u);
        ASSERT_EQ(parse("{\"nic\":0,\"max_in_bps\":0}"), 0); /* 0: no cap */
        ASSERT_EQ(q.max_in_bps, 0u);
}

TEST(bad_settings_named_and_nothing_taken) {
        q = (struct vm_nic_qos){ .max_in_bps = 12345 };
        ASSERT_EQ(parse("{\"nic\":0,\"max_in_bps\":999999}"), EINVAL);
        ASSERT_STREQ(err, "nics[0].qos.max_in_bps: must be 0 (no cap) or 1000000..1000000000000 bits/s (1 "
                          "Mbit/s..1 Tbit/s)");
        ASSERT_EQ(q.max_in_bps, 12345u); /* out untouched */
        ASSERT_EQ(parse("{\"nic\":0,\"max_out_bps\":-1}"), EINVAL);
        ASSERT_STREQ(err, "\"max_out_bps\" must be a non-negative integer (0: no cap)");
        ASSERT_EQ(parse("{\"nic\":0,\"max_out_bps\":\"5\"}"), EINVAL);
        ASSERT_EQ(parse("{\"nic\":0,\"max_in_bps\":1.5e8}"), EINVAL);
        ASSERT_EQ(parse("{\"nic\":0,\"max_out_bps\":1000000000001}"), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "nics[0].qos.max_out_bps"));
        ASSERT_EQ(parse("{\"nic\":2,\"max_in_bps\":5000000}"), ENOENT);
        ASSERT_EQ(parse("{\"nic\":-1}"), EINVAL);
        ASSERT_EQ(parse("{\"max_in_bps\":5000000}"), EINVAL);
        ASSERT_EQ(parse("[1]"), EINVAL);
        ASSERT_EQ(cfg->nics[0].qos.max_in_bps, 100000000u); /* the parse never writes the configuration */
}

static int calls;
static struct json_object *handler(void *opaque, struct vmwp_request *rq) {
        (void)opaque;
        calls++;
        return vmwp_control_reply(rq, 0, "");
}

TEST(dispatched_to_its_handler) {
        const struct vmwp_control_ops with = { .nic_qos = handler }, without = { 0 };
        struct json_object *req = json_tokener_parse("{\"op\":\"nic-qos\",\"id\":3,\"nic\":0,\"max_in_bps\":1000000}");
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
