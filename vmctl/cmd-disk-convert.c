// SPDX-License-Identifier: MIT
/* vmctl disk convert SRC DST: a new image with SRC's content, raw or VHDX
 * either way; a differencing SRC reads through its chain, so the result
 * stands alone (a checkpoint's disk flattened). What reads as zeros is not
 * written: holes in a raw DST, absent blocks in a VHDX one. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vmctl/vmctl.h"

#define CHUNK (1u << 20)

enum { OPT_FORMAT = 0x100, OPT_OUTPUT_FORMAT, OPT_TYPE, OPT_BLOCK_SIZE };

struct convert {
        struct vmctl_disk_image src;
        enum vm_disk_format out_fmt;
        struct vhdx_create_options o;
        const char *dst_path;
        int dst;
        struct vhdx *v; /* a VHDX DST, writable */
        uint8_t *buf;   /* CHUNK, 4 KiB aligned */
        uint64_t data_bytes;
};

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i += 8)
                if (*(const uint64_t *)(const void *)(p + i))
                        return false;
        return true;
}

static int put(struct convert *cv, uint64_t off, const uint8_t *data, uint64_t len) {
        if (!cv->v) {
                ssize_t n = pwrite(cv->dst, data, len, (off_t)off);
                return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
        }
        for (uint64_t done = 0; done < len;) {
                struct vhdx_extent e;
                int r = vhdx_map_write(cv->v, off + done, len - done, &e, NULL);
                if (r < 0)
                        return r;
                if (pwrite(cv->dst, data + done, e.len, (off_t)e.file_off) != (ssize_t)e.len)
                        return -EIO;
                done += e.len;
        }
        return 0;
}

static void progress(const struct vmctl *c, uint64_t off, uint64_t size, bool tty, bool end) {
        static int last = -1;
        int pct = size ? (int)(off * 100 / size) : 100;
        if (c->quiet || c->json || !tty || (pct == last && !end))
                return;
        last = pct;
        printf("\rconverting: %d%%\033[K%s", pct, end ? "\r\033[K" : "");
        fflush(stdout);
}

static int copy(struct vmctl *c, struct convert *cv) {
        const uint64_t size = cv->src.size;
        bool tty = isatty(STDOUT_FILENO);
        for (uint64_t off = 0; off < size;) {
                struct vmctl_disk_extent e;
                int r = vmctl_disk_extent(&cv->src, off, MIN((uint64_t)CHUNK, size - off), &e);
                if (r < 0)
                        return fprintf(stderr, "vmctl disk: %s: at %" PRIu64 ": %s\n", cv->src.path, off, strerror(-r)), r;
                if (!e.zero) {
                        if (pread(e.fd, cv->buf, e.len, (off_t)e.file_off) != (ssize_t)e.len)
                                return fprintf(stderr, "vmctl disk: %s: reading at %" PRIu64 ": %s\n", cv->src.path,
                                               off, strerror(errno ? errno : EIO)), -EIO;
                        if (!all_zero(cv->buf, e.len)) {
                                if ((r = put(cv, off, cv->buf, e.len)) < 0)
                                        return fprintf(stderr, "vmctl disk: %s: writing at %" PRIu64 ": %s\n",
                                                       cv->dst_path, off, strerror(-r)), r;
                                cv->data_bytes += e.len;
                        }
                }
                off += e.len;
                progress(c, off, size, tty, false);
        }
        progress(c, size, size, tty, true);
        return 0;
}

static int make_dst(struct convert *cv) {
        char err[512];
        int r;
        if (cv->out_fmt == VM_DISK_RAW) {
                r = cv->o.type == VHDX_FIXED ? -posix_fallocate(cv->dst, 0, (off_t)cv->src.size)
                                             : (ftruncate(cv->dst, (off_t)cv->src.size) < 0 ? -errno : 0);
                if (r < 0)
                        fprintf(stderr, "vmctl disk: %s: %s\n", cv->dst_path, strerror(-r));
                return r;
        }
        cv->o.virtual_size = cv->src.size;
        cv->o.logical_sector_size = cv->src.sector;
        if ((r = vhdx_create(cv->dst, &cv->o, err, sizeof err)) < 0 ||
            (r = vhdx_open(cv->dst, VHDX_OPEN_WRITABLE, &cv->v, err, sizeof err)) < 0)
                fprintf(stderr, "vmctl disk: %s: %s\n", cv->dst_path, err);
        return r;
}

