// SPDX-License-Identifier: MIT
/* Post-copy live migration (vmwp/postcopy.h, docs/migration.md
 * "Post-copy"): the destination's pager (the source's page server is
 * postcopy-send.c).
 *
 * Every record either side reads is checked by mig_record_parse (fuzzed)
 * against the RAM's size before anything is placed; the pager places a
 * page only where its bit says it is missing, so a source cannot write
 * over memory the guest has used here, and a page arrives at most once. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/migcommit.h"
#include "common/migstream.h"
#include "common/vmstate.h"
#include "postcopy-internal.h"
#include "vmwp/postcopy.h"

/* A fault asks for its page and the missing ones right after it, up to
 * this many (a guest touching memory in order gets ahead of its faults). */
#define REQ_PAGES 16u
/* The destination: this long without a byte from the source while pages
 * are missing means it is gone. */
#define IDLE_MS 60000
/* Requests timed at once (the wait statistics); more go untimed. */
#define PENDING_MAX 256u

/* ---- the destination ---- */

enum commit_state { WAITING, COMMITTED, ABORTED };

struct pending {
        uint64_t page, n, since;
};

struct postcopy_dest {
        uint8_t *host;
        uint64_t size, pages;
        size_t words;
        int sock, uffd, wake;
        uint64_t *missing, *requested;
        uint64_t n_missing; /* atomic: others read it */
        uint8_t *buf;       /* a record's payload, MIG_PAGES_MAX */
        pthread_t thread;
        bool started, registered;
        void (*on_fatal)(void *opaque, const char *why, bool committed);
        void *opaque;
        pthread_mutex_t lock; /* commit, ended, why, stats for readers */
        pthread_cond_t cond;
        pthread_mutex_t send_lock; /* the pager's PAGE_REQ, DONE and the commit's READY, RUNNING */
        enum commit_state commit;
        bool ended, failed, stop;
        char why[MIG_TEXT_MAX + 160];
        struct postcopy_stats st;
        struct pending pend[PENDING_MAX];
        uint64_t t0, last_rx;
        int idle_ms; /* the source's silence taken for a failure, until the COMMIT */
};

/* How long a wait for the source may last now: idle_ms until the
 * COMMIT, then without limit (-1). */
static int wait_ms(struct postcopy_dest *d) {
        pthread_mutex_lock(&d->lock);
        int ms = d->commit == COMMITTED ? -1 : d->idle_ms;
        pthread_mutex_unlock(&d->lock);
        return ms;
}

int postcopy_dest_available(char *err, size_t errlen) {
        int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return errorf(err, errlen, -errno, "userfaultfd: %s%s", strerror(errno),
                              errno == EPERM ? " (root, or vm.unprivileged_userfaultfd)" : "");
        struct uffdio_api api = { .api = UFFD_API };
        int r = ioctl(fd, UFFDIO_API, &api) < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
                return errorf(err, errlen, r, "userfaultfd's API: %s", strerror(-r));
        if (!(api.features & UFFD_FEATURE_MISSING_SHMEM))
                return errorf(err, errlen, -EOPNOTSUPP, "this kernel's userfaultfd does not handle shared memory");
        return 0;
}

