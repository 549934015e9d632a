/* SPDX-License-Identifier: MIT */
/* The synthetic keyboard and mouse (docs/input.md): the host side of the
 * protocols Linux's hyperv_keyboard and hid_hyperv speak (hv/input.h).
 * One struct inputvsp per VM holds both devices; one device thread serves
 * both channels, under one lock. The owner (vmwp) feeds it key and
 * pointer events from the display server; the device queues them (a few,
 * bounded) and writes them into the guest's rings as keystrokes and HID
 * input reports once the guest's driver negotiated.
 *
 * Everything the guest sends is checked: a malformed, unknown or
 * out-of-turn message is counted and ignored. A guest that never answers
 * or never reads its ring only loses its own input (the API then says
 * -ENOTCONN or -EAGAIN); nothing here waits for it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "common/vmstate.h"

struct vmbus_server;
struct inputvsp;

struct inputvsp_config {
        bool keyboard; /* offer the synthetic keyboard */
        bool mouse;    /* offer the synthetic mouse */
};

/* Called with the device's lock held, on the thread that noticed (the
 * device thread; a VP or vmwp thread for a close): record and return,
 * never call back into inputvsp. */
struct inputvsp_owner_ops {
        /* A guest driver finished its negotiation or went: what
         * inputvsp_status says changed. Also after a resume that brought
         * back a negotiated channel from a saved state. Optional. */
        void (*changed)(void *opaque);
};

/* Events waiting for the guest (not yet in its ring). They wait only
 * while the guest's ring is full or the device is paused or quiesced. */
#define INPUTVSP_KEY_QUEUE_MAX 64u     /* keystrokes */
#define INPUTVSP_POINTER_QUEUE_MAX 32u /* input reports (moves coalesce) */

/* Adds the devices the configuration names to srv (offered at the guest's
 * next REQUESTOFFERS) and starts the thread. -EINVAL if it names none. */
int inputvsp_new(struct vmbus_server *srv, const struct inputvsp_config *cfg, const struct inputvsp_owner_ops *ops,
                 void *opaque, struct inputvsp **out);
/* After vmbus_server_free(srv) (which closes the channels through this
 * inputvsp, its thread still running); stops the thread and frees. NULL
 * is ignored. */
void inputvsp_free(struct inputvsp *in);

/* A key went down or up. scancode is PC set 1: a make code 0x01-0x7f,
 * an extended key as 0xe0xx (0xe001-0xe07f), or 0xe11d, Pause's E1 1D
 * (Pause is 0xe11d down, 0x45 down, 0xe11d up, 0x45 up). It reaches the guest
 * as a keystroke with IS_E0/IS_E1 and IS_BREAK. 0, -EINVAL for anything
 * else, -ENOTCONN until the guest's keyboard driver negotiated (or
 * without a keyboard), -EAGAIN with INPUTVSP_KEY_QUEUE_MAX keystrokes
 * waiting. */
int inputvsp_key(struct inputvsp *in, uint32_t scancode, bool down);

#define INPUTVSP_BUTTON_LEFT 0x1u
#define INPUTVSP_BUTTON_RIGHT 0x2u
#define INPUTVSP_BUTTON_MIDDLE 0x4u
#define INPUTVSP_WHEEL_MAX 127
/* The pointer is at (x, y) of a width x height screen (a position past
 * the edge counts as the edge), with these buttons down, the wheel turned
 * by wheel notches (positive: away from the user). Sent as an input
 * report of the absolute pointer the mouse presents, X and Y scaled to
 * 0..32767. A move queued behind others with the same buttons replaces
 * the last one queued (its wheel notches add up): the newest position
 * wins. 0, -EINVAL (a zero width or height, other buttons, a wheel past
 * +-127), -ENOTCONN until the guest's mouse driver acknowledged the
 * device info (or without a mouse), -EAGAIN with INPUTVSP_POINTER_QUEUE_MAX
 * reports waiting that a move cannot join. */
int inputvsp_pointer(struct inputvsp *in, uint32_t x, uint32_t y, uint32_t width, uint32_t height,
                     uint32_t buttons, int32_t wheel);

/* Which guest drivers negotiated (either may be NULL). */
void inputvsp_status(struct inputvsp *in, bool *keyboard, bool *mouse);

struct inputvsp_stats {
        uint64_t keys_sent;      /* keystrokes written to the guest */
        uint64_t reports_sent;   /* input reports written to the guest */
        uint64_t coalesced;      /* pointer events merged into a queued report */
        uint64_t refused;        /* events refused with -EAGAIN (queue full) */
        uint64_t dropped;        /* queued events lost: the driver went, renegotiated or broke its ring */
        uint64_t negotiations;   /* keyboard protocols accepted, mouse device infos acknowledged */
        uint64_t refused_versions;
        uint64_t bad_messages;   /* malformed, unknown, host-only or out-of-turn guest messages */
        uint64_t led_reports;    /* LED indicator messages (read, not acted on) */
};
void inputvsp_get_stats(struct inputvsp *in, struct inputvsp_stats *out);

/* Pause, quiesce and resume as the other providers' (dmvsp.h): while
 * paused no event is sent (they queue; the answers the guest waits for
 * still go); quiesce parks the thread (no ring read, no guest write, no
 * signal) and events still queue, up to the limits. Resume sends what
 * queued. Quiesce: 0 or -EDEADLK on the device thread. */
