// SPDX-License-Identifier: MIT
/* netvsp's saved state (docs/netvsp.md "Saved state"), the provider (the
 * simulated guest of test-netvsp-sim.h, a real TAP in a private network
 * namespace, handed over as an fd the way vmms does): traffic both ways,
 * quiesce, save, tear the server and NIC down, restore into a new server
 * and NIC, resume, several times: no frame or completion lost or doubled,
 * the state (versions, RNDIS, the receive slots the guest holds) the same
 * after the restore; a link change while saved is indicated after resume;
 * the RARP announce after a restore and not after a plain pause; a
 * corrupt section applies nothing and the same server then restores the
 * good state. These tests skip without root. The device's state is
 * test-netvsp-state.c's. */
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "common/rss-steer.h"
#include "common/macro.h"
#include "tests/lib/vmstate-file.h"
#include "tests/lib/vmstate-roundtrip.h"
#include "tests/unit/test-netvsp-guest.h"
#include "tests/unit/test-netvsp-harness.h"
#include "tests/unit/test-netvsp-sim.h"
#include "tests/unit/test-netvsp-state.h"


/* ---- the provider: save into a new server and NIC --------------------- */

#define NS_INSTANCE "5e1f0c3a-9a7d-4b1e-8f00-000000000001"

/* A TAP made as vmms makes it (no virtio_net_hdr), up, with the host's
 * address. The test keeps this fd for the whole test, as vmms keeps the
 * one it passes: the TAP and the frames queued in it outlive each worker;
 * each NIC adopts a dup. */
static int rig_tap(const char *name) {
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
        ns_set_admin(name, true);
        ASSERT_OK(nt_add_addr((int)if_nametoindex(name), name, NT_HOST_IP "/24"));
        return fd;
}

static uint32_t rig_queues = 1; /* the NIC's channels (vRSS) */
/* Each NIC built gets an RSS steering map of its own, as each worker gets
 * the map of the program its vmms attached (not attached to the TAP here:
 * the test reads what the NIC writes into it); the newest NIC's mapping. */
static bool rig_steer;
static struct rss_steer_map *rig_map;
static unsigned rig_maps; /* maps made */

static void rig_nic_config(struct ns_env *e, struct netvsp_nic_config *nc, int tap_fd) {
        char name[16];
        snprintf(name, sizeof name, "%s", e->tap);
        ns_nic_config(e, nc, name);
        nc->dev.queues = rig_queues;
        nc->tap_fd = dup(tap_fd);
        ASSERT_OK(nc->tap_fd);
        int map = rig_steer ? rss_steer_map_create() : -1;
        if (rig_steer && map < 0) /* the test goes on without; only its map checks skip */
                printf("no BPF maps here (%s): the steering map is not checked\n", strerror(-map));
        if (map >= 0) {
                ASSERT_OK(rss_steer_mmap(map, &nc->steer));
                close(map);
                rig_map = nc->steer;
                rig_maps++;
        }
}

/* Sim, server and NIC on the test's TAP; the guest has brought it up. */
static int rig_up(struct ns_env *e, const char *tap) {
        struct netvsp_nic_config nc;
        memset(e, 0, sizeof *e);
        ns_enter_netns();
        int fd = rig_tap(tap);
        snprintf(e->tap, sizeof e->tap, "%s", tap);
        rig_nic_config(e, &nc, fd);
        ns_start(e, &nc);
        ns_open(e);
        ns_nvsp_init(e);
        ns_rndis_up(e);
        return fd;
}

/* A new server and NIC over the same guest, as a new worker builds them
 * from the same configuration (mac: another NIC's, or NULL). */
static void rig_rebuild(struct ns_env *e, int tap_fd, const uint8_t *mac) {
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e->sim, &e->srv));
        struct netvsp_nic_config nc;
        rig_nic_config(e, &nc, tap_fd);
        if (mac)
                memcpy(nc.dev.rndis.mac, mac, 6);
        const char *why = "";
        ASSERT_OK(netvsp_nic_new(&nc, &e->nic, &why));
        struct vmbus_device_config dc = { .ops = &netvsp_provider_ops, .data = e->nic };
        ASSERT_OK(guid_from_string(NS_INSTANCE, &dc.instance_id));
        struct vmbus_device *dev;
        ASSERT_OK(vmbus_server_add_device(e->srv, &dc, &dev));
}

