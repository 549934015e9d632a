/* SPDX-License-Identifier: MIT */
/* Host side of tests/guests/hvshim_guest.S, shared by the hvshim component
 * tests and bench/bench-hvshim.c: a partition with hvshim, the guest
 * loaded with a command in its mailbox, and a test device on ports
 * HG_PORT_BASE.. that records every mark the guest reports together with a
 * snapshot of its result slots, the vid statistics and a timestamp. */
#pragma once

#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "common/proto.h"
#include "common/test.h"
#include "hvshim/hvshim.h"
#include "tests/guests/hvshim_guest.h"
#include "tests/guests/tinyguest.h"
#include "vid/vid.h"

TINY_GUEST(hvshim_guest);

#define HG_DONE_STATUS 100
#define HG_FAIL_STATUS 101
#define HG_SNAPSHOT_SLOTS 88
#define HG_MAX_MARKS 4096
#define HG_TIMEOUT_MS 20000

struct hg_mark {
        uint32_t code;
        uint64_t ns;
        uint64_t res[HG_SNAPSHOT_SLOTS];
        struct vid_stats vid;
};

/* pio_exit_rip: what the probe port saw. */
struct hg_probe {
        unsigned kind, cpl;
        uint64_t addr, rip;
};

struct hg {
        struct vid_partition *p;
        struct hvshim *hv;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct hg_mark *marks;
        unsigned n_marks;
        struct hg_probe probes[8];
        unsigned n_probes;
        uint32_t step;
        uint64_t bench_exits;
};

static inline uint64_t hg_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t hg_result(struct hg *h, unsigned slot) {
        uint64_t v = 0;
        ASSERT_OK(gm_read(h->p, HG_RESULTS + 8ull * slot, &v, sizeof v));
        return v;
}

static inline void hg_mailbox(struct hg *h, unsigned field, uint32_t v) {
        ASSERT_OK(gm_write(h->p, HG_MAILBOX + field, &v, sizeof v));
}

static inline void hg_record_mark(struct hg *h, uint32_t code) {
        pthread_mutex_lock(&h->lock);
        if (h->n_marks < HG_MAX_MARKS) {
                struct hg_mark *m = &h->marks[h->n_marks];
                m->code = code;
                m->ns = hg_now_ns();
                (void)gm_read(h->p, HG_RESULTS, m->res, sizeof m->res);
                vid_partition_stats(h->p, &m->vid);
                h->n_marks++;
        }
        pthread_cond_broadcast(&h->cond);
        pthread_mutex_unlock(&h->lock);
        if (code == HG_MARK_DONE)
                vid_partition_request_stop(h->p, HG_DONE_STATUS, "guest done");
        if (code == HG_MARK_EXC)
                vid_partition_request_stop(h->p, HG_FAIL_STATUS, "guest exception %llu",
                                           (unsigned long long)hg_result(h, HG_R_VECTOR));
}

/* Probe port (HG_PORT_BASE + 0xc): records where RIP is at the exit; on
 * the third probe moves RIP past the next instruction and sets RAX. */
static inline void hg_probe(struct hg *h, struct vid_vp *vp, bool out) {
        struct vid_regs r;
        ASSERT_OK(vid_vp_get_regs(vp, &r));
        struct hg_probe pr = { .kind = (unsigned)hg_result(h, HG_R_PROBE_KIND), .cpl = (unsigned)vid_vp_cpl(vp),
                               .addr = hg_result(h, HG_R_PROBE_ADDR), .rip = r.rip };
        pthread_mutex_lock(&h->lock);
        if (h->n_probes < 8)
                h->probes[h->n_probes++] = pr;
        pthread_mutex_unlock(&h->lock);
        if (out && pr.kind == 3) {
                r.rip = pr.addr + 2 + 5; /* "out %eax, $imm8" then "mov $imm32, %ebx" */
                r.rax = 0x77;
                ASSERT_OK(vid_vp_set_regs(vp, &r));
        }
}

static inline void hg_port_write(void *opaque, struct vid_vp *vp, uint64_t off, const void *data, unsigned len) {
        struct hg *h = opaque;
        uint32_t v = 0;
        memcpy(&v, data, len < 4 ? len : 4);
        if (off == HG_PORT_MARK - HG_PORT_BASE && len == 4)
                hg_record_mark(h, v);
        else if (off == HG_PORT_BENCH - HG_PORT_BASE)
                h->bench_exits++;
        else if (off == 0xc)
                hg_probe(h, vp, true);
}

static inline void hg_port_read(void *opaque, struct vid_vp *vp, uint64_t off, void *data, unsigned len) {
        struct hg *h = opaque;
        if (off == 0xc && len == 4) {
                hg_probe(h, vp, false);
                uint32_t v = 0x5a5a;
                memcpy(data, &v, 4);
        }
}

static const struct vid_io_ops hg_port_ops = { .read = hg_port_read, .write = hg_port_write };

static inline int hg_on_exit(void *opaque, struct vid_vp *vp, const struct vid_exit *e) {
        fprintf(stderr, "unexpected exit kind %d reason %u at rip 0x%llx\n", e->kind, e->reason,
                (unsigned long long)e->rip);
        return e->kind == VID_EXIT_SHUTDOWN ? VMWP_EXIT_TRIPLE_FAULT : VMWP_EXIT_INTERNAL;
}

