/* SPDX-License-Identifier: MIT */
/* The simulated guest of the inputvsp tests (test-inputvsp.c,
 * test-inputvsp-state.c): a VMBus server over vmbustest/sim.h with an
 * inputvsp, and the guest side of both drivers as Linux 6.1 has them.
 * Keyboard (hyperv-keyboard.c): PROTOCOL_REQUEST with completion
 * requested, a 10 s wait for the response, keystrokes fed to serio as
 * [E0] [E1] make_code | (IS_BREAK ? 0x80 : 0). Mouse (hid-hyperv.c): pipe
 * framed PROTOCOL_REQUEST, the response's pipe size checked against its
 * 13-byte buffer, the device info checked exactly as
 * mousevsc_on_receive_device_info does, the report descriptor parsed by
 * a small HID parser (short items, globals, locals, main items: what
 * hid-core's parser reads for this kind of device), the ACK, and input
 * reports read through the fields that parser found. Header-only. */
#pragma once

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/test.h"
#include "hv/input.h"
#include "hv/vmbus.h"
#include "inputvsp/inputvsp.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#define RAM_BYTES (16u << 20)
/* VMBUS_RING_SIZE(36 KiB): 9 pages, the header one included. */
#define LINUX_RING_PAGES 9u
/* Linux's trans_id for its requests is the buffer's kernel address. */
#define LINUX_TRANS_ID 0xffff888004c2a000ull

struct owner {
        pthread_mutex_t lock;
        uint64_t changes;
};

struct env {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct inputvsp *in;
        struct owner o;
        bool kbd, mouse;
        uint32_t krelid, kconn, mrelid, mconn; /* the offers, once seen */
        struct vmbus_sim_channel kch, mch;
};

static void on_changed(void *opaque) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->changes++;
        pthread_mutex_unlock(&o->lock);
}

static const struct inputvsp_owner_ops owner_ops = { .changed = on_changed };

static inline uint64_t changes(struct env *e) {
        pthread_mutex_lock(&e->o.lock);
        uint64_t v = e->o.changes;
        pthread_mutex_unlock(&e->o.lock);
        return v;
}

static inline struct inputvsp_stats stats(struct env *e) {
        struct inputvsp_stats s;
        inputvsp_get_stats(e->in, &s);
        return s;
}

/* A server and an inputvsp over the env's simulated guest. */
static inline void env_build(struct env *e) {
        ASSERT_OK(vmbus_server_new(&(struct vmbus_server_config){ .vp_count = 1 }, &vmbus_sim_ops, e->sim, &e->srv));
        struct inputvsp_config c = { .keyboard = e->kbd, .mouse = e->mouse };
        ASSERT_OK(inputvsp_new(e->srv, &c, &owner_ops, &e->o, &e->in));
}

static inline void env_init(struct env *e, bool kbd, bool mouse) {
        *e = (struct env){ .kbd = kbd, .mouse = mouse };
        pthread_mutex_init(&e->o.lock, NULL);
        ASSERT_OK(vmbus_sim_new(RAM_BYTES, 1, &e->sim));
        env_build(e);
        ASSERT_EQ(vmbus_sim_connect(e->sim, VERSION_WIN10_V5_3), 1);
}

static inline void env_free(struct env *e) {
        vmbus_server_free(e->srv);
        inputvsp_free(e->in);
        ASSERT_EQ(vmbus_sim_live_mappings(e->sim), 0u);
        vmbus_sim_free(e->sim);
}

static inline void find_offers(struct env *e) {
        if (e->krelid || e->mrelid)
                return;
        struct vmbus_channel_offer_channel offers[4];
        int n = vmbus_sim_request_offers(e->sim, offers, 4);
        ASSERT_EQ(n, (int)e->kbd + (int)e->mouse);
        static const uint8_t kcls[16] = HV_KBD_GUID;
        for (int i = 0; i < n; i++) {
                bool k = !memcmp(offers[i].if_type, kcls, 16);
                *(k ? &e->krelid : &e->mrelid) = offers[i].child_relid;
                *(k ? &e->kconn : &e->mconn) = offers[i].connection_id;
        }
}

static inline void g_open(struct env *e, struct vmbus_sim_channel *ch, uint32_t relid, uint32_t conn,
                          unsigned pages) {
        ASSERT_NE(relid, 0u);
        ASSERT_EQ(vmbus_sim_open(e->sim, relid, conn, pages, NULL, 0, ch), 0);
}

/* Both drivers send every request with completion requested. */
static inline void g_send(struct env *e, struct vmbus_sim_channel *ch, const void *msg, size_t len) {
        ASSERT_OK(vmbus_sim_ring_write(e->sim, ch, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                       LINUX_TRANS_ID, msg, len));
}

