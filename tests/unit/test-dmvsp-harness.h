/* SPDX-License-Identifier: MIT */
/* Dynamic Memory (vsp/dm) against a simulated guest doing what Linux
 * 6.1's hv_balloon does on the wire, for test-dmvsp.c and
 * test-dmvsp-state.c: the owner (vmwp's side: guest RAM as a memfd whose
 * given-up pages are punched, hot-add, the overlay pages) and the guest's
 * messages. */
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/test.h"
#include "dmvsp/dmvsp.h"
#include "hv/dm.h"
#include "hv/vmbus.h"
#include "tests/lib/vmstate-file.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#define RAM_BYTES (64u << 20)
#define RAM_PAGES (RAM_BYTES / 4096u)
#define WINDOW_PFN 0x100000ull /* 4 GiB */
#define WINDOW_PAGES (4u * DM_HOT_ADD_BLOCK_PAGES) /* 512 MiB */
/* The guest balloons from here up (the sim's own pages sit at the bottom). */
#define FREE_PFN (RAM_PAGES / 2)

struct owner {
        pthread_mutex_t lock;
        int memfd;
        uint64_t released, release_calls, changes;
        uint64_t hot_add_pfn, hot_add_pages, hot_add_calls;
        int hot_add_result;
        uint64_t overlays[4]; /* the guest's hypercall and SynIC pages (hvshim's) */
        size_t n_overlays;
};

struct env {
        int memfd;
        uint8_t *ram;
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct dmvsp *dm;
        struct owner o;
        struct vmbus_sim_channel ch;
        uint32_t trans;
        uint32_t relid, connection_id; /* the offer, once seen */
};

static inline void on_release(void *opaque, uint64_t pfn, uint64_t n) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->released += n;
        o->release_calls++;
        pthread_mutex_unlock(&o->lock);
        if (pfn + n <= RAM_PAGES)
                ASSERT_OK(fallocate(o->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(pfn * 4096),
                                    (off_t)(n * 4096)));
}

static inline int on_hot_add(void *opaque, uint64_t pfn, uint64_t n) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->hot_add_calls++;
        o->hot_add_pfn = pfn;
        o->hot_add_pages = n;
        int r = o->hot_add_result;
        pthread_mutex_unlock(&o->lock);
        return r;
}

static inline void on_changed(void *opaque) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        o->changes++;
        pthread_mutex_unlock(&o->lock);
}

static inline size_t on_overlays(void *opaque, uint64_t *pfns, size_t max) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        size_t n = o->n_overlays;
        memcpy(pfns, o->overlays, MIN(n, max) * sizeof *pfns);
        pthread_mutex_unlock(&o->lock);
        return n;
}

static const struct dmvsp_owner_ops owner_ops = { .release = on_release, .hot_add = on_hot_add,
                                                   .changed = on_changed, .overlays = on_overlays };

static inline uint64_t owner_get(struct env *e, const uint64_t *field) {
        pthread_mutex_lock(&e->o.lock);
        uint64_t v = *field;
        pthread_mutex_unlock(&e->o.lock);
        return v;
}

static inline struct dmvsp_config config(uint32_t timeout_ms) {
        return (struct dmvsp_config){
                .boot = { { 0, RAM_PAGES } }, .n_boot = 1,
                .hot_add_pfn = WINDOW_PFN, .hot_add_pages = WINDOW_PAGES,
                .min_pages = 1024, .status_interval_ms = 100, .request_timeout_ms = timeout_ms,
        };
}

static inline void build(struct env *e, uint32_t timeout_ms) {
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e->sim, &e->srv));
        struct dmvsp_config c = config(timeout_ms);
        ASSERT_OK(dmvsp_new(e->srv, &c, &owner_ops, &e->o, &e->dm));
}

static inline void env_init(struct env *e, uint32_t timeout_ms) {
        *e = (struct env){ 0 };
        e->memfd = memfd_create("dm-test-ram", MFD_CLOEXEC);
        ASSERT_GE(e->memfd, 0);
        ASSERT_OK(ftruncate(e->memfd, RAM_BYTES));
        e->ram = mmap(NULL, RAM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, e->memfd, 0);
        ASSERT_TRUE(e->ram != MAP_FAILED);
        pthread_mutex_init(&e->o.lock, NULL);
        e->o.memfd = e->memfd;
        ASSERT_OK(vmbus_sim_new_external(e->memfd, e->ram, RAM_BYTES, 1, &e->sim));
        build(e, timeout_ms);
        ASSERT_EQ(vmbus_sim_connect(e->sim, VERSION_WIN10_V5_3), 1);
}

