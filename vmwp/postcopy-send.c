// SPDX-License-Identifier: MIT
/* Post-copy live migration (vmwp/postcopy.h, docs/migration.md
 * "Post-copy"): the source's page server, which pushes the pages the
 * destination still misses and answers its requests first (the
 * destination's pager is postcopy.c).
 *
 * Every record it reads is checked by mig_record_parse (fuzzed) against
 * the RAM's size before it is answered. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/migcommit.h"
#include "common/migstream.h"
#include "common/vmstate.h"
#include "postcopy-internal.h"
#include "vmwp/postcopy.h"

/* Pages in one pushed record: a request waits behind at most one such
 * record (256 KiB) and what the socket buffers hold. */
#define RUN_PAGES 64u

static uint64_t popcount(const uint64_t *b, size_t words) {
        uint64_t n = 0;
        for (size_t i = 0; i < words; i++)
                n += (uint64_t)__builtin_popcountll(b[i]);
        return n;
}

/* ---- the source ---- */

int postcopy_send_bitmap(int fd, const uint64_t *missing, uint64_t ram_bytes, int timeout_ms, char *err,
                         size_t errlen) {
        uint64_t pages = ram_bytes / PAGE;
        for (uint64_t first = 0; first < pages; first += MIG_POSTCOPY_SPAN_MAX / PAGE) {
                uint64_t n = MIN(pages - first, MIG_POSTCOPY_SPAN_MAX / PAGE);
                size_t words = (size_t)DIV_ROUND_UP(n, 64u);
                const uint64_t *w = missing + first / 64;
                if (popcount(w, words) == 0)
                        continue;
                /* Little-endian words: the host's own layout on x86. */
                uint8_t h[MIG_RECORD_HEADER];
                mig_record_encode(h, MIG_POSTCOPY, first * PAGE, n * PAGE, vmstate_crc32c(0, w, words * 8));
                int r = mig_send_all(fd, h, sizeof h, timeout_ms);
                if (r >= 0)
                        r = mig_send_all(fd, w, words * 8, timeout_ms);
                if (r < 0)
                        return errorf(err, errlen, r, "sending the missing pages' bitmap: %s", strerror(-r));
        }
        return 0;
}

struct server {
        int fd, timeout_ms;
        const uint8_t *ram;
        uint64_t pages;
        uint64_t *missing;
        uint64_t left; /* bits still set in missing */
        struct postcopy_stats *st;
        uint8_t rec[MIG_RECORD_HEADER];
};

/* Pages [first, first + n), all of them missing, as ZERO and PAGES
 * records; their bits cleared. */
static int send_run(struct server *s, uint64_t first, uint64_t n, bool asked) {
        for (uint64_t i = first; i < first + n;) {
                bool zero = mem_is_zero(s->ram + i * PAGE, PAGE);
                uint64_t j = i + 1;
                while (j < first + n && mem_is_zero(s->ram + j * PAGE, PAGE) == zero)
                        j++;
                uint64_t len = (j - i) * PAGE;
                const uint8_t *p = s->ram + i * PAGE;
                mig_record_encode(s->rec, zero ? MIG_ZERO : MIG_PAGES, i * PAGE, len,
                                  zero ? 0 : vmstate_crc32c(0, p, (size_t)len));
                int r = mig_send_all(s->fd, s->rec, sizeof s->rec, s->timeout_ms);
                if (r >= 0 && !zero)
                        r = mig_send_all(s->fd, p, (size_t)len, s->timeout_ms);
                if (r < 0)
                        return r;
                s->st->bytes += MIG_RECORD_HEADER + (zero ? 0 : len);
                if (zero)
                        s->st->zero_pages += j - i;
                if (!asked)
                        s->st->pushed_pages += j - i;
                for (uint64_t k = i; k < j; k++)
                        bit_clear(s->missing, k);
                s->left -= j - i;
                i = j;
        }
        return 0;
}

/* A PAGE_REQ: the pages of the range still missing here, in runs. */
static int serve_request(struct server *s, const struct mig_record *rec) {
        uint64_t first = rec->addr / PAGE, end = first + rec->length / PAGE;
        s->st->requests++;
        for (uint64_t i = next_bit(s->missing, first, end); i < end; i = next_bit(s->missing, i, end)) {
                uint64_t j = i + 1;
                while (j < end && bit(s->missing, j))
                        j++;
                s->st->requested_pages += j - i;
                int r = send_run(s, i, j - i, true);
                if (r < 0)
                        return r;
                i = j;
        }
        return 0;
}

/* The next pushed record: up to RUN_PAGES missing pages in a row from
 * *cursor on. */
static int push(struct server *s, uint64_t *cursor) {
        uint64_t i = next_bit(s->missing, *cursor, s->pages);
        if (i == s->pages)
                i = next_bit(s->missing, 0, s->pages); /* a request took the ones ahead */
        uint64_t j = i + 1;
        while (j < s->pages && j - i < RUN_PAGES && bit(s->missing, j))
                j++;
        *cursor = j;
        return send_run(s, i, j - i, false);
}

