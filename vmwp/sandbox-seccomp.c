// SPDX-License-Identifier: MIT
/* seccomp filters from named policies (libseccomp), the SIGSYS report, and
 * per-thread narrowing. Filters stack and only ever narrow: the process
 * filter (every policy together) is loaded on all threads at once; each
 * thread then adds its own policy on top. */
#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/proto.h"
#include "sandbox-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release);

static uint64_t resolve(const struct sandbox_arg_cmp *c) {
        switch (c->kind) {
        case SANDBOX_VALUE_SELF_PID:
                return (uint64_t)getpid();
        case SANDBOX_VALUE_SIGRTMIN:
                return (uint64_t)SIGRTMIN;
        default:
                return c->value;
        }
}

static int add_rule(scmp_filter_ctx ctx, const struct sandbox_rule *rule) {
        struct scmp_arg_cmp cmp[2];
        for (unsigned i = 0; i < rule->n_cmp && i < 2; i++) {
                const struct sandbox_arg_cmp *c = &rule->cmp[i];
                cmp[i] = c->op == SANDBOX_CMP_EQ
                                 ? (struct scmp_arg_cmp)SCMP_CMP(c->arg, SCMP_CMP_EQ, resolve(c))
                                 : (struct scmp_arg_cmp)SCMP_CMP(c->arg, SCMP_CMP_MASKED_EQ, c->mask, resolve(c));
        }
        uint32_t action = rule->errno_value ? SCMP_ACT_ERRNO((uint32_t)rule->errno_value) : SCMP_ACT_ALLOW;
        int r = seccomp_rule_add_array(ctx, action, rule->nr, MIN(rule->n_cmp, 2u), cmp);
        /* Policies overlap by design (the process filter is their union):
         * a rule another policy already added is not an error. */
        return r == -EEXIST ? 0 : r;
}

static int add_policy(scmp_filter_ctx ctx, const struct sandbox_policy *p) {
        for (size_t i = 0; i < p->n_rules; i++) {
                int r = add_rule(ctx, &p->rules[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Loads sanitizer + base + the given policies on the calling thread (or
 * on every thread with tsync). */
static int load(const struct sandbox_policy *const *policies, size_t n, bool tsync) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
        if (!ctx)
                return -ENOMEM;
        /* Another architecture's system call numbers would bypass the list. */
        int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r >= 0 && tsync)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        if (r >= 0)
                r = add_policy(ctx, &sandbox_sanitizer_policy);
        if (r >= 0)
                r = add_policy(ctx, sandbox_builtin_policy("base"));
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = add_policy(ctx, policies[i]);
        if (r >= 0)
                r = seccomp_load(ctx);
        return r < 0 ? r : 0;
}

int sandbox_load_process_filter(struct sandbox *sb) {
        const struct sandbox_policy *all[2 + SANDBOX_MAX_POLICIES] = { sandbox_builtin_policy("main"),
                                                                      sandbox_builtin_policy("vcpu") };
        memcpy(all + 2, sb->extra, sb->n_extra * sizeof *all);
        return load(all, 2 + sb->n_extra, true);
}

static const struct sandbox_policy *find_policy(const struct sandbox *sb, const char *name) {
        for (size_t i = 0; i < sb->n_extra; i++)
                if (strcmp(sb->extra[i]->name, name) == 0)
                        return sb->extra[i];
        return sandbox_builtin_policy(name);
}

int sandbox_register_policy(struct sandbox *sb, const struct sandbox_policy *p) {
        if (!p || !p->name || sb->entered)
                return -EINVAL;
        if (find_policy(sb, p->name))
                return -EEXIST;
        if (sb->n_extra == SANDBOX_MAX_POLICIES)
                return -ENOSPC;
        sb->extra[sb->n_extra++] = p;
        return 0;
}

int sandbox_thread_policy(struct sandbox *sb, const char *name) {
        const struct sandbox_policy *p = find_policy(sb, name);
        if (!p)
                return -ENOENT;
        if (strcmp(name, "vcpu") != 0)
                return load(&p, 1, false);
        /* Provider threads are started from VP threads (ops->open) and
         * inherit this filter, so it must hold their calls too. */
        const struct sandbox_policy *all[1 + SANDBOX_MAX_POLICIES] = { p };
        memcpy(all + 1, sb->extra, sb->n_extra * sizeof *all);
        return load(all, 1 + sb->n_extra, false);
}

int sandbox_thread_hook(void *sandbox, const char *name) {
        return sandbox ? sandbox_thread_policy(sandbox, name) : 0;
}

/* ---- running a function under a policy ---- */

struct run_as {
        struct sandbox *sb;
        const char *name;
        int (*fn)(void *);
        void *arg;
        int result;
};

static void *run_as_thread(void *p) {
        struct run_as *ra = p;
        char comm[16];
        snprintf(comm, sizeof comm, "sandbox-%s", ra->name);
        pthread_setname_np(pthread_self(), comm);
        ra->result = sandbox_thread_policy(ra->sb, ra->name);
        if (ra->result >= 0) {
                char where[64];
                snprintf(where, sizeof where, "%s policy (launcher thread)", ra->name);
                sandbox_probe(ra->sb->probe_path, where);
                ra->result = ra->fn(ra->arg);
        }
        return NULL;
}

int sandbox_run_as(struct sandbox *sb, const char *name, int (*fn)(void *arg), void *arg) {
        struct run_as ra = { .sb = sb, .name = name, .fn = fn, .arg = arg };
        pthread_t t;
        int r = -pthread_create(&t, NULL, run_as_thread, &ra);
        if (r < 0)
                return r;
        pthread_join(t, NULL);
        return ra.result;
}

/* ---- SIGSYS ---- */

/* Async-signal-safe: only write(2), prctl(2) and _exit(2), all of which
 * every policy allows. */
static size_t put_str(char *buf, size_t pos, size_t cap, const char *s) {
        while (*s && pos + 1 < cap)
                buf[pos++] = *s++;
        return pos;
}

static size_t put_num(char *buf, size_t pos, size_t cap, unsigned long v, unsigned base) {
        char tmp[24];
        size_t n = 0;
        do {
                tmp[n++] = "0123456789abcdef"[v % base];
                v /= base;
        } while (v && n < sizeof tmp);
        while (n && pos + 1 < cap)
                buf[pos++] = tmp[--n];
        return pos;
}

static void on_sigsys(int sig, siginfo_t *si, void *ucontext) {
        char line[256], comm[17] = "?";
        (void)prctl(PR_GET_NAME, comm);
        comm[16] = 0;
        size_t n = put_str(line, 0, sizeof line, "vmwp: sandbox: blocked system call ");
        n = put_num(line, n, sizeof line, (unsigned long)si->si_syscall, 10);
        n = put_str(line, n, sizeof line, " (arch 0x");
        n = put_num(line, n, sizeof line, si->si_arch, 16);
        n = put_str(line, n, sizeof line, ") in thread \"");
        n = put_str(line, n, sizeof line, comm);
        n = put_str(line, n, sizeof line, "\" at 0x");
        n = put_num(line, n, sizeof line, (unsigned long)si->si_call_addr, 16);
        n = put_str(line, n, sizeof line, "; the worker stops (docs/sandbox.md)\n");
        (void)!write(STDERR_FILENO, line, n);
        _exit(VMWP_EXIT_SANDBOX);
}

int sandbox_install_sigsys_handler(void) {
        struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
        sigemptyset(&sa.sa_mask);
        return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}
