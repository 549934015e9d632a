// SPDX-License-Identifier: MIT
/* The sandbox user, dropping credentials and capabilities, and checking
 * the result where the kernel reports it (/proc/self/status). */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"
#include "sandbox-internal.h"

#define NOBODY_ID 65534u
#define WORKER_ACCOUNT "vmstack-worker"

static int parse_id(const char *s, unsigned long *out) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v >= 0xffffffffu || s[0] == '-')
                return -EINVAL;
        *out = v;
        return 0;
}

/* Accounts are read from /etc/passwd directly, never through NSS: the
 * worker is linked statically, where glibc's NSS would have to load shared
 * modules (and crashed doing so), and NSS modules (libnss_systemd and what
 * it links: ~300 KiB resident, about a millisecond) do not belong in every
 * worker anyway. The default account is a system user that sysusers.d puts
 * there (packaging/); numeric ids need no lookup. Finds name, or (name
 * NULL) uid; false if absent. */
static bool passwd_find(const char *name, uid_t uid, uid_t *uid_out, gid_t *gid_out) {
        FILE *f = fopen("/etc/passwd", "re");
        if (!f)
                return false;
        struct passwd *pw;
        bool found = false;
        while (!found && (pw = fgetpwent(f)))
                if (name ? strcmp(pw->pw_name, name) == 0 : pw->pw_uid == uid) {
                        *uid_out = pw->pw_uid;
                        *gid_out = pw->pw_gid;
                        found = true;
                }
        fclose(f);
        return found;
}

int sandbox_parse_user(const char *spec, uid_t *uid, gid_t *gid, char *err, size_t errlen) {
        char user[256];
        const char *colon = strchr(spec, ':');
        size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
        if (len == 0 || len >= sizeof user)
                return snprintf(err, errlen, "--sandbox-user: invalid user \"%s\"", spec), -EINVAL;
        memcpy(user, spec, len);
        user[len] = 0;
        unsigned long u, g;
        bool have_gid = false;
        if (colon) {
                if (parse_id(colon + 1, &g) < 0)
                        return snprintf(err, errlen, "--sandbox-user: invalid group id \"%s\"", colon + 1), -EINVAL;
                have_gid = true;
        }
        uid_t pu;
        gid_t pg;
        if (parse_id(user, &u) < 0) {
                if (!passwd_find(user, 0, &pu, &pg))
                        return snprintf(err, errlen, "--sandbox-user: no user \"%s\" in /etc/passwd", user), -ENOENT;
                u = pu;
                if (!have_gid)
                        g = pg;
        } else if (!have_gid) {
                g = passwd_find(NULL, (uid_t)u, &pu, &pg) ? pg : u;
        }
        *uid = (uid_t)u;
        *gid = (gid_t)g;
        return 0;
}

void sandbox_default_user(uid_t *uid, gid_t *gid) {
        if (!passwd_find(WORKER_ACCOUNT, 0, uid, gid)) {
                *uid = NOBODY_ID;
                *gid = NOBODY_ID;
        }
}

static int last_cap(void) {
        /* Probing PR_CAPBSET_READ finds the kernel's last capability
         * without reading /proc/sys. */
        int c = CAP_LAST_CAP;
        while (prctl(PR_CAPBSET_READ, (unsigned long)c + 1, 0, 0, 0) >= 0)
                c++;
        return c;
}

int sandbox_drop_bounding_set(void) {
        for (int c = 0, last = last_cap(); c <= last; c++)
                if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0 && errno != EINVAL)
                        return -errno;
        return 0;
}

static int capset_zero(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = { { 0 } };
        return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

static bool caps_all_zero(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &h, d) < 0)
                return false;
        for (int i = 0; i < 2; i++)
                if (d[i].effective || d[i].permitted || d[i].inheritable)
                        return false;
        return true;
}

int sandbox_drop_credentials(const struct sandbox *sb, char *err, size_t errlen) {
        if (sb->privileged) {
                if (setgroups(0, NULL) < 0 || setresgid(sb->gid, sb->gid, sb->gid) < 0 ||
                    setresuid(sb->uid, sb->uid, sb->uid) < 0)
                        return snprintf(err, errlen, "switching to uid %u gid %u: %s", (unsigned)sb->uid,
                                        (unsigned)sb->gid, strerror(errno)), -errno;
        }
        /* A root worker lost its capabilities with uid 0; a user namespace
         * gave an unprivileged one a full set, which goes here. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return snprintf(err, errlen, "clearing ambient capabilities: %s", strerror(errno)), -errno;
        int r = capset_zero();
        if (r < 0)
                return snprintf(err, errlen, "dropping capabilities: %s", strerror(-r)), r;
        /* Never dumpable: other workers may share the uid, and ptrace or
         * /proc/<pid>/mem must not reach this one's guest memory. The
         * sanitizer's leak checker ptraces its own threads at exit. */
        if (prctl(PR_SET_DUMPABLE, SANDBOX_SANITIZER ? 1 : 0, 0, 0, 0) < 0)
                return snprintf(err, errlen, "PR_SET_DUMPABLE: %s", strerror(errno)), -errno;
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
                return -errno;
        bool ids_ok = !sb->privileged || (ru == sb->uid && eu == sb->uid && su == sb->uid && rg == sb->gid &&
                                          eg == sb->gid && sg == sb->gid);
        /* The classic check: uid 0 must be out of reach now. */
        if (!ids_ok || !caps_all_zero() || (sb->privileged && setuid(0) == 0))
                return snprintf(err, errlen, "credentials were not dropped (uid %u, capabilities left)", (unsigned)eu),
                       -EPERM;
        return 0;
}

/* ---- /proc/self/status ---- */

static const char *field(const char *status, const char *name) {
        size_t n = strlen(name);
        for (const char *p = status; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, name, n) == 0 && p[n] == ':')
                        return p + n + 1 + strspn(p + n + 1, " \t");
        return NULL;
}

static bool field_is(const char *status, const char *name, const char *want) {
        const char *v = field(status, name);
        return v && strncmp(v, want, strlen(want)) == 0 && (v[strlen(want)] == '\n' || !v[strlen(want)]);
}

static bool ids_are(const char *status, const char *name, unsigned id) {
        char want[64];
        snprintf(want, sizeof want, "%u\t%u\t%u\t%u", id, id, id, id);
        return field_is(status, name, want);
}

int sandbox_check_status(const struct sandbox *sb, int status_fd, char *err, size_t errlen) {
        char st[4096];
        ssize_t n = pread(status_fd, st, sizeof st - 1, 0);
        if (n <= 0)
                return snprintf(err, errlen, "cannot read /proc/self/status"), -EIO;
        st[n] = 0;
        static const char zero[] = "0000000000000000";
        const char *bad = NULL;
        if (!field_is(st, "NoNewPrivs", "1"))
                bad = "NoNewPrivs";
        else if (!field_is(st, "Seccomp", "2"))
                bad = "Seccomp";
        else if (!field_is(st, "CapEff", zero) || !field_is(st, "CapPrm", zero) || !field_is(st, "CapInh", zero) ||
                 !field_is(st, "CapAmb", zero))
                bad = "capabilities";
        else if (sb->bounding_dropped && !field_is(st, "CapBnd", zero))
                bad = "CapBnd";
        else if (sb->privileged && (!ids_are(st, "Uid", sb->uid) || !ids_are(st, "Gid", sb->gid) ||
                                    !field_is(st, "Groups", "")))
                bad = "Uid/Gid/Groups";
        if (bad)
                return snprintf(err, errlen, "/proc/self/status shows %s not sandboxed", bad), -EPERM;
        return 0;
}
