/* SPDX-License-Identifier: MIT */
/* icvsp_new on a loaded host: its thread ticks every ICVSP_TICK_MS from the
 * moment it starts, and a stall in the constructor (CI's fuzz stage at nice
 * 19 beside QEMU found one) lets that tick run before the last device is
 * added. The link wraps vmbus_server_add_device (tests/CMakeLists.txt) so
 * that each add stalls past a tick: every service's tick must then find its
 * state (the file-copy tick read a NULL struct ic_fcopy before the fix). */
#include <time.h>

#include "test-icvsp-harness.h"

int __real_vmbus_server_add_device(struct vmbus_server *srv, const struct vmbus_device_config *cfg,
                                   struct vmbus_device **out);
int __wrap_vmbus_server_add_device(struct vmbus_server *srv, const struct vmbus_device_config *cfg,
                                   struct vmbus_device **out);

static unsigned stall_ms;
static unsigned adds;

int __wrap_vmbus_server_add_device(struct vmbus_server *srv, const struct vmbus_device_config *cfg,
                                   struct vmbus_device **out) {
        adds++;
        if (stall_ms)
                nanosleep(&(struct timespec){ .tv_sec = stall_ms / 1000, .tv_nsec = (stall_ms % 1000) * 1000000L },
                          NULL);
        return __real_vmbus_server_add_device(srv, cfg, out);
}

TEST(every_service_ticks_while_the_constructor_stalls) {
        struct icvsp_config c = env_config();
        c.shutdown = c.heartbeat = c.timesync = c.kvp = c.vss = c.fcopy = true;
        /* Past one tick (250 ms) on the first add, before KVP's and file
         * copy's devices: the thread ticks every service meanwhile. */
        stall_ms = 300;
        adds = 0;
        struct env e;
        env_init_cfg(&e, &c);
        stall_ms = 0;
        ASSERT_EQ(adds, 6u);
        ASSERT_EQ(e.n_offers, 6);
        /* The services still work after those early ticks: file copy's
         * channel opens and the host asks to negotiate. */
        static const uint8_t fcopy_class[16] = HV_FCOPY_GUID;
        const struct vmbus_channel_offer_channel *o = find_offer(&e, fcopy_class);
        ASSERT_NOT_NULL(o);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(e.sim, o->child_relid, o->connection_id, 4, NULL, 0, &ch), 0);
        struct icmsg_hdr h;
        host_request(&e, &ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
        ASSERT_OK(vmbus_sim_close(e.sim, &ch));
        env_free(&e);
}

TEST_MAIN()