static inline void env_free(struct env *e) {
        vmbus_server_free(e->srv);
        dmvsp_free(e->dm);
        ASSERT_EQ(vmbus_sim_live_mappings(e->sim), 0u);
        vmbus_sim_free(e->sim);
        munmap(e->ram, RAM_BYTES);
        close(e->memfd);
}

static inline void open_channel(struct env *e) {
        if (!e->relid) {
                struct vmbus_channel_offer_channel offers[8];
                int n = vmbus_sim_request_offers(e->sim, offers, 8);
                ASSERT_EQ(n, 1);
                static const uint8_t cls[16] = HV_DM_GUID;
                ASSERT_EQ(memcmp(offers[0].if_type, cls, 16), 0);
                e->relid = offers[0].child_relid;
                e->connection_id = offers[0].connection_id;
        }
        ASSERT_EQ(vmbus_sim_open(e->sim, e->relid, e->connection_id, 5, NULL, 0, &e->ch), 0);
}

/* ---- the guest's side ---- */

static inline void g_send(struct env *e, const void *msg, size_t len) {
        ASSERT_OK(vmbus_sim_ring_write(e->sim, &e->ch, VM_PKT_DATA_INBAND, 0, 0, msg, len));
}

static inline struct dm_header hdr(struct env *e, uint16_t type, size_t size) {
        return (struct dm_header){ .type = type, .size = (uint16_t)size, .trans_id = ++e->trans };
}

/* The next host message; its type must be type. Returns its length. */
static inline size_t g_recv(struct env *e, uint16_t type, uint8_t *buf, size_t cap) {
        uint8_t pkt[DM_MESSAGE_MAX + 64];
        struct vmbus_packet p;
        int r = vmbus_sim_ring_wait(e->sim, &e->ch, pkt, sizeof pkt, &p, 5000);
        ASSERT_GT(r, 0);
        ASSERT_EQ(p.type, VM_PKT_DATA_INBAND);
        size_t n = vmbus_packet_payload_len(&p);
        ASSERT_LE(n, (size_t)DM_MESSAGE_MAX);
        ASSERT_LE(n, cap);
        memcpy(buf, vmbus_packet_payload(&p), n);
        struct dm_header h;
        memcpy(&h, buf, sizeof h);
        ASSERT_EQ(h.type, type);
        ASSERT_LE(h.size, n);
        return h.size;
}

static inline void g_nothing(struct env *e, int ms) {
        uint8_t pkt[DM_MESSAGE_MAX + 64];
        struct vmbus_packet p;
        ASSERT_EQ(vmbus_sim_ring_wait(e->sim, &e->ch, pkt, sizeof pkt, &p, ms), -ETIMEDOUT);
}

static inline bool g_version(struct env *e, uint32_t version) {
        struct dm_version_request v = { .hdr = hdr(e, DM_VERSION_REQUEST, sizeof v), .version = version };
        g_send(e, &v, sizeof v);
        struct dm_version_response r;
        g_recv(e, DM_VERSION_RESPONSE, (uint8_t *)&r, sizeof r);
        return r.flags & 1u;
}

static inline void g_caps(struct env *e, uint64_t caps, bool expect_info) {
        struct dm_capabilities c = { .hdr = hdr(e, DM_CAPABILITIES_REPORT, sizeof c), .caps = caps,
                                     .max_page_number = UINT64_MAX };
        g_send(e, &c, sizeof c);
        struct dm_capabilities_response r;
        g_recv(e, DM_CAPABILITIES_RESPONSE, (uint8_t *)&r, sizeof r);
        ASSERT_EQ(r.flags & 1u, 1u);
        if (!expect_info)
                return;
        uint8_t buf[64];
        size_t n = g_recv(e, DM_INFO_MESSAGE, buf, sizeof buf);
        ASSERT_EQ(n, sizeof(struct dm_info_msg) + sizeof(struct dm_info_header) + 8u);
        struct dm_info_header ih;
        memcpy(&ih, buf + sizeof(struct dm_info_msg), sizeof ih);
        ASSERT_EQ(ih.type, DM_INFO_TYPE_MAX_PAGE_CNT);
        ASSERT_EQ(ih.data_size, 8u);
        ASSERT_EQ(vmstate_le64(buf + sizeof(struct dm_info_msg) + sizeof ih), (uint64_t)RAM_PAGES + WINDOW_PAGES);
}

