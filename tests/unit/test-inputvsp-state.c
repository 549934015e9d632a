// SPDX-License-Identifier: MIT
/* The synthetic keyboard and mouse (vsp/input, docs/input.md): the
 * bounded queues and pointer coalescing, a guest that stops reading its
 * ring, pause and quiesce, and the saved state (KBCH, MSCH) restored into
 * a new server and inputvsp without the guest noticing; also the pure
 * parsers' length checks, which the ring's 8-byte padding hides from a
 * guest on the wire. The simulated guest is test-inputvsp-guest.h. */
#include "tests/lib/vmstate-file.h"
#include "tests/unit/test-inputvsp-guest.h"

TEST(parsers_check_every_length) {
        struct input_kbd_msg k;
        uint8_t b[32] = { 0 };
        uint32_t t = SYNTH_KBD_PROTOCOL_REQUEST, v = SYNTH_KBD_VERSION;
        memcpy(b, &t, 4);
        memcpy(b + 4, &v, 4);
        ASSERT_ERROR(input_kbd_parse(b, 3, &k), EBADMSG);
        ASSERT_ERROR(input_kbd_parse(b, 7, &k), EBADMSG);
        ASSERT_OK(input_kbd_parse(b, 8, &k));
        ASSERT_EQ(k.version, SYNTH_KBD_VERSION);
        ASSERT_OK(input_kbd_parse(b, 32, &k)); /* a longer one: tail ignored */
        t = SYNTH_KBD_LED_INDICATORS;
        memcpy(b, &t, 4);
        b[4] = SYNTH_KBD_LED_CAPS_LOCK;
        ASSERT_ERROR(input_kbd_parse(b, 5, &k), EBADMSG);
        ASSERT_OK(input_kbd_parse(b, 6, &k));
        ASSERT_EQ(k.led_flags, SYNTH_KBD_LED_CAPS_LOCK);
        for (t = 0; t < 8; t++) {
                memcpy(b, &t, 4);
                if (t != SYNTH_KBD_PROTOCOL_REQUEST && t != SYNTH_KBD_LED_INDICATORS)
                        ASSERT_ERROR(input_kbd_parse(b, 12, &k), ENOTSUP);
        }

        struct input_hid_msg h;
        struct synthhid_pipe_hdr pipe = { SYNTHHID_PIPE_DATA, 12 };
        struct synthhid_protocol_request req = { .header = { SYNTHHID_PROTOCOL_REQUEST, 4 },
                                                 .version_requested = SYNTHHID_INPUT_VERSION };
        memset(b, 0, sizeof b);
        memcpy(b, &pipe, 8);
        memcpy(b + 8, &req, sizeof req);
        ASSERT_OK(input_hid_parse(b, 20, &h));
        ASSERT_EQ(h.type, SYNTHHID_PROTOCOL_REQUEST);
        ASSERT_EQ(h.version, SYNTHHID_INPUT_VERSION);
        ASSERT_ERROR(input_hid_parse(b, 19, &h), EBADMSG); /* the pipe says 12, 11 are there */
        ASSERT_ERROR(input_hid_parse(b, 7, &h), EBADMSG);
        for (uint32_t type = 0; type < 8; type++) {
                req.header.type = type;
                memcpy(b + 8, &req, sizeof req);
                if (type != SYNTHHID_PROTOCOL_REQUEST && type != SYNTHHID_INITIAL_DEVICE_INFO_ACK)
                        ASSERT_ERROR(input_hid_parse(b, 20, &h), ENOTSUP);
        }
        /* the device info we build parses as what it is: a host message */
        uint8_t out[INPUT_MSG_MAX];
        size_t n = input_hid_build_device_info(out);
        ASSERT_ERROR(input_hid_parse(out, n, &h), ENOTSUP);
        ASSERT_EQ(n, 8u + sizeof(struct synthhid_device_info) + input_hid_report_descriptor_size);
}

