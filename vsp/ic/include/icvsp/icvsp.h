/* SPDX-License-Identifier: MIT */
/* The integration services (docs/hyperv-guest-interface.md §8): VMBus
 * devices hv_utils serves in a Linux guest — shutdown, heartbeat, time
 * sync, key-value exchange, backup (VSS), file copy. One struct icvsp per
 * VM adds the configured services to the VMBus server and runs them on one
 * thread of its own (the services are host-initiated: negotiate on open,
 * periodic heartbeats, time samples and KVP scans, shutdown, freezes and
 * file copies on request), so no VP thread ever waits on a guest.
 * docs/integration-services.md describes the protocol handling. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/device.h"
#include "common/guid.h"

struct vmbus_server;
struct icvsp;

enum icvsp_heartbeat_state {
        ICVSP_HEARTBEAT_UNKNOWN,    /* the service is not configured */
        ICVSP_HEARTBEAT_NO_CONTACT, /* no beat answered yet (no hv_utils, still booting) */
        ICVSP_HEARTBEAT_OK,         /* beats answered within ICVSP_HEARTBEAT_LOST_AFTER intervals */
        ICVSP_HEARTBEAT_LOST,       /* had contact, then the answers stopped */
};

const char *icvsp_heartbeat_state_to_string(enum icvsp_heartbeat_state s);

struct icvsp_config {
        bool shutdown, heartbeat, timesync, kvp, vss;
        /* File copy (icvsp_fcopy_start): needs hv_fcopy_daemon in the guest. */
        bool fcopy;
        uint32_t heartbeat_interval_ms; /* 0: ICVSP_HEARTBEAT_INTERVAL_MS */
        struct guid heartbeat_instance; /* stable per VM (Hyper-V derives it per VM too) */
        /* Time sync: a SAMPLE every interval (0: only the SYNC after
         * negotiation and after each resume). */
        uint32_t timesync_interval_s;
        /* The partition's reference counter (100 ns units, §1.5), sampled
         * with the host time for ictimesync_ref_data (§8.5). Without it the
         * host offers time sync only up to 3.0 (no reference time to send). */
        uint64_t (*reference_time)(void *opaque);
        void *reference_opaque;
        /* KVP: how often the guest's pools are enumerated (0: ICVSP_KVP_POLL_MS). */
        uint32_t kvp_poll_ms;
        /* Unanswered requests are dropped after this (0: per service,
         * ICVSP_REQUEST_TIMEOUT_MS, KVP ICVSP_KVP_TIMEOUT_MS, VSS
         * ICVSP_VSS_TIMEOUT_MS, file copy ICVSP_FCOPY_TIMEOUT_MS). */
        uint32_t request_timeout_ms;
        /* How many times slower the guest's clock runs than the host's (0
         * and 1: not at all; vmwp: its time dilation, docs/pvm.md). The
         * timeouts that wait out one the guest counts in its own time
         * (KVP's and file copy's, after Linux's HV_UTIL_TIMEOUT) scale by
         * it; the host's own limits (shutdown, heartbeat, time sync, VSS)
         * do not. icvsp_set_time_dilation changes it later. */
        uint32_t time_dilation;
};
#define ICVSP_HEARTBEAT_INTERVAL_MS 2000u /* what Hyper-V sends (§8.4) */
#define ICVSP_HEARTBEAT_LOST_AFTER 3u     /* intervals without an answer */
#define ICVSP_REQUEST_TIMEOUT_MS 10000u   /* an unanswered request is dropped */
/* Linux answers a KVP request once its daemon did, or with E_FAIL after
 * HV_UTIL_TIMEOUT (30 s, hv_utils_transport.h). */
#define ICVSP_KVP_TIMEOUT_MS 35000u
#define ICVSP_KVP_POLL_MS 10000u
/* A freeze a guest has not answered by then counts as failed (Linux gives
 * its daemon 15 minutes, but a checkpoint will not wait that long). */
#define ICVSP_VSS_TIMEOUT_MS 60000u
/* Linux answers each file-copy request once hv_fcopy_daemon did, or with
 * E_FAIL after its own HV_UTIL_TIMEOUT (30 s). */
#define ICVSP_FCOPY_TIMEOUT_MS 35000u
/* UTF-8 bytes of a file name or directory (without the NUL): Linux converts
 * each name from UTF-16 into 259 bytes and would cut a longer one short. */
#define ICVSP_FCOPY_NAME_MAX 259u
/* fcopy_progress comes after each acknowledged megabyte and at the end. */
#define ICVSP_FCOPY_PROGRESS_STEP (1ull << 20)

