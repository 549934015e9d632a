// SPDX-License-Identifier: MIT
/* Key-value exchange (docs/hyperv-guest-interface.md §8.6): the host
 * pushes its items into the guest's host-to-guest pools (KVP_OP_SET /
 * KVP_OP_DELETE) and reads the guest's items by enumerating its pools
 * (KVP_OP_ENUMERATE with index 0, 1, ... until the guest answers with a
 * non-zero status, HV_S_CONT at the end). The guest serializes transactions
 * (hv_kvp.c reads no packet while one is being handled), so this is one
 * state machine with at most one request outstanding:
 *
 *   negotiated -> push dirty host items -> scan AUTO, then GUEST pool
 *      -> (items changed? tell the owner) -> idle until the next poll
 *
 * A Linux guest without hv_kvp_daemon answers every request with E_FAIL:
 * pushes are retried at every scan, the scan finds nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "internal.h"

static const struct ic_version kvp_versions[] = { { 4, 0 }, { 3, 0 }, { 1, 0 } }; /* hv_kvp.c, §8.2 */
static const uint8_t scan_pools[] = { KVP_POOL_AUTO, KVP_POOL_GUEST };

struct kvp_item {
        char *key, *value;
        uint8_t pool;
        bool dirty;    /* host: SET (or DELETE) still to send */
        bool deleting; /* host: removed by the owner, DELETE pending */
        bool failed;   /* host: the guest refused the last push: retry at the next scan */
};

struct ic_kvp {
        struct kvp_item host[ICVSP_KVP_MAX_HOST_ITEMS];
        unsigned n_host;
        struct kvp_item guest[ICVSP_KVP_MAX_GUEST_ITEMS]; /* the last complete scan */
        unsigned n_guest;
        struct kvp_item scan[ICVSP_KVP_MAX_GUEST_ITEMS]; /* the scan in progress */
        unsigned n_scan;
        int pushing; /* host item whose SET/DELETE is outstanding, -1 if none */
        bool scanning;
        unsigned scan_pool;
        uint32_t index;
        uint64_t next_scan_us, poll_us, scans;
        char key[ICVSP_KVP_KEY_MAX], value[ICVSP_KVP_VALUE_MAX]; /* decode buffers */
};

static void item_free(struct kvp_item *it) {
        free(it->key);
        free(it->value);
        *it = (struct kvp_item){ 0 };
}

static void items_free(struct kvp_item *items, unsigned *n) {
        for (unsigned i = 0; i < *n; i++)
                item_free(&items[i]);
        *n = 0;
}

int ic_kvp_new(struct ic_service *s) {
        s->kvp = calloc(1, sizeof *s->kvp);
        if (!s->kvp)
                return -ENOMEM;
        s->kvp->pushing = -1;
        s->kvp->poll_us = (s->ic->cfg.kvp_poll_ms ? s->ic->cfg.kvp_poll_ms : ICVSP_KVP_POLL_MS) * 1000ull;
        return 0;
}

void ic_kvp_free(struct ic_service *s) {
        struct ic_kvp *k = s->kvp;
        if (!k)
                return;
        items_free(k->host, &k->n_host);
        items_free(k->guest, &k->n_guest);
        items_free(k->scan, &k->n_scan);
        free(k);
        s->kvp = NULL;
}

static void host_remove(struct ic_kvp *k, unsigned i) {
        item_free(&k->host[i]);
        memmove(&k->host[i], &k->host[i + 1], (k->n_host - i - 1) * sizeof k->host[0]);
        k->host[--k->n_host] = (struct kvp_item){ 0 };
}

static bool send_push(struct ic_service *s, unsigned i, uint64_t now) {
        struct ic_kvp *k = s->kvp;
        struct kvp_item *it = &k->host[i];
        struct hv_kvp_exchange_msg m;
        uint8_t op = it->deleting ? KVP_OP_DELETE : KVP_OP_SET;
        if (ic_kvp_build(&m, op, it->pool, it->key, it->value, 0) < 0 || ic_send_request(s, &m, sizeof m, now) < 0)
                return false;
        /* Cleared now: a change while this is outstanding sets it again. */
        it->dirty = false;
        k->pushing = (int)i;
        s->ic->stats.kvp_sets += op == KVP_OP_SET;
        s->ic->stats.kvp_deletes += op == KVP_OP_DELETE;
        return true;
}

