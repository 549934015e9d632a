// SPDX-License-Identifier: MIT
/* Key-value exchange in vmms (docs/integration-services.md, dbus-api.md):
 * the guest's items as the worker last reported them (its "kvp" event and
 * the kvp-get reply), and the host items set through SetKVP, which vmms
 * keeps so that a guest reboot (a new worker) gets them again. Both live
 * as long as the VM runs: a power-off forgets them.
 *
 * The checks at the top are pure and fuzzed (tests/fuzz/fuzz-vmms-kvp.c). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "worker/worker.h"
#include "vmms/kvp.h"
#include "core/daemon.h"
#include "guest/guest.h"

/* UTF-16 code units of valid UTF-8 s, or -1 if s is not valid UTF-8. */
static long utf16_units(const char *s) {
        const unsigned char *p = (const unsigned char *)s;
        long units = 0;
        while (*p) {
                unsigned c = *p, n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 9;
                if (n == 9)
                        return -1;
                unsigned cp = n ? c & (0x3fu >> n) : c;
                for (unsigned i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return -1;
                        cp = cp << 6 | (p[i] & 0x3fu);
                }
                static const unsigned min[4] = { 0, 0x80, 0x800, 0x10000 };
                if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return -1;
                units += cp >= 0x10000 ? 2 : 1;
                p += n + 1;
        }
        return units;
}

int vmms_kvp_check_string(const char *what, const char *s, size_t max_units, bool allow_empty, char *err,
                          size_t errlen) {
        long n = utf16_units(s);
        if (n < 0)
                return snprintf(err, errlen, "%s: not valid UTF-8", what), -EINVAL;
        if (n == 0 && !allow_empty)
                return snprintf(err, errlen, "%s: must not be empty", what), -EINVAL;
        if ((size_t)n > max_units)
                return snprintf(err, errlen, "%s: %ld UTF-16 code units, at most %zu", what, n, max_units), -EINVAL;
        return 0;
}

int vmms_kvp_check_item(const char *key, const char *value, char *err, size_t errlen) {
        int r = vmms_kvp_check_string("key", key, VMMS_KVP_KEY_UNITS_MAX, false, err, errlen);
        if (r >= 0 && value)
                r = vmms_kvp_check_string("value", value, VMMS_KVP_VALUE_UNITS_MAX, true, err, errlen);
        return r;
}

bool vmms_kvp_items_valid(json_object *items, unsigned max) {
        char err[96];
        if (!json_object_is_type(items, json_type_object) || (unsigned)json_object_object_length(items) > max)
                return false;
        json_object_object_foreach(items, key, val) {
                if (!json_object_is_type(val, json_type_string) ||
                    strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val) ||
                    vmms_kvp_check_item(key, json_object_get_string(val), err, sizeof err) < 0)
                        return false;
        }
        return true;
}

/* ---- the VM's caches ---- */

static void set_cache(struct vmms_vm *vm, json_object **slot, json_object *items, const char *prop) {
        bool same = (!*slot && !items) || (*slot && items && json_object_equal(*slot, items));
        json_object_put(*slot);
        *slot = items ? json_object_get(items) : NULL;
        if (!same)
                vmms_vm_emit_changed(vm, prop);
}

void vmms_kvp_worker_ended(struct vmms_vm *vm, bool reboot) {
        set_cache(vm, &vm->guest->kvp_guest, NULL, "GuestKVP");
        if (!reboot)
                set_cache(vm, &vm->guest->kvp_host, NULL, "HostKVP");
}

void vmms_kvp_on_event(struct vmms_vm *vm, json_object *ev) {
        json_object *items;
        if (!json_object_object_get_ex(ev, "items", &items) || !vmms_kvp_items_valid(items, VMMS_KVP_MAX_GUEST_ITEMS)) {
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, 0, "malformed kvp event from the worker");
                return;
        }
        set_cache(vm, &vm->guest->kvp_guest, items, "GuestKVP");
}

static void get_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        json_object *items, *host;
        if (error < 0) { /* ENOTSUP: the VM has no KVP service */
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, error, "kvp-get: %m");
                return;
        }
        if (json_object_object_get_ex(reply, "items", &items) && vmms_kvp_items_valid(items, VMMS_KVP_MAX_GUEST_ITEMS))
                set_cache(vm, &vm->guest->kvp_guest, items, "GuestKVP");
        if (json_object_object_get_ex(reply, "host", &host) && vmms_kvp_items_valid(host, VMMS_KVP_MAX_HOST_ITEMS))
                set_cache(vm, &vm->guest->kvp_host, host, "HostKVP");
}

static void push_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        if (error < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, error, "cannot give the new worker a host KVP item: %m");
}

