// SPDX-License-Identifier: MIT
/* The saved-state writer (docs/saved-state.md). It streams to an fd that
 * may be a socket, so it never seeks: a field section is built in memory
 * (bounded by VMSTATE_SECTION_MAX) behind room for its header, which is
 * filled in once the length and CRC are known; a bulk section (guest RAM)
 * announces its length up front and carries its CRC in a trailer. The
 * writer refuses to produce anything the reader would refuse (duplicate
 * sections or field ids, values that do not fit their kind, the limits),
 * and its errors stick: after one, every call returns it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "vmstate-internal.h"

enum writer_state {
        WRITER_IDLE,   /* between sections */
        WRITER_FIELDS, /* inside vmstate_begin() .. vmstate_end() */
        WRITER_BULK,   /* inside vmstate_bulk_begin() .. vmstate_bulk_end() */
        WRITER_DONE,   /* vmstate_finish() ran */
};

struct section_key {
        uint32_t tag, instance;
};

struct vmstate_writer {
        int fd;
        int error; /* the sticky one, 0 while none */
        enum writer_state state;
        uint64_t written;

        /* The field section being built: its header's 32 bytes, then the payload. */
        uint8_t *buf;
        size_t len, cap;
        uint16_t ids[VMSTATE_FIELDS_MAX];
        unsigned n_ids;

        uint64_t bulk_length, bulk_done;
        uint32_t bulk_crc;

        /* Every (tag, instance) written so far: the reader refuses repeats. */
        struct section_key *sections;
        size_t n_sections, cap_sections;

        void (*progress)(void *opaque, uint64_t written);
        void *progress_opaque;
};

static int writer_fail(struct vmstate_writer *w, int r) {
        if (!w->error)
                w->error = r;
        return w->error;
}

/* 0 when a call may go on in state want; the sticky error, or a new one. */
static int writer_enter(struct vmstate_writer *w, enum writer_state want) {
        if (!w)
                return -EINVAL;
        if (w->error)
                return w->error;
        return w->state == want ? 0 : writer_fail(w, -EINVAL);
}

static int writer_write(struct vmstate_writer *w, const void *buf, size_t len) {
        const uint8_t *p = buf;
        do {
                size_t n = w->progress ? MIN(len, (size_t)VMSTATE_PROGRESS_STEP) : len;
                int r = write_full(w->fd, p, n);
                if (r < 0)
                        return writer_fail(w, r);
                w->written += n;
                p += n, len -= n;
                if (w->progress)
                        w->progress(w->progress_opaque, w->written);
        } while (len > 0);
        return 0;
}

void vmstate_writer_set_progress(struct vmstate_writer *w, void (*fn)(void *opaque, uint64_t written),
                                 void *opaque) {
        if (w)
                w->progress = fn, w->progress_opaque = opaque;
}

static void section_header(uint8_t h[VMSTATE_SECTION_HEADER_SIZE], uint32_t tag, uint32_t instance,
                           uint16_t version, uint16_t flags, uint64_t length, uint32_t payload_crc) {
        memset(h, 0, VMSTATE_SECTION_HEADER_SIZE);
        vmstate_put_le32(h + VMSTATE_SEC_TAG, tag);
        vmstate_put_le32(h + VMSTATE_SEC_INSTANCE, instance);
        vmstate_put_le16(h + VMSTATE_SEC_VERSION, version);
        vmstate_put_le16(h + VMSTATE_SEC_FLAGS, flags);
        vmstate_put_le64(h + VMSTATE_SEC_LENGTH, length);
        vmstate_put_le32(h + VMSTATE_SEC_PAYLOAD_CRC, payload_crc);
        vmstate_put_le32(h + VMSTATE_SEC_HEADER_CRC, vmstate_crc32c(0, h, VMSTATE_SEC_HEADER_CRC));
}

/* The checks every section start shares; records (tag, instance). */
static int section_start(struct vmstate_writer *w, uint32_t tag, uint32_t instance, uint16_t version) {
        int r = writer_enter(w, WRITER_IDLE);
        if (r < 0)
                return r;
        if (tag == VMSTATE_TAG_END || version == 0)
                return writer_fail(w, -EINVAL);
        for (size_t i = 0; i < w->n_sections; i++)
                if (w->sections[i].tag == tag && w->sections[i].instance == instance)
                        return writer_fail(w, -EEXIST);
        if (w->n_sections >= VMSTATE_SECTIONS_MAX)
                return writer_fail(w, -E2BIG);
        if (w->n_sections == w->cap_sections) {
                size_t cap = MIN(MAX(w->cap_sections * 2, (size_t)16), (size_t)VMSTATE_SECTIONS_MAX);
                struct section_key *s = realloc(w->sections, cap * sizeof *s);
                if (!s)
                        return writer_fail(w, -ENOMEM);
                w->sections = s;
                w->cap_sections = cap;
        }
        w->sections[w->n_sections++] = (struct section_key){ tag, instance };
        return 0;
}

