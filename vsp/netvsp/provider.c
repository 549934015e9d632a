// SPDX-License-Identifier: MIT
/* netvsp as a VMBus provider: the NIC (TAP + link watch), the provider
 * callbacks, the host operations netvsp_dev uses, quiesce/resume and the
 * state snapshot (docs/netvsp.md "The VMBus provider glue"). The channel
 * worker is in chan.c. */
#include <errno.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <stdlib.h>
#include <string.h>

#include "common/devworker.h"
#include "common/log.h"
#include "common/macro.h"
#include "hv/vmbus.h"
#include "provider-internal.h"
#include "vmbus/server.h"

/* ---- host operations (called on the channel thread only) ---- */

static int host_send_completion(void *ctx, uint64_t trans_id, const void *msg, size_t len) {
        struct netvsp_chan *c = ctx;
        return vmbus_ring_send_completion(c->rp, trans_id, msg, len);
}

/* §7.4: one transfer-page packet per batch of receive slots, pageset 0xCAFE,
 * completion requested, and the NVSP 107 message as its payload: netvsc
 * reads the message after the ranges and drops the packet without it. */
static int host_send_xfer_pages(void *ctx, uint64_t trans_id, const struct vmtransfer_page_range *ranges,
                                uint32_t n, const void *msg, size_t len) {
        struct netvsp_chan *c = ctx;
        struct {
                uint16_t xfer_pageset_id;
                uint8_t sender_owns_set, reserved;
                uint32_t range_cnt;
        } _packed_ x = { .xfer_pageset_id = NVSP_RECV_BUF_ID, .range_cnt = n };
        _Static_assert(sizeof x + sizeof(struct vmpacket_descriptor) == sizeof(struct vmtransfer_page_packet_header),
                       "transfer-page header (§5.3)");
        struct iovec ext[2] = { { &x, sizeof x }, { (void *)ranges, (size_t)n * sizeof *ranges } };
        struct iovec payload = { (void *)msg, len };
        struct vmbus_send_desc d = { .type = VM_PKT_DATA_USING_XFER_PAGES,
                                     .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                     .trans_id = trans_id, .ext = ext, .ext_cnt = 2,
                                     .iov = &payload, .iovcnt = 1 };
        if (n == 0)
                return -EINVAL;
        return vmbus_ring_send(c->rp, &d);
}

/* The receive and send buffers: one range each (Linux, §4.5), kept mapped
 * by a GPADL reference until the device unmaps them (revoke or close), so
 * the guest's teardown is answered only after that (§7.7). */
static int host_map_gpadl(void *ctx, uint32_t handle, void **base, size_t *len) {
        struct netvsp_chan *c = ctx;
        struct vmbus_gpadl *g;
        unsigned slot = NETVSP_CHAN_GPADLS;
        for (unsigned i = 0; i < NETVSP_CHAN_GPADLS; i++)
                if (!c->gpadls[i].g)
                        slot = i;
        if (slot == NETVSP_CHAN_GPADLS)
                return -ENOSPC;
        int r = vmbus_channel_gpadl_get(c->ch, handle, &g);
        if (r < 0)
                return r;
        uint8_t *data;
        if (vmbus_gpadl_range_count(g) != 1 || vmbus_gpadl_buffer(g, 0, &data, len) < 0) {
                vmbus_gpadl_put(g);
                return -EINVAL;
        }
        *base = data;
        c->gpadls[slot].handle = handle;
        c->gpadls[slot].g = g;
        return 0;
}

static void host_unmap_gpadl(void *ctx, uint32_t handle) {
        struct netvsp_chan *c = ctx;
        for (unsigned i = 0; i < NETVSP_CHAN_GPADLS; i++)
                if (c->gpadls[i].g && c->gpadls[i].handle == handle) {
                        vmbus_gpadl_put(c->gpadls[i].g);
                        c->gpadls[i].g = NULL;
                        return;
                }
}

static int host_map_gpa(void *ctx, uint64_t gpa, size_t len, void **host) {
        struct netvsp_chan *c = ctx;
        const struct netvsp_guest_memory *gm = &c->nic->cfg.gm;
        return gm->map(gm->opaque, gpa, len, host);
}

