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

/* ---- the channel's section, through vmbus/simple.h ---- */

int input_kbd_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen) {
        return inputvsp_kbd_state_decode(s, st, err, errlen);
}

int input_mouse_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen) {
        return inputvsp_mouse_state_decode(s, st, err, errlen);
}

int input_channel_save(struct vmbus_simple *sc, void *st, char *err, size_t errlen) {
        struct input_dev *d = container_of(sc, struct input_dev, sc);
        if (!d->in->quiesced)
                return errorf(err, errlen, -EBUSY, "%s channel: not quiesced", d->mouse ? "mouse" : "keyboard");
        *(struct inputvsp_channel_state *)st = d->cs;
        return 0;
}

int input_channel_quiesce(struct vmbus_simple *sc) {
        return inputvsp_quiesce(container_of(sc, struct input_dev, sc)->in);
}

/* Comes back quiesced: nothing reaches the ring until resume. */
void input_channel_restore(struct vmbus_simple *sc, const void *st) {
        struct input_dev *d = container_of(sc, struct input_dev, sc);
        d->cs = *(const struct inputvsp_channel_state *)st;
        d->broken = false;
        d->head = d->count = 0;
}

/* ---- the row of the worker's device table ---- */

/* Quiesce parks the channels; everything the guest sees of the device is
 * its channels' (KBCH, MSCH), saved and restored through the VMBus
 * server's row (the input_channel_* hooks above, through vmbus/simple.h). */
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
