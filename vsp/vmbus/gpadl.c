// SPDX-License-Identifier: MIT
/* GPADLs (§4.5): GPADL_HEADER + GPADL_BODY accumulation into the range
 * buffer, parsing, mapping, the provider's references, and teardown.
 *
 * The range buffer is one byte stream of range_buflen bytes: rangecount
 * times {byte_count u32, byte_offset u32, PFNs u64...}. The header message
 * carries its first bytes, bodies the rest in order (msgnumber is ignored:
 * Linux leaves it 0). Only a complete buffer is parsed, and it must be
 * consumed exactly. Every limit is checked before anything is allocated. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "internal.h"

#define GPADL_HEADER_BYTES sizeof(struct vmbus_channel_gpadl_header)
#define GPADL_BODY_BYTES sizeof(struct vmbus_channel_gpadl_body)

struct vmbus_gpadl *vmbus_gpadl_find_locked(struct vmbus_server *srv, uint32_t handle) {
        for (struct vmbus_gpadl *g = srv->gpadls; g; g = g->next)
                if (g->handle == handle)
                        return g;
        return NULL;
}

static void gpadl_destroy(struct vmbus_gpadl *g) {
        if (g->map.base)
                g->srv->ops->unmap_pages(g->srv->host, &g->map);
        free(g->buf);
        free(g->pfns);
        free(g->ranges);
        free(g);
}

/* Out of the table and out of the accounting; the object lives on while
 * referenced. */
static void gpadl_unlink_locked(struct vmbus_gpadl *g) {
        struct vmbus_server *srv = g->srv;
        struct vmbus_gpadl **pp = &srv->gpadls;
        while (*pp != g)
                pp = &(*pp)->next;
        *pp = g->next;
        g->next = NULL;
        srv->n_gpadls--;
        srv->total_pages -= (unsigned)(g->buflen / 8 - g->rangecount);
        if (g->state == VMBUS_GPADL_PENDING)
                srv->n_pending--;
        struct vmbus_channel *owner = srv->relids[g->relid];
        if (owner)
                owner->n_gpadls--;
}

static void send_created(struct vmbus_server *srv, uint32_t relid, uint32_t handle, uint32_t status) {
        struct vmbus_channel_gpadl_created m = { .header.msgtype = CHANNELMSG_GPADL_CREATED, .child_relid = relid,
                                                 .gpadl = handle, .creation_status = status };
        (void)vmbus_post_locked(srv, &m, sizeof m);
        if (status == VMBUS_STATUS_SUCCESS)
                srv->stats.gpadls_created++;
        else
                srv->stats.gpadls_failed++;
}

static void send_torndown(struct vmbus_server *srv, uint32_t handle) {
        struct vmbus_channel_gpadl_torndown m = { .header.msgtype = CHANNELMSG_GPADL_TORNDOWN, .gpadl = handle };
        (void)vmbus_post_locked(srv, &m, sizeof m);
        srv->stats.gpadls_torn_down++;
}

int vmbus_gpadl_parse_ranges(const uint8_t *buf, uint32_t buflen, uint16_t rangecount, size_t max_pages,
                             struct vmbus_gpadl_range *ranges, uint64_t *pfns, size_t *n_pages) {
        size_t pos = 0, pages = 0;
        for (unsigned i = 0; i < rangecount; i++) {
                struct vmbus_gpa_range r;
                if (buflen - pos < sizeof r)
                        return -EBADMSG;
                memcpy(&r, buf + pos, sizeof r);
                pos += sizeof r;
                if (r.byte_count == 0 || r.byte_offset >= VMBUS_PAGE_SIZE)
                        return -EBADMSG;
                uint64_t n = DIV_ROUND_UP((uint64_t)r.byte_offset + r.byte_count, VMBUS_PAGE_SIZE);
                if (n > max_pages - pages || n * 8 > buflen - pos)
                        return -EBADMSG;
                memcpy(pfns + pages, buf + pos, (size_t)n * 8);
                ranges[i] = (struct vmbus_gpadl_range){ .byte_count = r.byte_count, .byte_offset = r.byte_offset,
                                                        .first_page = pages, .n_pages = (size_t)n };
                pages += (size_t)n;
                pos += (size_t)n * 8;
        }
        if (pos != buflen) /* range_buflen must describe exactly these ranges */
                return -EBADMSG;
        for (size_t i = 0; i < pages; i++)
                if (pfns[i] >= (1ull << 52))
                        return -EBADMSG;
        *n_pages = pages;
        return 0;
}

