// SPDX-License-Identifier: MIT
/* The saved-state format (common/vmstate.h, docs/saved-state.md): the
 * writer on pipes, sockets and broken fds (its errors stick, bad calls
 * refused), every limit (sections, a section's size, fields, an array's
 * capacity) refused with a sentence, and the decoder's refusals. */
#include "tests/unit/test-vmstate-harness.h"

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
