// SPDX-License-Identifier: MIT
/* KVP (§8.6) against the simulated guest, which answers the way hv_kvp.c +
 * hv_kvp_daemon do: host items pushed with SET/DELETE (UTF-16, sizes with
 * the terminator), the guest's pools read with ENUMERATE until HV_S_CONT,
 * a guest without the daemon (E_FAIL), malformed items, the late
 * negotiation, limits; plus the UTF-8/UTF-16 conversions. */
#include "test-icvsp-harness.h"
#include "vsp/ic/internal.h"

static const uint8_t kvp_class[16] = HV_KVP_GUID;

static void env_kvp(struct env *e, uint32_t timeout_ms) {
        struct icvsp_config c = env_config();
        c.kvp = true;
        c.request_timeout_ms = timeout_ms;
        env_init_cfg(e, &c);
}

/* The next host request: a KVPEXCHANGE of the full 2580-byte body. */
static void kvp_request(struct env *e, struct vmbus_sim_channel *ch, struct hv_kvp_exchange_msg *m) {
        struct icmsg_hdr h;
        size_t len = host_request(e, ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_KVPEXCHANGE);
        ASSERT_EQ(h.icmsgsize, sizeof *m);
        ASSERT_GE(len, ICMSG_HDR + sizeof *m);
        memcpy(m, e->payload + ICMSG_HDR, sizeof *m);
}

static void expect_op(struct env *e, struct vmbus_sim_channel *ch, uint8_t op, uint8_t pool,
                      struct hv_kvp_exchange_msg *m) {
        kvp_request(e, ch, m);
        ASSERT_EQ(m->kvp_hdr.operation, op);
        ASSERT_EQ(m->kvp_hdr.pool, pool);
}

static uint32_t utf16_of(const char *s, uint8_t *out, size_t cap) {
        int n = ic_utf8_to_utf16(s, out, cap);
        ASSERT_GT(n, 0);
        return (uint32_t)n;
}

/* The answer hv_kvp.c sends for an enumerated item: key and value in
 * UTF-16 with their sizes, REG_SZ. */
static void answer_item(struct env *e, struct vmbus_sim_channel *ch, const char *key, const char *value) {
        struct hv_kvp_exchange_msg m;
        memcpy(&m, e->payload + ICMSG_HDR, sizeof m);
        struct hv_kvp_exchg_msg_value *d = &m.body.kvp_enum_data.data;
        d->key_size = utf16_of(key, d->key, sizeof d->key);
        d->value_size = utf16_of(value, d->value, sizeof d->value);
        d->value_type = KVP_REG_SZ;
        memcpy(e->payload + ICMSG_HDR, &m, sizeof m);
        guest_answer(e, ch, HV_S_OK);
}

/* Answers ENUMERATE requests of pool from index 0 with items, then S_CONT. */
static void serve_pool(struct env *e, struct vmbus_sim_channel *ch, uint8_t pool, const char *const *kv, unsigned n) {
        struct hv_kvp_exchange_msg m;
        for (unsigned i = 0; i <= n; i++) {
                expect_op(e, ch, KVP_OP_ENUMERATE, pool, &m);
                ASSERT_EQ(m.body.kvp_enum_data.index, i);
                if (i < n)
                        answer_item(e, ch, kv[2 * i], kv[2 * i + 1]);
                else
                        guest_answer(e, ch, HV_S_CONT);
        }
}

struct listing {
        unsigned n;
        char text[2048];
};

static void collect(void *opaque, uint8_t pool, const char *key, const char *value) {
        struct listing *l = opaque;
        size_t at = strlen(l->text);
        snprintf(l->text + at, sizeof l->text - at, "%u:%s=%s;", pool, key, value);
        l->n++;
}

static struct listing list_of(struct env *e, bool guest) {
        struct listing l = { 0 };
        ASSERT_OK(icvsp_kvp_list(e->ic, guest, collect, &l));
        return l;
}

static bool kvp_changed_once(struct owner *o) {
        return o->kvp_changes == 1;
}

