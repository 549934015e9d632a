/* SPDX-License-Identifier: MIT */
/* Hyper-V's synthetic keyboard and synthetic mouse, as Linux 6.1's
 * hyperv_keyboard (drivers/input/serio/hyperv-keyboard.c) and hid_hyperv
 * (drivers/hid/hid-hyperv.c) speak them. docs/input.md has the exchanges.
 *
 * The keyboard's payloads are its messages as they are (a u32 type
 * first). The mouse ("synthhid") frames every payload with a pipe header
 * (type 1 = data, the byte count after it) followed by a synthhid header
 * (type, the byte count of the message after that header) and the
 * message. All integers are little-endian; structs are packed because the
 * guest's are (#pragma pack(1) in hid-hyperv.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hv/vmbus.h"

/* ---- offers (§4.11) ---------------------------------------------------- */

/* Class GUIDs (include/linux/hyperv.h HV_KBD_GUID, HV_MOUSE_GUID). */
#define HV_KBD_GUID HV_GUID_BYTES(0xf912ad6d, 0x2b17, 0x48ea, 0xbd, 0x65, 0xf9, 0x27, 0xa6, 0x1c, 0x76, 0x84)
#define HV_MOUSE_GUID HV_GUID_BYTES(0xcfa8b69e, 0x5b4a, 0x4cc0, 0xb9, 0x8b, 0x8b, 0xa1, 0xa1, 0xf3, 0xf9, 0x5a)
/* The fixed instances Hyper-V (and OpenVMM after it) offers: one keyboard
 * and one mouse per VM. Linux names the devices by them only. */
#define HV_KBD_INSTANCE HV_GUID_BYTES(0xd34b2567, 0xb9b6, 0x42b9, 0x87, 0x78, 0x0a, 0x4e, 0xc0, 0xb9, 0x55, 0xbf)
#define HV_MOUSE_INSTANCE HV_GUID_BYTES(0x58f75a6d, 0xd949, 0x4320, 0x99, 0xe1, 0xa2, 0xa2, 0x57, 0x6d, 0x58, 0x1c)
/* The keyboard is a plain device channel (chn_flags 0); the mouse is
 * offered in message pipe mode (NAMED_PIPE_MODE, pipe type MESSAGE in
 * user_def), which is why its payloads carry the pipe header. Linux reads
 * neither flag for these classes: it opens both the same way. */
#define HV_KBD_CHN_FLAGS 0u
#define HV_MOUSE_CHN_FLAGS VMBUS_CHANNEL_NAMED_PIPE_MODE
#define HV_MOUSE_PIPE_MODE VMBUS_PIPE_TYPE_MESSAGE
/* Both drivers open rings of VMBUS_RING_SIZE(36 KiB) (32 KiB of data)
 * each way and leave the channel's max_pkt_size at Linux's default. */
#define HV_INPUT_GUEST_MAX_PACKET 4096u

/* ---- synthetic keyboard ------------------------------------------------ */

/* (major << 16) | minor: Linux asks for 1.0 only and gives up (-ENODEV)
 * if it is refused; it waits 10 s for the answer. */
#define SYNTH_KBD_VERSION 0x00010000u

enum synth_kbd_msg_type {
        SYNTH_KBD_PROTOCOL_REQUEST = 1,  /* guest -> host */
        SYNTH_KBD_PROTOCOL_RESPONSE = 2, /* host -> guest */
        SYNTH_KBD_EVENT = 3,             /* host -> guest: a keystroke */
        SYNTH_KBD_LED_INDICATORS = 4,    /* guest -> host (Windows; Linux never sends it) */
};

/* Linux's buffer for a host message; ours are all far shorter. */
#define SYNTH_KBD_MAX_MESSAGE 256u

struct synth_kbd_msg_hdr {
        uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct synth_kbd_msg_hdr) == 4, "synth_kbd_msg_hdr");

