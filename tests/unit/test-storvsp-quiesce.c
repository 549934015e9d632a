// SPDX-License-Identifier: MIT
/* storvsp's quiesce and resume (storvsp/provider.h; docs/vm-state.md, "What
 * consistent means") through real rings, with a simulated guest thread that
 * keeps a stream of reads, writes, FUA writes and flushes going, more of
 * them issued than the device has request slots:
 *
 *  - after a quiesce not one byte of guest RAM the host may write changes
 *    and no interrupt comes, for 50 ms in which the guest keeps queueing
 *    requests and ringing the doorbell; the quiesce returns promptly all
 *    the same (bounded by the I/O in flight);
 *  - after the resume every request gets exactly one completion, with the
 *    right data, and the completions a quiesce held (as enumerated while
 *    quiesced) reach the guest first and in order;
 *  - a hundred quiesce/resume cycles in a row under load;
 *  - an idle device, one whose channel is not open, a channel opened and
 *    one closed while the device is quiesced. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>

#include "common/log.h"
#include "common/vmstate.h"
#include "tests/lib/vmstate-file.h"
#include "tests/unit/test-storvsp-harness.h"
#include "vmbus/server.h"
#include <sys/mman.h>

#define RAM_BYTES (64u << 20)
#define DEPTH 32u       /* storvsp's request slots */
#define OUTSTANDING 48u /* the guest keeps this many issued: the rest wait in the ring */
#define IO_BYTES (64u << 10)
#define IO_PAGES (IO_BYTES / 4096u)
#define IO_BLOCKS (IO_BYTES / 512u)
#define CHUNKS 64u /* the write region, then the read region: CHUNKS * IO_BYTES each */
#define DISK_BYTES (2u * CHUNKS * IO_BYTES)
#define MAX_REQS (1u << 20)
#define QUIESCE_MAX_US 2000000u /* far above the I/O in flight here; a quiesce that waits for the guest never returns */

static const char *dir;

enum kind { K_READ, K_WRITE, K_WRITE_FUA, K_FLUSH };

struct req {
        uint8_t kind, buf; /* buf: K_READ's read buffer */
        uint8_t chunk, completions;
};

struct rig {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct storvsp_device *sd;
        struct vmbus_channel_offer_channel offer;
        struct vmbus_sim_channel ch;
        char image[320];
        uint64_t wr_gpa[CHUNKS], rd_gpa[OUTSTANDING]; /* a write buffer per chunk, a read buffer per request */
        uint8_t *rd_host[OUTSTANDING];
        bool rd_busy[OUTSTANDING], written[CHUNKS];
        pthread_t thread;
        atomic_bool stop;
        atomic_int hold; /* 1: asked to change nothing but its ring; 2: doing so */
        struct req *reqs; /* by trans_id - 1 */
        _Atomic uint64_t issued, n_log, doorbells;
        uint64_t outstanding;
        uint64_t *log; /* trans_ids in the order their completions arrived */
};

static uint64_t now(void) {
        return now_us(CLOCK_MONOTONIC);
}

static uint64_t pattern(unsigned region, unsigned chunk, unsigned k) {
        return (uint64_t)(region + 1) << 56 | (uint64_t)chunk << 32 | k;
}

static void fill(void *buf, unsigned region, unsigned chunk) {
        for (unsigned k = 0; k < IO_BYTES / 8; k++) {
                uint64_t w = pattern(region, chunk, k);
                memcpy((uint8_t *)buf + 8 * k, &w, 8);
        }
}

static bool holds(const void *buf, unsigned region, unsigned chunk) {
        for (unsigned k = 0; k < IO_BYTES / 8; k++) {
                uint64_t w;
                memcpy(&w, (const uint8_t *)buf + 8 * k, 8);
                if (w != pattern(region, chunk, k))
                        return false;
        }
        return true;
}

/* A device with one LUN whose read region holds pattern 1 (and the write
 * region zeros), offered, opened and past the handshake. */
