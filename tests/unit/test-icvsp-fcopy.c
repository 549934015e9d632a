// SPDX-License-Identifier: MIT
/* The file-copy integration service (vsp/ic/fcopy.c, hv/ic.h): offered with
 * its class, negotiated at 1.1 as Linux's hv_utils does; a file copied as
 * START_FILE_COPY (UTF-16 names, flags, size), WRITE_TO_FILE fragments of
 * 6144 bytes at increasing offsets (each a whole hv_do_fcopy, the next only
 * after the previous was answered) and COMPLETE_FCOPY; the owner hears
 * progress and the end. A guest's refusal of START ends it, of a WRITE
 * ends it with CANCEL_FCOPY; so do a host cancel and a file that shrank.
 * A pause holds the next request, a quiesce the START; timeouts, closes,
 * argument errors (a VM that cannot be saved while a copy runs is
 * test-icvsp-fcopy-state.c's). The
 * same service for Linux 6.10's hv_fcopy_uio_daemon: Hyper-V's instance,
 * one request per interrupt, answers without the request's trans_id. */
#include "tests/unit/test-icvsp-fcopy.h"

TEST(a_file_is_copied_in_fragments) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        env_fcopy(&e, 0);
        ASSERT_EQ(e.n_offers, 1);
        const struct vmbus_channel_offer_channel *o = find_offer(&e, fcopy_class);
        ASSERT_NOT_NULL(o);
        ASSERT_MEMEQ(o->if_instance, fcopy_instance, 16);
        ASSERT_EQ(o->chn_flags, VMBUS_CHANNEL_NAMED_PIPE_MODE | VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE);
        int fd = make_file(data, FILE_LEN);
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, fd, "/tmp", "f", FILE_LEN, 0), ENOTCONN); /* not opened yet */
        negotiated(&e, &ch);
        /* "café-😀.bin" into "/tmp/in box": é one unit, the emoji a surrogate pair */
        ASSERT_OK(icvsp_fcopy_start(e.ic, fd, "/tmp/in box", "caf\xc3\xa9-\xf0\x9f\x98\x80.bin", FILE_LEN,
                                    FCOPY_OVER_WRITE | FCOPY_CREATE_PATH));
        ASSERT_TRUE(icvsp_fcopy_busy(e.ic));
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, fd, "/tmp", "g", 1, 0), EBUSY); /* one copy at a time */

        struct hv_start_fcopy s, want = { .hdr.operation = START_FILE_COPY, .copy_flags = 3, .file_size = FILE_LEN };
        memcpy(&s, expect_op(&e, &ch, START_FILE_COPY), sizeof s);
        static const uint16_t file[] = { 'c', 'a', 'f', 0xe9, '-', 0xd83d, 0xde00, '.', 'b', 'i', 'n', 0 };
        /* with the '/' that makes CREATE_PATH create "in box" too */
        static const uint16_t path[] = { '/', 't', 'm', 'p', '/', 'i', 'n', ' ', 'b', 'o', 'x', '/', 0 };
        uint16_t names[2][HV_FCOPY_W_MAX_PATH] = { { 0 } };
        put_u16s(names[0], file, ARRAY_SIZE(file));
        put_u16s(names[1], path, ARRAY_SIZE(path));
        memcpy((uint8_t *)&want + offsetof(struct hv_start_fcopy, file_name), names, sizeof names);
        ASSERT_MEMEQ(&s, &want, sizeof s); /* every byte: the rest of the names is 0 */
        guest_answer(&e, &ch, HV_S_OK);

        for (uint32_t off = 0; off < FILE_LEN; off += FRAG) {
                uint32_t n = MIN(FRAG, FILE_LEN - off);
                expect_write(&e, &ch, data, off, n);
                no_request(&e, &ch, 30); /* one at a time: the next waits for this answer */
                ASSERT_EQ(progresses(&e.o, NULL), 0u); /* below 1 MiB: only at the end */
                guest_answer(&e, &ch, HV_S_OK);
        }
        expect_op(&e, &ch, COMPLETE_FCOPY);
        ASSERT_EQ(dones(&e.o), 0u); /* the file is complete once the guest says so */
        ASSERT_TRUE(icvsp_fcopy_busy(e.ic));
        uint64_t bytes;
        ASSERT_EQ(progresses(&e.o, &bytes), 1u);
        ASSERT_EQ(bytes, (uint64_t)FILE_LEN);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, 0, HV_S_OK, FILE_LEN);
        no_request(&e, &ch, 100);

        /* The next copy may go; an empty file is START and COMPLETE. */
        ASSERT_OK(icvsp_fcopy_start(e.ic, fd, "/", "empty", 0, 0));
        memcpy(&s, expect_op(&e, &ch, START_FILE_COPY), sizeof s);
        ASSERT_EQ(s.path_name[0], '/');
        ASSERT_EQ(s.path_name[1], 0); /* "/" stays "/" */
        guest_answer(&e, &ch, HV_S_OK);
        expect_op(&e, &ch, COMPLETE_FCOPY);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, 0, HV_S_OK, 0);
        close(fd); /* the caller's: still open after the copies */
        env_free(&e);
}

