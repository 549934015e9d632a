// SPDX-License-Identifier: MIT
/* QEMU's fw_cfg device: the items, the selector and data ports, and the
 * DMA interface (QEMU docs/specs/fw_cfg.rst; emu/fwcfg.h). Guest memory is
 * reached only through the owner's callbacks. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/vmstate.h"
#include "emu/fwcfg.h"

struct fwcfg_item {
        uint8_t *data; /* NULL: no item (reads zeros) */
        uint32_t len;
};

struct fwcfg_file {
        char name[FWCFG_FILE_NAME_SIZE];
        struct fwcfg_item item;
};

struct fwcfg {
        pthread_mutex_t lock;
        const struct fwcfg_mem_ops *mem;
        void *opaque;
        /* [0]: keys 0x00-0x1f (the signature, ID and directory among them),
         * [1]: 0x8000-0x801f. */
        struct fwcfg_item legacy[2][FWCFG_LEGACY_ITEMS];
        struct fwcfg_file files[FWCFG_MAX_FILES]; /* sorted by name; key FILE_FIRST + index */
        unsigned n_files;
        size_t total; /* bytes of all items but the directory */

        uint16_t selector;
        uint32_t offset;   /* never past the selected item's end */
        uint64_t dma_addr; /* the latched high half (low half 0) */
        struct fwcfg_stats stats;
};

static const char dma_signature[8] = { 'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G' };

static void put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int set_item(struct fwcfg_item *it, const void *data, size_t len) {
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy)
                return -ENOMEM;
        if (len)
                memcpy(copy, data, len);
        free(it->data);
        it->data = copy;
        it->len = (uint32_t)len;
        return 0;
}

/* The directory item: be32 count, then {be32 size, be16 select, be16 0,
 * name[56]} per file in key order (fw_cfg.rst, "File Directory"). */
static int rebuild_dir(struct fwcfg *f) {
        size_t len = 4 + (size_t)f->n_files * FWCFG_DIR_ENTRY_SIZE;
        uint8_t *d = calloc(1, len);
        if (!d)
                return -ENOMEM;
        put_be32(d, f->n_files);
        for (unsigned i = 0; i < f->n_files; i++) {
                uint8_t *e = d + 4 + (size_t)i * FWCFG_DIR_ENTRY_SIZE;
                uint16_t key = (uint16_t)(FWCFG_FILE_FIRST + i);
                put_be32(e, f->files[i].item.len);
                e[4] = (uint8_t)(key >> 8), e[5] = (uint8_t)key;
                memcpy(e + 8, f->files[i].name, FWCFG_FILE_NAME_SIZE);
        }
        struct fwcfg_item *it = &f->legacy[0][FWCFG_FILE_DIR];
        free(it->data);
        it->data = d;
        it->len = (uint32_t)len;
        return 0;
}

int fwcfg_new(const struct fwcfg_mem_ops *mem, void *opaque, struct fwcfg **out) {
        struct fwcfg *f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        pthread_mutex_init(&f->lock, NULL);
        f->mem = mem;
        f->opaque = opaque;
        /* FW_CFG_ID is little-endian (fw_cfg.rst); DMA only with guest memory. */
        uint8_t id[4] = { (uint8_t)(FWCFG_VERSION_TRADITIONAL | (mem ? FWCFG_VERSION_DMA : 0)), 0, 0, 0 };
        int r = set_item(&f->legacy[0][FWCFG_SIGNATURE], "QEMU", 4);
        if (r == 0)
                r = set_item(&f->legacy[0][FWCFG_ID], id, sizeof id);
        if (r == 0)
                r = rebuild_dir(f);
        if (r < 0) {
                fwcfg_free(f);
                return r;
        }
        *out = f;
        return 0;
}

void fwcfg_free(struct fwcfg *f) {
        if (!f)
                return;
        for (unsigned a = 0; a < 2; a++)
                for (unsigned k = 0; k < FWCFG_LEGACY_ITEMS; k++)
                        free(f->legacy[a][k].data);
        for (unsigned i = 0; i < f->n_files; i++)
                free(f->files[i].item.data);
        pthread_mutex_destroy(&f->lock);
        free(f);
}

/* ---- the builder's side ---- */

static int find_file(const struct fwcfg *f, const char *name) {
        for (unsigned i = 0; i < f->n_files; i++)
                if (strcmp(f->files[i].name, name) == 0)
                        return (int)i;
        return -ENOENT;
}