static void rig_up_polling(struct rig *r, unsigned poll_us) {
        memset(r, 0, sizeof *r);
        ASSERT_OK(vmbus_sim_new(RAM_BYTES, 2, &r->sim));
        struct vmbus_server_config cfg = { .vp_count = 2 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, r->sim, &r->srv));
        struct storvsp_device_config dc = { .controller = { .queue_depth = DEPTH },
                                            .gm = { sth_map, r->sim },
                                            .poll_us = poll_us };
        ASSERT_OK(storvsp_device_new(&dc, &r->sd));
        struct disk *d = sth_disk(dir, "quiesce.img", DISK_BYTES);
        snprintf(r->image, sizeof r->image, "%s/quiesce.img", dir);
        int fd = open(r->image, O_WRONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        static uint8_t chunk[IO_BYTES];
        for (unsigned c = 0; c < CHUNKS; c++) {
                fill(chunk, 1, c);
                ASSERT_EQ(pwrite(fd, chunk, IO_BYTES, (off_t)(CHUNKS + c) * IO_BYTES), (ssize_t)IO_BYTES);
        }
        ASSERT_EQ(fsync(fd), 0);
        close(fd);
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(r->sd), 0, d, NULL));
        disk_unref(d);
        struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .data = r->sd };
        ASSERT_OK(vmbus_server_add_device(r->srv, &vc, NULL));
        ASSERT_EQ(vmbus_sim_connect(r->sim, VERSION_WIN10_V5_3), 1);
        ASSERT_EQ(vmbus_sim_request_offers(r->sim, &r->offer, 1), 1);
        sth_open(r->sim, &r->offer, &r->ch);
        sth_handshake(r->sim, &r->ch);
        uint8_t *host;
        for (unsigned c = 0; c < CHUNKS; c++) {
                r->wr_gpa[c] = sth_guest_buffer(r->sim, IO_PAGES, &host);
                fill(host, 0, c);
        }
        for (unsigned b = 0; b < OUTSTANDING; b++) {
                r->rd_gpa[b] = sth_guest_buffer(r->sim, IO_PAGES, &r->rd_host[b]);
                memset(r->rd_host[b], 0xee, IO_BYTES);
        }
        r->reqs = calloc(MAX_REQS, sizeof *r->reqs);
        r->log = calloc(MAX_REQS, sizeof *r->log);
        ASSERT_TRUE(r->reqs && r->log);
}

static void rig_up(struct rig *r) {
        rig_up_polling(r, 0);
}

static void rig_down(struct rig *r) {
        vmbus_server_free(r->srv); /* closes the channel, destroys the device */
        ASSERT_EQ(vmbus_sim_live_mappings(r->sim), 0u);
        vmbus_sim_free(r->sim);
        free(r->reqs);
        free(r->log);
}

/* ---- the guest ---------------------------------------------------------- */

static int free_read_buffer(const struct rig *r) {
        for (unsigned b = 0; b < OUTSTANDING; b++)
                if (!r->rd_busy[b])
                        return (int)b;
        return -1;
}

/* Queues the next request: half reads (while a read buffer is free), the
 * rest writes (one in three FUA) and flushes. Read buffers are poisoned
 * when they are freed, so issuing changes nothing but the ring. 0, or
 * -EAGAIN with the ring full. */
static int issue(struct rig *r) {
        uint64_t id = atomic_load(&r->issued) + 1;
        if (id > MAX_REQS)
                return -ENOSPC;
        struct req q = { .kind = id % 8 < 4 ? K_READ : id % 8 < 6 ? K_WRITE : id % 8 < 7 ? K_WRITE_FUA : K_FLUSH,
                         .chunk = (uint8_t)(id * 7 % CHUNKS) };
        int b = q.kind == K_READ ? free_read_buffer(r) : -1;
        if (q.kind == K_READ && b < 0)
                q.kind = K_WRITE;
        uint8_t cdb[10] = { 0x2a }; /* WRITE(10) */
        uint32_t lba = q.chunk * IO_BLOCKS, len = IO_BYTES;
        uint64_t gpa = r->wr_gpa[q.chunk];
        uint8_t dir_in = WRITE_TYPE;
        if (q.kind == K_READ) {
                q.buf = (uint8_t)b;
                cdb[0] = 0x28; /* READ(10) */
                lba += CHUNKS * IO_BLOCKS;
                gpa = r->rd_gpa[b];
                dir_in = READ_TYPE;
        } else if (q.kind == K_WRITE_FUA) {
                cdb[1] = 0x08;
        } else if (q.kind == K_FLUSH) {
                cdb[0] = 0x35; /* SYNCHRONIZE CACHE(10) */
                lba = len = 0;
                gpa = 0;
                dir_in = UNKNOWN_TYPE;
        }
        cdb[2] = (uint8_t)(lba >> 24);
        cdb[3] = (uint8_t)(lba >> 16);
        cdb[4] = (uint8_t)(lba >> 8);
        cdb[5] = (uint8_t)lba;
        cdb[7] = (uint8_t)((len / 512) >> 8);
        cdb[8] = (uint8_t)(len / 512);
        int k = sth_srb_write(r->sim, &r->ch, id, cdb, sizeof cdb, dir_in, gpa, len, true);
        if (k < 0)
                return k;
        r->reqs[id - 1] = q;
        if (q.kind == K_READ)
                r->rd_busy[b] = true;
        else if (q.kind != K_FLUSH)
                r->written[q.chunk] = true;
        r->outstanding++;
        atomic_store(&r->issued, id);
        return 0;
}

