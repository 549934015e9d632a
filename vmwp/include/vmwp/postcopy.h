/* SPDX-License-Identifier: MIT */
/* Post-copy live migration (docs/migration.md "Post-copy"): the guest runs
 * on the destination before all of its memory is there, and the pages it
 * touches are fetched on demand.
 *
 * When the pre-copy passes cannot bring the dirty set under the downtime
 * budget and the caller allowed it, the source pauses as for a switch-over,
 * sends the pages still dirty as a bitmap (POSTCOPY records), the final
 * state without them, and then serves them (postcopy_serve): the pages the
 * destination asks for first (PAGE_REQ), the rest pushed in order in
 * between, interleaved with the commit (READY, COMMIT, RUNNING).
 *
 * The destination (postcopy_dest_*) drops its stale copy of every missing
 * page, registers guest RAM with userfaultfd (missing-page mode: a touch of
 * a page that is not in the memfd stops the toucher, vCPU, device thread
 * or KVM itself, until the pager places it) and runs a pager thread that
 * owns the stream from then on: faults become PAGE_REQs, arriving pages are
 * placed with UFFDIO_COPY (which wakes whoever waits for them), a fault on
 * a page that was simply never written is answered with a zero page. Once
 * POSTCOPY_END has come and nothing is missing it answers POSTCOPY_DONE,
 * unregisters and ends.
 *
 * The price is the one every post-copy pays: from the COMMIT on, the guest's
 * memory is split between two hosts. If the link or the source fails before
 * the last page arrived, the guest cannot go on (its next touch of a
 * missing page would wait forever) and the destination worker must end it;
 * the source, having committed, does not resume either. So the caller only
 * allows post-copy when asked (migrate-send's "postcopy").
 *
 * Nothing here needs KVM: the engine works on any shared mapping of a memfd
 * and a connected stream socket (tests/unit/test-postcopy.c runs both ends
 * over a socketpair). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct postcopy_stats {
        uint64_t missing_pages;   /* at the switch-over */
        uint64_t requests;        /* PAGE_REQ records */
        uint64_t requested_pages; /* pages those asked for */
        uint64_t pushed_pages;    /* source: sent unasked; destination: placed unasked */
        uint64_t zero_pages;      /* missing pages that went as ZERO */
        uint64_t faults;          /* destination: userfaultfd faults */
        uint64_t hole_faults;     /* destination: faults on pages never written (zero-filled here) */
        uint64_t bytes;           /* stream bytes of the post-copy phase (records and payloads) */
        uint64_t max_wait_ns;     /* destination: the longest a request waited for its page */
        uint64_t total_wait_ns;   /* destination: all requests' waits together */
        uint64_t total_ns;        /* from the start of the phase to POSTCOPY_DONE */
        uint64_t running_at_ns;   /* source: when RUNNING came (CLOCK_MONOTONIC; 0: it did not) */
};

/* ---- source ---- */

/* The POSTCOPY records for the pages set in missing (a bit per page of
 * ram_bytes): one per MIG_POSTCOPY_SPAN_MAX of RAM that holds any. */
int postcopy_send_bitmap(int fd, const uint64_t *missing, uint64_t ram_bytes, int timeout_ms, char *err,
                         size_t errlen);

/* What the server reports while it serves (progress may be NULL): the
 * pages still to send and the figures so far, at the COMMIT and then at
 * most every 100 ms. */
struct postcopy_serve_hooks {
        void (*progress)(void *opaque, uint64_t left, const struct postcopy_stats *st, bool committed);
        /* Once, at the destination's RUNNING: the guest runs there, this
         * copy never will again (may be NULL). */
        void (*running)(void *opaque);
        void *opaque;
};

