// SPDX-License-Identifier: MIT
/* Post-copy's engine against a scripted other end (docs/migration.md
 * "Post-copy"; the two ends of test-postcopy-harness.h): a link cut after
 * the COMMIT between two of vmms's resumable relays is resumed; a source
 * that goes away, aborts, falls silent, loses the link, ends with pages
 * unsent or sends records out of place is a fatal failure with a sentence,
 * before or after the COMMIT; pages go only where they are missing; and
 * the source fails on a destination that refuses, speaks out of turn, asks
 * outside the RAM or falls silent. */
#include "tests/unit/test-postcopy-harness.h"

/* ---- a scripted source ---- */

static void send_rec(int fd, uint32_t type, uint64_t addr, uint64_t len, const void *payload) {
        uint8_t h[MIG_RECORD_HEADER];
        mig_record_encode(h, type, addr, len, payload ? vmstate_crc32c(0, payload, len) : 0);
        ASSERT_EQ(write(fd, h, sizeof h), (ssize_t)sizeof h);
        if (payload)
                ASSERT_EQ(write(fd, payload, len), (ssize_t)len);
}

/* An ABORT or REFUSE with its reason. */
static void send_text(int fd, uint32_t type, const char *text) {
        uint8_t h[MIG_RECORD_HEADER];
        mig_record_encode(h, type, 0, strlen(text), vmstate_crc32c(0, text, strlen(text)));
        ASSERT_EQ(write(fd, h, sizeof h), (ssize_t)sizeof h);
        ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* The type of the next record, from the destination or (from_source) the
 * source; a payload is skipped. */
static uint32_t recv_type_from(int fd, bool from_source) {
        struct mig_record rec;
        char why[256] = "";
        uint8_t hdr[MIG_RECORD_HEADER];
        ASSERT_EQ(read_exact(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
        ASSERT_OK(mig_record_parse(hdr, RAM, from_source, &rec, why, sizeof why));
        for (uint64_t left = mig_record_payload(&rec); left > 0;) {
                uint8_t skip[4096];
                ssize_t n = read(fd, skip, (size_t)MIN(left, (uint64_t)sizeof skip));
                ASSERT_TRUE(n > 0);
                left -= (uint64_t)n;
        }
        return rec.type;
}

static uint32_t recv_type(int fd) {
        return recv_type_from(fd, false);
}

/* Bitmap and "state" sent by hand: pages 0..63 missing. */
static void scripted_start(struct dest *t, int sv[2]) {
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        uint64_t bm[PAGES / 64] = { ~0ull };
        uint8_t h[MIG_RECORD_HEADER];
        mig_record_encode(h, MIG_POSTCOPY, 0, RAM, vmstate_crc32c(0, bm, sizeof bm));
        ASSERT_EQ(write(sv[0], h, sizeof h), (ssize_t)sizeof h);
        ASSERT_EQ(write(sv[0], bm, sizeof bm), (ssize_t)sizeof bm);
        send_rec(sv[0], MIG_STATE, 0, 0, NULL);
        start_dest(t, sv[1]);
        ASSERT_EQ(postcopy_dest_missing(t->d), 64u);
}

/* The scripted source hangs up; the destination goes. */
static void scripted_end(struct dest *t, int sv[2]) {
        close(sv[0]);
        postcopy_dest_free(t->d);
        munmap(t->ram, RAM);
}

/* The commit, the scripted source's COMMIT sent ahead of the READY it
 * answers: READY and RUNNING read back. */
static void committed(struct dest *t, int fd) {
        char err[256] = "";
        send_rec(fd, MIG_COMMIT, 0, 0, NULL);
        ASSERT_OK(postcopy_dest_commit(t->d, 5000, err, sizeof err));
        ASSERT_EQ(recv_type(fd), 0u + MIG_READY);
        ASSERT_EQ(recv_type(fd), 0u + MIG_RUNNING);
}

static void scripted_committed(struct dest *t, int sv[2]) {
        scripted_start(t, sv);
        committed(t, sv[0]);
}

/* Reads a page in a thread: stuck until the pager places it or gives up. */
struct reader {
        uint8_t *p;
        uint8_t got;
        pthread_t th;
};
static void *reader_main(void *arg) {
        struct reader *r = arg;
        r->got = *(volatile uint8_t *)r->p;
        return NULL;
}

/* The stream through two of vmms's resumable relays (vmms/migration/resume.c),
 * their link cut right after the COMMIT and again while the guest's
 * threads fault: the channel resumes each time, no page is lost or
 * overwritten, neither side notices more than a pause. */
TEST(a_link_cut_after_the_commit_is_resumed_by_the_relays) {
        char err[512] = "";
        if (postcopy_dest_available(err, sizeof err) < 0)
                TEST_SKIP("post-copy needs userfaultfd: %s", err);
        static struct link l;
        static struct side rs, rd;
        int net[2];
        link_init(&l, net);
        side_init(&rs, &l, true, net[0], 5000);
        side_init(&rd, &l, false, net[1], 5000);
        ASSERT_OK(-pthread_create(&rs.th, NULL, relay_main, &rs));
        ASSERT_OK(-pthread_create(&rd.th, NULL, relay_main, &rd));
        struct source s = { .fd = rs.app_fd, .ram = map_ram() };
        s.hooks = (struct postcopy_serve_hooks){ .progress = on_progress, .running = on_running, .opaque = &s };
        fill_source(s.ram);
        ASSERT_OK(-pthread_create(&s.t, NULL, source_main, &s));
        struct dest t = { 0 };
        start_dest(&t, rd.app_fd);
        ASSERT_OK(postcopy_dest_commit(t.d, 5000, err, sizeof err));
        cut(&l);
        struct toucher g[4];
        for (unsigned i = 0; i < 4; i++) {
                g[i] = (struct toucher){ .t = &t, .seed = i + 40, .write = i % 2 == 0 };
                ASSERT_OK(-pthread_create(&g[i].th, NULL, toucher_main, &g[i]));
        }
        usleep(2000);
        cut(&l);
        guests_and_source_end(g, 4, &t, &s);
        ASSERT_EQ(s.runnings, 1u);
        ASSERT_EQ(atomic_load(&t.fatal), 0);
        ASSERT_EQ(postcopy_dest_missing(t.d), 0u);
        for (uint64_t i = 0; i < PAGES; i++)
                ASSERT_TRUE(page_is_source(t.ram, i) || page_is_written(t.ram, i));
        postcopy_dest_free(t.d); /* closes rd.app_fd: the destination's FIN */
        (void)shutdown(rs.app_fd, SHUT_WR);
        pthread_join(rs.th, NULL);
        pthread_join(rd.th, NULL);
        close(rs.app_fd);
        fprintf(stderr, "relays: %u reconnects; source relay %d, destination relay %d\n", l.reconnects, rs.r, rd.r);
        ASSERT_TRUE(l.reconnects >= 1 && l.reconnects <= 2);
        ASSERT_OK(rs.r);
        ASSERT_OK(rd.r);
        munmap(t.ram, RAM), munmap(s.ram, RAM);
}

TEST(no_commit_when_the_source_goes_away_before_it) {
        int sv[2];
        char err[512] = "";
        struct dest t = { 0 };
        scripted_start(&t, sv);
        struct reader rd = { .p = t.ram + 5 * PAGE };
        ASSERT_OK(-pthread_create(&rd.th, NULL, reader_main, &rd));
        ASSERT_EQ(recv_type(sv[0]), (uint32_t)MIG_PAGE_REQ); /* the reader's fault */
        close(sv[0]);
        for (int i = 0; i < 5000 && !atomic_load(&t.fatal); i++)
                usleep(1000);
        ASSERT_STREQ(t.fatal_why, "post-copy: the source closed the stream with 64 pages still at the source");
        ASSERT_FALSE(t.fatal_committed);
        /* READY cannot go (EPIPE), or goes nowhere: no COMMIT either way. */
        ASSERT_TRUE(postcopy_dest_commit(t.d, 5000, err, sizeof err) < 0);
        pthread_join(rd.th, NULL); /* let go once on_fatal returned */
        postcopy_dest_free(t.d);
        munmap(t.ram, RAM);
}

TEST(an_abort_before_the_commit_is_reported) {
        int sv[2];
        char err[512] = "";
        struct dest t = { 0 };
        scripted_start(&t, sv);
        send_text(sv[0], MIG_ABORT, "cancelled by the operator");
        ASSERT_ERROR(postcopy_dest_commit(t.d, 5000, err, sizeof err), ECANCELED);
        ASSERT_STREQ(err, "the source gave up before committing: cancelled by the operator");
        scripted_end(&t, sv);
}

/* Before the COMMIT a silent source has failed (it keeps the VM); after
 * it, the guest here runs on its pages: silence is waited out (vmms's
 * relay may be waiting out a cut), and the pages still come. */
TEST(a_silent_source_is_fatal_only_before_the_commit) {
        int sv[2];
        char err[512] = "";
        struct dest t = { .idle_ms = 300 };
        scripted_start(&t, sv);
        for (int i = 0; i < 5000 && !atomic_load(&t.fatal); i++)
                usleep(1000);
        ASSERT_STREQ(t.fatal_why,
                     "post-copy: nothing from the source for 300 ms before its COMMIT, with 64 pages still there");
        ASSERT_FALSE(t.fatal_committed);
        scripted_end(&t, sv);

        t = (struct dest){ .idle_ms = 300 };
        scripted_committed(&t, sv);
        usleep(1500000); /* five times the limit before the COMMIT */
        ASSERT_EQ(atomic_load(&t.fatal), 0);
        ASSERT_EQ(postcopy_dest_missing(t.d), 64u);
        send_rec(sv[0], MIG_ZERO, 0, 64 * PAGE, NULL);
        send_rec(sv[0], MIG_POSTCOPY_END, 0, 0, NULL);
        ASSERT_OK(postcopy_dest_wait(t.d, 5000, err, sizeof err));
        ASSERT_EQ(recv_type(sv[0]), 0u + MIG_POSTCOPY_DONE);
        ASSERT_EQ(atomic_load(&t.fatal), 0);
        scripted_end(&t, sv);
}

TEST(the_link_lost_after_the_commit_is_fatal) {
        int sv[2];
        char err[512] = "";
        struct dest t = { 0 };
        scripted_committed(&t, sv);
        /* Half the pages, then the link goes. */
        uint8_t data[32 * PAGE];
        memset(data, 0x42, sizeof data);
        send_rec(sv[0], MIG_PAGES, 0, sizeof data, data);
        close(sv[0]);
        ASSERT_ERROR(postcopy_dest_wait(t.d, 5000, err, sizeof err), EIO);
        ASSERT_STREQ(err, "post-copy: the source closed the stream with 32 pages still at the source");
        ASSERT_EQ(atomic_load(&t.fatal), 1);
        ASSERT_TRUE(t.fatal_committed);
        ASSERT_EQ(t.ram[3 * PAGE + 17], 0x42);
        postcopy_dest_free(t.d);
        munmap(t.ram, RAM);
}

TEST(a_source_that_ends_with_pages_unsent_is_fatal) {
        int sv[2];
        char err[512] = "";
        struct dest t = { 0 };
        scripted_committed(&t, sv);
        send_rec(sv[0], MIG_ZERO, 0, 60 * PAGE, NULL);
        send_rec(sv[0], MIG_POSTCOPY_END, 0, 0, NULL);
        ASSERT_ERROR(postcopy_dest_wait(t.d, 5000, err, sizeof err), EIO);
        ASSERT_STREQ(err, "post-copy: the source ended with 4 pages never sent");
        scripted_end(&t, sv);
}

TEST(pages_go_only_where_they_are_missing) {
        int sv[2];
        char err[512] = "";
        struct dest t = { 0 };
        scripted_committed(&t, sv);
        /* Page 64 is not missing (pre-copy's copy is current): a record for
         * pages 60..67 changes 60..63 only; page 1, written here after a
         * first copy arrived, is not overwritten by a second. */
        uint8_t data[8 * PAGE];
        memset(data, 0x77, sizeof data);
        uint8_t before = t.ram[64 * PAGE];
        send_rec(sv[0], MIG_PAGES, 60 * PAGE, sizeof data, data);
        uint8_t one[PAGE];
        memset(one, 0x11, sizeof one);
        send_rec(sv[0], MIG_PAGES, 1 * PAGE, PAGE, one);
        while (postcopy_dest_missing(t.d) > 59)
                usleep(1000);
        t.ram[PAGE] = 0x99;
        memset(one, 0x22, sizeof one);
        send_rec(sv[0], MIG_PAGES, 1 * PAGE, PAGE, one);
        send_rec(sv[0], MIG_ZERO, 0, 64 * PAGE, NULL);
        send_rec(sv[0], MIG_POSTCOPY_END, 0, 0, NULL);
        ASSERT_OK(postcopy_dest_wait(t.d, 5000, err, sizeof err));
        ASSERT_EQ(recv_type(sv[0]), 0u + MIG_POSTCOPY_DONE);
        ASSERT_EQ(t.ram[60 * PAGE], 0x77);
        ASSERT_EQ(t.ram[64 * PAGE], before);
        ASSERT_EQ(t.ram[PAGE], 0x99);
        ASSERT_EQ(t.ram[PAGE + 1], 0x11);
        ASSERT_EQ(t.ram[2 * PAGE], 0);
        scripted_end(&t, sv);
}

/* vid's guard (vid_ram_set_guard) before a second mapping of RAM. */
struct prefaulter {
        struct postcopy_dest *d;
        uint64_t off, len;
        pthread_t th;
};
static void *prefault_main(void *arg) {
        struct prefaulter *f = arg;
        postcopy_dest_prefault(f->d, f->off, f->len);
        return NULL;
}

TEST(a_second_mapping_sees_pages_made_present_first) {
        int sv[2];
        char err[512] = "";
        struct dest t = { 0 };
        scripted_start(&t, sv);
        int fd = last_memfd;
        committed(&t, sv[0]);
        struct prefaulter f = { .d = t.d, .off = 10 * PAGE, .len = 2 * PAGE };
        ASSERT_OK(-pthread_create(&f.th, NULL, prefault_main, &f));
        /* The guard's touch of page 10 asks for it and the 15 after it. */
        uint8_t hdr[MIG_RECORD_HEADER];
        struct mig_record rec;
        ASSERT_EQ(read(sv[0], hdr, sizeof hdr), (ssize_t)sizeof hdr);
        ASSERT_OK(mig_record_parse(hdr, RAM, false, &rec, err, sizeof err));
        ASSERT_EQ(rec.type, 0u + MIG_PAGE_REQ);
        ASSERT_EQ(rec.addr, 10u * PAGE);
        ASSERT_EQ(rec.length, 16u * PAGE);
        uint8_t data[16 * PAGE];
        memset(data, 0x33, sizeof data);
        send_rec(sv[0], MIG_PAGES, 10 * PAGE, sizeof data, data);
        pthread_join(f.th, NULL);
        /* Page 11 came with it; nothing was asked for page 11 itself. */
        uint8_t *second = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 10 * PAGE);
        ASSERT_TRUE(second != MAP_FAILED);
        ASSERT_EQ(second[0], 0x33);
        ASSERT_EQ(second[PAGE + 5], 0x33);
        munmap(second, 4 * PAGE);
        /* Without the guard a missing page reads as a hole there, and the
         * copy arriving later finds it taken: why vid calls it. */
        uint8_t *raw = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 40 * PAGE);
        ASSERT_TRUE(raw != MAP_FAILED);
        ASSERT_EQ(raw[0], 0);
        munmap(raw, PAGE);
        /* A range with nothing missing costs nothing (no request). */
        postcopy_dest_prefault(t.d, 100 * PAGE, 64 * PAGE);
        memset(data, 0x44, sizeof data);
        send_rec(sv[0], MIG_PAGES, 26 * PAGE, 16 * PAGE, data);
        send_rec(sv[0], MIG_PAGES, 42 * PAGE, 16 * PAGE, data);
        send_rec(sv[0], MIG_ZERO, 0, 64 * PAGE, NULL);
        send_rec(sv[0], MIG_POSTCOPY_END, 0, 0, NULL);
        ASSERT_OK(postcopy_dest_wait(t.d, 5000, err, sizeof err));
        ASSERT_EQ(recv_type(sv[0]), 0u + MIG_POSTCOPY_DONE); /* no PAGE_REQ came before it */
        ASSERT_EQ(t.ram[40 * PAGE], 0); /* the hole the second mapping made stayed */
        ASSERT_EQ(t.ram[42 * PAGE], 0x44);
        scripted_end(&t, sv);
}

TEST(records_out_of_place_are_refused) {
        static const struct {
                uint32_t type;
                uint64_t addr, len;
                const char *why;
        } bad[] = {
                { MIG_PAGES, RAM, PAGE, "post-copy: record PAGES at RAM offset 0x800000, 4096 bytes: not aligned, "
                                        "empty, too long or beyond the 8 MiB of RAM" },
                { MIG_PASS, 3, 0, "post-copy: record type 3 after the state" },
                { MIG_STATE, 0, 0, "post-copy: record type 4 after the state" },
                { MIG_COMMIT, 0, 0, "post-copy: a COMMIT or ABORT after the COMMIT" },
        };
        for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
                int sv[2];
                char err[512] = "";
                struct dest t = { 0 };
                scripted_committed(&t, sv);
                if (bad[k].type == MIG_PAGES) { /* encoded by hand: the parser refuses it */
                        uint8_t page[PAGE] = { 0 };
                        send_rec(sv[0], MIG_PAGES, bad[k].addr, bad[k].len, page);
                } else
                        send_rec(sv[0], bad[k].type, bad[k].addr, bad[k].len, NULL);
                ASSERT_ERROR(postcopy_dest_wait(t.d, 5000, err, sizeof err), EIO);
                ASSERT_STREQ(err, bad[k].why);
                ASSERT_STREQ(t.fatal_why, bad[k].why);
                scripted_end(&t, sv);
        }
}

