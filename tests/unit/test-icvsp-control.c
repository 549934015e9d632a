// SPDX-License-Identifier: MIT
/* The worker's control requests of the integration services (vmwp/control.c,
 * common/proto.h): shutdown, kvp-get, kvp-set — the field checks, the
 * errors vmms relies on, and ops a worker does not have (NULL: ENOTSUP);
 * vss (the operation named, the errors vmms tells apart); console-status
 * (the serial console's client slot); nmi (how many vCPUs took it). */
#include <json-c/json.h>

#include "hv/ic.h"

#include "common/macro.h"
#include "common/test.h"
#include "vmwp/control.h"

struct stub {
        int shutdown_r, set_r, sets, vss_r, vss_op, memory_calls, nmi_r;
        bool memory_set;
        uint64_t memory_target;
        bool reboot;
        char key[64], value[64];
        bool deleted;
};

static int st_shutdown(void *o, bool reboot) {
        struct stub *s = o;
        s->reboot = reboot;
        return s->shutdown_r;
}
static int st_kvp_get(void *o, struct json_object *into) {
        struct json_object *items = json_tokener_parse("{\"OSName\":\"vsc-guest\"}");
        json_object_object_add(into, "items", items);
        json_object_object_add(into, "host", json_object_new_object());
        json_object_object_add(into, "ready", json_object_new_boolean(true));
        return 0;
}
static int st_kvp_set(void *o, const char *key, const char *value) {
        struct stub *s = o;
        s->sets++;
        snprintf(s->key, sizeof s->key, "%s", key);
        snprintf(s->value, sizeof s->value, "%s", value ? value : "");
        s->deleted = !value;
        return s->set_r;
}

static int st_vss(void *o, uint8_t op) {
        struct stub *s = o;
        s->vss_op = op;
        return s->vss_r;
}

static int st_console_status(void *o, struct json_object *into) {
        json_object_object_add(into, "connected", json_object_new_boolean(true));
        json_object_object_add(into, "clients", json_object_new_int64(2));
        return 0;
}

static int st_memory(void *o, bool set, uint64_t target, struct json_object *into) {
        struct stub *s = o;
        s->memory_calls++;
        s->memory_set = set;
        s->memory_target = target;
        json_object_object_add(into, "assigned_bytes", json_object_new_int64(512ll << 20));
        return 0;
}

static int st_nmi(void *o) {
        return ((struct stub *)o)->nmi_r;
}

static const struct vmwp_control_ops ops = { .nmi = st_nmi, .shutdown = st_shutdown, .kvp_get = st_kvp_get, .kvp_set = st_kvp_set,
                                             .console_status = st_console_status, .vss = st_vss,
                                             .memory = st_memory };
static const struct vmwp_control_ops no_ic_ops = { 0 };

/* Sends req (JSON text), returns the errno of the reply (0 for ok). */
static int call(const struct vmwp_control_ops *o, struct stub *s, const char *req, struct json_object **rep_out) {
        struct json_object *req_o = json_tokener_parse(req), *ok, *e;
        ASSERT_NOT_NULL(req_o);
        const char *state;
        struct json_object *rep = vmwp_control_handle(o, s, req_o, NULL, 0, &state);
        json_object_put(req_o);
        ASSERT_NOT_NULL(rep);
        ASSERT_NULL(state);
        ASSERT_TRUE(json_object_object_get_ex(rep, "ok", &ok));
        int err = json_object_get_boolean(ok) ? 0 : (json_object_object_get_ex(rep, "errno", &e) ? json_object_get_int(e) : -1);
        if (rep_out)
                *rep_out = rep;
        else
                json_object_put(rep);
        return err;
}

