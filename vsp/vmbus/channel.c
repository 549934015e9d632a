// SPDX-License-Identifier: MIT
/* Channels: OPENCHANNEL / CLOSECHANNEL / RELID_RELEASED / MODIFYCHANNEL
 * (§4.6, §4.7), hot-remove rescinds, sub-channel offers, and the channel
 * accessors of the provider API. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "internal.h"

static struct vmbus_channel *channel_lookup(struct vmbus_server *srv, uint32_t relid) {
        return relid >= 1 && relid <= VMBUS_CHANNEL_MAX_RELID ? srv->relids[relid] : NULL;
}

static void ring_signal(void *opaque) {
        vmbus_channel_signal(opaque);
}

/* The ring library wrote [off, off + len) of a ring: pages [0, in_map's)
 * of the ring GPADL are the in ring, the rest the out ring. */
static void ring_dirty(void *opaque, const struct vmbus_ring *r, uint32_t off, uint32_t len) {
        struct vmbus_channel *ch = opaque;
        bool in = r == &ch->rings.in;
        const uint64_t *pfns = ch->ring_gpadl->pfns + (in ? 0 : ch->in_map.n_pages);
        vmbus_pages_dirty(ch->srv, pfns, in ? ch->in_map.n_pages : ch->out_map.n_pages, off, len);
}

/* Map the two rings of the ring GPADL (§5.1): pages [0, send_pages) are the
 * guest's outbound ring, the rest its inbound ring; each with its data
 * area mapped twice (header page excluded from the wrap). */
static int channel_map_rings(struct vmbus_channel *ch, const struct vmbus_gpadl *g, uint32_t send_pages) {
        struct vmbus_server *srv = ch->srv;
        size_t recv_pages = g->n_pages - send_pages;
        int r = srv->ops->map_pages(srv->host, g->pfns, send_pages, VMBUS_MAP_WRAP, 1, &ch->in_map);
        if (r < 0)
                return r;
        r = srv->ops->map_pages(srv->host, g->pfns + send_pages, recv_pages, VMBUS_MAP_WRAP, 1, &ch->out_map);
        if (r < 0) {
                srv->ops->unmap_pages(srv->host, &ch->in_map);
                return r;
        }
        r = vmbus_ring_pair_init(&ch->rings, ch->in_map.base, (size_t)send_pages * VMBUS_PAGE_SIZE,
                                 ch->out_map.base, recv_pages * VMBUS_PAGE_SIZE, ch->dev->ops->guest_max_packet,
                                 ring_signal, ch);
        if (r < 0) {
                srv->ops->unmap_pages(srv->host, &ch->out_map);
                srv->ops->unmap_pages(srv->host, &ch->in_map);
                return r;
        }
        vmbus_ring_set_dirty(&ch->rings, srv->dirty, ring_dirty, ch);
        return 0;
}

static void channel_unmap_rings(struct vmbus_channel *ch) {
        ch->srv->ops->unmap_pages(ch->srv->host, &ch->out_map);
        ch->srv->ops->unmap_pages(ch->srv->host, &ch->in_map);
}

/* The doorbell: HvSignalEvent(connection_id) makes efd readable (§5.5). */
static int channel_doorbell_setup(struct vmbus_channel *ch) {
        struct vmbus_server *srv = ch->srv;
        ch->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (ch->efd < 0)
                return -errno;
        int r = srv->ops->register_event(srv->host, ch->connection_id, ch->efd);
        if (r < 0)
                ch->efd = safe_close(ch->efd);
        return r;
}

static void channel_doorbell_teardown(struct vmbus_channel *ch) {
        (void)ch->srv->ops->unregister_event(ch->srv->host, ch->connection_id);
        ch->efd = safe_close(ch->efd);
}

