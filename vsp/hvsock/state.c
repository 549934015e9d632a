// SPDX-License-Identifier: MIT
/* hv_sock's row of the worker's device table (common/device.h,
 * docs/hvsock.md). Its connections are to host processes, which no saved
 * state can hold: it has no section, and the VMBus server refuses a save
 * while one of its channels is open. So a save or a migration detaches it
 * first (hvsock_suspend: every connection ends, the guest sees its peer
 * close, new ones are refused) and the VM's resume, or a migration that
 * failed with the VM running here, attaches it again. A plain pause
 * leaves its service thread and connections as they are. */
#include "common/device.h"
#include "hvsock/hvsock.h"

/* How long a detach waits for the service thread to rescind the channels. */
#define DETACH_TIMEOUT_MS 5000u

static int row_quiesce(void *dev) {
        return 0;
}

static void row_resume(void *dev) {
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

static const uint32_t row_tags[] = { 0 };

const struct device_ops hvsock_device_ops = {
        .name = "hvsock", .quiesce = row_quiesce, .resume = row_resume, .save = row_save, .restore = row_restore,
        .tags = row_tags, .detach = row_detach, .attach = row_attach,
};
