/* SPDX-License-Identifier: MIT */
/* The saved-state format (docs/saved-state.md): what a paused VM's devices,
 * vCPUs and RAM are written as, for the Saved state, migration and
 * checkpoints.
 *
 *   file    = header section* end-section
 *   header  = "VMSTACK\x1a" u16 major u16 minor u32 header_size u64 flags
 *             u32 reserved u32 crc32c(bytes 0..27)                   (32 bytes)
 *   section = u32 tag u32 instance u16 version u16 flags u32 reserved
 *             u64 length u32 crc32c(payload) u32 crc32c(bytes 0..27)  (32 bytes)
 *             payload[length], zero-padded to a multiple of 8
 *   end     = a section with tag VMSTATE_TAG_END, instance 0, length 0
 *
 * A bulk section (flag VMSTATE_SECTION_BULK: guest RAM) is streamed without
 * being buffered, so its header's payload CRC is 0 and the CRC follows the
 * padded payload instead, as an 8-byte trailer: u32 crc32c(payload) u32 0.
 *
 * All integers are little-endian. A tag names the kind of device ("VP  ",
 * "VMBS", ...), the instance tells devices of one kind apart (VP index,
 * channel relid, disk number). A payload is a run of fields,
 *
 *   field   = u16 id u16 kind u32 length value[length], zero-padded to 8
 *
 * so that a section is readable without knowing the struct it came from.
 * Compatibility rules: a reader accepts its own major version with any
 * minor, and per section any version from 1 to the newest it knows; a
 * newer section version or major version is refused with an error naming
 * it. A field added to a section bumps the section's version; fields a
 * reader expects but an older writer did not have keep their defaults
 * (the descriptor's min_version). A field id a reader does not know in a
 * section version it does know is corruption. A section whose tag a reader
 * does not know is refused unless its flags carry VMSTATE_SECTION_OPTIONAL.
 *
 * Nothing here does I/O on the reading side: the reader works on a buffer
 * (an mmap of the file) and every function is pure and bounded, so each is
 * fuzzed as is (tests/fuzz/fuzz-vmstate.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMSTATE_MAGIC "VMSTACK\x1a"
#define VMSTATE_MAJOR 1
#define VMSTATE_MINOR 0
#define VMSTATE_HEADER_SIZE 32u
#define VMSTATE_SECTION_HEADER_SIZE 32u
#define VMSTATE_FIELD_HEADER_SIZE 8u
/* Bounds a reader enforces (guest RAM is the only big section). */
#define VMSTATE_SECTIONS_MAX 4096u
#define VMSTATE_SECTION_MAX (64ull << 20) /* every section but bulk ones */
#define VMSTATE_FIELDS_MAX 256u           /* per section */

#define VMSTATE_TAG(a, b, c, d) \
        ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define VMSTATE_TAG_END VMSTATE_TAG('E', 'N', 'D', ' ')

/* Section flags. */
#define VMSTATE_SECTION_OPTIONAL 0x1u /* a reader that does not know the tag may skip it */
#define VMSTATE_SECTION_BULK 0x2u     /* may exceed VMSTATE_SECTION_MAX (guest RAM) */

enum vmstate_kind {
        VMSTATE_U8 = 1,
        VMSTATE_U16 = 2,
        VMSTATE_U32 = 3,
        VMSTATE_U64 = 4,
        VMSTATE_BOOL = 5,      /* one byte, 0 or 1 */
        VMSTATE_BYTES = 6,     /* a fixed-size byte array (size in the descriptor) */
        VMSTATE_U32_ARRAY = 7, /* count elements; count lives in a separate struct field */
        VMSTATE_U64_ARRAY = 8,
        VMSTATE_VARBYTES = 9, /* up to size bytes; the length lives in a u32 count field */
};

/* Human-readable tag ("VP  " -> "VP"), for error messages. */
void vmstate_tag_name(uint32_t tag, char out[5]);

/* ---- describing a struct -------------------------------------------- */

/* One field of a C struct as it is saved. offset/size locate it in the
 * struct; for arrays size is the capacity in elements and count_offset
 * locates the uint32_t element count (VARBYTES: the byte count).
 * min_version: the first section version that has the field (older
 * sections leave it as the caller initialised it). */
struct vmstate_field_desc {
        uint16_t id; /* 1..0x7fff, unique in the section */
        uint8_t kind; /* enum vmstate_kind */
        uint16_t min_version;
        size_t offset;
        size_t size;
        size_t count_offset;
        const char *name; /* for errors: "vp.rip" */
};

/* A section kind: its tag, newest version and fields. */
struct vmstate_desc {
        uint32_t tag;
        uint16_t version;
        const struct vmstate_field_desc *fields;
        size_t n_fields;
        const char *name; /* "vCPU" */
};

