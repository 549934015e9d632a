// SPDX-License-Identifier: MIT
/* Port 61h on a vid partition (emu/nmi-status.h). */
#include <string.h>
#include <time.h>

#include "emu/nmi-status.h"
#include "vid/vid.h"

uint8_t nmi_status_read(uint64_t now_ns) {
        return (now_ns / NMI_STATUS_REFRESH_NS) & 1 ? NMI_STATUS_REFRESH : 0;
}

static void port_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint8_t v = nmi_status_read((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
        memset(d, v, len);
}

static const struct vid_io_ops ops = { .read = port_read };

int nmi_status_register(struct vid_partition *p) {
        return vid_register_pio(p, NMI_STATUS_PORT, 1, &ops, NULL);
}