/* Everything before the provider's open; the ring GPADL is validated. */
static int channel_prepare(struct vmbus_channel *ch, const struct vmbus_channel_open_channel *o, bool restoring) {
        struct vmbus_server *srv = ch->srv;
        struct vmbus_gpadl *g = vmbus_gpadl_find_locked(srv, o->ringbuffer_gpadlhandle);
        /* A ring GPADL is whole pages of this channel (§5.1), each ring at
         * least a header page and one data page. */
        if (!g || (g->state != VMBUS_GPADL_READY && !(restoring && g->state == VMBUS_GPADL_TEARDOWN)) ||
            g->relid != ch->relid || g->n_ranges != 1 ||
            g->ranges[0].byte_offset != 0 || g->ranges[0].byte_count != g->n_pages * VMBUS_PAGE_SIZE ||
            g->n_pages < 4 || o->downstream_ringbuffer_pageoffset < 2 ||
            o->downstream_ringbuffer_pageoffset > g->n_pages - 2 || !vmbus_vp_valid(srv, o->target_vp))
                return -EINVAL;
        int r = channel_map_rings(ch, g, o->downstream_ringbuffer_pageoffset);
        if (r < 0)
                return r;
        r = channel_doorbell_setup(ch);
        if (r < 0) {
                channel_unmap_rings(ch);
                return r;
        }
        vmbus_gpadl_get_locked(g);
        ch->ring_gpadl = g;
        ch->openid = o->openid;
        memcpy(ch->userdata, o->userdata, sizeof ch->userdata);
        ch->data = NULL;
        __atomic_store_n(&ch->target_vp, o->target_vp, __ATOMIC_RELEASE);
        __atomic_store_n(&ch->dead, 0, __ATOMIC_RELEASE);
        return 0;
}

/* Undo channel_prepare. Lock held. */
static void channel_unprepare(struct vmbus_channel *ch) {
        channel_doorbell_teardown(ch);
        channel_unmap_rings(ch);
        vmbus_gpadl_put_locked(ch->ring_gpadl);
        ch->ring_gpadl = NULL;
        ch->data = NULL;
}

/* After the provider's open or restore_channel returned r (called with the
 * lock dropped): retakes the lock and undoes channel_prepare on failure.
 * 0 or the error. */
static int channel_opened(struct vmbus_channel *ch, int r) {
        if (r > 0)
                r = 0;
        pthread_mutex_lock(&ch->srv->lock);
        if (r < 0)
                channel_unprepare(ch);
        return r;
}

static int channel_open(struct vmbus_channel *ch, const struct vmbus_channel_open_channel *o) {
        struct vmbus_server *srv = ch->srv;
        const struct vmbus_provider_ops *ops = ch->dev->ops;
        int r = channel_prepare(ch, o, false);
        if (r < 0)
                return r;
        struct vmbus_open_request req = { .sub_channel_index = ch->sub_index, .target_vp = o->target_vp,
                                          .userdata = o->userdata, .userdata_len = sizeof o->userdata };
        pthread_mutex_unlock(&srv->lock);
        r = channel_opened(ch, ops->open(ch, &req));
        if (r < 0)
                return r;
        ch->state = VMBUS_CH_OPEN;
        return 0;
}

int vmbus_channel_restore_open(struct vmbus_channel *ch, const struct vmbus_channel_open_channel *o, bool dead,
                               const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        struct vmbus_server *srv = ch->srv;
        const struct vmbus_provider_ops *ops = ch->dev->ops;
        if (!ops->restore_channel)
                return errorf(err, errlen, -EOPNOTSUPP, "the %s provider cannot restore its channels yet",
                              ops->name);
        int r = channel_prepare(ch, o, true);
        if (r < 0)
                return errorf(err, errlen, r, "VBCH #%u: its rings cannot be mapped: %s", ch->relid, strerror(-r));
        struct vmbus_open_request req = { .sub_channel_index = ch->sub_index, .target_vp = o->target_vp,
                                          .userdata = o->userdata, .userdata_len = sizeof o->userdata };
        pthread_mutex_unlock(&srv->lock);
        r = channel_opened(ch, ops->restore_channel(ch, &req, secs, n, err, errlen));
        if (r < 0)
                return r;
        __atomic_store_n(&ch->dead, dead ? 1 : 0, __ATOMIC_RELEASE);
        ch->state = VMBUS_CH_OPEN;
        return 0;
}

