// SPDX-License-Identifier: MIT
/* The worker sandbox's seccomp side without KVM (docs/sandbox.md): each
 * case runs in a child that enters the sandbox the way the worker does
 * (sandbox_enter(), then a thread policy) and then makes system calls.
 * The documented outcome of a call outside the policy: one "blocked system
 * call N" line on stderr and exit status VMWP_EXIT_SANDBOX (16). Runs as
 * root (the child drops to the sandbox user) and as a normal user. */
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "common/proto.h"
#include "common/test.h"
#include "vmwp/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

static const struct sandbox_rule provider_rules[] = { SANDBOX_ALLOW(__NR_uname) };
static const struct sandbox_policy provider_policy = { .name = "test-provider", .rules = provider_rules,
                                                       .n_rules = 1 };

/* How the child's filters are compiled: when loaded (as without
 * sandbox_precompile_start), ahead after the registration (the worker's
 * way), or ahead before it (stale: compiled again when loaded). */
enum compile { COMPILE_AT_LOAD, COMPILE_AHEAD, COMPILE_AHEAD_STALE };
static enum compile child_compile;

/* In the child: the worker's steps (no namespaces: those need
 * sandbox_prepare() and are covered by tests/component/test-sandbox.c). */
static void child_enter(const char *policy, bool with_provider) {
        struct sandbox_options o = { 0 };
        struct sandbox *sb = NULL;
        char err[256] = "";
        if (sandbox_new(&o, &sb, err, sizeof err) < 0 || !sb)
                _exit(100);
        if (child_compile == COMPILE_AHEAD_STALE && sandbox_precompile_start(sb) < 0)
                _exit(104);
        if (with_provider && sandbox_register_policy(sb, &provider_policy) < 0)
                _exit(101);
        if (child_compile == COMPILE_AHEAD && sandbox_precompile_start(sb) < 0)
                _exit(104);
        if (sandbox_enter(sb, err, sizeof err) < 0) {
                fprintf(stderr, "sandbox_enter: %s\n", err);
                _exit(102);
        }
        /* Ahead: the process filter, "main", "vcpu" and the provider's, kept
         * unless a policy came after the compile started. */
        bool kept = child_compile == COMPILE_AHEAD || (child_compile == COMPILE_AHEAD_STALE && !with_provider);
        if (sandbox_precompiled(sb) != (kept ? 3u + with_provider : 0u))
                _exit(105);
        if (policy && sandbox_thread_policy(sb, policy) < 0)
                _exit(103);
}

/* Runs fn in a sandboxed child; returns its exit status, stderr in err. */
static int run_child(const char *policy, bool with_provider, void (*fn)(void), char *err, size_t cap) {
        int p[2];
        ASSERT_OK(pipe2(p, O_CLOEXEC));
        fflush(NULL);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                dup2(p[1], STDERR_FILENO);
                child_enter(policy, with_provider);
                fn();
                _exit(0);
        }
        close(p[1]);
        size_t n = 0;
        ssize_t k;
        while (n < cap - 1 && (k = read(p[0], err + n, cap - 1 - n)) > 0)
                n += (size_t)k;
        err[n] = 0;
        close(p[0]);
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define EXPECT(cond) \
        do { if (!(cond)) { fprintf(stderr, "child: %s failed (errno %d)\n", #cond, errno); _exit(50); } } while (0)

static void call_uname(void) {
        struct utsname u;
        EXPECT(uname(&u) == 0);
}

/* RLIMIT_FSIZE: 1 GiB at least, and what a growing disk image asked for
 * (sandbox_allow_file_size, vmwp/vm-storage.c from disk_info's
 * max_file_size); no raise once entered. */
/* The child's "Max file size" as the parent reads it from /proc (the
 * sandboxed child may not ask: prlimit64 is not in the filter). */
static uint64_t fsize_of(pid_t pid) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
        FILE *f = fopen(path, "re");
        ASSERT_NOT_NULL(f);
        unsigned long long soft = 0, hard = 0;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "Max file size %llu %llu", &soft, &hard) == 2)
                        break;
        fclose(f);
        ASSERT_EQ(soft, hard);
        return soft;
}

/* Enters the sandbox in a child after sandbox_allow_file_size(allow) (0:
 * not called): the RLIMIT_FSIZE it got. */
static uint64_t fsize_child(uint64_t allow) {
        int ready[2], done[2];
        ASSERT_OK(pipe2(ready, O_CLOEXEC));
        ASSERT_OK(pipe2(done, O_CLOEXEC));
        fflush(NULL);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                struct sandbox_options o = { 0 };
                struct sandbox *sb = NULL;
                char err[256] = "", c = 0;
                close(ready[0]), close(done[1]);
                if (sandbox_new(&o, &sb, err, sizeof err) < 0 || !sb)
                        _exit(100);
                if (allow && sandbox_allow_file_size(sb, allow) < 0)
                        _exit(101);
                if (sandbox_enter(sb, err, sizeof err) < 0)
                        _exit(102);
                if (sandbox_allow_file_size(sb, 1) != -EBUSY)
                        _exit(103);
                EXPECT(write(ready[1], &c, 1) == 1);
                EXPECT(read(done[0], &c, 1) == 0); /* until the parent has looked */
                _exit(0);
        }
        close(ready[1]), close(done[0]);
        char c;
        ASSERT_EQ(read(ready[0], &c, 1), 1);
        uint64_t v = fsize_of(pid);
        close(done[1]), close(ready[0]);
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        return v;
}

