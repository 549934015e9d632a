// SPDX-License-Identifier: MIT
/* GPADL_HEADER / GPADL_BODY / GPADL_TEARDOWN sequences (§4.5) against a
 * connected server with one open channel, plus a provider taking and
 * dropping references to the GPADLs meanwhile.
 *
 * Input: records of [kind][len][len bytes]. Headers and bodies take their
 * counts from the input; handles and relids are folded into small ranges
 * and PFNs into twice the guest RAM so that collisions, completions and
 * -EFAULT all happen often. Checks: no crash or sanitizer report, the
 * limits hold after every step, a provider's mapping is as long as the
 * GPADL says, nothing stays mapped (or leaks) at the end. */
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "hv/tlfs.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#define RAM_PAGES 512u
#define MAX_REFS 8u

static int fz_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        return 0;
}
static void fz_close(struct vmbus_channel *ch) {
}
static const struct vmbus_provider_ops fz_ops = {
        .name = "fuzz-gpadl",
        .class_id = GUID_INIT(0x0e0e0e0e, 0x1234, 0x5678, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78),
        .guest_max_packet = 4096, .drive = VMBUS_DRIVE_EVENTFD, .open = fz_open, .close = fz_close,
};
static const struct vmbus_limits fz_limits = { .max_gpadl_pages = 200, .max_gpadls_per_channel = 8,
                                               .max_gpadls = 12, .max_total_gpadl_pages = 400,
                                               .max_pending_gpadls = 3 };

struct fz {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct vmbus_channel *ch;
        struct vmbus_gpadl *refs[MAX_REFS];
};

static uint8_t byte_at(const uint8_t *p, size_t len, size_t off) {
        return off < len ? p[off] : 0;
}

/* Fields: [0] relid selector, [1] handle selector; header: [2..3]
 * range_buflen, [4] rangecount, [5..] range data; body: [2..] PFN data. */
static void post_gpadl_msg(struct fz *f, uint8_t kind, const uint8_t *p, size_t len) {
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES] = { 0 };
        uint32_t relid = 1u + byte_at(p, len, 0) % 3u, handle = 1u + byte_at(p, len, 1) % 6u;
        size_t n, from = len > 5 ? 5 : len;
        if (kind == 0) {
                struct vmbus_channel_gpadl_header h = {
                        .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid, .gpadl = handle,
                        .range_buflen = (uint16_t)(byte_at(p, len, 2) | byte_at(p, len, 3) << 8),
                        .rangecount = (uint16_t)(byte_at(p, len, 4) % 4u),
                };
                n = MIN(len - from, sizeof m - sizeof h);
                memcpy(m, &h, sizeof h);
                memcpy(m + sizeof h, p + from, n);
                n += sizeof h;
        } else if (kind == 1) {
                struct vmbus_channel_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = handle };
                from = len > 2 ? 2 : len;
                n = MIN(len - from, sizeof m - sizeof b);
                memcpy(m, &b, sizeof b);
                memcpy(m + sizeof b, p + from, n);
                n += sizeof b;
        } else {
                struct vmbus_channel_gpadl_teardown t = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
                                                          .child_relid = relid, .gpadl = handle };
                memcpy(m, &t, sizeof t);
                n = sizeof t;
        }
        /* Fold everything that looks like a PFN into twice the RAM. */
        for (size_t off = kind == 0 ? 28 : 16; kind < 2 && off + 8 <= n; off += 8) {
                uint64_t v;
                memcpy(&v, m + off, 8);
                v %= 2 * RAM_PAGES;
                memcpy(m + off, &v, 8);
        }
        (void)vmbus_sim_post(f->sim, 1, 0, m, n);
}

static void step(struct fz *f, uint8_t kind, const uint8_t *p, size_t len) {
        uint8_t m[VMBUS_MESSAGE_MAX_BYTES];
        switch (kind % 6) {
        case 0 ... 2:
                post_gpadl_msg(f, kind % 6, p, len);
                break;
        case 3: {
                unsigned slot = byte_at(p, len, 0) % MAX_REFS;
                if (!f->refs[slot] &&
                    vmbus_channel_gpadl_get(f->ch, 1u + byte_at(p, len, 1) % 6u, &f->refs[slot]) == 0) {
                        uint8_t *d;
                        size_t n;
                        if (vmbus_gpadl_buffer(f->refs[slot], 0, &d, &n) == 0)
                                d[n - 1] ^= 1; /* the mapping must be live and long enough */
                }
                break;
        }
        case 4: {
                unsigned slot = byte_at(p, len, 0) % MAX_REFS;
                vmbus_gpadl_put(f->refs[slot]);
                f->refs[slot] = NULL;
                break;
        }
        default:
                while (vmbus_sim_next_message(f->sim, NULL, m, sizeof m) >= 0)
                        ;
                break;
        }
        unsigned gpadls, pages;
        vmbus_server_gpadl_usage(f->srv, &gpadls, &pages);
        if (gpadls > fz_limits.max_gpadls || pages > fz_limits.max_total_gpadl_pages)
                __builtin_trap();
}

static int setup(struct fz *f) {
        if (vmbus_sim_new(RAM_PAGES * VMBUS_PAGE_SIZE, 1, &f->sim) < 0)
                return -1;
        struct vmbus_server_config cfg = { .vp_count = 1, .limits = fz_limits };
        if (vmbus_server_new(&cfg, &vmbus_sim_ops, f->sim, &f->srv) < 0)
                return -1;
        for (uint8_t i = 1; i <= 2; i++) {
                struct vmbus_device_config dc = { .ops = &fz_ops };
                dc.instance_id.b[0] = i;
                if (vmbus_server_add_device(f->srv, &dc, NULL) < 0)
                        return -1;
        }
        struct vmbus_channel_offer_channel o[2];
        struct vmbus_sim_channel ch;
        if (vmbus_sim_connect(f->sim, VERSION_WIN10_V5_3) != 1 || vmbus_sim_request_offers(f->sim, o, 2) != 2 ||
            vmbus_sim_open(f->sim, 1, o[0].connection_id, 2, NULL, 0, &ch) != 0)
                return -1;
        f->ch = vmbus_server_open_channel(f->srv, 1);
        return f->ch ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { 0 };
        if (setup(&f) == 0)
                while (size >= 2) {
                        size_t len = MIN((size_t)data[1], size - 2);
                        step(&f, data[0], data + 2, len);
                        data += 2 + len;
                        size -= 2 + len;
                }
        for (unsigned i = 0; i < MAX_REFS; i++)
                vmbus_gpadl_put(f.refs[i]);
        vmbus_server_free(f.srv);
        if (f.sim && vmbus_sim_live_mappings(f.sim) != 0)
                __builtin_trap();
        vmbus_sim_free(f.sim);
        return 0;
}
