// SPDX-License-Identifier: MIT
/* The device sections of a saved state (docs/saved-state.md): the VMBus
 * server's (VBSV, VBCH, VBGP) and the echo provider's (VBEC), the
 * integration services' (ICCH, ICKV), storvsp's (STCT, STCH), netvsp's
 * (NVCH) and the emulated devices' (RTC, KBC). The input is taken as the
 * payload of each kind and goes through its pure decoder, as a restore
 * does before it applies anything; what a decoder accepts must encode back
 * to a section that decodes the same, and hold the invariants the apply
 * steps rely on without checking again. */
#include <stdlib.h>
#include <string.h>

#include "emu/state.h"
#include "hv/ic.h"
#include "icvsp/icvsp.h"
#include "netvsp/netvsp.h"
#include "storvsp/provider.h"
#include "tests/fuzz/fuzz-check.h"
#include "tests/lib/vmstate-roundtrip.h"
#include "vmbus/state.h"
#include "vmbustest/echo.h"

typedef int (*decode_fn)(const struct vmstate_section *s, void *out, char *err, size_t errlen);

#define DECODER(name, fn, type)                                                                   \
        static int name(const struct vmstate_section *s, void *out, char *err, size_t errlen) {   \
                return fn(s, (type *)out, err, errlen);                                           \
        }
DECODER(d_server, vmbus_server_state_decode, struct vmbus_saved_server)
DECODER(d_channel, vmbus_channel_state_decode, struct vmbus_saved_channel)
DECODER(d_gpadl, vmbus_gpadl_state_decode, struct vmbus_saved_gpadl)
DECODER(d_echo, vmbus_echo_state_decode, struct vmbus_echo_state)
DECODER(d_icch, icvsp_channel_state_decode, struct icvsp_channel_state)
DECODER(d_ickv, icvsp_kvp_state_decode, struct icvsp_kvp_state)
DECODER(d_stct, storvsp_controller_state_decode, struct storvsp_controller_state)
DECODER(d_stch, storvsp_channel_state_decode, struct storvsp_channel_state)
DECODER(d_nvch, netvsp_saved_decode, struct netvsp_saved)
DECODER(d_rtc, rtc_state_decode, struct rtc_state)
DECODER(d_kbc, i8042_state_decode, struct i8042_state)
DECODER(d_ide, ide_channel_state_decode, struct ide_channel_state)
DECODER(d_piix, piix_state_decode, struct piix_state)

static const struct kind {
        const struct vmstate_desc *desc;
        decode_fn decode;
        size_t size;
} kinds[] = {
        { &vmbus_server_state_desc, d_server, sizeof(struct vmbus_saved_server) },
        { &vmbus_channel_state_desc, d_channel, sizeof(struct vmbus_saved_channel) },
        { &vmbus_gpadl_state_desc, d_gpadl, sizeof(struct vmbus_saved_gpadl) },
        { &vmbus_echo_state_desc, d_echo, sizeof(struct vmbus_echo_state) },
        { &icvsp_channel_state_desc, d_icch, sizeof(struct icvsp_channel_state) },
        { &icvsp_kvp_state_desc, d_ickv, sizeof(struct icvsp_kvp_state) },
        { &storvsp_controller_state_desc, d_stct, sizeof(struct storvsp_controller_state) },
        { &storvsp_channel_state_desc, d_stch, sizeof(struct storvsp_channel_state) },
        { &netvsp_saved_desc, d_nvch, sizeof(struct netvsp_saved) },
        { &rtc_state_desc, d_rtc, sizeof(struct rtc_state) },
        { &i8042_state_desc, d_kbc, sizeof(struct i8042_state) },
        { &ide_channel_state_desc, d_ide, sizeof(struct ide_channel_state) },
        { &piix_state_desc, d_piix, sizeof(struct piix_state) },
};

