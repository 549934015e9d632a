/* SPDX-License-Identifier: MIT */
/* The vsc library's machine (struct vsc_ops) on top of the VMBus sim, so the
 * guest-side netvsc client runs against the real VMBus server and the real
 * netvsp provider in one process: guest RAM is the sim's memfd (a "GPA" is
 * an offset into it), HvPostMessage goes to vmbus_sim_post, HvSignalEvent and
 * the doorbell to vmbus_sim_signal, and the server's messages are delivered
 * into SIMP slot 2 with msg_pending/EOM as the TLFS says (§3.4).
 * Header-only, for test-vsc-net.c and the storvsp tests on the sim. */
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>

#include "common/test.h"
#include "hv/tlfs.h"
#include "vmbustest/sim.h"
#include "vsc/vsc.h"

struct bridge {
        struct vmbus_sim *sim;
        uint64_t simp, siefp, sint2, scontrol, hypercall, os_id, vp_index;
        bool held;                     /* a message popped from the sim waits for the slot */
        uint8_t msg[VMBUS_MESSAGE_MAX_BYTES];
        int msg_len;
        unsigned cpl;
        uint64_t posts, signals, doorbells;
        uint64_t unzeroed_pages; /* handed out by alloc_pages_unzeroed */
};

static inline uint8_t *br_ptr(struct bridge *b, uint64_t gpa) {
        ASSERT_LT(gpa, (uint64_t)vmbus_sim_ram_size(b->sim));
        return vmbus_sim_ram(b->sim) + gpa;
}

/* Moves the next server message into slot 2 if it is free (§3.4). */
static inline void br_deliver(struct bridge *b) {
        if (!(b->simp & 1))
                return;
        uint8_t *page = br_ptr(b, b->simp & ~0xfffull);
        uint8_t *sp = page + offsetof(struct hv_message_page, sint_message) + 2 * sizeof(struct hv_message);
        struct hv_message *slot = (struct hv_message *)(void *)sp;
        if (!b->held) {
                b->msg_len = vmbus_sim_next_message(b->sim, NULL, b->msg, sizeof b->msg);
                b->held = b->msg_len >= 0;
        }
        if (!b->held)
                return;
        uint32_t *type = (uint32_t *)(void *)(sp + offsetof(struct hv_message, header.message_type));
        if (__atomic_load_n(type, __ATOMIC_ACQUIRE) != HVMSG_NONE) {
                slot->header.message_flags |= HV_MESSAGE_FLAG_PENDING;
                return;
        }
        memset(slot, 0, sizeof *slot);
        memcpy(slot->payload, b->msg, (size_t)b->msg_len);
        slot->header.payload_size = (uint8_t)b->msg_len;
        slot->header.message_flags = vmbus_sim_pending_messages(b->sim) ? HV_MESSAGE_FLAG_PENDING : 0;
        __atomic_store_n(type, HVMSG_VMBUS, __ATOMIC_RELEASE);
        b->held = false;
}

static inline void br_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4]) {
        memset(out, 0, 16);
        if (leaf == 1)
                out[2] = 1u << 31;
        else if (leaf == HV_CPUID_VENDOR_AND_MAX) {
                out[0] = HV_CPUID_MAX_LEAF;
                out[1] = HV_CPUID_SIGNATURE_EBX;
                out[2] = HV_CPUID_SIGNATURE_ECX;
                out[3] = HV_CPUID_SIGNATURE_EDX;
        } else if (leaf == HV_CPUID_FEATURES)
                out[0] = HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | HV_MSR_SYNIC_AVAILABLE;
        else if (leaf == HV_CPUID_ENLIGHTENMENT_INFO)
                out[0] = HV_DEPRECATING_AEOI_RECOMMENDED;
}

static inline uint64_t *br_msr(struct bridge *b, uint32_t msr) {
        switch (msr) {
        case HV_X64_MSR_GUEST_OS_ID: return &b->os_id;
        case HV_X64_MSR_HYPERCALL: return &b->hypercall;
        case HV_X64_MSR_VP_INDEX: return &b->vp_index;
        case HV_X64_MSR_SIMP: return &b->simp;
        case HV_X64_MSR_SIEFP: return &b->siefp;
        case HV_X64_MSR_SINT0 + 2: return &b->sint2;
        case HV_X64_MSR_SCONTROL: return &b->scontrol;
        default: return NULL;
        }
}

