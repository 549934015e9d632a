/* SPDX-License-Identifier: MIT */
/* The worker sandbox (docs/sandbox.md, docs/THREAT_MODEL.md).
 *
 * Once the VM is built the worker needs no path, no privilege and a short
 * list of system calls. The sandbox is entered in two steps:
 *
 *   sandbox_prepare()  in main(), while the process is still single-threaded
 *                      and before the VM is built: closes inherited fds,
 *                      empties the capability bounding set, unshares the
 *                      mount and IPC namespaces (and the network namespace
 *                      of a VM without NICs; a user namespace when not
 *                      root). Nothing is restricted yet: setup still opens
 *                      /dev/kvm, the kernel image, the console.
 *   sandbox_enter()    in vmwp_vm_start(), when every fd exists: pivots into
 *                      an empty read-only tmpfs, sets rlimits, drops to the
 *                      sandbox user with no capabilities, sets
 *                      no_new_privs, loads the worker's seccomp filter on
 *                      every thread, and checks the result in
 *                      /proc/self/status.
 *                      A live migration's destination runs all of it but
 *                      the filter and the check at the hello already
 *                      (sandbox_drop()), before it receives the guest.
 *
 * Threads then narrow their own filter with a named policy (seccomp filters
 * only ever narrow): the vCPU threads are created on a launcher thread that
 * loaded the "vcpu" policy (sandbox_run_as()), the main thread loads "main",
 * and provider threads load theirs (sandbox_thread_policy()).
 *
 * A system call outside the filter raises SIGSYS; the handler writes one
 * line naming the call and the thread and the worker exits with
 * VMWP_EXIT_SANDBOX. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sandbox;

/* ---- policies ----------------------------------------------------------- */

enum sandbox_cmp_op {
        SANDBOX_CMP_EQ,        /* arg == value */
        SANDBOX_CMP_MASKED_EQ, /* (arg & mask) == value */
};

/* Values only known at run time, resolved when a filter is built. */
enum sandbox_value {
        SANDBOX_VALUE_CONST,    /* .value as written */
        SANDBOX_VALUE_SELF_PID, /* getpid() */
        SANDBOX_VALUE_SIGRTMIN, /* SIGRTMIN (glibc reserves the first real-time signals) */
};

struct sandbox_arg_cmp {
        uint8_t arg; /* 0..5 */
        uint8_t op;  /* enum sandbox_cmp_op */
        uint8_t kind; /* enum sandbox_value */
        uint64_t mask;
        uint64_t value;
};

/* One system call, allowed (errno_value 0) or failing with errno_value,
 * when all of its (at most two) argument comparisons hold. Several rules
 * for one call are alternatives. */
struct sandbox_rule {
        int nr; /* __NR_* */
        int errno_value;
        uint8_t n_cmp;
        struct sandbox_arg_cmp cmp[2];
};

/* A named set of rules: what one kind of thread may do. */
struct sandbox_policy {
        const char *name;
        const struct sandbox_rule *rules;
        size_t n_rules;
};

#define SANDBOX_ALLOW(sys) { .nr = (sys) }
#define SANDBOX_ERRNO(sys, e) { .nr = (sys), .errno_value = (e) }
/* Allowed when argument a equals v (an int argument: upper half ignored). */
#define SANDBOX_ALLOW_ARG(sys, a, v)                                                                     \
        { .nr = (sys), .n_cmp = 1,                                                                       \
          .cmp = { { .arg = (a), .op = SANDBOX_CMP_MASKED_EQ, .mask = 0xffffffffu, .value = (v) } } }
/* Allowed when (argument a & m) == v. */
#define SANDBOX_ALLOW_MASKED(sys, a, m, v)                                                                \
        { .nr = (sys), .n_cmp = 1, .cmp = { { .arg = (a), .op = SANDBOX_CMP_MASKED_EQ, .mask = (m), .value = (v) } } }
/* ioctl(fd, request, ...) for one request number (the full 64-bit argument). */
#define SANDBOX_IOCTL(req) \
        { .nr = __NR_ioctl, .n_cmp = 1, .cmp = { { .arg = 1, .op = SANDBOX_CMP_EQ, .value = (req) } } }

/* The built-in policies, by name: "base" (every thread: memory, futexes,
 * exit, the SIGSYS path), "main" (the event loop: control socket, console,
 * signalfd, teardown) and "vcpu" (KVM_RUN and the exit path: device
 * callbacks, hvshim, starting threads). NULL if unknown. */
const struct sandbox_policy *sandbox_builtin_policy(const char *name);

/* ---- lifecycle ------------------------------------------------------------ */

struct sandbox_options {
        bool disabled;          /* --no-sandbox (development only; logged loudly) */
        const char *user;       /* --sandbox-user NAME|UID[:GID]; NULL: the default */
        const char *probe_path; /* --sandbox-probe PATH (testing aid), or NULL */
};

