/* SPDX-License-Identifier: MIT */
/* A live migration's source side, shared by the loop's half (live-out.c)
 * and the channel's threads (live-out-channel.c). Private to vmms/. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "migration/conn.h"
#include "migration/migration.h"

struct vmms_migration {
        struct vmms_vm *vm;
        sd_bus_message *call;
        struct vmms_migrate_args a;
        char *request;
        pthread_t thread;
        bool thread_started, thread_done, worker_asked, worker_answered, succeeded;
        int note[2];  /* [0] the loop's, [1] the thread's (SOCK_SEQPACKET) */
        int wpair[2]; /* [0] for the worker, [1] the thread's end */
        sd_event_source *note_src;
        pthread_mutex_t lock; /* net_fd, cancelled */
        int net_fd;
        bool cancelled, announced; /* announced: MigrationFinished sent */
        uint64_t t0_us, to_net, from_net; /* the relay's counts (atomic) */
        /* While the worker's migrate-send runs: its stream moving, or a
         * channel past a post-copy's COMMIT or cut and reconnecting, keeps
         * the request alive (a long first pass reports nothing). */
        sd_event_source *alive_src;
        uint64_t alive_bytes;
        /* Written by the thread before its last note, read after the join. */
        int thread_r;
        char thread_err[1024];
        /* The worker committed without the destination's confirmation: the
         * VM stays paused here and a query thread asks the destination's
         * vmms who has it, again after retry_src until it knows. */
        bool committed, resolved;
        /* A post-copy migration's worker reported its COMMIT (it is still
         * sending pages the destination's guest runs on): no cancel, and
         * the relay waits out a cut as long as it lasts (it is the relay's
         * vmms_mig_resume_ops.hold: the loop sets it, atomically). */
        int postcopy_committed;
        /* The worker ended inside its op (it may have committed): its
         * end's restart policy waits for the destination's answer. */
        bool worker_gone;
        enum vmms_end exit_end;
        enum vmms_state exit_state;
        unsigned queries;
        enum vmms_migchan_outcome outcome;
        sd_event_source *retry_src;
        /* A resumable channel (migration/resume.c): the session the request
         * names, the request without it for a destination that predates
         * it, and the latest cut (thread -> loop, under lock). */
        bool has_session;
        struct vmms_migchan_session session;
        char *request_plain;
        struct vmms_seed_out seed; /* the VM's cloud-init seed, after m->request (not the plain one) */
        int stop_efd;      /* the relay ends, telling the destination (channel_cut) */
        bool resumable_on; /* the resumable relay runs: a cut must leave its link writable */
        char cut_why[256];
        uint64_t outage_ms;
        unsigned cuts;
};

struct note_msg {
        char type; /* 'A' accepted, 'D' done (the channel or a query), 'C' cut, 'U' up again */
};

/* live-out-channel.c: the threads, started by the loop with m. The
 * channel: connect, request, answer, then the relay between the worker's
 * stream and the destination, telling the loop ('A', 'C', 'U', 'D'). */
void *vmms_live_out_channel_thread(void *opaque);
/* Asks the destination's vmms who has the VM (after an unconfirmed
 * commit): m->outcome, or thread_r < 0 and thread_err. */
void *vmms_live_out_query_thread(void *opaque);
/* Cuts the channel: the thread's blocking calls return, the worker's
 * stream ends. */
void vmms_live_out_channel_cut(struct vmms_migration *m);
