/* SPDX-License-Identifier: MIT */
/* The migration channel between two vmms (docs/migration.md "The channel"):
 * after the TLS handshake the source sends one request frame carrying the
 * VM's configuration, the destination answers with one answer frame; then
 * the channel carries the workers' stream (common/migstream.h) unchanged.
 * Pure functions with a fuzz target (tests/fuzz/fuzz-vmms-migchan.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/guid.h"

#define VMMS_MIGCHAN_MAGIC "VMMC"
#define VMMS_MIGCHAN_VERSION 1u
#define VMMS_MIGCHAN_FRAME_SIZE 16u
/* A request body: the configuration (VM_CONFIG_MAX_BYTES) escaped as a
 * JSON string (at most 6 bytes per byte for \u00XX) and a few fields. */
#define VMMS_MIGCHAN_BODY_MAX (6u * VM_CONFIG_MAX_BYTES + 1024u)
#define VMMS_MIGCHAN_ERROR_MAX 512u
#define VMMS_MIGCHAN_DEFAULT_PORT 7390u

enum vmms_migchan_kind {
        VMMS_MIGCHAN_REQUEST = 1, /* source -> destination */
        VMMS_MIGCHAN_ANSWER = 2,  /* destination -> source */
        VMMS_MIGCHAN_STEP = 3,    /* either way, in a quick migration after the answer */
        VMMS_MIGCHAN_SEED = 4,    /* source -> destination, right after a request naming a seed: its bytes */
};

/* A VM's cloud-init seed (vmms/seed.h, docs/vmms.md "cloud-init seeds")
 * moves in a frame of its own: the request names it ("seed":{"drive":N,
 * "size":S,"crc32c":C}: the DVD drive that holds it, its bytes and their
 * CRC-32C) and the SEED frame with exactly those bytes follows at once.
 * At most four 1 MiB files and the image's own blocks. */
#define VMMS_MIGCHAN_SEED_MAX ((4u << 20) + (256u << 10))
struct vmms_migchan_seed {
        uint32_t drive; /* the index in the configuration's dvd_drives */
        uint32_t size;  /* 1 .. VMMS_MIGCHAN_SEED_MAX */
        uint32_t crc32c;
};

enum vmms_migrate_mode {
        VMMS_MIGRATE_LIVE,
        VMMS_MIGRATE_QUICK, /* Migrate()'s mode: save here, then move the Saved VM; never on the wire */
        VMMS_MIGRATE_SAVED, /* on the wire: a Saved VM's state file follows the answer */
        VMMS_MIGRATE_CHECK, /* on the wire: would a Saved VM's move be taken? The answer ends the channel */
};

/* The largest state file a destination takes for a VM of memory_mib:
 * its RAM and 256 MiB for the devices' sections. */
#define VMMS_MIGCHAN_SAVED_SLACK (256ull << 20)

/* Frame: magic "VMMC", u16 version, u16 kind, u32 body length, u32 zero;
 * little-endian; the JSON body follows. */
void vmms_migchan_frame_build(uint8_t out[VMMS_MIGCHAN_FRAME_SIZE], enum vmms_migchan_kind kind, uint32_t body_len);
/* 0 and *body_len, or -EBADMSG (magic, reserved), -EPROTONOSUPPORT
 * (version), -EPROTO (not the kind expected), -EMSGSIZE (too long). */
int vmms_migchan_frame_parse(const uint8_t *buf, size_t len, enum vmms_migchan_kind expect, uint32_t *body_len);

#define VMMS_MIGCHAN_USER_MAX 32u /* an owner's user name */

/* Shared-nothing: the geometry of a disk the destination creates new and
 * the stream fills (size 0: a read-only disk, which is not copied: the
 * destination has its own at the configuration's path). */
struct vmms_migchan_disk {
        uint64_t size;   /* bytes the guest sees: a multiple of sector */
        uint32_t sector; /* the logical sector: 512 or 4096 */
};
#define VMMS_MIGCHAN_DISK_MAX (64ull << 40) /* VHDX's limit; a raw image's too here */

/* A live migration's channel, named by the source at random so that it
 * can resume it after a cut (VMMS_MIGCHAN_RFRAME_SIZE below). */
struct vmms_migchan_session {
        uint8_t id[16];
};

struct vmms_migchan_request {
        struct vm_config config; /* parsed and validated; its id is set */
        /* LIVE: the disks move with the VM (each writable disk of config
         * gets disks[i]; config's paths are the destination's). */
        bool copy_disks;
        struct vmms_migchan_disk disks[VM_DISKS_MAX];
        uint32_t owner;
        /* The owner's user name on the source ("" when it has none): a
         * destination maps it to its own uid for that name. */
        char owner_name[VMMS_MIGCHAN_USER_MAX + 1];
        enum vmms_migrate_mode mode; /* LIVE, SAVED or CHECK */
        /* LIVE: the source can resume the channel after a cut (below). */
        bool has_session;
        struct vmms_migchan_session session;
        /* LIVE, SAVED: the operator's Dynamic Memory target on the source
         * (SetTarget), bytes within the configuration's range; 0: none,
         * the destination's balancer decides. */
        uint64_t memory_target;
        /* LIVE, SAVED: a firmware VM's BootStatus on the source (one of
         * vmms_migchan_boot_status_valid's words; "": none). */
        char boot_status[24];
        /* The VM's cloud-init seed follows the request (SEED frame); its
         * drive's path in config is the source's, to be replaced. */
        bool has_seed;
        struct vmms_migchan_seed seed;
        uint64_t size;               /* SAVED: the state file's bytes, 1 .. RAM + 256 MiB */
        bool start;                  /* SAVED: resume it once released */
};

