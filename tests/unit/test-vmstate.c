// SPDX-License-Identifier: MIT
/* The saved-state format (common/vmstate.h, docs/saved-state.md): CRC-32C,
 * writer and reader round trips, compatibility between section and format
 * versions, and that every corrupt, truncated or over-limit file is refused
 * with a sentence instead of being read. */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "common/fd-util.h"
#include "common/src/vmstate-internal.h"
#include "common/test.h"
#include "common/vmstate.h"
#include "tests/lib/vmstate-sample.h"

#define TAG_VP VMSTATE_TAG('V', 'P', ' ', ' ')
#define TAG_MEM VMSTATE_TAG('M', 'E', 'M', ' ')

/* A file built in memory: what a writer put into a memfd. */
struct image {
        uint8_t *data;
        size_t len;
};

static void image_free(struct image *im) {
        free(im->data);
        *im = (struct image){ 0 };
}

static int memfd(void) {
        int fd = memfd_create("vmstate", MFD_CLOEXEC);
        ASSERT_OK(fd);
        return fd;
}

static struct image image_read(int fd) {
        struct image im;
        off_t end = lseek(fd, 0, SEEK_END);
        ASSERT_GE(end, 0);
        im.len = (size_t)end;
        im.data = malloc(im.len + 1);
        ASSERT_NOT_NULL(im.data);
        ASSERT_EQ(pread(fd, im.data, im.len, 0), (ssize_t)im.len);
        close(fd);
        return im;
}

static uint64_t xorshift(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

/* A small file: two sample sections (one optional) and a raw one. */
static struct image small_file(void) {
        int fd = memfd();
        struct vmstate_writer *w;
        struct vmstate_sample s0, s1;
        vmstate_sample_fill(&s0, 0);
        vmstate_sample_fill(&s1, 3);
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_encode(w, &vmstate_sample_v2, 0, &s0));
        ASSERT_OK(vmstate_encode(w, &vmstate_sample_v2, 1, &s1));
        ASSERT_OK(vmstate_begin(w, TAG_VP, 7, 1, VMSTATE_SECTION_OPTIONAL));
        ASSERT_OK(vmstate_put_u64(w, 1, 0xfff0));
        ASSERT_OK(vmstate_put_u32(w, 2, 3));
        ASSERT_OK(vmstate_end(w));
        ASSERT_OK(vmstate_finish(w));
        ASSERT_EQ(vmstate_written(w), (uint64_t)lseek(fd, 0, SEEK_CUR));
        vmstate_writer_free(w);
        return image_read(fd);
}

/* index, then refuse with a sentence; returns the errno. */
static int index_refuses(const struct image *im, char *err, size_t errlen) {
        struct vmstate_section secs[8];
        err[0] = 0;
        int r = vmstate_index(im->data, im->len, NULL, secs, ARRAY_SIZE(secs), err, errlen);
        ASSERT_LT(r, 0);
        ASSERT_GT(strlen(err), 10u);
        return -r;
}

static void assert_contains(const char *s, const char *sub) {
        if (!strstr(s, sub)) {
                char d[600];
                snprintf(d, sizeof d, "\"%s\" does not contain \"%s\"", s, sub);
                test_fail_(__FILE__, __LINE__, "strstr", d);
        }
}

/* Rewrites the CRC of the file header or of the section header at off
 * after a test changed it on purpose. */
static void fix_header_crc(uint8_t *h) {
        vmstate_put_le32(h + 28, vmstate_crc32c(0, h, 28));
}

/* A raw section into p (room for 32 + padded length): what a writer we
 * do not trust could produce. Returns its size. */
static size_t raw_section(uint8_t *p, uint32_t tag, uint32_t instance, uint16_t version, uint16_t flags,
                          const void *payload, size_t length) {
        memset(p, 0, VMSTATE_SECTION_HEADER_SIZE + VMSTATE_PAD(length));
        vmstate_put_le32(p + VMSTATE_SEC_TAG, tag);
        vmstate_put_le32(p + VMSTATE_SEC_INSTANCE, instance);
        vmstate_put_le16(p + VMSTATE_SEC_VERSION, version);
        vmstate_put_le16(p + VMSTATE_SEC_FLAGS, flags);
        vmstate_put_le64(p + VMSTATE_SEC_LENGTH, length);
        if (length)
                memcpy(p + VMSTATE_SECTION_HEADER_SIZE, payload, length);
        vmstate_put_le32(p + VMSTATE_SEC_PAYLOAD_CRC, vmstate_crc32c(0, payload, length));
        fix_header_crc(p);
        return VMSTATE_SECTION_HEADER_SIZE + VMSTATE_PAD(length);
}

/* A raw file: the header of a real writer, sections appended by the test. */
static size_t raw_file_start(uint8_t *p) {
        int fd = memfd();
        struct vmstate_writer *w;
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        vmstate_writer_free(w);
        struct image im = image_read(fd);
        ASSERT_EQ(im.len, VMSTATE_HEADER_SIZE);
        memcpy(p, im.data, im.len);
        image_free(&im);
        return VMSTATE_HEADER_SIZE;
}

static size_t raw_end(uint8_t *p) {
        return raw_section(p, VMSTATE_TAG_END, 0, 1, 0, NULL, 0);
}

/* ---- CRC-32C ----------------------------------------------------------- */

