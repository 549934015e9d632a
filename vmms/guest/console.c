// SPDX-License-Identifier: MIT
/* OpenConsole(false): the worker's serial console, one interactive client
 * at a time. vmms asks the worker whether its slot is free
 * ({"op":"console-status"}, which first accepts the connections already
 * queued and drops a client that hung up, so a holder that just left never
 * makes the next caller busy), connects only when it is, and remembers who
 * it handed the console to: a second caller is told at once who holds it
 * and since when (org.vmstack.Error.Busy) instead of waiting silently in
 * the socket's backlog. One claim per VM is in flight at a time; a caller
 * that comes while the worker's answer is outstanding is busy as well (the
 * first one gets the console). */
#include <errno.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "worker/worker.h"
#include "guest/guest.h"

void vmms_console_busy_message(const char *vm_name, const struct vmms_console_holder *h, const char *user,
                               char *buf, size_t len) {
        char since[64] = "";
        struct tm tm;
        time_t t = (time_t)(h->since_us / 1000000);
        if (h->since_us && localtime_r(&t, &tm))
                strftime(since, sizeof since, ", since %Y-%m-%d %H:%M:%S %Z", &tm);
        if (!h->pid) {
                snprintf(buf, len,
                         "VM '%s': the console is in use by a client vmms did not hand it to (connected directly "
                         "to the console socket, or before vmms restarted)%s",
                         vm_name, since);
                return;
        }
        snprintf(buf, len, "VM '%s': the console is in use by uid %u (%s), pid %d (%s)%s", vm_name,
                 (unsigned)h->uid, user && user[0] ? user : "no such user", (int)h->pid,
                 h->comm[0] ? h->comm : "?", since);
}

/* The caller as the bus daemon reports it; pid 0 when it cannot tell. */
static void holder_of_caller(sd_bus_message *m, struct vmms_console_holder *h) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *c = NULL;
        const char *comm = NULL;
        *h = (struct vmms_console_holder){ .since_us = now_us(CLOCK_REALTIME) };
        if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID | SD_BUS_CREDS_COMM |
                                                 SD_BUS_CREDS_AUGMENT, &c) < 0)
                return;
        (void)sd_bus_creds_get_euid(c, &h->uid);
        (void)sd_bus_creds_get_pid(c, &h->pid);
        if (sd_bus_creds_get_comm(c, &comm) >= 0 && comm)
                snprintf(h->comm, sizeof h->comm, "%s", comm);
}

static int reply_busy(struct vmms_vm *vm, sd_bus_message *call, const struct vmms_console_holder *h) {
        char user[64] = "", msg[512];
        struct passwd pw, *res = NULL;
        char pwbuf[1024];
        if (h->pid && getpwuid_r(h->uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
                snprintf(user, sizeof user, "%s", res->pw_name);
        vmms_console_busy_message(vm->config->name, h, user, msg, sizeof msg);
        return sd_bus_reply_method_errorf(call, VMMS_ERROR_BUSY, "%s", msg);
}

static int reply_connected(struct vmms_vm *vm, sd_bus_message *call, const struct vmms_console_holder *h) {
        struct vmms_worker *w = vm->worker;
        char why[PATH_MAX + 128] = "";
        _cleanup_close_ int fd = vmms_worker_open_console(w, false, why, sizeof why);
        if (fd < 0)
                return sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED,
                                                  "the console of VM '%s' is not available: %s", vm->config->name,
                                                  why[0] ? why : strerror(-fd));
        w->console_holder = *h;
        w->console_holder.since_us = now_us(CLOCK_REALTIME);
        return sd_bus_reply_method_return(call, "h", fd);
}

static int64_t reply_int(json_object *reply, const char *key) {
        json_object *v;
        return reply && json_object_object_get_ex(reply, key, &v) ? json_object_get_int64(v) : 0;
}

/* The worker's answer to console-status. A worker is sandboxed but runs
 * guest-facing code: its answer is only ever read, never trusted to be
 * well-formed. */
static void console_status_reply(struct vmms_vm *vm, sd_bus_message *call, json_object *reply, int error) {
        struct vmms_worker *w = vm->worker;
        struct vmms_console_holder claim = w->console_claim;
        json_object *v;
        w->console_claiming = false;
        if (error == -EOPNOTSUPP) { /* a worker from before console-status */
                (void)reply_connected(vm, call, &claim);
                return;
        }
        if (error < 0) {
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED,
                                                 "the console of VM '%s' is not available: %s", vm->config->name,
                                                 strerror(-error));
                return;
        }
        uint64_t clients = (uint64_t)reply_int(reply, "clients");
        if (!json_object_object_get_ex(reply, "connected", &v) || !json_object_get_boolean(v)) {
                claim.seq = clients + 1; /* the next connection the worker accepts */
                (void)reply_connected(vm, call, &claim);
                return;
        }
        struct vmms_console_holder h = { .since_us = (uint64_t)reply_int(reply, "since_us") };
        if (w->console_holder.pid && w->console_holder.seq == clients)
                h = w->console_holder;
        (void)reply_busy(vm, call, &h);
}

int vmms_console_open_interactive(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_worker *w = vm->worker;
        if (!w)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "the console of VM '%s' is not available: no worker",
                                         vm->config->name);
        if (w->console_claiming)
                return reply_busy(vm, m, &w->console_claim);
        holder_of_caller(m, &w->console_claim);
        int r = vmms_worker_request(w, "console-status", NULL, console_status_reply, m);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot reach the worker of VM '%s': %s",
                                         vm->config->name, strerror(-r));
        w->console_claiming = true;
        return 1; /* console_status_reply answers */
}
