// SPDX-License-Identifier: MIT
/* The synthetic keyboard and mouse (inputvsp.h, docs/input.md): one
 * device worker thread serves both channels' doorbells, a periodic tick
 * and the kicks of the API calls (its idle hook), under one lock, as
 * dmvsp and icvsp do; each channel is a vmbus/simple.h single-channel
 * device.
 *
 * The API only queues: the thread is the one writer of the guest's rings
 * (a ring's send side is one thread's at a time, vmbus/ring.h), so an
 * event reaches the guest after a kick, in order with the answers. The
 * queues are bounded (INPUTVSP_KEY_QUEUE_MAX, INPUTVSP_POINTER_QUEUE_MAX)
 * and only fill while the guest does not read its ring or the device is
 * paused: then the API says -EAGAIN instead of holding memory for a
 * guest that does not listen. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/devworker.h"
#include "common/macro.h"
#include "internal.h"
#include "vmbus/provider.h"
#include "vmbus/server.h"
#include "vmbus/simple.h"

void input_changed(struct inputvsp *in) {
        if (in->ops && in->ops->changed)
                in->ops->changed(in->opaque);
}

/* ---- the device thread ---- */

static int on_timer(struct dw_source *src, int fd, uint32_t revents, void *opaque) {
        struct inputvsp *in = opaque;
        pthread_mutex_lock(&in->lock);
        /* A missed doorbell cannot strand a message or an answer. */
        vmbus_simple_poll(&in->kbd.sc);
        vmbus_simple_poll(&in->mouse.sc);
        pthread_mutex_unlock(&in->lock);
        return 0;
}

/* After every batch of callbacks and every API kick. */
static void on_idle(void *opaque) {
        struct inputvsp *in = opaque;
        pthread_mutex_lock(&in->lock);
        input_flush(&in->kbd);
        input_flush(&in->mouse);
        pthread_mutex_unlock(&in->lock);
}

/* ---- lifecycle ---- */

static int add_device(struct inputvsp *in, struct vmbus_server *srv, struct input_dev *d) {
        static const uint8_t kbd_instance[16] = HV_KBD_INSTANCE, mouse_instance[16] = HV_MOUSE_INSTANCE;
        struct vmbus_device_config dc = { .ops = d->mouse ? &input_mouse_provider : &input_kbd_provider,
                                          .data = &d->sc };
        memcpy(dc.instance_id.b, d->mouse ? mouse_instance : kbd_instance, 16);
        return vmbus_server_add_device(srv, &dc, &d->dev);
}

int inputvsp_new(struct vmbus_server *srv, const struct inputvsp_config *cfg, const struct inputvsp_owner_ops *ops,
                 void *opaque, struct inputvsp **out) {
        if (!cfg || (!cfg->keyboard && !cfg->mouse))
                return -EINVAL;
        struct inputvsp *in = calloc(1, sizeof *in);
        if (!in)
                return -ENOMEM;
        pthread_mutex_init(&in->lock, NULL);
        in->cfg = *cfg;
        in->ops = ops;
        in->opaque = opaque;
        in->kbd = (struct input_dev){ .in = in };
        in->mouse = (struct input_dev){ .in = in, .mouse = true };
        int r = devworker_new(&(struct devworker_config){ .name = "input", .on_idle = on_idle, .opaque = in },
                              &in->w);
        if (r == 0) {
                vmbus_simple_init(&in->kbd.sc, &input_kbd_simple, &in->lock, in->w, in->rxbuf, sizeof in->rxbuf);
                vmbus_simple_init(&in->mouse.sc, &input_mouse_simple, &in->lock, in->w, in->rxbuf,
                                  sizeof in->rxbuf);
                r = devworker_add_timer(in->w, INPUT_TICK_MS * 1000ull, INPUT_TICK_MS * 1000ull, on_timer, in, NULL);
        }
        if (r == 0)
                r = devworker_start(in->w);
        if (r == 0 && cfg->keyboard)
                r = add_device(in, srv, &in->kbd);
        if (r == 0 && cfg->mouse)
                r = add_device(in, srv, &in->mouse);
        if (r < 0) {
                inputvsp_free(in);
                return r;
        }
        *out = in;
        return 0;
}

void inputvsp_free(struct inputvsp *in) {
        if (!in)
                return;
        devworker_free(in->w); /* stops the thread */
        pthread_mutex_destroy(&in->lock);
        free(in);
}

/* ---- events ---- */