/* The next host packet (in-band, as both drivers require): its payload
 * length (len8 * 8 less the offset, as Linux computes it). */
static inline size_t g_recv(struct env *e, struct vmbus_sim_channel *ch, uint8_t *payload, size_t cap) {
        uint8_t pkt[1024];
        struct vmbus_packet p;
        ASSERT_GT(vmbus_sim_ring_wait(e->sim, ch, pkt, sizeof pkt, &p, 5000), 0);
        ASSERT_EQ(p.type, VM_PKT_DATA_INBAND);
        size_t n = vmbus_packet_payload_len(&p);
        ASSERT_LE(n, cap);
        memcpy(payload, vmbus_packet_payload(&p), n);
        return n;
}

static inline void g_nothing(struct env *e, struct vmbus_sim_channel *ch, int ms) {
        uint8_t pkt[1024];
        struct vmbus_packet p;
        ASSERT_EQ(vmbus_sim_ring_wait(e->sim, ch, pkt, sizeof pkt, &p, ms), -ETIMEDOUT);
}

/* ---- hyperv_keyboard ---- */

/* hv_kbd_connect_to_vsp: true if accepted. */
static inline bool g_kbd_connect(struct env *e, uint32_t version) {
        struct synth_kbd_protocol_request req = { .header.type = SYNTH_KBD_PROTOCOL_REQUEST,
                                                  .version_requested = version };
        g_send(e, &e->kch, &req, sizeof req);
        uint8_t b[SYNTH_KBD_MAX_MESSAGE];
        size_t n = g_recv(e, &e->kch, b, sizeof b);
        struct synth_kbd_protocol_response r;
        ASSERT_GE(n, sizeof r);
        memcpy(&r, b, sizeof r);
        ASSERT_EQ(r.header.type, SYNTH_KBD_PROTOCOL_RESPONSE);
        return r.proto_status & SYNTH_KBD_PROTOCOL_ACCEPTED;
}

/* hv_kbd_on_receive for the next keystroke: the bytes serio gets. */
static inline size_t g_kbd_serio(struct env *e, uint8_t bytes[3]) {
        uint8_t b[SYNTH_KBD_MAX_MESSAGE];
        size_t n = g_recv(e, &e->kch, b, sizeof b), k = 0;
        struct synth_kbd_keystroke ks;
        ASSERT_GE(n, sizeof ks);
        memcpy(&ks, b, sizeof ks);
        ASSERT_EQ(ks.header.type, SYNTH_KBD_EVENT);
        ASSERT_EQ(ks.info & SYNTH_KBD_IS_UNICODE, 0u);
        if (ks.info & SYNTH_KBD_IS_E0)
                bytes[k++] = 0xe0;
        if (ks.info & SYNTH_KBD_IS_E1)
                bytes[k++] = 0xe1;
        uint16_t code = ks.make_code;
        if (ks.info & SYNTH_KBD_IS_BREAK)
                code |= 0x80;
        bytes[k++] = (uint8_t)code; /* serio_interrupt takes an unsigned char */
        return k;
}

/* ---- hid_hyperv ---- */

struct hid_field {
        uint32_t page;
        uint32_t usages[8];
        int nusages;
        uint32_t usage_min, usage_max;
        unsigned bit, size, count;
        int32_t lmin, lmax;
        bool relative, constant;
};

struct g_devinfo {
        uint16_t vendor, product, version;
        uint8_t rdesc[256];
        size_t rlen;
        uint32_t app_usage; /* page << 16 | usage of the application collection */
        struct hid_field fields[8];
        int nfields;
        unsigned report_bits;
};

/* A report descriptor's input fields, in order. Refuses what this device
 * has no business using (long items, report IDs, output and feature
 * items), and an unbalanced collection nesting. */