TEST(a_bitmap_with_bits_past_its_pages_is_refused) {
        char err[256] = "";
        struct postcopy_dest *d;
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        uint8_t *ram = map_ram();
        ASSERT_OK(postcopy_dest_new(ram, RAM, sv[1], 0, &d, err, sizeof err));
        uint64_t bm = 1ull << 40; /* a 32-page record's bit 40 */
        ASSERT_ERROR(postcopy_dest_mark(d, 0, 32 * PAGE, (const uint8_t *)&bm, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "POSTCOPY record: bits set past its 32 pages");
        ASSERT_ERROR(postcopy_dest_mark(d, PAGE, PAGE, (const uint8_t *)&bm, err, sizeof err), EINVAL);
        postcopy_dest_free(d);
        close(sv[0]);
        munmap(ram, RAM);
}

/* ---- the source against a scripted destination ---- */

struct serve {
        int fd;
        uint8_t *ram;
        uint64_t missing[PAGES / 64];
        int r;
        bool committed;
        char err[512];
        struct postcopy_stats st;
        pthread_t t;
        int timeout_ms; /* 0: 3000 */
};
static void *serve_main(void *arg) {
        struct serve *s = arg;
        s->r = postcopy_serve(s->fd, s->ram, RAM, s->missing, s->timeout_ms ?: 3000, NULL, &s->committed, &s->st,
                              s->err, sizeof s->err);
        return NULL;
}

TEST(the_source_fails_on_a_refusal_or_a_destination_out_of_turn) {
        static const struct {
                uint32_t first, second, third;
                const char *why;
                bool committed;
        } cases[] = {
                { MIG_REFUSE, 0, 0, "the destination gave up: no room", false },
                { MIG_RUNNING, 0, 0, "the destination reported running before COMMIT", false },
                { MIG_READY, MIG_READY, 0, "committed, but the destination sent READY again", true },
                { MIG_READY, MIG_RUNNING, MIG_RUNNING, "committed, but the destination sent RUNNING again", true },
                { MIG_READY, MIG_POSTCOPY_DONE, 0,
                  "committed, but the destination reported every page before the last", true },
                { MIG_ACCEPT, 0, 0, "the destination sent record type 16 in post-copy", false },
        };
        for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
                int sv[2];
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
                struct serve s = { .fd = sv[0], .ram = map_ram() };
                s.missing[0] = 1; /* one page: pushed at once */
                ASSERT_OK(-pthread_create(&s.t, NULL, serve_main, &s));
                if (cases[k].first == MIG_REFUSE)
                        send_text(sv[1], MIG_REFUSE, "no room");
                else
                        send_rec(sv[1], cases[k].first, 0, 0, NULL);
                if (cases[k].second)
                        send_rec(sv[1], cases[k].second, 0, 0, NULL);
                if (cases[k].third)
                        send_rec(sv[1], cases[k].third, 0, 0, NULL);
                pthread_join(s.t, NULL);
                ASSERT_TRUE(s.r < 0);
                ASSERT_STREQ(s.err, cases[k].why);
                ASSERT_EQ(s.committed, cases[k].committed);
                close(sv[0]), close(sv[1]);
                munmap(s.ram, RAM);
        }
}

