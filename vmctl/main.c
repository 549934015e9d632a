// SPDX-License-Identifier: MIT
/* vmctl: the command-line client of vmms. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmctl/vmctl.h"

static const struct vmctl_command *const commands[] = {
        &vmctl_cmd_create, &vmctl_cmd_list,   &vmctl_cmd_show,   &vmctl_cmd_start,  &vmctl_cmd_stop,
        &vmctl_cmd_kill,   &vmctl_cmd_reboot, &vmctl_cmd_pause,  &vmctl_cmd_resume, &vmctl_cmd_nmi, &vmctl_cmd_delete,
        &vmctl_cmd_edit,   &vmctl_cmd_console, &vmctl_cmd_wait,  &vmctl_cmd_host,   &vmctl_cmd_kvp,
        &vmctl_cmd_save,   &vmctl_cmd_discard_saved, &vmctl_cmd_export_saved, &vmctl_cmd_import_saved, &vmctl_cmd_migrate, &vmctl_cmd_migrate_cancel, &vmctl_cmd_migrate_reconnect, &vmctl_cmd_disk,
        &vmctl_cmd_nic,
        &vmctl_cmd_dvd,
        &vmctl_cmd_checkpoint, &vmctl_cmd_checkpoints, &vmctl_cmd_revert, &vmctl_cmd_checkpoint_delete,
        &vmctl_cmd_copy_to,
        &vmctl_cmd_copy_cancel,
        &vmctl_cmd_memory,
        &vmctl_cmd_stats,
        &vmctl_cmd_pool,
        &vmctl_cmd_display,
        &vmctl_cmd_screenshot,
};

static void usage(void) {
        printf("Usage: vmctl [--address=ADDR] [--json] [--quiet] COMMAND [ARGS...]\n"
               "       (the options may also follow the command)\n"
               "Manage vmstack VMs through vmms (D-Bus org.vmstack.VMMS1).\n\nCommands:\n");
        int name_w = 0, args_w = 0;
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
                name_w = MAX(name_w, (int)strlen(commands[i]->name));
                args_w = MAX(args_w, (int)strlen(commands[i]->args));
        }
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                printf("  %-*s %-*s  %s\n", name_w, commands[i]->name, args_w, commands[i]->args, commands[i]->summary);
        printf("\nOptions:\n"
               "  --address=ADDR   D-Bus address of vmms's bus (default: the system bus;\n"
               "                   also $VMCTL_BUS_ADDRESS)\n"
               "  --json           machine-readable output\n"
               "  -q, --quiet      no progress messages\n"
               "  -h, --help       this help; `vmctl COMMAND --help` for a command\n"
               "\nExit codes:\n"
               "  0 success               1 the operation failed    2 bad command line\n"
               "  3 no such VM            4 invalid configuration   5 wrong VM state\n"
               "  6 permission denied     7 limit reached           8 vmms not reachable\n"
               "  9 timed out             10 name or id taken   11 in use (console)\n");
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "address", required_argument, NULL, 'A' },
                { "json", no_argument, NULL, 'j' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct vmctl c = { 0 };
        int o;
        /* "+": stop at the command; its options are its own. */
        while ((o = getopt_long(argc, argv, "+hq", opts, NULL)) >= 0)
                switch (o) {
                case 'A': c.address = optarg; break;
                case 'j': c.json = true; break;
                case 'q': c.quiet = true; break;
                case 'h': usage(); return 0;
                default: fprintf(stderr, "vmctl: see vmctl --help\n"); return VMCTL_EXIT_USAGE;
                }
        if (optind >= argc) {
                usage();
                return VMCTL_EXIT_USAGE;
        }
        const char *name = argv[optind];
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
                if (strcmp(commands[i]->name, name))
                        continue;
                int sub_argc = argc - optind;
                char **sub_argv = argv + optind;
                for (int k = 1; k < sub_argc; k++)
                        if (!strcmp(sub_argv[k], "--help") || !strcmp(sub_argv[k], "-h")) {
                                commands[i]->help();
                                return 0;
                        }
                /* --address may follow the command too, and the bus is
                 * opened before the command parses its options. */
                for (int k = 1; k < sub_argc && strcmp(sub_argv[k], "--"); k++)
                        if (!strncmp(sub_argv[k], "--address=", 10))
                                c.address = sub_argv[k] + 10;
                        else if (!strcmp(sub_argv[k], "--address") && k + 1 < sub_argc)
                                c.address = sub_argv[++k];
                int r = commands[i]->local ? 0 : vmctl_connect(&c);
                if (r == 0) {
                        optind = 0;
                        r = commands[i]->run(&c, sub_argc, sub_argv);
                }
                sd_bus_flush_close_unref(c.bus);
                return r;
        }
        fprintf(stderr, "vmctl: unknown command '%s' (see vmctl --help)\n", name);
        return VMCTL_EXIT_USAGE;
}
