// SPDX-License-Identifier: MIT
/* A synthetic SCSI controller: its LUN table (hot add/remove) and the
 * protocol state its primary channel negotiates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/macro.h"
#include "storvsp-internal.h"

struct storvsp_lun *storvsp_lun_ref(struct storvsp_lun *l) {
        if (l)
                __atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
        return l;
}

void storvsp_lun_unref(struct storvsp_lun *l) {
        if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        disk_unref(l->disk);
        free(l);
}

int storvsp_controller_new(const struct storvsp_controller_config *cfg, struct storvsp_controller **out) {
        struct storvsp_controller_config c = cfg ? *cfg : (struct storvsp_controller_config){ 0 };
        if (c.max_transfer_bytes == 0)
                c.max_transfer_bytes = STORVSP_DEFAULT_MAX_TRANSFER;
        if (c.queue_depth == 0)
                c.queue_depth = STORVSP_DEFAULT_QUEUE_DEPTH;
        if (c.max_transfer_bytes > STORVSP_MAX_TRANSFER_LIMIT || c.max_transfer_bytes % 4096 ||
            c.queue_depth > STORVSP_MAX_QUEUE_DEPTH || c.queue_depth > DISK_QUEUE_MAX_DEPTH ||
            c.max_sub_channels > STORVSP_MAX_SUB_CHANNELS)
                return -EINVAL;
        struct storvsp_controller *ctl = calloc(1, sizeof *ctl);
        if (!ctl)
                return -ENOMEM;
        ctl->cfg = c;
        ctl->rescan_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (ctl->rescan_efd < 0) {
                free(ctl);
                return -errno;
        }
        pthread_mutex_init(&ctl->lock, NULL);
        ctl->state = STORVSP_EXPECT_BEGIN;
        *out = ctl;
        return 0;
}

void storvsp_controller_free(struct storvsp_controller *c) {
        if (!c)
                return;
        for (unsigned i = 0; i < SCSI_MAX_LUNS; i++)
                storvsp_lun_unref(c->luns[i]);
        pthread_mutex_destroy(&c->lock);
        safe_close(c->rescan_efd);
        free(c);
}

static void notify_rescan(struct storvsp_controller *c) {
        uint64_t one = 1;
        /* cannot fail short of a counter overflow, which still leaves it readable */
        (void)!write(c->rescan_efd, &one, sizeof one);
}

static void lun_config_from_disk(const struct disk_info *info, unsigned lun, struct scsi_lun_config *cfg) {
        scsi_lun_config_init(cfg, info->size / info->block_size, info->block_size);
        cfg->read_only = info->read_only;
        cfg->discard = info->discard;
        cfg->discard_zeroes = info->discard_zeroes;
        snprintf(cfg->serial, sizeof cfg->serial, "lun%u", lun);
}

