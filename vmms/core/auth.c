// SPDX-License-Identifier: MIT
/* Who may change VMs: root, members of the configured group (--group,
 * default "vmstack"), and whoever polkit authorizes for the action
 * (packaging/polkit/org.vmstack.vmms.policy). Reading needs no
 * authorization. Without polkit on the bus (or with --no-polkit) the first
 * two rules alone decide. The caller's identity comes from the bus daemon
 * (sd_bus_query_sender_creds), never from the message. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "host/host.h"

struct vmms_pending_auth {
        struct vmms_pending_auth *next;
        struct vmms_daemon *d;
        sd_bus_message *m;
        sd_bus_slot *slot;
        vmms_authorized_fn fn; /* NULL: GetCallerAccess, which answers instead of acting */
        char action[64];
};


#define CREDS_MASK (SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_PID | SD_BUS_CREDS_AUGMENT)

int vmms_auth_caller_uid(sd_bus_message *m, uid_t *uid) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *c = NULL;
        int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &c);
        if (r < 0)
                return r;
        return sd_bus_creds_get_euid(c, uid);
}

int vmms_auth_caller_cred(sd_bus_message *m, struct vmms_cred *out) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *c = NULL;
        const gid_t *gids;
        uid_t uid;
        int r = sd_bus_query_sender_creds(m, CREDS_MASK, &c);
        if (r < 0 || (r = sd_bus_creds_get_euid(c, &uid)) < 0)
                return r;
        int n = sd_bus_creds_get_supplementary_gids(c, &gids);
        if (n < 0 || sd_bus_creds_get_egid(c, &out->gid) < 0)
                return vmms_cred_of_user(uid, out); /* the bus cannot tell: the user database */
        out->uid = uid;
        out->n_groups = MIN((size_t)n, (size_t)VMMS_CRED_GROUPS_MAX); /* fewer groups: fewer rights */
        if (out->n_groups > 0) /* no groups: the bus may hand back no array at all */
                memcpy(out->groups, gids, out->n_groups * sizeof *gids);
        return 0;
}

/* Group membership from the caller's credentials; when the bus cannot tell
 * the supplementary groups, from the group database. */
static bool in_group(struct vmms_daemon *d, sd_bus_creds *c, uid_t uid) {
        const gid_t *gids;
        gid_t egid;
        if (!d->have_group)
                return false;
        if (sd_bus_creds_get_egid(c, &egid) >= 0 && egid == d->group_gid)
                return true;
        int n = sd_bus_creds_get_supplementary_gids(c, &gids);
        if (n >= 0) {
                for (int i = 0; i < n; i++)
                        if (gids[i] == d->group_gid)
                                return true;
                return false;
        }
        struct passwd *pw = getpwuid(uid);
        struct group *gr = getgrgid(d->group_gid);
        if (!pw || !gr)
                return false;
        for (char **mem = gr->gr_mem; *mem; mem++)
                if (!strcmp(*mem, pw->pw_name))
                        return true;
        return pw->pw_gid == d->group_gid;
}

static int deny(struct vmms_daemon *d, sd_bus_error *e, uid_t uid, const char *action, const char *why) {
        return sd_bus_error_setf(e, VMMS_ERROR_PERMISSION_DENIED,
                                 "user %u may not do this: it is not root%s%s%s, and %s for %s; ask an "
                                 "administrator to add the user to the group or allow it in polkit",
                                 (unsigned)uid, d->have_group ? " or in group '" : "",
                                 d->have_group ? d->opt.group : "", d->have_group ? "'" : "", why, action);
}

static void pending_free(struct vmms_pending_auth *p) {
        struct vmms_daemon *d = p->d;
        for (struct vmms_pending_auth **pp = &d->pending; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        d->n_pending--;
                        break;
                }
        sd_bus_slot_unref(p->slot);
        sd_bus_message_unref(p->m);
        free(p);
}

/* GetCallerAccess's answer: "manage" and how the caller has it, or "read"
 * and deny()'s sentence (the message a managing call would be refused with). */
static int reply_access(struct vmms_daemon *d, sd_bus_message *m, uid_t uid, const char *action, bool ok,
                        const char *why) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        if (ok)
                return sd_bus_reply_method_return(m, "ss", "manage", why);
        (void)deny(d, &e, uid, action, why);
        int r = sd_bus_reply_method_return(m, "ss", "read", e.message);
        sd_bus_error_free(&e);
        return r;
}

static void finish(struct vmms_pending_auth *p, bool ok, const char *why) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uid_t uid = 0;
        int r;
        if (!p->fn) {
                (void)vmms_auth_caller_uid(p->m, &uid);
                r = reply_access(p->d, p->m, uid, p->action, ok, ok ? "polkit authorizes it" : why);
        } else if (ok)
                r = p->fn(p->d, p->m, &e);
        else {
                (void)vmms_auth_caller_uid(p->m, &uid);
                r = deny(p->d, &e, uid, p->action, why);
        }
        if (r < 0 && sd_bus_error_is_set(&e))
                (void)sd_bus_reply_method_error(p->m, &e);
        else if (r < 0)
                (void)sd_bus_reply_method_errno(p->m, r, NULL);
        sd_bus_error_free(&e);
        pending_free(p);
}

