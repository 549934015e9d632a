// SPDX-License-Identifier: MIT
/* The VM's one pending operation (vmms/core/pending.h): one kind at a
 * time, its call handed back only to the end of that kind. */
#include <stdbool.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "common/test.h"
#include "vmms/core/pending.h"

/* A method call on a bus that is never connected to a daemon (its
 * socket's other end only). */
static sd_bus_message *new_call(sd_bus **bus, int *peer) {
        int sv[2];
        sd_bus_message *m = NULL;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        ASSERT_OK(sd_bus_new(bus));
        ASSERT_OK(sd_bus_set_fd(*bus, sv[0], sv[0]));
        ASSERT_OK(sd_bus_start(*bus));
        ASSERT_OK(sd_bus_message_new_method_call(*bus, &m, "org.vmstack.Test", "/", "org.vmstack.Test", "Op"));
        *peer = sv[1];
        return m;
}

TEST(one_kind_at_a_time) {
        sd_bus *bus;
        int peer;
        sd_bus_message *m = new_call(&bus, &peer);
        struct vmms_pending p = { 0 };
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_NONE));
        vmms_pending_begin(&p, VMMS_PENDING_FCOPY, m);
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_FCOPY));
        ASSERT_FALSE(vmms_pending_is(&p, VMMS_PENDING_SAVE));
        /* The end of another kind hands back nothing and keeps the copy. */
        ASSERT_NULL(vmms_pending_end(&p, VMMS_PENDING_SAVE));
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_FCOPY));
        /* Its own end hands back the call (a reference of the slot's). */
        sd_bus_message *c = vmms_pending_end(&p, VMMS_PENDING_FCOPY);
        ASSERT_TRUE(c == m);
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_NONE));
        ASSERT_NULL(p.call);
        sd_bus_message_unref(c);
        sd_bus_message_unref(m);
        sd_bus_close_unref(bus); /* no flush: nobody answers its authentication */
        close(peer);
}

TEST(without_a_call_and_dropped) {
        sd_bus *bus;
        int peer;
        sd_bus_message *m = new_call(&bus, &peer);
        struct vmms_pending p = { 0 };
        /* A save of vmms's own has no caller to answer. */
        vmms_pending_begin(&p, VMMS_PENDING_SAVE, NULL);
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_SAVE));
        ASSERT_NULL(vmms_pending_end(&p, VMMS_PENDING_SAVE));
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_NONE));
        /* The VM goes with a call pending: the slot lets go of it. */
        vmms_pending_begin(&p, VMMS_PENDING_SAVE, m);
        vmms_pending_drop(&p);
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_NONE));
        ASSERT_NULL(p.call);
        sd_bus_message_unref(m);
        sd_bus_close_unref(bus); /* no flush: nobody answers its authentication */
        close(peer);
}

TEST_MAIN();
