// SPDX-License-Identifier: MIT
/* Fuzz fw_cfg (emu/fwcfg.c): any sequence of port accesses of any width at
 * and around 0x510-0x51b, DMA access structures the input writes into a
 * small guest RAM (at a base above 4 GiB, so both address halves matter),
 * and the saved state taken, decoded and applied to a twin. Checks: guest
 * memory is only ever asked for inside RAM and within one DMA bound, a
 * control word written back is 0 or the error bit, a data port byte read
 * is a byte, and the saved state round-trips and, applied to a twin built
 * with the same items, makes the twin read the same bytes next.
 *
 * Input: a sequence of records [op u8][a u8][b u8][value u32 le][desc 16]:
 *   op % 4 == 0: read  port pick(a), width 1 << (b % 3)
 *            1: write port pick(a), width 1 << (b % 3), value
 *            2: put desc (a DMA access structure) at RAM offset value % RAM
 *               and start it: high half (a & 1: the RAM's base half, or
 *               value's top bits), then low half
 *            3: save the state, decode it, apply it to the twin */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "emu/fwcfg.h"
#include "tests/fuzz/fuzz-check.h"
#include "tests/lib/vmstate-roundtrip.h"

#define RAM_BASE 0x100000000ull
#define RAM 8192u

struct ram {
        uint8_t mem[RAM];
};

static bool in_ram(uint64_t gpa, size_t len) {
        return gpa >= RAM_BASE && len <= RAM && gpa - RAM_BASE <= RAM - len;
}

static int ram_read(void *o, uint64_t gpa, void *buf, size_t len) {
        CHECK(len <= FWCFG_DMA_MAX_BYTES);
        if (!in_ram(gpa, len))
                return -EFAULT;
        memcpy(buf, ((struct ram *)o)->mem + (gpa - RAM_BASE), len);
        return 0;
}

static int ram_write(void *o, uint64_t gpa, const void *buf, size_t len) {
        CHECK(len <= FWCFG_DMA_MAX_BYTES);
        if (!in_ram(gpa, len))
                return -EFAULT;
        memcpy(((struct ram *)o)->mem + (gpa - RAM_BASE), buf, len);
        return 0;
}

static const struct fwcfg_mem_ops ram_ops = { .read = ram_read, .write = ram_write };

static uint16_t pick(uint8_t a) {
        return (uint16_t)(FWCFG_PORT_SELECTOR - 2 + a % 16);
}

static int decode(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return fwcfg_state_decode(s, out, err, errlen);
}

static const uint8_t table[600] = { 1, 2, 3 };

static int build(struct ram *r, struct fwcfg **out) {
        struct fwcfg *f;
        if (fwcfg_new(&ram_ops, r, &f) < 0)
                return -ENOMEM;
        if (fwcfg_add_file(f, "etc/table-loader", table, 128) < 0 || fwcfg_add_file(f, "bootorder", "/x\n", 3) < 0 ||
            fwcfg_add_file(f, "etc/acpi/tables", table, sizeof table) < 0 ||
            fwcfg_add_u16(f, FWCFG_NB_CPUS, 2) < 0 || fwcfg_add_u64(f, FWCFG_IRQ0_OVERRIDE, 1) < 0) {
                fwcfg_free(f);
                return -ENOMEM;
        }
        *out = f;
        return 0;
}

static uint32_t get_be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void run_dma(struct fwcfg *f, struct ram *r, const uint8_t *rec, uint32_t value) {
        uint32_t off = value % RAM;
        uint32_t n = MIN(RAM - off, FWCFG_DMA_ACCESS_SIZE);
        memcpy(r->mem + off, rec + 7, n);
        uint32_t high = (rec[1] & 1) ? (uint32_t)(RAM_BASE >> 32) : value >> 28;
        fwcfg_write(f, FWCFG_PORT_DMA, 4, __builtin_bswap32(high));
        fwcfg_write(f, FWCFG_PORT_DMA_LOW, 4, __builtin_bswap32((uint32_t)RAM_BASE + off));
        if ((rec[1] & 1) && n >= 4) {
                uint32_t ctl = get_be32(r->mem + off);
                /* Written back: 0 or ERROR, unless the structure ran off RAM. */
                CHECK(n < FWCFG_DMA_ACCESS_SIZE || ctl == 0 || ctl == FWCFG_DMA_CTL_ERROR);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        struct ram *r = calloc(1, sizeof *r), *r2 = calloc(1, sizeof *r2);
        struct fwcfg *f = NULL, *twin = NULL;
        CHECK(r && r2);
        CHECK(build(r, &f) == 0 && build(r2, &twin) == 0);
        for (size_t i = 0; i + 23 <= size; i += 23) {
                const uint8_t *rec = in + i;
                uint32_t value;
                memcpy(&value, rec + 3, 4);
                uint16_t port = pick(rec[1]);
                unsigned len = 1u << (rec[2] % 3);
                switch (rec[0] % 4) {
                case 0: {
                        uint32_t v = fwcfg_read(f, port, len);
                        if (len < 4)
                                CHECK(v < (1u << (8 * len)));
                        break;
                }
                case 1:
                        fwcfg_write(f, port, len, value);
                        break;
                case 2:
                        run_dma(f, r, rec, value);
                        break;
                default: {
                        struct fwcfg_state st;
                        char err[256];
                        fwcfg_get_state(f, &st);
                        CHECK(vmstate_test_round_trip(&fwcfg_state_desc, 0, &st, sizeof st, decode));
                        /* The twin has the same items: the state applies, and
                         * both then read the same data bytes. */
                        CHECK(fwcfg_set_state(twin, &st, err, sizeof err) == 0);
                        for (unsigned k = 0; k < 4; k++)
                                CHECK(fwcfg_read(f, FWCFG_PORT_DATA, 1) == fwcfg_read(twin, FWCFG_PORT_DATA, 1));
                        break;
                }
                }
        }
        fwcfg_free(f);
        fwcfg_free(twin);
        free(r);
        free(r2);
        return 0;
}
