// SPDX-License-Identifier: MIT
/* The simulated guest's host side: vmbus_sim_ops over a memfd "RAM", a
 * message queue, per-VP event flags and an eventfd table. The guest-side
 * driver is in sim-guest.c. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"
#include "hv/tlfs.h"
#include "sim-internal.h"

static struct vmbus_sim *sim_alloc(size_t ram_bytes, unsigned vp_count) {
        if (ram_bytes < 2 * VMBUS_PAGE_SIZE || ram_bytes % VMBUS_PAGE_SIZE || vp_count == 0 ||
            vp_count > SIM_MAX_VPS)
                return NULL;
        struct vmbus_sim *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        pthread_mutex_init(&s->lock, NULL);
        s->vp_count = vp_count;
        s->ram_bytes = ram_bytes;
        s->next_page = 1;
        s->next_gpadl = 0xe1e10; /* Linux's first handle (§4.5) */
        s->memfd = -1;
        s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->event_fd < 0) {
                vmbus_sim_free(s);
                return NULL;
        }
        return s;
}

int vmbus_sim_new_external(int memfd, uint8_t *ram, size_t ram_bytes, unsigned vp_count, struct vmbus_sim **out) {
        if (memfd < 0 || !ram)
                return -EINVAL;
        struct vmbus_sim *s = sim_alloc(ram_bytes, vp_count);
        if (!s)
                return -EINVAL;
        s->external_ram = true;
        s->memfd = memfd;
        s->ram = ram;
        *out = s;
        return 0;
}

int vmbus_sim_new(size_t ram_bytes, unsigned vp_count, struct vmbus_sim **out) {
        struct vmbus_sim *s = sim_alloc(ram_bytes, vp_count);
        if (!s)
                return -EINVAL;
        s->memfd = memfd_create("vmbus-sim-ram", MFD_CLOEXEC);
        int r = s->memfd < 0 ? -errno : 0;
        if (r == 0 && ftruncate(s->memfd, (off_t)ram_bytes) < 0)
                r = -errno;
        if (r == 0) {
                s->ram = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0);
                if (s->ram == MAP_FAILED) {
                        s->ram = NULL;
                        r = -errno;
                }
        }
        if (r < 0) {
                vmbus_sim_free(s);
                return r;
        }
        *out = s;
        return 0;
}

