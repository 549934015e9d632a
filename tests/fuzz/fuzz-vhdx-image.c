// SPDX-License-Identifier: MIT
/* A whole VHDX image through vhdx_open: the file identifier, both headers,
 * the log (scanned, and replayed by a writable open), the region tables,
 * the metadata with its parent locator, the BAT and the sector bitmaps.
 *
 * The input patches one of four valid images this target makes at start
 * (a dynamic image with blocks, a fixed one, a differencing child with
 * partly present blocks over a parent, a dynamic image whose log holds an
 * entry that was never applied: a crash between log and in-place write):
 *
 *   byte 0   bits 0-1: the image; bit 2: fix both headers' checksums,
 *            bit 3: both region tables', bit 4: the log entry's at the
 *            log's start (each after the patches)
 *   then     patches: area (1 byte: 0 file start, 1/2 headers, 3/4 region
 *            tables, 5 log, 6 metadata, 7 BAT, 8 past the structures,
 *            9 the file's size), offset (3 bytes, from the area's start;
 *            for 9 the size in 4 KiB units), length (1 byte), bytes
 *
 * Invariants: every refusal says why; an image opened read-only maps every
 * sector to data, zeros or the parent, and no data extent lies on the
 * headers, the log, the BAT or the metadata (a guest write there would
 * rewrite the image's structures); an image opened writable, written and
 * closed opens again, clean, and reads back what was written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/fuzz/fuzz-check.h"
#include "vhdx/src/vhdx-internal.h"

#define N_BASES 4
#define BASE_SIZE (8u << 20) /* virtual size */

struct base {
        uint8_t *bytes;
        size_t len;
};

static struct base bases[N_BASES];
static struct base parent; /* of the differencing base */

static void snapshot(int fd, struct base *b) {
        struct stat st;
        CHECK(fstat(fd, &st) == 0);
        b->len = (size_t)st.st_size;
        b->bytes = malloc(b->len);
        CHECK(b->bytes && pread(fd, b->bytes, b->len, 0) == (ssize_t)b->len);
}

/* A file holding b (written sparsely: most of an image is zeros). */
static int file_of(const struct base *b) {
        int fd = memfd_create("fuzz-vhdx", MFD_CLOEXEC);
        CHECK(fd >= 0 && ftruncate(fd, (off_t)b->len) == 0);
        static const uint8_t zero[4096];
        for (size_t off = 0; off < b->len; off += 4096) {
                size_t n = MIN((size_t)4096, b->len - off);
                if (memcmp(b->bytes + off, zero, n) != 0)
                        CHECK(pwrite(fd, b->bytes + off, n, (off_t)off) == (ssize_t)n);
        }
        return fd;
}

static void write_at(struct vhdx *v, uint64_t voff, uint64_t len, uint8_t fill) {
        uint8_t *buf = malloc(len);
        CHECK(buf);
        memset(buf, fill, len);
        for (uint64_t done = 0; done < len;) {
                struct vhdx_extent e;
                CHECK(vhdx_map_write(v, voff + done, len - done, &e, NULL) == 0);
                CHECK(pwrite(vhdx_fd(v), buf + done, e.len, (off_t)e.file_off) == (ssize_t)e.len);
                done += e.len;
        }
        free(buf);
}

static struct vhdx *make(int fd, enum vhdx_type type, struct vhdx *par) {
        char err[256];
        struct vhdx_create_options o = { .type = type, .virtual_size = BASE_SIZE, .block_size = 1u << 20,
                                         .parent = par, .parent_relative = par ? "parent.vhdx" : NULL };
        CHECK(vhdx_create(fd, &o, err, sizeof err) == 0);
        struct vhdx *v;
        CHECK(vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err) == 0);
        return v;
}