int postcopy_dest_new(uint8_t *host, uint64_t size, int sock, uint32_t idle_ms, struct postcopy_dest **out, char *err,
                      size_t errlen) {
        if (!host || !size || size % PAGE || (uintptr_t)host % PAGE) {
                safe_close(sock);
                return errorf(err, errlen, -EINVAL, "post-copy: RAM of %llu bytes is not in whole pages",
                              (unsigned long long)size);
        }
        struct postcopy_dest *d = calloc(1, sizeof *d);
        if (!d) {
                safe_close(sock);
                return errorf(err, errlen, -ENOMEM, "out of memory");
        }
        *d = (struct postcopy_dest){ .host = host, .size = size, .pages = size / PAGE, .sock = sock, .uffd = -1,
                                     .wake = -1, .idle_ms = idle_ms ? (int)MIN(idle_ms, (uint32_t)INT_MAX) : IDLE_MS };
        d->words = (size_t)DIV_ROUND_UP(d->pages, 64u);
        d->missing = calloc(d->words, sizeof *d->missing);
        d->requested = calloc(d->words, sizeof *d->requested);
        d->buf = malloc(MIG_PAGES_MAX);
        d->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        pthread_mutex_init(&d->lock, NULL);
        pthread_mutex_init(&d->send_lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&d->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (!d->missing || !d->requested || !d->buf || d->wake < 0) {
                postcopy_dest_free(d);
                return errorf(err, errlen, -ENOMEM, "post-copy: out of memory");
        }
        *out = d;
        return 0;
}

int postcopy_dest_mark(struct postcopy_dest *d, uint64_t offset, uint64_t length, const uint8_t *bitmap, char *err,
                       size_t errlen) {
        uint64_t first = offset / PAGE, n = length / PAGE, end;
        if (d->started || offset % MIG_POSTCOPY_ALIGN || length % PAGE || ADD_OVERFLOW(first, n, &end) ||
            end > d->pages)
                return errorf(err, errlen, -EINVAL, "POSTCOPY record at RAM offset 0x%llx: outside the RAM",
                              (unsigned long long)offset);
        for (uint64_t i = 0; i < n; i++) {
                if (!(bitmap[i / 8] >> (i % 8) & 1) || bit(d->missing, first + i))
                        continue;
                /* The copy from an earlier pass is stale: a hole, so that
                 * the first touch faults. */
                uint64_t j = i + 1;
                while (j < n && bitmap[j / 8] >> (j % 8) & 1 && !bit(d->missing, first + j))
                        j++;
                if (madvise(d->host + (first + i) * PAGE, (j - i) * PAGE, MADV_REMOVE) < 0)
                        return errorf(err, errlen, -errno, "post-copy: dropping stale pages: %s", strerror(errno));
                for (uint64_t k = i; k < j; k++)
                        bit_set(d->missing, first + k);
                d->n_missing += j - i;
                i = j - 1;
        }
        for (uint64_t i = n; i < ALIGN_UP(n, 64u); i++)
                if (bitmap[i / 8] >> (i % 8) & 1)
                        return errorf(err, errlen, -EINVAL, "POSTCOPY record: bits set past its %llu pages",
                                      (unsigned long long)n);
        return 0;
}

uint64_t postcopy_dest_missing(struct postcopy_dest *d) {
        return __atomic_load_n(&d->n_missing, __ATOMIC_ACQUIRE);
}

static void unregister(struct postcopy_dest *d) {
        if (!d->registered)
                return;
        struct uffdio_range range = { .start = (uintptr_t)d->host, .len = d->size };
        (void)ioctl(d->uffd, UFFDIO_UNREGISTER, &range);
        d->registered = false;
        d->uffd = safe_close(d->uffd); /* wakes anyone still waiting */
}

/* The pager cannot go on: why, once. Before the COMMIT the commit waiter
 * reports it; whoever waits for a page is let go only by on_fatal (vmwp
 * ends the worker) or, if that returns, by unregistering. */
static void fail(struct postcopy_dest *d, const char *fmt, ...) _printf_(2, 3);
static void fail(struct postcopy_dest *d, const char *fmt, ...) {
        char why[sizeof d->why];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&d->lock);
        bool first = !d->failed && !d->stop, committed = d->commit == COMMITTED;
        if (first) {
                d->failed = true;
                snprintf(d->why, sizeof d->why, "%s", why);
        }
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        if (first && d->on_fatal)
                d->on_fatal(d->opaque, why, committed);
}

static int send_locked(struct postcopy_dest *d, uint32_t type, uint64_t addr, uint64_t length) {
        int ms = wait_ms(d);
        pthread_mutex_lock(&d->send_lock);
        int r = send_header(d->sock, type, addr, length, ms);
        pthread_mutex_unlock(&d->send_lock);
        return r;
}

/* A fault at addr: a zero page for a page never written, a request for a
 * missing one not asked for yet (and the missing ones after it), nothing
 * for one on its way. */
