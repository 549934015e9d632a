// SPDX-License-Identifier: MIT
/* A disk's Storage QoS in the configuration (common/config.h,
 * vm_disk_qos): parsed, written back out only when set, and bad settings
 * (a minimum above the maximum, negative, absurd, not a number, an
 * unknown field) refused with an error that names the field. */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/test.h"

#define HEAD "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d.img\""

static struct vm_config *parse(const char *json, int *r, char *err, size_t errlen) {
        struct vm_config *c = malloc(sizeof *c);
        ASSERT_NOT_NULL(c);
        *r = vm_config_parse(json, strlen(json), c, err, errlen);
        return c;
}

TEST(qos_parsed_and_written_back) {
        char err[256];
        int r;
        struct vm_config *c = parse(HEAD ",\"qos\":{\"max_iops\":500,\"min_iops\":100,\"max_bytes_per_s\":"
                                         "10485760}},{\"path\":\"/e.img\",\"lun\":1}]}",
                                    &r, err, sizeof err);
        ASSERT_OK(r);
        ASSERT_EQ(c->disks[0].qos.max_iops, 500u);
        ASSERT_EQ(c->disks[0].qos.min_iops, 100u);
        ASSERT_EQ(c->disks[0].qos.max_bytes_per_s, 10485760u);
        ASSERT_EQ(c->disks[1].qos.max_iops, 0u); /* none: unlimited */
        char *text = vm_config_to_json(c);
        struct vm_config *c2 = parse(text, &r, err, sizeof err);
        ASSERT_OK(r);
        ASSERT_MEMEQ(&c2->disks[0].qos, &c->disks[0].qos, sizeof c->disks[0].qos);
        /* only the disk that has QoS carries the object */
        const char *first = strstr(text, "\"qos\"");
        ASSERT_NULL(strstr(first + 1, "\"qos\""));
        free(text);
        free(c2);
        free(c);
}

static void refused(const char *qos, const char *msg) {
        char json[512], err[256] = "";
        int r;
        snprintf(json, sizeof json, HEAD ",\"qos\":%s}]}", qos);
        struct vm_config *c = parse(json, &r, err, sizeof err);
        if (r != -EINVAL || !strstr(err, msg))
                fprintf(stderr, "for %s\n  got %d \"%s\", want \"%s\"\n", qos, r, err, msg);
        ASSERT_ERROR(r, EINVAL);
        ASSERT_NOT_NULL(strstr(err, msg));
        free(c);
}

TEST(qos_bad_settings_named) {
        refused("{\"max_iops\":100,\"min_iops\":200}", "disks[0].qos.min_iops: is above max_iops");
        refused("{\"max_iops\":-1}", "disks[0].qos.max_iops: must not be negative");
        refused("{\"min_iops\":-5}", "disks[0].qos.min_iops: must not be negative");
        refused("{\"max_bytes_per_s\":-1}", "disks[0].qos.max_bytes_per_s: must not be negative");
        refused("{\"max_iops\":10000001}", "disks[0].qos.max_iops: must be at most 10000000");
        refused("{\"max_iops\":18446744073709551615}", "disks[0].qos.max_iops: must be at most");
        refused("{\"max_bytes_per_s\":1000000000001}", "disks[0].qos.max_bytes_per_s: must be at most");
        refused("{\"max_iops\":\"500\"}", "disks[0].qos.max_iops: must be an integer");
        refused("{\"max_iops\":1.5}", "disks[0].qos.max_iops: must be an integer");
        refused("{\"maxiops\":500}", "disks[0].qos.maxiops: unknown field");
        refused("500", "disks[0].qos: must be an object");
}

TEST(qos_minimum_without_maximum_is_allowed) {
        char err[256];
        int r;
        struct vm_config *c = parse(HEAD ",\"qos\":{\"min_iops\":300}}]}", &r, err, sizeof err);
        ASSERT_OK(r);
        ASSERT_EQ(c->disks[0].qos.min_iops, 300u);
        ASSERT_EQ(c->disks[0].qos.max_iops, 0u);
        free(c);
}

TEST(qos_check_function) {
        const char *field;
        struct vm_disk_qos ok = { .max_iops = 500, .min_iops = 500 }, bad = { .max_iops = 5, .min_iops = 6 };
        ASSERT_NULL(vm_disk_qos_invalid(&ok, &field));
        ASSERT_NOT_NULL(vm_disk_qos_invalid(&bad, &field));
        ASSERT_EQ(strcmp(field, "min_iops"), 0);
}

TEST_MAIN();
