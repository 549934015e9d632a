// SPDX-License-Identifier: MIT
/* Channel-management message sequences (§4) against the VMBus server with a
 * simulated guest, interleaved with what the host side may do at the same
 * time: hot add/remove, sub-channel offers, a full SynIC queue, reset.
 *
 * Input: records of [op][arg][len][len bytes]. Guest messages are posted
 * as given ("raw") or with a valid header and GPADL PFNs folded into guest
 * RAM ("shaped"), so the fuzzer reaches deep states quickly. Checks: no
 * crash or sanitizer report, the limits hold after every step, nothing is
 * left mapped once the server is freed. */
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "hv/tlfs.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"

#define RAM_PAGES 256u
#define MAX_DEVS 8u

static int fz_open(struct vmbus_channel *ch, const struct vmbus_open_request *req) {
        return req->userdata[0] == 0xee ? -EIO : 0; /* let the input fail an open */
}
static void fz_close(struct vmbus_channel *ch) {
}

static const struct vmbus_provider_ops fz_ops = {
        .name = "fuzz",
        .class_id = GUID_INIT(0x0f0f0f0f, 0x1234, 0x5678, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78),
        .guest_max_packet = 4096, .max_subchannels = 4, .drive = VMBUS_DRIVE_EVENTFD,
        .open = fz_open, .close = fz_close,
};

static const struct vmbus_limits fz_limits = { .max_channels = 24, .max_gpadl_pages = 300, .max_gpadls_per_channel = 6,
                                               .max_gpadls = 32, .max_total_gpadl_pages = 600, .max_pending_gpadls = 4 };

struct fz {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct vmbus_device *dev[MAX_DEVS];
        unsigned next_instance;
};

static void add_device(struct fz *f, unsigned slot) {
        if (f->dev[slot])
                return;
        struct vmbus_device_config cfg = { .ops = &fz_ops };
        f->next_instance++;
        memcpy(cfg.instance_id.b, &f->next_instance, sizeof f->next_instance);
        if (vmbus_server_add_device(f->srv, &cfg, &f->dev[slot]) < 0)
                f->dev[slot] = NULL;
}

/* PFN fields of GPADL messages folded into (twice) the RAM size. */
static void shape_pfns(uint8_t *m, size_t len, size_t from) {
        for (size_t off = from; off + 8 <= len; off += 8) {
                uint64_t v;
                memcpy(&v, m + off, 8);
                v %= 2 * RAM_PAGES;
                memcpy(m + off, &v, 8);
        }
}

static void post_message(struct fz *f, uint8_t arg, const uint8_t *p, size_t len) {
        static const uint32_t conn_ids[] = { 1, 4, 1, 2 };
        uint8_t m[256] = { 0 };
        size_t n = MIN(len, sizeof m);
        memcpy(m, p, n);
        if (!(arg & 0x80) && n >= 1) { /* shaped: type byte, then the body after a header */
                uint32_t type = m[0] % (CHANNELMSG_COUNT + 1);
                n = MIN(n, sizeof m - 7);
                memmove(m + 8, m + 1, n - 1);
                memset(m, 0, 8);
                memcpy(m, &type, 4);
                n = MIN(n + 7, (size_t)VMBUS_MESSAGE_MAX_BYTES);
                if (type == CHANNELMSG_GPADL_HEADER)
                        shape_pfns(m, n, 28);
                else if (type == CHANNELMSG_GPADL_BODY)
                        shape_pfns(m, n, 16);
        }
        (void)vmbus_sim_post(f->sim, conn_ids[arg & 3], (arg >> 2) & 1, m, n);
}

static void check_limits(struct fz *f) {
        unsigned gpadls, pages;
        vmbus_server_gpadl_usage(f->srv, &gpadls, &pages);
        if (gpadls > fz_limits.max_gpadls || pages > fz_limits.max_total_gpadl_pages)
                __builtin_trap();
}

static void step(struct fz *f, uint8_t op, uint8_t arg, const uint8_t *p, size_t len) {
        uint8_t m[240];
        switch (op % 10) {
        case 0 ... 4:
                post_message(f, arg, p, len);
                break;
        case 5:
                add_device(f, arg % MAX_DEVS);
                break;
        case 6:
                if (f->dev[arg % MAX_DEVS] && vmbus_server_remove_device(f->srv, f->dev[arg % MAX_DEVS]) == 0)
                        f->dev[arg % MAX_DEVS] = NULL;
                break;
        case 7:
                if (f->dev[arg % MAX_DEVS])
                        (void)vmbus_device_offer_subchannels(f->dev[arg % MAX_DEVS], arg >> 4);
                break;
        case 8:
                vmbus_sim_set_queue_limit(f->sim, arg & 0xf);
                (void)vmbus_server_dispatch(f->srv);
                break;
        default:
                if (arg == 0xff)
                        vmbus_server_reset(f->srv);
                while (vmbus_sim_next_message(f->sim, NULL, m, sizeof m) >= 0)
                        ;
                break;
        }
        if (vmbus_sim_pending_messages(f->sim) > 4096)
                while (vmbus_sim_next_message(f->sim, NULL, m, sizeof m) >= 0)
                        ;
        check_limits(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { 0 };
        if (vmbus_sim_new(RAM_PAGES * VMBUS_PAGE_SIZE, 2, &f.sim) < 0)
                return 0;
        struct vmbus_server_config cfg = { .vp_count = 2, .limits = fz_limits };
        if (vmbus_server_new(&cfg, &vmbus_sim_ops, f.sim, &f.srv) < 0) {
                vmbus_sim_free(f.sim);
                return 0;
        }
        for (unsigned i = 0; i < 3; i++)
                add_device(&f, i);
        while (size >= 3) {
                uint8_t op = data[0], arg = data[1];
                size_t len = MIN((size_t)data[2], size - 3);
                step(&f, op, arg, data + 3, len);
                data += 3 + len;
                size -= 3 + len;
        }
        vmbus_server_free(f.srv);
        if (vmbus_sim_live_mappings(f.sim) != 0)
                __builtin_trap();
        vmbus_sim_free(f.sim);
        return 0;
}
