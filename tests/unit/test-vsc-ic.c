// SPDX-License-Identifier: MIT
/* The guest's integration-service clients (guest-vsc/lib/ic*.c) against
 * host requests built here: negotiation as vmbus_prep_negotiate_resp
 * answers it (§8.2), heartbeat, shutdown, time sync (v1/v3/v4) and KVP
 * requests as hv_utils + hv_kvp_daemon answer them, and malformed
 * requests (dropped or refused where Linux drops or refuses them). */
#include "common/test.h"
#include "hv/ic.h"
#include "vsc/ic.h"

struct req {
        uint8_t buf[VSC_IC_KVP_MAX_PACKET];
        size_t len;
};

static void build(struct req *q, uint16_t type, struct ic_version msg, const void *body, size_t n) {
        memset(q, 0, sizeof *q);
        struct vmbuspipe_hdr pipe = { IC_PIPE_TYPE_DATA, (uint32_t)(sizeof(struct icmsg_hdr) + n) };
        struct icmsg_hdr h = { .icverframe = { 3, 0 }, .icmsgtype = type, .icvermsg = msg, .icmsgsize = (uint16_t)n,
                               .ictransaction_id = 7, .icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST };
        memcpy(q->buf, &pipe, sizeof pipe);
        memcpy(q->buf + sizeof pipe, &h, sizeof h);
        memcpy(q->buf + ICMSG_HDR, body, n);
        q->len = ICMSG_HDR + n;
}

static struct icmsg_hdr hdr_of(const struct req *q) {
        struct icmsg_hdr h;
        memcpy(&h, q->buf + sizeof(struct vmbuspipe_hdr), sizeof h);
        return h;
}

/* A negotiate request listing nfw frameworks and nmsg message versions. */
static void negotiate_req(struct req *q, const struct ic_version *fw, unsigned nfw, const struct ic_version *msg,
                          unsigned nmsg) {
        uint8_t body[8 + 4 * 200] = { 0 };
        struct icmsg_negotiate n = { .icframe_vercnt = (uint16_t)nfw, .icmsg_vercnt = (uint16_t)nmsg };
        memcpy(body, &n, sizeof n);
        memcpy(body + 8, fw, nfw * 4);
        memcpy(body + 8 + nfw * 4, msg, nmsg * 4);
        build(q, ICMSGTYPE_NEGOTIATE, (struct ic_version){ 1, 0 }, body, 8 + 4 * (nfw + nmsg));
}

/* Handles q; returns whether an answer goes back, checks its framing. */
static int handle(struct vsc_ic *ic, struct vsc_kvp_store *kvp, struct req *q, struct vsc_ic_result *r) {
        int a = vsc_ic_handle(ic, kvp, q->buf, q->len, r);
        if (a) {
                struct icmsg_hdr h = hdr_of(q);
                ASSERT_EQ(h.icflags, ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE);
                ASSERT_EQ(h.ictransaction_id, 7);
                ASSERT_EQ(h.status, r->status);
        }
        return a;
}

static void negotiate_ok(struct vsc_ic *ic, enum vsc_ic_kind kind, struct ic_version msg) {
        static const struct ic_version fw[] = { { 3, 0 }, { 1, 0 } };
        struct req q;
        struct vsc_ic_result r;
        vsc_ic_init(ic, kind);
        negotiate_req(&q, fw, 2, &msg, 1);
        ASSERT_EQ(handle(ic, NULL, &q, &r), 1);
        ASSERT_TRUE(ic->negotiated);
}

