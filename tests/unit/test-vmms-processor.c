// SPDX-License-Identifier: MIT
/* The VM's processor settings: "processor" in the configuration (named
 * errors for bad limits, the round trip through the writer), where
 * Update sends a change (vmms_processor_check_update), vmctl's
 * --cpu-limit flag, the worker's "processor" op (vmwp/control.c), and what
 * vmms tells systemd and machined about the worker's scope. */
#include <json-c/json.h>
#include <net/if.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/test.h"
#include "tests/lib/test-files.h"
#include "vmctl/config-build.h"
#include "vmms/processor.h"
#include "vmms/validate.h"
#include "vmwp/control.h"

#define CFG_HEAD                                                                                        \
        "{\"name\":\"p\",\"id\":\"00112233-4455-6677-8899-aabbccddeeff\",\"memory_mib\":128,\"vcpus\":2," \
        "\"boot\":{\"kind\":\"pvh\",\"kernel\":\"/k\"}"

static int parse(const char *json, struct vm_config *c, char *err, size_t errlen) {
        return vm_config_parse(json, strlen(json), c, err, errlen);
}

TEST(the_limit_defaults_to_none_and_round_trips) {
        struct vm_config *c = malloc(sizeof *c), *d = malloc(sizeof *d);
        char err[256];
        ASSERT_OK(parse(CFG_HEAD "}", c, err, sizeof err));
        ASSERT_EQ(c->processor.limit_pct, 100u);
        char *json = vm_config_to_json(c);
        ASSERT_NULL(strstr(json, "processor")); /* the default is not written */
        free(json);
        ASSERT_OK(parse(CFG_HEAD ",\"processor\":{\"limit_pct\":25}}", c, err, sizeof err));
        ASSERT_EQ(c->processor.limit_pct, 25u);
        json = vm_config_to_json(c);
        ASSERT_NOT_NULL(strstr(json, "\"limit_pct\":25"));
        ASSERT_OK(parse(json, d, err, sizeof err));
        ASSERT_EQ(d->processor.limit_pct, 25u);
        free(json), free(c), free(d);
}

TEST(the_weight_defaults_to_100_and_round_trips) {
        struct vm_config *c = malloc(sizeof *c), *d = malloc(sizeof *d);
        char err[256];
        ASSERT_OK(parse(CFG_HEAD "}", c, err, sizeof err));
        ASSERT_EQ(c->processor.weight, 100u);
        ASSERT_OK(parse(CFG_HEAD ",\"processor\":{\"weight\":300}}", c, err, sizeof err));
        ASSERT_EQ(c->processor.weight, 300u);
        ASSERT_EQ(c->processor.limit_pct, 100u);
        char *json = vm_config_to_json(c);
        ASSERT_NOT_NULL(strstr(json, "\"weight\":300"));
        ASSERT_NULL(strstr(json, "limit_pct"));
        ASSERT_OK(parse(json, d, err, sizeof err));
        ASSERT_EQ(d->processor.weight, 300u);
        free(json), free(c), free(d);
}

TEST(bad_limits_get_named_errors) {
        static const struct {
                const char *json, *err;
        } bad[] = {
                { CFG_HEAD ",\"processor\":{\"limit_pct\":0}}",
                  "processor.limit_pct: must be an integer from 1 to 100 (% of each vCPU's time; 100: no limit)" },
                { CFG_HEAD ",\"processor\":{\"limit_pct\":200}}",
                  "processor.limit_pct: must be an integer from 1 to 100 (% of each vCPU's time; 100: no limit)" },
                { CFG_HEAD ",\"processor\":{\"limit_pct\":-5}}",
                  "processor.limit_pct: must be an integer from 1 to 100 (% of each vCPU's time; 100: no limit)" },
                { CFG_HEAD ",\"processor\":{\"limit_pct\":\"50\"}}",
                  "processor.limit_pct: must be an integer from 1 to 100 (% of each vCPU's time; 100: no limit)" },
                { CFG_HEAD ",\"processor\":{\"limit_pct\":50.5}}",
                  "processor.limit_pct: must be an integer from 1 to 100 (% of each vCPU's time; 100: no limit)" },
                { CFG_HEAD ",\"processor\":{\"limit_pct\":99999999999999999999}}",
                  "processor.limit_pct: must be an integer from 1 to 100 (% of each vCPU's time; 100: no limit)" },
                { CFG_HEAD ",\"processor\":{\"weight\":0}}",
                  "processor.weight: must be an integer from 1 to 10000 (relative to other VMs; default 100)" },
                { CFG_HEAD ",\"processor\":{\"weight\":10001}}",
                  "processor.weight: must be an integer from 1 to 10000 (relative to other VMs; default 100)" },
                { CFG_HEAD ",\"processor\":{\"limit_pct\":50,\"weight\":true}}",
                  "processor.weight: must be an integer from 1 to 10000 (relative to other VMs; default 100)" },
                { CFG_HEAD ",\"processor\":{\"limit\":50}}", "processor.limit: unknown field (known: limit_pct, weight)" },
                { CFG_HEAD ",\"processor\":50}", "processor: must be an object" },
        };
        struct vm_config *c = malloc(sizeof *c);
        char err[256];
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                ASSERT_ERROR(parse(bad[i].json, c, err, sizeof err), EINVAL);
                ASSERT_STREQ(err, bad[i].err);
        }
        free(c);
}