TEST(fsize_allows_what_a_disk_image_may_grow_to) {
        struct rlimit l;
        ASSERT_OK(getrlimit(RLIMIT_FSIZE, &l));
        if (l.rlim_max != RLIM_INFINITY) { /* the limits would be clamped to it: nothing to compare */
                printf("fsize: part skipped, RLIMIT_FSIZE has a hard limit here\n");
                return;
        }
        ASSERT_EQ(fsize_child(0), 1ull << 30);
        ASSERT_EQ(fsize_child(5ull << 30), 5ull << 30);
        ASSERT_EQ(fsize_child(1ull << 20), 1ull << 30); /* never below 1 GiB (the serial log) */
}

TEST(blocked_call_reports_and_exits_16) {
        char err[1024];
        ASSERT_EQ(run_child("main", false, call_uname, err, sizeof err), VMWP_EXIT_SANDBOX);
        char want[80];
        snprintf(want, sizeof want, "vmwp: sandbox: blocked system call %d (arch 0x", __NR_uname);
        ASSERT_NOT_NULL(strstr(err, want));
        ASSERT_NOT_NULL(strstr(err, "in thread \""));
        /* The same call is fine before the sandbox: the test can fail. */
        call_uname();
}

static void open_host_file(void) {
        int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        /* Sanitizer builds allow openat (LeakSanitizer reads /proc at
         * exit); there the empty root is what keeps host files out. */
        if (!SANITIZER_BUILD)
                EXPECT(fd < 0 && errno == EACCES);
        EXPECT(syscall(__NR_openat2, AT_FDCWD, "/etc/passwd", NULL, 0) < 0 && errno == ENOSYS);
}

TEST(paths_fail_with_eacces_not_sigsys) {
        char err[1024];
        ASSERT_EQ(run_child("main", false, open_host_file, err, sizeof err), 0);
        ASSERT_EQ(run_child("vcpu", false, open_host_file, err, sizeof err), 0);
}

static void *thread_fn(void *arg) {
        return arg;
}

static void start_thread(void) {
        /* clone3 fails with ENOSYS; glibc falls back to clone(2). */
        EXPECT(syscall(__NR_clone3, NULL, 0) < 0 && errno == ENOSYS);
        pthread_t t;
        EXPECT(pthread_create(&t, NULL, thread_fn, NULL) == 0);
        EXPECT(pthread_join(t, NULL) == 0);
}

static void start_process(void) {
        pid_t pid = fork();
        if (pid == 0)
                _exit(0);
        _exit(60); /* not reached: fork is blocked */
}

TEST(vcpu_policy_starts_threads_not_processes) {
        char err[1024];
        ASSERT_EQ(run_child("vcpu", false, start_thread, err, sizeof err), 0);
        ASSERT_EQ(run_child("vcpu", false, start_process, err, sizeof err), VMWP_EXIT_SANDBOX);
        char want[64];
        snprintf(want, sizeof want, "blocked system call %d ", __NR_clone);
        ASSERT_NOT_NULL(strstr(err, want));
}


static void tty_ioctl(void) {
        struct termios t;
        /* Allowed request on a non-tty: the kernel answers ENOTTY. */
        EXPECT(ioctl(STDERR_FILENO, TCGETS, &t) < 0 && errno == ENOTTY);
}

TEST(ioctl_by_request_number) {
        char err[1024];
        ASSERT_EQ(run_child("main", false, tty_ioctl, err, sizeof err), 0);
        /* The vCPU threads have no business with terminals. */
        ASSERT_EQ(run_child("vcpu", false, tty_ioctl, err, sizeof err), VMWP_EXIT_SANDBOX);
        char want[64];
        snprintf(want, sizeof want, "blocked system call %d ", __NR_ioctl);
        ASSERT_NOT_NULL(strstr(err, want));
}

/* A throttled VP's own timer (vid/throttle.c): monotonic, signalling
 * its thread. */
static void thread_timer(void) {
        struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN };
        sev._sigev_un._tid = gettid();
        timer_t t;
        EXPECT(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
        struct itimerspec its = { .it_value = { .tv_sec = 100 } };
        EXPECT(timer_settime(t, 0, &its, NULL) == 0);
        EXPECT(timer_delete(t) == 0);
}

static void realtime_timer(void) {
        struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN };
        sev._sigev_un._tid = gettid();
        timer_t t;
        (void)timer_create(CLOCK_REALTIME, &sev, &t);
}

TEST(vcpu_threads_have_a_monotonic_timer_main_has_none) {
        char err[1024];
        ASSERT_EQ(run_child("vcpu", false, thread_timer, err, sizeof err), 0);
        ASSERT_EQ(run_child("vcpu", false, realtime_timer, err, sizeof err), VMWP_EXIT_SANDBOX);
        ASSERT_EQ(run_child("main", false, thread_timer, err, sizeof err), VMWP_EXIT_SANDBOX);
        char want[64];
        snprintf(want, sizeof want, "blocked system call %d ", __NR_timer_create);
        ASSERT_NOT_NULL(strstr(err, want));
}

