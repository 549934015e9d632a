// SPDX-License-Identifier: MIT
/* vmms's pure parts: object paths and VM references, the state machine, exit
 * classification and the restart policy, runtime records, /proc/<pid>/stat,
 * D-Bus argument validation, the host-path policy, command-line options. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/proto.h"
#include "common/test.h"
#include "vmms/core/daemon.h"
#include "vmms/names.h"
#include "vmms/paths.h"
#include "vmms/runtime.h"
#include "vmms/lifecycle.h"
#include "vmms/validate.h"
#include "vmms/guest/guest.h"
#include "vmms/video/video.h"

#define ID1 "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

TEST(vm_path_roundtrip) {
        struct guid id, back;
        char path[VMMS_VM_PATH_MAX];
        ASSERT_OK(guid_from_string(ID1, &id));
        ASSERT_STREQ(vmms_vm_path(&id, path), "/org/vmstack/VMMS1/vm/0f1e2d3c_4b5a_4978_8695_a4b3c2d1e0f9");
        ASSERT_OK(vmms_vm_path_to_id(path, &back));
        ASSERT_TRUE(guid_equal(&id, &back));
}

TEST(vm_path_rejects_others) {
        struct guid id;
        ASSERT_ERROR(vmms_vm_path_to_id("/org/vmstack/VMMS1/vm/0F1E2D3C_4b5a_4978_8695_a4b3c2d1e0f9", &id), EINVAL);
        ASSERT_ERROR(vmms_vm_path_to_id("/org/vmstack/VMMS1/vm/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", &id), EINVAL);
        ASSERT_ERROR(vmms_vm_path_to_id("/org/vmstack/VMMS1/vm/0f1e2d3c_4b5a_4978_8695_a4b3c2d1e0f", &id), EINVAL);
        ASSERT_ERROR(vmms_vm_path_to_id("/org/vmstack/VMMS1", &id), EINVAL);
        ASSERT_ERROR(vmms_vm_path_to_id("/org/vmstack/VMMS1/vmx/0f1e2d3c_4b5a_4978_8695_a4b3c2d1e0f9", &id), EINVAL);
        ASSERT_ERROR(vmms_vm_path_to_id(NULL, &id), EINVAL);
}

TEST(vm_ref_parse) {
        struct guid id, want;
        ASSERT_OK(guid_from_string(ID1, &want));
        ASSERT_EQ(vmms_vm_ref_parse(ID1, &id), VMMS_VM_REF_ID);
        ASSERT_TRUE(guid_equal(&id, &want));
        ASSERT_EQ(vmms_vm_ref_parse("web-1.example", &id), VMMS_VM_REF_NAME);
        ASSERT_ERROR(vmms_vm_ref_parse("", &id), EINVAL);
        ASSERT_ERROR(vmms_vm_ref_parse("has space", &id), EINVAL);
        ASSERT_ERROR(vmms_vm_ref_parse("-dash", &id), EINVAL);
        ASSERT_TRUE(vmms_name_is_id_like(ID1));
        ASSERT_FALSE(vmms_name_is_id_like("web1"));
}

TEST(state_ops) {
        char msg[200];
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_OFF, VMMS_OP_START, msg, sizeof msg));
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_CRASHED, VMMS_OP_START, msg, sizeof msg));
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_RUNNING, VMMS_OP_START, msg, sizeof msg), EALREADY);
        ASSERT_TRUE(strstr(msg, "Start is not possible while the VM is Running (possible in: Off, Crashed, Saved)") !=
                    NULL);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_STOPPING, VMMS_OP_PAUSE, msg, sizeof msg), EBUSY);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_RUNNING, VMMS_OP_DELETE, msg, sizeof msg), EINVAL);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_OFF, VMMS_OP_STOP, msg, sizeof msg), EALREADY);
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_CRASHED, VMMS_OP_STOP, msg, sizeof msg));
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_STARTING, VMMS_OP_KILL, msg, sizeof msg));
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_PAUSED, VMMS_OP_PAUSE, msg, sizeof msg), EALREADY);
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_PAUSED, VMMS_OP_RESUME, msg, sizeof msg));
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_OFF, VMMS_OP_CONSOLE, msg, sizeof msg), EINVAL);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_MAX, VMMS_OP_START, msg, sizeof msg), EINVAL);
        /* The Saved state (docs/vm-state.md): saved from Running or Paused,
         * resumed by Start, never lost by Stop or Kill by accident. */
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_RUNNING, VMMS_OP_SAVE, msg, sizeof msg));
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_PAUSED, VMMS_OP_SAVE, msg, sizeof msg));
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_OFF, VMMS_OP_SAVE, msg, sizeof msg), EINVAL);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_SAVED, VMMS_OP_SAVE, msg, sizeof msg), EALREADY);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_SAVING, VMMS_OP_SAVE, msg, sizeof msg), EALREADY);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_SAVING, VMMS_OP_PAUSE, msg, sizeof msg), EBUSY);
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_SAVED, VMMS_OP_START, msg, sizeof msg));
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_SAVED, VMMS_OP_DELETE, msg, sizeof msg));
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_SAVED, VMMS_OP_DISCARD_SAVED, msg, sizeof msg));
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_OFF, VMMS_OP_DISCARD_SAVED, msg, sizeof msg), EALREADY);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_SAVED, VMMS_OP_STOP, msg, sizeof msg), EINVAL);
        ASSERT_TRUE(strstr(msg, "Stop is not possible while the VM is Saved") != NULL);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_SAVED, VMMS_OP_KILL, msg, sizeof msg), EINVAL);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_SAVED, VMMS_OP_CONSOLE, msg, sizeof msg), EINVAL);
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_SAVING, VMMS_OP_KILL, msg, sizeof msg));
        /* Migrate: live or quick while Running, quick (a move) while Saved
         * (docs/migration.md "Quick migration"); not while it is being
         * saved or moved, nor while Paused or Off. */
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_RUNNING, VMMS_OP_MIGRATE, msg, sizeof msg));
        ASSERT_OK(vmms_state_check_op(VMMS_STATE_SAVED, VMMS_OP_MIGRATE, msg, sizeof msg));
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_SAVING, VMMS_OP_MIGRATE, msg, sizeof msg), EBUSY);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_MIGRATING, VMMS_OP_MIGRATE, msg, sizeof msg), EALREADY);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_OFF, VMMS_OP_MIGRATE, msg, sizeof msg), EINVAL);
        ASSERT_TRUE(strstr(msg, "(possible in: Running, Saved)") != NULL);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_MIGRATING, VMMS_OP_START, msg, sizeof msg), EBUSY);
        ASSERT_ERROR(vmms_state_check_op(VMMS_STATE_MIGRATING, VMMS_OP_DELETE, msg, sizeof msg), EBUSY);
}

