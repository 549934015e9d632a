/* SPDX-License-Identifier: MIT */
/* struct netvsp_dev and the functions dev.c, buffers.c, tx.c and rx.c share.
 * Everything the guest can observe is plain data here (no pointers into
 * thread stacks, no callbacks in flight), so it can be saved and restored. */
#pragma once

#include "netvsp/netvsp.h"
#include "netvsp/offload.h"
#include "rndis/packet.h"

struct netvsp_comp {
        uint64_t trans_id;
        uint32_t len;
        struct nvsp_message msg;
};

struct netvsp_ctrl_msg {
        uint32_t len;
        uint8_t data[NETVSP_CTRL_MSG_MAX];
};

/* A SEND_RNDIS_PKT whose frames could not all go out (backend -EAGAIN). */
struct netvsp_tx_stall {
        bool active;
        bool want_comp;
        uint64_t trans_id;
        uint32_t status;   /* NVSP status of the completion to send */
        uint32_t msgs;     /* RNDIS messages walked so far */
        size_t pos;        /* stream offset of the message to resume at */
        struct netvsp_sg sg;
        /* What the stream was made of, as guest addresses (saved state:
         * the sg's host pointers are derived from these again). */
        uint32_t section_index, section_size;
        uint32_t n_pages;
        struct netvsp_gpa_page pages[NETVSP_MAX_GPA_PAGES];
};

struct netvsp_dev {
        struct netvsp_config cfg;
        const struct netvsp_host_ops *host;
        void *host_ctx;
        const struct netvsp_backend_ops *be;
        void *be_ctx;
        bool be_gone;
        bool rx_starved;       /* the last read stopped for want of receive slots (rx_buffer_full) */
        bool be_link_up;
        unsigned be_gso;       /* the primary: NETVSP_BE_GSO_* last asked of the backend */

        /* vRSS (docs/netvsp.md "vRSS and a multi-queue TAP") */
        uint16_t sub_index;    /* 0: the primary channel's device */
        bool backend_rx;       /* reads the backend's frames for the guest (a sub-channel: its own TAP queue) */
        uint32_t recv_total;   /* slots of the whole receive buffer, as the guest was told */
        uint32_t rx_split;     /* ranges the receive buffer is split into, one per channel (1: none) */
        uint32_t subs_offered; /* the primary: sub-channels offered to the guest */
        bool table_sent;       /* the primary: SEND_INDIRECTION_TABLE sent for them */

        uint32_t version; /* negotiated NVSP version, 0 before INIT */
        uint32_t ndis_major, ndis_minor, guest_mtu;
        uint64_t guest_caps;

        bool recv_ok;
        uint32_t recv_gpadl;
        uint8_t *recv_base;
        size_t recv_len;
        struct netvsp_rxbuf rb;

        bool send_ok;
        uint32_t send_gpadl;
        uint8_t *send_base;
        size_t send_len;
        uint32_t send_sections;

        struct rndis_device rndis;
        bool link_indication; /* an INDICATE_STATUS for the current link state is due */

        struct netvsp_comp comp[NETVSP_COMP_QUEUE]; /* completions waiting for ring space */
        unsigned comp_head, comp_n;

        struct netvsp_ctrl_msg ctrl[NETVSP_CTRL_QUEUE]; /* RNDIS messages waiting for a slot */
        unsigned ctrl_head, ctrl_n;

        /* Filled receive slots not yet announced (ring was full). */
        uint32_t batch_n;
        uint32_t batch_slot[NETVSP_RX_BATCH_MAX];
        struct vmtransfer_page_range batch_range[NETVSP_RX_BATCH_MAX];
        bool batch_blocked;

        struct netvsp_tx_stall stall;
        struct netvsp_stats stats;

        /* bandwidth caps (netvsp/qos.h), the NIC's; NULL: none */
        struct netvsp_qos *qos;
        bool qos_tx_held;     /* the stall is the out cap's, not the backend's */
        uint64_t qos_wait_ns; /* the shortest wait a held direction was told */

        uint8_t msg_copy[RNDIS_MAX_RESPONSE_SIZE]; /* control request, copied out of guest memory */
        uint8_t resp[RNDIS_MAX_RESPONSE_SIZE];
};

/* dev.c */
/* Queues (or sends) a completion; never fails: the queue has room for the
 * one completion each packet owes, as no packet is taken while it is busy. */
void netvsp_complete(struct netvsp_dev *nd, uint64_t trans_id, const void *msg, size_t len);
/* Appends a completion without sending it (a restore: posted at the first
 * round after resume). -ENOSPC when the queue is full. */
int netvsp_queue_completion(struct netvsp_dev *nd, uint64_t trans_id, const void *msg, size_t len);
void netvsp_complete_rndis(struct netvsp_dev *nd, uint64_t trans_id, uint32_t status);

/* buffers.c: SEND_RECV_BUF, SEND_SEND_BUF, REVOKE_* */
void netvsp_recv_buf(struct netvsp_dev *nd, uint64_t trans_id, bool want_comp, uint32_t gpadl, uint16_t id);
void netvsp_send_buf(struct netvsp_dev *nd, uint64_t trans_id, bool want_comp, uint32_t gpadl, uint16_t id);
void netvsp_revoke_recv_buf(struct netvsp_dev *nd);
void netvsp_revoke_send_buf(struct netvsp_dev *nd);
uint32_t netvsp_rx_slot_size(uint32_t mtu);
uint32_t netvsp_rx_split(const struct netvsp_dev *nd, uint32_t total);
/* Slots of slot_size a frame of NETVSP_RSC_FRAME_MAX bytes takes. */
uint32_t netvsp_rsc_slots(uint32_t slot_size);

/* tx.c: SEND_RNDIS_PKT from the guest */
void netvsp_rndis_pkt(struct netvsp_dev *nd, const struct netvsp_vmbus_packet *pkt, bool want_comp,
                      uint32_t section_index, uint32_t section_size);
/* Resumes a stalled packet; true when it finished (completion queued). */
bool netvsp_tx_resume(struct netvsp_dev *nd);

/* rx.c: host -> guest */
/* Queues an RNDIS message (response or indication) for a receive slot. */
void netvsp_queue_ctrl(struct netvsp_dev *nd, const void *msg, size_t len);
/* Sends queued control messages and the pending batch; false if blocked. */
bool netvsp_flush_rx(struct netvsp_dev *nd);
/* Reads frames from the backend into slots; returns NETVSP_WANT_* bits. */
unsigned netvsp_rx_frames(struct netvsp_dev *nd);
void netvsp_rx_drop_all(struct netvsp_dev *nd);
