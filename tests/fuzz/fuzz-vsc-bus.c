// SPDX-License-Identifier: MIT
/* The whole guest side of VMBus (connect, offers, GPADL, open, send/recv,
 * close, unload) against a host whose every message comes from the input.
 * Input: records [len u8][flags u8][len bytes]; each record is written into
 * SynIC slot 2 when the guest idles or sends EOM (flags bit 0: not a VMBus
 * message type; bit 1: the last record is also the inbound ring's content:
 * write_index u32 then data). Time is a fake clock, so every wait ends.
 * Invariants: no crash, no leak, no hang (the fuzzer's timeout). */
#include <stdlib.h>
#include <string.h>

#include "vsc/vsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ALLOCS 64

struct fz {
        const uint8_t *in;
        size_t len, pos;
        uint64_t msr[256], now;
        void *allocs[MAX_ALLOCS];
};

static struct hv_message *slot(struct fz *f) {
        uint64_t simp = f->msr[HV_X64_MSR_SIMP & 0xff];
        return (simp & 1) ? &((struct hv_message_page *)(uintptr_t)(simp & ~0xfffull))->sint_message[2] : NULL;
}

static void deliver(struct fz *f) {
        struct hv_message *s = slot(f);
        if (!s || s->header.message_type != HVMSG_NONE || f->pos + 2 > f->len)
                return;
        uint8_t n = f->in[f->pos], flags = f->in[f->pos + 1];
        f->pos += 2;
        size_t take = n < f->len - f->pos ? n : f->len - f->pos;
        memset(s, 0, sizeof *s);
        memcpy(s->payload, f->in + f->pos, take > 240 ? 240 : take);
        f->pos += take;
        s->header.payload_size = n;
        s->header.message_flags = f->pos < f->len ? HV_MESSAGE_FLAG_PENDING : 0;
        s->header.message_type = (flags & 1) ? HVMSG_TIMER_EXPIRED : HVMSG_VMBUS;
}

static void o_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4]) {
        memset(out, 0, 16);
        if (leaf == 1)
                out[2] = 1u << 31;
        if (leaf == HV_CPUID_VENDOR_AND_MAX) {
                out[0] = HV_CPUID_MAX_LEAF;
                out[1] = HV_CPUID_SIGNATURE_EBX;
                out[2] = HV_CPUID_SIGNATURE_ECX;
                out[3] = HV_CPUID_SIGNATURE_EDX;
        }
        if (leaf == HV_CPUID_FEATURES)
                out[0] = HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE;
        if (leaf == HV_CPUID_ENLIGHTENMENT_INFO)
                out[0] = HV_DEPRECATING_AEOI_RECOMMENDED;
}

static uint64_t o_rdmsr(void *ctx, uint32_t msr) {
        return ((struct fz *)ctx)->msr[msr & 0xff];
}

static void o_wrmsr(void *ctx, uint32_t msr, uint64_t v) {
        struct fz *f = ctx;
        f->msr[msr & 0xff] = v;
        if (msr == HV_X64_MSR_EOM)
                deliver(f);
}

static uint64_t o_hypercall(void *ctx, void *page, uint64_t control, uint64_t in, uint64_t out) {
        return HV_STATUS_SUCCESS;
}

static void o_doorbell(void *ctx, uint32_t conn) {
}

static unsigned o_cpl(void *ctx) {
        return 0;
}

static uint64_t o_now(void *ctx) {
        return ((struct fz *)ctx)->now += 1000000;
}

static void o_idle(void *ctx, uint64_t deadline) {
        deliver(ctx);
}

static void *o_alloc(void *ctx, size_t n) {
        struct fz *f = ctx;
        for (int i = 0; i < MAX_ALLOCS; i++)
                if (!f->allocs[i]) {
                        f->allocs[i] = aligned_alloc(4096, n * 4096);
                        if (f->allocs[i])
                                memset(f->allocs[i], 0, n * 4096);
                        return f->allocs[i];
                }
        return NULL;
}

static void o_free(void *ctx, void *p, size_t n) {
        struct fz *f = ctx;
        for (int i = 0; i < MAX_ALLOCS; i++)
                if (f->allocs[i] == p) {
                        free(p);
                        f->allocs[i] = NULL;
                }
}

static uint64_t o_v2p(void *ctx, const void *p) {
        return (uint64_t)(uintptr_t)p;
}

static const struct vsc_ops ops = {
        .cpuid = o_cpuid, .rdmsr = o_rdmsr, .wrmsr = o_wrmsr, .hypercall = o_hypercall, .doorbell = o_doorbell,
        .cpl = o_cpl, .now_ns = o_now, .idle = o_idle, .alloc_pages = o_alloc, .free_pages = o_free,
        .virt_to_phys = o_v2p,
};

/* The host writes the inbound ring: the rest of the input after the records. */
static void channel_traffic(struct fz *f, struct vsc_channel *ch) {
        uint8_t buf[256];
        struct vsc_packet p;
        vsc_channel_send(ch, VM_PKT_DATA_INBAND, 1, 1, "ping", 4);
        if (f->len - f->pos >= 4) {
                uint32_t w;
                memcpy(&w, f->in + f->pos, 4);
                size_t n = f->len - f->pos - 4 < ch->in.size ? f->len - f->pos - 4 : ch->in.size;
                memcpy(ch->in.data, f->in + f->pos + 4, n);
                ch->in.hdr->write_index = w;
        }
        for (int i = 0; i < 32 && vsc_channel_recv(ch, buf, sizeof buf, &p) == 0; i++)
                ;
        vsc_channel_mask(ch, true);
        vsc_channel_mask(ch, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz *f = calloc(1, sizeof *f);
        struct vsc_bus *bus = malloc(sizeof *bus);
        if (!f || !bus)
                goto out;
        f->in = data;
        f->len = size;
        vsc_bus_init(bus, &ops, f);
        bus->timeout_ns = 20 * 1000000ull;
        if (vsc_hv_enable(bus) < 0)
                goto out;
        if (vsc_connect(bus) == 0 && vsc_request_offers(bus) >= 0 && bus->n_offers > 0) {
                struct vsc_channel ch;
                if (vsc_channel_open(bus, &ch, &bus->offers[0], 8192, 8192, NULL, 0) == 0) {
                        channel_traffic(f, &ch);
                        vsc_channel_close(&ch);
                }
                vsc_unload(bus);
        }
        vsc_hv_disable(bus);
out:
        if (f)
                for (int i = 0; i < MAX_ALLOCS; i++)
                        free(f->allocs[i]); /* pages the guest keeps after a failed teardown */
        free(f);
        free(bus);
        return 0;
}
