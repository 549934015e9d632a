// SPDX-License-Identifier: MIT
/* VMBus server lifecycle, devices, relids and the reply queue. The message
 * state machine is in connection.c, channels in channel.c, GPADLs in
 * gpadl.c; internal.h describes the two locks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/macro.h"
#include "internal.h"

/* Back-pressure retry period while replies wait for SynIC queue room. */
#define VMBUS_RETRY_NS 1000000L

static uint16_t server_on_message(void *opaque, uint32_t connection_id, unsigned vp_index, const void *msg,
                                  size_t len) {
        return vmbus_server_handle_message(opaque, connection_id, vp_index, msg, len);
}

static void limits_apply_defaults(struct vmbus_limits *l) {
        if (!l->max_channels)
                l->max_channels = 256;
        if (!l->max_gpadl_pages)
                l->max_gpadl_pages = VMBUS_GPADL_WIRE_MAX_PFNS;
        if (!l->max_gpadls_per_channel)
                l->max_gpadls_per_channel = 32;
        if (!l->max_gpadls)
                l->max_gpadls = 1024;
        if (!l->max_total_gpadl_pages)
                l->max_total_gpadl_pages = 32768;
        if (!l->max_pending_gpadls)
                l->max_pending_gpadls = 16;
        l->max_channels = MIN(l->max_channels, VMBUS_CHANNEL_MAX_RELID);
        l->max_gpadl_pages = MIN(l->max_gpadl_pages, VMBUS_GPADL_WIRE_MAX_PFNS);
}

static bool host_ops_valid(const struct vmbus_host_ops *o) {
        return o && o->post_message && o->set_message_handler && o->register_event && o->unregister_event &&
               o->signal_event && o->map_pages && o->unmap_pages && o->read && o->write &&
               !o->dirty_flag == !o->mark_dirty;
}

int vmbus_server_new(const struct vmbus_server_config *cfg, const struct vmbus_host_ops *ops, void *host,
                     struct vmbus_server **out) {
        if (!cfg || cfg->vp_count == 0 || !host_ops_valid(ops))
                return -EINVAL;
        struct vmbus_server *srv = calloc(1, sizeof *srv);
        if (!srv)
                return -ENOMEM;
        pthread_mutex_init(&srv->serial, NULL);
        pthread_mutex_init(&srv->lock, NULL);
        srv->ops = ops;
        srv->host = host;
        srv->dirty = ops->dirty_flag ? ops->dirty_flag(host) : NULL;
        srv->vp_count = cfg->vp_count;
        srv->lim = cfg->limits;
        srv->tl_connect = cfg->tl_connect;
        srv->tl_connect_opaque = cfg->tl_connect_opaque;
        limits_apply_defaults(&srv->lim);
        /* Room for every reply one guest message can cause (all offers) plus
         * a rescind or offer per channel from hot remove/add. */
        srv->def_cap = 2 * srv->lim.max_channels + 16;
        srv->deferred = calloc(srv->def_cap, sizeof *srv->deferred);
        srv->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        int r = !srv->deferred ? -ENOMEM : srv->timer_fd < 0 ? -errno : 0;
        if (r == 0)
                r = ops->set_message_handler(host, VMBUS_MESSAGE_CONNECTION_ID, server_on_message, srv);
        if (r == 0)
                r = ops->set_message_handler(host, VMBUS_MESSAGE_CONNECTION_ID_4, server_on_message, srv);
        if (r < 0) {
                vmbus_server_free(srv);
                return r;
        }
        *out = srv;
        return 0;
}

static void device_free(struct vmbus_device *dev) {
        if (dev->ops->destroy)
                dev->ops->destroy(dev);
        free(dev);
}

