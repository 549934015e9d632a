// SPDX-License-Identifier: MIT
/* vmctl create [FILE|-] [flags] [--start]: a configuration from a JSON file,
 * from flags, or both (flags apply on top of the file). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fd-util.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"
#include "vmctl/config-build.h"
#include "vmctl/cloud-init.h"

static const char *const flag_names[VMCTL_OPT_CONFIG_END - VMCTL_OPT_CONFIG_FIRST] = {
        "name", "memory", "vcpus", "kernel", "initrd", "cmdline", "boot", "disk", "nic",
        "restart-policy", "stop-timeout", "serial-log", "remove-disk", "remove-nic", "force", "checkpoint-type",
        "dynamic-memory", "display", "firmware", "boot-order", "dvd", "cpu-limit", "cpu-weight",
};

int vmctl_apply_option(json_object *cfg, int c, const char *arg, bool ide_disks) {
        struct vmctl_build_ctx ctx = { .ide_disks = ide_disks };
        char cwd[PATH_MAX], err[300];
        if (c < VMCTL_OPT_CONFIG_FIRST || c >= VMCTL_OPT_CONFIG_END)
                return VMCTL_EXIT_USAGE;
        ctx.cwd = getcwd(cwd, sizeof cwd);
        if (getrandom(ctx.mac_random, sizeof ctx.mac_random, 0) < 0)
                return VMCTL_EXIT_FAILURE;
        if (vmctl_config_set(cfg, flag_names[c - VMCTL_OPT_CONFIG_FIRST], arg, &ctx, err, sizeof err) < 0) {
                fprintf(stderr, "vmctl: %s\n", err);
                return VMCTL_EXIT_INVALID;
        }
        return 0;
}

int vmctl_check_config(json_object *cfg, char **json_out) {
        const char *s = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        struct vm_config *vc = malloc(sizeof *vc);
        char err[300];
        if (!s || !vc) {
                free(vc);
                return VMCTL_EXIT_FAILURE;
        }
        int r = vm_config_parse(s, strlen(s), vc, err, sizeof err);
        free(vc);
        if (r < 0) {
                fprintf(stderr, "vmctl: invalid configuration: %s\n", err);
                return VMCTL_EXIT_INVALID;
        }
        *json_out = strdup(s);
        return *json_out ? 0 : VMCTL_EXIT_FAILURE;
}

int vmctl_read_input(const char *path, char **out) {
        size_t len;
        int r;
        if (strcmp(path, "-")) {
                r = read_file(path, VM_CONFIG_MAX_BYTES, out, &len);
        } else {
                char *buf = malloc(VM_CONFIG_MAX_BYTES + 1);
                ssize_t n = buf ? read_full(STDIN_FILENO, buf, VM_CONFIG_MAX_BYTES + 1) : -ENOMEM;
                r = n < 0 ? (int)n : n > (ssize_t)VM_CONFIG_MAX_BYTES ? -EFBIG : 0;
                if (r == 0) {
                        buf[n] = 0;
                        *out = buf;
                } else
                        free(buf);
        }
        if (r < 0)
                fprintf(stderr, "vmctl: %s: %s\n", path, r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
        return r < 0 ? VMCTL_EXIT_INVALID : 0;
}

static int load_base(const char *file, json_object **cfg) {
        _cleanup_free_ char *text = NULL;
        if (!file) {
                *cfg = json_object_new_object();
                return *cfg ? 0 : VMCTL_EXIT_FAILURE;
        }
        int r = vmctl_read_input(file, &text);
        if (r)
                return r;
        enum json_tokener_error je;
        *cfg = json_tokener_parse_verbose(text, &je);
        if (!*cfg) {
                fprintf(stderr, "vmctl: %s: not valid JSON (%s)\n", file, json_tokener_error_desc(je));
                return VMCTL_EXIT_INVALID;
        }
        if (!json_object_is_type(*cfg, json_type_object)) {
                fprintf(stderr, "vmctl: %s: the configuration must be a JSON object ({...}), not %s\n", file,
                        json_object_is_type(*cfg, json_type_array) ? "an array" : "a single value");
                json_object_put(*cfg);
                return VMCTL_EXIT_INVALID;
        }
        /* json-c keeps the last of two equal keys: let the parser's check
         * (which sees the text) say so before anything else. */
        struct vm_config *vc = malloc(sizeof *vc);
        char err[300] = "";
        if (vc && vm_config_parse(text, strlen(text), vc, err, sizeof err) < 0 && strstr(err, "appears twice")) {
                fprintf(stderr, "vmctl: %s: %s\n", file, err);
                free(vc);
                json_object_put(*cfg);
                return VMCTL_EXIT_INVALID;
        }
        free(vc);
        return 0;
}

