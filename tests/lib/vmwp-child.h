/* SPDX-License-Identifier: MIT */
/* A vmwp process for component tests: started with a test's arguments,
 * waited for with a deadline, its stderr collected. */
#pragma once

#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proto.h"
#include "common/test.h"

struct vmwp_child {
        pid_t pid;
        int err_fd, out_fd; /* out_fd -1: stdout went to /dev/null */
};

/* vmwp in the build tree (VM_BUILD_DIR, default build/debug) into bin;
 * skips the test where it is not built. */
static inline void vmwp_child_require_bin(char *bin, size_t size) {
        const char *b = getenv("VM_BUILD_DIR");
        snprintf(bin, size, "%s/vmwp/vmwp", b ? b : "build/debug");
        if (access(bin, X_OK) != 0)
                TEST_SKIP("%s not built", bin);
}

/* Starts bin with args (NULL-terminated, without argv[0], at most 14);
 * stdin is /dev/null, stderr a pipe, stdout a pipe if pipe_stdout (else
 * /dev/null); control_fd (if >= 0) becomes fd 3. */
static inline struct vmwp_child vmwp_child_spawn(const char *bin, const char *const *args, int control_fd,
                                                 bool pipe_stdout) {
        int errp[2], outp[2] = { -1, -1 };
        ASSERT_OK(pipe2(errp, O_CLOEXEC));
        if (pipe_stdout)
                ASSERT_OK(pipe2(outp, O_CLOEXEC));
        const char *argv[16] = { bin };
        for (size_t i = 0; args[i] && i < 14; i++)
                argv[i + 1] = args[i];
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDWR);
                dup2(devnull, 0);
                dup2(pipe_stdout ? outp[1] : devnull, 1);
                dup2(errp[1], 2);
                if (control_fd >= 0)
                        dup2(control_fd, 3);
                execv(bin, (char **)argv);
                _exit(127);
        }
        close(errp[1]);
        if (pipe_stdout)
                close(outp[1]);
        return (struct vmwp_child){ .pid = pid, .err_fd = errp[0], .out_fd = outp[0] };
}

/* Waits (at most timeout_s, then SIGKILL) and returns the exit status
 * (128 + signal if killed, -1 on timeout); stderr in err. Closes the pipes. */
static inline int vmwp_child_finish(struct vmwp_child *c, int timeout_s, char *err, size_t cap) {
        size_t n = 0;
        int status = -1;
        for (int ms = 0; ms < timeout_s * 1000; ms += 10) {
                struct pollfd p = { .fd = c->err_fd, .events = POLLIN };
                if (poll(&p, 1, 10) > 0) {
                        ssize_t k = read(c->err_fd, err + n, cap - 1 - n);
                        if (k > 0)
                                n += (size_t)k;
                        else
                                usleep(10000); /* EOF: the child is exiting */
                }
                int st;
                if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
                        ssize_t k;
                        while ((k = read(c->err_fd, err + n, cap - 1 - n)) > 0)
                                n += (size_t)k;
                        status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                        break;
                }
        }
        if (status < 0) {
                kill(c->pid, SIGKILL);
                waitpid(c->pid, NULL, 0);
                fprintf(stderr, "vmwp did not exit in %d s\n", timeout_s);
        }
        err[n] = 0;
        close(c->err_fd);
        if (c->out_fd >= 0)
                close(c->out_fd);
        return status;
}

/* ---- the vmms side of a worker (common/proto.h) -------------------------- */

/* The next message within timeout_ms, or NULL. */
static inline struct json_object *vmwp_ctl_recv_within(int fd, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, timeout_ms) <= 0)
                return NULL;
        struct json_object *m = NULL;
        return proto_recv(fd, &m, NULL, 0, NULL) == 0 ? m : NULL;
}

/* The next message (20 s at most), or NULL. */
static inline struct json_object *vmwp_ctl_recv(int fd) {
        return vmwp_ctl_recv_within(fd, 20000);
}

static inline const char *vmwp_ctl_str(struct json_object *m, const char *k) {
        struct json_object *v;
        return m && json_object_object_get_ex(m, k, &v) ? json_object_get_string(v) : "";
}

static inline int vmwp_ctl_int(struct json_object *m, const char *k) {
        struct json_object *v;
        return m && json_object_object_get_ex(m, k, &v) ? json_object_get_int(v) : -1;
}

/* Sends json; returns the next message (the reply, or an event before it). */
static inline struct json_object *vmwp_ctl_request(int fd, const char *json) {
        struct json_object *req = json_tokener_parse(json);
        ASSERT_OK(proto_send(fd, req, NULL, 0));
        json_object_put(req);
        return vmwp_ctl_recv(fd);
}

/* Sends json; returns its reply, passing over the events before it, or the
 * worker's "exit" event if that comes first (no reply follows it); NULL
 * after timeout_ms without a message. */
static inline struct json_object *vmwp_ctl_reply_within(int fd, const char *json, int timeout_ms) {
        struct json_object *req = json_tokener_parse(json);
        ASSERT_OK(proto_send(fd, req, NULL, 0));
        json_object_put(req);
        struct json_object *m = vmwp_ctl_recv_within(fd, timeout_ms);
        while (m && vmwp_ctl_str(m, "event")[0] && strcmp(vmwp_ctl_str(m, "event"), "exit") != 0) {
                json_object_put(m);
                m = vmwp_ctl_recv_within(fd, timeout_ms);
        }
        return m;
}

/* The same, each message within 20 s. */
static inline struct json_object *vmwp_ctl_reply(int fd, const char *json) {
        return vmwp_ctl_reply_within(fd, json, 20000);
}

