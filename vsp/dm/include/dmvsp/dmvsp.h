/* SPDX-License-Identifier: MIT */
/* Dynamic Memory (docs/dynamic-memory.md): the host side of the protocol
 * Linux's hv_balloon speaks (hv/dm.h). One device per VM; its thread
 * negotiates with the guest, forwards the guest's pressure reports, and
 * moves the VM's memory toward the target its owner sets, one request at
 * a time: it asks the guest to balloon pages out (and hands them to the
 * owner to give back to the host), gives ballooned pages back, or hot-adds
 * memory from a window above the guest's RAM (which the owner makes guest
 * RAM first).
 *
 * Everything the guest sends is checked: a page it claims to give up must
 * be guest RAM it has and has not given up already, answers come only to
 * the request outstanding, and nothing a guest does makes the VM's memory
 * exceed boot + the hot-add window. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "common/vmstate.h"

struct vmbus_server;
struct dmvsp;

/* Guest page frames (4 KiB). */
struct dmvsp_region {
        uint64_t pfn, pages;
};
#define DMVSP_BOOT_REGIONS_MAX 2u

struct dmvsp_config {
        /* The guest's RAM at start (vid_ram_regions, in pages). */
        struct dmvsp_region boot[DMVSP_BOOT_REGIONS_MAX];
        size_t n_boot;
        /* Memory that can be hot-added: from hot_add_pfn (128 MiB aligned,
         * above every boot region) on, at most hot_add_pages (a multiple of
         * DM_HOT_ADD_BLOCK_PAGES; 0: none). */
        uint64_t hot_add_pfn, hot_add_pages;
        /* The least the VM keeps, whatever the target (pages; 0: none). */
        uint64_t min_pages;
        /* owner_ops.changed for status reports at most this often [1000]. */
        uint32_t status_interval_ms;
        /* A request the guest leaves unanswered this long is dropped; each
         * part of a balloon answer that gives pages restarts it (a part
         * that gives none does not) [30000]. */
        uint32_t request_timeout_ms;
};

/* Called on the device thread with its lock held: record and return,
 * never call back into dmvsp. */
struct dmvsp_owner_ops {
        /* The guest gave up [pfn, pfn + pages): its memory can go back to
         * the host (vmwp punches it out of guest RAM; reading it again
         * gives zeros). Required. */
        void (*release)(void *opaque, uint64_t pfn, uint64_t pages);
        /* Make [pfn, pfn + pages) of the hot-add window guest RAM before
         * the guest is asked to add it: 0, or -errno (nothing is asked;
         * tried again later). NULL: no hot-add. */
        int (*hot_add)(void *opaque, uint64_t pfn, uint64_t pages);
        /* Something in dmvsp_get_status changed: a request ended, the guest
         * connected or went, a pressure report came (at most once per
         * status_interval_ms). Optional. */
        void (*changed)(void *opaque);
        /* The guest pages the hypervisor overlays on RAM now (TLFS "GPA
         * overlay pages": the hypercall page, SynIC message and event-flag
         * pages...; hvshim_overlay_pages): up to max frame numbers into
         * pfns, returns how many there are. A balloon answer naming one is
         * taken, but that page is never released: the overlay stays where
         * the guest put it. Optional. */
        size_t (*overlays)(void *opaque, uint64_t *pfns, size_t max);
};
/* The most overlay pages the device leaves be (hvshim's are fewer). */
#define DMVSP_OVERLAYS_MAX 256u
/* Page counts a pressure report may claim, at most (DM_PFN_MAX + 1: no
 * guest has more pages than frame numbers); more is taken as this, so
 * their size in bytes never overflows. */
#define DMVSP_REPORT_PAGES_MAX (1ull << 40)

enum dmvsp_op {
        DMVSP_OP_NONE,
        DMVSP_OP_BALLOON,   /* asked the guest to give pages up */
        DMVSP_OP_UNBALLOON, /* gave pages back, waiting for the answer */
        DMVSP_OP_HOT_ADD,   /* asked the guest to add memory */
};
const char *dmvsp_op_to_string(enum dmvsp_op op);