static int add_file_locked(struct fwcfg *f, const char *name, const void *data, size_t len) {
        size_t nlen = name ? strnlen(name, FWCFG_FILE_NAME_SIZE) : 0;
        if (nlen == 0 || nlen > FWCFG_FILE_NAME_MAX || len > FWCFG_ITEM_MAX_BYTES || (len && !data))
                return -EINVAL;
        if (find_file(f, name) >= 0)
                return -EEXIST;
        if (f->n_files >= FWCFG_MAX_FILES || f->total + len > FWCFG_TOTAL_MAX_BYTES)
                return -ENOSPC;
        struct fwcfg_item it = { 0 };
        int r = set_item(&it, data, len);
        if (r < 0)
                return r;
        /* QEMU's insertion (fw_cfg_add_file_callback): after every name that
         * sorts before or equal, so keys follow strcmp order. */
        unsigned at = f->n_files;
        while (at > 0 && strcmp(name, f->files[at - 1].name) < 0)
                at--;
        memmove(&f->files[at + 1], &f->files[at], (f->n_files - at) * sizeof f->files[0]);
        memset(&f->files[at], 0, sizeof f->files[at]);
        memcpy(f->files[at].name, name, nlen);
        f->files[at].item = it;
        f->n_files++;
        if ((r = rebuild_dir(f)) < 0) {
                free(it.data);
                memmove(&f->files[at], &f->files[at + 1], (f->n_files - at - 1) * sizeof f->files[0]);
                f->n_files--;
                return r;
        }
        f->total += len;
        return 0;
}

int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, size_t len) {
        pthread_mutex_lock(&f->lock);
        int r = add_file_locked(f, name, data, len);
        pthread_mutex_unlock(&f->lock);
        return r;
}

int fwcfg_file_key(struct fwcfg *f, const char *name) {
        pthread_mutex_lock(&f->lock);
        int i = find_file(f, name);
        pthread_mutex_unlock(&f->lock);
        return i < 0 ? i : (int)(FWCFG_FILE_FIRST + (unsigned)i);
}

/* The numeric items' slot for a key the builder may set, or NULL. */
static struct fwcfg_item *numeric_slot(struct fwcfg *f, uint16_t key) {
        unsigned idx = key & ~FWCFG_ARCH_LOCAL;
        if (idx >= FWCFG_LEGACY_ITEMS)
                return NULL;
        if (key & FWCFG_ARCH_LOCAL)
                return &f->legacy[1][idx];
        if (key == FWCFG_SIGNATURE || key == FWCFG_ID || key == FWCFG_FILE_DIR)
                return NULL;
        return &f->legacy[0][idx];
}

int fwcfg_add_bytes(struct fwcfg *f, uint16_t key, const void *data, size_t len) {
        if (len == 0 || !data || len > FWCFG_ITEM_MAX_BYTES)
                return -EINVAL;
        pthread_mutex_lock(&f->lock);
        struct fwcfg_item *it = numeric_slot(f, key);
        int r = !it ? -EINVAL : it->data ? -EEXIST : f->total + len > FWCFG_TOTAL_MAX_BYTES ? -ENOSPC : 0;
        if (r == 0 && (r = set_item(it, data, len)) == 0)
                f->total += len;
        pthread_mutex_unlock(&f->lock);
        return r;
}

int fwcfg_add_u16(struct fwcfg *f, uint16_t key, uint16_t value) {
        uint8_t b[2] = { (uint8_t)value, (uint8_t)(value >> 8) };
        return fwcfg_add_bytes(f, key, b, sizeof b);
}

int fwcfg_add_u32(struct fwcfg *f, uint16_t key, uint32_t value) {
        uint8_t b[4];
        for (unsigned i = 0; i < 4; i++)
                b[i] = (uint8_t)(value >> (8 * i));
        return fwcfg_add_bytes(f, key, b, sizeof b);
}

int fwcfg_add_u64(struct fwcfg *f, uint16_t key, uint64_t value) {
        uint8_t b[8];
        for (unsigned i = 0; i < 8; i++)
                b[i] = (uint8_t)(value >> (8 * i));
        return fwcfg_add_bytes(f, key, b, sizeof b);
}

/* ---- the guest's side ---- */

/* The item a key selects (bit 14 ignored, as QEMU's FW_CFG_ENTRY_MASK
 * does), or NULL: reads zeros. */
static const struct fwcfg_item *lookup(const struct fwcfg *f, uint16_t key) {
        unsigned idx = key & FWCFG_ENTRY_MASK;
        const struct fwcfg_item *it = NULL;
        if (idx < FWCFG_LEGACY_ITEMS)
                it = &f->legacy[(key & FWCFG_ARCH_LOCAL) ? 1 : 0][idx];
        else if (!(key & FWCFG_ARCH_LOCAL) && idx - FWCFG_FILE_FIRST < f->n_files)
                it = &f->files[idx - FWCFG_FILE_FIRST].item;
        return it && it->data ? it : NULL;
}