static int save_server(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        return vmbus_server_save(opaque, w, err, errlen);
}

/* What the restored NIC must show again. */
struct snap {
        struct netvsp_nic_state st;
        uint64_t owner[NETVSP_RXBUF_MAX_SLOTS];
        uint32_t slots;
        struct netvsp_nic_stats stats;
};

static void snap_take(struct ns_env *e, struct snap *s) {
        netvsp_nic_get_state(e->nic, &s->st);
        ASSERT_TRUE(s->st.channel_open);
        s->slots = netvsp_nic_get_rx_slots(e->nic, s->owner, NETVSP_RXBUF_MAX_SLOTS);
        netvsp_nic_get_stats(e->nic, &s->stats);
}

/* A quiesced VM (NIC, then server, as vmwp's device table does): its state
 * into a file, the server and NIC freed (the old worker exits). The file
 * stays mapped (*map, *len) and indexed in secs. */
static int rig_save_down(struct ns_env *e, struct snap *before, uint8_t **map, size_t *len,
                         struct vmstate_section *secs, size_t max) {
        if (before)
                snap_take(e, before);
        int n = vmstate_test_save(save_server, e->srv, map, len, secs, max);
        vmbus_server_free(e->srv); /* closes the channel, destroys the NIC */
        e->srv = NULL;
        e->nic = NULL;
        return n;
}

/* Restores into the rebuilt server (quiesced, as vmwp's restore leaves
 * it); the NIC's state must be what was saved. */
static void rig_restore(struct ns_env *e, const struct snap *before, const struct vmstate_section *secs, int n) {
        char err[256] = "";
        int r = vmbus_server_restore(e->srv, secs, (size_t)n, err, sizeof err);
        if (r < 0)
                ASSERT_STREQ(err, "");
        ASSERT_OK(netvsp_nic_restored(e->nic));
        if (!before)
                return;
        static struct snap after;
        snap_take(e, &after);
        struct netvsp_dev_state want = before->st.dev;
        if (want.stall.active) { /* its frames are dropped, its completion owed */
                if (want.stall.want_comp) {
                        ASSERT_LT(want.n_comps, NETVSP_COMP_QUEUE);
                        ASSERT_EQ(after.st.dev.comps[want.n_comps].trans_id, want.stall.trans_id);
                        want.comps[want.n_comps] = after.st.dev.comps[want.n_comps];
                        want.n_comps++;
                }
                memset(&want.stall, 0, sizeof want.stall);
        }
        ASSERT_MEMEQ(&after.st.dev, &want, sizeof want);
        ASSERT_EQ(after.slots, before->slots);
        ASSERT_MEMEQ(after.owner, before->owner, (size_t)before->slots * 8);
}

static void rig_resume(struct ns_env *e) {
        vmbus_server_resume(e->srv);
        netvsp_nic_resume(e->nic);
}

static void rig_quiesce(struct ns_env *e) {
        ASSERT_OK(netvsp_nic_quiesce(e->nic));
        ASSERT_OK(vmbus_server_quiesce(e->srv));
}

/* One save into a new server and NIC; while_saved runs between. */
static void rig_cycle(struct ns_env *e, int tap_fd, void (*while_saved)(struct ns_env *), struct snap *before) {
        static struct vmstate_section secs[64];
        uint8_t *map;
        size_t len;
        int n = rig_save_down(e, before, &map, &len, secs, ARRAY_SIZE(secs));
        if (while_saved)
                while_saved(e);
        rig_rebuild(e, tap_fd, NULL);
        rig_restore(e, before, secs, n);
        munmap(map, len);
}

/* The host sends numbered UDP datagrams to the guest, at most WINDOW
 * ahead of what the guest received, so the TAP's queue (500 frames) never
 * overflows, also while the VM is saved: every one must arrive, once. */
#define RX_MAX 200000u
#define RX_WINDOW 128u
#define RX_PORT 9

