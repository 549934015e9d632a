// SPDX-License-Identifier: MIT
/* The guest's storvsc client (vsc/stor.h) against hostile host data.
 * Input: byte 0 picks the target, the rest is host-controlled bytes:
 *   0: one host packet (descriptor first) -> vsc_stor_parse_reply, then
 *      vsc_stor_parse_srb against a request length from the input;
 *   1: SCSI data -> every parser (INQUIRY, REPORT LUNS, READ CAPACITY 10/16,
 *      sense, MODE SENSE header);
 *   2: a whole inbound ring (16 header bytes, then the data area) under a
 *      client with eight requests outstanding (their lengths: the last
 *      eight bytes, in 512-byte units) -> vsc_stor_poll until it stops.
 * Invariants: no out-of-bounds access (ASan), accepted completions never
 * report more data than was asked for nor more sense than the buffer, the
 * slot table stays consistent, our ring index stays in range. */
#include <stdlib.h>
#include <string.h>

#include "vsc/stor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_packet(const uint8_t *d, size_t n) {
        struct vsc_stor_reply r;
        struct vsc_stor_result res;
        const char *why = NULL;
        if (vsc_stor_parse_reply(d, n, &r, &why) < 0) {
                if (!why)
                        abort();
                return;
        }
        if (n > STORVSC_MAX_PKT_SIZE || (r.trans_id == 0) != r.unsolicited)
                abort();
        uint32_t len = n >= 4 ? (uint32_t)d[n - 1] << 12 : 0;
        if (vsc_stor_parse_srb(&r.pkt, len, &res, &why) == 0 &&
            (res.data_len > len || res.sense_len > STORVSC_SENSE_BUFFER_SIZE || res.resid != len - res.data_len))
                abort();
}

static void parse_scsi(const uint8_t *d, size_t n) {
        uint32_t len = n > 65536 ? 65536 : (uint32_t)n;
        struct vsc_scsi_inquiry inq;
        struct vsc_scsi_capacity cap;
        struct vsc_scsi_sense sense;
        uint16_t luns[VSC_SCSI_MAX_LUNS];
        unsigned count = 0;
        bool wp, fua;
        if (vsc_scsi_parse_inquiry(d, len, &inq) == 0 &&
            (inq.vendor[8] || inq.product[16] || inq.revision[4] || strchr(inq.product, ' ')))
                abort();
        int r = vsc_scsi_parse_report_luns(d, len, luns, VSC_SCSI_MAX_LUNS, &count);
        if (count > VSC_SCSI_MAX_LUNS || (r == 0 && count > (len - 8) / 8))
                abort();
        for (unsigned i = 0; r == 0 && i < count; i++)
                if (luns[i] >= VSC_SCSI_MAX_LUNS)
                        abort();
        if (vsc_scsi_parse_capacity10(d, len, &cap) == 0 && (cap.block_size < 512 || cap.blocks == 0))
                abort();
        if (vsc_scsi_parse_capacity16(d, len, &cap) == 0 && (cap.block_size > 65536 || cap.blocks == 0))
                abort();
        if (vsc_scsi_parse_sense(d, len, &sense) == 0 && sense.key > 15)
                abort();
        (void)vsc_scsi_parse_mode6_header(d, len, &wp, &fua);
}

/* ---- a client over a ring the input fills ---- */

