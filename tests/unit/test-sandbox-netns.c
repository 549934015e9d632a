// SPDX-License-Identifier: MIT
/* Why a worker with NICs keeps the host's network namespace
 * (docs/sandbox.md, "Network namespace"): after unshare(CLONE_NEWNET) a
 * TAP's fd and the link-watch socket opened before keep working, but every
 * netlink socket opened afterwards lives in the new namespace and cannot
 * see the TAP, and netvsp's TAP code opens one after lost notifications
 * (tap-link.c refresh()) and in tap_set_up(). Needs root (a private
 * network namespace for the TAP); skips without it. */
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/test.h"
#include "netvsp/tap.h"
#include "tests/unit/test-netvsp-frames.h"

/* Sets IFF_UP through a socket of the namespace the TAP lives in. */
static void set_up(int inet_sock, const char *name, bool up) {
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
        ASSERT_OK(ioctl(inet_sock, SIOCGIFFLAGS, &ifr));
        ifr.ifr_flags = (short)(up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP);
        ASSERT_OK(ioctl(inet_sock, SIOCSIFFLAGS, &ifr));
}

static int wait_link(struct tap *t, struct tap_link_state *st) {
        int fd = tap_link_watch(t);
        for (int i = 0; i < 300; i++) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                poll(&p, 1, 10);
                int r = tap_link_process(t, st);
                if (r != 0)
                        return r;
        }
        return 0;
}

TEST(link_watch_survives_a_new_netns_fresh_sockets_do_not) {
        int r = nt_netns_enter();
        if (r < 0)
                TEST_SKIP("cannot create a network namespace (%s): needs root", strerror(-r));
        struct tap_config cfg = { .create = true, .mtu = 1500, .name = "vmsb0" };
        struct tap *t = NULL;
        ASSERT_OK(tap_open(&cfg, &t));
        ASSERT_GE(tap_link_watch(t), 0);
        int inet = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(inet, 0);

        /* What sandbox_prepare() would do for a VM without NICs. */
        ASSERT_OK(unshare(CLONE_NEWNET));

        /* The watch socket still reports the TAP's namespace. */
        struct tap_link_state st;
        set_up(inet, "vmsb0", false);
        ASSERT_EQ(wait_link(t, &st), 1);
        ASSERT_FALSE(st.admin_up);
        ASSERT_FALSE(st.removed);
        set_up(inet, "vmsb0", true);
        ASSERT_EQ(wait_link(t, &st), 1);
        ASSERT_TRUE(st.admin_up);

        /* A netlink socket opened now cannot find the TAP. */
        ASSERT_ERROR(tap_set_up(t, false), ENODEV);
        close(inet);
        tap_close(t);
}

TEST_MAIN();
