// SPDX-License-Identifier: MIT
/* LD_PRELOAD into Linux's hv_fcopy_uio_daemon for test-icvsp-fcopy-uio:
 * its /dev/uio0 (uio_hv_generic's device for the file-copy channel) is
 * played by the test. open() gives it a socket to the test
 * (FCOPY_UIO_SOCK); mmap() of it maps the channel's two rings, which
 * the test's simulated guest RAM holds (FCOPY_UIO_RAM, a memfd, at
 * FCOPY_UIO_RING_OFF); pread() waits for the next interrupt, the bytes
 * the test writes for it (all that came meanwhile count as one, as uio's
 * event counter does); the daemon's write() to unmask and signal goes to
 * the test as it is (a socket). Everything else goes to libc. When the
 * test closes its end, the daemon exits. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

static int uio_fd = -1;

static long env_long(const char *name) {
        const char *v = getenv(name);
        return v ? strtol(v, NULL, 10) : -1;
}

static int uio_open(const char *path) {
        if (strcmp(path, "/dev/uio0"))
                return -2;
        uio_fd = dup((int)env_long("FCOPY_UIO_SOCK"));
        return uio_fd;
}

int open(const char *path, int flags, ...);
int open64(const char *path, int flags, ...);
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
ssize_t pread(int fd, void *buf, size_t n, off_t off);
ssize_t pread64(int fd, void *buf, size_t n, off_t off);

#define OPEN_WRAPPER(name)                                                                 \
        int name(const char *path, int flags, ...) {                                       \
                int r = uio_open(path);                                                    \
                if (r != -2)                                                               \
                        return r;                                                          \
                mode_t mode = 0;                                                           \
                if (flags & (O_CREAT | O_TMPFILE)) {                                       \
                        va_list ap;                                                        \
                        va_start(ap, flags);                                               \
                        mode = va_arg(ap, mode_t);                                         \
                        va_end(ap);                                                        \
                }                                                                          \
                int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
                return real(path, flags, mode);                                            \
        }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define MMAP_WRAPPER(name)                                                                       \
        void *name(void *addr, size_t len, int prot, int flags, int fd, off_t off) {             \
                void *(*real)(void *, size_t, int, int, int, off_t) =                            \
                        (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, #name); \
                if (fd >= 0 && fd == uio_fd)                                                     \
                        return real(addr, len, prot, flags, (int)env_long("FCOPY_UIO_RAM"),      \
                                    (off_t)env_long("FCOPY_UIO_RING_OFF"));                      \
                return real(addr, len, prot, flags, fd, off);                                    \
        }
MMAP_WRAPPER(mmap)
MMAP_WRAPPER(mmap64)

#define PREAD_WRAPPER(name)                                                                     \
        ssize_t name(int fd, void *buf, size_t n, off_t off) {                                  \
                if (fd >= 0 && fd == uio_fd) {                                                  \
                        char events[256];                                                       \
                        ssize_t got = read(fd, events, sizeof events);                          \
                        if (got == 0) /* the test ended */                                      \
                                _exit(0);                                                       \
                        if (got < 0)                                                            \
                                return -1;                                                      \
                        memset(buf, 0, n);                                                      \
                        return (ssize_t)n;                                                      \
                }                                                                               \
                ssize_t (*real)(int, void *, size_t, off_t) =                                   \
                        (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, #name);       \
                return real(fd, buf, n, off);                                                   \
        }
PREAD_WRAPPER(pread)
PREAD_WRAPPER(pread64)