/* One completion: a request the guest issued, completed once, successfully,
 * a read with its chunk's data. */
static void complete(struct rig *r, const struct vmbus_packet *p) {
        ASSERT_EQ(p->type, VM_PKT_COMP);
        ASSERT_GE(p->trans_id, 1ull);
        ASSERT_LE(p->trans_id, atomic_load(&r->issued));
        struct req *q = &r->reqs[p->trans_id - 1];
        ASSERT_EQ(q->completions, 0u);
        q->completions++;
        struct vstor_packet v;
        ASSERT_EQ(vmbus_packet_payload_len(p), (uint32_t)sizeof v);
        memcpy(&v, vmbus_packet_payload(p), sizeof v);
        ASSERT_EQ(v.operation, (uint32_t)VSTOR_OPERATION_COMPLETE_IO);
        ASSERT_EQ(v.status, 0u);
        ASSERT_EQ(v.vm_srb.srb_status, SRB_STATUS_SUCCESS);
        if (q->kind == K_READ) {
                ASSERT_EQ(v.vm_srb.data_transfer_length, IO_BYTES);
                ASSERT_TRUE(holds(r->rd_host[q->buf], 1, q->chunk));
                memset(r->rd_host[q->buf], 0xee, IO_BYTES); /* the next read's data must come from the disk */
                r->rd_busy[q->buf] = false;
        }
        r->log[atomic_load(&r->n_log)] = p->trans_id;
        atomic_fetch_add(&r->n_log, 1);
        r->outstanding--;
}

static void wait_for_host(struct vmbus_sim *sim) {
        struct pollfd pfd = { .fd = vmbus_sim_event_fd(sim), .events = POLLIN };
        if (poll(&pfd, 1, 1) > 0) {
                eventfd_t v;
                (void)eventfd_read(pfd.fd, &v);
        }
}

/* Reads and checks completions, keeps OUTSTANDING requests issued; held,
 * reads nothing and touches nothing but its outbound ring, queueing
 * requests until the ring is full and ringing the doorbell whatever the
 * host's interrupt mask says (a guest may). After stop, collects what is
 * left. */
static void *guest(void *arg) {
        struct rig *r = arg;
        uint8_t buf[256];
        uint64_t progress = now();
        while (!atomic_load(&r->stop) || r->outstanding > 0) {
                int one = 1;
                (void)atomic_compare_exchange_strong(&r->hold, &one, 2);
                bool held = atomic_load(&r->hold) != 0, busy = false;
                struct vmbus_packet p;
                int n = 0;
                while (!held && (n = vmbus_sim_ring_read(r->sim, &r->ch, buf, sizeof buf, &p)) > 0) {
                        complete(r, &p);
                        busy = true;
                }
                ASSERT_GE(n, 0);
                while (!atomic_load(&r->stop) && (held || r->outstanding < OUTSTANDING) && issue(r) == 0)
                        busy = true;
                if (held) {
                        (void)vmbus_sim_signal(r->sim, r->ch.connection_id);
                        atomic_fetch_add(&r->doorbells, 1);
                        usleep(200);
                } else if (!busy) {
                        wait_for_host(r->sim);
                }
                if (busy || held)
                        progress = now();
                else if (now() - progress > 10u * 1000 * 1000) {
                        fprintf(stderr, "%llu requests never completed\n", (unsigned long long)r->outstanding);
                        ASSERT_EQ(r->outstanding, 0ull);
                }
        }
        return NULL;
}

static void guest_start(struct rig *r) {
        ASSERT_EQ(pthread_create(&r->thread, NULL, guest, r), 0);
}

static void wait_completions(struct rig *r, uint64_t more) {
        uint64_t want = atomic_load(&r->n_log) + more;
        for (int t = 0; t < STH_WAIT_MS && atomic_load(&r->n_log) < want; t++)
                usleep(1000);
        ASSERT_GE(atomic_load(&r->n_log), want);
}

