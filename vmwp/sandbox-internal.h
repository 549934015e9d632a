/* SPDX-License-Identifier: MIT */
/* Shared by vmwp/sandbox*.c only. */
#pragma once

#include <linux/filter.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vmwp/sandbox.h"

/* The sanitizer runtimes need a few things the sandbox otherwise forbids
 * (docs/sandbox.md, "Sanitizer builds"). */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifndef SANDBOX_SANITIZER
#define SANDBOX_SANITIZER 0
#endif

/* A filter compiled ahead (sandbox_precompile_start): the process filter
 * (name "") or a thread policy's. */
struct sandbox_bpf {
        const char *name;
        struct sock_filter *insns;
        unsigned short len;
};
#define SANDBOX_MAX_BPF (SANDBOX_MAX_POLICIES + 3u)

struct sandbox {
        uid_t uid;
        gid_t gid;
        bool privileged; /* started as root: every step is mandatory */
        bool userns;     /* not root: sandbox_prepare() made a user namespace */
        bool mount_ns;   /* a private mount namespace exists (root or userns) */
        bool bounding_dropped;
        bool entered;
        bool dropped;  /* sandbox_drop(): all but the filters; status_fd kept for the check */
        int status_fd; /* /proc/self/status, opened before the pivot (-1: none) */
        uint64_t fsize_needed; /* sandbox_allow_file_size(): RLIMIT_FSIZE at least this */
        uint64_t fsize_set;    /* the RLIMIT_FSIZE set on entry (0: not entered) */
        unsigned extra_fds;    /* sandbox_allow_fds(): on top of NOFILE_HEADROOM */
        char *probe_path;
        const struct sandbox_policy *extra[SANDBOX_MAX_POLICIES];
        size_t n_extra;
        /* sandbox_precompile_start(): the helper thread owns bpf[] until
         * sandbox_enter() joins it; read-only from then on. */
        pthread_t compiler;
        bool compiling, precompile_stale;
        struct sandbox_bpf bpf[SANDBOX_MAX_BPF];
        size_t n_bpf;
};

/* sandbox-seccomp.c */
/* Joins the precompile helper, if any; keeps its filters unless a policy
 * was registered after it started. */
void sandbox_precompile_wait(struct sandbox *sb);
void sandbox_bpf_free(struct sandbox *sb);
/* The filter of every thread (TSYNC): the union of all policies. */
int sandbox_load_process_filter(struct sandbox *sb);
int sandbox_install_sigsys_handler(void);
/* sandbox-sanitizer rules (empty list outside sanitizer builds). */
extern const struct sandbox_policy sandbox_sanitizer_policy;

/* sandbox-mount.c */
int sandbox_unshare(struct sandbox *sb, bool host_network, char *err, size_t errlen);
int sandbox_pivot_to_empty_root(char *err, size_t errlen);

/* sandbox-creds.c */
/* The account a root worker runs as when vmms names none. */
void sandbox_default_user(uid_t *uid, gid_t *gid);
int sandbox_drop_bounding_set(void);
int sandbox_drop_credentials(const struct sandbox *sb, char *err, size_t errlen);
/* Checks /proc/self/status as read from fd (opened before the pivot). */
int sandbox_check_status(const struct sandbox *sb, int status_fd, char *err, size_t errlen);