void vmbus_sim_free(struct vmbus_sim *s) {
        if (!s)
                return;
        if (!s->external_ram) {
                if (s->ram)
                        munmap(s->ram, s->ram_bytes);
                safe_close(s->memfd);
        }
        safe_close(s->event_fd);
        free(s->queue);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

uint8_t *vmbus_sim_ram(struct vmbus_sim *s) {
        return s->ram;
}

size_t vmbus_sim_ram_size(const struct vmbus_sim *s) {
        return s->ram_bytes;
}

unsigned vmbus_sim_live_mappings(struct vmbus_sim *s) {
        return __atomic_load_n(&s->live_mappings, __ATOMIC_ACQUIRE);
}

uint64_t vmbus_sim_alloc_pages(struct vmbus_sim *s, size_t n) {
        pthread_mutex_lock(&s->lock);
        uint64_t first = 0;
        if (n && n <= s->ram_bytes / VMBUS_PAGE_SIZE - s->next_page) {
                first = s->next_page;
                s->next_page += n;
        }
        pthread_mutex_unlock(&s->lock);
        if (first)
                memset(s->ram + first * VMBUS_PAGE_SIZE, 0, n * VMBUS_PAGE_SIZE);
        return first;
}

void vmbus_sim_set_alloc_start(struct vmbus_sim *s, uint64_t pfn) {
        pthread_mutex_lock(&s->lock);
        if (pfn > s->next_page && pfn < s->ram_bytes / VMBUS_PAGE_SIZE)
                s->next_page = pfn;
        pthread_mutex_unlock(&s->lock);
}

/* ---- messages ------------------------------------------------------------------ */

static int sim_post_message(void *host, unsigned vp, const void *msg, size_t len) {
        struct vmbus_sim *s = host;
        if (vp >= s->vp_count || len > VMBUS_MESSAGE_MAX_BYTES || len < 8)
                return -EINVAL;
        int r = 0;
        pthread_mutex_lock(&s->lock);
        if (s->queue_limit && s->q_count >= s->queue_limit) {
                r = -ENOBUFS;
        } else if (s->q_count == s->q_cap) {
                unsigned cap = s->q_cap ? 2 * s->q_cap : 64;
                struct sim_msg *q = cap <= SIM_MAX_QUEUE ? calloc(cap, sizeof *q) : NULL;
                if (!q) {
                        r = -ENOBUFS;
                } else {
                        for (unsigned i = 0; i < s->q_count; i++)
                                q[i] = s->queue[(s->q_head + i) % s->q_cap];
                        free(s->queue);
                        s->queue = q;
                        s->q_cap = cap;
                        s->q_head = 0;
                }
        }
        if (r == 0) {
                struct sim_msg *m = &s->queue[(s->q_head + s->q_count++) % s->q_cap];
                m->vp = vp;
                m->len = (uint32_t)len;
                memcpy(m->msg, msg, len);
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int vmbus_sim_next_message(struct vmbus_sim *s, unsigned *vp, void *buf, size_t cap) {
        int r = -ENOMSG;
        pthread_mutex_lock(&s->lock);
        if (s->q_count) {
                struct sim_msg *m = &s->queue[s->q_head];
                if (vp)
                        *vp = m->vp;
                memcpy(buf, m->msg, MIN((size_t)m->len, cap));
                r = (int)m->len;
                s->q_head = (s->q_head + 1) % s->q_cap;
                s->q_count--;
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

unsigned vmbus_sim_pending_messages(struct vmbus_sim *s) {
        pthread_mutex_lock(&s->lock);
        unsigned n = s->q_count;
        pthread_mutex_unlock(&s->lock);
        return n;
}

void vmbus_sim_set_queue_limit(struct vmbus_sim *s, unsigned limit) {
        pthread_mutex_lock(&s->lock);
        s->queue_limit = limit;
        pthread_mutex_unlock(&s->lock);
}

static int sim_set_message_handler(void *host, uint32_t connection_id, vmbus_host_message_fn fn, void *opaque) {
        struct vmbus_sim *s = host;
        int r = -ENOSPC;
        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < SIM_MAX_HANDLERS; i++)
                if (s->handlers[i].fn && s->handlers[i].connection_id == connection_id)
                        s->handlers[i].fn = NULL;
        for (unsigned i = 0; i < SIM_MAX_HANDLERS && fn && r < 0; i++)
                if (!s->handlers[i].fn) {
                        s->handlers[i] = (struct sim_handler){ connection_id, fn, opaque };
                        r = 0;
                }
        pthread_mutex_unlock(&s->lock);
        return fn ? r : 0;
}

uint16_t vmbus_sim_post(struct vmbus_sim *s, uint32_t connection_id, unsigned vp, const void *msg, size_t len) {
        struct sim_handler h = { 0 };
        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < SIM_MAX_HANDLERS; i++)
                if (s->handlers[i].fn && s->handlers[i].connection_id == connection_id)
                        h = s->handlers[i];
        pthread_mutex_unlock(&s->lock);
        /* hvshim checks the payload size before any handler sees it (§3.2). */
        if (len > HV_MESSAGE_PAYLOAD_BYTES)
                return HV_STATUS_INVALID_PARAMETER;
        if (!h.fn)
                return HV_STATUS_INVALID_CONNECTION_ID;
        return h.fn(h.opaque, connection_id, vp, msg, len);
}

/* ---- events -------------------------------------------------------------------- */

static int sim_register_event(void *host, uint32_t connection_id, int efd) {
        struct vmbus_sim *s = host;
        int r = -ENOSPC;
        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < SIM_MAX_EVENTS; i++)
                if (s->events[i].used && s->events[i].connection_id == connection_id)
                        r = -EEXIST;
        for (unsigned i = 0; i < SIM_MAX_EVENTS && r == -ENOSPC; i++)
                if (!s->events[i].used) {
                        s->events[i] = (struct sim_event){ connection_id, efd, true };
                        r = 0;
                }
        pthread_mutex_unlock(&s->lock);
        return r;
}

static int sim_unregister_event(void *host, uint32_t connection_id) {
        struct vmbus_sim *s = host;
        int r = -ENOENT;
        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < SIM_MAX_EVENTS; i++)
                if (s->events[i].used && s->events[i].connection_id == connection_id) {
                        s->events[i].used = false;
                        r = 0;
                }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int vmbus_sim_signal(struct vmbus_sim *s, uint32_t connection_id) {
        int r = -ENOENT;
        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < SIM_MAX_EVENTS; i++)
                if (s->events[i].used && s->events[i].connection_id == connection_id)
                        r = eventfd_write(s->events[i].efd, 1) < 0 ? -errno : 0;
        if (r == 0)
                s->doorbells++;
        pthread_mutex_unlock(&s->lock);
        return r;
}

uint64_t vmbus_sim_doorbell_count(struct vmbus_sim *s) {
        pthread_mutex_lock(&s->lock);
        uint64_t n = s->doorbells;
        pthread_mutex_unlock(&s->lock);
        return n;
}

bool vmbus_sim_event_registered(struct vmbus_sim *s, uint32_t connection_id) {
        bool found = false;
        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < SIM_MAX_EVENTS; i++)
                found |= s->events[i].used && s->events[i].connection_id == connection_id;
        pthread_mutex_unlock(&s->lock);
        return found;
}

