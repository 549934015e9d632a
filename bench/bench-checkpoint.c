// SPDX-License-Identifier: MIT
/* Checkpoints of a running VM (docs/checkpoints.md, issue #21): how long
 * the guest is paused, ours beside QEMU 7.2's savevm in the same run.
 *
 * Ours: a 128 MiB guest on a 1 GiB dynamic VHDX disk, checkpointed as vmms
 * does it: the worker's save (vCPUs parked, devices quiesced, the state
 * written), a differencing child of the disk made with the vhdx library,
 * the worker's disk-push onto it, resume. The pause is from the save
 * request to the resume's reply. Two guests: idle (tests' tg_vmwp_irq,
 * in HLT) and mid-I/O (the test guest's disk-check: 64 regions of 4 MiB
 * written, flushed, read back and compared while the checkpoints land;
 * it must still finish with result=ok: nothing written before, across or
 * after a push is lost).
 *
 * QEMU: the idle guest under -M microvm without firmware with a 1 GiB
 * qcow2 virtio-blk disk; HMP savevm (internal snapshot: the VM stopped,
 * its state written into the qcow2 image, the disk snapshotted, resumed)
 * through QMP; the pause is the command's time. QEMU cannot run our VMBus
 * guest's I/O: the mid-I/O row's baseline is its idle figure.
 *
 * Target: a checkpoint pauses a running 128 MiB guest with a 1 GiB disk
 * <= 100 ms. */
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "qmp.h"
#include "vhdx/vhdx.h"
#include "worker.h"

#define ROUNDS 5
#define CKPTS 3 /* per guest and round */
#define GUEST_MIB 128u
#define DISK_BYTES (1ull << 30)
#define IO_CMDLINE "vsc.mode=disk-check vsc.disk.regions=64 vsc.disk.region_kib=4096"

static char build_dir[PATH_MAX - 64], dir[] = "/tmp/bench-checkpoint-XXXXXX";

static double ms_since(uint64_t t0) {
        return (double)(bench_now_ns() - t0) / 1e6;
}

static int new_file(const char *path) {
        unlink(path);
        return open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

/* A differencing child of parent (a synced image) at child, as vmms
 * makes it; its fd, read-write. */
static int make_child(const char *parent, const char *child) {
        char err[256];
        int pfd = open(parent, O_RDONLY | O_CLOEXEC), cfd = new_file(child);
        struct vhdx *p = NULL;
        const char *base = strrchr(parent, '/');
        struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent_relative = base ? base + 1 : parent };
        int r = pfd < 0 || cfd < 0 ? -1 : vhdx_open(pfd, 0, &p, err, sizeof err);
        if (r == 0) {
                o.parent = p;
                r = vhdx_create(cfd, &o, err, sizeof err);
        }
        if (r < 0)
                fprintf(stderr, "bench-checkpoint: child of %s: %s\n", parent, r == -1 ? "cannot open" : err);
        (void)vhdx_close(p);
        if (pfd >= 0)
                close(pfd);
        if (r < 0 && cfd >= 0)
                cfd = (close(cfd), -1);
        return cfd;
}

/* One checkpoint of the running worker whose disk 0 is at *top: the pause
 * in ms (-1: failed); *top becomes the child. */
static double checkpoint(struct bench_worker *w, char *top, size_t toplen, int n) {
        char state[PATH_MAX], child[PATH_MAX], req[128];
        snprintf(state, sizeof state, "%s/ckpt-%d.vmrs", dir, n);
        snprintf(child, sizeof child, "%s/disk_%d.avhdx", dir, n);
        int sfd = new_file(state);
        uint64_t t0 = bench_now_ns();
        bool ok = sfd >= 0 && bench_worker_request(w->sock, "save", 3, sfd);
        int cfd = ok ? make_child(top, child) : -1;
        snprintf(req, sizeof req, "{\"op\":\"disk-push\",\"id\":4,\"disks\":[0]}");
        struct json_object *rep = cfd >= 0 ? bench_worker_call(w->sock, req, 4, &cfd, 1) : NULL;
        ok = rep && bench_worker_request(w->sock, "resume", 5, -1);
        double ms = ms_since(t0);
        json_object_put(rep);
        if (sfd >= 0)
                close(sfd);
        if (cfd >= 0)
                close(cfd);
        snprintf(top, toplen, "%s", child);
        return ok ? ms : -1;
}

