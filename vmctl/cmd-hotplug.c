// SPDX-License-Identifier: MIT
/* vmctl disk attach|detach|resize VM ... and vmctl nic attach|detach VM
 * ...: a VM's disks and NICs, while it runs (its worker adds and removes
 * them: docs/vmms.md "Disks and NICs of a running VM") or while it is off
 * (its configuration), through AttachDisk, DetachDisk, ResizeDisk,
 * AttachNic and DetachNic. A disk or NIC is written as for --disk= and
 * --nic= of create and edit (config-build.c), applied to the VM's
 * configuration as edit applies it, so that a LUN left out is the next
 * one free on its controller there. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "vmctl/vmctl.h"
#include "vmms/names.h"
#include "vmctl/config-build.h"

/* A hot-plug call may wait for the guest's I/O in flight (vmms allows
 * its worker a minute). */
#define HOTPLUG_CALL_TIMEOUT_US (90 * 1000000ull)

/* The entry that `--<flag>=spec` adds to the VM's configuration, as JSON
 * text in *out. */
static int build_entry(struct vmctl *c, const char *cmd, const char *path, const char *flag, const char *key,
                       const char *spec, char **out) {
        char *current = NULL, err[300], cwd[PATH_MAX];
        struct vmctl_build_ctx ctx = { .cwd = getcwd(cwd, sizeof cwd) };
        int r = vmctl_get_string(c, path, "Config", &current);
        if (r)
                return r;
        json_object *cfg = json_tokener_parse(current), *a;
        free(current);
        if (!cfg || getrandom(ctx.mac_random, sizeof ctx.mac_random, 0) < 0) {
                json_object_put(cfg);
                fprintf(stderr, "vmctl %s: cannot read the VM's configuration\n", cmd);
                return VMCTL_EXIT_FAILURE;
        }
        if (vmctl_config_set(cfg, flag, spec, &ctx, err, sizeof err) < 0) {
                /* "--disk: unknown option ...": the spec is an argument here */
                const char *why = !strncmp(err, "--", 2) && strchr(err, ' ') ? strchr(err, ' ') + 1 : err;
                fprintf(stderr, "vmctl %s: %s (see vmctl %s --help)\n", cmd, why, cmd);
                json_object_put(cfg);
                return VMCTL_EXIT_INVALID;
        }
        size_t n = json_object_object_get_ex(cfg, key, &a) ? json_object_array_length(a) : 0;
        const char *s = n ? json_object_to_json_string_ext(json_object_array_get_idx(a, n - 1),
                                                           JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                          : NULL;
        *out = s ? strdup(s) : NULL;
        json_object_put(cfg);
        return *out ? 0 : VMCTL_EXIT_FAILURE;
}

/* method(s entry) -> u index */
static int call_attach(struct vmctl *c, const char *path, const char *method, const char *entry, uint32_t *index) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, path, VMMS_VM_IFACE, method);
        if (r >= 0 && (r = sd_bus_message_append(m, "s", entry)) >= 0 &&
            (r = sd_bus_call(c->bus, m, HOTPLUG_CALL_TIMEOUT_US, &e, &reply)) >= 0)
                r = sd_bus_message_read(reply, "u", index);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        if (r < 0) {
                r = vmctl_fail(&e, r, method);
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

static int call_index(struct vmctl *c, const char *path, const char *method, const char *types, uint32_t index,
                      uint64_t bytes) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, path, VMMS_VM_IFACE, method);
        if (r >= 0)
                r = types[1] ? sd_bus_message_append(m, types, index, bytes) : sd_bus_message_append(m, types, index);
        if (r >= 0)
                r = sd_bus_call(c->bus, m, HOTPLUG_CALL_TIMEOUT_US, &e, NULL);
        sd_bus_message_unref(m);
        if (r < 0) {
                r = vmctl_fail(&e, r, method);
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

static int parse_index(const char *cmd, const char *s, uint32_t *out) {
        char *end;
        errno = 0;
        unsigned long v = s[0] >= '0' && s[0] <= '9' ? strtoul(s, &end, 10) : ULONG_MAX;
        if (v == ULONG_MAX || errno || *end || v > UINT32_MAX) {
                fprintf(stderr, "vmctl %s: '%s' is not an index (vmctl show lists them)\n", cmd, s);
                return VMCTL_EXIT_USAGE;
        }
        *out = (uint32_t)v;
        return 0;
}

/* attach VM SPEC: the new entry's index, printed (with the entry for --json). */
static int attach(struct vmctl *c, const char *cmd, const char *ref, const char *spec, bool nic) {
        char *path = NULL, *entry = NULL;
        uint32_t index = 0;
        int r = vmctl_resolve(c, ref, &path);
        if (!r)
                r = build_entry(c, cmd, path, nic ? "nic" : "disk", nic ? "nics" : "disks", spec, &entry);
        if (!r)
                r = call_attach(c, path, nic ? "AttachNic" : "AttachDisk", entry, &index);
        json_object *o = r ? NULL : json_tokener_parse(entry), *v;
        if (o && c->json) {
                json_object *out = json_object_new_object();
                json_object_object_add(out, "index", json_object_new_int64(index));
                json_object_object_add(out, nic ? "nic" : "disk", json_object_get(o));
                printf("%s\n",
                       json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(out);
        } else if (o && !c->quiet) {
                const char *what = json_object_object_get_ex(o, nic ? "mac" : "path", &v) ? json_object_get_string(v)
                                                                                            : "";
                printf("%s: %s[%u] attached (%s%s)\n", ref, nic ? "nics" : "disks", index, nic ? "mac " : "", what);
        }
        json_object_put(o);
        free(path), free(entry);
        return r;
}

/* detach VM INDEX, resize VM INDEX SIZE */
static int detach_or_resize(struct vmctl *c, const char *cmd, int argc, char **argv, bool nic, bool resize) {
        uint32_t index, mib = 0;
        char *path = NULL;
        int r = parse_index(cmd, argv[optind + 1], &index);
        if (!r && resize && vmctl_size_parse_mib(argv[optind + 2], &mib) < 0) {
                fprintf(stderr, "vmctl %s: SIZE must be a size such as 512M, 10G or 1T, not '%s'\n", cmd,
                        argv[optind + 2]);
                r = VMCTL_EXIT_USAGE;
        }
        if (!r)
                r = vmctl_resolve(c, argv[optind], &path);
        if (!r)
                r = resize ? call_index(c, path, "ResizeDisk", "ut", index, (uint64_t)mib << 20)
                           : call_index(c, path, nic ? "DetachNic" : "DetachDisk", "u", index, 0);
        if (!r && !c->quiet && !c->json) {
                if (resize)
                        printf("%s: disks[%u] resized to %u MiB\n", argv[optind], index, mib);
                else
                        printf("%s: %s[%u] detached (the later ones moved down one index)\n", argv[optind],
                               nic ? "nics" : "disks", index);
        }
        free(path);
        return r;
}

/* sub is argv[0]: attach, detach or resize. */
static int run_sub(struct vmctl *c, const char *cmd, int argc, char **argv, bool nic) {
        const char *sub = argv[0];
        bool is_attach = !strcmp(sub, "attach"), resize = !strcmp(sub, "resize");
        argv[0] = (char *)cmd; /* "vmctl disk attach: ..." in getopt's messages */
        if (vmctl_getopt(c, argc, argv, NULL) != -1)
                return VMCTL_EXIT_USAGE;
        if (is_attach && nic && argc - optind == 1) /* nic attach VM: every setting its default */
                return attach(c, cmd, argv[optind], "auto", true);
        if (vmctl_check_args(argc, argv, resize ? 3 : 2))
                return VMCTL_EXIT_USAGE;
        if (is_attach)
                return attach(c, cmd, argv[optind], argv[optind + 1], nic);
        return detach_or_resize(c, cmd, argc, argv, nic, resize);
}

int vmctl_disk_vm(struct vmctl *c, int argc, char **argv) {
        const char *sub = argv[0];
        const char *cmd = !strcmp(sub, "attach") ? "disk attach" : !strcmp(sub, "detach") ? "disk detach" : "disk resize";
        int r = c->bus ? 0 : vmctl_connect(c);
        return r ? r : run_sub(c, cmd, argc, argv, false);
}

static int run_nic(struct vmctl *c, int argc, char **argv) {
        if (argc < 2 || (strcmp(argv[1], "attach") && strcmp(argv[1], "detach") && strcmp(argv[1], "qos"))) {
                fprintf(stderr, "vmctl nic: needs attach, detach or qos (see vmctl nic --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        argc--, argv++; /* the subcommand is argv[0] now, as getopt wants */
        if (!strcmp(argv[0], "qos"))
                return vmctl_nic_qos(c, argc, argv); /* cmd-qos.c */
        return run_sub(c, !strcmp(argv[0], "attach") ? "nic attach" : "nic detach", argc, argv, true);
}

static void help_nic(void) {
        printf("Usage: vmctl nic attach VM [mac=MAC][,bridge=BR][,tap=IF][,mtu=N][,link=down][,queues=N]\n"
               "                          [,max-in-bps=N][,max-out-bps=N][,min-weight=N]\n"
               "       vmctl nic detach VM INDEX\n"
               "       vmctl nic qos VM INDEX [--max-in-bps=N] [--max-out-bps=N] [--min-weight=N]\n"
               "Adds a NIC to a VM or removes nics[INDEX] (vmctl show lists them), written as --nic=\n"
               "of vmctl create (without settings: a generated MAC, a TAP vmms creates). A running\n"
               "VM's guest sees the network adapter come and go (a VMBus offer and its rescind); an\n"
               "Off VM's configuration changes. After a detach the later NICs move down one index\n"
               "and keep their VMBus instance GUIDs. --json prints the new NIC's index and entry.\n"
               "qos sets nics[INDEX]'s bandwidth caps in bits/s of Ethernet frames, in = to the\n"
               "guest, out = from it (1000000..1000000000000; 0: none; a setting left out keeps its\n"
               "value): at once on a running or paused VM, whatever made its TAP; in the\n"
               "configuration of any other. --min-weight sets its share (1..100; 0: none) of the\n"
               "uplink vmms --nic-uplink names while that is congested. Without settings: prints them.\n");
}

const struct vmctl_command vmctl_cmd_nic = {
        .name = "nic", .args = "attach|detach|qos VM ...",
        .summary = "add or remove a VM's NIC, cap its bandwidth (also while it runs)",
        .run = run_nic, .help = help_nic,
};
