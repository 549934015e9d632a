// SPDX-License-Identifier: MIT
/* vmctl edit VM [--patch=FILE|-] [configuration flags]: changes a VM's
 * configuration with VM.Update. Without a patch or flags it opens $EDITOR
 * (or $VISUAL, else vi) on the JSON document. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fd-util.h"
#include "common/macro.h"
#include "vmctl/vmctl.h"
#include "vmctl/config-build.h"

static int run_editor(const char *file) {
        const char *ed = getenv("VISUAL");
        if (!ed || !*ed)
                ed = getenv("EDITOR");
        if (!ed || !*ed)
                ed = "vi";
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Through the shell, so that EDITOR="code -w" works. */
                execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", ed, file, (char *)NULL);
                _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) < 0)
                return -errno;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECANCELED;
}

/* The current configuration through $EDITOR; *out is NULL if unchanged.
 * The edited file stays (its path in tmp) until the update succeeded, so a
 * rejected edit is not lost. */
static int edit_interactively(const char *current, char **out, char tmp[static 32]) {
        strcpy(tmp, "/tmp/vmctl-edit-XXXXXX.json");
        int fd = mkstemps(tmp, 5);
        *out = NULL;
        if (fd < 0)
                return vmctl_fail(NULL, -errno, "temporary file");
        int r = write_full(fd, current, strlen(current));
        safe_close(fd);
        if (r >= 0)
                r = run_editor(tmp);
        if (r < 0) {
                unlink(tmp);
                fprintf(stderr, "vmctl edit: %s; nothing changed\n",
                        r == -ECANCELED ? "the editor failed" : strerror(-r));
                return VMCTL_EXIT_FAILURE;
        }
        r = vmctl_read_input(tmp, out);
        if (r == 0 && !strcmp(*out, current)) {
                free(*out);
                *out = NULL;
                unlink(tmp);
        }
        return r;
}

static int parse_doc(const char *text, const char *what, json_object **out) {
        enum json_tokener_error je;
        *out = json_tokener_parse_verbose(text, &je);
        if (!*out) {
                fprintf(stderr, "vmctl edit: %s is not valid JSON: %s\n", what, json_tokener_error_desc(je));
                return VMCTL_EXIT_INVALID;
        }
        return 0;
}

static int apply_patch(json_object **cfg, const char *file) {
        char *text = NULL;
        json_object *patch = NULL;
        int r = vmctl_read_input(file, &text);
        if (!r)
                r = parse_doc(text, "the patch", &patch);
        if (!r && vmctl_merge_patch(cfg, patch) < 0) {
                fprintf(stderr, "vmctl edit: the patch nests too deeply\n");
                r = VMCTL_EXIT_INVALID;
        }
        json_object_put(patch);
        free(text);
        return r;
}

static int run(struct vmctl *c, int argc, char **argv) {
        enum { OPT_PATCH = 1 };
        static const struct option opts[] = {
                VMCTL_CONFIG_OPTION_ENTRIES,
                { "remove-disk", required_argument, NULL, VMCTL_OPT_REMOVE_DISK },
                { "remove-nic", required_argument, NULL, VMCTL_OPT_REMOVE_NIC },
                { "patch", required_argument, NULL, OPT_PATCH },
                {},
        };
        char *path = NULL, *current = NULL, *edited = NULL, *json = NULL, tmp[32] = "";
        json_object *cfg = NULL;
        const char *patch = NULL;
        int o, n_flags = 0, r = 0;
        while ((o = vmctl_getopt(c, argc, argv, opts)) >= 0) {
                if (o == '?')
                        return VMCTL_EXIT_USAGE;
                if (o == OPT_PATCH)
                        patch = optarg;
                else
                        n_flags++;
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "vmctl edit: needs one VM name or id (see --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        const char *ref = argv[optind];
        if ((r = vmctl_resolve(c, ref, &path)) || (r = vmctl_get_string(c, path, "Config", &current)))
                goto out;
        if (!patch && !n_flags) {
                if ((r = edit_interactively(current, &edited, tmp)) || !edited) {
                        if (!r && !c->quiet)
                                printf("%s: no changes\n", ref);
                        goto out;
                }
                r = parse_doc(edited, "the edited configuration", &cfg);
        } else if (!(r = parse_doc(current, "the current configuration", &cfg)) && patch)
                r = apply_patch(&cfg, patch);
        optind = 0;
        while (!r && n_flags && (o = vmctl_getopt(c, argc, argv, opts)) >= 0)
                if (o != OPT_PATCH)
                        r = vmctl_apply_option(cfg, o, optarg, vmctl_config_is_firmware(cfg));
        if (!r && !(r = vmctl_check_config(cfg, &json)))
                r = vmctl_call_vm(c, path, "Update", "edit", "s", json);
        if (!r && !c->quiet)
                printf("%s: configuration updated\n", ref);
        if (edited && r)
                fprintf(stderr, "vmctl edit: your edit is kept in %s (vmctl edit %s --patch=%s after fixing it)\n", tmp,
                        ref, tmp);
        else if (edited)
                unlink(tmp);
out:
        json_object_put(cfg);
        free(path), free(current), free(edited), free(json);
        return r;
}

static void help(void) {
        printf("Usage: vmctl edit VM [--patch=FILE|-] [OPTIONS]\n"
               "Changes a VM's configuration. Without --patch or options, opens $VISUAL/$EDITOR\n"
               "on it. --patch applies an RFC 7386 JSON merge patch, e.g. '{\"memory_mib\": 1024}'.\n"
               "Options change single settings; --disk and --nic add devices:\n" VMCTL_CONFIG_OPTIONS_HELP
               "  --remove-disk=INDEX    remove disks[INDEX]\n"
               "  --remove-nic=INDEX     remove nics[INDEX]\n"
               "While the VM runs only name, restart_policy, stop_timeout_s, checkpoint_type and the\n"
               "processor settings (--cpu-limit, --cpu-weight: applied at once) may change.\n");
}

const struct vmctl_command vmctl_cmd_edit = { "edit", "VM [--patch=FILE] [--memory ...]", "change a configuration", run, help };