struct dmvsp_status {
        bool connected; /* version and capabilities negotiated */
        uint32_t version;
        bool can_balloon, can_hot_add; /* the guest's capabilities (hot-add: and not refused for good) */
        uint64_t boot_pages, hot_add_max;
        uint64_t hot_added; /* pages the guest took in */
        uint64_t ballooned; /* pages it has given up now */
        uint64_t assigned;  /* boot + hot_added - ballooned */
        uint64_t target;    /* 0: none set */
        /* The last pressure report (pages): committed includes the pages
         * ballooned (Linux's accounting); demand is committed less them. */
        bool reported;
        uint64_t avail, committed, demand;
        uint64_t report_age_ms;
        enum dmvsp_op op;
        /* Why the last step fell short, "" if it did not ("the guest gave
         * 96 of 512 pages: its floor"). */
        char note[128];
};
void dmvsp_get_status(struct dmvsp *dm, struct dmvsp_status *out);

struct dmvsp_stats {
        uint64_t negotiations, refused_versions, status_reports;
        uint64_t balloon_requests, pages_ballooned, unballoon_requests, pages_unballooned;
        uint64_t hot_add_requests, pages_hot_added, hot_add_failures;
        uint64_t bad_messages;   /* malformed, unexpected or unsolicited */
        uint64_t bad_ranges;     /* pages claimed given up that were not the guest's to give */
        uint64_t timeouts;
        uint64_t late_pages; /* given in a late answer to a balloon request that timed out */
        uint64_t late_hot_add_pages; /* taken in by a late answer to a hot-add request that timed out */
        uint64_t overlay_pages; /* given up under an overlay page (owner_ops.overlays): taken, not released */
};
void dmvsp_get_stats(struct dmvsp *dm, struct dmvsp_stats *out);

/* Adds the device to srv (offered at the guest's next REQUESTOFFERS) and
 * starts its thread. */
int dmvsp_new(struct vmbus_server *srv, const struct dmvsp_config *cfg, const struct dmvsp_owner_ops *ops,
              void *opaque, struct dmvsp **out);
/* After vmbus_server_free(srv) (which closes the channel through this
 * dmvsp, its thread still running); stops the thread and frees. NULL is
 * ignored. */
void dmvsp_free(struct dmvsp *dm);

/* The VM's memory should be this many pages: clamped to [min_pages,
 * boot + hot_add_pages] and rounded down to 2 MiB; returns what it will
 * aim for. The device works toward it as the guest lets it. */
uint64_t dmvsp_set_target(struct dmvsp *dm, uint64_t pages);

/* Pause, quiesce and resume as the integration services' (icvsp.h): while
 * paused nothing is sent and nothing times out; quiesce parks the thread
 * (no ring read, no guest write, no signal). Quiesce: 0 or -EDEADLK on the
 * device thread. */
void dmvsp_pause(struct dmvsp *dm);
int dmvsp_quiesce(struct dmvsp *dm);
void dmvsp_resume(struct dmvsp *dm);

/* ---- the pure parts (msg.c, pages.c): fuzzed ---- */

/* A guest -> host message (the payload of an in-band packet). */
struct dm_guest_msg {
        uint16_t type; /* enum dm_message_type */
        uint32_t trans_id;
        uint32_t version;   /* VERSION_REQUEST */
        bool last_attempt;  /* VERSION_REQUEST */
        uint64_t caps;      /* CAPABILITIES_REPORT */
        uint64_t avail, committed; /* STATUS_REPORT */
        bool more;          /* BALLOON_RESPONSE */
        uint32_t n_ranges;  /* BALLOON_RESPONSE: little-endian u64 page ranges at ranges */
        const uint8_t *ranges;
        uint32_t page_count, result; /* MEM_HOT_ADD_RESPONSE */
};
/* 0, -EBADMSG (shorter than its header says, a size that does not fit its
 * type, more ranges than a message holds), -ENOTSUP (a type only the host
 * sends, or unknown). */
int dm_parse_guest(const uint8_t *p, size_t len, struct dm_guest_msg *out);
/* Range i (< n_ranges) of a parsed BALLOON_RESPONSE (DM_RANGE). */
uint64_t dm_guest_msg_range(const struct dm_guest_msg *m, uint32_t i);
/* Host messages into buf (at least DM_MESSAGE_MAX bytes); the length. */
size_t dm_build_version_response(uint8_t *buf, uint32_t trans_id, bool accepted);
size_t dm_build_caps_response(uint8_t *buf, uint32_t trans_id, bool accepted);
size_t dm_build_balloon(uint8_t *buf, uint32_t trans_id, uint32_t pages);
/* At most DM_RANGES_PER_MESSAGE ranges (0 otherwise). */
size_t dm_build_unballoon(uint8_t *buf, uint32_t trans_id, bool more, const uint64_t *ranges, size_t n);
size_t dm_build_hot_add(uint8_t *buf, uint32_t trans_id, uint64_t pfn, uint64_t pages);
size_t dm_build_info_max_pages(uint8_t *buf, uint32_t trans_id, uint64_t max_pages);