/* Parse and map (every PFN must be guest RAM: -EFAULT otherwise). */
static int gpadl_parse_map(struct vmbus_gpadl *g) {
        struct vmbus_server *srv = g->srv;
        size_t max_pages = g->buflen / 8 - g->rangecount;
        g->pfns = calloc(max_pages, sizeof *g->pfns);
        g->ranges = calloc(g->rangecount, sizeof *g->ranges);
        int r = !g->pfns || !g->ranges ? -ENOMEM
                                       : vmbus_gpadl_parse_ranges(g->buf, g->buflen, g->rangecount, max_pages,
                                                                  g->ranges, g->pfns, &g->n_pages);
        if (r == 0)
                r = srv->ops->map_pages(srv->host, g->pfns, g->n_pages, 0, 0, &g->map);
        return r;
}

static void gpadl_set_ready(struct vmbus_gpadl *g) {
        if (g->state == VMBUS_GPADL_PENDING)
                g->srv->n_pending--;
        g->state = VMBUS_GPADL_READY;
        g->n_ranges = g->rangecount;
        free(g->buf);
        g->buf = NULL;
}

/* The whole range buffer arrived: parse, map and answer. A failed GPADL
 * is forgotten. */
static void gpadl_complete(struct vmbus_gpadl *g) {
        struct vmbus_server *srv = g->srv;
        int r = gpadl_parse_map(g);
        gpadl_set_ready(g);
        send_created(srv, g->relid, g->handle, r == 0 ? VMBUS_STATUS_SUCCESS : VMBUS_STATUS_UNSUCCESSFUL);
        if (r < 0) {
                gpadl_unlink_locked(g);
                gpadl_destroy(g);
        }
}

int vmbus_gpadl_complete_quiet(struct vmbus_gpadl *g) {
        int r = gpadl_parse_map(g);
        if (r < 0) {
                free(g->pfns), free(g->ranges);
                g->pfns = NULL, g->ranges = NULL;
                return r;
        }
        gpadl_set_ready(g);
        return 0;
}

/* Limits and consistency of a GPADL_HEADER; 0 or -errno. */
static int header_check(struct vmbus_server *srv, const struct vmbus_channel_gpadl_header *h, size_t len,
                        struct vmbus_channel **owner) {
        struct vmbus_channel *ch = h->child_relid >= 1 && h->child_relid <= VMBUS_CHANNEL_MAX_RELID
                                           ? srv->relids[h->child_relid]
                                           : NULL;
        /* GPADLs belong to an offered channel of a live device (§4.5). */
        if (!ch || !ch->dev || (ch->state != VMBUS_CH_OFFERED && ch->state != VMBUS_CH_OPEN) ||
            srv->conn != VMBUS_CONN_CONNECTED)
                return -ENOENT;
        size_t carried = len - GPADL_HEADER_BYTES;
        /* 8 bytes per range header and per PFN; at least one PFN per range. */
        if (carried % 8 || h->rangecount == 0 || h->range_buflen % 8 || carried > h->range_buflen ||
            h->range_buflen < 16u * h->rangecount)
                return -EBADMSG;
        unsigned pages = h->range_buflen / 8u - h->rangecount;
        bool pending = carried < h->range_buflen;
        if (h->gpadl == 0 || vmbus_gpadl_find_locked(srv, h->gpadl))
                return -EEXIST;
        if (pages > srv->lim.max_gpadl_pages || srv->n_gpadls >= srv->lim.max_gpadls ||
            ch->n_gpadls >= srv->lim.max_gpadls_per_channel ||
            pages > srv->lim.max_total_gpadl_pages - srv->total_pages ||
            (pending && srv->n_pending >= srv->lim.max_pending_gpadls))
                return -EDQUOT;
        *owner = ch;
        return 0;
}

