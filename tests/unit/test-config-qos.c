// SPDX-License-Identifier: MIT
/* A disk's Storage QoS and a NIC's bandwidth caps in the configuration
 * (common/config.h, vm_disk_qos, vm_nic_qos): parsed, written back out
 * only when set, and bad settings refused with an error that names the
 * field (disks: a minimum above the maximum, negative, absurd, not a
 * number, an unknown field; NICs: below 1 Mbit/s, above 1 Tbit/s,
 * negative, not a number, an unknown field). */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/test.h"

#define DISK_HEAD "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d.img\""
#define NIC_HEAD "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"nics\":[{\"mac\":\"00:15:5d:00:00:01\""

static struct vm_config *parse(const char *json, int *r, char *err, size_t errlen) {
        struct vm_config *c = malloc(sizeof *c);
        ASSERT_NOT_NULL(c);
        *r = vm_config_parse(json, strlen(json), c, err, errlen);
        return c;
}

/* c written out and parsed again keeps the `size` bytes of QoS at `qos`
 * (inside c), and only the one entry that has QoS carries the object. */
static void written_back_once(const struct vm_config *c, const void *qos, size_t size) {
        char err[256];
        int r;
        size_t off = (size_t)((const char *)qos - (const char *)c);
        char *text = vm_config_to_json(c);
        struct vm_config *c2 = parse(text, &r, err, sizeof err);
        ASSERT_OK(r);
        ASSERT_MEMEQ((const char *)c2 + off, qos, size);
        const char *first = strstr(text, "\"qos\"");
        ASSERT_NOT_NULL(first);
        ASSERT_NULL(strstr(first + 1, "\"qos\""));
        free(text);
        free(c2);
}

/* head + "qos": qos is refused with EINVAL and an error containing msg. */
static void refused(const char *head, const char *qos, const char *msg) {
        char json[512], err[256] = "";
        int r;
        snprintf(json, sizeof json, "%s,\"qos\":%s}]}", head, qos);
        struct vm_config *c = parse(json, &r, err, sizeof err);
        if (r != -EINVAL || !strstr(err, msg))
                fprintf(stderr, "for %s\n  got %d \"%s\", want \"%s\"\n", qos, r, err, msg);
        ASSERT_ERROR(r, EINVAL);
        ASSERT_NOT_NULL(strstr(err, msg));
        free(c);
}

TEST(disk_qos_parsed_and_written_back) {
        char err[256];
        int r;
        struct vm_config *c = parse(DISK_HEAD ",\"qos\":{\"max_iops\":500,\"min_iops\":100,\"max_bytes_per_s\":"
                                              "10485760}},{\"path\":\"/e.img\",\"lun\":1}]}",
                                    &r, err, sizeof err);
        ASSERT_OK(r);
        ASSERT_EQ(c->disks[0].qos.max_iops, 500u);
        ASSERT_EQ(c->disks[0].qos.min_iops, 100u);
        ASSERT_EQ(c->disks[0].qos.max_bytes_per_s, 10485760u);
        ASSERT_EQ(c->disks[1].qos.max_iops, 0u); /* none: unlimited */
        written_back_once(c, &c->disks[0].qos, sizeof c->disks[0].qos);
        free(c);
}

TEST(disk_qos_bad_settings_named) {
        refused(DISK_HEAD, "{\"max_iops\":100,\"min_iops\":200}", "disks[0].qos.min_iops: is above max_iops");
        refused(DISK_HEAD, "{\"max_iops\":-1}", "disks[0].qos.max_iops: must not be negative");
        refused(DISK_HEAD, "{\"min_iops\":-5}", "disks[0].qos.min_iops: must not be negative");
        refused(DISK_HEAD, "{\"max_bytes_per_s\":-1}", "disks[0].qos.max_bytes_per_s: must not be negative");
        refused(DISK_HEAD, "{\"max_iops\":10000001}", "disks[0].qos.max_iops: must be at most 10000000");
        refused(DISK_HEAD, "{\"max_iops\":18446744073709551615}", "disks[0].qos.max_iops: must be at most");
        refused(DISK_HEAD, "{\"max_bytes_per_s\":1000000000001}", "disks[0].qos.max_bytes_per_s: must be at most");
        refused(DISK_HEAD, "{\"max_iops\":\"500\"}", "disks[0].qos.max_iops: must be an integer");
        refused(DISK_HEAD, "{\"max_iops\":1.5}", "disks[0].qos.max_iops: must be an integer");
        refused(DISK_HEAD, "{\"maxiops\":500}", "disks[0].qos.maxiops: unknown field");
        refused(DISK_HEAD, "500", "disks[0].qos: must be an object");
}

