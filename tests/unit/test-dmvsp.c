// SPDX-License-Identifier: MIT
/* Dynamic Memory (vsp/dm, docs/dynamic-memory.md) against a simulated
 * guest doing what Linux 6.1's hv_balloon does on the wire: VERSION_REQUEST
 * (2.0 first), CAPABILITIES_REPORT (balloon, hot-add, 128 MiB alignment),
 * STATUS_REPORTs, BALLOON_RESPONSEs in 2 MiB ranges until one without
 * more_pages, UNBALLOON_RESPONSE after the last request, and
 * MEM_HOT_ADD_RESPONSE. Guest RAM is a memfd of the test's: pages the
 * guest gives up must be punched out of it (its blocks go) and read back
 * as zeros. Also what a hostile guest does: ranges it does not own,
 * answers out of turn, malformed messages, silence. Saved state is
 * test-dmvsp-state.c's; the simulated guest is test-dmvsp-harness.h. */
#include "tests/unit/test-dmvsp-harness.h"

TEST(negotiates_as_linux_does) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        struct dmvsp_status s = status(&e);
        ASSERT_TRUE(s.connected);
        ASSERT_EQ(s.version, DM_VERSION_WIN10);
        ASSERT_TRUE(s.can_balloon);
        ASSERT_TRUE(s.can_hot_add);
        ASSERT_EQ(s.assigned, (uint64_t)RAM_PAGES);
        ASSERT_EQ(s.target, 0u); /* none set: nothing is asked */
        g_nothing(&e, 300);
        ASSERT_GE(owner_get(&e, &e.o.changes), 1u);
        env_free(&e);
}

TEST(unknown_version_refused_then_older_accepted) {
        static struct env e;
        env_init(&e, 30000);
        open_channel(&e);
        ASSERT_FALSE(g_version(&e, 0x00050000u));
        ASSERT_TRUE(g_version(&e, DM_VERSION_WIN7));
        g_caps(&e, DM_CAP_BALLOON, false); /* 0.3: no INFO message */
        ASSERT_EQ(stats(&e).refused_versions, 1u);
        struct dmvsp_status s = status(&e);
        ASSERT_TRUE(s.connected);
        ASSERT_FALSE(s.can_hot_add);
        /* a second version request after the capabilities is refused */
        ASSERT_FALSE(g_version(&e, DM_VERSION_WIN10));
        env_free(&e);
}

