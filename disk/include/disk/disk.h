/* SPDX-License-Identifier: MIT */
/* disk: the storage backend of storvsp and of the emulated IDE controller
 * (emu/), below both (docs/ARCHITECTURE.md). A disk is a raw image file, a
 * VHDX image or a block device; a disk queue is one io_uring, owned by one
 * thread (one per VMBus channel), that runs requests on any number of
 * disks.
 *
 * - O_DIRECT whenever the file system allows it (probed at open; otherwise
 *   buffered, with disk_info.note saying why);
 * - data moves straight between the file and the caller's iovecs (guest RAM
 *   mapped from the VM's memfd: no copy), except when O_DIRECT's alignment
 *   rules are not met by the buffer, which then goes through a bounce buffer;
 * - FUA as RWF_DSYNC, flush as fdatasync, discard as fallocate(PUNCH_HOLE)
 *   on files and BLKDISCARD on block devices, write-zeroes as
 *   fallocate(ZERO_RANGE / PUNCH_HOLE);
 * - batched: disk_queue_prep() only fills SQEs, disk_queue_submit() is one
 *   io_uring_submit() for all of them, disk_queue_reap() takes completions
 *   in batches; registered files always, fixed buffers for memory the owner
 *   registers (guest RAM) when a request is one contiguous buffer in it.
 * Errors come back as negative errno per request; the users turn them into
 * their protocol's errors (storvsp: sense data, scsi_complete_io(); IDE: an
 * ATA error). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "disk/qos.h"

struct disk;
struct disk_queue;

/* Hard limits (docs/THREAT_MODEL.md). */
#define DISK_QUEUE_MAX_DEPTH 1024u   /* requests in flight per queue */
#define DISK_QUEUE_MAX_FILES 256u    /* registered disks per queue */
#define DISK_QUEUE_MAX_FIXED 64u     /* registered fixed-buffer regions */
#define DISK_MAX_IOV 1024u           /* IOV_MAX: longer vectors are bounced */
#define DISK_MAX_RANGES 256u         /* discard ranges per request */

enum disk_format {
        DISK_FORMAT_RAW,
        DISK_FORMAT_VHDX, /* vhdx/vhdx.h: fixed, dynamic, differencing (docs/vhdx.md) */
};

#define DISK_MAX_PARENTS 16u /* VHDX_CHAIN_MAX */

struct disk_options {
        const char *path; /* opened when fd < 0 */
        int fd;           /* >= 0: an fd handed over (e.g. by vmms); the disk owns it, even on error */
        bool read_only;   /* open read-only; every write is refused with -EROFS */
        bool buffered;    /* never use O_DIRECT */
        bool no_lock;     /* skip the flock() that keeps two VMs off one image */
        /* A writable VHDX image another process still writes (a shared
         * image an incoming migration's source runs on): opened without
         * writing anything to it or replaying its log, and no request is
         * served (-EIO) until disk_activate reads it again, writable, once
         * that process is done with it. Raw images and read-only disks: no
         * effect. */
        bool deferred;
        uint32_t block_size; /* logical block size the guest sees: 512 or 4096 (0: 512) */
        enum disk_format format; /* never probed from the content: the caller says */
        /* VHDX differencing chains: the parents, nearest first, opened
         * read-only by the caller (vmms: with the owner's rights); owned by
         * the disk, even on error. With none given, a differencing image's
         * parents are opened here by their locator paths relative to path
         * (standalone runs, tools). */
        const int *parent_fds;
        unsigned n_parent_fds;
        char *err;     /* optional: why the open failed, a sentence */
        size_t errlen;
};

/* Opens and probes. Returns -EINVAL for an unusable image (not a regular
 * file or block device, smaller than one block), -EBUSY if another
 * process holds the image lock, -EROFS/-EBADF for a handed-over fd whose
 * mode does not allow what was asked. */
int disk_open(const struct disk_options *o, struct disk **out);
struct disk *disk_ref(struct disk *d);
void disk_unref(struct disk *d); /* accepts NULL; closes with the last reference */