static inline void hid_parse(const uint8_t *d, size_t n, struct g_devinfo *di) {
        uint32_t page = 0, rsize = 0, rcount = 0, umin = 0, umax = 0, usages[8];
        int32_t lmin = 0, lmax = 0;
        int nus = 0, depth = 0;
        unsigned bit = 0;
        di->nfields = 0;
        for (size_t i = 0; i < n;) {
                uint8_t b = d[i++];
                ASSERT_NE(b, 0xfe);
                size_t sz = (b & 3u) == 3 ? 4 : (b & 3u);
                ASSERT_LE(i + sz, n);
                uint32_t u = 0;
                for (size_t k = 0; k < sz; k++)
                        u |= (uint32_t)d[i + k] << (8 * k);
                int32_t s = sz == 1 ? (int8_t)u : sz == 2 ? (int16_t)u : (int32_t)u;
                i += sz;
                unsigned type = (b >> 2) & 3u, tag = b >> 4;
                if (type == 0) {
                        if (tag == 0x8) { /* Input */
                                ASSERT_LT(di->nfields, 8);
                                struct hid_field *f = &di->fields[di->nfields++];
                                *f = (struct hid_field){ .page = page, .nusages = nus, .usage_min = umin,
                                                         .usage_max = umax, .bit = bit, .size = rsize,
                                                         .count = rcount, .lmin = lmin, .lmax = lmax,
                                                         .relative = u & 4u, .constant = u & 1u };
                                memcpy(f->usages, usages, sizeof usages);
                                bit += rsize * rcount;
                        } else if (tag == 0xa) { /* Collection */
                                if (depth == 0) {
                                        ASSERT_EQ(u, 1u); /* application */
                                        ASSERT_EQ(nus, 1);
                                        di->app_usage = page << 16 | usages[0];
                                }
                                depth++;
                        } else {
                                ASSERT_EQ(tag, 0xcu); /* End Collection */
                                ASSERT_GT(depth, 0);
                                depth--;
                        }
                        nus = 0;
                        umin = umax = 0;
                } else if (type == 1) {
                        ASSERT_NE(tag, 8u); /* no report ID */
                        if (tag == 0)
                                page = u;
                        else if (tag == 1)
                                lmin = s;
                        else if (tag == 2)
                                lmax = s;
                        else if (tag == 7)
                                rsize = u;
                        else if (tag == 9)
                                rcount = u;
                } else if (type == 2) {
                        if (tag == 0) {
                                ASSERT_LT(nus, 8);
                                usages[nus++] = u;
                        } else if (tag == 1) {
                                umin = u;
                        } else if (tag == 2) {
                                umax = u;
                        }
                }
        }
        ASSERT_EQ(depth, 0);
        di->report_bits = bit;
}

/* mousevsc_connect_to_vsp's first half: true if approved. */
static inline bool g_mouse_request(struct env *e, uint32_t version) {
        uint8_t buf[sizeof(struct synthhid_pipe_hdr) + sizeof(struct synthhid_protocol_request)];
        struct synthhid_pipe_hdr pipe = { SYNTHHID_PIPE_DATA, sizeof(struct synthhid_protocol_request) };
        struct synthhid_protocol_request req = { .header = { SYNTHHID_PROTOCOL_REQUEST, 4 },
                                                 .version_requested = version };
        memcpy(buf, &pipe, sizeof pipe);
        memcpy(buf + sizeof pipe, &req, sizeof req);
        g_send(e, &e->mch, buf, sizeof buf);
        uint8_t b[512];
        size_t n = g_recv(e, &e->mch, b, sizeof b);
        ASSERT_GE(n, sizeof pipe + sizeof(struct synthhid_protocol_response));
        memcpy(&pipe, b, sizeof pipe);
        ASSERT_EQ(pipe.type, SYNTHHID_PIPE_DATA);
        /* Linux refuses (WARN) a response longer than its 13-byte buffer */
        ASSERT_LE(pipe.size, sizeof(struct synthhid_protocol_response));
        struct synthhid_protocol_response r;
        memcpy(&r, b + sizeof pipe, sizeof r);
        ASSERT_EQ(r.header.type, SYNTHHID_PROTOCOL_RESPONSE);
        ASSERT_EQ(r.version_requested, version);
        return r.approved;
}

