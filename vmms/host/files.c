// SPDX-License-Identifier: MIT
/* Opening host files on behalf of a VM (docs/vmms.md "Host files").
 *
 * Nothing here may block the event loop on a file a caller controls, nor
 * open more than the caller may: every path is first resolved to an O_PATH
 * fd (which neither opens a FIFO nor a device), its type checked, and only
 * then opened for real through /proc/self/fd, non-blocking. Files in a pool
 * are resolved beneath the pool with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS): a symlink or a mount point
 * (say, a FUSE file system a user mounted in the pool, which could stall
 * any lookup) never leads out. For a caller other than root the open runs
 * with the caller's file-system identity (setfsuid/setfsgid and its
 * groups), so the kernel applies modes and ACLs as it would to the caller.
 * vmms is single-threaded, which is what makes that switch safe. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "host/host.h"
#include "core/cloud-init.h"
#include "vmms/seed.h"

#define NOGROUP 65534

int vmms_cred_of_user(uid_t uid, struct vmms_cred *c) {
        char buf[4096];
        struct passwd pw, *res = NULL;
        *c = (struct vmms_cred){ .uid = uid, .gid = NOGROUP };
        if (uid == 0 || getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res)
                return 0; /* an unknown user keeps only its uid's rights */
        c->gid = pw.pw_gid;
        int n = VMMS_CRED_GROUPS_MAX;
        if (getgrouplist(pw.pw_name, pw.pw_gid, c->groups, &n) < 0)
                n = VMMS_CRED_GROUPS_MAX; /* more groups than we keep: fewer rights, never more */
        c->n_groups = (size_t)n;
        return 0;
}

int vmms_user_name(uid_t uid, char *name, size_t len) {
        char buf[4096];
        struct passwd pw, *res = NULL;
        if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res)
                return -ENOENT;
        if (strlen(pw.pw_name) >= len)
                return -ENAMETOOLONG;
        snprintf(name, len, "%s", pw.pw_name);
        return 0;
}

int vmms_user_uid(const char *name, uid_t *uid) {
        char buf[4096];
        struct passwd pw, *res = NULL;
        if (getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 || !res)
                return -ENOENT;
        *uid = pw.pw_uid;
        return 0;
}

/* Takes the caller's file-system identity; root callers keep vmms's. */
int vmms_identity_enter(const struct vmms_cred *c, struct vmms_fs_identity *s) {
        s->switched = false;
        if (c->uid == 0 || geteuid() != 0)
                return 0;
        s->n_groups = getgroups(ARRAY_SIZE(s->groups), s->groups);
        if (s->n_groups < 0)
                return -errno;
        if (setgroups(c->n_groups, c->groups) < 0)
                return -errno;
        s->switched = true;
        (void)setfsgid(c->gid);
        (void)setfsuid(c->uid);
        /* setfs*id() report the previous value: ask again to see it took. */
        if ((uid_t)setfsuid((uid_t)-1) != c->uid || (gid_t)setfsgid((gid_t)-1) != c->gid)
                return -EPERM;
        return 0;
}

void vmms_identity_leave(struct vmms_fs_identity *s) {
        if (!s->switched)
                return;
        (void)setfsuid(geteuid());
        (void)setfsgid(getegid());
        if (setgroups((size_t)s->n_groups, s->groups) < 0)
                log_error_errno(-errno, "cannot restore vmms's supplementary groups: %m");
        s->switched = false;
}

/* Without root vmms cannot take the caller's identity: then the mode bits
 * decide (ACLs are not consulted), on top of vmms's own rights. */
static bool mode_allows(const struct stat *st, const struct vmms_cred *c, bool write) {
        if (c->uid == 0 || geteuid() == 0)
                return true;
        mode_t need = write ? S_IWOTH | S_IROTH : S_IROTH;
        if (st->st_uid == c->uid)
                return (st->st_mode & (need << 6)) == need << 6;
        bool member = st->st_gid == c->gid;
        for (size_t i = 0; i < c->n_groups && !member; i++)
                member = st->st_gid == c->groups[i];
        if (member)
                return (st->st_mode & (need << 3)) == need << 3;
        return (st->st_mode & need) == need;
}

/* Opens what an O_PATH fd names, non-blocking (the type was checked, this
 * is belt and braces), then blocking again for the worker's io_uring. */
