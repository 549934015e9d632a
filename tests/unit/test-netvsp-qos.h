/* SPDX-License-Identifier: MIT */
/* netvsp's bandwidth caps measured (docs/netvsp.md "Bandwidth caps"): a
 * real TAP in a private network namespace, the guest side played through
 * the fake VMBus of test-netvsp-harness.h, the device's caps the test's own
 * struct netvsp_qos. Rates are Ethernet frame bytes a second, as the caps
 * count them. Header-only, for test-netvsp-qos and bench-nic-qos. */
#pragma once

#include <net/if.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "netvsp/qos.h"
#include "netvsp/tap.h"
#include "tests/unit/test-netvsp-frames.h"
#include "tests/unit/test-netvsp-harness.h"

#define NQ_FRAME_PAYLOAD 1400u
/* The TAP's queue for the guest (txqueuelen): 1.3 s at 100 Mbit/s */
#define NQ_QUEUE_FRAMES 12000

static const uint8_t nq_gmac[6] = NT_GUEST_MAC;

struct nq_env {
        struct fake *f;
        struct tap *tap;
        uint8_t host_mac[6];
        struct netvsp_qos qos;
        pthread_t flood;
        bool flooding, stop;
        int sink; /* the guest's frames' port on the host: taken, never answered with an ICMP error */
};

static inline void nq_env_up(struct nq_env *e, const char *ifname) {
        struct netvsp_config cfg;
        struct tap_config tc = { .create = true, .mtu = 1500 };
        int r = nt_netns_enter();
        if (r < 0)
                TEST_SKIP("cannot create a network namespace (%s): needs root", strerror(-r));
        /* The device's thread (and the flood's, which inherits it) at nice
         * -10: on a loaded host a thread that waits for a core past the
         * burst loses what the cap allowed meanwhile, which measures the
         * host, not the cap (root already: the namespace) */
        (void)setpriority(PRIO_PROCESS, 0, -10);
        snprintf(tc.name, sizeof tc.name, "%s", ifname);
        ASSERT_OK(tap_open(&tc, &e->tap));
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { .ifr_qlen = NQ_QUEUE_FRAMES };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
        ASSERT_OK(ioctl(s, SIOCSIFTXQLEN, &ifr));
        ASSERT_OK(ioctl(s, SIOCGIFHWADDR, &ifr)); /* the guest's frames are for the host's stack */
        memcpy(e->host_mac, ifr.ifr_hwaddr.sa_data, 6);
        close(s);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
        e->sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        ASSERT_OK(nt_add_addr(tap_ifindex(e->tap), ifname, NT_HOST_IP "/24"));
        ASSERT_OK(nt_add_neigh(tap_ifindex(e->tap), NT_GUEST_IP, nq_gmac));
        ASSERT_OK(bind(e->sink, (struct sockaddr *)&a, sizeof a));
        netvsp_config_init_defaults(&cfg);
        memcpy(cfg.rndis.mac, nq_gmac, 6);
        e->f = fk_new_be(&cfg, 4u << 20, &netvsp_tap_backend, e->tap);
        fk_nvsp_init(e->f);
        fk_rndis_up(e->f);
        netvsp_dev_set_qos(e->f->nd, &e->qos);
}

static inline void nq_env_down(struct nq_env *e) {
        if (e->flooding) {
                __atomic_store_n(&e->stop, true, __ATOMIC_RELAXED);
                pthread_join(e->flood, NULL);
        }
        fk_free(e->f);
        tap_close(e->tap);
        close(e->sink);
}

/* How long this thread has waited for a core (/proc/thread-self/schedstat's
 * run_delay), ns; 0 where it cannot be read. */
static inline uint64_t nq_run_delay_ns(void) {
        unsigned long long run = 0, delay = 0;
        FILE *f = fopen("/proc/thread-self/schedstat", "re");
        if (f) {
                if (fscanf(f, "%llu %llu", &run, &delay) != 2)
                        delay = 0;
                fclose(f);
        }
        return delay;
}

static inline double nq_mbps(uint64_t bytes, uint64_t ns) {
        return (double)bytes * 8e3 / (double)ns;
}

/* Waits as the glue does for what netvsp_process() wanted. */
static inline void nq_wait_for(struct nq_env *e, unsigned want, short events) {
        if (want & NETVSP_WANT_TIMER) {
                uint64_t ns = netvsp_dev_qos_wait_ns(e->f->nd);
                struct timespec ts = { 0, (long)MIN(ns, 10000000ull) };
                nanosleep(&ts, NULL);
        } else {
                poll(&(struct pollfd){ .fd = tap_fd(e->tap), .events = events }, 1, 10);
        }
}