/* CONFIG.cidata.iso, when CONFIG is an exported VM's (export-saved
 * --config): its id, and a DVD drive naming "<dir>/<id>.cidata.iso" (the
 * exporting host's seed), with the file beside it. buf holds the name. */
static const char *exported_seed(const char *file, json_object *cfg, char *buf, size_t len) {
        json_object *id, *dvds, *p;
        char want[80];
        if (!file || !strcmp(file, "-") || !json_object_object_get_ex(cfg, "id", &id) ||
            !json_object_is_type(id, json_type_string) || !json_object_object_get_ex(cfg, "dvd_drives", &dvds) ||
            !json_object_is_type(dvds, json_type_array) ||
            snprintf(want, sizeof want, "/%s%s", json_object_get_string(id), VMCTL_SEED_SUFFIX) >= (int)sizeof want ||
            snprintf(buf, len, "%s%s", file, VMCTL_SEED_SUFFIX) >= (int)len || access(buf, F_OK) < 0)
                return NULL;
        for (size_t i = 0; i < json_object_array_length(dvds); i++) {
                const char *path = json_object_object_get_ex(json_object_array_get_idx(dvds, i), "path", &p)
                                           ? json_object_get_string(p)
                                           : NULL;
                size_t n = path ? strlen(path) : 0, w = strlen(want);
                if (n > w && !strcmp(path + n - w, want))
                        return buf;
        }
        return NULL;
}

/* CreateVMWithSeed: the configuration and the exported seed's fd. */
static int create_with_seed(struct vmctl *c, const char *json, const char *seed, sd_bus_message **reply,
                            sd_bus_error *e) {
        int fd = open(seed, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return fprintf(stderr, "vmctl create: %s: %s\n", seed, strerror(errno)), -errno;
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "CreateVMWithSeed", e,
                                   reply, "sh", json, fd);
        close(fd);
        return r;
}

/* CreateVM, with --cloud-init=ARG CreateVMWithCloudInit and the files'
 * bytes (vmctl/cloud-init.h), or with an exported seed CreateVMWithSeed. */
static int create_and_report(struct vmctl *c, const char *json, const char *cloud_init, const char *seed,
                             char **path) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL, *call = NULL;
        struct vmctl_cloud_init ci;
        char err[600];
        const char *p;
        int r;
        if (cloud_init && vmctl_cloud_init_parse(cloud_init, &ci, err, sizeof err) < 0) {
                fprintf(stderr, "vmctl create: %s\n", err);
                return VMCTL_EXIT_INVALID;
        }
        if (seed) {
                r = create_with_seed(c, json, seed, &reply, &e);
        } else if (!cloud_init) {
                r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "CreateVM", &e,
                                       &reply, "s", json);
        } else { /* the seed's files travel as bytes (vmctl/cloud-init.h) */
                r = sd_bus_message_new_method_call(c->bus, &call, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE,
                                                   "CreateVMWithCloudInit");
                if (r >= 0 && (r = sd_bus_message_append(call, "s", json)) >= 0 &&
                    (r = vmctl_cloud_init_append(call, &ci)) >= 0)
                        r = sd_bus_call(c->bus, call, 0, &e, &reply);
                sd_bus_message_unref(call);
                vmctl_cloud_init_done(&ci);
        }
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &p);
        if (r >= 0 && !(*path = strdup(p)))
                r = -ENOMEM;
        sd_bus_message_unref(reply);
        if (r < 0) {
                r = vmctl_fail(&e, r, "create");
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

static int print_created(struct vmctl *c, const char *path) {
        char *id = NULL, *name = NULL;
        int r = vmctl_get_string(c, path, "Id", &id);
        if (!r)
                r = vmctl_get_string(c, path, "Name", &name);
        if (!r && c->json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "path", json_object_new_string(path));
                json_object_object_add(o, "id", json_object_new_string(id));
                json_object_object_add(o, "name", json_object_new_string(name));
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        } else if (!r && !c->quiet)
                printf("created VM %s (%s)\n", name, id);
        free(id), free(name);
        return r;
}

