// SPDX-License-Identifier: MIT
/* fw_cfg on a vid partition: its ports, and guest memory through vid's
 * bounds-checked helpers (emu/fwcfg.h). */
#include <string.h>

#include "common/macro.h"
#include "emu/fwcfg.h"
#include "vid/vid.h"

static void ctl_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {
        uint32_t v = fwcfg_read(o, (uint16_t)(FWCFG_PORT_SELECTOR + off), len);
        memcpy(d, &v, MIN(len, 4u));
}

static void ctl_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) {
        uint32_t v = 0;
        memcpy(&v, d, MIN(len, 4u));
        fwcfg_write(o, (uint16_t)(FWCFG_PORT_SELECTOR + off), len, v);
}

static void dma_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {
        uint32_t v = fwcfg_read(o, (uint16_t)(FWCFG_PORT_DMA + off), len);
        memcpy(d, &v, MIN(len, 4u));
}

static void dma_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) {
        uint32_t v = 0;
        memcpy(&v, d, MIN(len, 4u));
        fwcfg_write(o, (uint16_t)(FWCFG_PORT_DMA + off), len, v);
}

static const struct vid_io_ops ctl_ops = { .read = ctl_read, .write = ctl_write };
static const struct vid_io_ops dma_ops = { .read = dma_read, .write = dma_write };

int fwcfg_register(struct fwcfg *f, struct vid_partition *p) {
        int r = vid_register_pio(p, FWCFG_PORT_SELECTOR, 2, &ctl_ops, f);
        if (r < 0)
                return r;
        return vid_register_pio(p, FWCFG_PORT_DMA, FWCFG_DMA_PORTS, &dma_ops, f);
}

static int vid_mem_read(void *opaque, uint64_t gpa, void *buf, size_t len) {
        return gm_read(opaque, gpa, buf, len);
}

/* gm_write marks the pages dirty for a live migration. */
static int vid_mem_write(void *opaque, uint64_t gpa, const void *buf, size_t len) {
        return gm_write(opaque, gpa, buf, len);
}

const struct fwcfg_mem_ops fwcfg_vid_mem_ops = { .read = vid_mem_read, .write = vid_mem_write };