static void host_mark_dirty(void *ctx, uint32_t handle, size_t off, size_t len) {
        struct netvsp_chan *c = ctx;
        for (unsigned i = 0; i < NETVSP_CHAN_GPADLS; i++)
                if (c->gpadls[i].g && c->gpadls[i].handle == handle) {
                        vmbus_gpadl_mark_dirty(c->gpadls[i].g, 0, off, len);
                        return;
                }
}

static int host_send_inband(void *ctx, const void *msg, size_t len) {
        struct netvsp_chan *c = ctx;
        struct iovec iov = { (void *)msg, len };
        struct vmbus_send_desc d = { .type = VM_PKT_DATA_INBAND, .iov = &iov, .iovcnt = 1 };
        return vmbus_ring_send(c->rp, &d);
}

/* On the primary's worker: the sub-channels' devices are built from the
 * published snapshot, so it is brought up to date before the guest can
 * open one. */
static int host_offer_subchannels(void *ctx, uint32_t n) {
        struct netvsp_chan *c = ctx;
        netvsp_chan_share(c);
        return vmbus_device_offer_subchannels(vmbus_channel_device(c->ch), n);
}

const struct netvsp_host_ops netvsp_chan_host_ops = {
        .send_completion = host_send_completion,
        .send_inband = host_send_inband,
        .offer_subchannels = host_offer_subchannels,
        .send_xfer_pages = host_send_xfer_pages,
        .map_gpadl = host_map_gpadl,
        .unmap_gpadl = host_unmap_gpadl,
        .map_gpa = host_map_gpa,
        .mark_dirty = host_mark_dirty,
};

/* ---- statistics ---- */

void netvsp_chan_publish_stats(struct netvsp_chan *c) {
        struct netvsp_nic *nic = c->nic;
        pthread_mutex_lock(&nic->stats_lock);
        struct netvsp_nic_stats *s = &nic->stats;
        s->batches += c->local.batches;
        s->early_publishes += c->local.early_publishes;
        s->polls += c->local.polls;
        s->sleeps += c->local.sleeps;
        s->doorbells += c->local.doorbells;
        s->link_changes += c->local.link_changes;
        s->channels_broken += c->local.channels_broken;
        s->thread_policy_failures += c->local.thread_policy_failures;
        s->queue_attach_failures += c->local.queue_attach_failures;
        if (c->index == 0)
                s->link_up = netvsp_dev_rndis(c->nd)->link_up;
        s->tap_removed = tap_removed(nic->tap); /* atomic: any channel's thread */
        nic->chan_stats[c->index] = *netvsp_dev_stats(c->nd);
        pthread_mutex_unlock(&nic->stats_lock);
        c->local = (struct netvsp_nic_stats){ 0 };
}

/* Every counter of struct netvsp_stats is a uint64_t. */
static void stats_add(struct netvsp_stats *sum, const struct netvsp_stats *s) {
        _Static_assert(sizeof *s % sizeof(uint64_t) == 0, "netvsp_stats holds counters only");
        uint64_t a[sizeof *s / sizeof(uint64_t)], b[sizeof *s / sizeof(uint64_t)];
        memcpy(a, sum, sizeof a);
        memcpy(b, s, sizeof b);
        for (size_t i = 0; i < ARRAY_SIZE(a); i++)
                a[i] += b[i];
        memcpy(sum, a, sizeof a);
}

int netvsp_nic_set_qos(struct netvsp_nic *nic, uint64_t max_in_bps, uint64_t max_out_bps) {
        if (netvsp_qos_check(max_in_bps) < 0 || netvsp_qos_check(max_out_bps) < 0)
                return -EINVAL;
        netvsp_qos_set(&nic->qos.in, max_in_bps);
        netvsp_qos_set(&nic->qos.out, max_out_bps);
        return 0;
}

