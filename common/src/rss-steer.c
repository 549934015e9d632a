// SPDX-License-Identifier: MIT
/* The TAP's RSS steering program and its map (common/rss-steer.h,
 * docs/netvsp.md "vRSS"). The program is written here as eBPF instructions
 * (no BPF compiler in the build); rss_steer_pick is the same logic in C, and
 * test-rss-steer runs both on the same frames (BPF_PROG_TEST_RUN). */
#include "common/rss-steer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"

#define ETH_HLEN_ 14u
#define IPPROTO_TCP_ 6u
#define IPPROTO_UDP_ 17u

/* ---- the hash ---- */

/* The 32 key bits starting at bit p (bit 0: the first byte's top bit). */
static uint32_t key_window(const uint8_t key[RSS_STEER_KEY_SIZE], unsigned p) {
        uint64_t v = 0;
        for (unsigned i = 0; i < 5; i++) {
                unsigned b = p / 8 + i;
                v = v << 8 | (b < RSS_STEER_KEY_SIZE ? key[b] : 0);
        }
        return (uint32_t)(v >> (8 - p % 8));
}

uint32_t rss_toeplitz(const uint8_t key[RSS_STEER_KEY_SIZE], const uint8_t *in, size_t n) {
        uint32_t h = 0;
        for (size_t i = 0; i < n && i < RSS_STEER_INPUT_MAX; i++)
                for (unsigned j = 0; j < 8; j++)
                        if (in[i] & (0x80u >> j))
                                h ^= key_window(key, (unsigned)(i * 8 + j));
        return h;
}

/* ---- the map's contents ---- */

void rss_steer_set_params(struct rss_steer_map *m, const uint8_t key[RSS_STEER_KEY_SIZE], uint32_t hash_types,
                          const uint32_t *table, uint32_t n) {
        __atomic_store_n(&m->enabled, 0, __ATOMIC_RELEASE);
        if (n == 0 || n > RSS_STEER_TABLE || !table || !key)
                return;
        for (unsigned i = 0; i < RSS_STEER_INPUT_MAX; i++) {
                uint32_t bit[8];
                for (unsigned j = 0; j < 8; j++)
                        bit[j] = key_window(key, i * 8 + j);
                for (unsigned v = 0; v < 256; v++) {
                        uint32_t h = 0;
                        for (unsigned j = 0; j < 8; j++)
                                if (v & (0x80u >> j))
                                        h ^= bit[j];
                        m->lut[i][v] = h;
                }
        }
        /* NDIS tables are a power of two long and indexed by the hash's low
         * bits: entry i of 256 is entry i mod n. */
        for (unsigned i = 0; i < RSS_STEER_TABLE; i++)
                m->table[i] = table[i % n];
        m->hash_types = hash_types;
        __atomic_store_n(&m->enabled, 1, __ATOMIC_RELEASE);
}

void rss_steer_set_queues(struct rss_steer_map *m, const uint32_t queue_of[RSS_STEER_CHANNELS]) {
        for (unsigned k = 0; k < RSS_STEER_CHANNELS; k++)
                __atomic_store_n(&m->queue_of[k], queue_of[k], __ATOMIC_RELAXED);
}

static uint32_t hash_lut(const struct rss_steer_map *m, const uint8_t *in, size_t n) {
        uint32_t h = 0;
        for (size_t i = 0; i < n; i++)
                h ^= m->lut[i][in[i]];
        return h;
}

static uint32_t pick(const struct rss_steer_map *m, uint32_t h) {
        return m->queue_of[m->table[h & 255u] & (RSS_STEER_CHANNELS - 1)];
}

