/* SPDX-License-Identifier: MIT */
/* vsc.mode=soak internals: mode-soak.c (options, the pings, the CPL3 loop
 * that interleaves both halves, the report lines), mode-soak-disk.c (the
 * disk half: lanes that read, write and read back checksummed blocks). */
#pragma once

#include "mode-disk.h"
#include "vsc/soak.h"

#define SOAK_MAX_QD 32u
#define SOAK_BAD_LINES 4u /* soak_bad= lines before the rest are only counted */

enum soak_step { SOAK_IDLE, SOAK_READ_OLD, SOAK_WRITE, SOAK_READ_NEW };

/* One request at a time on one block: read what the previous round left
 * (from round 1 on), write the next generation, read it back. */
struct soak_lane {
        enum soak_step step;
        bool inflight;
        uint32_t block;
        uint32_t round;
        uint64_t seq; /* of the write this lane makes */
        uint8_t *wbuf, *rbuf;
};

struct soak_disk {
        struct vsc_stor *s;
        const struct disk_lun *l;
        uint32_t seed;
        uint32_t blocks;  /* the soak area: blocks * block_bytes from offset 0 */
        uint64_t block_bytes, timeout_ns;
        uint64_t limit;   /* blocks to hand out (rounds * blocks), 0 = no limit */
        unsigned qd, chan;
        struct soak_lane lanes[SOAK_MAX_QD];
        uint64_t *expect; /* per block: the seq of its last completed write, 0 = none */
        uint8_t *busy;    /* per block: a lane has it */
        uint64_t cursor;  /* blocks handed out (this pass) */
        uint64_t next_seq;
        bool stopping;    /* no new blocks */
        bool verifying;   /* the final pass: every written block read once */
        uint64_t written, read, bad, final_read;
        uint64_t last_ns; /* last completion, or when requests were last idle */
        size_t pages;
        char why[200];
};

/* CPL0: the soak area on the first writable disk of e (vsc.soak.blocks=,
 * vsc.soak.qd=, vsc.soak.seed=, vsc.soak.rounds=), its buffers and tables. */
int soak_disk_init(struct soak_disk *d, struct disk_env *e);
void soak_disk_free(struct soak_disk *d);
/* Any CPL, one round of the loop: idle lanes take blocks, requests are
 * published, completions checked. 0, or < 0 with d->why (a transport or
 * protocol error, or nothing completed for timeout_ns). */
int soak_disk_step(struct soak_disk *d, uint64_t now_ns);
/* No lane busy. */
bool soak_disk_idle(const struct soak_disk *d);
/* The run reached vsc.soak.rounds (every lane idle, nothing left to hand out). */
bool soak_disk_rounds_done(const struct soak_disk *d);
/* The final pass over every block written (lanes idle first). */
void soak_disk_begin_verify(struct soak_disk *d);
bool soak_disk_verified(const struct soak_disk *d);
