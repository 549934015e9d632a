// SPDX-License-Identifier: MIT
/* vsc.hostile=ring: corrupted ring indices and descriptors on the primary
 * channel of the first SCSI controller (docs/vmbus.md, "Ring library
 * rules"). Each case runs on a freshly opened and initialised controller:
 *
 *  - breaking cases (write_index out of range or unaligned, a descriptor
 *    whose len8 runs past the published bytes or past the ring, offset8 >
 *    len8, len8 below a descriptor, our read_index out of range): the host
 *    marks the channel broken and stops serving it (nothing comes back,
 *    not even for a valid request behind the bad one), every other device
 *    keeps working meanwhile (the survivor check without this controller),
 *    CLOSECHANNEL and the ring's teardown are still answered, and the
 *    controller opens, initialises and answers INQUIRY again;
 *  - harmless cases (pending_send_sz, interrupt_mask and feature_bits
 *    garbage, a packet longer than storvsp reads, an unknown packet type, a
 *    doorbell with nothing in the ring): the channel goes on serving.
 *
 * Option: vsc.hostile.silence_ms=N, how long a broken channel must stay
 * silent (default 500). */
#include "hostile.h"

static const uint8_t scsi_class[16] = HV_SCSI_GUID;

#define RF(ring, field) ((uint8_t *)(ring)->hdr + offsetof(struct hv_ring_buffer, field))

/* One store / one load of a shared ring field (the host reads them). */
static void ring_store(void *p, uint32_t v) {
        __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE);
}
static uint32_t ring_load(const void *p) {
        return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
}

enum corruption {
        C_WRITE_INDEX_OUT_OF_RANGE,
        C_WRITE_INDEX_UNALIGNED,
        C_LEN8_PAST_PUBLISHED,
        C_LEN8_PAST_RING,
        C_OFFSET8_GT_LEN8,
        C_LEN8_BELOW_DESCRIPTOR,
        C_READ_INDEX_OUT_OF_RANGE,
        C_PENDING_SEND_SZ_GARBAGE,
        C_INTERRUPT_MASK_GARBAGE,
        C_FEATURE_BITS_GARBAGE,
        C_OVERSIZED_PACKET,
        C_UNKNOWN_PACKET_TYPE,
        C_EMPTY_DOORBELLS,
};

static const struct {
        const char *name;
        bool breaks;
} cases[] = {
        [C_WRITE_INDEX_OUT_OF_RANGE] = { "write_index_out_of_range", true },
        [C_WRITE_INDEX_UNALIGNED] = { "write_index_unaligned", true },
        [C_LEN8_PAST_PUBLISHED] = { "len8_past_published", true },
        [C_LEN8_PAST_RING] = { "len8_past_ring", true },
        [C_OFFSET8_GT_LEN8] = { "offset8_gt_len8", true },
        [C_LEN8_BELOW_DESCRIPTOR] = { "len8_below_descriptor", true },
        [C_READ_INDEX_OUT_OF_RANGE] = { "read_index_out_of_range", true },
        [C_PENDING_SEND_SZ_GARBAGE] = { "pending_send_sz_garbage", false },
        [C_INTERRUPT_MASK_GARBAGE] = { "interrupt_mask_garbage", false },
        [C_FEATURE_BITS_GARBAGE] = { "feature_bits_garbage", false },
        [C_OVERSIZED_PACKET] = { "oversized_packet", false },
        [C_UNKNOWN_PACKET_TYPE] = { "unknown_packet_type", false },
        [C_EMPTY_DOORBELLS] = { "empty_doorbells", false },
};

/* A valid INQUIRY as the library builds it, queued (unpublished) on ch 0. */
static int queue_inquiry(struct hostile *h, struct vsc_stor *s) {
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_IN, .buf = h->scratch, .len = 36 };
        c.cdb_len = vsc_scsi_inquiry(c.cdb, false, 0, 36);
        return vsc_stor_submit(s, 0, &c);
}

/* A descriptor of our making at the ring's write position, then a valid
 * INQUIRY packet behind it, published as `bytes` from the old index. */
static void bad_descriptor(struct hostile *h, struct vsc_stor *s, uint16_t offset8, uint16_t len8, uint32_t bytes) {
        struct vsc_ring *out = &s->ch[0].out;
        uint32_t at = out->own;
        struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = offset8, .len8 = len8,
                                         .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, .trans_id = 0x77 };
        memcpy(out->data + at, &d, sizeof d);
        memset(out->data + at + sizeof d, 0, 16);
        out->own = (at + 32) % out->size; /* the descriptor's 16 bytes, 8 of body, the trailer */
        (void)queue_inquiry(h, s);
        ring_store(RF(out, write_index), bytes ? (at + bytes) % out->size : out->own);
}