static uint8_t data_read_locked(struct fwcfg *f) {
        const struct fwcfg_item *it = lookup(f, f->selector);
        if (!it || f->offset >= it->len)
                return 0;
        f->stats.pio_bytes++;
        return it->data[f->offset++];
}

static int zero_fill(struct fwcfg *f, uint64_t gpa, uint32_t len) {
        static const uint8_t zeros[4096];
        for (uint32_t done = 0; done < len;) {
                uint32_t n = MIN(len - done, (uint32_t)sizeof zeros);
                int r = f->mem->write(f->opaque, gpa + done, zeros, n);
                if (r < 0)
                        return r;
                done += n;
        }
        return 0;
}

/* One operation of a DMA access (fw_cfg.rst, "Guest-side DMA Interface"):
 * READ before WRITE before SKIP; none of them moves nothing. A read past the
 * item's end (or of no item) fills the rest with zeros, a skip past it stops
 * at the end. Returns the control value to write back: 0 or ERROR. */
static uint32_t dma_op(struct fwcfg *f, uint32_t control, uint32_t length, uint64_t address) {
        bool read = control & FWCFG_DMA_CTL_READ;
        if (!read && !(control & (FWCFG_DMA_CTL_WRITE | FWCFG_DMA_CTL_SKIP)))
                return 0;
        if (length == 0)
                return 0;
        /* No item is guest-writable; an over-long or wrapping one moves nothing. */
        if (!read && (control & FWCFG_DMA_CTL_WRITE))
                return FWCFG_DMA_CTL_ERROR;
        if (length > FWCFG_DMA_MAX_BYTES || (read && address > UINT64_MAX - length))
                return FWCFG_DMA_CTL_ERROR;
        const struct fwcfg_item *it = lookup(f, f->selector);
        uint32_t avail = it && f->offset < it->len ? it->len - f->offset : 0;
        uint32_t n = MIN(length, avail);
        if (read) {
                if (n && f->mem->write(f->opaque, address, it->data + f->offset, n) < 0)
                        return FWCFG_DMA_CTL_ERROR;
                if (length > n && zero_fill(f, address + n, length - n) < 0)
                        return FWCFG_DMA_CTL_ERROR;
        }
        f->offset += n;
        f->stats.dma_bytes += length;
        return 0;
}

static void put_control(struct fwcfg *f, uint64_t desc, uint32_t control) {
        uint8_t b[4];
        put_be32(b, control);
        (void)f->mem->write(f->opaque, desc, b, sizeof b);
}

/* The access structure at desc: read, its SELECT applied, its operation
 * run, its control written back (0 or ERROR; ERROR alone when the structure
 * itself is not in RAM, as QEMU's fw_cfg_dma_transfer). */
static void dma_run(struct fwcfg *f, uint64_t desc) {
        uint8_t a[FWCFG_DMA_ACCESS_SIZE];
        f->stats.dma_ops++;
        if (desc > UINT64_MAX - FWCFG_DMA_ACCESS_SIZE || f->mem->read(f->opaque, desc, a, sizeof a) < 0) {
                f->stats.dma_errors++;
                put_control(f, desc, FWCFG_DMA_CTL_ERROR);
                return;
        }
        uint32_t control = get_be32(a), length = get_be32(a + 4);
        uint64_t address = (uint64_t)get_be32(a + 8) << 32 | get_be32(a + 12);
        if (control & FWCFG_DMA_CTL_SELECT) {
                f->selector = (uint16_t)(control >> 16);
                f->offset = 0;
        }
        uint32_t result = dma_op(f, control, length, address);
        if (result)
                f->stats.dma_errors++;
        put_control(f, desc, result);
}

uint32_t fwcfg_read(struct fwcfg *f, uint16_t port, unsigned len) {
        uint32_t v = 0;
        pthread_mutex_lock(&f->lock);
        if ((port == FWCFG_PORT_SELECTOR || port == FWCFG_PORT_DATA) && len == 1) {
                v = data_read_locked(f);
        } else if (f->mem && port >= FWCFG_PORT_DMA && port < FWCFG_PORT_DMA + FWCFG_DMA_PORTS && len <= 4) {
                /* "QEMU CFG" in port order: the big-endian signature. */
                for (unsigned i = 0, off = port - FWCFG_PORT_DMA; i < len && off + i < FWCFG_DMA_PORTS; i++)
                        v |= (uint32_t)(uint8_t)dma_signature[off + i] << (8 * i);
        }
        pthread_mutex_unlock(&f->lock);
        return v;
}

