/* SPDX-License-Identifier: MIT */
/* The vsc library's machine (struct vsc_ops) on top of the VMBus sim, so the
 * guest-side storvsc client runs against the real VMBus server and the real
 * storvsp provider in one process: guest RAM is the sim's memfd (a "GPA" is
 * an offset into it), HvPostMessage goes to vmbus_sim_post, HvSignalEvent
 * and the doorbell to vmbus_sim_signal, and the server's messages reach
 * SIMP slot 2 with msg_pending/EOM as the TLFS says (§3.4). Idle waits on
 * the sim's host->guest event fd. Header-only, for test-storvsp-vsc.c. */
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>

#include "common/test.h"
#include "hv/tlfs.h"
#include "vmbus/sim.h"
#include "vsc/vsc.h"

struct sim_bridge {
        struct vmbus_sim *sim;
        uint64_t os_id, hypercall, vp_index, simp, siefp, sint2, scontrol;
        uint8_t held[VMBUS_MESSAGE_MAX_BYTES]; /* a message taken from the sim, slot 2 busy */
        int held_len;                          /* < 0: none */
        unsigned cpl;
        uint64_t doorbells, hypercall_signals;
};

static inline uint8_t *sb_gpa(struct sim_bridge *b, uint64_t gpa) {
        ASSERT_LT(gpa, (uint64_t)vmbus_sim_ram_size(b->sim));
        return vmbus_sim_ram(b->sim) + gpa;
}

/* The next server message into slot 2 once it is free (§3.4). The slot is
 * addressed as bytes: message_type is read and written with one atomic
 * access each, as the guest side does. */
static inline void sb_deliver(struct sim_bridge *b) {
        if (!(b->simp & 1))
                return;
        uint8_t *slot = sb_gpa(b, b->simp & ~0xfffull) + 2 * sizeof(struct hv_message);
        uint32_t *type = (uint32_t *)(void *)(slot + offsetof(struct hv_message_header, message_type));
        uint8_t *flags = slot + offsetof(struct hv_message_header, message_flags);
        if (b->held_len < 0)
                b->held_len = vmbus_sim_next_message(b->sim, NULL, b->held, sizeof b->held);
        if (b->held_len < 0)
                return;
        if (__atomic_load_n(type, __ATOMIC_ACQUIRE) != HVMSG_NONE) {
                *flags |= HV_MESSAGE_FLAG_PENDING;
                return;
        }
        memset(slot, 0, sizeof(struct hv_message));
        memcpy(slot + sizeof(struct hv_message_header), b->held, (size_t)b->held_len);
        slot[offsetof(struct hv_message_header, payload_size)] = (uint8_t)b->held_len;
        *flags = vmbus_sim_pending_messages(b->sim) ? HV_MESSAGE_FLAG_PENDING : 0;
        __atomic_store_n(type, HVMSG_VMBUS, __ATOMIC_RELEASE);
        b->held_len = -1;
}

static inline void sb_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4]) {
        memset(out, 0, 16);
        if (leaf == 1) {
                out[2] = 1u << 31; /* hypervisor present */
        } else if (leaf == HV_CPUID_VENDOR_AND_MAX) {
                out[0] = HV_CPUID_MAX_LEAF;
                out[1] = HV_CPUID_SIGNATURE_EBX;
                out[2] = HV_CPUID_SIGNATURE_ECX;
                out[3] = HV_CPUID_SIGNATURE_EDX;
        } else if (leaf == HV_CPUID_FEATURES) {
                out[0] = HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE | HV_MSR_SYNIC_AVAILABLE;
        } else if (leaf == HV_CPUID_ENLIGHTENMENT_INFO) {
                out[0] = HV_DEPRECATING_AEOI_RECOMMENDED;
        }
}

static inline uint64_t *sb_msr(struct sim_bridge *b, uint32_t msr) {
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

static inline uint64_t sb_rdmsr(void *ctx, uint32_t msr) {
        uint64_t *v = sb_msr(ctx, msr);
        ASSERT_NOT_NULL(v);
        return *v;
}

static inline void sb_wrmsr(void *ctx, uint32_t msr, uint64_t value) {
        struct sim_bridge *b = ctx;
        if (msr != HV_X64_MSR_EOM) {
                uint64_t *v = sb_msr(b, msr);
                ASSERT_NOT_NULL(v);
                *v = value;
        }
        sb_deliver(b);
}

static inline uint64_t sb_hypercall(void *ctx, void *page, uint64_t control, uint64_t input, uint64_t output) {
        struct sim_bridge *b = ctx;
        ASSERT_EQ(b->cpl, 0u); /* TLFS: #UD above CPL0 */
        if ((control & 0xffff) == HVCALL_POST_MESSAGE) {
                const struct hv_input_post_message *in = (const void *)sb_gpa(b, input);
                ASSERT_LE(in->payload_size, 240u);
                uint16_t st = vmbus_sim_post(b->sim, in->connection_id, 0, in->payload, in->payload_size);
                sb_deliver(b);
                return st;
        }
        if ((control & 0xffff) == HVCALL_SIGNAL_EVENT) {
                b->hypercall_signals++;
                return vmbus_sim_signal(b->sim, (uint32_t)input) == 0 ? HV_STATUS_SUCCESS
                                                                     : HV_STATUS_INVALID_CONNECTION_ID;
        }
        return HV_STATUS_INVALID_HYPERCALL_CODE;
}

static inline void sb_doorbell(void *ctx, uint32_t conn) {
        struct sim_bridge *b = ctx;
        b->doorbells++;
        ASSERT_OK(vmbus_sim_signal(b->sim, conn));
}

static inline unsigned sb_cpl(void *ctx) {
        return ((struct sim_bridge *)ctx)->cpl;
}

static inline uint64_t sb_now(void *ctx) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "hlt": until the host raises an event (or 1 ms), then take messages. */
static inline void sb_idle(void *ctx, uint64_t deadline) {
        struct sim_bridge *b = ctx;
        struct pollfd p = { .fd = vmbus_sim_event_fd(b->sim), .events = POLLIN };
        if (poll(&p, 1, 1) > 0) {
                eventfd_t v;
                (void)eventfd_read(p.fd, &v);
        }
        sb_deliver(b);
}

static inline void *sb_alloc(void *ctx, size_t n) {
        struct sim_bridge *b = ctx;
        uint64_t pfn = vmbus_sim_alloc_pages(b->sim, n);
        return pfn ? memset(sb_gpa(b, pfn * 4096), 0, n * 4096) : NULL;
}

static inline void sb_free(void *ctx, void *p, size_t n) {
        /* the sim's allocator only bumps */
}

static inline uint64_t sb_v2p(void *ctx, const void *p) {
        return (uint64_t)((const uint8_t *)p - vmbus_sim_ram(((struct sim_bridge *)ctx)->sim));
}

static const struct vsc_ops sim_bridge_ops = {
        .cpuid = sb_cpuid, .rdmsr = sb_rdmsr, .wrmsr = sb_wrmsr, .hypercall = sb_hypercall,
        .doorbell = sb_doorbell, .cpl = sb_cpl, .now_ns = sb_now, .idle = sb_idle,
        .alloc_pages = sb_alloc, .free_pages = sb_free, .virt_to_phys = sb_v2p,
};

static inline void sim_bridge_init(struct sim_bridge *b, struct vmbus_sim *sim) {
        *b = (struct sim_bridge){ .sim = sim, .held_len = -1, .sint2 = HV_SYNIC_SINT_MASKED };
}
