// SPDX-License-Identifier: MIT
/* The production vmbus_host_ops: SynIC messages and events through hvshim,
 * guest memory through vid.
 *
 * Doorbell registrations: hvshim runs a message handler under the read side
 * of the lock that hvshim_register_event/unregister_event take for writing
 * (docs/hvshim.md), and the server registers a channel's doorbell while it
 * handles OPENCHANNEL. So registrations go to a registrar thread that
 * applies them in order, outside that lock. After registering it writes the
 * eventfd once: a doorbell the guest rang before the registration existed
 * (hvshim answered it with INVALID_CONNECTION_ID, which Linux ignores) then
 * still wakes the provider, which finds the packet in the ring. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv/tlfs.h"
#include "hv/vmbus.h"
#include "hvshim/hvshim.h"
#include "vid/vid.h"
#include "vmbus/host.h"

/* Message connection ids the server listens on: 1 and 4 (§4.2). */
#define HOST_HV_MAX_HANDLERS 4u

struct host_hv_handler {
        struct vmbus_host_hv *h;
        uint32_t connection_id;
        vmbus_host_message_fn fn;
        void *opaque;
};

/* Pending registrations: at most two per possible channel (an
 * unregistration and a new registration of its relid). */
#define HOST_HV_MAX_EVENT_OPS (2u * HVSHIM_MAX_EVENTS)

struct host_hv_event_op {
        uint32_t connection_id;
        int efd; /* our duplicate to register, or -1 to unregister */
};

struct vmbus_host_hv {
        struct hvshim *hv;
        struct vid_partition *p;
        struct host_hv_handler handlers[HOST_HV_MAX_HANDLERS];
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t registrar;
        bool stop;
        struct host_hv_event_op ops[HOST_HV_MAX_EVENT_OPS];
        unsigned head, count;
        uint64_t event_errors;
};

static void event_op_apply(struct vmbus_host_hv *h, const struct host_hv_event_op *op) {
        int r;
        if (op->efd >= 0) {
                r = hvshim_register_event(h->hv, op->connection_id, op->efd);
                if (r == 0)
                        (void)eventfd_write(op->efd, 1);
                close(op->efd); /* hvshim keeps its own duplicate */
        } else {
                r = hvshim_unregister_event(h->hv, op->connection_id);
        }
        if (r < 0) {
                pthread_mutex_lock(&h->lock);
                h->event_errors++;
                pthread_mutex_unlock(&h->lock);
        }
}

/* Applies the queue in order; on stop, drains it first. */
static void *registrar_thread(void *arg) {
        struct vmbus_host_hv *h = arg;
        pthread_mutex_lock(&h->lock);
        for (;;) {
                while (!h->count && !h->stop)
                        pthread_cond_wait(&h->cond, &h->lock);
                if (!h->count)
                        break;
                /* Consumed only once applied, so that vmbus_host_hv_sync()
                 * returns after the effect, not before. */
                struct host_hv_event_op op = h->ops[h->head];
                pthread_mutex_unlock(&h->lock);
                event_op_apply(h, &op);
                pthread_mutex_lock(&h->lock);
                h->head = (h->head + 1) % HOST_HV_MAX_EVENT_OPS;
                h->count--;
                pthread_cond_broadcast(&h->cond);
        }
        pthread_mutex_unlock(&h->lock);
        return NULL;
}

static int event_op_queue(struct vmbus_host_hv *h, uint32_t connection_id, int efd) {
        pthread_mutex_lock(&h->lock);
        int r = h->count == HOST_HV_MAX_EVENT_OPS ? -ENOBUFS : 0;
        if (r == 0) {
                h->ops[(h->head + h->count) % HOST_HV_MAX_EVENT_OPS] =
                        (struct host_hv_event_op){ .connection_id = connection_id, .efd = efd };
                h->count++;
                pthread_cond_broadcast(&h->cond);
        }
        pthread_mutex_unlock(&h->lock);
        return r;
}

int vmbus_host_hv_new(struct hvshim *hv, struct vid_partition *p, struct vmbus_host_hv **out) {
        if (!hv || !p)
                return -EINVAL;
        struct vmbus_host_hv *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->hv = hv;
        h->p = p;
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->cond, NULL);
        int r = -pthread_create(&h->registrar, NULL, registrar_thread, h);
        if (r < 0) {
                pthread_cond_destroy(&h->cond);
                pthread_mutex_destroy(&h->lock);
                free(h);
                return r;
        }
        *out = h;
        return 0;
}

void vmbus_host_hv_free(struct vmbus_host_hv *h) {
        if (!h)
                return;
        pthread_mutex_lock(&h->lock);
        h->stop = true;
        pthread_cond_broadcast(&h->cond);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->registrar, NULL);
        for (unsigned i = 0; i < HOST_HV_MAX_HANDLERS; i++)
                if (h->handlers[i].fn)
                        (void)hvshim_clear_message_handler(h->hv, h->handlers[i].connection_id);
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        free(h);
}