void netvsp_nic_get_stats(struct netvsp_nic *nic, struct netvsp_nic_stats *out) {
        pthread_mutex_lock(&nic->stats_lock);
        *out = nic->stats;
        out->dev = (struct netvsp_stats){ 0 };
        for (unsigned i = 0; i < NETVSP_MAX_QUEUES; i++) {
                out->queue[i] = nic->chan_stats[i];
                stats_add(&out->dev, &nic->chan_stats[i]);
        }
        pthread_mutex_unlock(&nic->stats_lock);
}

static void free_fds(const struct netvsp_nic_config *cfg) {
        if (cfg->tap_fd >= 0)
                safe_close(cfg->tap_fd);
        for (uint32_t i = 0; i < cfg->n_queue_fds && i < NETVSP_MAX_QUEUES - 1; i++)
                safe_close(cfg->queue_fds[i]);
        rss_steer_munmap(cfg->steer);
}

/* The other queues of a multi-queue TAP, detached until their sub-channel
 * opens (the kernel would queue frames for a flow on a queue nobody
 * reads). Every fd given is the NIC's: one not wanted, or after a
 * failure, is closed. */
static int open_queues(struct netvsp_nic *nic, const struct netvsp_nic_config *cfg) {
        uint32_t want = MIN(MAX(cfg->dev.queues, 1u), NETVSP_MAX_QUEUES);
        int r = 0;
        /* vmms attached the queues it passes in order (steering's model of
         * tun's order starts there); a queue closed or detached leaves it */
        rss_queue_order_init(&nic->order, cfg->tap_fd >= 0 ? 1 + cfg->n_queue_fds : 1);
        for (uint32_t i = 1; i < NETVSP_MAX_QUEUES; i++) {
                bool given = cfg->tap_fd >= 0 && i - 1 < cfg->n_queue_fds;
                int fd = given ? cfg->queue_fds[i - 1] : -1;
                if (i >= want || r < 0) {
                        if (fd >= 0)
                                rss_queue_order_detach(&nic->order, i);
                        safe_close(fd);
                        continue;
                }
                if (given && (r = tap_adopt_fd(fd, &nic->qtap[i])) < 0) {
                        safe_close(fd);
                        rss_queue_order_detach(&nic->order, i);
                } else if (!given && cfg->tap_fd < 0 && tap_multi_queue(nic->tap)) {
                        r = tap_open_queue(nic->tap, &nic->qtap[i]);
                        if (r == 0) /* tun appends a queue it attaches */
                                rss_queue_order_attach(&nic->order, i);
                }
                struct tap *q = nic->qtap[i];
                if (r == 0 && q && (!tap_multi_queue(q) || strcmp(tap_name(q), tap_name(nic->tap))))
                        r = -EINVAL; /* not a queue of the NIC's TAP */
                if (r == 0 && q)
                        r = netvsp_nic_set_queue(nic, q, i, false);
        }
        return r;
}

int netvsp_nic_set_queue(struct netvsp_nic *nic, struct tap *q, uint32_t channel, bool attach) {
        pthread_mutex_lock(&nic->steer_lock);
        int r = tap_set_queue(q, attach);
        if (r == 0 && attach)
                rss_queue_order_attach(&nic->order, channel);
        else if (r == 0)
                rss_queue_order_detach(&nic->order, channel);
        if (r == 0 && nic->cfg.steer) {
                uint32_t queue_of[RSS_STEER_CHANNELS];
                rss_queue_order_get(&nic->order, queue_of);
                rss_steer_set_queues(nic->cfg.steer, queue_of);
        }
        pthread_mutex_unlock(&nic->steer_lock);
        return r;
}