static void cfg_pair(struct vm_config **cur, struct vm_config **next, uint32_t limit) {
        char err[256];
        *cur = malloc(sizeof **cur);
        *next = malloc(sizeof **next);
        ASSERT_OK(parse(CFG_HEAD "}", *cur, err, sizeof err));
        **next = **cur;
        (*next)->processor.limit_pct = limit;
}

TEST(a_changed_limit_goes_to_the_worker_while_it_runs_the_vm) {
        struct vm_config *cur, *next;
        char err[256];
        bool to_worker = true;
        cfg_pair(&cur, &next, 100);
        /* Unchanged: nothing to send, in any state. */
        ASSERT_OK(vmms_processor_check_update(cur, next, VMMS_STATE_MIGRATING, &to_worker, err, sizeof err));
        ASSERT_FALSE(to_worker);
        next->processor.limit_pct = 30;
        static const enum vmms_state config_only[] = { VMMS_STATE_OFF, VMMS_STATE_CRASHED, VMMS_STATE_SAVED };
        for (size_t i = 0; i < 3; i++) {
                ASSERT_OK(vmms_processor_check_update(cur, next, config_only[i], &to_worker, err, sizeof err));
                ASSERT_FALSE(to_worker);
        }
        ASSERT_OK(vmms_processor_check_update(cur, next, VMMS_STATE_RUNNING, &to_worker, err, sizeof err));
        ASSERT_TRUE(to_worker);
        ASSERT_OK(vmms_processor_check_update(cur, next, VMMS_STATE_PAUSED, &to_worker, err, sizeof err));
        ASSERT_TRUE(to_worker);
        static const enum vmms_state between[] = { VMMS_STATE_STARTING, VMMS_STATE_STOPPING, VMMS_STATE_SAVING,
                                                   VMMS_STATE_MIGRATING };
        for (size_t i = 0; i < 4; i++) {
                ASSERT_ERROR(vmms_processor_check_update(cur, next, between[i], &to_worker, err, sizeof err), EBUSY);
                static const char prefix[] =
                        "processor: can change while the VM is Off, Crashed, Saved, Running or Paused (it is ";
                ASSERT_TRUE(strncmp(err, prefix, strlen(prefix)) == 0);
                ASSERT_NOT_NULL(strstr(err, vmms_state_to_string(between[i])));
        }
        /* Update's own rules let a running VM's processor change. */
        ASSERT_OK(vmms_config_check_update(cur, next, VMMS_STATE_RUNNING, err, sizeof err));
        free(cur), free(next);
}

TEST(a_changed_weight_goes_the_same_way) {
        struct vm_config *cur, *next;
        char err[256];
        bool to_worker = false;
        cfg_pair(&cur, &next, 100);
        next->processor.weight = 300;
        ASSERT_OK(vmms_processor_check_update(cur, next, VMMS_STATE_RUNNING, &to_worker, err, sizeof err));
        ASSERT_TRUE(to_worker);
        ASSERT_ERROR(vmms_processor_check_update(cur, next, VMMS_STATE_SAVING, &to_worker, err, sizeof err), EBUSY);
        free(cur), free(next);
}

TEST(scope_names) {
        char u[VMMS_SCOPE_UNIT_MAX];
        ASSERT_OK(vmms_scope_unit_name("web-1", "00112233-4455-6677-8899-aabbccddeeff", 4242, u, sizeof u));
        ASSERT_STREQ(u, "vmstack-web-1-00112233-4242.scope");
        char longest[VM_NAME_MAX + 1];
        memset(longest, 'a', VM_NAME_MAX);
        longest[VM_NAME_MAX] = 0;
        ASSERT_OK(vmms_scope_unit_name(longest, "00112233-4455-6677-8899-aabbccddeeff", 4194304, u, sizeof u));
        ASSERT_ERROR(vmms_scope_unit_name("web-1", "00112233", 1, u, 10), EINVAL);
}