/* {"config":"<the configuration as JSON>","owner":uid[,"owner_name":"user"],
 * "mode":"live"} (owner_name NULL or "": none); NULL on ENOMEM. */
char *vmms_migchan_request_build(const struct vm_config *c, uid_t owner, const char *owner_name,
                                 enum vmms_migrate_mode mode);
/* The same with "disks":[{"size":n,"sector":s},...] (one per disk of c;
 * size 0 for a read-only one): a shared-nothing live migration. */
char *vmms_migchan_disks_request_build(const struct vm_config *c, uid_t owner, const char *owner_name,
                                       const struct vmms_migchan_disk *disks);
/* A live request (disks NULL: shared storage) with "session":"<32 hex
 * digits>" when session is not NULL: the source can resume the channel
 * (below); with "memory_target":bytes when memory_target is not 0: the
 * operator's Dynamic Memory target goes with the VM; with "boot_status":
 * "<word>" when boot_status is neither NULL nor "": a firmware VM's
 * BootStatus goes with it (NULL for a word that is not one). */
char *vmms_migchan_live_request_build(const struct vm_config *c, uid_t owner, const char *owner_name,
                                      const struct vmms_migchan_disk *disks, const struct vmms_migchan_session *session,
                                      uint64_t memory_target, const char *boot_status);
/* Before a Running VM is saved for a quick migration: {"config":...,
 * "owner":uid[,"owner_name":...],"mode":"check"}, answered as the move's
 * request would be (the destination's policy), and nothing more. */
char *vmms_migchan_check_request_build(const struct vm_config *c, uid_t owner, const char *owner_name);
/* A Saved VM's move: {"config":...,"owner":uid[,"owner_name":...],"mode":"saved","size":N,"start":b
 * [,"memory_target":bytes][,"boot_status":"<word>"]}. */
char *vmms_migchan_saved_request_build(const struct vm_config *c, uid_t owner, const char *owner_name, uint64_t size,
                                       bool start, uint64_t memory_target, const char *boot_status);
/* A BootStatus word the channel carries: "firmware", "booted" or
 * "no-bootable-device". */
bool vmms_migchan_boot_status_valid(const char *s);
/* A user name as the channel carries it: 1 to VMMS_MIGCHAN_USER_MAX of
 * [A-Za-z0-9._-], not starting with '-'. */
bool vmms_migchan_user_name_valid(const char *s);
/* -EINVAL with "<field>: <reason>" in err. "size" and "start" are required
 * with "saved" and refused with "live". */
int vmms_migchan_request_parse(const char *body, size_t len, struct vmms_migchan_request *out, char *err,
                               size_t errlen);

/* request (a built request) with "seed" added; NULL on ENOMEM or for a
 * seed out of bounds (size 0 or over VMMS_MIGCHAN_SEED_MAX). */
char *vmms_migchan_request_add_seed(const char *request, const struct vmms_migchan_seed *seed);
/* The size of the seed a request's body names (what its SEED frame must
 * carry): 0 when it names none, -EINVAL when its "seed" is malformed
 * (the request's parse says why). For the channel's thread, before the
 * request is parsed. */
int64_t vmms_migchan_request_seed_size(const char *body, size_t len);
/* A SEED frame's bytes against the request's seed: the size, the CRC-32C,
 * an ISO 9660 image that fits in them, labelled "cidata" (or "CIDATA").
 * 0, or -EINVAL with a sentence in err. */
int vmms_migchan_seed_check(const uint8_t *bytes, size_t len, const struct vmms_migchan_seed *seed, char *err,
                            size_t errlen);

/* {"ok":true} or {"ok":false,"error":"..."}; NULL on ENOMEM. */
char *vmms_migchan_answer_build(const char *error);
/* {"ok":true,"resumable":true}: a live request with a session taken, and
 * the channel after it framed and resumable (below). */
char *vmms_migchan_resumable_answer_build(void);
/* 0 with *ok; a refusal's reason in why (printable ASCII, cut to
 * VMMS_MIGCHAN_ERROR_MAX); -EINVAL for a malformed answer. */
int vmms_migchan_answer_parse(const char *body, size_t len, bool *ok, char *why, size_t whylen);
/* The same, and whether the answer says "resumable" (NULL: not asked). */
int vmms_migchan_answer_parse_ex(const char *body, size_t len, bool *ok, bool *resumable, char *why, size_t whylen);

/* The steps of a quick migration after the answer (docs/migration.md
 * "Quick migration"), each one STEP frame:
 *   source: the file's bytes, then {"step":"sent","crc32c":N}
 *   destination: {"step":"stored"} or {"step":"refused","error":"..."}
 *   source: {"step":"released"}
 *   destination: {"step":"started"} or {"step":"saved","error":"..."} */
