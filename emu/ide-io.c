// SPDX-License-Identifier: MIT
/* The IDE backend (see emu/ide-backend.h). Why a thread of its own: the
 * disk queue's io_uring runs with COOP_TASKRUN, so completions are posted
 * in the context of the thread that submitted; a vCPU halted in KVM_RUN,
 * waiting for the very interrupt the completion raises, would never post
 * it. The service thread submits, sleeps on the ring's eventfd and
 * completes the channel (registers, INTRQ). When the service pauses, what
 * is in flight is waited for and completed before the pause returns, so
 * no read lands in guest RAM afterwards (docs/vm-state.md: drained). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/macro.h"
#include "emu/ide-backend.h"
#include "emu/ide.h"
#include "emu/service.h"

struct ide_backend {
        struct ide_controller *c;
        struct disk_queue *q;
        int efd;
        bool inflight[IDE_CHANNELS];
};

/* min_wait 0: what has completed; 1: waits until nothing is in flight. */
static void reap(struct ide_backend *b, unsigned min_wait) {
        struct disk_completion done[IDE_CHANNELS];
        int n;
        while ((n = disk_queue_reap(b->q, done, ARRAY_SIZE(done), min_wait)) > 0)
                for (int i = 0; i < n; i++) {
                        unsigned ch = (unsigned)done[i].user_data;
                        if (ch < IDE_CHANNELS) {
                                b->inflight[ch] = false;
                                ide_complete(b->c, ch, done[i].res);
                        }
                }
}

static void take(struct ide_backend *b) {
        for (unsigned ch = 0; ch < IDE_CHANNELS; ch++) {
                struct ide_request r;
                if (b->inflight[ch] || !ide_take_request(b->c, ch, &r))
                        continue;
                struct disk_request d = { .kind = r.kind, .disk = r.disk, .offset = r.offset, .len = r.len,
                                          .iov = r.iov, .iovcnt = r.iovcnt, .fua = r.fua, .user_data = ch };
                int res = disk_queue_prep(b->q, &d);
                if (res < 0)
                        ide_complete(b->c, ch, res);
                else
                        b->inflight[ch] = true;
        }
        (void)disk_queue_submit(b->q);
}

/* A completion may make the channel's next request ready (the next PIO
 * chunk): take again after reaping. */
static void run(struct ide_backend *b) {
        take(b);
        reap(b, 0);
        take(b);
}

static void on_wake(void *opaque) {
        run(opaque);
}

static void on_event(void *opaque, short revents) {
        struct ide_backend *b = opaque;
        uint64_t v;
        (void)!read(b->efd, &v, sizeof v);
        run(b);
}

/* The service is parking: complete what is in flight (the channel may
 * then want its next PIO chunk: taken after resume, not now). */
static void on_pause(void *opaque) {
        reap(opaque, 1);
}

static void backend_exit(void *opaque) {
        struct ide_backend *b = opaque;
        disk_queue_free(b->q); /* waits for what is in flight */
        ide_release_disks(b->c);
        free(b);
}

int ide_backend_attach(struct ide_controller *c, struct emu_service *s, struct ide_backend **out) {
        struct ide_backend *b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->c = c;
        int r = disk_queue_new(2 * IDE_CHANNELS, &b->q);
        if (r < 0) {
                free(b);
                return r;
        }
        b->efd = disk_queue_eventfd(b->q);
        int src = b->efd < 0 ? b->efd : emu_service_add(s, b->efd, POLLIN, on_event, b);
        r = src < 0 ? src : emu_service_on_wake(s, on_wake, b);
        if (r >= 0)
                r = emu_service_on_pause(s, on_pause, b);
        if (r >= 0)
                r = emu_service_on_exit(s, backend_exit, b);
        if (r < 0) {
                if (src >= 0)
                        emu_service_remove(s, src);
                disk_queue_free(b->q);
                free(b);
                return r;
        }
        if (out)
                *out = b;
        return 0;
}