/* The progress comes once a megabyte more was written and at the end, not
 * per fragment: 2 MiB + 100 bytes report at 171 fragments (the first past
 * 1 MiB) and at the end (the next megabyte would end past the file). */
TEST(progress_every_megabyte) {
        static struct env e;
        static uint8_t data[(2u << 20) + 100];
        struct vmbus_sim_channel ch;
        env_fcopy(&e, 0);
        int fd = make_file(data, sizeof data);
        negotiated(&e, &ch);
        started(&e, &ch, fd, sizeof data);
        const uint64_t first = 171 * FRAG;
        unsigned writes = 0;
        for (uint64_t off = 0; off < sizeof data; off += FRAG, writes++) {
                expect_write(&e, &ch, data, off, (uint32_t)MIN((uint64_t)FRAG, sizeof data - off));
                /* this WRITE went after the answer to the previous one */
                uint64_t bytes;
                ASSERT_EQ(progresses(&e.o, &bytes), off >= first ? 1u : 0u);
                if (off >= first)
                        ASSERT_EQ(bytes, first);
                guest_answer(&e, &ch, HV_S_OK);
        }
        ASSERT_EQ(writes, (unsigned)((sizeof data + FRAG - 1) / FRAG));
        expect_op(&e, &ch, COMPLETE_FCOPY);
        uint64_t bytes;
        ASSERT_EQ(progresses(&e.o, &bytes), 2u);
        ASSERT_EQ(bytes, (uint64_t)sizeof data);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, 0, HV_S_OK, sizeof data);
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
}

TEST(a_refused_start_ends_the_copy) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        env_fcopy(&e, 0);
        int fd = make_file(data, FILE_LEN);
        negotiated(&e, &ch);
        ASSERT_OK(icvsp_fcopy_start(e.ic, fd, "/tmp", "exists", FILE_LEN, 0));
        expect_op(&e, &ch, START_FILE_COPY);
        guest_answer(&e, &ch, HV_ERROR_ALREADY_EXISTS); /* the file exists, no OVER_WRITE */
        expect_done(&e, -EIO, HV_ERROR_ALREADY_EXISTS, 0);
        no_request(&e, &ch, 300); /* nothing to cancel: the guest created nothing */
        /* A guest without hv_fcopy_daemon answers E_FAIL at once. */
        ASSERT_OK(icvsp_fcopy_start(e.ic, fd, "/tmp", "f", FILE_LEN, 0));
        expect_op(&e, &ch, START_FILE_COPY);
        guest_answer(&e, &ch, HV_E_FAIL);
        expect_done(&e, -EIO, HV_E_FAIL, 0);
        no_request(&e, &ch, 100);
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
}

