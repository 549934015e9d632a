// SPDX-License-Identifier: MIT
/* The migration channel's frame, request (live and saved, its seed), answer, quick
 * migration step, query, outcome and address parsers, and the resumable
 * channel's frames, resume and its answer (vmms/migchan.h): what another
 * host's vmms sends. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/migchan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint32_t len, crc;
        char err[512];
        bool ok;
        enum vmms_migchan_step step;
        (void)vmms_migchan_frame_parse(data, size, VMMS_MIGCHAN_REQUEST, &len);
        (void)vmms_migchan_frame_parse(data, size, VMMS_MIGCHAN_ANSWER, &len);
        (void)vmms_migchan_frame_parse(data, size, VMMS_MIGCHAN_STEP, &len);
        if (vmms_migchan_frame_parse(data, size, VMMS_MIGCHAN_SEED, &len) == 0 && len > VMMS_MIGCHAN_SEED_MAX)
                abort();
        const char *body = (const char *)data;
        size_t blen = size;
        if (size >= VMMS_MIGCHAN_FRAME_SIZE && !memcmp(data, VMMS_MIGCHAN_MAGIC, 4))
                body += VMMS_MIGCHAN_FRAME_SIZE, blen -= VMMS_MIGCHAN_FRAME_SIZE;
        struct vmms_migchan_request *q = malloc(sizeof *q);
        if (q) {
                int64_t seed_size = vmms_migchan_request_seed_size(body, blen);
                if (seed_size > (int64_t)VMMS_MIGCHAN_SEED_MAX)
                        abort();
                if (vmms_migchan_request_parse(body, blen, q, err, sizeof err) == 0) {
                        /* A parsed seed is the one the thread reads, on a drive with a disc. */
                        if (q->has_seed && (seed_size != (int64_t)q->seed.size || q->seed.drive >= q->config.n_dvds ||
                                            !q->config.dvds[q->seed.drive].path[0]))
                                abort();
                        if (q->has_seed) /* the input's bytes as the SEED frame's */
                                (void)vmms_migchan_seed_check(data, size, &q->seed, err, sizeof err);
                        char *again = q->mode == VMMS_MIGRATE_SAVED
                                              ? vmms_migchan_saved_request_build(&q->config, q->owner, q->owner_name, q->size, q->start,
                                                                                 q->memory_target, q->boot_status)
                                      : q->mode == VMMS_MIGRATE_LIVE
                                              ? vmms_migchan_live_request_build(&q->config, q->owner, q->owner_name,
                                                                                q->copy_disks ? q->disks : NULL,
                                                                                q->has_session ? &q->session : NULL,
                                                                                q->memory_target, q->boot_status)
                                              : vmms_migchan_check_request_build(&q->config, q->owner, q->owner_name);
                        if (again && q->has_seed) {
                                char *with = vmms_migchan_request_add_seed(again, &q->seed);
                                if (!with || vmms_migchan_request_seed_size(with, strlen(with)) != (int64_t)q->seed.size)
                                        abort(); /* what parsed builds again, and announces the same */
                                free(with);
                        }
                        free(again);
                }
                free(q);
        }
        bool resumable;
        if (vmms_migchan_answer_parse_ex(body, blen, &ok, &resumable, err, sizeof err) == 0 && resumable && !ok)
                abort(); /* only an answer that takes the request is resumable */
        enum vmms_migchan_rframe type;
        if (size >= VMMS_MIGCHAN_RFRAME_SIZE && vmms_migchan_rframe_parse(data, &type, &len) == 0 &&
            (type == VMMS_RFRAME_DATA ? len == 0 || len > VMMS_MIGCHAN_DATA_MAX
                                      : len != (type == VMMS_RFRAME_ABORT ? 0u : 8u)))
                abort();
        struct vmms_migchan_session ses, ses2;
        uint64_t rx, rx2;
        if (vmms_migchan_resume_parse(body, blen, &ses, &rx) == 1) { /* a resume reads back the same */
                char *again = vmms_migchan_resume_build(&ses, rx);
                if (again && (vmms_migchan_resume_parse(again, strlen(again), &ses2, &rx2) != 1 ||
                              memcmp(&ses, &ses2, sizeof ses) || rx != rx2))
                        abort();
                free(again);
        }
        (void)vmms_migchan_resumed_parse(body, blen, &rx, err, sizeof err);
        if (vmms_migchan_step_parse(body, blen, &step, &crc, err, sizeof err) == 0) { /* quick migration's steps */
                char *again = vmms_migchan_step_build(step, crc, err);
                free(again);
        }
        struct guid id;
        if (vmms_migchan_query_parse(body, blen, &id) == 1) { /* a query reads back the same */
                char *again = vmms_migchan_query_build(&id);
                struct guid id2;
                if (again && (vmms_migchan_query_parse(again, strlen(again), &id2) != 1 || memcmp(&id, &id2, sizeof id)))
                        abort();
                free(again);
        }
        enum vmms_migchan_outcome oc;
        if (vmms_migchan_outcome_parse(body, blen, &oc, err, sizeof err) == 0 && oc > VMMS_OUTCOME_PENDING)
                abort();
        char *s = malloc(blen + 1), host[256];
        uint16_t port;
        if (s) {
                memcpy(s, body, blen);
                s[blen] = 0;
                (void)vmms_migchan_address_parse(s, host, sizeof host, &port);
                free(s);
        }
        return 0;
}
