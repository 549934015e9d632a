// SPDX-License-Identifier: MIT
/* Test helper (not a test) for the integration tests of VHDX disks, with
 * the vhdx library (qemu-img cannot make differencing images):
 *   vhdx-test-helper dynamic PATH MIB
 *       a new dynamic image of MIB MiB
 *   vhdx-test-helper child PARENT CHILD RELATIVE|- [ABSOLUTE]
 *       a new differencing image CHILD of PARENT, with these locators
 *       ("-": no relative locator)
 *   vhdx-test-helper write PATH
 *       writes one sector at offset 0, as a VM would: the image gets a new
 *       DataWriteGuid, so children made before no longer match it
 *   vhdx-test-helper fill PATH KIB BYTE [LENKIB]
 *       writes 4 KiB (or LENKIB KiB) of BYTE (a number) at KIB KiB into
 *       the image
 *   vhdx-test-helper byte PATH KIB
 *       prints the byte at KIB KiB as the disk reads it (through the chain
 *       of parents, found by their locators)
 * Exit 0, or 1 with a sentence on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vhdx/vhdx.h"

static char err[512];

static int fail(const char *what, const char *path, int r) {
        fprintf(stderr, "vhdx-test-helper: %s %s: %s%s%s\n", what, path, strerror(-r), err[0] ? ": " : "", err);
        return 1;
}

static int new_file(const char *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                fprintf(stderr, "vhdx-test-helper: %s: %s\n", path, strerror(errno));
        return fd;
}

static int make_dynamic(const char *path, const char *mib) {
        int fd = new_file(path);
        if (fd < 0)
                return 1;
        struct vhdx_create_options o = { .type = VHDX_DYNAMIC, .virtual_size = strtoull(mib, NULL, 10) << 20,
                                         .block_size = 1 << 20 };
        int r = vhdx_create(fd, &o, err, sizeof err);
        close(fd);
        return r < 0 ? fail("creating", path, r) : 0;
}

static int make_child(const char *parent, const char *child, const char *rel, const char *abs) {
        int pfd = open(parent, O_RDONLY | O_CLOEXEC);
        if (pfd < 0)
                return fail("opening", parent, -errno);
        struct vhdx *p;
        int r = vhdx_open(pfd, 0, &p, err, sizeof err);
        if (r < 0)
                return fail("reading", parent, r);
        int fd = new_file(child);
        if (fd < 0)
                return 1;
        struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent = p,
                                         .parent_relative = strcmp(rel, "-") ? rel : NULL, .parent_absolute = abs };
        r = vhdx_create(fd, &o, err, sizeof err);
        vhdx_close(p);
        close(fd), close(pfd);
        return r < 0 ? fail("creating", child, r) : 0;
}

/* Writes len bytes of fill at off, as a VM would (a new DataWriteGuid). */
static int write_bytes(const char *path, uint64_t off, size_t len, int fill) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return fail("opening", path, -errno);
        struct vhdx *v = NULL;
        struct vhdx_extent e;
        const size_t chunk = 1u << 20;
        char *buf = malloc(chunk);
        if (!buf) {
                close(fd);
                return fail("writing", path, -ENOMEM);
        }
        memset(buf, fill, chunk);
        int r = vhdx_open(fd, VHDX_OPEN_WRITABLE, &v, err, sizeof err);
        if (r < 0)
                v = NULL;
        for (size_t done = 0; r >= 0 && done < len; done += e.len)
                if ((r = vhdx_map_write(v, off + done, len - done < chunk ? len - done : chunk, &e, NULL)) >= 0 &&
                    pwrite(fd, buf, e.len, (off_t)e.file_off) != (ssize_t)e.len)
                        r = -EIO;
        free(buf);
        if (r >= 0 && fdatasync(fd) < 0)
                r = -errno;
        int rc = v ? vhdx_close(v) : 0;
        close(fd);
        return r < 0 || rc < 0 ? fail("writing", path, r < 0 ? r : rc) : 0;
}

/* The byte at off through the chain (parents by their locators). */
static int chain_byte(struct vhdx **img, size_t *n, const char *path, uint64_t off) {
        char paths[2][VHDX_PATH_MAX];
        int r = 0;
        snprintf(paths[0], sizeof paths[0], "%s", path);
        for (; *n <= VHDX_CHAIN_MAX;) {
                const char *p = paths[*n & 1];
                int fd = open(p, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return fail("opening", p, -errno);
                if ((r = vhdx_open(fd, 0, &img[*n], err, sizeof err)) < 0) {
                        close(fd);
                        return fail("reading", p, r);
                }
                (*n)++;
                if (*n > 1 && (r = vhdx_set_parent(img[*n - 2], img[*n - 1], err, sizeof err)) < 0)
                        return fail("linking", p, r);
                struct vhdx_info info;
                vhdx_get_info(img[*n - 1], &info);
                if (info.type != VHDX_DIFFERENCING)
                        break;
                if ((r = vhdx_parent_path(p, &info, paths[*n & 1], VHDX_PATH_MAX)) < 0)
                        return fail("following", p, r);
        }
        struct vhdx_extent e;
        unsigned char b = 0;
        if ((r = vhdx_map_chain(img[0], off - off % 512, 512, &e)) < 0)
                return fail("mapping", path, r);
        if (e.kind == VHDX_EXT_DATA && pread(vhdx_fd(e.image), &b, 1, (off_t)(e.file_off + off % 512)) != 1)
                return fail("reading", path, -EIO);
        printf("%u\n", b);
        return 0;
}

static int read_byte(const char *path, uint64_t off) {
        struct vhdx *img[VHDX_CHAIN_MAX + 1];
        size_t n = 0;
        int r = chain_byte(img, &n, path, off);
        while (n) { /* read-only: nothing to write back; the fds are ours */
                int fd = vhdx_fd(img[--n]);
                vhdx_discard(img[n]);
                close(fd);
        }
        return r;
}

int main(int argc, char **argv) {
        if (argc == 4 && !strcmp(argv[1], "dynamic"))
                return make_dynamic(argv[2], argv[3]);
        if ((argc == 5 || argc == 6) && !strcmp(argv[1], "child"))
                return make_child(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
        if (argc == 3 && !strcmp(argv[1], "write"))
                return write_bytes(argv[2], 0, 512, 0x5a);
        if ((argc == 5 || argc == 6) && !strcmp(argv[1], "fill"))
                return write_bytes(argv[2], strtoull(argv[3], NULL, 10) << 10,
                                   argc == 6 ? (size_t)strtoull(argv[5], NULL, 10) << 10 : 4096, atoi(argv[4]));
        if (argc == 4 && !strcmp(argv[1], "byte"))
                return read_byte(argv[2], strtoull(argv[3], NULL, 10) << 10);
        fprintf(stderr, "usage: vhdx-test-helper dynamic PATH MIB | child PARENT CHILD RELATIVE|- [ABSOLUTE] | "
                        "write PATH | fill PATH KIB BYTE [LENKIB] | byte PATH KIB\n");
        return 2;
}
