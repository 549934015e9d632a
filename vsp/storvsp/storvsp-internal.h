/* SPDX-License-Identifier: MIT */
/* Private state of the storvsp core (controller.c, channel.c, srb.c, buffer.c). */
#pragma once

#include <pthread.h>
#include <sys/uio.h>

#include "storvsp/protocol.h"
#include "storvsp/storvsp.h"

/* Protocol state of a controller, driven by its primary channel (§6.3). */
enum storvsp_proto_state {
        STORVSP_EXPECT_BEGIN,
        STORVSP_EXPECT_VERSION,
        STORVSP_EXPECT_PROPERTIES,
        STORVSP_EXPECT_END, /* also accepts CREATE_SUB_CHANNELS */
        STORVSP_READY,
};

/* An attached LUN: shared by the controller table, channel snapshots and
 * requests in flight (reference counted). */
struct storvsp_lun {
        int refs; /* atomic */
        unsigned number;
        struct scsi_lun scsi;
        struct disk *disk;
};
struct storvsp_lun *storvsp_lun_ref(struct storvsp_lun *l);
void storvsp_lun_unref(struct storvsp_lun *l);

struct storvsp_controller {
        struct storvsp_controller_config cfg;
        pthread_mutex_t lock; /* luns[] */
        struct storvsp_lun *luns[SCSI_MAX_LUNS];
        unsigned n_attached;
        uint64_t generation; /* atomic: bumped on every attach/detach */
        int state;           /* atomic: enum storvsp_proto_state */
        uint16_t version;    /* atomic: negotiated protocol version */
        uint16_t sub_channels;
        int rescan_efd; /* written on attach/detach */
};

/* Copies the LUN table (with references) under the lock. */
void storvsp_controller_snapshot(struct storvsp_controller *c, struct storvsp_lun *luns[SCSI_MAX_LUNS],
                                 struct scsi_lun_map *map, uint64_t *generation);

/* One SRB waiting for its disk I/O. */
struct storvsp_slot {
        bool used;
        uint64_t seq;
        struct storvsp_request req; /* trans_id, SRB fields for the completion */
        struct scsi_io io;
        struct storvsp_lun *lun;
        struct iovec *iov; /* lazily allocated, max_pfns entries */
        unsigned iovcnt;
};

struct storvsp_channel {
        struct storvsp_controller *c;
        uint16_t index;
        struct storvsp_guest_memory gm;
        struct disk_queue *q;
        unsigned max_pfns;

        uint64_t generation;
        struct storvsp_lun *luns[SCSI_MAX_LUNS];
        struct scsi_lun_map map;
        struct disk *forget[SCSI_MAX_LUNS]; /* detached disks still registered in q */
        unsigned n_forget;

        struct storvsp_slot *slots;
        unsigned depth;
        unsigned *free_slots;
        unsigned n_free;
        uint64_t seq;

        bool reset_pending; /* RESET_BUS waits for the I/O that was in flight */
        struct storvsp_request reset_req;
        uint64_t reset_seq;

        struct iovec *scratch_iov; /* for immediate commands, max_pfns entries */
        uint8_t data_in[SCSI_DATA_IN_MAX];
        uint8_t param[SCSI_PARAM_MAX];
        struct storvsp_channel_stats stats;
};

/* buffer.c: the guest buffer of a request as host iovecs (contiguous host
 * pages merged); at most len bytes. -EFAULT for a page outside guest RAM. */
int storvsp_map_buffer(const struct storvsp_guest_memory *gm, const struct storvsp_buffer *buf, uint32_t len,
                       struct iovec *iov, unsigned max_iov, unsigned *n);
void storvsp_iov_from_buf(const struct iovec *iov, unsigned n, const void *src, size_t len);
void storvsp_iov_to_buf(const struct iovec *iov, unsigned n, void *dst, size_t len);
/* After writing into guest memory through iov (mapped by storvsp_map_buffer). */
void storvsp_iov_mark_dirty(const struct storvsp_guest_memory *gm, const struct iovec *iov, unsigned n);
/* A request slot's disk read is done (completed or drained): its buffer is dirty. */
void storvsp_slot_mark_dirty(struct storvsp_channel *ch, const struct storvsp_slot *s);

/* srb.c */
int storvsp_srb_execute(struct storvsp_channel *ch, const struct storvsp_request *req, struct storvsp_reply *out);
int storvsp_srb_reap(struct storvsp_channel *ch, struct storvsp_reply *out, unsigned max, unsigned min_wait);
void storvsp_channel_sync_luns(struct storvsp_channel *ch);
