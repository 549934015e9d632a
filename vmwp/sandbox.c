// SPDX-License-Identifier: MIT
/* The worker sandbox: options, the two entry steps and their order (see
 * vmwp/sandbox.h and docs/sandbox.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "sandbox-internal.h"

/* fds the worker may open after the sandbox is entered: a console client,
 * the re-attach listener and its connection, fds arriving with control
 * messages (closed at once), and per VMBus channel an eventfd, a stop
 * eventfd and hvshim's duplicate; providers' own (io_uring, ...) come on
 * top. A guest that opens channels beyond this gets EMFILE: its open fails. */
#define NOFILE_HEADROOM 512u
/* The smallest RLIMIT_FSIZE: the serial log may grow to this. Writable
 * files larger than it (raw disk images) raise the limit to their size,
 * and a growing format (VHDX) to the largest its file can become
 * (sandbox_allow_file_size, from disk_info.max_file_size). */
#define FSIZE_MIN (1ull << 30)

int sandbox_new(const struct sandbox_options *o, struct sandbox **out, char *err, size_t errlen) {
        *out = NULL;
        if (o->disabled)
                return 0;
        struct sandbox *sb = calloc(1, sizeof *sb);
        if (!sb)
                return -ENOMEM;
        sb->privileged = geteuid() == 0;
        sb->status_fd = -1;
        int r = 0;
        if (o->user)
                r = sandbox_parse_user(o->user, &sb->uid, &sb->gid, err, errlen);
        else if (sb->privileged)
                sandbox_default_user(&sb->uid, &sb->gid);
        if (r >= 0 && sb->privileged && sb->uid == 0)
                r = -EINVAL, snprintf(err, errlen, "--sandbox-user: the worker must not stay root");
        if (r >= 0 && !sb->privileged && o->user && sb->uid != geteuid())
                r = -EPERM, snprintf(err, errlen, "--sandbox-user: only a worker started as root can switch users");
        if (r >= 0 && o->probe_path && !(sb->probe_path = strdup(o->probe_path)))
                r = -ENOMEM;
        if (r < 0) {
                sandbox_free(sb);
                return r;
        }
        *out = sb;
        return 0;
}

void sandbox_free(struct sandbox *sb) {
        if (!sb)
                return;
        sandbox_bpf_free(sb);
        safe_close(sb->status_fd);
        free(sb->probe_path);
        free(sb);
}

const char *sandbox_probe_path(const struct sandbox *sb) {
        return sb ? sb->probe_path : NULL;
}

