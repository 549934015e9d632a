// SPDX-License-Identifier: MIT
/* migrate-send's options (vmwp/migrate.c) and auto-converge's throttle
 * steps, both pure (docs/migration.md, "Convergence"). */
#include <errno.h>
#include <json-c/json.h>

#include "common/test.h"
#include "vmwp/migrate.h"

static int parse(const char *json, struct vmwp_migrate_options *o, char *err, size_t errlen) {
        struct json_object *req = json_tokener_parse(json);
        ASSERT_NOT_NULL(req);
        int r = vmwp_migrate_options_parse(req, o, err, errlen);
        json_object_put(req);
        return r;
}

TEST(auto_converge_is_on_by_default_and_a_boolean) {
        struct vmwp_migrate_options o;
        char err[256];
        ASSERT_OK(parse("{\"op\":\"migrate-send\"}", &o, err, sizeof err));
        ASSERT_TRUE(o.auto_converge);
        ASSERT_EQ(o.max_downtime_ms, 300u);
        ASSERT_OK(parse("{\"auto_converge\":false,\"max_downtime_ms\":5}", &o, err, sizeof err));
        ASSERT_FALSE(o.auto_converge);
        ASSERT_EQ(o.max_downtime_ms, 5u);
        ASSERT_OK(parse("{\"auto_converge\":true}", &o, err, sizeof err));
        ASSERT_TRUE(o.auto_converge);
        const char *bad[] = { "{\"auto_converge\":1}", "{\"auto_converge\":\"false\"}", "{\"auto_converge\":null}",
                              "{\"auto_converge\":[true]}" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                ASSERT_ERROR(parse(bad[i], &o, err, sizeof err), EINVAL);
                ASSERT_STREQ(err, "\"auto_converge\" must be true or false");
        }
        ASSERT_ERROR(parse("{\"max_passes\":true}", &o, err, sizeof err), EINVAL);
}

TEST(copy_disks_is_off_by_default_and_a_boolean) {
        struct vmwp_migrate_options o;
        char err[256];
        ASSERT_OK(parse("{}", &o, err, sizeof err));
        ASSERT_FALSE(o.copy_disks);
        ASSERT_OK(parse("{\"copy_disks\":true}", &o, err, sizeof err));
        ASSERT_TRUE(o.copy_disks);
        ASSERT_TRUE(o.auto_converge);
        ASSERT_ERROR(parse("{\"copy_disks\":\"yes\"}", &o, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "\"copy_disks\" must be true or false");
}

TEST(postcopy_is_off_by_default_and_a_boolean) {
        struct vmwp_migrate_options o;
        char err[256];
        ASSERT_OK(parse("{}", &o, err, sizeof err));
        ASSERT_FALSE(o.postcopy);
        ASSERT_OK(parse("{\"postcopy\":true,\"max_passes\":2}", &o, err, sizeof err));
        ASSERT_TRUE(o.postcopy);
        ASSERT_EQ(o.max_passes, 2u);
        ASSERT_ERROR(parse("{\"postcopy\":1}", &o, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "\"postcopy\" must be true or false");
}

TEST(throttle_steps_like_cpu_throttle) {
        const uint64_t ms = 1000000, budget = 5 * ms;
        /* Fits: nothing changes, whatever the trend. */
        ASSERT_EQ(vmwp_migrate_throttle_next(0, 2 * ms, 4 * ms, budget), 0u);
        ASSERT_EQ(vmwp_migrate_throttle_next(40, 2 * ms, 5 * ms, budget), 40u);
        /* After pass 1 there is no trend yet. */
        ASSERT_EQ(vmwp_migrate_throttle_next(0, 0, 50 * ms, budget), 0u);
        /* Above the budget and not clearly falling: 20, +10, at most 99. */
        ASSERT_EQ(vmwp_migrate_throttle_next(0, 50 * ms, 50 * ms, budget), 20u);
        ASSERT_EQ(vmwp_migrate_throttle_next(20, 50 * ms, 60 * ms, budget), 30u);
        ASSERT_EQ(vmwp_migrate_throttle_next(20, 50 * ms, 40 * ms, budget), 30u); /* 80 %: not clearly */
        ASSERT_EQ(vmwp_migrate_throttle_next(90, 50 * ms, 50 * ms, budget), 99u);
        ASSERT_EQ(vmwp_migrate_throttle_next(99, 50 * ms, 50 * ms, budget), 99u);
        /* Falling clearly (below 3/4): wait for the next pass. */
        ASSERT_EQ(vmwp_migrate_throttle_next(30, 50 * ms, 30 * ms, budget), 30u);
        ASSERT_EQ(vmwp_migrate_throttle_next(0, 50 * ms, 37 * ms, budget), 0u);
}

TEST_MAIN()