TEST(state_names) {
        for (int s = 0; s < VMMS_STATE_MAX; s++)
                ASSERT_EQ(vmms_state_from_string(vmms_state_to_string(s)), s);
        ASSERT_ERROR(vmms_state_from_string("running"), EINVAL);
        ASSERT_TRUE(vmms_state_has_worker(VMMS_STATE_PAUSED));
        ASSERT_FALSE(vmms_state_has_worker(VMMS_STATE_CRASHED));
        ASSERT_TRUE(vmms_state_has_worker(VMMS_STATE_SAVING));
        ASSERT_FALSE(vmms_state_has_worker(VMMS_STATE_SAVED));
        ASSERT_STREQ(vmms_state_to_string(VMMS_STATE_SAVED), "Saved");
}

static struct vmms_exit_verdict classify(int code, int sig, const char *reason, bool requested) {
        struct vmms_exit_report r = { .code = code, .signal = sig, .reason = reason, .requested = requested,
                                      .request = requested ? "Kill" : NULL };
        struct vmms_exit_verdict v;
        vmms_exit_classify(&r, &v);
        return v;
}

TEST(exit_classification) {
        struct vmms_exit_verdict v = classify(VMWP_EXIT_POWEROFF, 0, NULL, false);
        ASSERT_EQ(v.end, VMMS_END_CLEAN);
        ASSERT_EQ(v.state, VMMS_STATE_OFF);
        ASSERT_STREQ(v.reason, "powered off (exit status 0)");
        v = classify(VMWP_EXIT_POWEROFF, 0, "powered off (ACPI S5)", false);
        ASSERT_STREQ(v.reason, "powered off (ACPI S5) (exit status 0)");
        v = classify(VMWP_EXIT_RESET, 0, "guest rebooted", false);
        ASSERT_EQ(v.end, VMMS_END_RESET);
        v = classify(VMWP_EXIT_TRIPLE_FAULT, 0, "at rip 0x1000", false);
        ASSERT_EQ(v.end, VMMS_END_FAILURE);
        ASSERT_EQ(v.state, VMMS_STATE_CRASHED);
        ASSERT_STREQ(v.reason, "triple fault: at rip 0x1000 (exit status 11)");
        v = classify(-1, 9, NULL, false);
        ASSERT_EQ(v.state, VMMS_STATE_CRASHED);
        ASSERT_STREQ(v.reason, "worker killed by signal KILL");
        v = classify(-1, 9, NULL, true);
        ASSERT_EQ(v.end, VMMS_END_REQUESTED);
        ASSERT_EQ(v.state, VMMS_STATE_OFF);
        ASSERT_STREQ(v.reason, "worker killed by signal KILL (Kill requested)");
        struct vmms_exit_report esc = { .code = -1, .signal = 9, .requested = true, .request = "Stop" };
        vmms_exit_classify(&esc, &v);
        ASSERT_STREQ(v.reason, "worker killed by signal KILL (Stop requested)");
        v = classify(-1, 0, NULL, false);
        ASSERT_EQ(v.end, VMMS_END_FAILURE);
        ASSERT_STREQ(v.reason, "worker ended without an exit status");
        v = classify(VMWP_EXIT_STOPPED, 0, NULL, false);
        ASSERT_EQ(v.end, VMMS_END_CLEAN);
        v = classify(77, 0, NULL, false);
        ASSERT_EQ(v.end, VMMS_END_FAILURE);
}

TEST(restart_policy) {
        const struct vmms_restart_limits lim = { .base_delay_us = 100, .max_delay_us = 350, .window_us = 10000, .burst = 3 };
        struct vmms_restart_state st = { 0 };
        uint64_t d;
        ASSERT_EQ(vmms_restart_decide(VM_RESTART_NEVER, VMMS_END_FAILURE, &lim, &st, 1000, &d), VMMS_RESTART_NO);
        ASSERT_EQ(vmms_restart_decide(VM_RESTART_ON_FAILURE, VMMS_END_CLEAN, &lim, &st, 1000, &d), VMMS_RESTART_NO);
        ASSERT_EQ(vmms_restart_decide(VM_RESTART_ALWAYS, VMMS_END_REQUESTED, &lim, &st, 1000, &d), VMMS_RESTART_NO);
        ASSERT_EQ(vmms_restart_decide(VM_RESTART_NEVER, VMMS_END_RESET, &lim, &st, 1000, &d), VMMS_RESTART_YES);
        ASSERT_EQ(d, 0u);
        ASSERT_EQ(st.count, 0u); /* resets do not count */
        ASSERT_EQ(vmms_restart_decide(VM_RESTART_ON_FAILURE, VMMS_END_FAILURE, &lim, &st, 1000, &d), VMMS_RESTART_YES);
        ASSERT_EQ(d, 100u);
        ASSERT_EQ(vmms_restart_decide(VM_RESTART_ON_FAILURE, VMMS_END_FAILURE, &lim, &st, 2000, &d), VMMS_RESTART_YES);
        ASSERT_EQ(d, 200u);
        ASSERT_EQ(vmms_restart_decide(VM_RESTART_ALWAYS, VMMS_END_CLEAN, &lim, &st, 3000, &d), VMMS_RESTART_YES);
        ASSERT_EQ(d, 350u); /* capped */
        ASSERT_EQ(vmms_restart_decide(VM_RESTART_ALWAYS, VMMS_END_FAILURE, &lim, &st, 4000, &d), VMMS_RESTART_LIMIT);
        /* After the window the count starts again. */
        ASSERT_EQ(vmms_restart_decide(VM_RESTART_ALWAYS, VMMS_END_FAILURE, &lim, &st, 1000 + 10000, &d), VMMS_RESTART_YES);
        ASSERT_EQ(d, 100u);
        ASSERT_EQ(st.count, 1u);
}

