// SPDX-License-Identifier: MIT
/* The synthetic keyboard and mouse (vsp/input, docs/input.md) against a
 * simulated guest doing on the wire what Linux 6.1's hyperv_keyboard and
 * hid_hyperv do: the keyboard's PROTOCOL_REQUEST (1.0, completion
 * requested) and its keystrokes turned into the serio bytes atkbd reads;
 * the mouse's pipe-framed PROTOCOL_REQUEST (2.0), the device info checked
 * as mousevsc_on_receive_device_info checks it, its report descriptor
 * parsed by a small HID parser of this file, the ACK, and input reports
 * read through the fields that parser found. Also what a hostile guest
 * does: every malformed or out-of-turn message, a broken ring. The
 * queues, quiesce and saved state are in test-inputvsp-state.c. */
#include <pthread.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/test.h"
#include "hv/input.h"
#include "hv/vmbus.h"
#include "inputvsp/inputvsp.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#include "tests/unit/test-inputvsp-guest.h"

/* ---- tests ---- */

TEST(offers_a_keyboard_and_a_pipe_mode_mouse_as_hyper_v_does) {
        static struct env e;
        env_init(&e, true, true);
        struct vmbus_channel_offer_channel offers[4];
        ASSERT_EQ(vmbus_sim_request_offers(e.sim, offers, 4), 2);
        static const uint8_t kcls[16] = HV_KBD_GUID, kinst[16] = HV_KBD_INSTANCE;
        static const uint8_t mcls[16] = HV_MOUSE_GUID, minst[16] = HV_MOUSE_INSTANCE;
        const struct vmbus_channel_offer_channel *k = NULL, *m = NULL;
        for (int i = 0; i < 2; i++) {
                if (!memcmp(offers[i].if_type, kcls, 16))
                        k = &offers[i];
                if (!memcmp(offers[i].if_type, mcls, 16))
                        m = &offers[i];
        }
        ASSERT_NOT_NULL(k);
        ASSERT_NOT_NULL(m);
        ASSERT_EQ(memcmp(k->if_instance, kinst, 16), 0);
        ASSERT_EQ(memcmp(m->if_instance, minst, 16), 0);
        ASSERT_EQ(k->chn_flags, 0u);
        ASSERT_EQ(m->chn_flags, VMBUS_CHANNEL_NAMED_PIPE_MODE);
        uint32_t pipe_mode;
        memcpy(&pipe_mode, m->user_def, 4);
        ASSERT_EQ(pipe_mode, VMBUS_PIPE_TYPE_MESSAGE);
        ASSERT_EQ(k->mmio_megabytes, 0u);
        env_free(&e);

        /* either can be configured off; both off is refused */
        env_init(&e, false, true);
        ASSERT_EQ(vmbus_sim_request_offers(e.sim, offers, 4), 1);
        ASSERT_EQ(memcmp(offers[0].if_type, mcls, 16), 0);
        ASSERT_ERROR(inputvsp_key(e.in, 0x1e, true), ENOTCONN);
        struct inputvsp *in = NULL;
        ASSERT_ERROR(inputvsp_new(e.srv, &(struct inputvsp_config){ 0 }, &owner_ops, &e.o, &in), EINVAL);
        ASSERT_NULL(in);
        env_free(&e);
}