/* KVP limits (docs/integration-services.md): what the host keeps. */
#define ICVSP_KVP_MAX_HOST_ITEMS 64u   /* keys the host pushes */
#define ICVSP_KVP_MAX_GUEST_ITEMS 128u /* keys read from the guest's pools */
#define ICVSP_KVP_MAX_INDEX 64u        /* enumeration indices per pool and scan */
/* UTF-8 sizes (NUL included) of the longest key and value: 255 and 1023
 * UTF-16 code units, 3 bytes each at most. */
#define ICVSP_KVP_KEY_MAX 766u
#define ICVSP_KVP_VALUE_MAX 3070u

/* Called on the icvsp thread with its lock held: record and return, never
 * call back into icvsp. */
struct icvsp_owner_ops {
        /* On every change of state and every answered beat (at most one
         * per heartbeat interval); last_beat_us: the newest answer. */
        void (*heartbeat)(void *opaque, enum icvsp_heartbeat_state state, uint64_t last_beat_us);
        /* The guest answered a shutdown/reboot request: accepted (S_OK) or not. */
        void (*shutdown_answered)(void *opaque, bool accepted, uint32_t status);
        /* A KVP scan found the guest's items changed (icvsp_kvp_list). */
        void (*kvp_changed)(void *opaque);
        /* The guest answered a VSS request (op: enum hv_vss_op): status
         * HV_S_OK, or its error (E_FAIL also when it never answered). */
        void (*vss_answered)(void *opaque, uint8_t op, uint32_t status);
        /* File copy: bytes the guest has written so far, after every
         * ICVSP_FCOPY_PROGRESS_STEP and once all of them are written. */
        void (*fcopy_progress)(void *opaque, uint64_t bytes);
        /* The copy icvsp_fcopy_start began has ended; the caller may close
         * its fd from now on. bytes: what the guest acknowledged. r = 0: the
         * file is complete (the guest answered COMPLETE_FCOPY with S_OK).
         * -EIO with the guest's status (HV_E_FAIL, HV_ERROR_ALREADY_EXISTS,
         * HV_ERROR_DISK_FULL, ...): it refused a request (a refused write is
         * followed by CANCEL_FCOPY, so its daemon deletes the partial file);
         * -EIO with status 0: reading the fd failed or ended before the size
         * given (CANCEL_FCOPY sent), or a request could not be sent;
         * -ECANCELED: icvsp_fcopy_cancel (CANCEL_FCOPY sent); -ETIMEDOUT: the
         * guest did not answer within the timeout (nothing more sent; a
         * partial file may stay); -ECONNRESET: the guest closed the channel. */
        void (*fcopy_done)(void *opaque, int r, uint32_t status, uint64_t bytes);
};

/* Adds the configured services to srv (offered at the guest's next
 * REQUESTOFFERS) and starts the service thread. */
int icvsp_new(struct vmbus_server *srv, const struct icvsp_config *cfg, const struct icvsp_owner_ops *ops,
              void *opaque, struct icvsp **out);
/* The guest's time dilation from now on (0: 1), any thread: a restore may
 * bring the clock of the host that saved the guest (vmwp, after the
 * device rows' restore). Requests outstanding are judged by it too. */
void icvsp_set_time_dilation(struct icvsp *ic, uint32_t d);
/* Call after vmbus_server_free(srv), which closes the channels through this
 * icvsp (its thread still running); then stops the thread and frees.
 * Accepts NULL. */
void icvsp_free(struct icvsp *ic);

/* The VM's virtual processors stop / run again. While paused nothing is sent
 * and nothing times out (the guest cannot answer); resuming restarts the
 * timeouts and sends a time SYNC (§8.5: after resume). */
void icvsp_pause(struct icvsp *ic);
/* Quiesce (docs/vm-state.md), with the VPs already parked: returns once
 * the service thread is parked; from then on no service reads a ring,
 * writes guest RAM or signals the guest. It implies icvsp_pause. Requests
 * made meanwhile are checked as usual and held, not failed: a shutdown
 * request (0, or -EBUSY/-ENOTCONN as ever), KVP items (pushed at resume),
 * time sync (its SYNC follows the resume), the negotiate of a channel
 * opened meanwhile. Doorbells wait. Idempotent; 0 or -EDEADLK on the
 * service thread (an owner callback). */
int icvsp_quiesce(struct icvsp *ic);
/* Ends icvsp_pause and icvsp_quiesce alike: the thread runs again, what was
 * held is sent (exactly once), the timeouts restart and time sync sends a
 * SYNC. */