TEST(shutdown_op) {
        struct stub s = { 0 };
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"shutdown\",\"id\":1,\"reboot\":true}", NULL), 0);
        ASSERT_TRUE(s.reboot);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"shutdown\",\"id\":1}", NULL), 0);
        ASSERT_FALSE(s.reboot);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"shutdown\",\"reboot\":1}", NULL), EINVAL);
        s.shutdown_r = -ENOTCONN;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"shutdown\"}", NULL), ENOTCONN);
        s.shutdown_r = -EBUSY;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"shutdown\"}", NULL), EBUSY);
        ASSERT_EQ(call(&no_ic_ops, &s, "{\"op\":\"shutdown\"}", NULL), ENOTSUP);
}

TEST(kvp_get_op) {
        struct stub s = { 0 };
        struct json_object *rep, *v, *items;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"kvp-get\",\"id\":3}", &rep), 0);
        ASSERT_TRUE(json_object_object_get_ex(rep, "items", &items));
        ASSERT_TRUE(json_object_object_get_ex(items, "OSName", &v));
        ASSERT_STREQ(json_object_get_string(v), "vsc-guest");
        ASSERT_TRUE(json_object_object_get_ex(rep, "id", &v));
        ASSERT_EQ(json_object_get_int(v), 3);
        json_object_put(rep);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"kvp-get\",\"key\":\"OSName\"}", &rep), 0);
        ASSERT_TRUE(json_object_object_get_ex(rep, "value", &v));
        ASSERT_STREQ(json_object_get_string(v), "vsc-guest");
        json_object_put(rep);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"kvp-get\",\"key\":\"nope\"}", NULL), ENOENT);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"kvp-get\",\"key\":7}", NULL), EINVAL);
        ASSERT_EQ(call(&no_ic_ops, &s, "{\"op\":\"kvp-get\"}", NULL), ENOTSUP);
}

TEST(kvp_set_op) {
        struct stub s = { 0 };
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"kvp-set\",\"key\":\"k\",\"value\":\"v\"}", NULL), 0);
        ASSERT_STREQ(s.key, "k");
        ASSERT_STREQ(s.value, "v");
        ASSERT_FALSE(s.deleted);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"kvp-set\",\"key\":\"k\",\"delete\":true}", NULL), 0);
        ASSERT_TRUE(s.deleted);
        int before = s.sets;
        static const char *const bad[] = {
                "{\"op\":\"kvp-set\",\"value\":\"v\"}",                      /* no key */
                "{\"op\":\"kvp-set\",\"key\":1,\"value\":\"v\"}",            /* key not a string */
                "{\"op\":\"kvp-set\",\"key\":\"k\"}",                        /* neither value nor delete */
                "{\"op\":\"kvp-set\",\"key\":\"k\",\"value\":\"v\",\"delete\":true}", /* both */
                "{\"op\":\"kvp-set\",\"key\":\"k\",\"value\":5}",            /* value not a string */
                "{\"op\":\"kvp-set\",\"key\":\"k\",\"delete\":\"yes\"}",     /* delete not a boolean */
                "{\"op\":\"kvp-set\",\"key\":\"a\\u0000b\",\"value\":\"v\"}", /* embedded NUL */
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                ASSERT_EQ(call(&ops, &s, bad[i], NULL), EINVAL);
        ASSERT_EQ(s.sets, before); /* none reached the VM */
        s.set_r = -ENOSPC;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"kvp-set\",\"key\":\"k\",\"value\":\"v\"}", NULL), ENOSPC);
        s.set_r = -ENOENT;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"kvp-set\",\"key\":\"k\",\"delete\":true}", NULL), ENOENT);
        ASSERT_EQ(call(&no_ic_ops, &s, "{\"op\":\"kvp-set\",\"key\":\"k\",\"value\":\"v\"}", NULL), ENOTSUP);
}

