// SPDX-License-Identifier: MIT
/* vmctl start|stop|kill|reboot|pause|resume|nmi|delete VM: one call each; start,
 * stop and kill wait for the state they lead to unless --no-wait. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmctl/vmctl.h"

struct lifecycle_opts {
        bool no_wait, force;
        uint64_t timeout_us; /* waiting; 0: no limit */
        uint32_t stop_timeout_s;
};

static int parse_opts(struct vmctl *ctl, int argc, char **argv, struct lifecycle_opts *o, const char **ref) {
        enum { OPT_NO_WAIT = 1, OPT_TIMEOUT, OPT_FORCE, OPT_STOP_TIMEOUT };
        static const struct option opts[] = {
                { "no-wait", no_argument, NULL, OPT_NO_WAIT },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "force", no_argument, NULL, OPT_FORCE },
                { "shutdown-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
                {},
        };
        uint64_t us;
        int c;
        *o = (struct lifecycle_opts){ 0 };
        while ((c = vmctl_getopt(ctl, argc, argv, opts)) >= 0)
                switch (c) {
                case OPT_NO_WAIT: o->no_wait = true; break;
                case OPT_FORCE: o->force = true; break;
                case OPT_TIMEOUT:
                        if (vmctl_parse_seconds(optarg, &o->timeout_us) < 0) {
                                fprintf(stderr, "vmctl %s: --timeout: '%s' is not a number of seconds (0 to "
                                                "31536000)\n", argv[0], optarg);
                                return VMCTL_EXIT_USAGE;
                        }
                        break;
                case OPT_STOP_TIMEOUT:
                        /* The range of Stop(u timeout_s): 0 there means the VM's own. */
                        if (vmctl_parse_seconds(optarg, &us) < 0 || us % 1000000 || us / 1000000 > 3600 ||
                            us < 1000000) {
                                fprintf(stderr, "vmctl %s: --shutdown-timeout: '%s' is not a whole number of seconds "
                                                "from 1 to 3600 (leave it out for the VM's stop_timeout_s)\n",
                                        argv[0], optarg);
                                return VMCTL_EXIT_USAGE;
                        }
                        o->stop_timeout_s = (uint32_t)(us / 1000000);
                        break;
                default:
                        return VMCTL_EXIT_USAGE;
                }
        if (vmctl_check_args(argc, argv, 1))
                return VMCTL_EXIT_USAGE;
        *ref = argv[optind];
        return 0;
}

static int lifecycle(struct vmctl *c, int argc, char **argv, const char *method, const char *want,
                     const char *fail) {
        struct lifecycle_opts o;
        const char *ref;
        char *path = NULL;
        int r = parse_opts(c, argc, argv, &o, &ref);
        if (r || (r = vmctl_resolve(c, ref, &path)))
                return r;
        if (o.force && !strcmp(method, "Delete")) {
                char *state = NULL;
                r = vmctl_get_string(c, path, "State", &state);
                if (!r && strcmp(state, "Off") && strcmp(state, "Crashed") &&
                    !(r = vmctl_call_vm(c, path, "Kill", "kill", NULL)))
                        r = vmctl_wait_state(c, path, "Off,Crashed", NULL, o.timeout_us);
                free(state);
                if (r) {
                        free(path);
                        return r;
                }
        }
        if (!strcmp(method, "Start") && !c->quiet && !c->json) {
                char *state = NULL;
                if (!vmctl_get_string(c, path, "State", &state) && !strcmp(state, "Saved"))
                        printf("%s: resuming from its saved state\n", ref);
                free(state);
        }
        if (!strcmp(method, "Stop"))
                r = vmctl_call_vm(c, path, method, argv[0], "u", o.stop_timeout_s);
        else
                r = vmctl_call_vm(c, path, method, argv[0], NULL);
        if (!r && want && !o.no_wait)
                r = vmctl_wait_state(c, path, want, fail, o.timeout_us);
        if (!r && !c->quiet && !c->json)
                printf("%s: %s done\n", ref, argv[0]);
        free(path);
        return r;
}

