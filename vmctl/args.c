// SPDX-License-Identifier: MIT
/* vmctl's command lines: every command accepts the global options
 * (--address, --json, -q/--quiet) before or after its name, as systemctl
 * and virsh users expect, and refuses unknown options with exit code 2. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "vmctl/vmctl.h"

enum { ARG_ADDRESS = 0x1000, ARG_JSON, ARG_QUIET };

#define ARGS_MAX 40u

int vmctl_getopt(struct vmctl *c, int argc, char **argv, const struct option *cmd_opts) {
        static const struct option globals[] = {
                { "address", required_argument, NULL, ARG_ADDRESS },
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, ARG_QUIET },
        };
        struct option all[ARGS_MAX + ARRAY_SIZE(globals) + 1];
        size_t n = 0;
        for (; cmd_opts && cmd_opts[n].name && n < ARGS_MAX; n++)
                all[n] = cmd_opts[n];
        for (size_t i = 0; i < ARRAY_SIZE(globals); i++)
                all[n++] = globals[i];
        all[n] = (struct option){ 0 };
        for (;;) {
                /* ":" first: a missing value is told apart from an unknown option. */
                opterr = 0;
                int o = getopt_long(argc, argv, ":q", all, NULL);
                switch (o) {
                case ARG_ADDRESS: c->address = optarg; continue;
                case ARG_JSON: c->json = true; continue;
                case 'q':
                case ARG_QUIET: c->quiet = true; continue;
                case '?': {
                        const char *bad = optind > 1 ? argv[optind - 1] : "";
                        if (strncmp(bad, "--", 2) && optopt > ' ' && optopt < 127)
                                fprintf(stderr, "vmctl %s: unknown option '-%c' (see vmctl %s --help)\n", argv[0],
                                        optopt, argv[0]);
                        else
                                fprintf(stderr, "vmctl %s: unknown option or unexpected value '%s' (see vmctl %s "
                                        "--help)\n", argv[0], bad, argv[0]);
                        return '?';
                }
                case ':':
                        fprintf(stderr, "vmctl %s: option '%s' needs a value (see vmctl %s --help)\n", argv[0],
                                argv[optind - 1], argv[0]);
                        return '?';
                default:
                        return o;
                }
        }
}

int vmctl_check_args(int argc, char **argv, int want) {
        if (argc - optind == want)
                return 0;
        if (argc - optind > want)
                fprintf(stderr, "vmctl %s: unexpected argument '%s' (see vmctl %s --help)\n", argv[0],
                        argv[optind + want], argv[0]);
        else
                fprintf(stderr, "vmctl %s: missing argument (see vmctl %s --help)\n", argv[0], argv[0]);
        return VMCTL_EXIT_USAGE;
}