TEST(vss_op) {
        struct stub s = { 0 };
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"vss\",\"id\":2,\"operation\":\"freeze\"}", NULL), 0);
        ASSERT_EQ(s.vss_op, VSS_OP_FREEZE);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"vss\",\"operation\":\"thaw\"}", NULL), 0);
        ASSERT_EQ(s.vss_op, VSS_OP_THAW);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"vss\",\"operation\":\"hot-backup\"}", NULL), 0);
        ASSERT_EQ(s.vss_op, VSS_OP_HOT_BACKUP);
        s.vss_op = -1;
        static const char *const bad[] = { "{\"op\":\"vss\"}", "{\"op\":\"vss\",\"operation\":5}",
                                           "{\"op\":\"vss\",\"operation\":\"create\"}",
                                           "{\"op\":\"vss\",\"operation\":\"FREEZE\"}" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                ASSERT_EQ(call(&ops, &s, bad[i], NULL), EINVAL);
        ASSERT_EQ(s.vss_op, -1); /* none reached the service */
        s.vss_r = -ENOTCONN;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"vss\",\"operation\":\"freeze\"}", NULL), ENOTCONN);
        s.vss_r = -EBUSY;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"vss\",\"operation\":\"thaw\"}", NULL), EBUSY);
        ASSERT_EQ(call(&no_ic_ops, &s, "{\"op\":\"vss\",\"operation\":\"freeze\"}", NULL), ENOTSUP);
}

TEST(console_status_op) {
        struct stub s = { 0 };
        struct json_object *rep, *v;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"console-status\",\"id\":7}", &rep), 0);
        ASSERT_TRUE(json_object_object_get_ex(rep, "connected", &v));
        ASSERT_TRUE(json_object_get_boolean(v));
        ASSERT_TRUE(json_object_object_get_ex(rep, "clients", &v));
        ASSERT_EQ(json_object_get_int64(v), 2);
        ASSERT_TRUE(json_object_object_get_ex(rep, "id", &v));
        ASSERT_EQ(json_object_get_int(v), 7);
        json_object_put(rep);
        ASSERT_EQ(call(&no_ic_ops, &s, "{\"op\":\"console-status\"}", NULL), ENOTSUP);
}

TEST(memory_op) {
        struct stub s = { 0 };
        struct json_object *rep, *v;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"memory\"}", &rep), 0);
        ASSERT_FALSE(s.memory_set);
        ASSERT_TRUE(json_object_object_get_ex(rep, "assigned_bytes", &v));
        ASSERT_EQ(json_object_get_int64(v), 512ll << 20);
        json_object_put(rep);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"memory\",\"target_bytes\":1073741824}", NULL), 0);
        ASSERT_TRUE(s.memory_set);
        ASSERT_EQ(s.memory_target, 1ull << 30);
        int calls = s.memory_calls;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"memory\",\"target_bytes\":-1}", NULL), EINVAL);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"memory\",\"target_bytes\":\"1G\"}", NULL), EINVAL);
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"memory\",\"target_bytes\":1125899906842625}", NULL), EINVAL);
        ASSERT_EQ(s.memory_calls, calls); /* refused before the VM hears of it */
        ASSERT_EQ(call(&no_ic_ops, &s, "{\"op\":\"memory\"}", NULL), ENOTSUP);
}

/* nmi: the count of vCPUs that took it; none is an error vmms reports. */
TEST(nmi_op) {
        struct stub s = { .nmi_r = 2 };
        struct json_object *rep, *v;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"nmi\",\"id\":4}", &rep), 0);
        ASSERT_TRUE(json_object_object_get_ex(rep, "vcpus", &v));
        ASSERT_EQ(json_object_get_int(v), 2);
        json_object_put(rep);
        s.nmi_r = 0;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"nmi\"}", NULL), EAGAIN);
        s.nmi_r = -EIO;
        ASSERT_EQ(call(&ops, &s, "{\"op\":\"nmi\"}", NULL), EIO);
        ASSERT_EQ(call(&no_ic_ops, &s, "{\"op\":\"nmi\"}", NULL), ENOTSUP);
}

TEST_MAIN();

