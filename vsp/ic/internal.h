/* SPDX-License-Identifier: MIT */
/* icvsp internals, shared by the files of this directory only. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/ic.h"
#include "icvsp/icvsp.h"
#include "vmbus/simple.h"

struct devworker;
struct dw_source;
struct vmbus_channel;
struct vmbus_device;
struct ic_service;
struct ic_kvp;
struct ic_fcopy;

/* The longest request body an API call makes (icvsp_request_shutdown).
 * File copy's data requests are never held: fcopy.c builds each from the
 * file when it sends it, so only its START (1088 bytes) can be. */
#define IC_HELD_BODY_MAX sizeof(struct shutdown_msg_data)
_Static_assert(sizeof(struct hv_start_fcopy) <= IC_HELD_BODY_MAX, "a held START_FILE_COPY");

/* One integration service (a VMBus device class). Every callback runs with
 * ic->lock held. */
struct ic_service_ops {
        const char *name;
        uint16_t msgtype;
        const struct ic_version *msg_versions; /* the host's, newest first */
        size_t n_msg_versions;
        uint32_t timeout_ms; /* default request timeout */
        /* The timeout waits out one the guest counts in its own time: it
         * scales with the guest's time dilation. */
        bool guest_clock;
        /* Negotiation finished: versions in s->fw/s->msg. */
        void (*ready)(struct ic_service *s, uint64_t now_us);
        /* Periodic, every ICVSP_TICK_MS (never while paused), and after
         * every answer, so a service sends its next request at once. */
        void (*tick)(struct ic_service *s, uint64_t now_us);
        /* The guest answered our outstanding request of msgtype. */
        void (*response)(struct ic_service *s, const struct icmsg_hdr *h, const uint8_t *body, size_t len,
                         uint64_t now_us);
        /* The outstanding request was not answered in time, or the channel
         * closed with one outstanding. */
        void (*abandoned)(struct ic_service *s, uint64_t now_us);
        /* The VM resumed after a pause (optional). */
        void (*resumed)(struct ic_service *s, uint64_t now_us);
        /* The guest closed the channel (optional), after abandoned if a
         * request was pending; s->sc.ch is already NULL. Not called for the
         * undo of a refused restore. */
        void (*closed)(struct ic_service *s, uint64_t now_us);
};

struct ic_service {
        struct icvsp *ic;
        const struct ic_service_ops *ops;
        const struct ic_version *msg_versions; /* ops' list, or a subset (time sync without v4) */
        size_t n_msg_versions;
        struct vmbus_device *dev;
        struct vmbus_simple sc; /* the channel: sc.ch non-NULL while the guest has it open */
        bool negotiated;
        struct ic_version fw, msg;
        /* One request at a time (§5.6). The negotiation has no timeout: a
         * Linux guest without hv_kvp_daemon answers it after 55 s (§8.6). */
        bool outstanding;
        uint16_t outstanding_type;
        uint64_t outstanding_id; /* VMBus trans_id; the guest echoes it */
        uint64_t next_id;
        uint64_t sent_us;
        uint64_t timeout_us;
        /* The last request went without a signal (the guest's interrupt
         * mask was set): serve_channel signals once the guest unmasks. */
        bool kick_owed;
        /* Held while quiesced, sent by icvsp_resume: the negotiate of a
         * channel opened meanwhile, a request made through the API. */
        bool negotiate_held, held;
        uint8_t held_body[IC_HELD_BODY_MAX];
        size_t held_len;
        /* heartbeat */
        uint64_t hb_seq, hb_last_sent_us, hb_last_beat_us, hb_interval_us;
        enum icvsp_heartbeat_state hb_state;
        /* time sync */
        bool ts_sync_pending;
        uint8_t ts_flags_sent;
        uint64_t ts_last_us, ts_interval_us;
        /* KVP */
        struct ic_kvp *kvp;
        /* VSS: the operation of the outstanding request */
        uint8_t vss_op;
        /* file copy */
        struct ic_fcopy *fcopy;
};

enum { IC_SHUTDOWN, IC_HEARTBEAT, IC_TIMESYNC, IC_KVP, IC_VSS, IC_FCOPY, IC_N_SERVICES };

#define ICVSP_TICK_MS 250u
/* The trans_id of every packet hv_fcopy_uio_daemon sends (VMBUS_RQST_ERROR
 * in tools/hv/vmbus_bufring.c): its answers are matched by the icmsg
 * header's ictransaction_id instead. */
#define IC_UIO_TRANS_ID UINT64_MAX
#define IC_GUEST_MAX_PACKET 4096u      /* util channels (§5.4, §8.1) */
#define IC_KVP_GUEST_MAX_PACKET 16384u /* KVP channel (§5.4) */
#define IC_VSS_GUEST_MAX_PACKET 8192u  /* VSS channel (§8.1) */
#define IC_FCOPY_GUEST_MAX_PACKET 8192u /* file copy: hv_fcopy.c reads 2 pages */
/* The largest request, a WRITE_TO_FILE; the guest answers in place, so
 * its answer is as large (rxbuf: with the 16-byte packet descriptor). */
#define IC_PACKET_MAX (ICMSG_HDR + sizeof(struct hv_do_fcopy))
#define IC_RX_MAX IC_FCOPY_GUEST_MAX_PACKET
_Static_assert(IC_PACKET_MAX >= ICMSG_HDR + sizeof(struct shutdown_msg_data), "largest request");
_Static_assert(IC_PACKET_MAX >= ICMSG_HDR + sizeof(struct hv_kvp_exchange_msg), "largest request");
_Static_assert(16 + IC_PACKET_MAX <= IC_FCOPY_GUEST_MAX_PACKET, "a WRITE_TO_FILE packet fits the guest's maximum");
_Static_assert(16 + IC_PACKET_MAX <= IC_RX_MAX, "the answer to a WRITE_TO_FILE fits rxbuf");

