// SPDX-License-Identifier: MIT
/* Saving a quiesced server and restoring it on a fresh one (vmbus/server.h,
 * docs/vm-state.md, sections in vmbus/state.h).
 *
 * Save writes the connection with the messages held for the guest, one
 * section per relid and one per GPADL, then each open channel's provider
 * sections. Restore decodes and checks everything against this server
 * first; then, with serial and lock held, moves the primaries to their
 * saved relids, creates the sub-channels and rescinded relids, rebuilds
 * the GPADLs from their range buffers (mapped again, nothing answered),
 * reopens the open channels (rings mapped, doorbell registered, the
 * provider's restore_channel instead of open), refills the reply queue and
 * leaves the server quiesced: vmbus_server_resume posts what was held (the
 * providers' rows resume their channels). A failure while applying disconnects the
 * bus as a VM reset does, so the server is left usable and empty. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/device.h"
#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vmbus/state.h"

/* ---- save ---- */

static uint8_t conn_to_state(enum vmbus_conn_state c) {
        return c == VMBUS_CONN_CONNECTED ? VMBUS_STATE_CONNECTED : VMBUS_STATE_DISCONNECTED;
}

static int save_server(struct vmbus_server *srv, struct vmstate_writer *w, char *err, size_t errlen) {
        struct vmbus_saved_server *st = calloc(1, sizeof *st);
        if (!st)
                return -ENOMEM;
        st->conn = conn_to_state(srv->conn);
        st->version = st->conn ? srv->version : 0;
        st->msg_vp = srv->msg_vp;
        st->offers_requested = st->conn && srv->offers_requested;
        st->n_channels = srv->n_channels;
        st->n_gpadls = srv->n_gpadls;
        int r = 0;
        for (unsigned i = 0; i < srv->def_count && r == 0; i++) {
                const struct vmbus_outmsg *m = &srv->deferred[(srv->def_head + i) % srv->def_cap];
                size_t need = 8 + ALIGN_UP((size_t)m->len, 8);
                if (need > sizeof st->held - st->held_len) {
                        r = errorf(err, errlen, -E2BIG, "VMBus: %u messages held for the guest: too many to save",
                                   srv->def_count);
                        break;
                }
                vmstate_put_le32(st->held + st->held_len, m->vp);
                vmstate_put_le32(st->held + st->held_len + 4, m->len);
                memcpy(st->held + st->held_len + 8, m->msg, m->len);
                st->held_len += (uint32_t)need;
        }
        if (r == 0)
                r = vmstate_encode(w, &vmbus_server_state_desc, 0, st);
        free(st);
        return r;
}

static int save_channel(struct vmbus_channel *ch, struct vmstate_writer *w) {
        struct vmbus_saved_channel st = { .has_device = ch->dev != NULL, .sub_index = ch->sub_index };
        static const uint8_t states[] = {
                [VMBUS_CH_UNOFFERED] = VMBUS_STATE_CH_UNOFFERED, [VMBUS_CH_OFFERED] = VMBUS_STATE_CH_OFFERED,
                [VMBUS_CH_OPEN] = VMBUS_STATE_CH_OPEN, [VMBUS_CH_RESCINDED] = VMBUS_STATE_CH_RESCINDED,
                [VMBUS_CH_RELEASED] = VMBUS_STATE_CH_RELEASED,
        };
        st.state = states[ch->state];
        if (ch->dev) {
                memcpy(st.class_id, ch->dev->class_id.b, 16);
                memcpy(st.instance_id, ch->dev->instance.b, 16);
        }
        if (ch->state == VMBUS_CH_OPEN) {
                st.dead = vmbus_channel_failed(ch);
                st.ring_gpadl = ch->ring_gpadl->handle;
                st.ring_send_pages = (uint32_t)ch->in_map.n_pages;
                st.target_vp = __atomic_load_n(&ch->target_vp, __ATOMIC_ACQUIRE);
                st.openid = ch->openid;
                memcpy(st.userdata, ch->userdata, sizeof st.userdata);
        }
        return vmstate_encode(w, &vmbus_channel_state_desc, ch->relid, &st);
}

/* The range buffer again, from the parsed ranges of a complete GPADL. */
static void gpadl_range_buffer(const struct vmbus_gpadl *g, struct vmbus_saved_gpadl *st) {
        uint32_t off = 0;
        for (unsigned i = 0; i < g->n_ranges; i++) {
                const struct vmbus_gpadl_range *rg = &g->ranges[i];
                vmstate_put_le32(st->buf + off, rg->byte_count);
                vmstate_put_le32(st->buf + off + 4, rg->byte_offset);
                off += 8;
                for (size_t p = 0; p < rg->n_pages; p++, off += 8)
                        vmstate_put_le64(st->buf + off, g->pfns[rg->first_page + p]);
        }
        st->filled = off;
}

