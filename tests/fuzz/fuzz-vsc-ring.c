// SPDX-License-Identifier: MIT
/* The guest's ring-buffer code (vsc_ring_read/write/has_data) on a ring
 * whose header and data the host controls entirely. Input: the 16 header
 * bytes (write_index, read_index, interrupt_mask, pending_send_sz), then
 * the data area (its length, rounded down to 8, is the ring size).
 * Invariants: no out-of-bounds access (ASan), our own index stays in range,
 * a packet we accept fits the buffer and its descriptor is sane. */
#include <stdlib.h>
#include <string.h>

#include "vsc/vsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_read(struct vsc_ring *r) {
        uint8_t buf[512];
        struct vsc_packet p;
        uint32_t before;
        for (int i = 0; i < 64; i++) { /* bounded: every read consumes or fails */
                int rc = vsc_ring_read(r, buf, sizeof buf, &p, &before);
                if (rc == -EAGAIN || rc == -EPROTO || rc == -EMSGSIZE)
                        return;
                if (rc != 0 || p.len > sizeof buf || p.len < 16 || p.payload_off < 16 || p.payload_off > p.len ||
                    r->own >= r->size || r->own % 8)
                        abort();
        }
}

static void check_write(struct vsc_ring *r, size_t size) {
        uint8_t body[300];
        bool signal;
        memset(body, 0x5a, sizeof body);
        for (size_t n = 0; n < 4; n++) {
                int rc = vsc_ring_write(r, VM_PKT_DATA_INBAND, 0, n, NULL, 0, body, (n * 97) % sizeof body, &signal);
                if (rc != 0 && rc != -EAGAIN && rc != -EPROTO && rc != -EMSGSIZE)
                        abort();
                if (r->own >= r->size || r->own % 8)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 16)
                return 0;
        size_t data_len = (size - 16) & ~(size_t)7;
        if (data_len < 48)
                return 0;
        /* header page + data, like a real ring */
        uint8_t *mem = aligned_alloc(4096, 4096 + ((data_len + 4095) & ~(size_t)4095));
        if (!mem)
                return 0;
        memset(mem, 0, 4096);
        memcpy(mem, data, 16);
        memcpy(mem + 4096, data + 16, data_len);
        struct vsc_ring r;
        if (vsc_ring_init(&r, mem, (uint32_t)data_len) == 0) {
                r.own = (uint32_t)(data[0] & 0xf8) % r.size; /* our index anywhere valid */
                check_read(&r);
                check_write(&r, data_len);
                (void)vsc_ring_has_data(&r);
        }
        free(mem);
        return 0;
}
