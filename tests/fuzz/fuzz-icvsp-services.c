// SPDX-License-Identifier: MIT
/* The integration services (vsp/ic) against a hostile guest: a script of
 * guest answers and host requests run against a real icvsp on the
 * simulated VMBus (vmbustest/sim.h), its thread and all. The guest answers
 * whatever the host asked last with any status, a wrong transaction id or
 * message type, a body cut short, grown or overwritten; sends packets of
 * its own; closes and reopens channels. The host meanwhile asks for
 * freezes and thaws, copies files in and cancels them, asks to shut down,
 * sets KVP items, pauses, quiesces and resumes.
 *
 * Whatever the guest does:
 *   - every VSS request the host made is answered exactly once, and as the
 *     operation the host asked (the guest cannot pass a FREEZE's answer
 *     off as a THAW's);
 *   - every shutdown request is answered exactly once;
 *   - every file copy that started ends exactly once; progress never goes
 *     back and never passes the file's size; a copy reported complete
 *     delivered every byte; the service is free again after it;
 *   - the service thread reads every packet the guest wrote (none strands).
 * The ends are checked after the guest closes every channel, which
 * abandons whatever was still outstanding.
 *
 * Input: [u8 setup] then steps [u8 op][arguments]; setup bit 0: negotiate
 * every service as Linux 6.1 does before the script (else the script
 * must), bit 1: leave the channels of services with bit 2..7 (shutdown,
 * heartbeat, time sync, KVP, VSS, file copy) closed at the start. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/ic.h"
#include "hv/vmbus.h"
#include "icvsp/icvsp.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"
#include "vsp/ic/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (8u << 20)
#define RING_PAGES 4
#define REOPENS_MAX 24 /* the simulated guest's pages are never given back */
#define FILE_MAX (40u * 1024)
#define PKT_MAX 16384u

static const uint8_t classes[IC_N_SERVICES][16] = {
        [IC_SHUTDOWN] = HV_SHUTDOWN_GUID, [IC_HEARTBEAT] = HV_HEART_BEAT_GUID, [IC_TIMESYNC] = HV_TS_GUID,
        [IC_KVP] = HV_KVP_GUID,           [IC_VSS] = HV_VSS_GUID,              [IC_FCOPY] = HV_FCOPY_GUID,
};

struct owner {
        pthread_mutex_t lock;
        unsigned vss_asked, vss_heard, sd_asked, sd_heard;
        uint8_t vss_op; /* the operation of the request in flight */
        unsigned fc_started, fc_done;
        uint64_t fc_size, fc_progress;
};

struct fz {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct icvsp *ic;
        struct owner o;
        struct vmbus_channel_offer_channel offers[8];
        int n_offers;
        struct vmbus_sim_channel ch[IC_N_SERVICES];
        bool open[IC_N_SERVICES];
        unsigned reopens;
        bool quiesced;
        /* The last host request the guest read on each channel (whole
         * payload), to answer in place as hv_utils does. */
        uint8_t req[IC_N_SERVICES][PKT_MAX];
        size_t req_len[IC_N_SERVICES];
        uint64_t req_id[IC_N_SERVICES];
        int memfd;
};

static void fail(const char *why) {
        (void)!write(2, why, strlen(why));
        (void)!write(2, "\n", 1);
        abort();
}

/* ---- the owner: every callback runs with the icvsp's lock held ---- */

static void on_heartbeat(void *opaque, enum icvsp_heartbeat_state st, uint64_t last) {
}

static void on_shutdown(void *opaque, bool accepted, uint32_t status) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        if (++o->sd_heard > o->sd_asked)
                fail("a shutdown answer nobody asked for");
        pthread_mutex_unlock(&o->lock);
}

static void on_kvp(void *opaque) {
}

static void on_vss(void *opaque, uint8_t op, uint32_t status) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        if (++o->vss_heard > o->vss_asked)
                fail("a VSS answer nobody asked for");
        if (op != o->vss_op)
                fail("a VSS answer reported as another operation than the one asked");
        pthread_mutex_unlock(&o->lock);
}

static void on_fcopy_progress(void *opaque, uint64_t bytes) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        if (o->fc_done >= o->fc_started)
                fail("file-copy progress with no copy running");
        if (bytes < o->fc_progress || bytes > o->fc_size)
                fail("file-copy progress went back or past the size");
        o->fc_progress = bytes;
        pthread_mutex_unlock(&o->lock);
}