TEST(runtime_record_roundtrip) {
        struct vmms_runtime_record r = { .pid = 4242, .starttime = 123456789, .started_at_us = 1700000000000000ull,
                                         .running_since_us = 1700000000500000ull, .reattach = true },
                                   back;
        char err[128];
        ASSERT_OK(guid_from_string(ID1, &r.id));
        strcpy(r.boot_id, "7ce93210-3965-4917-abaf-70dd233a72df");
        strcpy(r.control, "/run/vmstack/vms/" ID1 "/control.sock");
        strcpy(r.console, "/run/vmstack/vms/" ID1 "/console.sock");
        char *json = vmms_runtime_record_to_json(&r);
        ASSERT_NOT_NULL(json);
        ASSERT_NULL(strstr(json, "migration_unresolved")); /* only while there is one */
        ASSERT_OK(vmms_runtime_record_parse(json, strlen(json), &back, err, sizeof err));
        ASSERT_MEMEQ(&r, &back, sizeof r);
        free(json);
        /* A commit nobody confirmed: the destination to ask, kept as given. */
        strcpy(r.migration_unresolved, "[fd00::2]:7390");
        json = vmms_runtime_record_to_json(&r);
        ASSERT_NOT_NULL(json);
        ASSERT_NULL(strstr(json, "memory_target")); /* only while there is one */
        ASSERT_OK(vmms_runtime_record_parse(json, strlen(json), &back, err, sizeof err));
        ASSERT_MEMEQ(&r, &back, sizeof r);
        free(json);
        /* The operator's memory target, for a vmms that restarts. */
        r.memory_target = 384ull << 20;
        json = vmms_runtime_record_to_json(&r);
        ASSERT_NOT_NULL(strstr(json, "\"memory_target\":402653184"));
        ASSERT_NULL(strstr(json, "boot_status")); /* only while there is one */
        ASSERT_OK(vmms_runtime_record_parse(json, strlen(json), &back, err, sizeof err));
        ASSERT_MEMEQ(&r, &back, sizeof r);
        free(json);
        /* A restored worker's boot status, for a vmms that restarts. */
        strcpy(r.boot_status, "no-bootable-device");
        json = vmms_runtime_record_to_json(&r);
        ASSERT_NOT_NULL(strstr(json, "\"boot_status\":\"no-bootable-device\""));
        ASSERT_OK(vmms_runtime_record_parse(json, strlen(json), &back, err, sizeof err));
        ASSERT_MEMEQ(&r, &back, sizeof r);
        free(json);
}