static inline uint64_t br_rdmsr(void *ctx, uint32_t msr) {
        uint64_t *v = br_msr(ctx, msr);
        ASSERT_NOT_NULL(v);
        return *v;
}

static inline void br_wrmsr(void *ctx, uint32_t msr, uint64_t value) {
        struct bridge *b = ctx;
        if (msr != HV_X64_MSR_EOM) {
                uint64_t *v = br_msr(b, msr);
                ASSERT_NOT_NULL(v);
                *v = value;
        }
        br_deliver(b);
}

static inline uint64_t br_hypercall(void *ctx, void *page, uint64_t control, uint64_t input, uint64_t output) {
        struct bridge *b = ctx;
        if ((control & 0xffff) == HVCALL_POST_MESSAGE) {
                const struct hv_input_post_message *in = (const void *)br_ptr(b, input);
                ASSERT_LE(in->payload_size, 240u);
                b->posts++;
                uint16_t st = vmbus_sim_post(b->sim, in->connection_id, 0, in->payload, in->payload_size);
                br_deliver(b);
                return st;
        }
        if ((control & 0xffff) == HVCALL_SIGNAL_EVENT) {
                b->signals++;
                return vmbus_sim_signal(b->sim, (uint32_t)input) == 0 ? HV_STATUS_SUCCESS
                                                                     : HV_STATUS_INVALID_CONNECTION_ID;
        }
        return HV_STATUS_INVALID_HYPERCALL_CODE;
}

static inline void br_doorbell(void *ctx, uint32_t conn) {
        struct bridge *b = ctx;
        b->doorbells++;
        (void)vmbus_sim_signal(b->sim, conn);
}

static inline unsigned br_cpl(void *ctx) {
        return ((struct bridge *)ctx)->cpl;
}

static inline uint64_t br_now(void *ctx) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "hlt": until a host event (or 1 ms), then deliver what came. */
static inline void br_idle(void *ctx, uint64_t deadline) {
        struct bridge *b = ctx;
        struct pollfd p = { .fd = vmbus_sim_event_fd(b->sim), .events = POLLIN };
        if (poll(&p, 1, 1) > 0) {
                eventfd_t v;
                (void)eventfd_read(p.fd, &v);
        }
        br_deliver(b);
}

static inline void *br_alloc(void *ctx, size_t n) {
        struct bridge *b = ctx;
        uint64_t pfn = vmbus_sim_alloc_pages(b->sim, n);
        if (!pfn)
                return NULL;
        memset(br_ptr(b, pfn * 4096), 0, n * 4096);
        return br_ptr(b, pfn * 4096);
}

/* Filled with 0xA5, not zeroed: a client that reads such a buffer before
 * writing it (or before the host did) sees garbage, and its tests fail. */
static inline void *br_alloc_unzeroed(void *ctx, size_t n) {
        struct bridge *b = ctx;
        uint64_t pfn = vmbus_sim_alloc_pages(b->sim, n);
        if (!pfn)
                return NULL;
        memset(br_ptr(b, pfn * 4096), 0xa5, n * 4096);
        b->unzeroed_pages += n;
        return br_ptr(b, pfn * 4096);
}

static inline void br_free(void *ctx, void *p, size_t n) {
        /* the sim's page allocator only bumps: nothing to give back */
}

static inline uint64_t br_v2p(void *ctx, const void *p) {
        struct bridge *b = ctx;
        return (uint64_t)((const uint8_t *)p - vmbus_sim_ram(b->sim));
}

static const struct vsc_ops bridge_ops = {
        .cpuid = br_cpuid, .rdmsr = br_rdmsr, .wrmsr = br_wrmsr, .hypercall = br_hypercall,
        .doorbell = br_doorbell, .cpl = br_cpl, .now_ns = br_now, .idle = br_idle,
        .alloc_pages = br_alloc, .free_pages = br_free, .virt_to_phys = br_v2p,
        .alloc_pages_unzeroed = br_alloc_unzeroed,
};

/* The guest's side over b (b->sim set): bus on the bridge with 5 s
 * timeouts, the hypervisor interface enabled, VMBus connected and the
 * offers requested; returns how many offers came. */
static inline int br_bus_up(struct bridge *b, struct vsc_bus *bus) {
        vsc_bus_init(bus, &bridge_ops, b);
        bus->timeout_ns = 5000000000ull;
        ASSERT_OK(vsc_hv_enable(bus));
        ASSERT_OK(vsc_connect(bus));
        return vsc_request_offers(bus);
}