static int reopen(int pathfd, int flags) {
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", pathfd);
        _cleanup_close_ int fd = open(p, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        int r = fd_set_nonblock(fd, false);
        return r < 0 ? r : TAKE_FD(fd);
}

static const char *type_name(mode_t m) {
        return S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" : S_ISDIR(m) ? "a directory"
             : S_ISSOCK(m) ? "a socket" : S_ISBLK(m) ? "a block device" : "not a regular file";
}

static int resolve_error(int e, const struct vmms_path_place *pl, const struct vmms_cred *c, char *err,
                         size_t errlen) {
        switch (e) {
        case EXDEV:
                snprintf(err, errlen, "leads out of %s (through a symlink or a mount point)", pl->root);
                return -EPERM;
        case ELOOP:
                snprintf(err, errlen, "too many levels of symbolic links");
                return -ELOOP;
        case EACCES:
        case EPERM:
                snprintf(err, errlen, "permission denied for uid %u", (unsigned)c->uid);
                return -EACCES;
        case ENOSYS: /* vmms's host, not the caller: the caller learns why */
                snprintf(err, errlen, "vmms cannot open files safely here: openat2() is refused (Linux 5.6 or "
                                      "later is needed, and no seccomp filter such as systemd's RestrictSUIDSGID=)");
                return -ENOSYS;
        default:
                snprintf(err, errlen, "%s", strerror(e));
                return -e;
        }
}

/* Resolves pl beneath its root as the current identity: an O_PATH fd. */
static int resolve(const struct vmms_path_place *pl) {
        _cleanup_close_ int dir = open(pl->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        struct open_how how = { .flags = O_PATH | O_CLOEXEC,
                                .resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS };
        for (int tries = 0; tries < 8; tries++) {
                int fd = (int)syscall(SYS_openat2, dir, pl->rel, &how, sizeof how);
                if (fd >= 0)
                        return fd;
                if (errno != EAGAIN) /* EAGAIN: a rename raced the walk */
                        return -errno;
        }
        return -EAGAIN;
}

static int check_type(const struct stat *st, const struct vmms_path_place *pl, enum vmms_file_use use, char *err,
                      size_t errlen) {
        bool ok = pl->block ? S_ISBLK(st->st_mode) : S_ISREG(st->st_mode);
        if (ok)
                return 0;
        snprintf(err, errlen, "is %s; %s", type_name(st->st_mode),
                 pl->block ? "under /dev only block devices may be used"
                 : use == VMMS_FILE_BOOT     ? "a kernel or initrd must be a regular file"
                 : use == VMMS_FILE_FIRMWARE ? "a firmware image must be a regular file"
                                         : "a disk must be a regular file (or a block device under /dev)");
        return -EINVAL;
}

static int open_placed(const struct vmms_path_place *pl, enum vmms_file_use use, const struct vmms_cred *c,
                       char *err, size_t errlen) {
        _cleanup_close_ int pfd = resolve(pl);
        if (pfd < 0)
                return resolve_error(-pfd, pl, c, err, errlen);
        struct stat st;
        if (fstat(pfd, &st) < 0)
                return resolve_error(errno, pl, c, err, errlen);
        int r = check_type(&st, pl, use, err, errlen);
        if (r < 0)
                return r;
        if (!mode_allows(&st, c, use == VMMS_FILE_DISK_RW))
                return resolve_error(EACCES, pl, c, err, errlen);
        int fd = reopen(pfd, use == VMMS_FILE_DISK_RW ? O_RDWR : O_RDONLY);
        if (fd < 0)
                return resolve_error(-fd, pl, c, err, errlen);
        return fd;
}

int vmms_file_open(const struct vmms_path_policy *p, const char *path, enum vmms_file_use use,
                   const struct vmms_cred *as, char *err, size_t errlen) {
        struct vmms_path_place pl;
        char why[768];
        int r = vmms_path_place(p, path, use, as->uid == 0, &pl, why, sizeof why);
        if (r < 0) {
                snprintf(err, errlen, "%s", why);
                return r;
        }
        if (use == VMMS_FILE_FIRMWARE) { /* the host's firmware: vmms reads it itself, read-only */
                struct vmms_cred self = { .uid = geteuid(), .gid = getegid() };
                r = open_placed(&pl, use, &self, why, sizeof why);
                if (r < 0)
                        snprintf(err, errlen, "%s: %s", path, why);
                return r;
        }
        struct vmms_fs_identity id;
        r = vmms_identity_enter(as, &id);
        if (r >= 0)
                r = open_placed(&pl, use, as, why, sizeof why);
        else
                snprintf(why, sizeof why, "cannot take the identity of uid %u: %s", (unsigned)as->uid, strerror(-r));
        vmms_identity_leave(&id);
        if (r < 0)
                snprintf(err, errlen, "%s: %s", path, why);
        return r;
}

/* Creates pl's file (O_EXCL, 0600) in its directory, resolved beneath the
 * place's root like any other path, as the current identity. */
static int create_placed(const struct vmms_path_place *pl, const struct vmms_cred *c, char *err, size_t errlen) {
        const char *slash = strrchr(pl->rel, '/');
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - pl->rel) : 1, slash ? pl->rel : ".");
        struct vmms_path_place dpl = { .root = pl->root, .rel = dir };
        _cleanup_close_ int dfd = resolve(&dpl);
        if (dfd < 0)
                return resolve_error(-dfd, pl, c, err, errlen);
        int fd = openat(dfd, slash ? slash + 1 : pl->rel, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                        0600);
        if (fd < 0)
                return resolve_error(errno, pl, c, err, errlen);
        return fd;
}

