// SPDX-License-Identifier: MIT
/* The uplink's root qdisc for the NICs' minimum bandwidth weights
 * (uplink-qos.h; docs/netvsp.md "Minimum bandwidth weight"), through
 * libnl-3's tc API: the same HTB and u32 classes bench/bench-nic-weight.sh
 * measured with tc(8). */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_sched.h>
#include <netlink/route/class.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/uplink-qos.h"

void vmms_uplink_plan(uint64_t rate_bps, const struct vmms_uplink_nic *nics, size_t n,
                      struct vmms_uplink_class *out) {
        uint64_t sum = 1;
        for (size_t k = 0; k < n; k++)
                sum += nics[k].weight;
        out[0] = (struct vmms_uplink_class){ VMMS_UPLINK_DEFAULT_MINOR, rate_bps / sum, rate_bps, 1514 };
        for (size_t k = 0; k < n; k++)
                out[k + 1] = (struct vmms_uplink_class){ VMMS_UPLINK_NIC_MINOR + (uint32_t)k,
                                                         rate_bps * nics[k].weight / sum, rate_bps,
                                                         1514 * nics[k].weight };
}

int vmms_uplink_parse(const char *arg, char *dev, size_t devlen, uint64_t *rate_bps, char *err, size_t errlen) {
        const char *comma = strchr(arg, ',');
        size_t len = comma ? (size_t)(comma - arg) : 0;
        if (!comma || len == 0 || len >= devlen || len >= 16 || strncmp(comma + 1, "rate=", 5))
                return snprintf(err, errlen, "--nic-uplink: must be DEV,rate=BITS (e.g. eth0,rate=1G)"), -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (arg[i] == '/' || arg[i] <= ' ' || arg[i] == ':')
                        return snprintf(err, errlen, "--nic-uplink: '%.*s' is not an interface name", (int)len,
                                        arg), -EINVAL;
        const char *num = comma + 6;
        char *end;
        errno = 0;
        unsigned long long v = num[0] >= '0' && num[0] <= '9' ? strtoull(num, &end, 10) : 0;
        uint64_t mul = 1;
        if (v && !errno) {
                mul = *end == 'k' ? 1000ull : *end == 'M' ? 1000000ull : *end == 'G' ? 1000000000ull : 1;
                end += mul > 1;
        }
        if (!v || errno || *end || v > VMMS_UPLINK_MAX_BPS / mul || v * mul < VMMS_UPLINK_MIN_BPS)
                return snprintf(err, errlen, "--nic-uplink: rate '%s' must be 1M..100G bits/s", num), -EINVAL;
        memcpy(dev, arg, len);
        dev[len] = 0;
        *rate_bps = v * mul;
        return 0;
}

static int nl_errno(int r) {
        return r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV ? -ENODEV : r == -NLE_PERM ? -EPERM : r < 0 ? -EIO : 0;
}

/* The root qdisc vmms may replace: none, the kernel's default (handle
 * 0), or vmms's own HTB. -EBUSY naming the other. */
static int root_is_ours(struct nl_sock *sk, int ifindex, const char *dev, bool *ours, char *err, size_t errlen) {
        struct nl_cache *cache = NULL;
        int r = rtnl_qdisc_alloc_cache(sk, &cache);
        if (r < 0)
                return snprintf(err, errlen, "reading the qdiscs: %s", nl_geterror(r)), nl_errno(r);
        struct rtnl_qdisc *q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_ROOT);
        *ours = false;
        r = 0;
        if (q) {
                uint32_t h = rtnl_tc_get_handle(TC_CAST(q));
                const char *kind = rtnl_tc_get_kind(TC_CAST(q));
                *ours = h == VMMS_UPLINK_HANDLE && kind && !strcmp(kind, "htb");
                if (!*ours && h != 0) {
                        snprintf(err, errlen,
                                 "uplink %s has a root qdisc vmms did not make (%s %x:); remove it (tc qdisc del dev %s root) or name another uplink",
                                 dev, kind ? kind : "?", h >> 16, dev);
                        r = -EBUSY;
                }
                rtnl_qdisc_put(q);
        }
        nl_cache_free(cache);
        return r;
}

static int add_class(struct nl_sock *sk, int ifindex, uint32_t parent, const struct vmms_uplink_class *c) {
        struct rtnl_class *cl = rtnl_class_alloc();
        int r = -NLE_NOMEM;
        if (cl) {
                rtnl_tc_set_ifindex(TC_CAST(cl), ifindex);
                rtnl_tc_set_parent(TC_CAST(cl), parent);
                rtnl_tc_set_handle(TC_CAST(cl), VMMS_UPLINK_HANDLE | c->minor);
                if ((r = rtnl_tc_set_kind(TC_CAST(cl), "htb")) == 0 && (r = rtnl_htb_set_rate64(cl, c->rate_bps / 8)) == 0 &&
                    (r = rtnl_htb_set_ceil64(cl, c->ceil_bps / 8)) == 0 && (r = rtnl_htb_set_quantum(cl, c->quantum)) == 0)
                        r = rtnl_class_add(sk, cl, NLM_F_CREATE | NLM_F_EXCL);
                rtnl_class_put(cl);
        }
        return r;
}

