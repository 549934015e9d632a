// SPDX-License-Identifier: MIT
/* vmctl migrate VM HOST[:PORT] [--live|--quick]: Migrate() (docs/migration.md
 * "vmms", "Quick migration"). The call answers once the destination runs
 * the VM (or holds it Saved); meanwhile the worker's passes, or the bytes of
 * a quick migration's state file, arrive as
 * PropertiesChanged(MigrationProgress), shown as one line that updates in
 * place on a terminal. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"

struct migrate_show {
        const char *ref;
        bool quick;
};

static void show_progress(struct vmctl *c, const char *path, bool tty, void *opaque) {
        const struct migrate_show *w = opaque;
        const char *ref = w->ref;
        bool quick = w->quick;
        sd_bus_message *reply = NULL;
        uint32_t pass = 0;
        uint64_t bytes = 0, dirty = 0, rate = 0, downtime = 0;
        if (sd_bus_get_property(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "MigrationProgress", NULL, &reply,
                                "(utttt)") < 0 ||
            sd_bus_message_read(reply, "(utttt)", &pass, &bytes, &dirty, &rate, &downtime) < 0 || pass == 0) {
                sd_bus_message_unref(reply);
                return;
        }
        sd_bus_message_unref(reply);
        uint32_t throttle = 0;
        char note[48] = "";
        if (sd_bus_get_property_trivial(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "MigrationThrottle", NULL, 'u',
                                        &throttle) >= 0 &&
            throttle > 0)
                snprintf(note, sizeof note, ", vCPUs throttled %" PRIu32 " %%", throttle);
        char chan[200] = "";
        const char *state = NULL, *why = NULL;
        int held = 0;
        uint32_t cuts = 0;
        uint64_t since = 0;
        reply = NULL;
        if (!quick &&
            sd_bus_get_property(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "MigrationChannel", NULL, &reply,
                                "(sbust)") >= 0 &&
            sd_bus_message_read(reply, "(sbust)", &state, &held, &cuts, &why, &since) >= 0 && !strcmp(state, "cut"))
                snprintf(chan, sizeof chan, "; the channel is cut (%.120s), reconnecting%s", why,
                         held ? " until it is back" : "");
        sd_bus_message_unref(reply);
        if (quick) {
                if (bytes == 0)
                        return;
                printf("%smoving %s: %.1f MiB of its saved state sent%s", tty ? "\r" : "", ref,
                       (double)bytes / 1048576.0, tty ? "\033[K" : "\n");
                fflush(stdout);
                return;
        }
        printf("%smigrating %s: pass %" PRIu32 ", %.1f MiB sent, %" PRIu64 " pages dirty (%" PRIu64
               " pages/s), expected downtime %" PRIu64 " ms%s%s%s",
               tty ? "\r" : "", ref, pass, (double)bytes / 1048576.0, dirty, rate, downtime, note, chan,
               tty ? "\033[K" : "\n");
        fflush(stdout);
}

/* Migrate(destination, options), waited for however long it takes (vmms
 * answers: its worker's limits, a cut channel's window); Ctrl-C cancels. */
static int call_migrate(struct vmctl *c, const char *path, const char *dest, const char *mode, uint32_t downtime,
                        bool auto_converge, bool postcopy, int start, const char *storage_path,
                        const struct migrate_show *w) {
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "Migrate");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", dest);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && mode)
                r = sd_bus_message_append(m, "{sv}", "mode", "s", mode);
        if (r >= 0 && start >= 0)
                r = sd_bus_message_append(m, "{sv}", "start", "b", start);
        if (r >= 0 && downtime)
                r = sd_bus_message_append(m, "{sv}", "max-downtime-ms", "u", downtime);
        if (r >= 0 && !auto_converge)
                r = sd_bus_message_append(m, "{sv}", "auto-converge", "b", 0);
        if (r >= 0 && postcopy)
                r = sd_bus_message_append(m, "{sv}", "postcopy", "b", 1);
        if (r >= 0 && storage_path)
                r = sd_bus_message_append(m, "{sv}", "storage-path", "s", storage_path);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        r = r < 0 ? vmctl_fail(NULL, r, "migrate")
                  : vmctl_call_with_progress_cancel(c, path, m, UINT64_MAX, "migrate", "CancelMigration",
                                                    show_progress, (void *)w);
        sd_bus_message_unref(m);
        return r;
}