/* Parses "NAME", "UID" or "UID:GID"; a name is looked up in the user
 * database now (before the sandbox hides it). A missing GID is the user's
 * primary group, or the UID. -EINVAL/-ENOENT with a sentence in err. */
int sandbox_parse_user(const char *spec, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/* Resolves the options (the default user of a root worker is
 * "vmstack-worker" if that account exists, else nobody/nogroup 65534).
 * *out is NULL when the sandbox is disabled. */
int sandbox_new(const struct sandbox_options *o, struct sandbox **out, char *err, size_t errlen);
void sandbox_free(struct sandbox *sb);
static inline void sandbox_freep(struct sandbox **sb) {
        sandbox_free(*sb);
}

/* Step one (see above). keep: fds to keep open besides 0-2 (the control
 * socket, the disk and TAP fds from vmms). host_network: the VM has NICs,
 * so the worker stays in the host's network namespace (docs/sandbox.md:
 * the TAP link watch re-opens rtnetlink sockets). */
int sandbox_prepare(struct sandbox *sb, const int *keep, size_t n_keep, bool host_network, char *err,
                    size_t errlen);

/* Adds a provider's policy: it joins the worker filter and the "vcpu"
 * policy (providers start their threads from VP threads, in ops->open),
 * and can then be loaded by name with sandbox_thread_policy(). Before
 * sandbox_enter() only. At most SANDBOX_MAX_POLICIES in all. */
#define SANDBOX_MAX_POLICIES 16u
int sandbox_register_policy(struct sandbox *sb, const struct sandbox_policy *p);

/* Optional, after the last sandbox_register_policy(): compiles every
 * filter that sandbox_enter() and the threads will load (libseccomp's
 * compile is most of a load: ~0.3 ms each on the PVM host) on a helper
 * thread, while the caller goes on building the VM. sandbox_enter() waits
 * for it; loading a compiled filter is then one seccomp(2). The same
 * filters as without it: a policy registered later makes sandbox_enter()
 * drop the compiled ones and compile at load time, as it does when this
 * was not called or failed. */
int sandbox_precompile_start(struct sandbox *sb);
/* How many compiled-ahead filters sandbox_enter() kept (tests). */
size_t sandbox_precompiled(const struct sandbox *sb);

/* A writable file the VM uses may grow to `bytes` (a VHDX disk's
 * disk_info.max_file_size): RLIMIT_FSIZE, set at sandbox_enter(), will be
 * at least that. Before sandbox_enter() only (-EBUSY after). */
int sandbox_allow_file_size(struct sandbox *sb, uint64_t bytes);
/* The RLIMIT_FSIZE it entered with: a file may grow to this (UINT64_MAX:
 * no sandbox, or not entered). */
uint64_t sandbox_file_size_limit(const struct sandbox *sb);

/* A provider will hold n more fds after start than NOFILE_HEADROOM allows
 * for (hv_sock: a host socket and a channel's three per connection).
 * Before sandbox_enter() only (-EBUSY after). */
int sandbox_allow_fds(struct sandbox *sb, unsigned n);

/* Step two (see above), on the main thread. */
int sandbox_enter(struct sandbox *sb, char *err, size_t errlen);
/* Step two without the seccomp filters, ahead of it: the pivot, the
 * rlimits, the credentials and no_new_privs, while the main thread still
 * does what no policy allows (a live migration's destination receives and
 * restores the guest after this, so only the filter is left for the
 * downtime). sandbox_enter() then loads the filter and checks the whole.
 * The fd and file-size allowances are fixed from here on (-EBUSY). */
int sandbox_drop(struct sandbox *sb, char *err, size_t errlen);

/* Narrows the calling thread to the named policy. */
int sandbox_thread_policy(struct sandbox *sb, const char *name);
/* The same with the plain signature a lower layer (the VMBus server, a
 * provider) can take as a callback without including this header:
 * int (*)(void *opaque, const char *policy). */
int sandbox_thread_hook(void *sandbox, const char *name);

/* Runs fn(arg) on a new thread that first loads the named policy, and
 * waits for it: threads fn creates inherit that filter (how the vCPU
 * threads get "vcpu" without vid knowing about the sandbox). Returns fn's
 * result, or -errno if the thread or the policy failed. */
int sandbox_run_as(struct sandbox *sb, const char *name, int (*fn)(void *arg), void *arg);

/* --sandbox-probe: tries open(probe_path) and reports the result on stderr
 * as "vmwp: sandbox-probe: <where>: open(<path>): <ok|error>". No-op
 * without a probe path; sb may be NULL (the unsandboxed worker). */
void sandbox_probe(const char *probe_path, const char *where);
const char *sandbox_probe_path(const struct sandbox *sb);