static int finish(struct convert *cv) {
        int r = fdatasync(cv->dst) < 0 ? -errno : 0;
        if (cv->v) {
                int k = vhdx_close(cv->v); /* commits the BAT after the data is durable */
                cv->v = NULL;
                r = r < 0 ? r : k;
        }
        if (r < 0)
                fprintf(stderr, "vmctl disk: %s: %s\n", cv->dst_path, strerror(-r));
        return r;
}

static int parse(struct vmctl *c, int argc, char **argv, struct convert *cv, const char **src_fmt) {
        static const struct option opts[] = {
                { "format", required_argument, NULL, OPT_FORMAT },
                { "output-format", required_argument, NULL, OPT_OUTPUT_FORMAT },
                { "type", required_argument, NULL, OPT_TYPE },
                { "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
                {},
        };
        const char *out_opt = NULL;
        int opt;
        while ((opt = vmctl_getopt(c, argc, argv, opts)) != -1) {
                int k = 0;
                switch (opt) {
                case OPT_FORMAT: *src_fmt = optarg; break;
                case OPT_OUTPUT_FORMAT: out_opt = optarg; break;
                case OPT_TYPE: k = vmctl_disk_parse_type(optarg, &cv->o.type); break;
                case OPT_BLOCK_SIZE: k = vmctl_disk_parse_block_size(optarg, &cv->o.block_size); break;
                default: return VMCTL_EXIT_USAGE;
                }
                if (k)
                        return k;
        }
        if (vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        cv->dst_path = argv[optind + 1];
        return vmctl_disk_format(cv->dst_path, out_opt, &cv->out_fmt) < 0 ? VMCTL_EXIT_USAGE : 0;
}

int vmctl_disk_convert(struct vmctl *c, int argc, char **argv) {
        struct convert cv = { .o = { .type = VHDX_DYNAMIC }, .dst = -1 };
        const char *src_fmt = NULL;
        int r = parse(c, argc, argv, &cv, &src_fmt);
        if (r)
                return r;
        const char *src_path = argv[optind];
        enum vm_disk_format in_fmt;
        char err[1024];
        if (vmctl_disk_format(src_path, src_fmt, &in_fmt) < 0)
                return VMCTL_EXIT_USAGE;
        if ((r = vmctl_disk_open(&cv.src, src_path, in_fmt, err, sizeof err)) < 0) {
                fprintf(stderr, "vmctl disk: %s\n", err);
                return VMCTL_EXIT_FAILURE;
        }
        if (cv.src.size == 0 || cv.src.size % 512) {
                fprintf(stderr, "vmctl disk: %s: %" PRIu64 " bytes is not a whole number of 512-byte sectors\n",
                        src_path, cv.src.size);
                vmctl_disk_close(&cv.src);
                return VMCTL_EXIT_FAILURE;
        }
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        cv.buf = aligned_alloc(4096, CHUNK);
        cv.dst = cv.buf ? vmctl_disk_new_file(cv.dst_path) : -1;
        r = cv.dst < 0 ? -EIO : make_dst(&cv);
        if (r >= 0)
                r = copy(c, &cv);
        if (r >= 0)
                r = finish(&cv);
        else if (cv.v)
                (void)vhdx_close(cv.v);
        if (cv.dst >= 0) {
                close(cv.dst);
                if (r < 0)
                        unlink(cv.dst_path); /* ours: made by this call (O_EXCL) */
        }
        free(cv.buf);
        vmctl_disk_close(&cv.src);
        if (r < 0)
                return VMCTL_EXIT_FAILURE;
        double secs = (double)(now_us(CLOCK_MONOTONIC) - t0) / 1e6;
        if (c->json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "source", json_object_new_string(src_path));
                json_object_object_add(o, "destination", json_object_new_string(cv.dst_path));
                json_object_object_add(o, "format", json_object_new_string(vm_disk_format_to_string(cv.out_fmt)));
                json_object_object_add(o, "virtual_size", json_object_new_uint64(cv.src.size));
                json_object_object_add(o, "data_bytes", json_object_new_uint64(cv.data_bytes));
                json_object_object_add(o, "seconds", json_object_new_double(secs));
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        } else if (!c->quiet)
                printf("%s -> %s (%s): %.1f MiB of data in a %.1f MiB disk, %.2f s\n", src_path, cv.dst_path,
                       vm_disk_format_to_string(cv.out_fmt), (double)cv.data_bytes / 1048576.0,
                       (double)cv.src.size / 1048576.0, secs);
        return 0;
}
