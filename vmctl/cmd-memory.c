// SPDX-License-Identifier: MIT
/* vmctl memory VM [SIZE | auto]: a VM's memory (org.vmstack.VMMS1.Memory,
 * docs/dynamic-memory.md), and the operator's target for its Dynamic
 * Memory (SetTarget). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmctl/vmctl.h"
#include "vmms/names.h"
#include "vmctl/config-build.h"

static int show(struct vmctl *c, const char *path) {
        json_object *mem = json_object_new_object();
        int r = mem ? vmctl_get_properties(c, path, VMMS_MEMORY_IFACE, mem) : -ENOMEM;
        if (r < 0) {
                fprintf(stderr, "vmctl memory: cannot read the VM's memory: %s\n", strerror(-r));
                json_object_put(mem);
                return VMCTL_EXIT_FAILURE;
        }
        if (c->json)
                printf("%s\n", json_object_to_json_string_ext(mem, JSON_C_TO_STRING_PRETTY));
        else
                vmctl_print_memory(mem);
        json_object_put(mem);
        return 0;
}

static int set_target(struct vmctl *c, const char *path, uint64_t bytes) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_MEMORY_IFACE, "SetTarget", &e, NULL, "t", bytes);
        if (r < 0) {
                r = vmctl_fail(&e, r, "memory");
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

static int run_memory(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1)
                return VMCTL_EXIT_USAGE;
        int rest = argc - optind;
        if (rest < 1 || rest > 2) {
                fprintf(stderr, "vmctl memory: needs a VM and at most a SIZE or \"auto\" (see --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        uint32_t mib = 0;
        const char *arg = rest == 2 ? argv[optind + 1] : NULL;
        if (arg && strcmp(arg, "auto") && vmctl_size_parse_mib(arg, &mib) < 0) {
                fprintf(stderr, "vmctl memory: '%s' is not a size (512M, 2G) or \"auto\"\n", arg);
                return VMCTL_EXIT_USAGE;
        }
        char *path = NULL;
        int r = vmctl_resolve(c, argv[optind], &path);
        if (!r && arg) {
                r = set_target(c, path, (uint64_t)mib << 20);
                if (!r && !c->quiet && !c->json)
                        printf(mib ? "%s: memory target %s (the guest balloons or is given memory toward it)\n"
                                   : "%s: memory target automatic%.0s (demand plus buffer)\n",
                               argv[optind], arg);
        } else if (!r) {
                r = show(c, path);
        }
        free(path);
        return r;
}

static void help_memory(void) {
        printf("Usage: vmctl [--json] memory VM           the VM's memory\n"
               "       vmctl memory VM SIZE               move a running VM's memory to SIZE (512M, 2G)\n"
               "       vmctl memory VM auto               let vmms balance it again\n"
               "A VM with Dynamic Memory (vmctl create/edit --dynamic-memory) is given what its guest\n"
               "demands plus its buffer, within its minimum and maximum: memory above the startup size\n"
               "is hot-added, memory below it ballooned out of the guest (Linux: hv_balloon). SIZE\n"
               "overrides that until \"auto\" or the VM is powered off; it must lie within the VM's\n"
               "minimum and maximum. Assigned, Demand, Target, Status: docs/dynamic-memory.md.\n");
}

const struct vmctl_command vmctl_cmd_memory = { "memory", "VM [SIZE|auto]", "a VM's memory; Dynamic Memory's target",
                                                run_memory, help_memory };
