// SPDX-License-Identifier: MIT
/* The keyboard's and mouse's saved state (docs/input.md "Saved state"):
 * one section per open channel, "KBCH" or "MSCH" with the relid as its
 * instance, holding where the negotiation stands. That is all the guest
 * can observe: a restored channel goes on where it was (the guest does
 * not negotiate again), and an answer it was owed is sent at resume.
 * Queued events are not saved: they belong to the moment of the save,
 * and the saved VM's guest never sees them. Decoding is pure and checks
 * the phase and version against what the device could have done. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

#include "common/device.h"
#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vmbus/provider.h"

#define F(id_, kind_, m_) VMSTATE_FIELD(id_, kind_, struct inputvsp_channel_state, m_)

static const struct vmstate_field_desc fields[] = {
        F(1, VMSTATE_U8, phase),
        F(2, VMSTATE_U32, version),
};
const struct vmstate_desc inputvsp_kbd_state_desc = {
        .tag = INPUTVSP_KBD_STATE_TAG, .version = 1, .fields = fields, .n_fields = ARRAY_SIZE(fields),
        .name = "keyboard channel",
};
const struct vmstate_desc inputvsp_mouse_state_desc = {
        .tag = INPUTVSP_MOUSE_STATE_TAG, .version = 1, .fields = fields, .n_fields = ARRAY_SIZE(fields),
        .name = "mouse channel",
};

/* Both phase enums start WAIT_REQUEST, OWE_REFUSAL, OWE_ACCEPT. */
_Static_assert(INPUT_KBD_OWE_REFUSAL == 1 && INPUT_HID_OWE_REFUSAL == 1, "phase order");
_Static_assert(INPUT_KBD_OWE_ACCEPT == 2 && INPUT_HID_OWE_ACCEPT == 2, "phase order");

static int decode(const struct vmstate_section *s, const struct vmstate_desc *desc, uint8_t last_phase,
                  uint32_t ours, struct inputvsp_channel_state *out, char *err, size_t errlen) {
        char tag[5];
        vmstate_tag_name(desc->tag, tag);
        *out = (struct inputvsp_channel_state){ 0 };
        int r = vmstate_decode(s, desc, out, err, errlen);
        if (r < 0)
                return r;
        if (out->phase > last_phase)
                return errorf(err, errlen, -EINVAL, "section %s #%u: phase %u out of range", tag, s->instance,
                              out->phase);
        bool ok = out->phase == 0 ? out->version == 0
                : out->phase == 1 ? out->version != ours
                                  : out->version == ours;
        if (!ok)
                return errorf(err, errlen, -EINVAL, "section %s #%u: version 0x%x does not fit phase %u", tag,
                              s->instance, out->version, out->phase);
        return 0;
}

int inputvsp_kbd_state_decode(const struct vmstate_section *s, struct inputvsp_channel_state *out, char *err,
                              size_t errlen) {
        return decode(s, &inputvsp_kbd_state_desc, INPUT_KBD_ACTIVE, SYNTH_KBD_VERSION, out, err, errlen);
}

int inputvsp_mouse_state_decode(const struct vmstate_section *s, struct inputvsp_channel_state *out, char *err,
                                size_t errlen) {
        return decode(s, &inputvsp_mouse_state_desc, INPUT_HID_ACTIVE, SYNTHHID_INPUT_VERSION, out, err, errlen);
}

/* ---- VMBus provider hooks ---- */

int input_save_channel(struct vmbus_channel *ch, struct vmstate_writer *w, char *err, size_t errlen) {
        struct input_dev *d = vmbus_device_data(vmbus_channel_device(ch));
        const struct vmstate_desc *desc = d->mouse ? &inputvsp_mouse_state_desc : &inputvsp_kbd_state_desc;
        pthread_mutex_lock(&d->in->lock);
        bool quiesced = d->in->quiesced;
        struct inputvsp_channel_state st = d->cs;
        pthread_mutex_unlock(&d->in->lock);
        if (!quiesced)
                return errorf(err, errlen, -EBUSY, "%s: not quiesced", desc->name);
        int r = vmstate_encode(w, desc, vmbus_channel_relid(ch), &st);
        return r < 0 ? errorf(err, errlen, r, "writing the %s section of channel %u: %s", desc->name,
                              vmbus_channel_relid(ch), strerror(-r))
                     : 0;
}

int input_restore_channel(struct vmbus_channel *ch, const struct vmbus_open_request *req,
                          const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        struct input_dev *d = vmbus_device_data(vmbus_channel_device(ch));
        uint32_t relid = vmbus_channel_relid(ch), tag = d->mouse ? INPUTVSP_MOUSE_STATE_TAG : INPUTVSP_KBD_STATE_TAG;
        char name[5];
        vmstate_tag_name(tag, name);
        const struct vmstate_section *sec = vmstate_find(secs, n, tag, relid);
        if (!sec)
                return errorf(err, errlen, -EINVAL, "the state has no %s section for channel %u", name, relid);
        struct inputvsp_channel_state st;
        int r = d->mouse ? inputvsp_mouse_state_decode(sec, &st, err, errlen)
                         : inputvsp_kbd_state_decode(sec, &st, err, errlen);
        if (r < 0)
                return r;
        if (req->sub_channel_index != 0)
                return errorf(err, errlen, -EINVAL, "section %s #%u: a sub-channel", name, relid);
        /* Comes back quiesced: nothing reaches the ring until resume. */
        if ((r = inputvsp_quiesce(d->in)) < 0 || (r = input_doorbell_add(d, vmbus_channel_event_fd(ch))) < 0)
                return errorf(err, errlen, r, "%s: %s", name, strerror(-r));
        pthread_mutex_lock(&d->in->lock);
        d->ch = ch;
        d->cs = st;
        d->broken = false;
        d->restored = true;
        d->head = d->count = 0;
        pthread_mutex_unlock(&d->in->lock);
        /* The guest may have written while saved (its interrupt mask set,
         * or the doorbell lost with the old process): read the ring as
         * soon as the thread runs again. */
        (void)eventfd_write(vmbus_channel_event_fd(ch), 1);
        return 0;
}

/* ---- the row of the worker's device table ---- */

/* Quiesce parks the channels; everything the guest sees of the device is
 * its channels' (KBCH, MSCH), saved and restored through the VMBus
 * server's row (input_save_channel and input_restore_channel above). */
static int row_quiesce(void *dev) {
        return inputvsp_quiesce(dev);
}

static void row_resume(void *dev) {
        inputvsp_resume(dev);
}

static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        return 0;
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        return 0;
}

/* "input_*" keys in the "display" object. */
static void row_stats(void *dev, struct json_object *into) {
        struct json_object *o = device_stat_object(into, "display");
        if (!o)
                return;
        struct inputvsp_stats is;
        inputvsp_get_stats(dev, &is);
#define V(k) device_stat_add(o, "input_" #k, is.k)
        V(keys_sent), V(reports_sent), V(coalesced);
        /* The device's own refusals (its queue full) under their own name:
         * "input_refused" is the display server's count of every refused
         * event. */
        device_stat_add(o, "input_queue_full", is.refused);
        V(dropped), V(negotiations), V(bad_messages);
#undef V
}

static const uint32_t row_tags[] = { INPUTVSP_KBD_STATE_TAG, INPUTVSP_MOUSE_STATE_TAG, 0 };

const struct device_ops inputvsp_device_ops = {
        .name = "synthetic keyboard and mouse", .quiesce = row_quiesce, .resume = row_resume,
        .save = row_save, .restore = row_restore, .tags = row_tags, .stats = row_stats,
};