TEST(a_refused_write_is_cancelled) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        env_fcopy(&e, 0);
        int fd = make_file(data, FILE_LEN);
        negotiated(&e, &ch);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        guest_answer(&e, &ch, HV_S_OK);
        expect_write(&e, &ch, data, FRAG, FRAG);
        guest_answer(&e, &ch, HV_ERROR_DISK_FULL);
        expect_op(&e, &ch, CANCEL_FCOPY); /* the daemon deletes the partial file */
        ASSERT_EQ(dones(&e.o), 0u);
        ASSERT_TRUE(icvsp_fcopy_busy(e.ic));
        ASSERT_ERROR(icvsp_fcopy_cancel(e.ic), EALREADY); /* ending already */
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, -EIO, HV_ERROR_DISK_FULL, FRAG);
        no_request(&e, &ch, 300);
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
}

TEST(a_host_cancel_follows_the_outstanding_answer) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        env_fcopy(&e, 0);
        int fd = make_file(data, FILE_LEN);
        negotiated(&e, &ch);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        ASSERT_OK(icvsp_fcopy_cancel(e.ic));
        ASSERT_ERROR(icvsp_fcopy_cancel(e.ic), EALREADY);
        no_request(&e, &ch, 100); /* the WRITE is still the guest's */
        ASSERT_TRUE(icvsp_fcopy_busy(e.ic));
        guest_answer(&e, &ch, HV_S_OK);
        expect_op(&e, &ch, CANCEL_FCOPY);
        ASSERT_EQ(dones(&e.o), 0u);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, -ECANCELED, HV_S_OK, FRAG);
        /* Cancelled while its START is outstanding: CANCEL right after it. */
        ASSERT_OK(icvsp_fcopy_start(e.ic, fd, "/tmp", "f", FILE_LEN, 0));
        expect_op(&e, &ch, START_FILE_COPY);
        ASSERT_OK(icvsp_fcopy_cancel(e.ic));
        guest_answer(&e, &ch, HV_S_OK);
        expect_op(&e, &ch, CANCEL_FCOPY);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, -ECANCELED, HV_S_OK, 0);
        no_request(&e, &ch, 100);
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
}

/* The file shrank under the copy: the fragment cannot be read whole. */
TEST(a_short_read_is_cancelled) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        env_fcopy(&e, 0);
        int fd = make_file(data, FILE_LEN);
        negotiated(&e, &ch);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        ASSERT_OK(ftruncate(fd, 8000)); /* the second fragment has 1856 of its 6144 bytes */
        guest_answer(&e, &ch, HV_S_OK);
        expect_op(&e, &ch, CANCEL_FCOPY);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, -EIO, HV_S_OK, FRAG);
        /* An fd pread cannot read (a pipe): START, then CANCEL. */
        int p[2];
        ASSERT_OK(pipe(p));
        started(&e, &ch, p[0], 10);
        expect_op(&e, &ch, CANCEL_FCOPY);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, -EIO, HV_S_OK, 0);
        close(p[0]);
        close(p[1]);
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
}

