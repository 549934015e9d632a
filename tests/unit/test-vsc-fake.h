/* SPDX-License-Identifier: MIT */
/* A simulated Hyper-V host under the vsc library, for unit tests: CPUID,
 * synthetic MSRs, HvPostMessage/HvSignalEvent, SIMP slot 2 delivery with
 * msg_pending/EOM queueing, a fake clock, and a scriptable VMBus server
 * (fake_respond) that tests bend to send malformed or missing answers.
 * "Guest physical addresses" are host pointers (virt_to_phys = identity). */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "common/test.h"
#include "vsc/vsc.h"

#define FAKE_MAX_QUEUE 512
#define FAKE_MAX_LOG 256
#define FAKE_TICK_NS 1000000ull /* every clock read advances 1 ms */

struct fake_posted {
        uint32_t conn_id, type, len;
        uint8_t payload[HV_MESSAGE_PAYLOAD_BYTES];
};

struct fake_host {
        /* what the CPU reports */
        bool hyperv;
        uint32_t hints, features;
        /* MSRs */
        uint64_t os_id, hypercall, simp, siefp, sint2, scontrol, vp_index;
        unsigned eoms;
        /* messages the guest posted, and the queue towards the guest */
        struct fake_posted log[FAKE_MAX_LOG];
        unsigned n_log;
        struct {
                uint32_t len;
                uint8_t data[256];
                uint32_t msg_type;
        } queue[FAKE_MAX_QUEUE];
        unsigned q_head, q_tail;
        /* server behaviour */
        uint16_t post_status[16]; /* statuses to return for the next posts (0 = success) */
        unsigned n_post_status;
        bool refuse_conn4;         /* INVALID_CONNECTION_ID on connection id 4 */
        uint32_t accept_version;   /* version to accept (0: none) */
        uint32_t msg_conn_id;      /* VERSION_RESPONSE.msg_conn_id */
        bool silent;               /* never answer */
        unsigned gpadl_pfns_left;  /* PFNs still expected in GPADL bodies */
        uint32_t gpadl_handle, gpadl_relid;
        /* offers to send on REQUESTOFFERS */
        struct vmbus_channel_offer_channel offers[8];
        unsigned n_offers;
        /* hook: change (or drop, return false) each answer before it is queued */
        bool (*mutate)(struct fake_host *h, uint8_t *msg, uint32_t *len);
        /* hook: called on every idle (e.g. to flood) */
        void (*on_idle)(struct fake_host *h);
        /* signals and time */
        uint32_t signals[64];
        unsigned n_signals, n_hypercall_signals, n_doorbells;
        unsigned cpl;
        uint64_t now, clock_reads;
        long pages_out;
};

static inline struct hv_message *fake_slot(struct fake_host *h) {
        return h->simp ? &((struct hv_message_page *)(uintptr_t)(h->simp & ~0xfffull))->sint_message[2] : NULL;
}

/* Writes the next queued message into slot 2 if it is free; flags
 * msg_pending in an occupied slot (TLFS delivery, §3.4). */
static inline void fake_deliver(struct fake_host *h) {
        struct hv_message *s = fake_slot(h);
        if (!s || !(h->simp & 1) || h->q_head == h->q_tail)
                return;
        if (s->header.message_type != HVMSG_NONE) {
                s->header.message_flags |= HV_MESSAGE_FLAG_PENDING;
                return;
        }
        unsigned i = h->q_head++ % FAKE_MAX_QUEUE;
        memset(s, 0, sizeof *s);
        memcpy(s->payload, h->queue[i].data, h->queue[i].len > 240 ? 240 : h->queue[i].len);
        s->header.payload_size = (uint8_t)h->queue[i].len;
        s->header.message_flags = h->q_head != h->q_tail ? HV_MESSAGE_FLAG_PENDING : 0;
        s->header.message_type = h->queue[i].msg_type;
}

