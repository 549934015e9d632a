/* SPDX-License-Identifier: MIT */
/* Post-copy's two ends without KVM, for test-postcopy.c and
 * test-postcopy-script.c: "guest RAM" a shared mapping of a memfd on each
 * side with the source's pattern and the pages the destination misses,
 * the source and the destination (its pager on real userfaultfd faults)
 * on threads of their own, and guest threads that read and write the
 * destination's RAM. */
#pragma once

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/migcommit.h"
#include "common/migstream.h"
#include "common/test.h"
#include "common/vmstate.h"
#include "relay-link.h"
#include "vmwp/postcopy.h"

#define PAGE 4096u
#define PAGES 2048u /* 8 MiB */
#define RAM ((uint64_t)PAGES * PAGE)

static int last_memfd = -1; /* of the last map_ram(), for a second mapping */

static inline uint8_t *map_ram(void) {
        int fd = memfd_create("test-postcopy", MFD_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(ftruncate(fd, (off_t)RAM));
        uint8_t *p = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ASSERT_TRUE(p != MAP_FAILED);
        if (last_memfd >= 0)
                close(last_memfd);
        last_memfd = fd;
        return p;
}

/* The source's content: every 7th page zero, the others a pattern of the
 * page's number. */
static inline bool zero_page(uint64_t i) {
        return i % 7 == 3;
}
static inline uint8_t pattern(uint64_t i, uint64_t byte) {
        return (uint8_t)(i * 131 + byte * 7 + 1) | 1;
}
static inline void fill_source(uint8_t *ram) {
        for (uint64_t i = 0; i < PAGES; i++)
                if (!zero_page(i))
                        for (uint64_t b = 0; b < PAGE; b++)
                                ram[i * PAGE + b] = pattern(i, b);
}
static inline bool is_missing(uint64_t i) { /* a third of the pages, some of them zero */
        return (i * 2654435761u >> 7) % 3 == 0;
}

/* What pre-copy left here: the source's pages, a stale version of the
 * missing ones, nothing (a hole) where the source has zeros. */
static inline void fill_destination(uint8_t *ram) {
        for (uint64_t i = 0; i < PAGES; i++) {
                if (is_missing(i))
                        memset(ram + i * PAGE, 0xee, PAGE);
                else if (!zero_page(i))
                        for (uint64_t b = 0; b < PAGE; b++)
                                ram[i * PAGE + b] = pattern(i, b);
        }
}

static inline void missing_bitmap(uint64_t *bm) {
        memset(bm, 0, PAGES / 8);
        for (uint64_t i = 0; i < PAGES; i++)
                if (is_missing(i))
                        bm[i / 64] |= 1ull << (i % 64);
}

static inline bool page_is_source(const uint8_t *ram, uint64_t i) {
        for (uint64_t b = 0; b < PAGE; b++)
                if (ram[i * PAGE + b] != (zero_page(i) ? 0 : pattern(i, b)))
                        return false;
        return true;
}


/* ---- the two ends ---- */

struct source {
        int fd;
        uint8_t *ram;
        uint64_t missing[PAGES / 64];
        int r;
        bool committed;
        char err[512];
        struct postcopy_stats st;
        pthread_t t;
        struct postcopy_serve_hooks hooks;
        /* its progress reports: how many, the first one committed, the last */
        unsigned reports;
        uint64_t first_committed_left, last_left;
        bool any_committed;
        unsigned runnings; /* the running hook's calls */
        bool running_after_commit;
};

static inline void on_progress(void *opaque, uint64_t left, const struct postcopy_stats *st, bool committed) {
        struct source *s = opaque;
        s->reports++;
        if (committed && !s->any_committed)
                s->first_committed_left = left;
        s->any_committed |= committed;
        ASSERT_TRUE(left <= st->missing_pages);
        s->last_left = left;
}

static inline void on_running(void *opaque) {
        struct source *s = opaque;
        s->runnings++;
        s->running_after_commit = s->any_committed;
}

static inline void *source_main(void *arg) {
        struct source *s = arg;
        missing_bitmap(s->missing);
        s->r = postcopy_send_bitmap(s->fd, s->missing, RAM, 5000, s->err, sizeof s->err);
        if (s->r >= 0)
                s->r = mig_send_record(s->fd, MIG_STATE, NULL, 5000); /* stands for the state */
        if (s->r >= 0)
                s->r = postcopy_serve(s->fd, s->ram, RAM, s->missing, 5000, &s->hooks, &s->committed, &s->st,
                                      s->err, sizeof s->err);
        return NULL;
}

struct dest {
        uint32_t idle_ms; /* the source's silence before the COMMIT; 0: the default */
        uint64_t marked;  /* pages missing once the bitmap was in, before the pager started */
        uint8_t *ram;
        struct postcopy_dest *d;
        atomic_int fatal;
        bool fatal_committed;
        char fatal_why[512];
};

static inline void on_fatal(void *opaque, const char *why, bool committed) {
        struct dest *t = opaque;
        t->fatal_committed = committed;
        snprintf(t->fatal_why, sizeof t->fatal_why, "%s", why);
        atomic_store(&t->fatal, 1);
}

/* What vmwp's receive does before the state: the POSTCOPY records into the
 * pager's bitmap, up to STATE. */
/* len bytes whole (through a relay they come in pieces). */
static inline ssize_t read_exact(int fd, void *buf, size_t len) {
        size_t have = 0;
        while (have < len) {
                ssize_t n = read(fd, (uint8_t *)buf + have, len - have);
                if (n <= 0)
                        return n;
                have += (size_t)n;
        }
        return (ssize_t)have;
}

static inline void receive_bitmap(struct dest *t, int fd) {
        char err[256] = "";
        for (;;) {
                uint8_t hdr[MIG_RECORD_HEADER];
                struct mig_record rec;
                ASSERT_EQ(read_exact(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
                ASSERT_OK(mig_record_parse(hdr, RAM, true, &rec, err, sizeof err));
                if (rec.type == MIG_STATE)
                        return;
                ASSERT_EQ(rec.type, (uint32_t)MIG_POSTCOPY);
                uint64_t pl = mig_record_payload(&rec);
                uint8_t *bm = malloc(pl);
                ASSERT_EQ(read_exact(fd, bm, pl), (ssize_t)pl);
                ASSERT_EQ(vmstate_crc32c(0, bm, pl), rec.payload_crc);
                ASSERT_OK(postcopy_dest_mark(t->d, rec.addr, rec.length, bm, err, sizeof err));
                free(bm);
        }
}

static inline void start_dest(struct dest *t, int fd) {
        char err[256] = "";
        t->ram = map_ram();
        fill_destination(t->ram);
        ASSERT_OK(postcopy_dest_new(t->ram, RAM, fd, t->idle_ms, &t->d, err, sizeof err));
        receive_bitmap(t, fd);
        t->marked = postcopy_dest_missing(t->d); /* before the pager places any (the source pushes at once) */
        ASSERT_OK(postcopy_dest_start(t->d, on_fatal, t, err, sizeof err));
}

/* ---- guest threads ---- */

struct toucher {
        struct dest *t;
        unsigned seed;
        bool write;
        uint64_t bad_page;
        bool bad;
        pthread_t th;
};

#define WRITE_MARK 0x5a

static inline void *toucher_main(void *arg) {
        struct toucher *g = arg;
        unsigned s = g->seed;
        for (int k = 0; k < 300; k++) {
                s = s * 1103515245u + 12345u;
                uint64_t i = (s >> 8) % PAGES;
                /* Writers write the first byte of pages with i % 4 < 2;
                 * readers check the others. */
                if (g->write && i % 4 < 2) {
                        volatile uint8_t *p = g->t->ram + i * PAGE;
                        *p = WRITE_MARK;
                        continue;
                }
                if (i % 4 == 0 || i % 4 == 1) /* pages writers may own */
                        continue;
                if (!page_is_source(g->t->ram, i)) {
                        g->bad = true, g->bad_page = i;
                        return NULL;
                }
        }
        return NULL;
}

/* Was page i written by a writer (first byte WRITE_MARK, rest the source's)? */
static inline bool page_is_written(const uint8_t *ram, uint64_t i) {
        if (ram[i * PAGE] != WRITE_MARK)
                return false;
        for (uint64_t b = 1; b < PAGE; b++)
                if (ram[i * PAGE + b] != (zero_page(i) ? 0 : pattern(i, b)))
                        return false;
        return true;
}

/* The guest threads end, each having seen only the source's pages or its
 * own writes; every page arrives; the source ends well, committed. */
static inline void guests_and_source_end(struct toucher *g, unsigned n, struct dest *t, struct source *s) {
        char err[512] = "";
        for (unsigned i = 0; i < n; i++) {
                pthread_join(g[i].th, NULL);
                if (g[i].bad)
                        fprintf(stderr, "page %llu (missing %d, zero %d) is not the source's: byte 0 %02x, 1 %02x, 4095 %02x\n",
                                (unsigned long long)g[i].bad_page, is_missing(g[i].bad_page), zero_page(g[i].bad_page),
                                t->ram[g[i].bad_page * PAGE], t->ram[g[i].bad_page * PAGE + 1],
                                t->ram[g[i].bad_page * PAGE + 4095]);
                ASSERT_FALSE(g[i].bad);
        }
        ASSERT_OK(postcopy_dest_wait(t->d, 10000, err, sizeof err));
        pthread_join(s->t, NULL);
        if (s->r < 0)
                fprintf(stderr, "source: %s\n", s->err);
        ASSERT_OK(s->r);
        ASSERT_TRUE(s->committed);
}