TEST(crc32c_known_values) {
        ASSERT_EQ(vmstate_crc32c(0, "123456789", 9), 0xe3069283u);
        ASSERT_EQ(vmstate_crc32c_sw(0, "123456789", 9), 0xe3069283u);
        ASSERT_EQ(vmstate_crc32c(0, "", 0), 0u);
        /* iSCSI (RFC 3720 B.4): 32 bytes of zeros. */
        static const uint8_t zeros[32];
        ASSERT_EQ(vmstate_crc32c(0, zeros, sizeof zeros), 0x8a9136aau);
        /* Chaining: the CRC of a then b is the CRC of a||b. */
        ASSERT_EQ(vmstate_crc32c(vmstate_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
        if (vmstate_crc32c_hw_supported())
                ASSERT_EQ(vmstate_crc32c_hw(0, "123456789", 9), 0xe3069283u);
}

TEST(crc32c_paths_agree) {
        if (!vmstate_crc32c_hw_supported())
                TEST_SKIP("no SSE4.2: only the table path exists here");
        const size_t max = 3 * 32768 * 2 + 3 * 4096 + 100;
        uint8_t *buf = malloc(max + 8);
        ASSERT_NOT_NULL(buf);
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < max + 8; i++)
                buf[i] = (uint8_t)xorshift(&seed);
        /* Every length around the block boundaries of the hardware path
         * (3 x 4 KiB, 3 x 32 KiB), at every alignment, then random ones. */
        static const size_t edges[] = { 0, 1, 7, 8, 9, 63, 64, 255, 12287, 12288, 12289, 98303, 98304, 98305,
                                        98304 + 12288, 196608 + 12288 + 1 };
        for (size_t e = 0; e < ARRAY_SIZE(edges); e++)
                for (size_t a = 0; a < 8; a++) {
                        uint32_t init = (uint32_t)xorshift(&seed);
                        ASSERT_EQ(vmstate_crc32c_hw(init, buf + a, edges[e]),
                                  vmstate_crc32c_sw(init, buf + a, edges[e]));
                }
        for (int i = 0; i < 300; i++) {
                size_t a = xorshift(&seed) % 8, n = xorshift(&seed) % max;
                ASSERT_EQ(vmstate_crc32c_hw(0, buf + a, n), vmstate_crc32c_sw(0, buf + a, n));
        }
        free(buf);
}

static double crc_mbps(uint32_t (*fn)(uint32_t, const void *, size_t), const uint8_t *buf, size_t len,
                       uint32_t *out) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        *out = fn(0, buf, len);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        return (double)len / 1e6 / (s > 0 ? s : 1e-9);
}

TEST(crc32c_throughput) {
        /* Printed, not asserted: this machine's load is not ours to know. */
        const size_t len = 64u << 20;
        uint8_t *buf = malloc(len);
        ASSERT_NOT_NULL(buf);
        for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)(i * 31 + (i >> 12));
        uint32_t c1, c2;
        double sw = crc_mbps(vmstate_crc32c_sw, buf, len, &c1);
        double fast = crc_mbps(vmstate_crc32c, buf, len, &c2);
        ASSERT_EQ(c1, c2);
        printf("crc32c over 64 MiB: %.0f MB/s (vmstate_crc32c, %s), %.0f MB/s (slice-by-8)\n", fast,
               vmstate_crc32c_hw_supported() ? "SSE4.2" : "table", sw);
        free(buf);
}

/* ---- round trips and compatibility --------------------------------------- */

TEST(tag_names) {
        char n[5];
        vmstate_tag_name(TAG_VP, n);
        ASSERT_STREQ(n, "VP");
        vmstate_tag_name(VMSTATE_TAG('V', 'M', 'B', 'S'), n);
        ASSERT_STREQ(n, "VMBS");
        vmstate_tag_name(VMSTATE_TAG('A', ' ', 'B', ' '), n);
        ASSERT_STREQ(n, "A B");
        vmstate_tag_name(0x01020300u, n);
        ASSERT_STREQ(n, "????");
        vmstate_tag_name(VMSTATE_TAG(' ', ' ', ' ', ' '), n);
        ASSERT_STREQ(n, "?");
}

TEST(roundtrip_every_kind) {
        struct image im = small_file();
        struct vmstate_header h;
        struct vmstate_section secs[8];
        char err[256] = "";
        int n = vmstate_index(im.data, im.len, &h, secs, ARRAY_SIZE(secs), err, sizeof err);
        if (n < 0)
                printf("index: %s\n", err);
        ASSERT_EQ(n, 3);
        ASSERT_EQ(h.major, VMSTATE_MAJOR);
        ASSERT_EQ(h.minor, VMSTATE_MINOR);
        ASSERT_EQ(h.flags, 0u);
        ASSERT_EQ(im.len % 8, 0u);
        for (unsigned inst = 0; inst < 2; inst++) {
                const struct vmstate_section *s = vmstate_find(secs, (size_t)n, VMSTATE_SAMPLE_TAG, inst);
                ASSERT_NOT_NULL(s);
                ASSERT_EQ(s->version, 2);
                ASSERT_EQ(s->flags, 0);
                struct vmstate_sample want, got;
                vmstate_sample_fill(&want, inst * 3);
                memset(&got, 0, sizeof got);
                ASSERT_OK(vmstate_decode(s, &vmstate_sample_v2, &got, err, sizeof err));
                ASSERT_MEMEQ(&got, &want, sizeof got);
        }
        ASSERT_NULL(vmstate_find(secs, (size_t)n, VMSTATE_SAMPLE_TAG, 2));
        /* The hand-written section, field by field. */
        const struct vmstate_section *vp = vmstate_find(secs, (size_t)n, TAG_VP, 7);
        ASSERT_NOT_NULL(vp);
        ASSERT_EQ(vp->flags, VMSTATE_SECTION_OPTIONAL);
        uint64_t off = 0;
        struct vmstate_field f;
        ASSERT_EQ(vmstate_next_field(vp, &off, &f), 1);
        ASSERT_EQ(f.id, 1);
        ASSERT_EQ(f.kind, VMSTATE_U64);
        ASSERT_EQ(f.length, 8u);
        ASSERT_EQ(vmstate_le64(f.value), 0xfff0u);
        ASSERT_EQ(vmstate_next_field(vp, &off, &f), 1);
        ASSERT_EQ(f.kind, VMSTATE_U32);
        ASSERT_EQ(vmstate_le32(f.value), 3u);
        ASSERT_EQ(vmstate_next_field(vp, &off, &f), 0);
        ASSERT_EQ(off, vp->length);
        image_free(&im);
}

