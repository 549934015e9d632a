// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"

int vmctl_connect(struct vmctl *c) {
        const char *addr = c->address ? c->address : getenv("VMCTL_BUS_ADDRESS");
        int r;
        if (addr && *addr) {
                if ((r = sd_bus_new(&c->bus)) < 0 || (r = sd_bus_set_address(c->bus, addr)) < 0 ||
                    (r = sd_bus_set_bus_client(c->bus, 1)) < 0 || (r = sd_bus_negotiate_fds(c->bus, 1)) < 0 ||
                    (r = sd_bus_start(c->bus)) < 0) {
                        fprintf(stderr, "vmctl: cannot connect to the bus at %s: %s\n", addr, strerror(-r));
                        return VMCTL_EXIT_UNREACHABLE;
                }
        } else if ((r = sd_bus_open_system(&c->bus)) < 0) {
                fprintf(stderr, "vmctl: cannot connect to the system bus: %s\n", strerror(-r));
                return VMCTL_EXIT_UNREACHABLE;
        }
        /* Let polkit ask for a password where an agent runs. */
        (void)sd_bus_set_allow_interactive_authorization(c->bus, 1);
        return 0;
}

static const struct {
        const char *name;
        int code;
        const char *hint;
} error_map[] = {
        { VMMS_ERROR_NO_SUCH_VM, VMCTL_EXIT_NO_SUCH_VM, "`vmctl list` shows the VMs" },
        { VMMS_ERROR_INVALID_CONFIG, VMCTL_EXIT_INVALID, "fix the named field and try again" },
        { VMMS_ERROR_INVALID_ARGUMENT, VMCTL_EXIT_INVALID, NULL },
        { VMMS_ERROR_INVALID_STATE, VMCTL_EXIT_STATE, "`vmctl show` shows the state" },
        { VMMS_ERROR_PERMISSION_DENIED, VMCTL_EXIT_DENIED, NULL },
        { VMMS_ERROR_LIMIT_EXCEEDED, VMCTL_EXIT_LIMIT, NULL },
        { VMMS_ERROR_EXISTS, VMCTL_EXIT_EXISTS, "choose another name" },
        { VMMS_ERROR_BUSY, VMCTL_EXIT_BUSY, NULL },
        { SD_BUS_ERROR_ACCESS_DENIED, VMCTL_EXIT_DENIED, "the D-Bus policy does not allow this call" },
        { SD_BUS_ERROR_SERVICE_UNKNOWN, VMCTL_EXIT_UNREACHABLE, "is vmms running? (systemctl status vmms)" },
        { SD_BUS_ERROR_NAME_HAS_NO_OWNER, VMCTL_EXIT_UNREACHABLE, "is vmms running? (systemctl status vmms)" },
        { SD_BUS_ERROR_NO_REPLY, VMCTL_EXIT_UNREACHABLE, "vmms did not answer in time" },
        { SD_BUS_ERROR_TIMEOUT, VMCTL_EXIT_UNREACHABLE, "vmms did not answer in time" },
        { SD_BUS_ERROR_UNKNOWN_OBJECT, VMCTL_EXIT_NO_SUCH_VM, "the VM was deleted" },
};

int vmctl_fail(const sd_bus_error *e, int r, const char *what) {
        if (e && sd_bus_error_is_set(e)) {
                for (size_t i = 0; i < ARRAY_SIZE(error_map); i++)
                        if (sd_bus_error_has_name(e, error_map[i].name)) {
                                fprintf(stderr, "vmctl: %s: %s%s%s%s\n", what, e->message ? e->message : e->name,
                                        error_map[i].hint ? " (" : "", error_map[i].hint ? error_map[i].hint : "",
                                        error_map[i].hint ? ")" : "");
                                return error_map[i].code;
                        }
                fprintf(stderr, "vmctl: %s: %s\n", what, e->message ? e->message : e->name);
                return VMCTL_EXIT_FAILURE;
        }
        fprintf(stderr, "vmctl: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return r == -ECONNREFUSED || r == -ENOENT ? VMCTL_EXIT_UNREACHABLE : VMCTL_EXIT_FAILURE;
}

int vmctl_resolve(struct vmctl *c, const char *ref, char **path) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *p;
        char what[128];
        snprintf(what, sizeof what, "VM '%.80s'", ref);
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "GetVM", &e, &reply,
                                   "s", ref);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &p);
        if (r >= 0 && !(*path = strdup(p)))
                r = -ENOMEM;
        sd_bus_message_unref(reply);
        if (r < 0) {
                r = vmctl_fail(&e, r, what);
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

int vmctl_get_string(struct vmctl *c, const char *path, const char *prop, char **out) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_get_property_string(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, prop, &e, out);
        if (r < 0) {
                r = vmctl_fail(&e, r, prop);
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

int vmctl_call_vm(struct vmctl *c, const char *path, const char *method, const char *what, const char *types, ...) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        va_list ap;
        int r = sd_bus_message_new_method_call(c->bus, &m, VMMS_BUS_NAME, path, VMMS_VM_IFACE, method);
        va_start(ap, types);
        if (r >= 0 && types)
                r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r >= 0)
                r = sd_bus_call(c->bus, m, 0, &e, &reply);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        if (r < 0) {
                r = vmctl_fail(&e, r, what);
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}

struct progress_call {
        bool done, changed;
        sd_bus_error e;
};

static int on_progress_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret) {
        struct progress_call *s = userdata;
        s->done = true;
        if (sd_bus_message_is_method_error(m, NULL))
                sd_bus_error_copy(&s->e, sd_bus_message_get_error(m));
        return 0;
}