static void hold_guest(struct rig *r) {
        atomic_store(&r->hold, 1);
        for (int t = 0; t < STH_WAIT_MS && atomic_load(&r->hold) != 2; t++)
                usleep(1000);
        ASSERT_EQ(atomic_load(&r->hold), 2);
}

static void release_guest(struct rig *r) {
        atomic_store(&r->hold, 0);
}

/* Stops issuing, waits for every completion, checks that each request had
 * exactly one and that the image holds what was written. */
static void guest_finish(struct rig *r) {
        atomic_store(&r->stop, true);
        ASSERT_EQ(pthread_join(r->thread, NULL), 0);
        uint64_t n = atomic_load(&r->issued);
        ASSERT_EQ(atomic_load(&r->n_log), n);
        for (uint64_t i = 0; i < n; i++)
                ASSERT_EQ(r->reqs[i].completions, 1u);
        int fd = open(r->image, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        static uint8_t chunk[IO_BYTES];
        for (unsigned c = 0; c < CHUNKS; c++) {
                ASSERT_EQ(pread(fd, chunk, IO_BYTES, (off_t)c * IO_BYTES), (ssize_t)IO_BYTES);
                if (r->written[c])
                        ASSERT_TRUE(holds(chunk, 0, c));
                else
                        ASSERT_TRUE(mem_is_zero(chunk, IO_BYTES));
        }
        close(fd);
}

static double quiesce_timed(struct rig *r) {
        uint64_t t0 = now();
        ASSERT_OK(storvsp_device_quiesce(r->sd));
        uint64_t us = now() - t0;
        ASSERT_LT(us, (uint64_t)QUIESCE_MAX_US);
        ASSERT_TRUE(storvsp_device_is_quiesced(r->sd));
        return (double)us;
}

static uint64_t held_total(struct rig *r) {
        struct storvsp_device_stats s;
        storvsp_device_get_stats(r->sd, &s);
        return s.held;
}

/* ---- guest RAM, frozen -------------------------------------------------- */

/* Pages of guest RAM that only the guest writes while held: its outbound
 * ring's data (2) and header (1: its write_index, the first 4 bytes). The
 * host writes that header's read_index and interrupt_mask, which count. */
static uint8_t *guest_owned(const struct rig *r) {
        uint8_t *own = calloc(RAM_BYTES / 4096, 1);
        ASSERT_NOT_NULL(own);
        own[r->ch.out.pfns[0]] = 1;
        for (unsigned i = 1; i < r->ch.out.n_pages; i++)
                own[r->ch.out.pfns[i]] = 2;
        return own;
}

/* The read buffers first: a read still in flight lands there soon. */
static void freeze(const struct rig *r, const uint8_t *own, uint8_t *copy) {
        const uint8_t *ram = vmbus_sim_ram(r->sim);
        for (unsigned b = 0; b < OUTSTANDING; b++)
                memcpy(copy + r->rd_gpa[b], r->rd_host[b], IO_BYTES);
        for (size_t pfn = 0; pfn < RAM_BYTES / 4096; pfn++) {
                size_t skip = own[pfn] == 2 ? 4096 : own[pfn] == 1 ? 4 : 0;
                memcpy(copy + pfn * 4096 + skip, ram + pfn * 4096 + skip, 4096 - skip);
        }
}

static const char *page_name(const struct rig *r, size_t pfn) {
        if (pfn == r->ch.in.pfns[0])
                return "the inbound ring's header";
        if (pfn == r->ch.out.pfns[0])
                return "the outbound ring's header";
        for (unsigned i = 1; i < r->ch.in.n_pages; i++)
                if (pfn == r->ch.in.pfns[i])
                        return "the inbound ring's data";
        return "a page";
}

/* Names every page that changed (its first changed byte), then fails. */
static void expect_frozen(const struct rig *r, const uint8_t *own, const uint8_t *copy) {
        const uint8_t *ram = vmbus_sim_ram(r->sim);
        unsigned changed = 0;
        for (size_t pfn = 0; pfn < RAM_BYTES / 4096; pfn++) {
                size_t skip = own[pfn] == 2 ? 4096 : own[pfn] == 1 ? 4 : 0;
                for (size_t i = skip; i < 4096; i++)
                        if (ram[pfn * 4096 + i] != copy[pfn * 4096 + i]) {
                                fprintf(stderr, "guest RAM changed while quiesced: %s, pfn %zu, offset %zu\n",
                                        page_name(r, pfn), pfn, i);
                                changed++;
                                break;
                        }
        }
        ASSERT_EQ(changed, 0u);
}

/* (a) The guest keeps writing requests and ringing; the device, quiesced
 * with I/O in flight, changes nothing in guest RAM and raises no interrupt.
 * Rounds until a few of them caught I/O in flight (their completions were
 * held): those are the ones that can fail. */
TEST(quiesce_freezes_guest_ram) {
        struct rig r;
        rig_up(&r);
        uint8_t *own = guest_owned(&r), *copy = malloc(RAM_BYTES);
        ASSERT_NOT_NULL(copy);
        guest_start(&r);
        wait_completions(&r, 200);
        unsigned caught = 0, round;
        double worst = 0;
        for (round = 0; round < 40 && caught < 3; round++) {
                hold_guest(&r);
                uint64_t held0 = held_total(&r);
                double us = quiesce_timed(&r);
                worst = MAX(worst, us);
                caught += held_total(&r) > held0;
                freeze(&r, own, copy);
                uint64_t events = vmbus_sim_event_count(r.sim), doorbells = atomic_load(&r.doorbells);
                uint64_t host_doorbells = vmbus_sim_doorbell_count(r.sim);
                usleep(50 * 1000);
                expect_frozen(&r, own, copy);
                ASSERT_EQ(vmbus_sim_event_count(r.sim), events);            /* no interrupt */
                ASSERT_GT(atomic_load(&r.doorbells), doorbells + 10);       /* the guest kept ringing */
                ASSERT_GT(vmbus_sim_doorbell_count(r.sim), host_doorbells); /* and the host's eventfd saw it */
                storvsp_device_resume(r.sd);
                release_guest(&r);
                wait_completions(&r, 100);
        }
        printf("%u rounds, %u with I/O in flight at the quiesce; slowest quiesce %.0f us\n", round, caught, worst);
        ASSERT_GE(caught, 1u);
        guest_finish(&r);
        free(copy);
        free(own);
        rig_down(&r);
}

struct pending_list {
        uint64_t ids[4 * DEPTH];
        unsigned n;
};

static int collect(void *opaque, const struct storvsp_pending *p) {
        struct pending_list *l = opaque;
        struct vmpacket_descriptor d;
        ASSERT_EQ(p->channel, 0u);
        ASSERT_EQ(p->type, (uint16_t)VM_PKT_COMP);
        ASSERT_EQ(p->len, (uint32_t)(sizeof d + sizeof(struct vstor_packet)));
        memcpy(&d, p->packet, sizeof d);
        ASSERT_EQ(d.type, (uint16_t)VM_PKT_COMP);
        ASSERT_EQ(d.trans_id, p->trans_id);
        ASSERT_LT(l->n, ARRAY_SIZE(l->ids));
        l->ids[l->n++] = p->trans_id;
        return 0;
}

/* (b) Every request issued across quiesces completes exactly once with the
 * right data (guest_finish), and what a quiesced device says it owes is
 * what the guest gets first after the resume, in that order. */
TEST(resume_completes_everything_once) {
        struct rig r;
        rig_up(&r);
        ASSERT_ERROR(storvsp_device_for_each_pending(r.sd, collect, NULL), EBUSY);
        guest_start(&r);
        wait_completions(&r, 200);
        enum { ROUNDS = 12 };
        static struct pending_list lists[ROUNDS];
        uint64_t seen_at[ROUNDS]; /* completions the guest had read when it was held */
        unsigned owed = 0;
        for (unsigned i = 0; i < ROUNDS; i++) {
                hold_guest(&r);
                seen_at[i] = atomic_load(&r.n_log);
                (void)quiesce_timed(&r);
                lists[i].n = 0;
                int n = storvsp_device_for_each_pending(r.sd, collect, &lists[i]);
                ASSERT_EQ(n, (int)lists[i].n);
                owed += lists[i].n;
                storvsp_device_resume(r.sd);
                release_guest(&r);
                wait_completions(&r, 100);
        }
        guest_finish(&r);
        printf("%u completions owed over %d quiesces, of %llu requests\n", owed, ROUNDS,
               (unsigned long long)atomic_load(&r.issued));
        ASSERT_GT(owed, 0u);
        for (unsigned i = 0; i < ROUNDS; i++) {
                if (lists[i].n == 0)
                        continue;
                uint64_t j = seen_at[i];
                while (j < atomic_load(&r.n_log) && r.log[j] != lists[i].ids[0])
                        j++;
                ASSERT_LE(j + lists[i].n, atomic_load(&r.n_log));
                for (unsigned k = 0; k < lists[i].n; k++)
                        ASSERT_EQ(r.log[j + k], lists[i].ids[k]);
        }
        rig_down(&r);
}

/* (c) A hundred quiesce/resume cycles in a row under load; while quiesced
 * nothing is added to the guest's inbound ring. */
TEST(quiesce_resume_100_times_under_load) {
        struct rig r;
        rig_up(&r);
        guest_start(&r);
        wait_completions(&r, 200);
        struct storvsp_device_stats s0, s1;
        storvsp_device_get_stats(r.sd, &s0);
        double worst = 0;
        for (unsigned i = 0; i < 100; i++) {
                double us = quiesce_timed(&r);
                worst = MAX(worst, us);
                uint32_t w = load_acquire(&r.ch.in.hdr->write_index);
                uint64_t events = vmbus_sim_event_count(r.sim);
                usleep(300);
                ASSERT_EQ(load_acquire(&r.ch.in.hdr->write_index), w);
                ASSERT_EQ(vmbus_sim_event_count(r.sim), events);
                storvsp_device_resume(r.sd);
                ASSERT_FALSE(storvsp_device_is_quiesced(r.sd));
                usleep(i * 37 % 2000);
        }
        storvsp_device_get_stats(r.sd, &s1);
        printf("100 cycles: %llu completions held, slowest quiesce %.0f us\n",
               (unsigned long long)(s1.held - s0.held), worst);
        ASSERT_EQ(s1.quiesces - s0.quiesces, 100ull);
        ASSERT_GT(s1.held, s0.held);
        wait_completions(&r, 100); /* still serving */
        guest_finish(&r);
        rig_down(&r);
}

/* A guest that keeps the channel busy without disk I/O: TEST UNIT READY
 * answered at once, as many as the ring holds, its completions read as
 * they come. */
struct busy {
        struct rig *r;
        atomic_bool stop;
        _Atomic uint64_t issued, completed;
};

static void *busy_guest(void *arg) {
        struct busy *b = arg;
        static const uint8_t tur[6] = { 0 };
        uint8_t buf[256];
        uint64_t last = 0;
        while (!atomic_load(&b->stop) || atomic_load(&b->completed) < atomic_load(&b->issued)) {
                while (!atomic_load(&b->stop) &&
                       sth_srb_write(b->r->sim, &b->r->ch, atomic_load(&b->issued) + 1, tur, sizeof tur, UNKNOWN_TYPE,
                                     0, 0, true) == 0)
                        atomic_fetch_add(&b->issued, 1);
                struct vmbus_packet p;
                int n;
                while ((n = vmbus_sim_ring_read(b->r->sim, &b->r->ch, buf, sizeof buf, &p)) > 0) {
                        ASSERT_EQ(p.trans_id, last + 1); /* one each, in order: one channel, no I/O */
                        last = p.trans_id;
                        atomic_fetch_add(&b->completed, 1);
                }
                ASSERT_GE(n, 0);
        }
        return NULL;
}

/* Quiesce returns promptly while the guest keeps the ring busy, and nothing
 * reaches the guest until the resume. The worker polls for a minute after
 * its last progress, so only its yield lets a pause in; SIGALRM ends a
 * test whose quiesce waits for the guest to stop. */
TEST(quiesce_while_the_guest_keeps_the_ring_busy) {
        struct rig r;
        rig_up_polling(&r, 60u * 1000 * 1000);
        struct busy b = { .r = &r };
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, busy_guest, &b), 0);
        for (int i = 0; i < STH_WAIT_MS && atomic_load(&b.completed) < 1000; i++)
                usleep(1000);
        double worst = 0;
        for (unsigned i = 0; i < 20; i++) {
                alarm(10);
                double us = quiesce_timed(&r);
                alarm(0);
                worst = MAX(worst, us);
                uint32_t w = load_acquire(&r.ch.in.hdr->write_index);
                uint64_t done = atomic_load(&b.completed);
                usleep(5000);
                ASSERT_EQ(load_acquire(&r.ch.in.hdr->write_index), w);
                storvsp_device_resume(r.sd);
                for (int k = 0; k < STH_WAIT_MS && atomic_load(&b.completed) < done + 100; k++)
                        usleep(1000);
        }
        atomic_store(&b.stop, true);
        ASSERT_EQ(pthread_join(t, NULL), 0);
        printf("%llu requests; slowest quiesce %.0f us\n", (unsigned long long)atomic_load(&b.issued), worst);
        ASSERT_EQ(atomic_load(&b.completed), atomic_load(&b.issued));
        rig_down(&r);
}

