/* SPDX-License-Identifier: MIT */
/* vsc.mode=hostile: the test guest as an attacker (docs/hostile-guests.md).
 * Each sub-mode (vsc.hostile=a,b,...) sends one family of malformed or
 * abusive input to the host on a fresh VMBus connection, checks every
 * answer against what the host must do (docs/vmbus.md, storvsp.md,
 * netvsp.md), and ends with a check that every device still works.
 *
 * Lines (besides those of the library modes it reuses):
 *   VSC hostile_begin=<sub>
 *   VSC hostile_case=<sub>/<case> ok=<0|1> <what was sent and what came back>
 *   VSC hostile_phase=<name>                (the host may measure now: vsc.hostile.pause_ms)
 *   VSC hostile_alive=<sub> scsi=<controllers answering> nic=<ok|none> heartbeat=<ok|none>
 *   VSC hostile_done=<sub> cases=<n> unexpected=<n>
 * A case with ok=0 makes the sub-mode fail (error= line, status EPROTO). */
#pragma once

#include "guest.h"
#include "vsc/stor.h"

#define HOSTILE_SCRATCH_PAGES 16u
#define HOSTILE_MAX_REPLIES 64u

struct hostile {
        struct guest *g;
        struct vsc_bus *bus;
        const char *sub;
        unsigned cases, unexpected;
        uint32_t rng;
        uint64_t pause_ns;        /* vsc.hostile.pause_ms */
        uint8_t *scratch;         /* HOSTILE_SCRATCH_PAGES pages */
        uint32_t barrier_handle;  /* next GPADL handle the barrier tears down */
        uint32_t next_gpadl;      /* handles this mode makes up itself */
        struct vsc_msg replies[HOSTILE_MAX_REPLIES]; /* what came before the last barrier */
        unsigned n_replies;
};

/* ---- hostile.c: shared helpers ---- */

/* vsc.hostile.<key>=N within [lo, hi], else dflt. */
uint64_t hostile_opt(const struct hostile *h, const char *key, uint64_t lo, uint64_t hi, uint64_t dflt);
uint32_t hostile_random(struct hostile *h);
/* Reports one case; ok false counts as unexpected. */
void hostile_case(struct hostile *h, const char *name, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* "VSC hostile_phase=<name>", then vsc.hostile.pause_ms of idling so that
 * the host can take its measurements at a known point. */
void hostile_phase(struct hostile *h, const char *name);

/* Hyper-V and VMBus up (INITIATE_CONTACT negotiated) and the offers in. */
int hostile_connect(struct hostile *h);
/* UNLOAD and Hyper-V off: the next sub-mode starts from scratch. */
int hostile_disconnect(struct hostile *h);

/* HvPostMessage without the library's checks or retries: the input page
 * holds conn_id, message_type, payload_size as given and copy_len bytes of
 * msg (<= 240). Returns the hypercall's status. */
uint16_t hostile_post(struct hostile *h, uint32_t conn_id, uint32_t message_type, uint32_t payload_size,
                      const void *msg, uint32_t copy_len);
/* A channel message of len bytes to the negotiated connection (status). */
uint16_t hostile_send(struct hostile *h, const void *msg, uint32_t len);
/* Every reply to what was sent before: posts a GPADL_TEARDOWN of a handle
 * nobody uses (the host answers it in every state, in order) and collects
 * the messages that arrive before its GPADL_TORNDOWN into h->replies.
 * 0, or -ETIMEDOUT / a library error. */
int hostile_barrier(struct hostile *h);
/* The first collected reply of that type, or NULL. */
const struct vsc_msg *hostile_reply(const struct hostile *h, uint32_t type);
/* "none" or the collected replies' names joined by '+'. */
void hostile_replies_text(const struct hostile *h, char *out, size_t len);

/* The survivor check: every SCSI controller (but skip_relid) answers
 * INQUIRY and a READ, the NIC (if offered) opens and answers a query, the
 * heartbeat service (if offered) negotiates. Connected bus; reports
 * hostile_alive=. */
int hostile_alive(struct hostile *h, uint32_t skip_relid);

/* A storage controller opened and initialised (pages from the pool). */
struct vsc_stor *hostile_stor_open(struct hostile *h, const struct vsc_offer *o);
void hostile_stor_close(struct hostile *h, struct vsc_stor *s);
/* The n-th live primary offer of a class (0 first), or NULL. */
const struct vsc_offer *hostile_offer(const struct hostile *h, const uint8_t class_id[16], unsigned n);

/* ---- the sub-modes (0 or a negative errno) ---- */
int hostile_msg(struct hostile *h);       /* hostile-msg.c */
int hostile_gpadl(struct hostile *h);     /* hostile-gpadl.c */
int hostile_ring(struct hostile *h);      /* hostile-ring.c */
int hostile_flood(struct hostile *h);     /* hostile-flood.c */
int hostile_scsi(struct hostile *h);      /* hostile-scsi.c */
int hostile_rndis(struct hostile *h);     /* hostile-net.c */
int hostile_link(struct hostile *h);      /* hostile-net.c */
int hostile_diskfault(struct hostile *h); /* hostile-disk.c */