static int polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        struct vmms_pending_auth *p = userdata;
        const sd_bus_error *err = sd_bus_message_get_error(reply);
        int authorized = 0, challenge = 0;
        if (err) {
                bool absent = sd_bus_error_has_names(err, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
                log_debug("polkit: %s: %s", err->name, err->message);
                finish(p, false, absent ? "polkit is not available" : "the polkit check failed");
                return 0;
        }
        int r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0) {
                finish(p, false, "polkit sent an unexpected reply");
                return 0;
        }
        finish(p, authorized, challenge ? p->fn ? "polkit requires interactive authentication (use pkexec or sudo)"
                                                : "polkit would ask for a password first"
                                        : "polkit did not authorize it");
        return 0;
}

static unsigned pending_for_sender(struct vmms_daemon *d, const char *sender) {
        unsigned n = 0;
        for (struct vmms_pending_auth *p = d->pending; p; p = p->next) {
                const char *s = sd_bus_message_get_sender(p->m);
                n += s && !strcmp(s, sender);
        }
        return n;
}

static int ask_polkit(struct vmms_daemon *d, sd_bus_message *m, const char *action, vmms_authorized_fn fn,
                      sd_bus_error *e) {
        const char *sender = sd_bus_message_get_sender(m);
        if (!sender)
                return sd_bus_error_set(e, VMMS_ERROR_PERMISSION_DENIED, "no sender name to authorize");
        if (d->n_pending >= d->opt.max_pending || pending_for_sender(d, sender) >= d->opt.max_pending_per_sender)
                return sd_bus_error_set(e, VMMS_ERROR_LIMIT_EXCEEDED,
                                        "too many authorization checks in progress; try again shortly");
        struct vmms_pending_auth *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        *p = (struct vmms_pending_auth){ .d = d, .m = sd_bus_message_ref(m), .fn = fn };
        snprintf(p->action, sizeof p->action, "%s", action);
        /* A question (no fn) never makes polkit ask the user anything. */
        uint32_t flags = fn && sd_bus_message_get_allow_interactive_authorization(m) > 0 ? 1 : 0;
        int r = sd_bus_call_method_async(d->bus, &p->slot, "org.freedesktop.PolicyKit1",
                                         "/org/freedesktop/PolicyKit1/Authority",
                                         "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
                                         polkit_reply, p, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name",
                                         "s", sender, action, 0, flags, "");
        if (r < 0) {
                sd_bus_message_unref(p->m);
                free(p);
                return r;
        }
        p->next = d->pending;
        d->pending = p;
        d->n_pending++;
        return 1; /* the reply comes from finish() */
}

/* The one decision of both: fn runs (or, without fn, the answer is
 * "manage") for root and the group; polkit decides for the others. */
static int decide(struct vmms_daemon *d, sd_bus_message *m, const char *action, vmms_authorized_fn fn,
                  sd_bus_error *e) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *c = NULL;
        char how[128];
        uid_t uid;
        int r = sd_bus_query_sender_creds(m, CREDS_MASK, &c);
        if (r < 0 || (r = sd_bus_creds_get_euid(c, &uid)) < 0)
                return sd_bus_error_set_errnof(e, r, "cannot determine the caller's identity: %s", strerror(-r));
        if (uid == 0 || in_group(d, c, uid)) {
                if (fn)
                        return fn(d, m, e);
                snprintf(how, sizeof how, uid == 0 ? "user 0 is root" : "user %u is in group '%s'", (unsigned)uid,
                         d->opt.group);
                r = reply_access(d, m, uid, action, true, how);
                return r < 0 ? r : 1;
        }
        if (!d->opt.polkit) {
                if (fn)
                        return deny(d, e, uid, action, "polkit is disabled (--no-polkit)");
                r = reply_access(d, m, uid, action, false, "polkit is disabled (--no-polkit)");
                return r < 0 ? r : 1;
        }
        return ask_polkit(d, m, action, fn, e);
}

int vmms_auth_run(struct vmms_daemon *d, sd_bus_message *m, const char *action, vmms_authorized_fn fn,
                  sd_bus_error *e) {
        return decide(d, m, action, fn, e);
}

int vmms_auth_access(struct vmms_daemon *d, sd_bus_message *m, const char *action, sd_bus_error *e) {
        return decide(d, m, action, NULL, e);
}

void vmms_auth_free_all(struct vmms_daemon *d) {
        while (d->pending)
                pending_free(d->pending);
}