static int save_gpadl(const struct vmbus_gpadl *g, struct vmstate_writer *w) {
        struct vmbus_saved_gpadl *st = calloc(1, sizeof *st);
        if (!st)
                return -ENOMEM;
        st->relid = g->relid;
        st->rangecount = g->rangecount;
        st->buflen = g->buflen;
        if (g->state == VMBUS_GPADL_PENDING) {
                st->state = VMBUS_STATE_GPADL_PENDING;
                memcpy(st->buf, g->buf, g->filled);
                st->filled = g->filled;
        } else {
                st->state = g->state == VMBUS_GPADL_TEARDOWN ? VMBUS_STATE_GPADL_TEARDOWN : VMBUS_STATE_GPADL_READY;
                gpadl_range_buffer(g, st);
        }
        int r = st->filled <= st->buflen ? vmstate_encode(w, &vmbus_gpadl_state_desc, g->handle, st) : -EINVAL;
        free(st);
        return r;
}

/* Every open channel's provider can save: checked before anything is
 * written. */
static int save_check_providers(struct vmbus_server *srv, char *err, size_t errlen) {
        for (uint32_t relid = 1; relid <= VMBUS_CHANNEL_MAX_RELID; relid++) {
                const struct vmbus_channel *ch = srv->relids[relid];
                if (ch && ch->state == VMBUS_CH_OPEN && !ch->dev->ops->save_channel)
                        return errorf(err, errlen, -EOPNOTSUPP, "the %s provider cannot save its channels yet",
                                      ch->dev->ops->name);
        }
        return 0;
}

/* serial held (nothing opens or closes), lock held except around the
 * providers' save_channel. */
static int save_locked(struct vmbus_server *srv, struct vmstate_writer *w, char *err, size_t errlen) {
        int r = save_check_providers(srv, err, errlen);
        if (r == 0)
                r = save_server(srv, w, err, errlen);
        for (uint32_t relid = 1; r == 0 && relid <= VMBUS_CHANNEL_MAX_RELID; relid++)
                if (srv->relids[relid])
                        r = save_channel(srv->relids[relid], w);
        for (struct vmbus_gpadl *g = srv->gpadls; r == 0 && g; g = g->next)
                r = save_gpadl(g, w);
        for (uint32_t relid = 1; r == 0 && relid <= VMBUS_CHANNEL_MAX_RELID; relid++) {
                struct vmbus_channel *ch = srv->relids[relid];
                if (!ch || ch->state != VMBUS_CH_OPEN)
                        continue;
                pthread_mutex_unlock(&srv->lock);
                r = ch->dev->ops->save_channel(ch, w, err, errlen);
                pthread_mutex_lock(&srv->lock);
        }
        return r;
}

int vmbus_server_save(struct vmbus_server *srv, struct vmstate_writer *w, char *err, size_t errlen) {
        pthread_mutex_lock(&srv->serial);
        pthread_mutex_lock(&srv->lock);
        int r = srv->quiesced ? save_locked(srv, w, err, errlen)
                              : errorf(err, errlen, -EBUSY, "the VMBus server is not quiesced");
        pthread_mutex_unlock(&srv->lock);
        pthread_mutex_unlock(&srv->serial);
        if (r < 0 && err && errlen && !err[0])
                errorf(err, errlen, r, "saving the VMBus server: %s", strerror(-r));
        return r;
}

/* ---- restore: decode and check ---- */

struct restore_plan {
        struct vmbus_saved_server *server;
        size_t n_ch, n_gp, n_dev;
        struct vmbus_saved_channel *ch;
        uint32_t *ch_relid;
        struct vmbus_device **ch_dev;
        const struct vmstate_section **gp_sec; /* decoded again one at a time (they are big) */
        /* apply: the channels to create (all but the primaries), and the
         * relids add_device gave the primaries (srv->devices order), for
         * an undo */
        struct vmbus_channel **ch_new;
        uint32_t *dev_relid;
};

static void plan_free(struct restore_plan *p) {
        for (size_t i = 0; p->ch_new && i < p->n_ch; i++)
                free(p->ch_new[i]);
        free(p->server);
        free(p->ch);
        free(p->ch_relid);
        free(p->ch_dev);
        free(p->gp_sec);
        free(p->ch_new);
        free(p->dev_relid);
}