static int run_migrate(struct vmctl *c, int argc, char **argv) {
        static const struct option opts[] = {
                { "live", no_argument, NULL, 'l' },
                { "quick", no_argument, NULL, 'Q' },
                { "start", no_argument, NULL, 's' },
                { "no-start", no_argument, NULL, 'n' },
                { "max-downtime", required_argument, NULL, 'd' },
                { "no-auto-converge", no_argument, NULL, 'A' },
                { "postcopy", no_argument, NULL, 'P' },
                { "storage-path", required_argument, NULL, 'S' },
                {},
        };
        const char *storage_path = NULL;
        uint32_t downtime = 0;
        bool auto_converge = true, postcopy = false;
        const char *mode = NULL;
        int start = -1;
        char *end;
        int o;
        while ((o = vmctl_getopt(c, argc, argv, opts)) >= 0) {
                if (o == 'd') {
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (!*optarg || *end || v > 600000) {
                                fprintf(stderr, "vmctl migrate: --max-downtime: '%s' is not 0..600000 ms\n", optarg);
                                return VMCTL_EXIT_USAGE;
                        }
                        downtime = (uint32_t)v;
                } else if (o == 'A')
                        auto_converge = false;
                else if (o == 'P')
                        postcopy = true;
                else if (o == 'S')
                        storage_path = optarg;
                else if (o == 'l' || o == 'Q') {
                        const char *m = o == 'l' ? "live" : "quick";
                        if (mode && strcmp(mode, m) != 0) {
                                fprintf(stderr, "vmctl migrate: --live and --quick exclude each other\n");
                                return VMCTL_EXIT_USAGE;
                        }
                        mode = m;
                } else if (o == 's' || o == 'n')
                        start = o == 's';
                else
                        return VMCTL_EXIT_USAGE;
        }
        if (start >= 0 && mode && strcmp(mode, "live") == 0) {
                fprintf(stderr, "vmctl migrate: --start/--no-start go with --quick (or a Saved VM)\n");
                return VMCTL_EXIT_USAGE;
        }
        if (postcopy && mode && strcmp(mode, "quick") == 0) {
                fprintf(stderr, "vmctl migrate: --postcopy is a way to end a live migration: not with --quick\n");
                return VMCTL_EXIT_USAGE;
        }
        if (storage_path && mode && strcmp(mode, "quick") == 0) {
                fprintf(stderr, "vmctl migrate: --storage-path copies the disks of a live migration: not with --quick\n");
                return VMCTL_EXIT_USAGE;
        }
        if (vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        const char *ref = argv[optind], *dest = argv[optind + 1];
        char *path = NULL;
        int r = vmctl_resolve(c, ref, &path);
        if (r)
                return r;
        /* A Saved VM moves quick; without --start it stays Saved there. */
        char *state = NULL;
        (void)sd_bus_get_property_string(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "State", NULL, &state);
        bool saved = state && strcmp(state, "Saved") == 0;
        free(state);
        bool quick = saved || (mode && strcmp(mode, "quick") == 0);
        bool runs_there = quick ? (start >= 0 ? start == 1 : !saved) : true;
        struct migrate_show w = { .ref = ref, .quick = quick };
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        r = call_migrate(c, path, dest, mode ? mode : quick ? "quick" : "live", downtime, auto_converge, postcopy,
                         start, storage_path, &w);
        free(path);
        if (r)
                return r;
        double secs = (double)(now_us(CLOCK_MONOTONIC) - t0) / 1e6;
        if (c->json)
                printf("{\"vm\":\"%s\",\"destination\":\"%s\",\"seconds\":%.3f,\"mode\":\"%s\",\"state\":\"%s\"}\n",
                       ref, dest, secs, quick ? "quick" : "live", runs_there ? "Running" : "Saved");
        else if (!c->quiet)
                printf("%s migrated to %s in %.2f s%s; it %s there now\n", ref, dest, secs, quick ? " (quick)" : "",
                       runs_there ? "runs" : "is Saved");
        return 0;
}

static void help_migrate(void) {
        printf("Usage: vmctl migrate VM HOST[:PORT] [--live|--quick [--start|--no-start]] [--max-downtime=MS]\n"
               "                    [--no-auto-converge] [--postcopy] [--storage-path=DIR]\n"
               "Migrates a VM to the vmms on HOST (port 7390 unless given), which must accept\n"
               "migrations (vmms --migration-listen). Returns once the VM runs there (or, for a\n"
               "Saved VM moved without --start, is Saved there), however long that takes; it is\n"
               "removed here. On failure the VM stays here: a running one keeps (or goes back\n"
               "to) running. Ctrl-C cancels the move (vmctl migrate-cancel); a second Ctrl-C\n"
               "stops waiting, and the move goes on.\n"
               "  --live              pre-copy while the guest runs (the default for a running VM)\n"
               "  --quick             save it here, move the saved state, resume it there\n"
               "                      (a Saved VM always moves this way)\n"
               "  --start, --no-start resume it there or leave it Saved there (default: resume a\n"
               "                      running VM, leave a Saved one Saved)\n"
               "  --max-downtime=MS   live: the pause the switch-over may take (default 300)\n"
               "  --no-auto-converge  live: never throttle the vCPUs: a guest that dirties memory\n"
               "                      faster than the link carries it fails to move instead\n"
               "  --postcopy          live: when the passes cannot meet the downtime, switch over\n"
               "                      anyway and let HOST fetch the pages still dirty while the\n"
               "                      guest runs there (a cut link is waited for; a host, or its\n"
               "                      vmms, that fails before the last page loses the VM)\n"
               "  --storage-path=DIR  live, shared-nothing: copy the VM's writable disks while it\n"
               "                      runs into new images in DIR on HOST (same file names); the\n"
               "                      images here stay, unused (default: shared storage, the\n"
               "                      same paths on both hosts)\n");
}

const struct vmctl_command vmctl_cmd_migrate = { "migrate", "VM HOST[:PORT]", "move a VM to another host (live or quick)",
                                                 run_migrate, help_migrate };

static int run_migrate_cancel(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 1))
                return VMCTL_EXIT_USAGE;
        char *path = NULL;
        int r = vmctl_resolve(c, argv[optind], &path);
        if (!r)
                r = vmctl_call_vm(c, path, "CancelMigration", "migrate-cancel", NULL);
        free(path);
        if (!r && !c->quiet && !c->json)
                printf("the migration of %s is cancelled: it stays here\n", argv[optind]);
        return r;
}