TEST(balloon_punches_pages_and_unballoon_gives_exactly_them_back) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        /* The free area holds data: each page it gives up must go. */
        memset(e.ram + FREE_PFN * 4096, 0xa5, RAM_BYTES / 2);
        uint64_t before = memfd_blocks(e.memfd);
        uint64_t next = FREE_PFN;
        ASSERT_EQ(dmvsp_set_target(e.dm, RAM_PAGES - 6144), (uint64_t)RAM_PAGES - 6144);
        /* 12 blocks in responses of 5 ranges: 3 messages, more_pages on the first 2 */
        ASSERT_EQ(g_balloon_up(&e, 6144, 6144, 5, &next), 6144u);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE && status(&e).ballooned == 6144);
        struct dmvsp_status s = status(&e);
        ASSERT_EQ(s.assigned, (uint64_t)RAM_PAGES - 6144);
        ASSERT_STREQ(s.note, "");
        ASSERT_EQ(owner_get(&e, &e.o.released), 6144u);
        ASSERT_EQ(owner_get(&e, &e.o.release_calls), 12u);
        ASSERT_EQ(stats(&e).pages_ballooned, 6144u);
        /* 24 MiB less in the memfd, and zeros where the data was */
        ASSERT_LE(memfd_blocks(e.memfd) + 6144u * 8u, before);
        ASSERT_TRUE(mem_is_zero(e.ram + FREE_PFN * 4096, 6144u * 4096u));
        ASSERT_EQ(e.ram[(FREE_PFN + 6144) * 4096], 0xa5);
        g_nothing(&e, 300); /* at the target: nothing more */

        /* Half back: one UNBALLOON_REQUEST naming only ballooned pages. */
        dmvsp_set_target(e.dm, RAM_PAGES - 3072);
        uint8_t buf[DM_MESSAGE_MAX];
        size_t n = g_recv(&e, DM_UNBALLOON_REQUEST, buf, sizeof buf);
        struct dm_unballoon_request u;
        memcpy(&u, buf, sizeof u);
        ASSERT_EQ(u.flags & DM_MORE_PAGES, 0u);
        ASSERT_EQ(n, sizeof u + 8u * u.range_count);
        uint64_t back = 0;
        for (uint32_t i = 0; i < u.range_count; i++) {
                uint64_t rg = vmstate_le64(buf + sizeof u + 8u * i);
                ASSERT_GE(DM_RANGE_START(rg), (uint64_t)FREE_PFN);
                ASSERT_LE(DM_RANGE_START(rg) + DM_RANGE_COUNT(rg), (uint64_t)FREE_PFN + 6144);
                back += DM_RANGE_COUNT(rg);
        }
        ASSERT_EQ(back, 3072u);
        struct dm_unballoon_response ur = { .hdr = hdr(&e, DM_UNBALLOON_RESPONSE, sizeof ur) };
        g_send(&e, &ur, sizeof ur);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE);
        s = status(&e);
        ASSERT_EQ(s.ballooned, 3072u);
        ASSERT_EQ(s.assigned, (uint64_t)RAM_PAGES - 3072);
        /* The pages given back were the highest: a second round returns
         * the rest, and nothing is ever given twice. */
        dmvsp_set_target(e.dm, RAM_PAGES);
        n = g_recv(&e, DM_UNBALLOON_REQUEST, buf, sizeof buf);
        memcpy(&u, buf, sizeof u);
        back = 0;
        for (uint32_t i = 0; i < u.range_count; i++) {
                uint64_t rg = vmstate_le64(buf + sizeof u + 8u * i);
                ASSERT_GE(DM_RANGE_START(rg), (uint64_t)FREE_PFN);
                ASSERT_LE(DM_RANGE_START(rg) + DM_RANGE_COUNT(rg), (uint64_t)FREE_PFN + 3072);
                back += DM_RANGE_COUNT(rg);
        }
        ASSERT_EQ(back, 3072u);
        g_send(&e, &ur, sizeof ur);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE && status(&e).ballooned == 0);
        ASSERT_EQ(stats(&e).pages_unballooned, 6144u);
        env_free(&e);
}

TEST(a_guest_at_its_floor_gives_less_and_is_not_asked_again_at_once) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        uint64_t next = FREE_PFN;
        dmvsp_set_target(e.dm, RAM_PAGES - 8192);
        ASSERT_EQ(g_balloon_up(&e, 8192, 2048, 100, &next), 2048u);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE);
        struct dmvsp_status s = status(&e);
        ASSERT_EQ(s.ballooned, 2048u);
        ASSERT_NOT_NULL(strstr(s.note, "gave 2048 of 8192"));
        g_nothing(&e, 500); /* retried after DM_RETRY_MS, not in a loop */
        /* a new target is tried at once */
        dmvsp_set_target(e.dm, RAM_PAGES - 4096);
        next = FREE_PFN + 2048;
        ASSERT_EQ(g_balloon_up(&e, 2048, 2048, 100, &next), 2048u);
        WAIT_FOR(status(&e).ballooned == 4096);
        ASSERT_STREQ(status(&e).note, "");
        env_free(&e);
}

