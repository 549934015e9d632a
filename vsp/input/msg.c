// SPDX-License-Identifier: MIT
/* Keyboard and mouse messages (hv/input.h): what the guest sends, checked
 * and copied into plain fields; what the host sends, built; key and
 * pointer events turned into keystrokes and input reports; the mouse's
 * HID report descriptor. Pure: fuzzed by tests/fuzz/fuzz-input.c. */
#include <errno.h>
#include <string.h>

#include "hv/input.h"
#include "inputvsp/inputvsp.h"

/* ---- the mouse's report descriptor ----
 *
 * A generic HID mouse (Generic Desktop / Mouse application, Pointer
 * physical collection) with absolute X and Y, the layout Hyper-V's own
 * mouse has, so that Linux's hid-input maps it without quirks: buttons
 * 1-3 to BTN_LEFT/RIGHT/MIDDLE, X/Y to ABS_X/ABS_Y (0..32767), the wheel
 * (relative) to REL_WHEEL. One report, no report ID, 6 bytes:
 *   byte 0: buttons (bits 0-2), 5 bits of padding
 *   bytes 1-2: X, bytes 3-4: Y (little-endian)
 *   byte 5: wheel, signed
 * Byte 14 is 0x29 (Usage Maximum), which hid_hyperv's fix-up leaves alone
 * (hv/input.h SYNTHHID_REPORT_DESC_FIXUP_OFFSET). */
const uint8_t input_hid_report_descriptor[] = {
        0x05, 0x01,       /* Usage Page (Generic Desktop) */
        0x09, 0x02,       /* Usage (Mouse) */
        0xa1, 0x01,       /* Collection (Application) */
        0x09, 0x01,       /*   Usage (Pointer) */
        0xa1, 0x00,       /*   Collection (Physical) */
        0x05, 0x09,       /*     Usage Page (Button) */
        0x19, 0x01,       /*     Usage Minimum (1) */
        0x29, 0x03,       /*     Usage Maximum (3) */
        0x15, 0x00,       /*     Logical Minimum (0) */
        0x25, 0x01,       /*     Logical Maximum (1) */
        0x95, 0x03,       /*     Report Count (3) */
        0x75, 0x01,       /*     Report Size (1) */
        0x81, 0x02,       /*     Input (Data, Variable, Absolute): the buttons */
        0x95, 0x01,       /*     Report Count (1) */
        0x75, 0x05,       /*     Report Size (5) */
        0x81, 0x03,       /*     Input (Constant, Variable): padding */
        0x05, 0x01,       /*     Usage Page (Generic Desktop) */
        0x09, 0x30,       /*     Usage (X) */
        0x09, 0x31,       /*     Usage (Y) */
        0x15, 0x00,       /*     Logical Minimum (0) */
        0x26, 0xff, 0x7f, /*     Logical Maximum (32767) */
        0x75, 0x10,       /*     Report Size (16) */
        0x95, 0x02,       /*     Report Count (2) */
        0x81, 0x02,       /*     Input (Data, Variable, Absolute): X, Y */
        0x09, 0x38,       /*     Usage (Wheel) */
        0x15, 0x81,       /*     Logical Minimum (-127) */
        0x25, 0x7f,       /*     Logical Maximum (127) */
        0x75, 0x08,       /*     Report Size (8) */
        0x95, 0x01,       /*     Report Count (1) */
        0x81, 0x06,       /*     Input (Data, Variable, Relative): the wheel */
        0xc0,             /*   End Collection */
        0xc0,             /* End Collection */
};
const size_t input_hid_report_descriptor_size = sizeof input_hid_report_descriptor;

#define DEVICE_INFO_LEN (sizeof(struct synthhid_pipe_hdr) + sizeof(struct synthhid_device_info) + \
                         sizeof input_hid_report_descriptor)
_Static_assert(DEVICE_INFO_LEN <= INPUT_MSG_MAX, "device info fits the message buffer");
_Static_assert(INPUT_POINTER_REPORT_SIZE <= SYNTHHID_MAX_INPUT_REPORT_SIZE, "report size");

