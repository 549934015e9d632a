// SPDX-License-Identifier: MIT
/* vmctl save VM: Hyper-V's Saved state (docs/vm-state.md). Save() answers
 * once the state is on disk; meanwhile the worker's progress arrives as
 * PropertiesChanged(SaveProgress), shown as one line that updates in place
 * on a terminal. vmctl discard-saved VM: DiscardSavedState(). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vmctl.h"
#include "vmms/names.h"

static void show_progress(struct vmctl *c, const char *path, bool tty, void *opaque) {
        const char *ref = opaque;
        sd_bus_message *reply = NULL;
        uint64_t done = 0, total = 0;
        if (sd_bus_get_property(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "SaveProgress", NULL, &reply, "(tt)") < 0 ||
            sd_bus_message_read(reply, "(tt)", &done, &total) < 0 || total == 0) {
                sd_bus_message_unref(reply);
                return;
        }
        sd_bus_message_unref(reply);
        printf("%ssaving %s: %.1f MiB of %.1f MiB (%" PRIu64 "%%)%s", tty ? "\r" : "", ref, (double)done / 1048576.0,
               (double)total / 1048576.0, done * 100 / total, tty ? "\033[K" : "\n");
        fflush(stdout);
}

static int run_save(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 1))
                return VMCTL_EXIT_USAGE;
        const char *ref = argv[optind];
        char *path = NULL;
        int r = vmctl_resolve(c, ref, &path);
        if (r)
                return r;
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        sd_bus_message *m = NULL;
        r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "Save");
        r = r < 0 ? vmctl_fail(NULL, r, "save")
                  : vmctl_call_with_progress(c, path, m, 0, "save", show_progress, (void *)ref);
        sd_bus_message_unref(m);
        if (r) {
                free(path);
                return r;
        }
        /* The worker ends after the reply: Saved follows. */
        r = vmctl_wait_state(c, path, "Saved", "Off,Crashed", 60 * 1000000ull);
        uint64_t bytes = 0;
        sd_bus_message *reply = NULL;
        if (!r && sd_bus_get_property(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "SavedStateSize", NULL, &reply,
                                      "t") >= 0)
                (void)sd_bus_message_read(reply, "t", &bytes);
        sd_bus_message_unref(reply);
        if (!r && c->json)
                printf("{\"vm\":\"%s\",\"saved_bytes\":%" PRIu64 ",\"seconds\":%.3f}\n", ref, bytes,
                       (double)(now_us(CLOCK_MONOTONIC) - t0) / 1e6);
        else if (!r && !c->quiet)
                printf("%s saved (%.1f MiB in %.2f s); `vmctl start %s` resumes it\n", ref, (double)bytes / 1048576.0,
                       (double)(now_us(CLOCK_MONOTONIC) - t0) / 1e6, ref);
        free(path);
        return r;
}

static int run_discard(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 1))
                return VMCTL_EXIT_USAGE;
        const char *ref = argv[optind];
        char *path = NULL;
        int r = vmctl_resolve(c, ref, &path);
        if (!r)
                r = vmctl_call_vm(c, path, "DiscardSavedState", argv[0], NULL);
        if (!r && !c->quiet && !c->json)
                printf("%s: saved state discarded; the VM is Off\n", ref);
        free(path);
        return r;
}

static void help_save(void) {
        printf("Usage: vmctl save VM\n"
               "Saves a running or paused VM (Hyper-V's Saved state): its memory and devices are\n"
               "written to vmms's state directory and its worker ends. `vmctl start VM` resumes it\n"
               "where it was. Shows the progress; waits until the VM is Saved.\n");
}
static void help_discard(void) {
        printf("Usage: vmctl discard-saved VM\n"
               "Removes a Saved VM's saved state; the VM is Off (the next start boots it).\n");
}

const struct vmctl_command vmctl_cmd_save = { "save", "VM", "save a VM (Saved state)", run_save, help_save };
const struct vmctl_command vmctl_cmd_discard_saved = { "discard-saved", "VM", "discard a Saved VM's state",
                                                       run_discard, help_discard };
