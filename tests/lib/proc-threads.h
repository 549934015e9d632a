/* SPDX-License-Identifier: MIT */
/* A process's threads as the host's /proc sees them: by name (comm), with
 * their time on a CPU and waiting for one (schedstat). For tests that
 * measure a worker's vCPU threads, tell a busy host from the behaviour
 * they check, or wait for a thread to end. */
#pragma once

#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "tests/lib/test-files.h"

struct proc_threads {
        unsigned threads;        /* whose name starts with the prefix */
        uint64_t run_ns, wait_ns; /* their schedstat: on a CPU, waiting for one (0 where not readable) */
};

/* pid's threads whose comm starts with prefix ("" for every thread). */
static inline struct proc_threads proc_threads(pid_t pid, const char *prefix) {
        struct proc_threads a = { 0 };
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        DIR *d = opendir(path);
        for (struct dirent *e; d && (e = readdir(d));) {
                char p[384], comm[32] = "", st[128] = "";
                if (e->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof p, "%s/%s/comm", path, e->d_name);
                if (!test_read_file(p, comm, sizeof comm) || strncmp(comm, prefix, strlen(prefix)) != 0)
                        continue;
                a.threads++;
                snprintf(p, sizeof p, "%s/%s/schedstat", path, e->d_name);
                unsigned long long run = 0, wait = 0;
                (void)test_read_file(p, st, sizeof st);
                if (sscanf(st, "%llu %llu", &run, &wait) == 2)
                        a.run_ns += run, a.wait_ns += wait;
        }
        if (d)
                closedir(d);
        return a;
}