static int run(struct vmctl *c, int argc, char **argv) {
        enum { OPT_START = 1, OPT_TIMEOUT, OPT_CLOUD_INIT };
        static const struct option opts[] = {
                VMCTL_CONFIG_OPTION_ENTRIES,
                { "start", no_argument, NULL, OPT_START },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "cloud-init", required_argument, NULL, OPT_CLOUD_INIT },
                {},
        };
        json_object *cfg = NULL;
        char *json = NULL, *path = NULL;
        const char *cloud_init = NULL;
        bool start = false;
        uint64_t timeout = 0;
        int o, r;
        /* Flags apply after the file: collect them first. */
        while ((o = vmctl_getopt(c, argc, argv, opts)) >= 0)
                if (o == '?')
                        return VMCTL_EXIT_USAGE;
        const char *file = optind < argc ? argv[optind] : NULL;
        if (optind + 1 < argc) {
                fprintf(stderr, "vmctl create: one configuration file at most (see --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        if ((r = load_base(file, &cfg)))
                return r;
        /* No kernel: the VM boots its own disk through the firmware, and a
         * BIOS boots IDE, so its --disk flags default to the IDE bus. */
        bool kernel_flag = false, firmware_flag = false;
        const char *boot_flag = NULL;
        optind = 0;
        while ((o = vmctl_getopt(c, argc, argv, opts)) >= 0) {
                kernel_flag |= o == VMCTL_OPT_KERNEL;
                firmware_flag |= o == VMCTL_OPT_FIRMWARE || o == VMCTL_OPT_BOOT_ORDER;
                if (o == VMCTL_OPT_BOOT)
                        boot_flag = optarg;
        }
        bool firmware = (firmware_flag && !kernel_flag) || vmctl_create_boots_firmware(cfg, kernel_flag, boot_flag);
        optind = 0;
        while (r == 0 && (o = vmctl_getopt(c, argc, argv, opts)) >= 0)
                if (o == OPT_START)
                        start = true;
                else if (o == OPT_CLOUD_INIT)
                        cloud_init = optarg;
                else if (o == OPT_TIMEOUT && vmctl_parse_seconds(optarg, &timeout) < 0) {
                        fprintf(stderr, "vmctl create: --timeout: '%s' is not a number of seconds\n", optarg);
                        r = VMCTL_EXIT_USAGE;
                } else if (o != OPT_TIMEOUT)
                        r = vmctl_apply_option(cfg, o, optarg, firmware);
        json_object *boot, *kernel;
        if (!r && firmware)
                vmctl_config_default_firmware(cfg);
        else if (!r && (!json_object_object_get_ex(cfg, "boot", &boot) ||
                        !json_object_object_get_ex(boot, "kernel", &kernel))) {
                fprintf(stderr, "vmctl create: --boot=pvh or linux needs a kernel: --kernel=PATH (a PVH ELF, or a "
                                "bzImage with --boot=linux), or boot.kernel in the file; without them the VM boots "
                                "its own disk through the firmware\n");
                r = VMCTL_EXIT_INVALID;
        }
        if (!r)
                r = vmctl_check_config(cfg, &json);
        char seed_buf[PATH_MAX];
        const char *seed = r ? NULL : exported_seed(file, cfg, seed_buf, sizeof seed_buf);
        if (seed && cloud_init) {
                fprintf(stderr, "vmctl create: %s carries the VM's cloud-init seed (%s): no --cloud-init\n", file, seed);
                r = VMCTL_EXIT_USAGE;
        }
        if (!r)
                r = create_and_report(c, json, cloud_init, seed, &path);
        if (!r)
                r = print_created(c, path);
        if (!r && start && !(r = vmctl_call_vm(c, path, "Start", "start", NULL)))
                r = vmctl_wait_state(c, path, "Running", "Off,Crashed", timeout);
        if (r && start && path) /* the VM exists: say so, and how to go on */
                fprintf(stderr, "vmctl create: the VM was created but did not start; it stays defined (vmctl "
                                "start to retry, vmctl delete to remove it)\n");
        json_object_put(cfg);
        free(json), free(path);
        return r;
}

static void help(void) {
        printf("Usage: vmctl create [FILE|-] [OPTIONS]\n"
               "Creates a VM from a JSON configuration (docs/dbus-api.md) and/or flags;\n"
               "flags apply on top of FILE. Prints the new VM's name and id.\n\n" VMCTL_CONFIG_OPTIONS_HELP
               "  --cloud-init=USER_DATA[,meta-data=FILE][,network-config=FILE]\n"
               "                         a cloud-init NoCloud seed (label cidata, made by vmms) in a\n"
               "                         DVD drive: the first without a disc, else a new one (each\n"
               "                         file at most 1 MiB; meta-data defaults to the VM's id and name)\n"
               "  --start                start the VM and wait until it runs\n"
               "  --timeout=SEC          with --start: give up waiting after SEC\n"
               "Example: vmctl create --name=web1 --memory=1G --kernel=/boot/guest.elf \\\n"
               "           --disk=/var/lib/images/web1.img --nic=bridge=br0 --start\n"
               "Without --kernel the VM boots its own disk (IDE) or DVD through SeaBIOS:\n"
               "         vmctl create --name=web --disk=/var/lib/vmstack/images/web.vhdx --start\n");
}

const struct vmctl_command vmctl_cmd_create = { "create", "[FILE|-] [--name ...]", "create a VM", run, help };
