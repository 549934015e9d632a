// SPDX-License-Identifier: MIT
/* vmctl wait VM STATE[,STATE...] [--timeout=SEC] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmctl/vmctl.h"
#include "vmms/lifecycle.h"

/* The state names from vmms's own table, so that the list cannot drift
 * from what vmms_state_from_string() takes (it had: three were missing). */
static void print_states(FILE *f) {
        for (int s = 0; s < VMMS_STATE_MAX; s++)
                fprintf(f, "%s%s", s ? ", " : "", vmms_state_to_string((enum vmms_state)s));
}

static int run(struct vmctl *c, int argc, char **argv) {
        static const struct option opts[] = { { "timeout", required_argument, NULL, 't' }, {} };
        uint64_t timeout = 0;
        char *path = NULL;
        int o;
        while ((o = vmctl_getopt(c, argc, argv, opts)) >= 0)
                if (o != 't')
                        return VMCTL_EXIT_USAGE;
                else if (vmctl_parse_seconds(optarg, &timeout) < 0) {
                        fprintf(stderr, "vmctl wait: --timeout: '%s' is not a number of seconds\n", optarg);
                        return VMCTL_EXIT_USAGE;
                }
        if (optind + 2 != argc) {
                fprintf(stderr, "vmctl wait: needs a VM and a state list (see --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        /* Check the names here: a typo would otherwise wait forever. */
        char *list = strdup(argv[optind + 1]), *save = NULL;
        for (char *s = list ? strtok_r(list, ",", &save) : NULL; s; s = strtok_r(NULL, ",", &save))
                if (vmms_state_from_string(s) < 0) {
                        fprintf(stderr, "vmctl wait: unknown state '%s' (", s);
                        print_states(stderr);
                        fprintf(stderr, ")\n");
                        free(list);
                        return VMCTL_EXIT_USAGE;
                }
        free(list);
        int r = vmctl_resolve(c, argv[optind], &path);
        if (!r)
                r = vmctl_wait_state(c, path, argv[optind + 1], NULL, timeout);
        free(path);
        return r;
}

static void help(void) {
        printf("Usage: vmctl wait VM STATE[,STATE...] [--timeout=SEC]\n"
               "Waits until the VM is in, or passes through, one of the states\n(");
        print_states(stdout);
        printf("):\n"
               "a Crashed that a restart policy ends at once still counts. Exit code 9 on\n"
               "timeout.\n");
}

const struct vmctl_command vmctl_cmd_wait = { "wait", "VM STATE[,STATE] [--timeout=SEC]", "wait for a state", run, help };