static int on_progress_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret) {
        ((struct progress_call *)userdata)->changed = true;
        return 0;
}

static volatile sig_atomic_t interrupts;

static void on_interrupt(int sig) {
        (void)sig;
        interrupts++;
}

/* The first interrupt: cancel_method, its refusal shown. */
static void cancel(struct vmctl *c, const char *path, const char *what, const char *cancel_method, bool tty) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        fprintf(stderr, "%svmctl: %s: cancelling (Ctrl-C again: stop waiting; vmms goes on with it)\n",
                tty ? "\r\033[K" : "", what);
        if (sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_VM_IFACE, cancel_method, &e, NULL, "") < 0)
                fprintf(stderr, "vmctl: %s: cannot cancel: %s\n", what, e.message ? e.message : "failed");
        sd_bus_error_free(&e);
}

int vmctl_call_with_progress(struct vmctl *c, const char *path, sd_bus_message *m, uint64_t timeout_us,
                             const char *what, void (*progress)(struct vmctl *c, const char *path, bool tty, void *opaque),
                             void *opaque) {
        return vmctl_call_with_progress_cancel(c, path, m, timeout_us, what, NULL, progress, opaque);
}

int vmctl_call_with_progress_cancel(struct vmctl *c, const char *path, sd_bus_message *m, uint64_t timeout_us,
                                    const char *what, const char *cancel_method,
                                    void (*progress)(struct vmctl *c, const char *path, bool tty, void *opaque),
                                    void *opaque) {
        struct progress_call s = { .e = SD_BUS_ERROR_NULL };
        sd_bus_slot *match = NULL, *call = NULL;
        bool tty = isatty(STDOUT_FILENO), show = !c->quiet && !c->json;
        struct sigaction sa = { .sa_handler = on_interrupt }, old_int, old_term; /* no SA_RESTART: the wait returns */
        sigemptyset(&sa.sa_mask);
        int seen = 0, r = sd_bus_match_signal(c->bus, &match, VMMS_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                                              "PropertiesChanged", on_progress_changed, &s);
        if (r >= 0)
                r = sd_bus_call_async(c->bus, &call, m, on_progress_reply, &s, timeout_us);
        if (r >= 0 && cancel_method) {
                interrupts = 0;
                (void)sigaction(SIGINT, &sa, &old_int);
                (void)sigaction(SIGTERM, &sa, &old_term);
        }
        while (r >= 0 && !s.done) {
                if (interrupts > seen) {
                        if (seen++ > 0) {
                                fprintf(stderr, "%svmctl: %s: no longer waiting; vmms goes on with it\n",
                                        tty ? "\r\033[K" : "", what);
                                r = -EINTR;
                                break;
                        }
                        cancel(c, path, what, cancel_method, tty);
                }
                if (s.changed && show) {
                        s.changed = false;
                        progress(c, path, tty, opaque);
                }
                int k = sd_bus_process(c->bus, NULL);
                if (k == 0)
                        k = sd_bus_wait(c->bus, UINT64_MAX);
                if (k < 0 && k != -EINTR)
                        r = k;
        }
        if (cancel_method) {
                (void)sigaction(SIGINT, &old_int, NULL);
                (void)sigaction(SIGTERM, &old_term, NULL);
        }
        if (show && tty)
                printf("\r\033[K");
        sd_bus_slot_unref(call);
        sd_bus_slot_unref(match);
        if (r == -EINTR) {
                sd_bus_error_free(&s.e);
                return VMCTL_EXIT_FAILURE;
        }
        if (r < 0 || sd_bus_error_is_set(&s.e)) {
                r = vmctl_fail(&s.e, r < 0 ? r : -EIO, what);
                sd_bus_error_free(&s.e);
                return r;
        }
        return 0;
}