/* NVCH: what netvsp_dev_restore and netvsp_rxbuf_restore take for granted:
 * the completion queue holds the saved completions and the stalled send's;
 * every receive slot the guest holds or that waits unannounced is in range
 * and named once; each posted id names its batch's first slot; the batch
 * lengths add up (in 64 bits) to the slots given. */
static void nvch_accepted(const struct netvsp_saved *s) {
        CHECK(s->rx_batch_n <= NETVSP_RX_BATCH_MAX && s->rx_batch_n == s->rx_batch_bytes_n);
        CHECK(s->n_posted == s->n_posted_len && s->n_posted_slots <= NETVSP_RXBUF_MAX_SLOTS);
        CHECK(s->rss_table_len <= NDIS_RSS_INDIRECTION_MAX_ENTRIES);
        CHECK(s->comps_len % (16u + NVSP_MESSAGE_SIZE) == 0);
        CHECK(s->comps_len / (16u + NVSP_MESSAGE_SIZE) + s->stall_comp <= NETVSP_COMP_QUEUE);
        if (!s->recv_buf) {
                CHECK(s->n_posted == 0 && s->n_posted_slots == 0 && s->rx_batch_n == 0);
                return;
        }
        CHECK(s->recv_slots > 0 && s->recv_slots <= NETVSP_RXBUF_MAX_SLOTS);
        static uint8_t used[NETVSP_RXBUF_MAX_SLOTS];
        memset(used, 0, s->recv_slots);
        uint64_t k = 0;
        for (uint32_t b = 0; b < s->n_posted; b++) {
                CHECK(s->posted_len[b] > 0 && s->posted_tid[b] >> 32 != 0);
                CHECK(k + s->posted_len[b] <= s->n_posted_slots);
                CHECK(s->posted_slots[k] == (uint32_t)s->posted_tid[b]);
                for (uint32_t i = 0; i < s->posted_len[b]; i++, k++) {
                        CHECK(s->posted_slots[k] < s->recv_slots && !used[s->posted_slots[k]]);
                        used[s->posted_slots[k]] = 1;
                }
        }
        CHECK(k == s->n_posted_slots);
        for (uint32_t i = 0; i < s->rx_batch_n; i++) {
                CHECK(s->rx_batch_slot[i] < s->recv_slots && !used[s->rx_batch_slot[i]]);
                CHECK(s->rx_batch_bytes[i] <= s->recv_slot_size);
                used[s->rx_batch_slot[i]] = 1;
        }
}

