// SPDX-License-Identifier: MIT
/* The checkpoint index as data (vmms/checkpoint/tree.c): a tree written and
 * read back unchanged; removing a checkpoint gives its children its parent
 * and moves "current" up; the owned set; what a damaged index is refused
 * for, each with a sentence, leaving nothing behind. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/test.h"
#include "vmms/checkpoints.h"

static struct vmms_checkpoint *mk(const char *name, const struct vmms_checkpoint *parent, unsigned disks) {
        struct vmms_checkpoint *c = calloc(1, sizeof *c);
        ASSERT_NOT_NULL(c);
        ASSERT_OK(guid_generate(&c->id));
        snprintf(c->name, sizeof c->name, "%s", name);
        if (parent)
                c->parent = parent->id;
        c->created_us = 1700000000000000ull;
        c->has_state = disks % 2;
        c->production = !c->has_state && disks; /* one of each kind in the tree */
        c->state_bytes = 4096u * disks;
        if (c->has_state && disks > 1) /* a firmware VM's state; b's */
                snprintf(c->boot_status, sizeof c->boot_status, "booted");
        c->config = strdup("{\"name\":\"vm\",\"memory_mib\":64}");
        c->n_disks = disks;
        c->disks = calloc(disks ? disks : 1, sizeof *c->disks);
        for (unsigned i = 0; i < disks; i++) {
                c->disks[i].kind = (enum vmms_ckpt_disk_kind)(i % 3);
                snprintf(c->disks[i].image, sizeof c->disks[i].image, "/srv/%s-%u.vhdx", name, i);
        }
        return c;
}

static void roundtrip(const struct vmms_checkpoints *t) {
        char *json = vmms_checkpoints_to_json(t), err[256];
        ASSERT_NOT_NULL(json);
        struct vmms_checkpoints back;
        ASSERT_OK(vmms_checkpoints_parse(json, strlen(json), &back, err, sizeof err));
        ASSERT_EQ(back.n, t->n);
        ASSERT_TRUE(guid_equal(&back.current, &t->current));
        ASSERT_EQ(back.n_owned, t->n_owned);
        for (uint32_t i = 0; i < t->n; i++) {
                const struct vmms_checkpoint *a = t->c[i], *b = back.c[i];
                ASSERT_TRUE(guid_equal(&a->id, &b->id) && guid_equal(&a->parent, &b->parent));
                ASSERT_STREQ(a->name, b->name);
                ASSERT_EQ(a->created_us, b->created_us);
                ASSERT_EQ(a->has_state, b->has_state);
                ASSERT_EQ(a->production, b->production);
                ASSERT_EQ(a->state_bytes, b->state_bytes);
                ASSERT_STREQ(a->boot_status, b->boot_status);
                ASSERT_NOT_NULL(strstr(b->config, "\"memory_mib\":64"));
                ASSERT_EQ(a->n_disks, b->n_disks);
                for (uint32_t k = 0; k < a->n_disks; k++) {
                        ASSERT_EQ(a->disks[k].kind, b->disks[k].kind);
                        ASSERT_STREQ(a->disks[k].image, b->disks[k].image);
                }
        }
        for (uint32_t i = 0; i < t->n_owned; i++)
                ASSERT_STREQ(t->owned[i], back.owned[i]);
        vmms_checkpoints_clear(&back);
        free(json);
}

TEST(tree_round_trip_and_remove) {
        struct vmms_checkpoints t = { 0 };
        struct vmms_checkpoint *a = mk("a", NULL, 2), *b = mk("b", a, 3), *c = mk("c", b, 1), *d = mk("d", b, 0);
        ASSERT_OK(vmms_checkpoints_add(&t, a));
        ASSERT_OK(vmms_checkpoints_add(&t, b));
        ASSERT_OK(vmms_checkpoints_add(&t, c));
        ASSERT_OK(vmms_checkpoints_add(&t, d));
        struct vmms_checkpoint *dup = mk("b", NULL, 0);
        ASSERT_ERROR(vmms_checkpoints_add(&t, dup), EEXIST);
        vmms_checkpoint_free(dup);
        t.current = c->id;
        ASSERT_OK(vmms_checkpoints_own(&t, "/srv/b-1.vhdx"));
        ASSERT_OK(vmms_checkpoints_own(&t, "/srv/b-1.vhdx")); /* once */
        ASSERT_OK(vmms_checkpoints_own(&t, "/srv/x.avhdx"));
        ASSERT_EQ(t.n_owned, 2u);
        roundtrip(&t);
        char *json = vmms_checkpoints_to_json(&t);
        ASSERT_NOT_NULL(json);
        ASSERT_NOT_NULL(strstr(json, "\"boot_status\":\"booted\""));
        ASSERT_NULL(strstr(strstr(json, "boot_status") + 1, "boot_status")); /* b's only: absent when empty */
        free(json);
        ASSERT_TRUE(vmms_checkpoints_holds(&t, "/srv/c-0.vhdx"));
        ASSERT_FALSE(vmms_checkpoints_holds(&t, "/srv/x.avhdx"));
        ASSERT_TRUE(vmms_checkpoints_find(&t, "c") == c);
        char id[GUID_STRING_MAX];
        ASSERT_TRUE(vmms_checkpoints_find(&t, guid_to_string(&d->id, id)) == d);
        /* b goes: c and d hang off a now */
        struct guid aid = a->id, cid = c->id;
        vmms_checkpoints_remove(&t, b);
        ASSERT_EQ(t.n, 3u);
        ASSERT_TRUE(guid_equal(&vmms_checkpoints_find(&t, "c")->parent, &aid));
        ASSERT_TRUE(guid_equal(&vmms_checkpoints_find(&t, "d")->parent, &aid));
        /* c (current) goes: current moves up to a */
        vmms_checkpoints_remove(&t, vmms_checkpoints_find_id(&t, &cid));
        ASSERT_TRUE(guid_equal(&t.current, &aid));
        vmms_checkpoints_disown(&t, "/srv/b-1.vhdx");
        ASSERT_FALSE(vmms_checkpoints_owns(&t, "/srv/b-1.vhdx"));
        ASSERT_TRUE(vmms_checkpoints_owns(&t, "/srv/x.avhdx"));
        roundtrip(&t);
        vmms_checkpoints_clear(&t);
}