#define LINUX_CAPS (DM_CAP_BALLOON | DM_CAP_HOT_ADD | (7ull << 2))

static inline void connect_linux(struct env *e) {
        open_channel(e);
        ASSERT_TRUE(g_version(e, DM_VERSION_WIN10));
        g_caps(e, LINUX_CAPS, true);
}

static inline void g_status(struct env *e, uint64_t avail, uint64_t committed) {
        struct dm_status s = { .hdr = hdr(e, DM_STATUS_REPORT, sizeof s), .num_avail = avail,
                               .num_committed = committed };
        g_send(e, &s, sizeof s);
}

/* A BALLOON_RESPONSE with n ranges. */
static inline void g_balloon_response(struct env *e, const uint64_t *ranges, uint32_t n, bool more) {
        uint8_t buf[DM_MESSAGE_MAX];
        struct dm_balloon_response r = { .hdr = hdr(e, DM_BALLOON_RESPONSE, sizeof r + 8u * n),
                                         .flags = (more ? DM_MORE_PAGES : 0u) | n << 1 };
        memcpy(buf, &r, sizeof r);
        for (uint32_t i = 0; i < n; i++)
                vmstate_put_le64(buf + sizeof r + 8u * i, ranges[i]);
        g_send(e, buf, sizeof r + 8u * n);
}

/* What Linux's balloon_up does for a request: 2 MiB blocks from the free
 * area, at most `per_msg` ranges in each response. The next block to give
 * is *next. Returns the pages given. */
static inline uint64_t g_balloon_up(struct env *e, uint32_t want, uint32_t give, uint32_t per_msg, uint64_t *next) {
        struct dm_balloon b;
        g_recv(e, DM_BALLOON_REQUEST, (uint8_t *)&b, sizeof b);
        ASSERT_EQ(b.num_pages, want);
        uint64_t ranges[DM_RANGES_PER_MESSAGE];
        uint32_t blocks = give / DM_BALLOON_UNIT_PAGES, sent = 0;
        do {
                uint32_t n = MIN(per_msg, blocks - sent);
                for (uint32_t i = 0; i < n; i++, *next += DM_BALLOON_UNIT_PAGES)
                        ranges[i] = DM_RANGE(*next, DM_BALLOON_UNIT_PAGES);
                sent += n;
                g_balloon_response(e, ranges, n, sent < blocks);
        } while (sent < blocks);
        return (uint64_t)blocks * DM_BALLOON_UNIT_PAGES;
}

static inline struct dmvsp_status status(struct env *e) {
        struct dmvsp_status s;
        dmvsp_get_status(e->dm, &s);
        return s;
}

static inline struct dmvsp_stats stats(struct env *e) {
        struct dmvsp_stats s;
        dmvsp_get_stats(e->dm, &s);
        return s;
}

static inline uint64_t memfd_blocks(int fd) {
        struct stat st;
        ASSERT_OK(fstat(fd, &st));
        return (uint64_t)st.st_blocks;
}


/* The next host message is a balloon request for `want` pages. */
static inline void g_balloon_asked(struct env *e, uint32_t want) {
        struct dm_balloon b;
        g_recv(e, DM_BALLOON_REQUEST, (uint8_t *)&b, sizeof b);
        ASSERT_EQ(b.num_pages, want);
}

/* A connected Linux guest asked to balloon `want` pages toward target. */
static inline void balloon_asked(struct env *e, uint32_t timeout_ms, uint64_t target, uint32_t want) {
        env_init(e, timeout_ms);
        connect_linux(e);
        dmvsp_set_target(e->dm, target);
        g_balloon_asked(e, want);
}