TEST(push_then_scan) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_kvp(&e, 0);
        /* Set before the guest is there: pushed once it negotiated. */
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_AUTO_EXTERNAL, "VirtualMachineName", "vm1"));
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "greeting", "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"));
        open_and_negotiate(&e, kvp_class, (struct ic_version){ 4, 0 }, &ch);
        struct hv_kvp_exchange_msg m;
        expect_op(&e, &ch, KVP_OP_SET, KVP_POOL_AUTO_EXTERNAL, &m);
        static const uint8_t vmname16[] = { 'V', 0, 'i', 0, 'r', 0, 't', 0, 'u', 0, 'a', 0, 'l', 0, 'M', 0, 'a', 0,
                                            'c', 0, 'h', 0, 'i', 0, 'n', 0, 'e', 0, 'N', 0, 'a', 0, 'm', 0, 'e', 0, 0, 0 };
        ASSERT_EQ(m.body.kvp_get.key_size, sizeof vmname16);
        ASSERT_MEMEQ(m.body.kvp_get.key, vmname16, sizeof vmname16);
        ASSERT_EQ(m.body.kvp_get.value_type, KVP_REG_SZ);
        ASSERT_EQ(m.body.kvp_get.value_size, 8u); /* "vm1" + NUL */
        guest_answer(&e, &ch, HV_S_OK);
        expect_op(&e, &ch, KVP_OP_SET, KVP_POOL_EXTERNAL, &m);
        /* g r ü ß ' ' € ' ' U+1F600 (a surrogate pair) NUL */
        static const uint16_t want[] = { 'g', 'r', 0xfc, 0xdf, ' ', 0x20ac, ' ', 0xd83d, 0xde00, 0 };
        ASSERT_EQ(m.body.kvp_get.value_size, sizeof want);
        ASSERT_MEMEQ(m.body.kvp_get.value, want, sizeof want);
        guest_answer(&e, &ch, HV_S_OK);
        /* Then the guest's pools, intrinsic first. */
        static const char *const autos[] = { "FullyQualifiedDomainName", "guest1", "OSName", "vsc-guest" };
        static const char *const guests[] = { "app", "ready" };
        serve_pool(&e, &ch, KVP_POOL_AUTO, autos, 2);
        serve_pool(&e, &ch, KVP_POOL_GUEST, guests, 1);
        ASSERT_TRUE(wait_owner(&e.o, kvp_changed_once, 5000));
        struct listing l = list_of(&e, true);
        ASSERT_EQ(l.n, 3u);
        ASSERT_STREQ(l.text, "2:FullyQualifiedDomainName=guest1;2:OSName=vsc-guest;1:app=ready;");
        l = list_of(&e, false);
        ASSERT_EQ(l.n, 2u);
        uint64_t scans = 0;
        ASSERT_TRUE(icvsp_kvp_ready(e.ic, &scans));
        ASSERT_EQ(scans, 1u);
        /* The next scan finds the same: no second notification. */
        serve_pool(&e, &ch, KVP_POOL_AUTO, autos, 2);
        serve_pool(&e, &ch, KVP_POOL_GUEST, guests, 1);
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.kvp_scans == 2);
        ASSERT_EQ(e.o.kvp_changes, 1u);
        /* A changed value: notified. */
        static const char *const autos2[] = { "FullyQualifiedDomainName", "guest2" };
        serve_pool(&e, &ch, KVP_POOL_AUTO, autos2, 1);
        serve_pool(&e, &ch, KVP_POOL_GUEST, NULL, 0);
        WAIT_STATS(&e, st, st.kvp_scans == 3);
        ASSERT_EQ(e.o.kvp_changes, 2u);
        ASSERT_STREQ(list_of(&e, true).text, "2:FullyQualifiedDomainName=guest2;");
        env_free(&e);
}

TEST(every_linux_version) {
        static const struct ic_version versions[] = { { 4, 0 }, { 3, 0 }, { 1, 0 } };
        for (size_t i = 0; i < 3; i++) {
                struct env e;
                struct vmbus_sim_channel ch;
                env_kvp(&e, 0);
                open_and_negotiate(&e, kvp_class, versions[i], &ch);
                struct icmsg_hdr h;
                host_request(&e, &ch, &h);
                ASSERT_EQ(h.icmsgtype, ICMSGTYPE_KVPEXCHANGE);
                ASSERT_EQ(h.icvermsg.major, versions[i].major);
                env_free(&e);
        }
}