TEST(argument_errors) {
        static struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, true, false); /* file copy not configured */
        ASSERT_NULL(find_offer(&e, fcopy_class));
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, 0, "/tmp", "f", 1, 0), ENOTSUP);
        ASSERT_ERROR(icvsp_fcopy_cancel(e.ic), ENOTSUP);
        ASSERT_FALSE(icvsp_fcopy_busy(e.ic));
        ASSERT_FALSE(icvsp_fcopy_ready(e.ic));
        env_free(&e);

        env_fcopy(&e, 0);
        ASSERT_FALSE(icvsp_fcopy_ready(e.ic));
        ASSERT_ERROR(icvsp_fcopy_cancel(e.ic), ENOENT);
        char n259[260], n260[261], e130[261], d258[259], d259[260], d259s[260];
        memset(n259, 'a', 259), n259[259] = 0;
        memset(n260, 'a', 260), n260[260] = 0;
        for (int i = 0; i < 130; i++) /* 130 UTF-16 units, 260 bytes of UTF-8 */
                memcpy(e130 + 2 * i, "\xc3\xa9", 2);
        e130[260] = 0;
        d258[0] = d259[0] = d259s[0] = '/';
        memset(d258 + 1, 'd', 257), d258[258] = 0;
        memset(d259 + 1, 'd', 258), d259[259] = 0;
        memset(d259s + 1, 'd', 257), d259s[258] = '/', d259s[259] = 0;
        static const struct {
                const char *dir, *name;
                uint32_t flags;
                int err;
        } cases[] = {
                { "/tmp", "", 0, EINVAL },           { "/tmp", "a/b", 0, EINVAL },
                { "/tmp", ".", 0, EINVAL },          { "/tmp", "..", 0, EINVAL },
                { "tmp", "f", 0, EINVAL },           { "", "f", 0, EINVAL },
                { "/tmp", "\xff", 0, EINVAL },       { "/t\xc3", "f", 0, EINVAL },
                { "/tmp", "f", 4, EINVAL },          { NULL, "f", 0, EINVAL },
                { "/tmp", NULL, 0, EINVAL },
                /* the names pass: the service is not negotiated */
                { "/tmp", "f", 3, ENOTCONN },        { "/", "..f", 0, ENOTCONN },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                ASSERT_ERROR(icvsp_fcopy_start(e.ic, 0, cases[i].dir, cases[i].name, 1, cases[i].flags),
                             cases[i].err);
        /* Lengths: 259 bytes of UTF-8 per name, the directory with its '/'. */
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, 0, "/tmp", n259, 1, 0), ENOTCONN);
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, 0, "/tmp", n260, 1, 0), EINVAL);
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, 0, "/tmp", e130, 1, 0), EINVAL);
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, 0, d258, "f", 1, 0), ENOTCONN);
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, 0, d259, "f", 1, 0), EINVAL);
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, 0, d259s, "f", 1, 0), ENOTCONN);
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, -1, "/tmp", "f", 1, 0), EBADF);
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, 0, "/tmp", "f", (uint64_t)INT64_MAX + 1, 0), EFBIG);

        /* Negotiated: the longest names reach the guest whole. */
        negotiated(&e, &ch);
        ASSERT_OK(icvsp_fcopy_start(e.ic, 0, d259s, n259, 0, 0));
        struct hv_start_fcopy s;
        memcpy(&s, expect_op(&e, &ch, START_FILE_COPY), sizeof s);
        ASSERT_EQ(s.file_name[258], 'a');
        ASSERT_EQ(s.file_name[259], 0);
        ASSERT_EQ(s.path_name[258], '/');
        ASSERT_EQ(s.path_name[259], 0);
        guest_answer(&e, &ch, HV_E_FAIL);
        expect_done(&e, -EIO, HV_E_FAIL, 0);
        env_free(&e);
}

/* While the VPs are stopped the next fragment waits for the resume; a
 * cancel then goes instead of it. Quiesced, a copy's START is held. */