/* Applies the corruption; for the harmless ones also queues what follows. */
static void corrupt(struct hostile *h, struct vsc_stor *s, enum corruption c) {
        struct vsc_channel *ch = &s->ch[0];
        struct vsc_ring *out = &ch->out, *in = &ch->in;
        switch (c) {
        case C_WRITE_INDEX_OUT_OF_RANGE:
                ring_store(RF(out, write_index), out->size + 8);
                break;
        case C_WRITE_INDEX_UNALIGNED:
                ring_store(RF(out, write_index), out->own + 4);
                break;
        case C_LEN8_PAST_PUBLISHED: /* claims 512 bytes, 32 published */
                bad_descriptor(h, s, 2, 64, 32);
                break;
        case C_LEN8_PAST_RING:
                bad_descriptor(h, s, 2, 0xffff, 0);
                break;
        case C_OFFSET8_GT_LEN8:
                bad_descriptor(h, s, 4, 3, 0);
                break;
        case C_LEN8_BELOW_DESCRIPTOR:
                bad_descriptor(h, s, 1, 1, 0);
                break;
        case C_READ_INDEX_OUT_OF_RANGE: /* the host finds it when it answers */
                ring_store(RF(in, read_index), 0xfffffff8u);
                (void)queue_inquiry(h, s);
                vsc_ring_publish(out);
                break;
        case C_PENDING_SEND_SZ_GARBAGE:
                ring_store(RF(out, pending_send_sz), 0xffffffffu);
                ring_store(RF(in, pending_send_sz), 0x7ffffff8u);
                break;
        case C_INTERRUPT_MASK_GARBAGE: /* "do not signal me": we poll */
                ring_store(RF(in, interrupt_mask), 0xdeadbeefu);
                break;
        case C_FEATURE_BITS_GARBAGE:
                ring_store(RF(out, feature_bits), 0xffffffffu);
                ring_store(RF(in, feature_bits), 0xffffffffu);
                break;
        case C_OVERSIZED_PACKET: /* 8 KiB: more than storvsp's packet buffer (skipped, counted) */
                (void)vsc_ring_put(out, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, 0x78, NULL, 0,
                                   h->scratch, 8192);
                vsc_ring_publish(out);
                break;
        case C_UNKNOWN_PACKET_TYPE:
                (void)vsc_ring_put(out, 0x1234, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, 0x79, NULL, 0, h->scratch,
                                   64);
                vsc_ring_publish(out);
                break;
        case C_EMPTY_DOORBELLS:
                for (int i = 0; i < 100; i++)
                        vsc_channel_signal(ch);
                break;
        }
        vsc_channel_signal(ch);
}

/* Nothing may arrive on the broken channel for silence_ns. */
static bool stays_silent(struct vsc_stor *s, uint32_t write_before, uint64_t silence_ns) {
        uint64_t until = clock_ns() + silence_ns;
        while (clock_ns() < until) {
                if (ring_load(RF(&s->ch[0].in, write_index)) != write_before)
                        return false;
                clock_idle(until);
        }
        return true;
}

/* INQUIRY through the library: the channel serves. Drops what came before. */
static bool still_serves(struct hostile *h, struct vsc_stor *s, char *why, size_t len) {
        struct vsc_stor_result res;
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_IN, .buf = h->scratch, .len = 36 };
        c.cdb_len = vsc_scsi_inquiry(c.cdb, false, 0, 36);
        int r = vsc_stor_exec(s, &c, &res);
        vsc_snprintf(why, len, "%s", r < 0 ? vsc_bus_error(h->bus) : "inquiry=ok");
        return r == 0 && vsc_stor_result_ok(&res);
}

static int breaking(struct hostile *h, const struct vsc_offer *o, struct vsc_stor *s, enum corruption c,
                    uint64_t silence_ns) {
        uint32_t before = ring_load(RF(&s->ch[0].in, write_index));
        corrupt(h, s, c);
        bool silent = stays_silent(s, before, silence_ns);
        /* the rest of the VM while this channel is broken */
        int r = hostile_alive(h, o->child_relid);
        if (r < 0)
                return r;
        uint64_t t0 = clock_ns();
        int k = vsc_stor_close(s); /* CLOSECHANNEL, then the ring GPADL's teardown must be answered */
        uint64_t close_us = (clock_ns() - t0) / 1000;
        if (k < 0)
                report("warning=%s: close: %s", cases[c].name, vsc_bus_error(h->bus));
        mem_free_pages(s, (sizeof *s + 4095) / 4096);
        struct vsc_stor *again = hostile_stor_open(h, o);
        char why[160] = "reopen failed";
        bool recovered = again && still_serves(h, again, why, sizeof why);
        hostile_case(h, cases[c].name, silent && k == 0 && recovered,
                     "served_after=%s close=%s close_us=%lu recovered=%d %s", silent ? "no" : "YES",
                     k == 0 ? "ok" : "failed", close_us, recovered, why);
        hostile_stor_close(h, again);
        return 0;
}

static int harmless(struct hostile *h, struct vsc_stor *s, enum corruption c) {
        corrupt(h, s, c);
        /* what the host answered to the packet itself (if anything) comes first */
        uint64_t until = clock_ns() + 200000000ull;
        unsigned answered = 0;
        while (clock_ns() < until) {
                uint64_t buf[64];
                struct vsc_packet p;
                int r = vsc_channel_recv(&s->ch[0], buf, sizeof buf, &p);
                if (r == 0) {
                        answered++;
                        continue;
                }
                if (r != -EAGAIN)
                        break;
                clock_idle(until);
        }
        char why[160];
        bool ok = still_serves(h, s, why, sizeof why);
        hostile_case(h, cases[c].name, ok, "answered=%u %s", answered, why);
        hostile_stor_close(h, s);
        return 0;
}

int hostile_ring(struct hostile *h) {
        int r = hostile_connect(h);
        if (r < 0)
                return r;
        const struct vsc_offer *o = hostile_offer(h, scsi_class, 0);
        if (!o)
                return guest_fail(-ENODEV, "hostile ring: needs a SCSI controller (a disk)");
        uint64_t silence_ns = hostile_opt(h, "silence_ms", 10, 60000, 500) * 1000000ull;
        for (size_t c = 0; r == 0 && c < sizeof cases / sizeof cases[0]; c++) {
                struct vsc_stor *s = hostile_stor_open(h, o);
                if (!s)
                        return -EIO;
                r = cases[c].breaks ? breaking(h, o, s, (enum corruption)c, silence_ns)
                                    : harmless(h, s, (enum corruption)c);
        }
        return r < 0 ? r : hostile_alive(h, 0);
}
