// SPDX-License-Identifier: MIT
/* The integration services' saved state (vsp/ic/state.c, kvp.c;
 * docs/saved-state.md "ICCH", "ICKV") through vmbus_server_save/restore
 * and icvsp_save/restore, as the worker's VMBus server and integration
 * services rows run them: a shutdown request the guest has read but not
 * answered is saved, the server and icvsp are freed, new ones built with
 * the same configuration restore the state over the same guest RAM, and
 * the guest's answer after the resume is matched to the request (the
 * owner hears it once); the host's KVP items are kept. Corrupt or
 * inconsistent states are refused, naming the field, and apply nothing: no
 * channel, no KVP item, and no shutdown result reported to the owner. */
#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"
#include "test-icvsp-harness.h"
#include "tests/lib/vmstate-file.h"

static const uint8_t sd_class[16] = HV_SHUTDOWN_GUID;
static const uint8_t kvp_class[16] = HV_KVP_GUID;

static struct icvsp_config config(void) {
        struct icvsp_config c = env_config();
        c.shutdown = c.kvp = true;
        c.kvp_poll_ms = 60000;
        return c;
}

static void expect_type(struct env *e, struct vmbus_sim_channel *ch, uint16_t type) {
        struct icmsg_hdr h;
        host_request(e, ch, &h);
        ASSERT_EQ(h.icmsgtype, type);
}

struct saved {
        uint8_t *map;
        size_t len;
        struct vmstate_section secs[32];
        int n;
};

struct both {
        struct vmbus_server *srv;
        struct icvsp *ic;
};

/* The VMBus server's row, then the integration services' (table order). */
static int save_both(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        struct both *b = opaque;
        int r = vmbus_server_save(b->srv, w, err, errlen);
        return r < 0 ? r : icvsp_save(b->ic, w, err, errlen);
}

/* Shutdown and KVP negotiated, one KVP scan done, the host item "kept"
 * pushed and answered; then a shutdown request the guest reads and does
 * not answer yet. Quiesced and saved; the server and icvsp freed (the
 * guest and its RAM stay). */
static void save_guest(struct env *e, struct vmbus_sim_channel *sd, struct vmbus_sim_channel *kvp,
                       struct saved *s) {
        struct icvsp_config c = config();
        env_init_cfg(e, &c);
        open_and_negotiate(e, sd_class, (struct ic_version){ 3, 0 }, sd);
        open_and_negotiate(e, kvp_class, (struct ic_version){ 4, 0 }, kvp);
        for (int pool = 0; pool < 2; pool++) { /* a guest without hv_kvp_daemon */
                expect_type(e, kvp, ICMSGTYPE_KVPEXCHANGE);
                guest_answer(e, kvp, HV_E_FAIL);
        }
        struct icvsp_stats st;
        WAIT_STATS(e, st, st.kvp_scans == 1);
        ASSERT_OK(icvsp_kvp_set(e->ic, KVP_POOL_EXTERNAL, "kept", "yes"));
        expect_type(e, kvp, ICMSGTYPE_KVPEXCHANGE);
        guest_answer(e, kvp, HV_S_OK);
        WAIT_STATS(e, st, st.kvp_sets == 1);
        for (int i = 0; i < 5000 && !icvsp_shutdown_ready(e->ic); i++)
                usleep(1000);
        ASSERT_OK(icvsp_request_shutdown(e->ic, false));
        expect_type(e, sd, ICMSGTYPE_SHUTDOWN); /* read; its answer comes after the restore */
        ASSERT_OK(icvsp_quiesce(e->ic));
        ASSERT_OK(vmbus_server_quiesce(e->srv));
        struct both b = { e->srv, e->ic };
        s->n = vmstate_test_save(save_both, &b, &s->map, &s->len, s->secs, ARRAY_SIZE(s->secs));
        vmbus_server_free(e->srv);
        icvsp_free(e->ic);
        e->srv = NULL;
        e->ic = NULL;
}

/* A server and icvsp built from the same configuration, on the same guest. */
static void rebuild(struct env *e, struct owner *o) {
        memset(o, 0, sizeof *o);
        pthread_mutex_init(&o->lock, NULL);
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e->sim, &e->srv));
        struct icvsp_config c = config();
        ASSERT_OK(icvsp_new(e->srv, &c, &owner_ops, o, &e->ic));
}

static int restore_both(struct env *e, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        int r = vmbus_server_restore(e->srv, secs, n, err, errlen);
        return r < 0 ? r : icvsp_restore(e->ic, secs, n, err, errlen);
}

