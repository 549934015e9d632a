// SPDX-License-Identifier: MIT
/* websockify as vmdisplay's child (include/vmdisplay/web.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "vmdisplay/web.h"

/* "/" opens the console: noVNC connects at once (the password is asked),
 * scales the screen to the window, comes back after a restart, and shows
 * a dot for the pointer (we send no cursor shape). */
static const char index_html[] =
        "<!DOCTYPE html>\n<meta charset=\"utf-8\">\n<title>Console</title>\n"
        "<meta http-equiv=\"refresh\" content=\"0; url=vnc.html?autoconnect=true&amp;resize=scale&amp;"
        "reconnect=true&amp;show_dot=true\">\n"
        "<a href=\"vnc.html?autoconnect=true&amp;resize=scale&amp;reconnect=true&amp;show_dot=true\">The "
        "console</a>\n";

/* Empties our directory of what an earlier run left: links and files. */
static int clear_root(int dfd) {
        DIR *d = fdopendir(dup(dfd));
        if (!d)
                return -errno;
        int r = 0;
        for (struct dirent *e; (e = readdir(d));)
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && unlinkat(dfd, e->d_name, 0) < 0)
                        r = -errno;
        closedir(d);
        return r;
}

/* Links every entry of noVNC's directory into ours, then the index. */
static int fill_root(int dfd, const char *novnc_dir) {
        DIR *d = opendir(novnc_dir);
        if (!d)
                return -errno;
        int r = 0;
        char target[PATH_MAX];
        for (struct dirent *e; r == 0 && (e = readdir(d));) {
                if (e->d_name[0] == '.' || strcmp(e->d_name, "index.html") == 0)
                        continue;
                snprintf(target, sizeof target, "%s/%s", novnc_dir, e->d_name);
                if (symlinkat(target, dfd, e->d_name) < 0)
                        r = -errno;
        }
        closedir(d);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = openat(dfd, "index.html", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        return write_full(fd, index_html, sizeof index_html - 1);
}

static int make_root(struct vmd_web *w, const char *novnc_dir, const char *unix_target) {
        if ((size_t)snprintf(w->root, sizeof w->root, "%s.web", unix_target) >= sizeof w->root)
                return -ENAMETOOLONG;
        if (mkdir(w->root, 0755) < 0 && errno != EEXIST)
                return -errno;
        _cleanup_close_ int dfd = open(w->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        int r = clear_root(dfd);
        return r < 0 ? r : fill_root(dfd, novnc_dir);
}

/* In the child, between fork and exec: vmdisplay is single-threaded, so
 * anything goes here, but nothing of it returns. */
_Noreturn static void exec_websockify(pid_t parent, char *const argv[]) {
        /* websockify must not outlive us: it would keep the port, and
         * forward to a socket nobody serves. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* we block signals for our signalfd */
        signal(SIGPIPE, SIG_DFL);
        /* Its request log goes where ours goes; stdout is no one's. */
        if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
                _exit(127);
        execv(argv[0], argv);
        fprintf(stderr, "vmdisplay: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
}

int vmd_web_start(struct vmd_web *w, const char *websockify, const char *novnc_dir, const char *listen,
                  const char *unix_target, const char *cert, const char *key) {
        char page[PATH_MAX];
        snprintf(page, sizeof page, "%s/vnc.html", novnc_dir);
        if (access(websockify, X_OK) < 0 || access(page, R_OK) < 0)
                return -ENOENT;
        int r = make_root(w, novnc_dir, unix_target);
        if (r < 0)
                return r;
        char web_arg[PATH_MAX + 8], target_arg[PATH_MAX + 16], cert_arg[PATH_MAX + 8], key_arg[PATH_MAX + 8];
        snprintf(web_arg, sizeof web_arg, "--web=%s", w->root);
        snprintf(target_arg, sizeof target_arg, "--unix-target=%s", unix_target);
        snprintf(cert_arg, sizeof cert_arg, "--cert=%s", cert ? cert : "");
        snprintf(key_arg, sizeof key_arg, "--key=%s", key ? key : "");
        char *argv[9];
        size_t n = 0;
        argv[n++] = (char *)websockify;
        argv[n++] = web_arg;
        argv[n++] = target_arg;
        if (cert) { /* TLS only: a plain request is refused, not served */
                argv[n++] = cert_arg;
                if (key)
                        argv[n++] = key_arg;
                argv[n++] = (char *)"--ssl-only";
        }
        argv[n++] = (char *)listen;
        argv[n] = NULL;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                exec_websockify(parent, argv);
        w->pid = pid;
        return 0;
}

bool vmd_web_exited(struct vmd_web *w, int *status) {
        if (w->pid <= 0)
                return false;
        pid_t r = waitpid(w->pid, status, WNOHANG);
        if (r != w->pid)
                return false;
        w->pid = 0;
        return true;
}

static void remove_root(struct vmd_web *w) {
        if (!w->root[0])
                return;
        int dfd = open(w->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0) {
                (void)clear_root(dfd);
                close(dfd);
        }
        (void)rmdir(w->root);
        w->root[0] = 0;
}

void vmd_web_stop(struct vmd_web *w) {
        if (w->pid > 0) {
                kill(w->pid, SIGTERM);
                int i;
                for (i = 0; i < 200 && waitpid(w->pid, NULL, WNOHANG) != w->pid; i++)
                        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
                if (i == 200) {
                        kill(w->pid, SIGKILL);
                        waitpid(w->pid, NULL, 0);
                }
                w->pid = 0;
        }
        remove_root(w);
}