TEST(disk_qos_minimum_without_maximum_is_allowed) {
        char err[256];
        int r;
        struct vm_config *c = parse(DISK_HEAD ",\"qos\":{\"min_iops\":300}}]}", &r, err, sizeof err);
        ASSERT_OK(r);
        ASSERT_EQ(c->disks[0].qos.min_iops, 300u);
        ASSERT_EQ(c->disks[0].qos.max_iops, 0u);
        free(c);
}

TEST(disk_qos_check_function) {
        const char *field;
        struct vm_disk_qos ok = { .max_iops = 500, .min_iops = 500 }, bad = { .max_iops = 5, .min_iops = 6 };
        ASSERT_NULL(vm_disk_qos_invalid(&ok, &field));
        ASSERT_NOT_NULL(vm_disk_qos_invalid(&bad, &field));
        ASSERT_EQ(strcmp(field, "min_iops"), 0);
}

TEST(nic_qos_parsed_and_written_back) {
        char err[256];
        int r;
        struct vm_config *c = parse(NIC_HEAD ",\"qos\":{\"max_in_bps\":100000000,\"max_out_bps\":1000000000000}},"
                                             "{\"mac\":\"00:15:5d:00:00:02\"}]}",
                                    &r, err, sizeof err);
        ASSERT_OK(r);
        ASSERT_EQ(c->nics[0].qos.max_in_bps, 100000000u);
        ASSERT_EQ(c->nics[0].qos.max_out_bps, 1000000000000u);
        ASSERT_EQ(c->nics[1].qos.max_in_bps, 0u); /* none: uncapped */
        written_back_once(c, &c->nics[0].qos, sizeof c->nics[0].qos);
        free(c);
}

TEST(nic_qos_bad_settings_named) {
        refused(NIC_HEAD, "{\"max_in_bps\":999999}", "nics[0].qos.max_in_bps: must be 0 (no cap) or 1000000..");
        refused(NIC_HEAD, "{\"max_out_bps\":1}", "nics[0].qos.max_out_bps: must be 0 (no cap) or 1000000..");
        refused(NIC_HEAD, "{\"max_in_bps\":-1}", "nics[0].qos.max_in_bps: must not be negative");
        refused(NIC_HEAD, "{\"max_out_bps\":1000000000001}", "nics[0].qos.max_out_bps: must be at most 1000000000000");
        refused(NIC_HEAD, "{\"max_in_bps\":18446744073709551615}", "nics[0].qos.max_in_bps: must be at most");
        refused(NIC_HEAD, "{\"max_in_bps\":\"100M\"}", "nics[0].qos.max_in_bps: must be an integer");
        refused(NIC_HEAD, "{\"max_bps\":100000000}", "nics[0].qos.max_bps: unknown field");
        refused(NIC_HEAD, "100", "nics[0].qos: must be an object");
}

TEST(nic_min_weight_parsed_written_back_and_bounded) {
        char err[256];
        int r;
        struct vm_config *c = parse(NIC_HEAD ",\"qos\":{\"min_weight\":25}},{\"mac\":\"00:15:5d:00:00:02\"}]}", &r,
                                    err, sizeof err);
        ASSERT_OK(r);
        ASSERT_EQ(c->nics[0].qos.min_weight, 25u);
        ASSERT_EQ(c->nics[0].qos.max_in_bps, 0u);
        ASSERT_EQ(c->nics[1].qos.min_weight, 0u); /* none */
        written_back_once(c, &c->nics[0].qos, sizeof c->nics[0].qos);
        free(c);
        refused(NIC_HEAD, "{\"min_weight\":101}", "nics[0].qos.min_weight: must be at most 100");
        refused(NIC_HEAD, "{\"min_weight\":-1}", "nics[0].qos.min_weight: must not be negative");
        refused(NIC_HEAD, "{\"min_weight\":\"50\"}", "nics[0].qos.min_weight: must be an integer");
        const char *field;
        struct vm_nic_qos ok = { .min_weight = 100 }, bad = { .min_weight = 101 };
        ASSERT_NULL(vm_nic_qos_invalid(&ok, &field));
        ASSERT_NOT_NULL(vm_nic_qos_invalid(&bad, &field));
        ASSERT_EQ(strcmp(field, "min_weight"), 0);
}

TEST(nic_qos_check_function) {
        const char *field;
        struct vm_nic_qos ok = { .max_in_bps = 1000000 }, bad = { .max_in_bps = 5000000, .max_out_bps = 7 };
        ASSERT_NULL(vm_nic_qos_invalid(&ok, &field));
        ASSERT_NOT_NULL(vm_nic_qos_invalid(&bad, &field));
        ASSERT_EQ(strcmp(field, "max_out_bps"), 0);
}

TEST_MAIN();