TEST(delete_and_update) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_kvp(&e, 0);
        open_and_negotiate(&e, kvp_class, (struct ic_version){ 4, 0 }, &ch);
        struct hv_kvp_exchange_msg m;
        serve_pool(&e, &ch, KVP_POOL_AUTO, NULL, 0);
        serve_pool(&e, &ch, KVP_POOL_GUEST, NULL, 0);
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", "1"));
        expect_op(&e, &ch, KVP_OP_SET, KVP_POOL_EXTERNAL, &m);
        /* Changed while the SET is outstanding: pushed again after it. */
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", "2"));
        guest_answer(&e, &ch, HV_S_OK);
        expect_op(&e, &ch, KVP_OP_SET, KVP_POOL_EXTERNAL, &m);
        ASSERT_EQ(m.body.kvp_get.value[0], '2');
        guest_answer(&e, &ch, HV_S_OK);
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", NULL));
        expect_op(&e, &ch, KVP_OP_DELETE, KVP_POOL_EXTERNAL, &m);
        ASSERT_EQ(m.body.kvp_delete.key_size, 4u);
        ASSERT_EQ(m.body.kvp_delete.key[0], 'k');
        ASSERT_EQ(list_of(&e, false).n, 0u); /* gone for the owner at once */
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", NULL), ENOENT);
        guest_answer(&e, &ch, HV_S_CONT); /* the daemon's "no such key" */
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.responses >= 6);
        ASSERT_EQ(st.kvp_deletes, 1u);
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", NULL), ENOENT);
        ASSERT_EQ(st.kvp_push_failures, 0u);
        env_free(&e);
}

/* Linux without hv_kvp_daemon answers everything with E_FAIL (hv_kvp.c,
 * kvp_respond_to_host(NULL, HV_E_FAIL)): pushes fail and are retried at
 * the next scan, scans find nothing, nobody is told of a change. */
TEST(guest_without_daemon) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_kvp(&e, 0);
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", "v"));
        open_and_negotiate(&e, kvp_class, (struct ic_version){ 4, 0 }, &ch);
        struct hv_kvp_exchange_msg m;
        for (int round = 0; round < 2; round++) {
                expect_op(&e, &ch, KVP_OP_SET, KVP_POOL_EXTERNAL, &m);
                guest_answer(&e, &ch, HV_E_FAIL);
                expect_op(&e, &ch, KVP_OP_ENUMERATE, KVP_POOL_AUTO, &m);
                guest_answer(&e, &ch, HV_E_FAIL);
                expect_op(&e, &ch, KVP_OP_ENUMERATE, KVP_POOL_GUEST, &m);
                guest_answer(&e, &ch, HV_E_FAIL);
        }
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.kvp_scans == 2);
        ASSERT_EQ(st.kvp_push_failures, 2u);
        ASSERT_EQ(e.o.kvp_changes, 0u);
        ASSERT_EQ(list_of(&e, true).n, 0u);
        env_free(&e);
}

/* Answers that must not become items; the scan goes on past them. */
static void answer_raw(struct env *e, struct vmbus_sim_channel *ch, void (*mangle)(struct hv_kvp_exchange_msg *),
                       size_t len) {
        struct hv_kvp_exchange_msg m;
        memcpy(&m, e->payload + ICMSG_HDR, sizeof m);
        struct hv_kvp_exchg_msg_value *d = &m.body.kvp_enum_data.data;
        d->key_size = utf16_of("key", d->key, sizeof d->key);
        d->value_size = utf16_of("value", d->value, sizeof d->value);
        d->value_type = KVP_REG_SZ;
        mangle(&m);
        memcpy(e->payload + ICMSG_HDR, &m, sizeof m);
        guest_answer_len(e, ch, len ? len : e->len, HV_S_OK);
}
static void odd_key(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.key_size = 7;
}
static void huge_key(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.key_size = 514;
}
static void unterminated_key(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.key_size = 6; /* "key" without its NUL */
}
static void empty_key(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.key_size = 2;
        m->body.kvp_enum_data.data.key[0] = 0;
}
static void huge_value(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.value_size = 2050;
}
static void lone_surrogate(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.key[0] = 0x00;
        m->body.kvp_enum_data.data.key[1] = 0xdc;
}
static void wrong_op(struct hv_kvp_exchange_msg *m) {
        m->kvp_hdr.operation = KVP_OP_GET;
}
static void wrong_pool(struct hv_kvp_exchange_msg *m) {
        m->kvp_hdr.pool = KVP_POOL_EXTERNAL;
}
static void bad_type(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.value_type = 3; /* REG_BINARY */
}
static void bad_u32(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.value_type = KVP_REG_U32;
        m->body.kvp_enum_data.data.value_size = 8;
}
static void good_u32(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.value_type = KVP_REG_U32;
        m->body.kvp_enum_data.data.value_size = 4;
        m->body.kvp_enum_data.data.value_u32 = 4000000000u;
}
static void good_u64(struct hv_kvp_exchange_msg *m) {
        m->body.kvp_enum_data.data.key_size =
                utf16_of("big", m->body.kvp_enum_data.data.key, HV_KVP_EXCHANGE_MAX_KEY_SIZE);
        m->body.kvp_enum_data.data.value_type = KVP_REG_QWORD;
        m->body.kvp_enum_data.data.value_size = 8;
        m->body.kvp_enum_data.data.value_u64 = 18446744073709551615ull;
}
static void nothing(struct hv_kvp_exchange_msg *m) {
}

