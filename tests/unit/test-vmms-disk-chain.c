// SPDX-License-Identifier: MIT
/* vmms_disk_chain_open (vmms/disk-chain.h): a VHDX disk's parents, opened
 * through the caller's callback, locked shared, their linkage checked; the
 * refusals (missing, changed, locked by a writer, refused by the callback,
 * a loop, too deep, a log to replay on a read-only disk) with sentences
 * that name the images, and nothing left open after one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/test.h"
#include "vhdx/vhdx.h"
#include "vmms/disk-chain.h"

static char dir[] = "/tmp/test-vmms-disk-chain-XXXXXX";
static char err[2048];

static const char *path_of(const char *name) {
        static char p[4][512];
        static unsigned k;
        char *out = p[k++ % 4];
        snprintf(out, sizeof p[0], "%s/%s", dir, name);
        return out;
}

static int open_rw(const char *name) {
        int fd = open(path_of(name), O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        return fd;
}

static void make_base(const char *name) {
        unlink(path_of(name));
        int fd = open(path_of(name), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        struct vhdx_create_options o = { .type = VHDX_DYNAMIC, .virtual_size = 8 << 20, .block_size = 1 << 20 };
        ASSERT_EQ(vhdx_create(fd, &o, err, sizeof err), 0);
        close(fd);
}

/* A differencing child of `parent` whose relative locator is `locator`. */
static void make_child(const char *name, const char *parent, const char *locator) {
        int pfd = open(path_of(parent), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(pfd, 0);
        struct vhdx *p;
        ASSERT_EQ(vhdx_open(pfd, 0, &p, err, sizeof err), 0);
        unlink(path_of(name));
        int fd = open(path_of(name), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent = p, .parent_relative = locator };
        int r = vhdx_create(fd, &o, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "create %s: %s\n", name, err);
        ASSERT_EQ(r, 0);
        ASSERT_EQ(vhdx_close(p), 0);
        close(pfd), close(fd);
}

/* The callback: opens read-only and counts; refuses paths containing
 * "forbidden" as vmms's path policy would. */
struct opener {
        unsigned calls;
        char last[VHDX_PATH_MAX];
};

static int open_parent(void *opaque, const char *path, char *e, size_t elen) {
        struct opener *o = opaque;
        o->calls++;
        snprintf(o->last, sizeof o->last, "%s", path);
        if (strstr(path, "forbidden"))
                return snprintf(e, elen, "%s: not in a storage pool", path), -EPERM;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return snprintf(e, elen, "%s: %s", path, strerror(errno)), -errno;
        return fd;
}

static unsigned open_fds(void) {
        unsigned n = 0;
        DIR *d = opendir("/proc/self/fd");
        ASSERT_NOT_NULL(d);
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

/* Opens `name` (a disk of the VM) and walks its chain. */
static int chain(const char *name, bool read_only, struct vmms_disk_chain *c, struct opener *o) {
        int fd = open(path_of(name), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        err[0] = 0;
        int r = vmms_disk_chain_open(fd, path_of(name), read_only, open_parent, o, c, err, sizeof err);
        close(fd);
        return r;
}

static bool same_file(int fd, const char *name) {
        struct stat a, b;
        ASSERT_EQ(fstat(fd, &a), 0);
        ASSERT_EQ(stat(path_of(name), &b), 0);
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Whether a writer could take the image now (LOCK_EX on a new open). */
static bool writer_could_lock(const char *name) {
        int fd = open_rw(name);
        bool ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
        close(fd);
        return ok;
}

static void assert_err_has(const char *what) {
        if (!strstr(err, what))
                fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, what);
        ASSERT_NOT_NULL(strstr(err, what));
}

TEST(a_dynamic_image_has_no_parents) {
        make_base("plain.vhdx");
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        ASSERT_EQ(chain("plain.vhdx", false, &c, &o), 0);
        ASSERT_EQ(c.n, 0u);
        ASSERT_EQ(o.calls, 0u);
}

TEST(a_chain_of_two_parents_nearest_first_locked_shared) {
        make_base("base.vhdx");
        make_child("mid.avhdx", "base.vhdx", "base.vhdx");
        make_child("top.avhdx", "mid.avhdx", "./mid.avhdx");
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        ASSERT_EQ(chain("top.avhdx", false, &c, &o), 0);
        ASSERT_EQ(c.n, 2u);
        ASSERT_TRUE(same_file(c.fds[0], "mid.avhdx"));
        ASSERT_TRUE(same_file(c.fds[1], "base.vhdx"));
        ASSERT_EQ(fcntl(c.fds[0], F_GETFL) & O_ACCMODE, O_RDONLY);
        /* no writer while the chain holds them; another chain may share */
        ASSERT_FALSE(writer_could_lock("base.vhdx"));
        ASSERT_FALSE(writer_could_lock("mid.avhdx"));
        struct vmms_disk_chain c2;
        ASSERT_EQ(chain("mid.avhdx", true, &c2, &o), 0);
        ASSERT_EQ(c2.n, 1u);
        vmms_disk_chain_done(&c2);
        vmms_disk_chain_done(&c);
        ASSERT_EQ(c.n, 0u);
        ASSERT_TRUE(writer_could_lock("base.vhdx"));
}

TEST(a_missing_parent_names_child_and_parent) {
        make_base("gone.vhdx");
        make_child("orphan.avhdx", "gone.vhdx", "gone.vhdx");
        ASSERT_EQ(unlink(path_of("gone.vhdx")), 0);
        unsigned before = open_fds();
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        ASSERT_EQ(chain("orphan.avhdx", false, &c, &o), -ENOENT);
        assert_err_has(path_of("orphan.avhdx"));
        assert_err_has("parent ");
        assert_err_has(path_of("gone.vhdx"));
        assert_err_has("No such file");
        ASSERT_EQ(c.n, 0u);
        ASSERT_EQ(open_fds(), before);
}

TEST(the_callback_decides_what_may_be_opened) {
        make_base("forbidden.vhdx");
        make_child("wants-forbidden.avhdx", "forbidden.vhdx", "forbidden.vhdx");
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        ASSERT_EQ(chain("wants-forbidden.avhdx", false, &c, &o), -EPERM);
        ASSERT_EQ(o.calls, 1u);
        ASSERT_STREQ(o.last, path_of("forbidden.vhdx"));
        assert_err_has("not in a storage pool");
}

TEST(a_parent_changed_since_the_child_was_made_is_refused) {
        make_base("changed.vhdx");
        make_child("stale.avhdx", "changed.vhdx", "changed.vhdx");
        /* a write to the parent gives it a new DataWriteGuid */
        int fd = open_rw("changed.vhdx");
        struct vhdx *v;
        ASSERT_EQ(vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err), 0);
        struct vhdx_extent e;
        ASSERT_EQ(vhdx_map_write(v, 0, 4096, &e, NULL), 0);
        ASSERT_EQ(vhdx_close(v), 0);
        close(fd);
        unsigned before = open_fds();
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        ASSERT_EQ(chain("stale.avhdx", false, &c, &o), -EINVAL);
        assert_err_has(path_of("stale.avhdx"));
        assert_err_has(path_of("changed.vhdx"));
        ASSERT_EQ(open_fds(), before);
        ASSERT_TRUE(writer_could_lock("changed.vhdx")); /* the shared lock went with the fd */
}

TEST(a_parent_a_writer_holds_is_in_use) {
        make_base("busy.vhdx");
        make_child("on-busy.avhdx", "busy.vhdx", "busy.vhdx");
        int w = open_rw("busy.vhdx");
        ASSERT_EQ(flock(w, LOCK_EX | LOCK_NB), 0);
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        ASSERT_EQ(chain("on-busy.avhdx", false, &c, &o), -EBUSY);
        assert_err_has("is in use by another VM");
        assert_err_has(path_of("busy.vhdx"));
        close(w);
        ASSERT_EQ(chain("on-busy.avhdx", false, &c, &o), 0);
        ASSERT_EQ(c.n, 1u);
        vmms_disk_chain_done(&c);
}

TEST(a_loop_of_parents_is_refused) {
        make_base("loop-base.vhdx");
        make_child("self.avhdx", "loop-base.vhdx", "self.avhdx"); /* its locator names itself */
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        ASSERT_EQ(chain("self.avhdx", false, &c, &o), -ELOOP);
        assert_err_has("loop");
        ASSERT_EQ(c.n, 0u);
}

TEST(a_chain_deeper_than_the_limit_is_refused) {
        char name[64], parent[64] = "deep-0.vhdx";
        make_base(parent);
        for (unsigned k = 1; k <= VHDX_CHAIN_MAX + 1; k++) {
                snprintf(name, sizeof name, "deep-%u.avhdx", k);
                make_child(name, parent, parent);
                snprintf(parent, sizeof parent, "%s", name);
        }
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        /* VHDX_CHAIN_MAX parents: fine */
        snprintf(name, sizeof name, "deep-%u.avhdx", VHDX_CHAIN_MAX);
        ASSERT_EQ(chain(name, true, &c, &o), 0);
        ASSERT_EQ(c.n, (size_t)VHDX_CHAIN_MAX);
        vmms_disk_chain_done(&c);
        unsigned before = open_fds();
        snprintf(name, sizeof name, "deep-%u.avhdx", VHDX_CHAIN_MAX + 1);
        ASSERT_EQ(chain(name, true, &c, &o), -ELOOP);
        assert_err_has("deeper than 16");
        ASSERT_EQ(open_fds(), before);
}

TEST(not_a_vhdx_is_refused) {
        int fd = open(path_of("raw.img"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, 4 << 20), 0);
        close(fd);
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        ASSERT_EQ(chain("raw.img", false, &c, &o), -EINVAL);
        assert_err_has("not a usable VHDX image");
}

/* A writer that committed and died without closing: its log is pending. */
static void leave_pending_log(const char *name) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                int fd = open_rw(name);
                struct vhdx *v;
                struct vhdx_extent e;
                if (vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err) < 0 ||
                    vhdx_map_write(v, 1 << 20, 4096, &e, NULL) < 0 || vhdx_commit(v) < 0)
                        _exit(1);
                _exit(0); /* no vhdx_close: not a clean close */
        }
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(a_log_to_replay_is_refused_for_read_only_use) {
        make_base("dirty.vhdx");
        leave_pending_log("dirty.vhdx");
        int fd = open(path_of("dirty.vhdx"), O_RDONLY | O_CLOEXEC);
        struct vhdx *v;
        ASSERT_EQ(vhdx_open(fd, 0, &v, err, sizeof err), -EROFS); /* what the worker would meet */
        close(fd);
        struct vmms_disk_chain c;
        struct opener o = { 0 };
        ASSERT_EQ(chain("dirty.vhdx", true, &c, &o), -EROFS);
        assert_err_has("log must be replayed");
        ASSERT_EQ(chain("dirty.vhdx", false, &c, &o), 0); /* a writable disk's worker replays it */
        /* a parent is always read-only */
        make_child("on-dirty.avhdx", "plain-clean.vhdx", "dirty.vhdx");
        ASSERT_EQ(chain("on-dirty.avhdx", false, &c, &o), -EROFS);
        assert_err_has("its parent was not closed cleanly");
}

static void cleanup(void) {
        if (test_remove_tree(dir) != 0)
                fprintf(stderr, "cleanup failed\n");
}

int main(int argc, char **argv) {
        ASSERT_NOT_NULL(mkdtemp(dir));
        atexit(cleanup);
        make_base("plain-clean.vhdx");
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
