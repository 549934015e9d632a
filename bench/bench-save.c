// SPDX-License-Identifier: MIT
/* Saved state (docs/vm-state.md, issue #19), ours beside QEMU's in the same
 * run, on the same 128 MiB guest (tests' tg_vmwp_irq: a PVH ELF that idles
 * in HLT with its interrupts set up):
 *   - save: pause -> the state durable on disk. vmwp: the control op
 *     "save" with a file's fd (it pauses, writes, fdatasyncs) until its
 *     reply. QEMU 7.2 -M microvm without firmware: QMP stop, migrate
 *     "exec:cat > FILE" until query-migrate says completed, then fsync.
 *   - restore: exec of the process -> the guest runs again. vmwp: the
 *     config message with the state's fd until "ready" (the vCPUs are
 *     started). QEMU: exec with -incoming "exec:cat FILE", QMP cont, until
 *     query-status says running.
 *   - pause -> resume: vmwp's pause and resume ops (vCPUs and every
 *     device) until the resume's reply; QEMU's stop and cont.
 *   - the state file's size.
 * Medians over ROUNDS rounds; each row also per round on stderr. QEMU rows
 * are skipped (baseline -) when qemu-system-x86_64 is missing. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "common/proto.h"

#define ROUNDS 5
#define PAUSES 20
#define GUEST_MIB 128u

static char build_dir[PATH_MAX - 64], dir[] = "/tmp/bench-save-XXXXXX";

static double ms_since(uint64_t t0) {
        return (double)(bench_now_ns() - t0) / 1e6;
}

/* ---- vmwp ---- */

struct worker {
        pid_t pid;
        int sock;
};

static struct json_object *recv_msg(int sock, int timeout_ms) {
        struct pollfd p = { .fd = sock, .events = POLLIN };
        struct json_object *m = NULL;
        if (poll(&p, 1, timeout_ms) <= 0 || proto_recv(sock, &m, NULL, 0, NULL) < 0)
                return NULL;
        return m;
}

/* The reply to the request with id (events before it skipped). */
static struct json_object *reply_to(int sock, int id) {
        for (;;) {
                struct json_object *m = recv_msg(sock, 30000), *v;
                if (!m)
                        return NULL;
                if (json_object_object_get_ex(m, "id", &v) && json_object_get_int(v) == id)
                        return m;
                json_object_put(m);
        }
}

static bool request(int sock, const char *op, int id, int fd) {
        char buf[96];
        snprintf(buf, sizeof buf, "{\"op\":\"%s\",\"id\":%d}", op, id);
        struct json_object *req = json_tokener_parse(buf), *rep = NULL, *ok;
        bool good = req && proto_send(sock, req, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0) == 0 &&
                    (rep = reply_to(sock, id)) && json_object_object_get_ex(rep, "ok", &ok) &&
                    json_object_get_boolean(ok);
        if (rep && !good)
                fprintf(stderr, "bench-save: %s: %s\n", op, json_object_to_json_string(rep));
        json_object_put(req);
        json_object_put(rep);
        return good;
}

/* A worker under a control socket; with state_fd >= 0 it restores. Returns
 * once "ready" came (false on anything else). */
static bool worker_start(struct worker *w, int state_fd) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return false;
        char vmwp[PATH_MAX];
        snprintf(vmwp, sizeof vmwp, "%s/vmwp/vmwp", build_dir);
        w->pid = fork();
        if (w->pid == 0) {
                dup2(sv[1], 3);
                int null = open("/dev/null", O_RDWR);
                dup2(null, 1);
                execl(vmwp, "vmwp", "--control-fd", "3", (char *)NULL);
                _exit(127);
        }
        close(sv[1]);
        w->sock = sv[0];
        char cfg[PATH_MAX + 512];
        snprintf(cfg, sizeof cfg,
                 "{\"op\":\"config\",\"config\":{\"name\":\"bench\",\"memory_mib\":%u,\"vcpus\":1,\"boot\":{\"kind\":"
                 "\"pvh\",\"kernel\":\"%s/tests/tg_vmwp_irq.elf\",\"cmdline\":\"\"}}%s}",
                 GUEST_MIB, build_dir, state_fd >= 0 ? ",\"files\":[\"saved_state\"]" : "");
        struct json_object *m = json_tokener_parse(cfg), *ev, *v;
        bool ok = m && proto_send(w->sock, m, state_fd >= 0 ? &state_fd : NULL, state_fd >= 0 ? 1 : 0) == 0;
        json_object_put(m);
        ok = ok && (ev = recv_msg(w->sock, 30000)) && json_object_object_get_ex(ev, "event", &v) &&
             !strcmp(json_object_get_string(v), "ready");
        return ok;
}

