// SPDX-License-Identifier: MIT
/* What the fault tests (tests/integration/test-fault-*.sh) need that no
 * shell tool here does:
 *
 *   fault-helper shutdown DIR   shut down the ext4 file system mounted at DIR
 *                               as a sudden device loss would (EXT4_IOC_SHUTDOWN,
 *                               no log flush): every later read and write of a
 *                               file on it, through fds already open, fails
 *                               with EIO.
 *
 * Exit status 0, or 1 with the reason on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ext4's shutdown ioctl (fs/ext4/ext4.h), the number XFS_IOC_GOINGDOWN and
 * F2FS_IOC_SHUTDOWN (<linux/f2fs.h>) share; not in Debian 12's uapi headers. */
#define FAULT_IOC_SHUTDOWN _IOR('X', 125, uint32_t)
#define FAULT_GOING_FLAGS_NOLOGFLUSH 2u /* EXT4_GOING_FLAGS_NOLOGFLUSH */

static int shutdown_fs(const char *dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "fault-helper: %s: %s\n", dir, strerror(errno));
                return 1;
        }
        uint32_t flags = FAULT_GOING_FLAGS_NOLOGFLUSH;
        int r = ioctl(fd, FAULT_IOC_SHUTDOWN, &flags);
        if (r < 0)
                fprintf(stderr, "fault-helper: shutting down %s: %s\n", dir, strerror(errno));
        close(fd);
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "shutdown") == 0)
                return shutdown_fs(argv[2]);
        fprintf(stderr, "usage: fault-helper shutdown DIR\n");
        return 2;
}
