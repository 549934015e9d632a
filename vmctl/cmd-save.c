// SPDX-License-Identifier: MIT
/* vmctl save VM: Hyper-V's Saved state (docs/vm-state.md). Save() answers
 * once the state is on disk; meanwhile the worker's progress arrives as
 * PropertiesChanged(SaveProgress), shown as one line that updates in place
 * on a terminal. vmctl discard-saved VM: DiscardSavedState().
 * vmctl export-saved VM FILE / import-saved VM FILE: ExportSavedState() and
 * ImportSavedState() (docs/vm-state.md "Export and import"); vmctl opens
 * and writes FILE as its caller, vmms never sees the path. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "vmctl/cloud-init.h"
#include "vmctl/vmctl.h"
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
                  : vmctl_call_with_progress(c, path, m, UINT64_MAX, "save", show_progress, (void *)ref);
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

/* Copies all of in (from its offset) to out; 0 or -errno. */
static int copy_all(int in, int out, uint64_t *bytes) {
        char buf[1 << 16];
        ssize_t n;
        int r;
        for (*bytes = 0; (n = read_full(in, buf, sizeof buf)) > 0; *bytes += (uint64_t)n)
                if ((r = write_full(out, buf, (size_t)n)) < 0)
                        return r;
        return n < 0 ? (int)n : 0;
}

/* An output file of export-saved, as the caller, 0600 (it holds guest
 * memory); --force replaces one. The fd, or -1 with the message printed
 * and *code the exit code. */
static int create_output(const char *file, bool force, int *code) {
        int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (force ? O_TRUNC : O_EXCL), 0600);
        if (fd < 0) {
                fprintf(stderr, "vmctl export-saved: %s: %s%s\n", file, strerror(errno),
                        errno == EEXIST ? " (--force replaces it)" : "");
                *code = errno == EEXIST ? VMCTL_EXIT_EXISTS : VMCTL_EXIT_FAILURE;
        }
        return fd;
}

/* The VM's configuration (its Config, with its id) into file. */
static int write_config(struct vmctl *c, const char *path, const char *file, bool force) {
        char *json = NULL;
        int r = vmctl_get_string(c, path, "Config", &json);
        if (r)
                return r;
        int fd = create_output(file, force, &r);
        if (fd >= 0 && ((r = write_full(fd, json, strlen(json))) < 0 || (r = write_full(fd, "\n", 1)) < 0 ||
                        (fsync(fd) < 0 && (r = -errno) < 0))) {
                fprintf(stderr, "vmctl export-saved: writing %s: %s\n", file, strerror(-r));
                (void)unlink(file);
                r = VMCTL_EXIT_FAILURE;
        }
        if (fd >= 0)
                close(fd);
        free(json);
        return r;
}

/* The VM's cloud-init seed, if it has one, into CONFIG.cidata.iso beside
 * the configuration (vmctl create CONFIG takes it from there): 0 with
 * *written, 0 without a seed (or from a vmms without ExportSavedSeed, whose
 * VMs' seeds could not be exported: the file is then missing). */
static int write_seed(struct vmctl *c, const char *path, const char *config, bool force, bool *written) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char file[PATH_MAX];
        int src = -1, out = -1, r;
        uint64_t bytes = 0;
        *written = false;
        if (snprintf(file, sizeof file, "%s%s", config, VMCTL_SEED_SUFFIX) >= (int)sizeof file)
                return fprintf(stderr, "vmctl export-saved: %s: name too long\n", config), VMCTL_EXIT_FAILURE;
        r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "ExportSavedSeed", &e, &reply, NULL);
        if (r < 0 && (sd_bus_error_has_name(&e, SD_BUS_ERROR_FILE_NOT_FOUND) ||
                      sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_METHOD))) {
                sd_bus_error_free(&e);
                return 0;
        }
        if (r < 0 || (r = sd_bus_message_read(reply, "h", &src)) < 0)
                r = vmctl_fail(&e, r, "export-saved");
        else if ((out = create_output(file, force, &r)) >= 0) {
                if ((r = copy_all(src, out, &bytes)) < 0 || (fsync(out) < 0 && (r = -errno) < 0)) {
                        fprintf(stderr, "vmctl export-saved: writing %s: %s\n", file, strerror(-r));
                        (void)unlink(file);
                        r = VMCTL_EXIT_FAILURE;
                }
                close(out);
        }
        *written = r == 0;
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
        return r;
}