TEST(runtime_record_errors) {
        struct vmms_runtime_record r;
        char err[128];
        static const struct {
                const char *json, *err;
        } cases[] = {
                { "[]", "record: is not a JSON object" },
                { "{\"version\":1}", "id: is required" },
                { "{\"version\":2,\"id\":\"" ID1 "\",\"pid\":5,\"starttime\":1,\"boot_id\":\"b\",\"control\":\"/c\",\"started_at_us\":1}",
                  "version: must be 1" },
                { "{\"version\":1,\"id\":\"" ID1 "\",\"pid\":1,\"starttime\":1,\"boot_id\":\"b\",\"control\":\"/c\",\"started_at_us\":1}",
                  "pid: must be a process id above 1" },
                { "{\"version\":1,\"id\":\"" ID1 "\",\"pid\":5,\"starttime\":1,\"boot_id\":\"b\",\"control\":\"c\",\"started_at_us\":1}",
                  "control: must be an absolute path" },
                { "{\"version\":1,\"bogus\":1}", "bogus: unknown field" },
                { "{\"version\":1,\"id\":\"nope\",\"pid\":5,\"starttime\":1,\"boot_id\":\"b\",\"control\":\"/c\",\"started_at_us\":1}",
                  "id: is not a GUID" },
                { "{\"version\":1,\"id\":\"" ID1 "\",\"pid\":5,\"starttime\":1,\"boot_id\":\"b\",\"control\":\"/c\",\"started_at_us\":1,"
                  "\"migration_unresolved\":\"host name:1\"}",
                  "migration_unresolved: must be HOST:PORT" },
                { "{\"version\":1,\"id\":\"" ID1 "\",\"pid\":5,\"starttime\":1,\"boot_id\":\"b\",\"control\":\"/c\",\"started_at_us\":1,"
                  "\"migration_unresolved\":7}",
                  "migration_unresolved: must be a string" },
                { "{\"version\":1,\"id\":\"" ID1 "\",\"pid\":5,\"starttime\":1,\"boot_id\":\"b\",\"control\":\"/c\",\"started_at_us\":1,"
                  "\"memory_target\":-1}",
                  "memory_target: is out of range" },
                { "{\"version\":1,\"id\":\"" ID1 "\",\"pid\":5,\"starttime\":1,\"boot_id\":\"b\",\"control\":\"/c\",\"started_at_us\":1,"
                  "\"boot_status\":\"rebooted\"}",
                  "boot_status: must be firmware, booted or no-bootable-device" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                ASSERT_ERROR(vmms_runtime_record_parse(cases[i].json, strlen(cases[i].json), &r, err, sizeof err), EINVAL);
                ASSERT_STREQ(err, cases[i].err);
        }
}

TEST(proc_stat) {
        struct vmms_proc_stat st;
        /* A command name with spaces and a ')' in it; a zombie with status 10<<8. */
        static const char zombie[] = "4242 (vm (x) y) Z 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
                                     "987654 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
                                     "0 0 0 0 0 0 0 2560\n";
        ASSERT_OK(vmms_proc_stat_parse(zombie, strlen(zombie), &st));
        ASSERT_EQ(st.state, 'Z');
        ASSERT_EQ(st.starttime, 987654u);
        ASSERT_EQ(st.exit_code, 2560);
        static const char short_line[] = "1 (init) S 0 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 55";
        ASSERT_OK(vmms_proc_stat_parse(short_line, strlen(short_line), &st));
        ASSERT_EQ(st.starttime, 55u);
        ASSERT_EQ(st.exit_code, -1);
        ASSERT_ERROR(vmms_proc_stat_parse("1 (init S 0", 11, &st), EINVAL);
        ASSERT_ERROR(vmms_proc_stat_parse("1 (init) S 0 1", 14, &st), EINVAL);
        ASSERT_ERROR(vmms_proc_stat_parse("", 0, &st), EINVAL);
}

static const char base_cfg[] = "{\"name\":\"web1\",\"memory_mib\":256,\"boot\":{\"kernel\":\"/k\"},"
                               "\"nics\":[{\"mac\":\"00:15:5d:00:00:01\"}],\"restart_policy\":\"never\"}";

TEST(config_parse_for_injects_the_id) {
        struct vm_config *a = malloc(sizeof *a), *b = malloc(sizeof *b);
        struct guid id;
        char err[256], with_id[512];
        ASSERT_OK(guid_from_string(ID1, &id));
        ASSERT_OK(vmms_config_parse_for(base_cfg, strlen(base_cfg), &id, false, a, err, sizeof err));
        ASSERT_TRUE(guid_equal(&a->id, &id));
        /* The same as if the caller had written the id: instance GUIDs derive from it. */
        snprintf(with_id, sizeof with_id, "{\"id\":\"%s\",%s", ID1, base_cfg + 1);
        ASSERT_OK(vm_config_parse(with_id, strlen(with_id), b, err, sizeof err));
        ASSERT_TRUE(guid_equal(&a->nics[0].instance, &b->nics[0].instance));
        ASSERT_TRUE(guid_equal(&a->scsi_instance[2], &b->scsi_instance[2]));
        free(a), free(b);
}

TEST(config_parse_for_errors) {
        struct vm_config *c = malloc(sizeof *c);
        struct guid id, other;
        char err[256], doc[512];
        ASSERT_OK(guid_from_string(ID1, &id));
        ASSERT_OK(guid_generate(&other));
        snprintf(doc, sizeof doc, "{\"id\":\"%s\",%s", guid_to_string(&other, (char[GUID_STRING_MAX]){ 0 }), base_cfg + 1);
        ASSERT_OK(vmms_config_parse_for(doc, strlen(doc), &id, false, c, err, sizeof err));
        ASSERT_ERROR(vmms_config_parse_for(doc, strlen(doc), &id, true, c, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "id: cannot be changed");
        static const char idname[] = "{\"name\":\"" ID1 "\",\"boot\":{\"kernel\":\"/k\"}}";
        ASSERT_ERROR(vmms_config_parse_for(idname, strlen(idname), &id, false, c, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "name: must not have the form of a VM id");
        static const char nullid[] = "{\"id\":\"00000000-0000-0000-0000-000000000000\",\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"}}";
        ASSERT_ERROR(vmms_config_parse_for(nullid, strlen(nullid), &id, false, c, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "id: must not be the null GUID");
        static const char badmem[] = "{\"name\":\"a\",\"memory_mib\":1,\"boot\":{\"kernel\":\"/k\"}}";
        ASSERT_ERROR(vmms_config_parse_for(badmem, strlen(badmem), &id, false, c, err, sizeof err), EINVAL);
        ASSERT_TRUE(strncmp(err, "memory_mib: ", 12) == 0);
        ASSERT_ERROR(vmms_config_parse_for("{\"name\":\"a\"\0}", 13, &id, false, c, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "configuration: contains a NUL byte");
        char *big = malloc(VM_CONFIG_MAX_BYTES + 2);
        memset(big, ' ', VM_CONFIG_MAX_BYTES + 1);
        ASSERT_ERROR(vmms_config_parse_for(big, VM_CONFIG_MAX_BYTES + 1, &id, false, c, err, sizeof err), EINVAL);
        free(big), free(c);
}

TEST(config_update_rules) {
        struct vm_config *cur = malloc(sizeof *cur), *next = malloc(sizeof *next);
        struct guid id;
        char err[256];
        ASSERT_OK(guid_from_string(ID1, &id));
        ASSERT_OK(vmms_config_parse_for(base_cfg, strlen(base_cfg), &id, true, cur, err, sizeof err));
        *next = *cur;
        snprintf(next->name, sizeof next->name, "renamed");
        next->restart_policy = VM_RESTART_ALWAYS;
        ASSERT_OK(vmms_config_check_update(cur, next, VMMS_STATE_RUNNING, err, sizeof err));
        next->memory_mib = 512;
        ASSERT_ERROR(vmms_config_check_update(cur, next, VMMS_STATE_RUNNING, err, sizeof err), EBUSY);
        ASSERT_STREQ(err, "memory_mib: can only change while the VM is Off or Crashed (it is Running)");
        ASSERT_OK(vmms_config_check_update(cur, next, VMMS_STATE_OFF, err, sizeof err));
        *next = *cur;
        next->n_nics = 0;
        ASSERT_ERROR(vmms_config_check_update(cur, next, VMMS_STATE_PAUSED, err, sizeof err), EBUSY);
        ASSERT_TRUE(strncmp(err, "nics: ", 6) == 0);
        ASSERT_OK(vmms_config_check_update(cur, next, VMMS_STATE_CRASHED, err, sizeof err));
        next->id.b[0] ^= 1;
        ASSERT_ERROR(vmms_config_check_update(cur, next, VMMS_STATE_OFF, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "id: cannot be changed");
        free(cur), free(next);
}

TEST(stop_timeout) {
        struct vm_config c;
        uint32_t t;
        char err[128];
        vm_config_init_defaults(&c);
        c.stop_timeout_s = 42;
        ASSERT_OK(vmms_stop_timeout_resolve(0, &c, &t, err, sizeof err));
        ASSERT_EQ(t, 42u);
        ASSERT_OK(vmms_stop_timeout_resolve(5, &c, &t, err, sizeof err));
        ASSERT_EQ(t, 5u);
        ASSERT_ERROR(vmms_stop_timeout_resolve(3601, &c, &t, err, sizeof err), EINVAL);
        ASSERT_TRUE(strncmp(err, "timeout: ", 9) == 0);
}

/* getopt wants char **: copy the literals (o keeps pointers into the copies
 * until the next call). */
static int parse_args(struct vmms_options *o, char *err, size_t errlen, const char *const *args) {
        static char store[16][128];
        char *argv[16];
        int n = 0;
        for (; args[n] && n < 15; n++)
                argv[n] = strncpy(store[n], args[n], sizeof store[n] - 1);
        argv[n] = NULL;
        return vmms_options_parse(n, argv, o, err, errlen);
}

TEST(options) {
        struct vmms_options o;
        char err[256];
        ASSERT_EQ(parse_args(&o, err, sizeof err,
                             (const char *const[]){ "vmms", "--state-dir=/s", "--max-vms=7", "--restart-delay-ms=250",
                                                    "--no-polkit", "--worker=/opt/vmwp", "--group=", NULL }),
                  0);
        ASSERT_STREQ(o.state_dir, "/s");
        ASSERT_EQ(o.max_vms, 7u);
        ASSERT_EQ(o.restart.base_delay_us, 250000u);
        ASSERT_FALSE(o.polkit);
        ASSERT_STREQ(o.worker, "/opt/vmwp");
        ASSERT_STREQ(o.group, "");
        ASSERT_STREQ(o.runtime_dir, "/run/vmstack");
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--max-vms=0", NULL }), EINVAL);
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--worker=vmwp", NULL }), EINVAL);
        ASSERT_STREQ(err, "--worker: needs an absolute path");
        ASSERT_ERROR(parse_args(&o, err, sizeof err,
                                (const char *const[]){ "vmms", "--runtime-dir=/a/very/long/path/that/is/much/too/long/for/unix/sockets/below/it", NULL }),
                     EINVAL);
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "extra", NULL }), EINVAL);
        ASSERT_STREQ(err, "unexpected argument: extra");
}

TEST(log_options) {
        struct vmms_options o;
        char err[256];
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", NULL }), 0);
        ASSERT_EQ(o.log_max_bytes, 1024u * 1024u); /* bounded by default */
        ASSERT_EQ(o.log_check_us, 5000000u);
        ASSERT_EQ(parse_args(&o, err, sizeof err,
                             (const char *const[]){ "vmms", "--log-max-size=0", "--log-check-interval-ms=250", NULL }),
                  0);
        ASSERT_EQ(o.log_max_bytes, 0u);
        ASSERT_EQ(o.log_check_us, 250000u);
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--log-max-size=1M", NULL }),
                     EINVAL);
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--log-check-interval-ms=0", NULL }),
                     EINVAL);
}