TEST(ranges_the_guest_does_not_own_are_refused) {
        static struct env e;
        balloon_asked(&e, 30000, RAM_PAGES - 4096, 4096);
        const uint64_t ranges[] = {
                DM_RANGE(RAM_PAGES - 10, 512),       /* runs past the end of RAM */
                DM_RANGE(0x80000, 512),              /* a hole: not RAM */
                DM_RANGE(WINDOW_PFN, 512),           /* the window, nothing hot-added yet */
                DM_RANGE(FREE_PFN, 0),               /* empty */
                DM_RANGE(FREE_PFN, 512),             /* good */
                DM_RANGE(FREE_PFN + 256, 512),       /* overlaps the one before */
                DM_RANGE(FREE_PFN + 1024, 4096),     /* more than the 3584 left of the request */
                DM_RANGE(FREE_PFN + 1024, 3584),     /* good */
                DM_RANGE(DM_PFN_MAX, DM_RANGE_COUNT_MAX), /* wraps */
        };
        g_balloon_response(&e, ranges, ARRAY_SIZE(ranges), false);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE);
        ASSERT_EQ(status(&e).ballooned, 4096u);
        ASSERT_EQ(stats(&e).bad_ranges, 7u);
        ASSERT_EQ(owner_get(&e, &e.o.released), 4096u);
        ASSERT_EQ(owner_get(&e, &e.o.release_calls), 2u);
        env_free(&e);
}

TEST(answers_out_of_turn_and_malformed_messages_are_counted_and_ignored) {
        static struct env e;
        env_init(&e, 30000);
        open_channel(&e);
        /* before the negotiation */
        g_status(&e, 1000, 1000);
        struct dm_capabilities c = { .hdr = hdr(&e, DM_CAPABILITIES_REPORT, sizeof c), .caps = LINUX_CAPS };
        g_send(&e, &c, sizeof c); /* capabilities before a version */
        ASSERT_TRUE(g_version(&e, DM_VERSION_WIN10));
        g_caps(&e, LINUX_CAPS, true);
        uint64_t base = stats(&e).bad_messages;
        ASSERT_EQ(base, 2u);
        const uint64_t r1 = DM_RANGE(FREE_PFN, 512);
        g_balloon_response(&e, &r1, 1, false); /* nothing asked */
        struct dm_hot_add_response h = { .hdr = hdr(&e, DM_MEM_HOT_ADD_RESPONSE, sizeof h), .page_count = 65536,
                                         .result = 1 };
        g_send(&e, &h, sizeof h);
        struct dm_unballoon_response u = { .hdr = hdr(&e, DM_UNBALLOON_RESPONSE, sizeof u) };
        g_send(&e, &u, sizeof u);
        struct dm_status s = { .hdr = hdr(&e, DM_STATUS_REPORT, sizeof s - 8) }; /* short */
        g_send(&e, &s, sizeof s);
        struct dm_balloon bogus = { .hdr = hdr(&e, DM_BALLOON_REQUEST, sizeof bogus) }; /* a host message */
        g_send(&e, &bogus, sizeof bogus);
        struct dm_header big = hdr(&e, DM_STATUS_REPORT, 5000); /* longer than the packet */
        g_send(&e, &big, sizeof big);
        uint8_t tiny[4] = { 5, 0, 48, 0 };
        g_send(&e, tiny, sizeof tiny);
        WAIT_FOR(stats(&e).bad_messages == base + 7);
        struct dmvsp_status st = status(&e);
        ASSERT_EQ(st.ballooned, 0u);
        ASSERT_EQ(st.hot_added, 0u);
        ASSERT_EQ(st.assigned, (uint64_t)RAM_PAGES);
        ASSERT_EQ(owner_get(&e, &e.o.released), 0u);
        ASSERT_TRUE(st.connected);
        env_free(&e);
}

/* The TLFS's overlay pages (the hypercall page, SynIC message and event
 * pages) cover the guest's RAM: a guest that balloons the RAM under them
 * must keep them (issue 60: punched, the hypercall page read zeros and
 * the guest died). The pages count as ballooned and come back with an
 * unballoon; they are just never punched. */
