/* SPDX-License-Identifier: MIT */
/* inputvsp internals, shared by the files of this directory only. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/input.h"
#include "inputvsp/inputvsp.h"
#include "vmbus/simple.h"

struct devworker;
struct dw_source;
struct vmbus_channel;
struct vmbus_device;
struct vmbus_open_request;
struct vmbus_provider_ops;
struct vmstate_writer;
struct vmstate_section;

/* A fallback: serve both rings and send what waits even if a doorbell was
 * missed. Doorbells and API kicks do the real work. */
#define INPUT_TICK_MS 100u
/* Guest -> host packets: descriptor + the longest message we read (the
 * guest's are 8 to 20 bytes; a longer one is skipped and counted). */
#define INPUT_RX_MAX 512u

/* One device (keyboard or mouse) and its channel. */
struct input_dev {
        struct inputvsp *in;
        bool mouse;
        struct vmbus_device *dev;
        struct vmbus_simple sc; /* the channel: sc.ch non-NULL while the guest has it open */
        struct inputvsp_channel_state cs;
        bool broken;   /* its ring broke: nothing more is sent on this channel */
        /* The queue: a ring of events not yet in the guest's ring. */
        unsigned head, count;
};

struct inputvsp {
        pthread_mutex_t lock;
        struct devworker *w;
        const struct inputvsp_owner_ops *ops;
        void *opaque;
        struct inputvsp_config cfg;
        bool paused, quiesced;
        struct input_dev kbd, mouse;
        struct {
                uint16_t make_code;
                uint32_t info;
        } keys[INPUTVSP_KEY_QUEUE_MAX];
        struct input_pointer_report reports[INPUTVSP_POINTER_QUEUE_MAX];
        struct inputvsp_stats stats;
        uint8_t rxbuf[INPUT_RX_MAX];
        uint8_t txbuf[INPUT_MSG_MAX];
};

static inline bool input_active(const struct input_dev *d) {
        return d->sc.ch && !d->broken && d->cs.phase == (d->mouse ? INPUT_HID_ACTIVE : INPUT_KBD_ACTIVE);
}

/* channel.c, with in->lock held: send what is owed and queued. */
void input_flush(struct input_dev *d);
extern const struct vmbus_simple_ops input_kbd_simple, input_mouse_simple;
extern const struct vmbus_provider_ops input_kbd_provider;
extern const struct vmbus_provider_ops input_mouse_provider;

/* inputvsp.c: the owner notification (lock held). */
void input_changed(struct inputvsp *in);

/* state.c: the channel's saved state, hooks of channel.c's vmbus_simple_ops. */
int input_channel_save(struct vmbus_simple *sc, void *st, char *err, size_t errlen);
void input_channel_restore(struct vmbus_simple *sc, const void *st);
int input_kbd_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen);
int input_mouse_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen);
int input_channel_quiesce(struct vmbus_simple *sc);