static void help_migrate_cancel(void) {
        printf("Usage: vmctl migrate-cancel VM\n"
               "Cancels VM's migration in progress (vmctl migrate, D-Bus Migrate; Ctrl-C on\n"
               "vmctl migrate does the same): the VM stays, or runs again, here. Refused once\n"
               "the migration is committed (the destination's answer, or a post-copy's last\n"
               "pages, decide), and once a quick migration's destination stored the VM.\n");
}

const struct vmctl_command vmctl_cmd_migrate_cancel = { "migrate-cancel", "VM", "cancel a migration in progress",
                                                        run_migrate_cancel, help_migrate_cancel };

static int run_migrate_reconnect(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        char *path = NULL;
        int r = vmctl_resolve(c, argv[optind], &path);
        if (!r)
                r = vmctl_call_vm(c, path, "ReconnectMigration", "migrate-reconnect", "s", argv[optind + 1]);
        free(path);
        if (!r && !c->quiet && !c->json)
                printf("the migration channel of %s reconnects to %s\n", argv[optind], argv[optind + 1]);
        return r;
}

static void help_migrate_reconnect(void) {
        printf("Usage: vmctl migrate-reconnect VM HOST[:PORT]\n"
               "VM's live migration channel dials the same destination vmms at HOST[:PORT] from\n"
               "now on (port 7390 unless given): for a link that was cut and will not come back\n"
               "where it was. The link in use, if any, is let go. The destination must know\n"
               "this host as before (its certificate; insecure: its address).\n");
}

const struct vmctl_command vmctl_cmd_migrate_reconnect = {
        "migrate-reconnect", "VM HOST[:PORT]", "dial a migration's destination at another address",
        run_migrate_reconnect, help_migrate_reconnect
};