/* ---- guest -> host ---- */

int input_kbd_parse(const uint8_t *p, size_t len, struct input_kbd_msg *out) {
        struct synth_kbd_msg_hdr h;
        *out = (struct input_kbd_msg){ 0 };
        if (len < sizeof h)
                return -EBADMSG;
        memcpy(&h, p, sizeof h);
        out->type = h.type;
        switch (h.type) {
        case SYNTH_KBD_PROTOCOL_REQUEST: {
                struct synth_kbd_protocol_request m;
                if (len < sizeof m)
                        return -EBADMSG;
                memcpy(&m, p, sizeof m);
                out->version = m.version_requested;
                return 0;
        }
        case SYNTH_KBD_LED_INDICATORS: {
                struct synth_kbd_led_indicators m = { 0 };
                if (len < SYNTH_KBD_LED_MIN_SIZE)
                        return -EBADMSG;
                memcpy(&m, p, SYNTH_KBD_LED_MIN_SIZE);
                out->led_flags = m.led_flags;
                return 0;
        }
        default:
                return -ENOTSUP; /* the host's own types, or unknown */
        }
}

int input_hid_parse(const uint8_t *p, size_t len, struct input_hid_msg *out) {
        struct synthhid_pipe_hdr pipe;
        struct synthhid_msg_hdr h;
        *out = (struct input_hid_msg){ 0 };
        if (len < sizeof pipe)
                return -EBADMSG;
        memcpy(&pipe, p, sizeof pipe);
        /* The ring pads a payload to 8 bytes: the pipe size says how much
         * of it is the message. */
        if (pipe.type != SYNTHHID_PIPE_DATA || pipe.size > len - sizeof pipe || pipe.size < sizeof h)
                return -EBADMSG;
        const uint8_t *m = p + sizeof pipe;
        memcpy(&h, m, sizeof h);
        if (h.size > pipe.size - sizeof h)
                return -EBADMSG;
        out->type = h.type;
        switch (h.type) {
        case SYNTHHID_PROTOCOL_REQUEST: {
                struct synthhid_protocol_request r;
                if (h.size < sizeof r - sizeof h)
                        return -EBADMSG;
                memcpy(&r, m, sizeof r);
                out->version = r.version_requested;
                return 0;
        }
        case SYNTHHID_INITIAL_DEVICE_INFO_ACK:
                return h.size >= sizeof(struct synthhid_device_info_ack) - sizeof h ? 0 : -EBADMSG;
        default:
                return -ENOTSUP;
        }
}

/* ---- events ---- */

int input_kbd_keystroke(uint32_t scancode, bool down, uint16_t *make_code, uint32_t *info) {
        uint32_t prefix = scancode >> 8, code = scancode & 0xffu, flags = 0;
        /* 0x80 and up are break codes (down says which), 0 is no key. */
        if (code == 0 || code > 0x7f)
                return -EINVAL;
        if (prefix == 0xe0)
                flags = SYNTH_KBD_IS_E0;
        else if (prefix == 0xe1 && code == 0x1d) /* Pause's E1 1D */
                flags = SYNTH_KBD_IS_E1;
        else if (prefix != 0)
                return -EINVAL;
        *make_code = (uint16_t)code;
        *info = flags | (down ? 0u : SYNTH_KBD_IS_BREAK);
        return 0;
}

/* [0, size) to [0, INPUT_POINTER_ABS_MAX], the last pixel to the maximum
 * (libinput and X map the axis range onto the screen edge to edge). */
static uint16_t scale(uint32_t v, uint32_t size) {
        if (size == 1)
                return 0;
        if (v >= size)
                v = size - 1;
        return (uint16_t)(((uint64_t)v * INPUT_POINTER_ABS_MAX + (size - 1) / 2) / (size - 1));
}