struct rx_seq {
        atomic_bool stop;
        atomic_uint sent, received, dups;
        uint8_t *seen;
        pthread_t th;
        struct ns_env *e;
};

static void rx_on_frame(struct guest *g, const uint8_t *f, size_t n) {
        struct rx_seq *x = g->opaque;
        if (n < 46 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 17 || f[36] != 0 || f[37] != RX_PORT)
                return;
        uint32_t seq;
        memcpy(&seq, f + 42, 4);
        ASSERT_LT(seq, RX_MAX);
        if (x->seen[seq]++)
                atomic_fetch_add(&x->dups, 1);
        else
                atomic_fetch_add(&x->received, 1);
}

static void *rx_sender(void *arg) {
        struct rx_seq *x = arg;
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(RX_PORT) };
        inet_pton(AF_INET, NT_GUEST_IP, &dst.sin_addr);
        uint32_t seq = 0;
        while (!atomic_load(&x->stop) && seq < RX_MAX) {
                if (seq - atomic_load(&x->received) >= RX_WINDOW) {
                        usleep(200);
                        continue;
                }
                if (sendto(s, &seq, sizeof seq, 0, (struct sockaddr *)&dst, sizeof dst) == sizeof seq)
                        atomic_store(&x->sent, ++seq);
        }
        close(s);
        return NULL;
}

static void rx_start(struct ns_env *e, struct rx_seq *x) {
        memset(x, 0, sizeof *x);
        x->e = e;
        x->seen = calloc(RX_MAX, 1);
        ASSERT_NOT_NULL(x->seen);
        ASSERT_OK(nt_add_neigh((int)if_nametoindex(e->tap), NT_GUEST_IP, e->mac));
        ASSERT_OK(-pthread_create(&x->th, NULL, rx_sender, x));
}

static void rx_stop(struct rx_seq *x) {
        atomic_store(&x->stop, true);
        pthread_join(x->th, NULL);
}

/* The guest sends without waiting for its completions and leaves its
 * inbound ring alone until it is full and a completion waits in netvsp. */
static void completions_pile_up(struct ns_env *e, struct guest *g) {
        guest_park(g);
        g->reuse_sections = g->no_reading = true;
        guest_run(g);
        struct netvsp_nic_state st;
        for (int i = 0; i < 1000; i++) {
                netvsp_nic_get_state(e->nic, &st);
                if (st.dev.n_comps > 0)
                        return;
                usleep(5000);
        }
        ASSERT_TRUE(false);
}

/* (9) Traffic both ways (the guest sends from its sections and completes
 * what it receives, the host sends numbered datagrams), saved into a new
 * server and NIC 10 times, 3 of them with completions waiting for ring
 * space: each restore shows the saved state again (versions, buffers,
 * RNDIS state, queues, which packet holds each receive slot), every send is completed exactly once and put on the TAP
 * once, every datagram reaches the guest exactly once. */
