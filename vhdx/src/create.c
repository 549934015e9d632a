// SPDX-License-Identifier: MIT
/* Creating VHDX images, in the layout Hyper-V and qemu use (§2.1): file
 * identifier, two headers, two region tables in the first megabyte; a
 * 1 MiB log at 1 MiB, the metadata region at 2 MiB, the BAT at 3 MiB,
 * payload blocks after it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "vhdx-internal.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

#define LAYOUT_LOG_OFF (1 * MiB)
#define LAYOUT_LOG_LEN (1 * MiB)
#define LAYOUT_META_OFF (2 * MiB)
#define LAYOUT_META_LEN (1 * MiB)
#define LAYOUT_BAT_OFF (3 * MiB)
#define LOCATOR_PATH_MAX 1024 /* characters of a locator path we write */

uint64_t vhdx_max_child_file_size(const struct vhdx *v) {
        /* The layout vhdx_create gives a differencing child: 2 MiB blocks,
         * one 1 MiB sector bitmap block per chunk, the BAT at 3 MiB. */
        const uint64_t bs = 2 * MiB, ratio = ((1ull << 23) * v->meta.logical_sector) / bs;
        uint64_t n_payload = (v->meta.virtual_size + bs - 1) / bs, n_sb = (n_payload + ratio - 1) / ratio;
        uint64_t bat = ALIGN_UP(n_sb * (ratio + 1) * 8, MiB);
        return LAYOUT_BAT_OFF + bat + n_payload * bs + n_sb * MiB;
}

static bool path_ok(const char *p) {
        if (!p)
                return true;
        size_t n = 0;
        for (; p[n]; n++)
                if ((unsigned char)p[n] < 0x20 || (unsigned char)p[n] >= 0x7f)
                        return false;
        return n <= LOCATOR_PATH_MAX;
}

static int fill_meta(const struct vhdx_create_options *o, struct vhdx_meta *m, char *err, size_t errlen) {
        memset(m, 0, sizeof *m);
        if (o->type == VHDX_DIFFERENCING) {
                if (!o->parent)
                        return ERR("a differencing image needs a parent");
                if (!path_ok(o->parent_relative) || !path_ok(o->parent_absolute) ||
                    (!(o->parent_relative && *o->parent_relative) && !(o->parent_absolute && *o->parent_absolute)))
                        return ERR("the parent's path must be printable ASCII of at most %d characters",
                                   LOCATOR_PATH_MAX);
                m->virtual_size = o->parent->meta.virtual_size;
                m->logical_sector = o->parent->meta.logical_sector;
                m->physical_sector = o->parent->meta.physical_sector;
                m->has_parent = true;
                m->parent_linkage = o->parent->hdr.data_write;
                snprintf(m->parent_relative, sizeof m->parent_relative, "%s", o->parent_relative ?: "");
                snprintf(m->parent_absolute, sizeof m->parent_absolute, "%s", o->parent_absolute ?: "");
                m->block_size = o->block_size ?: 2 * MiB;
        } else {
                m->virtual_size = o->virtual_size;
                m->logical_sector = o->logical_sector_size ?: 512;
                m->physical_sector = o->physical_sector_size ?: 4096;
                m->block_size = o->block_size ?: 32 * MiB;
                m->leave_blocks_allocated = o->type == VHDX_FIXED;
        }
        int r = guid_generate(&m->disk_id);
        if (r < 0)
                return r;
        /* the same checks as an image we read */
        uint8_t *buf = vhdx_buf(LAYOUT_META_LEN);
        if (!buf)
                return -ENOMEM;
        vhdx_build_metadata(buf, LAYOUT_META_LEN, m);
        struct vhdx_meta back;
        r = vhdx_parse_metadata(buf, LAYOUT_META_LEN, &back, err, errlen);
        free(buf);
        return r;
}

