// SPDX-License-Identifier: MIT
/* The live-migration stream's hello and records (common/migstream.h,
 * docs/migration.md). Pure: the destination runs these on what the peer
 * sent, and so does the fuzz target. */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/migstream.h"
#include "common/vmstate.h"

int mig_hello_encode(const struct mig_hello *h, uint8_t *buf, size_t cap) {
        size_t shape_len = strnlen(h->shape, sizeof h->shape);
        size_t padded = ALIGN_UP(shape_len, 8u);
        size_t total = MIG_HELLO_HEADER + padded + CPUFEAT_BYTES;
        if (shape_len > MIG_SHAPE_MAX || cap < total)
                return -E2BIG;
        memset(buf, 0, total);
        memcpy(buf, MIG_MAGIC, 8);
        vmstate_put_le16(buf + 8, MIG_MAJOR);
        vmstate_put_le16(buf + 10, MIG_MINOR);
        vmstate_put_le32(buf + 12, h->page_size);
        vmstate_put_le64(buf + 16, h->ram_bytes);
        vmstate_put_le32(buf + 24, h->vcpus);
        vmstate_put_le32(buf + 28, (uint32_t)shape_len);
        vmstate_put_le64(buf + 32, h->flags);
        vmstate_put_le32(buf + 40, CPUFEAT_BYTES);
        memcpy(buf + MIG_HELLO_HEADER, h->shape, shape_len);
        uint8_t *cpu = buf + MIG_HELLO_HEADER + padded;
        cpufeat_encode(&h->cpu, cpu);
        uint32_t crc = vmstate_crc32c(0, buf, 44);
        crc = vmstate_crc32c(crc, buf + MIG_HELLO_HEADER, shape_len);
        vmstate_put_le32(buf + 44, vmstate_crc32c(crc, cpu, CPUFEAT_BYTES));
        return (int)total;
}

size_t mig_hello_size(const void *hdr) {
        const uint8_t *b = hdr;
        uint32_t shape_len = MIN(vmstate_le32(b + 28), MIG_SHAPE_MAX);
        uint32_t cpu_len = MIN(vmstate_le32(b + 40), CPUFEAT_BYTES);
        return MIG_HELLO_HEADER + ALIGN_UP((size_t)shape_len, 8u) + cpu_len;
}