/* A file with one sample section written as desc describes it. */
static struct image sample_file(const struct vmstate_desc *desc, const struct vmstate_sample *in) {
        int fd = memfd();
        struct vmstate_writer *w;
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_encode(w, desc, 0, in));
        ASSERT_OK(vmstate_finish(w));
        vmstate_writer_free(w);
        return image_read(fd);
}

static int sample_decode(const struct image *im, const struct vmstate_desc *desc, struct vmstate_sample *out,
                         char *err, size_t errlen) {
        struct vmstate_section secs[2];
        ASSERT_EQ(vmstate_index(im->data, im->len, NULL, secs, 2, err, errlen), 1);
        return vmstate_decode(&secs[0], desc, out, err, errlen);
}

TEST(older_section_keeps_new_defaults) {
        struct vmstate_sample in, out;
        vmstate_sample_fill(&in, 2);
        struct image im = sample_file(&vmstate_sample_v1, &in); /* an older build's file */
        char err[256];
        memset(&out, 0, sizeof out);
        out.added_v2 = 42; /* the default this build gives a field older files lack */
        ASSERT_OK(sample_decode(&im, &vmstate_sample_v2, &out, err, sizeof err));
        ASSERT_EQ(out.added_v2, 42u);
        in.added_v2 = 42;
        ASSERT_MEMEQ(&out, &in, sizeof out);
        image_free(&im);
}

TEST(newer_section_version_refused) {
        struct vmstate_sample in, out;
        vmstate_sample_fill(&in, 1);
        struct image im = sample_file(&vmstate_sample_v2, &in);
        char err[256];
        memset(&out, 0x5a, sizeof out);
        ASSERT_ERROR(sample_decode(&im, &vmstate_sample_v1, &out, err, sizeof err), EPROTONOSUPPORT);
        assert_contains(err, "section SMPL #0 version 2 is newer than this build's 1");
        for (size_t i = 0; i < sizeof out; i++) /* untouched */
                ASSERT_EQ(((uint8_t *)&out)[i], 0x5a);
        image_free(&im);
}

TEST(format_versions) {
        struct image im = small_file();
        char err[256];
        struct vmstate_header h;
        /* A newer minor version is read... */
        vmstate_put_le16(im.data + VMSTATE_HDR_MINOR, 7);
        fix_header_crc(im.data);
        ASSERT_EQ(vmstate_parse_header(im.data, im.len, &h, err, sizeof err), (int)VMSTATE_HEADER_SIZE);
        ASSERT_EQ(h.minor, 7);
        struct vmstate_section secs[4];
        ASSERT_EQ(vmstate_index(im.data, im.len, NULL, secs, 4, err, sizeof err), 3);
        /* ... a newer major one is not, whatever else its header says. */
        vmstate_put_le16(im.data + VMSTATE_HDR_MAJOR, VMSTATE_MAJOR + 1);
        ASSERT_EQ(index_refuses(&im, err, sizeof err), EPROTONOSUPPORT);
        ASSERT_STREQ(err, "saved by a newer vmstack (format 2.7); this build reads format 1.x");
        fix_header_crc(im.data);
        ASSERT_EQ(index_refuses(&im, err, sizeof err), EPROTONOSUPPORT);
        vmstate_put_le16(im.data + VMSTATE_HDR_MAJOR, 0);
        fix_header_crc(im.data);
        ASSERT_EQ(index_refuses(&im, err, sizeof err), EPROTONOSUPPORT);
        /* Not ours at all. */
        im.data[0] = 'X';
        ASSERT_EQ(index_refuses(&im, err, sizeof err), EINVAL);
        assert_contains(err, "not a vmstack saved-state file");
        image_free(&im);
}

/* ---- corrupt and truncated files ----------------------------------------- */

TEST(every_byte_flip_refused) {
        struct image im = small_file();
        char err[256];
        unsigned refused = 0;
        static const uint8_t masks[] = { 0x01, 0x80, 0xff };
        for (size_t i = 0; i < im.len; i++)
                for (size_t m = 0; m < ARRAY_SIZE(masks); m++) {
                        im.data[i] ^= masks[m];
                        /* The CRCs cover every header and payload byte and
                         * padding must be zero, so nothing changed gets by. */
                        index_refuses(&im, err, sizeof err);
                        refused++;
                        im.data[i] ^= masks[m];
                }
        printf("%u single-byte corruptions of a %zu-byte file, all refused\n", refused, im.len);
        image_free(&im);
}

