// SPDX-License-Identifier: MIT
/* The NICs' minimum bandwidth weights on the uplink (vmms/host/uplink-qos.c,
 * docs/netvsp.md "Minimum bandwidth weight"): the plan's rates and
 * quanta, --nic-uplink's parser, and in a private network namespace the
 * HTB classes and u32 filters vmms makes on a veth, rebuilt when the
 * weights change, removed when none is left, and a root qdisc vmms did
 * not make refused with nothing changed. Needs CAP_NET_ADMIN and
 * CAP_SYS_ADMIN (unshare); those parts skip without them. */
#include <netlink/route/class.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>

#include "common/test.h"
#include "tests/unit/test-netvsp-frames.h"
#include "vmms/host/uplink-qos.h"

static const struct vmms_uplink_nic two[] = { { { 0x00, 0x15, 0x5d, 0, 0x0c, 1 }, 25 },
                                              { { 0x00, 0x15, 0x5d, 0, 0x0c, 2 }, 75 } };

TEST(plan_shares_by_weight_plus_default) {
        struct vmms_uplink_class c[3];
        vmms_uplink_plan(101000000, two, 2, c);
        ASSERT_EQ(c[0].minor, VMMS_UPLINK_DEFAULT_MINOR);
        ASSERT_EQ(c[0].rate_bps, 1000000u); /* weight 1 of 101 */
        ASSERT_EQ(c[1].minor, VMMS_UPLINK_NIC_MINOR);
        ASSERT_EQ(c[1].rate_bps, 25000000u);
        ASSERT_EQ(c[2].rate_bps, 75000000u);
        ASSERT_EQ(c[2].ceil_bps, 101000000u); /* borrows up to the link */
        ASSERT_EQ(c[1].quantum, 1514u * 25);
}

TEST(uplink_option_parsed_and_refused) {
        char dev[16], err[200];
        uint64_t rate = 0;
        ASSERT_OK(vmms_uplink_parse("eth0,rate=1G", dev, sizeof dev, &rate, err, sizeof err));
        ASSERT_STREQ(dev, "eth0");
        ASSERT_EQ(rate, 1000000000u);
        ASSERT_OK(vmms_uplink_parse("bond0,rate=20000000", dev, sizeof dev, &rate, err, sizeof err));
        ASSERT_EQ(rate, 20000000u);
        static const char *const bad[] = { "eth0",          "eth0,rate=",       "eth0,rate=999k", "eth0,rate=101G",
                                           ",rate=1G",      "a/b,rate=1G",      "eth0,rate=1T",   "eth0,rate=-5M",
                                           "eth0,speed=1G", "0123456789abcdef,rate=1G" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                err[0] = 0;
                ASSERT_EQ(vmms_uplink_parse(bad[i], dev, sizeof dev, &rate, err, sizeof err), -EINVAL);
                ASSERT_NOT_NULL(strstr(err, "--nic-uplink"));
        }
}

static struct nl_sock *sk;

static void make_veth(void) {
        int r = nt_netns_enter();
        if (r < 0)
                TEST_SKIP("cannot create a network namespace (%s): needs root", strerror(-r));
        sk = nl_socket_alloc();
        ASSERT_NOT_NULL(sk);
        ASSERT_EQ(nl_connect(sk, NETLINK_ROUTE), 0);
        ASSERT_EQ(rtnl_link_veth_add(sk, "up0", "up1", getpid()), 0);
}

/* The root qdisc's kind and handle ("" and 0 for the kernel's default). */
static uint32_t root_handle(char *kind, size_t len) {
        struct nl_cache *cache;
        ASSERT_EQ(rtnl_qdisc_alloc_cache(sk, &cache), 0);
        struct rtnl_qdisc *q = rtnl_qdisc_get_by_parent(cache, (int)if_nametoindex("up0"), TC_H_ROOT);
        uint32_t h = q ? rtnl_tc_get_handle(TC_CAST(q)) : 0;
        snprintf(kind, len, "%s", q && rtnl_tc_get_kind(TC_CAST(q)) ? rtnl_tc_get_kind(TC_CAST(q)) : "");
        if (q)
                rtnl_qdisc_put(q);
        nl_cache_free(cache);
        return h;
}