/* Queue a message of any length/type (tests send malformed ones on purpose). */
static inline void fake_queue_raw(struct fake_host *h, const void *msg, uint32_t len, uint32_t msg_type) {
        ASSERT_LT(h->q_tail - h->q_head, (unsigned)FAKE_MAX_QUEUE);
        unsigned i = h->q_tail++ % FAKE_MAX_QUEUE;
        memset(h->queue[i].data, 0, sizeof h->queue[i].data);
        memcpy(h->queue[i].data, msg, len > 256 ? 256 : len);
        h->queue[i].len = len;
        h->queue[i].msg_type = msg_type;
        fake_deliver(h);
}

static inline void fake_reply(struct fake_host *h, const void *msg, uint32_t len) {
        uint8_t buf[256];
        memcpy(buf, msg, len);
        if (h->mutate && !h->mutate(h, buf, &len))
                return;
        fake_queue_raw(h, buf, len, HVMSG_VMBUS);
}

static inline void fake_add_offer(struct fake_host *h, uint32_t relid, uint8_t cls, uint8_t inst, uint16_t sub) {
        struct vmbus_channel_offer_channel *o = &h->offers[h->n_offers++];
        memset(o, 0, sizeof *o);
        o->header.msgtype = CHANNELMSG_OFFERCHANNEL;
        memset(o->if_type, cls, 16);
        memset(o->if_instance, inst, 16);
        o->sub_channel_index = sub;
        o->child_relid = relid;
        o->connection_id = relid | 0x2000;
}

static inline void fake_on_initiate(struct fake_host *h, uint32_t conn, const struct vmbus_channel_initiate_contact *m) {
        struct vmbus_channel_version_response r = { .header.msgtype = CHANNELMSG_VERSION_RESPONSE };
        r.version_supported = m->vmbus_version_requested == h->accept_version;
        r.msg_conn_id = h->msg_conn_id;
        fake_reply(h, &r, sizeof r);
}

static inline void fake_on_request_offers(struct fake_host *h) {
        for (unsigned i = 0; i < h->n_offers; i++)
                fake_reply(h, &h->offers[i], sizeof h->offers[i]);
        struct vmbus_channel_message_header d = { .msgtype = CHANNELMSG_ALLOFFERS_DELIVERED };
        fake_reply(h, &d, sizeof d);
}

static inline void fake_gpadl_created(struct fake_host *h) {
        struct vmbus_channel_gpadl_created c = { .header.msgtype = CHANNELMSG_GPADL_CREATED };
        c.child_relid = h->gpadl_relid;
        c.gpadl = h->gpadl_handle;
        fake_reply(h, &c, sizeof c);
}

static inline void fake_on_gpadl_header(struct fake_host *h, const struct fake_posted *p) {
        struct vmbus_channel_gpadl_header g;
        memcpy(&g, p->payload, sizeof g);
        unsigned total = (g.range_buflen - 8u) / 8u;
        unsigned here = (p->len - (unsigned)sizeof g - 8u) / 8u;
        h->gpadl_handle = g.gpadl;
        h->gpadl_relid = g.child_relid;
        h->gpadl_pfns_left = total - here;
        if (h->gpadl_pfns_left == 0)
                fake_gpadl_created(h);
}

static inline void fake_on_gpadl_body(struct fake_host *h, const struct fake_posted *p) {
        unsigned here = (p->len - 16u) / 8u;
        ASSERT_LE(here, h->gpadl_pfns_left);
        h->gpadl_pfns_left -= here;
        if (h->gpadl_pfns_left == 0)
                fake_gpadl_created(h);
}