/* After STATE: serves the missing pages (bits of missing, cleared as they
 * go) from ram (stable: the VM is paused) until the destination's
 * POSTCOPY_DONE: PAGE_REQs first, the rest pushed; READY is answered with
 * COMMIT (*committed set once it is in the socket whole), RUNNING awaited,
 * POSTCOPY_END sent after RUNNING once every page went. timeout_ms bounds
 * each wait for the peer until the COMMIT; after it, the guest runs there
 * on pages from here and the peer is waited for without limit (only the
 * stream's end or an error ends it). hooks may be NULL. 0, or -errno with a
 * sentence (*committed tells whether the VM is the destination's by
 * then). */
int postcopy_serve(int fd, const uint8_t *ram, uint64_t ram_bytes, uint64_t *missing, int timeout_ms,
                   const struct postcopy_serve_hooks *hooks, bool *committed, struct postcopy_stats *st, char *err,
                   size_t errlen);

/* ---- destination ---- */

struct postcopy_dest;

/* Whether this host can take a post-copy migration (userfaultfd with
 * missing-page faults on shared memory): 0 or -errno with a sentence. */
int postcopy_dest_available(char *err, size_t errlen);

/* For the RAM mapping [host, host + size) (MAP_SHARED of a memfd, 4 KiB
 * pages) and the stream socket sock (taken: closed by postcopy_dest_free).
 * The source may be silent for idle_ms (60000 when 0) before its COMMIT
 * (then it failed, and keeps the VM); after it, without limit: the guest
 * runs here on its pages, and only the stream's end or an error means the
 * source is gone (vmms's relay, which waits out a cut, decides). */
int postcopy_dest_new(uint8_t *host, uint64_t size, int sock, uint32_t idle_ms, struct postcopy_dest **out, char *err,
                      size_t errlen);
/* A POSTCOPY record (its header checked by mig_record_parse): the pages set
 * in bitmap are missing; their stale content is dropped (a hole in the
 * memfd). Before postcopy_dest_start. */
int postcopy_dest_mark(struct postcopy_dest *d, uint64_t offset, uint64_t length, const uint8_t *bitmap, char *err,
                       size_t errlen);
/* Registers the RAM with userfaultfd and starts the pager, which reads the
 * stream from now on. on_fatal runs on the pager thread when it cannot go
 * on (the link or the source failed, the source gave up, a hostile record)
 * while pages are missing: whoever waits for one would wait forever, so
 * vmwp ends the worker there (committed: the guest ran here, its memory is
 * lost; else it never ran and the source keeps it). If it returns (tests),
 * the pager unregisters the RAM, which lets the waiters through onto zero
 * pages, and ends. */
int postcopy_dest_start(struct postcopy_dest *d,
                        void (*on_fatal)(void *opaque, const char *why, bool committed), void *opaque, char *err,
                        size_t errlen);
/* Makes the missing pages of [offset, offset + len) of RAM present (each
 * fetched through the registered mapping, waiting for it), so that a
 * second mapping of them, which userfaultfd does not watch, sees their
 * content and not a hole. */
void postcopy_dest_prefault(struct postcopy_dest *d, uint64_t offset, uint64_t len);
/* READY to the source, its COMMIT awaited (timeout_ms), RUNNING: as
 * mig_commit_destination, while the pager serves faults. 0: committed. */
int postcopy_dest_commit(struct postcopy_dest *d, int timeout_ms, char *err, size_t errlen);
/* Pages still missing (0 once done). */
uint64_t postcopy_dest_missing(struct postcopy_dest *d);
/* Whether the pager has ended (done or failed). */
bool postcopy_dest_ended(struct postcopy_dest *d);
/* Waits up to timeout_ms for the pager to end: 0 done (every page here),
 * -ETIMEDOUT, or the failure with its sentence. */
int postcopy_dest_wait(struct postcopy_dest *d, int timeout_ms, char *err, size_t errlen);
/* Its figures (final once it ended). */
void postcopy_dest_stats(struct postcopy_dest *d, struct postcopy_stats *out);
/* Stops the pager if it runs (the RAM unregistered), closes everything. */
void postcopy_dest_free(struct postcopy_dest *d);