struct synth_kbd_protocol_request {
        struct synth_kbd_msg_hdr header;
        uint32_t version_requested;
} __attribute__((packed));
_Static_assert(sizeof(struct synth_kbd_protocol_request) == 8, "synth_kbd_protocol_request");

#define SYNTH_KBD_PROTOCOL_ACCEPTED 0x1u
struct synth_kbd_protocol_response {
        struct synth_kbd_msg_hdr header;
        uint32_t proto_status;
} __attribute__((packed));
_Static_assert(sizeof(struct synth_kbd_protocol_response) == 8, "synth_kbd_protocol_response");

/* A keystroke: make_code is the PC set-1 make code without a prefix; the
 * guest feeds its serio port 0xE0 (IS_E0), 0xE1 (IS_E1), then make_code,
 * with 0x80 or-ed in for IS_BREAK: exactly the byte stream an i8042 in
 * translated mode gives atkbd. IS_UNICODE (make_code a UTF-16 unit) is
 * something Linux does not look at: never sent. Linux drops a message
 * shorter than 12 bytes. */
#define SYNTH_KBD_IS_UNICODE 0x1u
#define SYNTH_KBD_IS_BREAK 0x2u
#define SYNTH_KBD_IS_E0 0x4u
#define SYNTH_KBD_IS_E1 0x8u
struct synth_kbd_keystroke {
        struct synth_kbd_msg_hdr header;
        uint16_t make_code;
        uint16_t reserved0;
        uint32_t info;
} __attribute__((packed));
_Static_assert(sizeof(struct synth_kbd_keystroke) == 12, "synth_kbd_keystroke");
_Static_assert(offsetof(struct synth_kbd_keystroke, info) == 8, "keystroke info");

/* The guest's lock LEDs (the KEYBOARD_*_LOCK_ON bits of Windows'
 * ntddkbd.h). Windows sends the flags as a u16 after the header, padded
 * to 8 bytes; 6 are enough to read them. */
#define SYNTH_KBD_LED_SCROLL_LOCK 0x1u
#define SYNTH_KBD_LED_NUM_LOCK 0x2u
#define SYNTH_KBD_LED_CAPS_LOCK 0x4u
struct synth_kbd_led_indicators {
        struct synth_kbd_msg_hdr header;
        uint16_t led_flags;
        uint16_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct synth_kbd_led_indicators) == 8, "synth_kbd_led_indicators");
#define SYNTH_KBD_LED_MIN_SIZE 6u

/* ---- synthetic mouse (synthhid) ---------------------------------------- */

/* (major << 16) | minor: Linux asks for 2.0 only, waits 5 s for the
 * answer and 5 s more for the device info. */
#define SYNTHHID_INPUT_VERSION 0x00020000u

#define SYNTHHID_PIPE_DATA 1u /* pipe_prt_msg.type: Linux ignores anything else */
struct synthhid_pipe_hdr {
        uint32_t type;
        uint32_t size; /* bytes after this header */
} __attribute__((packed));
_Static_assert(sizeof(struct synthhid_pipe_hdr) == 8, "synthhid_pipe_hdr");

enum synthhid_msg_type {
        SYNTHHID_PROTOCOL_REQUEST = 0,      /* guest -> host */
        SYNTHHID_PROTOCOL_RESPONSE = 1,     /* host -> guest */
        SYNTHHID_INITIAL_DEVICE_INFO = 2,   /* host -> guest, after an approving response */
        SYNTHHID_INITIAL_DEVICE_INFO_ACK = 3, /* guest -> host */
        SYNTHHID_INPUT_REPORT = 4,          /* host -> guest */
};

struct synthhid_msg_hdr {
        uint32_t type;
        uint32_t size; /* bytes of the message after this header */
} __attribute__((packed));
_Static_assert(sizeof(struct synthhid_msg_hdr) == 8, "synthhid_msg_hdr");

