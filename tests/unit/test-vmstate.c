// SPDX-License-Identifier: MIT
/* The saved-state format (common/vmstate.h, docs/saved-state.md): CRC-32C,
 * writer and reader round trips, compatibility between section and format
 * versions, bulk sections, and that every corrupt or truncated file is
 * refused with a sentence instead of being read. The writer on pipes,
 * sockets and broken fds, the limits and the decoder's refusals are
 * test-vmstate-writer.c's. */
#include "tests/unit/test-vmstate-harness.h"

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

TEST_MAIN();