int vmms_file_create(const struct vmms_path_policy *p, const char *path, const struct vmms_cred *as, char *err,
                     size_t errlen) {
        struct vmms_path_place pl;
        char why[768];
        int r = vmms_path_place(p, path, VMMS_FILE_DISK_RW, as->uid == 0, &pl, why, sizeof why);
        if (r == 0 && pl.block)
                r = (snprintf(why, sizeof why, "%s: a new image cannot be a block device", path), -EINVAL);
        if (r < 0) {
                snprintf(err, errlen, "%s", why);
                return r;
        }
        struct vmms_fs_identity id;
        r = vmms_identity_enter(as, &id);
        if (r >= 0)
                r = create_placed(&pl, as, why, sizeof why);
        else
                snprintf(why, sizeof why, "cannot take the identity of uid %u: %s", (unsigned)as->uid, strerror(-r));
        vmms_identity_leave(&id);
        if (r < 0)
                snprintf(err, errlen, "%s: %s", path, why);
        return r;
}

int vmms_log_open(const char *path, enum vmms_log_access how, char *err, size_t errlen) {
        static const int flags[] = { [VMMS_LOG_READ] = O_RDONLY, [VMMS_LOG_APPEND] = O_WRONLY | O_APPEND,
                                     [VMMS_LOG_ROTATE] = O_RDWR };
        _cleanup_close_ int pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (pfd < 0 && errno == ENOENT && how == VMMS_LOG_APPEND) {
                /* O_EXCL: never through a symlink or onto what appeared meanwhile. */
                int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                              0640);
                if (fd >= 0)
                        return fd;
                if (errno != EEXIST)
                        return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno;
                pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        }
        if (pfd < 0)
                return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno;
        struct stat st;
        if (fstat(pfd, &st) < 0)
                return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno;
        if (!S_ISREG(st.st_mode)) {
                snprintf(err, errlen, "%s: is %s; a log must be a regular file", path,
                         S_ISLNK(st.st_mode) ? "a symbolic link" : type_name(st.st_mode));
                return -EINVAL;
        }
        int fd = reopen(pfd, flags[how]);
        if (fd < 0)
                snprintf(err, errlen, "%s: %s", path, strerror(-fd));
        return fd;
}

struct check_open {
        const struct vmms_path_policy *p;
        const struct vm_config *next, *cur;
        const struct vmms_cred *as;
        char *err;
        size_t errlen;
};

static int try_open(void *opaque, const char *field, const char *path, enum vmms_file_use use) {
        struct check_open *c = opaque;
        char why[1024];
        if (vmms_config_had_path(c->cur, path, use))
                return 0; /* checked when it came in; opened at start as the owner */
        if (vmms_seed_field_is_own(field, c->p->seed_dir, &c->next->id, path))
                return vmms_seed_check(path, field, c->err, c->errlen);
        int fd = vmms_file_open(c->p, path, use, c->as, why, sizeof why);
        if (fd < 0) {
                snprintf(c->err, c->errlen, "%s: %s", field, why);
                return fd;
        }
        safe_close(fd);
        return 0;
}

int vmms_config_check_files(const struct vmms_path_policy *p, const struct vm_config *next,
                            const struct vm_config *cur, const struct vmms_cred *as, char *err, size_t errlen) {
        int r = vmms_config_check_paths(p, next, cur, as->uid == 0, err, errlen);
        if (r < 0)
                return r;
        struct check_open c = { .p = p, .next = next, .cur = cur, .as = as, .err = err, .errlen = errlen };
        return vmms_config_for_each_path(next, try_open, &c);
}