static void worker_end(struct worker *w) {
        (void)request(w->sock, "stop", 99, -1);
        close(w->sock);
        int st;
        waitpid(w->pid, &st, 0);
}

static bool ours(double *save_ms, double *restore_ms, double *pause_ms, double *size_mib) {
        char state[PATH_MAX];
        snprintf(state, sizeof state, "%s/ours.vmrs", dir);
        struct worker w;
        if (!worker_start(&w, -1))
                return false;
        usleep(100 * 1000); /* the guest set itself up and idles */
        double p[PAUSES];
        for (int i = 0; i < PAUSES; i++) {
                uint64_t t0 = bench_now_ns();
                if (!request(w.sock, "pause", 1, -1) || !request(w.sock, "resume", 2, -1))
                        return false;
                p[i] = ms_since(t0);
        }
        *pause_ms = bench_median(p, PAUSES);
        int fd = open(state, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        uint64_t t0 = bench_now_ns();
        bool ok = fd >= 0 && request(w.sock, "save", 3, fd);
        *save_ms = ms_since(t0);
        struct stat st;
        *size_mib = fd >= 0 && fstat(fd, &st) == 0 ? (double)st.st_size / 1048576.0 : 0;
        worker_end(&w);
        if (!ok)
                return false;
        t0 = bench_now_ns();
        ok = worker_start(&w, fd);
        *restore_ms = ms_since(t0);
        close(fd);
        worker_end(&w);
        return ok;
}

/* ---- QEMU through QMP ---- */

struct qmp {
        pid_t pid;
        FILE *f;
};

/* The next line that is not an event. */
static struct json_object *qmp_read(struct qmp *q) {
        char line[65536];
        while (fgets(line, sizeof line, q->f)) {
                struct json_object *o = json_tokener_parse(line), *v;
                if (o && !json_object_object_get_ex(o, "event", &v))
                        return o;
                json_object_put(o);
        }
        return NULL;
}

static struct json_object *qmp_cmd(struct qmp *q, const char *json) {
        fprintf(q->f, "%s\n", json);
        fflush(q->f);
        return qmp_read(q);
}

static bool qmp_ok(struct qmp *q, const char *json) {
        struct json_object *r = qmp_cmd(q, json), *v;
        bool ok = r && json_object_object_get_ex(r, "return", &v);
        json_object_put(r);
        return ok;
}

/* -1: failed, 0: in progress, 1: the field holds want. */
static int qmp_status(struct qmp *q, const char *cmd, const char *field, const char *want) {
        struct json_object *r = qmp_cmd(q, cmd), *ret, *v;
        int res = -1;
        if (r && json_object_object_get_ex(r, "return", &ret)) {
                const char *s = json_object_object_get_ex(ret, field, &v) ? json_object_get_string(v) : "";
                res = !strcmp(s, want) ? 1 : !strcmp(s, "failed") ? -1 : 0;
        }
        json_object_put(r);
        return res;
}

static bool qemu_start(struct qmp *q, const char *incoming) {
        char sock[PATH_MAX], kernel[PATH_MAX], qmparg[PATH_MAX + 32];
        snprintf(sock, sizeof sock, "%s/qmp.sock", dir);
        snprintf(kernel, sizeof kernel, "%s/tests/tg_vmwp_irq.elf", build_dir);
        snprintf(qmparg, sizeof qmparg, "unix:%s,server=on,wait=off", sock);
        unlink(sock);
        char mem[16];
        snprintf(mem, sizeof mem, "%u", GUEST_MIB);
        q->pid = fork();
        if (q->pid == 0) {
                int null = open("/dev/null", O_RDWR);
                dup2(null, 0), dup2(null, 1), dup2(null, 2);
                const char *args[] = { "qemu-system-x86_64", "-M", "microvm,x-option-roms=off,rtc=off", "-enable-kvm",
                                       "-cpu", "host", "-m", mem, "-kernel", kernel, "-nodefaults", "-no-user-config",
                                       "-display", "none", "-serial", "none", "-qmp", qmparg,
                                       incoming ? "-incoming" : NULL, incoming, NULL };
                execvp(args[0], (char **)args);
                _exit(127);
        }
        int s = -1;
        for (int i = 0; i < 3000 && s < 0; i++) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                memcpy(sa.sun_path, sock, strlen(sock) + 1);
                s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
                        close(s);
                        s = -1;
                        usleep(1000);
                }
        }
        if (s < 0 || !(q->f = fdopen(s, "r+")))
                return false;
        json_object_put(qmp_read(q)); /* the greeting */
        return qmp_ok(q, "{\"execute\":\"qmp_capabilities\"}");
}

static void qemu_end(struct qmp *q) {
        (void)qmp_ok(q, "{\"execute\":\"quit\"}");
        fclose(q->f);
        int st;
        waitpid(q->pid, &st, 0);
}

