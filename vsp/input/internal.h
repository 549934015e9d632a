/* SPDX-License-Identifier: MIT */
/* inputvsp internals, shared by the files of this directory only. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/input.h"
#include "inputvsp/inputvsp.h"

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
        struct vmbus_channel *ch; /* non-NULL while the guest has it open */
        struct dw_source *doorbell;
        struct inputvsp_channel_state cs;
        bool broken;   /* its ring broke: nothing more is sent on this channel */
        bool restored; /* restored from a saved state, not yet resumed */
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
        return d->ch && !d->broken && d->cs.phase == (d->mouse ? INPUT_HID_ACTIVE : INPUT_KBD_ACTIVE);
}

/* channel.c, with in->lock held: read the guest's ring and answer (true:
 * it kept writing, call again); send what is owed and queued. */
bool input_serve(struct input_dev *d);
void input_flush(struct input_dev *d);
/* The channel's doorbell as a source of the device thread (no lock held). */
int input_doorbell_add(struct input_dev *d, int fd);
extern const struct vmbus_provider_ops input_kbd_provider;
extern const struct vmbus_provider_ops input_mouse_provider;

/* inputvsp.c: the owner notification (lock held). */
void input_changed(struct inputvsp *in);

/* state.c: the VMBus provider's saved-state hooks. */
int input_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen);
int input_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                          const struct vmstate_section *secs, size_t n, char *err, size_t errlen);
