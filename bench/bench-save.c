// SPDX-License-Identifier: MIT
/* Saved state (docs/vm-state.md, issue #19), ours beside QEMU's in the same
 * run. Two guests of 128 MiB:
 *   - idle: tests' tg_vmwp_irq, a PVH ELF idling in HLT with its interrupts
 *     set up; QEMU runs the same ELF, so these rows compare like with like.
 *   - mid-I/O: our test guest (guest-vsc, vsc.mode=disk-check) writing and
 *     verifying a pattern on a storvsp disk; the save lands while its writes
 *     run (after its region list, before its "disk_write" line), the
 *     restored worker finishes the run and the bench checks that the guest
 *     read back and compared every byte ("result=ok"), so each round also
 *     proves the restore. QEMU 7.2 cannot run that guest's I/O (it has no
 *     storvsp, and our guest has no virtio driver): its column on these rows
 *     is its idle guest's, said so in the metric name.
 * Rows, medians over ROUNDS rounds (each round also on stderr):
 *   - save: pause -> the state durable on disk. vmwp: the control op "save"
 *     with a file's fd (it pauses, writes, fdatasyncs) until its reply.
 *     QEMU -M microvm without firmware: QMP stop, migrate "exec:cat > FILE"
 *     until query-migrate says completed, then fsync.
 *   - restore: exec of the process -> the guest runs again. vmwp: the
 *     config message with the state's fd until the restored vCPU 0 entered
 *     KVM_RUN (vmwp --timing's "guest" phase: the first guest instruction
 *     as near as the host can see it), and until "ready". QEMU: exec with
 *     -incoming "exec:cat FILE", QMP cont, until query-status says running.
 *   - pause -> resume: vmwp's pause and resume ops (vCPUs and every device)
 *     until the resume's reply; QEMU's stop and cont.
 *   - the state file's size; mid-I/O: the completions of disk I/O in flight
 *     that the save's quiesce waited for and carried in the state (storvsp).
 * QEMU rows are skipped (baseline -) when qemu-system-x86_64 is missing. */
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
#include "qmp.h"
#include "worker.h"
#include "common/proto.h"

#define ROUNDS 5
#define PAUSES 20
#define GUEST_MIB 128u
/* The mid-I/O guest: 16 regions of 4 MiB written, flushed, read back and
 * compared on a 1 GiB sparse disk. */
#define IO_CMDLINE "vsc.mode=disk-check vsc.disk.regions=16 vsc.disk.region_kib=4096"
#define IO_DISK_BYTES (1ll << 30)

static char build_dir[PATH_MAX - 64], dir[] = "/tmp/bench-save-XXXXXX";

static double ms_since(uint64_t t0) {
        return (double)(bench_now_ns() - t0) / 1e6;
}

/* ---- vmwp ---- */

struct round {
        double save_ms, restore_ms, ready_ms, pause_ms, size_mib, held;
        uint64_t restore_t0; /* the restoring worker's fork */
};

/* Saves the running worker w into a new file; restores it in a new worker
 * (restored) and times both. Returns the state fd (-1: failed). */