struct disk_info {
        uint64_t size;          /* bytes usable: a multiple of block_size */
        uint32_t block_size;
        uint32_t dio_mem_align; /* O_DIRECT buffer alignment (0: buffered) */
        uint32_t dio_len_align; /* O_DIRECT offset/length alignment (0: buffered) */
        bool direct;
        bool block_device;
        bool read_only;
        bool discard;           /* discard does something */
        bool discard_zeroes;    /* discarded ranges read back as zeros */
        const char *note;       /* why something is degraded ("" if nothing) */
        enum disk_format format;
        unsigned chain_depth;   /* VHDX: images below this one (0: none) */
        uint64_t max_file_size; /* the largest the image file can grow to (RLIMIT_FSIZE) */
};
void disk_get_info(const struct disk *d, struct disk_info *info);
/* Makes an image's own metadata durable and its log empty (VHDX: data
 * fdatasync, vhdx_quiesce), for a pause after which another process may
 * open the image (save, migration). Nothing to do for raw images. Call
 * with no request of the disk in flight. */
int disk_sync_metadata(struct disk *d);
/* A deferred disk (disk_options.deferred) takes its image as it is now:
 * the VHDX is opened again, writable (a log left pending is replayed),
 * checked against what it was (size, sector size, parent), and serves
 * requests from then on. For an incoming migration once the source is
 * paused and its disks synced (its STATE). 0 at once for any other disk;
 * -errno with a sentence in err, the disk still deferred. Call with no
 * request of the disk in flight. */
int disk_activate(struct disk *d, char *err, size_t errlen);
/* Lets the image lock go while the disk stays open and usable: for a
 * migration's source once the destination runs the guest (post-copy's
 * source serves pages long after that, and the destination's vmms waits
 * for the lock). Only the image's own lock: a VHDX chain's parents keep
 * their shared locks, which the destination's do not conflict with. */
void disk_release_lock(struct disk *d);
/* The disk grows to size bytes while in use. A raw image grew already
 * (vmms ftruncate()d the file or grew the block device): its size is read
 * again and must now be exactly size bytes. A VHDX image (fixed or
 * dynamic) is grown here (vhdx_grow: the new BAT entries and the virtual
 * size, through its log). size must be a multiple of the block size and
 * at least the present size (0 and nothing changed for the same size).
 * From then on requests may reach the new blocks (the SCSI view grows
 * separately: storvsp_controller_resize). -EINVAL with a sentence for a
 * size that is not the image's, not whole blocks, or smaller (shrinking
 * is refused), or more than a VHDX's BAT holds; -EOPNOTSUPP for a
 * differencing VHDX (the disk has checkpoints: it has its parent's size);
 * -EBUSY while write tracking is on (a migration copies the disk). Any
 * thread. */
int disk_resize(struct disk *d, uint64_t size, char *err, size_t errlen);
/* The largest the image file can grow to once the disk is size bytes (the
 * worker's RLIMIT_FSIZE must allow it before disk_resize). */
uint64_t disk_resize_max_file_size(struct disk *d, uint64_t size);
/* A checkpoint of the running VM (docs/checkpoints.md): the VHDX image
 * open at fd (read-write; a differencing child of the disk's present image,
 * made while it was synced) becomes the disk's image, and the present one
 * its parent from then on, read-only. In two steps, so that several disks
 * move together or not at all: prepare checks and opens everything (the
 * push owns fd, even on error, when err says why; nothing changed), commit
 * cannot fail, abort undoes a prepare. Both with no request of the disk in
 * flight (a quiesced VM). */
struct disk_push;
int disk_push_prepare(struct disk *d, int fd, struct disk_push **out, char *err, size_t errlen);
void disk_push_commit(struct disk_push *p);
void disk_push_abort(struct disk_push *p);

/* ---- Storage QoS (disk/qos.h; docs/storvsp.md, "Storage QoS") ---- */

/* Sets the disk's limits, from any thread, at once for every queue: a
 * request the maximum holds waits in its queue (counted in flight, never
 * failed) and starts from a later disk_queue_reap, which the queue's
 * eventfd announces (an io_uring timeout); held requests reserve again
 * under new limits within DISK_QOS_RECHECK_NS. All zero: no QoS (one
 * atomic load per request). -EINVAL with a sentence naming the field
 * (disk_qos_limits_check); nothing changed then. Storvsp's and the
 * emulated IDE controller's requests both pass here. */
