// SPDX-License-Identifier: MIT
/* vsc.mode=balloon: Dynamic Memory's guest side, as Linux's hv_balloon
 * speaks it (hvdefs/include/hv/dm.h, docs/dynamic-memory.md), for
 * bench/bench-dm.c: version 2.0, capabilities (balloon and hot-add), a
 * status report every second, balloon requests answered with pages of a
 * region the guest filled first (so the host had to back each page),
 * unballoon requests taking them back, hot-add requests mapped and
 * touched. mode-virtio-balloon.c is the same guest for QEMU's
 * virtio-balloon.
 *
 * Everything after the channel's negotiation runs at CPL3, polling (at
 * emulated CPL0 the answers would time the emulator). A balloon answer
 * holds the region's free runs, up to 510 a message (a filled region
 * gives one run per request: Linux gives one per 2 MiB it could allocate).
 *
 * Options: vsc.balloon.touch_mib=N (16..2048, default 512),
 * vsc.balloon.seconds=S (1..86400, default 300: then the mode ends).
 * Report lines:
 *   balloon_ready device=dm touched_mib=N
 *   balloon_change device=dm op=balloon|unballoon|hot-add pages=P
 *     hot_added_mib=M us=T   (P: pages in the balloon; T: the guest's time
 *     from the request's arrival to its answer sent) */
#include "hv/dm.h"

#include "guest.h"

#define PAGE 4096ull
#define DM_RING_BYTES (5u * 4096)
#define STATUS_NS 1000000000ull

struct balloon {
        struct vsc_channel ch;
        uint64_t base_pfn, pages; /* the filled region */
        uint64_t *given;          /* a bit per region page: in the balloon */
        uint64_t in_balloon, hot_added, cursor;
        uint64_t deadline_ns, next_status_ns;
        uint32_t trans;
        int err;
        char why[96];
        uint8_t rx[8192], tx[DM_MESSAGE_MAX];
};

static bool given(const struct balloon *b, uint64_t i) {
        return b->given[i / 64] >> (i % 64) & 1;
}

static void set_given(struct balloon *b, uint64_t i, bool on) {
        if (on)
                b->given[i / 64] |= 1ull << (i % 64);
        else
                b->given[i / 64] &= ~(1ull << (i % 64));
}

static int send(struct balloon *b, uint16_t type, size_t len) {
        struct dm_header *h = (struct dm_header *)(void *)b->tx;
        h->type = type;
        h->size = (uint16_t)len;
        h->trans_id = ++b->trans;
        return guest_channel_send(&b->ch, b->tx, len);
}

/* The next host message of `type` (others before it are dropped: only
 * the INFO message can come in between). */
static int expect(struct balloon *b, uint16_t type, uint64_t timeout_ns) {
        uint64_t end = clock_ns() + timeout_ns;
        for (;;) {
                struct vsc_packet p;
                int r = vsc_channel_wait(&b->ch, end - clock_ns());
                if (r == 0)
                        r = vsc_channel_recv(&b->ch, b->rx, sizeof b->rx, &p);
                if (r < 0)
                        return r;
                if (p.len - p.payload_off >= sizeof(struct dm_header) &&
                    ((struct dm_header *)(void *)(b->rx + p.payload_off))->type == type) {
                        memmove(b->rx, b->rx + p.payload_off, p.len - p.payload_off);
                        return 0;
                }
                if (clock_ns() >= end)
                        return -ETIMEDOUT;
        }
}

static int negotiate(struct balloon *b) {
        struct dm_version_request *v = (void *)b->tx;
        v->version = DM_VERSION_WIN10;
        v->flags = 1; /* the last attempt: 2.0 or nothing */
        int r = send(b, DM_VERSION_REQUEST, sizeof *v);
        if (r == 0)
                r = expect(b, DM_VERSION_RESPONSE, 10000000000ull);
        if (r < 0)
                return guest_fail(r, "dm: no version response");
        if (!(((struct dm_version_response *)(void *)b->rx)->flags & 1))
                return guest_fail(-EPROTO, "dm: version 2.0 refused");
        struct dm_capabilities *c = (void *)b->tx;
        c->caps = DM_CAP_BALLOON | DM_CAP_HOT_ADD | 7ull << 2; /* hot-add aligned to 2^7 MiB, as Linux */
        c->min_page_cnt = 0;
        c->max_page_number = ~0ull;
        r = send(b, DM_CAPABILITIES_REPORT, sizeof *c);
        if (r == 0)
                r = expect(b, DM_CAPABILITIES_RESPONSE, 10000000000ull);
        if (r < 0)
                return guest_fail(r, "dm: no capabilities response");
        if (!(((struct dm_capabilities_response *)(void *)b->rx)->flags & 1))
                return guest_fail(-EPROTO, "dm: capabilities refused");
        return 0;
}