/* Lock-free like hvshim's: an atomic OR into the flags (§3.3). */
static int sim_signal_event(void *host, unsigned vp, uint32_t relid) {
        struct vmbus_sim *s = host;
        if (vp >= s->vp_count || relid == 0 || relid >= HV_EVENT_FLAGS_COUNT)
                return -EINVAL;
        __atomic_fetch_or(&s->flags[vp][relid / 64], 1ull << (relid % 64), __ATOMIC_SEQ_CST);
        __atomic_fetch_add(&s->events_signalled, 1, __ATOMIC_RELAXED);
        (void)eventfd_write(s->event_fd, 1);
        return 0;
}

bool vmbus_sim_take_event(struct vmbus_sim *s, unsigned vp, uint32_t relid) {
        if (vp >= s->vp_count || relid >= HV_EVENT_FLAGS_COUNT)
                return false;
        uint64_t bit = 1ull << (relid % 64);
        return __atomic_fetch_and(&s->flags[vp][relid / 64], ~bit, __ATOMIC_SEQ_CST) & bit;
}

uint64_t vmbus_sim_event_count(struct vmbus_sim *s) {
        return __atomic_load_n(&s->events_signalled, __ATOMIC_RELAXED);
}

int vmbus_sim_event_fd(struct vmbus_sim *s) {
        return s->event_fd;
}

/* ---- memory -------------------------------------------------------------------- */

static bool pfn_ok(const struct vmbus_sim *s, uint64_t pfn) {
        return pfn < s->ram_bytes / VMBUS_PAGE_SIZE;
}

/* Map pfns[from, to) at dst, merging runs of adjacent pages. */
static int sim_map_run(struct vmbus_sim *s, uint8_t *dst, const uint64_t *pfns, size_t from, size_t to) {
        for (size_t i = from, j; i < to; i = j) {
                for (j = i + 1; j < to && pfns[j] == pfns[i] + (j - i); j++)
                        ;
                void *m = mmap(dst + (i - from) * VMBUS_PAGE_SIZE, (j - i) * VMBUS_PAGE_SIZE,
                               PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, s->memfd,
                               (off_t)(pfns[i] * VMBUS_PAGE_SIZE));
                if (m == MAP_FAILED)
                        return -errno;
        }
        return 0;
}

static int sim_map_pages(void *host, const uint64_t *pfns, size_t n, unsigned flags, size_t wrap_from,
                         struct vmbus_host_mapping *out) {
        struct vmbus_sim *s = host;
        bool wrap = flags & VMBUS_MAP_WRAP;
        if (n == 0 || (wrap && wrap_from >= n))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!pfn_ok(s, pfns[i]))
                        return -EFAULT;
        size_t total = n + (wrap ? n - wrap_from : 0), len = total * VMBUS_PAGE_SIZE;
        uint8_t *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED)
                return -errno;
        int r = sim_map_run(s, base, pfns, 0, n);
        if (r == 0 && wrap)
                r = sim_map_run(s, base + n * VMBUS_PAGE_SIZE, pfns, wrap_from, n);
        if (r < 0) {
                munmap(base, len);
                return r;
        }
        *out = (struct vmbus_host_mapping){ .base = base, .n_pages = n, .map_len = len };
        __atomic_fetch_add(&s->live_mappings, 1, __ATOMIC_RELAXED);
        return 0;
}

static void sim_unmap_pages(void *host, struct vmbus_host_mapping *m) {
        struct vmbus_sim *s = host;
        if (!m->base)
                return;
        munmap(m->base, m->map_len);
        m->base = NULL;
        __atomic_fetch_sub(&s->live_mappings, 1, __ATOMIC_RELAXED);
}

static int sim_copy(struct vmbus_sim *s, uint64_t gpa, void *buf, size_t len, bool write) {
        uint64_t end;
        if (ADD_OVERFLOW(gpa, (uint64_t)len, &end) || end > s->ram_bytes)
                return -EFAULT;
        if (write)
                memcpy(s->ram + gpa, buf, len);
        else
                memcpy(buf, s->ram + gpa, len);
        return 0;
}

static int sim_read(void *host, uint64_t gpa, void *buf, size_t len) {
        return sim_copy(host, gpa, buf, len, false);
}

static int sim_write(void *host, uint64_t gpa, const void *buf, size_t len) {
        return sim_copy(host, gpa, (void *)buf, len, true);
}

const struct vmbus_host_ops vmbus_sim_ops = {
        .post_message = sim_post_message,
        .set_message_handler = sim_set_message_handler,
        .register_event = sim_register_event,
        .unregister_event = sim_unregister_event,
        .signal_event = sim_signal_event,
        .map_pages = sim_map_pages,
        .unmap_pages = sim_unmap_pages,
        .read = sim_read,
        .write = sim_write,
};
