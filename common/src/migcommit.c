// SPDX-License-Identifier: MIT
/* The commit point of a live migration (common/migcommit.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/migcommit.h"
#include "common/vmstate.h"

int mig_wait_fd(int fd, short events, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = events };
        int r = poll(&p, 1, timeout_ms);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

int mig_send_all(int fd, const void *buf, size_t len, int timeout_ms) {
        const uint8_t *b = buf;
        while (len > 0) {
                ssize_t k = send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = mig_wait_fd(fd, POLLOUT, timeout_ms);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return -errno;
                b += k, len -= (size_t)k;
        }
        return 0;
}

int mig_send_record(int fd, uint32_t type, const char *text, int timeout_ms) {
        uint8_t rec[MIG_RECORD_HEADER + MIG_TEXT_MAX];
        size_t n = text ? strnlen(text, MIG_TEXT_MAX) : 0;
        memcpy(rec + MIG_RECORD_HEADER, text ? text : "", n);
        mig_record_encode(rec, type, 0, n, n ? vmstate_crc32c(0, rec + MIG_RECORD_HEADER, n) : 0);
        return mig_send_all(fd, rec, MIG_RECORD_HEADER + n, timeout_ms);
}

static int recv_exact(int fd, uint8_t *buf, size_t want, int timeout_ms) {
        for (size_t got = 0; got < want;) {
                int r = mig_wait_fd(fd, POLLIN, timeout_ms);
                if (r < 0)
                        return r;
                ssize_t k = read(fd, buf + got, want - got); /* poll said readable */
                if (k == 0)
                        return -ECONNRESET;
                if (k < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (k > 0)
                        got += (size_t)k;
        }
        return 0;
}

int mig_recv_record(int fd, int timeout_ms, bool from_source, struct mig_record *rec, char *why, size_t whylen) {
        /* RAM size 0: no PAGES or ZERO record is in place where this reads. */
        return mig_recv_record_in(fd, timeout_ms, 0, from_source, rec, why, whylen);
}

int mig_recv_record_in(int fd, int timeout_ms, uint64_t ram_bytes, bool from_source, struct mig_record *rec,
                       char *why, size_t whylen) {
        uint8_t hdr[MIG_RECORD_HEADER], text[MIG_TEXT_MAX];
        int r = recv_exact(fd, hdr, sizeof hdr, timeout_ms);
        if (r < 0 || (r = mig_record_parse(hdr, ram_bytes, from_source, rec, why, whylen)) < 0)
                return r;
        uint64_t pl = mig_record_payload(rec); /* <= MIG_TEXT_MAX: checked */
        if (pl && (r = recv_exact(fd, text, (size_t)pl, timeout_ms)) < 0)
                return r;
        if (pl && vmstate_crc32c(0, text, (size_t)pl) != rec->payload_crc)
                return errorf(why, whylen, -EINVAL, "record type %u: payload CRC mismatch", rec->type);
        if (pl)
                mig_text(text, pl, why, whylen);
        return 0;
}

const char *mig_io_why(int r, const char *why) {
        return r == -ETIMEDOUT ? "no answer in time" : r == -ECONNRESET ? "the stream closed" : r == -EINVAL ? why : strerror(-r);
}

int mig_commit_source(int fd, int timeout_ms, bool *committed, char *err, size_t errlen) {
        struct mig_record rec;
        char why[MIG_TEXT_MAX + 1] = "";
        *committed = false;
        int r = mig_recv_record(fd, timeout_ms, false, &rec, why, sizeof why);
        if (r == -ETIMEDOUT)
                return errorf(err, errlen, r, "the destination did not report ready within %d ms", timeout_ms);
        if (r < 0)
                return errorf(err, errlen, r, "waiting for the destination to be ready: %s", mig_io_why(r, why));
        if (rec.type != MIG_READY)
                return errorf(err, errlen, -ECONNABORTED, "the destination did not take the VM: %s",
                              rec.type == MIG_REFUSE ? why : "it answered something else");
        /* A COMMIT not in the socket whole cannot reach the destination:
         * it will not run, the VM stays here. */
        if ((r = mig_send_record(fd, MIG_COMMIT, NULL, timeout_ms)) < 0)
                return errorf(err, errlen, r, "sending COMMIT: %s", strerror(-r));
        *committed = true;
        r = mig_recv_record(fd, timeout_ms, false, &rec, why, sizeof why);
        if (r >= 0 && rec.type != MIG_RUNNING)
                return errorf(err, errlen, -EPROTO,
                              "committed, but the destination did not confirm running: it answered type %u",
                              rec.type);
        if (r < 0)
                return errorf(err, errlen, r, "committed, but the destination did not confirm running: %s",
                              mig_io_why(r, why));
        return 0;
}

int mig_commit_destination(int fd, int timeout_ms, char *err, size_t errlen) {
        struct mig_record rec;
        char why[MIG_TEXT_MAX + 1] = "";
        int r = mig_send_record(fd, MIG_READY, NULL, timeout_ms);
        if (r < 0)
                return errorf(err, errlen, r, "the source cannot be told that the VM is ready here: %s",
                              strerror(-r));
        r = mig_recv_record(fd, timeout_ms, true, &rec, why, sizeof why);
        if (r < 0)
                return errorf(err, errlen, r, "no COMMIT from the source: %s", mig_io_why(r, why));
        if (rec.type == MIG_ABORT)
                return errorf(err, errlen, -ECANCELED, "the source gave up before committing: %s",
                              why[0] ? why : "no reason");
        if (rec.type != MIG_COMMIT)
                return errorf(err, errlen, -EPROTO, "no COMMIT from the source: record type %u instead", rec.type);
        /* Committed: this copy runs whatever becomes of the confirmation. */
        (void)mig_send_record(fd, MIG_RUNNING, NULL, timeout_ms);
        return 0;
}
