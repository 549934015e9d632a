// SPDX-License-Identifier: MIT
/* vmctl copy-to VM SRC DST [--force] [--create-path]: a host file into the
 * running guest (D-Bus CopyFile; Hyper-V's Copy-VMFile). vmctl opens SRC
 * with the caller's rights and passes the descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"

/* Large files go chunk by chunk through the guest's daemon. */
#define COPY_TIMEOUT_US (3600ull * 1000000u)

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) {
        (void)sig;
        interrupted = 1;
}

struct copy_call {
        bool done;
        uint64_t bytes;
        sd_bus_error e;
};

static int on_copy_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct copy_call *cc = userdata;
        (void)ret_error;
        cc->done = true;
        if (sd_bus_message_is_method_error(reply, NULL))
                return sd_bus_error_copy(&cc->e, sd_bus_message_get_error(reply)), 0;
        if (sd_bus_message_read(reply, "t", &cc->bytes) < 0)
                sd_bus_error_set_const(&cc->e, VMMS_ERROR_FAILED, "CopyFile: a reply without the byte count");
        return 0;
}

/* Ctrl-C (or SIGTERM) asks vmms to cancel; the copy's own answer (the
 * guest deleted what it wrote) ends the command. */
static int wait_copy(struct vmctl *c, const char *path, struct copy_call *cc) {
        bool cancelled = false;
        while (!cc->done) {
                if (interrupted && !cancelled) {
                        cancelled = true;
                        sd_bus_error e = SD_BUS_ERROR_NULL;
                        if (!c->quiet)
                                fprintf(stderr, "vmctl: cancelling the copy\n");
                        if (sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "CancelFileCopy", &e, NULL,
                                               "") < 0)
                                fprintf(stderr, "vmctl: cancel: %s\n", e.message ? e.message : "failed");
                        sd_bus_error_free(&e);
                }
                int k = sd_bus_process(c->bus, NULL);
                if (k == 0)
                        k = sd_bus_wait(c->bus, UINT64_MAX);
                if (k < 0 && k != -EINTR)
                        return k;
        }
        return 0;
}

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
        struct copy_call cc = { .e = SD_BUS_ERROR_NULL };
        sd_bus_message *m = NULL;
        sd_bus_slot *slot = NULL;
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        struct sigaction sa = { .sa_handler = on_interrupt }; /* no SA_RESTART: the wait returns */
        sigemptyset(&sa.sa_mask);
        r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "CopyFile");
        if (r >= 0)
                r = sd_bus_message_append(m, "hsa{sv}", fd, dst, 2, "overwrite", "b", force, "create_path", "b",
                                          create_path);
        if (r >= 0)
                r = sd_bus_call_async(c->bus, &slot, m, on_copy_reply, &cc, COPY_TIMEOUT_US);
        if (r >= 0) {
                (void)sigaction(SIGINT, &sa, NULL);
                (void)sigaction(SIGTERM, &sa, NULL);
                r = wait_copy(c, path, &cc);
        }
        sd_bus_slot_unref(slot);
        sd_bus_message_unref(m);
        free(path);
        if (r < 0 || sd_bus_error_is_set(&cc.e)) {
                r = vmctl_fail(&cc.e, r < 0 ? r : -EIO, "copy-to");
                sd_bus_error_free(&cc.e);
                return r;
        }
        double secs = (double)(now_us(CLOCK_MONOTONIC) - t0) / 1e6;
        if (c->json)
                printf("{\"vm\":\"%s\",\"destination\":\"%s\",\"bytes\":%" PRIu64 ",\"seconds\":%.3f}\n", ref,
                       dst, cc.bytes, secs);
        else if (!c->quiet)
                printf("copied %" PRIu64 " bytes to %s:%s in %.1f s\n", cc.bytes, ref, dst, secs);
        return 0;
}

static void help(void) {
        printf("Usage: vmctl copy-to VM SRC DST [--force] [--create-path]\n"
               "Copies the host file SRC into the running guest as DST (an absolute path there),\n"
               "through the file-copy integration service (Hyper-V's Copy-VMFile): the VM needs\n"
               "\"integration\": {\"fcopy\": true} and, in a Linux guest, hv_fcopy_daemon\n"
               "(Debian's hyperv-daemons). SRC is opened with your rights. Ctrl-C cancels the\n"
               "copy (the guest deletes what it wrote), as vmctl copy-cancel VM does.\n"
               "  --force        replace DST if it exists\n"
               "  --create-path  make DST's missing directories\n");
}

const struct vmctl_command vmctl_cmd_copy_to = {
        .name = "copy-to", .args = "VM SRC DST [--force] [--create-path]",
        .summary = "copy a host file into the guest", .run = run, .help = help,
};

static int run_cancel(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 1))
                return VMCTL_EXIT_USAGE;
        char *path = NULL;
        int r = vmctl_resolve(c, argv[optind], &path);
        if (!r)
                r = vmctl_call_vm(c, path, "CancelFileCopy", "copy-cancel", NULL);
        free(path);
        if (!r && !c->quiet && !c->json)
                printf("the file copy into %s is cancelled\n", argv[optind]);
        return r;
}

static void help_cancel(void) {
        printf("Usage: vmctl copy-cancel VM\n"
               "Cancels the file copy into VM in progress (vmctl copy-to, D-Bus CopyFile): the\n"
               "guest deletes the partial file and the copy fails as cancelled.\n");
}

const struct vmctl_command vmctl_cmd_copy_cancel = {
        .name = "copy-cancel", .args = "VM", .summary = "cancel the file copy into the guest in progress",
        .run = run_cancel, .help = help_cancel,
};