/* By the instance it has, else by the one an older version gave it (a
 * successful restore then gives it back: keep_offered_instances). */
static struct vmbus_device *device_by_guid(struct vmbus_server *srv, const uint8_t cls[16], const uint8_t inst[16]) {
        for (struct vmbus_device *d = srv->devices; d; d = d->next)
                if (!memcmp(d->class_id.b, cls, 16) && !memcmp(d->instance.b, inst, 16))
                        return d;
        for (struct vmbus_device *d = srv->devices; d; d = d->next)
                if (!memcmp(d->class_id.b, cls, 16) && !guid_is_null(&d->former_instance) &&
                    !memcmp(d->former_instance.b, inst, 16))
                        return d;
        return NULL;
}

/* Restored: each device keeps the instance the guest was offered, a
 * former one too (device_by_guid), in its next save and its offers. */
static void keep_offered_instances(const struct restore_plan *p) {
        for (size_t i = 0; i < p->n_ch; i++)
                if (p->ch_dev[i] && p->ch[i].sub_index == 0)
                        memcpy(p->ch_dev[i]->instance.b, p->ch[i].instance_id, 16);
}

static int plan_decode(struct vmbus_server *srv, const struct vmstate_section *secs, size_t n,
                       struct restore_plan *p, char *err, size_t errlen) {
        const struct vmstate_section *sv = vmstate_find(secs, n, VMBUS_STATE_TAG_SERVER, 0);
        if (!sv)
                return errorf(err, errlen, -EINVAL, "the state has no VBSV section");
        p->server = malloc(sizeof *p->server);
        if (!p->server)
                return -ENOMEM;
        int r = vmbus_server_state_decode(sv, p->server, err, errlen);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                p->n_ch += secs[i].tag == VMBUS_STATE_TAG_CHANNEL;
                p->n_gp += secs[i].tag == VMBUS_STATE_TAG_GPADL;
        }
        if (p->n_ch != p->server->n_channels || p->n_gp != p->server->n_gpadls)
                return errorf(err, errlen, -EINVAL, "VBSV: %u channels and %u GPADLs announced, %zu and %zu saved",
                              p->server->n_channels, p->server->n_gpadls, p->n_ch, p->n_gp);
        for (const struct vmbus_device *d = srv->devices; d; d = d->next)
                p->n_dev++;
        p->ch = calloc(p->n_ch + 1, sizeof *p->ch);
        p->ch_relid = calloc(p->n_ch + 1, sizeof *p->ch_relid);
        p->ch_dev = calloc(p->n_ch + 1, sizeof *p->ch_dev);
        p->gp_sec = calloc(p->n_gp + 1, sizeof *p->gp_sec);
        p->ch_new = calloc(p->n_ch + 1, sizeof *p->ch_new);
        p->dev_relid = calloc(p->n_dev + 1, sizeof *p->dev_relid);
        if (!p->ch || !p->ch_relid || !p->ch_dev || !p->gp_sec || !p->ch_new || !p->dev_relid)
                return -ENOMEM;
        size_t c = 0, g = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
                if (secs[i].tag == VMBUS_STATE_TAG_CHANNEL) {
                        p->ch_relid[c] = secs[i].instance;
                        r = vmbus_channel_state_decode(&secs[i], &p->ch[c++], err, errlen);
                } else if (secs[i].tag == VMBUS_STATE_TAG_GPADL) {
                        p->gp_sec[g++] = &secs[i];
                }
        }
        return r;
}

static const struct vmbus_saved_channel *plan_channel(const struct restore_plan *p, uint32_t relid, size_t *idx) {
        for (size_t i = 0; i < p->n_ch; i++)
                if (p->ch_relid[i] == relid) {
                        if (idx)
                                *idx = i;
                        return &p->ch[i];
                }
        return NULL;
}

struct held_check {
        const struct vmbus_server *srv;
        unsigned bad_vp;
        bool bad;
};

static void held_check_one(void *opaque, uint32_t vp, const uint8_t *msg, uint32_t len) {
        struct held_check *hc = opaque;
        if (!vmbus_vp_valid(hc->srv, vp) && !hc->bad) {
                hc->bad = true;
                hc->bad_vp = vp;
        }
}