void vmbus_msg_open(struct vmbus_server *srv, const void *msg, size_t len) {
        struct vmbus_channel_open_channel o;
        memcpy(&o, msg, sizeof o);
        struct vmbus_channel *ch = channel_lookup(srv, o.child_relid);
        uint32_t status = VMBUS_STATUS_UNSUCCESSFUL;
        /* A second open of an open channel fails and leaves it open. */
        if (!ch || !ch->dev || ch->state != VMBUS_CH_OFFERED || srv->conn != VMBUS_CONN_CONNECTED)
                srv->stats.unexpected++;
        else if (channel_open(ch, &o) < 0)
                srv->stats.open_failures++;
        else {
                srv->stats.opens++;
                status = VMBUS_STATUS_SUCCESS;
        }
        /* The guest waits for the result, matched on relid + openid (§4.6). */
        struct vmbus_channel_open_result res = { .header.msgtype = CHANNELMSG_OPENCHANNEL_RESULT,
                                                 .child_relid = o.child_relid, .openid = o.openid,
                                                 .status = status };
        (void)vmbus_post_locked(srv, &res, sizeof res);
}

bool vmbus_channel_failed(const struct vmbus_channel *ch) {
        return vmbus_ring_broken(&ch->rings) || __atomic_load_n(&ch->dead, __ATOMIC_ACQUIRE);
}

/* serial and lock held; lock is dropped around the provider. On return the
 * provider is done with the rings and they are unmapped. */
void vmbus_channel_close(struct vmbus_channel *ch) {
        struct vmbus_server *srv = ch->srv;
        ch->state = VMBUS_CH_OFFERED; /* from now on no sub-channel offers */
        pthread_mutex_unlock(&srv->lock);
        ch->dev->ops->close(ch);
        pthread_mutex_lock(&srv->lock);
        if (vmbus_ring_broken(&ch->rings) || __atomic_load_n(&ch->dead, __ATOMIC_ACQUIRE))
                srv->stats.channels_broken++;
        channel_unprepare(ch);
        srv->stats.closes++;
}

/* Closes ch if open, then rescinds it if the guest knows it, else frees
 * it (§4.7). serial and lock held; the caller checked the reply queue's
 * room. */
static void rescind_channel_locked(struct vmbus_channel *ch) {
        struct vmbus_server *srv = ch->srv;
        if (ch->state == VMBUS_CH_OPEN)
                vmbus_channel_close(ch);
        if (ch->state == VMBUS_CH_OFFERED) {
                struct vmbus_channel_relid_message m = {
                        .header.msgtype = CHANNELMSG_RESCIND_CHANNELOFFER,
                        .child_relid = ch->relid,
                };
                (void)vmbus_post_locked(srv, &m, sizeof m);
                ch->state = VMBUS_CH_RESCINDED;
                ch->dev = NULL;
                srv->stats.rescinds++;
        } else {
                vmbus_channel_free_locked(ch);
        }
}

/* The guest closed a device's primary: its sub-channels are rescinded, as
 * Hyper-V does, so a reopen asks for them again and gets new offers
 * numbered from 1 (Linux's netvsc waits for exactly the new ones). A
 * guest that left one open has it closed first. Without room in the reply
 * queue they stay (counted). */
static void rescind_subchannels_locked(struct vmbus_device *dev) {
        struct vmbus_server *srv = dev->srv;
        unsigned n = dev->n_channels;
        if (n < 2)
                return;
        if (vmbus_post_room_locked(srv) < n - 1) {
                srv->stats.unexpected++;
                return;
        }
        for (unsigned i = n; i-- > 1;) {
                rescind_channel_locked(dev->channels[i]);
                dev->channels[i] = NULL;
        }
        __atomic_store_n(&dev->n_channels, 1u, __ATOMIC_RELEASE);
}

