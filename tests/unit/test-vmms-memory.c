// SPDX-License-Identifier: MIT
/* Dynamic Memory in vmms (vmms/dm/balancer.c, docs/dynamic-memory.md): the
 * worker's status as vmms reads it, and the balancer: demand plus buffer,
 * operator targets, weights when the host's memory is short, buffers
 * given up by the lightest VMs when the host needs memory back, minimum
 * and maximum always held. */
#include <json-c/json.h>

#include "common/macro.h"
#include "common/test.h"
#include "vmms/memory.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static int parse(const char *text, struct vmms_dm_status *s) {
        struct json_object *o = json_tokener_parse(text);
        ASSERT_NOT_NULL(o);
        int r = vmms_dm_status_parse(o, s);
        json_object_put(o);
        return r;
}

TEST(status_parse) {
        struct vmms_dm_status s;
        ASSERT_OK(parse("{\"connected\":true,\"startup_bytes\":536870912,\"maximum_bytes\":2147483648,"
                        "\"assigned_bytes\":805306368,\"target_bytes\":805306368,\"ballooned_bytes\":0,"
                        "\"hot_added_bytes\":268435456,\"reported\":true,\"demand_bytes\":629145600,"
                        "\"available_bytes\":104857600,\"report_age_ms\":700,\"can_balloon\":true,"
                        "\"can_hot_add\":true,\"operation\":\"hot-add\",\"note\":\"\",\"future_field\":[1]}",
                        &s));
        ASSERT_TRUE(s.connected);
        ASSERT_EQ(s.assigned, 768 * MiB);
        ASSERT_EQ(s.hot_added, 256 * MiB);
        ASSERT_EQ(s.demand, 600 * MiB);
        ASSERT_EQ(s.report_age_ms, 700u);
        ASSERT_STREQ(s.operation, "hot-add");
        /* what a worker may not say */
        ASSERT_ERROR(parse("{\"assigned_bytes\":-4096}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"assigned_bytes\":4097,\"maximum_bytes\":8192}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"assigned_bytes\":\"1G\"}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"assigned_bytes\":8192,\"maximum_bytes\":4096}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"maximum_bytes\":2251799813685248}", &s), EINVAL); /* 2^51 */
        ASSERT_ERROR(parse("{\"operation\":\"steal\"}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"connected\":1}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"report_age_ms\":-1}", &s), EINVAL);
        ASSERT_ERROR(parse("[]", &s), EINVAL);
        char big[300];
        snprintf(big, sizeof big, "{\"note\":\"%0200d\"}", 0);
        ASSERT_ERROR(parse(big, &s), EINVAL);
        ASSERT_OK(parse("{}", &s)); /* an older worker: zeros */
        ASSERT_FALSE(s.connected);
}

static struct vmms_dm_vm vm(uint64_t min, uint64_t max, uint64_t assigned, uint64_t demand, uint32_t weight) {
        return (struct vmms_dm_vm){ .minimum = min, .maximum = max, .buffer_percent = 20, .weight = weight,
                                    .reported = true, .assigned = assigned, .demand = demand };
}

TEST(demand_plus_buffer_when_the_host_has_room) {
        struct vmms_dm_vm v[2] = { vm(256 * MiB, 2 * GiB, 512 * MiB, 1000 * MiB, 5000),
                                   vm(256 * MiB, 2 * GiB, 1 * GiB, 100 * MiB, 5000) };
        uint64_t t[2];
        vmms_dm_balance(v, 2, 8 * GiB, t);
        ASSERT_EQ(t[0], 1200 * MiB); /* 1000 + 20 % */
        ASSERT_EQ(t[1], 256 * MiB);  /* 120 MiB: the minimum */
        /* clamped to the maximum; steps of 2 MiB */
        v[0].demand = 3 * GiB;
        v[1].demand = 333 * MiB;
        vmms_dm_balance(v, 2, 8 * GiB, t);
        ASSERT_EQ(t[0], 2 * GiB);
        ASSERT_EQ(t[1], 400 * MiB); /* 399.6 up to the next 2 MiB */
        /* no report yet: it keeps what it has */
        v[0].reported = false;
        vmms_dm_balance(v, 2, 8 * GiB, t);
        ASSERT_EQ(t[0], 512 * MiB);
}

