// SPDX-License-Identifier: MIT
/* vmms's side of the integration services: KVP item checks (what SetKVP
 * accepts, what a worker's "kvp" event may carry) and when SetKVP is
 * allowed. */
#include <json-c/json.h>

#include "common/test.h"
#include "vmms/kvp.h"
#include "vmms/lifecycle.h"

TEST(kvp_item_checks) {
        char err[160], key[600], val[3100];
        ASSERT_OK(vmms_kvp_check_item("HostName", "web1", err, sizeof err));
        ASSERT_OK(vmms_kvp_check_item("k", "", err, sizeof err)); /* empty values are values */
        ASSERT_OK(vmms_kvp_check_item("k", NULL, err, sizeof err)); /* RemoveKVP: key only */
        ASSERT_ERROR(vmms_kvp_check_item("", "v", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "key: must not be empty");
        ASSERT_ERROR(vmms_kvp_check_item("k\xc3", "v", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "key: not valid UTF-8");
        ASSERT_ERROR(vmms_kvp_check_item("k", "\xed\xa0\x80", err, sizeof err), EINVAL); /* a surrogate */
        /* 255 code units of key, 1023 of value: a character outside the
         * BMP counts twice, as it does on the wire (UTF-16, §8.6). */
        memset(key, 'k', 255);
        key[255] = 0;
        memset(val, 'v', 1023);
        val[1023] = 0;
        ASSERT_OK(vmms_kvp_check_item(key, val, err, sizeof err));
        for (int at = 252; at <= 254; at++) { /* at + 2 units: 254, 255, 256 */
                memset(key, 'k', sizeof key);
                memcpy(key + at, "\xf0\x9f\x98\x80", 5);
                if (at < 254)
                        ASSERT_OK(vmms_kvp_check_item(key, "v", err, sizeof err));
                else
                        ASSERT_ERROR(vmms_kvp_check_item(key, "v", err, sizeof err), EINVAL);
        }
        ASSERT_STREQ(err, "key: 256 UTF-16 code units, at most 255");
        val[1023] = 'v';
        val[1024] = 0;
        ASSERT_ERROR(vmms_kvp_check_item("k", val, err, sizeof err), EINVAL);
}

TEST(worker_items) {
        json_object *ok = json_tokener_parse("{\"OSName\":\"vsc-guest\",\"NetworkAddressIPv4\":\"10.0.0.5\"}");
        ASSERT_TRUE(vmms_kvp_items_valid(ok, 128));
        ASSERT_FALSE(vmms_kvp_items_valid(ok, 1)); /* over the limit */
        static const char *const bad[] = { "[]", "{\"k\":1}", "{\"\":\"v\"}", "{\"k\":null}", "\"s\"",
                                           "{\"k\":\"a\\u0000b\"}" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                json_object *o = json_tokener_parse(bad[i]);
                ASSERT_FALSE(vmms_kvp_items_valid(o, 128));
                json_object_put(o);
        }
        json_object_put(ok);
}

TEST(setkvp_states) {
        char msg[200];
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_RUNNING, VMMS_OP_KVP, msg, sizeof msg));
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_PAUSED, VMMS_OP_KVP, msg, sizeof msg));
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_OFF, VMMS_OP_KVP, msg, sizeof msg), EINVAL);
        ASSERT_STREQ(msg, "SetKVP is not possible while the VM is Off (possible in: Running, Paused)");
        ASSERT_STREQ(vmms_op_to_string(VMMS_OP_KVP), "SetKVP");
}

TEST_MAIN();
