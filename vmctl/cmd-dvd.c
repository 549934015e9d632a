// SPDX-License-Identifier: MIT
/* vmctl dvd insert VM ISO [--drive=N] and vmctl dvd eject VM [--drive=N]:
 * a DVD drive's disc (InsertDvd, EjectDvd; Hyper-V's Set-VMDvdDrive), on
 * a running VM (the guest sees the media change) or an Off one's
 * configuration. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "vmctl/vmctl.h"

static int run_dvd(struct vmctl *c, int argc, char **argv) {
        enum { OPT_DRIVE = 1 };
        static const struct option opts[] = { { "drive", required_argument, NULL, OPT_DRIVE }, {} };
        if (argc < 2 || (strcmp(argv[1], "insert") && strcmp(argv[1], "eject"))) {
                fprintf(stderr, "vmctl dvd: needs insert or eject (see vmctl dvd --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        bool insert = !strcmp(argv[1], "insert");
        argc--, argv++;
        argv[0] = (char *)(insert ? "dvd insert" : "dvd eject");
        unsigned long drive = 0;
        char *end;
        int o;
        while ((o = vmctl_getopt(c, argc, argv, opts)) != -1) {
                if (o != OPT_DRIVE)
                        return VMCTL_EXIT_USAGE;
                drive = strtoul(optarg, &end, 10);
                if (!optarg[0] || *end || drive >= VM_DVD_DRIVES_MAX) {
                        fprintf(stderr, "vmctl %s: --drive: a drive index from 0 to %u\n", argv[0],
                                VM_DVD_DRIVES_MAX - 1);
                        return VMCTL_EXIT_USAGE;
                }
        }
        if (vmctl_check_args(argc, argv, insert ? 2 : 1))
                return VMCTL_EXIT_USAGE;
        char iso[PATH_MAX], cwd[PATH_MAX];
        if (insert) { /* relative to where vmctl runs, as --dvd= of create */
                const char *p = argv[optind + 1];
                int n = p[0] == '/' ? snprintf(iso, sizeof iso, "%s", p)
                                    : snprintf(iso, sizeof iso, "%s/%s", getcwd(cwd, sizeof cwd) ? cwd : "", p);
                if (n < 0 || (size_t)n >= sizeof iso || iso[0] != '/') {
                        fprintf(stderr, "vmctl dvd insert: %s: path too long or not absolute\n", p);
                        return VMCTL_EXIT_USAGE;
                }
        }
        char *path = NULL;
        int r = vmctl_resolve(c, argv[optind], &path);
        if (!r)
                r = insert ? vmctl_call_vm(c, path, "InsertDvd", argv[0], "us", (uint32_t)drive, iso)
                           : vmctl_call_vm(c, path, "EjectDvd", argv[0], "u", (uint32_t)drive);
        if (!r && !c->quiet && !c->json) {
                if (insert)
                        printf("%s: %s in dvd_drives[%lu]\n", argv[optind], iso, drive);
                else
                        printf("%s: dvd_drives[%lu] ejected\n", argv[optind], drive);
        }
        free(path);
        return r;
}

static void help_dvd(void) {
        printf("Usage: vmctl dvd insert VM ISO [--drive=N]\n"
               "       vmctl dvd eject VM [--drive=N]\n"
               "Puts ISO into the VM's DVD drive dvd_drives[N] (default 0; vmctl show lists them), or\n"
               "empties it, as Hyper-V's Set-VMDvdDrive. A running VM's guest sees the media change;\n"
               "an Off VM's configuration changes. Either way the configuration keeps the disc, so it\n"
               "is still in after a restart. The ISO must lie in a storage pool (vmms opens it with\n"
               "your rights, and at Start with the VM owner's). A drive is added with\n"
               "vmctl create/edit --dvd=ISO while the VM is off.\n");
}

const struct vmctl_command vmctl_cmd_dvd = {
        .name = "dvd", .args = "insert|eject VM ...", .summary = "change the disc in a VM's DVD drive (also while it runs)",
        .run = run_dvd, .help = help_dvd,
};
