// SPDX-License-Identifier: MIT
/* seccomp filters from named policies (libseccomp), the SIGSYS report, and
 * per-thread narrowing. Filters stack and only ever narrow: the process
 * filter (every policy together) is loaded on all threads at once; each
 * thread then adds its own policy on top. */
#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

/* sanitizer + base + the given policies, in a new libseccomp context. */
static int build(scmp_filter_ctx *out, const struct sandbox_policy *const *policies, size_t n) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
        if (!ctx)
                return -ENOMEM;
        /* Another architecture's system call numbers would bypass the list. */
        int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r >= 0)
                r = add_policy(ctx, &sandbox_sanitizer_policy);
        if (r >= 0)
                r = add_policy(ctx, sandbox_builtin_policy("base"));
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = add_policy(ctx, policies[i]);
        if (r < 0) {
                seccomp_release(ctx);
                return r;
        }
        *out = ctx;
        return 0;
}

/* Compiles and loads on the calling thread (or on every thread with tsync). */
static int load(const struct sandbox_policy *const *policies, size_t n, bool tsync) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r = build(&ctx, policies, n);
        if (r >= 0 && tsync)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        if (r >= 0)
                r = seccomp_load(ctx);
        return r < 0 ? r : 0;
}

/* A compiled filter, as seccomp_load() would load it: no_new_privs first
 * (libseccomp's default), then the program. */
static int load_bpf(const struct sandbox_bpf *b, bool tsync) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        struct sock_fprog prog = { .len = b->len, .filter = b->insns };
        long r = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0, &prog);
        return r == 0 ? 0 : r < 0 ? -errno : -EBUSY; /* > 0: a thread TSYNC could not move */
}

/* The process filter's policies: every one together. */
static size_t process_set(const struct sandbox_policy *const *extra, size_t n_extra,
                          const struct sandbox_policy **all) {
        all[0] = sandbox_builtin_policy("main");
        all[1] = sandbox_builtin_policy("vcpu");
        memcpy(all + 2, extra, n_extra * sizeof *all);
        return 2 + n_extra;
}

/* A thread policy's: its own; "vcpu" holds the providers' too, since
 * provider threads are started from VP threads (ops->open) and inherit it. */
static size_t thread_set(const struct sandbox_policy *p, const struct sandbox_policy *const *extra, size_t n_extra,
                         const struct sandbox_policy **all) {
        all[0] = p;
        if (strcmp(p->name, "vcpu") != 0)
                return 1;
        memcpy(all + 1, extra, n_extra * sizeof *all);
        return 1 + n_extra;
}

static const struct sandbox_bpf *find_bpf(const struct sandbox *sb, const char *name) {
        for (size_t i = 0; i < sb->n_bpf; i++)
                if (strcmp(sb->bpf[i].name, name) == 0)
                        return &sb->bpf[i];
        return NULL;
}

int sandbox_load_process_filter(struct sandbox *sb) {
        sandbox_precompile_wait(sb);
        const struct sandbox_bpf *b = find_bpf(sb, "");
        if (b)
                return load_bpf(b, true);
        const struct sandbox_policy *all[2 + SANDBOX_MAX_POLICIES];
        return load(all, process_set(sb->extra, sb->n_extra, all), true);
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
        if (sb->compiling) /* the helper works from a copy without it */
                sb->precompile_stale = true;
        return 0;
}

int sandbox_thread_policy(struct sandbox *sb, const char *name) {
        const struct sandbox_policy *p = find_policy(sb, name);
        if (!p)
                return -ENOENT;
        /* bpf[] is read-only once sandbox_enter() joined the helper, and
         * filled only then: any thread may look. */
        const struct sandbox_bpf *b = find_bpf(sb, p->name);
        if (b)
                return load_bpf(b, false);
        const struct sandbox_policy *all[1 + SANDBOX_MAX_POLICIES];
        return load(all, thread_set(p, sb->extra, sb->n_extra, all), false);
}