void netvsp_nic_steer(struct netvsp_nic *nic, const struct rndis_device *rd) {
        if (!nic->cfg.steer)
                return;
        bool on = rd->rss_enabled && rd->rss_table_len > 0;
        uint32_t n = on ? MIN(rd->rss_table_len, RSS_STEER_TABLE) : 0;
        pthread_mutex_lock(&nic->steer_lock);
        if (on != nic->steer_on || (on && (n != nic->steer_n || rd->rss_hashinfo != nic->steer_types ||
                                           memcmp(rd->rss_key, nic->steer_key, sizeof nic->steer_key) != 0 ||
                                           memcmp(rd->rss_table, nic->steer_table, n * sizeof *rd->rss_table) != 0))) {
                nic->steer_on = on, nic->steer_n = n, nic->steer_types = rd->rss_hashinfo;
                memcpy(nic->steer_key, rd->rss_key, sizeof nic->steer_key);
                memcpy(nic->steer_table, rd->rss_table, n * sizeof *rd->rss_table);
                rss_steer_set_params(nic->cfg.steer, nic->steer_key, nic->steer_types, nic->steer_table, n);
        }
        pthread_mutex_unlock(&nic->steer_lock);
}

static void count_open(struct netvsp_nic *nic, bool open) {
        pthread_mutex_lock(&nic->stats_lock);
        if (open)
                nic->stats.opens++;
        else
                nic->stats.closes++;
        pthread_mutex_unlock(&nic->stats_lock);
}

/* ---- provider callbacks (VP threads, the server's control path) ---- */

bool netvsp_nic_link_up(const struct netvsp_nic *nic) {
        struct tap_link_state st;
        tap_link_state(nic->tap, &st);
        /* a link watch that could not start leaves the state unknown: up */
        bool tap_up = nic->link_fd < 0 ? !st.removed : st.admin_up && st.carrier && !st.removed;
        return nic->cfg.dev.rndis.link_up && tap_up;
}

static void chan_free(struct netvsp_chan *c) {
        if (!c)
                return;
        devworker_free(c->w); /* stops it first; the fds are the channel's and the NIC's */
        netvsp_dev_free(c->nd); /* unmaps (puts) the buffers' GPADLs */
        for (unsigned i = 0; i < NETVSP_CHAN_GPADLS; i++)
                if (c->gpadls[i].g)
                        vmbus_gpadl_put(c->gpadls[i].g);
        free(c);
}

/* A sub-channel's device (vRSS): from the primary's published state, or
 * bare for a restore (netvsp_dev_restore fills it). With a TAP queue of
 * its own it reads and writes that; without, it writes the primary's. */
static int sub_dev_new(struct netvsp_chan *c, const struct netvsp_config *dc, bool bare) {
        struct netvsp_nic *nic = c->nic;
        const struct netvsp_sub_config sc = { .index = c->index, .backend_rx = c->tap != nic->tap };
        if (!bare) {
                pthread_mutex_lock(&nic->shared_lock);
                c->shared = nic->shared;
                c->shared_seen = nic->shared_gen;
                pthread_mutex_unlock(&nic->shared_lock);
        }
        return netvsp_dev_new_sub(dc, &netvsp_chan_host_ops, c, &netvsp_tap_backend, c->tap, &sc,
                                  bare ? NULL : &c->shared, &c->nd);
}

int netvsp_chan_open(struct vmbus_channel *ch, const struct vmbus_open_request *req, bool restoring) {
        struct netvsp_nic *nic = vmbus_device_data(vmbus_channel_device(ch));
        if (req->sub_channel_index >= MAX(nic->cfg.dev.queues, 1u))
                return -EINVAL; /* never offered */
        struct netvsp_chan *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->nic = nic;
        c->index = req->sub_channel_index;
        c->tap = nic->qtap[c->index] ? nic->qtap[c->index] : nic->tap;
        c->ch = ch;
        c->rp = vmbus_channel_rings(ch);
        /* link changes while no channel was open are still queued */
        struct tap_link_state st;
        if (nic->link_fd >= 0 && c->index == 0)
                (void)tap_link_process(nic->tap, &st);
        struct netvsp_config dc = nic->cfg.dev;
        dc.rndis.link_up = netvsp_nic_link_up(nic);
        int r = c->index == 0 ? netvsp_dev_new(&dc, &netvsp_chan_host_ops, c, &netvsp_tap_backend, c->tap, &c->nd)
                              : sub_dev_new(c, &dc, restoring);
        if (r == 0)
                netvsp_dev_set_qos(c->nd, &nic->qos);
        pthread_mutex_lock(&nic->chan_lock);
        if (r == 0 && nic->chans[c->index])
                r = -EBUSY;
        if (r == 0)
                r = netvsp_chan_start(c, nic->quiesced);
        if (r == 0)
                nic->chans[c->index] = c;
        pthread_mutex_unlock(&nic->chan_lock);
        if (r == 0 && c->index) {
                pthread_mutex_lock(&nic->wake_lock);
                nic->sub_efd[c->index] = vmbus_channel_event_fd(ch);
                pthread_mutex_unlock(&nic->wake_lock);
        }
        if (r < 0) {
                chan_free(c);
                return r;
        }
        vmbus_channel_set_data(ch, c);
        count_open(nic, true);
        return 0;
}

