/* SPDX-License-Identifier: MIT */
/* The NICs' minimum bandwidth weights on the uplink the admin names
 * (docs/netvsp.md "Minimum bandwidth weight"; vmms --nic-uplink): vmms
 * owns that device's root qdisc, an HTB at the link's rate with a class
 * per weighted NIC picked by its source MAC (u32 on the Ethernet header)
 * and a default class (weight 1) for everything else. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The root's handle, 5d: (00:15:5d, Hyper-V's prefix): a root qdisc with
 * another handle, or another kind, is not vmms's and is not touched. */
#define VMMS_UPLINK_HANDLE 0x005d0000u
#define VMMS_UPLINK_TOP_MINOR 1u     /* 5d:1, the link's rate */
#define VMMS_UPLINK_DEFAULT_MINOR 2u /* 5d:2, unweighted traffic */
#define VMMS_UPLINK_NIC_MINOR 0x10u  /* 5d:10 + k, the k-th weighted NIC */
#define VMMS_UPLINK_NICS_MAX 1024u
#define VMMS_UPLINK_MIN_BPS 1000000ull       /* 1 Mbit/s */
#define VMMS_UPLINK_MAX_BPS 100000000000ull  /* 100 Gbit/s */

struct vmms_uplink_nic {
        uint8_t mac[6];
        uint32_t weight; /* 1..100 */
};

/* One HTB class of the plan: rate (guaranteed) and ceil in bits/s. */
struct vmms_uplink_class {
        uint32_t minor;
        uint64_t rate_bps, ceil_bps;
        uint32_t quantum;
};

/* Pure: the classes for `n` weighted NICs on a link of rate_bps, into
 * out[n + 1] (the default class first, then the NICs' in order): each
 * guaranteed rate × weight / (sum of the weights + 1), all borrowing up
 * to the rate, quantum 1514 bytes × weight. */
void vmms_uplink_plan(uint64_t rate_bps, const struct vmms_uplink_nic *nics, size_t n,
                      struct vmms_uplink_class *out);

/* Parses "DEV,rate=BITS" (BITS a number with an optional k, M or G
 * suffix, 1 Mbit/s..100 Gbit/s). 0, or -EINVAL with why in err. */
int vmms_uplink_parse(const char *arg, char *dev, size_t devlen, uint64_t *rate_bps, char *err, size_t errlen);

/* Makes the device's root qdisc the plan's (rebuilt whole); with no
 * weighted NIC, removes vmms's root (the device's default comes back).
 * -EBUSY with why in err when the root is one vmms did not make (nothing
 * changed), -ENODEV when there is no such device, else 0 or -errno. */
int vmms_uplink_apply(const char *dev, uint64_t rate_bps, const struct vmms_uplink_nic *nics, size_t n, char *err,
                      size_t errlen);