static int write_start(int fd, const struct vhdx_meta *m, const struct vhdx_region *bat,
                       const struct vhdx_region *meta) {
        _cleanup_free_ uint8_t *buf = vhdx_buf(LAYOUT_META_LEN);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, "vhdxfile", 8);
        const char *creator = "vmstack";
        for (size_t i = 0; creator[i]; i++)
                vmstate_put_le16(buf + 8 + 2 * i, (uint8_t)creator[i]);
        int r = vhdx_pwrite_all(fd, buf, 64 * KiB, VHDX_FILE_ID_OFF);
        if (r < 0)
                return r;
        struct vhdx_header h = { .version = 1, .log_length = LAYOUT_LOG_LEN, .log_offset = LAYOUT_LOG_OFF };
        if ((r = guid_generate(&h.file_write)) < 0 || (r = guid_generate(&h.data_write)) < 0)
                return r;
        for (unsigned i = 0; i < 2; i++) {
                h.sequence = i + 1;
                vhdx_build_header(buf, &h);
                if ((r = vhdx_pwrite_all(fd, buf, VHDX_HEADER_SIZE, i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF)) < 0)
                        return r;
        }
        vhdx_build_regions(buf, bat, meta);
        for (unsigned i = 0; i < 2; i++)
                if ((r = vhdx_pwrite_all(fd, buf, VHDX_REGION_SIZE, i ? VHDX_REGION2_OFF : VHDX_REGION1_OFF)) < 0)
                        return r;
        vhdx_build_metadata(buf, LAYOUT_META_LEN, m);
        return vhdx_pwrite_all(fd, buf, LAYOUT_META_LEN, LAYOUT_META_OFF);
}

/* The BAT of a new image: every payload block present (fixed), or none. */
static int write_bat(int fd, struct vhdx *g, uint64_t data_start) {
        size_t bytes = (size_t)g->n_bat_sectors * 4096;
        _cleanup_free_ uint8_t *buf = vhdx_buf(bytes);
        if (!buf)
                return -ENOMEM;
        if (g->meta.leave_blocks_allocated)
                for (uint64_t b = 0; b < g->n_payload; b++)
                        vmstate_put_le64(buf + (b + b / g->chunk_ratio) * 8,
                                         VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, data_start + b * g->meta.block_size));
        return vhdx_pwrite_all(fd, buf, bytes, LAYOUT_BAT_OFF);
}

int vhdx_create(int fd, const struct vhdx_create_options *o, char *err, size_t errlen) {
        struct stat st;
        if (!o || fstat(fd, &st) < 0)
                return -EINVAL;
        if (!S_ISREG(st.st_mode) || st.st_size != 0)
                return ERR("a new VHDX image goes into an empty regular file");
        /* geometry through the reader's own code */
        struct vhdx g = { 0 };
        int r = fill_meta(o, &g.meta, err, errlen);
        if (r < 0)
                return r;
        g.bat_region = (struct vhdx_region){ .id = vhdx_region_bat, .offset = LAYOUT_BAT_OFF, .length = (uint32_t)MiB,
                                             .required = true };
        g.meta_region = (struct vhdx_region){ .id = vhdx_region_metadata, .offset = LAYOUT_META_OFF,
                                              .length = (uint32_t)LAYOUT_META_LEN, .required = true };
        g.bat_region.length = UINT32_MAX; /* measure first */
        if ((r = vhdx_geometry(&g, err, errlen)) < 0)
                return r;
        uint64_t bat_len = ALIGN_UP(g.n_bat * 8, MiB);
        if (bat_len > UINT32_MAX - MiB + 1)
                return ERR("the disk is too large for its block size (BAT of %llu bytes)",
                           (unsigned long long)bat_len);
        g.bat_region.length = (uint32_t)bat_len;
        uint64_t data_start = LAYOUT_BAT_OFF + bat_len;
        if ((r = write_start(fd, &g.meta, &g.bat_region, &g.meta_region)) < 0 ||
            (r = write_bat(fd, &g, data_start)) < 0)
                return r;
        uint64_t end = data_start + (g.meta.leave_blocks_allocated ? g.n_payload * g.meta.block_size : 0);
        if (g.meta.leave_blocks_allocated) {
                /* fixed: the space is reserved now (fallocate), or at least sized */
                r = posix_fallocate(fd, (off_t)data_start, (off_t)(end - data_start));
                if (r != 0 && r != EOPNOTSUPP && r != EINVAL)
                        return -r;
        }
        if (ftruncate(fd, (off_t)end) < 0 || fdatasync(fd) < 0)
                return -errno;
        return 0;
}