struct icvsp {
        pthread_mutex_t lock;
        struct devworker *w; /* the icvsp thread */
        bool paused;   /* the VPs are stopped (icvsp_pause) or quiesced */
        bool quiesced; /* icvsp_quiesce: the thread is parked, API requests are held */
        uint64_t resumed_us;
        struct ic_service svc[IC_N_SERVICES];
        bool enabled[IC_N_SERVICES];
        const struct icvsp_owner_ops *ops;
        void *opaque;
        struct icvsp_config cfg;
        struct icvsp_stats stats;
        _Atomic uint32_t time_dilation; /* >= 1 */
        uint8_t rxbuf[IC_RX_MAX];
};

/* s's request timeout now, in the host's microseconds. */
uint64_t ic_service_timeout_us(const struct ic_service *s);

extern const struct ic_service_ops ic_shutdown_ops, ic_heartbeat_ops, ic_timesync_ops, ic_kvp_ops, ic_vss_ops,
        ic_fcopy_ops;

/* icmsg.c: pure framing (fuzzed) */
extern const struct ic_version ic_framework_versions[2];
size_t icmsg_build(uint8_t *buf, size_t cap, uint16_t type, struct ic_version fw, struct ic_version msg,
                   uint8_t txid, const void *body, size_t body_len);
size_t ic_negotiate_build(uint8_t *buf, size_t cap, const struct ic_version *msg_versions, size_t n_msg,
                          uint8_t txid);
int icmsg_parse(const uint8_t *pkt, size_t len, struct icmsg_hdr *hdr, const uint8_t **body, size_t *body_len);
int ic_negotiate_parse(const uint8_t *body, size_t len, const struct ic_version *msg_versions, size_t n_msg,
                       struct ic_version *fw, struct ic_version *msg);

/* timesync-msg in timesync.c: the request body for a negotiated version
 * (v4 ictimesync_ref_data or v1/v3 ictimesync_data, §8.5); returns its length. */
size_t ic_timesync_body(uint8_t *buf, size_t cap, struct ic_version msg, uint64_t parenttime,
                        uint64_t reftime, uint8_t flags);

/* kvp-msg.c: pure KVP message handling (fuzzed) */
int ic_utf8_to_utf16(const char *s, uint8_t *out, size_t cap);
int ic_utf16_to_utf8(const uint8_t *in, size_t in_bytes, char *out, size_t cap);
/* A request (KVP_OP_SET/DELETE/ENUMERATE) into m; -EINVAL for strings that
 * do not fit the wire limits. */
int ic_kvp_build(struct hv_kvp_exchange_msg *m, uint8_t op, uint8_t pool, const char *key, const char *value,
                 uint32_t index);
/* The guest's answer to ENUMERATE(pool, index): key and value as UTF-8.
 * -EBADMSG: too short, another operation/pool, bad sizes or UTF-16. */
int ic_kvp_parse_enumerate(const uint8_t *body, size_t len, uint8_t pool, char key[ICVSP_KVP_KEY_MAX],
                           char value[ICVSP_KVP_VALUE_MAX]);
/* Host API strings: valid UTF-8, no NUL, key 1..255 and value 0..1023
 * UTF-16 code units. */
int ic_kvp_check_strings(const char *key, const char *value);

/* kvp.c */
int ic_kvp_new(struct ic_service *s);
void ic_kvp_free(struct ic_service *s);

/* fcopy.c */
int ic_fcopy_new(struct ic_service *s);
void ic_fcopy_free(struct ic_service *s);
/* A transfer is in progress (icvsp_fcopy_start until fcopy_done); with
 * ic->lock held. Saved state refuses it. */
bool ic_fcopy_active(const struct ic_service *s);
/* START_FILE_COPY for dir/name (UTF-8): -EINVAL for an empty name, a name
 * with '/', a dir that is not absolute, invalid UTF-8, or names longer than
 * the wire and Linux's conversion take (see fcopy.c). Pure. */
int ic_fcopy_build_start(struct hv_start_fcopy *m, const char *dir, const char *name, uint64_t size,
                         uint32_t flags);

/* icvsp.c */
uint64_t ic_now_us(void);
/* Send a request on the open, negotiated channel; marks it outstanding. */
int ic_send_request(struct ic_service *s, const void *body, size_t len, uint64_t now_us);
/* The same for a request an API call makes: while quiesced it is checked
 * as a send would be and held (one per service), then sent at resume. */
int ic_request(struct ic_service *s, const void *body, size_t len, uint64_t now_us);

/* Saved state (state.c, kvp.c). */
struct vmstate_writer;
struct vmstate_section;
struct vmbus_open_request;
/* The channel's section: hooks of icvsp.c's vmbus_simple_ops. */
int ic_channel_save(struct vmbus_simple *sc, void *st, char *err, size_t errlen);
void ic_channel_restore(struct vmbus_simple *sc, const void *st);
int ic_channel_decode(const struct vmstate_section *s, void *st, char *err, size_t errlen);
int ic_channel_check(struct vmbus_simple *sc, const void *st, uint32_t relid, char *err, size_t errlen);
int ic_channel_quiesce(struct vmbus_simple *sc);
void ic_kvp_get_progress(struct ic_service *s, struct icvsp_channel_state *st);
void ic_kvp_set_progress(struct ic_service *s, const struct icvsp_channel_state *st);
int ic_kvp_save(struct ic_service *s, struct vmstate_writer *w);
int ic_kvp_restore(struct ic_service *s, const struct vmstate_section *sec, char *err, size_t errlen);