/* A partition with hvshim (cfg NULL: all features) and the test device,
 * with nothing in its RAM (a restore fills it). */
static inline void hg_init_bare(struct hg *h, unsigned n_vps, const struct hvshim_config *cfg) {
        memset(h, 0, sizeof *h);
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->cond, NULL);
        h->marks = calloc(HG_MAX_MARKS, sizeof *h->marks);
        ASSERT_NOT_NULL(h->marks);
        struct vid_partition_config pc = { .ram_bytes = 32u << 20, .n_vps = n_vps };
        pc.n_msr_ranges = hvshim_msr_ranges(&pc.msr_ranges); /* as vmwp does */
        char err[256] = "";
        int r = vid_partition_create(&pc, &h->p, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "vid_partition_create: %s\n", err);
        ASSERT_OK(r);
        ASSERT_OK(hvshim_create(h->p, cfg, &h->hv));
        ASSERT_OK(vid_register_pio(h->p, HG_PORT_BASE, HG_PORT_LEN, &hg_port_ops, h));
}

/* hg_init_bare() with `image` loaded, ready to run `cmd`; set mailbox
 * fields and registrations before hg_start(). */
static inline void hg_init_image(struct hg *h, const unsigned char *image, unsigned len, unsigned n_vps,
                                 uint32_t cmd, const struct hvshim_config *cfg) {
        hg_init_bare(h, n_vps, cfg);
        ASSERT_OK(gm_write(h->p, HG_LOAD, image, len));
        hg_mailbox(h, HG_MB_CMD, cmd);
        struct vid_vp *vp = vid_partition_vp(h->p, 0);
        ASSERT_OK(vid_vp_set_protected_mode_flat(vp));
        struct vid_regs regs = { .rip = HG_LOAD, .rflags = 2 };
        ASSERT_OK(vid_vp_set_regs(vp, &regs));
}

/* The test guest, tests/guests/hvshim_guest.S. */
static inline void hg_init(struct hg *h, uint32_t cmd, const struct hvshim_config *cfg) {
        hg_init_image(h, tg_hvshim_guest, tg_hvshim_guest_len, 1, cmd, cfg);
}

static inline void hg_start(struct hg *h) {
        ASSERT_OK(vid_partition_start(h->p, hg_on_exit, h));
}

static inline unsigned hg_count_locked(struct hg *h, uint32_t code, struct hg_mark *last) {
        unsigned n = 0;
        for (unsigned i = 0; i < h->n_marks; i++)
                if (h->marks[i].code == code) {
                        n++;
                        if (last)
                                *last = h->marks[i];
                }
        return n;
}

static inline unsigned hg_count(struct hg *h, uint32_t code) {
        pthread_mutex_lock(&h->lock);
        unsigned n = hg_count_locked(h, code, NULL);
        pthread_mutex_unlock(&h->lock);
        return n;
}

/* Wait until `code` was reported `nth` times (1-based); *out = that mark. */
static inline bool hg_wait_mark(struct hg *h, uint32_t code, unsigned nth, int timeout_ms, struct hg_mark *out) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&h->lock);
        bool ok;
        for (;;) {
                unsigned n = 0;
                ok = false;
                for (unsigned i = 0; i < h->n_marks && !ok; i++)
                        if (h->marks[i].code == code && ++n == nth) {
                                if (out)
                                        *out = h->marks[i];
                                ok = true;
                        }
                if (ok || vid_partition_stop_requested(h->p, NULL, 0) >= 0)
                        break;
                if (pthread_cond_timedwait(&h->cond, &h->lock, &deadline) != 0)
                        break;
        }
        pthread_mutex_unlock(&h->lock);
        if (!ok)
                fprintf(stderr, "no mark %u #%u (guest result vector %llu)\n", code, nth,
                        (unsigned long long)hg_result(h, HG_R_VECTOR));
        return ok;
}

/* Synic scenario: run one operation in the guest and wait for it. */
static inline void hg_step(struct hg *h, uint32_t op) {
        h->step++;
        hg_mailbox(h, HG_MB_OP, op);
        hg_mailbox(h, HG_MB_STEP, h->step);
        ASSERT_OK(vid_msi_send(h->p, 0, HG_VECTOR_WAKE));
        ASSERT_TRUE(hg_wait_mark(h, HG_MARK_STEP_DONE, h->step, HG_TIMEOUT_MS, NULL));
}

/* Wait for the guest to stop (or stop it), then free everything. Returns
 * the stop status. */
static inline int hg_finish(struct hg *h, int timeout_ms) {
        struct pollfd pfd = { .fd = vid_partition_stop_fd(h->p), .events = POLLIN };
        if (timeout_ms > 0)
                (void)poll(&pfd, 1, timeout_ms);
        int status = vid_partition_stop_requested(h->p, NULL, 0);
        vid_partition_join(h->p);
        hvshim_destroy(h->hv);
        vid_partition_destroy(h->p);
        free(h->marks);
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        return status;
}