int storvsp_controller_attach(struct storvsp_controller *c, unsigned lun, struct disk *disk,
                              const struct scsi_lun_config *cfg) {
        if (!c || !disk || lun >= STORVSC_MAX_LUNS_PER_TARGET)
                return -EINVAL;
        struct disk_info info;
        disk_get_info(disk, &info);
        struct scsi_lun_config lc;
        if (cfg) {
                lc = *cfg;
                /* the SCSI view must not promise more than the disk holds */
                if (lc.block_size != info.block_size || lc.n_blocks > info.size / info.block_size ||
                    (!lc.read_only && info.read_only) || (lc.discard_zeroes && !info.discard_zeroes))
                        return -EINVAL;
                lc.discard = lc.discard && info.discard;
        } else {
                lun_config_from_disk(&info, lun, &lc);
        }
        lc.max_transfer_bytes = c->cfg.max_transfer_bytes;
        struct storvsp_lun *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        int r = scsi_lun_init(&l->scsi, &lc);
        if (r < 0) {
                free(l);
                return r;
        }
        l->refs = 1;
        l->number = lun;
        l->disk = disk_ref(disk);
        pthread_mutex_lock(&c->lock);
        r = c->luns[lun] ? -EEXIST : c->n_attached >= STORVSP_MAX_ATTACHED ? -E2BIG : 0;
        if (r == 0) {
                c->luns[lun] = TAKE_PTR(l);
                c->n_attached++;
                __atomic_add_fetch(&c->generation, 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&c->lock);
        storvsp_lun_unref(l);
        if (r == 0)
                notify_rescan(c);
        return r;
}

int storvsp_controller_sync_metadata(struct storvsp_controller *c) {
        struct storvsp_lun *luns[SCSI_MAX_LUNS];
        struct scsi_lun_map map;
        uint64_t gen;
        storvsp_controller_snapshot(c, luns, &map, &gen);
        int r = 0;
        for (unsigned i = 0; i < SCSI_MAX_LUNS; i++) {
                if (!luns[i])
                        continue;
                int k = disk_sync_metadata(luns[i]->disk);
                r = r < 0 ? r : k;
                storvsp_lun_unref(luns[i]);
        }
        return r;
}

int storvsp_controller_detach(struct storvsp_controller *c, unsigned lun) {
        if (!c || lun >= SCSI_MAX_LUNS)
                return -EINVAL;
        pthread_mutex_lock(&c->lock);
        struct storvsp_lun *l = TAKE_PTR(c->luns[lun]);
        if (l) {
                c->n_attached--;
                __atomic_add_fetch(&c->generation, 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&c->lock);
        if (!l)
                return -ENOENT;
        storvsp_lun_unref(l);
        notify_rescan(c);
        return 0;
}

/* A new LUN object with the grown capacity replaces the old one: the
 * SCSI view stays immutable for the channels that still hold the old one
 * (scsi.h), and each channel picks the new one up with the table's
 * generation before its next command. */
int storvsp_controller_resize(struct storvsp_controller *c, unsigned lun) {
        if (!c || lun >= SCSI_MAX_LUNS)
                return -EINVAL;
        struct storvsp_lun *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        pthread_mutex_lock(&c->lock);
        struct storvsp_lun *old = c->luns[lun];
        int r = old ? 0 : -ENOENT;
        struct disk_info info;
        if (r == 0) {
                disk_get_info(old->disk, &info);
                struct scsi_lun_config lc = old->scsi.cfg;
                uint64_t blocks = info.size / lc.block_size;
                r = blocks < lc.n_blocks ? -EINVAL : blocks == lc.n_blocks ? 1 : 0;
                lc.n_blocks = blocks;
                if (r == 0)
                        r = scsi_lun_init(&l->scsi, &lc);
        }
        if (r == 0) {
                l->refs = 1;
                l->number = lun;
                l->disk = disk_ref(old->disk);
                /* MODE SELECT's cache setting stays; a race with one in
                 * flight on another channel may lose it (SBC lets a target
                 * reset mode pages with a unit attention anyway) */
                l->scsi.wce = __atomic_load_n(&old->scsi.wce, __ATOMIC_RELAXED);
                scsi_lun_set_attention(&l->scsi, SCSI_ASC_CAPACITY_DATA_CHANGED);
                c->luns[lun] = TAKE_PTR(l);
                __atomic_add_fetch(&c->generation, 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&c->lock);
        if (r == 0) {
                storvsp_lun_unref(old);
                notify_rescan(c);
        }
        free(l); /* unused unless taken */
        return r > 0 ? 0 : r;
}

unsigned storvsp_controller_lun_count(struct storvsp_controller *c) {
        pthread_mutex_lock(&c->lock);
        unsigned n = c->n_attached;
        pthread_mutex_unlock(&c->lock);
        return n;
}

int storvsp_controller_rescan_fd(const struct storvsp_controller *c) {
        return c->rescan_efd;
}

bool storvsp_controller_rescan_due(struct storvsp_controller *c) {
        uint64_t v;
        bool pending = read(c->rescan_efd, &v, sizeof v) == (ssize_t)sizeof v && v > 0;
        return pending && storvsp_controller_is_ready(c);
}

uint64_t storvsp_controller_generation(const struct storvsp_controller *c) {
        return __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
}

unsigned storvsp_controller_queue_depth(const struct storvsp_controller *c) {
        return c->cfg.queue_depth;
}

bool storvsp_controller_is_ready(const struct storvsp_controller *c) {
        return __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == STORVSP_READY;
}

uint16_t storvsp_controller_version(const struct storvsp_controller *c) {
        return __atomic_load_n(&c->version, __ATOMIC_ACQUIRE);
}

void storvsp_controller_snapshot(struct storvsp_controller *c, struct storvsp_lun *luns[SCSI_MAX_LUNS],
                                 struct scsi_lun_map *map, uint64_t *generation) {
        memset(map, 0, sizeof *map);
        pthread_mutex_lock(&c->lock);
        for (unsigned i = 0; i < SCSI_MAX_LUNS; i++) {
                luns[i] = storvsp_lun_ref(c->luns[i]);
                scsi_lun_map_set(map, i, luns[i] != NULL);
        }
        *generation = __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
        pthread_mutex_unlock(&c->lock);
}
