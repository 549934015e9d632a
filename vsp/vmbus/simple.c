// SPDX-License-Identifier: MIT
/* Single-channel devices (vmbus/simple.h): the provider callbacks, the
 * doorbell on the owner's device worker, the packet loop and the channel's
 * saved-state section, once for dm, video, input and the ICs.
 *
 * Locking: the owner's lock is held by the worker while it serves, by open
 * and close (VP threads) around what they change, and by the owner's API
 * calls, so when close returns the worker no longer touches the channel
 * (vmbus/provider.h). The doorbell source changes only on the worker's
 * thread (devworker_call, which runs there, never with the lock held: that
 * thread's callbacks take it). Close removes it before the server closes
 * the eventfd, so the number it goes by still names it. The doorbell is
 * level-triggered and read before the ring is served: a signal during the
 * serve leaves it readable, and so does one that comes while the worker is
 * paused (quiesce loses no doorbell). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/vmstate.h"
#include "vmbus/ring.h"
#include "vmbus/simple.h"

/* Rounds of draining the guest's ring per callback: a guest that keeps
 * writing cannot hold the worker (and the lock) for long. */
#define SERVE_ROUNDS 8

void vmbus_simple_init(struct vmbus_simple *sc, const struct vmbus_simple_ops *ops, pthread_mutex_t *lock,
                       struct devworker *w, uint8_t *rxbuf, size_t rxlen) {
        *sc = (struct vmbus_simple){ .ops = ops, .lock = lock, .w = w, .rxbuf = rxbuf, .rxlen = rxlen };
}

static struct vmbus_simple *of_channel(struct vmbus_channel *ch) {
        return vmbus_device_data(vmbus_channel_device(ch));
}

/* ---- the packet loop ---- */

/* Lock held, channel open: drain the guest->host ring, re-checking after
 * publishing read_index (a packet written meanwhile came without a
 * doorbell, §5.5), then the owner's served hook. True if the guest kept
 * writing: serve again. */
static bool serve(struct vmbus_simple *sc) {
        struct vmbus_ring_pair *rp = vmbus_channel_rings(sc->ch);
        bool more = false;
        for (int round = 0; round < SERVE_ROUNDS; round++) {
                if (vmbus_ring_recv_begin(rp) < 0)
                        break;
                for (;;) {
                        struct vmbus_packet p;
                        int r = vmbus_ring_recv(rp, sc->rxbuf, sc->rxlen, &p);
                        if (r == -EMSGSIZE) {
                                sc->ops->packet(sc, NULL);
                                continue;
                        }
                        if (r <= 0)
                                break;
                        sc->ops->packet(sc, &p);
                }
                vmbus_ring_recv_end(rp);
                more = !vmbus_ring_broken(rp) && vmbus_ring_has_data(rp);
                if (!more)
                        break;
        }
        if (sc->ops->served)
                sc->ops->served(sc);
        return more;
}

void vmbus_simple_poll(struct vmbus_simple *sc) {
        /* Left over: the guest does not signal a ring that is not empty. */
        if (sc->ch && serve(sc))
                (void)eventfd_write(vmbus_channel_event_fd(sc->ch), 1);
}

void vmbus_simple_resumed(struct vmbus_simple *sc) {
        sc->restored = false;
        if (sc->ch)
                (void)eventfd_write(vmbus_channel_event_fd(sc->ch), 1);
}

/* ---- the doorbell, a source of the owner's worker ---- */

static int on_doorbell(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct vmbus_simple *sc = opaque;
        eventfd_t v;
        (void)eventfd_read(fd, &v); /* first: a signal from here on is seen again */
        pthread_mutex_lock(sc->lock);
        bool more = sc->ch && serve(sc); /* NULL: closing, the source goes next */
        pthread_mutex_unlock(sc->lock);
        return more ? DW_AGAIN : 0;
}

struct doorbell_req {
        struct vmbus_simple *sc;
        int fd;
};

static int doorbell_add_on_worker(void *arg) {
        struct doorbell_req *d = arg;
        return devworker_add_io(d->sc->w, d->fd, EPOLLIN, on_doorbell, d->sc, &d->sc->doorbell);
}

static int doorbell_add(struct vmbus_simple *sc, int fd) {
        return devworker_call(sc->w, doorbell_add_on_worker, &(struct doorbell_req){ sc, fd });
}

static int doorbell_drop_on_worker(void *arg) {
        struct vmbus_simple *sc = arg;
        dw_source_free(sc->doorbell);
        sc->doorbell = NULL;
        return 0;
}

static void doorbell_drop(struct vmbus_simple *sc) {
        (void)devworker_call(sc->w, doorbell_drop_on_worker, sc);
}

/* ---- provider callbacks (VP threads) ---- */