static void make_bases(void) {
        char err[256];
        /* 0: dynamic, three blocks written */
        int fd = memfd_create("base", MFD_CLOEXEC);
        struct vhdx *v = make(fd, VHDX_DYNAMIC, NULL);
        write_at(v, 0, 4096, 1), write_at(v, 3u << 20, 8192, 2), write_at(v, (7u << 20) + 512, 512, 3);
        CHECK(vhdx_close(v) == 0);
        snapshot(fd, &bases[0]);
        /* the parent: the same, read-only, for 2 */
        snapshot(fd, &parent);
        struct vhdx *p;
        CHECK(vhdx_open(fd, 0, &p, err, sizeof err) == 0);
        /* 2: differencing, a few sectors inside parent blocks, one whole block */
        int cfd = memfd_create("child", MFD_CLOEXEC);
        v = make(cfd, VHDX_DIFFERENCING, p);
        CHECK(vhdx_set_parent(v, p, err, sizeof err) == 0);
        write_at(v, 1024, 1024, 4), write_at(v, 5u << 20, 1u << 20, 5);
        CHECK(vhdx_close(v) == 0);
        snapshot(cfd, &bases[2]);
        close(cfd);
        vhdx_close(p);
        close(fd);
        /* 1: fixed */
        fd = memfd_create("fixed", MFD_CLOEXEC);
        v = make(fd, VHDX_FIXED, NULL);
        CHECK(vhdx_close(v) == 0);
        snapshot(fd, &bases[1]);
        close(fd);
        /* 3: the log holds the BAT sector that was never written in place */
        fd = memfd_create("crash", MFD_CLOEXEC);
        v = make(fd, VHDX_DYNAMIC, NULL);
        write_at(v, 2u << 20, 4096, 6);
        uint8_t *sec = vhdx_buf(4096);
        CHECK(sec);
        for (unsigned k = 0; k < 512; k++)
                vmstate_put_le64(sec + k * 8, v->bat[k]);
        struct vhdx_log_write w = { .file_off = v->bat_region.offset, .data = sec };
        CHECK(vhdx_log_write(v, &w, 1) == 0);
        snapshot(fd, &bases[3]);
        free(sec);
        vhdx_close(v);
        close(fd);
}

static const uint64_t area_base[] = { 0, VHDX_HEADER1_OFF, VHDX_HEADER2_OFF, VHDX_REGION1_OFF, VHDX_REGION2_OFF,
                                      1 * MiB, 2 * MiB, 3 * MiB, 4 * MiB };

/* The checksum at off + 4 of the len bytes at off, as a CRC-32C with
 * the field itself taken as zero (headers, region tables, log entries). */
static void fix_checksum(int fd, uint64_t off, size_t len) {
        uint8_t *b = vhdx_buf(len);
        CHECK(b);
        if (pread(fd, b, len, (off_t)off) == (ssize_t)len) {
                vmstate_put_le32(b + 4, vhdx_checksum(b, len, 4));
                (void)!pwrite(fd, b + 4, 4, (off_t)(off + 4));
        }
        free(b);
}

/* The entry at the log's start, as long as its header says (up to 1 MiB). */
static void fix_log_entry(int fd) {
        uint8_t h[16];
        if (pread(fd, h, sizeof h, (off_t)MiB) != (ssize_t)sizeof h)
                return;
        uint32_t len = le32(h + 8);
        if (len && len % VHDX_LOG_SECTOR == 0 && len <= MiB)
                fix_checksum(fd, MiB, len);
}

static int patched(const uint8_t *data, size_t size) {
        const struct base *b = &bases[data[0] & 3];
        int fd = file_of(b);
        size_t at = 1;
        while (at + 5 <= size) {
                unsigned area = data[at];
                uint64_t off = (uint64_t)data[at + 1] | (uint64_t)data[at + 2] << 8 | (uint64_t)data[at + 3] << 16;
                size_t len = MIN((size_t)data[at + 4], size - at - 5);
                const uint8_t *bytes = data + at + 5;
                at += 5 + len;
                if (area == 9)
                        (void)!ftruncate(fd, (off_t)(off * 4096));
                else if (area < ARRAY_SIZE(area_base))
                        (void)!pwrite(fd, bytes, len, (off_t)(area_base[area] + off));
        }
        if (data[0] & 4) {
                fix_checksum(fd, VHDX_HEADER1_OFF, VHDX_HEADER_SIZE);
                fix_checksum(fd, VHDX_HEADER2_OFF, VHDX_HEADER_SIZE);
        }
        if (data[0] & 8) {
                fix_checksum(fd, VHDX_REGION1_OFF, VHDX_REGION_SIZE);
                fix_checksum(fd, VHDX_REGION2_OFF, VHDX_REGION_SIZE);
        }
        if (data[0] & 16)
                fix_log_entry(fd);
        return fd;
}

static bool on_structures(const struct vhdx *v, uint64_t off, uint64_t len) {
#define OVER(a, alen) (off < (a) + (alen) && (a) < off + len)
        return off < MiB || OVER(v->hdr.log_offset, v->hdr.log_length) ||
               OVER(v->bat_region.offset, v->bat_region.length) || OVER(v->meta_region.offset, v->meta_region.length);
#undef OVER
}

