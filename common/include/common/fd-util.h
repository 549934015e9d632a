/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Loop over short reads/writes and EINTR. read_full returns the bytes read
 * (less than len only at EOF); write_full returns 0 or -errno. */
ssize_t read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);
/* Reads a whole file (at most max bytes, -EFBIG beyond) into a NUL-terminated buffer. */
int read_file(const char *path, size_t max, char **out, size_t *out_len);
/* Writes atomically: temp file in the same directory, fsync, rename, fsync dir. */
int write_file_atomic(const char *path, const void *data, size_t len, int mode);
int fd_set_cloexec(int fd, bool on);
/* A Unix socket of type (SOCK_STREAM or SOCK_SEQPACKET, optionally with
 * SOCK_NONBLOCK; SOCK_CLOEXEC is added) listening at path. A stale socket
 * there (an earlier run's) is replaced; anything else is left alone:
 * -EEXIST. mode != 0 is applied (chmod) before listen. Returns the fd, or
 * -errno (-ENAMETOOLONG past what a sockaddr_un holds). */
int unix_listen(const char *path, int type, int backlog, mode_t mode);
int fd_set_nonblock(int fd, bool on);
/* The data extents of fd in [0, len), in order (SEEK_DATA/SEEK_HOLE: a
 * hole is never read, and a read through a shared mapping of a memfd's
 * hole would fill it): fn(opaque, from, to) for each, to clipped to len;
 * a file system without hole tracking reports everything as data. Stops at
 * fn's first non-zero return and returns it; 0 at the end, or lseek's
 * -errno. */
int fd_for_each_data(int fd, uint64_t len, int (*fn)(void *opaque, uint64_t from, uint64_t to), void *opaque);
/* Zeros [off, off + len) of map, a shared mapping of fd from offset 0: a
 * hole punched into fd (no memory taken), or zeros written where that
 * fails or fd is -1. */
void fd_zero_range(int fd, uint8_t *map, uint64_t off, uint64_t len);