TEST(negotiation_picks_like_linux) {
        /* The host's lists as icvsp sends them: Linux picks its own first
         * preference that the host offers. */
        static const struct ic_version fw[] = { { 3, 0 }, { 1, 0 } };
        static const struct { enum vsc_ic_kind kind; struct ic_version host[4]; unsigned n; struct ic_version want; } c[] = {
                { VSC_IC_SHUTDOWN, { { 3, 2 }, { 3, 1 }, { 3, 0 }, { 1, 0 } }, 4, { 3, 2 } },
                { VSC_IC_SHUTDOWN, { { 1, 0 }, { 3, 1 } }, 2, { 3, 1 } },
                { VSC_IC_SHUTDOWN, { { 1, 0 } }, 1, { 1, 0 } },
                { VSC_IC_HEARTBEAT, { { 1, 0 }, { 3, 0 } }, 2, { 3, 0 } },
                { VSC_IC_TIMESYNC, { { 4, 0 }, { 3, 0 }, { 1, 0 } }, 3, { 4, 0 } },
                { VSC_IC_TIMESYNC, { { 3, 0 }, { 1, 0 } }, 2, { 3, 0 } },
                { VSC_IC_KVP, { { 5, 0 }, { 4, 0 }, { 3, 0 } }, 3, { 4, 0 } },
                { VSC_IC_KVP, { { 1, 0 } }, 1, { 1, 0 } },
        };
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
                struct vsc_ic ic;
                struct req q;
                struct vsc_ic_result r;
                vsc_ic_init(&ic, c[i].kind);
                negotiate_req(&q, fw, 2, c[i].host, c[i].n);
                ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
                ASSERT_EQ(r.event, VSC_IC_EV_NEGOTIATE);
                ASSERT_TRUE(ic.negotiated);
                struct icmsg_hdr h = hdr_of(&q);
                ASSERT_EQ(h.icmsgsize, IC_NEGOTIATE_RESPONSE_SIZE);
                struct icmsg_negotiate n;
                struct ic_version v[2];
                memcpy(&n, q.buf + ICMSG_HDR, sizeof n);
                memcpy(v, q.buf + ICMSG_HDR + sizeof n, sizeof v);
                ASSERT_EQ(n.icframe_vercnt, 1);
                ASSERT_EQ(n.icmsg_vercnt, 1);
                ASSERT_EQ(v[0].major, 3);
                ASSERT_EQ(v[1].major, c[i].want.major);
                ASSERT_EQ(v[1].minor, c[i].want.minor);
                ASSERT_EQ(ic.msg.major, c[i].want.major);
        }
}

TEST(negotiation_failures) {
        static const struct ic_version fw3[] = { { 3, 0 } }, fw2[] = { { 2, 0 } }, v9[] = { { 9, 0 } },
                                       v3[] = { { 3, 0 } };
        struct vsc_ic ic;
        struct req q;
        struct vsc_ic_result r;
        /* No common framework / message version: counts 0/0 (§8.2). */
        const struct { const struct ic_version *fw, *msg; } none[] = { { fw2, v3 }, { fw3, v9 } };
        for (size_t i = 0; i < 2; i++) {
                vsc_ic_init(&ic, VSC_IC_HEARTBEAT);
                negotiate_req(&q, none[i].fw, 1, none[i].msg, 1);
                ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
                ASSERT_FALSE(ic.negotiated);
                struct icmsg_negotiate n;
                memcpy(&n, q.buf + ICMSG_HDR, sizeof n);
                ASSERT_EQ(n.icframe_vercnt, 0);
                ASSERT_EQ(n.icmsg_vercnt, 0);
        }
        /* More than 100 versions, or counts beyond the packet: refused. */
        struct ic_version many[101];
        for (int i = 0; i < 101; i++)
                many[i] = (struct ic_version){ 3, 0 };
        vsc_ic_init(&ic, VSC_IC_HEARTBEAT);
        negotiate_req(&q, many, 101, v3, 1);
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
        ASSERT_FALSE(ic.negotiated);
        negotiate_req(&q, fw3, 1, v3, 1);
        q.len -= 4; /* the message version is cut off */
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
        ASSERT_FALSE(ic.negotiated);
        /* Too short for the counts: answered unchanged (icmsgsize kept). */
        negotiate_req(&q, fw3, 1, v3, 1);
        q.len = ICMSG_HDR + 2;
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
        ASSERT_EQ(hdr_of(&q).icmsgsize, 16);
        ASSERT_FALSE(ic.negotiated);
        /* Shorter than the headers: dropped. */
        q.len = ICMSG_HDR - 1;
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 0);
        ASSERT_EQ(ic.dropped, 1u);
}