static int netvsp_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        return netvsp_chan_open(ch, req, false);
}

void netvsp_close(struct vmbus_channel *ch) {
        struct netvsp_chan *c = vmbus_channel_data(ch);
        if (!c)
                return;
        pthread_mutex_lock(&c->nic->wake_lock);
        c->nic->sub_efd[c->index] = -1;
        pthread_mutex_unlock(&c->nic->wake_lock);
        pthread_mutex_lock(&c->nic->chan_lock);
        c->nic->chans[c->index] = NULL;
        pthread_mutex_unlock(&c->nic->chan_lock);
        netvsp_chan_stop(c); /* joined (also when quiesced): nothing touches the rings after this */
        netvsp_chan_publish_stats(c);
        count_open(c->nic, false);
        vmbus_channel_set_data(ch, NULL);
        chan_free(c);
}

static void netvsp_destroy(struct vmbus_device *dev) {
        netvsp_nic_free(vmbus_device_data(dev));
}

const struct vmbus_provider_ops netvsp_provider_ops = {
        .name = "netvsp",
        .class_id = { .b = HV_NIC_GUID },
        .chn_flags = 0,
        .guest_max_packet = NETVSP_GUEST_MAX_PACKET,
        .max_subchannels = NETVSP_MAX_QUEUES - 1,
        .drive = VMBUS_DRIVE_EVENTFD,
        .open = netvsp_open,
        .close = netvsp_close,
        .destroy = netvsp_destroy,
        .save_channel = netvsp_save_channel,
        .restore_channel = netvsp_restore_channel,
};

/* ---- the NIC ---- */

/* A multi-queue TAP the NIC opened itself (vmwp --config) gets the
 * steering program vmms attaches to the TAPs it passes (common/rss-steer.h),
 * while the worker still may load one (before its sandbox's filter); where
 * the kernel refuses, tun's flow table steers, as ever. */
static void steer_own_tap(struct netvsp_nic *nic) {
        char err[256] = "";
        struct rss_steer_map *m = NULL;
        int map = rss_steer_attach(tap_fd(nic->tap), err, sizeof err);
        int r = map < 0 ? map : rss_steer_mmap(map, &m);
        safe_close(map);
        if (r < 0) {
                if (map >= 0) { /* attached, but its map (all zero: queue 0) cannot be filled */
                        snprintf(err, sizeof err, "mapping the steering map: %s", strerror(-r));
                        int d = rss_steer_detach(tap_fd(nic->tap));
                        if (d < 0) {
                                log_warning_errno(d, "netvsp %s: mapping the RSS steering map: %s; taking the "
                                                  "program off failed (%m): frames for the guest all arrive "
                                                  "on the primary channel", tap_name(nic->tap), strerror(-r));
                                return;
                        }
                }
                log_notice("netvsp %s: frames for the guest are steered by tun's flow table, not by the guest's RSS "
                           "table: %s", tap_name(nic->tap), err);
                return;
        }
        uint32_t queue_of[RSS_STEER_CHANNELS];
        rss_queue_order_get(&nic->order, queue_of);
        rss_steer_set_queues(m, queue_of);
        nic->cfg.steer = m;
}

