// SPDX-License-Identifier: MIT
/* A VM's checkpoint files in vmms's state directory (docs/checkpoints.md
 * "Files"): <state-dir>/<id>.checkpoints/index.json (the tree, written
 * atomically) and <checkpoint id>.vmrs (a checkpoint's saved state), root's
 * and 0600 like every file there; and the thread a long merge runs on. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "core/daemon.h"

int vmms_ckpt_dir(const struct vmms_vm *vm, const char *file, char *buf, size_t len) {
        int n = snprintf(buf, len, "%s/%s.checkpoints%s%s", vm->d->opt.state_dir, vm->id, file ? "/" : "",
                         file ? file : "");
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vmms_ckpt_state_path(const struct vmms_vm *vm, const struct guid *id, bool tmp, char *buf, size_t len) {
        char g[GUID_STRING_MAX], name[GUID_STRING_MAX + 16];
        snprintf(name, sizeof name, "%s.vmrs%s", guid_to_string(id, g), tmp ? ".tmp" : "");
        return vmms_ckpt_dir(vm, name, buf, len);
}

int vmms_ckpt_load(struct vmms_vm *vm) {
        char path[PATH_MAX], err[512];
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = vmms_ckpt_dir(vm, "index.json", path, sizeof path);
        if (r < 0)
                return r;
        vmms_checkpoints_clear(vm->ckpts); /* vmms_vm_new made it */
        vm->ckpts_damaged = false;
        r = read_file(path, VMMS_CHECKPOINTS_FILE_MAX, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r >= 0)
                r = vmms_checkpoints_parse(text, len, vm->ckpts, err, sizeof err);
        else
                snprintf(err, sizeof err, "%s", strerror(-r));
        if (r < 0) {
                /* Kept as it is for someone to look at: no checkpoint
                 * operation may write over it meanwhile. */
                vm->ckpts_damaged = true;
                return vmms_daemon_add_problem(vm->d, "%s: %s; the VM's checkpoints cannot be used", path, err);
        }
        return 0;
}

int vmms_ckpt_store(struct vmms_vm *vm) {
        char dir[PATH_MAX], path[PATH_MAX];
        int r = vmms_ckpt_dir(vm, NULL, dir, sizeof dir);
        if (r == 0)
                r = vmms_ckpt_dir(vm, "index.json", path, sizeof path);
        if (r < 0)
                return r;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        _cleanup_free_ char *json = vmms_checkpoints_to_json(vm->ckpts);
        if (!json)
                return -ENOMEM;
        return write_file_atomic(path, json, strlen(json), 0600);
}

void vmms_ckpt_remove_all(struct vmms_vm *vm) {
        char dir[PATH_MAX], path[PATH_MAX * 2];
        if (vmms_ckpt_dir(vm, NULL, dir, sizeof dir) < 0)
                return;
        DIR *d = opendir(dir);
        if (!d)
                return;
        for (struct dirent *e; (e = readdir(d));) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                (void)unlink(path);
        }
        closedir(d);
        (void)rmdir(dir);
}

/* ---- the job thread ---- */

struct vmms_ckpt_job {
        struct vmms_vm *vm;
        int (*run)(void *arg, uint64_t *done, uint64_t *total);
        void (*done)(struct vmms_vm *vm, int r, void *arg);
        void *arg;
        pthread_t thread;
        bool joined;
        int efd;
        sd_event_source *src;
        int r;
        uint64_t done_bytes, total_bytes; /* written by the thread, read by the loop (atomics) */
};

static void *job_main(void *opaque) {
        struct vmms_ckpt_job *j = opaque;
        j->r = j->run(j->arg, &j->done_bytes, &j->total_bytes);
        uint64_t one = 1;
        (void)!write(j->efd, &one, sizeof one);
        return NULL;
}

static int on_job_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct vmms_ckpt_job *j = userdata;
        pthread_join(j->thread, NULL);
        j->joined = true;
        j->src = sd_event_source_disable_unref(j->src);
        j->done(j->vm, j->r, j->arg); /* may free j */
        return 0;
}

int vmms_ckpt_job_start(struct vmms_vm *vm, int (*run)(void *arg, uint64_t *done, uint64_t *total),
                        void (*done)(struct vmms_vm *vm, int r, void *arg), void *arg, struct vmms_ckpt_job **out) {
        struct vmms_ckpt_job *j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        *j = (struct vmms_ckpt_job){ .vm = vm, .run = run, .done = done, .arg = arg, .joined = true };
        j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int r = j->efd < 0 ? -errno : sd_event_add_io(vm->d->event, &j->src, j->efd, EPOLLIN, on_job_done, j);
        if (r >= 0)
                r = -pthread_create(&j->thread, NULL, job_main, j);
        if (r < 0) {
                j->src = sd_event_source_disable_unref(j->src);
                safe_close(j->efd);
                free(j);
                return r;
        }
        j->joined = false;
        *out = j;
        return 0;
}

void vmms_ckpt_job_progress(const struct vmms_ckpt_job *j, uint64_t *done, uint64_t *total) {
        *done = __atomic_load_n(&j->done_bytes, __ATOMIC_RELAXED);
        *total = __atomic_load_n(&j->total_bytes, __ATOMIC_RELAXED);
}

void vmms_ckpt_job_free(struct vmms_ckpt_job *j) {
        if (!j)
                return;
        if (!j->joined)
                pthread_join(j->thread, NULL);
        sd_event_source_disable_unref(j->src);
        safe_close(j->efd);
        free(j);
}