TEST(heartbeat_answers_seq_plus_one) {
        struct vsc_ic ic;
        struct req q;
        struct vsc_ic_result r;
        negotiate_ok(&ic, VSC_IC_HEARTBEAT, (struct ic_version){ 3, 0 });
        struct heartbeat_msg_data d = { .seq_num = 41 };
        build(&q, ICMSGTYPE_HEARTBEAT, ic.msg, &d, sizeof d);
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
        ASSERT_EQ(r.event, VSC_IC_EV_HEARTBEAT);
        ASSERT_EQ(r.seq, 42u);
        memcpy(&d, q.buf + ICMSG_HDR, sizeof d);
        ASSERT_EQ(d.seq_num, 42u);
        build(&q, ICMSGTYPE_HEARTBEAT, ic.msg, &d, 7); /* §8.4: needs 8 bytes of body */
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 0);
        /* Another service's message on this channel: E_FAIL (hv_util.c). */
        build(&q, ICMSGTYPE_SHUTDOWN, ic.msg, &d, sizeof d);
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
        ASSERT_EQ(r.status, HV_E_FAIL);
}

TEST(shutdown_flags) {
        static const struct { uint32_t flags; enum vsc_ic_event ev; uint32_t status; } c[] = {
                { 0, VSC_IC_EV_SHUTDOWN, HV_S_OK }, { 1, VSC_IC_EV_SHUTDOWN, HV_S_OK },
                { 2, VSC_IC_EV_REBOOT, HV_S_OK },   { 3, VSC_IC_EV_REBOOT, HV_S_OK },
                { 4, VSC_IC_EV_REFUSED, HV_E_FAIL }, { 5, VSC_IC_EV_REFUSED, HV_E_FAIL },
                { 6, VSC_IC_EV_REFUSED, HV_E_FAIL }, { 0x80000000u, VSC_IC_EV_REFUSED, HV_E_FAIL },
        };
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
                struct vsc_ic ic;
                struct req q;
                struct vsc_ic_result r;
                negotiate_ok(&ic, VSC_IC_SHUTDOWN, (struct ic_version){ 3, 2 });
                struct shutdown_msg_data d = { .reason_code = IC_SHUTDOWN_REASON_PLANNED, .flags = c[i].flags };
                build(&q, ICMSGTYPE_SHUTDOWN, ic.msg, &d, sizeof d);
                ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
                ASSERT_EQ(r.event, c[i].ev);
                ASSERT_EQ(r.status, c[i].status);
                ASSERT_EQ(q.len, (size_t)2088); /* answered at the same length */
        }
        struct vsc_ic ic;
        struct req q;
        struct vsc_ic_result r;
        negotiate_ok(&ic, VSC_IC_SHUTDOWN, (struct ic_version){ 3, 0 });
        struct shutdown_msg_data d = { 0 };
        build(&q, ICMSGTYPE_SHUTDOWN, ic.msg, &d, sizeof d - 1); /* §8.3: shorter than 2088: dropped */
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 0);
}

