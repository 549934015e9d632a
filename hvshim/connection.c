// SPDX-License-Identifier: MIT
/* Guest -> host connections: message handlers (HvPostMessage) and event
 * registrations (HvSignalEvent). An event registration is an ioeventfd on
 * the doorbell port matching the connection id, so the stub's fast path
 * ends in the eventfd inside KVM; the table here serves the calls that do
 * reach user space (slow form, non-zero flag number). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "hv/vmstack.h"
#include "internal.h"

#define DOORBELL_LEN 4u /* OUT dx, eax */

static struct hvshim_msg_handler *find_handler(struct hvshim *hv, uint32_t id) {
        for (size_t i = 0; i < hv->n_handlers; i++)
                if (hv->handlers[i].connection_id == id)
                        return &hv->handlers[i];
        return NULL;
}

int hvshim_set_message_handler(struct hvshim *hv, uint32_t connection_id, hvshim_message_fn fn, void *opaque) {
        if (!hv || !fn || (connection_id & ~HV_CONNECTION_ID_MASK))
                return -EINVAL;
        int r = 0;
        pthread_rwlock_wrlock(&hv->conn_lock);
        struct hvshim_msg_handler *h = find_handler(hv, connection_id);
        if (!h && hv->n_handlers == HVSHIM_MAX_MESSAGE_HANDLERS)
                r = -ENOSPC;
        else {
                if (!h)
                        h = &hv->handlers[hv->n_handlers++];
                *h = (struct hvshim_msg_handler){ .connection_id = connection_id, .fn = fn, .opaque = opaque };
        }
        pthread_rwlock_unlock(&hv->conn_lock);
        return r;
}

int hvshim_clear_message_handler(struct hvshim *hv, uint32_t connection_id) {
        if (!hv)
                return -EINVAL;
        int r = -ENOENT;
        pthread_rwlock_wrlock(&hv->conn_lock);
        struct hvshim_msg_handler *h = find_handler(hv, connection_id);
        if (h) {
                *h = hv->handlers[--hv->n_handlers];
                r = 0;
        }
        pthread_rwlock_unlock(&hv->conn_lock);
        return r;
}

uint16_t hvshim_deliver_message(struct hvshim *hv, unsigned vp_index, const struct hv_post_message *m) {
        uint16_t status = HV_STATUS_INVALID_CONNECTION_ID;
        /* Held across the call so that a cleared handler is never running. */
        pthread_rwlock_rdlock(&hv->conn_lock);
        struct hvshim_msg_handler *h = find_handler(hv, m->connection_id);
        if (h)
                status = h->fn(h->opaque, vp_index, m->message_type, m->payload, m->payload_size);
        pthread_rwlock_unlock(&hv->conn_lock);
        return status;
}

/* Index of the first event with connection_id >= id. */
static size_t event_lower_bound(const struct hvshim *hv, uint32_t id) {
        size_t lo = 0, hi = hv->n_events;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (hv->events[mid].connection_id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static bool event_at(const struct hvshim *hv, size_t i, uint32_t id) {
        return i < hv->n_events && hv->events[i].connection_id == id;
}

static int events_reserve(struct hvshim *hv) {
        if (hv->n_events < hv->cap_events)
                return 0;
        size_t cap = MIN(MAX(hv->cap_events * 2, (size_t)16), (size_t)HVSHIM_MAX_EVENTS);
        struct hvshim_event *n = realloc(hv->events, cap * sizeof *n);
        if (!n)
                return -ENOMEM;
        hv->events = n;
        hv->cap_events = cap;
        return 0;
}

static int event_insert(struct hvshim *hv, uint32_t id, int efd) {
        size_t i = event_lower_bound(hv, id);
        if (event_at(hv, i, id))
                return -EEXIST;
        if (hv->n_events >= HVSHIM_MAX_EVENTS)
                return -ENOSPC;
        int r = events_reserve(hv);
        if (r < 0)
                return r;
        r = vid_ioeventfd_assign(hv->p, true, VMSTACK_DOORBELL_PORT, DOORBELL_LEN, id, efd);
        if (r < 0)
                return r;
        memmove(&hv->events[i + 1], &hv->events[i], (hv->n_events - i) * sizeof *hv->events);
        hv->events[i] = (struct hvshim_event){ .connection_id = id, .efd = efd };
        hv->n_events++;
        return 0;
}

int hvshim_register_event(struct hvshim *hv, uint32_t connection_id, int efd) {
        if (!hv || (connection_id & ~HV_CONNECTION_ID_MASK))
                return -EINVAL;
        if (efd < 0)
                return -EBADF;
        /* Our own reference: the caller may close its fd at any time. */
        _cleanup_close_ int dup = fcntl(efd, F_DUPFD_CLOEXEC, 3);
        if (dup < 0)
                return -errno;
        pthread_rwlock_wrlock(&hv->event_lock);
        int r = event_insert(hv, connection_id, dup);
        pthread_rwlock_unlock(&hv->event_lock);
        if (r == 0)
                TAKE_FD(dup);
        return r;
}

int hvshim_unregister_event(struct hvshim *hv, uint32_t connection_id) {
        if (!hv)
                return -EINVAL;
        int r = -ENOENT;
        pthread_rwlock_wrlock(&hv->event_lock);
        size_t i = event_lower_bound(hv, connection_id);
        if (event_at(hv, i, connection_id)) {
                struct hvshim_event e = hv->events[i];
                r = vid_ioeventfd_deassign(hv->p, true, VMSTACK_DOORBELL_PORT, DOORBELL_LEN, connection_id, e.efd);
                if (r == 0) {
                        safe_close(e.efd);
                        memmove(&hv->events[i], &hv->events[i + 1], (hv->n_events - i - 1) * sizeof *hv->events);
                        hv->n_events--;
                }
        }
        pthread_rwlock_unlock(&hv->event_lock);
        return r;
}

uint16_t hvshim_deliver_signal(struct hvshim *hv, uint32_t connection_id) {
        uint16_t status = HV_STATUS_INVALID_CONNECTION_ID;
        pthread_rwlock_rdlock(&hv->event_lock);
        size_t i = event_lower_bound(hv, connection_id);
        if (event_at(hv, i, connection_id)) {
                /* Fails only if the counter would overflow, i.e. it is
                 * already readable: the signal is not lost. */
                (void)!write(hv->events[i].efd, &(uint64_t){ 1 }, sizeof(uint64_t));
                status = HV_STATUS_SUCCESS;
        }
        pthread_rwlock_unlock(&hv->event_lock);
        return status;
}

void hvshim_connections_free(struct hvshim *hv) {
        for (size_t i = 0; i < hv->n_events; i++) {
                (void)vid_ioeventfd_deassign(hv->p, true, VMSTACK_DOORBELL_PORT, DOORBELL_LEN,
                                             hv->events[i].connection_id, hv->events[i].efd);
                safe_close(hv->events[i].efd);
        }
        free(hv->events);
        hv->events = NULL;
        hv->n_events = hv->cap_events = 0;
        hv->n_handlers = 0;
}