#define VMSTATE_FIELD(id_, kind_, type_, member_)                                              \
        { .id = (id_), .kind = (kind_), .min_version = 1, .offset = offsetof(type_, member_), \
          .size = sizeof(((type_ *)0)->member_), .name = #member_ }
#define VMSTATE_ARRAY(id_, kind_, type_, member_, count_member_)                                  \
        { .id = (id_), .kind = (kind_), .min_version = 1, .offset = offsetof(type_, member_),    \
          .size = sizeof(((type_ *)0)->member_) / sizeof(((type_ *)0)->member_[0]),              \
          .count_offset = offsetof(type_, count_member_), .name = #member_ }

/* ---- reading (pure, bounded) ------------------------------------------ */

struct vmstate_header {
        uint16_t major, minor;
        uint64_t flags;
};

struct vmstate_section {
        uint32_t tag, instance;
        uint16_t version, flags;
        const uint8_t *payload;
        uint64_t length;
        uint64_t offset; /* of the section header in the file */
};

/* Checks the file header (magic, major version, CRC). Returns the offset of
 * the first section (> 0) or -EINVAL / -EPROTONOSUPPORT (newer major) with a
 * sentence in err. */
int vmstate_parse_header(const void *buf, size_t len, struct vmstate_header *out, char *err, size_t errlen);

/* The section at *off: 1 and *off advanced past it, 0 at the end section
 * (*off then points past it), -EINVAL (truncated, bad CRC, over the limits,
 * length past the end) with a sentence naming the section and its offset. */
int vmstate_next_section(const void *buf, size_t len, uint64_t *off, struct vmstate_section *out, char *err,
                         size_t errlen);

/* Walks the whole file: header, every section (CRCs checked), the end
 * section, nothing after it. Fills out[] with up to max sections and
 * returns how many there are (-E2BIG above max), or a negative errno and a
 * sentence. A file that passes this is complete; restore starts only then. */
int vmstate_index(const void *buf, size_t len, struct vmstate_header *hdr, struct vmstate_section *out, size_t max,
                  char *err, size_t errlen);

/* The first section with this tag and instance in an index, or NULL. */
const struct vmstate_section *vmstate_find(const struct vmstate_section *secs, size_t n, uint32_t tag,
                                           uint32_t instance);

/* Decodes a section into the struct at out, which the caller initialised
 * with defaults. Refuses (-EINVAL/-EPROTONOSUPPORT, a sentence) a tag that
 * is not desc's, a version newer than desc->version or 0, an unknown or
 * repeated field id, a kind or length that does not match the descriptor,
 * a BOOL other than 0/1, an array longer than its capacity. Pure. */
int vmstate_decode(const struct vmstate_section *s, const struct vmstate_desc *desc, void *out, char *err,
                   size_t errlen);

/* Raw field iteration, for payloads a descriptor cannot express. 1 with a
 * field, 0 at the end of the payload, -EINVAL on a malformed field. */
struct vmstate_field {
        uint16_t id, kind;
        uint32_t length;
        const uint8_t *value;
};
int vmstate_next_field(const struct vmstate_section *s, uint64_t *off, struct vmstate_field *out);

/* ---- writing -------------------------------------------------------- */

/* A writer streams a file to an fd (a regular file or a socket: it never
 * seeks), buffering each section until it ends so the section header can
 * carry the length and CRC. Errors stick: after one, every call returns it. */
struct vmstate_writer;

/* Writes the file header. flags: stored in the header (0 for now). */
int vmstate_writer_new(int fd, uint64_t flags, struct vmstate_writer **out);
void vmstate_writer_free(struct vmstate_writer *w);

/* A field-structured section: begin, put fields, end. */
int vmstate_begin(struct vmstate_writer *w, uint32_t tag, uint32_t instance, uint16_t version, uint16_t flags);
int vmstate_put(struct vmstate_writer *w, uint16_t id, enum vmstate_kind kind, const void *value, size_t length);
int vmstate_put_u64(struct vmstate_writer *w, uint16_t id, uint64_t v);
int vmstate_put_u32(struct vmstate_writer *w, uint16_t id, uint32_t v);
int vmstate_end(struct vmstate_writer *w);

/* The whole struct at in, as desc describes it, as one section. */
int vmstate_encode(struct vmstate_writer *w, const struct vmstate_desc *desc, uint32_t instance, const void *in);

/* A bulk section (guest RAM): its length is given up front and its payload
 * streamed without buffering, with VMSTATE_SECTION_BULK set. The payload is
 * not field-structured; its owner defines it (docs/saved-state.md, "RAM"). */
int vmstate_bulk_begin(struct vmstate_writer *w, uint32_t tag, uint32_t instance, uint16_t version,
                       uint64_t length);
int vmstate_bulk_write(struct vmstate_writer *w, const void *buf, size_t len);
int vmstate_bulk_end(struct vmstate_writer *w); /* -EINVAL if fewer bytes than announced were written */

/* Writes the end section. The caller fsyncs/renames as its durability
 * needs. */
int vmstate_finish(struct vmstate_writer *w);
/* Bytes written to the fd so far (for progress). */
uint64_t vmstate_written(const struct vmstate_writer *w);
/* fn(opaque, vmstate_written()) after every write to the fd; a bulk write
 * reaches the fd in pieces of at most VMSTATE_PROGRESS_STEP bytes, so a
 * long RAM extent reports as it goes. NULL: none. */
#define VMSTATE_PROGRESS_STEP (4u << 20)
void vmstate_writer_set_progress(struct vmstate_writer *w, void (*fn)(void *opaque, uint64_t written),
                                 void *opaque);

/* Little-endian integers in a payload, for the owners of bulk sections
 * (their layout is theirs) and for this library. */
static inline uint16_t vmstate_le16(const uint8_t *p) {
        return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t vmstate_le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t vmstate_le64(const uint8_t *p) {
        return (uint64_t)vmstate_le32(p) | (uint64_t)vmstate_le32(p + 4) << 32;
}
static inline void vmstate_put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}
static inline void vmstate_put_le32(uint8_t *p, uint32_t v) {
        vmstate_put_le16(p, (uint16_t)v);
        vmstate_put_le16(p + 2, (uint16_t)(v >> 16));
}
static inline void vmstate_put_le64(uint8_t *p, uint64_t v) {
        vmstate_put_le32(p, (uint32_t)v);
        vmstate_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* CRC-32C (Castagnoli), with the SSE4.2 instruction where the CPU has it. */
uint32_t vmstate_crc32c(uint32_t crc, const void *buf, size_t len);
