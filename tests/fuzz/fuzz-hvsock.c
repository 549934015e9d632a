// SPDX-License-Identifier: MIT
/* The hv_sock connect path's parsers (vsp/hvsock): a host client's first
 * line, fed byte by byte as the service thread reads it; the service GUID
 * of a guest's TL_CONNECT_REQUEST; the guest's pipe packets. Whatever
 * parses must be in range. */
#include <stdlib.h>
#include <string.h>

#include "hv/vmbus.h"
#include "hvsock/hvsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* The CONNECT line: the first 64 bytes at most, one at a time. */
        char line[64];
        size_t n = size < sizeof line ? size : sizeof line;
        for (size_t i = 1; i <= n; i++) {
                memcpy(line, data, i);
                uint32_t port = 0;
                int r = hvsock_parse_connect_line(line, i, &port);
                if (r > 0 && ((size_t)r > i || line[r - 1] != '\n' || port > VMBUS_HVSOCK_MAX_LISTEN_PORT))
                        abort();
                if (r != 0)
                        break;
        }
        /* A TL_CONNECT_REQUEST's service id. */
        if (size >= 16) {
                struct guid g;
                memcpy(g.b, data, 16);
                uint32_t port;
                if (hvsock_service_port(&g, &port) == 0) {
                        struct guid back;
                        hvsock_service_id(port, &back);
                        if (!guid_equal(&back, &g))
                                abort();
                }
        }
        /* Pipe packets back to back, each an 8-byte length prefix's worth. */
        for (size_t off = 0; off + 2 <= size;) {
                size_t len = (size_t)data[off] | (size_t)(data[off + 1] & 0x7f) << 8;
                off += 2;
                if (len > size - off)
                        len = size - off;
                const uint8_t *p;
                size_t got;
                if (hvsock_parse_pipe(data + off, len, &p, &got) == 0 &&
                    (p != data + off + 8 || got > len - 8 || got > VMBUS_HVSOCK_MTU))
                        abort();
                off += len;
        }
        return 0;
}