static int status_report(struct balloon *b) {
        struct mem_stats m;
        mem_stats(&m);
        struct dm_status *s = (void *)b->tx;
        memset(s, 0, sizeof *s);
        s->num_avail = m.free_pages + (b->pages - b->in_balloon);
        s->num_committed = m.pool_pages - m.free_pages + b->hot_added;
        return send(b, DM_STATUS_REPORT, sizeof *s);
}

/* Up to n pages of the region that are not in the balloon, as runs. */
static int on_balloon(struct balloon *b, uint32_t n) {
        struct dm_balloon_response *rsp = (void *)b->tx;
        uint64_t *ranges = (uint64_t *)(void *)(rsp + 1);
        uint64_t left = n, scanned = 0;
        uint32_t count = 0;
        int r = 0;
        while (left && scanned < b->pages) {
                uint64_t i = b->cursor;
                if (given(b, i)) {
                        b->cursor = (i + 1) % b->pages, scanned++;
                        continue;
                }
                uint64_t run = 0;
                while (run < left && run < DM_RANGE_COUNT_MAX && i + run < b->pages && !given(b, i + run))
                        set_given(b, i + run, true), run++;
                ranges[count++] = DM_RANGE(b->base_pfn + i, run);
                left -= run, scanned += run, b->in_balloon += run;
                b->cursor = (i + run) % b->pages;
                if (count == DM_RANGES_PER_MESSAGE && left && scanned < b->pages) {
                        rsp->reservedz = 0;
                        rsp->flags = DM_MORE_PAGES | count << 1;
                        if ((r = send(b, DM_BALLOON_RESPONSE, sizeof *rsp + count * 8u)) < 0)
                                return r;
                        count = 0;
                }
        }
        rsp->reservedz = 0;
        rsp->flags = count << 1;
        return send(b, DM_BALLOON_RESPONSE, sizeof *rsp + count * 8u);
}

/* The host's ranges back; the answer after the last message. */
static int on_unballoon(struct balloon *b, const struct dm_unballoon_request *q, size_t len) {
        const uint64_t *ranges = (const uint64_t *)(const void *)(q + 1);
        if (len < sizeof *q || q->range_count > (len - sizeof *q) / 8)
                return guest_fail(-EPROTO, "dm: unballoon request of %u ranges in %lu bytes", q->range_count,
                                  (uint64_t)len);
        for (uint32_t k = 0; k < q->range_count; k++) {
                uint64_t pfn = DM_RANGE_START(ranges[k]), n = DM_RANGE_COUNT(ranges[k]);
                if (pfn < b->base_pfn || pfn - b->base_pfn + n > b->pages)
                        return guest_fail(-EPROTO, "dm: unballoon of pfn 0x%lx+%lu: not ours", pfn, n);
                for (uint64_t i = pfn - b->base_pfn; i < pfn - b->base_pfn + n; i++) {
                        if (!given(b, i))
                                return guest_fail(-EPROTO, "dm: unballoon of pfn 0x%lx: not in the balloon",
                                                  b->base_pfn + i);
                        set_given(b, i, false);
                }
                /* The host punched the pages out: they come back as zeros
                 * (one read a range: each read faults a page in). */
                if (n && *(volatile uint64_t *)(uintptr_t)(pfn * PAGE) != 0)
                        return guest_fail(-EIO, "dm: pfn 0x%lx came back not zero", pfn);
                b->in_balloon -= n;
        }
        if (q->flags & DM_MORE_PAGES)
                return 1; /* more to come */
        return send(b, DM_UNBALLOON_RESPONSE, sizeof(struct dm_unballoon_response));
}

/* Map the range, write and read back a word in every 2 MiB of it (what
 * an OS touches to online memory is its own affair; this proves the
 * memory is there), accept all of it. */
static int on_hot_add(struct balloon *b, const struct dm_hot_add *q) {
        uint64_t pfn = DM_RANGE_START(q->range), n = DM_RANGE_COUNT(q->range);
        struct dm_hot_add_response *rsp = (void *)b->tx;
        int r = mem_map_identity(pfn * PAGE, (pfn + n) * PAGE);
        if (r < 0)
                return guest_fail(r, "dm: cannot map the hot-added 0x%lx+%lu pages", pfn, n);
        for (uint64_t a = pfn * PAGE; a < (pfn + n) * PAGE; a += 2ull << 20) {
                volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)a;
                *w = a ^ 0x5a5a5a5a5a5a5a5aull;
                if (*w != (a ^ 0x5a5a5a5a5a5a5a5aull))
                        return guest_fail(-EIO, "dm: hot-added memory at 0x%lx does not hold a write", a);
        }
        b->hot_added += n;
        rsp->page_count = (uint32_t)n;
        rsp->result = 1;
        return send(b, DM_MEM_HOT_ADD_RESPONSE, sizeof *rsp);
}

