// SPDX-License-Identifier: MIT
/* vmctl list | show VM | host: reading state; no authorization needed. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"

/* A basic value of the given type (s, b, u, i, t) at m's position into
 * *out: 1, 0 for any other type (nothing read), or -errno. */
static int read_basic(sd_bus_message *m, char type, json_object **out) {
        union {
                const char *s;
                uint32_t u;
                int32_t i;
                uint64_t t;
                int b;
        } v;
        if (!type || !strchr("sbuit", type))
                return 0;
        int r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case 's':
                *out = json_object_new_string(v.s);
                break;
        case 'b':
                *out = json_object_new_boolean(v.b);
                break;
        case 'u':
                *out = json_object_new_int64(v.u);
                break;
        case 'i':
                *out = json_object_new_int64(v.i);
                break;
        default: /* 't' */
                *out = json_object_new_uint64(v.t);
                break;
        }
        return 1;
}

/* A struct of basic types as a JSON array, in order; a member of any
 * other type is skipped, as null. */
static int read_struct(sd_bus_message *m, const char *contents, json_object **out) {
        char inner[64];
        size_t n = strlen(contents);
        if (n < 2 || n - 2 >= sizeof inner)
                return sd_bus_message_skip(m, contents);
        memcpy(inner, contents + 1, n - 2);
        inner[n - 2] = 0;
        int r = sd_bus_message_enter_container(m, 'r', inner);
        if (r < 0)
                return r;
        *out = json_object_new_array();
        char type;
        const char *sub;
        while ((r = sd_bus_message_peek_type(m, &type, &sub)) > 0) {
                json_object *e = NULL;
                if ((r = read_basic(m, type, &e)) == 0) {
                        char sig[72] = { type };
                        if (type == 'r' || type == 'a')
                                snprintf(sig, sizeof sig, type == 'r' ? "(%s)" : "a%s", sub ? sub : "");
                        r = sd_bus_message_skip(m, sig);
                }
                if (r < 0)
                        return r;
                json_object_array_add(*out, e);
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

/* One variant of an a{sv} into a JSON value (the types vmms uses). */
static int read_variant(sd_bus_message *m, json_object **out) {
        char type;
        const char *contents;
        int r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        if ((r = sd_bus_message_enter_container(m, 'v', contents)) < 0)
                return r;
        struct { /* not a union: "(st)" fills two members */
                const char *s;
                uint64_t t;
        } v;
        if (contents[0] && !contents[1] && (r = read_basic(m, contents[0], out)) != 0)
                ; /* read (or failed: r < 0) */
        else if (!strcmp(contents, "(st)") && (r = sd_bus_message_read(m, "(st)", &v.s, &v.t)) >= 0) {
                *out = json_object_new_object();
                json_object_object_add(*out, "status", json_object_new_string(v.s));
                json_object_object_add(*out, "last_us", json_object_new_uint64(v.t));
        } else if (!strcmp(contents, "a{ss}")) { /* GuestKVP, HostKVP */
                const char *k;
                *out = json_object_new_object();
                if ((r = sd_bus_message_enter_container(m, 'a', "{ss}")) >= 0) {
                        while ((r = sd_bus_message_read(m, "{ss}", &k, &v.s)) > 0)
                                json_object_object_add(*out, k, json_object_new_string(v.s));
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                }
        } else if (!strcmp(contents, "as")) {
                *out = json_object_new_array();
                char **l = NULL;
                if ((r = sd_bus_message_read_strv(m, &l)) >= 0)
                        for (char **p = l; *p; p++)
                                json_object_array_add(*out, json_object_new_string(*p));
                for (char **p = l; p && *p; p++)
                        free(*p);
                free(l);
        } else if (contents[0] == '(') /* MigrationProgress, SaveProgress, MigrationChannel: an array */
                r = read_struct(m, contents, out);
        else
                r = r < 0 ? r : sd_bus_message_skip(m, contents);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_dict(sd_bus_message *m, json_object *obj) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                json_object *v = NULL;
                if ((r = sd_bus_message_read(m, "s", &key)) < 0 || (r = read_variant(m, &v)) < 0 ||
                    (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
                json_object_object_add(obj, key, v);
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

static uint64_t mem_prop(json_object *mem, const char *key) {
        json_object *v;
        return json_object_object_get_ex(mem, key, &v) ? (uint64_t)json_object_get_uint64(v) : 0;
}

/* The Memory interface in two lines: the configuration, then (running)
 * what the guest has, uses and moves to. */
void vmctl_print_memory(json_object *mem) {
        json_object *v;
        const char *status = json_object_object_get_ex(mem, "Status", &v) ? json_object_get_string(v) : "";
        bool dynamic = json_object_object_get_ex(mem, "Dynamic", &v) && json_object_get_boolean(v);
        if (!dynamic) {
                printf("%-14s %llu MiB\n", "Memory", (unsigned long long)(mem_prop(mem, "Startup") >> 20));
                return;
        }
        printf("%-14s %llu MiB at start, dynamic %llu..%llu MiB (buffer %llu%%, weight %llu)\n", "Memory",
               (unsigned long long)(mem_prop(mem, "Startup") >> 20), (unsigned long long)(mem_prop(mem, "Minimum") >> 20),
               (unsigned long long)(mem_prop(mem, "Maximum") >> 20), (unsigned long long)mem_prop(mem, "Buffer"),
               (unsigned long long)mem_prop(mem, "Weight"));
        if (!strcmp(status, "off") || !strcmp(status, "disabled"))
                return;
        char demand[32] = "not reported", target[48];
        if (mem_prop(mem, "Demand"))
                snprintf(demand, sizeof demand, "%llu MiB", (unsigned long long)(mem_prop(mem, "Demand") >> 20));
        uint64_t manual = mem_prop(mem, "ManualTarget");
        snprintf(target, sizeof target, "%llu MiB (%s)", (unsigned long long)(mem_prop(mem, "Target") >> 20),
                 manual ? "set by hand" : "automatic");
        printf("%-14s assigned %llu MiB, demand %s, target %s, status %s\n", "", 
               (unsigned long long)(mem_prop(mem, "Assigned") >> 20), demand, target, status);
        const char *note = json_object_object_get_ex(mem, "Note", &v) ? json_object_get_string(v) : "";
        if (note && *note)
                printf("%-14s %s\n", "", note);
}

static const char *field(json_object *o, const char *key, const char *def) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : def;
}

/* The configuration's disks and NICs by index, the numbers vmctl disk
 * detach|resize and vmctl nic detach take. */
static void print_devices(json_object *cfg) {
        json_object *a, *o;
        size_t n = json_object_object_get_ex(cfg, "disks", &a) ? json_object_array_length(a) : 0;
        for (size_t i = 0; i < n && (o = json_object_array_get_idx(a, i)); i++)
                printf("%-14s [%zu] %s (%s %s:%s, %s, %s)\n", i ? "" : "Disks", i, field(o, "path", "?"),
                       field(o, "bus", "scsi"), field(o, "controller", "0"), field(o, "lun", "0"),
                       field(o, "format", "raw"), !strcmp(field(o, "read_only", "false"), "true") ? "ro" : "rw");
        n = json_object_object_get_ex(cfg, "nics", &a) ? json_object_array_length(a) : 0;
        for (size_t i = 0; i < n && (o = json_object_array_get_idx(a, i)); i++)
                printf("%-14s [%zu] %s%s%s%s%s (instance %s)\n", i ? "" : "NICs", i, field(o, "mac", "?"),
                       field(o, "bridge", NULL) ? ", bridge " : "", field(o, "bridge", ""),
                       field(o, "tap", NULL) ? ", TAP " : "", field(o, "tap", ""), field(o, "instance", "?"));
}

static uint64_t at_u(json_object *a, size_t i) {
        return (uint64_t)json_object_get_uint64(json_object_array_get_idx(a, i));
}

static const char *at_s(json_object *a, size_t i) {
        const char *s = json_object_get_string(json_object_array_get_idx(a, i));
        return s ? s : "";
}

/* A struct property (an array) for people; "" for nothing to show. */
static void format_struct(const char *key, json_object *a, char *buf, size_t len) {
        buf[0] = 0;
        size_t n = json_object_array_length(a);
        if (!strcmp(key, "MigrationProgress") && n == 5 && at_u(a, 0))
                snprintf(buf, len, "pass %llu, %.1f MiB sent, %llu pages dirty (%llu pages/s), expected downtime %llu ms",
                         (unsigned long long)at_u(a, 0), (double)at_u(a, 1) / 1048576.0, (unsigned long long)at_u(a, 2),
                         (unsigned long long)at_u(a, 3), (unsigned long long)at_u(a, 4));
        else if ((!strcmp(key, "SaveProgress") || !strcmp(key, "FileCopyProgress")) && n == 2 && at_u(a, 1))
                snprintf(buf, len, "%.1f MiB of %.1f MiB", (double)at_u(a, 0) / 1048576.0,
                         (double)at_u(a, 1) / 1048576.0);
        else if (!strcmp(key, "MigrationChannel") && n == 5 && at_s(a, 0)[0]) {
                char ago[48] = "";
                uint64_t since = at_u(a, 4), now = now_us(CLOCK_REALTIME);
                if (since && now > since)
                        vmctl_format_duration(now - since, ago, sizeof ago);
                bool cut = !strcmp(at_s(a, 0), "cut");
                bool held = json_object_get_boolean(json_object_array_get_idx(a, 1));
                snprintf(buf, len, "%s%s%s%s%s, %llu cut%s%s%s%s", at_s(a, 0), ago[0] ? " for " : "", ago,
                         cut ? ", reconnecting" : "", cut && held ? " until it is back (post-copy)" : "",
                         (unsigned long long)at_u(a, 2), at_u(a, 2) == 1 ? "" : "s", at_u(a, 2) ? " (last: " : "",
                         at_u(a, 2) ? at_s(a, 3) : "", at_u(a, 2) ? ")" : "");
        } else if (!strcmp(key, "MigrationProgress") || !strcmp(key, "SaveProgress") ||
                   !strcmp(key, "FileCopyProgress") || !strcmp(key, "MigrationChannel"))
                return; /* nothing yet */
        else
                snprintf(buf, len, "%s", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
}

static void print_human(json_object *obj) {
        json_object_object_foreach(obj, key, val) {
                if (!strcmp(key, "Config"))
                        continue;
                if (!strcmp(key, "Memory")) {
                        vmctl_print_memory(val);
                        continue;
                }
                char buf[320];
                const char *s = json_object_get_string(val);
                if (json_object_is_type(val, json_type_array)) {
                        format_struct(key, val, buf, sizeof buf);
                        printf("%-14s %s\n", key, buf[0] ? buf : "-");
                        continue;
                }
                if (!strcmp(key, "Uptime") || !strcmp(key, "RunningSince")) {
                        if (!strcmp(key, "RunningSince"))
                                continue;
                        vmctl_format_duration((uint64_t)json_object_get_uint64(val), buf, sizeof buf);
                        s = buf;
                } else if (json_object_is_type(val, json_type_object) && !strcmp(key, "Heartbeat")) {
                        json_object *st, *last;
                        json_object_object_get_ex(val, "status", &st);
                        json_object_object_get_ex(val, "last_us", &last);
                        uint64_t l = (uint64_t)json_object_get_uint64(last), now = now_us(CLOCK_REALTIME);
                        char ago[48] = "never";
                        if (l && now > l)
                                vmctl_format_duration(now - l, ago, sizeof ago);
                        snprintf(buf, sizeof buf, "%s (last: %s%s)", json_object_get_string(st), ago, l ? " ago" : "");
                        s = buf;
                }
                if (json_object_is_type(val, json_type_object) && strcmp(key, "Heartbeat")) {
                        /* KVP items: one KEY=VALUE per line */
                        bool first = true;
                        json_object_object_foreach(val, k, v) {
                                printf("%-14s %s=%s\n", first ? key : "", k, json_object_get_string(v));
                                first = false;
                        }
                        if (first)
                                printf("%-14s -\n", key);
                        continue;
                }
                printf("%-14s %s\n", key, s && *s ? s : "-");
        }
        json_object *cfg;
        if (json_object_object_get_ex(obj, "Config", &cfg) && json_object_is_type(cfg, json_type_object))
                print_devices(cfg);
        if (json_object_object_get_ex(obj, "Config", &cfg))
                printf("Config:\n%s\n", json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

int vmctl_get_properties(struct vmctl *c, const char *path, const char *iface, json_object *obj) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", &e,
                                   &reply, "s", iface);
        if (r >= 0)
                r = read_dict(reply, obj);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
        return r < 0 ? r : 0;
}

static int get_dict(struct vmctl *c, const char *path, const char *iface, const char *method, json_object *obj) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r = iface ? sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll",
                                           &e, &reply, "s", iface)
                      : sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_MANAGER_IFACE, method, &e, &reply, NULL);
        if (r >= 0)
                r = read_dict(reply, obj);
        sd_bus_message_unref(reply);
        if (r < 0) {
                r = vmctl_fail(&e, r, iface ? "show" : method);
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

static int run_show(struct vmctl *c, int argc, char **argv) {
        char *path = NULL;
        json_object *obj, *cfg;
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 1))
                return VMCTL_EXIT_USAGE;
        obj = json_object_new_object();
        int r = vmctl_resolve(c, argv[optind], &path);
        if (!r)
                r = get_dict(c, path, VMMS_VM_IFACE, NULL, obj);
        json_object *mem = json_object_new_object();
        if (!r && mem && vmctl_get_properties(c, path, VMMS_MEMORY_IFACE, mem) == 0)
                json_object_object_add(obj, "Memory", json_object_get(mem));
        json_object_put(mem);
        /* Config is a JSON document: show it as one, not as a string. */
        if (!r && json_object_object_get_ex(obj, "Config", &cfg) && (cfg = json_tokener_parse(json_object_get_string(cfg))))
                json_object_object_add(obj, "Config", cfg);
        if (!r && c->json)
                printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else if (!r)
                print_human(obj);
        json_object_put(obj);
        free(path);
        return r;
}

/* The Manager's Problems: files vmms skipped at start. NULL on error (a
 * vmms without the property); the caller frees the strv. */
static char **get_problems(struct vmctl *c) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char **l = NULL;
        int r = sd_bus_get_property_strv(c->bus, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "Problems", &e,
                                         &l);
        sd_bus_error_free(&e);
        return r < 0 ? NULL : l;
}

static void strv_free(char **l) {
        for (char **p = l; p && *p; p++)
                free(*p);
        free(l);
}

static size_t strv_len(char **l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

static int run_host(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 0))
                return VMCTL_EXIT_USAGE;
        json_object *obj = json_object_new_object();
        int r = get_dict(c, VMMS_MANAGER_PATH, NULL, "GetHostCapabilities", obj);
        char **problems = r ? NULL : get_problems(c);
        json_object *arr = json_object_new_array();
        for (char **p = problems; p && *p; p++)
                json_object_array_add(arr, json_object_new_string(*p));
        json_object_object_add(obj, "problems", arr);
        if (!r && c->json)
                printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else if (!r) {
                json_object_object_foreach(obj, key, val)
                        if (strcmp(key, "problems"))
                                printf("%-18s %s\n", key, json_object_get_string(val));
                printf("%-18s %s\n", "problems", strv_len(problems) ? "files vmms skipped at start (fix them and "
                                                                      "restart vmms):" : "none");
                for (char **p = problems; p && *p; p++)
                        printf("  %s\n", *p);
        }
        strv_free(problems);
        json_object_put(obj);
        return r;
}

