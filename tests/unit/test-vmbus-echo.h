/* SPDX-License-Identifier: MIT */
/* Shared by tests/unit/test-vmbus-quiesce.c and test-vmbus-state.c: the
 * guest's side of the echo provider (vmbustest/echo.h) on a simulated channel,
 * a numbered packet written and its echoes read back in order; the host's
 * quiesce and resume of a server and its echo devices in vmwp's order. */
#pragma once

#include <stdint.h>
#include <string.h>

#include "common/test.h"
#include "hv/vmbus.h"
#include "vmbus/server.h"
#include "vmbustest/echo.h"
#include "vmbustest/sim.h"

#define ECHO_PAYLOAD 200u

/* A packet whose trans_id is id and whose payload is id's low byte. */
static inline void echo_put(struct vmbus_sim *sim, struct vmbus_sim_channel *ch, uint64_t id) {
        uint8_t msg[ECHO_PAYLOAD];
        memset(msg, (int)(id & 0xff), sizeof msg);
        ASSERT_OK(vmbus_sim_ring_write(sim, ch, VM_PKT_DATA_INBAND, 0, id, msg, sizeof msg));
}

/* The echoes of ids first..last, in order, each whole; then, with
 * quiet_ms > 0, nothing more for that long (no echo doubled). */
static inline void echo_expect(struct vmbus_sim *sim, struct vmbus_sim_channel *ch, uint64_t first, uint64_t last,
                               int quiet_ms) {
        static uint8_t buf[1024];
        struct vmbus_packet p;
        for (uint64_t id = first; id <= last; id++) {
                ASSERT_GT(vmbus_sim_ring_wait(sim, ch, buf, sizeof buf, &p, 5000), 0);
                ASSERT_EQ(p.type, VM_PKT_DATA_INBAND);
                ASSERT_EQ(p.trans_id, id);
                ASSERT_EQ(vmbus_packet_payload_len(&p), ECHO_PAYLOAD);
                ASSERT_EQ(((const uint8_t *)vmbus_packet_payload(&p))[ECHO_PAYLOAD - 1], (uint8_t)(id & 0xff));
        }
        if (quiet_ms > 0)
                ASSERT_EQ(vmbus_sim_ring_wait(sim, ch, buf, sizeof buf, &p, quiet_ms), -ETIMEDOUT);
}

/* As vmwp walks its device rows (docs/vm-state.md): the providers'
 * workers are quiesced before the server (last row first) and resumed
 * after it, so the server's held messages go out before what a resumed
 * provider posts. */
static inline void echo_rig_quiesce(struct vmbus_server *srv, struct vmbus_echo *echo, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                ASSERT_OK(vmbus_echo_quiesce(&echo[i]));
        ASSERT_OK(vmbus_server_quiesce(srv));
}

static inline void echo_rig_resume(struct vmbus_server *srv, struct vmbus_echo *echo, unsigned n) {
        vmbus_server_resume(srv);
        for (unsigned i = 0; i < n; i++)
                vmbus_echo_resume(&echo[i]);
}