uint32_t rss_steer_pick(const struct rss_steer_map *m, const uint8_t *f, size_t len) {
        if (!m->enabled || len < ETH_HLEN_)
                return 0;
        uint32_t t = m->hash_types;
        uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
        const uint8_t *ip = f + ETH_HLEN_;
        size_t left = len - ETH_HLEN_;
        uint8_t in[RSS_STEER_INPUT_MAX];
        if (type == 0x0800) {
                if (!(t & (RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4 | RSS_HASH_UDP_IPV4)) || left < 20 || ip[0] >> 4 != 4 ||
                    (ip[0] & 15) < 5)
                        return 0;
                size_t ihl = (size_t)(ip[0] & 15) * 4;
                bool frag = ((ip[6] << 8 | ip[7]) & 0x3fff) != 0;
                bool l4 = !frag && ((ip[9] == IPPROTO_TCP_ && (t & RSS_HASH_TCP_IPV4)) ||
                                    (ip[9] == IPPROTO_UDP_ && (t & RSS_HASH_UDP_IPV4)));
                memcpy(in, ip + 12, 8);
                if (l4 && left >= ihl + 4) {
                        memcpy(in + 8, ip + ihl, 4);
                        return pick(m, hash_lut(m, in, 12));
                }
                return t & RSS_HASH_IPV4 ? pick(m, hash_lut(m, in, 8)) : 0;
        }
        if (type == 0x86dd) {
                if (!(t & (RSS_HASH_IPV6 | RSS_HASH_TCP_IPV6 | RSS_HASH_UDP_IPV6)) || left < 40 || ip[0] >> 4 != 6)
                        return 0;
                bool l4 = (ip[6] == IPPROTO_TCP_ && (t & RSS_HASH_TCP_IPV6)) ||
                          (ip[6] == IPPROTO_UDP_ && (t & RSS_HASH_UDP_IPV6));
                memcpy(in, ip + 8, 32);
                if (l4 && left >= 44) {
                        memcpy(in + 32, ip + 40, 4);
                        return pick(m, hash_lut(m, in, 36));
                }
                return t & RSS_HASH_IPV6 ? pick(m, hash_lut(m, in, 32)) : 0;
        }
        return 0;
}

/* ---- tun's queue order ---- */

void rss_queue_order_init(struct rss_queue_order *o, uint32_t n) {
        memset(o, 0, sizeof *o);
        o->n = MIN(n, RSS_STEER_CHANNELS);
        for (uint32_t i = 0; i < o->n; i++)
                o->at[i] = (uint8_t)i;
}

void rss_queue_order_attach(struct rss_queue_order *o, uint32_t channel) {
        for (uint32_t i = 0; i < o->n; i++)
                if (o->at[i] == channel)
                        return;
        if (o->n < RSS_STEER_CHANNELS && channel < RSS_STEER_CHANNELS)
                o->at[o->n++] = (uint8_t)channel;
}

void rss_queue_order_detach(struct rss_queue_order *o, uint32_t channel) {
        for (uint32_t i = 0; i < o->n; i++)
                if (o->at[i] == channel) {
                        o->at[i] = o->at[--o->n];
                        return;
                }
}

void rss_queue_order_get(const struct rss_queue_order *o, uint32_t queue_of[RSS_STEER_CHANNELS]) {
        memset(queue_of, 0, RSS_STEER_CHANNELS * sizeof *queue_of);
        for (uint32_t i = 0; i < o->n; i++)
                queue_of[o->at[i]] = i;
}

/* ---- the program ---- */

#define PROG_MAX 1024u
#define LABELS 16u

struct prog {
        struct bpf_insn in[PROG_MAX];
        unsigned n;
        int label[LABELS];       /* instruction index, -1 until placed */
        struct {
                unsigned at, label;
        } fix[64];               /* jumps to labels placed later */
        unsigned n_fix;
        bool overflow;
};

enum { L_RET0, L_IPV6, L_V4_TCP, L_V4_UDP, L_V4_PORTS, L_V4_NOPORTS, L_V6_TCP, L_V6_UDP, L_V6_PORTS, L_V6_NOPORTS,
       L_DONE };

static void emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
        if (p->n >= PROG_MAX) {
                p->overflow = true;
                return;
        }
        p->in[p->n++] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

static void place(struct prog *p, unsigned label) {
        p->label[label] = (int)p->n;
}

/* A conditional (or, op BPF_JA, plain) jump to a label: the offset is
 * filled in by link_labels(). */
static void jump(struct prog *p, uint8_t op, uint8_t reg, int32_t imm, unsigned label) {
        if (p->n_fix >= ARRAY_SIZE(p->fix)) {
                p->overflow = true;
                return;
        }
        p->fix[p->n_fix].at = p->n;
        p->fix[p->n_fix++].label = label;
        emit(p, (uint8_t)(BPF_JMP | op | BPF_K), reg, 0, 0, imm);
}

static int link_labels(struct prog *p) {
        for (unsigned i = 0; i < p->n_fix; i++) {
                int to = p->label[p->fix[i].label];
                if (to < 0)
                        return -EINVAL;
                p->in[p->fix[i].at].off = (int16_t)(to - (int)p->fix[i].at - 1);
        }
        return p->overflow ? -E2BIG : 0;
}

