/* SPDX-License-Identifier: MIT */
/* The display protocol: a VM's worker (vmwp: the synthetic video,
 * keyboard and mouse) and a display server (vmdisplay: the VNC and web
 * console, screenshots). docs/console.md has the design.
 *
 * Transport: a SOCK_SEQPACKET unix socket the worker listens on (the
 * configuration's "display.socket", set by vmms, 0600), one display
 * server at a time. A connection while one is connected is a snapshot:
 * it gets HELLO and MODE (the framebuffer as it is, enough for a
 * screenshot) and then DISPLAY_BYE, no updates, and its input is not
 * read. Each datagram is
 * one message: a header (u32 type, u32 length of the whole message) and its
 * payload, little-endian integers, at most DISPLAY_MSG_MAX bytes.
 *
 * Worker -> server:
 *   HELLO   first, with the framebuffer's memfd (SCM_RIGHTS): version,
 *           the bytes of it a server may map (read-only), flags 0.
 *   MODE    after HELLO and whenever the guest changes it: whether a
 *           mode is set (0: the guest has not set one, or has no
 *           synthetic video driver: the console says so), width, height,
 *           stride (bytes per line), bits per pixel (32: XRGB8888,
 *           little-endian), the offset of the first pixel in the memfd.
 *           width * 4 <= stride and offset + stride * height <= the
 *           memfd's bytes, else the worker sends no MODE.
 *   DIRTY   rectangles the guest changed (x, y, w, h, clipped to the
 *           mode, at most DISPLAY_RECTS_MAX).
 *   STATUS  which guest drivers are connected (DISPLAY_STATUS_*).
 *   BYE     the last message to a snapshot connection (another server
 *           is connected): nothing follows, the worker closes it.
 * Server -> worker:
 *   KEY     a key: its scan code in set 1 (an extended key as 0xE0xx),
 *           pressed or released.
 *   POINTER the pointer at x, y (pixels of the current mode) with buttons
 *           (bit 0 left, 1 right, 2 middle) and a wheel step (-127..127).
 *   REFRESH the whole screen is wanted (a new client): the worker answers
 *           with MODE, STATUS and one DIRTY covering the mode.
 *
 * The parser is pure (tests/fuzz/fuzz-display.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISPLAY_VERSION 1u
#define DISPLAY_MSG_MAX 1024u
#define DISPLAY_RECTS_MAX 60u
#define DISPLAY_HEADER 8u

enum display_msg_type {
        DISPLAY_HELLO = 1,
        DISPLAY_MODE = 2,
        DISPLAY_DIRTY = 3,
        DISPLAY_STATUS = 4,
        DISPLAY_BYE = 5,
        DISPLAY_KEY = 16,
        DISPLAY_POINTER = 17,
        DISPLAY_REFRESH = 18,
};

#define DISPLAY_STATUS_VIDEO 0x1u    /* the guest's video driver negotiated */
#define DISPLAY_STATUS_KEYBOARD 0x2u /* ... its keyboard driver */
#define DISPLAY_STATUS_MOUSE 0x4u    /* ... its mouse driver */

#define DISPLAY_BUTTON_LEFT 0x1u
#define DISPLAY_BUTTON_RIGHT 0x2u
#define DISPLAY_BUTTON_MIDDLE 0x4u

/* The largest mode a worker sends (and a server accepts). */
#define DISPLAY_WIDTH_MAX 7680u
#define DISPLAY_HEIGHT_MAX 4320u

struct display_rect {
        uint32_t x, y, w, h;
};

struct display_mode {
        bool active;
        uint32_t width, height, stride, bpp, offset;
};

struct display_msg {
        uint32_t type;
        union {
                struct {
                        uint32_t version, fb_bytes, flags;
                } hello;
                struct display_mode mode;
                struct {
                        uint32_t count;
                        struct display_rect rect[DISPLAY_RECTS_MAX];
                } dirty;
                uint32_t status;
                struct {
                        uint32_t scancode;
                        bool down;
                } key;
                struct {
                        uint32_t x, y, buttons;
                        int32_t wheel;
                } pointer;
        };
};

/* One message into buf (DISPLAY_MSG_MAX bytes): its length, 0 if m is
 * not one the protocol allows (an unknown type, too many rectangles). */
size_t display_msg_build(const struct display_msg *m, uint8_t *buf);
/* 0, or -EBADMSG: shorter than its header or its type's payload, a length
 * that is not the datagram's, an unknown type, a field out of range (a
 * mode past DISPLAY_*_MAX or inconsistent, rectangles past their count or
 * DISPLAY_RECTS_MAX, a scan code outside set 1, buttons or wheel out of
 * range, unknown flags). */
int display_msg_parse(const uint8_t *buf, size_t len, struct display_msg *out);
/* A mode a server may map: width * 4 <= stride, offset + stride * height
 * <= fb_bytes, 32 bits per pixel. */
bool display_mode_fits(const struct display_mode *m, uint32_t fb_bytes);
/* r clipped to the mode (false: nothing of it is inside). */
bool display_rect_clip(struct display_rect *r, uint32_t width, uint32_t height);
