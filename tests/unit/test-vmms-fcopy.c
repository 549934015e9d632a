// SPDX-License-Identifier: MIT
/* CopyFile's checks (vmms/guest/fcopy.c): the source descriptor the worker gets
 * is a new read-only one of a regular file the caller opened for reading
 * (O_PATH and write-only descriptors, directories and pipes are refused:
 * vmms reopens as root, and an O_PATH open needs no read permission); the
 * guest path splits into a directory and a file name within the guest's
 * limits. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/test.h"
#include "vmms/fcopy.h"

static char path[64];

static int open_as(int flags) {
        int fd = open(path, flags | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        return fd;
}

TEST(source_is_reopened_read_only) {
        snprintf(path, sizeof path, "/tmp/test-vmms-fcopy.XXXXXX");
        int tmp = mkstemp(path);
        ASSERT_GE(tmp, 0);
        ASSERT_EQ(write(tmp, "hello", 5), 5);
        close(tmp);
        uint64_t size = 0;
        for (int i = 0; i < 2; i++) {
                int fd = open_as(i ? O_RDWR : O_RDONLY);
                int ro = vmms_fcopy_open_source(fd, &size);
                ASSERT_GE(ro, 0);
                ASSERT_EQ(size, 5u);
                ASSERT_EQ(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY); /* never the caller's writable one */
                ASSERT_EQ(write(ro, "x", 1), -1);
                ASSERT_EQ(errno, EBADF);
                char b[8] = "";
                ASSERT_EQ(pread(ro, b, sizeof b, 0), 5);
                ASSERT_MEMEQ(b, "hello", 5);
                close(ro);
                close(fd);
        }
        int fds[] = { open_as(O_WRONLY), open_as(O_PATH), open("/tmp", O_RDONLY | O_CLOEXEC) };
        for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
                ASSERT_ERROR(vmms_fcopy_open_source(fds[i], &size), EINVAL);
                close(fds[i]);
        }
        int p[2];
        ASSERT_OK(pipe(p));
        ASSERT_ERROR(vmms_fcopy_open_source(p[0], &size), EINVAL);
        close(p[0]);
        close(p[1]);
        unlink(path);
}

static void split_ok(const char *dest, const char *want_dir, const char *want_name) {
        char dir[600], name[600], err[200];
        ASSERT_OK(vmms_fcopy_split_destination(dest, dir, sizeof dir, name, sizeof name, err, sizeof err));
        ASSERT_STREQ(dir, want_dir);
        ASSERT_STREQ(name, want_name);
}

static void split_bad(const char *dest, const char *why) {
        char dir[600], name[600], err[200] = "";
        ASSERT_ERROR(vmms_fcopy_split_destination(dest, dir, sizeof dir, name, sizeof name, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, why));
}

TEST(destination_splits_within_the_guests_limits) {
        split_ok("/tmp/a.bin", "/tmp", "a.bin");
        split_ok("/a", "/", "a");
        split_ok("/var/lib/x/y.conf", "/var/lib/x", "y.conf");
        split_bad("tmp/a", "absolute");
        split_bad("", "absolute");
        split_bad("/tmp/", "name a file");
        split_bad("/tmp/..", "name a file");
        split_bad("/.", "name a file");
        char d[400];
        memset(d, 'x', sizeof d);
        d[0] = '/';
        d[VMMS_FCOPY_NAME_MAX + 1] = 0; /* a 259-byte name */
        split_ok(d, "/", d + 1);
        d[VMMS_FCOPY_NAME_MAX + 1] = 'x';
        d[VMMS_FCOPY_NAME_MAX + 2] = 0; /* 260 */
        split_bad(d, "259 bytes");
        /* the directory with its '/': 258 bytes + '/' fit, 259 + '/' do not */
        memset(d, 'x', sizeof d);
        d[0] = '/';
        strcpy(d + VMMS_FCOPY_NAME_MAX, "/n"); /* a directory of 259 bytes */
        split_bad(d, "259 bytes");
        memset(d, 'x', sizeof d);
        d[0] = '/';
        strcpy(d + VMMS_FCOPY_NAME_MAX - 1, "/n"); /* 258 */
        char dir[600], name[600], err[200];
        ASSERT_OK(vmms_fcopy_split_destination(d, dir, sizeof dir, name, sizeof name, err, sizeof err));
        ASSERT_EQ(strlen(dir), (size_t)VMMS_FCOPY_NAME_MAX - 1);
        ASSERT_STREQ(name, "n");
}

TEST_MAIN();