TEST(names) {
        ASSERT_TRUE(vmms_checkpoint_name_ok("before upgrade - 2026-11-23 17:00:01"));
        ASSERT_FALSE(vmms_checkpoint_name_ok(""));
        ASSERT_FALSE(vmms_checkpoint_name_ok("a/b"));
        ASSERT_FALSE(vmms_checkpoint_name_ok("tab\there"));
        char longname[80];
        memset(longname, 'x', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        ASSERT_FALSE(vmms_checkpoint_name_ok(longname));
}

static void refused(const char *json, const char *why) {
        struct vmms_checkpoints t;
        char err[256] = "";
        ASSERT_ERROR(vmms_checkpoints_parse(json, strlen(json), &t, err, sizeof err), EINVAL);
        if (!strstr(err, why))
                ASSERT_STREQ(err, why);
        ASSERT_EQ(t.n, 0u);
        ASSERT_NULL(t.owned);
}

#define ID1 "\"11111111-1111-1111-1111-111111111111\""
#define ID2 "\"22222222-2222-2222-2222-222222222222\""
#define CK(id, name, parent) \
        "{\"id\":" id ",\"name\":\"" name "\",\"parent\":" parent ",\"created_us\":1,\"state\":false," \
        "\"config\":{},\"disks\":[]}"

TEST(damaged_indexes_are_refused) {
        refused("[]", "not a checkpoint index");
        refused("{\"checkpoints\":[", "not a checkpoint index");
        refused("{\"checkpoints\":[]} trailing", "not a checkpoint index");
        refused("{\"checkpoints\":[" CK(ID1, "a", "null") "," CK(ID1, "b", "null") "]}", "same id or name");
        refused("{\"checkpoints\":[" CK(ID1, "a", "null") "," CK(ID2, "a", "null") "]}", "same id or name");
        refused("{\"checkpoints\":[" CK(ID1, "a", ID2) "]}", "parent is not in the list");
        refused("{\"checkpoints\":[" CK(ID1, "a", ID2) "," CK(ID2, "b", ID1) "]}", "loop");
        refused("{\"checkpoints\":[" CK(ID1, "a/b", "null") "]}", "not valid");
        refused("{\"checkpoints\":[{\"id\":" ID1 ",\"name\":\"a\",\"created_us\":1,\"state\":false,\"disks\":[]}]}",
                "not valid"); /* no config */
        refused("{\"checkpoints\":[{\"id\":" ID1 ",\"name\":\"a\",\"created_us\":1,\"state\":false,\"config\":{},"
                "\"disks\":[{\"kind\":\"vhdx\",\"image\":\"relative.vhdx\"}]}]}",
                "not valid");
        refused("{\"checkpoints\":[{\"id\":" ID1 ",\"name\":\"a\",\"created_us\":1,\"state\":false,\"config\":{},"
                "\"disks\":[{\"kind\":\"qcow2\",\"image\":\"/x\"}]}]}",
                "not valid");
        refused("{\"checkpoints\":[],\"current\":" ID1 "}", "current: no such checkpoint");
        refused("{\"checkpoints\":[{\"id\":" ID1 ",\"name\":\"a\",\"created_us\":1,\"state\":true,\"type\":\"production\","
                "\"config\":{},\"disks\":[]}]}",
                "not valid"); /* production with a state */
        refused("{\"checkpoints\":[{\"id\":" ID1 ",\"name\":\"a\",\"created_us\":1,\"state\":false,\"type\":\"crash\","
                "\"config\":{},\"disks\":[]}]}",
                "not valid");
        refused("{\"checkpoints\":[{\"id\":" ID1 ",\"name\":\"a\",\"created_us\":1,\"state\":false,"
                "\"boot_status\":\"booted\",\"config\":{},\"disks\":[]}]}",
                "not valid"); /* a BootStatus without a state */
        refused("{\"checkpoints\":[{\"id\":" ID1 ",\"name\":\"a\",\"created_us\":1,\"state\":true,"
                "\"boot_status\":\"rebooting\",\"config\":{},\"disks\":[]}]}",
                "not valid"); /* not one of the words */
        refused("{\"checkpoints\":[],\"owned\":[\"rel\"]}", "owned[0]");
        refused("{\"checkpoints\":[],\"owned\":{}}", "owned:");
}

int main(void) {
        return test_run_all_(NULL);
}
