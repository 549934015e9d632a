// SPDX-License-Identifier: MIT
/* The built-in test guest against the real host side of VMBus, without
 * vmwp: vid + hvshim + the VMBus server (vmbus_host_hv) + the echo
 * provider, wired as docs/vmbus.md shows for vmwp. The guest enumerates
 * (vsc.mode=enumerate: version negotiation, offers, UNLOAD) and runs a
 * channel end to end (vsc.mode=echo: GPADL, OPENCHANNEL, packets at CPL0
 * with interrupts and at CPL3 with doorbells and polling, CLOSECHANNEL,
 * GPADL teardown). Skips while hvshim or the VMBus server is not in the
 * tree. */
#include "common/test.h"

#if __has_include("hvshim/hvshim.h") && __has_include("vmbus/server.h") && \
        __has_include("vmbustest/echo.h")
#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "common/proto.h"
#include "hvshim/hvshim.h"
#include "tests/component/test-guest-host.h"
#include "vmbus/host.h"
#include "vmbus/server.h"
#include "vmbustest/echo.h"

struct vmbus_rig {
        struct hvshim *hv;
        struct vmbus_host_hv *host;
        struct vmbus_server *srv;
        struct vmbus_echo echo;
};

/* Called by guest_host_run between partition set-up and start. */
static void rig_setup(struct guest_host *h, void *opaque) {
        struct vmbus_rig *rig = opaque;
        struct vmbus_server_config cfg = { .vp_count = 1 };
        struct guid inst = GUID_INIT(0x11111111, 0x2222, 0x3333, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55);
        ASSERT_OK(hvshim_create(h->p, NULL, &rig->hv));
        ASSERT_OK(vmbus_host_hv_new(rig->hv, h->p, &rig->host));
        ASSERT_OK(vmbus_server_new(&cfg, &vmbus_host_hv_ops, rig->host, &rig->srv));
        ASSERT_OK(vmbus_echo_init(&rig->echo, 0));
        struct vmbus_device_config dc = { .ops = &vmbus_echo_ops, .instance_id = inst, .data = &rig->echo };
        ASSERT_OK(vmbus_server_add_device(rig->srv, &dc, NULL));
}

static void rig_teardown(struct guest_host *h, void *opaque) {
        struct vmbus_rig *rig = opaque;
        vmbus_server_free(rig->srv);
        vmbus_echo_fini(&rig->echo);
        vmbus_host_hv_free(rig->host);
        hvshim_destroy(rig->hv);
}

static int run(struct guest_host *h, struct vmbus_rig *rig, const char *cmdline) {
        memset(rig, 0, sizeof *rig);
        struct guest_host_hooks hooks = { .setup = rig_setup, .teardown = rig_teardown, .opaque = rig };
        return guest_host_run(h, cmdline, &hooks);
}

TEST(enumerate_real_server) {
        struct guest_host h;
        struct vmbus_rig rig;
        ASSERT_EQ(run(&h, &rig, "vsc.mode=enumerate vsc.timeout_ms=20000"), VMWP_EXIT_POWEROFF);
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC hyperv=present vendor=Microsoft_Hv "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC vmbus_version=5.3 msg_conn_id=1 "));
        ASSERT_NOT_NULL(strstr(h.out, " class=3c5e0e3a-7b1d-4f36-9d0c-6f6b2a1e5c01 kind=unknown "
                                      "instance=11111111-2222-3333-4444-555555555555 subchannel=0 "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC offers=1\n"));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC unload=ok\n"));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC result=ok status=0\n"));
}

TEST(echo_channel_end_to_end) {
        struct guest_host h;
        struct vmbus_rig rig;
        ASSERT_EQ(run(&h, &rig, "vsc.mode=echo vsc.echo_n=320 vsc.timeout_ms=20000"), VMWP_EXIT_POWEROFF);
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC echo=cpl0-interrupt n=32 "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC echo=cpl3-poll n=320 "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC echo=cpl3-batch n=320 "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC result=ok status=0\n"));
        /* every packet reached the provider once */
        ASSERT_EQ(rig.echo.stats.packets, 32ull + 320 + 320);
        ASSERT_EQ(rig.echo.stats.oversized, 0ull);
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
#else
int main(void) {
        TEST_SKIP("hvshim or the VMBus server (vsp/vmbus) is not in this tree yet");
}
#endif