static int run_export(struct vmctl *c, int argc, char **argv) {
        static const struct option opts[] = { { "force", no_argument, NULL, 'f' },
                                              { "config", required_argument, NULL, 'c' }, {} };
        bool force = false;
        const char *config = NULL;
        int o;
        while ((o = vmctl_getopt(c, argc, argv, opts)) != -1)
                if (o == 'f')
                        force = true;
                else if (o == 'c')
                        config = optarg;
                else
                        return VMCTL_EXIT_USAGE;
        if (vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        const char *ref = argv[optind], *file = argv[optind + 1];
        char *path = NULL;
        int r = vmctl_resolve(c, ref, &path);
        if (r)
                return r;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int src = -1, out = -1;
        uint64_t bytes = 0;
        r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "ExportSavedState", &e, &reply, NULL);
        if (r < 0 || (r = sd_bus_message_read(reply, "h", &src)) < 0) {
                r = vmctl_fail(&e, r, "export-saved");
                goto out;
        }
        if ((out = create_output(file, force, &r)) < 0)
                goto out;
        if ((r = copy_all(src, out, &bytes)) < 0 || (fsync(out) < 0 && (r = -errno) < 0)) {
                fprintf(stderr, "vmctl export-saved: writing %s: %s\n", file, strerror(-r));
                (void)unlink(file);
                r = VMCTL_EXIT_FAILURE;
                goto out;
        }
        bool seed = false;
        if (config && (r = write_config(c, path, config, force))) {
                (void)unlink(file);
                goto out;
        }
        if (config && (r = write_seed(c, path, config, force, &seed))) {
                (void)unlink(file), (void)unlink(config);
                goto out;
        }
        r = 0;
        if (c->json)
                printf("{\"vm\":\"%s\",\"file\":\"%s\",\"bytes\":%" PRIu64 "}\n", ref, file, bytes);
        else if (!c->quiet)
                printf("%s: saved state exported to %s (%.1f MiB)%s%s%s\n", ref, file, (double)bytes / 1048576.0,
                       seed ? "; its cloud-init seed to " : "", seed ? config : "", seed ? VMCTL_SEED_SUFFIX : "");
out:
        if (out >= 0)
                close(out);
        sd_bus_message_unref(reply); /* closes src */
        sd_bus_error_free(&e);
        free(path);
        return r;
}

static int run_import(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1 || vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        const char *ref = argv[optind], *file = argv[optind + 1];
        int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "vmctl import-saved: %s: %s\n", file, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return VMCTL_EXIT_FAILURE;
        }
        char *path = NULL;
        int r = vmctl_resolve(c, ref, &path);
        if (!r) {
                sd_bus_message *m = NULL;
                r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, path, VMMS_VM_IFACE, "ImportSavedState");
                if (r >= 0)
                        r = sd_bus_message_append(m, "h", fd);
                /* vmms copies and checks the whole file first: no timeout of the bus's. */
                sd_bus_error e = SD_BUS_ERROR_NULL;
                if (r >= 0)
                        r = sd_bus_call(c->bus, m, UINT64_MAX, &e, NULL);
                r = r < 0 ? vmctl_fail(&e, r, "import-saved") : 0;
                sd_bus_error_free(&e);
                sd_bus_message_unref(m);
        }
        close(fd);
        if (!r && c->json)
                printf("{\"vm\":\"%s\",\"bytes\":%lld}\n", ref, (long long)st.st_size);
        else if (!r && !c->quiet)
                printf("%s: saved state imported (%.1f MiB); `vmctl start %s` resumes it\n", ref,
                       (double)st.st_size / 1048576.0, ref);
        free(path);
        return r;
}

static void help_export(void) {
        printf("Usage: vmctl export-saved VM FILE [--config=CONFIG] [--force]\n"
               "Copies a Saved VM's saved state (its memory and devices) to FILE, created 0600 as\n"
               "you (--force replaces existing files); --config also writes its configuration,\n"
               "with its id, to CONFIG, and its cloud-init seed, if it has one, to\n"
               "CONFIG.cidata.iso. The VM stays Saved. Another host resumes it with\n"
               "`vmctl create CONFIG` (which takes CONFIG.cidata.iso as the VM's seed),\n"
               "`vmctl import-saved VM FILE` and `vmctl start VM`: a saved state fits only a VM\n"
               "with the same id and devices.\n");
}

static void help_import(void) {
        printf("Usage: vmctl import-saved VM FILE\n"
               "Makes an Off VM Saved from FILE (a saved state from export-saved, of a VM with the\n"
               "same configuration). vmms copies the file and checks all of it before it takes it;\n"
               "`vmctl start VM` then resumes the guest where it was saved.\n");
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
const struct vmctl_command vmctl_cmd_export_saved = { "export-saved", "VM FILE", "copy a Saved VM's state to a file",
                                                      run_export, help_export };
const struct vmctl_command vmctl_cmd_import_saved = { "import-saved", "VM FILE",
                                                      "make an Off VM Saved from a state file", run_import,
                                                      help_import };