/* The connection and the messages held for the guest. */
static int plan_check_server(struct vmbus_server *srv, const struct restore_plan *p, char *err, size_t errlen) {
        const struct vmbus_saved_server *sv = p->server;
        if (sv->conn == VMBUS_STATE_CONNECTED && !vmbus_version_supported(sv->version))
                return errorf(err, errlen, -EINVAL, "VBSV: version 0x%x is not one this server negotiates",
                              sv->version);
        /* The server's message VP is always one of the VM's (0 until a
         * contact names another), connected or not. */
        if (!vmbus_vp_valid(srv, sv->msg_vp) ||
            (sv->conn == VMBUS_STATE_CONNECTED && sv->version < VERSION_WIN8_1 && sv->msg_vp != 0))
                return errorf(err, errlen, -EINVAL, "VBSV: message VP %u of %u (version 0x%x)", sv->msg_vp,
                              srv->vp_count, sv->version);
        struct held_check hc = { .srv = srv };
        int held = vmbus_state_held_walk(sv, held_check_one, &hc);
        if (held < 0 || (unsigned)held > srv->def_cap)
                return errorf(err, errlen, -EINVAL, "VBSV: %d held messages, this server keeps at most %u", held,
                              srv->def_cap);
        if (hc.bad)
                return errorf(err, errlen, -EINVAL, "VBSV: a held message for VP %u of %u", hc.bad_vp,
                              srv->vp_count);
        return 0;
}

/* One VBCH against this server: its device, sub-channel, target VP. */
static int plan_check_channel(struct vmbus_server *srv, struct restore_plan *p, size_t i, char *err,
                              size_t errlen) {
        const struct vmbus_saved_channel *c = &p->ch[i];
        uint32_t relid = p->ch_relid[i];
        if (p->server->conn == VMBUS_STATE_DISCONNECTED && c->state != VMBUS_STATE_CH_UNOFFERED)
                return errorf(err, errlen, -EINVAL, "VBCH #%u: offered on a disconnected bus", relid);
        if (!c->has_device)
                return 0;
        struct vmbus_device *d = device_by_guid(srv, c->class_id, c->instance_id);
        if (!d)
                return errorf(err, errlen, -ENOENT, "VBCH #%u: a device this VM does not have", relid);
        const struct vmbus_provider_ops *ops = d->ops;
        if (c->sub_index > ops->max_subchannels)
                return errorf(err, errlen, -EINVAL, "VBCH #%u: sub-channel %u of %s (at most %u)", relid,
                              c->sub_index, ops->name, ops->max_subchannels);
        if (c->state == VMBUS_STATE_CH_OPEN && !vmbus_vp_valid(srv, c->target_vp))
                return errorf(err, errlen, -EINVAL, "VBCH #%u: target VP %u of %u", relid, c->target_vp,
                              srv->vp_count);
        if (c->state == VMBUS_STATE_CH_OPEN && !ops->restore_channel)
                return errorf(err, errlen, -EOPNOTSUPP, "VBCH #%u: the %s provider cannot restore its channels yet",
                              relid, ops->name);
        for (size_t j = 0; j < i; j++)
                if (p->ch_dev[j] == d && p->ch[j].sub_index == c->sub_index)
                        return errorf(err, errlen, -EINVAL, "VBCH #%u: channel %u of %s is also at relid %u", relid,
                                      c->sub_index, ops->name, p->ch_relid[j]);
        p->ch_dev[i] = d;
        return 0;
}

/* Everything that needs this server: devices, sub-channel numbering,
 * relids, limits, VPs. */
static int plan_check_channels(struct vmbus_server *srv, struct restore_plan *p, char *err, size_t errlen) {
        if (p->n_ch > srv->lim.max_channels)
                return errorf(err, errlen, -EINVAL, "VBSV: %zu channels, this VM allows %u", p->n_ch,
                              srv->lim.max_channels);
        uint8_t seen[VMBUS_CHANNEL_MAX_RELID + 1] = { 0 };
        for (size_t i = 0; i < p->n_ch; i++) {
                uint32_t relid = p->ch_relid[i]; /* 1..MAX: the decoder checked */
                if (seen[relid]++)
                        return errorf(err, errlen, -EINVAL, "VBCH #%u: a second section for this relid", relid);
                int r = plan_check_channel(srv, p, i, err, errlen);
                if (r < 0)
                        return r;
        }
        /* Every device has its primary, and its sub-channels are 1..n-1. */
        for (struct vmbus_device *d = srv->devices; d; d = d->next) {
                unsigned count = 0, max = 0;
                for (size_t i = 0; i < p->n_ch; i++)
                        if (p->ch_dev[i] == d)
                                count++, max = MAX(max, (unsigned)p->ch[i].sub_index);
                if (count == 0 || max + 1 != count)
                        return errorf(err, errlen, -EINVAL, "the state has %u channels for %s, numbered up to %u",
                                      count, d->ops->name, max);
        }
        return 0;
}

