/* SPDX-License-Identifier: MIT */
/* A vmwp process for component tests: started with a test's arguments,
 * waited for with a deadline, its stderr collected. */
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/test.h"

struct vmwp_child {
        pid_t pid;
        int err_fd, out_fd; /* out_fd -1: stdout went to /dev/null */
};

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