TEST(malformed_items_are_skipped) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_kvp(&e, 0);
        open_and_negotiate(&e, kvp_class, (struct ic_version){ 4, 0 }, &ch);
        struct { void (*fn)(struct hv_kvp_exchange_msg *); size_t len; bool good; } cases[] = {
                { odd_key, 0, false },     { huge_key, 0, false },   { unterminated_key, 0, false },
                { empty_key, 0, false },   { huge_value, 0, false }, { lone_surrogate, 0, false },
                { wrong_op, 0, false },    { wrong_pool, 0, false }, { bad_type, 0, false },
                { bad_u32, 0, false },     { nothing, ICMSG_HDR + 100, false },
                { good_u32, 0, true },     { good_u64, 0, true },
        };
        unsigned n = sizeof cases / sizeof cases[0];
        struct hv_kvp_exchange_msg m;
        for (unsigned i = 0; i < n; i++) {
                expect_op(&e, &ch, KVP_OP_ENUMERATE, KVP_POOL_AUTO, &m);
                ASSERT_EQ(m.body.kvp_enum_data.index, i);
                answer_raw(&e, &ch, cases[i].fn, cases[i].len);
        }
        expect_op(&e, &ch, KVP_OP_ENUMERATE, KVP_POOL_AUTO, &m);
        guest_answer(&e, &ch, HV_S_CONT);
        serve_pool(&e, &ch, KVP_POOL_GUEST, NULL, 0);
        ASSERT_TRUE(wait_owner(&e.o, kvp_changed_once, 5000));
        struct icvsp_stats st = stats_of(&e);
        ASSERT_EQ(st.kvp_bad_items, 11u);
        ASSERT_STREQ(list_of(&e, true).text, "2:key=4000000000;2:big=18446744073709551615;");
        env_free(&e);
}

/* A guest that answers an enumeration endlessly is cut off per pool. */
TEST(enumeration_is_bounded) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_kvp(&e, 0);
        open_and_negotiate(&e, kvp_class, (struct ic_version){ 4, 0 }, &ch);
        struct hv_kvp_exchange_msg m;
        for (unsigned i = 0; i < ICVSP_KVP_MAX_INDEX; i++) {
                expect_op(&e, &ch, KVP_OP_ENUMERATE, KVP_POOL_AUTO, &m);
                char key[16];
                snprintf(key, sizeof key, "k%u", i);
                answer_item(&e, &ch, key, "v");
        }
        expect_op(&e, &ch, KVP_OP_ENUMERATE, KVP_POOL_GUEST, &m); /* next pool, not index 64 */
        ASSERT_EQ(m.body.kvp_enum_data.index, 0u);
        guest_answer(&e, &ch, HV_S_CONT);
        ASSERT_TRUE(wait_owner(&e.o, kvp_changed_once, 5000));
        ASSERT_EQ(list_of(&e, true).n, ICVSP_KVP_MAX_INDEX);
        env_free(&e);
}

/* §8.6: without its daemon Linux answers the negotiation only after 55 s.
 * The host keeps waiting (no timeout on negotiation), then works. */
TEST(late_negotiation) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_kvp(&e, 100);
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", "v"));
        const struct vmbus_channel_offer_channel *o = find_offer(&e, kvp_class);
        ASSERT_EQ(vmbus_sim_open(e.sim, o->child_relid, o->connection_id, 4, NULL, 0, &ch), 0);
        struct icmsg_hdr h;
        host_request(&e, &ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
        no_request(&e, &ch, 1000); /* 10 request timeouts */
        ASSERT_FALSE(icvsp_kvp_ready(e.ic, NULL));
        answer_negotiate(&e, &ch, (struct ic_version){ 3, 0 }, (struct ic_version){ 4, 0 });
        struct hv_kvp_exchange_msg m;
        expect_op(&e, &ch, KVP_OP_SET, KVP_POOL_EXTERNAL, &m);
        ASSERT_TRUE(icvsp_kvp_ready(e.ic, NULL));
        ASSERT_EQ(stats_of(&e).timeouts, 0u);
        env_free(&e);
}

/* A request that timed out is abandoned; the guest's late answer to it is
 * not taken for the answer to the next one (trans_id). */