static void signal_self(void) {
        EXPECT(syscall(__NR_tgkill, getpid(), gettid(), 0) == 0);
}

static void signal_parent(void) {
        (void)syscall(__NR_tgkill, getppid(), getppid(), 0);
}

TEST(signals_only_to_own_threads) {
        char err[1024];
        ASSERT_EQ(run_child("main", false, signal_self, err, sizeof err), 0);
        /* tgkill to another process is blocked, and so is kill(2). In
         * sanitizer builds the leak checker's tracer needs both. */
        if (!SANITIZER_BUILD)
                ASSERT_EQ(run_child("main", false, signal_parent, err, sizeof err), VMWP_EXIT_SANDBOX);
}

TEST(provider_policy_joins_vcpu_and_loads_by_name) {
        char err[1024];
        /* The same filters whether compiled when loaded or ahead (the
         * worker's way), and a policy registered after the compile
         * started makes it compile again (else uname would be missing
         * from the process filter). */
        for (child_compile = COMPILE_AT_LOAD; child_compile <= COMPILE_AHEAD_STALE; child_compile++) {
                ASSERT_EQ(run_child("test-provider", true, call_uname, err, sizeof err), 0);
                /* Provider threads start on VP threads, so "vcpu" holds their calls. */
                ASSERT_EQ(run_child("vcpu", true, call_uname, err, sizeof err), 0);
                /* Filters stack: "main" keeps uname out although the process
                 * filter (every policy together) has it. */
                ASSERT_EQ(run_child("main", true, call_uname, err, sizeof err), VMWP_EXIT_SANDBOX);
                /* Without the registration the process filter lacks uname too. */
                ASSERT_EQ(run_child(NULL, false, call_uname, err, sizeof err), VMWP_EXIT_SANDBOX);
                ASSERT_EQ(run_child("main", false, tty_ioctl, err, sizeof err), 0);
                ASSERT_EQ(run_child("vcpu", false, tty_ioctl, err, sizeof err), VMWP_EXIT_SANDBOX);
        }
        child_compile = COMPILE_AT_LOAD;
}

TEST(policy_registration_rules) {
        struct sandbox_options o = { 0 };
        struct sandbox *sb = NULL;
        char err[256];
        ASSERT_OK(sandbox_new(&o, &sb, err, sizeof err));
        ASSERT_NOT_NULL(sb);
        ASSERT_OK(sandbox_register_policy(sb, &provider_policy));
        ASSERT_ERROR(sandbox_register_policy(sb, &provider_policy), EEXIST);
        static const struct sandbox_policy clash = { .name = "main" };
        ASSERT_ERROR(sandbox_register_policy(sb, &clash), EEXIST);
        ASSERT_ERROR(sandbox_thread_policy(sb, "no-such-policy"), ENOENT);
        sandbox_free(sb);
        ASSERT_NOT_NULL(sandbox_builtin_policy("base"));
        ASSERT_NOT_NULL(sandbox_builtin_policy("main"));
        ASSERT_NOT_NULL(sandbox_builtin_policy("vcpu"));
        ASSERT_NULL(sandbox_builtin_policy("nope"));
        /* Disabled: no sandbox object at all. */
        o.disabled = true;
        ASSERT_OK(sandbox_new(&o, &sb, err, sizeof err));
        ASSERT_NULL(sb);
}

TEST(sandbox_user_parsing) {
        uid_t u;
        gid_t g;
        char err[256];
        ASSERT_OK(sandbox_parse_user("1234:5678", &u, &g, err, sizeof err));
        ASSERT_EQ(u, 1234u);
        ASSERT_EQ(g, 5678u);
        ASSERT_OK(sandbox_parse_user("root", &u, &g, err, sizeof err));
        ASSERT_EQ(u, 0u);
        ASSERT_EQ(g, 0u);
        ASSERT_OK(sandbox_parse_user("nobody", &u, &g, err, sizeof err));
        ASSERT_EQ(u, 65534u);
        ASSERT_OK(sandbox_parse_user("65534", &u, &g, err, sizeof err)); /* group from /etc/passwd */
        ASSERT_EQ(g, 65534u);
        ASSERT_ERROR(sandbox_parse_user("no-such-user-here", &u, &g, err, sizeof err), ENOENT);
        ASSERT_NOT_NULL(strstr(err, "no user"));
        ASSERT_ERROR(sandbox_parse_user("12:x", &u, &g, err, sizeof err), EINVAL);
        ASSERT_ERROR(sandbox_parse_user(":12", &u, &g, err, sizeof err), EINVAL);
        ASSERT_ERROR(sandbox_parse_user("1:-1", &u, &g, err, sizeof err), EINVAL);
        ASSERT_ERROR(sandbox_parse_user("4294967295", &u, &g, err, sizeof err), ENOENT);
}

TEST_MAIN();