/* The class minor's guaranteed rate in bits/s, 0 when there is none. */
static uint64_t class_rate(uint32_t minor, uint32_t *quantum) {
        struct nl_cache *cache;
        uint64_t rate = 0;
        ASSERT_EQ(rtnl_class_alloc_cache(sk, (int)if_nametoindex("up0"), &cache), 0);
        struct rtnl_class *c = rtnl_class_get(cache, (int)if_nametoindex("up0"), VMMS_UPLINK_HANDLE | minor);
        if (c) {
                ASSERT_EQ(rtnl_htb_get_rate64(c, &rate), 0);
                *quantum = rtnl_htb_get_quantum(c);
                rtnl_class_put(c);
        }
        nl_cache_free(cache);
        return rate * 8;
}

/* HTB holds rates in bytes/s. */
#define BYTES(bps) ((bps) / 8 * 8)

static int n_filters(void) {
        struct nl_cache *cache;
        ASSERT_EQ(rtnl_cls_alloc_cache(sk, (int)if_nametoindex("up0"), VMMS_UPLINK_HANDLE, &cache), 0);
        int n = 0;
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
                n += rtnl_tc_get_kind(TC_CAST(o)) && !strcmp(rtnl_tc_get_kind(TC_CAST(o)), "u32") &&
                     (rtnl_tc_get_handle(TC_CAST(o)) & 0xfff) != 0; /* the keys, not the hash tables */
        nl_cache_free(cache);
        return n;
}

TEST(classes_made_rebuilt_removed_and_foreign_root_refused) {
        char err[256], kind[16];
        uint32_t quantum = 0;
        make_veth();
        ASSERT_OK(vmms_uplink_apply("up0", 20000000, two, 2, err, sizeof err));
        ASSERT_EQ(root_handle(kind, sizeof kind), VMMS_UPLINK_HANDLE);
        ASSERT_STREQ(kind, "htb");
        ASSERT_EQ(class_rate(VMMS_UPLINK_TOP_MINOR, &quantum), 20000000u);
        ASSERT_EQ(class_rate(VMMS_UPLINK_NIC_MINOR, &quantum), BYTES(20000000u * 25 / 101));
        ASSERT_EQ(quantum, 1514u * 25);
        ASSERT_EQ(class_rate(VMMS_UPLINK_NIC_MINOR + 1, &quantum), BYTES(20000000u * 75 / 101));
        ASSERT_EQ(class_rate(VMMS_UPLINK_DEFAULT_MINOR, &quantum), BYTES(20000000u / 101));
        ASSERT_EQ(n_filters(), 2);
        /* One NIC left, its weight changed: rebuilt, the other's class gone. */
        struct vmms_uplink_nic one = { { 0x00, 0x15, 0x5d, 0, 0x0c, 2 }, 50 };
        ASSERT_OK(vmms_uplink_apply("up0", 20000000, &one, 1, err, sizeof err));
        ASSERT_EQ(class_rate(VMMS_UPLINK_NIC_MINOR, &quantum), BYTES(20000000u * 50 / 51));
        ASSERT_EQ(class_rate(VMMS_UPLINK_NIC_MINOR + 1, &quantum), 0u);
        ASSERT_EQ(n_filters(), 1);
        /* None left: vmms's root goes, the device's default is back. */
        ASSERT_OK(vmms_uplink_apply("up0", 20000000, NULL, 0, err, sizeof err));
        ASSERT_EQ(root_handle(kind, sizeof kind), 0u);
        /* A root of the admin's: refused, named, left as it was. */
        ASSERT_EQ(system("tc qdisc add dev up0 root handle 1: htb default 1"), 0);
        ASSERT_EQ(vmms_uplink_apply("up0", 20000000, two, 2, err, sizeof err), -EBUSY);
        ASSERT_NOT_NULL(strstr(err, "uplink up0 has a root qdisc vmms did not make (htb 1:)"));
        ASSERT_EQ(root_handle(kind, sizeof kind), 0x00010000u);
        ASSERT_EQ(vmms_uplink_apply("nosuch0", 20000000, two, 2, err, sizeof err), -ENODEV);
        nl_socket_free(sk);
}

TEST_MAIN();