TEST(a_pause_holds_the_next_request) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        struct icvsp_stats st;
        env_fcopy(&e, 0);
        int fd = make_file(data, FILE_LEN);
        negotiated(&e, &ch);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        uint64_t responses = stats_of(&e).responses;
        icvsp_pause(e.ic);
        guest_answer(&e, &ch, HV_S_OK);
        WAIT_STATS(&e, st, st.responses == responses + 1); /* read while paused */
        no_request(&e, &ch, 600);                            /* two ticks and more */
        icvsp_resume(e.ic);
        expect_write(&e, &ch, data, FRAG, FRAG);
        icvsp_pause(e.ic);
        guest_answer(&e, &ch, HV_S_OK);
        WAIT_STATS(&e, st, st.responses == responses + 2);
        ASSERT_OK(icvsp_fcopy_cancel(e.ic));
        no_request(&e, &ch, 300);
        icvsp_resume(e.ic);
        expect_op(&e, &ch, CANCEL_FCOPY);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, -ECANCELED, HV_S_OK, 2 * FRAG);

        ASSERT_OK(icvsp_quiesce(e.ic));
        ASSERT_OK(icvsp_fcopy_start(e.ic, fd, "/tmp", "f", FILE_LEN, 0));
        ASSERT_TRUE(icvsp_fcopy_busy(e.ic));
        ASSERT_ERROR(icvsp_fcopy_start(e.ic, fd, "/tmp", "f", FILE_LEN, 0), EBUSY);
        no_request(&e, &ch, 300);
        icvsp_resume(e.ic);
        expect_op(&e, &ch, START_FILE_COPY); /* once */
        guest_answer(&e, &ch, HV_S_OK);
        expect_write(&e, &ch, data, 0, FRAG);
        ASSERT_OK(icvsp_fcopy_cancel(e.ic));
        guest_answer(&e, &ch, HV_S_OK);
        expect_op(&e, &ch, CANCEL_FCOPY);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, -ECANCELED, HV_S_OK, FRAG);
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
}

/* The file-copy timeout waits out Linux's own (HV_UTIL_TIMEOUT, counted in
 * the guest's time): a guest whose clock runs 10x slow (time dilation) is
 * given 10x the time; a dilation set later (a restore that brought another
 * host's) judges the request outstanding. */
TEST(a_guest_with_a_slow_clock_is_given_its_own_time) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        struct icvsp_config c = fcopy_config(200);
        c.time_dilation = 10;
        env_init_cfg(&e, &c);
        int fd = make_file(data, FILE_LEN);
        negotiated(&e, &ch);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        usleep(500000); /* past 200 ms, short of 2 s */
        ASSERT_EQ(dones(&e.o), 0u);
        ASSERT_EQ(stats_of(&e).timeouts, 0u);
        icvsp_set_time_dilation(e.ic, 0); /* 1: 500 ms is past 200 */
        expect_done(&e, -ETIMEDOUT, HV_S_OK, 0);
        ASSERT_EQ(stats_of(&e).timeouts, 1u);
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
}

/* A guest that stops answering: the copy fails at the timeout and nothing
 * more goes; its late answer is stale, and the next copy may start. */
TEST(an_unanswered_request_times_out) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        env_fcopy(&e, 300);
        int fd = make_file(data, FILE_LEN);
        negotiated(&e, &ch);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        expect_done(&e, -ETIMEDOUT, HV_S_OK, 0);
        ASSERT_EQ(stats_of(&e).timeouts, 1u);
        no_request(&e, &ch, 400);
        guest_answer(&e, &ch, HV_S_OK); /* too late */
        struct icvsp_stats st;
        WAIT_STATS(&e, st, st.stale_answers == 1);
        ASSERT_EQ(dones(&e.o), 0u);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        guest_answer(&e, &ch, HV_S_OK);
        expect_write(&e, &ch, data, FRAG, FRAG);
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
}

/* ---- hv_fcopy_uio_daemon (Linux 6.10 on, tools/hv) on uio_hv_generic ---- */

/* The daemon's side: it reads one packet per interrupt (pread on the uio
 * fd), answers it in place with TRANSACTION|RESPONSE as an inband packet
 * without completion, trans_id VMBUS_RQST_ERROR (vmbus_bufring.c) and no
 * signal, then write()s the uio fd: hv_uio_irqcontrol clears the ring's
 * interrupt_mask and signals the host. uio_hv_generic up to "Let
 * userspace take care of interrupt mask" (6.12.y) sets the mask at each
 * interrupt (hv_uio_channel_cb); later ones leave it clear. */
struct uio_guest {
        struct env *e;
        struct vmbus_sim_channel *ch;
        bool masks; /* the driver masks at the interrupt */
};