static const uint8_t cdb_inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };

static void inquiry(struct rig *r, uint64_t id) {
        uint8_t *buf;
        uint64_t gpa = sth_guest_buffer(r->sim, 1, &buf);
        sth_srb_send(r->sim, &r->ch, id, cdb_inquiry, sizeof cdb_inquiry, READ_TYPE, gpa, 36, true);
        sth_srb_wait(r->sim, &r->ch, id, SRB_STATUS_SUCCESS);
        ASSERT_MEMEQ(buf + 8, "Msft    Virtual Disk", 20);
}

static int count(void *opaque, const struct storvsp_pending *p) {
        (void)p;
        (*(unsigned *)opaque)++;
        return 0;
}

/* (d) Quiesce of an idle device, of one without an open channel and of one
 * never offered; a channel opened while quiesced answers only after the
 * resume; one closed while quiesced closes. */
TEST(quiesce_idle_and_unopened) {
        /* never offered to a guest */
        struct storvsp_device *lone;
        struct vmbus_sim *sim;
        ASSERT_OK(vmbus_sim_new(4u << 20, 1, &sim));
        struct storvsp_device_config dc = { .gm = { sth_map, sim } };
        ASSERT_OK(storvsp_device_new(&dc, &lone));
        storvsp_device_resume(lone); /* not quiesced: nothing */
        ASSERT_OK(storvsp_device_quiesce(lone));
        ASSERT_OK(storvsp_device_quiesce(lone));
        ASSERT_TRUE(storvsp_device_is_quiesced(lone));
        storvsp_device_resume(lone);
        ASSERT_FALSE(storvsp_device_is_quiesced(lone));
        storvsp_device_free(lone);
        vmbus_sim_free(sim);

        struct rig r;
        rig_up(&r);
        /* idle, channel open: prompt, idempotent, nothing owed */
        inquiry(&r, 1);
        usleep(10 * 1000); /* the worker's session ends: it sleeps */
        ASSERT_LT(quiesce_timed(&r), 100000.0);
        ASSERT_LT(quiesce_timed(&r), 100000.0);
        unsigned n = 0;
        ASSERT_EQ(storvsp_device_for_each_pending(r.sd, count, &n), 0);
        storvsp_device_resume(r.sd);
        inquiry(&r, 2);

        /* closed while quiesced; the device has no open channel now */
        (void)quiesce_timed(&r);
        ASSERT_OK(vmbus_sim_close(r.sim, &r.ch));
        storvsp_device_resume(r.sd);
        ASSERT_LT(quiesce_timed(&r), 100000.0);
        storvsp_device_resume(r.sd);

        /* opened while quiesced: the handshake waits for the resume */
        (void)quiesce_timed(&r);
        sth_open(r.sim, &r.offer, &r.ch);
        struct vstor_packet v = { .operation = VSTOR_OPERATION_BEGIN_INITIALIZATION, .flags = REQUEST_COMPLETION_FLAG };
        ASSERT_OK(vmbus_sim_ring_write(r.sim, &r.ch, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                       VMBUS_RQST_INIT, &v, sizeof v));
        usleep(50 * 1000);
        uint8_t buf[256];
        struct vmbus_packet p;
        ASSERT_EQ(vmbus_sim_ring_read(r.sim, &r.ch, buf, sizeof buf, &p), 0);
        uint32_t read_index = load_acquire(&r.ch.out.hdr->read_index);
        ASSERT_NE(load_acquire(&r.ch.out.hdr->write_index), read_index); /* not even read */
        storvsp_device_resume(r.sd);
        sth_wait_packet(r.sim, &r.ch, &p, &v);
        ASSERT_EQ(p.trans_id, VMBUS_RQST_INIT);
        ASSERT_EQ(v.status, 0u);
        ASSERT_EQ(sth_control(r.sim, &r.ch, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, VMSTOR_PROTO_VERSION_WIN10), 0u);
        ASSERT_EQ(sth_control(r.sim, &r.ch, VSTOR_OPERATION_QUERY_PROPERTIES, 0), 0u);
        ASSERT_EQ(sth_control(r.sim, &r.ch, VSTOR_OPERATION_END_INITIALIZATION, 0), 0u);
        inquiry(&r, 3);
        rig_down(&r);
}