/* The scope's MemoryHigh: the guest memory the worker maps (startup and
 * Dynamic Memory's hot-add window, whole 128 MiB blocks) and the
 * overhead allowance (256 MiB, 8 MiB per vCPU, 1/64 of the guest memory
 * rounded up, 4 MiB per disk and per NIC, 16 MiB of VRAM with a display). */
TEST(scope_memory_high_is_guest_memory_and_the_allowance) {
        struct vm_config *c = malloc(sizeof *c);
        char err[256];
        ASSERT_OK(parse(CFG_HEAD "}", c, err, sizeof err)); /* 128 MiB, 2 vCPUs */
        ASSERT_EQ(vmms_scope_memory_high(c, 0), (uint64_t)(128 + 256 + 2 * 8 + 2) << 20);
        ASSERT_OK(parse(CFG_HEAD ",\"display\":{\"enabled\":true}}", c, err, sizeof err));
        ASSERT_EQ(vmms_scope_memory_high(c, 0), (uint64_t)(128 + 256 + 2 * 8 + 2 + 16) << 20);
        /* Dynamic Memory's maximum: its window above startup in whole blocks. */
        ASSERT_OK(parse(CFG_HEAD ",\"dynamic_memory\":{\"enabled\":true,\"maximum_mib\":1200}}", c, err, sizeof err));
        ASSERT_EQ(vmms_scope_memory_high(c, 0), (uint64_t)(1152 + 256 + 2 * 8 + 18) << 20);
        /* A maximum without Dynamic Memory maps nothing more. */
        ASSERT_OK(parse(CFG_HEAD ",\"dynamic_memory\":{\"enabled\":false,\"maximum_mib\":1200}}", c, err, sizeof err));
        ASSERT_EQ(vmms_scope_memory_high(c, 0), (uint64_t)(128 + 256 + 2 * 8 + 2) << 20);
        /* A running worker's window from its start stays when the settings shrink. */
        ASSERT_EQ(vmms_scope_memory_high(c, 1152), (uint64_t)(1152 + 256 + 2 * 8 + 18) << 20);
        ASSERT_EQ(vmms_scope_memory_high(c, 64), (uint64_t)(128 + 256 + 2 * 8 + 2) << 20);
        /* Each disk and NIC adds its allowance: one hot-added raises the bound. */
        ASSERT_OK(parse(CFG_HEAD ",\"disks\":[{\"path\":\"/a.img\"},{\"path\":\"/b.img\",\"lun\":1}],"
                                 "\"nics\":[{\"mac\":\"00:15:5d:00:00:01\"}]}",
                        c, err, sizeof err));
        ASSERT_EQ(vmms_scope_memory_high(c, 0), (uint64_t)(128 + 256 + 2 * 8 + 2 + 3 * 4) << 20);
        c->n_nics = 0;
        ASSERT_EQ(vmms_scope_memory_high(c, 0), (uint64_t)(128 + 256 + 2 * 8 + 2 + 2 * 4) << 20);
        /* The largest VM: no overflow. */
        c->memory_mib = VM_MEMORY_MAX_MIB;
        c->vcpus = VM_VCPUS_MAX;
        c->n_disks = VM_DISKS_MAX;
        c->n_nics = VM_NICS_MAX;
        ASSERT_EQ(vmms_scope_memory_high(c, 0),
                  (uint64_t)(262144 + 256 + 64 * 8 + 4096 + (VM_DISKS_MAX + VM_NICS_MAX) * 4) << 20);
        free(c);
}

/* machined's names: the VM's own where it is a host name, else one made
 * of its id; the machine ID is the id's bytes in order. */