TEST(a_balloon_answer_over_the_hypercall_and_synic_pages_leaves_them_be) {
        static struct env e;
        env_init(&e, 30000);
        e.o.overlays[0] = FREE_PFN + 3;   /* hypercall page */
        e.o.overlays[1] = FREE_PFN + 700; /* SIMP */
        e.o.overlays[2] = FREE_PFN + 701; /* SIEFP */
        e.o.overlays[3] = FREE_PFN + 3;   /* the same page twice */
        e.o.n_overlays = 4;
        connect_linux(&e);
        memset(e.ram + FREE_PFN * 4096, 0xa5, 1024u * 4096u);
        uint64_t next = FREE_PFN;
        dmvsp_set_target(e.dm, RAM_PAGES - 1024);
        ASSERT_EQ(g_balloon_up(&e, 1024, 1024, 1, &next), 1024u);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE);
        ASSERT_EQ(status(&e).ballooned, 1024u);
        ASSERT_EQ(stats(&e).pages_ballooned, 1024u);
        ASSERT_EQ(stats(&e).overlay_pages, 3u);
        ASSERT_EQ(owner_get(&e, &e.o.released), 1021u);
        for (uint64_t pfn = FREE_PFN; pfn < FREE_PFN + 1024; pfn++) {
                bool kept = pfn == FREE_PFN + 3 || pfn == FREE_PFN + 700 || pfn == FREE_PFN + 701;
                ASSERT_EQ(e.ram[pfn * 4096 + 17], kept ? 0xa5 : 0);
        }
        env_free(&e);
}

/* A guest that answers a balloon request with "more_pages" and only ranges
 * that are not its to give, again and again: each such answer used to
 * restart the timeout, holding the request (and every other balloon) off
 * for ever. Only an answer that gives pages restarts it. */
TEST(answers_that_give_nothing_do_not_hold_a_balloon_request_open) {
        static struct env e;
        balloon_asked(&e, 300, RAM_PAGES - 2048, 2048);
        const uint64_t bad = DM_RANGE(0x80000, 512); /* not RAM */
        for (int i = 0; i < 12; i++) {                /* 1.2 s, four timeouts */
                g_balloon_response(&e, &bad, 1, true);
                usleep(100000);
        }
        ASSERT_EQ(stats(&e).timeouts, 1u);
        ASSERT_GE(stats(&e).bad_ranges, 3u); /* those before the timeout; later ones are late answers' */
        ASSERT_EQ(status(&e).op, DMVSP_OP_NONE);
        ASSERT_EQ(status(&e).ballooned, 0u);
        env_free(&e);
}

/* Progress still counts: a slow guest giving pages in parts keeps its
 * request while each part comes within the timeout. */
TEST(answers_that_give_pages_keep_a_balloon_request_open) {
        static struct env e;
        balloon_asked(&e, 1000, RAM_PAGES - 2048, 2048);
        for (uint64_t i = 0; i < 4; i++) { /* 1.6 s in all */
                usleep(400000);
                const uint64_t r = DM_RANGE(FREE_PFN + i * 512, 512);
                g_balloon_response(&e, &r, 1, i < 3);
        }
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE);
        ASSERT_EQ(stats(&e).timeouts, 0u);
        ASSERT_EQ(status(&e).ballooned, 2048u);
        env_free(&e);
}

/* The sizes a pressure report claims become bytes in the worker's report
 * (pages << 12): 2^64 - 1 pages must not wrap. */
TEST(an_absurd_pressure_report_is_clamped) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        g_status(&e, UINT64_MAX, UINT64_MAX);
        WAIT_FOR(status(&e).reported);
        struct dmvsp_status s = status(&e);
        ASSERT_EQ(s.avail, DMVSP_REPORT_PAGES_MAX);
        ASSERT_EQ(s.committed, DMVSP_REPORT_PAGES_MAX);
        ASSERT_EQ(s.demand, DMVSP_REPORT_PAGES_MAX);
        ASSERT_EQ((s.demand << 12) >> 12, s.demand);
        env_free(&e);
}