/* ---- saved state (docs/storvsp.md "Saved state") ---------------------- */

static int save_rig(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        struct rig *r = opaque;
        int k = vmbus_server_save(r->srv, w, err, errlen);
        return k < 0 ? k : storvsp_device_save(r->sd, w, err, errlen);
}

/* The VMBus server's and the controller's state of the quiesced rig in a
 * memfd; the index in secs. */
static int rig_save(struct rig *r, uint8_t **map, size_t *len, struct vmstate_section *secs, size_t max) {
        return vmstate_test_save(save_rig, r, map, len, secs, max);
}

/* A new server and device over the same guest RAM and image, as a new
 * worker builds them from the same configuration. */
static void rig_rebuild(struct rig *r, off_t disk_bytes) {
        struct vmbus_server_config cfg = { .vp_count = 2 };
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_sim_ops, r->sim, &r->srv));
        struct storvsp_device_config dc = { .controller = { .queue_depth = DEPTH }, .gm = { sth_map, r->sim } };
        ASSERT_OK(storvsp_device_new(&dc, &r->sd));
        if (disk_bytes != DISK_BYTES)
                ASSERT_EQ(truncate(r->image, disk_bytes), 0);
        struct disk_options o = { .path = r->image, .fd = -1, .block_size = 512 };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        ASSERT_OK(storvsp_controller_attach(storvsp_device_controller(r->sd), 0, d, NULL));
        disk_unref(d);
        struct vmbus_device_config vc = { .ops = &storvsp_provider_ops, .data = r->sd };
        ASSERT_OK(vmbus_server_add_device(r->srv, &vc, NULL));
}