static bool send_enumerate(struct ic_service *s, uint64_t now) {
        struct ic_kvp *k = s->kvp;
        struct hv_kvp_exchange_msg m;
        if (ic_kvp_build(&m, KVP_OP_ENUMERATE, scan_pools[k->scan_pool], NULL, NULL, k->index) < 0 ||
            ic_send_request(s, &m, sizeof m, now) < 0)
                return false;
        s->ic->stats.kvp_enumerates++;
        return true;
}

static void start_scan(struct ic_service *s) {
        struct ic_kvp *k = s->kvp;
        items_free(k->scan, &k->n_scan);
        k->scanning = true;
        k->scan_pool = 0;
        k->index = 0;
        for (unsigned i = 0; i < k->n_host; i++)
                if (k->host[i].failed)
                        k->host[i].dirty = true;
}

static bool same_items(const struct kvp_item *a, unsigned na, const struct kvp_item *b, unsigned nb) {
        if (na != nb)
                return false;
        for (unsigned i = 0; i < na; i++)
                if (a[i].pool != b[i].pool || strcmp(a[i].key, b[i].key) || strcmp(a[i].value, b[i].value))
                        return false;
        return true;
}

static void finish_scan(struct ic_service *s, uint64_t now) {
        struct ic_kvp *k = s->kvp;
        k->scanning = false;
        k->scans++;
        s->ic->stats.kvp_scans++;
        k->next_scan_us = now + k->poll_us;
        if (same_items(k->scan, k->n_scan, k->guest, k->n_guest)) {
                items_free(k->scan, &k->n_scan);
                return;
        }
        items_free(k->guest, &k->n_guest);
        memcpy(k->guest, k->scan, k->n_scan * sizeof k->scan[0]);
        k->n_guest = k->n_scan;
        memset(k->scan, 0, sizeof k->scan);
        k->n_scan = 0;
        if (s->ic->ops && s->ic->ops->kvp_changed)
                s->ic->ops->kvp_changed(s->ic->opaque);
}

static void next_pool(struct ic_service *s, uint64_t now) {
        struct ic_kvp *k = s->kvp;
        k->index = 0;
        if (++k->scan_pool == ARRAY_SIZE(scan_pools))
                finish_scan(s, now);
}

static void kvp_tick(struct ic_service *s, uint64_t now) {
        struct ic_kvp *k = s->kvp;
        if (!s->negotiated || s->outstanding)
                return;
        if (!k->scanning && now >= k->next_scan_us)
                start_scan(s);
        /* Host items first: they are what an administrator just changed. */
        for (unsigned i = 0; i < k->n_host; i++)
                if (k->host[i].dirty)
                        if (send_push(s, i, now))
                                return;
        if (k->scanning)
                (void)send_enumerate(s, now);
}

/* The guest's (new) service: it may have lost what it had (a reloaded
 * hv_utils, a new daemon), so every host item is pushed again. */
static void kvp_ready(struct ic_service *s, uint64_t now) {
        struct ic_kvp *k = s->kvp;
        k->pushing = -1;
        k->scanning = false;
        k->next_scan_us = now;
        for (unsigned i = 0; i < k->n_host; i++)
                k->host[i].dirty = true;
        kvp_tick(s, now);
}

static void push_done(struct ic_service *s, bool ok) {
        struct ic_kvp *k = s->kvp;
        unsigned i = (unsigned)k->pushing;
        k->pushing = -1;
        if (i >= k->n_host || k->host[i].dirty) /* changed meanwhile: pushed again */
                return;
        /* A DELETE is done either way: a guest without the key refuses it. */
        if (k->host[i].deleting) {
                host_remove(k, i);
                return;
        }
        k->host[i].failed = !ok;
        if (!ok)
                s->ic->stats.kvp_push_failures++;
}

static void scan_answer(struct ic_service *s, uint32_t status, const uint8_t *body, size_t len, uint64_t now) {
        struct ic_kvp *k = s->kvp;
        if (status != HV_S_OK) { /* HV_S_CONT: past the last item; E_FAIL: no daemon */
                next_pool(s, now);
                return;
        }
        uint8_t pool = scan_pools[k->scan_pool];
        if (ic_kvp_parse_enumerate(body, len, pool, k->key, k->value) < 0) {
                s->ic->stats.kvp_bad_items++;
        } else if (k->n_scan < ICVSP_KVP_MAX_GUEST_ITEMS) {
                struct kvp_item *it = &k->scan[k->n_scan];
                it->key = strdup(k->key);
                it->value = strdup(k->value);
                it->pool = pool;
                if (it->key && it->value)
                        k->n_scan++;
                else
                        item_free(it);
        }
        if (++k->index >= ICVSP_KVP_MAX_INDEX || k->n_scan == ICVSP_KVP_MAX_GUEST_ITEMS)
                next_pool(s, now);
}

