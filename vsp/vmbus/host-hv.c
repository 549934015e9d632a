// SPDX-License-Identifier: MIT
/* The production vmbus_host_ops: SynIC messages and events through hvshim,
 * guest memory through vid. */
#include <errno.h>
#include <stdlib.h>

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

struct vmbus_host_hv {
        struct hvshim *hv;
        struct vid_partition *p;
        struct host_hv_handler handlers[HOST_HV_MAX_HANDLERS];
};

int vmbus_host_hv_new(struct hvshim *hv, struct vid_partition *p, struct vmbus_host_hv **out) {
        if (!hv || !p)
                return -EINVAL;
        struct vmbus_host_hv *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->hv = hv;
        h->p = p;
        *out = h;
        return 0;
}

void vmbus_host_hv_free(struct vmbus_host_hv *h) {
        if (!h)
                return;
        for (unsigned i = 0; i < HOST_HV_MAX_HANDLERS; i++)
                if (h->handlers[i].fn)
                        (void)hvshim_clear_message_handler(h->hv, h->handlers[i].connection_id);
        free(h);
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

/* Called inside the OPENCHANNEL/CLOSECHANNEL handlers: hvshim allows
 * (un)registering events from a message handler (docs/hvshim.md), so the
 * doorbell exists before OPENCHANNEL_RESULT reaches the guest. */
static int host_hv_register_event(void *host, uint32_t connection_id, int efd) {
        return hvshim_register_event(((struct vmbus_host_hv *)host)->hv, connection_id, efd);
}

static int host_hv_unregister_event(void *host, uint32_t connection_id) {
        return hvshim_unregister_event(((struct vmbus_host_hv *)host)->hv, connection_id);
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

static const atomic_bool *host_hv_dirty_flag(void *host) {
        return vid_dirty_flag(((struct vmbus_host_hv *)host)->p);
}

static void host_hv_mark_dirty(void *host, uint64_t gpa, uint64_t len) {
        vid_mark_dirty(((struct vmbus_host_hv *)host)->p, gpa, len);
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
        .dirty_flag = host_hv_dirty_flag,
        .mark_dirty = host_hv_mark_dirty,
};