static int save_restore(struct bench_worker *w, const char *cfg_restore, int *fds, size_t n_fds, const char *serial,
                        const char *name, struct bench_worker *restored, struct round *r) {
        char state[PATH_MAX];
        snprintf(state, sizeof state, "%s/%s.vmrs", dir, name);
        int fd = open(state, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        uint64_t t0 = bench_now_ns();
        bool ok = fd >= 0 && bench_worker_request(w->sock, "save", 3, fd);
        r->save_ms = ms_since(t0);
        r->held = (double)bench_worker_stat(w, "storvsp_held");
        struct stat st;
        r->size_mib = fd >= 0 && fstat(fd, &st) == 0 ? (double)st.st_size / 1048576.0 : 0;
        bench_worker_end(w, true);
        if (!ok) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        fds[n_fds] = fd;
        r->restore_t0 = bench_now_ns();
        ok = bench_worker_start(restored, build_dir, dir, cfg_restore, fds, n_fds + 1, serial, name);
        r->ready_ms = ms_since(r->restore_t0);
        close(fd);
        return ok ? 0 : -1;
}

/* The restored vCPU 0's first KVM_RUN, from --timing at the worker's exit. */
static bool restore_first_run(struct bench_worker *w, struct round *r) {
        uint64_t g = bench_phase_ns(bench_slurp(w->err), "guest");
        r->restore_ms = g > r->restore_t0 ? (double)(g - r->restore_t0) / 1e6 : -1;
        if (r->restore_ms < 0)
                fprintf(stderr, "bench-save: no \"guest\" phase from the restored worker: %s\n", bench_slurp(w->err));
        return r->restore_ms > 0;
}

static bool ours_idle(struct round *r) {
        char cfg[PATH_MAX + 512], cfg_restore[PATH_MAX + 600];
        snprintf(cfg, sizeof cfg,
                 "{\"op\":\"config\",\"config\":{\"name\":\"bench\",\"memory_mib\":%u,\"vcpus\":1,\"boot\":{"
                 "\"kind\":\"pvh\",\"kernel\":\"%s/tests/tg_vmwp_irq.elf\",\"cmdline\":\"\"}}",
                 GUEST_MIB, build_dir);
        snprintf(cfg_restore, sizeof cfg_restore, "%s,\"files\":[\"saved_state\"]}", cfg);
        strcat(cfg, "}");
        struct bench_worker w, rw;
        if (!bench_worker_start(&w, build_dir, dir, cfg, NULL, 0, NULL, "idle"))
                return false;
        usleep(100 * 1000); /* the guest set itself up and idles */
        double p[PAUSES];
        for (int i = 0; i < PAUSES; i++) {
                uint64_t t0 = bench_now_ns();
                if (!bench_worker_request(w.sock, "pause", 1, -1) || !bench_worker_request(w.sock, "resume", 2, -1))
                        return false;
                p[i] = ms_since(t0);
        }
        r->pause_ms = bench_median(p, PAUSES);
        int fds[1];
        if (save_restore(&w, cfg_restore, fds, 0, NULL, "idle-restored", &rw, r) < 0)
                return false;
        bench_worker_end(&rw, true);
        return restore_first_run(&rw, r);
}

/* The mid-I/O round: boot the disk-check guest, save while its writes
 * run, restore, let it finish and check its result. */
static bool ours_io(struct round *r) {
        char disk[PATH_MAX], serial[PATH_MAX], serial2[PATH_MAX];
        snprintf(disk, sizeof disk, "%s/disk.img", dir);
        snprintf(serial, sizeof serial, "%s/io.serial", dir);
        snprintf(serial2, sizeof serial2, "%s/io-restored.serial", dir);
        int dfd = open(disk, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (dfd < 0 || ftruncate(dfd, IO_DISK_BYTES) < 0)
                return false;
        char cfg[3 * PATH_MAX], cfg_restore[3 * PATH_MAX + 64];
        snprintf(cfg, sizeof cfg,
                 "{\"op\":\"config\",\"config\":{\"name\":\"bench-io\",\"memory_mib\":%u,\"vcpus\":1,\"boot\":{"
                 "\"kind\":\"pvh\",\"kernel\":\"%s/guest-vsc/guest/vsc-guest.elf\",\"cmdline\":\"%s\"},"
                 "\"disks\":[{\"path\":\"%s\"}]}",
                 GUEST_MIB, build_dir, IO_CMDLINE, disk);
        snprintf(cfg_restore, sizeof cfg_restore, "%s,\"files\":[\"saved_state\"]}", cfg);
        strcat(cfg, "}");
        struct bench_worker w, rw;
        int fds[2] = { dfd, -1 };
        bool ok = bench_worker_start(&w, build_dir, dir, cfg, fds, 1, serial, "io");
        /* Every region listed: the writes start now; give them 20 ms. */
        ok = ok && bench_wait_text(serial, "VSC disk_region=0:0 index=15 ", 60000);
        usleep(20 * 1000);
        if (ok && strstr(bench_slurp(serial), "VSC disk_write=")) {
                fprintf(stderr, "bench-save: the guest finished its writes before the save\n");
                ok = false;
        }
        if (!ok) {
                bench_worker_end(&w, true);
                fprintf(stderr, "bench-save: mid-I/O guest: %s\n", bench_slurp(serial));
                return false;
        }
        if (save_restore(&w, cfg_restore, fds, 1, serial2, "io-restored", &rw, r) < 0)
                return false;
        close(dfd);
        bench_worker_end(&rw, false); /* the guest finishes and powers off */
        if (!restore_first_run(&rw, r))
                return false;
        const char *out = bench_slurp(serial2);
        if (rw.status != 0 || !strstr(out, "VSC disk_read=0:0 regions=16 bytes=67108864 ") ||
            !strstr(out, " compared=1\n") || !strstr(out, "VSC result=ok status=0")) {
                fprintf(stderr, "bench-save: the restored guest did not finish its check (exit %d): %s\n", rw.status,
                        out);
                return false;
        }
        return true;
}

/* ---- QEMU through QMP ---- */

static bool qemu_start(struct qmp *q, const char *incoming) {
        char sock[PATH_MAX], kernel[PATH_MAX];
        snprintf(sock, sizeof sock, "%s/qmp.sock", dir);
        snprintf(kernel, sizeof kernel, "%s/tests/tg_vmwp_irq.elf", build_dir);
        return qmp_qemu_start(q, sock, kernel, GUEST_MIB, incoming, NULL);
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
                  qmp_wait_for(&q, "{\"execute\":\"query-migrate\"}", "status", "completed");
        int fd = open(state, O_RDONLY | O_CLOEXEC);
        ok = ok && fd >= 0 && fsync(fd) == 0;
        *save_ms = ms_since(t0);
        struct stat st;
        *size_mib = fd >= 0 && fstat(fd, &st) == 0 ? (double)st.st_size / 1048576.0 : 0;
        if (fd >= 0)
                close(fd);
        qmp_qemu_end(&q);
        if (!ok)
                return false;
        t0 = bench_now_ns();
        ok = qemu_start(&q, incoming) && qmp_wait_for(&q, "{\"execute\":\"query-migrate\"}", "status", "completed") &&
             qmp_ok(&q, "{\"execute\":\"cont\"}") && qmp_wait_for(&q, "{\"execute\":\"query-status\"}", "status", "running");
        *restore_ms = ms_since(t0);
        qmp_qemu_end(&q);
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
        fprintf(stderr, "bench-save: mid-I/O rows: QEMU cannot run the guest's VMBus disk I/O; its column is its "
                        "idle guest's\n");
        enum { S, R, Y, P, Z, H, N_COL };
        double o[N_COL][ROUNDS], io[N_COL][ROUNDS], qm[N_COL][ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
                struct round a = { 0 }, b = { 0 }, c = { 0 };
                if (!ours_idle(&a) || !ours_io(&b)) {
                        fprintf(stderr, "bench-save: round %d of vmwp failed (is %s/vmwp/vmwp built?)\n", i, build_dir);
                        return 1;
                }
                if (q && !qemu(&c.save_ms, &c.restore_ms, &c.pause_ms, &c.size_mib)) {
                        fprintf(stderr, "bench-save: round %d of QEMU failed: no baseline\n", i);
                        q = false;
                }
                const struct round *rs[3] = { &a, &b, &c };
                double(*cols[3])[ROUNDS] = { o, io, qm };
                for (int k = 0; k < 3; k++) {
                        cols[k][S][i] = rs[k]->save_ms, cols[k][R][i] = rs[k]->restore_ms;
                        cols[k][Y][i] = rs[k]->ready_ms, cols[k][P][i] = rs[k]->pause_ms;
                        cols[k][Z][i] = rs[k]->size_mib, cols[k][H][i] = rs[k]->held;
                }
                fprintf(stderr,
                        "round %d: save idle %.2f ms, mid-I/O %.2f ms (%.0f completions held) (QEMU idle %.2f); "
                        "restore -> first KVM_RUN idle %.2f ms, mid-I/O %.2f ms (-> ready %.2f, %.2f) (QEMU -> "
                        "running %.2f); pause->resume %.3f ms (QEMU %.3f); file idle %.2f MiB, mid-I/O %.2f MiB "
                        "(QEMU %.2f)\n",
                        i, a.save_ms, b.save_ms, b.held, q ? c.save_ms : -1, a.restore_ms, b.restore_ms, a.ready_ms,
                        b.ready_ms, q ? c.restore_ms : -1, a.pause_ms, q ? c.pause_ms : -1, a.size_mib, b.size_mib,
                        q ? c.size_mib : -1);
        }
#define MED(col, k) bench_median(col[k], ROUNDS)
#define QMED(k) (q ? bench_median(qm[k], ROUNDS) : -1)
        bench_result("save: pause -> state durable, idle 128 MiB guest", MED(o, S), QMED(S), "ms", "<= 60, <= 0.2x",
                     "lower");
        bench_result("save: mid-I/O 128 MiB guest (QEMU: idle)", MED(io, S), QMED(S), "ms", "<= 60, <= 0.2x",
                     "lower");
        bench_result("restore: exec -> first KVM_RUN, idle (QEMU: running)", MED(o, R), QMED(R), "ms",
                     "<= 10, <= 0.2x", "lower");
        bench_result("restore: exec -> first KVM_RUN, mid-I/O (QEMU: idle)", MED(io, R), QMED(R), "ms",
                     "<= 10, <= 0.2x", "lower");
        bench_result("restore: exec -> ready event, mid-I/O (QEMU: idle)", MED(io, Y), QMED(R), "ms", "-", "lower");
        bench_result("pause -> resume", MED(o, P), QMED(P), "ms", "<= 1", "lower");
        bench_result("saved state file, idle", MED(o, Z), QMED(Z), "MiB", "-", "lower");
        bench_result("saved state file, mid-I/O (QEMU: idle)", MED(io, Z), QMED(Z), "MiB", "-", "lower");
        bench_result("mid-I/O: disk completions the save waited for", MED(io, H), -1, "count", "-", "-");
        if (getenv("BENCH_SAVE_KEEP")) { /* the workers' --timing lines, for a closer look */
                fprintf(stderr, "bench-save: files kept in %s\n", dir);
                return 0;
        }
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : 1;
}