static void kvp_response(struct ic_service *s, const struct icmsg_hdr *h, const uint8_t *body, size_t len,
                         uint64_t now) {
        struct ic_kvp *k = s->kvp;
        if (k->pushing >= 0) {
                push_done(s, h->status == HV_S_OK);
                return;
        }
        if (k->scanning)
                scan_answer(s, h->status, body, len, now);
}

/* No answer in time (a hung daemon) or the channel closed: give up this
 * round; pushes are retried at the next scan. */
static void kvp_abandoned(struct ic_service *s, uint64_t now) {
        struct ic_kvp *k = s->kvp;
        if (k->pushing >= 0)
                push_done(s, false);
        if (k->scanning) {
                k->scanning = false;
                items_free(k->scan, &k->n_scan);
                k->next_scan_us = now + k->poll_us;
        }
}

const struct ic_service_ops ic_kvp_ops = {
        .name = "kvp",
        .msgtype = ICMSGTYPE_KVPEXCHANGE,
        .msg_versions = kvp_versions,
        .n_msg_versions = ARRAY_SIZE(kvp_versions),
        .timeout_ms = ICVSP_KVP_TIMEOUT_MS,
        .guest_clock = true,
        .ready = kvp_ready,
        .tick = kvp_tick,
        .response = kvp_response,
        .abandoned = kvp_abandoned,
};

/* ---- API (any thread) ---- */

static int find_host(const struct ic_kvp *k, uint8_t pool, const char *key) {
        for (unsigned i = 0; i < k->n_host; i++)
                if (k->host[i].pool == pool && !strcmp(k->host[i].key, key))
                        return (int)i;
        return -ENOENT;
}

static int host_store(struct ic_kvp *k, uint8_t pool, const char *key, const char *value) {
        int i = find_host(k, pool, key);
        char *v = value ? strdup(value) : NULL;
        if (value && !v)
                return -ENOMEM;
        if (i < 0 && !value)
                return -ENOENT;
        if (i >= 0 && !value && k->host[i].deleting)
                return -ENOENT;
        if (i < 0) {
                if (k->n_host == ICVSP_KVP_MAX_HOST_ITEMS) {
                        free(v);
                        return -ENOSPC;
                }
                char *kk = strdup(key);
                if (!kk) {
                        free(v);
                        return -ENOMEM;
                }
                i = (int)k->n_host++;
                k->host[i] = (struct kvp_item){ .key = kk, .pool = pool };
        }
        struct kvp_item *it = &k->host[i];
        if (value) {
                free(it->value);
                it->value = v;
        }
        it->deleting = !value;
        it->dirty = true;
        it->failed = false;
        return 0;
}

int icvsp_kvp_set(struct icvsp *ic, uint8_t pool, const char *key, const char *value) {
        if (!ic->enabled[IC_KVP])
                return -ENOTSUP;
        if ((pool != KVP_POOL_EXTERNAL && pool != KVP_POOL_AUTO_EXTERNAL) || ic_kvp_check_strings(key, value) < 0)
                return -EINVAL;
        pthread_mutex_lock(&ic->lock);
        struct ic_service *s = &ic->svc[IC_KVP];
        int r = host_store(s->kvp, pool, key, value);
        /* Without a guest to tell, a deletion is done at once (a slot
         * kept for a DELETE nobody receives would fill the table). */
        if (r == 0 && !value && !(s->sc.ch && s->negotiated) && s->kvp->pushing < 0)
                host_remove(s->kvp, (unsigned)find_host(s->kvp, pool, key));
        else if (r == 0 && !ic->paused)
                kvp_tick(s, ic_now_us());
        pthread_mutex_unlock(&ic->lock);
        return r;
}

int icvsp_kvp_list(struct icvsp *ic, bool guest, icvsp_kvp_fn fn, void *opaque) {
        if (!ic->enabled[IC_KVP])
                return -ENOTSUP;
        pthread_mutex_lock(&ic->lock);
        struct ic_kvp *k = ic->svc[IC_KVP].kvp;
        const struct kvp_item *items = guest ? k->guest : k->host;
        unsigned n = guest ? k->n_guest : k->n_host;
        for (unsigned i = 0; i < n; i++)
                if (!items[i].deleting)
                        fn(opaque, items[i].pool, items[i].key, items[i].value);
        pthread_mutex_unlock(&ic->lock);
        return 0;
}