#define R0 BPF_REG_0
#define R1 BPF_REG_1
#define R2 BPF_REG_2
#define R3 BPF_REG_3
#define R4 BPF_REG_4
#define R5 BPF_REG_5
#define R6 BPF_REG_6 /* the skb */
#define R7 BPF_REG_7 /* the map's value */
#define R8 BPF_REG_8 /* hash types */
#define R9 BPF_REG_9 /* the hash */
#define FP BPF_REG_10

static void mov_imm(struct prog *p, uint8_t d, int32_t imm) {
        emit(p, BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, imm);
}
static void mov_reg(struct prog *p, uint8_t d, uint8_t s) {
        emit(p, BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0);
}
static void alu_imm(struct prog *p, uint8_t op, uint8_t d, int32_t imm) {
        emit(p, (uint8_t)(BPF_ALU64 | op | BPF_K), d, 0, 0, imm);
}
static void alu_reg(struct prog *p, uint8_t op, uint8_t d, uint8_t s) {
        emit(p, (uint8_t)(BPF_ALU64 | op | BPF_X), d, s, 0, 0);
}
static void ldx(struct prog *p, uint8_t size, uint8_t d, uint8_t s, int16_t off) {
        emit(p, (uint8_t)(BPF_LDX | BPF_MEM | size), d, s, off, 0);
}

/* Frame bytes [off, off + len) (from the Ethernet header) to the stack at
 * fp + at; anything short of that jumps to fail. off_reg >= 0: the offset
 * is that register plus off. */
static void load_bytes(struct prog *p, int off_reg, int32_t off, int16_t at, int32_t len, unsigned fail) {
        if (off_reg >= 0)
                mov_reg(p, R2, (uint8_t)off_reg);
        else
                mov_imm(p, R2, 0);
        alu_imm(p, BPF_ADD, R2, off);
        mov_reg(p, R1, R6);
        mov_reg(p, R3, FP);
        alu_imm(p, BPF_ADD, R3, at);
        mov_imm(p, R4, len);
        mov_imm(p, R5, BPF_HDR_START_MAC);
        emit(p, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_load_bytes_relative);
        jump(p, BPF_JNE, R0, 0, fail);
}

/* r9 ^= lut[i][byte at fp + at + i] for i in [0, n). */
static void hash_bytes(struct prog *p, int16_t at, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                ldx(p, BPF_B, R1, FP, (int16_t)(at + (int)i));
                alu_imm(p, BPF_LSH, R1, 2);
                alu_imm(p, BPF_ADD, R1, (int32_t)(offsetof(struct rss_steer_map, lut) + i * 256 * sizeof(uint32_t)));
                alu_reg(p, BPF_ADD, R1, R7);
                ldx(p, BPF_W, R1, R1, 0);
                alu_reg(p, BPF_XOR, R9, R1);
        }
        jump(p, BPF_JA, 0, 0, L_DONE);
}

/* if (r8 & bits) == 0 goto label */
static void unless_types(struct prog *p, uint32_t bits, unsigned label) {
        mov_reg(p, R3, R8);
        alu_imm(p, BPF_AND, R3, (int32_t)bits);
        jump(p, BPF_JEQ, R3, 0, label);
}

/* The protocol byte in r2: TCP or UDP with its hash type on goes to
 * `ports`, anything else to `noports`. */
static void l4_dispatch(struct prog *p, uint32_t tcp_type, uint32_t udp_type, unsigned l_tcp, unsigned l_udp,
                        unsigned ports, unsigned noports) {
        jump(p, BPF_JEQ, R2, IPPROTO_TCP_, l_tcp);
        jump(p, BPF_JEQ, R2, IPPROTO_UDP_, l_udp);
        jump(p, BPF_JA, 0, 0, noports);
        place(p, l_tcp);
        unless_types(p, tcp_type, noports);
        jump(p, BPF_JA, 0, 0, ports);
        place(p, l_udp);
        unless_types(p, udp_type, noports);
        place(p, ports);
}

/* Stack layout: the network header is copied to fp - 64; IPv4's addresses
 * are then at fp - 52 with its ports loaded right after them (fp - 44), and
 * IPv6's at fp - 56 with the ports at fp - 24: each flow's hash input is
 * contiguous. */