/* What the apply steps take for granted once a decoder said yes. */
static void accepted(const struct kind *k, const void *st) {
        if (k->decode == d_kbc) {
                const struct i8042_state *s = st;
                CHECK(s->cq_len <= I8042_CTRL_QUEUE && s->kq_len <= I8042_KBD_QUEUE);
        } else if (k->decode == d_rtc) {
                const struct rtc_state *s = st;
                uint8_t b = s->cmos[0x0b], c = s->cmos[0x0c];
                bool due = ((c & RTC_C_PF) && (b & RTC_B_PIE)) || ((c & RTC_C_AF) && (b & RTC_B_AIE)) ||
                           ((c & RTC_C_UF) && (b & RTC_B_UIE));
                CHECK(s->index < RTC_CMOS_SIZE && s->guest_nsec < 1000000000u);
                CHECK(!(s->cmos[0x0a] & RTC_A_UIP) && !(c & 0x0f) && s->cmos[0x0d] == RTC_D_VRT);
                CHECK(s->irq_level == !!(c & RTC_C_IRQF) && (!(c & RTC_C_IRQF) || due));
                CHECK(s->periodic_ns <= RTC_STATE_NS_MAX && s->epoch_ns <= RTC_STATE_NS_MAX);
                CHECK((int64_t)s->guest_sec <= RTC_STATE_SEC_MAX && (int64_t)s->guest_sec >= -RTC_STATE_SEC_MAX);
        } else if (k->decode == d_server) {
                CHECK(vmbus_state_held_walk(st, NULL, NULL) >= 0);
        } else if (k->decode == d_gpadl) {
                const struct vmbus_saved_gpadl *s = st;
                CHECK(s->filled <= s->buflen && s->buflen <= VMBUS_STATE_GPADL_BYTES && s->rangecount > 0);
        } else if (k->decode == d_icch) {
                const struct icvsp_channel_state *s = st;
                CHECK(s->held_len <= ICVSP_HELD_MAX && s->service <= 5); /* shutdown .. file copy */
                /* Versions only from a negotiation; the outstanding request's
                 * id the last one given out; held only what could be held. */
                if (s->negotiated)
                        CHECK(s->fw_major && s->msg_major);
                else
                        CHECK(!s->fw_major && !s->fw_minor && !s->msg_major && !s->msg_minor && !s->held);
                if (s->outstanding)
                        CHECK(s->outstanding_id != 0 && s->outstanding_id == s->next_id);
                if (s->held) /* shutdown and VSS requests; a file copy never goes with a state */
                        CHECK(!s->outstanding && (s->service == 0 || s->service == 4) && s->held_len > 0);
                if (s->service == 5)
                        CHECK(!s->outstanding || s->outstanding_type == ICMSGTYPE_NEGOTIATE);
                if (s->negotiate_held)
                        CHECK(!s->negotiated && !s->outstanding);
                CHECK(s->ts_flags_sent <= ICTIMESYNCFLAG_SAMPLE && s->hb_state <= ICVSP_HEARTBEAT_LOST);
                if (s->service != 3)
                        CHECK(s->kvp_pushing == UINT32_MAX && !s->kvp_scanning && !s->kvp_scan_pool && !s->kvp_index);
        } else if (k->decode == d_nvch) {
                nvch_accepted(st);
        } else if (k->decode == d_ide) {
                const struct ide_channel_state *s = st;
                bool pio = s->phase == 1 || s->phase == 2; /* PIO in, PIO out */
                CHECK(s->pos <= s->drq_end && s->drq_end <= s->buf_len && s->fill <= s->buf_len &&
                      s->buf_len <= IDE_STATE_BUF_BYTES && s->cur < 2 && s->chunk <= 65536u);
                /* What ide_want_again and the data port use stays in the buffer. */
                if (s->phase == 2 || (s->phase == 1 && s->io_wanted))
                        CHECK(s->chunk <= IDE_BUF_SECTORS && (s->phase == 1 || s->chunk * 512u <= s->buf_len));
                if (s->phase == 1)
                        CHECK(s->drq_end <= s->fill);
                for (unsigned d = 0; d < 2; d++) {
                        uint8_t v = s->drv_status[d];
                        CHECK(!((v & ATA_STAT_BSY) && (v & ATA_STAT_DRQ)));
                        if ((v & ATA_STAT_DRQ) && !s->in_reset)
                                CHECK(d == s->cur && pio && !s->io_wanted && s->pos < s->drq_end);
                }
                if (!s->in_reset && (s->io_wanted || s->phase >= 3))
                        CHECK(s->drv_status[s->cur] & ATA_STAT_BSY);
        } else if (k->decode == d_stct) {
                const struct storvsp_controller_state *s = st;
                for (uint32_t i = 0; i < s->n_luns; i++)
                        CHECK(s->lun[i] < STORVSP_STATE_LUNS);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[256];
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
                const struct kind *k = &kinds[i];
                struct vmstate_section raw = { .tag = k->desc->tag, .instance = 1, .version = 1, .payload = data,
                                               .length = size };
                void *st = calloc(1, k->size);
                CHECK(st);
                if (k->decode(&raw, st, err, sizeof err) == 0) {
                        accepted(k, st);
                        CHECK(vmstate_test_round_trip(k->desc, 1, st, k->size, k->decode));
                }
                free(st);
        }
        return 0;
}