static inline void fake_respond(struct fake_host *h, const struct fake_posted *p) {
        const void *m = p->payload;
        if (h->silent)
                return;
        switch (p->type) {
        case CHANNELMSG_INITIATE_CONTACT: fake_on_initiate(h, p->conn_id, m); break;
        case CHANNELMSG_REQUESTOFFERS: fake_on_request_offers(h); break;
        case CHANNELMSG_GPADL_HEADER: fake_on_gpadl_header(h, p); break;
        case CHANNELMSG_GPADL_BODY: fake_on_gpadl_body(h, p); break;
        case CHANNELMSG_OPENCHANNEL: {
                const struct vmbus_channel_open_channel *o = m;
                struct vmbus_channel_open_result r = { .header.msgtype = CHANNELMSG_OPENCHANNEL_RESULT };
                r.child_relid = o->child_relid;
                r.openid = o->openid;
                fake_reply(h, &r, sizeof r);
                break;
        }
        case CHANNELMSG_GPADL_TEARDOWN: {
                const struct vmbus_channel_gpadl_teardown *t = m;
                struct vmbus_channel_gpadl_torndown r = { .header.msgtype = CHANNELMSG_GPADL_TORNDOWN };
                r.gpadl = t->gpadl;
                fake_reply(h, &r, sizeof r);
                break;
        }
        case CHANNELMSG_UNLOAD: {
                struct vmbus_channel_message_header r = { .msgtype = CHANNELMSG_UNLOAD_RESPONSE };
                fake_reply(h, &r, sizeof r);
                break;
        }
        default: break; /* CLOSECHANNEL, RELID_RELEASED: no answer */
        }
}

/* ---- vsc_ops ---- */

static void fake_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4]) {
        struct fake_host *h = ctx;
        memset(out, 0, 16);
        if (leaf == 1)
                out[2] = 1u << 31;
        else if (leaf == HV_CPUID_VENDOR_AND_MAX && h->hyperv) {
                out[0] = HV_CPUID_MAX_LEAF;
                out[1] = HV_CPUID_SIGNATURE_EBX;
                out[2] = HV_CPUID_SIGNATURE_ECX;
                out[3] = HV_CPUID_SIGNATURE_EDX;
        } else if (leaf == HV_CPUID_VENDOR_AND_MAX) {
                out[0] = 0x40000001;
                memcpy(&out[1], "KVMKVMKVM\0\0\0", 12);
        } else if (leaf == HV_CPUID_FEATURES)
                out[0] = h->features;
        else if (leaf == HV_CPUID_ENLIGHTENMENT_INFO)
                out[0] = h->hints;
}

static uint64_t *fake_msr(struct fake_host *h, uint32_t msr) {
        switch (msr) {
        case HV_X64_MSR_GUEST_OS_ID: return &h->os_id;
        case HV_X64_MSR_HYPERCALL: return &h->hypercall;
        case HV_X64_MSR_VP_INDEX: return &h->vp_index;
        case HV_X64_MSR_SIMP: return &h->simp;
        case HV_X64_MSR_SIEFP: return &h->siefp;
        case HV_X64_MSR_SINT0 + 2: return &h->sint2;
        case HV_X64_MSR_SCONTROL: return &h->scontrol;
        default: return NULL;
        }
}

static uint64_t fake_rdmsr(void *ctx, uint32_t msr) {
        uint64_t *v = fake_msr(ctx, msr);
        ASSERT_NOT_NULL(v);
        return *v;
}

static void fake_wrmsr(void *ctx, uint32_t msr, uint64_t value) {
        struct fake_host *h = ctx;
        if (msr == HV_X64_MSR_EOM) {
                h->eoms++;
                fake_deliver(h);
                return;
        }
        uint64_t *v = fake_msr(h, msr);
        ASSERT_NOT_NULL(v);
        *v = value;
        fake_deliver(h);
}

static uint64_t fake_post(struct fake_host *h, uint64_t input) {
        const struct hv_input_post_message *in = (const void *)(uintptr_t)input;
        if (h->n_post_status) {
                uint16_t st = h->post_status[0];
                memmove(h->post_status, h->post_status + 1, sizeof h->post_status - sizeof h->post_status[0]);
                h->n_post_status--;
                if (st)
                        return st;
        }
        if (h->refuse_conn4 && in->connection_id == VMBUS_MESSAGE_CONNECTION_ID_4)
                return HV_STATUS_INVALID_CONNECTION_ID;
        ASSERT_LE(in->payload_size, 240u);
        ASSERT_EQ(in->message_type, HVMSG_VMBUS);
        ASSERT_LT(h->n_log, (unsigned)FAKE_MAX_LOG);
        struct fake_posted *p = &h->log[h->n_log++];
        p->conn_id = in->connection_id;
        p->len = in->payload_size;
        memcpy(p->payload, in->payload, in->payload_size);
        memcpy(&p->type, in->payload, 4);
        fake_respond(h, p);
        return HV_STATUS_SUCCESS;
}

