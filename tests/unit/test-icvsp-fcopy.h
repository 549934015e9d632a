/* SPDX-License-Identifier: MIT */
/* The file-copy service against a simulated guest, for test-icvsp-fcopy.c
 * and test-icvsp-fcopy-state.c: the service's configuration, a channel
 * negotiated as hv_utils does, a file to copy, and the requests and the
 * owner's reports the tests expect. */
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/unit/test-icvsp-harness.h"
#include "tests/lib/vmstate-file.h"

static const uint8_t fcopy_class[16] = HV_FCOPY_GUID;
static const uint8_t fcopy_instance[16] = HV_FCOPY_INSTANCE;

#define FRAG HV_FCOPY_DATA_FRAGMENT
#define FILE_LEN 20000u /* three whole fragments and 1568 bytes */

static inline struct icvsp_config fcopy_config(uint32_t timeout_ms) {
        struct icvsp_config c = env_config();
        c.fcopy = true;
        c.request_timeout_ms = timeout_ms;
        return c;
}

static inline void env_fcopy(struct env *e, uint32_t timeout_ms) {
        struct icvsp_config c = fcopy_config(timeout_ms);
        env_init_cfg(e, &c);
}

/* Opened and negotiated like Linux 6.1: the host offers frameworks 3.0,
 * 1.0 and message version 1.1 only; the guest picks 3.0 and 1.1. */
static inline void negotiated(struct env *e, struct vmbus_sim_channel *ch) {
        const struct vmbus_channel_offer_channel *o = find_offer(e, fcopy_class);
        ASSERT_NOT_NULL(o);
        ASSERT_EQ(vmbus_sim_open(e->sim, o->child_relid, o->connection_id, 4, NULL, 0, ch), 0);
        struct icmsg_hdr h;
        host_request(e, ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
        struct ic_version fw[IC_MAX_VERSIONS], msg[IC_MAX_VERSIONS];
        unsigned nfw, nmsg;
        negotiate_lists(e, fw, &nfw, msg, &nmsg);
        ASSERT_EQ(nfw, 2u);
        ASSERT_EQ(fw[0].major, 3);
        ASSERT_EQ(nmsg, 1u);
        ASSERT_EQ(msg[0].major, 1);
        ASSERT_EQ(msg[0].minor, 1);
        answer_negotiate(e, ch, (struct ic_version){ 3, 0 }, (struct ic_version){ 1, 1 });
        for (int i = 0; i < 5000 && !icvsp_fcopy_ready(e->ic); i++)
                usleep(1000);
        ASSERT_TRUE(icvsp_fcopy_ready(e->ic));
}

/* A memfd holding n pattern bytes (also copied to data). */
static inline int make_file(uint8_t *data, size_t n) {
        int fd = memfd_create("fcopy-source", MFD_CLOEXEC);
        ASSERT_GE(fd, 0);
        for (size_t i = 0; i < n; i++)
                data[i] = (uint8_t)(i * 31 + (i >> 8));
        ASSERT_EQ(write(fd, data, n), (ssize_t)n);
        return fd;
}

/* The next host request: a file-copy message of op at framework 3.0 and
 * version 1.1, with the whole body Linux reads for op, within the 8192
 * bytes hv_fcopy.c reads. Returns the body (in e->payload). */
static const uint8_t *expect_op(struct env *e, struct vmbus_sim_channel *ch, uint32_t op) {
        struct icmsg_hdr h;
        size_t len = host_request(e, ch, &h);
        ASSERT_LE(len, (size_t)HV_FCOPY_GUEST_MAX_PAYLOAD);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_FCOPY);
        ASSERT_EQ(h.icverframe.major, 3);
        ASSERT_EQ(h.icverframe.minor, 0);
        ASSERT_EQ(h.icvermsg.major, 1);
        ASSERT_EQ(h.icvermsg.minor, 1);
        struct hv_fcopy_hdr fh;
        memcpy(&fh, e->payload + ICMSG_HDR, sizeof fh);
        ASSERT_EQ(fh.operation, op);
        size_t want = op == START_FILE_COPY ? sizeof(struct hv_start_fcopy)
                      : op == WRITE_TO_FILE ? sizeof(struct hv_do_fcopy)
                                            : sizeof(struct hv_fcopy_hdr);
        ASSERT_EQ((size_t)h.icmsgsize, want);
        return e->payload + ICMSG_HDR;
}

/* A WRITE_TO_FILE of data[offset, offset + size), zeros past it. */
static inline void expect_write(struct env *e, struct vmbus_sim_channel *ch, const uint8_t *data, uint64_t offset,
                                uint32_t size) {
        static struct hv_do_fcopy m;
        memcpy(&m, expect_op(e, ch, WRITE_TO_FILE), sizeof m);
        ASSERT_EQ(m.offset, offset);
        ASSERT_EQ(m.size, size);
        ASSERT_EQ(m.pad, 0u);
        ASSERT_MEMEQ(m.data, data + offset, size);
        for (size_t i = size; i < FRAG; i++)
                ASSERT_EQ(m.data[i], 0);
}

static inline bool fcopy_ended(struct owner *o) {
        return o->fcopy_dones > 0;
}

static inline unsigned dones(struct owner *o) {
        pthread_mutex_lock(&o->lock);
        unsigned n = o->fcopy_dones;
        pthread_mutex_unlock(&o->lock);
        return n;
}

/* The progress reports so far and the last one's bytes (the icvsp thread
 * writes them under the owner's lock). */
static inline unsigned progresses(struct owner *o, uint64_t *bytes) {
        pthread_mutex_lock(&o->lock);
        unsigned n = o->fcopy_progresses;
        if (bytes)
                *bytes = o->fcopy_progress_bytes;
        pthread_mutex_unlock(&o->lock);
        return n;
}

/* The owner heard exactly one end: r, status, bytes; the service is free. */
static inline void expect_done(struct env *e, int r, uint32_t status, uint64_t bytes) {
        ASSERT_TRUE(wait_owner(&e->o, fcopy_ended, 5000));
        pthread_mutex_lock(&e->o.lock);
        ASSERT_EQ(e->o.fcopy_dones, 1u);
        ASSERT_EQ(e->o.fcopy_r, r);
        ASSERT_EQ(e->o.fcopy_status, status);
        ASSERT_EQ(e->o.fcopy_done_bytes, bytes);
        e->o.fcopy_dones = 0;
        pthread_mutex_unlock(&e->o.lock);
        ASSERT_FALSE(icvsp_fcopy_busy(e->ic));
        ASSERT_ERROR(icvsp_fcopy_cancel(e->ic), ENOENT);
}

/* Copy started and its START answered S_OK. */
static inline void started(struct env *e, struct vmbus_sim_channel *ch, int fd, uint64_t size) {
        ASSERT_OK(icvsp_fcopy_start(e->ic, fd, "/tmp", "f", size, 0));
        expect_op(e, ch, START_FILE_COPY);
        guest_answer(e, ch, HV_S_OK);
}

static inline void put_u16s(uint16_t *out, const uint16_t *in, size_t n) {
        memcpy(out, in, n * sizeof *in);
}