TEST(the_operator_target_wins_and_is_clamped) {
        struct vmms_dm_vm v[1] = { vm(256 * MiB, 2 * GiB, 512 * MiB, 1000 * MiB, 5000) };
        uint64_t t[1];
        v[0].manual = 300 * MiB;
        vmms_dm_balance(v, 1, 8 * GiB, t);
        ASSERT_EQ(t[0], 300 * MiB);
        v[0].manual = 100 * MiB;
        vmms_dm_balance(v, 1, 8 * GiB, t);
        ASSERT_EQ(t[0], 256 * MiB);
        /* never taken below it when the host is short */
        v[0].manual = 1 * GiB;
        v[0].assigned = 1 * GiB;
        vmms_dm_balance(v, 1, -(int64_t)(4 * GiB), t);
        ASSERT_EQ(t[0], 1 * GiB);
}

TEST(short_host_memory_goes_to_the_heaviest_first) {
        /* both want 600 MiB more; 700 MiB are free */
        struct vmms_dm_vm v[3] = { vm(256 * MiB, 4 * GiB, 1 * GiB, 1365 * MiB, 100),
                                   vm(256 * MiB, 4 * GiB, 1 * GiB, 1365 * MiB, 9000),
                                   vm(256 * MiB, 4 * GiB, 1 * GiB, 1365 * MiB, 5000) };
        uint64_t t[3];
        vmms_dm_balance(v, 3, 700 * MiB, t);
        ASSERT_EQ(t[1], 1638 * MiB); /* the heaviest: all it wants */
        ASSERT_EQ(t[2], 1 * GiB + 86 * MiB); /* the 86 MiB left */
        ASSERT_EQ(t[0], 1 * GiB);    /* the lightest: nothing */
        /* memory a VM gives up goes to the others in the same round */
        v[0].demand = 100 * MiB;
        vmms_dm_balance(v, 3, 0, t);
        ASSERT_EQ(t[0], 256 * MiB);
        ASSERT_EQ(t[1], 1638 * MiB);
        ASSERT_EQ(t[2], 1 * GiB + 154 * MiB); /* 768 given up, 614 to the heaviest */
}

TEST(a_host_that_needs_memory_back_takes_the_lightest_buffers_first) {
        struct vmms_dm_vm v[2] = { vm(256 * MiB, 4 * GiB, 1200 * MiB, 1000 * MiB, 100),
                                   vm(256 * MiB, 4 * GiB, 1200 * MiB, 1000 * MiB, 9000) };
        uint64_t t[2];
        vmms_dm_balance(v, 2, -(int64_t)(150 * MiB), t);
        ASSERT_EQ(t[0], 1050 * MiB); /* the light one: 150 of its 200 MiB buffer */
        ASSERT_EQ(t[1], 1200 * MiB);
        vmms_dm_balance(v, 2, -(int64_t)(300 * MiB), t);
        ASSERT_EQ(t[0], 1000 * MiB); /* down to its demand, never below */
        ASSERT_EQ(t[1], 1100 * MiB);
        vmms_dm_balance(v, 2, -(int64_t)(100 * GiB), t);
        ASSERT_EQ(t[0], 1000 * MiB);
        ASSERT_EQ(t[1], 1000 * MiB);
}

TEST(absurd_reports_stay_within_each_vm) {
        struct vmms_dm_vm v[2] = { vm(256 * MiB, 2 * GiB, 1 * GiB, UINT64_MAX, 10000),
                                   vm(256 * MiB, 1 * GiB, 512 * MiB, 0, 0) };
        v[1].buffer_percent = 2000;
        uint64_t t[2];
        vmms_dm_balance(v, 2, INT64_MAX, t);
        ASSERT_EQ(t[0], 2 * GiB);
        ASSERT_EQ(t[1], 256 * MiB);
        vmms_dm_balance(v, 2, INT64_MIN, t);
        ASSERT_GE(t[0], 256 * MiB);
        ASSERT_LE(t[0], 2 * GiB);
        vmms_dm_balance(NULL, 0, 0, NULL); /* no VM */
}

TEST_MAIN();