void vmbus_server_free(struct vmbus_server *srv) {
        if (!srv)
                return;
        /* No new messages first; then the same teardown as a VM reset. */
        (void)srv->ops->set_message_handler(srv->host, VMBUS_MESSAGE_CONNECTION_ID, NULL, NULL);
        (void)srv->ops->set_message_handler(srv->host, VMBUS_MESSAGE_CONNECTION_ID_4, NULL, NULL);
        pthread_mutex_lock(&srv->serial);
        pthread_mutex_lock(&srv->lock);
        vmbus_disconnect(srv);
        while (srv->devices) {
                struct vmbus_device *dev = srv->devices;
                srv->devices = dev->next;
                vmbus_channel_free_locked(dev->channels[0]);
                pthread_mutex_unlock(&srv->lock);
                device_free(dev);
                pthread_mutex_lock(&srv->lock);
        }
        for (uint32_t relid = 1; relid <= VMBUS_CHANNEL_MAX_RELID; relid++)
                if (srv->relids[relid])
                        vmbus_channel_free_locked(srv->relids[relid]);
        vmbus_gpadls_free_all(srv);
        pthread_mutex_unlock(&srv->lock);
        pthread_mutex_unlock(&srv->serial);
        safe_close(srv->timer_fd);
        free(srv->deferred);
        pthread_mutex_destroy(&srv->lock);
        pthread_mutex_destroy(&srv->serial);
        free(srv);
}

bool vmbus_vp_valid(const struct vmbus_server *srv, uint32_t vp) {
        return vp < srv->vp_count;
}

/* ---- replies ------------------------------------------------------------- */

static void retry_timer_arm(struct vmbus_server *srv, bool on) {
        struct itimerspec its = { 0 };
        if (on)
                its.it_value.tv_nsec = its.it_interval.tv_nsec = VMBUS_RETRY_NS;
        (void)timerfd_settime(srv->timer_fd, 0, &its, NULL);
}

unsigned vmbus_post_room_locked(const struct vmbus_server *srv) {
        return srv->def_cap - srv->def_count;
}

/* Replies leave in order: once one waits, all later ones queue behind it. */
int vmbus_post_locked(struct vmbus_server *srv, const void *msg, size_t len) {
        if (len > VMBUS_MESSAGE_MAX_BYTES)
                return -EINVAL;
        if (srv->def_count == 0 && !srv->quiesced) {
                int r = srv->ops->post_message(srv->host, srv->msg_vp, msg, len);
                if (r == 0) {
                        srv->stats.replies_posted++;
                        return 0;
                }
                if (r != -ENOBUFS) {
                        srv->stats.replies_dropped++;
                        return r;
                }
        }
        if (srv->def_count == srv->def_cap) {
                srv->stats.replies_dropped++;
                return -ENOBUFS;
        }
        struct vmbus_outmsg *m = &srv->deferred[(srv->def_head + srv->def_count) % srv->def_cap];
        m->vp = srv->msg_vp;
        m->len = (uint32_t)len;
        memcpy(m->msg, msg, len);
        if (srv->def_count++ == 0 && !srv->quiesced)
                retry_timer_arm(srv, true);
        srv->stats.replies_deferred++;
        return 0;
}

int vmbus_flush_locked(struct vmbus_server *srv) {
        while (srv->def_count && !srv->quiesced) {
                struct vmbus_outmsg *m = &srv->deferred[srv->def_head];
                int r = srv->ops->post_message(srv->host, m->vp, m->msg, m->len);
                if (r == -ENOBUFS)
                        break;
                if (r == 0)
                        srv->stats.replies_posted++;
                else
                        srv->stats.replies_dropped++;
                srv->def_head = (srv->def_head + 1) % srv->def_cap;
                if (--srv->def_count == 0)
                        retry_timer_arm(srv, false);
        }
        return (int)srv->def_count;
}

int vmbus_server_fd(const struct vmbus_server *srv) {
        return srv->timer_fd;
}

int vmbus_server_dispatch(struct vmbus_server *srv) {
        uint64_t ticks;
        (void)!read(srv->timer_fd, &ticks, sizeof ticks);
        pthread_mutex_lock(&srv->lock);
        int r = vmbus_flush_locked(srv);
        pthread_mutex_unlock(&srv->lock);
        return r;
}

/* ---- quiesce (docs/vm-state.md) ------------------------------------------- */

int vmbus_server_quiesce(struct vmbus_server *srv) {
        pthread_mutex_lock(&srv->serial);
        pthread_mutex_lock(&srv->lock);
        srv->quiesced = true;
        retry_timer_arm(srv, false);
        pthread_mutex_unlock(&srv->lock);
        pthread_mutex_unlock(&srv->serial);
        return 0;
}