bool icvsp_kvp_ready(struct icvsp *ic, uint64_t *scans) {
        if (!ic->enabled[IC_KVP])
                return false;
        pthread_mutex_lock(&ic->lock);
        struct ic_service *s = &ic->svc[IC_KVP];
        bool ready = s->sc.ch && s->negotiated;
        if (scans)
                *scans = s->kvp->scans;
        pthread_mutex_unlock(&ic->lock);
        return ready;
}

/* ---- saved state (state.c, icvsp.h "ICKV") ---- */

static const struct vmstate_field_desc kvp_fields[] = {
        VMSTATE_FIELD(1, VMSTATE_U64, struct icvsp_kvp_state, next_scan_in_us),
        VMSTATE_ARRAY(2, VMSTATE_VARBYTES, struct icvsp_kvp_state, host, host_len),
        VMSTATE_ARRAY(3, VMSTATE_VARBYTES, struct icvsp_kvp_state, guest, guest_len),
        VMSTATE_ARRAY(4, VMSTATE_VARBYTES, struct icvsp_kvp_state, scan, scan_len),
};
const struct vmstate_desc icvsp_kvp_state_desc = {
        .tag = ICVSP_KVP_STATE_TAG, .version = 1, .fields = kvp_fields, .n_fields = ARRAY_SIZE(kvp_fields),
        .name = "KVP items",
};

#define KVP_REC_NO_VALUE 0xffffu
#define KVP_FLAG_DIRTY 1u
#define KVP_FLAG_DELETING 2u
#define KVP_FLAG_FAILED 4u

static uint32_t items_encode(const struct kvp_item *items, unsigned n, uint8_t *out) {
        uint32_t off = 0;
        for (unsigned i = 0; i < n; i++) {
                const struct kvp_item *it = &items[i];
                size_t kl = strlen(it->key), vl = it->value ? strlen(it->value) : 0;
                out[off] = it->pool;
                out[off + 1] = (uint8_t)((it->dirty ? KVP_FLAG_DIRTY : 0) | (it->deleting ? KVP_FLAG_DELETING : 0) |
                                         (it->failed ? KVP_FLAG_FAILED : 0));
                vmstate_put_le16(out + off + 2, (uint16_t)kl);
                vmstate_put_le16(out + off + 4, it->value ? (uint16_t)vl : KVP_REC_NO_VALUE);
                memcpy(out + off + 6, it->key, kl);
                memcpy(out + off + 6 + kl, it->value ? it->value : "", vl);
                off += (uint32_t)(6 + kl + vl);
        }
        return off;
}

/* Walks records; fn (may be NULL) gets each as NUL-terminated copies.
 * Returns the count or -EINVAL. Pure apart from fn. */
static int items_walk(const uint8_t *p, uint32_t len, unsigned max, bool host,
                      int (*fn)(void *opaque, uint8_t pool, uint8_t flags, const char *key, const char *value),
                      void *opaque) {
        static _Thread_local char key[ICVSP_KVP_KEY_MAX], value[ICVSP_KVP_VALUE_MAX];
        uint32_t off = 0;
        unsigned n = 0;
        while (off < len) {
                if (len - off < 6 || n == max)
                        return -EINVAL;
                uint8_t pool = p[off], flags = p[off + 1];
                uint16_t kl = vmstate_le16(p + off + 2), vl = vmstate_le16(p + off + 4);
                bool has_value = vl != KVP_REC_NO_VALUE;
                uint32_t vlen = has_value ? vl : 0;
                if (pool >= KVP_POOL_COUNT || flags > 7 || (!host && flags) || kl == 0 || kl >= sizeof key ||
                    vlen >= sizeof value || (!host && !has_value) || len - off - 6 < (uint32_t)kl + vlen)
                        return -EINVAL;
                memcpy(key, p + off + 6, kl);
                key[kl] = 0;
                memcpy(value, p + off + 6 + kl, vlen);
                value[vlen] = 0;
                if (strlen(key) != kl || strlen(value) != vlen ||
                    ic_kvp_check_strings(key, has_value ? value : NULL) < 0)
                        return -EINVAL;
                if (fn && fn(opaque, pool, flags, key, has_value ? value : NULL) < 0)
                        return -ENOMEM;
                off += 6u + kl + vlen;
                n++;
        }
        return (int)n;
}