/* Linux sends header.size = 4. */
struct synthhid_protocol_request {
        struct synthhid_msg_hdr header;
        uint32_t version_requested;
} __attribute__((packed));
_Static_assert(sizeof(struct synthhid_protocol_request) == 12, "synthhid_protocol_request");

/* Linux copies at most 13 bytes after the pipe header: pipe size must not
 * exceed sizeof this (a longer one is refused with a WARN). */
struct synthhid_protocol_response {
        struct synthhid_msg_hdr header;
        uint32_t version_requested;
        uint8_t approved;
} __attribute__((packed));
_Static_assert(sizeof(struct synthhid_protocol_response) == 13, "synthhid_protocol_response");

/* The HID device attributes (Windows' HID_DEVICE_ATTRIBUTES): Linux
 * takes vendor, product and version for its hid_device. hid_hyperv's own
 * HID driver binds to BUS_VIRTUAL 045e:0621. */
struct hv_input_dev_info {
        uint32_t size; /* sizeof this struct */
        uint16_t vendor;
        uint16_t product;
        uint16_t version;
        uint16_t reserved[11];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_input_dev_info) == 32, "hv_input_dev_info");
#define SYNTHHID_VENDOR 0x045eu
#define SYNTHHID_PRODUCT 0x0621u
#define SYNTHHID_DEV_VERSION 0x0001u

/* The USB HID class descriptor (HID 1.11 §6.2.1) with its one report
 * descriptor entry (struct hid_descriptor in include/linux/hid.h). */
#define HID_DT_HID 0x21u
#define HID_DT_REPORT 0x22u
struct hv_hid_descriptor {
        uint8_t bLength; /* 9: the report descriptor starts this far into it */
        uint8_t bDescriptorType; /* HID_DT_HID */
        uint16_t bcdHID;
        uint8_t bCountryCode;
        uint8_t bNumDescriptors;
        uint8_t bReportDescriptorType; /* HID_DT_REPORT */
        uint16_t wDescriptorLength;    /* the report descriptor's length */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_hid_descriptor) == 9, "hv_hid_descriptor");

/* The device info: the attributes, the HID descriptor, then (at the HID
 * descriptor + bLength) the report descriptor. Linux requires the pipe
 * size to be at least sizeof this struct, 9 <= bLength <= size - 40 and
 * 0 < wDescriptorLength <= size - 40 - bLength (the 40 being this
 * header's offset of hid_descriptor counted from the synthhid header). */
struct synthhid_device_info {
        struct synthhid_msg_hdr header;
        struct hv_input_dev_info hid_dev_info;
        struct hv_hid_descriptor hid_descriptor;
} __attribute__((packed));
_Static_assert(sizeof(struct synthhid_device_info) == 49, "synthhid_device_info");
_Static_assert(offsetof(struct synthhid_device_info, hid_descriptor) == 40, "device info descriptor offset");

/* Linux sends header.size = 1, reserved = 0. */
struct synthhid_device_info_ack {
        struct synthhid_msg_hdr header;
        uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct synthhid_device_info_ack) == 9, "synthhid_device_info_ack");

/* An input report: header.size bytes of report follow the header; Linux
 * hands them to hid_input_report() as they are (once its HID device is
 * added; reports before that are dropped). */
struct synthhid_input_report {
        struct synthhid_msg_hdr header;
        uint8_t buffer[];
} __attribute__((packed));
_Static_assert(sizeof(struct synthhid_input_report) == 8, "synthhid_input_report");
#define SYNTHHID_MAX_INPUT_REPORT_SIZE 16u

/* hid_hyperv's probe rewrites byte 14 of the report descriptor from 0x25
 * (Logical Maximum) to 0x29 (Usage Maximum), a fix for Hyper-V's own
 * descriptor ("SA-167"): a descriptor must not have 0x25 there. */
#define SYNTHHID_REPORT_DESC_FIXUP_OFFSET 14u
