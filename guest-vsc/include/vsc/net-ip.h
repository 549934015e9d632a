/* SPDX-License-Identifier: MIT */
/* Just enough Ethernet/ARP/IPv4/ICMP/UDP for the test guest's network modes
 * (docs/guest-vsc.md): frame builders and one validating parser for frames
 * the host delivers. Addresses are host-order uint32_t (10.77.0.2 =
 * 0x0a4d0002); everything on the wire is network order. Pure functions,
 * freestanding, fuzzed by tests/fuzz/fuzz-vsc-net.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSC_ETH_HLEN 14u
#define VSC_IP_UDP_HLEN (14u + 20u + 8u) /* Ethernet + IPv4 + UDP */
#define VSC_IP_ICMP_HLEN (14u + 20u + 8u)

enum vsc_ip_kind {
        VSC_IP_OTHER,
        VSC_IP_ARP_REQUEST,
        VSC_IP_ARP_REPLY,
        VSC_IP_ICMP_ECHO_REQUEST,
        VSC_IP_ICMP_ECHO_REPLY,
        VSC_IP_UDP,
};

struct vsc_ip_frame {
        enum vsc_ip_kind kind;
        uint8_t dst_mac[6], src_mac[6];
        uint32_t sip, dip;     /* ARP: sender/target protocol address */
        uint16_t sport, dport; /* UDP */
        uint16_t id, seq;      /* ICMP echo */
        const uint8_t *data;   /* UDP/ICMP payload inside the frame */
        uint32_t data_len;
};

/* "a.b.c.d" -> host-order address; false if malformed. */
bool vsc_ip_parse_addr(const char *s, uint32_t *out);

size_t vsc_ip_arp_request(uint8_t *f, const uint8_t smac[6], uint32_t sip, uint32_t tip);
size_t vsc_ip_arp_reply(uint8_t *f, const uint8_t smac[6], uint32_t sip, const uint8_t tmac[6], uint32_t tip);
/* ICMP echo request (type 8) or reply (type 0) with checksums. */
size_t vsc_ip_icmp_echo(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t sip, uint32_t dip,
                        uint8_t type, uint16_t id, uint16_t seq, const void *data, uint32_t len);
/* UDP with the IPv4 header checksum and the UDP checksum. f must hold
 * VSC_IP_UDP_HLEN + len bytes. */
size_t vsc_ip_udp(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t sip, uint32_t dip,
                  uint16_t sport, uint16_t dport, const void *data, uint32_t len);
/* Rewrites a frame vsc_ip_udp built in place for a new payload of the same
 * length: only the payload bytes and the checksum change (the hot loop of
 * net-bench). */
void vsc_ip_udp_refresh(uint8_t *f, uint32_t len);

/* Classifies a received frame. Only well-formed frames get a kind other
 * than OTHER: lengths inside the frame, IPv4 without fragments and with a
 * valid header checksum, ICMP/UDP checksums valid (UDP 0 = none). */
void vsc_ip_parse(const uint8_t *f, uint32_t len, struct vsc_ip_frame *out);