/* Which guest pages are ballooned out: a bit per page over each region
 * of RAM the guest may give up (its boot regions, then the hot-add window,
 * of which only the first `usable` pages count). */
#define DM_PAGES_REGIONS_MAX (DMVSP_BOOT_REGIONS_MAX + 1u)
struct dm_pages {
        struct {
                uint64_t pfn, pages, usable;
                uint64_t *bits;
        } r[DM_PAGES_REGIONS_MAX];
        size_t n;
        uint64_t total; /* pages set */
};
int dm_pages_init(struct dm_pages *p, const struct dmvsp_region *regions, size_t n);
void dm_pages_free(struct dm_pages *p);
/* Region i counts its first usable pages (the hot-add window as it grows). */
void dm_pages_set_usable(struct dm_pages *p, size_t i, uint64_t usable);
/* Marks a range the guest gave up: -ERANGE if any page of it is not
 * usable RAM, -EEXIST if any is marked already (nothing marked then). */
int dm_pages_take(struct dm_pages *p, uint64_t pfn, uint64_t n);
/* Picks up to `want` marked pages in at most max ranges (DM_RANGE), from
 * the highest frames down, and clears them; returns the pages picked. */
uint64_t dm_pages_give(struct dm_pages *p, uint64_t want, uint64_t *ranges, size_t max, size_t *n_ranges);
/* Clears everything (a VM reset). */
void dm_pages_clear(struct dm_pages *p);
/* Calls fn for every run of marked pages, lowest first; stops at a
 * negative return and returns it. */
int dm_pages_each(const struct dm_pages *p, int (*fn)(void *opaque, uint64_t pfn, uint64_t n), void *opaque);

/* ---- saved state (docs/vm-state.md) ---- */

/* The device ("DMDV", instance 0): what holds across channel openings. */
#define DMVSP_DEVICE_STATE_TAG VMSTATE_TAG('D', 'M', 'D', 'V')
struct dmvsp_device_state {
        uint64_t target;
        uint64_t hot_added, hot_add_ready; /* pages the guest took in; pages the owner made RAM */
        bool hot_add_dead;                  /* the guest will never hot-add */
        uint64_t lost;                      /* ballooned by a driver that went (never given back) */
        uint32_t n_ranges;                  /* ballooned runs, in the section's RANGES field */
};
/* The open channel ("DMCH", instance: relid). */
#define DMVSP_CHANNEL_STATE_TAG VMSTATE_TAG('D', 'M', 'C', 'H')
struct dmvsp_channel_state {
        uint32_t version; /* accepted, 0: none yet */
        bool caps_done;
        uint64_t caps;
        uint32_t next_trans;
        uint8_t op; /* enum dmvsp_op */
        uint64_t op_pages, op_done, op_pfn;
        /* Pages a balloon request that timed out may still bring: the
         * guest's late answer is taken (docs/dynamic-memory.md). */
        uint64_t late;
        /* Pages of a hot-add request that timed out: its late answer is
         * taken, and no other hot-add goes out until it came (version 3). */
        uint64_t late_hot_add;
};
extern const struct vmstate_desc dmvsp_channel_state_desc;
int dmvsp_channel_state_decode(const struct vmstate_section *s, struct dmvsp_channel_state *out, char *err,
                               size_t errlen);
/* The device section: its fields and the ballooned runs (DM_RANGE values,
 * each checked by fn, which may be NULL). */
int dmvsp_device_state_decode(const struct vmstate_section *s, struct dmvsp_device_state *out,
                              int (*range_fn)(void *opaque, uint64_t pfn, uint64_t n), void *opaque, char *err,
                              size_t errlen);
/* The device's own section (the channel's goes through the VMBus server's
 * save_channel hook): quiesced only. Restore reads it before the server
 * restores the channel: -EINVAL with a sentence if the state does not fit
 * this configuration. */
int dmvsp_save(struct dmvsp *dm, struct vmstate_writer *w, char *err, size_t errlen);
int dmvsp_restore(struct dmvsp *dm, const struct vmstate_section *secs, size_t n, char *err, size_t errlen);

/* Dynamic Memory's row of the worker's device table (common/device.h),
 * after the VMBus server's; its dev is the struct dmvsp. */
extern const struct device_ops dmvsp_device_ops;