/* Every PFN of a complete GPADL is guest RAM (what map_pages will need). */
static bool gpadl_pfns_in_ram(struct vmbus_server *srv, const struct vmbus_saved_gpadl *g, uint64_t *bad) {
        uint32_t pos = 0;
        for (unsigned i = 0; i < g->rangecount; i++) {
                uint32_t count = vmstate_le32(g->buf + pos), offset = vmstate_le32(g->buf + pos + 4);
                uint64_t n = DIV_ROUND_UP((uint64_t)offset + count, VMBUS_PAGE_SIZE);
                pos += 8;
                for (uint64_t k = 0; k < n; k++, pos += 8) {
                        uint64_t pfn = vmstate_le64(g->buf + pos);
                        uint8_t byte;
                        if (srv->ops->read(srv->host, pfn * VMBUS_PAGE_SIZE, &byte, 1) < 0) {
                                *bad = pfn;
                                return false;
                        }
                }
        }
        return true;
}

/* A GPADL section against the channels and limits (the range checks are
 * the decoder's); accumulates the totals and each owner's count. */
static int plan_check_gpadl(struct vmbus_server *srv, const struct restore_plan *p, const struct vmstate_section *s,
                            const struct vmbus_saved_gpadl *g, unsigned *pages, unsigned *pending,
                            unsigned *per_channel, char *err, size_t errlen) {
        size_t idx;
        const struct vmbus_saved_channel *owner = plan_channel(p, g->relid, &idx);
        /* Offered, open, or since rescinded or released: GPADLs stay until
         * the relid is freed. */
        if (!owner || owner->state == VMBUS_STATE_CH_UNOFFERED)
                return errorf(err, errlen, -EINVAL, "VBGP #%u: relid %u has no offered channel", s->instance,
                              g->relid);
        if (++per_channel[idx] > srv->lim.max_gpadls_per_channel)
                return errorf(err, errlen, -EDQUOT, "VBGP #%u: more than %u GPADLs on relid %u", s->instance,
                              srv->lim.max_gpadls_per_channel, g->relid);
        unsigned n = g->buflen / 8u - g->rangecount;
        if (n > srv->lim.max_gpadl_pages ||
            n > srv->lim.max_total_gpadl_pages - MIN(*pages, srv->lim.max_total_gpadl_pages))
                return errorf(err, errlen, -EDQUOT, "VBGP #%u: %u pages over this VM's limits", s->instance, n);
        uint64_t bad;
        if (g->state != VMBUS_STATE_GPADL_PENDING && !gpadl_pfns_in_ram(srv, g, &bad))
                return errorf(err, errlen, -EFAULT, "VBGP #%u: PFN 0x%llx is not guest RAM", s->instance,
                              (unsigned long long)bad);
        *pages += n;
        *pending += g->state == VMBUS_STATE_GPADL_PENDING;
        return 0;
}

/* An open channel's ring GPADL: its own, complete, and the shape
 * channel_prepare wants (one range of whole pages from offset 0, at least
 * two pages per ring, the split inside). */
static int plan_check_ring(const struct restore_plan *p, size_t i, const struct vmbus_saved_gpadl *g,
                           bool found, char *err, size_t errlen) {
        const struct vmbus_saved_channel *c = &p->ch[i];
        uint32_t relid = p->ch_relid[i];
        if (!found || g->relid != relid || g->state == VMBUS_STATE_GPADL_PENDING)
                return errorf(err, errlen, -EINVAL, "VBCH #%u: ring GPADL %u missing, pending or another's", relid,
                              c->ring_gpadl);
        uint32_t n_pages = g->buflen / 8u - 1u;
        if (g->rangecount != 1 || vmstate_le32(g->buf + 4) != 0 ||
            vmstate_le32(g->buf) != (uint64_t)n_pages * VMBUS_PAGE_SIZE || n_pages < 4 ||
            c->ring_send_pages > n_pages - 2)
                return errorf(err, errlen, -EINVAL, "VBCH #%u: ring GPADL %u of %u pages split at %u", relid,
                              c->ring_gpadl, n_pages, c->ring_send_pages);
        return 0;
}