TEST(timesync_versions) {
        struct vsc_ic ic;
        struct req q;
        struct vsc_ic_result r;
        negotiate_ok(&ic, VSC_IC_TIMESYNC, (struct ic_version){ 4, 0 });
        struct ictimesync_ref_data ref = { .parenttime = IC_WLTIMEDELTA + 123, .vmreferencetime = 456,
                                           .flags = ICTIMESYNCFLAG_SYNC };
        build(&q, ICMSGTYPE_TIMESYNC, ic.msg, &ref, sizeof ref);
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
        ASSERT_EQ(r.event, VSC_IC_EV_TIME);
        ASSERT_EQ(r.parenttime, IC_WLTIMEDELTA + 123);
        ASSERT_EQ(r.reftime, 456u);
        ASSERT_EQ(r.time_flags, ICTIMESYNCFLAG_SYNC);
        build(&q, ICMSGTYPE_TIMESYNC, ic.msg, &ref, sizeof ref - 1); /* §8.5: < 50 bytes */
        ASSERT_EQ(handle(&ic, NULL, &q, &r), 0);
        for (uint16_t major = 1; major <= 3; major += 2) {
                negotiate_ok(&ic, VSC_IC_TIMESYNC, (struct ic_version){ major, 0 });
                struct ictimesync_data d = { .parenttime = 999, .flags = ICTIMESYNCFLAG_SAMPLE };
                build(&q, ICMSGTYPE_TIMESYNC, ic.msg, &d, sizeof d);
                ASSERT_EQ(handle(&ic, NULL, &q, &r), 1);
                ASSERT_EQ(r.parenttime, 999u);
                ASSERT_EQ(r.reftime, 0u);
                ASSERT_EQ(r.time_flags, ICTIMESYNCFLAG_SAMPLE);
                build(&q, ICMSGTYPE_TIMESYNC, ic.msg, &d, sizeof d - 1); /* §8.5: < 53 bytes */
                ASSERT_EQ(handle(&ic, NULL, &q, &r), 0);
        }
}

/* ---- KVP ---- */

static void kvp_req(struct req *q, uint8_t op, uint8_t pool, const char *key, const char *value, uint32_t index) {
        struct hv_kvp_exchange_msg m;
        memset(&m, 0, sizeof m);
        m.kvp_hdr.operation = op;
        m.kvp_hdr.pool = pool;
        if (op == KVP_OP_DELETE) {
                int k = vsc_utf8_to_utf16(key, m.body.kvp_delete.key, sizeof m.body.kvp_delete.key);
                ASSERT_GT(k, 0);
                m.body.kvp_delete.key_size = (uint32_t)k;
        } else if (op == KVP_OP_ENUMERATE) {
                m.body.kvp_enum_data.index = index;
        } else if (key) {
                int k = vsc_utf8_to_utf16(key, m.body.kvp_get.key, sizeof m.body.kvp_get.key);
                ASSERT_GT(k, 0);
                m.body.kvp_get.key_size = (uint32_t)k;
                if (value) {
                        int v = vsc_utf8_to_utf16(value, m.body.kvp_get.value, sizeof m.body.kvp_get.value);
                        ASSERT_GT(v, 0);
                        m.body.kvp_get.value_size = (uint32_t)v;
                        m.body.kvp_get.value_type = KVP_REG_SZ;
                }
        }
        build(q, ICMSGTYPE_KVPEXCHANGE, (struct ic_version){ 4, 0 }, &m, sizeof m);
}

static uint32_t kvp(struct vsc_ic *ic, struct vsc_kvp_store *s, struct req *q) {
        struct vsc_ic_result r;
        ASSERT_EQ(handle(ic, s, q, &r), 1);
        ASSERT_EQ(r.event, VSC_IC_EV_KVP);
        return r.status;
}

/* The answered item of a GET/ENUMERATE as UTF-8. */
static void answered(const struct req *q, bool enumerate, char *key, char *value) {
        struct hv_kvp_exchange_msg m;
        memcpy(&m, q->buf + ICMSG_HDR, sizeof m);
        const struct hv_kvp_exchg_msg_value *d = enumerate ? &m.body.kvp_enum_data.data : &m.body.kvp_get;
        ASSERT_EQ(d->value_type, KVP_REG_SZ);
        if (key)
                ASSERT_OK(vsc_utf16_to_utf8(d->key, d->key_size, key, VSC_KVP_KEY_MAX));
        ASSERT_OK(vsc_utf16_to_utf8(d->value, d->value_size, value, VSC_KVP_VALUE_MAX));
}