TEST(the_source_refuses_a_request_outside_the_ram) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        struct serve s = { .fd = sv[0], .ram = map_ram() };
        ASSERT_OK(-pthread_create(&s.t, NULL, serve_main, &s));
        send_rec(sv[1], MIG_PAGE_REQ, RAM - PAGE, 2 * PAGE, NULL);
        pthread_join(s.t, NULL);
        ASSERT_ERROR(s.r, EINVAL);
        ASSERT_TRUE(strstr(s.err, "record PAGE_REQ at RAM offset 0x7ff000, 8192 bytes") != NULL);
        close(sv[0]), close(sv[1]);
        munmap(s.ram, RAM);
}

TEST(a_silent_destination_times_out) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        struct serve s = { .fd = sv[0], .ram = map_ram() };
        ASSERT_OK(-pthread_create(&s.t, NULL, serve_main, &s));
        pthread_join(s.t, NULL);
        ASSERT_ERROR(s.r, ETIMEDOUT);
        ASSERT_STREQ(s.err, "the destination sent nothing for 3000 ms");
        close(sv[0]), close(sv[1]);
        munmap(s.ram, RAM);
}

/* Once it sent the COMMIT the guest runs there on pages from here: a
 * destination silent for many times the timeout (a cut vmms waits out)
 * is waited for, and the move ends well when it speaks again. */
TEST(a_committed_source_waits_out_a_silent_destination) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        struct serve s = { .fd = sv[0], .ram = map_ram(), .timeout_ms = 200 };
        s.missing[0] = 1; /* one page: pushed at once */
        ASSERT_OK(-pthread_create(&s.t, NULL, serve_main, &s));
        send_rec(sv[1], MIG_READY, 0, 0, NULL);
        while (recv_type_from(sv[1], true) != MIG_COMMIT)
                ;
        usleep(1200000); /* six times the timeout */
        ASSERT_EQ(pthread_tryjoin_np(s.t, NULL), EBUSY);
        send_rec(sv[1], MIG_RUNNING, 0, 0, NULL);
        while (recv_type_from(sv[1], true) != MIG_POSTCOPY_END)
                ;
        send_rec(sv[1], MIG_POSTCOPY_DONE, 0, 0, NULL);
        pthread_join(s.t, NULL);
        if (s.r < 0)
                fprintf(stderr, "source: %s\n", s.err);
        ASSERT_OK(s.r);
        ASSERT_TRUE(s.committed);
        close(sv[0]), close(sv[1]);
        munmap(s.ram, RAM);
}

TEST_MAIN();
