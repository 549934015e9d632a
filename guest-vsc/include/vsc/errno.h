/* SPDX-License-Identifier: MIT */
/* Error numbers for the freestanding build: the Linux x86-64 values, so a
 * status printed by the guest reads the same as one from the host. Hosted
 * builds (unit tests, fuzzers) use the C library's <errno.h> instead. */
#pragma once

#if __STDC_HOSTED__
#include <errno.h>
#else
#define EPERM 1
#define ENOENT 2
#define EIO 5
#define E2BIG 7
#define ENOMEM 12
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENODEV 19
#define EINVAL 22
#define ENOSPC 28
#define EDOM 33
#define ERANGE 34
#define ENOSYS 38
#define EBADMSG 74
#define EPROTO 71
#define EOVERFLOW 75
#define EMSGSIZE 90
#define EPROTONOSUPPORT 93
#define EOPNOTSUPP 95
#define ECONNREFUSED 111
#define EALREADY 114
#define ETIMEDOUT 110
#define EAGAIN 11
#define ENOTCONN 107
#define ECANCELED 125
#endif
