/* SPDX-License-Identifier: MIT */
/* Receive-side scaling for a multi-queue TAP (docs/netvsp.md "vRSS",
 * step 7): a steering program (TUNSETSTEERINGEBPF) that puts each frame
 * for the guest on the TAP queue of the channel the guest's own RSS
 * parameters name: the Toeplitz hash (NDIS) over the guest's 40-byte key
 * and the flow's addresses and ports, then the guest's indirection table.
 *
 * Who does what:
 *  - vmms, which opens the TAP, loads the program and attaches it
 *    (rss_steer_attach: bpf() needs privilege the worker does not have) and
 *    passes the program's map to the worker with the queue fds;
 *  - the worker maps it (rss_steer_mmap) and fills it as the guest sets its
 *    RSS parameters and as sub-channels attach their queues: a plain store
 *    into shared memory, no system call, so the sandbox is unchanged.
 * The map holds one value, struct rss_steer_map: the guest's table and a
 * lookup table per input byte precomputed from its key, so the program does
 * one load and one XOR per byte. The worker is not trusted with more than
 * the choice among its own TAP's queues: tun takes the program's result
 * modulo the queues attached. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RSS_STEER_KEY_SIZE 40u   /* NDIS_RSS_HASH_KEY_SIZE */
#define RSS_STEER_TABLE 256u     /* entries the program indexes by hash & 255 */
#define RSS_STEER_CHANNELS 8u    /* NETVSP_MAX_QUEUES */
#define RSS_STEER_INPUT_MAX 36u  /* IPv6 source, destination and two ports */

/* NDIS_RECEIVE_SCALE_PARAMETERS.HashInformation: which fields are hashed. */
#define RSS_HASH_IPV4 0x00000100u
#define RSS_HASH_TCP_IPV4 0x00000200u
#define RSS_HASH_IPV6 0x00000400u
#define RSS_HASH_TCP_IPV6 0x00001000u
#define RSS_HASH_UDP_IPV4 0x00004000u
#define RSS_HASH_UDP_IPV6 0x00008000u

/* The map's one value, shared by the program and the worker. */
struct rss_steer_map {
        uint32_t enabled;    /* 0: every frame to queue 0 (RSS off, as the guest asked) */
        uint32_t hash_types; /* RSS_HASH_* */
        uint32_t queue_of[RSS_STEER_CHANNELS];     /* the TAP queue index of channel k (0: not attached) */
        uint32_t table[RSS_STEER_TABLE];           /* channel of hash & 255 */
        uint32_t lut[RSS_STEER_INPUT_MAX][256];    /* hash contribution of byte value v at input position i */
};

/* The NDIS Toeplitz hash of in[0..n) under key (n <= RSS_STEER_INPUT_MAX). */
uint32_t rss_toeplitz(const uint8_t key[RSS_STEER_KEY_SIZE], const uint8_t *in, size_t n);

/* Creates the map, loads the program and attaches it to the multi-queue
 * TAP that tap_fd is a queue of. Returns the map's fd, or a negative errno
 * (-EPERM without CAP_BPF/CAP_SYS_ADMIN, -EINVAL where tun has no steering
 * programs) with a sentence in err. The program stays attached as long as
 * the TAP exists. */
int rss_steer_attach(int tap_fd, char *err, size_t errlen);
/* Takes the program off the TAP again (tun's flow table steers then):
 * for one whose map cannot be used. 0 or a negative errno. */
int rss_steer_detach(int tap_fd);

/* The map alone (an array of one struct rss_steer_map, mmap-able). */
int rss_steer_map_create(void);
/* The program alone, loaded for map_fd (rss_steer_attach's first step;
 * tests run it with BPF_PROG_TEST_RUN). Returns its fd or a negative errno
 * with the verifier's last line in err. */
int rss_steer_prog_load(int map_fd, char *err, size_t errlen);

/* Maps the map's value read-write (MAP_SHARED); NULL-safe unmap. */
int rss_steer_mmap(int map_fd, struct rss_steer_map **out);
void rss_steer_munmap(struct rss_steer_map *m);

/* The guest's RSS parameters: key, NDIS hash types and indirection table
 * of n entries (1..RSS_STEER_TABLE, channel numbers); n == 0 turns steering
 * off (every frame to queue 0). Written so that a frame steered meanwhile
 * goes to some queue of the TAP, never anywhere else. */
void rss_steer_set_params(struct rss_steer_map *m, const uint8_t key[RSS_STEER_KEY_SIZE], uint32_t hash_types,
                          const uint32_t *table, uint32_t n);
/* queue_of[k]: channel k's index among the TAP's attached queues. */
void rss_steer_set_queues(struct rss_steer_map *m, const uint32_t queue_of[RSS_STEER_CHANNELS]);

/* What the program returns for the Ethernet frame[0..len): the same steps
 * in C, for tests and for the record. */
uint32_t rss_steer_pick(const struct rss_steer_map *m, const uint8_t *frame, size_t len);

/* tun's queue order as attach and detach change it (tun_attach appends,
 * __tun_detach moves the last queue into the hole), for a TAP whose queues
 * are all ours: at[i] is the channel of attached queue i. */
struct rss_queue_order {
        uint8_t at[RSS_STEER_CHANNELS];
        uint32_t n;
};
/* n channels' queues attached in channel order (0 .. n-1): vmms opened them so. */
void rss_queue_order_init(struct rss_queue_order *o, uint32_t n);
void rss_queue_order_attach(struct rss_queue_order *o, uint32_t channel);
void rss_queue_order_detach(struct rss_queue_order *o, uint32_t channel);
/* queue_of[k] for rss_steer_set_queues; a channel not attached gets 0. */
void rss_queue_order_get(const struct rss_queue_order *o, uint32_t queue_of[RSS_STEER_CHANNELS]);
