/* SPDX-License-Identifier: MIT */
/* What the network modes (net-check, net-bench) share: the NIC from the
 * command line, a responder for ARP and ICMP echo to our address, polling
 * helpers that work at CPL3 (docs/guest-vsc.md "Network modes"). */
#pragma once

#include "guest.h"
#include "vsc/net-ip.h"
#include "vsc/net.h"

struct net_mode;
/* A frame the responder did not consume (already parsed). */
typedef void (*net_frame_fn)(struct net_mode *m, const struct vsc_ip_frame *fr, const uint8_t *f, uint32_t len);

struct net_mode {
        struct guest *g;
        struct vsc_net net;
        uint32_t ip, peer; /* vsc.ip=, vsc.peer= (host order) */
        uint16_t port;     /* vsc.port= */
        uint8_t peer_mac[6];
        bool peer_mac_ok, reply_queued;
        uint64_t arp_answered, icmp_answered, replies_dropped;
        net_frame_fn on_frame;
        void *priv;
        uint8_t tx[2048]; /* the responder's frame */
};

/* Zeroed pages for a struct net_mode (too large for a stack); never freed
 * (the guest powers off after the mode). */
struct net_mode *net_mode_alloc(void);
/* vsc.<key>= as a number in [lo, hi], else dflt. */
uint64_t net_mode_opt(const struct guest *g, const char *key, uint64_t lo, uint64_t hi, uint64_t dflt);
/* VMBus (unless connected, with the offers, already), the NIC offer,
 * vsc_net_open (sizes from vsc.net_ring_kib, vsc.net_recv_kib,
 * vsc.net_send_kib), the packet filter; reports net=up. */
int net_mode_open(struct guest *g, struct net_mode *m);
/* vsc_net_close, UNLOAD; reports net_close= and the client's counters. */
int net_mode_close(struct net_mode *m, int status);
/* The same without the UNLOAD: for a mode that has other channels open. */
int net_mode_close_nic(struct net_mode *m);
/* One round: inbound packets (the responder answers ARP/ICMP at once),
 * then the responder's frames published. Any CPL. */
int net_mode_poll(struct net_mode *m);
/* Sends a frame now (send + flush), polling while the NIC is busy. */
int net_mode_send_now(struct net_mode *m, const void *frame, uint32_t len, uint64_t deadline_ns);
/* ARP for the peer until it answers (resent every 500 ms). */
int net_mode_resolve_peer(struct net_mode *m, uint64_t deadline_ns);