/* pread: the channel's next interrupt (its event flag, VP 0). */
static bool uio_interrupt(struct uio_guest *g) {
        for (int i = 0; i < 3000; i++) {
                if (vmbus_sim_take_event(g->e->sim, 0, g->ch->relid)) {
                        if (g->masks)
                                __atomic_store_n(&g->ch->in.hdr->interrupt_mask, 1u, __ATOMIC_SEQ_CST);
                        return true;
                }
                usleep(1000);
        }
        return false;
}

/* The host wrote a packet the guest has not read. */
static bool uio_unread(struct uio_guest *g) {
        return __atomic_load_n(&g->ch->in.hdr->write_index, __ATOMIC_SEQ_CST) !=
               __atomic_load_n(&g->ch->in.hdr->read_index, __ATOMIC_SEQ_CST);
}

/* The answer to the request in e->payload, then the write() on the uio fd;
 * with next, only once the host sent its next request (its 250 ms poll
 * finds the answer first): a driver that masks has it masked then. */
static void uio_answer(struct uio_guest *g, uint32_t status, bool next) {
        struct env *e = g->e;
        struct icmsg_hdr h;
        memcpy(&h, e->payload + sizeof(struct vmbuspipe_hdr), sizeof h);
        h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
        h.status = status;
        memcpy(e->payload + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        static uint8_t pkt[16 + sizeof e->payload];
        ASSERT_EQ(e->len % 8, 0u);
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2,
                                         .len8 = (uint16_t)((16 + e->len) / 8), .trans_id = UINT64_MAX };
        memcpy(pkt, &d, sizeof d);
        memcpy(pkt + sizeof d, e->payload, e->len);
        ASSERT_OK(vmbus_sim_ring_write_raw(e->sim, g->ch, pkt, sizeof d + e->len, false));
        for (int i = 0; next && i < 3000 && !uio_unread(g); i++)
                usleep(1000);
        ASSERT_EQ(uio_unread(g), next);
        __atomic_store_n(&g->ch->in.hdr->interrupt_mask, 0u, __ATOMIC_SEQ_CST);
        ASSERT_OK(vmbus_sim_signal(e->sim, g->ch->connection_id));
}

/* The daemon opens the device (the channel) and answers the negotiate as
 * its vmbus_prep_negotiate_resp does: framework 3.0, file copy 1.1. */