static void f_cpuid(void *c, uint32_t l, uint32_t s, uint32_t o[4]) {
        memset(o, 0, 16);
}
static uint64_t f_rdmsr(void *c, uint32_t m) {
        return 0;
}
static void f_wrmsr(void *c, uint32_t m, uint64_t v) {
}
static uint64_t f_hypercall(void *c, void *p, uint64_t ctl, uint64_t in, uint64_t out) {
        return 0;
}
static void f_doorbell(void *c, uint32_t id) {
}
static unsigned f_cpl(void *c) {
        return 3;
}
static uint64_t f_now(void *c) {
        return 0;
}
static void f_idle(void *c, uint64_t d) {
}
static void *f_alloc(void *c, size_t n) {
        return NULL;
}
static void f_free(void *c, void *p, size_t n) {
}
static uint64_t f_v2p(void *c, const void *p) {
        return (uint64_t)(uintptr_t)p;
}
static const struct vsc_ops f_ops = {
        .cpuid = f_cpuid, .rdmsr = f_rdmsr, .wrmsr = f_wrmsr, .hypercall = f_hypercall, .doorbell = f_doorbell,
        .cpl = f_cpl, .now_ns = f_now, .idle = f_idle, .alloc_pages = f_alloc, .free_pages = f_free,
        .virt_to_phys = f_v2p,
};

static void poll_ring(const uint8_t *d, size_t n) {
        if (n < 16)
                return;
        size_t data_len = (n - 16) & ~(size_t)7;
        if (data_len < 64)
                return;
        uint8_t *mem = aligned_alloc(4096, 2 * 4096 + ((data_len + 4095) & ~(size_t)4095));
        struct vsc_bus *bus = calloc(1, sizeof *bus);
        struct vsc_stor *s = calloc(1, sizeof *s);
        if (!mem || !bus || !s)
                goto out;
        memset(mem, 0, 2 * 4096);
        memcpy(mem + 4096, d, 16);
        memcpy(mem + 2 * 4096, d + 16, data_len);
        vsc_bus_init(bus, &f_ops, NULL);
        s->bus = bus;
        s->n_channels = 1;
        s->initialized = true;
        s->max_transfer = 1u << 20;
        s->ch[0] = (struct vsc_channel){ .bus = bus, .open = true, .connection_id = 1 };
        /* outbound: an empty ring of 64 bytes in the first page; inbound: the input */
        if (vsc_ring_init(&s->ch[0].out, mem, 64) < 0 || vsc_ring_init(&s->ch[0].in, mem + 4096, (uint32_t)data_len) < 0)
                goto out;
        s->ch[0].in.own = (uint32_t)(d[1] & 0xf8) % s->ch[0].in.size;
        /* slots 0..7 outstanding (trans_id 1..8), lengths from the input's last bytes */
        unsigned busy = 8;
        const uint8_t *lens = d + n - busy;
        for (unsigned i = 0; i < busy; i++)
                s->slots[i] = (struct vsc_stor_slot){ .busy = true, .len = (uint32_t)lens[i] << 9, .user = i };
        for (unsigned i = busy; i < VSC_STOR_MAX_INFLIGHT; i++)
                s->free_slots[s->n_free++] = (uint16_t)i;
        for (int round = 0; round < 64; round++) {
                struct vsc_stor_result res[4];
                int k = vsc_stor_poll(s, res, 4);
                if (k < 0 && k != -EPROTO && k != -EMSGSIZE)
                        abort();
                for (int i = 0; i < k; i++)
                        if (res[i].user >= busy || res[i].data_len > ((uint32_t)lens[res[i].user] << 9) ||
                            res[i].sense_len > STORVSC_SENSE_BUFFER_SIZE)
                                abort();
                if (s->n_free > VSC_STOR_MAX_INFLIGHT || s->ch[0].in.own >= s->ch[0].in.size || s->ch[0].in.own % 8)
                        abort();
                if (k == 0)
                        break;
        }
        unsigned busy_now = 0;
        for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT; i++)
                busy_now += s->slots[i].busy;
        if (busy_now + s->n_free != VSC_STOR_MAX_INFLIGHT)
                abort();
out:
        free(mem);
        free(bus);
        free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        switch (data[0] % 3) {
        case 0: parse_packet(data + 1, size - 1); break;
        case 1: parse_scsi(data + 1, size - 1); break;
        default: poll_ring(data + 1, size - 1); break;
        }
        return 0;
}
