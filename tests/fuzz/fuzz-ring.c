// SPDX-License-Identifier: MIT
/* The host ring reader and writer (§5) over fuzzed ring contents: both ring
 * headers (indices, interrupt_mask, pending_send_sz) and the guest->host
 * data area come from the input; the reader drains it in batches and runs
 * the GPA-direct and transfer-page parsers on every packet, then the writer
 * sends packets of input-chosen sizes into the host->guest ring.
 *
 * Input: [ring_pages][in write][in read][out read][out mask][in pending]
 * [out pending] (u8 + 6 x u32), then the data area bytes. Checks: no crash
 * or sanitizer report; every packet returned fits the caller's buffer and
 * has 16 <= offset <= len; parsed ranges lie inside the packet; our indices
 * stay in range and 8-aligned. */
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "vmbus/ring.h"
#include "vmbustest/sim.h"

#define HDR_BYTES 25u

static void no_signal(void *opaque) {
        (*(unsigned *)opaque)++;
}

static void check_packet(const struct vmbus_packet *p, const uint8_t *buf, int len, size_t cap) {
        if (len <= 0 || (size_t)len > cap || p->len != (uint32_t)len || p->offset < 16 || p->offset > p->len ||
            p->data != buf)
                __builtin_trap();
        struct vmbus_gpa_range_view v[VMBUS_GPA_DIRECT_MAX_RANGES];
        int n = vmbus_packet_parse_gpa_direct(p, v, ARRAY_SIZE(v));
        for (int i = 0; i < n; i++) {
                const uint8_t *end = v[i].pfns + (size_t)v[i].n_pfns * 8;
                if (v[i].pfns < buf + 24 || end > buf + p->offset || v[i].byte_offset >= 4096 || !v[i].byte_count)
                        __builtin_trap();
                (void)vmbus_gpa_range_pfn(&v[i], v[i].n_pfns - 1);
        }
        uint16_t set;
        const struct vmtransfer_page_range *r;
        n = vmbus_packet_parse_xfer_pages(p, &set, &r);
        if (n > 0 && (const uint8_t *)(r + n) > buf + p->offset)
                __builtin_trap();
}

static void drain(struct vmbus_ring_pair *rp, uint8_t *buf, size_t cap) {
        for (int batch = 0; batch < 4; batch++) {
                if (vmbus_ring_recv_begin(rp) < 0)
                        return;
                for (int i = 0; i < 64; i++) {
                        struct vmbus_packet p;
                        int len = vmbus_ring_recv(rp, buf, cap, &p);
                        if (len == -EMSGSIZE)
                                continue;
                        if (len <= 0)
                                break;
                        check_packet(&p, buf, len, cap);
                }
                (void)vmbus_ring_recv_end(rp);
                if (rp->in.priv >= rp->in.size || rp->in.priv % 8)
                        __builtin_trap();
                if (!vmbus_ring_unmask(rp))
                        return;
        }
}

static void send_some(struct vmbus_ring_pair *rp, const uint8_t *data, size_t size) {
        static const uint8_t payload[4096];
        vmbus_ring_send_begin(rp);
        for (size_t i = 0; i + 2 <= size && i < 64; i += 2) {
                size_t len = ((size_t)data[i] << 4) % sizeof payload;
                struct vmtransfer_page_range r[2] = { { 100, 0 }, { 200, 4096 } };
                int e = data[i + 1] % 3 == 0   ? vmbus_ring_send_inband(rp, i, true, payload, len)
                        : data[i + 1] % 3 == 1 ? vmbus_ring_send_completion(rp, i, payload, len)
                                               : vmbus_ring_send_xfer_pages(rp, i, 1, r, 2);
                if (e == -EBADMSG)
                        break;
        }
        (void)vmbus_ring_send_end(rp);
        if (rp->out.priv >= rp->out.size || rp->out.priv % 8)
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < HDR_BYTES)
                return 0;
        struct vmbus_sim *sim;
        if (vmbus_sim_new(64u * 4096, 1, &sim) < 0)
                return 0;
        struct vmbus_sim_channel ch;
        unsigned pages = 2 + data[0] % 3, signals = 0;
        uint32_t f[6];
        memcpy(f, data + 1, sizeof f);
        if (vmbus_sim_channel_alloc(sim, pages, &ch) < 0)
                goto out;
        struct vmbus_host_mapping in_map = { 0 }, out_map = { 0 };
        if (vmbus_sim_ops.map_pages(sim, ch.out.pfns, pages, VMBUS_MAP_WRAP, 1, &in_map) < 0 ||
            vmbus_sim_ops.map_pages(sim, ch.in.pfns, pages, VMBUS_MAP_WRAP, 1, &out_map) < 0)
                goto unmap;
        /* Start from valid indices (as at OPENCHANNEL), then let the input
         * rewrite them under the running reader and writer. */
        struct vmbus_ring_pair rp;
        if (vmbus_ring_pair_init(&rp, in_map.base, pages * 4096u, out_map.base, pages * 4096u, 4096, no_signal,
                                 &signals) < 0)
                goto unmap;
        size_t data_len = MIN(size - HDR_BYTES, (size_t)ch.out.size);
        vmbus_sim_ring_copy_in(sim, &ch.out, 0, data + HDR_BYTES, data_len);
        ch.out.hdr->write_index = f[0];
        ch.out.hdr->read_index = f[1];
        ch.in.hdr->read_index = f[2];
        ch.in.hdr->interrupt_mask = f[3] & 1;
        ch.out.hdr->pending_send_sz = f[4];
        ch.in.hdr->pending_send_sz = f[5];
        uint8_t buf[8192];
        drain(&rp, buf, (f[3] >> 8) % sizeof buf);
        send_some(&rp, data + HDR_BYTES, data_len);
unmap:
        vmbus_sim_ops.unmap_pages(sim, &in_map);
        vmbus_sim_ops.unmap_pages(sim, &out_map);
out:
        vmbus_sim_free(sim);
        return 0;
}