void vmbus_msg_close(struct vmbus_server *srv, const void *msg, size_t len) {
        struct vmbus_channel_relid_message m;
        memcpy(&m, msg, sizeof m);
        struct vmbus_channel *ch = channel_lookup(srv, m.child_relid);
        /* No reply exists for CLOSECHANNEL (§4.7). */
        if (!ch || ch->state != VMBUS_CH_OPEN) {
                srv->stats.unexpected++;
                return;
        }
        vmbus_channel_close(ch);
        if (ch->sub_index == 0 && ch->dev && !ch->dev->removing)
                rescind_subchannels_locked(ch->dev);
}

void vmbus_msg_relid_released(struct vmbus_server *srv, const void *msg, size_t len) {
        struct vmbus_channel_relid_message m;
        memcpy(&m, msg, sizeof m);
        struct vmbus_channel *ch = channel_lookup(srv, m.child_relid);
        if (ch && ch->state == VMBUS_CH_RESCINDED) {
                /* The relid is free again; the guest skipped the GPADL
                 * teardowns of the rescinded channel (§4.7). */
                vmbus_channel_free_locked(ch);
        } else if (ch && ch->state == VMBUS_CH_OFFERED) {
                /* The guest failed to set the offer up (§4.7); it stays
                 * unusable until the next connection offers it again. */
                ch->state = VMBUS_CH_RELEASED;
        } else {
                srv->stats.unexpected++;
        }
}

void vmbus_msg_modify(struct vmbus_server *srv, const void *msg, size_t len) {
        /* MODIFYCHANNEL exists from 4.1 on; its response from 5.3 (§4.1). */
        if (srv->conn != VMBUS_CONN_CONNECTED || srv->version < VERSION_WIN10_V4_1) {
                srv->stats.unexpected++;
                return;
        }
        struct vmbus_channel_modifychannel m;
        memcpy(&m, msg, sizeof m);
        struct vmbus_channel *ch = channel_lookup(srv, m.child_relid);
        uint32_t status = VMBUS_STATUS_UNSUCCESSFUL;
        if (ch && ch->state == VMBUS_CH_OPEN && vmbus_vp_valid(srv, m.target_vp)) {
                __atomic_store_n(&ch->target_vp, m.target_vp, __ATOMIC_RELEASE);
                status = VMBUS_STATUS_SUCCESS;
        } else {
                srv->stats.unexpected++;
        }
        if (srv->version >= VERSION_WIN10_V5_3) {
                struct vmbus_channel_modifychannel_response res = {
                        .header.msgtype = CHANNELMSG_MODIFYCHANNEL_RESPONSE,
                        .child_relid = m.child_relid,
                        .status = status,
                };
                (void)vmbus_post_locked(srv, &res, sizeof res);
        }
}

/* Hot remove (§4.7): close, then rescind what the guest knows about and
 * free what it does not. serial and lock held; the caller checked that
 * the reply queue has room for one rescind per channel. */
void vmbus_device_rescind(struct vmbus_device *dev) {
        /* Closing drops the lock: a provider thread must not add
         * sub-channels behind this loop meanwhile. */
        dev->removing = true;
        for (unsigned i = dev->n_channels; i-- > 0;) {
                rescind_channel_locked(dev->channels[i]);
                dev->channels[i] = NULL;
        }
        __atomic_store_n(&dev->n_channels, 0u, __ATOMIC_RELEASE);
}

