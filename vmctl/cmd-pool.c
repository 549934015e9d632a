// SPDX-License-Identifier: MIT
/* vmctl pool list POOL | pool create POOL NAME [SIZE] | pool delete POOL NAME:
 * a storage pool's images through vmms (Manager.ListPoolImages,
 * CreatePoolImage, DeletePoolImage; docs/dbus-api.md "Storage pools"),
 * where `vmctl disk create` works on files as the caller, without vmms. */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmctl/config-build.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"

struct pool_row {
        const char *name, *format;
        uint64_t size, on_disk;
        char users[512];
};

static int read_row(sd_bus_message *reply, struct pool_row *row) {
        const char *u;
        size_t used = 0;
        int r = sd_bus_message_enter_container(reply, 'r', "ssttas");
        if (r <= 0)
                return r;
        if ((r = sd_bus_message_read(reply, "sstt", &row->name, &row->format, &row->size, &row->on_disk)) < 0 ||
            (r = sd_bus_message_enter_container(reply, 'a', "s")) < 0)
                return r;
        row->users[0] = 0;
        while ((r = sd_bus_message_read(reply, "s", &u)) > 0)
                if (used < sizeof row->users)
                        used += (size_t)snprintf(row->users + used, sizeof row->users - used, "%s%s", used ? "," : "", u);
        if (r < 0 || (r = sd_bus_message_exit_container(reply)) < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        return r < 0 ? r : 1;
}

static void add_json(json_object *all, struct pool_row *row) {
        json_object *o = json_object_new_object(), *users = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(row->name));
        json_object_object_add(o, "format", json_object_new_string(row->format));
        json_object_object_add(o, "virtual_size", json_object_new_uint64(row->size));
        json_object_object_add(o, "file_size", json_object_new_uint64(row->on_disk));
        for (char *s = strtok(row->users, ","); s; s = strtok(NULL, ","))
                json_object_array_add(users, json_object_new_string(s));
        json_object_object_add(o, "used_by", users);
        json_object_array_add(all, o);
}

static void add_text(struct vmctl_table *t, const struct pool_row *row) {
        char size[32], on_disk[32];
        snprintf(size, sizeof size, "%" PRIu64, row->size);
        snprintf(on_disk, sizeof on_disk, "%" PRIu64, row->on_disk);
        const char *cells[] = { row->name, row->format, row->size ? size : "-", on_disk, row->users[0] ? row->users : "-" };
        (void)vmctl_table_add(t, cells);
}

static int list(struct vmctl *c, const char *pool) {
        static const char *const headers[] = { "NAME", "FORMAT", "SIZE", "ON-DISK", "USED-BY" };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        struct pool_row row;
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "ListPoolImages", &e,
                                   &reply, "s", pool);
        json_object *all = c->json ? json_object_new_array() : NULL;
        struct vmctl_table *t = c->json ? NULL : vmctl_table_new(5, headers);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(ssttas)");
        while (r >= 0 && (r = read_row(reply, &row)) > 0) {
                if (all)
                        add_json(all, &row);
                else if (t)
                        add_text(t, &row);
        }
        if (r < 0)
                r = vmctl_fail(&e, r, "pool");
        else if (all)
                printf("%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else if (t)
                vmctl_table_print(t);
        json_object_put(all);
        vmctl_table_free(t);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
        return r;
}

static int call(struct vmctl *c, const char *method, const char *what, sd_bus_message **reply, const char *types, ...) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        va_list ap;
        int r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, method);
        va_start(ap, types);
        if (r >= 0)
                r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r >= 0)
                r = sd_bus_message_set_allow_interactive_authorization(m, true);
        if (r >= 0)
                r = sd_bus_call(c->bus, m, 0, &e, reply);
        r = r < 0 ? vmctl_fail(&e, r, what) : 0;
        sd_bus_message_unref(m);
        sd_bus_error_free(&e);
        return r;
}

