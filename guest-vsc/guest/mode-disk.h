/* SPDX-License-Identifier: MIT */
/* What the disk modes share (mode-disk.c): every synthetic SCSI controller
 * the host offers, opened and initialised as Linux 6.1 does (§6.3), and
 * the LUNs found on them as Linux's scan finds them (§6.8). */
#pragma once

#include "guest.h"
#include "vsc/stor.h"

#define DISK_MAX_CTRL 4u /* VM_SCSI_CONTROLLERS_MAX */
#define DISK_MAX_LUNS 16u

struct disk_lun {
        unsigned ctrl; /* index into disk_env.ctrl */
        uint8_t lun;
        struct vsc_scsi_inquiry inq;
        struct vsc_scsi_capacity cap;
        bool wp, dpofua;
};

struct disk_env {
        struct guest *g;
        struct vsc_stor ctrl[DISK_MAX_CTRL];
        unsigned n_ctrl;
        struct disk_lun luns[DISK_MAX_LUNS];
        unsigned n_luns;
        uint8_t *scratch; /* one page for discovery data, page aligned */
        size_t pages;     /* of this struct, from the page pool */
};

/* CPL0: VMBus, every SCSI offer opened and initialised (sub-channels as
 * vsc.disk.subchannels= asks), LUNs discovered; one report line per
 * controller and per LUN. *out is from the page pool. */
int disk_setup(struct guest *g, struct disk_env **out);
/* CPL0: closes the controllers, UNLOAD, frees env. Keeps the first error. */
int disk_teardown(struct disk_env *e, int r);

/* A command on the primary channel of lun's controller; the buffer may be
 * NULL with len 0. Fails (and reports) only on transport errors: the SCSI
 * outcome is in *res. */
int disk_exec(struct disk_env *e, const struct disk_lun *lun, const uint8_t *cdb, uint8_t cdb_len,
              enum vsc_stor_dir dir, void *buf, uint32_t len, struct vsc_stor_result *res);
static inline struct vsc_stor *disk_stor(struct disk_env *e, const struct disk_lun *lun) {
        return &e->ctrl[lun->ctrl];
}

/* vsc.disk.<key>=N, within [min, max], else def (a warning line if set but bad; guest_opt). */
uint64_t disk_opt(const struct guest *g, const char *key, uint64_t def, uint64_t min, uint64_t max);
/* "sense_key=0x5 asc=0x24 ascq=0x0" (or "sense=none") for a result. */
void disk_sense_text(const struct vsc_stor_result *res, char *out, size_t len);