TEST(kvp_set_get_delete_enumerate) {
        struct vsc_ic ic;
        static struct vsc_kvp_store s;
        memset(&s, 0, sizeof s);
        s.auto_values[0] = "host1";
        s.auto_values[5] = "vsc-guest";
        negotiate_ok(&ic, VSC_IC_KVP, (struct ic_version){ 4, 0 });
        struct req q;
        char key[VSC_KVP_KEY_MAX], value[VSC_KVP_VALUE_MAX];
        kvp_req(&q, KVP_OP_SET, KVP_POOL_EXTERNAL, "Greeting", "gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80", 0);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_OK);
        const struct vsc_kvp_item *it = vsc_kvp_find(&s, KVP_POOL_EXTERNAL, "Greeting");
        ASSERT_NOT_NULL(it);
        ASSERT_STREQ(it->value, "gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80");
        kvp_req(&q, KVP_OP_SET, KVP_POOL_EXTERNAL, "Greeting", "again", 0); /* replaces */
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_OK);
        ASSERT_EQ(s.n_items, 1u);
        kvp_req(&q, KVP_OP_GET, KVP_POOL_EXTERNAL, "Greeting", NULL, 0);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_OK);
        answered(&q, false, NULL, value);
        ASSERT_STREQ(value, "again");
        kvp_req(&q, KVP_OP_GET, KVP_POOL_GUEST, "Greeting", NULL, 0); /* another pool */
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_CONT);
        /* The intrinsic pool by index, then "no more items" (§8.6). */
        for (uint32_t i = 0; i < KVP_AUTO_KEY_COUNT; i++) {
                kvp_req(&q, KVP_OP_ENUMERATE, KVP_POOL_AUTO, NULL, NULL, i);
                ASSERT_EQ(kvp(&ic, &s, &q), HV_S_OK);
                answered(&q, true, key, value);
                ASSERT_STREQ(key, vsc_kvp_auto_keys[i]);
                if (i == 0)
                        ASSERT_STREQ(value, "host1");
                if (i == 5)
                        ASSERT_STREQ(value, "vsc-guest");
        }
        kvp_req(&q, KVP_OP_ENUMERATE, KVP_POOL_AUTO, NULL, NULL, KVP_AUTO_KEY_COUNT);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_CONT);
        kvp_req(&q, KVP_OP_ENUMERATE, KVP_POOL_EXTERNAL, NULL, NULL, 0);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_OK);
        answered(&q, true, key, value);
        ASSERT_STREQ(key, "Greeting");
        kvp_req(&q, KVP_OP_ENUMERATE, KVP_POOL_EXTERNAL, NULL, NULL, 1);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_CONT);
        kvp_req(&q, KVP_OP_DELETE, KVP_POOL_EXTERNAL, "Greeting", NULL, 0);
        struct vsc_ic_result r;
        ASSERT_EQ(handle(&ic, &s, &q, &r), 1);
        ASSERT_EQ(r.status, HV_S_OK);
        ASSERT_STREQ(r.kvp_item->key, "Greeting"); /* what was removed */
        ASSERT_EQ(s.n_items, 0u);
        kvp_req(&q, KVP_OP_DELETE, KVP_POOL_EXTERNAL, "Greeting", NULL, 0);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_CONT); /* the daemon's "no such key" */
}