void vmbus_msg_gpadl_header(struct vmbus_server *srv, const void *msg, size_t len) {
        struct vmbus_channel_gpadl_header h;
        memcpy(&h, msg, sizeof h);
        struct vmbus_channel *ch = NULL;
        int r = header_check(srv, &h, len, &ch);
        struct vmbus_gpadl *g = r < 0 ? NULL : calloc(1, sizeof *g);
        uint8_t *buf = g ? malloc(h.range_buflen) : NULL;
        if (!buf) {
                /* The guest waits for GPADL_CREATED even for a refusal (§4.9);
                 * an existing GPADL with this handle is left alone. */
                free(g);
                srv->stats.unexpected++;
                send_created(srv, h.child_relid, h.gpadl, VMBUS_STATUS_UNSUCCESSFUL);
                return;
        }
        size_t carried = len - GPADL_HEADER_BYTES;
        memcpy(buf, (const uint8_t *)msg + GPADL_HEADER_BYTES, carried);
        *g = (struct vmbus_gpadl){ .srv = srv, .next = srv->gpadls, .handle = h.gpadl, .relid = h.child_relid,
                                   .state = VMBUS_GPADL_PENDING, .rangecount = h.rangecount,
                                   .buflen = h.range_buflen, .filled = (uint32_t)carried, .buf = buf };
        srv->gpadls = g;
        srv->n_gpadls++;
        srv->n_pending++;
        srv->total_pages += h.range_buflen / 8u - h.rangecount;
        ch->n_gpadls++;
        if (g->filled == g->buflen)
                gpadl_complete(g);
}

void vmbus_msg_gpadl_body(struct vmbus_server *srv, const void *msg, size_t len) {
        struct vmbus_channel_gpadl_body b;
        memcpy(&b, msg, sizeof b);
        struct vmbus_gpadl *g = vmbus_gpadl_find_locked(srv, b.gpadl);
        if (!g || g->state != VMBUS_GPADL_PENDING) {
                /* A body without its header: nothing to answer (§4.5). */
                srv->stats.unexpected++;
                return;
        }
        size_t carried = len - GPADL_BODY_BYTES;
        if (carried % 8 || carried > g->buflen - g->filled) {
                /* More than range_buflen announced, or not whole PFNs: the
                 * GPADL fails, and the guest learns it from GPADL_CREATED. */
                srv->stats.bad_messages++;
                send_created(srv, g->relid, g->handle, VMBUS_STATUS_UNSUCCESSFUL);
                gpadl_unlink_locked(g);
                gpadl_destroy(g);
                return;
        }
        memcpy(g->buf + g->filled, (const uint8_t *)msg + GPADL_BODY_BYTES, carried);
        g->filled += (uint32_t)carried;
        if (g->filled == g->buflen)
                gpadl_complete(g);
}

void vmbus_msg_gpadl_teardown(struct vmbus_server *srv, const void *msg, size_t len) {
        struct vmbus_channel_gpadl_teardown t;
        memcpy(&t, msg, sizeof t);
        struct vmbus_gpadl *g = vmbus_gpadl_find_locked(srv, t.gpadl);
        if (!g) {
                /* Unknown: nothing of ours maps it, and the guest waits for
                 * the answer without a timeout (§4.9). */
                srv->stats.unexpected++;
                send_torndown(srv, t.gpadl);
                return;
        }
        if (g->relid != t.child_relid || g->state == VMBUS_GPADL_TEARDOWN) {
                /* Another channel's GPADL, or a teardown already waiting for
                 * the provider: do not touch it. */
                srv->stats.unexpected++;
                return;
        }
        if (g->state == VMBUS_GPADL_PENDING || g->refs == 0) {
                gpadl_unlink_locked(g);
                gpadl_destroy(g);
                send_torndown(srv, t.gpadl);
                return;
        }
        /* In use (an open channel's ring, a provider's buffer): answered when
         * the last reference goes (netvsc tears its buffers down after
         * CLOSECHANNEL, §4.5, §7.7). */
        g->state = VMBUS_GPADL_TEARDOWN;
}

void vmbus_gpadl_get_locked(struct vmbus_gpadl *g) {
        g->refs++;
}