TEST(every_truncation_refused) {
        struct image im = small_file();
        char err[256];
        for (size_t len = 0; len < im.len; len++) {
                struct image t = { im.data, len };
                index_refuses(&t, err, sizeof err);
                if (len >= VMSTATE_HEADER_SIZE)
                        assert_contains(err, "truncated");
        }
        struct image t = { im.data, im.len - VMSTATE_SECTION_HEADER_SIZE };
        index_refuses(&t, err, sizeof err);
        assert_contains(err, "file is truncated: no end section");
        /* A byte more is refused too. */
        im.data = realloc(im.data, im.len + 8);
        memset(im.data + im.len, 0, 8);
        t = (struct image){ im.data, im.len + 8 };
        index_refuses(&t, err, sizeof err);
        assert_contains(err, "8 bytes after the end section");
        image_free(&im);
}

TEST(truncated_section_message) {
        uint8_t p[256];
        size_t n = raw_file_start(p);
        size_t at = n;
        n += raw_section(p + n, TAG_MEM, 0, 1, VMSTATE_SECTION_BULK, NULL, 0);
        vmstate_put_le64(p + at + VMSTATE_SEC_LENGTH, 134217728);
        fix_header_crc(p + at);
        memset(p + n, 0, 64);
        struct image im = { p, n + 64 };
        char err[256];
        index_refuses(&im, err, sizeof err);
        ASSERT_STREQ(err, "file is truncated: section MEM #0 at offset 32 needs 134217736 bytes, 64 left");
        /* A length no buffer can hold does not wrap around. */
        vmstate_put_le64(p + at + VMSTATE_SEC_LENGTH, UINT64_MAX - 3);
        fix_header_crc(p + at);
        index_refuses(&im, err, sizeof err);
        assert_contains(err, "file is truncated: section MEM #0 at offset 32 needs 18446744073709551612 bytes");
}

TEST(section_header_refusals) {
        uint8_t p[512];
        char err[256];
        size_t n = raw_file_start(p), at = n;
        uint64_t v = 1;
        uint8_t field[16] = { 1, 0, VMSTATE_U64, 0, 8 };
        memcpy(field + 8, &v, 8);
        n += raw_section(p + n, TAG_VP, 1, 1, 0, field, sizeof field);
        size_t second = n;
        n += raw_section(p + n, TAG_VP, 1, 1, 0, field, sizeof field);
        n += raw_end(p + n);
        struct image im = { p, n };
        index_refuses(&im, err, sizeof err);
        ASSERT_STREQ(err, "section VP #1 at offset 80: a second section with this tag and instance (the first is "
                          "at offset 32)");
        vmstate_put_le32(p + second + VMSTATE_SEC_INSTANCE, 2);
        fix_header_crc(p + second);
        struct vmstate_section secs[4];
        ASSERT_EQ(vmstate_index(p, n, NULL, secs, 4, err, sizeof err), 2);
        ASSERT_ERROR(vmstate_index(p, n, NULL, secs, 1, err, sizeof err), E2BIG);

        struct {
                size_t off;
                unsigned bytes;
                uint32_t value;
                const char *msg;
        } cases[] = {
                { VMSTATE_SEC_FLAGS, 2, 0x4, "section VP #1 at offset 32: unknown flags 0x4" },
                { VMSTATE_SEC_RESERVED, 4, 9, "section VP #1 at offset 32: reserved field is 0x9, not 0" },
                { VMSTATE_SEC_VERSION, 2, 0, "section VP #1 at offset 32: version 0 does not exist" },
                { VMSTATE_SEC_PAYLOAD_CRC, 4, 1, "section VP #1 at offset 32: payload CRC mismatch" },
                { VMSTATE_SEC_HEADER_CRC, 4, 1, "section header at offset 32: header CRC mismatch" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                uint8_t save[32];
                memcpy(save, p + at, 32);
                if (cases[i].bytes == 2)
                        vmstate_put_le16(p + at + cases[i].off, (uint16_t)cases[i].value);
                else
                        vmstate_put_le32(p + at + cases[i].off, cases[i].value);
                if (cases[i].off != VMSTATE_SEC_HEADER_CRC)
                        fix_header_crc(p + at);
                index_refuses(&im, err, sizeof err);
                ASSERT_STREQ(err, cases[i].msg);
                memcpy(p + at, save, 32);
        }
        /* Nonzero padding, an end section with a payload, no end at all. */
        n = raw_file_start(p);
        n += raw_section(p + n, TAG_VP, 0, 1, 0, "abc", 3);
        p[n - 1] = 1;
        n += raw_end(p + n);
        im.len = n;
        index_refuses(&im, err, sizeof err);
        ASSERT_STREQ(err, "section VP #0 at offset 32: nonzero padding after the payload");
        n = raw_file_start(p);
        n += raw_section(p + n, VMSTATE_TAG_END, 0, 1, 0, field, sizeof field);
        im.len = n;
        index_refuses(&im, err, sizeof err);
        assert_contains(err, "the end section has an instance, flags or a payload");
}

/* ---- bulk sections --------------------------------------------------------- */

/* A sample section (seed 5), len bytes of RAM as bulk section MEM #0
 * written in ever larger pieces, an empty MEM #1. */
static void write_sample_and_ram(int fd, const uint8_t *ram, size_t len) {
        struct vmstate_writer *w;
        struct vmstate_sample s;
        vmstate_sample_fill(&s, 5);
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_encode(w, &vmstate_sample_v2, 0, &s));
        ASSERT_OK(vmstate_bulk_begin(w, TAG_MEM, 0, 1, len));
        for (size_t off = 0, chunk = 1; off < len; off += chunk, chunk = chunk * 3 + 1) {
                chunk = MIN(chunk, len - off);
                ASSERT_OK(vmstate_bulk_write(w, ram + off, chunk));
        }
        ASSERT_OK(vmstate_bulk_end(w));
        ASSERT_OK(vmstate_bulk_begin(w, TAG_MEM, 1, 1, 0));
        ASSERT_OK(vmstate_bulk_end(w));
        ASSERT_OK(vmstate_finish(w));
        vmstate_writer_free(w);
}