int input_pointer_report(uint32_t x, uint32_t y, uint32_t width, uint32_t height, uint32_t buttons, int32_t wheel,
                         struct input_pointer_report *out) {
        const uint32_t all = INPUTVSP_BUTTON_LEFT | INPUTVSP_BUTTON_RIGHT | INPUTVSP_BUTTON_MIDDLE;
        if (width == 0 || height == 0 || (buttons & ~all) || wheel > INPUTVSP_WHEEL_MAX ||
            wheel < -INPUTVSP_WHEEL_MAX)
                return -EINVAL;
        *out = (struct input_pointer_report){
                .buttons = (uint8_t)buttons, .x = scale(x, width), .y = scale(y, height), .wheel = (int8_t)wheel,
        };
        return 0;
}

/* ---- host -> guest ---- */

size_t input_kbd_build_response(uint8_t *buf, bool accepted) {
        struct synth_kbd_protocol_response m = {
                .header.type = SYNTH_KBD_PROTOCOL_RESPONSE,
                .proto_status = accepted ? SYNTH_KBD_PROTOCOL_ACCEPTED : 0u,
        };
        memcpy(buf, &m, sizeof m);
        return sizeof m;
}

size_t input_kbd_build_keystroke(uint8_t *buf, uint16_t make_code, uint32_t info) {
        struct synth_kbd_keystroke m = { .header.type = SYNTH_KBD_EVENT, .make_code = make_code, .info = info };
        memcpy(buf, &m, sizeof m);
        return sizeof m;
}

/* The pipe and synthhid headers in front of a message of len bytes. */
static size_t hid_headers(uint8_t *buf, uint32_t type, size_t len) {
        struct synthhid_pipe_hdr pipe = { .type = SYNTHHID_PIPE_DATA,
                                          .size = (uint32_t)(sizeof(struct synthhid_msg_hdr) + len) };
        struct synthhid_msg_hdr h = { .type = type, .size = (uint32_t)len };
        memcpy(buf, &pipe, sizeof pipe);
        memcpy(buf + sizeof pipe, &h, sizeof h);
        return sizeof pipe + sizeof h;
}

size_t input_hid_build_response(uint8_t *buf, uint32_t version, bool approved) {
        struct synthhid_protocol_response m = { .version_requested = version, .approved = approved ? 1u : 0u };
        size_t body = sizeof m - sizeof m.header;
        size_t off = hid_headers(buf, SYNTHHID_PROTOCOL_RESPONSE, body);
        memcpy(buf + off, (const uint8_t *)&m + sizeof m.header, body);
        return off + body;
}

size_t input_hid_build_device_info(uint8_t *buf) {
        struct synthhid_device_info m = {
                .hid_dev_info = { .size = sizeof(struct hv_input_dev_info), .vendor = SYNTHHID_VENDOR,
                                  .product = SYNTHHID_PRODUCT, .version = SYNTHHID_DEV_VERSION },
                .hid_descriptor = { .bLength = sizeof(struct hv_hid_descriptor), .bDescriptorType = HID_DT_HID,
                                    .bcdHID = 0x0101, .bNumDescriptors = 1,
                                    .bReportDescriptorType = HID_DT_REPORT,
                                    .wDescriptorLength = (uint16_t)sizeof input_hid_report_descriptor },
        };
        size_t body = sizeof m - sizeof m.header;
        size_t off = hid_headers(buf, SYNTHHID_INITIAL_DEVICE_INFO, body + sizeof input_hid_report_descriptor);
        memcpy(buf + off, (const uint8_t *)&m + sizeof m.header, body);
        memcpy(buf + off + body, input_hid_report_descriptor, sizeof input_hid_report_descriptor);
        return off + body + sizeof input_hid_report_descriptor;
}

size_t input_hid_build_report(uint8_t *buf, const struct input_pointer_report *r) {
        size_t off = hid_headers(buf, SYNTHHID_INPUT_REPORT, INPUT_POINTER_REPORT_SIZE);
        uint8_t *b = buf + off;
        b[0] = r->buttons;
        b[1] = (uint8_t)r->x;
        b[2] = (uint8_t)(r->x >> 8);
        b[3] = (uint8_t)r->y;
        b[4] = (uint8_t)(r->y >> 8);
        b[5] = (uint8_t)r->wheel;
        return off + INPUT_POINTER_REPORT_SIZE;
}