TEST(pressure_reports_reach_the_owner_with_the_demand) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        uint64_t c0 = owner_get(&e, &e.o.changes);
        g_status(&e, 5000, 9000);
        WAIT_FOR(status(&e).reported);
        struct dmvsp_status s = status(&e);
        ASSERT_EQ(s.avail, 5000u);
        ASSERT_EQ(s.committed, 9000u);
        ASSERT_EQ(s.demand, 9000u);
        WAIT_FOR(owner_get(&e, &e.o.changes) > c0);
        /* a flood: every report is read, the owner hears of them at most
         * every status_interval_ms (100 ms here) */
        uint64_t c1 = owner_get(&e, &e.o.changes);
        for (int i = 0; i < 200; i++)
                g_status(&e, 5000, 9000 + (uint64_t)i);
        WAIT_FOR(stats(&e).status_reports == 201);
        ASSERT_LE(owner_get(&e, &e.o.changes) - c1, 3u);
        WAIT_FOR(status(&e).committed == 9199);
        /* the demand leaves out what is ballooned (Linux counts it committed) */
        uint64_t next = FREE_PFN;
        dmvsp_set_target(e.dm, RAM_PAGES - 2048);
        g_balloon_up(&e, 2048, 2048, 100, &next);
        WAIT_FOR(status(&e).ballooned == 2048);
        g_status(&e, 3000, 9000 + 2048);
        WAIT_FOR(status(&e).committed == 9000 + 2048);
        ASSERT_EQ(status(&e).demand, 9000u);
        env_free(&e);
}

TEST(hot_add_above_the_boot_memory_then_balloon_the_excess) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        /* 200 MiB more: two 128 MiB blocks hot-added, the 56 MiB too many ballooned */
        uint64_t target = RAM_PAGES + 51200;
        ASSERT_EQ(dmvsp_set_target(e.dm, target), target);
        struct dm_hot_add h;
        g_recv(&e, DM_MEM_HOT_ADD_REQUEST, (uint8_t *)&h, sizeof h);
        ASSERT_EQ(h.hdr.size, sizeof h);
        ASSERT_EQ(DM_RANGE_START(h.range), WINDOW_PFN);
        ASSERT_EQ(DM_RANGE_COUNT(h.range), 2u * DM_HOT_ADD_BLOCK_PAGES);
        /* the owner made the window RAM first */
        ASSERT_EQ(owner_get(&e, &e.o.hot_add_calls), 1u);
        ASSERT_EQ(owner_get(&e, &e.o.hot_add_pfn), WINDOW_PFN);
        ASSERT_EQ(owner_get(&e, &e.o.hot_add_pages), 2u * DM_HOT_ADD_BLOCK_PAGES);
        struct dm_hot_add_response r = { .hdr = hdr(&e, DM_MEM_HOT_ADD_RESPONSE, sizeof r),
                                         .page_count = 2 * DM_HOT_ADD_BLOCK_PAGES, .result = 1 };
        g_send(&e, &r, sizeof r);
        uint64_t next = WINDOW_PFN + DM_HOT_ADD_BLOCK_PAGES; /* the guest gives hot-added pages back */
        ASSERT_EQ(g_balloon_up(&e, 2u * DM_HOT_ADD_BLOCK_PAGES - 51200, 2u * DM_HOT_ADD_BLOCK_PAGES - 51200, 510,
                               &next),
                  2u * DM_HOT_ADD_BLOCK_PAGES - 51200);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE && status(&e).assigned == target);
        struct dmvsp_status s = status(&e);
        ASSERT_EQ(s.hot_added, 2u * DM_HOT_ADD_BLOCK_PAGES);
        ASSERT_EQ(stats(&e).bad_ranges, 0u);
        /* the window past what was added is not the guest's to give */
        dmvsp_set_target(e.dm, target - 512);
        struct dm_balloon b;
        g_recv(&e, DM_BALLOON_REQUEST, (uint8_t *)&b, sizeof b);
        const uint64_t beyond = DM_RANGE(WINDOW_PFN + 2u * DM_HOT_ADD_BLOCK_PAGES, 512);
        g_balloon_response(&e, &beyond, 1, false);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE);
        ASSERT_EQ(stats(&e).bad_ranges, 1u);
        /* the maximum: boot + window, never more */
        ASSERT_EQ(dmvsp_set_target(e.dm, UINT64_MAX), (uint64_t)RAM_PAGES + WINDOW_PAGES);
        env_free(&e);
}