TEST(bulk_roundtrip) {
        const size_t len = 100003; /* not a multiple of 8: padding before the trailer */
        uint8_t *ram = malloc(len);
        ASSERT_NOT_NULL(ram);
        uint64_t seed = 7;
        for (size_t i = 0; i < len; i++)
                ram[i] = (uint8_t)xorshift(&seed);
        int fd = memfd();
        write_sample_and_ram(fd, ram, len);
        struct image im = image_read(fd);

        struct vmstate_section secs[4];
        char err[256];
        ASSERT_EQ(vmstate_index(im.data, im.len, NULL, secs, 4, err, sizeof err), 3);
        const struct vmstate_section *mem = vmstate_find(secs, 3, TAG_MEM, 0);
        ASSERT_NOT_NULL(mem);
        ASSERT_EQ(mem->flags, VMSTATE_SECTION_BULK);
        ASSERT_EQ(mem->length, len);
        ASSERT_MEMEQ(mem->payload, ram, len);
        const uint8_t *trailer = mem->payload + VMSTATE_PAD(len);
        ASSERT_EQ(vmstate_le32(trailer), vmstate_crc32c(0, ram, len));
        ASSERT_EQ(vmstate_le32(trailer + 4), 0u);
        ASSERT_EQ(vmstate_le32(im.data + mem->offset + VMSTATE_SEC_PAYLOAD_CRC), 0u);
        /* A bulk section is not fields. */
        uint64_t off = 0;
        struct vmstate_field f;
        ASSERT_ERROR(vmstate_next_field(mem, &off, &f), EINVAL);
        struct vmstate_sample out;
        ASSERT_ERROR(vmstate_decode(mem, &vmstate_sample_v2, &out, err, sizeof err), EINVAL);

        /* A changed RAM byte, a changed trailer. */
        size_t at = (size_t)(mem->payload - im.data);
        im.data[at + 5000] ^= 0x10;
        index_refuses(&im, err, sizeof err);
        ASSERT_STREQ(err, "section MEM #0 at offset 232: payload CRC mismatch");
        im.data[at + 5000] ^= 0x10;
        im.data[at + VMSTATE_PAD(len) + 6] = 1;
        index_refuses(&im, err, sizeof err);
        assert_contains(err, "reserved word of the CRC trailer is not 0");
        image_free(&im);
        free(ram);
}

TEST(bulk_length_enforced) {
        struct vmstate_writer *w;
        uint8_t b[16] = { 0 };
        int fd = memfd();
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_bulk_begin(w, TAG_MEM, 0, 1, 16));
        ASSERT_OK(vmstate_bulk_write(w, b, 8));
        ASSERT_ERROR(vmstate_bulk_end(w), EINVAL); /* 8 of 16 */
        ASSERT_ERROR(vmstate_finish(w), EINVAL);  /* and it sticks */
        vmstate_writer_free(w);
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_bulk_begin(w, TAG_MEM, 0, 1, 16));
        ASSERT_OK(vmstate_bulk_write(w, b, 16));
        ASSERT_ERROR(vmstate_bulk_write(w, b, 1), EINVAL); /* past the announced length */
        vmstate_writer_free(w);
        close(fd);
}

/* ---- the writer on pipes, sockets and broken fds --------------------------- */

struct drain {
        int fd;
        struct image im;
};

static void *drain_thread(void *arg) {
        struct drain *d = arg;
        size_t cap = 1 << 16;
        d->im.data = malloc(cap);
        for (;;) {
                if (d->im.len == cap)
                        d->im.data = realloc(d->im.data, cap *= 2);
                ssize_t n = read(d->fd, d->im.data + d->im.len, cap - d->im.len);
                if (n <= 0)
                        break;
                d->im.len += (size_t)n;
        }
        return NULL;
}

/* The same file through fd (read by a thread as it comes) and a memfd. */
static void write_big_file(int fd) {
        const size_t len = 1 << 20; /* far more than a pipe holds */
        uint8_t *ram = calloc(1, len);
        ASSERT_NOT_NULL(ram);
        ram[12345] = 0x42;
        write_sample_and_ram(fd, ram, len);
        free(ram);
}

TEST(writer_to_pipe_and_socket) {
        int m = memfd();
        write_big_file(m);
        struct image want = image_read(m);
        for (int kind = 0; kind < 2; kind++) {
                int fds[2];
                if (kind == 0)
                        ASSERT_OK(pipe2(fds, O_CLOEXEC));
                else
                        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
                struct drain d = { .fd = fds[0] };
                pthread_t t;
                ASSERT_EQ(pthread_create(&t, NULL, drain_thread, &d), 0);
                write_big_file(fds[1]);
                close(fds[1]);
                ASSERT_EQ(pthread_join(t, NULL), 0);
                close(fds[0]);
                ASSERT_EQ(d.im.len, want.len);
                ASSERT_MEMEQ(d.im.data, want.data, want.len);
                image_free(&d.im);
        }
        struct vmstate_section secs[4];
        char err[256];
        ASSERT_EQ(vmstate_index(want.data, want.len, NULL, secs, 4, err, sizeof err), 3);
        image_free(&want);
}

