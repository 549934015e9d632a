// SPDX-License-Identifier: MIT
/* vmctl copy-to VM SRC DST [--force] [--create-path]: a host file into the
 * running guest (D-Bus CopyFile; Hyper-V's Copy-VMFile). vmctl opens SRC
 * with the caller's rights and passes the descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "vmctl.h"
#include "vmms/names.h"

/* Large files go chunk by chunk through the guest's daemon. */
#define COPY_TIMEOUT_US (3600ull * 1000000u)

static int run(struct vmctl *c, int argc, char **argv) {
        static const struct option opts[] = { { "force", no_argument, NULL, 'f' },
                                               { "create-path", no_argument, NULL, 'p' }, {} };
        int o, force = 0, create_path = 0;
        while ((o = vmctl_getopt(c, argc, argv, opts)) != -1)
                if (o == 'f')
                        force = 1;
                else if (o == 'p')
                        create_path = 1;
                else
                        return VMCTL_EXIT_USAGE;
        if (vmctl_check_args(argc, argv, 3))
                return VMCTL_EXIT_USAGE;
        const char *ref = argv[optind], *src = argv[optind + 1], *dst = argv[optind + 2];
        _cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                fprintf(stderr, "vmctl: %s: %s\n", src, strerror(errno));
                return VMCTL_EXIT_FAILURE;
        }
        char *path = NULL;
        int r = vmctl_resolve(c, ref, &path);
        if (r)
                return r;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        uint64_t bytes = 0, t0 = now_us(CLOCK_MONOTONIC);
        r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "CopyFile");
        if (r >= 0)
                r = sd_bus_message_append(m, "hsa{sv}", fd, dst, 2, "overwrite", "b", force, "create_path", "b",
                                          create_path);
        if (r >= 0)
                r = sd_bus_call(c->bus, m, COPY_TIMEOUT_US, &e, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "t", &bytes);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        free(path);
        if (r < 0) {
                r = vmctl_fail(&e, r, "copy-to");
                sd_bus_error_free(&e);
                return r;
        }
        double s = (double)(now_us(CLOCK_MONOTONIC) - t0) / 1e6;
        if (c->json)
                printf("{\"vm\":\"%s\",\"destination\":\"%s\",\"bytes\":%" PRIu64 ",\"seconds\":%.3f}\n", ref, dst,
                       bytes, s);
        else if (!c->quiet)
                printf("copied %" PRIu64 " bytes to %s:%s in %.1f s\n", bytes, ref, dst, s);
        return 0;
}

static void help(void) {
        printf("Usage: vmctl copy-to VM SRC DST [--force] [--create-path]\n"
               "Copies the host file SRC into the running guest as DST (an absolute path there),\n"
               "through the file-copy integration service (Hyper-V's Copy-VMFile): the VM needs\n"
               "\"integration\": {\"fcopy\": true} and, in a Linux guest, hv_fcopy_daemon\n"
               "(Debian's hyperv-daemons). SRC is opened with your rights.\n"
               "  --force        replace DST if it exists\n"
               "  --create-path  make DST's missing directories\n");
}

const struct vmctl_command vmctl_cmd_copy_to = {
        .name = "copy-to", .args = "VM SRC DST [--force] [--create-path]",
        .summary = "copy a host file into the guest", .run = run, .help = help,
};