/* Every sector of the disk, extent by extent (at most a few thousand). */
static void map_all(struct vhdx *v, bool chain) {
        struct vhdx_info info;
        vhdx_get_info(v, &info);
        uint64_t voff = 0;
        for (unsigned n = 0; voff < info.virtual_size && n < 4096; n++) {
                struct vhdx_extent e;
                uint64_t want = MIN(info.virtual_size - voff, (uint64_t)info.block_size * 2);
                int r = chain ? vhdx_map_chain(v, voff, want, &e) : vhdx_map(v, voff, want, &e);
                if (r < 0) { /* only an I/O or memory failure of a sector bitmap, or no parent */
                        CHECK(r == -ENOMEM || r == -ENOLINK || r == -EIO);
                        return;
                }
                CHECK(e.len > 0 && e.len <= want && e.len % info.logical_sector_size == 0);
                CHECK(e.kind == VHDX_EXT_DATA || e.kind == VHDX_EXT_ZERO || (!chain && e.kind == VHDX_EXT_PARENT));
                if (e.kind == VHDX_EXT_DATA)
                        CHECK(!on_structures(e.image, e.file_off, e.len));
                voff += e.len;
        }
}

static void read_only(int fd, bool differencing) {
        char err[256] = "";
        struct vhdx *v;
        int r = vhdx_open(fd, 0, &v, err, sizeof err);
        if (r < 0) {
                CHECK(err[0]);
                return;
        }
        struct vhdx_check_report rep;
        CHECK(vhdx_check(v, &rep) == 0);
        map_all(v, false);
        if (differencing) {
                int pfd = file_of(&parent);
                struct vhdx *p;
                CHECK(vhdx_open(pfd, 0, &p, err, sizeof err) == 0);
                if (vhdx_set_parent(v, p, err, sizeof err) == 0)
                        map_all(v, true);
                vhdx_close(p);
                close(pfd);
        }
        vhdx_close(v);
}

static void writable(int fd, const uint8_t *data, size_t size) {
        char err[256] = "";
        struct vhdx *v;
        int r = vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err);
        if (r < 0) {
                CHECK(err[0]);
                return;
        }
        struct vhdx_info info;
        vhdx_get_info(v, &info);
        /* two writes somewhere the input says, each checked against the structures */
        uint64_t sectors = info.virtual_size / info.logical_sector_size;
        uint64_t at[2] = { (data[size - 1] * 7919u) % sectors, (data[size / 2] * 104729u) % sectors };
        uint8_t pattern[2][4096];
        for (unsigned i = 0; i < 2; i++) {
                uint64_t voff = at[i] * info.logical_sector_size;
                uint64_t len = MIN((uint64_t)info.logical_sector_size, info.virtual_size - voff);
                struct vhdx_extent e;
                memset(pattern[i], 0x40 + (int)i, sizeof pattern[i]);
                r = vhdx_map_write(v, voff, len, &e, NULL);
                if (r < 0) { /* the file may not grow (a memfd always can), or a bitmap read failed */
                        CHECK(r == -ENOMEM || r == -EIO || r == -EFBIG);
                        vhdx_close(v);
                        return;
                }
                CHECK(e.kind == VHDX_EXT_DATA && e.len == len && !on_structures(v, e.file_off, e.len));
                CHECK(pwrite(fd, pattern[i], len, (off_t)e.file_off) == (ssize_t)len);
        }
        if (at[0] == at[1])
                at[0] = UINT64_MAX; /* the second write is what that sector holds */
        CHECK(vhdx_close(v) == 0);
        /* ... opens again, clean, and holds both writes */
        r = vhdx_open(fd, 0, &v, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "reopen after a write: %s\n", err);
        CHECK(r == 0);
        for (unsigned i = 0; i < 2; i++) {
                if (at[i] == UINT64_MAX)
                        continue;
                struct vhdx_extent e;
                uint64_t voff = at[i] * info.logical_sector_size;
                CHECK(vhdx_map(v, voff, info.logical_sector_size, &e) == 0);
                CHECK(e.kind == VHDX_EXT_DATA);
                uint8_t got[4096];
                CHECK(pread(fd, got, info.logical_sector_size, (off_t)e.file_off) == (ssize_t)info.logical_sector_size);
                CHECK(memcmp(got, pattern[i], info.logical_sector_size) == 0);
        }
        vhdx_close(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!bases[0].bytes)
                make_bases();
        if (size < 1)
                return 0;
        int fd = patched(data, size);
        bool differencing = (data[0] & 3) == 2;
        char err[256] = "";
        struct vhdx *v;
        if (vhdx_open(fd, VHDX_OPEN_INSPECT, &v, err, sizeof err) == 0) {
                struct vhdx_info info;
                vhdx_get_info(v, &info);
                CHECK(info.virtual_size && info.block_size);
                vhdx_close(v);
        } else {
                CHECK(err[0]);
        }
        read_only(fd, differencing);
        writable(fd, data, size);
        close(fd);
        return 0;
}
