// SPDX-License-Identifier: MIT
/* vmctl kvp VM [KEY | KEY=VALUE | --delete KEY]: the key-value exchange
 * integration service (docs/integration-services.md) through the VM's
 * GuestKVP/HostKVP properties and SetKVP/RemoveKVP. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmctl/vmctl.h"
#include "vmms/names.h"

/* An a{ss} property into a JSON object. */
static int get_items(struct vmctl *c, const char *path, const char *prop, json_object *out) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *k, *v;
        int r = sd_bus_get_property(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, prop, &e, &reply, "a{ss}");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "{ss}");
        while (r >= 0 && (r = sd_bus_message_read(reply, "{ss}", &k, &v)) > 0)
                json_object_object_add(out, k, json_object_new_string(v));
        sd_bus_message_unref(reply);
        if (r < 0) {
                r = vmctl_fail(&e, r, "kvp");
                sd_bus_error_free(&e);
        }
        return r;
}

static void print_items(const char *source, json_object *items, struct vmctl_table *t) {
        json_object_object_foreach(items, key, val) {
                const char *row[] = { source, key, json_object_get_string(val) };
                (void)vmctl_table_add(t, row);
        }
}

static int list(struct vmctl *c, const char *path) {
        static const char *const headers[] = { "SOURCE", "KEY", "VALUE" };
        json_object *all = json_object_new_object(), *guest = json_object_new_object(), *host = json_object_new_object();
        int r = !all || !guest || !host ? VMCTL_EXIT_FAILURE : 0;
        if (!r && !(r = get_items(c, path, "GuestKVP", guest)))
                r = get_items(c, path, "HostKVP", host);
        if (!r && c->json) {
                json_object_object_add(all, "guest", json_object_get(guest));
                json_object_object_add(all, "host", json_object_get(host));
                printf("%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        } else if (!r) {
                struct vmctl_table *t = vmctl_table_new(3, headers);
                if (t) {
                        print_items("guest", guest, t);
                        print_items("host", host, t);
                        vmctl_table_print(t);
                        vmctl_table_free(t);
                }
        }
        json_object_put(all);
        json_object_put(guest);
        json_object_put(host);
        return r;
}

/* One key: the guest's value, else the host's; exit 1 if neither has it. */
static int get_one(struct vmctl *c, const char *path, const char *key) {
        json_object *guest = json_object_new_object(), *host = json_object_new_object(), *v = NULL;
        int r = !guest || !host ? VMCTL_EXIT_FAILURE : 0;
        if (!r && !(r = get_items(c, path, "GuestKVP", guest)))
                r = get_items(c, path, "HostKVP", host);
        if (!r && !json_object_object_get_ex(guest, key, &v) && !json_object_object_get_ex(host, key, &v)) {
                fprintf(stderr, "vmctl kvp: no item '%s' (vmctl kvp VM lists them; the guest reports its items "
                                "once its KVP service runs)\n", key);
                r = VMCTL_EXIT_FAILURE;
        }
        if (!r)
                printf("%s\n", json_object_get_string(v));
        json_object_put(guest);
        json_object_put(host);
        return r;
}

static int run_kvp(struct vmctl *c, int argc, char **argv) {
        enum { OPT_DELETE = 1 };
        static const struct option opts[] = { { "delete", required_argument, NULL, OPT_DELETE }, {} };
        const char *del = NULL;
        int o;
        while ((o = vmctl_getopt(c, argc, argv, opts)) >= 0) {
                if (o != OPT_DELETE)
                        return VMCTL_EXIT_USAGE;
                del = optarg;
        }
        int rest = argc - optind;
        if (rest < 1 || rest > 2 || (del && rest != 1)) {
                fprintf(stderr, "vmctl kvp: needs a VM and at most one KEY or KEY=VALUE (see --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        char *path = NULL;
        int r = vmctl_resolve(c, argv[optind], &path);
        if (r)
                return r;
        const char *arg = rest == 2 ? argv[optind + 1] : NULL;
        const char *eq = arg ? strchr(arg, '=') : NULL;
        if (del) {
                r = vmctl_call_vm(c, path, "RemoveKVP", "kvp --delete", "s", del);
                if (!r && !c->quiet && !c->json)
                        printf("%s: host item %s removed\n", argv[optind], del);
        } else if (eq) {
                char *key = strndup(arg, (size_t)(eq - arg));
                r = key ? vmctl_call_vm(c, path, "SetKVP", "kvp", "ss", key, eq + 1) : VMCTL_EXIT_FAILURE;
                if (!r && !c->quiet && !c->json)
                        printf("%s: host item %s set (the guest sees it once its KVP service runs)\n",
                               argv[optind], key);
                free(key);
        } else if (arg) {
                r = get_one(c, path, arg);
        } else {
                r = list(c, path);
        }
        free(path);
        return r;
}

static void help_kvp(void) {
        printf("Usage: vmctl [--json] kvp VM                 the guest's and the host's items\n"
               "       vmctl kvp VM KEY                      one value (the guest's, else the host's)\n"
               "       vmctl kvp VM KEY=VALUE                set a host item for the guest\n"
               "       vmctl kvp VM --delete KEY             remove a host item\n"
               "Key-value exchange with the guest (the KVP integration service). The guest's items\n"
               "(host name, OS, IP addresses, ...) come from its KVP daemon; host items go into its\n"
               "host-to-guest pool (Linux: /var/lib/hyperv/.kvp_pool_0) and last until the VM is\n"
               "powered off. Setting needs the VM Running or Paused.\n");
}

const struct vmctl_command vmctl_cmd_kvp = { "kvp", "VM [KEY[=VALUE]]", "key-value exchange with the guest", run_kvp,
                                             help_kvp };