TEST(save_restore_under_traffic_into_a_new_server) {
        struct ns_env e;
        struct guest g;
        struct rx_seq x;
        static struct snap before;
        int fd = rig_up(&e, "nvs0");
        guest_start(&e, &g);
        g.on_frame = rx_on_frame;
        g.opaque = &x;
        rx_start(&e, &x);
        guest_run(&g);
        wait_for_traffic(&g, 1000);
        uint64_t tx = 0, held = 0, owed = 0;
        for (int i = 0; i < 10; i++) {
                if (i % 3 == 1) /* the guest stops reading: completions wait in netvsp */
                        completions_pile_up(&e, &g);
                ASSERT_OK(netvsp_nic_quiesce(e.nic));
                guest_park(&g); /* the vCPUs park after the devices quiesced: the ring fills on */
                ASSERT_OK(vmbus_server_quiesce(e.srv));
                rig_cycle(&e, fd, NULL, &before);
                tx += before.stats.dev.tx_packets;
                held += before.st.dev.recv_posted_slots;
                owed += before.st.dev.n_comps + before.st.dev.rx_batch_n;
                ASSERT_EQ(before.stats.dev.tx_dropped, 0u);
                ASSERT_EQ(before.stats.dev.bogus_completions, 0u);
                rig_resume(&e);
                g.reuse_sections = g.no_reading = false;
                guest_run(&g);
                wait_for_traffic(&g, 300);
        }
        ASSERT_GT(owed, 0u);
        rx_stop(&x);
        unsigned sent = atomic_load(&x.sent);
        for (uint64_t end = nt_now_ms() + 20000; atomic_load(&x.received) < sent && nt_now_ms() < end;)
                usleep(1000);
        guest_park(&g);
        guest_finish(&g); /* every send completed exactly once */
        fprintf(stderr, "10 saves: %u sends, %u datagrams received (%u sent), %llu receive slots held and "
                        "%llu completions/frames queued across saves\n",
                g.sent, atomic_load(&x.received), sent, (unsigned long long)held, (unsigned long long)owed);
        ASSERT_EQ(atomic_load(&x.dups), 0u);
        ASSERT_EQ(atomic_load(&x.received), sent);
        ASSERT_GT(held, 0u);
        struct netvsp_nic_stats s;
        netvsp_nic_get_stats(e.nic, &s);
        ASSERT_EQ(s.dev.bogus_completions, 0u);
        ASSERT_EQ(s.dev.tx_dropped, 0u);
        ASSERT_EQ(tx + s.dev.tx_packets, (uint64_t)g.sent); /* each frame on the TAP once */
        free(x.seen);
        ns_drain(&e);
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
        close(fd);
}

static void admin_down(struct ns_env *e) {
        ns_set_admin(e->tap, false);
}

/* (10) The TAP goes down while the VM is saved (the new worker's link
 * watch never sees a change): the guest hears of it after resume; the
 * link coming back is indicated as usual. */
TEST(link_change_while_saved_is_indicated_after_resume) {
        struct ns_env e;
        int fd = rig_up(&e, "nvs1");
        rig_quiesce(&e);
        rig_cycle(&e, fd, admin_down, NULL);
        struct netvsp_nic_state st;
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_TRUE(st.dev.link_up); /* what the guest was told, until resume */
        e.n_indications = 0;
        rig_resume(&e);
        ASSERT_TRUE(ns_wait_indication(&e, RNDIS_STATUS_MEDIA_DISCONNECT, 5000));
        netvsp_nic_get_state(e.nic, &st);
        ASSERT_FALSE(st.dev.link_up);
        e.n_indications = 0;
        ns_set_admin(e.tap, true);
        ASSERT_TRUE(ns_wait_indication(&e, RNDIS_STATUS_MEDIA_CONNECT, 5000));
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
        close(fd);
}

/* Captures RARP frames arriving at the TAP (what the worker writes to it). */
static int rarp_socket(const char *tap) {
        int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(NETVSP_ETH_P_RARP));
        ASSERT_OK(s);
        struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(NETVSP_ETH_P_RARP),
                                 .sll_ifindex = (int)if_nametoindex(tap) };
        ASSERT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
        int on = 1;
        ASSERT_OK(setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on));
        return s;
}

/* The next RARP within ms: checked (broadcast, from mac, RARP request for
 * mac) and its kernel receive time in µs; -1 if none came. */
static int64_t rarp_next(int s, const uint8_t mac[6], int ms) {
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (poll(&p, 1, ms) != 1)
                return -1;
        uint8_t f[2048], cbuf[256];
        struct iovec iov = { f, sizeof f };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
        ssize_t n = recvmsg(s, &mh, 0);
        ASSERT_GE(n, (ssize_t)42);
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        ASSERT_MEMEQ(f, bcast, 6);
        ASSERT_MEMEQ(f + 6, mac, 6);
        ASSERT_EQ(f[12] << 8 | f[13], (int)NETVSP_ETH_P_RARP);
        ASSERT_EQ(f[21], 3); /* request reverse */
        ASSERT_MEMEQ(f + 22, mac, 6);
        ASSERT_MEMEQ(f + 32, mac, 6);
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                        struct timespec ts;
                        memcpy(&ts, CMSG_DATA(c), sizeof ts);
                        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
                }
        ASSERT_TRUE(false);
        return -1;
}