TEST(writer_errors_stick) {
        struct vmstate_writer *w;
        int fds[2];
        ASSERT_OK(pipe2(fds, O_CLOEXEC));
        close(fds[1]);
        ASSERT_ERROR(vmstate_writer_new(fds[1], 0, &w), EBADF); /* a closed fd */
        close(fds[0]);

        /* The reader goes away mid-file: EPIPE, then every call says so. */
        signal(SIGPIPE, SIG_IGN);
        ASSERT_OK(pipe2(fds, O_CLOEXEC));
        ASSERT_OK(vmstate_writer_new(fds[1], 0, &w));
        ASSERT_OK(vmstate_begin(w, TAG_VP, 0, 1, 0));
        ASSERT_OK(vmstate_put_u64(w, 1, 1));
        close(fds[0]);
        ASSERT_ERROR(vmstate_end(w), EPIPE);
        ASSERT_ERROR(vmstate_begin(w, TAG_VP, 1, 1, 0), EPIPE);
        ASSERT_ERROR(vmstate_put_u32(w, 2, 1), EPIPE);
        ASSERT_ERROR(vmstate_bulk_begin(w, TAG_MEM, 0, 1, 8), EPIPE);
        ASSERT_ERROR(vmstate_finish(w), EPIPE);
        uint64_t written = vmstate_written(w);
        ASSERT_EQ(written, (uint64_t)VMSTATE_HEADER_SIZE);
        vmstate_writer_free(w);
        close(fds[1]);

        /* The fd closed under a writer: EBADF, sticky. */
        int fd = memfd();
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        close(fd);
        ASSERT_OK(vmstate_begin(w, TAG_VP, 0, 1, 0)); /* buffered: nothing written yet */
        ASSERT_ERROR(vmstate_end(w), EBADF);
        ASSERT_ERROR(vmstate_finish(w), EBADF);
        vmstate_writer_free(w);
        vmstate_writer_free(NULL);
}

TEST(writer_refuses_bad_calls) {
        struct vmstate_writer *w;
        int fd = memfd();
        uint8_t two = 2;
        ASSERT_ERROR(vmstate_writer_new(fd, 1, &w), EINVAL); /* no header flags exist yet */
        /* Each of these kills its writer: a fresh one each time. */
#define REFUSED(expr, err)                                       \
        do {                                                     \
                ASSERT_OK(vmstate_writer_new(fd, 0, &w));        \
                ASSERT_OK(vmstate_begin(w, TAG_VP, 0, 1, 0));    \
                ASSERT_ERROR(expr, err);                         \
                ASSERT_ERROR(vmstate_end(w), err);               \
                vmstate_writer_free(w);                          \
        } while (0)
        REFUSED(vmstate_put(w, 0, VMSTATE_U8, &two, 1), EINVAL);      /* id 0 */
        REFUSED(vmstate_put(w, 0x8000, VMSTATE_U8, &two, 1), EINVAL); /* id over 0x7fff */
        REFUSED(vmstate_put(w, 1, VMSTATE_BOOL, &two, 1), EINVAL);    /* a BOOL of 2 */
        REFUSED(vmstate_put(w, 1, VMSTATE_U32, &two, 1), EINVAL);     /* U32 of 1 byte */
        REFUSED(vmstate_put(w, 1, VMSTATE_U64_ARRAY, &two, 4), EINVAL);
        REFUSED(vmstate_put(w, 1, (enum vmstate_kind)10, &two, 1), EINVAL);
        REFUSED(vmstate_begin(w, TAG_VP, 1, 1, 0), EINVAL); /* inside a section */
        REFUSED(vmstate_bulk_write(w, &two, 1), EINVAL);
        REFUSED((vmstate_put_u32(w, 1, 1), vmstate_put_u32(w, 1, 2)), EEXIST);
#undef REFUSED
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_ERROR(vmstate_begin(w, VMSTATE_TAG_END, 0, 1, 0), EINVAL);
        vmstate_writer_free(w);
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_ERROR(vmstate_begin(w, TAG_VP, 0, 1, VMSTATE_SECTION_BULK), EINVAL);
        vmstate_writer_free(w);
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_ERROR(vmstate_begin(w, TAG_VP, 0, 0, 0), EINVAL); /* version 0 */
        vmstate_writer_free(w);
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_bulk_begin(w, TAG_VP, 0, 1, 0));
        ASSERT_OK(vmstate_bulk_end(w));
        ASSERT_ERROR(vmstate_begin(w, TAG_VP, 0, 1, 0), EEXIST); /* the same (tag, instance) */
        vmstate_writer_free(w);
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_finish(w));
        ASSERT_ERROR(vmstate_begin(w, TAG_VP, 0, 1, 0), EINVAL); /* after the end */
        vmstate_writer_free(w);
        close(fd);
}

/* ---- limits ------------------------------------------------------------------ */

TEST(limit_sections) {
        struct vmstate_writer *w;
        int fd = memfd();
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        for (uint32_t i = 0; i < VMSTATE_SECTIONS_MAX; i++) {
                ASSERT_OK(vmstate_begin(w, TAG_VP, i, 1, 0));
                ASSERT_OK(vmstate_end(w));
        }
        ASSERT_ERROR(vmstate_begin(w, TAG_VP, VMSTATE_SECTIONS_MAX, 1, 0), E2BIG);
        vmstate_writer_free(w);
        struct image im = image_read(fd);
        /* The writer stopped at the limit; a file that does not is refused. */
        size_t n = im.len;
        im.data = realloc(im.data, n + 2 * VMSTATE_SECTION_HEADER_SIZE);
        n += raw_section(im.data + n, TAG_VP, VMSTATE_SECTIONS_MAX, 1, 0, NULL, 0);
        n += raw_end(im.data + n);
        im.len = n;
        struct vmstate_section *secs = calloc(VMSTATE_SECTIONS_MAX + 1, sizeof *secs);
        char err[256];
        ASSERT_ERROR(vmstate_index(im.data, im.len, NULL, secs, VMSTATE_SECTIONS_MAX + 1, err, sizeof err), EINVAL);
        assert_contains(err, "more than 4096 sections");
        /* Without the last one it is fine. */
        im.len -= 2 * VMSTATE_SECTION_HEADER_SIZE;
        raw_end(im.data + im.len);
        im.len += VMSTATE_SECTION_HEADER_SIZE;
        ASSERT_EQ(vmstate_index(im.data, im.len, NULL, secs, VMSTATE_SECTIONS_MAX, err, sizeof err),
                  (int)VMSTATE_SECTIONS_MAX);
        free(secs);
        image_free(&im);
}

