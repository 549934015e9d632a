// SPDX-License-Identifier: MIT
/* vmctl checkpoint VM [NAME], checkpoints VM, revert VM CHECKPOINT,
 * checkpoint-delete VM CHECKPOINT: org.vmstack.VMMS1.Checkpoints
 * (docs/checkpoints.md). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"

/* A checkpoint of a large VM writes its memory; a delete may merge
 * gigabytes of images. */
#define CKPT_TIMEOUT_US (3600ull * 1000000u)

/* Calls method on the VM's Checkpoints interface with the arguments given
 * (types, ...); the reply in *reply if wanted. */
static int call(struct vmctl *c, const char *ref, const char *method, sd_bus_message **reply, const char *types,
                ...) {
        char *path = NULL, what[160];
        int r = vmctl_resolve(c, ref, &path);
        if (r)
                return r;
        snprintf(what, sizeof what, "%s", method);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        va_list ap;
        r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, path, VMMS_CHECKPOINTS_IFACE, method);
        va_start(ap, types);
        if (r >= 0 && types)
                r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r >= 0)
                r = sd_bus_call(c->bus, m, CKPT_TIMEOUT_US, &e, reply);
        sd_bus_message_unref(m);
        free(path);
        if (r < 0) {
                r = vmctl_fail(&e, r, what);
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

static int run_checkpoint(struct vmctl *c, int argc, char **argv) {
        static const struct option opts[] = { { "production", no_argument, NULL, 'p' },
                                               { "production-only", no_argument, NULL, 'P' },
                                               { "standard", no_argument, NULL, 's' }, {} };
        const char *type = NULL;
        int o;
        while ((o = vmctl_getopt(c, argc, argv, opts)) != -1)
                if (o == 'p' || o == 'P' || o == 's')
                        type = o == 'p' ? "production" : o == 'P' ? "production-only" : "standard";
                else
                        return VMCTL_EXIT_USAGE;
        if (argc - optind < 1 || argc - optind > 2) {
                fprintf(stderr, "vmctl checkpoint: expects VM [NAME] (see vmctl checkpoint --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        const char *ref = argv[optind], *name = argc - optind == 2 ? argv[optind + 1] : "";
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        sd_bus_message *reply = NULL;
        const char *id = "";
        int r = type ? call(c, ref, "Create", &reply, "sa{sv}", name, 1, "type", "s", type)
                     : call(c, ref, "Create", &reply, "sa{sv}", name, 0);
        if (!r && sd_bus_message_read(reply, "s", &id) < 0)
                id = "";
        double ms = (double)(now_us(CLOCK_MONOTONIC) - t0) / 1000.0;
        if (!r && c->json)
                printf("{\"vm\":\"%s\",\"checkpoint\":\"%s\",\"ms\":%.1f}\n", ref, id, ms);
        else if (!r && !c->quiet)
                printf("checkpoint of %s taken (id %s) in %.0f ms\n", ref, id, ms);
        sd_bus_message_unref(reply);
        return r;
}

struct row {
        const char *id, *name, *parent, *type;
        uint64_t created_us, state_bytes, bytes;
        int has_state;
};

static void print_tree(const struct row *rows, size_t n, const char *parent, const char *current, int depth) {
        for (size_t i = 0; i < n; i++) {
                if (strcmp(rows[i].parent, parent))
                        continue;
                char when[32] = "?", size[32];
                time_t t = (time_t)(rows[i].created_us / 1000000u);
                struct tm tm;
                if (localtime_r(&t, &tm))
                        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
                snprintf(size, sizeof size, "%.1f MiB", (double)rows[i].bytes / 1048576.0);
                printf("%*s%s%-*s  %s  %-10s  %-7s %10s%s\n", depth * 3, "", depth ? "└─ " : "",
                       40 - depth * 3 - (depth ? 3 : 0), rows[i].name, when, rows[i].type,
                       rows[i].has_state ? "running" : "off", size,
                       !strcmp(rows[i].id, current) ? "   <- now" : "");
                print_tree(rows, n, rows[i].id, current, depth + 1);
        }
}

static int run_list(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 1))
                return VMCTL_EXIT_USAGE;
        const char *ref = argv[optind];
        sd_bus_message *reply = NULL;
        int r = call(c, ref, "List", &reply, NULL);
        if (r)
                return r;
        struct row rows[128];
        size_t n = 0;
        char *path = NULL, *current = NULL;
        int k = sd_bus_message_enter_container(reply, 'a', "(ssstbtts)");
        while (k >= 0 && n < ARRAY_SIZE(rows) &&
               (k = sd_bus_message_read(reply, "(ssstbtts)", &rows[n].id, &rows[n].name, &rows[n].parent,
                                        &rows[n].created_us, &rows[n].has_state, &rows[n].state_bytes, &rows[n].bytes,
                                        &rows[n].type)) > 0)
                n++;
        if (k < 0 || (r = vmctl_resolve(c, ref, &path)) != 0 ||
            sd_bus_get_property_string(c->bus, VMMS_BUS_NAME, path, VMMS_CHECKPOINTS_IFACE, "Current", NULL, &current) < 0) {
                sd_bus_message_unref(reply);
                free(path);
                return r ? r : vmctl_fail(NULL, k < 0 ? k : -EIO, "checkpoints");
        }
        if (c->json) {
                json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "id", json_object_new_string(rows[i].id));
                        json_object_object_add(o, "name", json_object_new_string(rows[i].name));
                        json_object_object_add(o, "parent", json_object_new_string(rows[i].parent));
                        json_object_object_add(o, "type", json_object_new_string(rows[i].type));
                        json_object_object_add(o, "created_us", json_object_new_uint64(rows[i].created_us));
                        json_object_object_add(o, "has_state", json_object_new_boolean(rows[i].has_state));
                        json_object_object_add(o, "state_bytes", json_object_new_uint64(rows[i].state_bytes));
                        json_object_object_add(o, "bytes", json_object_new_uint64(rows[i].bytes));
                        json_object_object_add(o, "current", json_object_new_boolean(!strcmp(rows[i].id, current)));
                        json_object_array_add(a, o);
                }
                printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
                json_object_put(a);
        } else if (n == 0) {
                printf("%s has no checkpoints\n", ref);
        } else {
                printf("%-40s  %-19s  %-10s  %-7s %10s\n", "CHECKPOINT", "CREATED", "TYPE", "STATE", "SIZE");
                print_tree(rows, n, "", current, 0);
        }
        sd_bus_message_unref(reply);
        free(path);
        free(current);
        return 0;
}