static int plan_check_gpadls(struct vmbus_server *srv, const struct restore_plan *p, char *err, size_t errlen) {
        if (p->n_gp > srv->lim.max_gpadls)
                return errorf(err, errlen, -EDQUOT, "VBSV: %zu GPADLs, this VM allows %u", p->n_gp,
                              srv->lim.max_gpadls);
        struct vmbus_saved_gpadl *g = malloc(sizeof *g);
        unsigned *per_channel = calloc(p->n_ch + 1, sizeof *per_channel);
        int r = !g || !per_channel ? -ENOMEM : 0;
        unsigned pages = 0, pending = 0;
        for (size_t i = 0; r == 0 && i < p->n_gp; i++) {
                for (size_t j = 0; j < i && r == 0; j++)
                        if (p->gp_sec[j]->instance == p->gp_sec[i]->instance)
                                r = errorf(err, errlen, -EINVAL, "VBGP #%u: a second section for this handle",
                                           p->gp_sec[i]->instance);
                if (r == 0)
                        r = vmbus_gpadl_state_decode(p->gp_sec[i], g, err, errlen);
                if (r == 0)
                        r = plan_check_gpadl(srv, p, p->gp_sec[i], g, &pages, &pending, per_channel, err, errlen);
        }
        if (r == 0 && pending > srv->lim.max_pending_gpadls)
                r = errorf(err, errlen, -EDQUOT, "VBSV: %u pending GPADLs, this VM allows %u", pending,
                           srv->lim.max_pending_gpadls);
        for (size_t i = 0; r == 0 && i < p->n_ch; i++) {
                if (p->ch[i].state != VMBUS_STATE_CH_OPEN)
                        continue;
                const struct vmstate_section *gs = NULL;
                for (size_t j = 0; j < p->n_gp && !gs; j++)
                        if (p->gp_sec[j]->instance == p->ch[i].ring_gpadl)
                                gs = p->gp_sec[j];
                bool found = gs && vmbus_gpadl_state_decode(gs, g, err, errlen) == 0;
                r = plan_check_ring(p, i, g, found, err, errlen);
        }
        free(per_channel);
        free(g);
        return r;
}

/* ---- restore: apply (serial and lock held) ---- */

/* The only allocations of the channel step, before anything changes. */
static int apply_alloc_channels(struct vmbus_server *srv, struct restore_plan *p) {
        for (size_t i = 0; i < p->n_ch; i++) {
                if (p->ch_dev[i] && p->ch[i].sub_index == 0)
                        continue; /* the primary add_device made */
                p->ch_new[i] = calloc(1, sizeof *p->ch_new[i]);
                if (!p->ch_new[i])
                        return -ENOMEM;
        }
        size_t k = 0;
        for (const struct vmbus_device *d = srv->devices; d; d = d->next)
                p->dev_relid[k++] = d->channels[0]->relid;
        return 0;
}

static const enum vmbus_channel_state ch_states[] = {
        [VMBUS_STATE_CH_UNOFFERED] = VMBUS_CH_UNOFFERED, [VMBUS_STATE_CH_OFFERED] = VMBUS_CH_OFFERED,
        /* opened below; offered until then */
        [VMBUS_STATE_CH_OPEN] = VMBUS_CH_OFFERED, [VMBUS_STATE_CH_RESCINDED] = VMBUS_CH_RESCINDED,
        [VMBUS_STATE_CH_RELEASED] = VMBUS_CH_RELEASED,
};

/* Every channel at its saved relid: the primaries move, sub-channels and
 * rescinded relids are created (as vmbus_channel_new_locked would, at a
 * given relid). Cannot fail. */
static void apply_channels(struct vmbus_server *srv, struct restore_plan *p) {
        for (struct vmbus_device *d = srv->devices; d; d = d->next)
                srv->relids[d->channels[0]->relid] = NULL;
        for (size_t i = 0; i < p->n_ch; i++) {
                struct vmbus_device *dev = p->ch_dev[i];
                uint16_t sub = p->ch[i].sub_index;
                struct vmbus_channel *ch = p->ch_new[i];
                if (ch) {
                        p->ch_new[i] = NULL;
                        *ch = (struct vmbus_channel){ .srv = srv, .dev = dev, .sub_index = sub, .efd = -1 };
                        srv->n_channels++;
                } else {
                        ch = dev->channels[0];
                }
                ch->relid = p->ch_relid[i];
                ch->connection_id = VMBUS_CHANNEL_CONNECTION_ID(ch->relid);
                ch->state = ch_states[p->ch[i].state];
                srv->relids[ch->relid] = ch;
                if (dev) {
                        dev->channels[sub] = ch;
                        __atomic_store_n(&dev->n_channels, MAX(dev->n_channels, (unsigned)sub + 1),
                                         __ATOMIC_RELEASE);
                }
        }
}