void vmbus_gpadl_put_locked(struct vmbus_gpadl *g) {
        if (!g || --g->refs > 0)
                return;
        if (g->state == VMBUS_GPADL_TEARDOWN) {
                gpadl_unlink_locked(g);
                send_torndown(g->srv, g->handle);
                gpadl_destroy(g);
        } else if (g->state == VMBUS_GPADL_ORPHANED) {
                gpadl_destroy(g);
        }
}

void vmbus_gpadls_orphan_locked(struct vmbus_server *srv, uint32_t relid) {
        for (struct vmbus_gpadl *g = srv->gpadls, *next; g; g = next) {
                next = g->next;
                if (relid && g->relid != relid)
                        continue;
                gpadl_unlink_locked(g);
                if (g->state == VMBUS_GPADL_PENDING || g->refs == 0)
                        gpadl_destroy(g);
                else
                        g->state = VMBUS_GPADL_ORPHANED;
        }
}

void vmbus_gpadls_free_all(struct vmbus_server *srv) {
        while (srv->gpadls) {
                struct vmbus_gpadl *g = srv->gpadls;
                gpadl_unlink_locked(g);
                gpadl_destroy(g);
        }
}

/* ---- provider API ------------------------------------------------------------ */

int vmbus_channel_gpadl_get(struct vmbus_channel *ch, uint32_t handle, struct vmbus_gpadl **out) {
        struct vmbus_server *srv = ch->srv;
        int r = -ENOENT;
        pthread_mutex_lock(&srv->lock);
        struct vmbus_gpadl *g = vmbus_gpadl_find_locked(srv, handle);
        struct vmbus_channel *owner = g ? srv->relids[g->relid] : NULL;
        /* While a restore applies, a provider takes back what it held when
         * saved, a GPADL the guest wants torn down included. */
        bool usable = g && (g->state == VMBUS_GPADL_READY || (g->state == VMBUS_GPADL_TEARDOWN && srv->restoring));
        if (usable && owner && owner->dev && owner->dev == ch->dev) {
                vmbus_gpadl_get_locked(g);
                *out = g;
                r = 0;
        }
        pthread_mutex_unlock(&srv->lock);
        return r;
}

void vmbus_gpadl_put(struct vmbus_gpadl *g) {
        if (!g)
                return;
        struct vmbus_server *srv = g->srv;
        pthread_mutex_lock(&srv->lock);
        vmbus_gpadl_put_locked(g);
        pthread_mutex_unlock(&srv->lock);
}

uint32_t vmbus_gpadl_handle(const struct vmbus_gpadl *g) {
        return g->handle;
}

unsigned vmbus_gpadl_range_count(const struct vmbus_gpadl *g) {
        return g->n_ranges;
}

void vmbus_pages_dirty(struct vmbus_server *srv, const uint64_t *pfns, size_t n_pages, size_t off, size_t len) {
        if (!srv->dirty || !atomic_load_explicit(srv->dirty, memory_order_relaxed))
                return;
        for (size_t page = off / VMBUS_PAGE_SIZE; len > 0 && page < n_pages; page++) {
                size_t in_page = off % VMBUS_PAGE_SIZE, n = MIN(len, VMBUS_PAGE_SIZE - in_page);
                srv->ops->mark_dirty(srv->host, pfns[page] * VMBUS_PAGE_SIZE + in_page, n);
                off += n;
                len -= n;
        }
}

void vmbus_gpadl_mark_dirty(const struct vmbus_gpadl *g, unsigned range, size_t offset, size_t len) {
        if (!g->srv->dirty || !atomic_load_explicit(g->srv->dirty, memory_order_relaxed) || range >= g->n_ranges ||
            offset >= g->ranges[range].byte_count)
                return;
        const struct vmbus_gpadl_range *r = &g->ranges[range];
        len = MIN(len, r->byte_count - offset);
        vmbus_pages_dirty(g->srv, g->pfns + r->first_page, r->n_pages, r->byte_offset + offset, len);
}

int vmbus_gpadl_buffer(const struct vmbus_gpadl *g, unsigned range, uint8_t **data, size_t *len) {
        if (range >= g->n_ranges)
                return -EINVAL;
        const struct vmbus_gpadl_range *r = &g->ranges[range];
        *data = (uint8_t *)g->map.base + r->first_page * VMBUS_PAGE_SIZE + r->byte_offset;
        *len = r->byte_count;
        return 0;
}
