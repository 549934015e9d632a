// SPDX-License-Identifier: MIT
/* Namespaces and the empty root. The namespaces are made early, while the
 * worker is single-threaded (unshare() moves only the calling thread, and
 * a user namespace needs a single-threaded caller); every thread created
 * later inherits them, and pivot_root() then moves the root of all of them
 * at once. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "sandbox-internal.h"

/* Where the empty root is mounted before it becomes "/": any directory
 * works, the mount is private to the worker. */
#define NEW_ROOT "/tmp"

static int write_proc(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return write_full(fd, text, strlen(text));
}

/* Maps our own uid and gid into a new user namespace (all an unprivileged
 * process may map), so file permissions keep working during setup. */
static int map_self(uid_t uid, gid_t gid) {
        char line[64];
        int r = write_proc("/proc/self/setgroups", "deny");
        if (r < 0 && r != -ENOENT)
                return r;
        snprintf(line, sizeof line, "%u %u 1", (unsigned)uid, (unsigned)uid);
        if ((r = write_proc("/proc/self/uid_map", line)) < 0)
                return r;
        snprintf(line, sizeof line, "%u %u 1", (unsigned)gid, (unsigned)gid);
        return write_proc("/proc/self/gid_map", line);
}

int sandbox_unshare(struct sandbox *sb, bool host_network, char *err, size_t errlen) {
        int flags = CLONE_NEWNS | CLONE_NEWIPC | (host_network ? 0 : CLONE_NEWNET);
        if (!sb->privileged) {
                uid_t uid = getuid();
                gid_t gid = getgid();
                if (unshare(CLONE_NEWUSER | flags) < 0)
                        return snprintf(err, errlen, "no user namespace: %s", strerror(errno)), -errno;
                sb->userns = true;
                int r = map_self(uid, gid);
                if (r < 0)
                        return snprintf(err, errlen, "mapping ids into the user namespace: %s", strerror(-r)), r;
        } else if (unshare(flags) < 0) {
                return snprintf(err, errlen, "unshare(mount, IPC%s namespaces): %s (needs CAP_SYS_ADMIN)",
                                host_network ? "" : ", network", strerror(errno)), -errno;
        }
        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return snprintf(err, errlen, "making mounts private: %s", strerror(errno)), -errno;
        sb->mount_ns = true;
        return 0;
}

static int fail(const char *what, char *err, size_t errlen) {
        int r = -errno;
        snprintf(err, errlen, "empty root: %s: %s", what, strerror(errno));
        return r;
}

int sandbox_pivot_to_empty_root(char *err, size_t errlen) {
        if (mount("vmwp-sandbox", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=16k,nr_inodes=8,mode=0555") < 0)
                return fail("mounting a tmpfs on " NEW_ROOT, err, errlen);
        /* The sanitizer runtimes read /proc/self (maps, task/) at exit. */
        if (SANDBOX_SANITIZER && (mkdir(NEW_ROOT "/proc", 0555) < 0 ||
                                  mount("/proc", NEW_ROOT "/proc", NULL, MS_BIND | MS_REC, NULL) < 0))
                return fail("binding /proc (sanitizer build)", err, errlen);
        if (chdir(NEW_ROOT) < 0)
                return fail("chdir", err, errlen);
        /* pivot_root(".", ".") stacks the old root on top of the new one;
         * detaching it leaves only the empty tmpfs (no put_old directory). */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return fail("pivot_root", err, errlen);
        if (umount2(".", MNT_DETACH) < 0)
                return fail("detaching the old root", err, errlen);
        if (chdir("/") < 0)
                return fail("chdir /", err, errlen);
        if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return fail("remounting read-only", err, errlen);
        return 0;
}