static int run_start(struct vmctl *c, int argc, char **argv) {
        /* A Saved VM resumes; a restore that fails leaves it Saved. */
        return lifecycle(c, argc, argv, "Start", "Running", "Off,Crashed,Saved");
}
static int run_stop(struct vmctl *c, int argc, char **argv) {
        return lifecycle(c, argc, argv, "Stop", "Off,Crashed", NULL);
}
static int run_kill(struct vmctl *c, int argc, char **argv) {
        return lifecycle(c, argc, argv, "Kill", "Off,Crashed", NULL);
}
static int run_reboot(struct vmctl *c, int argc, char **argv) {
        return lifecycle(c, argc, argv, "Reboot", NULL, NULL);
}
static int run_pause(struct vmctl *c, int argc, char **argv) {
        return lifecycle(c, argc, argv, "Pause", NULL, NULL);
}
static int run_resume(struct vmctl *c, int argc, char **argv) {
        return lifecycle(c, argc, argv, "Resume", NULL, NULL);
}
static int run_nmi(struct vmctl *c, int argc, char **argv) {
        return lifecycle(c, argc, argv, "InjectNmi", NULL, NULL);
}
static int run_delete(struct vmctl *c, int argc, char **argv) {
        return lifecycle(c, argc, argv, "Delete", NULL, NULL);
}

static void help_start(void) {
        printf("Usage: vmctl start VM [--no-wait] [--timeout=SEC]\n"
               "Starts the VM and waits until it is Running (fails if it ends up Off or Crashed,\n"
               "printing why). A Saved VM resumes from its saved state (it stays Saved if that\n"
               "fails).\n");
}
static void help_stop(void) {
        printf("Usage: vmctl stop VM [--shutdown-timeout=SEC] [--no-wait] [--timeout=SEC]\n"
               "Asks the guest to shut down (shutdown integration service, else the ACPI power\n"
               "button); after --shutdown-timeout (default: the VM's stop_timeout_s) the worker\n"
               "is stopped. Waits until the VM is Off.\n");
}
static void help_kill(void) {
        printf("Usage: vmctl kill VM [--no-wait]\nEnds the VM's worker at once (SIGKILL), like pulling the plug.\n");
}
static void help_reboot(void) {
        printf("Usage: vmctl reboot VM\nRestarts the guest: gracefully with the shutdown integration service,\n"
               "otherwise by resetting the VM (a new worker).\n");
}
static void help_pause(void) {
        printf("Usage: vmctl pause VM\nStops the VM's virtual processors; memory and devices stay.\n");
}
static void help_resume(void) {
        printf("Usage: vmctl resume VM\nContinues a paused VM.\n");
}
static void help_nmi(void) {
        printf("Usage: vmctl nmi VM\nSends a non-maskable interrupt to each of a running VM's virtual processors, like\n"
               "a machine's NMI button (Hyper-V's Debug-VM -InjectNonMaskableInterrupt): a guest\n"
               "set up for it dumps its state or panics; Linux by default logs it and goes on.\n");
}
static void help_delete(void) {
        printf("Usage: vmctl delete VM [--force]\nDeletes an Off, Crashed or Saved VM's configuration and saved state\n"
               "(disk images and logs stay). --force kills a running VM first.\n");
}

const struct vmctl_command vmctl_cmd_start = { "start", "VM", "start a VM", run_start, help_start };
const struct vmctl_command vmctl_cmd_stop = { "stop", "VM [--shutdown-timeout=SEC]", "shut a VM down", run_stop, help_stop };
const struct vmctl_command vmctl_cmd_kill = { "kill", "VM", "end a VM at once", run_kill, help_kill };
const struct vmctl_command vmctl_cmd_reboot = { "reboot", "VM", "restart a VM's guest", run_reboot, help_reboot };
const struct vmctl_command vmctl_cmd_pause = { "pause", "VM", "pause a VM", run_pause, help_pause };
const struct vmctl_command vmctl_cmd_resume = { "resume", "VM", "resume a paused VM", run_resume, help_resume };
const struct vmctl_command vmctl_cmd_nmi = { "nmi", "VM", "send a running VM an NMI", run_nmi, help_nmi };
const struct vmctl_command vmctl_cmd_delete = { "delete", "VM [--force]", "delete a VM", run_delete, help_delete };