void fwcfg_write(struct fwcfg *f, uint16_t port, unsigned len, uint32_t value) {
        pthread_mutex_lock(&f->lock);
        if ((port == FWCFG_PORT_SELECTOR || port == FWCFG_PORT_DATA) && len == 2) {
                /* A 16-bit write selects (QEMU's fw_cfg_comb_write); byte
                 * writes to the data port are ignored since QEMU 2.4. */
                f->selector = (uint16_t)value;
                f->offset = 0;
        } else if (f->mem && len == 4 && port == FWCFG_PORT_DMA) {
                f->dma_addr = (uint64_t)__builtin_bswap32(value) << 32;
        } else if (f->mem && len == 4 && port == FWCFG_PORT_DMA_LOW) {
                uint64_t desc = f->dma_addr | __builtin_bswap32(value);
                f->dma_addr = 0; /* 0 again after every operation (fw_cfg.rst) */
                dma_run(f, desc);
        }
        pthread_mutex_unlock(&f->lock);
}

void fwcfg_reset(struct fwcfg *f) {
        pthread_mutex_lock(&f->lock);
        f->selector = FWCFG_SIGNATURE;
        f->offset = 0;
        f->dma_addr = 0;
        pthread_mutex_unlock(&f->lock);
}

void fwcfg_get_stats(struct fwcfg *f, struct fwcfg_stats *out) {
        pthread_mutex_lock(&f->lock);
        *out = f->stats;
        pthread_mutex_unlock(&f->lock);
}

/* ---- saved state ("FWCF", docs/saved-state.md) ---- */

#define F(id_, kind_, m_) VMSTATE_FIELD(id_, kind_, struct fwcfg_state, m_)
static const struct vmstate_field_desc fwcfg_fields[] = {
        F(1, VMSTATE_U16, selector), F(2, VMSTATE_U32, offset), F(3, VMSTATE_U64, dma_addr),
        F(4, VMSTATE_U32, items_crc),
};
#undef F

const struct vmstate_desc fwcfg_state_desc = {
        .tag = FWCFG_STATE_TAG, .version = 1, .fields = fwcfg_fields, .n_fields = ARRAY_SIZE(fwcfg_fields),
        .name = "fw_cfg",
};

/* The items' shape: the directory's bytes (names, sizes, keys) and every
 * numeric item's key and length, in key order. */
static uint32_t items_crc(const struct fwcfg *f) {
        uint32_t crc = 0;
        for (unsigned a = 0; a < 2; a++)
                for (unsigned k = 0; k < FWCFG_LEGACY_ITEMS; k++) {
                        const struct fwcfg_item *it = &f->legacy[a][k];
                        if (!it->data)
                                continue;
                        uint8_t rec[8];
                        put_be32(rec, (a ? FWCFG_ARCH_LOCAL : 0) | k);
                        put_be32(rec + 4, it->len);
                        crc = vmstate_crc32c(crc, rec, sizeof rec);
                        if (k == FWCFG_FILE_DIR && !a)
                                crc = vmstate_crc32c(crc, it->data, it->len);
                }
        return crc;
}

void fwcfg_get_state(struct fwcfg *f, struct fwcfg_state *out) {
        memset(out, 0, sizeof *out); /* padding too: states compare bytewise */
        pthread_mutex_lock(&f->lock);
        out->selector = f->selector;
        out->offset = f->offset;
        out->dma_addr = f->dma_addr;
        out->items_crc = items_crc(f);
        pthread_mutex_unlock(&f->lock);
}

int fwcfg_state_decode(const struct vmstate_section *s, struct fwcfg_state *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &fwcfg_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        if (out->offset > FWCFG_ITEM_MAX_BYTES)
                return errorf(err, errlen, -EINVAL, "section FWCF: data offset %u beyond any item", out->offset);
        if ((uint32_t)out->dma_addr)
                return errorf(err, errlen, -EINVAL, "section FWCF: DMA address latch 0x%llx has a low half",
                              (unsigned long long)out->dma_addr);
        return 0;
}

int fwcfg_set_state(struct fwcfg *f, const struct fwcfg_state *st, char *err, size_t errlen) {
        pthread_mutex_lock(&f->lock);
        uint32_t crc = items_crc(f);
        const struct fwcfg_item *it = lookup(f, st->selector);
        int r = 0;
        if (st->items_crc != crc)
                r = errorf(err, errlen, -EINVAL, "section FWCF: the saved VM's fw_cfg items (CRC 0x%08x) are not "
                           "this VM's (0x%08x)", st->items_crc, crc);
        else if (st->offset > (it ? it->len : 0))
                r = errorf(err, errlen, -EINVAL, "section FWCF: offset %u past the end of item 0x%04x", st->offset,
                           st->selector);
        else if (!f->mem && st->dma_addr)
                r = errorf(err, errlen, -EINVAL, "section FWCF: a DMA address latched, this VM has no fw_cfg DMA");
        if (r == 0) {
                f->selector = st->selector;
                f->offset = st->offset;
                f->dma_addr = st->dma_addr;
        }
        pthread_mutex_unlock(&f->lock);
        return r;
}
