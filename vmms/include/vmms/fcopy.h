/* SPDX-License-Identifier: MIT */
/* CopyFile's checks (vmms/guest/fcopy.c), pure enough to test alone. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The guest's kernel hands its daemon each name in a 260-byte buffer:
 * 259 bytes of UTF-8 (icvsp's ICVSP_FCOPY_NAME_MAX), the directory with
 * the '/' it is sent with. */
#define VMMS_FCOPY_NAME_MAX 259

/* A read-only description of the caller's fd for the worker, and its
 * size: -EINVAL unless a regular file open for reading (not O_PATH, which
 * needs no read permission; not write-only), else the new fd or -errno. */
int vmms_fcopy_open_source(int fd, uint64_t *size);
/* dest, an absolute guest path to a file, as dir ("/" for the root) and
 * name; -EINVAL with the reason in err. */
int vmms_fcopy_split_destination(const char *dest, char *dir, size_t dirlen, char *name, size_t namelen, char *err,
                                 size_t errlen);