static void on_fcopy_done(void *opaque, int r, uint32_t status, uint64_t bytes) {
        struct owner *o = opaque;
        pthread_mutex_lock(&o->lock);
        if (++o->fc_done > o->fc_started)
                fail("a file copy ended twice");
        if (bytes < o->fc_progress || bytes > o->fc_size)
                fail("a file copy ended with fewer bytes than reported, or more than its size");
        if (r == 0 && bytes != o->fc_size)
                fail("a file copy reported complete without every byte");
        if (r > 0)
                fail("a file copy ended with a positive result");
        pthread_mutex_unlock(&o->lock);
}

static const struct icvsp_owner_ops owner_ops = {
        .heartbeat = on_heartbeat,
        .shutdown_answered = on_shutdown,
        .kvp_changed = on_kvp,
        .vss_answered = on_vss,
        .fcopy_progress = on_fcopy_progress,
        .fcopy_done = on_fcopy_done,
};

/* ---- reading the script ---- */

struct in {
        const uint8_t *p;
        size_t n;
};

static uint8_t u8(struct in *in) {
        if (!in->n)
                return 0;
        in->n--;
        return *in->p++;
}

static uint16_t u16(struct in *in) {
        return (uint16_t)(u8(in) | u8(in) << 8);
}

static uint32_t u32(struct in *in) {
        return (uint32_t)u16(in) | (uint32_t)u16(in) << 16;
}

static size_t bytes(struct in *in, size_t want, const uint8_t **out) {
        size_t n = want < in->n ? want : in->n;
        *out = in->p;
        in->p += n;
        in->n -= n;
        return n;
}

/* ---- the guest ---- */

/* The host read everything the guest wrote into open channels. */
static bool drained(struct fz *f) {
        for (unsigned i = 0; i < IC_N_SERVICES; i++) {
                struct hv_ring_buffer *h = f->ch[i].out.hdr;
                if (f->open[i] && __atomic_load_n(&h->read_index, __ATOMIC_ACQUIRE) !=
                                          __atomic_load_n(&h->write_index, __ATOMIC_ACQUIRE))
                        return false;
        }
        return true;
}

/* Every packet written so far was read and handled by the service thread.
 * It publishes what it read at the end of a round, with the icvsp's lock
 * held until it has also sent what the answers let go next, so once the
 * rings are drained, taking that lock (icvsp_get_stats) waits for the
 * round's end. Not while quiesced: the thread is parked (and a real
 * guest's VPs are stopped). */
static void settle(struct fz *f) {
        if (f->quiesced)
                return;
        for (int i = 0; !drained(f); i++) {
                if (i > 200000)
                        fail("a packet the guest wrote was never read");
                if (i < 1000)
                        sched_yield();
                else
                        usleep(50);
        }
        struct icvsp_stats st;
        icvsp_get_stats(f->ic, &st);
}

/* Drain the host's requests on svc, keeping the last one. */
static void guest_read(struct fz *f, unsigned svc) {
        static uint8_t buf[PKT_MAX];
        for (;;) {
                struct vmbus_packet p;
                int n = vmbus_sim_ring_read(f->sim, &f->ch[svc], buf, sizeof buf, &p);
                if (n <= 0)
                        return;
                size_t len = vmbus_packet_payload_len(&p);
                if (p.type != VM_PKT_DATA_INBAND || len < ICMSG_HDR || len > PKT_MAX)
                        fail("the host sent something hv_utils would not read");
                memcpy(f->req[svc], vmbus_packet_payload(&p), len);
                f->req_len[svc] = len;
                f->req_id[svc] = p.trans_id;
        }
}

static void guest_write(struct fz *f, unsigned svc, uint16_t type, uint64_t id, const void *pkt, size_t len) {
        if (vmbus_sim_ring_write(f->sim, &f->ch[svc], type, 0, id, pkt, len) == 0)
                settle(f);
}

static int open_channel(struct fz *f, unsigned svc) {
        const struct vmbus_channel_offer_channel *o = NULL;
        for (int i = 0; i < f->n_offers; i++)
                if (!memcmp(f->offers[i].if_type, classes[svc], 16))
                        o = &f->offers[i];
        if (!o)
                fail("a configured service was not offered");
        if (vmbus_sim_open(f->sim, o->child_relid, o->connection_id, RING_PAGES, NULL, 0, &f->ch[svc]) != 0)
                return -1;
        f->open[svc] = true;
        f->req_len[svc] = 0;
        return 0;
}