TEST(queues_are_bounded_and_pointer_moves_coalesce) {
        static struct env e;
        env_init(&e, true, true);
        find_offers(&e);
        g_open(&e, &e.kch, e.krelid, e.kconn, LINUX_RING_PAGES);
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        struct g_devinfo di;
        connect_mouse(&e, &di);
        ASSERT_OK(inputvsp_quiesce(e.in));

        for (unsigned i = 0; i < INPUTVSP_KEY_QUEUE_MAX; i++)
                ASSERT_OK(inputvsp_key(e.in, 1 + i % 0x7f, i % 3 != 0));
        ASSERT_ERROR(inputvsp_key(e.in, 0x1e, true), EAGAIN);

        /* moves with the same buttons join the last report queued */
        ASSERT_OK(inputvsp_pointer(e.in, 10, 10, 100, 100, 0, 0));
        ASSERT_OK(inputvsp_pointer(e.in, 20, 20, 100, 100, 0, 2));
        ASSERT_OK(inputvsp_pointer(e.in, 30, 30, 100, 100, 0, -1)); /* wheel notches add up */
        ASSERT_OK(inputvsp_pointer(e.in, 30, 30, 100, 100, INPUTVSP_BUTTON_LEFT, 0)); /* a click: new */
        ASSERT_OK(inputvsp_pointer(e.in, 99, 99, 100, 100, INPUTVSP_BUTTON_LEFT, 0)); /* a drag: joins */
        ASSERT_OK(inputvsp_pointer(e.in, 99, 99, 100, 100, 0, 0));                    /* release: new */
        ASSERT_OK(inputvsp_pointer(e.in, 0, 0, 100, 100, 0, 127)); /* a move and a turn: joins the release */
        ASSERT_OK(inputvsp_pointer(e.in, 0, 0, 100, 100, 0, 1)); /* 128 notches do not fit: new */
        ASSERT_EQ(stats(&e).coalesced, 4u);
        /* 4 queued: fill with clicks (the first differs from the last queued) */
        for (unsigned i = 4; i < INPUTVSP_POINTER_QUEUE_MAX; i++)
                ASSERT_OK(inputvsp_pointer(e.in, i, i, 100, 100, i % 2 ? 0 : INPUTVSP_BUTTON_RIGHT, 0));
        uint32_t tail = (INPUTVSP_POINTER_QUEUE_MAX - 1) % 2 ? 0 : INPUTVSP_BUTTON_RIGHT;
        ASSERT_ERROR(inputvsp_pointer(e.in, 5, 5, 100, 100, tail ^ INPUTVSP_BUTTON_RIGHT, 0), EAGAIN);
        ASSERT_OK(inputvsp_pointer(e.in, 50, 60, 100, 100, tail, 0)); /* full, but a move still joins */
        ASSERT_EQ(stats(&e).refused, 2u);

        /* quiesced: nothing reaches either ring */
        g_nothing(&e, &e.kch, 50);
        g_nothing(&e, &e.mch, 10);
        ASSERT_EQ(stats(&e).keys_sent, 0u);
        inputvsp_resume(e.in);

        for (unsigned i = 0; i < INPUTVSP_KEY_QUEUE_MAX; i++) {
                uint8_t bytes[3];
                ASSERT_EQ(g_kbd_serio(&e, bytes), 1u);
                ASSERT_EQ(bytes[0], (uint8_t)((1 + i % 0x7f) | (i % 3 != 0 ? 0 : 0x80)));
        }
        static const int64_t want[4][4] = {
                { 0, 1, 9929, 9929 },   /* the last of three moves: 30/99 of 32767, 2 - 1 notches */
                { 1, 0, 32767, 32767 }, /* the click, dragged to the corner */
                { 0, 127, 0, 0 },       /* the release, moved to 0,0 by the move after it */
                { 0, 1, 0, 0 },
        };
        for (unsigned i = 0; i < INPUTVSP_POINTER_QUEUE_MAX; i++) {
                int64_t v[4];
                g_mouse_report(&e, &di, v);
                if (i < 4) {
                        ASSERT_EQ(v[0], want[i][0]);
                        ASSERT_EQ(v[1], want[i][1]);
                        ASSERT_EQ(v[2], want[i][2]);
                        ASSERT_EQ(v[3], want[i][3]);
                } else if (i < INPUTVSP_POINTER_QUEUE_MAX - 1) {
                        ASSERT_EQ(v[0], i % 2 ? 0 : 2);
                        ASSERT_EQ(v[2], (32767 * i + 49) / 99);
                } else {
                        ASSERT_EQ(v[2], 16549); /* the last move, joined: 50/99 */
                        ASSERT_EQ(v[3], 19859); /* 60/99 */
                }
        }
        g_nothing(&e, &e.mch, 50);
        struct inputvsp_stats st = stats(&e);
        ASSERT_EQ(st.keys_sent, INPUTVSP_KEY_QUEUE_MAX);
        ASSERT_EQ(st.reports_sent, INPUTVSP_POINTER_QUEUE_MAX);
        ASSERT_EQ(st.dropped, 0u);
        env_free(&e);
}