/* Starts bin with args under a control socket (sv[0] is ours afterwards)
 * and sends config_json as the config message with fds (the disks', as
 * vmms sends them) and state_fd (>= 0) as the "saved_state" file. Returns
 * once "ready" came, or with *exit_ev set (if exit_ev is given) when the
 * worker exited instead. */
/* Starts the worker and sends the config message, with file_fd (>= 0) as
 * the file named file_name ("saved_state", "migrate_incoming"); does not
 * wait for "ready" (an incoming migration's worker says it only once the
 * stream arrived). */
/* ... with more members of the config message (extra: ",\"key\":value..." or ""). */
static inline struct vmwp_child vmwp_child_spawn_configured_extra(const char *bin, const char *const *args,
                                                                  const char *config_json, const int *disk_fds,
                                                                  size_t n_disks, int file_fd, const char *file_name,
                                                                  const char *extra, int sv[2]) {
        int fds[16];
        size_t n_fds = 0;
        for (size_t i = 0; i < n_disks && n_fds < 15; i++)
                fds[n_fds++] = disk_fds[i];
        if (file_fd >= 0)
                fds[n_fds++] = file_fd;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
        struct vmwp_child c = vmwp_child_spawn(bin, args, sv[1], true);
        close(sv[1]);
        size_t len = strlen(config_json) + strlen(extra) + 128;
        char *msg = malloc(len);
        ASSERT_NOT_NULL(msg);
        snprintf(msg, len, "{\"op\":\"config\",\"config\":%s%s%s%s%s}", config_json,
                 file_fd >= 0 ? ",\"files\":[\"" : "", file_fd >= 0 ? file_name : "", file_fd >= 0 ? "\"]" : "", extra);
        struct json_object *m = json_tokener_parse(msg);
        free(msg);
        ASSERT_OK(proto_send(sv[0], m, n_fds ? fds : NULL, n_fds));
        json_object_put(m);
        return c;
}

static inline struct vmwp_child vmwp_child_spawn_configured(const char *bin, const char *const *args,
                                                            const char *config_json, const int *disk_fds,
                                                            size_t n_disks, int file_fd, const char *file_name,
                                                            int sv[2]) {
        return vmwp_child_spawn_configured_extra(bin, args, config_json, disk_fds, n_disks, file_fd, file_name, "", sv);
}

static inline struct vmwp_child vmwp_child_start_controlled(const char *bin, const char *const *args,
                                                            const char *config_json, const int *disk_fds,
                                                            size_t n_disks, int state_fd, int sv[2],
                                                            struct json_object **exit_ev) {
        int fds[16];
        size_t n_fds = 0;
        for (size_t i = 0; i < n_disks && n_fds < 15; i++)
                fds[n_fds++] = disk_fds[i];
        if (state_fd >= 0)
                fds[n_fds++] = state_fd;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
        struct vmwp_child c = vmwp_child_spawn(bin, args, sv[1], true);
        close(sv[1]);
        size_t len = strlen(config_json) + 128;
        char *msg = malloc(len);
        ASSERT_NOT_NULL(msg);
        snprintf(msg, len, "{\"op\":\"config\",\"config\":%s%s}", config_json,
                 state_fd >= 0 ? ",\"files\":[\"saved_state\"]" : "");
        struct json_object *m = json_tokener_parse(msg);
        free(msg);
        ASSERT_OK(proto_send(sv[0], m, n_fds ? fds : NULL, n_fds));
        json_object_put(m);
        m = vmwp_ctl_recv(sv[0]);
        if (exit_ev && strcmp(vmwp_ctl_str(m, "event"), "exit") == 0) {
                *exit_ev = m;
                return c;
        }
        if (m && strcmp(vmwp_ctl_str(m, "event"), "ready") != 0) /* say why */
                fprintf(stderr, "worker: %s\n", json_object_to_json_string(m));
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "ready");
        json_object_put(m);
        return c;
}

/* {"op":"save"} with fd: the reply (progress events before it counted in
 * *progress; after an ok the last one's done must equal its total and the
 * reply's bytes); the "exit" event or NULL when the worker ended. */
static inline struct json_object *vmwp_ctl_save(int sock, int fd, int *progress) {
        struct json_object *req = json_tokener_parse("{\"op\":\"save\",\"id\":9}");
        int sent = proto_send(sock, req, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
        json_object_put(req);
        *progress = 0;
        if (sent < 0)
                return NULL; /* the worker is gone */
        long long last_done = -1, last_total = -1;
        for (;;) {
                struct json_object *m = vmwp_ctl_recv(sock);
                if (!m || !strcmp(vmwp_ctl_str(m, "event"), "exit"))
                        return m; /* gone, or ending */
                if (strcmp(vmwp_ctl_str(m, "event"), "save-progress") == 0) {
                        struct json_object *v;
                        ASSERT_TRUE(json_object_object_get_ex(m, "done", &v));
                        last_done = json_object_get_int64(v);
                        ASSERT_TRUE(json_object_object_get_ex(m, "total", &v));
                        last_total = json_object_get_int64(v);
                        ASSERT_LE(last_done, last_total);
                        (*progress)++;
                        json_object_put(m);
                        continue;
                }
                if (!strcmp(vmwp_ctl_str(m, "event"), "state")) { /* not the reply */
                        json_object_put(m);
                        continue;
                }
                ASSERT_EQ(vmwp_ctl_int(m, "id"), 9);
                if (strcmp(vmwp_ctl_str(m, "ok"), "true") == 0) {
                        ASSERT_GT(*progress, 0);
                        ASSERT_EQ(last_done, last_total); /* the final event */
                        ASSERT_EQ(last_done, (long long)json_object_get_int64(json_object_object_get(m, "bytes")));
                }
                return m;
        }
}