static int rig_restore(struct rig *r, const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        int k = vmbus_server_restore(r->srv, secs, n, err, errlen);
        return k < 0 ? k : storvsp_device_restore(r->sd, secs, n, err, errlen);
}

/* (d) The guest keeps its requests coming while the VM is saved and
 * restored into a new server and device 20 times in a row: every request
 * completes exactly once with its data (guest_finish checks the image),
 * the owed completions come first after each restore, and requests the
 * guest queued while saved are served without another doorbell. */
TEST(save_restore_20_times_under_load) {
        struct rig r;
        rig_up(&r);
        guest_start(&r);
        wait_completions(&r, 200);
        static struct vmstate_section secs[64];
        uint64_t owed = 0;
        for (unsigned i = 0; i < 20; i++) {
                hold_guest(&r);
                ASSERT_OK(storvsp_device_quiesce(r.sd)); /* providers, then the server */
                ASSERT_OK(vmbus_server_quiesce(r.srv));
                int got = storvsp_device_for_each_pending(r.sd, collect, &(struct pending_list){ 0 });
                ASSERT_GE(got, 0);
                owed += (uint64_t)got;
                uint8_t *map;
                size_t len;
                int n = rig_save(&r, &map, &len, secs, ARRAY_SIZE(secs));
                vmbus_server_free(r.srv); /* the old worker ends: destroys the device */
                rig_rebuild(&r, DISK_BYTES);
                char err[256] = "";
                int k = rig_restore(&r, secs, (size_t)n, err, sizeof err);
                if (k < 0)
                        ASSERT_STREQ(err, "");
                munmap(map, len);
                vmbus_server_resume(r.srv);
                storvsp_device_resume(r.sd);
                release_guest(&r);
                wait_completions(&r, 50);
        }
        printf("20 saves: %llu completions carried across\n", (unsigned long long)owed);
        ASSERT_GT(owed, 0ull);
        guest_finish(&r);
        rig_down(&r);
}

/* A state is refused for a disk of another size, with nothing applied:
 * the controller section names the LUN. */
TEST(restore_refuses_another_disk) {
        struct rig r;
        rig_up(&r);
        ASSERT_OK(storvsp_device_quiesce(r.sd));
        ASSERT_OK(vmbus_server_quiesce(r.srv));
        static struct vmstate_section secs[64];
        uint8_t *map;
        size_t len;
        int n = rig_save(&r, &map, &len, secs, ARRAY_SIZE(secs));
        vmbus_server_free(r.srv);
        rig_rebuild(&r, 2 * DISK_BYTES);
        char err[256] = "";
        ASSERT_EQ(rig_restore(&r, secs, (size_t)n, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "LUN 0: the disk differs"));
        munmap(map, len);
        rig_down(&r);
}

int main(int argc, char **argv) {
        dir = sth_make_dir("test-storvsp-quiesce");
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