static int on_fault(struct postcopy_dest *d, uint64_t addr) {
        uint64_t off = ALIGN_DOWN(addr - (uintptr_t)d->host, (uint64_t)PAGE), page = off / PAGE;
        if (addr < (uintptr_t)d->host || page >= d->pages)
                return 0; /* not ours: nothing registered there */
        d->st.faults++;
        if (!bit(d->missing, page)) {
                /* Never written here (or placed since the fault was
                 * queued: then only its waiter needs waking). */
                struct uffdio_zeropage z = { .range = { .start = (uintptr_t)d->host + off, .len = PAGE } };
                if (ioctl(d->uffd, UFFDIO_ZEROPAGE, &z) == 0) {
                        d->st.hole_faults++;
                        return 0;
                }
                if (errno != EEXIST)
                        return -errno;
                return ioctl(d->uffd, UFFDIO_WAKE, &z.range) < 0 ? -errno : 0;
        }
        if (bit(d->requested, page))
                return 0;
        uint64_t n = 1;
        while (n < REQ_PAGES && page + n < d->pages && bit(d->missing, page + n) && !bit(d->requested, page + n))
                n++;
        for (uint64_t i = 0; i < n; i++)
                bit_set(d->requested, page + i);
        for (size_t i = 0; i < PENDING_MAX; i++)
                if (!d->pend[i].n) {
                        d->pend[i] = (struct pending){ .page = page, .n = n, .since = now_ns() };
                        break;
                }
        d->st.requests++;
        d->st.requested_pages += n;
        d->st.bytes += MIG_RECORD_HEADER;
        return send_locked(d, MIG_PAGE_REQ, off, n * PAGE);
}