TEST(hot_add_refused_for_good_or_for_now) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        dmvsp_set_target(e.dm, RAM_PAGES + 1024);
        struct dm_hot_add h;
        g_recv(&e, DM_MEM_HOT_ADD_REQUEST, (uint8_t *)&h, sizeof h);
        /* transient: 0 pages, result 0 */
        struct dm_hot_add_response r = { .hdr = hdr(&e, DM_MEM_HOT_ADD_RESPONSE, sizeof r) };
        g_send(&e, &r, sizeof r);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE);
        ASSERT_TRUE(status(&e).can_hot_add);
        ASSERT_EQ(stats(&e).hot_add_failures, 1u);
        g_nothing(&e, 300); /* not again at once */
        /* a new target tries again; the memory is made RAM only once */
        dmvsp_set_target(e.dm, RAM_PAGES + 2048);
        g_recv(&e, DM_MEM_HOT_ADD_REQUEST, (uint8_t *)&h, sizeof h);
        ASSERT_EQ(DM_RANGE_START(h.range), WINDOW_PFN);
        ASSERT_EQ(owner_get(&e, &e.o.hot_add_calls), 1u);
        /* for good: 0 pages with result 1 */
        r.hdr = hdr(&e, DM_MEM_HOT_ADD_RESPONSE, sizeof r);
        r.result = 1;
        g_send(&e, &r, sizeof r);
        WAIT_FOR(status(&e).op == DMVSP_OP_NONE);
        ASSERT_FALSE(status(&e).can_hot_add);
        dmvsp_set_target(e.dm, RAM_PAGES + 4096);
        g_nothing(&e, 300);
        ASSERT_EQ(status(&e).assigned, (uint64_t)RAM_PAGES);
        env_free(&e);
}

TEST(the_owner_failing_to_add_memory_asks_the_guest_nothing) {
        static struct env e;
        env_init(&e, 30000);
        e.o.hot_add_result = -ENOMEM;
        connect_linux(&e);
        dmvsp_set_target(e.dm, RAM_PAGES + 1024);
        WAIT_FOR(owner_get(&e, &e.o.hot_add_calls) == 1);
        g_nothing(&e, 300);
        ASSERT_NOT_NULL(strstr(status(&e).note, "could not add"));
        ASSERT_EQ(stats(&e).hot_add_requests, 0u);
        env_free(&e);
}

/* A guest that takes longer than the timeout to balloon (Linux answers
 * only when it has allocated all it gives): its late answer is taken, up
 * to what was asked, and no second balloon request goes out meanwhile (the
 * guest would balloon twice); after it the device goes on. */
TEST(a_slow_guest_s_late_balloon_answer_is_taken) {
        static struct env e;
        balloon_asked(&e, 300, RAM_PAGES - 2048, 2048);
        WAIT_FOR(stats(&e).timeouts == 1);
        struct dmvsp_status s = status(&e);
        ASSERT_EQ(s.op, DMVSP_OP_NONE);
        ASSERT_NOT_NULL(strstr(s.note, "its late answer is waited for"));
        g_nothing(&e, 1000); /* past the retry: still no second request */
        /* The late answer: two runs, the second beyond what was asked. */
        const uint64_t r[3] = { DM_RANGE(FREE_PFN, 1024), DM_RANGE(FREE_PFN + 1024, 512),
                                DM_RANGE(FREE_PFN + 1536, 1024) };
        g_balloon_response(&e, r, 2, true);
        WAIT_FOR(status(&e).ballooned == 1536u);
        g_balloon_response(&e, r + 2, 1, false); /* 512 left to take: refused whole */
        WAIT_FOR(stats(&e).bad_ranges == 1);
        ASSERT_EQ(status(&e).ballooned, 1536u);
        ASSERT_EQ(stats(&e).late_pages, 1536u);
        ASSERT_EQ(stats(&e).bad_messages, 0u);
        ASSERT_EQ(owner_get(&e, &e.o.released), 1536u);
        /* Answered: the device asks for the rest at once. */
        g_balloon_asked(&e, 512);
        env_free(&e);
}