void vmbus_server_resume(struct vmbus_server *srv) {
        pthread_mutex_lock(&srv->serial);
        pthread_mutex_lock(&srv->lock);
        srv->quiesced = false;
        /* In order; what finds no room waits for the retry timer as any
         * deferred reply does. */
        if (vmbus_flush_locked(srv) > 0)
                retry_timer_arm(srv, true);
        pthread_mutex_unlock(&srv->lock);
        pthread_mutex_unlock(&srv->serial);
}

/* ---- channels and relids --------------------------------------------------- */

struct vmbus_channel *vmbus_channel_new_locked(struct vmbus_server *srv, struct vmbus_device *dev,
                                               uint16_t sub_index) {
        if (srv->n_channels >= srv->lim.max_channels)
                return NULL;
        /* Lowest free relid: 1..2047 (§4.4); a rescinded one stays taken until
         * the guest's RELID_RELEASED (§4.7). */
        uint32_t relid = 1;
        while (relid <= VMBUS_CHANNEL_MAX_RELID && srv->relids[relid])
                relid++;
        if (relid > VMBUS_CHANNEL_MAX_RELID)
                return NULL;
        struct vmbus_channel *ch = calloc(1, sizeof *ch);
        if (!ch)
                return NULL;
        *ch = (struct vmbus_channel){ .srv = srv, .dev = dev, .relid = relid,
                                      .connection_id = VMBUS_CHANNEL_CONNECTION_ID(relid),
                                      .sub_index = sub_index, .state = VMBUS_CH_UNOFFERED,
                                      .efd = -1 };
        srv->relids[relid] = ch;
        srv->n_channels++;
        return ch;
}

/* The channel must be closed. Its GPADLs go with it (unanswered). */
void vmbus_channel_free_locked(struct vmbus_channel *ch) {
        struct vmbus_server *srv = ch->srv;
        vmbus_gpadls_orphan_locked(srv, ch->relid);
        srv->relids[ch->relid] = NULL;
        srv->n_channels--;
        free(ch);
}

/* ---- devices --------------------------------------------------------------- */

static bool provider_ops_valid(const struct vmbus_provider_ops *o) {
        return o && o->name && o->open && o->close && o->guest_max_packet >= 24 &&
               o->max_subchannels <= VMBUS_MAX_SUBCHANNELS &&
               o->drive == VMBUS_DRIVE_EVENTFD;
}

static struct vmbus_device *device_find_locked(struct vmbus_server *srv, const struct guid *class_id,
                                               const struct guid *instance) {
        for (struct vmbus_device *d = srv->devices; d; d = d->next)
                if (guid_equal(&d->class_id, class_id) && guid_equal(&d->instance, instance))
                        return d;
        return NULL;
}

static struct vmbus_device *device_new(const struct vmbus_device_config *cfg) {
        struct vmbus_device *dev = calloc(1, sizeof *dev);
        if (!dev)
                return NULL;
        dev->ops = cfg->ops;
        dev->class_id = cfg->class_id ? *cfg->class_id : cfg->ops->class_id;
        dev->instance = cfg->instance_id;
        dev->former_instance = cfg->former_instance;
        dev->data = cfg->data;
        if (cfg->user_def_len)
                memcpy(dev->user_def, cfg->user_def, cfg->user_def_len);
        /* Pipe offers carry pipe_mode at user_def[0] (§4.4, §8.1). */
        if (cfg->ops->chn_flags & VMBUS_CHANNEL_NAMED_PIPE_MODE)
                memcpy(dev->user_def, &cfg->ops->pipe_mode, sizeof cfg->ops->pipe_mode);
        return dev;
}

int vmbus_server_add_device(struct vmbus_server *srv, const struct vmbus_device_config *cfg,
                            struct vmbus_device **out) {
        if (!cfg || !provider_ops_valid(cfg->ops) || cfg->user_def_len > VMBUS_OFFER_USER_DEFINED_BYTES ||
            (cfg->user_def_len && !cfg->user_def))
                return -EINVAL;
        struct vmbus_device *dev = device_new(cfg);
        if (!dev)
                return -ENOMEM;
        dev->srv = srv;
        int r = 0;
        pthread_mutex_lock(&srv->serial);
        pthread_mutex_lock(&srv->lock);
        bool hot = srv->conn == VMBUS_CONN_CONNECTED && srv->offers_requested;
        if (device_find_locked(srv, &dev->class_id, &cfg->instance_id))
                r = -EEXIST;
        else if (hot && vmbus_post_room_locked(srv) == 0)
                r = -ENOBUFS;
        else if (!(dev->channels[0] = vmbus_channel_new_locked(srv, dev, 0)))
                r = -ENOSPC;
        if (r == 0) {
                dev->n_channels = 1;
                dev->next = srv->devices;
                srv->devices = dev;
                if (hot) /* hot add: offers may come at any time (§4.4) */
                        vmbus_send_offer_locked(srv, dev->channels[0]);
        }
        pthread_mutex_unlock(&srv->lock);
        pthread_mutex_unlock(&srv->serial);
        if (r < 0) {
                free(dev);
                return r;
        }
        if (out)
                *out = dev;
        return 0;
}