/* A running firmware VM's BootStatus (docs/firmware.md "Nothing
 * bootable") into its row as "boot_status"; how many found nothing to
 * boot. A vmms without the property answers nothing here. */
static size_t add_boot_status(struct vmctl *c, json_object *arr) {
        size_t n = 0;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                json_object *o = json_object_array_get_idx(arr, i);
                const char *state = field(o, "state", ""), *path = field(o, "path", "");
                char *boot = NULL;
                if ((strcmp(state, "Running") && strcmp(state, "Paused")) ||
                    sd_bus_get_property_string(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "BootStatus", NULL,
                                               &boot) < 0 || !*boot) {
                        free(boot);
                        continue;
                }
                json_object_object_add(o, "boot_status", json_object_new_string(boot));
                n += !strcmp(boot, "no-bootable-device");
                free(boot);
        }
        return n;
}

/* On stderr, as the problems: the table stays as scripts read it. */
static void print_nothing_bootable(json_object *arr) {
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                json_object *o = json_object_array_get_idx(arr, i);
                if (!strcmp(field(o, "boot_status", ""), "no-bootable-device"))
                        fprintf(stderr, "%s: the firmware found nothing to boot (No bootable device.): insert a DVD "
                                        "or attach a bootable disk, then start it again\n", field(o, "name", "?"));
        }
}