TEST(limit_section_size) {
        struct vmstate_writer *w;
        int fd = memfd();
        /* calloc: pages nobody touches unless the writer copies them. */
        uint8_t *big = calloc(1, VMSTATE_SECTION_MAX);
        ASSERT_NOT_NULL(big);
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_begin(w, TAG_VP, 0, 1, 0));
        ASSERT_ERROR(vmstate_put(w, 1, VMSTATE_BYTES, big, VMSTATE_SECTION_MAX), E2BIG);
        vmstate_writer_free(w);
        /* Exactly the limit fits; one more field does not. */
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_begin(w, TAG_VP, 0, 1, 0));
        ASSERT_OK(vmstate_put(w, 1, VMSTATE_BYTES, big, VMSTATE_SECTION_MAX - 2 * VMSTATE_FIELD_HEADER_SIZE));
        ASSERT_ERROR(vmstate_put(w, 2, VMSTATE_BYTES, big, 1), E2BIG);
        vmstate_writer_free(w);
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_begin(w, TAG_VP, 0, 1, 0));
        ASSERT_OK(vmstate_put(w, 1, VMSTATE_BYTES, big, VMSTATE_SECTION_MAX - VMSTATE_FIELD_HEADER_SIZE));
        ASSERT_OK(vmstate_end(w));
        vmstate_writer_free(w);
        free(big);
        close(fd);
        /* A reader refuses a bigger non-bulk section from its header alone. */
        uint8_t p[128];
        size_t n = raw_file_start(p), at = n;
        n += raw_section(p + n, TAG_VP, 0, 1, 0, NULL, 0);
        vmstate_put_le64(p + at + VMSTATE_SEC_LENGTH, VMSTATE_SECTION_MAX + 8);
        fix_header_crc(p + at);
        n += raw_end(p + n);
        struct image im = { p, n };
        char err[256];
        index_refuses(&im, err, sizeof err);
        ASSERT_STREQ(err, "section VP #0 at offset 32: payload of 67108872 bytes is over the limit of 67108864 bytes");
}

/* A section of n U8 fields with ids 1..n, as a raw payload. */
static size_t u8_fields(uint8_t *p, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                uint8_t *f = p + 16 * i;
                memset(f, 0, 16);
                vmstate_put_le16(f, (uint16_t)(i + 1));
                vmstate_put_le16(f + 2, VMSTATE_U8);
                vmstate_put_le32(f + 4, 1);
                f[8] = (uint8_t)i;
        }
        return 16 * n;
}

