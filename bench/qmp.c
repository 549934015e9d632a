// SPDX-License-Identifier: MIT
/* QMP client for the benchmarks' QEMU baseline (qmp.h). */
#include "qmp.h"

#include <fcntl.h>
#include <sched.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct json_object *qmp_read(struct qmp *q) {
        char line[65536];
        while (fgets(line, sizeof line, q->f)) {
                struct json_object *o = json_tokener_parse(line), *v;
                if (o && !json_object_object_get_ex(o, "event", &v))
                        return o;
                json_object_put(o);
        }
        return NULL;
}

struct json_object *qmp_cmd(struct qmp *q, const char *json) {
        fprintf(q->f, "%s\n", json);
        fflush(q->f);
        return qmp_read(q);
}

bool qmp_ok(struct qmp *q, const char *json) {
        struct json_object *r = qmp_cmd(q, json), *v;
        bool ok = r && json_object_object_get_ex(r, "return", &v);
        json_object_put(r);
        return ok;
}

int qmp_status(struct qmp *q, const char *cmd, const char *field, const char *want) {
        struct json_object *r = qmp_cmd(q, cmd), *ret, *v;
        int res = -1;
        if (r && json_object_object_get_ex(r, "return", &ret)) {
                const char *s = json_object_object_get_ex(ret, field, &v) ? json_object_get_string(v) : "";
                res = !strcmp(s, want) ? 1 : !strcmp(s, "failed") ? -1 : 0;
        }
        json_object_put(r);
        return res;
}

bool qmp_wait_for(struct qmp *q, const char *cmd, const char *field, const char *want) {
        for (int i = 0; i < 30000; i++) {
                int r = qmp_status(q, cmd, field, want);
                if (r != 0)
                        return r > 0;
        }
        return false;
}

bool qmp_qemu_start(struct qmp *q, const char *sock, const char *kernel, unsigned mem_mib, const char *incoming,
                    const char *qcow2) {
        return qmp_qemu_start_append(q, sock, kernel, mem_mib, incoming, qcow2, NULL);
}

bool qmp_qemu_start_append(struct qmp *q, const char *sock, const char *kernel, unsigned mem_mib,
                           const char *incoming, const char *qcow2, const char *append) {
        return qmp_qemu_start_opts(q, &(struct qmp_opts){ .sock = sock, .kernel = kernel, .mem_mib = mem_mib,
                                                          .incoming = incoming, .qcow2 = qcow2, .append = append });
}

bool qmp_qemu_start_opts(struct qmp *q, const struct qmp_opts *o) {
        char qmparg[sizeof ((struct sockaddr_un *)0)->sun_path + 32], mem[16], drive[4200], serial[PATH_MAX + 8];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *sock = o->sock;
        if (strlen(sock) >= sizeof sa.sun_path)
                return false;
        memcpy(sa.sun_path, sock, strlen(sock) + 1);
        snprintf(qmparg, sizeof qmparg, "unix:%s,server=on,wait=off", sock);
        snprintf(mem, sizeof mem, "%u", o->mem_mib);
        snprintf(drive, sizeof drive, "file=%s,if=none,id=d0,format=qcow2,cache=none,aio=io_uring",
                 o->qcow2 ? o->qcow2 : "");
        snprintf(serial, sizeof serial, "file:%s", o->serial ? o->serial : "");
        unlink(sock);
        q->f = NULL;
        q->pid = fork();
        if (q->pid < 0)
                return false;
        if (q->pid == 0) {
                int null = open("/dev/null", O_RDWR);
                dup2(null, 0), dup2(null, 1), dup2(null, 2);
                if (o->netns) {
                        int ns = open(o->netns, O_RDONLY | O_CLOEXEC);
                        if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
                                _exit(126);
                }
                /* -cpu host without arch-capabilities: the PVM host refuses it. */
                const char *args[40] = { "qemu-system-x86_64", "-M", "microvm,x-option-roms=off,rtc=off", "-enable-kvm",
                                         "-cpu", "host,-arch-capabilities", "-m", mem, "-kernel", o->kernel, "-nodefaults",
                                         "-no-user-config", "-display", "none", "-serial", o->serial ? serial : "none",
                                         "-qmp", qmparg };
                int n = 18;
                if (o->qcow2) {
                        args[n++] = "-drive", args[n++] = drive;
                        args[n++] = "-device", args[n++] = "virtio-blk-device,drive=d0";
                }
                if (o->incoming)
                        args[n++] = "-incoming", args[n++] = o->incoming;
                if (o->append)
                        args[n++] = "-append", args[n++] = o->append;
                for (size_t i = 0; o->extra && o->extra[i] && i < 8; i++)
                        args[n++] = o->extra[i];
                execvp(args[0], (char **)args);
                _exit(127);
        }
        int s = -1;
        for (int i = 0; i < 3000 && s < 0; i++) {
                s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
                        close(s);
                        s = -1;
                        usleep(1000);
                }
        }
        if (s < 0 || !(q->f = fdopen(s, "r+"))) {
                if (s >= 0)
                        close(s);
                kill(q->pid, SIGKILL);
                waitpid(q->pid, NULL, 0);
                return false;
        }
        json_object_put(qmp_read(q)); /* the greeting */
        return qmp_ok(q, "{\"execute\":\"qmp_capabilities\"}");
}

void qmp_qemu_end(struct qmp *q) {
        if (q->f) {
                (void)qmp_ok(q, "{\"execute\":\"quit\"}");
                fclose(q->f);
                q->f = NULL;
        }
        /* A quit that never arrived (its QMP reply lost among events) must
         * not hang the benchmark: 5 s, then SIGKILL. */
        for (int i = 0; i < 500; i++) {
                if (waitpid(q->pid, NULL, WNOHANG) == q->pid)
                        return;
                usleep(10000);
        }
        fprintf(stderr, "qmp: QEMU %d did not quit in 5 s: killed\n", (int)q->pid);
        kill(q->pid, SIGKILL);
        waitpid(q->pid, NULL, 0);
}
