// SPDX-License-Identifier: MIT
/* A NIC's bandwidth caps in the configuration (common/config.h,
 * vm_nic_qos): parsed, written back out only when set, and bad settings
 * (below 1 Mbit/s, above 1 Tbit/s, negative, not a number, an unknown
 * field) refused with an error that names the field. */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/test.h"

#define HEAD "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"nics\":[{\"mac\":\"00:15:5d:00:00:01\""

static struct vm_config *parse(const char *json, int *r, char *err, size_t errlen) {
        struct vm_config *c = malloc(sizeof *c);
        ASSERT_NOT_NULL(c);
        *r = vm_config_parse(json, strlen(json), c, err, errlen);
        return c;
}

TEST(nic_qos_parsed_and_written_back) {
        char err[256];
        int r;
        struct vm_config *c = parse(HEAD ",\"qos\":{\"max_in_bps\":100000000,\"max_out_bps\":1000000000000}},"
                                         "{\"mac\":\"00:15:5d:00:00:02\"}]}",
                                    &r, err, sizeof err);
        ASSERT_OK(r);
        ASSERT_EQ(c->nics[0].qos.max_in_bps, 100000000u);
        ASSERT_EQ(c->nics[0].qos.max_out_bps, 1000000000000u);
        ASSERT_EQ(c->nics[1].qos.max_in_bps, 0u); /* none: uncapped */
        char *text = vm_config_to_json(c);
        struct vm_config *c2 = parse(text, &r, err, sizeof err);
        ASSERT_OK(r);
        ASSERT_MEMEQ(&c2->nics[0].qos, &c->nics[0].qos, sizeof c->nics[0].qos);
        const char *first = strstr(text, "\"qos\"");
        ASSERT_NOT_NULL(first);
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

TEST(nic_qos_bad_settings_named) {
        refused("{\"max_in_bps\":999999}", "nics[0].qos.max_in_bps: must be 0 (no cap) or 1000000..");
        refused("{\"max_out_bps\":1}", "nics[0].qos.max_out_bps: must be 0 (no cap) or 1000000..");
        refused("{\"max_in_bps\":-1}", "nics[0].qos.max_in_bps: must not be negative");
        refused("{\"max_out_bps\":1000000000001}", "nics[0].qos.max_out_bps: must be at most 1000000000000");
        refused("{\"max_in_bps\":18446744073709551615}", "nics[0].qos.max_in_bps: must be at most");
        refused("{\"max_in_bps\":\"100M\"}", "nics[0].qos.max_in_bps: must be an integer");
        refused("{\"max_bps\":100000000}", "nics[0].qos.max_bps: unknown field");
        refused("100", "nics[0].qos: must be an object");
}

TEST(nic_qos_check_function) {
        const char *field;
        struct vm_nic_qos ok = { .max_in_bps = 1000000 }, bad = { .max_in_bps = 5000000, .max_out_bps = 7 };
        ASSERT_NULL(vm_nic_qos_invalid(&ok, &field));
        ASSERT_NOT_NULL(vm_nic_qos_invalid(&bad, &field));
        ASSERT_EQ(strcmp(field, "max_out_bps"), 0);
}

TEST_MAIN();
