/* SPDX-License-Identifier: MIT */
/* The commit point of a live migration (docs/migration.md "One running
 * copy"), on the stream's socket: the destination, its state applied,
 * sends READY; the source answers COMMIT, from which moment the VM is the
 * destination's and the source never resumes it on its own; the
 * destination confirms with RUNNING and starts. A link lost before the
 * COMMIT left the source whole leaves the VM with the source; one lost
 * after it leaves the source "committed, unconfirmed", paused, and only
 * the destination's side knows whether it runs (its vmms answers).
 *
 * Blocking on the caller's thread with poll(2) and read(2)/send(2) (the
 * worker's sandbox policies hold these): the source's main thread, the
 * destination's vCPU launcher. Also the small records both sides exchange
 * (ACCEPT, REFUSE, READY, COMMIT, RUNNING, ABORT). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/migstream.h"

/* poll(2) for events on fd: 0 (ready, or interrupted: look again),
 * -ETIMEDOUT after timeout_ms, or -errno. */
int mig_wait_fd(int fd, short events, int timeout_ms);
/* One record of type with an optional reason (ABORT, REFUSE), sent whole
 * within timeout_ms: 0 or -errno (-ETIMEDOUT, -EPIPE). */
/* len bytes on a non-blocking-capable socket, each wait for room bounded
 * by timeout_ms (-ETIMEDOUT); no SIGPIPE. */
int mig_send_all(int fd, const void *buf, size_t len, int timeout_ms);
int mig_send_record(int fd, uint32_t type, const char *text, int timeout_ms);
/* One record without pages from the peer (from_source: the types a source
 * sends) within timeout_ms; an ABORT's or REFUSE's reason into why. 0,
 * -ETIMEDOUT, -ECONNRESET (the stream ended) or -EINVAL with the parser's
 * sentence in why. */
int mig_recv_record(int fd, int timeout_ms, bool from_source, struct mig_record *rec, char *why, size_t whylen);
/* The same with the peer's RAM size, so that records naming RAM (a
 * post-copy PAGE_REQ) parse. */
int mig_recv_record_in(int fd, int timeout_ms, uint64_t ram_bytes, bool from_source, struct mig_record *rec,
                       char *why, size_t whylen);
/* A receive's failure as a phrase: "no answer in time", "the stream
 * closed", the record's own sentence (-EINVAL: why), or strerror. */
const char *mig_io_why(int r, const char *why);

/* The source, its final state sent: READY awaited, COMMIT sent, RUNNING
 * awaited. *committed tells whether COMMIT went out whole: a failure with
 * it false leaves the VM the source's (resume it); with it true the VM is
 * the destination's or undecided (stay paused and ask). */
int mig_commit_source(int fd, int timeout_ms, bool *committed, char *err, size_t errlen);
/* The destination, ready to start: READY sent, COMMIT awaited (an ABORT
 * or anything else, the stream's end or timeout_ms of silence refuses),
 * RUNNING sent. 0: start the VM; else it must never start here. */
int mig_commit_destination(int fd, int timeout_ms, char *err, size_t errlen);