int vmstate_writer_new(int fd, uint64_t flags, struct vmstate_writer **out) {
        if (!out || fd < 0 || (flags & ~(uint64_t)VMSTATE_FILE_FLAGS_KNOWN))
                return -EINVAL;
        struct vmstate_writer *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->fd = fd;
        uint8_t h[VMSTATE_HEADER_SIZE] = { 0 };
        memcpy(h, VMSTATE_MAGIC, 8);
        vmstate_put_le16(h + VMSTATE_HDR_MAJOR, VMSTATE_MAJOR);
        vmstate_put_le16(h + VMSTATE_HDR_MINOR, VMSTATE_MINOR);
        vmstate_put_le32(h + VMSTATE_HDR_SIZE, VMSTATE_HEADER_SIZE);
        vmstate_put_le64(h + VMSTATE_HDR_FLAGS, flags);
        vmstate_put_le32(h + VMSTATE_HDR_CRC, vmstate_crc32c(0, h, VMSTATE_HDR_CRC));
        int r = writer_write(w, h, sizeof h);
        if (r < 0) {
                vmstate_writer_free(w);
                return r;
        }
        *out = w;
        return 0;
}

void vmstate_writer_free(struct vmstate_writer *w) {
        if (!w)
                return;
        free(w->buf);
        free(w->sections);
        free(w);
}

static int buf_reserve(struct vmstate_writer *w, size_t need) {
        const size_t max = VMSTATE_SECTION_HEADER_SIZE + VMSTATE_SECTION_MAX;
        if (need > max)
                return writer_fail(w, -E2BIG);
        if (need <= w->cap)
                return 0;
        size_t cap = MIN(MAX(MAX(w->cap * 2, need), (size_t)4096), max);
        uint8_t *b = realloc(w->buf, cap);
        if (!b)
                return writer_fail(w, -ENOMEM);
        w->buf = b;
        w->cap = cap;
        return 0;
}

int vmstate_begin(struct vmstate_writer *w, uint32_t tag, uint32_t instance, uint16_t version, uint16_t flags) {
        int r = writer_enter(w, WRITER_IDLE);
        if (r < 0)
                return r;
        if (flags & ~(unsigned)VMSTATE_SECTION_OPTIONAL)
                return writer_fail(w, -EINVAL); /* BULK goes through vmstate_bulk_begin() */
        r = section_start(w, tag, instance, version);
        if (r < 0)
                return r;
        r = buf_reserve(w, VMSTATE_SECTION_HEADER_SIZE);
        if (r < 0)
                return r;
        /* Filled in again by vmstate_end(), which takes tag .. flags from here. */
        section_header(w->buf, tag, instance, version, flags, 0, 0);
        w->len = VMSTATE_SECTION_HEADER_SIZE;
        w->n_ids = 0;
        w->state = WRITER_FIELDS;
        return 0;
}

int vmstate_put(struct vmstate_writer *w, uint16_t id, enum vmstate_kind kind, const void *value, size_t length) {
        int r = writer_enter(w, WRITER_FIELDS);
        if (r < 0)
                return r;
        if (length > VMSTATE_SECTION_MAX)
                return writer_fail(w, -E2BIG);
        if (id == 0 || id > VMSTATE_FIELD_ID_MAX || (!value && length) ||
            !vmstate_value_ok((unsigned)kind, value, length))
                return writer_fail(w, -EINVAL);
        for (unsigned i = 0; i < w->n_ids; i++)
                if (w->ids[i] == id)
                        return writer_fail(w, -EEXIST);
        if (w->n_ids >= VMSTATE_FIELDS_MAX)
                return writer_fail(w, -E2BIG);
        size_t padded = VMSTATE_PAD(length);
        r = buf_reserve(w, w->len + VMSTATE_FIELD_HEADER_SIZE + padded);
        if (r < 0)
                return r;
        uint8_t *p = w->buf + w->len;
        vmstate_put_le16(p, id);
        vmstate_put_le16(p + 2, (uint16_t)kind);
        vmstate_put_le32(p + 4, (uint32_t)length);
        if (length)
                vmstate_copy_le(p + VMSTATE_FIELD_HEADER_SIZE, value, length, vmstate_kind_width(kind));
        memset(p + VMSTATE_FIELD_HEADER_SIZE + length, 0, padded - length);
        w->len += VMSTATE_FIELD_HEADER_SIZE + padded;
        w->ids[w->n_ids++] = id;
        return 0;
}

int vmstate_put_u64(struct vmstate_writer *w, uint16_t id, uint64_t v) {
        return vmstate_put(w, id, VMSTATE_U64, &v, sizeof v);
}

int vmstate_put_u32(struct vmstate_writer *w, uint16_t id, uint32_t v) {
        return vmstate_put(w, id, VMSTATE_U32, &v, sizeof v);
}