int disk_set_qos(struct disk *d, const struct disk_qos_limits *l, char *err, size_t errlen);
void disk_get_qos(struct disk *d, struct disk_qos_limits *l);
/* The delivered normalised IOPS since the previous call (or since the
 * limits were set) and whether a minimum went unmet (disk_qos_sample). */
void disk_sample_qos(struct disk *d, struct disk_qos_sample *s);

/* ---- requests ---- */

enum disk_op_kind {
        DISK_READ,
        DISK_WRITE,
        DISK_FLUSH,
        DISK_DISCARD,     /* ranges; advisory unless discard_zeroes */
        DISK_WRITE_ZEROES,
        DISK_WRITE_SAME,  /* pattern repeated over [offset, offset + len) */
};

struct disk_range {
        uint64_t offset, len;
};

struct disk_request {
        enum disk_op_kind kind;
        struct disk *disk;
        uint64_t offset, len; /* bytes, multiples of the block size */
        /* READ/WRITE: the data; must stay valid until the completion. */
        const struct iovec *iov;
        unsigned iovcnt;
        bool fua;             /* writes: durable before completion */
        bool may_unmap;       /* WRITE_ZEROES: holes allowed */
        const void *pattern;  /* WRITE_SAME: one block (copied at prep) */
        const struct disk_range *ranges; /* DISCARD (copied at prep) */
        unsigned n_ranges;
        uint64_t user_data;
};

struct disk_completion {
        uint64_t user_data;
        int res; /* bytes moved (READ/WRITE), 0, or -errno */
};

int disk_queue_new(unsigned depth, struct disk_queue **out);
/* Waits for in-flight requests (their completions are dropped), then frees. */
void disk_queue_free(struct disk_queue *q);

/* Queues a request without submitting. -EBUSY: the queue is full (reap
 * first); -EINVAL: a malformed request (caller bug). Failures found here
 * (a write to a read-only disk, an out-of-range offset, no memory for a
 * bounce buffer) are not errors of this call: they complete the request
 * with that errno, reported by the next disk_queue_reap(). */
int disk_queue_prep(struct disk_queue *q, const struct disk_request *r);
/* Submits everything prepared, in one io_uring_submit(). Returns the
 * number of SQEs handed to the kernel. */
int disk_queue_submit(struct disk_queue *q);
/* Moves up to max completions to out; waits until at least min_wait have
 * arrived (bounded by what is in flight). A waiting call (min_wait > 0:
 * a drain before a pause, a hot remove, the free) starts every request
 * Storage QoS holds at once, so that no drain waits for a rate. Anything prepared and not yet
 * submitted is submitted here, together with the wait when there is one
 * (io_uring_submit_and_wait: one system call). Returns the count. */
int disk_queue_reap(struct disk_queue *q, struct disk_completion *out, unsigned max, unsigned min_wait);
unsigned disk_queue_inflight(const struct disk_queue *q);
/* An eventfd signalled when completions arrive (for poll()); the owner
 * reads it before reaping. Created on first use. */
int disk_queue_eventfd(struct disk_queue *q);

/* Registers [base, base + len) (e.g. a guest RAM region) as fixed buffers:
 * single-buffer requests inside it use READ_FIXED/WRITE_FIXED, saving the
 * per-I/O page pinning. Pins the memory (RLIMIT_MEMLOCK). */
int disk_queue_register_memory(struct disk_queue *q, void *base, size_t len);
/* Drops the queue's registration (and reference) of a disk that was hot
 * removed; -EBUSY while requests on it are in flight. */
int disk_queue_forget_disk(struct disk_queue *q, struct disk *d);

struct disk_queue_stats {
        uint64_t requests, completions, submit_calls, sqes, get_events;
        uint64_t bounced, fixed, short_retries;
        uint64_t throttled; /* requests held for their Storage QoS time */
};
void disk_queue_get_stats(const struct disk_queue *q, struct disk_queue_stats *s);

/* Per-disk I/O accounting (docs/storvsp.md "I/O accounting"), for metering:
 * requests that completed, whatever queue ran them, counted by the
 * backend and not by what a guest says. Bytes are those moved by reads
 * and writes that succeeded; ops count every finished read or write
 * (failed ones too); latency is the sum of each request's time from
 * disk_queue_prep to its completion being reaped, in nanoseconds
 * (CLOCK_MONOTONIC). Relaxed atomic adds on the completion path, read
 * from any thread. */