static int create(struct vmctl *c, const char *pool, const char *name, const char *size_arg, const char *format,
                  const char *parent) {
        uint32_t mib = 0;
        if (size_arg && vmctl_size_parse_mib(size_arg, &mib) < 0) {
                fprintf(stderr, "vmctl pool create: SIZE '%s' is not a size (512M, 20G, 1T; MiB by default)\n", size_arg);
                return VMCTL_EXIT_USAGE;
        }
        size_t n = strlen(name);
        if (!format) /* by the name, as vmms wants it (.vhdx, or .img and .raw) */
                format = n > 4 && (!strcmp(name + n - 4, ".img") || !strcmp(name + n - 4, ".raw")) ? "raw" : "vhdx";
        sd_bus_message *reply = NULL;
        const char *path;
        int r = call(c, "CreatePoolImage", "pool create", &reply, "sssts", pool, name, format, (uint64_t)mib << 20,
                     parent ? parent : "");
        if (!r && sd_bus_message_read(reply, "s", &path) > 0 && !c->quiet)
                printf(c->json ? "{\"path\": \"%s\"}\n" : "%s\n", path);
        sd_bus_message_unref(reply);
        return r;
}

static int run_pool(struct vmctl *c, int argc, char **argv) {
        enum { OPT_FORMAT = 1, OPT_PARENT };
        static const struct option opts[] = {
                { "format", required_argument, NULL, OPT_FORMAT }, { "parent", required_argument, NULL, OPT_PARENT }, {}
        };
        const char *format = NULL, *parent = NULL;
        int o;
        while ((o = vmctl_getopt(c, argc, argv, opts)) >= 0) {
                if (o == OPT_FORMAT)
                        format = optarg;
                else if (o == OPT_PARENT)
                        parent = optarg;
                else
                        return VMCTL_EXIT_USAGE;
        }
        char **a = argv + optind;
        int n = argc - optind;
        if (n == 2 && !strcmp(a[0], "list") && !format && !parent)
                return list(c, a[1]);
        if (n >= 3 && n <= 4 && !strcmp(a[0], "create") && (n == 4) != !!parent)
                return create(c, a[1], a[2], n == 4 ? a[3] : NULL, format, parent);
        if (n == 3 && !strcmp(a[0], "delete") && !format && !parent) {
                int r = call(c, "DeletePoolImage", "pool delete", NULL, "ss", a[1], a[2]);
                if (!r && !c->quiet && !c->json)
                        printf("%s/%s removed\n", a[1], a[2]);
                return r;
        }
        fprintf(stderr, "vmctl pool: needs list POOL, create POOL NAME SIZE (or --parent=NAME without SIZE), or "
                        "delete POOL NAME (see vmctl pool --help)\n");
        return VMCTL_EXIT_USAGE;
}

static void help_pool(void) {
        printf("Usage: vmctl [--json] pool list POOL\n"
               "       vmctl pool create POOL NAME SIZE [--format=vhdx|raw]\n"
               "       vmctl pool create POOL NAME --parent=PARENT\n"
               "       vmctl pool delete POOL NAME\n"
               "A storage pool's images through vmms (POOL: a directory of vmms --storage-pool, as\n"
               "vmctl host lists it; NAME: a file name in it, no '/').\n\n"
               "  list      its files: name, format (vhdx, raw, iso, file), virtual size and bytes on\n"
               "            disk, the VMs that use it; what you may read\n"
               "  create    a new image of SIZE (512M, 20G, 1T; MiB by default), made by vmms as\n"
               "            you: a dynamic VHDX (NAME.vhdx) or a sparse raw image (NAME.img or\n"
               "            .raw; --format defaults by NAME); with --parent a differencing VHDX of\n"
               "            PARENT, an image in the same pool. Needs the right to manage VMs\n"
               "  delete    removes NAME; refused while a VM's configuration names it\n");
}

const struct vmctl_command vmctl_cmd_pool = { "pool", "list|create|delete POOL ...",
                                              "a storage pool's images (through vmms)", run_pool, help_pool };
