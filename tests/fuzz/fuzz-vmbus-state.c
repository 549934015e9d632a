// SPDX-License-Identifier: MIT
/* The VMBus server's saved-state sections (vmbus/state.h "VBSV", "VBCH",
 * "VBGP") and the echo provider's ("VBEC", vmbustest/echo.h): a state file is
 * indexed and each section goes through its pure decoder, as
 * vmbus_server_restore does before it applies anything; the input is also
 * taken as each section's payload (random bytes rarely get past the file's
 * CRCs). What a decoder accepts must be what a restore can apply without
 * checking the same things again (held messages framed within the buffer,
 * a complete GPADL's ranges parsing, ring fields only on an open channel),
 * and must encode back to a section that decodes to the same struct. */
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "tests/fuzz/fuzz-check.h"
#include "tests/lib/vmstate-roundtrip.h"
#include "vmbus/provider.h"
#include "vmbus/state.h"
#include "vmbustest/echo.h"

static int decode_server(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return vmbus_server_state_decode(s, out, err, errlen);
}

static int decode_channel(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return vmbus_channel_state_decode(s, out, err, errlen);
}

static int decode_gpadl(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return vmbus_gpadl_state_decode(s, out, err, errlen);
}

static int decode_echo(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return vmbus_echo_state_decode(s, out, err, errlen);
}

struct held_sum {
        size_t bytes;
        int n;
};

static void held_one(void *opaque, uint32_t vp, const uint8_t *msg, uint32_t len) {
        struct held_sum *h = opaque;
        CHECK(len >= sizeof(struct vmbus_channel_message_header) && len <= VMBUS_MESSAGE_MAX_BYTES);
        h->bytes += 8 + ALIGN_UP((size_t)len, 8);
        h->n++;
}

static void check_server(const struct vmstate_section *s, struct vmbus_saved_server *st) {
        char err[256];
        if (vmbus_server_state_decode(s, st, err, sizeof err) < 0)
                return;
        CHECK(st->conn <= VMBUS_STATE_CONNECTED && st->n_channels <= VMBUS_CHANNEL_MAX_RELID);
        CHECK(st->conn == VMBUS_STATE_CONNECTED || (!st->version && !st->offers_requested && !st->n_gpadls));
        struct held_sum h = { 0 };
        int n = vmbus_state_held_walk(st, held_one, &h);
        CHECK(n == h.n && h.bytes == st->held_len);
        CHECK(vmstate_test_round_trip(&vmbus_server_state_desc, 0, st, sizeof *st, decode_server));
}

static void check_channel(const struct vmstate_section *s) {
        struct vmbus_saved_channel st;
        char err[256];
        if (vmbus_channel_state_decode(s, &st, err, sizeof err) < 0)
                return;
        CHECK(s->instance >= 1 && s->instance <= VMBUS_CHANNEL_MAX_RELID);
        CHECK(st.state <= VMBUS_STATE_CH_RELEASED && st.sub_index <= VMBUS_MAX_SUBCHANNELS);
        CHECK(st.has_device == (st.state != VMBUS_STATE_CH_RESCINDED));
        if (st.state == VMBUS_STATE_CH_OPEN)
                CHECK(st.ring_gpadl && st.ring_send_pages >= 2);
        else
                CHECK(!st.ring_gpadl && !st.ring_send_pages && !st.target_vp && !st.openid && !st.dead);
        CHECK(vmstate_test_round_trip(&vmbus_channel_state_desc, s->instance, &st, sizeof st, decode_channel));
}

static void check_gpadl(const struct vmstate_section *s, struct vmbus_saved_gpadl *st) {
        char err[256];
        if (vmbus_gpadl_state_decode(s, st, err, sizeof err) < 0)
                return;
        CHECK(s->instance && st->relid >= 1 && st->relid <= VMBUS_CHANNEL_MAX_RELID);
        CHECK(st->rangecount && st->buflen % 8 == 0 && st->buflen >= 16u * st->rangecount);
        CHECK(st->buflen <= VMBUS_STATE_GPADL_BYTES && st->filled <= st->buflen);
        CHECK((st->state == VMBUS_STATE_GPADL_PENDING) == (st->filled < st->buflen));
        if (st->state != VMBUS_STATE_GPADL_PENDING) {
                /* What the restore's apply parses again: it must parse. */
                size_t max_pages = st->buflen / 8 - st->rangecount, n_pages = 0;
                /* Each range: 8 bytes of header, then PFNs up to the end. */
                uint32_t pos = 0;
                for (unsigned i = 0; i < st->rangecount; i++) {
                        CHECK(st->buflen - pos >= 16);
                        uint32_t count = vmstate_le32(st->buf + pos), offset = vmstate_le32(st->buf + pos + 4);
                        uint64_t n = DIV_ROUND_UP((uint64_t)offset + count, 4096u);
                        CHECK(count && offset < 4096 && n && n * 8 <= st->buflen - pos - 8);
                        pos += 8 + (uint32_t)n * 8;
                        n_pages += n;
                }
                CHECK(pos == st->buflen && n_pages <= max_pages);
        }
        CHECK(vmstate_test_round_trip(&vmbus_gpadl_state_desc, s->instance, st, sizeof *st, decode_gpadl));
}

static void check_echo(const struct vmstate_section *s, struct vmbus_echo_state *st) {
        char err[256];
        if (vmbus_echo_state_decode(s, st, err, sizeof err) < 0)
                return;
        CHECK(st->offset <= st->len && st->len <= sizeof st->data);
        CHECK(st->holding || (!st->len && !st->type && !st->flags && !st->trans_id));
        CHECK(vmstate_test_round_trip(&vmbus_echo_state_desc, s->instance, st, sizeof *st, decode_echo));
}

static void check_section(const struct vmstate_section *s, struct vmbus_saved_server *sv,
                          struct vmbus_saved_gpadl *gp, struct vmbus_echo_state *ec) {
        switch (s->tag) {
        case VMBUS_STATE_TAG_SERVER:
                check_server(s, sv);
                break;
        case VMBUS_STATE_TAG_CHANNEL:
                check_channel(s);
                break;
        case VMBUS_STATE_TAG_GPADL:
                check_gpadl(s, gp);
                break;
        case VMBUS_ECHO_STATE_TAG:
                check_echo(s, ec);
                break;
        default:
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct vmstate_section secs[VMSTATE_SECTIONS_MAX];
        struct vmbus_saved_server *sv = malloc(sizeof *sv);
        struct vmbus_saved_gpadl *gp = malloc(sizeof *gp);
        struct vmbus_echo_state *ec = malloc(sizeof *ec);
        CHECK(sv && gp && ec);
        static const uint32_t tags[] = { VMBUS_STATE_TAG_SERVER, VMBUS_STATE_TAG_CHANNEL, VMBUS_STATE_TAG_GPADL,
                                         VMBUS_ECHO_STATE_TAG };
        for (size_t i = 0; i < ARRAY_SIZE(tags); i++) {
                /* instance 1: a relid and a GPADL handle the decoders accept */
                struct vmstate_section raw = { .tag = tags[i], .instance = 1, .version = 1, .payload = data,
                                               .length = size };
                check_section(&raw, sv, gp, ec);
        }
        struct vmstate_header h;
        char err[256];
        int n = vmstate_index(data, size, &h, secs, VMSTATE_SECTIONS_MAX, err, sizeof err);
        for (int i = 0; i < n; i++)
                check_section(&secs[i], sv, gp, ec);
        free(sv);
        free(gp);
        free(ec);
        return 0;
}