int netvsp_nic_new(const struct netvsp_nic_config *cfg, struct netvsp_nic **out, const char **why) {
        const char *dummy;
        why = why ? why : &dummy;
        *why = "configuration";
        if (!cfg || !out || !cfg->gm.map || cfg->n_queue_fds > NETVSP_MAX_QUEUES - 1 ||
            netvsp_qos_check(cfg->max_in_bps) < 0 || netvsp_qos_check(cfg->max_out_bps) < 0) {
                if (cfg)
                        free_fds(cfg);
                return -EINVAL;
        }
        struct netvsp_nic *nic = calloc(1, sizeof *nic);
        if (!nic) {
                free_fds(cfg);
                return -ENOMEM;
        }
        nic->cfg = *cfg;
        if (cfg->tap_fd < 0 && cfg->steer) { /* steering knows the order of vmms's queues only */
                rss_steer_munmap(cfg->steer);
                nic->cfg.steer = NULL;
        }
        nic->link_fd = -1;
        netvsp_qos_set(&nic->qos.in, cfg->max_in_bps);
        netvsp_qos_set(&nic->qos.out, cfg->max_out_bps);
        pthread_mutex_init(&nic->stats_lock, NULL);
        pthread_mutex_init(&nic->chan_lock, NULL);
        pthread_mutex_init(&nic->shared_lock, NULL);
        pthread_mutex_init(&nic->wake_lock, NULL);
        pthread_mutex_init(&nic->steer_lock, NULL);
        for (unsigned i = 0; i < NETVSP_MAX_QUEUES; i++)
                nic->sub_efd[i] = -1;
        int r;
        if (cfg->tap_fd >= 0) {
                *why = "the TAP fd from vmms";
                r = tap_adopt_fd(cfg->tap_fd, &nic->tap);
                if (r < 0)
                        safe_close(cfg->tap_fd);
        } else {
                *why = cfg->tap.create ? "creating the TAP" : "opening the TAP";
                struct tap_config tc = cfg->tap;
                tc.queues = MAX(cfg->dev.queues, 1u);
                r = tap_open(&tc, &nic->tap);
                if (r == -EINVAL && tc.queues > 1 && !tc.create) { /* an existing TAP without multi_queue */
                        tc.queues = 1;
                        r = tap_open(&tc, &nic->tap);
                }
        }
        if (r >= 0) {
                *why = "the TAP's queues";
                r = open_queues(nic, cfg);
                if (r >= 0 && cfg->tap_fd < 0 && nic->qtap[1])
                        steer_own_tap(nic);
        } else if (cfg->tap_fd >= 0) {
                for (uint32_t i = 0; i < cfg->n_queue_fds; i++)
                        safe_close(cfg->queue_fds[i]);
        }
        nic->cfg.tap_fd = -1;
        nic->cfg.n_queue_fds = 0;
        if (r >= 0 && !tap_has_vnet_hdr(nic->tap)) /* the kernel cannot take checksum/GSO requests */
                nic->cfg.dev.rndis.caps = (struct rndis_offload_caps){ 0 };
        if (r >= 0) {
                /* Without the watch the NIC still works; the guest is not told
                 * about link changes then (counted nowhere: logged once). */
                nic->link_fd = tap_link_watch(nic->tap);
                if (nic->link_fd < 0)
                        log_debug_errno(nic->link_fd, "netvsp %s: no link watch: %m", tap_name(nic->tap));
        }
        if (r < 0) {
                netvsp_nic_free(nic);
                return r;
        }
        nic->stats.link_up = netvsp_nic_link_up(nic);
        nic->stats.rss_steering = nic->cfg.steer != NULL;
        *out = nic;
        return 0;
}

void netvsp_nic_free(struct netvsp_nic *nic) {
        if (!nic)
                return;
        tap_close(nic->tap); /* also the link watch */
        for (unsigned i = 1; i < NETVSP_MAX_QUEUES; i++)
                tap_close(nic->qtap[i]);
        pthread_mutex_destroy(&nic->stats_lock);
        pthread_mutex_destroy(&nic->chan_lock);
        pthread_mutex_destroy(&nic->shared_lock);
        pthread_mutex_destroy(&nic->wake_lock);
        pthread_mutex_destroy(&nic->steer_lock);
        rss_steer_munmap(nic->cfg.steer);
        free(nic);
}