int vmbus_server_remove_device(struct vmbus_server *srv, struct vmbus_device *dev) {
        pthread_mutex_lock(&srv->serial);
        pthread_mutex_lock(&srv->lock);
        struct vmbus_device **pp = &srv->devices;
        while (*pp && *pp != dev)
                pp = &(*pp)->next;
        int r = !*pp ? -ENOENT : vmbus_post_room_locked(srv) < dev->n_channels ? -EBUSY : 0;
        if (r == 0) {
                vmbus_device_rescind(dev);
                *pp = dev->next;
        }
        pthread_mutex_unlock(&srv->lock);
        if (r == 0)
                device_free(dev);
        pthread_mutex_unlock(&srv->serial);
        return r;
}

void vmbus_server_reset(struct vmbus_server *srv) {
        pthread_mutex_lock(&srv->serial);
        pthread_mutex_lock(&srv->lock);
        vmbus_disconnect(srv);
        pthread_mutex_unlock(&srv->lock);
        pthread_mutex_unlock(&srv->serial);
}

/* ---- observation ----------------------------------------------------------- */

void vmbus_server_get_stats(struct vmbus_server *srv, struct vmbus_server_stats *out) {
        pthread_mutex_lock(&srv->lock);
        *out = srv->stats;
        pthread_mutex_unlock(&srv->lock);
}

uint32_t vmbus_server_version(struct vmbus_server *srv) {
        pthread_mutex_lock(&srv->lock);
        uint32_t v = srv->conn == VMBUS_CONN_CONNECTED ? srv->version : 0;
        pthread_mutex_unlock(&srv->lock);
        return v;
}

void vmbus_server_gpadl_usage(struct vmbus_server *srv, unsigned *gpadls, unsigned *pages) {
        pthread_mutex_lock(&srv->lock);
        *gpadls = srv->n_gpadls;
        *pages = srv->total_pages;
        pthread_mutex_unlock(&srv->lock);
}

struct vmbus_channel *vmbus_server_open_channel(struct vmbus_server *srv, uint32_t relid) {
        if (relid == 0 || relid > VMBUS_CHANNEL_MAX_RELID)
                return NULL;
        pthread_mutex_lock(&srv->lock);
        struct vmbus_channel *ch = srv->relids[relid];
        if (ch && ch->state != VMBUS_CH_OPEN)
                ch = NULL;
        pthread_mutex_unlock(&srv->lock);
        return ch;
}

void *vmbus_device_data(const struct vmbus_device *dev) {
        return dev->data;
}

const struct guid *vmbus_device_instance(const struct vmbus_device *dev) {
        return &dev->instance;
}

const struct guid *vmbus_device_class(const struct vmbus_device *dev) {
        return &dev->class_id;
}

int vmbus_server_tl_connect_result(struct vmbus_server *srv, const struct guid *endpoint,
                                   const struct guid *service, int32_t status) {
        struct vmbus_channel_tl_connect_result m = { .header.msgtype = CHANNELMSG_TL_CONNECT_RESULT,
                                                     .status = status };
        memcpy(m.guest_endpoint_id, endpoint->b, 16);
        memcpy(m.host_service_id, service->b, 16);
        pthread_mutex_lock(&srv->lock);
        int r = srv->conn == VMBUS_CONN_CONNECTED ? vmbus_post_locked(srv, &m, sizeof m) : -ENOTCONN;
        pthread_mutex_unlock(&srv->lock);
        return r;
}

unsigned vmbus_device_channel_count(struct vmbus_device *dev) {
        return __atomic_load_n(&dev->n_channels, __ATOMIC_ACQUIRE);
}