/* (11) The announce: after a plain pause and resume none; after a restore
 * none while quiesced, then 5 RARPs from the guest's MAC once resumed, at
 * least 50, 150, 250 and 350 ms apart, and no more; the guest is told the
 * link state once more (its driver notifies its peers). */
TEST(announce_after_restore_not_after_pause) {
        struct ns_env e;
        int fd = rig_up(&e, "nvs2");
        int s = rarp_socket(e.tap);
        rig_quiesce(&e);
        rig_resume(&e);
        ASSERT_EQ(rarp_next(s, e.mac, 700), -1);
        rig_quiesce(&e);
        rig_cycle(&e, fd, NULL, NULL);
        ASSERT_EQ(rarp_next(s, e.mac, 200), -1); /* restored, not resumed */
        e.n_indications = 0;
        rig_resume(&e);
        int64_t t[5];
        for (int i = 0; i < 5; i++) {
                t[i] = rarp_next(s, e.mac, 5000);
                ASSERT_GE(t[i], 0);
        }
        static const int64_t min_gap_us[4] = { 50000, 150000, 250000, 350000 };
        for (int i = 0; i < 4; i++) {
                fprintf(stderr, "RARP %d -> %d: %lld us\n", i, i + 1, (long long)(t[i + 1] - t[i]));
                ASSERT_GE(t[i + 1] - t[i], min_gap_us[i] - 2000); /* the kernel stamps the frame after the send */
        }
        ASSERT_EQ(rarp_next(s, e.mac, 800), -1);
        ASSERT_TRUE(ns_wait_indication(&e, RNDIS_STATUS_MEDIA_CONNECT, 5000));
        struct netvsp_nic_stats st;
        netvsp_nic_get_stats(e.nic, &st);
        ASSERT_EQ(st.dev.announces, 5u);
        ns_arp_roundtrip(&e, 0);
        close(s);
        ns_stop(&e);
        close(fd);
}

/* (12) A section that cannot be applied changes nothing: a corrupt NVCH
 * (refused by the pure decoder) and one saved for another NIC (refused
 * when applied) leave the server as built, and the same server then
 * restores the good state and the guest's NIC works. */
/* vRSS: a sub-channel is saved in its own NVCH (its receive range, its
 * owed completions) and restored into the new server's sub-channel; both
 * channels carry traffic after the resume. */
/* The guest's RSS parameters as the steering map must hold them. */
static bool map_holds_the_guests_table(void) {
        const struct rss_steer_map *m = rig_map;
        if (!m) /* no BPF here: nothing to check */
                return true;
        if (!__atomic_load_n(&m->enabled, __ATOMIC_ACQUIRE) ||
            m->hash_types != (NDIS_HASH_FUNC_TOEPLITZ | RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4))
                return false;
        for (uint32_t i = 0; i < RSS_STEER_TABLE; i++)
                if (m->table[i] != i % 2)
                        return false;
        uint8_t key[40], in[8] = { 10, 0, 0, 1, 10, 0, 0, 2 };
        for (uint32_t i = 0; i < 40; i++)
                key[i] = (uint8_t)(i * 7 + 1);
        uint32_t h = 0;
        for (unsigned i = 0; i < 8; i++)
                h ^= m->lut[i][in[i]];
        return h == rss_toeplitz(key, in, 8);
}

/* With a steering map (vmms's, on a multi-queue TAP): the NIC writes the
 * guest's RSS parameters into it, and the NIC a restore builds writes them
 * into its own new map as it restores, without the guest setting them
 * again (a live migration's destination). */