void sandbox_probe(const char *probe_path, const char *where) {
        if (!probe_path)
                return;
        int fd = open(probe_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        int e = errno;
        fprintf(stderr, "vmwp: sandbox-probe: %s: open(%s): %s\n", where, probe_path, fd >= 0 ? "ok" : strerror(e));
        safe_close(fd);
}

/* ---- step one ---- */

static int thread_count(void) {
        _cleanup_close_ int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        char st[4096];
        ssize_t n = fd >= 0 ? read(fd, st, sizeof st - 1) : -1;
        if (n <= 0)
                return -EIO;
        st[n] = 0;
        const char *t = strstr(st, "\nThreads:");
        return t ? atoi(t + 9) : -EIO;
}

static int cmp_int(const void *a, const void *b) {
        return *(const int *)a - *(const int *)b;
}

/* Everything a parent left open (a shell, a test harness) goes; what the
 * worker needs from vmms is in keep. */
static int close_inherited(const int *keep, size_t n_keep) {
        int sorted[128];
        size_t n = 0;
        for (size_t i = 0; i < n_keep && n < ARRAY_SIZE(sorted); i++)
                if (keep[i] > 2)
                        sorted[n++] = keep[i];
        if (n_keep > ARRAY_SIZE(sorted))
                return -E2BIG;
        qsort(sorted, n, sizeof *sorted, cmp_int);
        unsigned from = 3;
        for (size_t i = 0; i <= n; i++) {
                unsigned to = i < n ? (unsigned)sorted[i] - 1 : ~0u;
                if (from <= to && close_range(from, to, 0) < 0)
                        return -errno;
                if (i < n)
                        from = (unsigned)sorted[i] + 1;
        }
        return 0;
}

int sandbox_prepare(struct sandbox *sb, const int *keep, size_t n_keep, bool host_network, char *err,
                    size_t errlen) {
        int threads = thread_count();
        if (threads != 1)
                return snprintf(err, errlen, "the worker must be single-threaded here (%d threads)", threads), -EBUSY;
        int r = close_inherited(keep, n_keep);
        if (r < 0)
                return snprintf(err, errlen, "closing inherited fds: %s", strerror(-r)), r;
        r = sandbox_unshare(sb, host_network, err, errlen);
        if (r < 0 && sb->privileged)
                return r;
        if (r < 0) {
                /* Not root and no user namespaces (a distribution may turn
                 * them off): the filter, no_new_privs and the limits still
                 * apply. */
                log_notice("sandbox: %s; running without namespaces (docs/sandbox.md)", err);
                err[0] = 0;
                return 0;
        }
        r = sandbox_drop_bounding_set();
        if (r < 0)
                return snprintf(err, errlen, "emptying the capability bounding set: %s (needs CAP_SETPCAP)",
                                strerror(-r)), r;
        sb->bounding_dropped = true;
        return 0;
}

/* ---- step two ---- */

struct fd_census {
        int max_fd;
        uint64_t max_writable_size;
        unsigned closed;
};

/* A directory fd would lead out of the empty root (openat(dirfd, ...)):
 * none may cross. Also notes what the limits must allow. */
static int fd_census(struct fd_census *c) {
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return -errno;
        int self = dirfd(d);
        *c = (struct fd_census){ .max_fd = 2 };
        for (struct dirent *e; (e = readdir(d));) {
                int fd = atoi(e->d_name);
                struct stat st;
                if (e->d_name[0] == '.' || fd == self || fstat(fd, &st) < 0)
                        continue;
                int fl = fcntl(fd, F_GETFL);
                if (S_ISDIR(st.st_mode) || (fl >= 0 && (fl & O_PATH))) {
                        close(fd);
                        c->closed++;
                        continue;
                }
                c->max_fd = MAX(c->max_fd, fd);
                if (S_ISREG(st.st_mode) && fl >= 0 && (fl & O_ACCMODE) != O_RDONLY)
                        c->max_writable_size = MAX(c->max_writable_size, (uint64_t)st.st_size);
        }
        closedir(d);
        return 0;
}

static int set_limit(int res, rlim_t v) {
        struct rlimit cur;
        if (getrlimit(res, &cur) < 0)
                return -errno;
        /* Only ever lower: a hard limit below ours stays. */
        if (cur.rlim_max != RLIM_INFINITY && cur.rlim_max < v)
                v = cur.rlim_max;
        struct rlimit l = { v, v };
        return setrlimit(res, &l) < 0 ? -errno : 0;
}

int sandbox_allow_file_size(struct sandbox *sb, uint64_t bytes) {
        if (sb->entered || sb->dropped)
                return -EBUSY; /* raising a hard limit needs CAP_SYS_RESOURCE, gone by now */
        sb->fsize_needed = MAX(sb->fsize_needed, bytes);
        return 0;
}

int sandbox_allow_fds(struct sandbox *sb, unsigned n) {
        if (sb->entered || sb->dropped)
                return -EBUSY;
        sb->extra_fds += n;
        return 0;
}

uint64_t sandbox_file_size_limit(const struct sandbox *sb) {
        return sb && sb->fsize_set ? sb->fsize_set : UINT64_MAX;
}

static int set_limits(struct sandbox *sb, const struct fd_census *c, char *err, size_t errlen) {
        /* Past RLIMIT_FSIZE a write fails with EFBIG instead of killing us:
         * the console counts it as dropped output. */
        signal(SIGXFSZ, SIG_IGN);
        int r = set_limit(RLIMIT_CORE, 0);
        if (r >= 0)
                r = set_limit(RLIMIT_NOFILE, (rlim_t)c->max_fd + 1 + NOFILE_HEADROOM + sb->extra_fds);
        uint64_t fsize = MAX(MAX(FSIZE_MIN, c->max_writable_size), sb->fsize_needed);
        if (r >= 0 && (r = set_limit(RLIMIT_FSIZE, fsize)) >= 0)
                sb->fsize_set = fsize;
        if (r < 0)
                snprintf(err, errlen, "setting resource limits: %s", strerror(-r));
        return r;
}

static void *noop_thread(void *arg) {
        return arg;
}

/* glibc installs its SIGCANCEL and SIGSETXID handlers at the first
 * pthread_create() (nptl's late_init): let that happen while
 * rt_sigaction is still allowed. */
static int glibc_thread_init(void) {
        pthread_t t;
        int r = pthread_create(&t, NULL, noop_thread, NULL);
        if (r != 0)
                return -r;
        pthread_join(t, NULL);
        return 0;
}

int sandbox_drop(struct sandbox *sb, char *err, size_t errlen) {
        if (sb->entered || sb->dropped)
                return -EALREADY;
        /* Read after everything is in place, from an fd opened while /proc
         * is still reachable. */
        sb->status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        if (sb->status_fd < 0)
                return snprintf(err, errlen, "/proc/self/status: %s", strerror(errno)), -errno;
        struct fd_census c = { 0 };
        int r = fd_census(&c);
        if (r < 0)
                return snprintf(err, errlen, "listing fds: %s", strerror(-r)), r;
        if (c.closed)
                log_warning("sandbox: closed %u directory fd(s) that would lead out of the empty root", c.closed);
        if (sb->mount_ns && (r = sandbox_pivot_to_empty_root(err, errlen)) < 0)
                return r;
        if ((r = set_limits(sb, &c, err, errlen)) < 0)
                return r;
        if ((r = glibc_thread_init()) < 0)
                return snprintf(err, errlen, "starting a thread: %s", strerror(-r)), r;
        if ((r = sandbox_install_sigsys_handler()) < 0)
                return snprintf(err, errlen, "SIGSYS handler: %s", strerror(-r)), r;
        if ((r = sandbox_drop_credentials(sb, err, errlen)) < 0)
                return r;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno)), -errno;
        sb->dropped = true;
        return 0;
}

int sandbox_enter(struct sandbox *sb, char *err, size_t errlen) {
        if (sb->entered)
                return -EALREADY;
        int r = sb->dropped ? 0 : sandbox_drop(sb, err, errlen);
        if (r < 0)
                return r;
        sb->entered = true;
        if ((r = sandbox_load_process_filter(sb)) < 0)
                return snprintf(err, errlen, "loading the seccomp filter: %s", strerror(-r)), r;
        r = sandbox_check_status(sb, sb->status_fd, err, errlen);
        sb->status_fd = safe_close(sb->status_fd);
        return r;
}