void icvsp_resume(struct icvsp *ic);

/* Ask the guest to shut down (reboot = restart). -ENOTCONN if the guest has
 * not opened and negotiated the shutdown service, -EBUSY while an earlier
 * request is unanswered, -ENOTSUP if it is not configured. */
int icvsp_request_shutdown(struct icvsp *ic, bool reboot);
bool icvsp_shutdown_ready(struct icvsp *ic);

/* VSS (hv/ic.h): ask the guest to freeze (VSS_OP_FREEZE) or thaw
 * (VSS_OP_THAW) its file systems, or whether it backs up (HOT_BACKUP);
 * the answer comes through vss_answered. -ENOTSUP (not configured),
 * -ENOTCONN (not negotiated), -EBUSY (one unanswered), -EINVAL (another op). */
int icvsp_request_vss(struct icvsp *ic, uint8_t op);
bool icvsp_vss_ready(struct icvsp *ic);

/* File copy (Copy-VMFile; hv/ic.h): copy `size` bytes of fd into the guest
 * as dir/name. The icvsp thread does the whole transfer: START_FILE_COPY
 * (names as UTF-16; flags FCOPY_OVER_WRITE, FCOPY_CREATE_PATH), then the
 * data in WRITE_TO_FILE requests of up to 6 KiB read with pread() at
 * increasing offsets, one at a time, each once the previous was answered
 * S_OK, then COMPLETE_FCOPY; progress and the end come through the owner's
 * fcopy_progress and fcopy_done. The fd stays the caller's: icvsp only
 * preads it (on its thread, with its lock held: give it a regular file),
 * never closes it, and the caller keeps it open until fcopy_done. While
 * paused the next request waits for the resume; a request made while
 * quiesced is held (as icvsp_request_shutdown's). dir: absolute, up to
 * ICVSP_FCOPY_NAME_MAX bytes with a trailing '/' (appended when missing,
 * so that FCOPY_CREATE_PATH creates its last component too); name: one
 * component, neither "." nor "..", up to ICVSP_FCOPY_NAME_MAX bytes; both
 * valid UTF-8.
 * 0: started; -ENOTSUP (not configured), -EINVAL (names, flags), -EBADF (fd
 * < 0), -EFBIG (size above INT64_MAX), -ENOTCONN (not negotiated), -EBUSY (a
 * copy is in progress, or another request is outstanding). A VM is not
 * saved with a copy in progress (icvsp_save: -EBUSY). */
int icvsp_fcopy_start(struct icvsp *ic, int fd, const char *dir, const char *name, uint64_t size,
                      uint32_t flags);
/* Ends the copy in progress: once the outstanding request is answered,
 * CANCEL_FCOPY goes (the guest's daemon deletes the partial file) and
 * fcopy_done reports -ECANCELED, unless the guest refused that request
 * (then its -EIO). 0; -ENOENT (no copy in progress), -EALREADY (cancel
 * asked already, or the copy is ending: COMPLETE_FCOPY or CANCEL_FCOPY is
 * chosen), -ENOTSUP (not configured). */
int icvsp_fcopy_cancel(struct icvsp *ic);
/* A copy is in progress (from icvsp_fcopy_start until fcopy_done). */
bool icvsp_fcopy_busy(struct icvsp *ic);
/* The guest has opened and negotiated the file-copy service. */
bool icvsp_fcopy_ready(struct icvsp *ic);

enum icvsp_heartbeat_state icvsp_heartbeat(struct icvsp *ic, uint64_t *last_beat_us);

/* Time sync: sent so far, and whether the service is negotiated (the
 * version's major in *major, 0 if not). */
bool icvsp_timesync_ready(struct icvsp *ic, unsigned *major);

/* KVP. Host items are pushed to the guest (KVP_OP_SET into `pool`) as soon
 * as its service is negotiated, again whenever it negotiates anew, and
 * retried after failures at every scan; value NULL deletes (KVP_OP_DELETE).
 * Keys: 1..255 UTF-16 code units, values up to 1023, valid UTF-8 without
 * NUL. -EINVAL (bad string, pool), -ENOSPC (ICVSP_KVP_MAX_HOST_ITEMS),
 * -ENOENT (delete of an unknown key), -ENOTSUP (service not configured). */
int icvsp_kvp_set(struct icvsp *ic, uint8_t pool, const char *key, const char *value);
/* Calls fn for every host item (guest = false) or every item of the last
 * complete scan of the guest's pools (guest = true), under the lock: fn
 * must not call into icvsp. -ENOTSUP if not configured. */