/* mousevsc_on_receive_device_info, with its checks, then our parse. */
static inline void g_mouse_device_info(struct env *e, struct g_devinfo *di) {
        uint8_t b[512];
        size_t n = g_recv(e, &e->mch, b, sizeof b);
        struct synthhid_pipe_hdr pipe;
        ASSERT_GE(n, sizeof pipe);
        memcpy(&pipe, b, sizeof pipe);
        ASSERT_EQ(pipe.type, SYNTHHID_PIPE_DATA);
        ASSERT_LE(pipe.size, n - sizeof pipe);
        ASSERT_GE(pipe.size, sizeof(struct synthhid_device_info));
        const uint8_t *info = b + sizeof pipe;
        struct synthhid_device_info m;
        memcpy(&m, info, sizeof m);
        ASSERT_EQ(m.header.type, SYNTHHID_INITIAL_DEVICE_INFO);
        ASSERT_EQ(m.header.size, pipe.size - sizeof m.header);
        ASSERT_EQ(m.hid_dev_info.size, sizeof(struct hv_input_dev_info));
        size_t desc_off = offsetof(struct synthhid_device_info, hid_descriptor);
        size_t desc_size = pipe.size - desc_off;
        const struct hv_hid_descriptor *hd = &m.hid_descriptor;
        ASSERT_GE(hd->bLength, sizeof *hd);
        ASSERT_LE(hd->bLength, desc_size);
        ASSERT_EQ(hd->bDescriptorType, HID_DT_HID);
        ASSERT_EQ(hd->bNumDescriptors, 1u);
        ASSERT_EQ(hd->bReportDescriptorType, HID_DT_REPORT);
        ASSERT_GT(hd->wDescriptorLength, 0u);
        ASSERT_LE(hd->wDescriptorLength, desc_size - hd->bLength);
        ASSERT_LE(hd->wDescriptorLength, sizeof di->rdesc);
        /* all of the message is accounted for */
        ASSERT_EQ(desc_off + hd->bLength + hd->wDescriptorLength, pipe.size);
        di->vendor = m.hid_dev_info.vendor;
        di->product = m.hid_dev_info.product;
        di->version = m.hid_dev_info.version;
        di->rlen = hd->wDescriptorLength;
        memcpy(di->rdesc, info + desc_off + hd->bLength, di->rlen);
        /* the probe's "SA-167" rewrite must have nothing to do */
        ASSERT_GT(di->rlen, SYNTHHID_REPORT_DESC_FIXUP_OFFSET);
        ASSERT_NE(di->rdesc[SYNTHHID_REPORT_DESC_FIXUP_OFFSET], 0x25);
        hid_parse(di->rdesc, di->rlen, di);
}

static inline void g_mouse_ack(struct env *e) {
        uint8_t buf[sizeof(struct synthhid_pipe_hdr) + sizeof(struct synthhid_device_info_ack)];
        struct synthhid_pipe_hdr pipe = { SYNTHHID_PIPE_DATA, sizeof(struct synthhid_device_info_ack) };
        struct synthhid_device_info_ack ack = { .header = { SYNTHHID_INITIAL_DEVICE_INFO_ACK, 1 } };
        memcpy(buf, &pipe, sizeof pipe);
        memcpy(buf + sizeof pipe, &ack, sizeof ack);
        g_send(e, &e->mch, buf, sizeof buf);
}

/* The whole probe: open, request, device info, ACK; the mouse is there. */
static inline void connect_mouse(struct env *e, struct g_devinfo *di) {
        find_offers(e);
        if (!e->mch.relid)
                g_open(e, &e->mch, e->mrelid, e->mconn, LINUX_RING_PAGES);
        ASSERT_TRUE(g_mouse_request(e, SYNTHHID_INPUT_VERSION));
        g_mouse_device_info(e, di);
        g_mouse_ack(e);
        bool ms = false;
        WAIT_FOR((inputvsp_status(e->in, NULL, &ms), ms));
}

static inline uint32_t bits_at(const uint8_t *r, unsigned bit, unsigned size) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size; i++)
                v |= (uint32_t)((r[(bit + i) / 8] >> ((bit + i) % 8)) & 1u) << i;
        return v;
}

/* The next input report, read through the parsed descriptor's fields:
 * v = { buttons, wheel, X, Y }. */
static inline void g_mouse_report(struct env *e, const struct g_devinfo *di, int64_t v[4]) {
        uint8_t b[512];
        size_t n = g_recv(e, &e->mch, b, sizeof b);
        struct synthhid_pipe_hdr pipe;
        struct synthhid_msg_hdr h;
        ASSERT_GE(n, sizeof pipe + sizeof h);
        memcpy(&pipe, b, sizeof pipe);
        memcpy(&h, b + sizeof pipe, sizeof h);
        ASSERT_EQ(pipe.type, SYNTHHID_PIPE_DATA);
        ASSERT_EQ(h.type, SYNTHHID_INPUT_REPORT);
        ASSERT_EQ(pipe.size, sizeof h + h.size);
        ASSERT_LE(pipe.size, n - sizeof pipe);
        ASSERT_EQ(h.size * 8u, di->report_bits);
        ASSERT_LE(h.size, SYNTHHID_MAX_INPUT_REPORT_SIZE);
        const uint8_t *r = b + sizeof pipe + sizeof h;
        const struct hid_field *f = di->fields;
        v[0] = bits_at(r, f[0].bit, f[0].size * f[0].count);
        v[1] = (int8_t)bits_at(r, f[3].bit, f[3].size);
        v[2] = bits_at(r, f[2].bit, f[2].size);
        v[3] = bits_at(r, f[2].bit + f[2].size, f[2].size);
}