struct disk_io_stats {
        uint64_t read_bytes, write_bytes;
        uint64_t read_ops, write_ops, flush_ops, other_ops;
        uint64_t read_latency_ns, write_latency_ns;
        uint64_t errors;
};
void disk_get_io_stats(const struct disk *d, struct disk_io_stats *s);

/* Test hook: called with each final result; returns the result to report
 * (e.g. -EIO or -ENOSPC to simulate a failing device). */
typedef int (*disk_fault_fn)(void *opaque, const struct disk_request *r, int res);
void disk_queue_set_fault_hook(struct disk_queue *q, disk_fault_fn fn, void *opaque);

/* ---- copying a disk while the guest writes it (docs/migration.md,
 * "Shared-nothing storage migration") ---- */

/* Write tracking: while on, every request that may change the disk's
 * content (write, write-zeroes, write-same, a discard that does something)
 * marks the DISK_TRACK_CHUNK-sized chunks it touched once it completed,
 * from whichever queue thread ran it. A copier takes the marks (clearing
 * them) and then reads those chunks: a write that completes after the
 * take is marked again, so a chunk read while a write was in flight is
 * read again later. The bitmap lives until the disk is closed. */
#define DISK_TRACK_CHUNK (1u << 20)
/* Clears the marks and starts tracking; -ENOMEM. */
int disk_track_start(struct disk *d);
void disk_track_stop(struct disk *d);
/* 64-bit words of marks: one bit per chunk. */
size_t disk_track_words(const struct disk *d);
/* Moves the marks into out[disk_track_words] (or-ed in), clearing them. */
void disk_track_take(struct disk *d, uint64_t *out);
/* The guest-visible content of [off, off + len) (through the VHDX chain:
 * zeros where nothing is allocated), synchronously, on any thread.
 * off and len are multiples of the block size, inside the disk. */
int disk_read_sync(struct disk *d, uint64_t off, void *buf, size_t len);
/* Writes [off, off + len) synchronously (VHDX: allocating; the metadata
 * becomes durable with disk_flush_sync). Only while no queue runs
 * requests on the disk (a migration's destination, before it starts). */
int disk_write_sync(struct disk *d, uint64_t off, const void *buf, size_t len);
/* Makes [off, off + len) read as zeros, the same way. */
int disk_zero_sync(struct disk *d, uint64_t off, uint64_t len);
/* The data and (VHDX) the metadata durable, the log empty. */
int disk_flush_sync(struct disk *d);

/* ---- merging a running VHDX disk into its parent (docs/checkpoints.md,
 * "Merging while the VM runs") ---- */

/* The disk's present image T (a differencing VHDX) is merged into its
 * parent P while the guest goes on writing T, and the disk then runs on P:
 * prepare opens P writable at pfd (the same file as the disk's first
 * parent, which it must be; locked exclusively from here on, -EBUSY when
 * another user holds it) and starts tracking T's writes; each pass copies
 * what T holds (the first: all of it; then the chunks written since) into
 * P, which keeps its DataWriteGuid meanwhile, so the chain T -> P reads the
 * same at every point; finish, with no request of the disk in flight (a
 * quiesced VM), copies the last chunks, makes P durable, gives it T's
 * DataWriteGuid and moves the disk onto P, writable (T and the old
 * read-only P are closed); abort undoes prepare (a merge cut short leaves
 * P as an interrupted offline merge does: whole). */
struct disk_merge;
int disk_merge_prepare(struct disk *d, int pfd, struct disk_merge **out, char *err, size_t errlen);
/* One pass: *copied grows by the bytes copied; *dirty: the bytes of the
 * chunks written during it (the next pass's work). */
int disk_merge_pass(struct disk_merge *m, uint64_t *copied, uint64_t *dirty);
/* The largest P can grow to (RLIMIT_FSIZE must allow it). */
uint64_t disk_merge_max_file_size(const struct disk_merge *m);
int disk_merge_finish(struct disk_merge *m, uint64_t *copied, char *err, size_t errlen);
void disk_merge_abort(struct disk_merge *m);
