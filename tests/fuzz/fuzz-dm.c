// SPDX-License-Identifier: MIT
/* Dynamic Memory's guest-facing parsers (vsp/dm): any bytes as a guest
 * message (whatever parses stays inside the bytes given and within the
 * protocol's bounds); the input again as guest ranges applied to the
 * ballooned-page map (pages are marked only inside usable RAM, never
 * twice, and what is given back was marked); the input as the device's
 * and the channel's saved-state sections (what decodes is in range). */
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "dmvsp/dmvsp.h"
#include "hv/dm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rd64(const uint8_t *p) {
        return vmstate_le64(p);
}

static void message(const uint8_t *data, size_t size) {
        struct dm_guest_msg m;
        if (dm_parse_guest(data, size, &m) < 0)
                return;
        if (m.type == DM_BALLOON_RESPONSE) {
                if (m.n_ranges > DM_RANGES_PER_MESSAGE || m.ranges != data + sizeof(struct dm_balloon_response) ||
                    sizeof(struct dm_balloon_response) + 8u * m.n_ranges > size)
                        abort();
                for (uint32_t i = 0; i < m.n_ranges; i++)
                        (void)dm_guest_msg_range(&m, i);
        }
        if (m.type != DM_VERSION_REQUEST && m.type != DM_CAPABILITIES_REPORT && m.type != DM_STATUS_REPORT &&
            m.type != DM_BALLOON_RESPONSE && m.type != DM_UNBALLOON_RESPONSE && m.type != DM_MEM_HOT_ADD_RESPONSE)
                abort();
}

/* Small regions so that inputs hit their edges: 8 MiB at 0, 4 MiB at
 * 16 MiB, a 32 MiB window at 4 GiB. */
static const struct dmvsp_region regions[] = { { 0, 2048 }, { 4096, 1024 }, { 0x100000, 8192 } };

static bool marked_ok(const struct dm_pages *p) {
        uint64_t n = 0;
        for (size_t i = 0; i < p->n; i++)
                for (uint64_t w = 0; w < (p->r[i].pages + 63) / 64; w++)
                        n += (uint64_t)__builtin_popcountll(p->r[i].bits[w]);
        return n == p->total;
}

static void pages(const uint8_t *data, size_t size) {
        struct dm_pages p;
        if (dm_pages_init(&p, regions, 3) < 0)
                abort();
        dm_pages_set_usable(&p, 2, 0);
        for (size_t off = 0; off + 9 <= size; off += 9) {
                uint8_t op = data[off] % 3;
                uint64_t v = rd64(data + off + 1);
                if (op == 0) {
                        uint64_t before = p.total, pfn = DM_RANGE_START(v), n = DM_RANGE_COUNT(v) & 0xfff;
                        int r = dm_pages_take(&p, pfn, n);
                        if (p.total != (r == 0 ? before + n : before) || (r == 0 && n == 0))
                                abort();
                } else if (op == 1) {
                        uint64_t ranges[16];
                        size_t nr;
                        uint64_t before = p.total, want = v & 0xffff;
                        uint64_t got = dm_pages_give(&p, want, ranges, 16, &nr);
                        uint64_t sum = 0;
                        for (size_t i = 0; i < nr; i++) {
                                sum += DM_RANGE_COUNT(ranges[i]);
                                /* given back: now free, so taking it again works */
                                if (dm_pages_take(&p, DM_RANGE_START(ranges[i]), DM_RANGE_COUNT(ranges[i])) < 0)
                                        abort();
                        }
                        if (got > want || sum != got || p.total != before || nr > 16)
                                abort();
                } else {
                        /* the window only grows (hot-added memory) */
                        dm_pages_set_usable(&p, 2, MAX(p.r[2].usable, v & 0x3fff));
                }
                if (!marked_ok(&p))
                        abort();
        }
        dm_pages_free(&p);
}

static int count_range(void *opaque, uint64_t pfn, uint64_t n) {
        struct dm_pages *p = opaque;
        return dm_pages_take(p, pfn, n);
}

static void state(const uint8_t *data, size_t size) {
        struct vmstate_section s = { .tag = DMVSP_DEVICE_STATE_TAG, .version = 1, .payload = data, .length = size };
        struct dmvsp_device_state st;
        struct dm_pages p;
        char err[256];
        if (dm_pages_init(&p, regions, 3) < 0)
                abort();
        if (dmvsp_device_state_decode(&s, &st, count_range, &p, err, sizeof err) == 0 &&
            (st.hot_add_ready < st.hot_added || !marked_ok(&p)))
                abort();
        dm_pages_free(&p);
        s.tag = DMVSP_CHANNEL_STATE_TAG;
        struct dmvsp_channel_state cs;
        if (dmvsp_channel_state_decode(&s, &cs, err, sizeof err) == 0 &&
            (cs.op > DMVSP_OP_HOT_ADD || cs.op_done > cs.op_pages || (cs.op && !cs.caps_done) ||
             (cs.late_hot_add && (!cs.caps_done || cs.op == DMVSP_OP_HOT_ADD))))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        message(data, size);
        pages(data, size);
        state(data, size);
        return 0;
}