typedef void (*icvsp_kvp_fn)(void *opaque, uint8_t pool, const char *key, const char *value);
int icvsp_kvp_list(struct icvsp *ic, bool guest, icvsp_kvp_fn fn, void *opaque);
/* Negotiated with the guest; *scans: completed scans of the guest's pools. */
bool icvsp_kvp_ready(struct icvsp *ic, uint64_t *scans);

struct icvsp_stats {
        uint64_t requests_sent, responses, bad_packets, stale_answers, timeouts, negotiations,
                negotiation_failures;
        uint64_t heartbeats_answered;
        uint64_t timesync_syncs, timesync_samples, timesync_answered;
        uint64_t kvp_sets, kvp_deletes, kvp_push_failures, kvp_enumerates, kvp_bad_items, kvp_scans;
};
void icvsp_get_stats(struct icvsp *ic, struct icvsp_stats *out);

/* ---- saved state (docs/vm-state.md, docs/saved-state.md) ---- */

#include "common/vmstate.h"

/* Per open channel ("ICCH", instance: relid), written through the VMBus
 * provider hooks. Times are intervals; kvp_pushing is UINT32_MAX when no
 * host item's push is outstanding. */
#define ICVSP_CHANNEL_STATE_TAG VMSTATE_TAG('I', 'C', 'C', 'H')
#define ICVSP_HELD_MAX 2060u /* the largest request body: shutdown_msg_data */
struct icvsp_channel_state {
        uint8_t service; /* 0 shutdown, 1 heartbeat, 2 time sync, 3 KVP, 4 VSS, 5 file copy (idle only) */
        bool negotiated;
        uint16_t fw_major, fw_minor, msg_major, msg_minor;
        bool outstanding;
        uint16_t outstanding_type;
        uint64_t outstanding_id, next_id;
        bool negotiate_held, held;
        uint32_t held_len;
        uint8_t held_body[ICVSP_HELD_MAX];
        uint64_t hb_seq;
        uint8_t hb_state;
        uint64_t hb_beat_ago_us; /* 0: no beat yet; else 1 + microseconds since it */
        bool ts_sync_pending;
        uint8_t ts_flags_sent;
        uint32_t kvp_pushing;
        bool kvp_scanning;
        uint8_t kvp_scan_pool;
        uint32_t kvp_index;
};
extern const struct vmstate_desc icvsp_channel_state_desc;
int icvsp_channel_state_decode(const struct vmstate_section *s, struct icvsp_channel_state *out, char *err,
                               size_t errlen);

/* The KVP items ("ICKV", instance 0; only with the KVP service): the host
 * items with their push state, the guest's items of the last scan and of
 * the scan in progress, as records u8 pool, u8 flags (1 dirty, 2 deleting,
 * 4 failed), u16 key length, u16 value length (0xFFFF: none), key and
 * value bytes without NUL. */
#define ICVSP_KVP_STATE_TAG VMSTATE_TAG('I', 'C', 'K', 'V')
#define ICVSP_KVP_RECORD_MAX (6u + ICVSP_KVP_KEY_MAX + ICVSP_KVP_VALUE_MAX)
struct icvsp_kvp_state {
        uint64_t next_scan_in_us;
        uint32_t host_len, guest_len, scan_len;
        uint8_t host[ICVSP_KVP_MAX_HOST_ITEMS * ICVSP_KVP_RECORD_MAX];
        uint8_t guest[ICVSP_KVP_MAX_GUEST_ITEMS * ICVSP_KVP_RECORD_MAX];
        uint8_t scan[ICVSP_KVP_MAX_GUEST_ITEMS * ICVSP_KVP_RECORD_MAX];
};
extern const struct vmstate_desc icvsp_kvp_state_desc;
/* Pure: every record well formed (lengths, valid strings, pools). */
int icvsp_kvp_state_decode(const struct vmstate_section *s, struct icvsp_kvp_state *out, char *err, size_t errlen);

/* The row's part (the KVP items); restore also quiesces the services.
 * Save fails with -EBUSY while a file copy is in progress. */
int icvsp_save(struct icvsp *ic, struct vmstate_writer *w, char *err, size_t errlen);
int icvsp_restore(struct icvsp *ic, const struct vmstate_section *secs, size_t n, char *err, size_t errlen);

/* The integration services' row of the worker's device table
 * (common/device.h), after the VMBus server's; its dev is the struct
 * icvsp. */
extern const struct device_ops icvsp_device_ops;