int vmstate_end(struct vmstate_writer *w) {
        int r = writer_enter(w, WRITER_FIELDS);
        if (r < 0)
                return r;
        const uint8_t *h = w->buf;
        uint64_t length = w->len - VMSTATE_SECTION_HEADER_SIZE;
        section_header(w->buf, vmstate_le32(h + VMSTATE_SEC_TAG), vmstate_le32(h + VMSTATE_SEC_INSTANCE),
                       vmstate_le16(h + VMSTATE_SEC_VERSION), vmstate_le16(h + VMSTATE_SEC_FLAGS), length,
                       vmstate_crc32c(0, w->buf + VMSTATE_SECTION_HEADER_SIZE, length));
        r = writer_write(w, w->buf, w->len);
        if (r < 0)
                return r;
        w->state = WRITER_IDLE;
        return 0;
}

/* The value of field d of the struct at in, and its length in bytes. */
static int field_value(const struct vmstate_field_desc *d, const uint8_t *in, const void **value, size_t *length) {
        unsigned w = vmstate_kind_width(d->kind);
        *value = in + d->offset;
        if (d->kind == VMSTATE_U32_ARRAY || d->kind == VMSTATE_U64_ARRAY || d->kind == VMSTATE_VARBYTES) {
                uint32_t count;
                memcpy(&count, in + d->count_offset, sizeof count);
                if (count > d->size)
                        return -EINVAL;
                *length = (size_t)count * w;
        } else
                *length = d->kind == VMSTATE_BYTES ? d->size : w;
        return 0;
}

int vmstate_encode(struct vmstate_writer *w, const struct vmstate_desc *desc, uint32_t instance, const void *in) {
        int r = writer_enter(w, WRITER_IDLE);
        if (r < 0)
                return r;
        if (!in || vmstate_desc_check(desc) < 0)
                return writer_fail(w, -EINVAL);
        r = vmstate_begin(w, desc->tag, instance, desc->version, 0);
        for (size_t i = 0; r >= 0 && i < desc->n_fields; i++) {
                const struct vmstate_field_desc *d = &desc->fields[i];
                const void *value;
                size_t length;
                r = field_value(d, in, &value, &length);
                if (r < 0)
                        return writer_fail(w, r);
                r = vmstate_put(w, d->id, d->kind, value, length);
        }
        return r < 0 ? r : vmstate_end(w);
}

int vmstate_bulk_begin(struct vmstate_writer *w, uint32_t tag, uint32_t instance, uint16_t version,
                       uint64_t length) {
        int r = section_start(w, tag, instance, version);
        if (r < 0)
                return r;
        if (length > UINT64_MAX - 64)
                return writer_fail(w, -E2BIG);
        uint8_t h[VMSTATE_SECTION_HEADER_SIZE];
        section_header(h, tag, instance, version, VMSTATE_SECTION_BULK, length, 0);
        r = writer_write(w, h, sizeof h);
        if (r < 0)
                return r;
        w->bulk_length = length;
        w->bulk_done = 0;
        w->bulk_crc = 0;
        w->state = WRITER_BULK;
        return 0;
}

int vmstate_bulk_write(struct vmstate_writer *w, const void *buf, size_t len) {
        int r = writer_enter(w, WRITER_BULK);
        if (r < 0)
                return r;
        if ((!buf && len) || len > w->bulk_length - w->bulk_done)
                return writer_fail(w, -EINVAL);
        w->bulk_crc = vmstate_crc32c(w->bulk_crc, buf, len);
        r = writer_write(w, buf, len);
        if (r < 0)
                return r;
        w->bulk_done += len;
        return 0;
}

int vmstate_bulk_end(struct vmstate_writer *w) {
        int r = writer_enter(w, WRITER_BULK);
        if (r < 0)
                return r;
        if (w->bulk_done != w->bulk_length)
                return writer_fail(w, -EINVAL);
        /* Zero padding to 8, then u32 crc32c(payload), u32 0. */
        uint8_t tail[8 + VMSTATE_BULK_TRAILER_SIZE] = { 0 };
        size_t pad = VMSTATE_PAD(w->bulk_length) - w->bulk_length;
        vmstate_put_le32(tail + pad, w->bulk_crc);
        r = writer_write(w, tail, pad + VMSTATE_BULK_TRAILER_SIZE);
        if (r < 0)
                return r;
        w->state = WRITER_IDLE;
        return 0;
}

int vmstate_finish(struct vmstate_writer *w) {
        int r = writer_enter(w, WRITER_IDLE);
        if (r < 0)
                return r;
        uint8_t h[VMSTATE_SECTION_HEADER_SIZE];
        section_header(h, VMSTATE_TAG_END, 0, 1, 0, 0, 0);
        r = writer_write(w, h, sizeof h);
        if (r < 0)
                return r;
        w->state = WRITER_DONE;
        return 0;
}

uint64_t vmstate_written(const struct vmstate_writer *w) {
        return w ? w->written : 0;
}