int icvsp_kvp_state_decode(const struct vmstate_section *s, struct icvsp_kvp_state *out, char *err, size_t errlen) {
        memset(out, 0, offsetof(struct icvsp_kvp_state, host));
        out->host_len = out->guest_len = out->scan_len = 0;
        int r = vmstate_decode(s, &icvsp_kvp_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (items_walk(out->host, out->host_len, ICVSP_KVP_MAX_HOST_ITEMS, true, NULL, NULL) < 0 ||
            items_walk(out->guest, out->guest_len, ICVSP_KVP_MAX_GUEST_ITEMS, false, NULL, NULL) < 0 ||
            items_walk(out->scan, out->scan_len, ICVSP_KVP_MAX_GUEST_ITEMS, false, NULL, NULL) < 0)
                return errorf(err, errlen, -EINVAL, "section ICKV: a malformed item");
        return 0;
}

int ic_kvp_save(struct ic_service *s, struct vmstate_writer *w) {
        struct ic_kvp *k = s->kvp;
        struct icvsp_kvp_state *st = malloc(sizeof *st);
        if (!st)
                return -ENOMEM;
        uint64_t now = ic_now_us();
        st->next_scan_in_us = k->next_scan_us > now ? k->next_scan_us - now : 0;
        st->host_len = items_encode(k->host, k->n_host, st->host);
        st->guest_len = items_encode(k->guest, k->n_guest, st->guest);
        st->scan_len = items_encode(k->scan, k->n_scan, st->scan);
        int r = vmstate_encode(w, &icvsp_kvp_state_desc, 0, st);
        free(st);
        return r;
}

struct items_fill {
        struct kvp_item *items;
        unsigned *n;
};

static int item_add(void *opaque, uint8_t pool, uint8_t flags, const char *key, const char *value) {
        struct items_fill *f = opaque;
        struct kvp_item *it = &f->items[*f->n];
        *it = (struct kvp_item){ .key = strdup(key), .value = value ? strdup(value) : NULL, .pool = pool,
                                 .dirty = flags & KVP_FLAG_DIRTY, .deleting = flags & KVP_FLAG_DELETING,
                                 .failed = flags & KVP_FLAG_FAILED };
        if (!it->key || (value && !it->value)) {
                item_free(it);
                return -ENOMEM;
        }
        (*f->n)++;
        return 0;
}

/* Replaces the items: the ones built with the VM (the intrinsic items)
 * give way to the saved ones, which include them. */
int ic_kvp_restore(struct ic_service *s, const struct vmstate_section *sec, char *err, size_t errlen) {
        struct ic_kvp *k = s->kvp;
        struct icvsp_kvp_state *st = malloc(sizeof *st);
        int r = !st ? -ENOMEM : icvsp_kvp_state_decode(sec, st, err, errlen);
        if (r == 0 && k->pushing >= 0 &&
            items_walk(st->host, st->host_len, ICVSP_KVP_MAX_HOST_ITEMS, true, NULL, NULL) <= k->pushing)
                r = errorf(err, errlen, -EINVAL, "section ICKV: the push in progress has no item");
        if (r == 0) {
                items_free(k->host, &k->n_host);
                items_free(k->guest, &k->n_guest);
                items_free(k->scan, &k->n_scan);
                if (items_walk(st->host, st->host_len, ICVSP_KVP_MAX_HOST_ITEMS, true, item_add,
                               &(struct items_fill){ k->host, &k->n_host }) < 0 ||
                    items_walk(st->guest, st->guest_len, ICVSP_KVP_MAX_GUEST_ITEMS, false, item_add,
                               &(struct items_fill){ k->guest, &k->n_guest }) < 0 ||
                    items_walk(st->scan, st->scan_len, ICVSP_KVP_MAX_GUEST_ITEMS, false, item_add,
                               &(struct items_fill){ k->scan, &k->n_scan }) < 0)
                        r = -ENOMEM;
                k->next_scan_us = ic_now_us() + st->next_scan_in_us;
        }
        free(st);
        return r;
}

void ic_kvp_get_progress(struct ic_service *s, struct icvsp_channel_state *st) {
        struct ic_kvp *k = s->kvp;
        st->kvp_pushing = k->pushing < 0 ? UINT32_MAX : (uint32_t)k->pushing;
        st->kvp_scanning = k->scanning;
        st->kvp_scan_pool = (uint8_t)k->scan_pool;
        st->kvp_index = k->index;
}

void ic_kvp_set_progress(struct ic_service *s, const struct icvsp_channel_state *st) {
        struct ic_kvp *k = s->kvp;
        k->pushing = st->kvp_pushing == UINT32_MAX ? -1 : (int)st->kvp_pushing;
        k->scanning = st->kvp_scanning;
        k->scan_pool = st->kvp_scan_pool;
        k->index = st->kvp_index;
}