static int run_list(struct vmctl *c, int argc, char **argv) {
        static const char *const headers[] = { "NAME", "STATE", "ID" };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path, *id, *name, *state;
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 0))
                return VMCTL_EXIT_USAGE;
        json_object *arr = json_object_new_array();
        struct vmctl_table *t = vmctl_table_new(3, headers);
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "ListVMs", &e, &reply, NULL);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(osss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(osss)", &path, &id, &name, &state)) > 0) {
                const char *row[] = { name, state, id };
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(name));
                json_object_object_add(o, "state", json_object_new_string(state));
                json_object_object_add(o, "id", json_object_new_string(id));
                json_object_object_add(o, "path", json_object_new_string(path));
                json_object_array_add(arr, o);
                if (t)
                        (void)vmctl_table_add(t, row);
        }
        size_t stuck = r < 0 ? 0 : add_boot_status(c, arr);
        if (r < 0)
                r = vmctl_fail(&e, r, "list");
        else if (c->json)
                printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
        else if (t) {
                vmctl_table_print(t);
                if (stuck)
                        print_nothing_bootable(arr);
                char **problems = get_problems(c);
                size_t n = strv_len(problems);
                /* On stderr: scripts that read the table keep working. */
                if (n)
                        fprintf(stderr, "%zu configuration file%s or runtime record%s could not be used: see vmctl "
                                        "host\n", n, n == 1 ? "" : "s", n == 1 ? "" : "s");
                strv_free(problems);
        }
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        json_object_put(arr);
        vmctl_table_free(t);
        return r < 0 ? VMCTL_EXIT_FAILURE : r;
}

static void help_list(void) {
        printf("Usage: vmctl [--json] list\nLists all VMs: name, state and id; says so (on stderr) when vmms skipped\n"
               "configuration files or runtime records at start (vmctl host lists them), and\n"
               "for each running firmware VM whose firmware found nothing to boot (with --json:\n"
               "\"boot_status\" of the running firmware VMs).\n");
}
static void help_show(void) {
        printf("Usage: vmctl [--json] show VM\nShows a VM's properties (state, worker, uptime, heartbeat, a firmware\n"
               "VM's boot status, last exit reason, console) and its configuration.\n");
}
static void help_host(void) {
        printf("Usage: vmctl [--json] host\nShows the host's capabilities: KVM, virtualization kind, limits,\n"
               "and the configuration files and runtime records vmms skipped at start (problems).\n");
}

const struct vmctl_command vmctl_cmd_list = { "list", "", "list VMs", run_list, help_list };
const struct vmctl_command vmctl_cmd_show = { "show", "VM", "show a VM", run_show, help_show };
const struct vmctl_command vmctl_cmd_host = { "host", "", "show host capabilities", run_host, help_host };
