/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
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
