// SPDX-License-Identifier: MIT
/* The images vmctl's disk commands read: a raw file or block device, or a
 * VHDX image with its chain of parents, opened read-only as the calling
 * user. The format is the caller's (--format) or the path's extension,
 * never the content (docs/vhdx.md "The format is never guessed"). A VHDX
 * chain is followed by vmms's own walker (vmms/disk-chain.h), so vmctl
 * refuses what a VM's Start would refuse: a changed parent, a loop, a log
 * left to replay. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "vmctl/vmctl.h"
#include "vmms/disk-chain.h"

int vmctl_disk_format(const char *path, const char *opt, enum vm_disk_format *out) {
        if (!opt) {
                *out = vm_disk_format_for_path(path);
                return 0;
        }
        if (!strcmp(opt, "raw") || !strcmp(opt, "vhdx")) {
                *out = opt[0] == 'r' ? VM_DISK_RAW : VM_DISK_VHDX;
                return 0;
        }
        fprintf(stderr, "vmctl disk: --format must be raw or vhdx, not '%s'\n", opt);
        return -EINVAL;
}

static int open_parent_ro(void *opaque, const char *path, char *err, size_t errlen) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return fd;
}

static int open_vhdx_chain(struct vmctl_disk_image *im, char *err, size_t errlen) {
        struct vmms_disk_chain chain;
        int r = vmms_disk_chain_open(im->fd, im->path, true, open_parent_ro, NULL, &chain, err, errlen);
        if (r < 0)
                return r;
        char why[512];
        /* The chain walker checked every image; parse them for reading. */
        r = vhdx_open(im->fd, 0, &im->v, why, sizeof why);
        for (size_t i = 0; r >= 0 && i < chain.n; i++) {
                im->pfd[i] = TAKE_FD(chain.fds[i]);
                im->n_parents++;
                r = vhdx_open(im->pfd[i], 0, &im->parents[i], why, sizeof why);
                if (r >= 0)
                        r = vhdx_set_parent(i ? im->parents[i - 1] : im->v, im->parents[i], why, sizeof why);
        }
        vmms_disk_chain_done(&chain);
        if (r < 0)
                snprintf(err, errlen, "%s: %s", im->path, why);
        else {
                struct vhdx_info info;
                vhdx_get_info(im->v, &info);
                im->size = info.virtual_size;
                im->sector = info.logical_sector_size;
        }
        return r;
}

int vmctl_disk_open(struct vmctl_disk_image *im, const char *path, enum vm_disk_format fmt, char *err, size_t errlen) {
        *im = (struct vmctl_disk_image){ .fd = -1, .path = path, .format = fmt };
        for (size_t i = 0; i < VHDX_CHAIN_MAX; i++)
                im->pfd[i] = -1;
        im->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (im->fd < 0)
                return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno;
        if (fmt == VM_DISK_VHDX) {
                int r = open_vhdx_chain(im, err, errlen);
                if (r < 0)
                        vmctl_disk_close(im);
                return r;
        }
        struct stat st;
        int r = 0;
        if (fstat(im->fd, &st) < 0 || (S_ISBLK(st.st_mode) && ioctl(im->fd, BLKGETSIZE64, &im->size) < 0))
                r = -errno, snprintf(err, errlen, "%s: %s", path, strerror(errno));
        else if (S_ISREG(st.st_mode))
                im->size = (uint64_t)st.st_size;
        else if (!S_ISBLK(st.st_mode))
                r = -EINVAL, snprintf(err, errlen, "%s: not a regular file or block device", path);
        if (r < 0)
                vmctl_disk_close(im);
        im->sector = 512;
        return r;
}

void vmctl_disk_close(struct vmctl_disk_image *im) {
        (void)vhdx_close(im->v); /* read-only: frees, writes nothing */
        for (size_t i = 0; i < im->n_parents; i++)
                (void)vhdx_close(im->parents[i]);
        for (size_t i = 0; i < VHDX_CHAIN_MAX; i++)
                safe_close(im->pfd[i]);
        im->fd = safe_close(im->fd);
        im->v = NULL;
        im->n_parents = 0;
}

int vmctl_disk_extent(struct vmctl_disk_image *im, uint64_t off, uint64_t len, struct vmctl_disk_extent *e) {
        if (im->format == VM_DISK_RAW) {
                /* A hole of a sparse file reads as zeros: found without reading it. */
                off_t data = lseek(im->fd, (off_t)off, SEEK_DATA);
                if (data < 0 && errno == ENXIO)
                        data = (off_t)im->size; /* holes to the end */
                if (data > (off_t)off) {
                        uint64_t hole = ALIGN_DOWN(MIN((uint64_t)data - off, len), (uint64_t)im->sector);
                        if (hole) {
                                *e = (struct vmctl_disk_extent){ .zero = true, .fd = -1, .len = hole };
                                return 0;
                        }
                }
                off_t end = lseek(im->fd, (off_t)off, SEEK_HOLE);
                uint64_t run = end > (off_t)off ? ALIGN_UP(MIN((uint64_t)end - off, len), (uint64_t)im->sector) : len;
                *e = (struct vmctl_disk_extent){ .zero = false, .fd = im->fd, .file_off = off, .len = MIN(run, len) };
                return 0;
        }
        struct vhdx_extent x;
        int r = vhdx_map_chain(im->v, off, len, &x);
        if (r < 0)
                return r;
        *e = (struct vmctl_disk_extent){ .zero = x.kind == VHDX_EXT_ZERO, .fd = x.kind == VHDX_EXT_ZERO ? -1 : vhdx_fd(x.image),
                                         .file_off = x.file_off, .len = x.len };
        return 0;
}