int mig_hello_parse(const void *buf, size_t len, struct mig_hello *out, char *err, size_t errlen) {
        const uint8_t *b = buf;
        if (len < MIG_HELLO_HEADER)
                return 0;
        if (memcmp(b, MIG_MAGIC, 8) != 0)
                return errorf(err, errlen, -EINVAL, "not a vmstack migration stream (no VMSTMIG magic)");
        uint16_t major = vmstate_le16(b + 8), minor = vmstate_le16(b + 10);
        if (major != MIG_MAJOR)
                return errorf(err, errlen, -EPROTONOSUPPORT,
                              "the source speaks migration format %u.%u; this build speaks %u.x", major, minor,
                              MIG_MAJOR);
        uint32_t shape_len = vmstate_le32(b + 28), cpu_len = vmstate_le32(b + 40);
        if (shape_len > MIG_SHAPE_MAX)
                return errorf(err, errlen, -EINVAL, "hello: a shape of %u bytes (at most %u)", shape_len,
                              MIG_SHAPE_MAX);
        if (cpu_len != CPUFEAT_BYTES)
                return errorf(err, errlen, -EINVAL, "hello: CPU features of %u bytes (this build reads %u)", cpu_len,
                              CPUFEAT_BYTES);
        size_t padded = ALIGN_UP((size_t)shape_len, 8u), total = mig_hello_size(b);
        if (len < total)
                return 0;
        const uint8_t *cpu = b + MIG_HELLO_HEADER + padded;
        uint32_t crc = vmstate_crc32c(0, b, 44);
        crc = vmstate_crc32c(crc, b + MIG_HELLO_HEADER, shape_len);
        if (vmstate_crc32c(crc, cpu, CPUFEAT_BYTES) != vmstate_le32(b + 44))
                return errorf(err, errlen, -EINVAL, "hello: CRC mismatch (corrupt stream)");
        if (vmstate_le64(b + 32) & ~(uint64_t)(MIG_HELLO_COPY_DISKS | MIG_HELLO_POSTCOPY))
                return errorf(err, errlen, -EINVAL, "hello: unknown flags 0x%llx",
                              (unsigned long long)vmstate_le64(b + 32));
        for (size_t i = shape_len; i < padded; i++)
                if (b[MIG_HELLO_HEADER + i])
                        return errorf(err, errlen, -EINVAL, "hello: nonzero padding after the shape");
        char why[128];
        struct cpufeat f;
        if (cpufeat_decode(cpu, CPUFEAT_BYTES, &f, why, sizeof why) < 0)
                return errorf(err, errlen, -EINVAL, "hello: %s", why);
        *out = (struct mig_hello){ .major = major, .minor = minor, .page_size = vmstate_le32(b + 12),
                                   .ram_bytes = vmstate_le64(b + 16), .vcpus = vmstate_le32(b + 24),
                                   .flags = vmstate_le64(b + 32), .shape_len = shape_len, .cpu = f };
        for (uint32_t i = 0; i < shape_len; i++) { /* printable: it goes into messages */
                uint8_t c = b[MIG_HELLO_HEADER + i];
                out->shape[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        out->shape[shape_len] = 0;
        return (int)total;
}

int mig_hello_check(const struct mig_hello *src, const struct mig_hello *dst, char *err, size_t errlen) {
        if (src->page_size != dst->page_size)
                return errorf(err, errlen, -EINVAL, "the source's page size is %u, this host's %u", src->page_size,
                              dst->page_size);
        if (src->ram_bytes != dst->ram_bytes)
                return errorf(err, errlen, -EINVAL, "the source VM has %llu MiB of RAM, this one %llu MiB",
                              (unsigned long long)(src->ram_bytes >> 20), (unsigned long long)(dst->ram_bytes >> 20));
        if (src->vcpus != dst->vcpus)
                return errorf(err, errlen, -EINVAL, "the source VM has %u vCPUs, this one %u", src->vcpus, dst->vcpus);
        if ((src->flags ^ dst->flags) & MIG_HELLO_COPY_DISKS)
                return errorf(err, errlen, -EINVAL,
                              src->flags & MIG_HELLO_COPY_DISKS
                                      ? "the source copies its disks (shared-nothing), but this destination uses "
                                        "shared storage"
                                      : "this destination expects the disks' content (shared-nothing), but the "
                                        "source uses shared storage");
        if (strcmp(src->shape, dst->shape) != 0)
                return errorf(err, errlen, -EINVAL, "the source VM's devices are \"%s\", this one's \"%s\"", src->shape,
                              dst->shape);
        return cpufeat_missing(&src->cpu, &dst->cpu, err, errlen);
}

void mig_record_encode_index(uint8_t *buf, uint32_t type, uint32_t index, uint64_t addr, uint64_t length,
                             uint32_t payload_crc) {
        vmstate_put_le32(buf, type);
        vmstate_put_le32(buf + 4, index);
        vmstate_put_le64(buf + 8, addr);
        vmstate_put_le64(buf + 16, length);
        vmstate_put_le32(buf + 24, payload_crc);
        vmstate_put_le32(buf + 28, vmstate_crc32c(0, buf, 28));
}

void mig_record_encode(uint8_t *buf, uint32_t type, uint64_t addr, uint64_t length, uint32_t payload_crc) {
        mig_record_encode_index(buf, type, 0, addr, length, payload_crc);
}

uint64_t mig_record_payload(const struct mig_record *r) {
        switch (r->type) {
        case MIG_POSTCOPY: /* length <= MIG_POSTCOPY_SPAN_MAX: checked */
                return DIV_ROUND_UP(r->length / MIG_PAGE_SIZE, 64u) * 8u;
        case MIG_PAGES:
        case MIG_DISK:
        case MIG_DEVMEM:
        case MIG_ABORT:
        case MIG_REFUSE:
                return r->length;
        default:
                return 0;
        }
}

static const char *range_type_name(uint32_t type) {
        return type == MIG_PAGES ? "PAGES" : type == MIG_ZERO ? "ZERO" : type == MIG_POSTCOPY ? "POSTCOPY" : "PAGE_REQ";
}

static int check_range(const struct mig_record *r, uint64_t ram_bytes, uint64_t max, uint64_t align, char *err,
                       size_t errlen) {
        uint64_t end;
        if (r->length == 0 || r->length > max || r->addr % align || r->length % MIG_PAGE_SIZE ||
            ADD_OVERFLOW(r->addr, r->length, &end) || end > ram_bytes)
                return errorf(err, errlen, -EINVAL,
                              "record %s at RAM offset 0x%llx, %llu bytes: not aligned, empty, too long or "
                              "beyond the %llu MiB of RAM",
                              range_type_name(r->type), (unsigned long long)r->addr, (unsigned long long)r->length,
                              (unsigned long long)(ram_bytes >> 20));
        return 0;
}

int mig_record_parse(const void *hdr, uint64_t ram_bytes, bool from_source, struct mig_record *out, char *err,
                     size_t errlen) {
        const uint8_t *b = hdr;
        if (vmstate_crc32c(0, b, 28) != vmstate_le32(b + 28))
                return errorf(err, errlen, -EINVAL, "record header CRC mismatch (corrupt stream)");
        struct mig_record r = { .type = vmstate_le32(b), .addr = vmstate_le64(b + 8), .length = vmstate_le64(b + 16),
                                .payload_crc = vmstate_le32(b + 24) };
        bool disk_type = r.type == MIG_DISK || r.type == MIG_DISK_ZERO;
        bool devmem_type = r.type == MIG_DEVMEM || r.type == MIG_DEVMEM_ZERO;
        if (disk_type || devmem_type)
                r.index = vmstate_le32(b + 4);
        if (disk_type ? r.index >= MIG_DISKS_MAX : devmem_type ? r.index >= MIG_DEVMEM_MAX : vmstate_le32(b + 4) != 0)
                return errorf(err, errlen, -EINVAL, "record type %u: unknown flags 0x%x", r.type, vmstate_le32(b + 4));
        bool source_type = r.type >= MIG_PAGES && r.type <= MIG_DEVMEM_ZERO;
        bool dest_type = r.type >= MIG_ACCEPT && r.type <= MIG_POSTCOPY_DONE;
        if (from_source ? !source_type : !dest_type)
                return errorf(err, errlen, -EINVAL, "unknown record type %u", r.type);
        int ret = 0;
        switch (r.type) {
        case MIG_PAGES:
                ret = check_range(&r, ram_bytes, MIG_PAGES_MAX, MIG_PAGE_SIZE, err, errlen);
                break;
        case MIG_ZERO:
                ret = check_range(&r, ram_bytes, ram_bytes, MIG_PAGE_SIZE, err, errlen);
                break;
        case MIG_POSTCOPY:
                ret = check_range(&r, ram_bytes, MIG_POSTCOPY_SPAN_MAX, MIG_POSTCOPY_ALIGN, err, errlen);
                break;
        case MIG_PAGE_REQ:
                ret = check_range(&r, ram_bytes, MIG_PAGE_REQ_MAX, MIG_PAGE_SIZE, err, errlen);
                break;
        case MIG_DISK:
        case MIG_DISK_ZERO: {
                uint64_t end, max = r.type == MIG_DISK ? MIG_PAGES_MAX : MIG_DISK_ZERO_MAX;
                if (r.length == 0 || r.length > max || r.addr % MIG_DISK_SECTOR || r.length % MIG_DISK_SECTOR ||
                    ADD_OVERFLOW(r.addr, r.length, &end))
                        ret = errorf(err, errlen, -EINVAL,
                                     "record %s for disk %u at offset 0x%llx, %llu bytes: not sector-aligned, empty "
                                     "or too long",
                                     r.type == MIG_DISK ? "DISK" : "DISK_ZERO", r.index, (unsigned long long)r.addr,
                                     (unsigned long long)r.length);
                break;
        }
        case MIG_DEVMEM:
        case MIG_DEVMEM_ZERO: {
                uint64_t end, max = r.type == MIG_DEVMEM ? MIG_PAGES_MAX : MIG_DEVMEM_BYTES;
                if (r.length == 0 || r.length > max || r.addr % MIG_PAGE_SIZE || r.length % MIG_PAGE_SIZE ||
                    ADD_OVERFLOW(r.addr, r.length, &end) || end > MIG_DEVMEM_BYTES)
                        ret = errorf(err, errlen, -EINVAL,
                                     "record %s for device memory %u at offset 0x%llx, %llu bytes: not page-aligned, "
                                     "empty or too long",
                                     r.type == MIG_DEVMEM ? "DEVMEM" : "DEVMEM_ZERO", r.index,
                                     (unsigned long long)r.addr, (unsigned long long)r.length);
                break;
        }
        case MIG_ABORT:
        case MIG_REFUSE:
                if (r.addr != 0 || r.length > MIG_TEXT_MAX)
                        ret = errorf(err, errlen, -EINVAL, "record %s with %llu bytes of text (at most %u)",
                                     r.type == MIG_ABORT ? "ABORT" : "REFUSE", (unsigned long long)r.length,
                                     MIG_TEXT_MAX);
                break;
        default: /* PASS counts passes; STATE, COMMIT, ACCEPT, RUNNING, READY, POSTCOPY_END, POSTCOPY_DONE carry nothing */
                if (r.length != 0 || r.payload_crc != 0 || (r.type != MIG_PASS && r.addr != 0))
                        ret = errorf(err, errlen, -EINVAL, "record type %u with a length or address", r.type);
        }
        if (ret < 0)
                return ret;
        if (mig_record_payload(&r) == 0 && r.payload_crc != 0)
                return errorf(err, errlen, -EINVAL, "record type %u: a payload CRC without a payload", r.type);
        *out = r;
        return 0;
}

uint64_t mig_state_max(uint64_t ram_bytes) {
        return ram_bytes > UINT64_MAX - MIG_STATE_EXTRA ? UINT64_MAX : ram_bytes + MIG_STATE_EXTRA;
}

int mig_state_section_span(const void *hdr, uint64_t *span, bool *end, char *err, size_t errlen) {
        const uint8_t *b = hdr;
        if (vmstate_crc32c(0, b, 28) != vmstate_le32(b + 28))
                return errorf(err, errlen, -EINVAL, "saved state: section header CRC mismatch (corrupt stream)");
        uint16_t flags = vmstate_le16(b + 10);
        uint64_t length = vmstate_le64(b + 16);
        if (flags & ~(VMSTATE_SECTION_OPTIONAL | VMSTATE_SECTION_BULK))
                return errorf(err, errlen, -EINVAL, "saved state: section flags 0x%x", flags);
        *end = vmstate_le32(b) == VMSTATE_TAG_END;
        if (*end && length != 0)
                return errorf(err, errlen, -EINVAL, "saved state: an end section with a payload");
        /* Far below UINT64_MAX: the sum cannot overflow. */
        if (length > MIG_STATE_EXTRA + (1ull << 48))
                return errorf(err, errlen, -EINVAL, "saved state: a section of %llu bytes",
                              (unsigned long long)length);
        *span = VMSTATE_SECTION_HEADER_SIZE + ALIGN_UP(length, 8u) + (flags & VMSTATE_SECTION_BULK ? 8u : 0u);
        return 0;
}

/* The saved state after STATE at buf[off..len): its length, or an error. */
static int64_t walk_state(const uint8_t *b, size_t len, size_t off, uint64_t ram_bytes, char *err, size_t errlen) {
        struct vmstate_header vh;
        int r = vmstate_parse_header(b + off, len - off, &vh, err, errlen);
        if (r < 0)
                return r;
        uint64_t at = (uint64_t)r, max = MIN(mig_state_max(ram_bytes), (uint64_t)(len - off));
        for (;;) {
                uint64_t span;
                bool end;
                if (max - MIN(at, max) < VMSTATE_SECTION_HEADER_SIZE)
                        return errorf(err, errlen, -EINVAL, "the stream ends inside the saved state (byte %llu)",
                                      (unsigned long long)at);
                if ((r = mig_state_section_span(b + off + at, &span, &end, err, errlen)) < 0)
                        return r;
                if (span > max - at)
                        return errorf(err, errlen, -EINVAL, "the stream ends inside the saved state (byte %llu)",
                                      (unsigned long long)at);
                at += span;
                if (end)
                        return (int64_t)at;
        }
}

/* A reason from the peer, printable, for a message. */
void mig_text(const uint8_t *p, uint64_t len, char *out, size_t cap) {
        size_t n = (size_t)MIN(len, (uint64_t)cap - 1);
        for (size_t i = 0; i < n; i++)
                out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
        out[n] = 0;
}

int64_t mig_stream_walk(const void *buf, size_t len, const struct mig_hello *dst,
                        void (*fn)(void *opaque, const struct mig_record *r, const uint8_t *payload), void *opaque,
                        char *err, size_t errlen) {
        const uint8_t *b = buf;
        struct mig_hello h;
        int r = mig_hello_parse(b, len, &h, err, errlen);
        if (r == 0)
                return errorf(err, errlen, -EINVAL, "the stream ends inside the hello (%zu bytes)", len);
        if (r < 0)
                return r;
        size_t off = (size_t)r; /* past the hello */
        if ((r = mig_hello_check(&h, dst, err, errlen)) < 0)
                return r;
        for (;;) {
                struct mig_record rec;
                if (len - off < MIG_RECORD_HEADER)
                        return errorf(err, errlen, -EINVAL, "the stream ends at byte %zu, before its STATE record",
                                      off);
                if ((r = mig_record_parse(b + off, dst->ram_bytes, true, &rec, err, errlen)) < 0)
                        return r;
                off += MIG_RECORD_HEADER;
                uint64_t pl = mig_record_payload(&rec);
                if (len - off < pl)
                        return errorf(err, errlen, -EINVAL, "the stream ends inside a record of type %u at byte %zu",
                                      rec.type, off - MIG_RECORD_HEADER);
                if (pl && vmstate_crc32c(0, b + off, (size_t)pl) != rec.payload_crc)
                        return errorf(err, errlen, -EINVAL, "record type %u at byte %zu: payload CRC mismatch",
                                      rec.type, off - MIG_RECORD_HEADER);
                if (rec.type == MIG_ABORT) {
                        char why[MIG_TEXT_MAX + 1];
                        mig_text(b + off, pl, why, sizeof why);
                        return errorf(err, errlen, -ECANCELED, "the source gave up: %s", why);
                }
                if (rec.type == MIG_COMMIT || rec.type == MIG_POSTCOPY_END)
                        return errorf(err, errlen, -EINVAL, "record %s at byte %zu, before the state",
                                      rec.type == MIG_COMMIT ? "COMMIT" : "POSTCOPY_END", off - MIG_RECORD_HEADER);
                if (rec.type == MIG_STATE) {
                        int64_t n = walk_state(b, len, off, dst->ram_bytes, err, errlen);
                        if (n < 0)
                                return n;
                        rec.length = (uint64_t)n;
                        if (fn)
                                fn(opaque, &rec, b + off);
                        return (int64_t)(off + (size_t)n);
                }
                if (fn)
                        fn(opaque, &rec, b + off);
                off += (size_t)pl;
        }
}