TEST(timed_out_request_then_late_answer) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_kvp(&e, 200);
        open_and_negotiate(&e, kvp_class, (struct ic_version){ 4, 0 }, &ch);
        struct hv_kvp_exchange_msg m;
        expect_op(&e, &ch, KVP_OP_ENUMERATE, KVP_POOL_AUTO, &m);
        uint8_t old[16384];
        size_t old_len = e.len;
        uint64_t old_id = e.p.trans_id;
        memcpy(old, e.payload, old_len);
        /* Not answered: the scan is abandoned, the next one starts later. */
        expect_op(&e, &ch, KVP_OP_ENUMERATE, KVP_POOL_AUTO, &m);
        ASSERT_EQ(m.body.kvp_enum_data.index, 0u);
        struct icvsp_stats st = stats_of(&e);
        ASSERT_GE(st.timeouts, 1u);
        /* The late answer (an item) arrives now: stale. */
        struct icmsg_hdr h;
        memcpy(&h, old + sizeof(struct vmbuspipe_hdr), sizeof h);
        h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
        memcpy(old + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &ch, VM_PKT_DATA_INBAND, 0, old_id, old, old_len));
        WAIT_STATS(&e, st, st.stale_answers == 1);
        guest_answer(&e, &ch, HV_S_CONT);
        serve_pool(&e, &ch, KVP_POOL_GUEST, NULL, 0);
        WAIT_STATS(&e, st, st.kvp_scans == 1);
        ASSERT_EQ(list_of(&e, true).n, 0u);
        env_free(&e);
}

TEST(host_item_limits_and_strings) {
        struct env e;
        env_kvp(&e, 0);
        char key[600], val[3000];
        for (unsigned i = 0; i < ICVSP_KVP_MAX_HOST_ITEMS; i++) {
                snprintf(key, sizeof key, "key%u", i);
                ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, key, "v"));
        }
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "one-more", "v"), ENOSPC);
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "key3", "replaced")); /* update: no new slot */
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "", "v"), EINVAL);
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_GUEST, "k", "v"), EINVAL); /* not a host pool */
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "bad\xc3", "v"), EINVAL);
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", "\xed\xa0\x80"), EINVAL); /* a surrogate */
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k", "\xc0\xaf"), EINVAL);     /* overlong */
        memset(key, 'k', 255);
        key[255] = 0;
        memset(val, 'v', 1023);
        val[1023] = 0;
        icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "key0", NULL); /* make room */
        ASSERT_OK(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, key, val)); /* exactly the wire limits */
        key[255] = 'k';
        key[256] = 0;
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, key, "v"), EINVAL);
        val[1023] = 'v';
        val[1024] = 0;
        ASSERT_ERROR(icvsp_kvp_set(e.ic, KVP_POOL_EXTERNAL, "k2", val), EINVAL);
        env_free(&e);
}

TEST(utf_conversions) {
        uint8_t w[64];
        char u[64];
        static const char *const ok[] = { "", "a", "\xc3\xbc", "\xe2\x82\xac", "\xf0\x9f\x98\x80x", "\xf4\x8f\xbf\xbf" };
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
                int n = ic_utf8_to_utf16(ok[i], w, sizeof w);
                ASSERT_GT(n, 0);
                ASSERT_EQ(ic_utf16_to_utf8(w, (size_t)n, u, sizeof u), (int)strlen(ok[i]));
                ASSERT_STREQ(u, ok[i]);
        }
        static const char *const bad[] = { "\x80", "\xc3", "\xe2\x82", "\xf8\x88\x80\x80\x80", "\xf4\x90\x80\x80",
                                           "\xe0\x80\x80" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                ASSERT_ERROR(ic_utf8_to_utf16(bad[i], w, sizeof w), EINVAL);
        ASSERT_ERROR(ic_utf8_to_utf16("abc", w, 6), E2BIG); /* needs 8 with the NUL */
        ASSERT_EQ(ic_utf8_to_utf16("abc", w, 8), 8);
        static const uint8_t high_only[] = { 0x3d, 0xd8, 0, 0 }, odd[] = { 'a', 0, 0 };
        ASSERT_ERROR(ic_utf16_to_utf8(high_only, sizeof high_only, u, sizeof u), EBADMSG);
        ASSERT_ERROR(ic_utf16_to_utf8(odd, sizeof odd, u, sizeof u), EBADMSG);
        static const uint8_t euro[] = { 0xac, 0x20, 0, 0 };
        ASSERT_ERROR(ic_utf16_to_utf8(euro, sizeof euro, u, 3), E2BIG); /* 3 bytes + NUL */
        ASSERT_EQ(ic_utf16_to_utf8(euro, sizeof euro, u, 4), 3);
}

TEST_MAIN();