void vmbus_host_hv_sync(struct vmbus_host_hv *h, uint64_t *event_errors) {
        pthread_mutex_lock(&h->lock);
        while (h->count)
                pthread_cond_wait(&h->cond, &h->lock);
        if (event_errors)
                *event_errors = h->event_errors;
        pthread_mutex_unlock(&h->lock);
}

static uint16_t host_hv_on_message(void *opaque, unsigned vp_index, uint32_t message_type, const void *payload,
                                   uint32_t size) {
        struct host_hv_handler *e = opaque;
        return e->fn(e->opaque, e->connection_id, vp_index, payload, size);
}

static int host_hv_set_message_handler(void *host, uint32_t connection_id, vmbus_host_message_fn fn,
                                       void *opaque) {
        struct vmbus_host_hv *h = host;
        struct host_hv_handler *e = NULL;
        for (unsigned i = 0; i < HOST_HV_MAX_HANDLERS && !e; i++)
                if (h->handlers[i].fn && h->handlers[i].connection_id == connection_id)
                        e = &h->handlers[i];
        if (!fn) {
                if (!e)
                        return 0;
                int r = hvshim_clear_message_handler(h->hv, connection_id);
                *e = (struct host_hv_handler){ 0 };
                return r;
        }
        for (unsigned i = 0; i < HOST_HV_MAX_HANDLERS && !e; i++)
                if (!h->handlers[i].fn)
                        e = &h->handlers[i];
        if (!e)
                return -ENOSPC;
        *e = (struct host_hv_handler){ .h = h, .connection_id = connection_id, .fn = fn, .opaque = opaque };
        int r = hvshim_set_message_handler(h->hv, connection_id, host_hv_on_message, e);
        if (r < 0)
                *e = (struct host_hv_handler){ 0 };
        return r;
}

static int host_hv_post_message(void *host, unsigned vp_index, const void *msg, size_t len) {
        struct vmbus_host_hv *h = host;
        return synic_post_message(h->hv, vp_index, VMBUS_MESSAGE_SINT, VMBUS_HV_MESSAGE_TYPE, msg, len);
}

static int host_hv_register_event(void *host, uint32_t connection_id, int efd) {
        if (connection_id > HV_CONNECTION_ID_MASK)
                return -EINVAL;
        int dup = fcntl(efd, F_DUPFD_CLOEXEC, 3);
        if (dup < 0)
                return -errno;
        int r = event_op_queue(host, connection_id, dup);
        if (r < 0)
                close(dup);
        return r;
}

static int host_hv_unregister_event(void *host, uint32_t connection_id) {
        return event_op_queue(host, connection_id, -1);
}

static int host_hv_signal_event(void *host, unsigned vp_index, uint32_t relid) {
        return synic_signal_event(((struct vmbus_host_hv *)host)->hv, vp_index, VMBUS_MESSAGE_SINT, relid);
}

static int host_hv_map_pages(void *host, const uint64_t *pfns, size_t n_pages, unsigned flags, size_t wrap_from,
                             struct vmbus_host_mapping *out) {
        struct vid_pages m;
        int r = vid_map_pages(((struct vmbus_host_hv *)host)->p, pfns, n_pages,
                              (flags & VMBUS_MAP_WRAP) ? VID_PAGES_WRAP : 0, wrap_from, &m);
        if (r < 0)
                return r;
        *out = (struct vmbus_host_mapping){ .base = m.base, .n_pages = m.n_pages, .map_len = m.map_len };
        return 0;
}

static void host_hv_unmap_pages(void *host, struct vmbus_host_mapping *m) {
        struct vid_pages v = { .base = m->base, .n_pages = m->n_pages, .map_len = m->map_len };
        vid_unmap_pages(&v);
        m->base = NULL;
}

static int host_hv_read(void *host, uint64_t gpa, void *buf, size_t len) {
        return gm_read(((struct vmbus_host_hv *)host)->p, gpa, buf, len);
}

static int host_hv_write(void *host, uint64_t gpa, const void *buf, size_t len) {
        return gm_write(((struct vmbus_host_hv *)host)->p, gpa, buf, len);
}

const struct vmbus_host_ops vmbus_host_hv_ops = {
        .post_message = host_hv_post_message,
        .set_message_handler = host_hv_set_message_handler,
        .register_event = host_hv_register_event,
        .unregister_event = host_hv_unregister_event,
        .signal_event = host_hv_signal_event,
        .map_pages = host_hv_map_pages,
        .unmap_pages = host_hv_unmap_pages,
        .read = host_hv_read,
        .write = host_hv_write,
};
