// SPDX-License-Identifier: MIT
/* The keyboard's and the mouse's channels (docs/input.md): the guest's
 * messages, the answers it waits for, and the queued events written into
 * its ring. Everything here runs with in->lock held, on the device thread
 * (doorbells, tick, kicks) or on a VP thread (open, close); vmbus/simple.h
 * serves the ring and calls the hooks at the end.
 *
 * The guest speaks first on both. Keyboard: PROTOCOL_REQUEST (1.0) ->
 * PROTOCOL_RESPONSE, then keystrokes. Mouse: PROTOCOL_REQUEST (2.0) ->
 * PROTOCOL_RESPONSE and INITIAL_DEVICE_INFO, the guest's
 * INITIAL_DEVICE_INFO_ACK, then input reports. An answer the guest's ring
 * has no room for is owed (the OWE phases) and sent first when it has:
 * the ring set pending_send_sz, so the guest signals once it read enough
 * (§5.6), and the tick tries again anyway. */
#include <errno.h>

#include "common/macro.h"
#include "internal.h"
#include "vmbus/provider.h"
#include "vmbus/simple.h"

static void drop_queue(struct input_dev *d) {
        d->in->stats.dropped += d->count;
        d->head = d->count = 0;
}

/* A negotiated channel stops being one (a new request, a broken ring):
 * its queue goes with it; the owner hears of it. */
static void leave_active(struct input_dev *d) {
        if (!input_active(d))
                return;
        drop_queue(d);
        input_changed(d->in);
}

/* ---- the guest's messages ---- */

static void on_request(struct input_dev *d, uint32_t version, uint32_t ours) {
        leave_active(d);
        d->cs.version = version;
        /* Each request is answered, even a repeated one: the guest waits
         * for its answer (10 s keyboard, 5 s mouse) and fails its probe
         * without one. The answer decides the state. */
        if (version == ours) {
                d->cs.phase = d->mouse ? INPUT_HID_OWE_ACCEPT : INPUT_KBD_OWE_ACCEPT;
        } else {
                d->cs.phase = d->mouse ? INPUT_HID_OWE_REFUSAL : INPUT_KBD_OWE_REFUSAL;
                d->in->stats.refused_versions++;
        }
}

static void on_kbd_message(struct input_dev *d, const uint8_t *p, size_t len) {
        struct input_kbd_msg m;
        if (input_kbd_parse(p, len, &m) < 0) {
                d->in->stats.bad_messages++;
                return;
        }
        if (m.type == SYNTH_KBD_PROTOCOL_REQUEST)
                on_request(d, m.version, SYNTH_KBD_VERSION);
        else
                d->in->stats.led_reports++; /* no LEDs to light: read and let go */
}

static void on_hid_message(struct input_dev *d, const uint8_t *p, size_t len) {
        struct input_hid_msg m;
        if (input_hid_parse(p, len, &m) < 0) {
                d->in->stats.bad_messages++;
                return;
        }
        if (m.type == SYNTHHID_PROTOCOL_REQUEST) {
                on_request(d, m.version, SYNTHHID_INPUT_VERSION);
                return;
        }
        /* An acknowledgement of a device info we did not send (yet):
         * counted, ignored. */
        if (d->cs.phase != INPUT_HID_WAIT_ACK) {
                d->in->stats.bad_messages++;
                return;
        }
        d->cs.phase = INPUT_HID_ACTIVE;
        d->in->stats.negotiations++;
        input_changed(d->in);
}

/* ---- to the guest ---- */

static int send_txbuf(struct input_dev *d, struct vmbus_ring_pair *rp, size_t len) {
        return vmbus_ring_send_inband(rp, 0, false, d->in->txbuf, len);
}

static int send_kbd_answer(struct input_dev *d, struct vmbus_ring_pair *rp) {
        bool accept = d->cs.phase == INPUT_KBD_OWE_ACCEPT;
        if (!accept && d->cs.phase != INPUT_KBD_OWE_REFUSAL)
                return 0;
        int r = send_txbuf(d, rp, input_kbd_build_response(d->in->txbuf, accept));
        if (r < 0)
                return r;
        if (!accept) {
                d->cs = (struct inputvsp_channel_state){ .phase = INPUT_KBD_WAIT_REQUEST };
                return 0;
        }
        d->cs.phase = INPUT_KBD_ACTIVE;
        d->in->stats.negotiations++;
        input_changed(d->in);
        return 0;
}

static int send_hid_answers(struct input_dev *d, struct vmbus_ring_pair *rp) {
        struct inputvsp *in = d->in;
        int r;
        switch (d->cs.phase) {
        case INPUT_HID_OWE_REFUSAL:
                r = send_txbuf(d, rp, input_hid_build_response(in->txbuf, d->cs.version, false));
                if (r == 0)
                        d->cs = (struct inputvsp_channel_state){ .phase = INPUT_HID_WAIT_REQUEST };
                return r;
        case INPUT_HID_OWE_ACCEPT:
                r = send_txbuf(d, rp, input_hid_build_response(in->txbuf, d->cs.version, true));
                if (r < 0)
                        return r;
                d->cs.phase = INPUT_HID_OWE_INFO;
                /* the guest waits for the device info next */
                __attribute__((fallthrough));
        case INPUT_HID_OWE_INFO:
                r = send_txbuf(d, rp, input_hid_build_device_info(in->txbuf));
                if (r == 0)
                        d->cs.phase = INPUT_HID_WAIT_ACK;
                return r;
        default:
                return 0;
        }
}