static bool in_list(const char *state, const char *list) {
        size_t n = strlen(state);
        for (const char *p = list; p && *p;) {
                const char *comma = strchr(p, ',');
                size_t l = comma ? (size_t)(comma - p) : strlen(p);
                if (l == n && !strncmp(p, state, n))
                        return true;
                p = comma ? comma + 1 : NULL;
        }
        return false;
}

struct wait_watch {
        bool changed;   /* a change that did not carry the State: read it */
        char state[32]; /* the State a PropertiesChanged carried, "" if none */
};

/* vmms emits State with its value in the signal of every transition
 * (vmms/core/vm.c vmms_vm_set_state), so each state the VM passes through is
 * seen, however short: a Crashed that a restart policy ends 100 ms later
 * is still Crashed to a waiter whose Get would come too late. */
static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct wait_watch *w = userdata;
        const char *iface, *name, *value;
        int r;
        w->changed = true;
        if (sd_bus_message_read(m, "s", &iface) < 0 || strcmp(iface, VMMS_VM_IFACE) ||
            sd_bus_message_enter_container(m, 'a', "{sv}") <= 0)
                return 0;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                if (sd_bus_message_read(m, "s", &name) < 0)
                        return 0;
                if (!strcmp(name, "State")) {
                        if (sd_bus_message_read(m, "v", "s", &value) < 0 || strlen(value) >= sizeof w->state)
                                return 0;
                        snprintf(w->state, sizeof w->state, "%s", value);
                        w->changed = false;
                        return 0;
                }
                if (sd_bus_message_skip(m, "v") < 0 || sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        return 0;
}

static int judge_state(struct vmctl *c, const char *path, const char *state, const char *want, const char *fail) {
        int r = in_list(state, want) ? VMCTL_EXIT_OK : in_list(state, fail) ? VMCTL_EXIT_FAILURE : -1;
        if (r == VMCTL_EXIT_FAILURE) {
                char *why = NULL;
                (void)vmctl_get_string(c, path, "ExitReason", &why);
                fprintf(stderr, "vmctl: the VM is %s: %s\n", state, why && *why ? why : "no reason recorded");
                free(why);
        }
        return r;
}

int vmctl_wait_state(struct vmctl *c, const char *path, const char *want, const char *fail, uint64_t timeout_us) {
        sd_bus_slot *slot = NULL;
        struct wait_watch w = { .changed = true };
        uint64_t deadline = timeout_us ? now_us(CLOCK_MONOTONIC) + timeout_us : 0;
        /* Subscribe before the first read, so that no change falls between. */
        int r = sd_bus_match_signal(c->bus, &slot, VMMS_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                                    "PropertiesChanged", on_changed, &w);
        if (r < 0)
                return vmctl_fail(NULL, r, "cannot watch the VM");
        for (r = -1; r < 0;) {
                if (w.state[0]) {
                        r = judge_state(c, path, w.state, want, fail);
                        w.state[0] = 0;
                        continue;
                }
                if (w.changed) {
                        char *state = NULL;
                        w.changed = false;
                        if ((r = vmctl_get_string(c, path, "State", &state)) != 0)
                                break;
                        r = judge_state(c, path, state, want, fail);
                        free(state);
                        continue;
                }
                uint64_t now = now_us(CLOCK_MONOTONIC);
                if (deadline && now >= deadline) {
                        fprintf(stderr, "vmctl: timed out waiting for state %s\n", want);
                        r = VMCTL_EXIT_TIMEOUT;
                        break;
                }
                int k = sd_bus_process(c->bus, NULL);
                if (k == 0)
                        k = sd_bus_wait(c->bus, deadline ? deadline - now : UINT64_MAX);
                if (k < 0) {
                        r = vmctl_fail(NULL, k, "lost the connection to vmms");
                        break;
                }
        }
        sd_bus_slot_unref(slot);
        return r;
}
