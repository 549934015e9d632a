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

struct save_call {
        bool done, changed;
        int r;
        sd_bus_error e;
};

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret) {
        struct save_call *s = userdata;
        s->done = true;
        if (sd_bus_message_is_method_error(m, NULL)) {
                sd_bus_error_copy(&s->e, sd_bus_message_get_error(m));
                s->r = -EIO;
        }
        return 0;
}

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret) {
        ((struct save_call *)userdata)->changed = true;
        return 0;
}

static void show_progress(struct vmctl *c, const char *path, const char *ref, bool tty) {
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
        struct save_call s = { .e = SD_BUS_ERROR_NULL };
        sd_bus_slot *match = NULL, *call = NULL;
        bool tty = isatty(STDOUT_FILENO), show = !c->quiet && !c->json;
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        r = sd_bus_match_signal(c->bus, &match, VMMS_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_changed, &s);
        if (r >= 0)
                r = sd_bus_call_method_async(c->bus, &call, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "Save", on_reply, &s,
                                             NULL);
        while (r >= 0 && !s.done) {
                if (s.changed && show) {
                        s.changed = false;
                        show_progress(c, path, ref, tty);
                }
                int k = sd_bus_process(c->bus, NULL);
                if (k == 0)
                        k = sd_bus_wait(c->bus, UINT64_MAX);
                if (k < 0)
                        r = k;
        }
        if (show && tty)
                printf("\r\033[K");
        sd_bus_slot_unref(call);
        sd_bus_slot_unref(match);
        if (r < 0 || s.r < 0) {
                r = vmctl_fail(&s.e, r < 0 ? r : s.r, "save");
                sd_bus_error_free(&s.e);
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