/* A certificate file for the console options' checks (any readable file:
 * vmms checks that it can read it, vmdisplay's websockify loads it). */
static const char *console_cert_file(void) {
        static char path[64];
        if (!path[0]) {
                snprintf(path, sizeof path, "/tmp/test-vmms-cert-%d.pem", (int)getpid());
                FILE *f = fopen(path, "w");
                if (f)
                        fputs("not checked here\n", f), fclose(f);
        }
        return path;
}

TEST(console_options) {
        struct vmms_options o;
        char err[256], a[96], c[96];
        const char *cert = console_cert_file();
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", NULL }), 0);
        ASSERT_STREQ(o.console_address, "127.0.0.1");
        ASSERT_FALSE(o.console_remote);
        ASSERT_TRUE(o.console_cert == NULL);
        char url[128];
        ASSERT_OK(vmms_display_web_url(&o, 6081, url, sizeof url));
        ASSERT_STREQ(url, "http://127.0.0.1:6081/");

        /* Off loopback only with TLS; the refusal says why. */
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--console-address=192.0.2.7", NULL }),
                     EINVAL);
        ASSERT_STREQ(err, "--console-address=192.0.2.7 is not a loopback address: the web consoles there need TLS "
                          "(--console-cert)");
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--console-address=::", NULL }),
                     EINVAL);
        snprintf(c, sizeof c, "--console-cert=%s", cert);
        ASSERT_EQ(parse_args(&o, err, sizeof err,
                             (const char *const[]){ "vmms", "--console-address=192.0.2.7", c, NULL }),
                  0);
        ASSERT_TRUE(o.console_remote);
        ASSERT_FALSE(o.console_v6);
        ASSERT_STREQ(o.console_cert, cert);
        ASSERT_OK(vmms_display_web_url(&o, 6081, url, sizeof url));
        ASSERT_STREQ(url, "https://192.0.2.7:6081/");

        /* IPv6, with or without brackets; TLS on loopback too. */
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--console-address=[2001:db8::5]", c, NULL }),
                  0);
        ASSERT_STREQ(o.console_address, "2001:db8::5");
        ASSERT_TRUE(o.console_v6 && o.console_remote);
        ASSERT_OK(vmms_display_web_url(&o, 443, url, sizeof url));
        ASSERT_STREQ(url, "https://[2001:db8::5]:443/");
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--console-address=::1", c, NULL }), 0);
        ASSERT_FALSE(o.console_remote);
        ASSERT_OK(vmms_display_web_url(&o, 6081, url, sizeof url));
        ASSERT_STREQ(url, "https://[::1]:6081/");

        /* All addresses: the URL names the host. */
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--console-address=0.0.0.0", c, NULL }),
                  0);
        ASSERT_TRUE(o.console_wildcard && o.console_remote);
        char host[256] = "", want[300];
        ASSERT_OK(gethostname(host, sizeof host - 1));
        snprintf(want, sizeof want, "https://%s:6081/", host);
        ASSERT_OK(vmms_display_web_url(&o, 6081, url, sizeof url));
        ASSERT_STREQ(url, want);

        /* Bad addresses, a key alone, files that cannot be read. */
        const char *bad[] = { "--console-address=localhost", "--console-address=127.0.0.1:80", "--console-address=",
                              "--console-address=[127.0.0.1]x" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", bad[i], NULL }), EINVAL);
                ASSERT_TRUE(strstr(err, "a numeric IPv4 or IPv6 address") != NULL);
        }
        snprintf(a, sizeof a, "--console-key=%s", cert);
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", a, NULL }), EINVAL);
        ASSERT_STREQ(err, "--console-key needs --console-cert");
        ASSERT_ERROR(parse_args(&o, err, sizeof err,
                                (const char *const[]){ "vmms", "--console-cert=/nonexistent/cert.pem", NULL }),
                     EINVAL);
        ASSERT_STREQ(err, "--console-cert=/nonexistent/cert.pem: No such file or directory");
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--console-cert=cert.pem", NULL }),
                     EINVAL);
        ASSERT_STREQ(err, "--console-cert=cert.pem: needs an absolute path");
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", c, a, NULL }), 0);
        ASSERT_STREQ(o.console_key, cert);
        unlink(cert);

        /* How long a console viewer may take to log in (vmdisplay's own
         * 10 s unless said). */
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", NULL }), 0);
        ASSERT_EQ(o.console_login_s, 0u);
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--console-login-timeout=120", NULL }),
                  0);
        ASSERT_EQ(o.console_login_s, 120u);
        ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--console-login-timeout=0", NULL }),
                     EINVAL);
        ASSERT_ERROR(
                parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", "--console-login-timeout=601", NULL }),
                EINVAL);
}

