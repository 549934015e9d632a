// SPDX-License-Identifier: MIT
/* hv_sock's row of the worker's device table (common/device.h,
 * docs/hvsock.md). Its connections are to host processes, which no saved
 * state can hold: it has no section, and the VMBus server refuses a save
 * while one of its channels is open. So a save or a migration detaches it
 * first (hvsock_suspend: every connection ends, the guest sees its peer
 * close, new ones are refused) and the VM's resume, or a migration that
 * failed with the VM running here, attaches it again. A plain pause parks
 * its device worker (no ring access, no byte moved) and keeps its
 * connections. */
#include "common/device.h"
#include "hvsock/hvsock.h"

/* How long a detach waits for the channels' rescinds to be queued. */
#define DETACH_TIMEOUT_MS 5000u

static int row_quiesce(void *dev) {
        return hvsock_quiesce(dev);
}

static void row_resume(void *dev) {
        hvsock_unquiesce(dev);
}

static int row_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        return 0;
}

static int row_restore(void *dev, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        return 0;
}

static int row_detach(void *dev) {
        return hvsock_suspend(dev, DETACH_TIMEOUT_MS);
}

static void row_attach(void *dev) {
        hvsock_resume(dev);
}

/* Its own object, "hvsock". */
static void row_stats(void *dev, struct json_object *into) {
        struct json_object *o = device_stat_object(into, "hvsock");
        if (!o)
                return;
        struct hvsock_stats s;
        hvsock_get_stats(dev, &s);
        device_stat_add(o, "live", s.live);
        device_stat_add(o, "guest_connects", s.guest_connects);
        device_stat_add(o, "host_connects", s.host_connects);
        device_stat_add(o, "refused", s.refused);
        device_stat_add(o, "opened", s.opened);
        device_stat_add(o, "closed", s.closed);
        device_stat_add(o, "timed_out", s.timed_out);
        device_stat_add(o, "protocol_errors", s.protocol_errors);
        device_stat_add(o, "bytes_to_host", s.bytes_to_host);
        device_stat_add(o, "bytes_to_guest", s.bytes_to_guest);
        device_stat_add(o, "offer_timeout_ms", s.offer_timeout_ms);
}

static const uint32_t row_tags[] = { 0 };

const struct device_ops hvsock_device_ops = {
        .name = "hvsock", .quiesce = row_quiesce, .resume = row_resume, .save = row_save, .restore = row_restore,
        .tags = row_tags, .detach = row_detach, .attach = row_attach, .stats = row_stats,
};