TEST(kvp_limits_and_malformed) {
        struct vsc_ic ic;
        static struct vsc_kvp_store s;
        memset(&s, 0, sizeof s);
        negotiate_ok(&ic, VSC_IC_KVP, (struct ic_version){ 4, 0 });
        struct req q;
        char key[16];
        for (unsigned i = 0; i < VSC_KVP_MAX_ITEMS; i++) {
                snprintf(key, sizeof key, "k%u", i);
                kvp_req(&q, KVP_OP_SET, KVP_POOL_AUTO_EXTERNAL, key, "v", 0);
                ASSERT_EQ(kvp(&ic, &s, &q), HV_S_OK);
        }
        kvp_req(&q, KVP_OP_SET, KVP_POOL_AUTO_EXTERNAL, "full", "v", 0);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_CONT);
        /* A scalar value is stored as its decimal string (hv_kvp.c). */
        struct hv_kvp_exchange_msg m;
        kvp_req(&q, KVP_OP_SET, KVP_POOL_AUTO_EXTERNAL, "k0", NULL, 0);
        memcpy(&m, q.buf + ICMSG_HDR, sizeof m);
        m.body.kvp_get.value_type = KVP_REG_U64;
        m.body.kvp_get.value_u64 = 1234567890123ull;
        m.body.kvp_get.value_size = 8;
        memcpy(q.buf + ICMSG_HDR, &m, sizeof m);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_OK);
        ASSERT_STREQ(vsc_kvp_find(&s, KVP_POOL_AUTO_EXTERNAL, "k0")->value, "1234567890123");
        /* Unknown value type, an unpaired surrogate, an empty key: not stored. */
        m.body.kvp_get.value_type = 3;
        memcpy(q.buf + ICMSG_HDR, &m, sizeof m);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_CONT);
        kvp_req(&q, KVP_OP_SET, KVP_POOL_AUTO_EXTERNAL, "k1", "v", 0);
        q.buf[ICMSG_HDR + 4 + 12] = 0x00;
        q.buf[ICMSG_HDR + 4 + 13] = 0xdc;
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_CONT);
        kvp_req(&q, KVP_OP_SET, KVP_POOL_AUTO_EXTERNAL, "k1", "v", 0);
        memset(q.buf + ICMSG_HDR + 4 + 12, 0, 2);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_S_CONT);
        /* Pools past KVP_POOL_COUNT, IP injection, unknown operations: E_FAIL. */
        kvp_req(&q, KVP_OP_GET, KVP_POOL_COUNT, "k1", NULL, 0);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_E_FAIL);
        kvp_req(&q, KVP_OP_GET_IP_INFO, KVP_POOL_AUTO, NULL, NULL, 0);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_E_FAIL);
        kvp_req(&q, 99, KVP_POOL_AUTO, NULL, NULL, 0);
        ASSERT_EQ(kvp(&ic, &s, &q), HV_E_FAIL);
        /* An enumeration answer that would not fit what the host sent. */
        kvp_req(&q, KVP_OP_ENUMERATE, KVP_POOL_AUTO, NULL, NULL, 0);
        q.len = ICMSG_HDR + 100;
        ASSERT_EQ(kvp(&ic, &s, &q), HV_E_FAIL);
        /* Not a KVP message: dropped, as hv_kvp.c does. */
        build(&q, ICMSGTYPE_HEARTBEAT, (struct ic_version){ 4, 0 }, &m, 16);
        struct vsc_ic_result r;
        ASSERT_EQ(handle(&ic, &s, &q, &r), 0);
        ASSERT_EQ(s.n_items, VSC_KVP_MAX_ITEMS);
}

TEST(utf_conversions) {
        uint8_t w[16];
        char u[16];
        ASSERT_EQ(vsc_utf8_to_utf16("\xe2\x82\xac", w, sizeof w), 4);
        ASSERT_EQ(w[0], 0xac);
        ASSERT_EQ(w[1], 0x20);
        ASSERT_ERROR(vsc_utf8_to_utf16("\xc3", w, sizeof w), EBADMSG);
        ASSERT_ERROR(vsc_utf8_to_utf16("\xed\xa0\x80", w, sizeof w), EBADMSG);
        ASSERT_ERROR(vsc_utf8_to_utf16("abcdefgh", w, sizeof w), E2BIG);
        ASSERT_EQ(vsc_utf8_to_utf16("\xe2\x82\xac", w, sizeof w), 4);
        ASSERT_EQ(vsc_utf16_to_utf8(w, 4, u, sizeof u), 3);
        ASSERT_ERROR(vsc_utf16_to_utf8(w, 4, u, 3), E2BIG);
        static const uint8_t pair[] = { 0x3d, 0xd8, 0x00, 0xde, 'x', 0 }, cut[] = { 0x3d, 0xd8 };
        ASSERT_EQ(vsc_utf16_to_utf8(pair, sizeof pair, u, sizeof u), 5);
        ASSERT_STREQ(u, "\xf0\x9f\x98\x80x");
        ASSERT_ERROR(vsc_utf16_to_utf8(cut, sizeof cut, u, sizeof u), EBADMSG);
}

TEST_MAIN();