TEST(limit_fields) {
        struct vmstate_writer *w;
        int fd = memfd();
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_begin(w, TAG_VP, 0, 1, 0));
        for (unsigned i = 0; i < VMSTATE_FIELDS_MAX; i++)
                ASSERT_OK(vmstate_put(w, (uint16_t)(i + 1), VMSTATE_U8, &i, 1));
        ASSERT_ERROR(vmstate_put(w, VMSTATE_FIELDS_MAX + 1, VMSTATE_U8, "", 1), E2BIG);
        vmstate_writer_free(w);
        close(fd);

        /* A descriptor of 256 U8 fields, and a section with one more. */
        struct vmstate_field_desc fields[VMSTATE_FIELDS_MAX + 1];
        uint8_t out[VMSTATE_FIELDS_MAX + 1];
        for (unsigned i = 0; i < ARRAY_SIZE(fields); i++)
                fields[i] = (struct vmstate_field_desc){
                        .id = (uint16_t)(i + 1), .kind = VMSTATE_U8, .min_version = 1, .offset = i, .size = 1
                };
        struct vmstate_desc desc = { .tag = TAG_VP, .version = 1, .fields = fields, .n_fields = VMSTATE_FIELDS_MAX };
        uint8_t payload[16 * (VMSTATE_FIELDS_MAX + 1)];
        struct vmstate_section s = { .tag = TAG_VP, .version = 1, .payload = payload };
        char err[256];
        s.length = u8_fields(payload, VMSTATE_FIELDS_MAX);
        ASSERT_OK(vmstate_decode(&s, &desc, out, err, sizeof err));
        ASSERT_EQ(out[200], 200);
        s.length = u8_fields(payload, VMSTATE_FIELDS_MAX + 1);
        ASSERT_ERROR(vmstate_decode(&s, &desc, out, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section VP #0 at offset 0: more than 256 fields (the limit)");
        desc.n_fields = VMSTATE_FIELDS_MAX + 1; /* a descriptor over the limit is a bug */
        ASSERT_ERROR(vmstate_decode(&s, &desc, out, err, sizeof err), EINVAL);
        assert_contains(err, "invalid section descriptor");
}

TEST(limit_array_capacity) {
        struct vmstate_sample in, out;
        vmstate_sample_fill(&in, 0);
        in.n_words = 5; /* capacity 4 */
        struct vmstate_writer *w;
        int fd = memfd();
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_ERROR(vmstate_encode(w, &vmstate_sample_v2, 0, &in), EINVAL);
        ASSERT_ERROR(vmstate_finish(w), EINVAL);
        vmstate_writer_free(w);
        close(fd);
        in.n_words = 4;
        in.n_name = 17; /* capacity 16 */
        fd = memfd();
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_ERROR(vmstate_encode(w, &vmstate_sample_v2, 0, &in), EINVAL);
        vmstate_writer_free(w);
        close(fd);

        /* A reader with a smaller capacity than the writer had. */
        in.n_name = 16;
        struct image im = sample_file(&vmstate_sample_v2, &in);
        struct vmstate_field_desc small[ARRAY_SIZE(vmstate_sample_fields)];
        memcpy(small, vmstate_sample_fields, sizeof small);
        small[6].size = 3; /* words */
        struct vmstate_desc desc = vmstate_sample_v2;
        desc.fields = small;
        char err[256];
        ASSERT_ERROR(sample_decode(&im, &desc, &out, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section SMPL #0 at offset 32: field words (id 7) at offset 160 has kind 7 and 16 bytes, "
                          "this build expects kind 7 and at most 12");
        image_free(&im);
}

/* ---- decode refusals -------------------------------------------------------- */

/* Decodes a hand-made payload as a v2 sample section. */
static int decode_raw(const uint8_t *payload, size_t length, char *err, size_t errlen) {
        struct vmstate_section s = { .tag = VMSTATE_SAMPLE_TAG, .version = 2, .payload = payload, .length = length };
        struct vmstate_sample out;
        memset(&out, 0x77, sizeof out);
        int r = vmstate_decode(&s, &vmstate_sample_v2, &out, err, errlen);
        if (r < 0)
                for (size_t i = 0; i < sizeof out; i++) /* a refusal changes nothing */
                        ASSERT_EQ(((uint8_t *)&out)[i], 0x77);
        return r;
}

TEST(decode_refusals) {
        struct vmstate_sample in;
        vmstate_sample_fill(&in, 1);
        struct image im = sample_file(&vmstate_sample_v2, &in);
        struct vmstate_section secs[2];
        char err[256];
        ASSERT_EQ(vmstate_index(im.data, im.len, NULL, secs, 2, err, sizeof err), 1);
        uint8_t p[512];
        size_t len = secs[0].length;
        ASSERT_LE(len, sizeof p);
        memcpy(p, secs[0].payload, len);
        ASSERT_OK(decode_raw(p, len, err, sizeof err));
        /* Field 5 (the BOOL) is the fifth; every field is 16 bytes up to there. */
        uint8_t *boolf = p + 4 * 16;
        ASSERT_EQ(vmstate_le16(boolf), 5);
        boolf[8] = 2;
        ASSERT_ERROR(decode_raw(p, len, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section SMPL #0 at offset 0: malformed field at offset 96");
        boolf[8] = 1;
        vmstate_put_le16(boolf, 99);
        ASSERT_ERROR(decode_raw(p, len, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section SMPL #0 at offset 0: unknown field id 99 at offset 96 in version 2");
        vmstate_put_le16(boolf, 10); /* added_v2, in a version 1 section */
        struct vmstate_section s1 = { .tag = VMSTATE_SAMPLE_TAG, .version = 1, .payload = p, .length = len };
        struct vmstate_sample out;
        ASSERT_ERROR(vmstate_decode(&s1, &vmstate_sample_v2, &out, err, sizeof err), EINVAL);
        assert_contains(err, "unknown field id 10 at offset 96 in version 1");
        vmstate_put_le16(boolf, 4); /* a second u64 */
        ASSERT_ERROR(decode_raw(p, len, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section SMPL #0 at offset 0: field u64 (id 4) appears twice");
        vmstate_put_le16(boolf, 3); /* u32, but a BOOL's kind */
        ASSERT_ERROR(decode_raw(p, len, err, sizeof err), EINVAL);
        assert_contains(err, "field u32 (id 3) appears twice");
        vmstate_put_le16(boolf, 5);
        vmstate_put_le16(boolf + 2, VMSTATE_U8); /* same width, other kind */
        ASSERT_ERROR(decode_raw(p, len, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section SMPL #0 at offset 0: field flag (id 5) at offset 96 has kind 1 and 1 bytes, this "
                          "build expects kind 5 and 1");
        vmstate_put_le16(boolf + 2, VMSTATE_BOOL);
        ASSERT_OK(decode_raw(p, len, err, sizeof err));
        /* The last field (added_v2) left out: missing, not a default. */
        ASSERT_ERROR(decode_raw(p, len - 16, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section SMPL #0 at offset 0: field added_v2 (id 10) is missing");
        /* A field that runs past the payload. */
        ASSERT_ERROR(decode_raw(p, len - 8, err, sizeof err), EINVAL);
        assert_contains(err, "malformed field");
        /* Wrong tag, version 0. */
        struct vmstate_section s = secs[0];
        s.tag = TAG_VP;
        ASSERT_ERROR(vmstate_decode(&s, &vmstate_sample_v2, &out, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section VP #0 at offset 32: is not a SMPL section (sample)");
        s = secs[0];
        s.version = 0;
        ASSERT_ERROR(vmstate_decode(&s, &vmstate_sample_v2, &out, err, sizeof err), EINVAL);
        image_free(&im);
}
TEST_MAIN();
