// SPDX-License-Identifier: MIT
/* Fuzz the storvsc side of storvsp: the packet parser and the channel core.
 * Each input is a sequence of packets, [u16 le length][bytes], fed to a
 * fresh controller/channel whose guest memory is a 64 KiB arena and whose
 * LUN 0 is a small image file; with bit 0 of the first byte set the harness
 * does the init handshake first, so inputs reach SRB execution directly.
 * Checks: no crash or sanitizer report, every reply <= 80 bytes, every
 * request in flight completes, nothing outside the arena is mapped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/vmbus.h"
#include "storvsp/protocol.h"
#include "storvsp/storvsp.h"
#include "tests/fuzz/fuzz-check.h"

#define ARENA (64u * 1024u)

static uint8_t arena[ARENA] __attribute__((aligned(4096)));
static char image[64];

static int arena_map(void *opaque, uint64_t gpa, size_t len, void **host) {
        (void)opaque;
        if (gpa >= ARENA || len > ARENA - gpa)
                return -EFAULT;
        *host = arena + gpa;
        return 0;
}

static void remove_image(void) {
        unlink(image);
}

static void make_image(void) {
        if (image[0])
                return;
        atexit(remove_image);
        snprintf(image, sizeof image, "/tmp/fuzz-storvsc-%d.img", (int)getpid());
        int fd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0 && ftruncate(fd, 256 * 1024) == 0);
        close(fd);
}

static void handshake(struct storvsp_channel *ch) {
        static const uint32_t ops[] = { VSTOR_OPERATION_BEGIN_INITIALIZATION, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION,
                                        VSTOR_OPERATION_QUERY_PROPERTIES, VSTOR_OPERATION_END_INITIALIZATION };
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
                uint8_t p[80] = { 0 };
                struct vmpacket_descriptor d = { VM_PKT_DATA_INBAND, 2, 10, 1, VMBUS_RQST_INIT };
                struct vstor_packet v = { .operation = ops[i], .flags = 1 };
                v.version.major_minor = VMSTOR_PROTO_VERSION_WIN10;
                memcpy(p, &d, 16);
                memcpy(p + 16, &v, 64);
                struct storvsp_reply r;
                CHECK(storvsp_channel_handle(ch, p, sizeof p, &r) == STORVSP_REPLY);
        }
}

static void drain(struct storvsp_channel *ch) {
        struct storvsp_reply r[16];
        CHECK(storvsp_channel_submit(ch) >= 0);
        while (storvsp_channel_inflight(ch) > 0) {
                int n = storvsp_channel_reap(ch, r, 16, 1);
                CHECK(n >= 0);
                for (int i = 0; i < n; i++)
                        CHECK(r[i].len > 0 && r[i].len <= STORVSC_MAX_PKT_SIZE);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        if (size < 1)
                return 0;
        make_image();
        struct storvsp_controller *c;
        struct storvsp_controller_config cfg = { .max_transfer_bytes = 64 * 1024, .max_sub_channels = 2,
                                                 .queue_depth = 8 };
        CHECK(storvsp_controller_new(&cfg, &c) == 0);
        struct disk_options o = { .path = image, .fd = -1, .block_size = (in[0] & 2) ? 4096 : 512,
                                  .no_lock = true, .read_only = in[0] & 4 };
        struct disk *d;
        CHECK(disk_open(&o, &d) == 0);
        CHECK(storvsp_controller_attach(c, 0, d, NULL) == 0);
        disk_unref(d);
        struct storvsp_guest_memory gm = { arena_map, NULL };
        struct storvsp_channel *ch;
        CHECK(storvsp_channel_new(c, 0, &gm, &ch) == 0);
        if (in[0] & 1)
                handshake(ch);

        static uint8_t pkt[4096] __attribute__((aligned(8)));
        for (size_t off = 1; off + 2 <= size;) {
                size_t len = (size_t)in[off] | (size_t)in[off + 1] << 8;
                off += 2;
                if (len > sizeof pkt || len > size - off)
                        len = size - off < sizeof pkt ? size - off : sizeof pkt;
                memcpy(pkt, in + off, len);
                off += len;
                struct storvsp_reply r;
                int k = storvsp_channel_handle(ch, pkt, len, &r);
                CHECK(k == -EBUSY || k == -EBADMSG || (k >= STORVSP_NONE && k <= STORVSP_QUEUED));
                if (k == STORVSP_REPLY)
                        CHECK(r.len > 0 && r.len <= STORVSC_MAX_PKT_SIZE && r.new_sub_channels <= 2);
                if (k == -EBUSY)
                        drain(ch);
        }
        drain(ch);
        storvsp_channel_free(ch);
        storvsp_controller_free(c);
        return 0;
}