enum vmms_migchan_step {
        VMMS_STEP_SENT = 1,
        VMMS_STEP_STORED,
        VMMS_STEP_REFUSED,
        VMMS_STEP_RELEASED,
        VMMS_STEP_STARTED,
        VMMS_STEP_SAVED,
};
/* crc only with SENT, error only with REFUSED and SAVED; NULL on ENOMEM. */
char *vmms_migchan_step_build(enum vmms_migchan_step step, uint32_t crc, const char *error);
/* 0 with *step (*crc for SENT; a reason in why for REFUSED and SAVED,
 * printable ASCII, cut to VMMS_MIGCHAN_ERROR_MAX); -EINVAL otherwise. */
int vmms_migchan_step_parse(const char *body, size_t len, enum vmms_migchan_step *step, uint32_t *crc, char *why,
                            size_t whylen);
const char *vmms_migchan_step_name(enum vmms_migchan_step step);

/* "HOST", "HOST:PORT", "[V6]:PORT": host (no brackets) and port
 * (VMMS_MIGCHAN_DEFAULT_PORT when absent). -EINVAL for anything else. */
int vmms_migchan_address_parse(const char *s, char *host, size_t hostlen, uint16_t *port);

/* After a commit whose confirmation was lost (docs/migration.md "One
 * running copy"), the source's vmms asks the destination's on a new
 * channel, in place of a request: {"query":"<VM id>"}. The answer says
 * who has the VM: {"ok":true,"outcome":"taken"|"aborted"|"pending"}. */
enum vmms_migchan_outcome {
        VMMS_OUTCOME_TAKEN,   /* the destination has it (it runs there, or ran): the source stops its copy */
        VMMS_OUTCOME_ABORTED, /* it never ran there and never will: the source resumes */
        VMMS_OUTCOME_PENDING, /* the destination's worker has not decided yet: ask again */
};
/* NULL on ENOMEM. */
char *vmms_migchan_query_build(const struct guid *id);
/* 1 with *id when body is a query, 0 when it is something else (a
 * request), -EINVAL when it is a malformed query. */
int vmms_migchan_query_parse(const char *body, size_t len, struct guid *id);
char *vmms_migchan_outcome_build(enum vmms_migchan_outcome o);
/* 0 with *o, or -EINVAL (a refusal's reason in why, as answer_parse). */
int vmms_migchan_outcome_parse(const char *body, size_t len, enum vmms_migchan_outcome *o, char *why, size_t whylen);

/* A resumable channel (docs/migration.md "A cut channel"): after the
 * answer both directions carry frames of 8 bytes (u8 type, 3 zero bytes,
 * u32 LE length) and a body:
 *   DATA  1..VMMS_MIGCHAN_DATA_MAX (256 KiB) bytes of the workers' stream
 *   ACK   u64 LE: the stream bytes received so far, +1 once FIN arrived
 *   FIN   u64 LE: the stream bytes sent in all; nothing follows
 *   ABORT no body: the sender ends the channel on purpose (a cancel, a
 *         failure on its side, or done); no resume follows
 * Each side keeps what it sent until the other acknowledges it. After a
 * cut the source connects again and, in place of a request, sends
 * {"resume":"<session>","received":N}; the destination answers
 * {"ok":true,"received":M} (or refuses), and each side sends again what
 * the other has not received. */
#define VMMS_MIGCHAN_RFRAME_SIZE 8u
#define VMMS_MIGCHAN_DATA_MAX (256u * 1024u)
enum vmms_migchan_rframe {
        VMMS_RFRAME_DATA = 1,
        VMMS_RFRAME_ACK = 2,
        VMMS_RFRAME_FIN = 3,
        VMMS_RFRAME_ABORT = 4,
};
void vmms_migchan_rframe_build(uint8_t out[VMMS_MIGCHAN_RFRAME_SIZE], enum vmms_migchan_rframe type, uint32_t len);
/* 0 with *type and *len, or -EBADMSG (an unknown type, reserved bytes,
 * a length the type cannot have). */
int vmms_migchan_rframe_parse(const uint8_t hdr[VMMS_MIGCHAN_RFRAME_SIZE], enum vmms_migchan_rframe *type,
                              uint32_t *len);
/* NULL on ENOMEM. */
char *vmms_migchan_resume_build(const struct vmms_migchan_session *s, uint64_t received);
/* 1 with the session and the count (a resume), 0 when the body is not a
 * resume (a request or a query), -EINVAL for a malformed one. */
int vmms_migchan_resume_parse(const char *body, size_t len, struct vmms_migchan_session *s, uint64_t *received);
/* {"ok":true,"received":N}; NULL on ENOMEM. */
char *vmms_migchan_resumed_build(uint64_t received);
/* 0 with *received, or -EINVAL: a refusal (its reason in why, as
 * answer_parse) or a malformed answer. */
int vmms_migchan_resumed_parse(const char *body, size_t len, uint64_t *received, char *why, size_t whylen);