int vmbus_simple_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        struct vmbus_simple *sc = of_channel(ch);
        if (req->sub_channel_index != 0)
                return -EINVAL;
        pthread_mutex_lock(sc->lock);
        bool busy = sc->ch != NULL;
        pthread_mutex_unlock(sc->lock);
        if (busy)
                return -EBUSY;
        int r = doorbell_add(sc, vmbus_channel_event_fd(ch));
        if (r < 0)
                return r;
        pthread_mutex_lock(sc->lock);
        sc->ch = ch;
        sc->restored = false;
        r = sc->ops->opened ? sc->ops->opened(sc) : 0;
        if (r < 0)
                sc->ch = NULL;
        pthread_mutex_unlock(sc->lock);
        if (r < 0)
                doorbell_drop(sc);
        return r;
}

void vmbus_simple_close(struct vmbus_channel *ch) {
        struct vmbus_simple *sc = of_channel(ch);
        pthread_mutex_lock(sc->lock);
        bool ours = sc->ch == ch;
        if (ours) {
                bool quiet = sc->restored;
                sc->ch = NULL;
                sc->restored = false;
                if (sc->ops->closed)
                        sc->ops->closed(sc, quiet);
        }
        pthread_mutex_unlock(sc->lock);
        /* Before the server closes the eventfd (after this returns). */
        if (ours)
                doorbell_drop(sc);
}

/* ---- the channel's saved state ---- */

int vmbus_simple_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen) {
        struct vmbus_simple *sc = of_channel(ch);
        const struct vmbus_simple_ops *ops = sc->ops;
        uint32_t relid = vmbus_channel_relid(ch);
        if (!ops->state)
                return errorf(err, errlen, -EOPNOTSUPP, "%s: no saved state", ops->name);
        void *st = calloc(1, ops->state_size);
        if (!st)
                return errorf(err, errlen, -ENOMEM, "%s: out of memory", ops->name);
        pthread_mutex_lock(sc->lock);
        int r = ops->save(sc, st, err, errlen);
        pthread_mutex_unlock(sc->lock);
        if (r == 0 && (r = vmstate_encode(w, ops->state, relid, st)) < 0) {
                char tag[5];
                vmstate_tag_name(ops->state->tag, tag);
                r = errorf(err, errlen, r, "writing section %s #%u: %s", tag, relid, strerror(-r));
        }
        free(st);
        return r;
}

/* Decode and check (nothing changes on a refusal), then park the owner
 * and take the state: the channel comes back quiesced. */
static int restore(struct vmbus_simple *sc, struct vmbus_channel *ch, const struct vmbus_open_request *req,
                   const struct vmstate_section *sec, void *st, char *err, size_t errlen) {
        const struct vmbus_simple_ops *ops = sc->ops;
        uint32_t relid = vmbus_channel_relid(ch);
        char tag[5];
        vmstate_tag_name(ops->state->tag, tag);
        int r = ops->decode(sec, st, err, errlen);
        if (r < 0)
                return r;
        if (req->sub_channel_index != 0)
                return errorf(err, errlen, -EINVAL, "section %s #%u: a sub-channel", tag, relid);
        if (ops->check && (r = ops->check(sc, st, relid, err, errlen)) < 0)
                return r;
        if ((r = ops->quiesce(sc)) < 0 || (r = doorbell_add(sc, vmbus_channel_event_fd(ch))) < 0)
                return errorf(err, errlen, r, "%s: %s", ops->name, strerror(-r));
        pthread_mutex_lock(sc->lock);
        sc->ch = ch;
        /* Until the first resume: a refused restore closes it again
         * (vmbus_server_restore's undo) and must report nothing. */
        sc->restored = true;
        ops->restore(sc, st);
        pthread_mutex_unlock(sc->lock);
        /* The guest may have written while saved (its interrupt mask set,
         * or the doorbell lost with the old process): read the ring as
         * soon as the worker runs again. */
        (void)eventfd_write(vmbus_channel_event_fd(ch), 1);
        return 0;
}

int vmbus_simple_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                                 const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        struct vmbus_simple *sc = of_channel(ch);
        const struct vmbus_simple_ops *ops = sc->ops;
        uint32_t relid = vmbus_channel_relid(ch);
        if (!ops->state)
                return errorf(err, errlen, -EOPNOTSUPP, "%s: no saved state", ops->name);
        const struct vmstate_section *sec = vmstate_find(secs, n, ops->state->tag, relid);
        if (!sec) {
                char tag[5];
                vmstate_tag_name(ops->state->tag, tag);
                return errorf(err, errlen, -EINVAL, "the state has no %s section for channel %u", tag, relid);
        }
        void *st = malloc(ops->state_size);
        if (!st)
                return errorf(err, errlen, -ENOMEM, "%s: out of memory", ops->name);
        int r = restore(sc, ch, req, sec, st, err, errlen);
        free(st);
        return r;
}