int vmbus_device_offer_subchannels(struct vmbus_device *dev, unsigned n) {
        struct vmbus_server *srv = dev->srv;
        int r = 0;
        pthread_mutex_lock(&srv->lock);
        struct vmbus_channel *primary = dev->n_channels ? dev->channels[0] : NULL;
        if (!primary || primary->state != VMBUS_CH_OPEN || srv->conn != VMBUS_CONN_CONNECTED || dev->removing)
                r = -ENOTCONN;
        else if (n > VMBUS_MAX_SUBCHANNELS || dev->n_channels - 1 + n > dev->ops->max_subchannels)
                r = -EINVAL;
        else if (srv->n_channels + n > srv->lim.max_channels)
                r = -ENOSPC;
        else if (vmbus_post_room_locked(srv) < n)
                r = -ENOBUFS;
        unsigned first = dev->n_channels, made = 0;
        for (; r == 0 && made < n; made++) {
                struct vmbus_channel *ch = vmbus_channel_new_locked(srv, dev, (uint16_t)(first + made));
                if (!ch)
                        r = -ENOMEM;
                else
                        dev->channels[first + made] = ch;
        }
        if (r < 0) {
                for (unsigned i = first; i < first + made; i++) {
                        if (dev->channels[i])
                                vmbus_channel_free_locked(dev->channels[i]);
                        dev->channels[i] = NULL;
                }
        } else {
                __atomic_store_n(&dev->n_channels, first + n, __ATOMIC_RELEASE);
                /* Same class and instance, sub_channel_index 1..N (§6.7, §7.8). */
                for (unsigned i = first; i < first + n; i++)
                        vmbus_send_offer_locked(srv, dev->channels[i]);
        }
        pthread_mutex_unlock(&srv->lock);
        return r < 0 ? r : (int)n;
}

/* ---- provider accessors ------------------------------------------------------ */

struct vmbus_device *vmbus_channel_device(const struct vmbus_channel *ch) {
        return ch->dev;
}

uint16_t vmbus_channel_subchannel_index(const struct vmbus_channel *ch) {
        return ch->sub_index;
}

uint32_t vmbus_channel_relid(const struct vmbus_channel *ch) {
        return ch->relid;
}

void vmbus_channel_set_data(struct vmbus_channel *ch, void *data) {
        __atomic_store_n(&ch->data, data, __ATOMIC_RELEASE);
}

void *vmbus_channel_data(const struct vmbus_channel *ch) {
        return __atomic_load_n(&ch->data, __ATOMIC_ACQUIRE);
}

struct vmbus_ring_pair *vmbus_channel_rings(struct vmbus_channel *ch) {
        return &ch->rings;
}

int vmbus_channel_event_fd(const struct vmbus_channel *ch) {
        return ch->efd;
}

void vmbus_channel_signal(struct vmbus_channel *ch) {
        /* SIEF bit relid on the channel's target VP (§3.4). */
        uint32_t vp = __atomic_load_n(&ch->target_vp, __ATOMIC_ACQUIRE);
        (void)ch->srv->ops->signal_event(ch->srv->host, vp, ch->relid);
}

static int gpa_copy(struct vmbus_channel *ch, const struct vmbus_gpa_range_view *r, size_t offset, void *buf,
                    size_t len, bool write) {
        const struct vmbus_host_ops *ops = ch->srv->ops;
        if (offset > r->byte_count || len > r->byte_count - offset)
                return -EFAULT;
        size_t pos = (size_t)r->byte_offset + offset;
        uint8_t *p = buf;
        while (len) {
                size_t in_page = pos % VMBUS_PAGE_SIZE, n = MIN(len, VMBUS_PAGE_SIZE - in_page);
                size_t idx = pos / VMBUS_PAGE_SIZE;
                uint64_t pfn = idx < r->n_pfns ? vmbus_gpa_range_pfn(r, (uint32_t)idx) : UINT64_MAX;
                if (pfn >= (1ull << 52))
                        return -EFAULT;
                uint64_t gpa = (pfn << 12) + in_page;
                int e = write ? ops->write(ch->srv->host, gpa, p, n) : ops->read(ch->srv->host, gpa, p, n);
                if (e < 0)
                        return e;
                p += n;
                pos += n;
                len -= n;
        }
        return 0;
}

int vmbus_channel_gpa_read(struct vmbus_channel *ch, const struct vmbus_gpa_range_view *r, size_t offset,
                           void *buf, size_t len) {
        return gpa_copy(ch, r, offset, buf, len, false);
}

int vmbus_channel_gpa_write(struct vmbus_channel *ch, const struct vmbus_gpa_range_view *r, size_t offset,
                            const void *buf, size_t len) {
        return gpa_copy(ch, r, offset, (void *)buf, len, true);
}