static void uio_negotiated(struct uio_guest *g) {
        struct env *e = g->e;
        const struct vmbus_channel_offer_channel *o = find_offer(e, fcopy_class);
        ASSERT_NOT_NULL(o);
        ASSERT_EQ(vmbus_sim_open(e->sim, o->child_relid, o->connection_id, 4, NULL, 0, g->ch), 0);
        ASSERT_TRUE(uio_interrupt(g));
        struct icmsg_hdr h;
        host_request_ms(e, g->ch, &h, 100);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
        h.icmsgsize = IC_NEGOTIATE_RESPONSE_SIZE;
        memcpy(e->payload + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        struct icmsg_negotiate n = { .icframe_vercnt = 1, .icmsg_vercnt = 1 };
        struct ic_version chosen[2] = { { 3, 0 }, { 1, 1 } };
        memcpy(e->payload + ICMSG_HDR, &n, sizeof n);
        memcpy(e->payload + ICMSG_HDR + sizeof n, chosen, sizeof chosen);
        uio_answer(g, HV_S_OK, false);
        for (int i = 0; i < 5000 && !icvsp_fcopy_ready(e->ic); i++)
                usleep(1000);
        ASSERT_TRUE(icvsp_fcopy_ready(e->ic));
}

/* Each request comes with its own interrupt, also one sent while the
 * driver had the ring masked (signalled once the daemon unmasks); the
 * answers, matched by the icmsg header's transaction id, carry the copy
 * through, and a refused START (the file exists) ends the next one. */
TEST(hv_fcopy_uio_daemon_copies_a_file) {
        for (int masks = 0; masks < 2; masks++) {
                static struct env e;
                static uint8_t data[FILE_LEN];
                struct vmbus_sim_channel ch;
                struct uio_guest g = { &e, &ch, masks };
                env_fcopy(&e, 0);
                const struct vmbus_channel_offer_channel *o = find_offer(&e, fcopy_class);
                ASSERT_NOT_NULL(o);
                /* /sys/bus/vmbus/devices/eb765408-105f-49b6-b4aa-c123b64d17d4/uio */
                struct guid inst;
                ASSERT_OK(guid_from_string("eb765408-105f-49b6-b4aa-c123b64d17d4", &inst));
                ASSERT_MEMEQ(o->if_instance, inst.b, 16);
                int fd = make_file(data, FILE_LEN);
                uio_negotiated(&g);
                ASSERT_OK(icvsp_fcopy_start(e.ic, fd, "/tmp", "f", FILE_LEN, 0));
                ASSERT_TRUE(uio_interrupt(&g));
                expect_op(&e, &ch, START_FILE_COPY);
                uio_answer(&g, HV_S_OK, true);
                for (uint32_t off = 0; off < FILE_LEN; off += FRAG) {
                        ASSERT_TRUE(uio_interrupt(&g));
                        expect_write(&e, &ch, data, off, MIN(FRAG, FILE_LEN - off));
                        uio_answer(&g, HV_S_OK, true);
                }
                ASSERT_TRUE(uio_interrupt(&g));
                expect_op(&e, &ch, COMPLETE_FCOPY);
                uio_answer(&g, HV_S_OK, false);
                expect_done(&e, 0, HV_S_OK, FILE_LEN);

                ASSERT_OK(icvsp_fcopy_start(e.ic, fd, "/tmp", "f", FILE_LEN, 0));
                ASSERT_TRUE(uio_interrupt(&g));
                expect_op(&e, &ch, START_FILE_COPY);
                uio_answer(&g, HV_ERROR_ALREADY_EXISTS, false);
                expect_done(&e, -EIO, HV_ERROR_ALREADY_EXISTS, 0);
                struct icvsp_stats st = stats_of(&e);
                ASSERT_EQ(st.stale_answers + st.bad_packets + st.timeouts, 0u);

                /* An answer with another transaction id is not the
                 * outstanding request's. */
                ASSERT_OK(icvsp_fcopy_start(e.ic, fd, "/tmp", "f", FILE_LEN, 0));
                ASSERT_TRUE(uio_interrupt(&g));
                expect_op(&e, &ch, START_FILE_COPY);
                e.payload[sizeof(struct vmbuspipe_hdr) + offsetof(struct icmsg_hdr, ictransaction_id)]++;
                uio_answer(&g, HV_S_OK, false);
                WAIT_STATS(&e, st, st.stale_answers == 1);
                ASSERT_EQ(dones(&e.o), 0u);
                env_free(&e);
                close(fd);
        }
}

static bool done_once(struct owner *o) {
        return o->fcopy_dones == 1;
}

/* The guest closes the channel with a request outstanding, or between two
 * (paused, the answer read): either way the owner hears ECONNRESET once. */
TEST(a_close_ends_the_copy) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        struct icvsp_stats st;
        env_fcopy(&e, 0);
        int fd = make_file(data, FILE_LEN);
        negotiated(&e, &ch);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        ASSERT_OK(vmbus_sim_close(e.sim, &ch));
        expect_done(&e, -ECONNRESET, HV_S_OK, 0);
        ASSERT_FALSE(icvsp_fcopy_ready(e.ic));

        negotiated(&e, &ch);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        uint64_t responses = stats_of(&e).responses;
        icvsp_pause(e.ic);
        guest_answer(&e, &ch, HV_S_OK);
        WAIT_STATS(&e, st, st.responses == responses + 1);
        ASSERT_OK(vmbus_sim_close(e.sim, &ch));
        expect_done(&e, -ECONNRESET, HV_S_OK, FRAG);
        icvsp_resume(e.ic);
        ASSERT_FALSE(wait_owner(&e.o, done_once, 300)); /* reported once */
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
}

int main(void) {
        return test_run_all_(NULL);
}