static uint64_t fake_hypercall(void *ctx, void *page, uint64_t control, uint64_t input, uint64_t output) {
        struct fake_host *h = ctx;
        ASSERT_EQ(h->cpl, 0u); /* TLFS: #UD above CPL0 */
        ASSERT_EQ((uint64_t)(uintptr_t)page | 1, h->hypercall & ~0xffeull);
        if ((control & 0xffff) == HVCALL_POST_MESSAGE) {
                ASSERT_EQ(input % 8, 0u);
                return fake_post(h, input);
        }
        if ((control & 0xffff) == HVCALL_SIGNAL_EVENT) {
                ASSERT_TRUE(control & HV_HYPERCALL_FAST_BIT);
                h->signals[h->n_signals++ % 64] = (uint32_t)input;
                h->n_hypercall_signals++;
                return HV_STATUS_SUCCESS;
        }
        return HV_STATUS_INVALID_HYPERCALL_CODE;
}

static void fake_doorbell(void *ctx, uint32_t conn) {
        struct fake_host *h = ctx;
        h->signals[h->n_signals++ % 64] = conn;
        h->n_doorbells++;
}

static unsigned fake_cpl(void *ctx) {
        return ((struct fake_host *)ctx)->cpl;
}

static uint64_t fake_now(void *ctx) {
        struct fake_host *h = ctx;
        h->clock_reads++;
        return h->now += FAKE_TICK_NS;
}

static void fake_idle(void *ctx, uint64_t deadline) {
        struct fake_host *h = ctx;
        if (h->on_idle)
                h->on_idle(h);
        fake_deliver(h);
}

static void *fake_alloc(void *ctx, size_t n) {
        struct fake_host *h = ctx;
        void *p = aligned_alloc(4096, n * 4096);
        if (p) {
                memset(p, 0, n * 4096);
                h->pages_out += (long)n;
        }
        return p;
}

static void fake_free(void *ctx, void *p, size_t n) {
        struct fake_host *h = ctx;
        h->pages_out -= (long)n;
        free(p);
}

static uint64_t fake_v2p(void *ctx, const void *p) {
        return (uint64_t)(uintptr_t)p;
}

static const struct vsc_ops fake_ops = {
        .cpuid = fake_cpuid, .rdmsr = fake_rdmsr, .wrmsr = fake_wrmsr, .hypercall = fake_hypercall,
        .doorbell = fake_doorbell, .cpl = fake_cpl, .now_ns = fake_now, .idle = fake_idle,
        .alloc_pages = fake_alloc, .free_pages = fake_free, .virt_to_phys = fake_v2p,
};

/* A host like ours: Hyper-V with deprecate-AEOI, accepting 5.3 on id 4. */
static inline struct fake_host *fake_host_new(void) {
        struct fake_host *h = calloc(1, sizeof *h);
        ASSERT_NOT_NULL(h);
        h->hyperv = true;
        h->features = HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | HV_MSR_SYNIC_AVAILABLE;
        h->hints = HV_DEPRECATING_AEOI_RECOMMENDED;
        h->accept_version = VERSION_WIN10_V5_3;
        h->msg_conn_id = 1;
        h->sint2 = HV_SYNIC_SINT_MASKED;
        h->vp_index = 0;
        return h;
}

/* bus on h with Hyper-V enabled (and connected if connect). */
static inline void fake_bus_up(struct fake_host *h, struct vsc_bus *bus, bool connect) {
        vsc_bus_init(bus, &fake_ops, h);
        bus->timeout_ns = 100 * FAKE_TICK_NS;
        ASSERT_OK(vsc_hv_enable(bus));
        if (connect)
                ASSERT_OK(vsc_connect(bus));
}

static inline void fake_bus_down(struct fake_host *h, struct vsc_bus *bus) {
        vsc_hv_disable(bus);
        ASSERT_EQ(h->pages_out, 0l);
        free(h);
}
