// SPDX-License-Identifier: MIT
/* KVM's in-kernel PIT as saved state (section "VPIT", docs/saved-state.md):
 * KVM's struct kvm_pit_state2, its documented layout, for a partition
 * made with vid_partition_config.pit. KVM_SET_PIT2 reloads each channel's
 * count at the time of the call (kvm_pit_load_count), so the host time in
 * count_load_time never matters on the destination. */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vid/state.h"

_Static_assert(sizeof(struct kvm_pit_state2) == VID_STATE_PIT_SIZE, "kvm_pit_state2");
_Static_assert(sizeof(struct kvm_pit_channel_state) == 24, "kvm_pit_channel_state");

#define F(id, kind, m) VMSTATE_FIELD(id, kind, struct vid_pit_state, m)
static const struct vmstate_field_desc pit_fields[] = {
        F(1, VMSTATE_BYTES, pit),
};
#undef F

const struct vmstate_desc vid_pit_state_desc = {
        .tag = VID_STATE_TAG_PIT, .version = 1, .fields = pit_fields, .n_fields = ARRAY_SIZE(pit_fields),
        .name = "PIT",
};

/* The 8254's own ranges (Intel 8254 datasheet: modes 0-5, read/write
 * modes 0-3) and KVM's latch states (RW_STATE_LSB..RW_STATE_WORD1); mode
 * 0xff is KVM's "never programmed" (kvm_pit_reset()). */
#define PIT_MODE_UNPROGRAMMED 0xffu
static const char *channel_bad(const struct kvm_pit_channel_state *c) {
        if (c->mode > 5 && c->mode != PIT_MODE_UNPROGRAMMED)
                return "mode above 5";
        if (c->rw_mode > 3)
                return "read/write mode above 3";
        if (c->read_state > 4 || c->write_state > 4)
                return "read or write state above 4";
        if (c->bcd > 1 || c->gate > 1 || c->count_latched > 3 || c->status_latched > 1)
                return "a flag above 1";
        if (c->count > 0x10000)
                return "count above 65536";
        return NULL;
}

int vid_pit_state_decode(const struct vmstate_section *s, struct vid_pit_state *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &vid_pit_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        struct kvm_pit_state2 st;
        memcpy(&st, out->pit, sizeof st);
        if (st.flags & ~(uint32_t)(KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON))
                return errorf(err, errlen, -EINVAL, "section VPIT: unknown flags 0x%x", st.flags);
        for (unsigned i = 0; i < 3; i++) {
                const char *bad = channel_bad(&st.channels[i]);
                if (bad)
                        return errorf(err, errlen, -EINVAL, "section VPIT: channel %u: %s", i, bad);
        }
        return 0;
}

bool vid_partition_has_pit(const struct vid_partition *p) {
        return p->pit;
}

int vid_pit_state_get(struct vid_partition *p, struct vid_pit_state *out) {
        struct kvm_pit_state2 st;
        memset(out, 0, sizeof *out);
        if (!p->pit)
                return -ENOENT;
        if (ioctl(p->vm_fd, KVM_GET_PIT2, &st) < 0)
                return -errno;
        memcpy(out->pit, &st, sizeof st);
        return 0;
}

int vid_pit_state_set(struct vid_partition *p, const struct vid_pit_state *in) {
        struct kvm_pit_state2 st;
        if (!p->pit)
                return -ENOENT;
        memcpy(&st, in->pit, sizeof st);
        return ioctl(p->vm_fd, KVM_SET_PIT2, &st) < 0 ? -errno : 0;
}