static void count_item(void *opaque, uint8_t pool, const char *key, const char *value) {
        unsigned *n = opaque;
        if (pool == KVP_POOL_EXTERNAL && strcmp(key, "kept") == 0 && value && strcmp(value, "yes") == 0)
                (*n)++;
        else
                *n += 100;
}

static unsigned host_items(struct icvsp *ic) {
        unsigned n = 0;
        ASSERT_OK(icvsp_kvp_list(ic, false, count_item, &n));
        return n;
}

static unsigned answers(struct owner *o) {
        pthread_mutex_lock(&o->lock);
        unsigned n = o->answers;
        pthread_mutex_unlock(&o->lock);
        return n;
}

static bool one_answer(struct owner *o) {
        return o->answers == 1;
}

TEST(outstanding_request_and_kvp_items_survive) {
        static struct env e;
        static struct saved s;
        struct vmbus_sim_channel sd, kvp;
        save_guest(&e, &sd, &kvp, &s);
        struct owner o;
        rebuild(&e, &o);
        char err[256] = "";
        if (restore_both(&e, s.secs, (size_t)s.n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        ASSERT_EQ(host_items(e.ic), 1u);
        ASSERT_TRUE(icvsp_shutdown_ready(e.ic));
        /* One request at a time: the restored one is still outstanding. */
        ASSERT_ERROR(icvsp_request_shutdown(e.ic, false), EBUSY);
        vmbus_server_resume(e.srv);
        icvsp_resume(e.ic);
        /* The guest answers the request it read before the save. */
        guest_answer(&e, &sd, HV_S_OK);
        ASSERT_TRUE(wait_owner(&o, one_answer, 5000));
        ASSERT_TRUE(o.accepted);
        ASSERT_EQ(stats_of(&e).stale_answers, 0u);
        no_request(&e, &sd, 50); /* nothing sent again */
        ASSERT_EQ(answers(&o), 1u);
        env_free(&e);
        munmap(s.map, s.len);
}

/* ---- refusals ---- */

typedef void (*mutate_fn)(struct icvsp_channel_state *st);

/* A copy of the state with the ICCH section of the given service changed
 * by fn (NULL: dropped) and the others copied field by field. */
static int rewrite(const struct saved *s, unsigned service, mutate_fn fn, struct saved *out) {
        int fd = memfd_create("icvsp-state-x", MFD_CLOEXEC);
        ASSERT_GE(fd, 0);
        struct vmstate_writer *w;
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        char err[256] = "";
        static struct icvsp_channel_state st;
        for (int i = 0; i < s->n; i++) {
                const struct vmstate_section *sec = &s->secs[i];
                if (sec->tag == ICVSP_CHANNEL_STATE_TAG) {
                        ASSERT_OK(icvsp_channel_state_decode(sec, &st, err, sizeof err));
                        if (st.service == service) {
                                if (!fn)
                                        continue;
                                fn(&st);
                        }
                        ASSERT_OK(vmstate_encode(w, &icvsp_channel_state_desc, sec->instance, &st));
                        continue;
                }
                ASSERT_OK(vmstate_begin(w, sec->tag, sec->instance, sec->version, sec->flags));
                uint64_t off = 0;
                struct vmstate_field f;
                int r;
                while ((r = vmstate_next_field(sec, &off, &f)) == 1)
                        ASSERT_OK(vmstate_put(w, f.id, (enum vmstate_kind)f.kind, f.value, f.length));
                ASSERT_EQ(r, 0);
                ASSERT_OK(vmstate_end(w));
        }
        ASSERT_OK(vmstate_finish(w));
        out->len = (size_t)vmstate_written(w);
        vmstate_writer_free(w);
        out->map = mmap(NULL, out->len, PROT_READ, MAP_PRIVATE, fd, 0);
        ASSERT_TRUE(out->map != MAP_FAILED);
        close(fd);
        struct vmstate_header h;
        out->n = vmstate_index(out->map, out->len, &h, out->secs, ARRAY_SIZE(out->secs), err, sizeof err);
        if (out->n < 0)
                ASSERT_STREQ(err, "");
        return out->n;
}

static void wrong_service(struct icvsp_channel_state *st) {
        st->service = 1, st->outstanding = false; /* a heartbeat's state, consistent in itself */
}
static void version_never_offered(struct icvsp_channel_state *st) {
        st->msg_major = 9, st->msg_minor = 9;
}
static void versions_without_negotiation(struct icvsp_channel_state *st) {
        st->negotiated = false, st->outstanding = false;
}
static void id_not_the_last(struct icvsp_channel_state *st) {
        st->outstanding_id = st->next_id - 1;
}
static void id_zero(struct icvsp_channel_state *st) {
        st->outstanding_id = st->next_id = 0;
}
static void wrong_type(struct icvsp_channel_state *st) {
        st->outstanding_type = ICMSGTYPE_HEARTBEAT;
}
static void held_while_outstanding(struct icvsp_channel_state *st) {
        st->held = true, st->held_len = 16;
}
static void negotiate_held_after_negotiation(struct icvsp_channel_state *st) {
        st->negotiate_held = true;
}
static void timesync_flags(struct icvsp_channel_state *st) {
        st->ts_flags_sent = 7;
}
static void kvp_progress_on_shutdown(struct icvsp_channel_state *st) {
        st->kvp_scanning = true;
}
static void heartbeat_state(struct icvsp_channel_state *st) {
        st->hb_state = 9;
}
static void kvp_pushing_past_the_items(struct icvsp_channel_state *st) {
        st->kvp_pushing = ICVSP_KVP_MAX_HOST_ITEMS;
}

TEST(refusals_apply_nothing_and_report_nothing) {
        static struct env e;
        static struct saved s, x;
        struct vmbus_sim_channel sd, kvp;
        save_guest(&e, &sd, &kvp, &s);
        struct owner o;
        rebuild(&e, &o);
        static const struct {
                unsigned service; /* whose ICCH */
                mutate_fn fn;     /* NULL: the section is missing */
                const char *what;
        } cases[] = {
                { 0, wrong_service, "service 1 on the shutdown channel" },
                { 0, version_never_offered, "versions" },
                { 0, versions_without_negotiation, "versions" },
                { 0, id_not_the_last, "outstanding request" },
                { 0, id_zero, "outstanding request" },
                { 0, wrong_type, "outstanding request" },
                { 0, held_while_outstanding, "held" },
                { 0, negotiate_held_after_negotiation, "negotiate_held" },
                { 0, timesync_flags, "ts_flags_sent" },
                { 0, kvp_progress_on_shutdown, "KVP progress on another service" },
                { 0, heartbeat_state, "hb_state" },
                /* The KVP channel's is refused after the shutdown channel
                 * was restored: the undo closes it, and its outstanding
                 * request must not reach the owner as a failed shutdown. */
                { 3, kvp_pushing_past_the_items, "kvp_pushing" },
                { 3, NULL, "no ICCH section for channel" },
        };
        char err[256];
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                rewrite(&s, cases[i].service, cases[i].fn, &x);
                err[0] = 0;
                int r = restore_both(&e, x.secs, (size_t)x.n, err, sizeof err);
                if (r != -EINVAL || !strstr(err, cases[i].what))
                        ASSERT_STREQ(err, cases[i].what);
                ASSERT_FALSE(icvsp_shutdown_ready(e.ic));
                ASSERT_EQ(host_items(e.ic), 0u);
                ASSERT_EQ(answers(&o), 0u);
                munmap(x.map, x.len);
        }
        /* ICKV cut short: refused by icvsp_restore, no item applied. */
        static struct vmstate_section cut[32];
        memcpy(cut, s.secs, sizeof cut[0] * (size_t)s.n);
        struct vmstate_section *kv =
                (struct vmstate_section *)vmstate_find(cut, (size_t)s.n, ICVSP_KVP_STATE_TAG, 0);
        ASSERT_NOT_NULL(kv);
        kv->length -= 8;
        err[0] = 0;
        ASSERT_EQ(icvsp_restore(e.ic, cut, (size_t)s.n, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "ICKV"));
        ASSERT_EQ(host_items(e.ic), 0u);
        /* The server and icvsp are as built: the good state still restores
         * into them, and the guest's answer is matched. */
        err[0] = 0;
        if (restore_both(&e, s.secs, (size_t)s.n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        ASSERT_EQ(host_items(e.ic), 1u);
        ASSERT_EQ(answers(&o), 0u);
        vmbus_server_resume(e.srv);
        icvsp_resume(e.ic);
        guest_answer(&e, &sd, HV_S_OK);
        ASSERT_TRUE(wait_owner(&o, one_answer, 5000));
        ASSERT_TRUE(o.accepted);
        env_free(&e);
        munmap(s.map, s.len);
}

TEST_MAIN();
