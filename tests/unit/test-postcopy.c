// SPDX-License-Identifier: MIT
/* Post-copy's engine (vmwp/postcopy-send.c, postcopy.c, docs/migration.md "Post-copy")
 * without KVM: "guest RAM" is a shared mapping of a memfd on each side, the
 * stream a socketpair, the guest threads that read and write it. The
 * destination's pager takes real userfaultfd faults; the source serves from
 * its own mapping. Checked: every page ends as the source had it, or as a
 * thread here wrote it after the switch (never overwritten by a late copy);
 * faults are answered before the push reaches their pages; pages never
 * written are zero-filled here without asking; the commit needs the
 * source's COMMIT; a source that goes away, ends early, or sends records out
 * of place is a fatal failure with a sentence, before or after the COMMIT;
 * a destination that refuses or speaks out of turn fails the source; a
 * link cut after the COMMIT between two of vmms's resumable relays is
 * resumed and post-copy completes. The records and the guest threads are
 * here; the scripted source and destination are test-postcopy-script.c. */
#include "tests/unit/test-postcopy-harness.h"

/* ---- the records ---- */

static int parse_rec(uint32_t type, uint64_t addr, uint64_t len, bool from_source, struct mig_record *out, char *err) {
        uint8_t hdr[MIG_RECORD_HEADER];
        mig_record_encode(hdr, type, addr, len, 0);
        return mig_record_parse(hdr, RAM, from_source, out, err, 256);
}

TEST(post_copy_records_parse) {
        struct mig_record rec;
        char err[256] = "";
        /* POSTCOPY: from a bitmap word's first page, whole pages, inside RAM;
         * its payload a u64 per 64 pages. */
        ASSERT_OK(parse_rec(MIG_POSTCOPY, 0, RAM, true, &rec, err));
        ASSERT_EQ(mig_record_payload(&rec), (uint64_t)PAGES / 8);
        ASSERT_OK(parse_rec(MIG_POSTCOPY, 64 * PAGE, PAGE, true, &rec, err));
        ASSERT_EQ(mig_record_payload(&rec), 8u);
        ASSERT_ERROR(parse_rec(MIG_POSTCOPY, PAGE, PAGE, true, &rec, err), EINVAL);
        ASSERT_STREQ(err, "record POSTCOPY at RAM offset 0x1000, 4096 bytes: not aligned, empty, too long or beyond "
                          "the 8 MiB of RAM");
        ASSERT_ERROR(parse_rec(MIG_POSTCOPY, 0, RAM + 64 * PAGE, true, &rec, err), EINVAL);
        ASSERT_ERROR(parse_rec(MIG_POSTCOPY, 0, 0, true, &rec, err), EINVAL);
        ASSERT_ERROR(parse_rec(MIG_POSTCOPY, 0, 100, true, &rec, err), EINVAL);
        ASSERT_ERROR(parse_rec(MIG_POSTCOPY, 0, PAGE, false, &rec, err), EINVAL); /* the source's */
        /* PAGE_REQ: the destination's, page-aligned, at most 1 MiB, inside RAM. */
        ASSERT_OK(parse_rec(MIG_PAGE_REQ, 5 * PAGE, 16 * PAGE, false, &rec, err));
        ASSERT_EQ(mig_record_payload(&rec), 0u);
        ASSERT_ERROR(parse_rec(MIG_PAGE_REQ, 5 * PAGE, 16 * PAGE, true, &rec, err), EINVAL);
        ASSERT_ERROR(parse_rec(MIG_PAGE_REQ, 5 * PAGE + 1, PAGE, false, &rec, err), EINVAL);
        ASSERT_ERROR(parse_rec(MIG_PAGE_REQ, 0, MIG_PAGE_REQ_MAX + PAGE, false, &rec, err), EINVAL);
        ASSERT_ERROR(parse_rec(MIG_PAGE_REQ, RAM, PAGE, false, &rec, err), EINVAL);
        /* END and DONE carry nothing, each from its side. */
        ASSERT_OK(parse_rec(MIG_POSTCOPY_END, 0, 0, true, &rec, err));
        ASSERT_ERROR(parse_rec(MIG_POSTCOPY_END, 0, 0, false, &rec, err), EINVAL);
        ASSERT_ERROR(parse_rec(MIG_POSTCOPY_END, 0, 8, true, &rec, err), EINVAL);
        ASSERT_OK(parse_rec(MIG_POSTCOPY_DONE, 0, 0, false, &rec, err));
        ASSERT_ERROR(parse_rec(MIG_POSTCOPY_DONE, 8, 0, false, &rec, err), EINVAL);
        ASSERT_ERROR(parse_rec(MIG_POSTCOPY_DONE + 1, 0, 0, false, &rec, err), EINVAL);
        ASSERT_ERROR(parse_rec(MIG_DEVMEM_ZERO + 1, 0, 0, true, &rec, err), EINVAL); /* the last source type's next */
}