static int apply_gpadl(struct vmbus_server *srv, const struct vmbus_saved_gpadl *st, uint32_t handle) {
        struct vmbus_gpadl *g = calloc(1, sizeof *g);
        uint8_t *buf = g ? malloc(st->buflen) : NULL;
        if (!buf) {
                free(g);
                return -ENOMEM;
        }
        memcpy(buf, st->buf, st->filled);
        *g = (struct vmbus_gpadl){ .srv = srv, .next = srv->gpadls, .handle = handle, .relid = st->relid,
                                   .state = VMBUS_GPADL_PENDING, .rangecount = st->rangecount,
                                   .buflen = st->buflen, .filled = st->filled, .buf = buf };
        srv->gpadls = g;
        srv->n_gpadls++;
        srv->n_pending++;
        srv->total_pages += st->buflen / 8u - st->rangecount;
        srv->relids[st->relid]->n_gpadls++;
        if (st->state == VMBUS_STATE_GPADL_PENDING)
                return 0;
        int r = vmbus_gpadl_complete_quiet(g);
        if (r == 0 && st->state == VMBUS_STATE_GPADL_TEARDOWN)
                g->state = VMBUS_GPADL_TEARDOWN;
        return r;
}

/* Saved newest first (the table's order); pushed oldest first to keep it. */
static int apply_gpadls(struct vmbus_server *srv, const struct restore_plan *p, char *err, size_t errlen) {
        struct vmbus_saved_gpadl *st = malloc(sizeof *st);
        if (!st)
                return -ENOMEM;
        int r = 0;
        for (size_t i = p->n_gp; r == 0 && i-- > 0;) {
                r = vmbus_gpadl_state_decode(p->gp_sec[i], st, err, errlen); /* checked: cannot fail */
                if (r == 0 && (r = apply_gpadl(srv, st, p->gp_sec[i]->instance)) < 0)
                        errorf(err, errlen, r, "VBGP #%u: its pages cannot be mapped: %s", p->gp_sec[i]->instance,
                               strerror(-r));
        }
        free(st);
        return r;
}

static void held_push(void *opaque, uint32_t vp, const uint8_t *msg, uint32_t len) {
        struct vmbus_server *srv = opaque;
        struct vmbus_outmsg *m = &srv->deferred[(srv->def_head + srv->def_count) % srv->def_cap];
        m->vp = vp;
        m->len = len;
        memcpy(m->msg, msg, len);
        srv->def_count++;
}