static int run_revert(struct vmctl *c, int argc, char **argv) {
        static const struct option opts[] = { { "start", no_argument, NULL, 's' },
                                               { "no-start", no_argument, NULL, 'n' }, {} };
        int o, start = -1;
        while ((o = vmctl_getopt(c, argc, argv, opts)) != -1)
                if (o == 's' || o == 'n')
                        start = o == 's';
                else
                        return VMCTL_EXIT_USAGE;
        if (vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        int r = start < 0 ? call(c, argv[optind], "Revert", NULL, "sa{sv}", argv[optind + 1], 0)
                          : call(c, argv[optind], "Revert", NULL, "sa{sv}", argv[optind + 1], 1, "start", "b", start);
        if (!r && !c->quiet && !c->json)
                printf("%s reverted to checkpoint '%s'\n", argv[optind], argv[optind + 1]);
        return r;
}

static int run_delete(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        int r = call(c, argv[optind], "Delete", NULL, "s", argv[optind + 1]);
        if (!r && !c->quiet && !c->json)
                printf("checkpoint '%s' of %s deleted\n", argv[optind + 1], argv[optind]);
        return r;
}

static void help_checkpoint(void) {
        printf("Usage: vmctl checkpoint VM [NAME] [--production|--production-only|--standard]\n"
               "A checkpoint of the VM as it is now: its configuration, and every writable disk: a\n"
               "VHDX disk is frozen and the VM goes on on a new differencing child (.avhdx); a raw\n"
               "disk is copied with a reflink (btrfs, XFS). Of a running VM:\n"
               "  --production       the guest freezes its file systems (backup integration service,\n"
               "                     hv_vss_daemon in a Linux guest) while its disks are taken; no\n"
               "                     memory state is kept and a revert boots from the disks. A guest\n"
               "                     that cannot freeze gets a standard checkpoint instead\n"
               "  --production-only  the same, but fail rather than fall back\n"
               "  --standard         the guest's memory state is saved too (also of a Saved VM);\n"
               "                     a revert goes on where it was\n"
               "Without one, the VM's checkpoint_type decides (default production).\n"
               "NAME defaults to the VM's name and the time.\n");
}

static void help_list(void) {
        printf("Usage: vmctl checkpoints VM\n"
               "The VM's checkpoints as a tree: when each was taken, its type (standard or\n"
               "production), whether it holds a running state, what it keeps on disk; \"<- now\" marks the one the VM's present descends from.\n");
}

static void help_revert(void) {
        printf("Usage: vmctl revert VM CHECKPOINT [--start|--no-start]\n"
               "The VM goes back to CHECKPOINT: its present state is discarded (a running VM is\n"
               "killed), its disks read as they were then, its configuration and, for a checkpoint of\n"
               "a running VM, its saved state come back. It starts again if it was running (or as\n"
               "--start/--no-start say); otherwise it is Saved or Off.\n");
}

static void help_delete(void) {
        printf("Usage: vmctl checkpoint-delete VM CHECKPOINT\n"
               "Deletes CHECKPOINT; later checkpoints stay. Its disk images are merged into the\n"
               "images that still need them (the VM must not run for that part: it happens when\n"
               "its worker ends), so deleting every checkpoint leaves the VM on its own disks.\n");
}

const struct vmctl_command vmctl_cmd_checkpoint = {
        .name = "checkpoint", .args = "VM [NAME] [--production[-only]|--standard]",
        .summary = "take a checkpoint of the VM",
        .run = run_checkpoint, .help = help_checkpoint,
};
const struct vmctl_command vmctl_cmd_checkpoints = {
        .name = "checkpoints", .args = "VM", .summary = "list the VM's checkpoints as a tree",
        .run = run_list, .help = help_list,
};
const struct vmctl_command vmctl_cmd_revert = {
        .name = "revert", .args = "VM CHECKPOINT [--[no-]start]", .summary = "go back to a checkpoint",
        .run = run_revert, .help = help_revert,
};
const struct vmctl_command vmctl_cmd_checkpoint_delete = {
        .name = "checkpoint-delete", .args = "VM CHECKPOINT", .summary = "delete a checkpoint (merging its disks)",
        .run = run_delete, .help = help_delete,
};