/* The guest sends a UDP frame, waits for its completion, and again, for
 * ms after warm_ms; returns the Mbit/s of frames that went into the TAP. */
static inline double nq_guest_send_rate(struct nq_env *e, uint64_t warm_ms, uint64_t ms) {
        struct fake *f = e->f;
        uint8_t frame[1600], data[NQ_FRAME_PAYLOAD] = { 0 };
        size_t len = nt_udp(frame, e->host_mac, nq_gmac, NT_GUEST_IP, NT_HOST_IP, 40000, 9, data, sizeof data, false);
        uint32_t n = fk_rndis_packet(f->mem + FK_SEND_GPA, frame, (uint32_t)len, NULL, 0, 0);
        uint64_t start = netvsp_qos_now_ns(), t0 = start + warm_ms * 1000000u, t1 = t0 + ms * 1000000u;
        uint64_t b0 = 0, now;
        bool measuring = false;
        while ((now = netvsp_qos_now_ns()) < t1) {
                if (!measuring && now >= t0) {
                        b0 = netvsp_dev_stats(f->nd)->tx_bytes;
                        t0 = now;
                        measuring = true;
                }
                f->n_out = f->n_seen = 0;
                uint64_t tid;
                ASSERT_OK(fk_gpa_direct(f, 0, 0, n, NULL, NULL, 0, &tid));
                /* until its completion; frames for the guest meanwhile (the
                 * host's own: ARP) are completed after it, as the device
                 * takes no packet while a send is in progress */
                uint64_t xfer[FK_MAX_OUT];
                int n_xfer = 0;
                for (bool done = false; !done;) {
                        if (f->n_seen == f->n_out) {
                                nq_wait_for(e, netvsp_process(f->nd), POLLOUT);
                                continue;
                        }
                        struct fk_out *x = fk_next(f);
                        if (x->type == VM_PKT_DATA_USING_XFER_PAGES) {
                                xfer[n_xfer++] = x->tid;
                                continue;
                        }
                        ASSERT_EQ(x->tid, tid);
                        ASSERT_EQ(fk_u32(x->msg, 4), (uint32_t)NVSP_STAT_SUCCESS);
                        done = true;
                }
                for (int i = 0; i < n_xfer; i++)
                        fk_complete_xfer(f, xfer[i]);
        }
        return nq_mbps(netvsp_dev_stats(f->nd)->tx_bytes - b0, netvsp_qos_now_ns() - t0);
}

static inline void *nq_flood(void *opaque) {
        struct nq_env *e = opaque;
        uint8_t data[NQ_FRAME_PAYLOAD] = { 0 };
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), sndbuf = NQ_QUEUE_FRAMES * 4096;
        struct timeval tv = { 0, 100000 };
        inet_pton(AF_INET, NT_GUEST_IP, &to.sin_addr);
        /* Blocking sends with room for the TAP's whole queue: the thread
         * sleeps while the queue is full and the queue never runs dry
         * while it waits for a core (a loaded host) */
        if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
                (void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        (void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        while (!__atomic_load_n(&e->stop, __ATOMIC_RELAXED))
                (void)sendto(s, data, sizeof data, 0, (struct sockaddr *)&to, sizeof to);
        close(s);
        return NULL;
}

static inline void nq_flood_start(struct nq_env *e) {
        ASSERT_EQ(pthread_create(&e->flood, NULL, nq_flood, e), 0);
        e->flooding = true;
}

/* The guest receives (completing every transfer-page packet) for ms after
 * warm_ms; returns the Mbit/s of frames it was handed. */
static inline double nq_guest_recv_rate(struct nq_env *e, uint64_t warm_ms, uint64_t ms) {
        struct fake *f = e->f;
        uint64_t start = netvsp_qos_now_ns(), t0 = start + warm_ms * 1000000u, t1 = t0 + ms * 1000000u;
        uint64_t b0 = 0, now;
        bool measuring = false;
        while ((now = netvsp_qos_now_ns()) < t1) {
                if (!measuring && now >= t0) {
                        b0 = netvsp_dev_stats(f->nd)->rx_bytes;
                        t0 = now;
                        measuring = true;
                }
                unsigned want = netvsp_process(f->nd);
                bool got = f->n_seen < f->n_out;
                while (f->n_seen < f->n_out) {
                        struct fk_out *x = fk_next(f);
                        if (x->type == VM_PKT_DATA_USING_XFER_PAGES)
                                fk_complete_xfer(f, x->tid);
                }
                f->n_out = f->n_seen = 0;
                if (!got)
                        nq_wait_for(e, want, POLLIN);
        }
        return nq_mbps(netvsp_dev_stats(f->nd)->rx_bytes - b0, netvsp_qos_now_ns() - t0);
}