TEST(a_guest_that_stops_reading_only_loses_its_own_input) {
        static struct env e;
        env_init(&e, true, false);
        find_offers(&e);
        g_open(&e, &e.kch, e.krelid, e.kconn, 2); /* one page of ring each way */
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        /* the guest reads nothing: its ring fills, then the queue */
        unsigned accepted = 0, refusals = 0;
        while (refusals < 100) {
                int r = inputvsp_key(e.in, 1 + accepted % 0x7f, true);
                if (r == -EAGAIN) {
                        refusals++;
                        usleep(1000); /* the thread may still be moving the queue into the ring */
                        continue;
                }
                ASSERT_OK(r);
                accepted++;
                refusals = 0;
        }
        /* 4 KiB of 40-byte keystroke packets, then the queue */
        ASSERT_GE(accepted, INPUTVSP_KEY_QUEUE_MAX + 90u);
        ASSERT_LE(accepted, INPUTVSP_KEY_QUEUE_MAX + 103u);
        /* the guest catches up: every accepted key, once, in order (its
         * reads signal the host past pending_send_sz, which sends the rest) */
        for (unsigned i = 0; i < accepted; i++) {
                uint8_t b[3];
                ASSERT_EQ(g_kbd_serio(&e, b), 1u);
                ASSERT_EQ(b[0], 1 + i % 0x7f);
        }
        g_nothing(&e, &e.kch, 50);
        ASSERT_OK(inputvsp_key(e.in, 0x39, true));
        uint8_t b[3];
        ASSERT_EQ(g_kbd_serio(&e, b), 1u);
        ASSERT_EQ(b[0], 0x39);
        ASSERT_EQ(stats(&e).dropped, 0u);
        ASSERT_GE(stats(&e).refused, 100u);
        env_free(&e);
}

/* ---- saved state ---- */

static int save_server(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        return vmbus_server_save(opaque, w, err, errlen);
}

TEST(save_refused_unless_quiesced) {
        static struct env e;
        env_init(&e, true, false);
        find_offers(&e);
        g_open(&e, &e.kch, e.krelid, e.kconn, LINUX_RING_PAGES);
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        ASSERT_OK(vmbus_server_quiesce(e.srv));
        int fd = memfd_create("state", MFD_CLOEXEC);
        struct vmstate_writer *w;
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        char err[256] = "";
        ASSERT_ERROR(vmbus_server_save(e.srv, w, err, sizeof err), EBUSY);
        ASSERT_NOT_NULL(strstr(err, "not quiesced"));
        vmstate_writer_free(w);
        close(fd);
        vmbus_server_resume(e.srv);
        env_free(&e);
}

/* The KBCH section's phase field set to value (the CRCs are checked by
 * vmstate_index; decoding reads the section as given). */
static uint8_t *forge_phase(struct vmstate_section *secs, int n, uint8_t value) {
        for (int i = 0; i < n; i++) {
                if (secs[i].tag != INPUTVSP_KBD_STATE_TAG)
                        continue;
                uint8_t *payload = malloc(secs[i].length);
                memcpy(payload, secs[i].payload, secs[i].length);
                uint64_t off = 0;
                struct vmstate_field f;
                while (vmstate_next_field(&secs[i], &off, &f) > 0)
                        if (f.id == 1)
                                payload[f.value - secs[i].payload] = value;
                secs[i].payload = payload;
                return payload;
        }
        ASSERT_TRUE(false);
        return NULL;
}