TEST(the_hello_announces_post_copy) {
        uint8_t buf[MIG_HELLO_MAX];
        char err[256];
        struct mig_hello h = { .major = MIG_MAJOR, .minor = MIG_MINOR, .page_size = PAGE, .ram_bytes = RAM,
                               .vcpus = 1, .flags = MIG_HELLO_POSTCOPY, .shape_len = 3 },
                         got;
        memcpy(h.shape, "uart", 4);
        h.shape[3] = 0;
        int n = mig_hello_encode(&h, buf, sizeof buf);
        ASSERT_GT(n, 0);
        ASSERT_EQ(mig_hello_parse(buf, (size_t)n, &got, err, sizeof err), n);
        ASSERT_EQ(got.flags, (uint64_t)MIG_HELLO_POSTCOPY);
        ASSERT_EQ(got.minor, (uint16_t)MIG_MINOR);
}

/* ---- guest threads ---- */

TEST(a_guest_runs_while_its_pages_arrive) {
        char err[512] = "";
        if (postcopy_dest_available(err, sizeof err) < 0)
                TEST_SKIP("post-copy needs userfaultfd: %s", err);
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        struct source s = { .fd = sv[0], .ram = map_ram() };
        s.hooks = (struct postcopy_serve_hooks){ .progress = on_progress, .running = on_running, .opaque = &s };
        fill_source(s.ram);
        ASSERT_OK(-pthread_create(&s.t, NULL, source_main, &s));
        struct dest t = { 0 };
        start_dest(&t, sv[1]);
        uint64_t want = 0;
        for (uint64_t i = 0; i < PAGES; i++)
                want += is_missing(i);
        ASSERT_EQ(t.marked, want);
        ASSERT_TRUE(postcopy_dest_missing(t.d) <= want);
        /* Touched before the commit (as a device's restore does), and after. */
        struct toucher g[6];
        for (unsigned i = 0; i < 6; i++) {
                g[i] = (struct toucher){ .t = &t, .seed = i + 10, .write = i % 2 == 0 };
                if (i < 2)
                        ASSERT_OK(-pthread_create(&g[i].th, NULL, toucher_main, &g[i]));
        }
        /* A page never written here, read before the COMMIT: the pager is
         * registered until the source's END, which needs the RUNNING that
         * the commit sends, so this read faults on a hole, whatever the
         * threads above manage to touch first. */
        uint64_t hole = 0;
        while (!zero_page(hole) || is_missing(hole))
                hole++;
        ASSERT_TRUE(page_is_source(t.ram, hole));
        ASSERT_OK(postcopy_dest_commit(t.d, 5000, err, sizeof err));
        for (unsigned i = 2; i < 6; i++)
                ASSERT_OK(-pthread_create(&g[i].th, NULL, toucher_main, &g[i]));
        guests_and_source_end(g, 6, &t, &s);
        /* Reported at the COMMIT (vmms refuses a cancel from then on) and
         * at the end, with nothing left. */
        ASSERT_TRUE(s.reports >= 2);
        ASSERT_TRUE(s.any_committed);
        ASSERT_EQ(s.last_left, 0u);
        /* Told once that the guest runs there (the worker lets its image
         * locks go then), after the COMMIT. */
        ASSERT_EQ(s.runnings, 1u);
        ASSERT_TRUE(s.running_after_commit);
        ASSERT_EQ(atomic_load(&t.fatal), 0);
        ASSERT_EQ(postcopy_dest_missing(t.d), 0u);
        for (uint64_t i = 0; i < PAGES; i++)
                if (!page_is_source(t.ram, i) && !page_is_written(t.ram, i)) {
                        fprintf(stderr, "page %llu (missing: %d) is neither the source's nor written here\n",
                                (unsigned long long)i, is_missing(i));
                        ASSERT_TRUE(false);
                }
        struct postcopy_stats ds;
        postcopy_dest_stats(t.d, &ds);
        fprintf(stderr,
                "missing %llu: requested %llu in %llu requests, pushed %llu (zero %llu); faults %llu (holes %llu); "
                "wait max %.2f ms; %llu bytes, %.1f ms\n",
                (unsigned long long)ds.missing_pages, (unsigned long long)ds.requested_pages,
                (unsigned long long)ds.requests, (unsigned long long)ds.pushed_pages,
                (unsigned long long)ds.zero_pages, (unsigned long long)ds.faults, (unsigned long long)ds.hole_faults,
                (double)ds.max_wait_ns / 1e6, (unsigned long long)ds.bytes, (double)ds.total_ns / 1e6);
        ASSERT_EQ(ds.missing_pages, s.st.missing_pages);
        ASSERT_TRUE(ds.faults > 0);
        ASSERT_TRUE(ds.hole_faults > 0); /* zero pages that were never missing: at least the one read above */
        ASSERT_TRUE(s.st.zero_pages > 0);  /* missing pages that are zero went as ZERO */
        /* Every missing page went once, asked for or pushed. */
        ASSERT_EQ(s.st.requested_pages + s.st.pushed_pages, s.st.missing_pages);
        ASSERT_EQ(ds.pushed_pages + ds.requested_pages, ds.missing_pages);
        postcopy_dest_free(t.d);
        munmap(t.ram, RAM), munmap(s.ram, RAM);
        close(sv[0]);
}

TEST_MAIN();