static int apply_open(struct vmbus_server *srv, const struct restore_plan *p, const struct vmstate_section *secs,
                      size_t n, char *err, size_t errlen) {
        for (size_t i = 0; i < p->n_ch; i++) {
                const struct vmbus_saved_channel *c = &p->ch[i];
                if (c->state != VMBUS_STATE_CH_OPEN)
                        continue;
                struct vmbus_channel *ch = srv->relids[p->ch_relid[i]];
                struct vmbus_channel_open_channel o = { .child_relid = ch->relid, .openid = c->openid,
                                                        .ringbuffer_gpadlhandle = c->ring_gpadl,
                                                        .target_vp = c->target_vp,
                                                        .downstream_ringbuffer_pageoffset = c->ring_send_pages };
                memcpy(o.userdata, c->userdata, sizeof o.userdata);
                int r = vmbus_channel_restore_open(ch, &o, c->dead, secs, n, err, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A teardown the guest asked for while a provider held the GPADL: if the
 * restored providers no longer hold it, it is answered now (queued). */
static void answer_teardowns(struct vmbus_server *srv) {
        for (struct vmbus_gpadl *g = srv->gpadls, *next; g; g = next) {
                next = g->next;
                if (g->state == VMBUS_GPADL_TEARDOWN && g->refs == 0) {
                        g->refs = 1;
                        vmbus_gpadl_put_locked(g);
                }
        }
}

static int apply_locked(struct vmbus_server *srv, struct restore_plan *p, const struct vmstate_section *secs,
                        size_t n, char *err, size_t errlen) {
        const struct vmbus_saved_server *sv = p->server;
        srv->quiesced = true; /* nothing reaches the guest until resume */
        srv->restoring = true;
        srv->conn = sv->conn == VMBUS_STATE_CONNECTED ? VMBUS_CONN_CONNECTED : VMBUS_CONN_DISCONNECTED;
        srv->version = sv->version;
        srv->msg_vp = sv->msg_vp;
        srv->offers_requested = sv->offers_requested;
        apply_channels(srv, p);
        int r = apply_gpadls(srv, p, err, errlen);
        if (r == 0)
                vmbus_state_held_walk(sv, held_push, srv); /* checked: fits */
        if (r == 0)
                r = apply_open(srv, p, secs, n, err, errlen);
        if (r == 0)
                answer_teardowns(srv);
        srv->restoring = false;
        return r;
}

/* Back to the server as built: what was restored is closed (the providers
 * whose restore_channel succeeded get their close), dropped and reset as a
 * VM reset does, the primaries return to the relids add_device gave them,
 * nothing stays queued, the counters are as before. */
static void undo_locked(struct vmbus_server *srv, const struct restore_plan *p,
                        const struct vmbus_server_stats *stats, bool quiesced) {
        srv->restoring = false;
        vmbus_disconnect(srv); /* quiesced: what it answers is queued, dropped below */
        for (struct vmbus_device *d = srv->devices; d; d = d->next)
                srv->relids[d->channels[0]->relid] = NULL;
        size_t k = 0;
        for (struct vmbus_device *d = srv->devices; d; d = d->next) {
                struct vmbus_channel *ch = d->channels[0];
                ch->relid = p->dev_relid[k++];
                ch->connection_id = VMBUS_CHANNEL_CONNECTION_ID(ch->relid);
                srv->relids[ch->relid] = ch;
        }
        srv->def_head = srv->def_count = 0;
        srv->msg_vp = 0;
        srv->stats = *stats;
        srv->quiesced = quiesced;
}

static bool server_fresh(const struct vmbus_server *srv) {
        if (srv->conn != VMBUS_CONN_DISCONNECTED || srv->gpadls || srv->def_count)
                return false;
        unsigned devices = 0;
        for (const struct vmbus_device *d = srv->devices; d; d = d->next, devices++)
                if (d->n_channels != 1 || d->channels[0]->state != VMBUS_CH_UNOFFERED)
                        return false;
        return devices == srv->n_channels;
}

int vmbus_server_restore(struct vmbus_server *srv, const struct vmstate_section *secs, size_t n, char *err,
                         size_t errlen) {
        struct restore_plan p = { 0 };
        pthread_mutex_lock(&srv->serial);
        pthread_mutex_lock(&srv->lock);
        int r = server_fresh(srv) ? 0 : errorf(err, errlen, -EBUSY, "the VMBus server has already been used");
        if (r == 0)
                r = plan_decode(srv, secs, n, &p, err, errlen);
        if (r == 0)
                r = plan_check_server(srv, &p, err, errlen);
        if (r == 0)
                r = plan_check_channels(srv, &p, err, errlen);
        if (r == 0)
                r = plan_check_gpadls(srv, &p, err, errlen);
        if (r == 0)
                r = apply_alloc_channels(srv, &p);
        if (r == 0) {
                struct vmbus_server_stats stats = srv->stats;
                bool quiesced = srv->quiesced;
                if ((r = apply_locked(srv, &p, secs, n, err, errlen)) < 0)
                        undo_locked(srv, &p, &stats, quiesced);
        }
        if (r == 0)
                keep_offered_instances(&p);
        pthread_mutex_unlock(&srv->lock);
        pthread_mutex_unlock(&srv->serial);
        plan_free(&p);
        if (r < 0 && err && errlen && !err[0])
                errorf(err, errlen, r, "restoring the VMBus server: %s", strerror(-r));
        return r;
}

/* ---- the server's row of the worker's device table ---- */

/* Quiesced: its library channel threads parked, every message to the
 * guest held until resume. */
static int row_quiesce(void *dev) {
        return vmbus_server_quiesce(dev);
}

static void row_resume(void *dev) {
        vmbus_server_resume(dev);
}

/* Its sections and, through the providers' save_channel/restore_channel,
 * every open channel's (docs/vm-state.md). */
static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        return vmbus_server_save(dev, w, err, errlen);
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        return vmbus_server_restore(dev, secs, n, err, errlen);
}

static const uint32_t row_tags[] = { VMBUS_STATE_TAG_SERVER, VMBUS_STATE_TAG_CHANNEL, VMBUS_STATE_TAG_GPADL, 0 };

const struct device_ops vmbus_server_device_ops = {
        .name = "VMBus server", .quiesce = row_quiesce, .resume = row_resume,
        .save = row_save, .restore = row_restore, .tags = row_tags,
};