TEST(a_restored_device_goes_on_where_it_was_without_the_guest_noticing) {
        static struct env e;
        env_init(&e, true, true);
        find_offers(&e);
        g_open(&e, &e.kch, e.krelid, e.kconn, LINUX_RING_PAGES);
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        /* the mouse is between its device info and its ACK */
        g_open(&e, &e.mch, e.mrelid, e.mconn, LINUX_RING_PAGES);
        ASSERT_TRUE(g_mouse_request(&e, SYNTHHID_INPUT_VERSION));
        struct g_devinfo di;
        g_mouse_device_info(&e, &di);
        ASSERT_EQ(changes(&e), 1u);

        ASSERT_OK(inputvsp_quiesce(e.in));
        ASSERT_OK(vmbus_server_quiesce(e.srv));
        ASSERT_OK(inputvsp_key(e.in, 0x02, true)); /* queued at the save: not saved */
        uint8_t *map;
        size_t len;
        struct vmstate_section secs[32];
        int n = vmstate_test_save(save_server, e.srv, &map, &len, secs, ARRAY_SIZE(secs));
        ASSERT_NOT_NULL(vmstate_find(secs, (size_t)n, INPUTVSP_KBD_STATE_TAG, e.krelid));
        ASSERT_NOT_NULL(vmstate_find(secs, (size_t)n, INPUTVSP_MOUSE_STATE_TAG, e.mrelid));
        vmbus_server_free(e.srv);
        inputvsp_free(e.in);

        /* A damaged keyboard section is refused, naming it; nothing applied. */
        env_build(&e);
        struct vmstate_section bad[32];
        memcpy(bad, secs, sizeof bad);
        uint8_t *payload = forge_phase(bad, n, 9);
        char err[300] = "";
        ASSERT_ERROR(vmbus_server_restore(e.srv, bad, (size_t)n, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "KBCH"));
        bool kb, ms;
        inputvsp_status(e.in, &kb, &ms);
        ASSERT_FALSE(kb);
        ASSERT_FALSE(ms);
        free(payload);
        vmbus_server_free(e.srv);
        inputvsp_free(e.in);

        /* The real one. */
        uint64_t c0 = changes(&e);
        env_build(&e);
        err[0] = 0;
        if (vmbus_server_restore(e.srv, secs, (size_t)n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        inputvsp_status(e.in, &kb, &ms);
        ASSERT_TRUE(kb);
        ASSERT_FALSE(ms);
        /* still quiesced: keys queue, nothing is written */
        ASSERT_OK(inputvsp_key(e.in, 0x03, true));
        ASSERT_OK(inputvsp_key(e.in, 0xe038, true)); /* right Alt */
        ASSERT_ERROR(inputvsp_pointer(e.in, 1, 1, 2, 2, 0, 0), ENOTCONN);
        g_nothing(&e, &e.kch, 50);
        ASSERT_EQ(changes(&e), c0);
        vmbus_server_resume(e.srv);
        inputvsp_resume(e.in);
        WAIT_FOR(changes(&e) == c0 + 1); /* the owner hears the keyboard is there */

        /* the first thing the guest sees is the keystrokes queued after
         * the restore: no second protocol response, nothing from before */
        uint8_t b[3];
        ASSERT_EQ(g_kbd_serio(&e, b), 1u);
        ASSERT_EQ(b[0], 0x03);
        ASSERT_EQ(g_kbd_serio(&e, b), 2u);
        ASSERT_EQ(b[0], 0xe0);
        ASSERT_EQ(b[1], 0x38);
        g_nothing(&e, &e.kch, 20);
        g_nothing(&e, &e.mch, 50); /* no device info again */
        /* the mouse's ACK, owed since before the save, completes it */
        g_mouse_ack(&e);
        WAIT_FOR(changes(&e) == c0 + 2);
        ASSERT_OK(inputvsp_pointer(e.in, 1, 1, 2, 2, INPUTVSP_BUTTON_MIDDLE, 0));
        int64_t v[4];
        g_mouse_report(&e, &di, v);
        ASSERT_EQ(v[0], 4);
        ASSERT_EQ(v[2], 32767);
        ASSERT_EQ(stats(&e).bad_messages, 0u);
        munmap(map, len);
        env_free(&e);
}

TEST(an_answer_owed_at_the_save_is_sent_after_the_restore) {
        static struct env e;
        env_init(&e, false, true);
        find_offers(&e);
        g_open(&e, &e.mch, e.mrelid, e.mconn, LINUX_RING_PAGES);
        /* the request arrives while the device is quiesced: it is in the
         * guest's ring, unread, at the save */
        ASSERT_OK(inputvsp_quiesce(e.in));
        struct synthhid_pipe_hdr pipe = { SYNTHHID_PIPE_DATA, sizeof(struct synthhid_protocol_request) };
        struct synthhid_protocol_request req = { .header = { SYNTHHID_PROTOCOL_REQUEST, 4 },
                                                 .version_requested = SYNTHHID_INPUT_VERSION };
        uint8_t buf[20];
        memcpy(buf, &pipe, 8);
        memcpy(buf + 8, &req, sizeof req);
        g_send(&e, &e.mch, buf, sizeof buf);
        ASSERT_OK(vmbus_server_quiesce(e.srv));
        uint8_t *map;
        size_t len;
        struct vmstate_section secs[32];
        int n = vmstate_test_save(save_server, e.srv, &map, &len, secs, ARRAY_SIZE(secs));
        vmbus_server_free(e.srv);
        inputvsp_free(e.in);
        env_build(&e);
        char err[300] = "";
        if (vmbus_server_restore(e.srv, secs, (size_t)n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        g_nothing(&e, &e.mch, 30);
        vmbus_server_resume(e.srv);
        inputvsp_resume(e.in);
        /* served at resume: the response, then the device info */
        uint8_t b[512];
        size_t got = g_recv(&e, &e.mch, b, sizeof b);
        struct synthhid_protocol_response r;
        ASSERT_GE(got, 8 + sizeof r);
        memcpy(&r, b + 8, sizeof r);
        ASSERT_EQ(r.header.type, SYNTHHID_PROTOCOL_RESPONSE);
        ASSERT_EQ(r.approved, 1u);
        struct g_devinfo di;
        g_mouse_device_info(&e, &di);
        g_mouse_ack(&e);
        bool ms = false;
        WAIT_FOR((inputvsp_status(e.in, NULL, &ms), ms));
        munmap(map, len);
        env_free(&e);
}

TEST(saved_sections_decode_only_what_the_device_could_have_done) {
        static const struct {
                uint8_t phase;
                uint32_t version;
                bool kbd_ok, mouse_ok;
        } cases[] = {
                { INPUT_KBD_WAIT_REQUEST, 0, true, true },
                { INPUT_KBD_WAIT_REQUEST, SYNTH_KBD_VERSION, false, false },
                { INPUT_KBD_OWE_REFUSAL, 0x00030000u, true, true },
                { INPUT_KBD_OWE_REFUSAL, SYNTH_KBD_VERSION, false, true },
                { INPUT_KBD_ACTIVE, SYNTH_KBD_VERSION, true, false },
                { INPUT_HID_OWE_INFO, SYNTHHID_INPUT_VERSION, false, true },
                { INPUT_HID_ACTIVE, SYNTHHID_INPUT_VERSION, false, true },
                { INPUT_HID_ACTIVE + 1, SYNTHHID_INPUT_VERSION, false, false },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct inputvsp_channel_state st = { .phase = cases[i].phase, .version = cases[i].version }, out;
                uint8_t *map;
                size_t len;
                struct vmstate_section secs[4];
                for (int which = 0; which < 2; which++) {
                        const struct vmstate_desc *d = which ? &inputvsp_mouse_state_desc : &inputvsp_kbd_state_desc;
                        int fd = memfd_create("st", MFD_CLOEXEC);
                        struct vmstate_writer *w;
                        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
                        ASSERT_OK(vmstate_encode(w, d, 7, &st));
                        ASSERT_OK(vmstate_finish(w));
                        len = (size_t)vmstate_written(w);
                        vmstate_writer_free(w);
                        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
                        close(fd);
                        struct vmstate_header h;
                        char err[200];
                        ASSERT_EQ(vmstate_index(map, len, &h, secs, 4, err, sizeof err), 1);
                        int r = which ? inputvsp_mouse_state_decode(&secs[0], &out, err, sizeof err)
                                      : inputvsp_kbd_state_decode(&secs[0], &out, err, sizeof err);
                        bool ok = which ? cases[i].mouse_ok : cases[i].kbd_ok;
                        if (ok) {
                                ASSERT_OK(r);
                                ASSERT_EQ(out.phase, st.phase);
                                ASSERT_EQ(out.version, st.version);
                        } else {
                                ASSERT_ERROR(r, EINVAL);
                                ASSERT_NOT_NULL(strstr(err, which ? "MSCH #7" : "KBCH #7"));
                        }
                        munmap(map, len);
                }
        }
}

TEST_MAIN();
