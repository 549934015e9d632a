// SPDX-License-Identifier: MIT
/* A vmwp under a control socket for the benchmarks (worker.h). */
#include "worker.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proto.h"

struct json_object *bench_worker_recv(int sock, int timeout_ms) {
        struct pollfd p = { .fd = sock, .events = POLLIN };
        struct json_object *m = NULL;
        if (poll(&p, 1, timeout_ms) <= 0 || proto_recv(sock, &m, NULL, 0, NULL) < 0)
                return NULL;
        return m;
}

static struct json_object *reply_to(int sock, int id) {
        for (;;) {
                struct json_object *m = bench_worker_recv(sock, 30000), *v;
                if (!m)
                        return NULL;
                if (json_object_object_get_ex(m, "id", &v) && json_object_get_int(v) == id)
                        return m;
                json_object_put(m);
        }
}

struct json_object *bench_worker_call(int sock, const char *request, int id, const int *fds, size_t n_fds) {
        struct json_object *req = json_tokener_parse(request), *rep = NULL, *ok;
        bool good = req && proto_send(sock, req, n_fds ? fds : NULL, n_fds) == 0 && (rep = reply_to(sock, id)) &&
                    json_object_object_get_ex(rep, "ok", &ok) && json_object_get_boolean(ok);
        if (!good)
                fprintf(stderr, "bench: %s: %s\n", request, rep ? json_object_to_json_string(rep) : "no reply");
        json_object_put(req);
        if (!good) {
                json_object_put(rep);
                return NULL;
        }
        return rep;
}

bool bench_worker_request(int sock, const char *op, int id, int fd) {
        char buf[96];
        snprintf(buf, sizeof buf, "{\"op\":\"%s\",\"id\":%d}", op, id);
        struct json_object *rep = bench_worker_call(sock, buf, id, &fd, fd >= 0 ? 1 : 0);
        json_object_put(rep);
        return rep != NULL;
}

long long bench_worker_stat(struct bench_worker *w, const char *key) {
        struct json_object *rep = bench_worker_call(w->sock, "{\"op\":\"stats\",\"id\":7}", 7, NULL, 0), *v;
        long long n = rep && json_object_object_get_ex(rep, key, &v) ? json_object_get_int64(v) : -1;
        json_object_put(rep);
        return n;
}

bool bench_worker_start(struct bench_worker *w, const char *build_dir, const char *dir, const char *cfg,
                        const int *fds, size_t n_fds, const char *serial, const char *name) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return false;
        char vmwp[4096], spec[4096 + 8];
        snprintf(vmwp, sizeof vmwp, "%s/vmwp/vmwp", build_dir);
        snprintf(spec, sizeof spec, "file:%s", serial ? serial : "/dev/null");
        snprintf(w->err, sizeof w->err, "%s/%s.err", dir, name);
        w->pid = fork();
        if (w->pid == 0) {
                int null = open("/dev/null", O_RDWR), err = open(w->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                if (null < 0 || err < 0 || dup2(sv[1], 3) < 0 || dup2(null, 1) < 0 || dup2(err, 2) < 0)
                        _exit(127);
                execl(vmwp, "vmwp", "--control-fd", "3", "--serial", spec, "--timing", (char *)NULL);
                _exit(127);
        }
        close(sv[1]);
        w->sock = sv[0];
        struct json_object *m = json_tokener_parse(cfg), *ev = NULL, *v;
        bool ok = m && proto_send(w->sock, m, n_fds ? fds : NULL, n_fds) == 0;
        json_object_put(m);
        ok = ok && (ev = bench_worker_recv(w->sock, 30000)) && json_object_object_get_ex(ev, "event", &v) &&
             !strcmp(json_object_get_string(v), "ready");
        if (!ok && ev)
                fprintf(stderr, "bench: worker %s: %s\n", name, json_object_to_json_string(ev));
        json_object_put(ev);
        return ok;
}

void bench_worker_end(struct bench_worker *w, bool stop) {
        if (stop)
                (void)bench_worker_request(w->sock, "stop", 99, -1);
        for (struct json_object *m, *v; !stop && (m = bench_worker_recv(w->sock, 120000));) {
                bool end = json_object_object_get_ex(m, "event", &v) && !strcmp(json_object_get_string(v), "exit");
                json_object_put(m);
                if (end)
                        break;
        }
        close(w->sock);
        int st;
        waitpid(w->pid, &st, 0);
        w->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *bench_slurp(const char *path) {
        static char buf[65536];
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
                fclose(f);
        buf[n] = 0;
        return buf;
}

bool bench_wait_text(const char *path, const char *text, int timeout_ms) {
        for (int i = 0; i < timeout_ms; i++) {
                if (strstr(bench_slurp(path), text))
                        return true;
                usleep(1000);
        }
        return false;
}