static bool wait_for(struct qmp *q, const char *cmd, const char *field, const char *want) {
        for (int i = 0; i < 30000; i++) {
                int r = qmp_status(q, cmd, field, want);
                if (r != 0)
                        return r > 0;
        }
        return false;
}

static bool qemu(double *save_ms, double *restore_ms, double *pause_ms, double *size_mib) {
        char state[PATH_MAX], migrate[PATH_MAX + 96], incoming[PATH_MAX + 32];
        snprintf(state, sizeof state, "%s/qemu.state", dir);
        snprintf(migrate, sizeof migrate, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > %s\"}}", state);
        snprintf(incoming, sizeof incoming, "exec:cat %s", state);
        struct qmp q;
        if (!qemu_start(&q, NULL))
                return false;
        usleep(100 * 1000);
        double p[PAUSES];
        for (int i = 0; i < PAUSES; i++) {
                uint64_t t0 = bench_now_ns();
                if (!qmp_ok(&q, "{\"execute\":\"stop\"}") || !qmp_ok(&q, "{\"execute\":\"cont\"}"))
                        return false;
                p[i] = ms_since(t0);
        }
        *pause_ms = bench_median(p, PAUSES);
        uint64_t t0 = bench_now_ns();
        bool ok = qmp_ok(&q, "{\"execute\":\"stop\"}") && qmp_ok(&q, migrate) &&
                  wait_for(&q, "{\"execute\":\"query-migrate\"}", "status", "completed");
        int fd = open(state, O_RDONLY | O_CLOEXEC);
        ok = ok && fd >= 0 && fsync(fd) == 0;
        *save_ms = ms_since(t0);
        struct stat st;
        *size_mib = fd >= 0 && fstat(fd, &st) == 0 ? (double)st.st_size / 1048576.0 : 0;
        if (fd >= 0)
                close(fd);
        qemu_end(&q);
        if (!ok)
                return false;
        t0 = bench_now_ns();
        ok = qemu_start(&q, incoming) && wait_for(&q, "{\"execute\":\"query-migrate\"}", "status", "completed") &&
             qmp_ok(&q, "{\"execute\":\"cont\"}") && wait_for(&q, "{\"execute\":\"query-status\"}", "status", "running");
        *restore_ms = ms_since(t0);
        qemu_end(&q);
        return ok;
}

static bool have_qemu(void) {
        return system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
}

int main(void) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0 || !mkdtemp(dir))
                return 1;
        self[n] = 0;
        *strrchr(self, '/') = 0; /* .../bench */
        *strrchr(self, '/') = 0; /* the build directory */
        if (strlen(self) >= sizeof build_dir)
                return 1;
        memcpy(build_dir, self, strlen(self) + 1);
        signal(SIGPIPE, SIG_IGN);
        bool q = have_qemu();
        if (!q)
                fprintf(stderr, "bench-save: qemu-system-x86_64 not installed: no baseline\n");
        double s[ROUNDS], r[ROUNDS], p[ROUNDS], z[ROUNDS], qs[ROUNDS], qr[ROUNDS], qp[ROUNDS], qz[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
                if (!ours(&s[i], &r[i], &p[i], &z[i])) {
                        fprintf(stderr, "bench-save: round %d of vmwp failed (is %s/vmwp/vmwp built?)\n", i, build_dir);
                        return 1;
                }
                if (q && !qemu(&qs[i], &qr[i], &qp[i], &qz[i])) {
                        fprintf(stderr, "bench-save: round %d of QEMU failed: no baseline\n", i);
                        q = false;
                }
                fprintf(stderr, "round %d: save %.2f ms (QEMU %.2f), restore %.2f ms (QEMU %.2f), pause->resume %.3f ms "
                                "(QEMU %.3f), file %.2f MiB (QEMU %.2f)\n",
                        i, s[i], q ? qs[i] : -1, r[i], q ? qr[i] : -1, p[i], q ? qp[i] : -1, z[i], q ? qz[i] : -1);
        }
        bench_result("save: pause -> state durable (128 MiB guest)", bench_median(s, ROUNDS),
                     q ? bench_median(qs, ROUNDS) : -1, "ms", "<= 60, <= 0.2x", "lower");
        bench_result("restore: exec -> guest running", bench_median(r, ROUNDS), q ? bench_median(qr, ROUNDS) : -1,
                     "ms", "<= 10, <= 0.2x", "lower");
        bench_result("pause -> resume", bench_median(p, ROUNDS), q ? bench_median(qp, ROUNDS) : -1, "ms", "<= 1",
                     "lower");
        bench_result("saved state file", bench_median(z, ROUNDS), q ? bench_median(qz, ROUNDS) : -1, "MiB", "-",
                     "lower");
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : 1;
}
