/* SPDX-License-Identifier: MIT */
/* Saved-state files for test-vmstate.c and test-vmstate-writer.c: images
 * read back from memfds, a small sample file, raw sections and headers
 * written by hand (with their CRCs) to be refused. */
#pragma once

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

static inline void image_free(struct image *im) {
        free(im->data);
        *im = (struct image){ 0 };
}

static inline int memfd(void) {
        int fd = memfd_create("vmstate", MFD_CLOEXEC);
        ASSERT_OK(fd);
        return fd;
}

static inline struct image image_read(int fd) {
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

static inline uint64_t xorshift(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

/* A small file: two sample sections (one optional) and a raw one. */
static inline struct image small_file(void) {
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
static inline int index_refuses(const struct image *im, char *err, size_t errlen) {
        struct vmstate_section secs[8];
        err[0] = 0;
        int r = vmstate_index(im->data, im->len, NULL, secs, ARRAY_SIZE(secs), err, errlen);
        ASSERT_LT(r, 0);
        ASSERT_GT(strlen(err), 10u);
        return -r;
}

static inline void assert_contains(const char *s, const char *sub) {
        if (!strstr(s, sub)) {
                char d[600];
                snprintf(d, sizeof d, "\"%s\" does not contain \"%s\"", s, sub);
                test_fail_(__FILE__, __LINE__, "strstr", d);
        }
}

/* Rewrites the CRC of the file header or of the section header at off
 * after a test changed it on purpose. */
static inline void fix_header_crc(uint8_t *h) {
        vmstate_put_le32(h + 28, vmstate_crc32c(0, h, 28));
}

/* A raw section into p (room for 32 + padded length): what a writer we
 * do not trust could produce. Returns its size. */
static inline size_t raw_section(uint8_t *p, uint32_t tag, uint32_t instance, uint16_t version, uint16_t flags,
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
static inline size_t raw_file_start(uint8_t *p) {
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

static inline size_t raw_end(uint8_t *p) {
        return raw_section(p, VMSTATE_TAG_END, 0, 1, 0, NULL, 0);
}

/* A file with one sample section written as desc describes it. */
static inline struct image sample_file(const struct vmstate_desc *desc, const struct vmstate_sample *in) {
        int fd = memfd();
        struct vmstate_writer *w;
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_OK(vmstate_encode(w, desc, 0, in));
        ASSERT_OK(vmstate_finish(w));
        vmstate_writer_free(w);
        return image_read(fd);
}

static inline int sample_decode(const struct image *im, const struct vmstate_desc *desc, struct vmstate_sample *out,
                                char *err, size_t errlen) {
        struct vmstate_section secs[2];
        ASSERT_EQ(vmstate_index(im->data, im->len, NULL, secs, 2, err, errlen), 1);
        return vmstate_decode(&secs[0], desc, out, err, errlen);
}

/* A sample section (seed 5), len bytes of RAM as bulk section MEM #0
 * written in ever larger pieces, an empty MEM #1. */
static inline void write_sample_and_ram(int fd, const uint8_t *ram, size_t len) {
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