/* A guest that never answers: its answer is waited for twenty timeouts,
 * then given up on; a new target asks again. */
TEST(a_silent_guest_times_out_and_is_asked_again_later) {
        static struct env e;
        balloon_asked(&e, 100, RAM_PAGES - 2048, 2048);
        WAIT_FOR(stats(&e).timeouts == 1);
        ASSERT_NOT_NULL(strstr(status(&e).note, "waited for"));
        WAIT_FOR(strstr(status(&e).note, "never answered") != NULL); /* 20 x 100 ms */
        dmvsp_set_target(e.dm, RAM_PAGES - 4096);
        g_balloon_asked(&e, 4096);
        env_free(&e);
}

TEST(a_driver_that_goes_keeps_what_it_ballooned) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        uint64_t next = FREE_PFN;
        dmvsp_set_target(e.dm, RAM_PAGES - 2048);
        g_balloon_up(&e, 2048, 2048, 100, &next);
        WAIT_FOR(status(&e).ballooned == 2048);
        ASSERT_OK(vmbus_sim_close(e.sim, &e.ch));
        struct dmvsp_status s = status(&e);
        ASSERT_FALSE(s.connected);
        ASSERT_EQ(s.ballooned, 0u);
        ASSERT_EQ(s.assigned, (uint64_t)RAM_PAGES - 2048); /* lost to the guest until it reboots */
        /* a new driver negotiates afresh and is never given those pages:
         * the memory it lacks comes as hot-added memory instead */
        connect_linux(&e);
        dmvsp_set_target(e.dm, RAM_PAGES);
        struct dm_hot_add h;
        g_recv(&e, DM_MEM_HOT_ADD_REQUEST, (uint8_t *)&h, sizeof h);
        ASSERT_EQ(DM_RANGE_START(h.range), WINDOW_PFN);
        ASSERT_EQ(stats(&e).unballoon_requests, 0u);
        env_free(&e);
}

/* Where a balloon request right after the capabilities comes from
 * (issue 60, docs/dynamic-memory.md): never from the device alone, even
 * with a pressure report in the same breath; from a target the VM already
 * has, which outlives a driver that went before it answered. */
TEST(a_balloon_request_right_after_the_capabilities_needs_a_target) {
        static struct env e;
        env_init(&e, 30000);
        connect_linux(&e);
        g_status(&e, 100, 100); /* a guest that uses almost nothing, at once */
        WAIT_FOR(status(&e).reported);
        g_nothing(&e, 600);
        ASSERT_EQ(stats(&e).balloon_requests, 0u);
        dmvsp_set_target(e.dm, RAM_PAGES - 2048);
        g_balloon_asked(&e, 2048);
        ASSERT_OK(vmbus_sim_close(e.sim, &e.ch)); /* unloaded before it answered */
        open_channel(&e);
        ASSERT_TRUE(g_version(&e, DM_VERSION_WIN10));
        g_caps(&e, LINUX_CAPS, true);
        g_balloon_asked(&e, 2048); /* the VM's target, asked of the new driver at once */
        ASSERT_EQ(status(&e).target, (uint64_t)RAM_PAGES - 2048);
        env_free(&e);
}

TEST(the_target_is_clamped_to_the_minimum_and_the_maximum) {
        static struct env e;
        env_init(&e, 30000);
        ASSERT_EQ(dmvsp_set_target(e.dm, 0), 1024u);
        ASSERT_EQ(dmvsp_set_target(e.dm, RAM_PAGES - 100), (uint64_t)RAM_PAGES - 512); /* 2 MiB steps */
        ASSERT_EQ(dmvsp_set_target(e.dm, UINT64_MAX), (uint64_t)RAM_PAGES + WINDOW_PAGES);
        env_free(&e);
}

TEST_MAIN();