/* The hooks' progress, at most every 100 ms unless forced. */
static void report(const struct postcopy_serve_hooks *hooks, const struct server *s, bool committed, bool force,
                   uint64_t *last) {
        uint64_t now = now_ns();
        if (!hooks || !hooks->progress || (!force && now - *last < 100000000u))
                return;
        *last = now;
        hooks->progress(hooks->opaque, s->left, s->st, committed);
}

int postcopy_serve(int fd, const uint8_t *ram, uint64_t ram_bytes, uint64_t *missing, int timeout_ms,
                   const struct postcopy_serve_hooks *hooks, bool *committed, struct postcopy_stats *st, char *err,
                   size_t errlen) {
        struct server s = { .fd = fd, .timeout_ms = timeout_ms, .ram = ram, .pages = ram_bytes / PAGE,
                            .missing = missing, .st = st };
        s.left = popcount(missing, (size_t)DIV_ROUND_UP(s.pages, 64u));
        *st = (struct postcopy_stats){ .missing_pages = s.left };
        *committed = false;
        uint64_t t0 = now_ns(), cursor = 0, idle_since = t0, reported = 0;
        bool running = false, end_sent = false;
        for (;;) {
                report(hooks, &s, *committed, false, &reported);
                if (running && !s.left && !end_sent) {
                        int r = send_header(fd, MIG_POSTCOPY_END, 0, 0, timeout_ms);
                        if (r < 0)
                                return errorf(err, errlen, r, "committed, sending POSTCOPY_END: %s", strerror(-r));
                        st->bytes += MIG_RECORD_HEADER;
                        end_sent = true;
                }
                struct pollfd p = { .fd = fd, .events = POLLIN | (s.left ? POLLOUT : 0) };
                int n = poll(&p, 1, 1000);
                if (n < 0 && errno != EINTR)
                        return errorf(err, errlen, -errno, "poll: %s", strerror(errno));
                if (n <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) {
                        /* Nothing to read: push a record, or wait (bounded:
                         * with nothing left to send, the peer must speak). */
                        if (n > 0 && p.revents & POLLOUT && s.left) {
                                int r = push(&s, &cursor);
                                if (r < 0)
                                        return errorf(err, errlen, r, "%ssending pages: %s",
                                                      *committed ? "committed, " : "", strerror(-r));
                                idle_since = now_ns();
                        } else if (timeout_ms >= 0 && now_ns() - idle_since > (uint64_t)timeout_ms * 1000000u)
                                return errorf(err, errlen, -ETIMEDOUT, "%sthe destination sent nothing for %d ms",
                                              *committed ? "committed, but " : "", timeout_ms);
                        continue;
                }
                struct mig_record rec;
                char why[MIG_TEXT_MAX + 1] = "";
                int r = mig_recv_record_in(fd, timeout_ms, ram_bytes, false, &rec, why, sizeof why);
                if (r < 0)
                        return errorf(err, errlen, r, "%sreading the destination: %s",
                                      *committed ? "committed, but " : "", mig_io_why(r, why));
                idle_since = now_ns();
                switch (rec.type) {
                case MIG_PAGE_REQ:
                        if ((r = serve_request(&s, &rec)) < 0)
                                return errorf(err, errlen, r, "%ssending pages: %s", *committed ? "committed, " : "",
                                              strerror(-r));
                        break;
                case MIG_READY:
                        if (*committed)
                                return errorf(err, errlen, -EPROTO, "committed, but the destination sent READY again");
                        /* A COMMIT not in the socket whole cannot reach the
                         * destination: it will not run, the VM stays here. */
                        if ((r = send_header(fd, MIG_COMMIT, 0, 0, timeout_ms)) < 0)
                                return errorf(err, errlen, r, "sending COMMIT: %s", strerror(-r));
                        st->bytes += MIG_RECORD_HEADER;
                        *committed = true;
                        /* The guest runs there from now on, on pages from
                         * here: silence is waited out, not taken for a
                         * failure that would lose it. A link that is gone
                         * ends the stream (vmms's relay decides). */
                        timeout_ms = s.timeout_ms = -1;
                        report(hooks, &s, true, true, &reported); /* no cancel from here on */
                        break;
                case MIG_RUNNING:
                        if (!*committed)
                                return errorf(err, errlen, -EPROTO, "the destination reported running before COMMIT");
                        if (running)
                                return errorf(err, errlen, -EPROTO, "committed, but the destination sent RUNNING again");
                        running = true;
                        st->running_at_ns = now_ns();
                        if (hooks && hooks->running)
                                hooks->running(hooks->opaque);
                        break;
                case MIG_POSTCOPY_DONE:
                        if (!end_sent)
                                return errorf(err, errlen, -EPROTO, "%sthe destination reported every page before the last",
                                              *committed ? "committed, but " : "");
                        st->total_ns = now_ns() - t0;
                        report(hooks, &s, true, true, &reported);
                        return 0;
                case MIG_REFUSE:
                        return errorf(err, errlen, -ECONNABORTED, "%sthe destination gave up: %s",
                                      *committed ? "committed, but " : "", why);
                default:
                        return errorf(err, errlen, -EPROTO, "%sthe destination sent record type %u in post-copy",
                                      *committed ? "committed, but " : "", rec.type);
                }
        }
}

