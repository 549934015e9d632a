/* SPDX-License-Identifier: MIT */
/* What test-netvsp-state.c and test-netvsp-state-provider.c both write
 * into a netvsp_saved: completion records as the saver writes them. */
#pragma once

#include <string.h>

#include "common/vmstate.h"
#include "hv/nvsp.h"
#include "netvsp/netvsp.h"

/* A saved completion record (netvsp's state.c): the transaction id, the
 * message's length, the message. */
#define COMP_REC (16u + NVSP_MESSAGE_SIZE)

/* Completion records as the saver writes them, ids base, base + 1, ... */
static inline void put_comps(struct netvsp_saved *st, unsigned n, uint64_t base) {
        st->comps_len = n * COMP_REC;
        memset(st->comps, 0, st->comps_len);
        for (unsigned i = 0; i < n; i++) {
                uint8_t *r = st->comps + i * COMP_REC;
                vmstate_put_le64(r, base + i);
                vmstate_put_le32(r + 8, 8);
                vmstate_put_le32(r + 16, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
                vmstate_put_le32(r + 20, NVSP_STAT_SUCCESS);
        }
}