static int read_faults(struct postcopy_dest *d) {
        struct uffd_msg msg[16];
        ssize_t k = read(d->uffd, msg, sizeof msg);
        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        for (size_t i = 0; i < (size_t)k / sizeof msg[0]; i++) {
                if (msg[i].event != UFFD_EVENT_PAGEFAULT)
                        continue;
                int r = on_fault(d, msg[i].arg.pagefault.address);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Bytes from the source; waits at most wait_ms, and not at all once
 * stopped. */
static int recv_all(struct postcopy_dest *d, void *buf, size_t len) {
        uint8_t *b = buf;
        int ms = wait_ms(d);
        while (len > 0) {
                struct pollfd p[2] = { { .fd = d->sock, .events = POLLIN }, { .fd = d->wake, .events = POLLIN } };
                int n = poll(p, 2, ms);
                if (n == 0)
                        return -ETIMEDOUT;
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (READ_ONCE(d->stop))
                        return -ECANCELED;
                ssize_t k = read(d->sock, b, len);
                if (k == 0)
                        return -ECONNRESET;
                if (k < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (k > 0) {
                        b += k, len -= (size_t)k;
                        d->st.bytes += (uint64_t)k;
                }
        }
        d->last_rx = now_ns();
        return 0;
}

static void requests_answered(struct postcopy_dest *d, uint64_t first, uint64_t n) {
        uint64_t now = now_ns();
        for (size_t i = 0; i < PENDING_MAX; i++) {
                struct pending *p = &d->pend[i];
                if (p->n && p->page >= first && p->page < first + n) {
                        uint64_t w = now - p->since;
                        d->st.max_wait_ns = MAX(d->st.max_wait_ns, w);
                        d->st.total_wait_ns += w;
                        p->n = 0;
                }
        }
}

/* Places pages [first, first + n) that are still missing: data from src
 * (page i at src + (i - first) * PAGE), or zeros. */
static int place(struct postcopy_dest *d, uint64_t first, uint64_t n, const uint8_t *src) {
        for (uint64_t i = next_bit(d->missing, first, first + n); i < first + n;
             i = next_bit(d->missing, i, first + n)) {
                uint64_t j = i + 1;
                while (j < first + n && bit(d->missing, j))
                        j++;
                for (uint64_t at = i; at < j;) {
                        /* One ioctl per run; a page some toucher placed
                         * meanwhile (EEXIST) cannot be: only the pager
                         * places missing pages. It is skipped all the same. */
                        uint64_t len = (j - at) * PAGE;
                        int64_t done;
                        int r;
                        if (src) {
                                struct uffdio_copy c = { .dst = (uintptr_t)d->host + at * PAGE,
                                                         .src = (uintptr_t)(src + (at - first) * PAGE), .len = len };
                                r = ioctl(d->uffd, UFFDIO_COPY, &c) < 0 ? -errno : 0;
                                done = c.copy;
                        } else {
                                struct uffdio_zeropage z = { .range = { .start = (uintptr_t)d->host + at * PAGE,
                                                                        .len = len } };
                                r = ioctl(d->uffd, UFFDIO_ZEROPAGE, &z) < 0 ? -errno : 0;
                                done = z.zeropage;
                        }
                        uint64_t placed = r >= 0 ? len / PAGE : done > 0 ? (uint64_t)done / PAGE : 0;
                        if (r < 0 && r != -EAGAIN && r != -EEXIST)
                                return r;
                        if (r == -EEXIST && placed == 0)
                                placed = 1; /* that page is there: skip it */
                        for (uint64_t k = at; k < at + placed; k++) {
                                __atomic_and_fetch(&d->missing[k / 64], ~(1ull << (k % 64)), __ATOMIC_RELAXED);
                                if (!bit(d->requested, k))
                                        d->st.pushed_pages++;
                                bit_clear(d->requested, k);
                        }
                        if (!src)
                                d->st.zero_pages += placed;
                        __atomic_sub_fetch(&d->n_missing, placed, __ATOMIC_RELEASE);
                        at += placed;
                }
                requests_answered(d, i, j - i);
                i = j;
        }
        return 0;
}

/* One record from the source. 1: POSTCOPY_END handled (done). */
static int on_record(struct postcopy_dest *d) {
        uint8_t hdr[MIG_RECORD_HEADER];
        struct mig_record rec;
        char why[MIG_TEXT_MAX + 160] = "";
        int r = recv_all(d, hdr, sizeof hdr);
        if (r < 0) {
                fail(d, "post-copy: %s with %llu pages still at the source",
                     r == -ECONNRESET  ? "the source closed the stream"
                     : r == -ETIMEDOUT ? "nothing from the source for 60 s"
                                       : strerror(-r),
                     (unsigned long long)postcopy_dest_missing(d));
                return r;
        }
        if ((r = mig_record_parse(hdr, d->size, true, &rec, why, sizeof why)) < 0) {
                fail(d, "post-copy: %s", why);
                return r;
        }
        uint64_t pl = mig_record_payload(&rec);
        if (pl > MIG_PAGES_MAX || rec.type == MIG_POSTCOPY || rec.type == MIG_DISK) {
                fail(d, "post-copy: record type %u after the state", rec.type);
                return -EPROTO;
        }
        if (pl && (r = recv_all(d, d->buf, (size_t)pl)) < 0) {
                fail(d, "post-copy: the stream broke inside a record: %s", strerror(-r));
                return r;
        }
        if (pl && vmstate_crc32c(0, d->buf, (size_t)pl) != rec.payload_crc) {
                fail(d, "post-copy: record type %u: payload CRC mismatch", rec.type);
                return -EINVAL;
        }
        switch (rec.type) {
        case MIG_PAGES:
        case MIG_ZERO:
                if ((r = place(d, rec.addr / PAGE, rec.length / PAGE, rec.type == MIG_PAGES ? d->buf : NULL)) < 0) {
                        fail(d, "post-copy: placing pages: %s", strerror(-r));
                        return r;
                }
                return 0;
        case MIG_COMMIT:
        case MIG_ABORT: {
                char text[MIG_TEXT_MAX + 1];
                mig_text(d->buf, pl, text, sizeof text);
                pthread_mutex_lock(&d->lock);
                enum commit_state was = d->commit;
                if (was == WAITING)
                        d->commit = rec.type == MIG_COMMIT ? COMMITTED : ABORTED;
                /* The reason with the state, in one step: the commit's
                 * waiter may read them the moment the lock is free. */
                if (was == WAITING && rec.type == MIG_ABORT)
                        snprintf(d->why, sizeof d->why, "the source gave up before committing: %s",
                                 text[0] ? text : "no reason");
                pthread_cond_broadcast(&d->cond);
                pthread_mutex_unlock(&d->lock);
                if (was != WAITING) {
                        fail(d, "post-copy: a COMMIT or ABORT after the COMMIT");
                        return -EPROTO;
                }
                if (rec.type == MIG_COMMIT)
                        return 0;
                /* Whoever waits for a page here waits in vain: the source
                 * keeps the VM. */
                fail(d, "the source gave up before committing: %s", text[0] ? text : "no reason");
                return -ECANCELED;
        }
        case MIG_POSTCOPY_END:
                if (d->commit != COMMITTED || postcopy_dest_missing(d)) {
                        fail(d, "post-copy: the source ended with %llu pages never sent%s",
                             (unsigned long long)postcopy_dest_missing(d),
                             d->commit != COMMITTED ? ", before the COMMIT" : "");
                        return -EPROTO;
                }
                d->st.bytes += MIG_RECORD_HEADER;
                if ((r = send_locked(d, MIG_POSTCOPY_DONE, 0, 0)) < 0)
                        log_warning("post-copy: every page is here, but the source cannot be told: %s", strerror(-r));
                return 1;
        default: /* PASS, STATE, DISK_ZERO */
                fail(d, "post-copy: record type %u after the state", rec.type);
                return -EPROTO;
        }
}

static void *pager(void *arg) {
        struct postcopy_dest *d = arg;
        int r = 0;
        while (r == 0 && !READ_ONCE(d->stop)) {
                struct pollfd p[3] = { { .fd = d->uffd, .events = POLLIN },
                                       { .fd = d->sock, .events = POLLIN },
                                       { .fd = d->wake, .events = POLLIN } };
                int n = poll(p, 3, 1000);
                if (n < 0 && errno != EINTR) {
                        r = -errno;
                        fail(d, "post-copy: poll: %s", strerror(errno));
                        break;
                }
                if (READ_ONCE(d->stop))
                        break;
                /* Faults first: a vCPU waits on each. */
                if (n > 0 && p[0].revents & POLLIN && (r = read_faults(d)) < 0) {
                        fail(d, "post-copy: %s", r == -EPIPE || r == -ECONNRESET
                                                           ? "the link to the source failed while asking for a page"
                                                           : strerror(-r));
                        break;
                }
                if (n > 0 && p[1].revents & (POLLIN | POLLHUP | POLLERR))
                        r = on_record(d);
                else if (n == 0 && wait_ms(d) >= 0 && now_ns() - d->last_rx > (uint64_t)d->idle_ms * 1000000u) {
                        r = -ETIMEDOUT;
                        fail(d, "post-copy: nothing from the source for %d ms before its COMMIT, with %llu pages "
                             "still there", d->idle_ms, (unsigned long long)postcopy_dest_missing(d));
                }
        }
        pthread_mutex_lock(&d->lock);
        if (r == 1) {
                d->st.total_ns = now_ns() - d->t0;
                log_info("post-copy: every page is here: %llu came after the switch-over (%llu asked for by faults "
                         "in %llu requests, the longest wait %.2f ms) in %.1f ms",
                         (unsigned long long)d->st.missing_pages, (unsigned long long)d->st.requested_pages,
                         (unsigned long long)d->st.requests, (double)d->st.max_wait_ns / 1e6,
                         (double)d->st.total_ns / 1e6);
        }
        d->ended = true;
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        /* Done: every page is in the memfd, faults cannot come any more.
         * Failed: reached only when on_fatal returned (tests). */
        unregister(d);
        return NULL;
}

void postcopy_dest_prefault(struct postcopy_dest *d, uint64_t offset, uint64_t len) {
        if (!d || !d->started || !postcopy_dest_missing(d) || offset >= d->size)
                return;
        uint64_t end = MIN(d->size, offset + MIN(len, d->size));
        /* Bits only go from missing to present once the pager runs: a
         * stale word costs a needless touch at most. */
        for (uint64_t i = offset / PAGE; i < DIV_ROUND_UP(end, (uint64_t)PAGE); i++)
                if (__atomic_load_n(&d->missing[i / 64], __ATOMIC_RELAXED) >> (i % 64) & 1)
                        (void)*(volatile const uint8_t *)(d->host + i * PAGE);
}

bool postcopy_dest_ended(struct postcopy_dest *d) {
        pthread_mutex_lock(&d->lock);
        bool ended = d->ended;
        pthread_mutex_unlock(&d->lock);
        return ended;
}

int postcopy_dest_start(struct postcopy_dest *d,
                        void (*on_fatal)(void *opaque, const char *why, bool committed), void *opaque, char *err,
                        size_t errlen) {
        d->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        if (d->uffd < 0)
                return errorf(err, errlen, -errno, "userfaultfd: %s", strerror(errno));
        struct uffdio_api api = { .api = UFFD_API };
        if (ioctl(d->uffd, UFFDIO_API, &api) < 0)
                return errorf(err, errlen, -errno, "userfaultfd's API: %s", strerror(errno));
        struct uffdio_register reg = { .range = { .start = (uintptr_t)d->host, .len = d->size },
                                       .mode = UFFDIO_REGISTER_MODE_MISSING };
        if (ioctl(d->uffd, UFFDIO_REGISTER, &reg) < 0)
                return errorf(err, errlen, -errno, "registering guest RAM with userfaultfd: %s", strerror(errno));
        d->registered = true;
        uint64_t need = 1ull << _UFFDIO_COPY | 1ull << _UFFDIO_ZEROPAGE;
        if ((reg.ioctls & need) != need) {
                unregister(d);
                return errorf(err, errlen, -EOPNOTSUPP, "userfaultfd cannot place pages in guest RAM here");
        }
        d->on_fatal = on_fatal, d->opaque = opaque;
        d->t0 = d->last_rx = now_ns();
        d->st.missing_pages = d->n_missing;
        int r = -pthread_create(&d->thread, NULL, pager, d);
        if (r < 0) {
                unregister(d);
                return errorf(err, errlen, r, "starting the post-copy pager: %s", strerror(-r));
        }
        d->started = true;
        return 0;
}

/* timeout_ms from now on the condition variable's clock. */
static struct timespec deadline(int timeout_ms) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000)
                until.tv_sec++, until.tv_nsec -= 1000000000;
        return until;
}

int postcopy_dest_commit(struct postcopy_dest *d, int timeout_ms, char *err, size_t errlen) {
        int r = send_locked(d, MIG_READY, 0, 0);
        if (r < 0)
                return errorf(err, errlen, r, "the source cannot be told that the VM is ready here: %s", strerror(-r));
        struct timespec until = deadline(timeout_ms);
        pthread_mutex_lock(&d->lock);
        r = 0;
        while (d->commit == WAITING && !d->failed && !d->ended && r != ETIMEDOUT)
                r = pthread_cond_timedwait(&d->cond, &d->lock, &until);
        enum commit_state c = d->commit;
        char why[sizeof d->why];
        snprintf(why, sizeof why, "%s", d->why);
        pthread_mutex_unlock(&d->lock);
        if (c == COMMITTED) {
                /* Committed: this copy runs whatever becomes of the
                 * confirmation. */
                (void)send_locked(d, MIG_RUNNING, 0, 0);
                return 0;
        }
        if (c == ABORTED)
                return errorf(err, errlen, -ECANCELED, "%s", why[0] ? why : "the source gave up before committing");
        if (why[0])
                return errorf(err, errlen, -ECONNABORTED, "no COMMIT from the source: %s", why);
        return errorf(err, errlen, -ETIMEDOUT, "no COMMIT from the source: no answer in time");
}

int postcopy_dest_wait(struct postcopy_dest *d, int timeout_ms, char *err, size_t errlen) {
        struct timespec until = deadline(timeout_ms);
        pthread_mutex_lock(&d->lock);
        int r = 0;
        while (d->started && !d->ended && r != ETIMEDOUT)
                r = pthread_cond_timedwait(&d->cond, &d->lock, &until);
        bool ended = d->ended, failed = d->failed;
        char why[sizeof d->why];
        snprintf(why, sizeof why, "%s", d->why);
        pthread_mutex_unlock(&d->lock);
        if (!ended)
                return errorf(err, errlen, -ETIMEDOUT, "post-copy: %llu pages still missing",
                              (unsigned long long)postcopy_dest_missing(d));
        if (failed || postcopy_dest_missing(d))
                return errorf(err, errlen, -EIO, "%s", why[0] ? why : "post-copy: ended with pages missing");
        return 0;
}

void postcopy_dest_stats(struct postcopy_dest *d, struct postcopy_stats *out) {
        pthread_mutex_lock(&d->lock);
        *out = d->st;
        pthread_mutex_unlock(&d->lock);
}

void postcopy_dest_free(struct postcopy_dest *d) {
        if (!d)
                return;
        if (d->started) {
                pthread_mutex_lock(&d->lock);
                d->stop = true;
                pthread_mutex_unlock(&d->lock);
                uint64_t one = 1;
                (void)!write(d->wake, &one, sizeof one);
                /* A send to the source waits without limit once committed:
                 * it fails now. */
                (void)shutdown(d->sock, SHUT_RDWR);
                pthread_join(d->thread, NULL);
        }
        unregister(d);
        safe_close(d->uffd);
        safe_close(d->sock);
        safe_close(d->wake);
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->lock);
        pthread_mutex_destroy(&d->send_lock);
        free(d->missing), free(d->requested), free(d->buf);
        free(d);
}