/* ---- compiling ahead ---- */

struct precompile {
        const struct sandbox_policy *extra[SANDBOX_MAX_POLICIES];
        size_t n_extra;
        struct sandbox_bpf bpf[SANDBOX_MAX_BPF];
        size_t n_bpf;
        int result;
};

/* libseccomp 2.5 exports a program only to an fd: a memfd, read back. */
static int compile(const struct sandbox_policy *const *policies, size_t n, const char *name,
                   struct sandbox_bpf *out) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r = build(&ctx, policies, n);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = memfd_create("vmwp-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        if ((r = seccomp_export_bpf(ctx, fd)) < 0)
                return r;
        off_t size = lseek(fd, 0, SEEK_END);
        if (size <= 0 || size % (off_t)sizeof *out->insns || size / (off_t)sizeof *out->insns > BPF_MAXINSNS)
                return -E2BIG;
        struct sock_filter *insns = malloc((size_t)size);
        if (!insns)
                return -ENOMEM;
        if (pread(fd, insns, (size_t)size, 0) != size) {
                free(insns);
                return -EIO;
        }
        *out = (struct sandbox_bpf){ .name = name, .insns = insns, .len = (unsigned short)(size / (off_t)sizeof *insns) };
        return 0;
}

static void *precompile_thread(void *arg) {
        struct precompile *pc = arg;
        pthread_setname_np(pthread_self(), "sandbox-compile");
        const struct sandbox_policy *all[2 + SANDBOX_MAX_POLICIES];
        size_t n = process_set(pc->extra, pc->n_extra, all);
        pc->result = compile(all, n, "", &pc->bpf[pc->n_bpf]);
        pc->n_bpf += pc->result == 0;
        const struct sandbox_policy *threads[2 + SANDBOX_MAX_POLICIES] = { sandbox_builtin_policy("main"),
                                                                          sandbox_builtin_policy("vcpu") };
        memcpy(threads + 2, pc->extra, pc->n_extra * sizeof *threads);
        for (size_t i = 0; pc->result == 0 && i < 2 + pc->n_extra; i++) {
                n = thread_set(threads[i], pc->extra, pc->n_extra, all);
                pc->result = compile(all, n, threads[i]->name, &pc->bpf[pc->n_bpf]);
                pc->n_bpf += pc->result == 0;
        }
        return pc;
}

int sandbox_precompile_start(struct sandbox *sb) {
        if (sb->compiling || sb->entered || sb->n_bpf)
                return -EALREADY;
        struct precompile *pc = calloc(1, sizeof *pc);
        if (!pc)
                return -ENOMEM;
        memcpy(pc->extra, sb->extra, sb->n_extra * sizeof *pc->extra);
        pc->n_extra = sb->n_extra;
        int r = -pthread_create(&sb->compiler, NULL, precompile_thread, pc);
        if (r < 0) {
                free(pc);
                return r;
        }
        sb->compiling = true;
        sb->precompile_stale = false;
        return 0;
}

void sandbox_precompile_wait(struct sandbox *sb) {
        if (!sb->compiling)
                return;
        void *res = NULL;
        pthread_join(sb->compiler, &res);
        sb->compiling = false;
        struct precompile *pc = res;
        bool keep = pc->result == 0 && !sb->precompile_stale;
        for (size_t i = 0; i < pc->n_bpf; i++) {
                if (keep)
                        sb->bpf[sb->n_bpf++] = pc->bpf[i];
                else
                        free(pc->bpf[i].insns);
        }
        free(pc);
}

size_t sandbox_precompiled(const struct sandbox *sb) {
        return sb->n_bpf;
}

void sandbox_bpf_free(struct sandbox *sb) {
        sandbox_precompile_wait(sb);
        for (size_t i = 0; i < sb->n_bpf; i++)
                free(sb->bpf[i].insns);
        sb->n_bpf = 0;
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