TEST(save_restore_with_a_sub_channel) {
        struct ns_env e;
        rig_queues = 2;
        rig_steer = true;
        int fd = rig_up(&e, "vst4");
        uint32_t m[10];
        ns_ask_subchannels(&e, 1, m);
        ASSERT_EQ(m[2], 1u);
        struct vmbus_sim_channel sub;
        ns_open_sub(&e, 1, &sub);
        ns_set_rss(&e, 2, NDIS_HASH_FUNC_TOEPLITZ | RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4);
        WAIT_FOR(map_holds_the_guests_table());
        unsigned maps = rig_maps;
        uint8_t f[2048];
        size_t n = nt_arp_request(f, e.mac, NT_GUEST_IP, NT_HOST_IP);
        ASSERT_EQ(ns_sub_comp(&e, &sub, ns_send_frame_on(&e, &sub, 2, f, (uint32_t)n)), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(ns_wait_frame(&e, ns_is_arp_reply, f, 5000), (ssize_t)42);
        rig_quiesce(&e);
        /* sent while saved: completed on the sub-channel after the resume */
        uint64_t tid = ns_send_frame_on(&e, &sub, 3, f, (uint32_t)nt_arp_request(f, e.mac, NT_GUEST_IP, NT_HOST_IP));
        static struct snap before;
        rig_cycle(&e, fd, NULL, &before);
        ASSERT_EQ(before.st.dev.rx_split, 2u);
        ASSERT_EQ(before.st.dev.subs_offered, 1u);
        ASSERT_EQ(rig_maps, maps + (maps > 0));
        ASSERT_TRUE(map_holds_the_guests_table()); /* the new map, filled by the restore itself */
        rig_resume(&e);
        ASSERT_EQ(ns_sub_comp(&e, &sub, tid), (uint32_t)NVSP_STAT_SUCCESS);
        ASSERT_EQ(ns_wait_frame(&e, ns_is_arp_reply, f, 5000), (ssize_t)42);
        ASSERT_TRUE(map_holds_the_guests_table());
        /* The counter moves after the frame went to the TAP: the reply
         * can be here first. */
        struct netvsp_nic_stats s;
        WAIT_FOR((netvsp_nic_get_stats(e.nic, &s), s.queue[1].tx_packets == 1u));
        ns_arp_roundtrip(&e, 4); /* and the primary */
        ASSERT_OK(vmbus_sim_close(e.sim, &sub));
        ns_stop(&e);
        close(fd);
        rig_queues = 1;
        rig_steer = false;
        rig_map = NULL; /* unmapped with its NIC */
}

TEST(restore_refusals_leave_a_usable_server) {
        struct ns_env e;
        int fd = rig_up(&e, "nvs3");
        rig_quiesce(&e);
        static struct vmstate_section secs[64], bad[64];
        uint8_t *map;
        size_t len;
        int n = rig_save_down(&e, NULL, &map, &len, secs, ARRAY_SIZE(secs));
        rig_rebuild(&e, fd, NULL);
        const struct vmstate_section *nv = vmstate_find(secs, (size_t)n, NETVSP_STATE_TAG, e.offer.child_relid);
        ASSERT_NOT_NULL(nv);
        struct netvsp_saved *st = malloc(sizeof *st);
        char err[256] = "";
        ASSERT_OK(netvsp_saved_decode(nv, st, err, sizeof err));
        for (int k = 0; k < 2; k++) {
                struct netvsp_saved *c = malloc(sizeof *c);
                memcpy(c, st, sizeof *c);
                if (k == 0)
                        put_comps(c, NETVSP_COMP_QUEUE, 1), c->stall_comp = true;
                else
                        c->perm_mac[0] ^= 0x02;
                uint8_t *buf;
                size_t blen;
                ASSERT_OK(vmstate_test_encode(&netvsp_saved_desc, e.offer.child_relid, c, &buf, &blen));
                struct vmstate_section one[2];
                struct vmstate_header h;
                ASSERT_EQ(vmstate_index(buf, blen, &h, one, 2, err, sizeof err), 1);
                memcpy(bad, secs, sizeof bad);
                bad[nv - secs] = one[0];
                err[0] = 0;
                ASSERT_EQ(vmbus_server_restore(e.srv, bad, (size_t)n, err, sizeof err), -EINVAL);
                fprintf(stderr, "refused: %s\n", err);
                ASSERT_NOT_NULL(strstr(err, k == 0 ? "NVCH" : "another MAC"));
                free(buf);
                free(c);
        }
        rig_restore(&e, NULL, secs, n);
        munmap(map, len);
        free(st);
        rig_resume(&e);
        ns_drain(&e);
        ns_arp_roundtrip(&e, 0);
        ns_stop(&e);
        close(fd);
}

TEST_MAIN();