static int send_events(struct input_dev *d, struct vmbus_ring_pair *rp) {
        struct inputvsp *in = d->in;
        while (d->count) {
                size_t len;
                if (d->mouse)
                        len = input_hid_build_report(in->txbuf, &in->reports[d->head]);
                else
                        len = input_kbd_build_keystroke(in->txbuf, in->keys[d->head].make_code,
                                                        in->keys[d->head].info);
                int r = send_txbuf(d, rp, len);
                if (r < 0)
                        return r; /* -EAGAIN: it stays at the head for the next try */
                d->head = (d->head + 1) % (d->mouse ? INPUTVSP_POINTER_QUEUE_MAX : INPUTVSP_KEY_QUEUE_MAX);
                d->count--;
                if (d->mouse)
                        in->stats.reports_sent++;
                else
                        in->stats.keys_sent++;
        }
        return 0;
}

/* What is owed, then (unless paused) the queue, as one batch: one
 * write_index publish, at most one signal. */
void input_flush(struct input_dev *d) {
        if (!d->sc.ch || d->broken)
                return;
        struct vmbus_ring_pair *rp = vmbus_channel_rings(d->sc.ch);
        vmbus_ring_send_begin(rp);
        int r = d->mouse ? send_hid_answers(d, rp) : send_kbd_answer(d, rp);
        if (r == 0 && input_active(d) && !d->in->paused)
                r = send_events(d, rp);
        vmbus_ring_send_end(rp);
        if ((r < 0 && r != -EAGAIN) || vmbus_ring_broken(rp)) {
                /* Our packets are valid and short: only a ring the guest
                 * broke fails them. The channel is dead until reopened. */
                leave_active(d);
                drop_queue(d);
                d->broken = true;
        }
}

/* ---- the channel (vmbus/simple.h serves the ring) ---- */

static void on_packet(struct vmbus_simple *sc, const struct vmbus_packet *p) {
        struct input_dev *d = container_of(sc, struct input_dev, sc);
        if (!p || p->type != VM_PKT_DATA_INBAND)
                d->in->stats.bad_messages++;
        else if (d->mouse)
                on_hid_message(d, vmbus_packet_payload(p), vmbus_packet_payload_len(p));
        else
                on_kbd_message(d, vmbus_packet_payload(p), vmbus_packet_payload_len(p));
}

/* After reading the guest's ring: what is owed and queued. */
static void on_served(struct vmbus_simple *sc) {
        input_flush(container_of(sc, struct input_dev, sc));
}

static int on_opened(struct vmbus_simple *sc) {
        struct input_dev *d = container_of(sc, struct input_dev, sc);
        d->cs = (struct inputvsp_channel_state){ 0 };
        d->broken = false;
        return 0; /* the guest speaks first */
}

/* The guest's driver went (removed, hibernating, the bus unloaded): what
 * it did not read is lost. A refused restore's undo closes quietly. */
static void on_closed(struct vmbus_simple *sc, bool quiet) {
        struct input_dev *d = container_of(sc, struct input_dev, sc);
        bool was_active = !d->broken && d->cs.phase == (d->mouse ? INPUT_HID_ACTIVE : INPUT_KBD_ACTIVE);
        drop_queue(d);
        if (was_active && !quiet)
                input_changed(d->in);
        d->cs = (struct inputvsp_channel_state){ 0 };
        d->broken = false;
}

#define INPUT_SIMPLE(desc_)                                                                      \
        .state = &(desc_), .state_size = sizeof(struct inputvsp_channel_state), .opened = on_opened, \
        .packet = on_packet, .served = on_served, .closed = on_closed, .save = input_channel_save,  \
        .restore = input_channel_restore, .check = NULL, .quiesce = input_channel_quiesce

const struct vmbus_simple_ops input_kbd_simple = {
        .name = "keyboard", INPUT_SIMPLE(inputvsp_kbd_state_desc), .decode = input_kbd_channel_decode,
};

const struct vmbus_simple_ops input_mouse_simple = {
        .name = "mouse", INPUT_SIMPLE(inputvsp_mouse_state_desc), .decode = input_mouse_channel_decode,
};

const struct vmbus_provider_ops input_kbd_provider = {
        .name = "keyboard",
        .class_id = { HV_KBD_GUID },
        .chn_flags = HV_KBD_CHN_FLAGS,
        .guest_max_packet = HV_INPUT_GUEST_MAX_PACKET,
        VMBUS_SIMPLE_PROVIDER,
};

const struct vmbus_provider_ops input_mouse_provider = {
        .name = "mouse",
        .class_id = { HV_MOUSE_GUID },
        .chn_flags = HV_MOUSE_CHN_FLAGS,
        .pipe_mode = HV_MOUSE_PIPE_MODE,
        .guest_max_packet = HV_INPUT_GUEST_MAX_PACKET,
        VMBUS_SIMPLE_PROVIDER,
};
