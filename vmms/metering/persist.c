// SPDX-License-Identifier: MIT
/* Metering's totals on disk (docs/metering.md "Totals, reset and rates"):
 * <state-dir>/<id>.metering holds the reset time, acc, the running
 * worker's base and newest sample, and which worker those were (its pid
 * and /proc start time), so that a vmms restart keeps the totals as
 * Hyper-V keeps them until Reset-VMResourceMetering. Written atomically
 * after each periodic round (so at most once per --metering-interval-ms
 * per VM), at a reset, at a worker's end and at vmms's exit; read once at
 * start, after the workers re-attached. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "metering/metering.h"
#include "vmms/runtime.h"
#include "worker/worker.h"

#define METERING_FILE_MAX (256u << 10) /* a VM's four samples as JSON are well below */

static int metering_path(const struct vmms_vm *vm, char *buf, size_t len) {
        int n = snprintf(buf, len, "%s/%s.metering", vm->d->opt.state_dir, vm->id);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The running worker: its pid and start time (0, 0: none). */
static void worker_identity(const struct vmms_vm *vm, int64_t *pid, uint64_t *start) {
        struct vmms_proc_stat st;
        *pid = 0, *start = 0;
        if (vm->worker && vmms_proc_stat_read(vmms_worker_pid(vm->worker), &st) == 0) {
                *pid = vmms_worker_pid(vm->worker);
                *start = st.starttime;
        }
}

static int add_sample(struct json_object *o, const char *key, const struct vmms_meter_sample *s) {
        struct json_object *j = vmms_meter_to_json(s);
        return j && json_object_object_add(o, key, j) == 0 ? 0 : (json_object_put(j), -ENOMEM);
}

int vmms_metering_save(struct vmms_vm *vm) {
        const struct vmms_metering *m = vm->metering;
        char path[PATH_MAX];
        if (!m)
                return 0;
        int r = metering_path(vm, path, sizeof path);
        if (r < 0)
                return r;
        int64_t pid;
        uint64_t start;
        worker_identity(vm, &pid, &start);
        struct json_object *o = json_object_new_object();
        r = o ? 0 : -ENOMEM;
        if (r >= 0 && (json_object_object_add(o, "reset_at_us", json_object_new_int64((int64_t)m->reset_at_us)) < 0 ||
                       json_object_object_add(o, "worker_pid", json_object_new_int64(pid)) < 0 ||
                       json_object_object_add(o, "worker_start", json_object_new_int64((int64_t)start)) < 0))
                r = -ENOMEM;
        if (r >= 0)
                r = add_sample(o, "acc", &m->acc);
        if (r >= 0)
                r = add_sample(o, "base", &m->base);
        if (r >= 0)
                r = add_sample(o, "newest", &m->newest);
        const char *text = r >= 0 ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
        r = text ? write_file_atomic(path, text, strlen(text), 0600) : r < 0 ? r : -ENOMEM;
        json_object_put(o);
        return r;
}

void vmms_metering_remove(struct vmms_vm *vm) {
        char path[PATH_MAX];
        vmms_metering_free(vm); /* a worker's end after this writes nothing */
        if (metering_path(vm, path, sizeof path) == 0)
                (void)unlink(path);
}

static int get_u64(struct json_object *o, const char *key, uint64_t *out) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0)
                return -EINVAL;
        *out = (uint64_t)json_object_get_int64(v);
        return 0;
}

static int get_sample(struct json_object *o, const char *key, struct vmms_meter_sample *out) {
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) ? vmms_meter_from_json(v, out) : -EINVAL;
}

/* The file's figures into m; -EINVAL for one vmms did not write. */
static int parse(struct json_object *o, struct vmms_metering *m, uint64_t *pid, uint64_t *start) {
        if (!json_object_is_type(o, json_type_object) || get_u64(o, "reset_at_us", &m->reset_at_us) < 0 ||
            get_u64(o, "worker_pid", pid) < 0 || get_u64(o, "worker_start", start) < 0 ||
            get_sample(o, "acc", &m->acc) < 0 || get_sample(o, "base", &m->base) < 0 ||
            get_sample(o, "newest", &m->newest) < 0)
                return -EINVAL;
        return 0;
}

/* A worker that still runs (re-attached) goes on against its base; one
 * that ended while vmms was away counted, as far as vmms knows, up to its
 * newest sample, which goes into the totals as at a worker's end. */
static void load_one(struct vmms_vm *vm) {
        char path[PATH_MAX];
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (metering_path(vm, path, sizeof path) < 0 || read_file(path, METERING_FILE_MAX, &text, &len) < 0)
                return;
        struct vmms_metering m = { 0 };
        uint64_t pid, start;
        struct json_object *o = json_tokener_parse(text);
        int r = parse(o, &m, &pid, &start);
        json_object_put(o);
        if (r < 0) {
                (void)vmms_daemon_add_problem(vm->d, "%s: not metering totals vmms wrote; ignored", path);
                return;
        }
        int64_t now_pid;
        uint64_t now_start;
        worker_identity(vm, &now_pid, &now_start);
        if (!pid || (uint64_t)now_pid != pid || now_start != start) {
                if (m.newest.at_us) {
                        struct vmms_meter_sample d;
                        vmms_meter_sub(&m.newest, &m.base, &d);
                        vmms_meter_add(&m.acc, &d);
                }
                memset(&m.base, 0, sizeof m.base);
                memset(&m.newest, 0, sizeof m.newest);
        }
        struct vmms_metering *cur = vmms_metering_of(vm);
        if (!cur)
                return;
        *cur = m;
}

void vmms_metering_load_all(struct vmms_daemon *d) {
        for (size_t i = 0; i < d->n_vms; i++)
                load_one(d->vms[i]);
}

void vmms_metering_save_all(struct vmms_daemon *d) {
        for (size_t i = 0; i < d->n_vms; i++)
                (void)vmms_metering_save(d->vms[i]);
}