#define NH (-64)

static int build(struct prog *p, int map_fd) {
        memset(p, 0, sizeof *p);
        for (unsigned i = 0; i < LABELS; i++)
                p->label[i] = -1;
        mov_reg(p, R6, R1);
        emit(p, BPF_ST | BPF_MEM | BPF_W, FP, 0, -4, 0);
        emit(p, BPF_LD | BPF_DW | BPF_IMM, R1, BPF_PSEUDO_MAP_FD, 0, map_fd);
        emit(p, 0, 0, 0, 0, 0);
        mov_reg(p, R2, FP);
        alu_imm(p, BPF_ADD, R2, -4);
        emit(p, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
        jump(p, BPF_JEQ, R0, 0, L_RET0);
        mov_reg(p, R7, R0);
        ldx(p, BPF_W, R1, R7, (int16_t)offsetof(struct rss_steer_map, enabled));
        jump(p, BPF_JEQ, R1, 0, L_RET0);
        ldx(p, BPF_W, R8, R7, (int16_t)offsetof(struct rss_steer_map, hash_types));
        mov_imm(p, R9, 0);
        load_bytes(p, -1, 12, NH, 2, L_RET0); /* the EtherType */
        ldx(p, BPF_H, R1, FP, NH);
        jump(p, BPF_JEQ, R1, htons(0x86dd), L_IPV6);
        jump(p, BPF_JNE, R1, htons(0x0800), L_RET0);

        /* IPv4 */
        unless_types(p, RSS_HASH_IPV4 | RSS_HASH_TCP_IPV4 | RSS_HASH_UDP_IPV4, L_RET0);
        load_bytes(p, -1, ETH_HLEN_, NH, 20, L_RET0);
        ldx(p, BPF_B, R1, FP, NH);
        mov_reg(p, R2, R1);
        alu_imm(p, BPF_RSH, R2, 4);
        jump(p, BPF_JNE, R2, 4, L_RET0);
        alu_imm(p, BPF_AND, R1, 15);
        jump(p, BPF_JLT, R1, 5, L_RET0);
        alu_imm(p, BPF_LSH, R1, 2);
        mov_reg(p, R4, R1); /* the header's length; the helper calls below clobber r1-r5 */
        ldx(p, BPF_H, R3, FP, NH + 6); /* flags and fragment offset */
        alu_imm(p, BPF_AND, R3, htons(0x3fff));
        jump(p, BPF_JNE, R3, 0, L_V4_NOPORTS);
        ldx(p, BPF_B, R2, FP, NH + 9);
        l4_dispatch(p, RSS_HASH_TCP_IPV4, RSS_HASH_UDP_IPV4, L_V4_TCP, L_V4_UDP, L_V4_PORTS, L_V4_NOPORTS);
        load_bytes(p, R4, ETH_HLEN_, NH + 20, 4, L_V4_NOPORTS);
        hash_bytes(p, NH + 12, 12);
        place(p, L_V4_NOPORTS);
        unless_types(p, RSS_HASH_IPV4, L_RET0);
        hash_bytes(p, NH + 12, 8);

        place(p, L_IPV6);
        unless_types(p, RSS_HASH_IPV6 | RSS_HASH_TCP_IPV6 | RSS_HASH_UDP_IPV6, L_RET0);
        load_bytes(p, -1, ETH_HLEN_, NH, 40, L_RET0);
        ldx(p, BPF_B, R1, FP, NH);
        alu_imm(p, BPF_RSH, R1, 4);
        jump(p, BPF_JNE, R1, 6, L_RET0);
        ldx(p, BPF_B, R2, FP, NH + 6); /* next header */
        l4_dispatch(p, RSS_HASH_TCP_IPV6, RSS_HASH_UDP_IPV6, L_V6_TCP, L_V6_UDP, L_V6_PORTS, L_V6_NOPORTS);
        load_bytes(p, -1, ETH_HLEN_ + 40, NH + 40, 4, L_V6_NOPORTS);
        hash_bytes(p, NH + 8, 36);
        place(p, L_V6_NOPORTS);
        unless_types(p, RSS_HASH_IPV6, L_RET0);
        hash_bytes(p, NH + 8, 32);

        /* queue_of[table[hash & 255] & 7] */
        place(p, L_DONE);
        alu_imm(p, BPF_AND, R9, 255);
        alu_imm(p, BPF_LSH, R9, 2);
        alu_reg(p, BPF_ADD, R9, R7);
        ldx(p, BPF_W, R1, R9, (int16_t)offsetof(struct rss_steer_map, table));
        alu_imm(p, BPF_AND, R1, RSS_STEER_CHANNELS - 1);
        alu_imm(p, BPF_LSH, R1, 2);
        alu_reg(p, BPF_ADD, R1, R7);
        ldx(p, BPF_W, R0, R1, (int16_t)offsetof(struct rss_steer_map, queue_of));
        emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        place(p, L_RET0);
        mov_imm(p, R0, 0);
        emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        return link_labels(p);
}

_Static_assert(offsetof(struct rss_steer_map, table) + RSS_STEER_TABLE * 4 < 32768,
               "the table is reached with a 16-bit load offset");

static int sys_bpf(int cmd, union bpf_attr *a) {
        long r = syscall(__NR_bpf, cmd, a, sizeof *a);
        return r < 0 ? negative_errno() : (int)r;
}

int rss_steer_map_create(void) {
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.map_type = BPF_MAP_TYPE_ARRAY;
        a.key_size = sizeof(uint32_t);
        a.value_size = sizeof(struct rss_steer_map);
        a.max_entries = 1;
        a.map_flags = BPF_F_MMAPABLE;
        snprintf(a.map_name, sizeof a.map_name, "vmstack_rss");
        return sys_bpf(BPF_MAP_CREATE, &a); /* bpf() fds are O_CLOEXEC */
}

static int prog_load(int map_fd, char *log, size_t loglen) {
        _cleanup_free_ struct prog *p = calloc(1, sizeof *p); /* 5 KiB: off the stack */
        if (!p)
                return -ENOMEM;
        int r = build(p, map_fd);
        if (r < 0)
                return r;
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
        a.insns = (uint64_t)(uintptr_t)p->in;
        a.insn_cnt = p->n;
        a.license = (uint64_t)(uintptr_t)"Dual MIT/GPL";
        if (log && loglen) {
                log[0] = 0;
                a.log_buf = (uint64_t)(uintptr_t)log;
                a.log_size = (uint32_t)loglen;
                a.log_level = 1;
        }
        snprintf(a.prog_name, sizeof a.prog_name, "vmstack_rss");
        int fd = sys_bpf(BPF_PROG_LOAD, &a);
        if (fd == -ENOSPC && log) /* the verifier's log did not fit: load without it */
                return prog_load(map_fd, NULL, 0);
        return fd;
}

int rss_steer_prog_load(int map_fd, char *err, size_t errlen) {
        char log[4096];
        int fd = prog_load(map_fd, log, sizeof log);
        if (fd < 0) {
                size_t l = strlen(log);
                while (l && log[l - 1] == '\n')
                        log[--l] = 0;
                const char *last = strrchr(log, '\n');
                snprintf(err, errlen, "loading the RSS steering program: %s%s%s", strerror(-fd), log[0] ? ": " : "",
                         last ? last + 1 : log);
        }
        return fd;
}

int rss_steer_attach(int tap_fd, char *err, size_t errlen) {
        _cleanup_close_ int map = rss_steer_map_create();
        if (map < 0) {
                snprintf(err, errlen, "creating the RSS steering map: %s", strerror(-map));
                return map;
        }
        _cleanup_close_ int prog = rss_steer_prog_load(map, err, errlen);
        if (prog < 0)
                return prog;
        if (ioctl(tap_fd, TUNSETSTEERINGEBPF, &prog) < 0) {
                int r = negative_errno();
                snprintf(err, errlen, "attaching the RSS steering program to the TAP: %s", strerror(-r));
                return r;
        }
        return TAKE_FD(map);
}

int rss_steer_detach(int tap_fd) {
        int none = -1;
        return ioctl(tap_fd, TUNSETSTEERINGEBPF, &none) < 0 ? negative_errno() : 0;
}

static size_t map_len(void) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        return (sizeof(struct rss_steer_map) + page - 1) / page * page;
}

int rss_steer_mmap(int map_fd, struct rss_steer_map **out) {
        size_t len = map_len();
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
        if (m == MAP_FAILED)
                return negative_errno();
        *out = m;
        return 0;
}

void rss_steer_munmap(struct rss_steer_map *m) {
        if (m)
                (void)munmap(m, map_len());
}
