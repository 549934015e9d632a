// SPDX-License-Identifier: MIT
/* The synthetic keyboard's and mouse's guest-facing parsers (vsp/input):
 * any bytes as a keyboard message and as a pipe-framed mouse message
 * (whatever parses is a type the guest may send, read from inside the
 * bytes given); the first bytes as a key event and as a pointer event
 * (what is accepted becomes a keystroke or an input report within the
 * protocol's bounds, and our own messages never parse as the guest's);
 * the input as a keyboard and a mouse saved-state section (what decodes
 * is a phase and version the device could have been in). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/input.h"
#include "inputvsp/inputvsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void messages(const uint8_t *data, size_t size) {
        struct input_kbd_msg k;
        if (input_kbd_parse(data, size, &k) == 0 && k.type != SYNTH_KBD_PROTOCOL_REQUEST &&
            k.type != SYNTH_KBD_LED_INDICATORS)
                abort();
        struct input_hid_msg h;
        if (input_hid_parse(data, size, &h) == 0) {
                uint32_t pipe_size;
                if (size < 17)
                        abort(); /* a pipe header, a synthhid header and at least an ACK */
                memcpy(&pipe_size, data + 4, 4);
                if (pipe_size > size - 8 ||
                    (h.type != SYNTHHID_PROTOCOL_REQUEST && h.type != SYNTHHID_INITIAL_DEVICE_INFO_ACK))
                        abort();
        }
}

static void events(const uint8_t *data, size_t size) {
        uint8_t buf[INPUT_MSG_MAX];
        struct input_kbd_msg k;
        struct input_hid_msg h;
        uint32_t v[6] = { 0 };
        memcpy(v, data, size < sizeof v ? size : sizeof v);

        uint16_t make_code;
        uint32_t info;
        if (input_kbd_keystroke(v[0], v[1] & 1u, &make_code, &info) == 0) {
                if (make_code == 0 || make_code > 0x7f ||
                    (info & ~(SYNTH_KBD_IS_BREAK | SYNTH_KBD_IS_E0 | SYNTH_KBD_IS_E1)) ||
                    ((info & SYNTH_KBD_IS_E0) && (info & SYNTH_KBD_IS_E1)))
                        abort();
                size_t n = input_kbd_build_keystroke(buf, make_code, info);
                if (n != sizeof(struct synth_kbd_keystroke) || input_kbd_parse(buf, n, &k) != -ENOTSUP)
                        abort();
        }

        struct input_pointer_report r;
        if (input_pointer_report(v[0], v[1], v[2], v[3], v[4], (int32_t)v[5], &r) == 0) {
                if (r.x > INPUT_POINTER_ABS_MAX || r.y > INPUT_POINTER_ABS_MAX || r.buttons > 7 || r.wheel == -128)
                        abort();
                size_t n = input_hid_build_report(buf, &r);
                if (n != 16u + INPUT_POINTER_REPORT_SIZE || input_hid_parse(buf, n, &h) != -ENOTSUP)
                        abort();
        }
}

static void state(const uint8_t *data, size_t size) {
        struct vmstate_section s = { .tag = INPUTVSP_KBD_STATE_TAG, .version = 1, .payload = data, .length = size };
        struct inputvsp_channel_state st;
        char err[256];
        if (inputvsp_kbd_state_decode(&s, &st, err, sizeof err) == 0 &&
            (st.phase > INPUT_KBD_ACTIVE || (st.phase >= INPUT_KBD_OWE_ACCEPT) != (st.version == SYNTH_KBD_VERSION)))
                abort();
        s.tag = INPUTVSP_MOUSE_STATE_TAG;
        if (inputvsp_mouse_state_decode(&s, &st, err, sizeof err) == 0 &&
            (st.phase > INPUT_HID_ACTIVE ||
             (st.phase >= INPUT_HID_OWE_ACCEPT) != (st.version == SYNTHHID_INPUT_VERSION)))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        messages(data, size);
        events(data, size);
        state(data, size);
        return 0;
}