int inputvsp_key(struct inputvsp *in, uint32_t scancode, bool down) {
        uint16_t make_code;
        uint32_t info;
        if (input_kbd_keystroke(scancode, down, &make_code, &info) < 0)
                return -EINVAL;
        struct input_dev *d = &in->kbd;
        int r = 0;
        pthread_mutex_lock(&in->lock);
        if (!input_active(d)) {
                r = -ENOTCONN;
        } else if (d->count == INPUTVSP_KEY_QUEUE_MAX) {
                in->stats.refused++;
                r = -EAGAIN;
        } else {
                unsigned i = (d->head + d->count++) % INPUTVSP_KEY_QUEUE_MAX;
                in->keys[i].make_code = make_code;
                in->keys[i].info = info;
        }
        pthread_mutex_unlock(&in->lock);
        if (r == 0)
                devworker_kick(in->w);
        return r;
}

/* Joins the report last queued if the buttons are the same (a move, a
 * wheel turn): the newest position wins, the notches add up. */
static bool coalesce(struct inputvsp *in, const struct input_pointer_report *rep) {
        struct input_dev *d = &in->mouse;
        if (!d->count)
                return false;
        struct input_pointer_report *t = &in->reports[(d->head + d->count - 1) % INPUTVSP_POINTER_QUEUE_MAX];
        int wheel = t->wheel + rep->wheel;
        if (t->buttons != rep->buttons || wheel > INPUTVSP_WHEEL_MAX || wheel < -INPUTVSP_WHEEL_MAX)
                return false;
        t->x = rep->x;
        t->y = rep->y;
        t->wheel = (int8_t)wheel;
        in->stats.coalesced++;
        return true;
}

int inputvsp_pointer(struct inputvsp *in, uint32_t x, uint32_t y, uint32_t width, uint32_t height,
                     uint32_t buttons, int32_t wheel) {
        struct input_pointer_report rep;
        if (input_pointer_report(x, y, width, height, buttons, wheel, &rep) < 0)
                return -EINVAL;
        struct input_dev *d = &in->mouse;
        int r = 0;
        pthread_mutex_lock(&in->lock);
        if (!input_active(d)) {
                r = -ENOTCONN;
        } else if (coalesce(in, &rep)) {
                /* nothing more to queue */
        } else if (d->count == INPUTVSP_POINTER_QUEUE_MAX) {
                in->stats.refused++;
                r = -EAGAIN;
        } else {
                in->reports[(d->head + d->count++) % INPUTVSP_POINTER_QUEUE_MAX] = rep;
        }
        pthread_mutex_unlock(&in->lock);
        if (r == 0)
                devworker_kick(in->w);
        return r;
}

void inputvsp_status(struct inputvsp *in, bool *keyboard, bool *mouse) {
        pthread_mutex_lock(&in->lock);
        if (keyboard)
                *keyboard = input_active(&in->kbd);
        if (mouse)
                *mouse = input_active(&in->mouse);
        pthread_mutex_unlock(&in->lock);
}

void inputvsp_get_stats(struct inputvsp *in, struct inputvsp_stats *out) {
        pthread_mutex_lock(&in->lock);
        *out = in->stats;
        pthread_mutex_unlock(&in->lock);
}

/* ---- pause, quiesce, resume ---- */

void inputvsp_pause(struct inputvsp *in) {
        pthread_mutex_lock(&in->lock);
        in->paused = true;
        pthread_mutex_unlock(&in->lock);
}

/* The thread first: once it is parked nothing reads a ring or writes one.
 * API calls from then on only queue. */
int inputvsp_quiesce(struct inputvsp *in) {
        int r = devworker_pause(in->w);
        if (r < 0)
                return r;
        pthread_mutex_lock(&in->lock);
        in->quiesced = in->paused = true;
        pthread_mutex_unlock(&in->lock);
        return 0;
}

void inputvsp_resume(struct inputvsp *in) {
        pthread_mutex_lock(&in->lock);
        bool restored = (in->kbd.sc.restored && input_active(&in->kbd)) ||
                        (in->mouse.sc.restored && input_active(&in->mouse));
        in->paused = in->quiesced = false;
        vmbus_simple_resumed(&in->kbd.sc);
        vmbus_simple_resumed(&in->mouse.sc);
        /* The owner built this inputvsp for the restore: tell it the
         * drivers it restored are there. */
        if (restored)
                input_changed(in);
        pthread_mutex_unlock(&in->lock);
        devworker_resume(in->w);
        devworker_kick(in->w); /* what queued goes now */
}
