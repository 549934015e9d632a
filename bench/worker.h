/* SPDX-License-Identifier: MIT */
/* A vmwp under a control socket for the benchmarks (bench-save,
 * bench-checkpoint; bench-migrate and bench-start-exit use the message and
 * file helpers): started with a configuration message and its fds,
 * requests with ids, its end reaped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct json_object;

struct bench_worker {
        pid_t pid;
        int sock;
        char err[4096]; /* the file its stderr (--timing's lines) goes to */
        int status;     /* its exit status once ended */
};

/* The next message (NULL: none within timeout_ms, or the end). */
struct json_object *bench_worker_recv(int sock, int timeout_ms);
/* Sends request (JSON text with "id":id) with fds; returns its reply when
 * "ok" (the caller puts it), else NULL after printing why (events before
 * the reply are skipped). */
struct json_object *bench_worker_call(int sock, const char *request, int id, const int *fds, size_t n_fds);
/* {"op":op,"id":id} with fd (-1: none): ok or not. */
bool bench_worker_request(int sock, const char *op, int id, int fd);
/* A "stats" counter (-1: none). */
long long bench_worker_stat(struct bench_worker *w, const char *key);
/* vmwp of build_dir with --timing, stderr into <dir>/<name>.err, COM1 into
 * serial (NULL: none), the configuration message cfg and its fds. Returns
 * once "ready" came (false on anything else). */
bool bench_worker_start(struct bench_worker *w, const char *build_dir, const char *dir, const char *cfg,
                        const int *fds, size_t n_fds, const char *serial, const char *name);
/* Waits for the worker's exit (stopping it first if stop; else for its
 * "exit" event, up to two minutes) and reaps it. */
void bench_worker_end(struct bench_worker *w, bool stop);
/* A file's text (the first 64 KiB; a static buffer). */
const char *bench_slurp(const char *path);
/* Polls path until it holds text (false after timeout_ms). */
bool bench_wait_text(const char *path, const char *text, int timeout_ms);