void inputvsp_pause(struct inputvsp *in);
int inputvsp_quiesce(struct inputvsp *in);
void inputvsp_resume(struct inputvsp *in);

/* ---- the pure parts (msg.c): fuzzed ---- */

/* A guest -> host keyboard message (an in-band payload). */
struct input_kbd_msg {
        uint32_t type;    /* enum synth_kbd_msg_type */
        uint32_t version; /* PROTOCOL_REQUEST */
        uint16_t led_flags; /* LED_INDICATORS */
};
/* 0; -EBADMSG (shorter than its type needs); -ENOTSUP (a type only the
 * host sends, or unknown). A longer message is read and its tail
 * ignored. */
int input_kbd_parse(const uint8_t *p, size_t len, struct input_kbd_msg *out);

/* A guest -> host mouse message: pipe header, synthhid header, message. */
struct input_hid_msg {
        uint32_t type;    /* enum synthhid_msg_type */
        uint32_t version; /* PROTOCOL_REQUEST */
};
/* 0; -EBADMSG (not a pipe data message, sizes that do not fit inside each
 * other or the payload, a message shorter than its type needs);
 * -ENOTSUP (a host type, or unknown). */
int input_hid_parse(const uint8_t *p, size_t len, struct input_hid_msg *out);

/* A set-1 scancode as a keystroke (the rules of inputvsp_key): 0 or
 * -EINVAL. */
int input_kbd_keystroke(uint32_t scancode, bool down, uint16_t *make_code, uint32_t *info);

/* One input report of the mouse's report descriptor. */
struct input_pointer_report {
        uint8_t buttons; /* bit 0 left, 1 right, 2 middle */
        uint16_t x, y;   /* 0..INPUT_POINTER_ABS_MAX */
        int8_t wheel;    /* -127..127 */
};
#define INPUT_POINTER_ABS_MAX 32767u
#define INPUT_POINTER_REPORT_SIZE 6u
/* The arguments of inputvsp_pointer as a report: 0 or -EINVAL. */
int input_pointer_report(uint32_t x, uint32_t y, uint32_t width, uint32_t height, uint32_t buttons, int32_t wheel,
                         struct input_pointer_report *out);

/* The mouse's HID report descriptor (docs/input.md). */
extern const uint8_t input_hid_report_descriptor[];
extern const size_t input_hid_report_descriptor_size;

/* Host messages into buf (at least INPUT_MSG_MAX bytes); the length. */
#define INPUT_MSG_MAX 256u
size_t input_kbd_build_response(uint8_t *buf, bool accepted);
size_t input_kbd_build_keystroke(uint8_t *buf, uint16_t make_code, uint32_t info);
size_t input_hid_build_response(uint8_t *buf, uint32_t version, bool approved);
size_t input_hid_build_device_info(uint8_t *buf);
size_t input_hid_build_report(uint8_t *buf, const struct input_pointer_report *r);

/* ---- saved state (docs/input.md) ---- */

/* Where a channel's negotiation stands. The OWE phases hold an answer the
 * guest's ring had no room for (sent as soon as it has). */
enum input_kbd_phase {
        INPUT_KBD_WAIT_REQUEST, /* nothing asked yet */
        INPUT_KBD_OWE_REFUSAL,  /* a version we do not speak was asked */
        INPUT_KBD_OWE_ACCEPT,
        INPUT_KBD_ACTIVE, /* accepted: keystrokes flow */
};
enum input_hid_phase {
        INPUT_HID_WAIT_REQUEST,
        INPUT_HID_OWE_REFUSAL,
        INPUT_HID_OWE_ACCEPT,
        INPUT_HID_OWE_INFO,  /* approved; the device info is next */
        INPUT_HID_WAIT_ACK,  /* device info sent */
        INPUT_HID_ACTIVE,    /* acknowledged: input reports flow */
};
/* One open channel's section ("KBCH" for the keyboard, "MSCH" for the
 * mouse; instance: its relid). version: 0 while waiting for a request,
 * the version refused in OWE_REFUSAL, else the one we speak. */
#define INPUTVSP_KBD_STATE_TAG VMSTATE_TAG('K', 'B', 'C', 'H')
#define INPUTVSP_MOUSE_STATE_TAG VMSTATE_TAG('M', 'S', 'C', 'H')
struct inputvsp_channel_state {
        uint8_t phase;
        uint32_t version;
};
extern const struct vmstate_desc inputvsp_kbd_state_desc;
extern const struct vmstate_desc inputvsp_mouse_state_desc;
/* Pure: 0, or -EINVAL / -EPROTONOSUPPORT with a sentence naming the
 * section and field. */
int inputvsp_kbd_state_decode(const struct vmstate_section *s, struct inputvsp_channel_state *out, char *err,
                              size_t errlen);
int inputvsp_mouse_state_decode(const struct vmstate_section *s, struct inputvsp_channel_state *out, char *err,
                                size_t errlen);

/* The keyboard and mouse's row of the worker's device table
 * (common/device.h), after the VMBus server's; its dev is the struct
 * inputvsp. */
extern const struct device_ops inputvsp_device_ops;