static json_object *set_args(const char *key, const char *value) {
        json_object *args = json_object_new_object();
        if (!args)
                return NULL;
        json_object_object_add(args, "key", json_object_new_string(key));
        if (value)
                json_object_object_add(args, "value", json_object_new_string(value));
        else
                json_object_object_add(args, "delete", json_object_new_boolean(true));
        return args;
}

/* A worker became ready (or vmms re-attached to one): hand it the host
 * items (after a guest reboot), then read back what it has. The worker
 * answers in order, so the kvp-get reply includes the pushed items. */
void vmms_kvp_sync(struct vmms_vm *vm) {
        if (!vm->worker || !vm->config->ic.kvp)
                return;
        if (vm->guest->kvp_host) {
                json_object_object_foreach(vm->guest->kvp_host, key, val) {
                        json_object *args = set_args(key, json_object_get_string(val));
                        if (args)
                                (void)vmms_worker_request(vm->worker, "kvp-set", args, push_reply, NULL);
                }
        }
        (void)vmms_worker_request(vm->worker, "kvp-get", NULL, get_reply, NULL);
}

/* The worker answered SetKVP/RemoveKVP's kvp-set: record it, answer D-Bus. */
static void set_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        const char *key = NULL, *value = NULL;
        bool set = !strcmp(sd_bus_message_get_member(call), "SetKVP");
        if (sd_bus_message_rewind(call, true) < 0 ||
            (set ? sd_bus_message_read(call, "ss", &key, &value) : sd_bus_message_read(call, "s", &key)) < 0) {
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "cannot read the call again");
                return;
        }
        json_object *v;
        const char *why = reply && json_object_object_get_ex(reply, "error", &v) ? json_object_get_string(v) : NULL;
        switch (error) {
        case 0:
                break;
        case -EINVAL:
        case -ENOENT:
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s': %s",
                                                 vm->config->name, why ? why : strerror(-error));
                return;
        case -ENOSPC:
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_LIMIT_EXCEEDED, "VM '%s': %s", vm->config->name,
                                                 why ? why : "too many host items");
                return;
        default:
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "the worker of VM '%s' could not %s '%s': %s",
                                                 vm->config->name, set ? "set" : "remove", key,
                                                 why ? why : strerror(-error));
                return;
        }
        /* A new object: the old one stays what set_cache compares with. */
        json_object *next = NULL;
        if (vm->guest->kvp_host ? json_object_deep_copy(vm->guest->kvp_host, &next, NULL) < 0 : !(next = json_object_new_object())) {
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "out of memory");
                return;
        }
        if (set)
                json_object_object_add(next, key, json_object_new_string(value));
        else
                json_object_object_del(next, key);
        set_cache(vm, &vm->guest->kvp_host, next, "HostKVP");
        json_object_put(next);
        (void)sd_bus_reply_method_return(call, NULL);
}

int vmms_kvp_request(struct vmms_vm *vm, sd_bus_message *call, const char *key, const char *value,
                     sd_bus_error *e) {
        char err[160];
        if (!vm->config->ic.kvp)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE,
                                         "VM '%s' has no KVP integration service (integration.kvp is false)",
                                         vm->config->name);
        if (vmms_kvp_check_item(key, value, err, sizeof err) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "%s", err);
        bool known = vm->guest->kvp_host && json_object_object_get_ex(vm->guest->kvp_host, key, NULL);
        if (!value && !known)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "VM '%s' has no host KVP item '%s'",
                                         vm->config->name, key);
        if (value && !known && vm->guest->kvp_host && (unsigned)json_object_object_length(vm->guest->kvp_host) >= VMMS_KVP_MAX_HOST_ITEMS)
                return sd_bus_error_setf(e, VMMS_ERROR_LIMIT_EXCEEDED, "VM '%s' has %u host KVP items already",
                                         vm->config->name, VMMS_KVP_MAX_HOST_ITEMS);
        json_object *args = set_args(key, value);
        int r = args ? vmms_worker_request(vm->worker, "kvp-set", args, set_reply, call) : -ENOMEM;
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot reach the worker of VM '%s': %s",
                                         vm->config->name, strerror(-r));
        return 1;
}

int vmms_kvp_append(sd_bus_message *reply, json_object *items) {
        int r = sd_bus_message_open_container(reply, 'a', "{ss}");
        if (r < 0)
                return r;
        if (items) {
                json_object_object_foreach(items, key, val) {
                        r = sd_bus_message_append(reply, "{ss}", key, json_object_get_string(val));
                        if (r < 0)
                                return r;
                }
        }
        return sd_bus_message_close_container(reply);
}
