// SPDX-License-Identifier: MIT
/* Dynamic Memory's saved state (vsp/dm, docs/dynamic-memory.md "Saved
 * state") with the simulated hv_balloon guest of test-dmvsp-harness.h: an
 * exchange caught half-way by a save is finished after the restore, a
 * slow guest's late answer is counted, and the state's checks. */
#include "tests/unit/test-dmvsp-harness.h"

/* ---- saved state ---- */

struct both {
        struct vmbus_server *srv;
        struct dmvsp *dm;
};

static int save_both(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        struct both *b = opaque;
        int r = vmbus_server_save(b->srv, w, err, errlen);
        return r < 0 ? r : dmvsp_save(b->dm, w, err, errlen);
}

static int restore_both(struct env *e, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        int r = vmbus_server_restore(e->srv, secs, n, err, errlen);
        return r < 0 ? r : dmvsp_restore(e->dm, secs, n, err, errlen);
}

/* Quiesced, saved and freed: the state's sections in secs, n returned. */
static int save_and_free(struct env *e, uint8_t **map, size_t *len, struct vmstate_section *secs, size_t cap) {
        ASSERT_OK(dmvsp_quiesce(e->dm));
        ASSERT_OK(vmbus_server_quiesce(e->srv));
        struct both bo = { e->srv, e->dm };
        int n = vmstate_test_save(save_both, &bo, map, len, secs, cap);
        vmbus_server_free(e->srv);
        dmvsp_free(e->dm);
        return n;
}

/* A fresh server and device with the state restored (it must be). */
static void rebuild_restored(struct env *e, const struct vmstate_section *secs, size_t n) {
        char err[300] = "";
        build(e, 30000);
        if (restore_both(e, secs, n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
}

TEST(a_balloon_answered_half_before_a_save_is_finished_after_the_restore) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        /* 128 MiB hot-added first, so the state has a window to restore */
        dmvsp_set_target(e.dm, RAM_PAGES + DM_HOT_ADD_BLOCK_PAGES);
        struct dm_hot_add h;
        g_recv(&e, DM_MEM_HOT_ADD_REQUEST, (uint8_t *)&h, sizeof h);
        struct dm_hot_add_response hr = { .hdr = hdr(&e, DM_MEM_HOT_ADD_RESPONSE, sizeof hr),
                                          .page_count = DM_HOT_ADD_BLOCK_PAGES, .result = 1 };
        g_send(&e, &hr, sizeof hr);
        WAIT_FOR(status(&e).hot_added == DM_HOT_ADD_BLOCK_PAGES && status(&e).op == DMVSP_OP_NONE);
        dmvsp_set_target(e.dm, RAM_PAGES + DM_HOT_ADD_BLOCK_PAGES - 4096);
        struct dm_balloon b;
        g_recv(&e, DM_BALLOON_REQUEST, (uint8_t *)&b, sizeof b);
        ASSERT_EQ(b.num_pages, 4096u);
        uint64_t half[4];
        for (int i = 0; i < 4; i++)
                half[i] = DM_RANGE(FREE_PFN + 512u * (unsigned)i, 512);
        g_balloon_response(&e, half, 4, true);
        WAIT_FOR(status(&e).ballooned == 2048);

        uint8_t *map;
        size_t len;
        struct vmstate_section secs[32];
        int n = save_and_free(&e, &map, &len, secs, ARRAY_SIZE(secs));
        pthread_mutex_lock(&e.o.lock);
        e.o.hot_add_calls = 0;
        pthread_mutex_unlock(&e.o.lock);

        /* A damaged device section is refused and applies nothing. */
        build(&e, 30000);
        uint8_t *bad = malloc(len);
        memcpy(bad, map, len);
        struct vmstate_section bsecs[32];
        char err[300] = "";
        struct vmstate_header vh;
        ASSERT_EQ(vmstate_index(bad, len, &vh, bsecs, ARRAY_SIZE(bsecs), err, sizeof err), n);
        const struct vmstate_section *dv = vmstate_find(bsecs, (size_t)n, DMVSP_DEVICE_STATE_TAG, 0);
        ASSERT_NOT_NULL(dv);
        /* the first ballooned run moved into the hole below 4 GiB (CRCs
         * are checked by vmstate_index, decode reads the section as is) */
        struct vmstate_section forged = *dv;
        uint8_t *payload = malloc(forged.length);
        memcpy(payload, forged.payload, forged.length);
        uint64_t off = 0;
        struct vmstate_field f;
        while (vmstate_next_field(&forged, &off, &f) > 0)
                if (f.id == 6)
                        vmstate_put_le64(payload + (f.value - forged.payload), DM_RANGE(0x80000, 512));
        forged.payload = payload;
        for (int i = 0; i < n; i++)
                if (bsecs[i].tag == DMVSP_DEVICE_STATE_TAG)
                        bsecs[i] = forged;
        ASSERT_OK(vmbus_server_restore(e.srv, bsecs, (size_t)n, err, sizeof err));
        ASSERT_EQ(dmvsp_restore(e.dm, bsecs, (size_t)n, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "ballooned run 0"));
        ASSERT_EQ(status(&e).ballooned, 0u);
        ASSERT_EQ(owner_get(&e, &e.o.hot_add_calls), 0u);
        free(payload);
        free(bad);
        vmbus_server_free(e.srv);
        dmvsp_free(e.dm);

        /* The real one: restored, resumed, the guest's second half taken. */
        rebuild_restored(&e, secs, (size_t)n);
        ASSERT_EQ(owner_get(&e, &e.o.hot_add_calls), 1u); /* the window made RAM again */
        ASSERT_EQ(owner_get(&e, &e.o.hot_add_pages), (uint64_t)DM_HOT_ADD_BLOCK_PAGES);
        vmbus_server_resume(e.srv);
        dmvsp_resume(e.dm);
        struct dmvsp_status s = status(&e);
        ASSERT_TRUE(s.connected);
        ASSERT_EQ(s.ballooned, 2048u);
        ASSERT_EQ(s.hot_added, (uint64_t)DM_HOT_ADD_BLOCK_PAGES);
        ASSERT_EQ(s.op, DMVSP_OP_BALLOON);
        /* a page it gave before the save cannot be given twice */
        uint64_t rest[4];
        rest[0] = DM_RANGE(FREE_PFN, 512);
        for (int i = 1; i < 4; i++)
                rest[i] = DM_RANGE(FREE_PFN + 512u * (unsigned)(i + 3), 512);
        g_balloon_response(&e, rest, 4, true);
        const uint64_t last = DM_RANGE(FREE_PFN + 512u * 7u, 512);
        g_balloon_response(&e, &last, 1, false);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE);
        ASSERT_EQ(status(&e).ballooned, 4096u);
        ASSERT_EQ(stats(&e).bad_ranges, 1u);
        munmap(map, len);

        /* Saved again with nothing outstanding (what a stock guest's VM
         * looks like most of the time): restored as it was. The first
         * KVM run found such a state refused ("op_pages without an op"). */
        n = save_and_free(&e, &map, &len, secs, ARRAY_SIZE(secs));
        rebuild_restored(&e, secs, (size_t)n);
        vmbus_server_resume(e.srv);
        dmvsp_resume(e.dm);
        ASSERT_EQ(status(&e).op, DMVSP_OP_NONE);
        ASSERT_EQ(status(&e).ballooned, 4096u);
        munmap(map, len);
        env_free(&e);
}