const char *netvsp_nic_tap_name(const struct netvsp_nic *nic) {
        return tap_name(nic->tap);
}

/* ---- quiesce, resume, state (docs/vm-state.md) ---- */

/* Everything that touches guest state runs on the channel's worker, so
 * parking it is the whole quiesce: its pause handshake returns between two
 * rounds (a round ends with its read_index and write_index published and
 * its signal sent); the doorbell, TAP and link watch events stay pending
 * in the kernel, a pump's DW_AGAIN is kept, and resume picks up both. */
int netvsp_nic_quiesce(struct netvsp_nic *nic) {
        int r = 0;
        pthread_mutex_lock(&nic->chan_lock);
        nic->quiesced = true;
        for (unsigned i = 0; i < NETVSP_MAX_QUEUES && r == 0; i++)
                if (nic->chans[i])
                        r = devworker_pause(nic->chans[i]->w);
        pthread_mutex_unlock(&nic->chan_lock);
        return r;
}

/* Restored NICs come back quiesced (a channel's restore parks it too). */
int netvsp_nic_restored(struct netvsp_nic *nic) {
        pthread_mutex_lock(&nic->chan_lock);
        nic->quiesced = true;
        pthread_mutex_unlock(&nic->chan_lock);
        return 0;
}

/* On the parked worker, before the first round after a restore: the TAP
 * may have changed while the VM was saved (this worker's link watch saw
 * none of it), and switches must learn where the guest's MAC is now. */
static int restored_on_worker(void *arg) {
        struct netvsp_chan *c = arg;
        struct tap_link_state st;
        if (c->nic->link_fd >= 0)
                (void)tap_link_process(c->nic->tap, &st);
        netvsp_dev_resume_restored(c->nd, netvsp_nic_link_up(c->nic));
        return netvsp_chan_announce(c);
}

void netvsp_nic_resume(struct netvsp_nic *nic) {
        pthread_mutex_lock(&nic->chan_lock);
        nic->quiesced = false;
        struct netvsp_chan *primary = nic->chans[0];
        if (primary && nic->restored) {
                int r = devworker_call(primary->w, restored_on_worker, primary);
                if (r < 0) /* the link state is still reported; only the RARPs are missing */
                        log_debug_errno(r, "netvsp %s: no announce after restore: %m", tap_name(nic->tap));
        }
        nic->restored = false;
        for (unsigned i = 0; i < NETVSP_MAX_QUEUES; i++)
                if (nic->chans[i])
                        devworker_resume(nic->chans[i]->w);
        pthread_mutex_unlock(&nic->chan_lock);
}

struct state_call {
        struct netvsp_chan *c;
        struct netvsp_nic_state *st;
        uint64_t *owner;
        uint32_t n, slots;
};

/* On the worker (also while it is parked): nothing changes under us. */
static int state_on_worker(void *arg) {
        struct state_call *a = arg;
        if (a->st) {
                a->st->channel_open = true;
                a->st->channel_broken = a->c->broken;
                netvsp_dev_get_state(a->c->nd, &a->st->dev);
        }
        if (a->owner)
                a->slots = netvsp_dev_get_rx_slots(a->c->nd, a->owner, a->n);
        return 0;
}

static uint32_t snapshot(struct netvsp_nic *nic, struct state_call *a) {
        pthread_mutex_lock(&nic->chan_lock);
        a->c = nic->chans[0];
        if (a->c)
                (void)devworker_call(a->c->w, state_on_worker, a);
        pthread_mutex_unlock(&nic->chan_lock);
        return a->slots;
}

void netvsp_nic_get_state(struct netvsp_nic *nic, struct netvsp_nic_state *out) {
        memset(out, 0, sizeof *out);
        snapshot(nic, &(struct state_call){ .st = out });
}

uint32_t netvsp_nic_get_rx_slots(struct netvsp_nic *nic, uint64_t *owner, uint32_t n) {
        return snapshot(nic, &(struct state_call){ .owner = owner, .n = n });
}