/* The guest's answer to the negotiate request it read last: one framework
 * and one message version, picked from the host's lists by pick (Linux
 * picks the newest it knows; pick 0 takes the first of each). */
static void answer_negotiate(struct fz *f, unsigned svc, uint8_t pick) {
        uint8_t *pl = f->req[svc];
        size_t len = f->req_len[svc];
        struct icmsg_hdr h;
        struct icmsg_negotiate n;
        if (len < ICMSG_HDR + sizeof n)
                return;
        memcpy(&h, pl + sizeof(struct vmbuspipe_hdr), sizeof h);
        if (h.icmsgtype != ICMSGTYPE_NEGOTIATE)
                return;
        memcpy(&n, pl + ICMSG_HDR, sizeof n);
        if (len < IC_NEGOTIATE_PKT_SIZE(n.icframe_vercnt, n.icmsg_vercnt) || !n.icframe_vercnt || !n.icmsg_vercnt)
                fail("a negotiate request without versions");
        struct ic_version v[2];
        memcpy(&v[0], pl + ICMSG_HDR + sizeof n + (pick % n.icframe_vercnt) * sizeof v[0], sizeof v[0]);
        memcpy(&v[1], pl + ICMSG_HDR + sizeof n + (n.icframe_vercnt + pick / 4 % n.icmsg_vercnt) * sizeof v[0],
               sizeof v[1]);
        h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
        h.status = HV_S_OK;
        h.icmsgsize = IC_NEGOTIATE_RESPONSE_SIZE;
        memcpy(pl + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        n.icframe_vercnt = n.icmsg_vercnt = 1;
        memcpy(pl + ICMSG_HDR, &n, sizeof n);
        memcpy(pl + ICMSG_HDR + sizeof n, v, sizeof v);
        guest_write(f, svc, VM_PKT_DATA_INBAND, f->req_id[svc], pl, len);
}

static const uint32_t statuses[] = { HV_S_OK, HV_E_FAIL, HV_ERROR_ALREADY_EXISTS, HV_ERROR_DISK_FULL };

/* Answer the last request read, in place: flags bit 0-1 the status (3: a
 * u32 of the script's), 2: the transaction id is off by one, 3: another
 * message type, 4: the body is overwritten from the script, 5: the length
 * changes (cut or grown to the script's u16), 6: not an inband packet. */
static void answer(struct fz *f, unsigned svc, struct in *in) {
        uint8_t flags = u8(in);
        uint32_t status = (flags & 3) == 3 ? u32(in) : statuses[flags & 3];
        uint8_t type = flags & 8 ? u8(in) : 0;
        uint16_t newlen = flags & 32 ? u16(in) : 0;
        const uint8_t *over = NULL;
        size_t n_over = flags & 16 ? bytes(in, u8(in), &over) : 0;
        guest_read(f, svc);
        size_t len = f->req_len[svc];
        if (len < ICMSG_HDR)
                return; /* nothing was asked yet */
        static uint8_t pkt[PKT_MAX];
        memcpy(pkt, f->req[svc], len);
        if (flags & 32) {
                size_t want = newlen % (PKT_MAX / 2 + 64);
                if (want > len)
                        memset(pkt + len, 0xa5, want - len);
                len = want;
        }
        if (len >= ICMSG_HDR) {
                struct icmsg_hdr h;
                memcpy(&h, pkt + sizeof(struct vmbuspipe_hdr), sizeof h);
                h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
                h.status = status;
                if (flags & 8)
                        h.icmsgtype = type;
                memcpy(pkt + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        }
        if (n_over && len > ICMSG_HDR)
                memcpy(pkt + ICMSG_HDR, over, n_over < len - ICMSG_HDR ? n_over : len - ICMSG_HDR);
        if (!len)
                return; /* the ring takes no empty packet */
        uint16_t ptype = flags & 64 ? VM_PKT_COMP : VM_PKT_DATA_INBAND;
        guest_write(f, svc, ptype, f->req_id[svc] + !!(flags & 4), pkt, len);
}

/* ---- the host ---- */

/* A file of len pattern bytes; the copy may claim another size. */
static void make_file(struct fz *f, size_t len) {
        static uint8_t buf[FILE_MAX];
        for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)(i * 7 + 1);
        if (ftruncate(f->memfd, 0) < 0 || pwrite(f->memfd, buf, len, 0) != (ssize_t)len)
                fail("cannot write the source file");
}

/* A request the service refused: the count the owner's record took
 * back, under the lock its callbacks run with. */
static void take_back(struct fz *f, unsigned *count) {
        pthread_mutex_lock(&f->o.lock);
        (*count)--;
        pthread_mutex_unlock(&f->o.lock);
}

static void host_vss(struct fz *f, uint8_t op) {
        static const uint8_t ops[] = { VSS_OP_FREEZE, VSS_OP_THAW, VSS_OP_HOT_BACKUP, VSS_OP_CREATE };
        uint8_t want = ops[op % 4];
        /* The owner's record first: the answer can come before this returns. */
        pthread_mutex_lock(&f->o.lock);
        bool idle = f->o.vss_heard == f->o.vss_asked;
        if (idle) {
                f->o.vss_op = want;
                f->o.vss_asked++;
        }
        pthread_mutex_unlock(&f->o.lock);
        int r = icvsp_request_vss(f->ic, want);
        if (r == 0 && !idle)
                fail("a second VSS request accepted while one is in flight");
        if (r < 0 && idle)
                take_back(f, &f->o.vss_asked);
}

static void host_shutdown(struct fz *f, bool reboot) {
        pthread_mutex_lock(&f->o.lock);
        f->o.sd_asked++;
        pthread_mutex_unlock(&f->o.lock);
        if (icvsp_request_shutdown(f->ic, reboot) < 0)
                take_back(f, &f->o.sd_asked);
}

static void host_fcopy(struct fz *f, struct in *in) {
        uint16_t len = u16(in) % FILE_MAX;
        uint8_t how = u8(in);
        uint64_t size = len;
        if (how & 1)
                size += how >> 4; /* the file is shorter than the copy claims */
        uint32_t flags = how & 6 ? (how >> 1) & 3 : 0;
        bool busy = icvsp_fcopy_busy(f->ic);
        if (!busy)
                make_file(f, len);
        pthread_mutex_lock(&f->o.lock);
        bool idle = f->o.fc_done == f->o.fc_started;
        if (idle) {
                f->o.fc_started++;
                f->o.fc_size = size;
                f->o.fc_progress = 0;
        }
        pthread_mutex_unlock(&f->o.lock);
        int r = icvsp_fcopy_start(f->ic, f->memfd, how & 8 ? "/" : "/tmp/in", "f", size, flags);
        if (r == 0 && !idle)
                fail("a second file copy accepted while one runs");
        if (r < 0 && idle)
                take_back(f, &f->o.fc_started);
}

static void host_kvp(struct fz *f, struct in *in) {
        uint8_t pool = u8(in);
        const uint8_t *k, *v;
        size_t nk = bytes(in, u8(in), &k), nv = bytes(in, u8(in), &v);
        char key[256], value[256];
        memcpy(key, k, nk);
        key[nk] = 0;
        memcpy(value, v, nv);
        value[nv] = 0;
        (void)icvsp_kvp_set(f->ic, pool, key, value);
}

static void guest_close(struct fz *f, unsigned svc) {
        if (vmbus_sim_close(f->sim, &f->ch[svc]) != 0)
                fail("the host did not let the guest close a channel");
        f->open[svc] = false;
}

/* ---- one input ---- */

static void step(struct fz *f, struct in *in) {
        uint8_t op = u8(in);
        unsigned svc = (op >> 4) % IC_N_SERVICES;
        switch (op & 15) {
        case 0: /* answer the last request */
                if (f->open[svc] && !f->quiesced)
                        answer(f, svc, in);
                else
                        (void)u8(in);
                break;
        case 1: /* answer the negotiate request */ {
                uint8_t pick = u8(in);
                if (f->open[svc] && !f->quiesced) {
                        guest_read(f, svc);
                        answer_negotiate(f, svc, pick);
                }
                break;
        }
        case 2: /* read and drop */
                if (f->open[svc] && !f->quiesced)
                        guest_read(f, svc);
                break;
        case 3: /* a packet of the guest's own, with the last id it saw */ {
                const uint8_t *p;
                size_t n = bytes(in, u16(in) % 9000, &p);
                if (f->open[svc] && !f->quiesced && n)
                        guest_write(f, svc, VM_PKT_DATA_INBAND, f->req_id[svc], p, n);
                break;
        }
        case 4: /* the guest closes the channel, or opens it again */
                if (f->quiesced)
                        break;
                if (f->open[svc])
                        guest_close(f, svc);
                else if (f->reopens < REOPENS_MAX) {
                        f->reopens++;
                        (void)open_channel(f, svc);
                }
                break;
        case 5:
                host_vss(f, u8(in));
                break;
        case 6:
                host_fcopy(f, in);
                break;
        case 7:
                (void)icvsp_fcopy_cancel(f->ic);
                break;
        case 8:
                host_shutdown(f, u8(in) & 1);
                break;
        case 9:
                host_kvp(f, in);
                break;
        case 10: /* the VPs stop */
                if (!f->quiesced)
                        icvsp_pause(f->ic);
                break;
        case 11:
                if (!f->quiesced) {
                        if (icvsp_quiesce(f->ic) < 0)
                                fail("quiesce failed");
                        f->quiesced = true;
                }
                break;
        case 12:
                icvsp_resume(f->ic);
                f->quiesced = false;
                settle(f);
                break;
        default: /* a pause for the thread's own ticks */
                usleep(50);
                break;
        }
}

static int setup(struct fz *f, uint8_t how) {
        struct icvsp_config c = {
                .shutdown = true, .heartbeat = true, .timesync = true, .kvp = true, .vss = true, .fcopy = true,
                /* Nothing periodic within an input: what the thread sends
                 * follows from the script. */
                .heartbeat_interval_ms = 3600000, .kvp_poll_ms = 3600000,
        };
        if (vmbus_sim_new(RAM, 1, &f->sim) < 0)
                return -1;
        struct vmbus_server_config sc = { .vp_count = 1 };
        if (vmbus_server_new(&sc, &vmbus_sim_ops, f->sim, &f->srv) < 0)
                return -1;
        if (icvsp_new(f->srv, &c, &owner_ops, &f->o, &f->ic) < 0)
                return -1;
        if (vmbus_sim_connect(f->sim, VERSION_WIN10_V5_3) != 1)
                fail("the guest could not connect");
        f->n_offers = vmbus_sim_request_offers(f->sim, f->offers, 8);
        if (f->n_offers != IC_N_SERVICES)
                fail("not every service was offered");
        for (unsigned i = 0; i < IC_N_SERVICES; i++) {
                if ((how & 2) && (how & (4u << i)))
                        continue;
                if (open_channel(f, i) < 0)
                        fail("a channel did not open");
                if (how & 1) {
                        for (int t = 0; t < 10000 && !f->req_len[i]; t++) {
                                guest_read(f, i);
                                if (!f->req_len[i])
                                        usleep(100);
                        }
                        answer_negotiate(f, i, 0);
                }
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct fz f;
        memset(&f, 0, sizeof f);
        pthread_mutex_init(&f.o.lock, NULL);
        f.memfd = memfd_create("fuzz-fcopy", MFD_CLOEXEC);
        if (f.memfd < 0)
                fail("memfd_create");
        struct in in = { data, size };
        if (setup(&f, u8(&in)) == 0) {
                for (int steps = 0; in.n && steps < 400; steps++)
                        step(&f, &in);
                if (f.quiesced) {
                        icvsp_resume(f.ic);
                        f.quiesced = false;
                }
                settle(&f);
                /* The guest goes away: whatever was outstanding is abandoned. */
                for (unsigned i = 0; i < IC_N_SERVICES; i++)
                        if (f.open[i])
                                guest_close(&f, i);
                pthread_mutex_lock(&f.o.lock);
                if (f.o.vss_heard != f.o.vss_asked)
                        fail("a VSS request was never answered");
                if (f.o.sd_heard != f.o.sd_asked)
                        fail("a shutdown request was never answered");
                if (f.o.fc_done != f.o.fc_started)
                        fail("a file copy never ended");
                pthread_mutex_unlock(&f.o.lock);
                if (icvsp_fcopy_busy(f.ic))
                        fail("the file-copy service stayed busy with its channel closed");
        }
        vmbus_server_free(f.srv);
        icvsp_free(f.ic);
        vmbus_sim_free(f.sim);
        close(f.memfd);
        pthread_mutex_destroy(&f.o.lock);
        return 0;
}