/* A guest that onlines hot-added memory slower than the timeout (a stock
 * kernel on our PVM host: 199 s for a GiB): no other hot-add goes out while
 * its answer is awaited, also across a save and restore, and the late
 * answer counts the memory it added; the device then hot-adds again. */
TEST(a_slow_guest_s_late_hot_add_answer_is_counted) {
        static struct env e;
        env_init(&e, 300); /* a one-block hot-add times out after 400 ms */
        connect_linux(&e);
        dmvsp_set_target(e.dm, RAM_PAGES + 1024);
        struct dm_hot_add h;
        g_recv(&e, DM_MEM_HOT_ADD_REQUEST, (uint8_t *)&h, sizeof h);
        ASSERT_EQ(DM_RANGE_COUNT(h.range), (uint64_t)DM_HOT_ADD_BLOCK_PAGES);
        WAIT_FOR(stats(&e).timeouts == 1);
        struct dmvsp_status s = status(&e);
        ASSERT_EQ(s.op, DMVSP_OP_NONE);
        ASSERT_FALSE(s.can_hot_add);
        ASSERT_NOT_NULL(strstr(s.note, "its late answer is waited for"));
        dmvsp_set_target(e.dm, RAM_PAGES + 2 * DM_HOT_ADD_BLOCK_PAGES);
        g_nothing(&e, 500);

        /* saved and restored while the answer is awaited */
        uint8_t *map;
        size_t len;
        struct vmstate_section secs[32];
        int n = save_and_free(&e, &map, &len, secs, ARRAY_SIZE(secs));
        rebuild_restored(&e, secs, (size_t)n);
        vmbus_server_resume(e.srv);
        dmvsp_resume(e.dm);
        ASSERT_EQ(status(&e).hot_added, 0u);
        g_nothing(&e, 300);

        struct dm_hot_add_response r = { .hdr = hdr(&e, DM_MEM_HOT_ADD_RESPONSE, sizeof r),
                                         .page_count = DM_HOT_ADD_BLOCK_PAGES, .result = 1 };
        g_send(&e, &r, sizeof r);
        WAIT_FOR(status(&e).hot_added == DM_HOT_ADD_BLOCK_PAGES);
        ASSERT_EQ(stats(&e).late_hot_add_pages, (uint64_t)DM_HOT_ADD_BLOCK_PAGES);
        ASSERT_EQ(stats(&e).bad_messages, 0u);
        /* answered: the rest of the target is asked for, past that block */
        g_recv(&e, DM_MEM_HOT_ADD_REQUEST, (uint8_t *)&h, sizeof h);
        ASSERT_EQ(DM_RANGE_START(h.range), WINDOW_PFN + DM_HOT_ADD_BLOCK_PAGES);
        r.hdr = hdr(&e, DM_MEM_HOT_ADD_RESPONSE, sizeof r);
        g_send(&e, &r, sizeof r);
        WAIT_FOR(status(&e).hot_added == 2u * DM_HOT_ADD_BLOCK_PAGES && status(&e).op == DMVSP_OP_NONE);
        ASSERT_EQ(status(&e).note[0], 0);
        /* a second answer to the late request is out of turn */
        r.hdr = hdr(&e, DM_MEM_HOT_ADD_RESPONSE, sizeof r);
        g_send(&e, &r, sizeof r);
        WAIT_FOR(stats(&e).bad_messages == 1);
        ASSERT_EQ(status(&e).hot_added, 2u * DM_HOT_ADD_BLOCK_PAGES);
        munmap(map, len);
        env_free(&e);
}

TEST_MAIN();