TEST(keyboard_negotiates_and_keys_reach_atkbd_as_set_1_bytes) {
        static struct env e;
        env_init(&e, true, true);
        find_offers(&e);
        ASSERT_ERROR(inputvsp_key(e.in, 0x1e, true), ENOTCONN); /* not even open */
        g_open(&e, &e.kch, e.krelid, e.kconn, LINUX_RING_PAGES);
        ASSERT_ERROR(inputvsp_key(e.in, 0x1e, true), ENOTCONN); /* open, nothing asked */
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        bool kb, ms;
        inputvsp_status(e.in, &kb, &ms);
        ASSERT_TRUE(kb);
        ASSERT_FALSE(ms);
        ASSERT_EQ(changes(&e), 1u);

        /* plain, extended and Pause, down then up */
        static const struct {
                uint32_t sc;
                bool down;
                uint8_t bytes[3];
                size_t n;
        } keys[] = {
                { 0x1e, true, { 0x1e }, 1 },             /* A */
                { 0x1e, false, { 0x9e }, 1 },
                { 0xe01d, true, { 0xe0, 0x1d }, 2 },     /* right Ctrl */
                { 0xe01d, false, { 0xe0, 0x9d }, 2 },
                { 0xe04b, true, { 0xe0, 0x4b }, 2 },     /* cursor left */
                { 0xe04b, false, { 0xe0, 0xcb }, 2 },
                { 0xe11d, true, { 0xe1, 0x1d }, 2 },     /* Pause: E1 1D 45 E1 9D C5 */
                { 0x45, true, { 0x45 }, 1 },
                { 0xe11d, false, { 0xe1, 0x9d }, 2 },
                { 0x45, false, { 0xc5 }, 1 },
                { 0x7f, true, { 0x7f }, 1 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                ASSERT_OK(inputvsp_key(e.in, keys[i].sc, keys[i].down));
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                uint8_t bytes[3];
                ASSERT_EQ(g_kbd_serio(&e, bytes), keys[i].n);
                ASSERT_MEMEQ(bytes, keys[i].bytes, keys[i].n);
        }
        /* outside set 1 */
        static const uint32_t bad[] = { 0, 0x80, 0x9e, 0xff, 0x100, 0xe000, 0xe080, 0xe09d,
                                        0xe11e, 0xe145, 0xe21d, 0x1e01e, 0xffffffff };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                ASSERT_ERROR(inputvsp_key(e.in, bad[i], true), EINVAL);
        g_nothing(&e, &e.kch, 50);
        struct inputvsp_stats st = stats(&e);
        ASSERT_EQ(st.keys_sent, ARRAY_SIZE(keys));
        ASSERT_EQ(st.negotiations, 1u);
        ASSERT_EQ(st.bad_messages, 0u);
        env_free(&e);
}

TEST(keyboard_refuses_a_version_it_does_not_speak) {
        static struct env e;
        env_init(&e, true, false);
        find_offers(&e);
        g_open(&e, &e.kch, e.krelid, e.kconn, LINUX_RING_PAGES);
        ASSERT_FALSE(g_kbd_connect(&e, 0x00020000u));
        bool kb;
        inputvsp_status(e.in, &kb, NULL);
        ASSERT_FALSE(kb);
        ASSERT_ERROR(inputvsp_key(e.in, 0x1e, true), ENOTCONN);
        ASSERT_EQ(stats(&e).refused_versions, 1u);
        ASSERT_EQ(changes(&e), 0u);
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        ASSERT_OK(inputvsp_key(e.in, 0x1e, true));
        uint8_t b[3];
        ASSERT_EQ(g_kbd_serio(&e, b), 1u);
        env_free(&e);
}

TEST(mouse_presents_a_hid_device_linux_accepts) {
        static struct env e;
        env_init(&e, true, true);
        find_offers(&e);
        g_open(&e, &e.mch, e.mrelid, e.mconn, LINUX_RING_PAGES);
        ASSERT_TRUE(g_mouse_request(&e, SYNTHHID_INPUT_VERSION));
        struct g_devinfo di;
        g_mouse_device_info(&e, &di);
        ASSERT_EQ(di.vendor, 0x045eu);
        ASSERT_EQ(di.product, 0x0621u);
        /* the descriptor as the guest's HID core parses it: a mouse
         * application, 3 buttons, padding, absolute X/Y 0..32767, a
         * relative wheel, 6 bytes, no report ID */
        ASSERT_EQ(di.app_usage, 0x00010002u);
        ASSERT_EQ(di.nfields, 4);
        const struct hid_field *f = di.fields;
        ASSERT_EQ(f[0].page, 0x09u);
        ASSERT_EQ(f[0].usage_min, 1u);
        ASSERT_EQ(f[0].usage_max, 3u);
        ASSERT_EQ(f[0].bit, 0u);
        ASSERT_EQ(f[0].size * f[0].count, 3u);
        ASSERT_FALSE(f[0].relative);
        ASSERT_TRUE(f[1].constant);
        ASSERT_EQ(f[1].bit, 3u);
        ASSERT_EQ(f[2].page, 0x01u);
        ASSERT_EQ(f[2].nusages, 2);
        ASSERT_EQ(f[2].usages[0], 0x30u);
        ASSERT_EQ(f[2].usages[1], 0x31u);
        ASSERT_EQ(f[2].bit, 8u);
        ASSERT_EQ(f[2].size, 16u);
        ASSERT_EQ(f[2].count, 2u);
        ASSERT_EQ(f[2].lmin, 0);
        ASSERT_EQ(f[2].lmax, 32767);
        ASSERT_FALSE(f[2].relative);
        ASSERT_EQ(f[3].usages[0], 0x38u);
        ASSERT_TRUE(f[3].relative);
        ASSERT_EQ(f[3].lmin, -127);
        ASSERT_EQ(f[3].lmax, 127);
        ASSERT_EQ(di.report_bits, INPUT_POINTER_REPORT_SIZE * 8u);
        ASSERT_LE(INPUT_POINTER_REPORT_SIZE, SYNTHHID_MAX_INPUT_REPORT_SIZE);

        /* before the ACK: not there yet */
        bool ms;
        inputvsp_status(e.in, NULL, &ms);
        ASSERT_FALSE(ms);
        ASSERT_ERROR(inputvsp_pointer(e.in, 1, 1, 10, 10, 0, 0), ENOTCONN);
        ASSERT_EQ(changes(&e), 0u);
        g_mouse_ack(&e);
        WAIT_FOR(changes(&e) == 1);
        inputvsp_status(e.in, NULL, &ms);
        ASSERT_TRUE(ms);
        ASSERT_EQ(stats(&e).negotiations, 1u);
        env_free(&e);
}

TEST(pointer_reports_carry_scaled_absolute_coordinates_buttons_and_wheel) {
        static struct env e;
        env_init(&e, false, true);
        struct g_devinfo di;
        connect_mouse(&e, &di);
        static const struct {
                uint32_t x, y, w, h, buttons;
                int32_t wheel;
                int64_t ex, ey, eb, ew;
        } cases[] = {
                { 0, 0, 1024, 768, 0, 0, 0, 0, 0, 0 },
                { 1023, 767, 1024, 768, 0, 0, 32767, 32767, 0, 0 },
                { 5000, 900, 1024, 768, 0, 0, 32767, 32767, 0, 0 }, /* past the edge: the edge */
                { 512, 384, 1025, 769, INPUTVSP_BUTTON_LEFT, 0, 16384, 16384, 1, 0 },
                { 0, 0, 1, 1, INPUTVSP_BUTTON_RIGHT, 3, 0, 0, 2, 3 },
                { 10, 20, 11, 21, INPUTVSP_BUTTON_MIDDLE | INPUTVSP_BUTTON_LEFT, -127, 32767, 32767, 5, -127 },
                { 100, 200, 1920, 1080, 7, 127, 1708, 6074, 7, 127 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                ASSERT_OK(inputvsp_pointer(e.in, cases[i].x, cases[i].y, cases[i].w, cases[i].h, cases[i].buttons,
                                           cases[i].wheel));
                /* one at a time: a queued move would be coalesced */
                int64_t v[4];
                g_mouse_report(&e, &di, v);
                ASSERT_EQ(v[2], cases[i].ex);
                ASSERT_EQ(v[3], cases[i].ey);
                ASSERT_EQ(v[0], cases[i].eb);
                ASSERT_EQ(v[1], cases[i].ew);
        }
        ASSERT_ERROR(inputvsp_pointer(e.in, 0, 0, 0, 768, 0, 0), EINVAL);
        ASSERT_ERROR(inputvsp_pointer(e.in, 0, 0, 1024, 0, 0, 0), EINVAL);
        ASSERT_ERROR(inputvsp_pointer(e.in, 0, 0, 1024, 768, 8, 0), EINVAL);
        ASSERT_ERROR(inputvsp_pointer(e.in, 0, 0, 1024, 768, 0, 128), EINVAL);
        ASSERT_ERROR(inputvsp_pointer(e.in, 0, 0, 1024, 768, 0, -128), EINVAL);
        g_nothing(&e, &e.mch, 50);
        ASSERT_EQ(stats(&e).reports_sent, ARRAY_SIZE(cases));
        env_free(&e);
}

TEST(hostile_keyboard_messages_are_counted_and_ignored) {
        static struct env e;
        env_init(&e, true, false);
        find_offers(&e);
        g_open(&e, &e.kch, e.krelid, e.kconn, LINUX_RING_PAGES);
        uint8_t buf[1024] = { 0 };
        uint32_t t;
        /* (the ring pads every payload to 8 bytes: a message shorter than
         * that reads as one with zeros after it; the parser's own length
         * checks are in test-inputvsp-state.c and the fuzz target) */
        g_send(&e, &e.kch, buf, 2);                             /* type 0: unknown */
        t = SYNTH_KBD_PROTOCOL_RESPONSE;
        memcpy(buf, &t, 4);
        g_send(&e, &e.kch, buf, 8);                             /* a host message */
        t = SYNTH_KBD_EVENT;
        memcpy(buf, &t, 4);
        g_send(&e, &e.kch, buf, 12);                            /* a host message */
        t = 99;
        memcpy(buf, &t, 4);
        g_send(&e, &e.kch, buf, 8);                             /* unknown */
        t = SYNTH_KBD_PROTOCOL_REQUEST;
        memcpy(buf, &t, 4);
        ASSERT_OK(vmbus_sim_ring_write(e.sim, &e.kch, VM_PKT_COMP, 0, 1, buf, 8)); /* not in-band */
        g_send(&e, &e.kch, buf, 600);                           /* longer than anything we read */
        struct synth_kbd_led_indicators led = { .header.type = SYNTH_KBD_LED_INDICATORS,
                                                .led_flags = SYNTH_KBD_LED_NUM_LOCK };
        g_send(&e, &e.kch, &led, sizeof led);                   /* an LED message: read, not bad */
        WAIT_FOR(stats(&e).bad_messages == 6 && stats(&e).led_reports == 1);
        g_nothing(&e, &e.kch, 50);                              /* none answered */
        bool kb;
        inputvsp_status(e.in, &kb, NULL);
        ASSERT_FALSE(kb);
        /* and the keyboard still works */
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        ASSERT_OK(inputvsp_key(e.in, 0x10, true));
        uint8_t b[3];
        ASSERT_EQ(g_kbd_serio(&e, b), 1u);
        ASSERT_EQ(b[0], 0x10);
        ASSERT_EQ(stats(&e).bad_messages, 6u);
        env_free(&e);
}

TEST(hostile_mouse_messages_are_counted_and_ignored) {
        static struct env e;
        env_init(&e, false, true);
        find_offers(&e);
        g_open(&e, &e.mch, e.mrelid, e.mconn, LINUX_RING_PAGES);
        /* an ACK before any device info */
        g_mouse_ack(&e);
        uint8_t buf[64] = { 0 };
        struct synthhid_pipe_hdr pipe = { .type = SYNTHHID_PIPE_DATA, .size = 12 };
        struct synthhid_protocol_request req = { .header = { SYNTHHID_PROTOCOL_REQUEST, 4 },
                                                 .version_requested = SYNTHHID_INPUT_VERSION };
        #define PIPE_SEND(p_, m_, len_)                              \
                do {                                                 \
                        memcpy(buf, &(p_), 8);                       \
                        memcpy(buf + 8, &(m_), sizeof(m_));          \
                        g_send(&e, &e.mch, buf, (len_));             \
                } while (0)
        pipe.type = 0;
        PIPE_SEND(pipe, req, 20);                               /* not pipe data */
        pipe.type = SYNTHHID_PIPE_DATA;
        pipe.size = 40;
        PIPE_SEND(pipe, req, 20);                               /* pipe size past the payload */
        pipe.size = 4;
        PIPE_SEND(pipe, req, 20);                               /* pipe size below a header */
        pipe.size = 12;
        req.header.size = 9;
        PIPE_SEND(pipe, req, 20);                               /* message past the pipe */
        req.header.size = 2;
        PIPE_SEND(pipe, req, 20);                               /* a request without a version */
        req.header = (struct synthhid_msg_hdr){ SYNTHHID_INPUT_REPORT, 4 };
        PIPE_SEND(pipe, req, 20);                               /* a host message */
        req.header = (struct synthhid_msg_hdr){ 17, 4 };
        PIPE_SEND(pipe, req, 20);                               /* unknown */
        g_send(&e, &e.mch, buf, 5);                             /* shorter than a pipe header */
        struct synthhid_device_info_ack ack = { .header = { SYNTHHID_INITIAL_DEVICE_INFO_ACK, 0 } };
        pipe.size = 9;
        PIPE_SEND(pipe, ack, 17);                               /* an ACK of size 0 */
        #undef PIPE_SEND
        WAIT_FOR(stats(&e).bad_messages == 10);
        g_nothing(&e, &e.mch, 50);
        /* the real thing still works; an ACK after it is out of turn again */
        struct g_devinfo di;
        connect_mouse(&e, &di);
        g_mouse_ack(&e);
        WAIT_FOR(stats(&e).bad_messages == 11);
        ASSERT_OK(inputvsp_pointer(e.in, 0, 0, 2, 2, 0, 0));
        int64_t v[4];
        g_mouse_report(&e, &di, v);
        ASSERT_EQ(changes(&e), 1u);
        env_free(&e);
}

TEST(a_repeated_request_renegotiates_and_drops_what_waited) {
        static struct env e;
        env_init(&e, true, true);
        struct g_devinfo di;
        connect_mouse(&e, &di);
        ASSERT_OK(inputvsp_quiesce(e.in));
        ASSERT_OK(inputvsp_pointer(e.in, 1, 1, 4, 4, 1, 0));
        inputvsp_resume(e.in);
        int64_t v[4];
        g_mouse_report(&e, &di, v);
        /* a second request (hid_hyperv's resume path opens afresh, but a
         * guest may ask twice): answered, device info again, not
         * negotiated until the next ACK */
        ASSERT_TRUE(g_mouse_request(&e, SYNTHHID_INPUT_VERSION));
        g_mouse_device_info(&e, &di);
        bool ms;
        inputvsp_status(e.in, NULL, &ms);
        ASSERT_FALSE(ms);
        ASSERT_EQ(changes(&e), 2u); /* went, */
        g_mouse_ack(&e);
        WAIT_FOR(changes(&e) == 3); /* and came back */
        /* a refused version leaves it unnegotiated */
        ASSERT_FALSE(g_mouse_request(&e, 0x00010000u));
        inputvsp_status(e.in, NULL, &ms);
        ASSERT_FALSE(ms);
        g_mouse_ack(&e); /* out of turn after a refusal */
        WAIT_FOR(stats(&e).bad_messages == 1);
        ASSERT_EQ(stats(&e).refused_versions, 1u);
        env_free(&e);
}

TEST(a_broken_ring_kills_its_channel_only) {
        static struct env e;
        env_init(&e, true, true);
        find_offers(&e);
        g_open(&e, &e.kch, e.krelid, e.kconn, LINUX_RING_PAGES);
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        struct g_devinfo di;
        connect_mouse(&e, &di);
        ASSERT_EQ(changes(&e), 2u);
        /* the guest writes an impossible write_index into the mouse's ring */
        e.mch.out.hdr->write_index = 0xfffffff0u;
        ASSERT_OK(vmbus_sim_signal(e.sim, e.mch.connection_id));
        WAIT_FOR(changes(&e) == 3);
        bool kb, ms;
        inputvsp_status(e.in, &kb, &ms);
        ASSERT_TRUE(kb);
        ASSERT_FALSE(ms);
        ASSERT_ERROR(inputvsp_pointer(e.in, 0, 0, 2, 2, 0, 0), ENOTCONN);
        ASSERT_OK(inputvsp_key(e.in, 0x2c, true));
        uint8_t b[3];
        ASSERT_EQ(g_kbd_serio(&e, b), 1u);
        ASSERT_EQ(b[0], 0x2c);
        env_free(&e);
}

TEST(a_driver_that_goes_is_reported_and_can_come_back) {
        static struct env e;
        env_init(&e, true, false);
        find_offers(&e);
        g_open(&e, &e.kch, e.krelid, e.kconn, LINUX_RING_PAGES);
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        inputvsp_pause(e.in);
        ASSERT_OK(inputvsp_key(e.in, 0x1e, true));
        ASSERT_OK(inputvsp_key(e.in, 0x1e, false));
        g_nothing(&e, &e.kch, 50); /* paused: queued */
        ASSERT_OK(vmbus_sim_close(e.sim, &e.kch));
        ASSERT_EQ(changes(&e), 2u);
        ASSERT_EQ(stats(&e).dropped, 2u);
        bool kb;
        inputvsp_status(e.in, &kb, NULL);
        ASSERT_FALSE(kb);
        ASSERT_ERROR(inputvsp_key(e.in, 0x1e, true), ENOTCONN);
        inputvsp_resume(e.in);
        g_open(&e, &e.kch, e.krelid, e.kconn, LINUX_RING_PAGES);
        ASSERT_TRUE(g_kbd_connect(&e, SYNTH_KBD_VERSION));
        ASSERT_OK(inputvsp_key(e.in, 0x1f, true));
        uint8_t b[3];
        ASSERT_EQ(g_kbd_serio(&e, b), 1u);
        ASSERT_EQ(b[0], 0x1f);
        ASSERT_EQ(changes(&e), 3u);
        env_free(&e);
}

TEST_MAIN();