/* CKPTS checkpoints of one guest: the median pause into *ms. */
static bool ours(bool io, double *ms) {
        char disk[PATH_MAX], serial[PATH_MAX], cfg[4 * PATH_MAX], err[256];
        snprintf(disk, sizeof disk, "%s/disk.vhdx", dir);
        snprintf(serial, sizeof serial, "%s/%s.serial", dir, io ? "io" : "idle");
        int dfd = new_file(disk);
        struct vhdx_create_options o = { .type = VHDX_DYNAMIC, .virtual_size = DISK_BYTES };
        if (dfd < 0 || vhdx_create(dfd, &o, err, sizeof err) < 0)
                return fprintf(stderr, "bench-checkpoint: %s: cannot create\n", disk), false;
        char kernel[PATH_MAX];
        snprintf(kernel, sizeof kernel, io ? "%s/guest-vsc/guest/vsc-guest.elf" : "%s/tests/tg_vmwp_irq.elf",
                 build_dir);
        snprintf(cfg, sizeof cfg,
                 "{\"op\":\"config\",\"config\":{\"name\":\"bench-ckpt\",\"memory_mib\":%u,\"vcpus\":1,\"boot\":{"
                 "\"kind\":\"pvh\",\"kernel\":\"%s\",\"cmdline\":\"%s\"},\"disks\":[{\"path\":\"%s\"}]}}",
                 GUEST_MIB, kernel, io ? IO_CMDLINE : "", disk);
        struct bench_worker w;
        bool ok = bench_worker_start(&w, build_dir, dir, cfg, &dfd, 1, serial, io ? "io" : "idle");
        close(dfd);
        ok = ok && (io ? bench_wait_text(serial, "VSC disk_region=0:0 index=63 ", 60000) : (usleep(100000), true));
        double p[CKPTS];
        char top[PATH_MAX];
        snprintf(top, sizeof top, "%s", disk);
        for (int i = 0; ok && i < CKPTS; i++)
                ok = (p[i] = checkpoint(&w, top, sizeof top, i)) >= 0;
        if (ok && io && strstr(bench_slurp(serial), "VSC disk_read=")) {
                fprintf(stderr, "bench-checkpoint: the guest finished before the last checkpoint\n");
                ok = false;
        }
        bench_worker_end(&w, !io || !ok); /* the mid-I/O guest finishes and powers off */
        if (ok && io && (w.status != 0 || !strstr(bench_slurp(serial), " compared=1\n") ||
                         !strstr(bench_slurp(serial), "VSC result=ok status=0"))) {
                fprintf(stderr, "bench-checkpoint: the guest did not finish its check (exit %d): %s\n", w.status,
                        bench_slurp(serial));
                ok = false;
        }
        if (ok)
                *ms = bench_median(p, CKPTS);
        return ok;
}

/* QEMU: CKPTS savevm of the idle guest, the median command time. */
static bool qemu(double *ms) {
        char sock[PATH_MAX], kernel[PATH_MAX], qcow2[PATH_MAX], cmd[PATH_MAX + 64];
        snprintf(sock, sizeof sock, "%s/qmp.sock", dir);
        snprintf(kernel, sizeof kernel, "%s/tests/tg_vmwp_irq.elf", build_dir);
        snprintf(qcow2, sizeof qcow2, "%s/disk.qcow2", dir);
        snprintf(cmd, sizeof cmd, "qemu-img create -q -f qcow2 %s 1G", qcow2);
        struct qmp q;
        if (system(cmd) != 0 || !qmp_qemu_start(&q, sock, kernel, GUEST_MIB, NULL, qcow2))
                return false;
        usleep(100000);
        double p[CKPTS];
        bool ok = true;
        for (int i = 0; ok && i < CKPTS; i++) {
                char req[160];
                snprintf(req, sizeof req,
                         "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"savevm c%d\"}}", i);
                uint64_t t0 = bench_now_ns();
                struct json_object *r = qmp_cmd(&q, req), *v;
                p[i] = ms_since(t0);
                /* HMP answers "" on success, an error's text otherwise */
                ok = r && json_object_object_get_ex(r, "return", &v) && !json_object_get_string_len(v);
                if (!ok)
                        fprintf(stderr, "bench-checkpoint: QEMU savevm: %s\n", r ? json_object_to_json_string(r) : "-");
                json_object_put(r);
        }
        qmp_qemu_end(&q);
        if (ok)
                *ms = bench_median(p, CKPTS);
        return ok;
}

int main(void) {
        const char *b = getenv("VM_BUILD_DIR");
        char abs[PATH_MAX];
        if (!realpath(b ? b : "build/release", abs) || strlen(abs) >= sizeof build_dir) /* the worker takes absolute paths */
                return fprintf(stderr, "bench-checkpoint: no build directory %s\n", b ? b : "build/release"), 1;
        memcpy(build_dir, abs, strlen(abs) + 1);
        if (!mkdtemp(dir))
                return 1;
        bool have_qemu = system("command -v qemu-system-x86_64 >/dev/null 2>&1 && command -v qemu-img >/dev/null") == 0;
        if (!have_qemu)
                fprintf(stderr, "bench-checkpoint: qemu-system-x86_64 or qemu-img missing: no baseline\n");
        double idle[ROUNDS], io[ROUNDS], qm[ROUNDS];
        int n = 0;
        for (int i = 0; i < ROUNDS; i++) {
                double a = -1, c = -1, q = -1;
                if (!ours(false, &a) || !ours(true, &c)) {
                        fprintf(stderr, "bench-checkpoint: round %d failed\n", i);
                        continue;
                }
                if (have_qemu && !qemu(&q))
                        fprintf(stderr, "bench-checkpoint: round %d of QEMU failed\n", i);
                fprintf(stderr, "round %d: pause idle %.2f ms, mid-I/O %.2f ms (QEMU savevm idle %.2f ms)\n", i, a, c,
                        q);
                idle[n] = a, io[n] = c, qm[n] = q, n++;
        }
        char rm[PATH_MAX + 16];
        snprintf(rm, sizeof rm, "rm -rf %s", dir);
        (void)!system(rm);
        if (!n)
                return 1;
        double qmed = have_qemu ? bench_median(qm, (unsigned)n) : -1;
        bench_result("checkpoint: guest paused, idle 128 MiB, 1 GiB VHDX (QEMU savevm, qcow2)",
                     bench_median(idle, (unsigned)n), qmed, "ms", "<= 100", "lower");
        bench_result("checkpoint: guest paused, 128 MiB mid-I/O, 1 GiB VHDX (QEMU: idle)", bench_median(io, (unsigned)n),
                     qmed, "ms", "<= 100", "lower");
        return 0;
}