TEST(storage_pool_options) {
        struct vmms_options o;
        char err[256];
        ASSERT_EQ(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", NULL }), 0);
        ASSERT_EQ(o.paths.n_pools, 1u);
        ASSERT_STREQ(o.paths.pools[0].dir, VMMS_DEFAULT_POOL);
        ASSERT_FALSE(o.paths.allow_block_devices);
        ASSERT_EQ(parse_args(&o, err, sizeof err,
                             (const char *const[]){ "vmms", "--storage-pool=/srv/vm", "--storage-pool=/srv/iso:ro",
                                                    "--allow-block-devices", NULL }),
                  0);
        ASSERT_EQ(o.paths.n_pools, 2u);
        ASSERT_STREQ(o.paths.pools[1].dir, "/srv/iso");
        ASSERT_TRUE(o.paths.pools[1].read_only);
        ASSERT_TRUE(o.paths.allow_block_devices);
        const char *bad[] = { "--storage-pool=/", "--storage-pool=srv", "--storage-pool=/srv/../etc",
                              "--storage-pool=/srv/", "--storage-pool=/srv//vm", "--storage-pool=:ro" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                ASSERT_ERROR(parse_args(&o, err, sizeof err, (const char *const[]){ "vmms", bad[i], NULL }), EINVAL);
        ASSERT_ERROR(parse_args(&o, err, sizeof err,
                                (const char *const[]){ "vmms", "--storage-pool=/a", "--storage-pool=/a", NULL }),
                     EINVAL);
        ASSERT_STREQ(err, "--storage-pool=/a: given twice");
}

TEST(path_is_plain) {
        ASSERT_TRUE(vmms_path_is_plain("/a"));
        ASSERT_TRUE(vmms_path_is_plain("/a/b.img"));
        ASSERT_TRUE(vmms_path_is_plain("/a/..b/.c"));
        const char *bad[] = { "", "/", "a/b", "//a", "/a//b", "/a/", "/a/./b", "/a/../b", "/a/..", "/." };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                ASSERT_FALSE(vmms_path_is_plain(bad[i]));
}

static struct vmms_path_policy test_policy(void) {
        struct vmms_path_policy p = { .n_pools = 2 };
        snprintf(p.pools[0].dir, sizeof p.pools[0].dir, "/pool");
        snprintf(p.pools[1].dir, sizeof p.pools[1].dir, "/iso");
        p.pools[1].read_only = true;
        return p;
}

TEST(path_place) {
        struct vmms_path_policy p = test_policy();
        struct vmms_path_place pl;
        char err[512];
        ASSERT_OK(vmms_path_place(&p, "/pool/a/b.img", VMMS_FILE_DISK_RW, false, &pl, err, sizeof err));
        ASSERT_STREQ(pl.root, "/pool");
        ASSERT_STREQ(pl.rel, "a/b.img");
        ASSERT_FALSE(pl.block);
        ASSERT_ERROR(vmms_path_place(&p, "/poolx/a", VMMS_FILE_DISK_RW, true, &pl, err, sizeof err), EPERM);
        ASSERT_STREQ(err, "/poolx/a: not in a storage pool (pools: /pool, /iso (read-only); vmms --storage-pool "
                          "adds one)");
        ASSERT_ERROR(vmms_path_place(&p, "/pool", VMMS_FILE_BOOT, true, &pl, err, sizeof err), EPERM);
        ASSERT_ERROR(vmms_path_place(&p, "/pool/../etc/shadow", VMMS_FILE_DISK_RO, true, &pl, err, sizeof err),
                     EINVAL);
        /* The innermost pool decides (a mount inside a pool is a pool of its own). */
        snprintf(p.pools[2].dir, sizeof p.pools[2].dir, "/pool/ro");
        p.pools[2].read_only = true;
        p.n_pools = 3;
        ASSERT_ERROR(vmms_path_place(&p, "/pool/ro/x.img", VMMS_FILE_DISK_RW, true, &pl, err, sizeof err), EPERM);
        ASSERT_OK(vmms_path_place(&p, "/pool/ro/x.img", VMMS_FILE_DISK_RO, true, &pl, err, sizeof err));
        ASSERT_STREQ(pl.root, "/pool/ro");
        ASSERT_STREQ(pl.rel, "x.img");
        ASSERT_OK(vmms_path_place(&p, "/pool/rox.img", VMMS_FILE_DISK_RW, true, &pl, err, sizeof err));
        ASSERT_STREQ(pl.root, "/pool");
        p.n_pools = 2;
        ASSERT_OK(vmms_path_place(&p, "/iso/d.iso", VMMS_FILE_DISK_RO, false, &pl, err, sizeof err));
        ASSERT_OK(vmms_path_place(&p, "/iso/vmlinuz", VMMS_FILE_BOOT, false, &pl, err, sizeof err));
        ASSERT_ERROR(vmms_path_place(&p, "/iso/d.iso", VMMS_FILE_DISK_RW, true, &pl, err, sizeof err), EPERM);
        /* Block devices: root-owned VMs, or everyone with --allow-block-devices. */
        ASSERT_ERROR(vmms_path_place(&p, "/dev/sdb", VMMS_FILE_DISK_RW, false, &pl, err, sizeof err), EPERM);
        ASSERT_OK(vmms_path_place(&p, "/dev/disk/by-id/x", VMMS_FILE_DISK_RW, true, &pl, err, sizeof err));
        ASSERT_STREQ(pl.root, "/dev");
        ASSERT_TRUE(pl.block);
        ASSERT_ERROR(vmms_path_place(&p, "/dev/sdb", VMMS_FILE_BOOT, true, &pl, err, sizeof err), EPERM);
        p.allow_block_devices = true;
        ASSERT_OK(vmms_path_place(&p, "/dev/sdb", VMMS_FILE_DISK_RO, false, &pl, err, sizeof err));
}

TEST(config_check_paths) {
        struct vmms_path_policy p = test_policy();
        struct vm_config *cur = calloc(1, sizeof *cur), *next = calloc(1, sizeof *next);
        char err[1200];
        ASSERT_NOT_NULL(cur);
        ASSERT_NOT_NULL(next);
        snprintf(next->kernel, sizeof next->kernel, "/pool/k");
        next->n_disks = 2;
        snprintf(next->disks[0].path, sizeof next->disks[0].path, "/pool/a.img");
        snprintf(next->disks[1].path, sizeof next->disks[1].path, "/etc/shadow");
        ASSERT_ERROR(vmms_config_check_paths(&p, next, NULL, true, err, sizeof err), EPERM);
        ASSERT_STREQ(err, "disks[1].path: /etc/shadow: not in a storage pool (pools: /pool, /iso (read-only); vmms "
                          "--storage-pool adds one)");
        snprintf(next->disks[1].path, sizeof next->disks[1].path, "/dev/sdb");
        ASSERT_OK(vmms_config_check_paths(&p, next, NULL, true, err, sizeof err));
        ASSERT_ERROR(vmms_config_check_paths(&p, next, NULL, false, err, sizeof err), EPERM);
        /* What root set up stays editable by others; only new paths are checked. */
        *cur = *next;
        snprintf(cur->serial_log, sizeof cur->serial_log, "/var/log/web.log");
        snprintf(next->serial_log, sizeof next->serial_log, "/var/log/web.log");
        ASSERT_OK(vmms_config_check_paths(&p, next, cur, false, err, sizeof err));
        ASSERT_ERROR(vmms_config_check_paths(&p, next, NULL, false, err, sizeof err), EPERM);
        ASSERT_STREQ(err, "serial_log: only root may choose the console log's path (by default vmms keeps it in its "
                          "log directory)");
        snprintf(next->serial_log, sizeof next->serial_log, "/etc/cron.d/x");
        ASSERT_ERROR(vmms_config_check_paths(&p, next, cur, false, err, sizeof err), EPERM);
        /* A read-only disk made writable is a new use. */
        next->serial_log[0] = cur->serial_log[0] = 0;
        cur->disks[0].read_only = true;
        snprintf(next->disks[0].path, sizeof next->disks[0].path, "/iso/x.iso");
        snprintf(cur->disks[0].path, sizeof cur->disks[0].path, "/iso/x.iso");
        ASSERT_ERROR(vmms_config_check_paths(&p, next, cur, true, err, sizeof err), EPERM);
        next->disks[0].read_only = true;
        ASSERT_OK(vmms_config_check_paths(&p, next, cur, false, err, sizeof err));
        /* A DVD's ISO is a read-only disk's path: in a pool, a read-only one will do. */
        next->n_dvds = 2;
        snprintf(next->dvds[1].path, sizeof next->dvds[1].path, "/iso/debian.iso");
        ASSERT_OK(vmms_config_check_paths(&p, next, cur, false, err, sizeof err));
        snprintf(next->dvds[1].path, sizeof next->dvds[1].path, "/etc/shadow");
        ASSERT_ERROR(vmms_config_check_paths(&p, next, cur, true, err, sizeof err), EPERM);
        ASSERT_NOT_NULL(strstr(err, "dvd_drives[1].path: /etc/shadow: not in a storage pool"));
        *cur = *next; /* what the VM had stays allowed (root set it up) */
        ASSERT_OK(vmms_config_check_paths(&p, next, cur, false, err, sizeof err));
        free(cur);
        free(next);
}

TEST(journal_stream_detection) {
        ASSERT_TRUE(vmms_journal_stream_matches("8:123456", 8, 123456));
        ASSERT_FALSE(vmms_journal_stream_matches("8:123456", 8, 123457));
        ASSERT_FALSE(vmms_journal_stream_matches("8:123456x", 8, 123456));
        ASSERT_FALSE(vmms_journal_stream_matches(NULL, 8, 123456));
        ASSERT_FALSE(vmms_journal_stream_matches("", 0, 0));
}

TEST(config_check_memory) {
        struct vm_config *c = calloc(1, sizeof *c), *cur = calloc(1, sizeof *cur);
        char err[256];
        c->memory_mib = 8192;
        ASSERT_OK(vmms_config_check_memory(c, NULL, 8192, err, sizeof err));
        ASSERT_OK(vmms_config_check_memory(c, NULL, 0, err, sizeof err)); /* host size unknown */
        ASSERT_ERROR(vmms_config_check_memory(c, NULL, 4096, err, sizeof err), E2BIG);
        ASSERT_STREQ(err, "memory_mib: 8192 MiB is more than this host's memory (4096 MiB); set "
                          "\"allow_memory_over_host\": true (vmctl --force) to allow it");
        c->allow_memory_over_host = true;
        ASSERT_OK(vmms_config_check_memory(c, NULL, 4096, err, sizeof err));
        /* Update: an unchanged size that was accepted stays editable; a new
         * size, or the allowance taken away, is checked. */
        c->allow_memory_over_host = false;
        cur->memory_mib = 8192;
        ASSERT_OK(vmms_config_check_memory(c, cur, 4096, err, sizeof err));
        cur->memory_mib = 4000;
        ASSERT_ERROR(vmms_config_check_memory(c, cur, 4096, err, sizeof err), E2BIG);
        cur->memory_mib = 8192;
        cur->allow_memory_over_host = true;
        ASSERT_ERROR(vmms_config_check_memory(c, cur, 4096, err, sizeof err), E2BIG);
        free(c);
        free(cur);
}

static void write_text(const char *path, const char *s, size_t n) {
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        ASSERT_EQ(fwrite(s, 1, n, f), n);
        fclose(f);
}

static long file_size(const char *path) {
        struct stat st;
        return lstat(path, &st) < 0 ? -1 : (long)st.st_size;
}

TEST(log_rotate_copytruncate) {
        char dir[] = "/tmp/test-vmms-log.XXXXXX", log[128], old[140], victim[128], err[512], buf[64];
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(log, sizeof log, "%s/vm.console.log", dir);
        snprintf(old, sizeof old, "%s.1", log);
        snprintf(victim, sizeof victim, "%s/victim", dir);
        char text[10000];
        for (size_t i = 0; i < sizeof text; i++)
                text[i] = (char)('a' + i % 26);
        write_text(log, text, 100);
        ASSERT_OK(vmms_log_rotate(log, 4000, err, sizeof err)); /* small enough: untouched */
        ASSERT_EQ(file_size(log), 100);
        ASSERT_EQ(file_size(old), -1);
        ASSERT_OK(vmms_log_rotate(log, 0, err, sizeof err)); /* 0: unbounded */
        /* A symlink at <log>.1 is replaced, not written through. */
        write_text(victim, "precious", 8);
        ASSERT_OK(symlink(victim, old));
        write_text(log, text, sizeof text);
        ASSERT_OK(vmms_log_rotate(log, 4000, err, sizeof err));
        ASSERT_EQ(file_size(log), 0);
        ASSERT_EQ(file_size(old), 4000); /* the last 4000 bytes */
        FILE *f = fopen(old, "r");
        ASSERT_NOT_NULL(f);
        ASSERT_EQ(fread(buf, 1, 3, f), 3u);
        fclose(f);
        ASSERT_MEMEQ(buf, text + sizeof text - 4000, 3);
        ASSERT_EQ(file_size(victim), 8);
        /* A log that is a symlink or a FIFO is not ours to rotate. */
        ASSERT_OK(unlink(log));
        ASSERT_OK(symlink(victim, log));
        ASSERT_OK(vmms_log_rotate(log, 4, err, sizeof err));
        ASSERT_EQ(file_size(victim), 8);
        ASSERT_OK(unlink(log));
        ASSERT_OK(mkfifo(log, 0600));
        ASSERT_OK(vmms_log_rotate(log, 4, err, sizeof err)); /* and never blocks on it */
        ASSERT_OK(unlink(log));
        ASSERT_OK(vmms_log_rotate(log, 4, err, sizeof err)); /* gone: nothing to do */
        ASSERT_OK(unlink(old));
        ASSERT_OK(unlink(victim));
        ASSERT_OK(rmdir(dir));
}

TEST(console_busy_message) {
        char buf[512];
        setenv("TZ", "UTC", 1);
        tzset();
        struct vmms_console_holder h = { .uid = 1000, .pid = 4242, .comm = "vmctl", .since_us = 1732200000000000ull };
        vmms_console_busy_message("web1", &h, "alice", buf, sizeof buf);
        ASSERT_STREQ(buf, "VM 'web1': the console is in use by uid 1000 (alice), pid 4242 (vmctl), since "
                          "2024-11-21 14:40:00 UTC");
        h.comm[0] = 0;
        h.since_us = 0;
        vmms_console_busy_message("web1", &h, "", buf, sizeof buf);
        ASSERT_STREQ(buf, "VM 'web1': the console is in use by uid 1000 (no such user), pid 4242 (?)");
        /* Not handed out by this vmms (a direct connection, or before a
         * restart): only the worker's "since" is known. */
        struct vmms_console_holder unknown = { .since_us = 1732200000000000ull };
        vmms_console_busy_message("web1", &unknown, NULL, buf, sizeof buf);
        ASSERT_STREQ(buf, "VM 'web1': the console is in use by a client vmms did not hand it to (connected "
                          "directly to the console socket, or before vmms restarted), since 2024-11-21 14:40:00 UTC");
}

TEST_MAIN();