TEST(machine_names_and_ids) {
        const char *id = "00112233-4455-6677-8899-aabbccddeeff";
        char n[VM_NAME_MAX + 1];
        ASSERT_OK(vmms_machine_name("web-1", id, n, sizeof n));
        ASSERT_STREQ(n, "web-1");
        ASSERT_OK(vmms_machine_name("db.prod.2", id, n, sizeof n));
        ASSERT_STREQ(n, "db.prod.2");
        static const char *const bad[] = { "web_1", "a..b", "a.-b", "a-.b", "a-", "a.", "x y" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                ASSERT_OK(vmms_machine_name(bad[i], id, n, sizeof n));
                ASSERT_STREQ(n, "vmstack-00112233");
        }
        char longest[VM_NAME_MAX + 1];
        memset(longest, 'a', VM_NAME_MAX);
        longest[VM_NAME_MAX] = 0;
        ASSERT_OK(vmms_machine_name(longest, id, n, sizeof n));
        ASSERT_STREQ(n, longest);
        ASSERT_ERROR(vmms_machine_name("web-1", id, n, 5), EINVAL);

        uint8_t b[16];
        static const uint8_t want[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                          0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
        ASSERT_OK(vmms_machine_id_bytes(id, b));
        ASSERT_MEMEQ(b, want, 16);
        ASSERT_OK(vmms_machine_id_bytes("00112233-4455-6677-8899-AABBCCDDEEFF", b));
        ASSERT_MEMEQ(b, want, 16);
        static const char *const bad_ids[] = { "", "00112233", "00112233-4455-6677-8899-aabbccddeef",
                                               "00112233-4455-6677-8899-aabbccddeeff0", "0011223-34455-6677-8899-aabbccddeeff",
                                               "00112233-4455-6677-8899-aabbccddeegf", "00112233x4455-6677-8899-aabbccddeeff" };
        for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
                ASSERT_ERROR(vmms_machine_id_bytes(bad_ids[i], b), EINVAL);
}

/* machined's interfaces: each TAP the worker started with by its index,
 * a name no interface has (gone meanwhile) or none left out. Loopback
 * stands for a TAP (every network namespace has it). */
TEST(machine_interfaces_are_the_taps_indices) {
        const char names[4][16] = { "lo", "", "vmsnosuchif0", "lo" };
        int32_t out[4] = { 0 };
        int32_t lo = (int32_t)if_nametoindex("lo");
        ASSERT_GT(lo, 0);
        ASSERT_EQ(vmms_machine_ifindices(names, 4, out), 2u);
        ASSERT_EQ(out[0], lo);
        ASSERT_EQ(out[1], lo);
        ASSERT_EQ(vmms_machine_ifindices(names + 1, 2, out), 0u);
        ASSERT_EQ(vmms_machine_ifindices(names, 0, out), 0u);
}

static int mkdirs(const char *root, const char *const *parts) {
        char p[256];
        snprintf(p, sizeof p, "%s", root);
        for (size_t i = 0; parts[i]; i++) {
                size_t n = strlen(p);
                snprintf(p + n, sizeof p - n, "/%s", parts[i]);
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0;
}

/* The host's files in a directory of the test's: each missing piece
 * named. */
TEST(scope_host_check_names_what_is_missing) {
        char root[] = "/tmp/vmms-scope-XXXXXX", p[128], why[200];
        ASSERT_NOT_NULL(mkdtemp(root));
        ASSERT_ERROR(vmms_scope_host_check(root, why, sizeof why), ENOTSUP);
        ASSERT_STREQ(why, "systemd is not PID 1 (no /run/systemd/system)");
        ASSERT_OK(mkdirs(root, (const char *const[]){ "run", "systemd", "system", NULL }));
        ASSERT_ERROR(vmms_scope_host_check(root, why, sizeof why), ENOTSUP);
        ASSERT_STREQ(why, "no cgroup file system mounted at /sys/fs/cgroup");
        ASSERT_OK(mkdirs(root, (const char *const[]){ "sys", "fs", "cgroup", NULL }));
        ASSERT_ERROR(vmms_scope_host_check(root, why, sizeof why), ENOTSUP);
        ASSERT_STREQ(why, "no cgroup file system mounted at /sys/fs/cgroup");
        /* cgroup v1's (or hybrid's) tmpfs of one directory per controller */
        ASSERT_OK(mkdirs(root, (const char *const[]){ "sys", "fs", "cgroup", "cpu", NULL }));
        ASSERT_ERROR(vmms_scope_host_check(root, why, sizeof why), ENOTSUP);
        ASSERT_STREQ(why, "no cgroup v2 hierarchy at /sys/fs/cgroup (cgroup v1 or hybrid)");
        snprintf(p, sizeof p, "%s/sys/fs/cgroup/cgroup.controllers", root);
        test_write_file(p, "cpuset io memory pids\n", 22);
        ASSERT_ERROR(vmms_scope_host_check(root, why, sizeof why), ENOTSUP);
        ASSERT_STREQ(why, "cgroup v2 without the cpu controller");
        test_write_file(p, "cpuset cpu io memory pids\n", 26);
        ASSERT_OK(vmms_scope_host_check(root, why, sizeof why));
        ASSERT_OK(test_remove_tree(root));
}

TEST(vmctl_cpu_limit_flag) {
        json_object *cfg = json_object_new_object();
        char err[256];
        ASSERT_OK(vmctl_config_set(cfg, "cpu-limit", "40", NULL, err, sizeof err));
        json_object *p, *v;
        ASSERT_TRUE(json_object_object_get_ex(cfg, "processor", &p));
        ASSERT_TRUE(json_object_object_get_ex(p, "limit_pct", &v));
        ASSERT_EQ(json_object_get_int(v), 40);
        ASSERT_ERROR(vmctl_config_set(cfg, "cpu-limit", "0", NULL, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--cpu-limit: needs a number from 1 to 100");
        ASSERT_ERROR(vmctl_config_set(cfg, "cpu-limit", "200", NULL, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "cpu-limit", "25%", NULL, err, sizeof err), EINVAL);
        ASSERT_EQ(json_object_get_int(v), 40); /* unchanged by the refusals */
        ASSERT_OK(vmctl_config_set(cfg, "cpu-weight", "300", NULL, err, sizeof err));
        ASSERT_TRUE(json_object_object_get_ex(p, "weight", &v));
        ASSERT_EQ(json_object_get_int(v), 300);
        ASSERT_ERROR(vmctl_config_set(cfg, "cpu-weight", "0", NULL, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--cpu-weight: needs a number from 1 to 10000");
        ASSERT_ERROR(vmctl_config_set(cfg, "cpu-weight", "10001", NULL, err, sizeof err), EINVAL);
        ASSERT_EQ(json_object_get_int(v), 300);
        json_object_put(cfg);
}

/* The worker's op, with the VM's side a recorder. */
struct rec {
        bool set;
        uint32_t limit;
        int calls;
};
static int rec_processor(void *opaque, bool set, uint32_t limit_pct, struct json_object *into) {
        struct rec *r = opaque;
        r->calls++;
        r->set = set;
        if (set)
                r->limit = limit_pct;
        json_object_object_add(into, "limit_pct", json_object_new_int64(r->limit));
        return 0;
}

static json_object *call(const struct vmwp_control_ops *ops, struct rec *r, const char *req) {
        const char *state_event;
        json_object *q = json_tokener_parse(req);
        json_object *rep = vmwp_control_handle(ops, r, q, NULL, 0, &state_event);
        json_object_put(q);
        return rep;
}

static bool ok(json_object *rep) {
        json_object *v;
        return json_object_object_get_ex(rep, "ok", &v) && json_object_get_boolean(v);
}

TEST(the_worker_op_checks_the_limit_before_the_vm_sees_it) {
        struct vmwp_control_ops ops = { .processor = rec_processor };
        struct rec r = { .limit = 100 };
        static const char *const bad[] = { "{\"op\":\"processor\",\"id\":1,\"limit_pct\":0}",
                                           "{\"op\":\"processor\",\"id\":1,\"limit_pct\":101}",
                                           "{\"op\":\"processor\",\"id\":1,\"limit_pct\":\"5\"}",
                                           "{\"op\":\"processor\",\"id\":1,\"limit_pct\":null}" };
        for (size_t i = 0; i < 4; i++) {
                json_object *rep = call(&ops, &r, bad[i]);
                ASSERT_FALSE(ok(rep));
                json_object_put(rep);
        }
        ASSERT_EQ(r.calls, 0);
        json_object *rep = call(&ops, &r, "{\"op\":\"processor\",\"id\":2,\"limit_pct\":25}");
        json_object *v;
        ASSERT_TRUE(ok(rep));
        ASSERT_TRUE(json_object_object_get_ex(rep, "limit_pct", &v));
        ASSERT_EQ(json_object_get_int(v), 25);
        json_object_put(rep);
        ASSERT_TRUE(r.set);
        rep = call(&ops, &r, "{\"op\":\"processor\",\"id\":3}"); /* a query */
        ASSERT_TRUE(ok(rep));
        ASSERT_FALSE(r.set);
        json_object_put(rep);
        struct vmwp_control_ops none = { 0 };
        rep = call(&none, &r, "{\"op\":\"processor\",\"id\":4,\"limit_pct\":50}");
        ASSERT_FALSE(ok(rep));
        json_object_put(rep);
}

TEST_MAIN()