static int dispatch(struct balloon *b, const uint8_t *m, size_t len, const char **op) {
        const struct dm_header *h = (const void *)m;
        if (len < sizeof *h || h->size > len)
                return guest_fail(-EPROTO, "dm: a host message of %lu bytes", (uint64_t)len);
        switch (h->type) {
        case DM_BALLOON_REQUEST:
                if (len < sizeof(struct dm_balloon))
                        break;
                *op = "balloon";
                return on_balloon(b, ((const struct dm_balloon *)(const void *)m)->num_pages);
        case DM_UNBALLOON_REQUEST:
                *op = "unballoon";
                return on_unballoon(b, (const void *)m, len);
        case DM_MEM_HOT_ADD_REQUEST:
                if (len < sizeof(struct dm_hot_add))
                        break;
                *op = "hot-add";
                return on_hot_add(b, (const void *)m);
        case DM_INFO_MESSAGE:
                return 1; /* informational */
        }
        return guest_fail(-EPROTO, "dm: unexpected host message type %u of %lu bytes", h->type, (uint64_t)len);
}

static long serve(void *arg) {
        struct balloon *b = arg;
        while (clock_ns() < b->deadline_ns) {
                uint64_t now = clock_ns();
                if (now >= b->next_status_ns) {
                        if ((b->err = status_report(b)) < 0)
                                return b->err;
                        b->next_status_ns = now + STATUS_NS;
                }
                if (vsc_ring_has_data(&b->ch.in) <= 0) {
                        cpu_relax();
                        continue;
                }
                struct vsc_packet p;
                if ((b->err = vsc_channel_recv(&b->ch, b->rx, sizeof b->rx, &p)) < 0)
                        return b->err;
                const char *op = NULL;
                int r = dispatch(b, b->rx + p.payload_off, p.len - p.payload_off, &op);
                if (r < 0)
                        return b->err = r;
                if (r == 0 && op)
                        report("balloon_change device=dm op=%s pages=%lu hot_added_mib=%lu us=%lu", op, b->in_balloon,
                               b->hot_added >> 8, (clock_ns() - now) / 1000);
        }
        return 0;
}

/* Allocate and fill the region (CPL3: at emulated CPL0 filling 512 MiB
 * would take minutes). */
static long fill(void *arg) {
        struct balloon *b = arg;
        uint8_t *p = mem_alloc_pages_unzeroed(b->pages);
        if (!p)
                return -ENOMEM;
        for (uint64_t i = 0; i < b->pages; i++)
                *(volatile uint64_t *)(void *)(p + i * PAGE) = i + 1;
        b->base_pfn = (uint64_t)(uintptr_t)p / PAGE;
        return 0;
}

int mode_balloon(struct guest *g) {
        static struct balloon b;
        static const uint8_t dm_class[16] = HV_DM_GUID;
        b.pages = guest_opt(g, "vsc.balloon.touch_mib", 512, 16, 2048) << 8;
        uint64_t seconds = guest_opt(g, "vsc.balloon.seconds", 300, 1, 86400);
        b.given = mem_alloc_pages((b.pages / 64 * 8 + PAGE - 1) / PAGE);
        if (!b.given)
                return guest_fail(-ENOMEM, "no pages for the balloon's map");
        int r = guest_vmbus_connect(g);
        if (r < 0)
                return r;
        if ((r = vsc_request_offers(&g->bus)) < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        const struct vsc_offer *o = vsc_find_offer(&g->bus, dm_class, 0);
        if (!o)
                return guest_fail(-ENOENT, "no Dynamic Memory device offered (dynamic_memory.enabled)");
        if ((r = vsc_channel_open(&g->bus, &b.ch, o, DM_RING_BYTES, DM_RING_BYTES, NULL, 0)) < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        if ((r = negotiate(&b)) < 0)
                return r;
        if ((r = (int)cpu_run_user(fill, &b, false)) < 0)
                return guest_fail(r, "no %lu MiB in one piece to fill", b.pages >> 8);
        report("balloon_ready device=dm touched_mib=%lu", b.pages >> 8);
        vsc_channel_mask(&b.ch, true); /* polling from here on */
        b.deadline_ns = clock_ns() + seconds * 1000000000ull;
        long e = cpu_run_user(serve, &b, false);
        if (e < 0)
                return guest_fail((int)e, "dm: serving ended: %s", vsc_bus_error(&g->bus));
        report("balloon_end device=dm pages=%lu hot_added_mib=%lu", b.in_balloon, b.hot_added >> 8);
        return 0;
}
