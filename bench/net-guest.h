/* SPDX-License-Identifier: MIT */
/* bench-net-guest's two halves: the guest's runs and the table
 * (bench-net-guest.c), and the host's side (net-guest-host.c): the UDP echo
 * server, the sink and the blasters, the baseline (a host process on the
 * same TAP) and its TSO-sized sends. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench.h"
#include "common/rss-steer.h"
#include "hv/rndis.h"
#include "netvsp/tap.h"
#include "tests/unit/test-netvsp-frames.h"

extern unsigned bench_ms; /* each run's window (--smoke: shorter) */
#define TAP_NAME "vmbg0"
#define PORT 9000
#define MAX_FLOWS 2
extern const uint8_t gmac[6]; /* NT_GUEST_MAC */

struct env {
        char vmwp[512], elf[512], cfg[64];
        int sink;
        uint8_t host_mac[6];
        atomic_bool stop_sink, stop_blast;
        atomic_ullong sunk;
        size_t blast_payload;
        uint16_t flow_sport[MAX_FLOWS]; /* host->guest, 2 flows: one per guest channel */
};

#define LSO_FRAME (14u + 62780u) /* the guest's largest LSOv2 frame (Linux's netvsc gso_max_size) */
/* Where both sides' TSO-sized frames go: an address in the TAP's subnet
 * that this namespace does not have (and does not forward to), so the
 * host drops each frame after routing; sent to NT_HOST_IP, each drew a
 * TCP reset, which the TAP dropped for the baseline (no reader) while
 * netvsp carried every one of them to the guest. */
#define LSO_DST_IP "10.77.0.9"

struct blaster {
        struct env *e;
        uint16_t sport; /* 0: any */
        pthread_t th;
};

/* host->guest: GSO TCPv4 frames of LSO_FRAME bytes out of the TAP, to the
 * guest's address and port, until stopped (a packet socket with
 * PACKET_VNET_HDR: the kernel builds each GSO skb and segments it only
 * where the TAP does not take TSO). Frames the TAP's queue has no room for
 * are dropped there, as the UDP blaster's are. */
struct injector {
        struct env *e;
        atomic_bool stop;
        uint64_t sent;
        pthread_t th;
};

int echo_server(const char *spec, unsigned seconds, unsigned dup_every);
void *sink_thread(void *arg);
void blast_start(struct env *e, size_t frame, unsigned flows, struct blaster bl[MAX_FLOWS]);
void blast_stop(struct env *e, unsigned flows, struct blaster bl[MAX_FLOWS]);
void pick_flow_ports(struct env *e);
struct tap *open_tap(void);
double base_run(struct env *e, bool tx, size_t frame, unsigned flows);
uint64_t tap_rx_bytes(void);
double base_lso(struct env *e);
void inject_start(struct env *e, struct injector *in);
void inject_stop(struct injector *in);
double base_rsc(struct env *e);