/* u32 on the source MAC: its first four bytes 8 bytes before the network
 * header, its last two at -4 (as bench-nic-weight.sh's tc filters). */
static int add_filter(struct nl_sock *sk, int ifindex, const uint8_t mac[6], uint32_t classid) {
        struct rtnl_cls *f = rtnl_cls_alloc();
        int r = -NLE_NOMEM;
        if (f) {
                uint32_t hi = (uint32_t)mac[0] << 24 | (uint32_t)mac[1] << 16 | (uint32_t)mac[2] << 8 | mac[3];
                uint16_t lo = (uint16_t)(mac[4] << 8 | mac[5]);
                rtnl_tc_set_ifindex(TC_CAST(f), ifindex);
                rtnl_tc_set_parent(TC_CAST(f), VMMS_UPLINK_HANDLE);
                rtnl_cls_set_prio(f, 1);
                rtnl_cls_set_protocol(f, ETH_P_ALL);
                if ((r = rtnl_tc_set_kind(TC_CAST(f), "u32")) == 0 &&
                    (r = rtnl_u32_add_key_uint32(f, hi, 0xffffffffu, -8, 0)) == 0 &&
                    (r = rtnl_u32_add_key_uint16(f, lo, 0xffff, -4, 0)) == 0 && (r = rtnl_u32_set_classid(f, classid)) == 0 &&
                    (r = rtnl_u32_set_cls_terminal(f)) == 0) /* tc's "*flowid": a match classifies */
                        r = rtnl_cls_add(sk, f, NLM_F_CREATE);
                rtnl_cls_put(f);
        }
        return r;
}

static int build(struct nl_sock *sk, int ifindex, uint64_t rate_bps, const struct vmms_uplink_nic *nics, size_t n) {
        struct rtnl_qdisc *q = rtnl_qdisc_alloc();
        struct vmms_uplink_class *plan = calloc(n + 1, sizeof *plan);
        int r = -NLE_NOMEM;
        if (q && plan) {
                rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
                rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
                rtnl_tc_set_handle(TC_CAST(q), VMMS_UPLINK_HANDLE);
                if ((r = rtnl_tc_set_kind(TC_CAST(q), "htb")) == 0 &&
                    (r = rtnl_htb_set_defcls(q, VMMS_UPLINK_DEFAULT_MINOR)) == 0)
                        r = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
                struct vmms_uplink_class top = { VMMS_UPLINK_TOP_MINOR, rate_bps, rate_bps, 1514 };
                if (r == 0)
                        r = add_class(sk, ifindex, VMMS_UPLINK_HANDLE, &top);
                vmms_uplink_plan(rate_bps, nics, n, plan);
                for (size_t k = 0; r == 0 && k <= n; k++)
                        r = add_class(sk, ifindex, VMMS_UPLINK_HANDLE | VMMS_UPLINK_TOP_MINOR, &plan[k]);
                for (size_t k = 0; r == 0 && k < n; k++)
                        r = add_filter(sk, ifindex, nics[k].mac, VMMS_UPLINK_HANDLE | plan[k + 1].minor);
        }
        free(plan);
        if (q)
                rtnl_qdisc_put(q);
        return r;
}

static int delete_root(struct nl_sock *sk, int ifindex) {
        struct rtnl_qdisc *q = rtnl_qdisc_alloc();
        if (!q)
                return -NLE_NOMEM;
        rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
        rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
        rtnl_tc_set_handle(TC_CAST(q), VMMS_UPLINK_HANDLE);
        int r = rtnl_qdisc_delete(sk, q);
        rtnl_qdisc_put(q);
        return r;
}

int vmms_uplink_apply(const char *dev, uint64_t rate_bps, const struct vmms_uplink_nic *nics, size_t n, char *err,
                      size_t errlen) {
        struct nl_sock *sk = nl_socket_alloc();
        struct rtnl_link *link = NULL;
        bool ours = false;
        int r;
        if (n > VMMS_UPLINK_NICS_MAX)
                return snprintf(err, errlen, "more than %u weighted NICs", VMMS_UPLINK_NICS_MAX), -E2BIG;
        if (!sk || (r = nl_connect(sk, NETLINK_ROUTE)) < 0) {
                nl_socket_free(sk);
                return snprintf(err, errlen, "netlink: cannot connect"), -EIO;
        }
        if ((r = rtnl_link_get_kernel(sk, 0, dev, &link)) < 0) {
                snprintf(err, errlen, "uplink %s: %s", dev, nl_geterror(r));
                r = nl_errno(r);
                goto out;
        }
        int ifindex = rtnl_link_get_ifindex(link);
        if ((r = root_is_ours(sk, ifindex, dev, &ours, err, errlen)) < 0)
                goto out;
        if (ours && (r = delete_root(sk, ifindex)) < 0) {
                snprintf(err, errlen, "uplink %s: removing vmms's qdisc: %s", dev, nl_geterror(r));
                r = nl_errno(r);
                goto out;
        }
        if (n && (r = build(sk, ifindex, rate_bps, nics, n)) < 0) {
                snprintf(err, errlen, "uplink %s: making the weights' qdisc: %s", dev, nl_geterror(r));
                (void)delete_root(sk, ifindex);
                r = nl_errno(r);
        }
out:
        if (link)
                rtnl_link_put(link);
        nl_socket_free(sk);
        return r;
}
