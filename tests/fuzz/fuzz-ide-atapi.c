// SPDX-License-Identifier: MIT
/* Fuzz the DVD drive's PACKET register sequences on the IDE controller
 * (emu/ide-atapi.c and the channel under it): a DVD drive as the
 * secondary master beside a disk as its slave, any sequence of register
 * accesses, whole PACKET commands with a CDB from the input, backend runs
 * (or failures), the host's insert and eject, and a save and restore of
 * the channel. Checks the promises to the backend: a request for the disc
 * is a read, inside the disc, in whole 2048-byte blocks; buffers inside
 * guest RAM or the channel's own; every saved state decodes and restores.
 *
 * Input: a sequence of [op u8][a u8][b u8][value u32 le] records; op 7
 * (PACKET) takes the next 12 bytes as its CDB. The first 4 KiB of guest
 * RAM is the input itself (PRD tables come from there). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/fake-ram.h"
#include "emu/atapi.h"
#include "emu/ide.h"
#include "emu/state.h"
#include "tests/fuzz/ide-fuzz-ops.h"
#include "tests/fuzz/fuzz-check.h"
#include "tests/lib/vmstate-roundtrip.h"

#define DISC_BLOCKS 96u
#define DISK_SECTORS 256u
#define RAM_SIZE (256u * 1024)
#define CH 1u

static uint8_t ram[RAM_SIZE];
static struct disk *disc, *hd;

FAKE_RAM_OPS(ram, RAM_SIZE)
static const struct ide_ops ops = { .gm_read = fake_ram_read, .gm_map = fake_ram_map };

static void backend(struct ide_controller *c, int fail) {
        struct ide_request r;
        if (!ide_take_request(c, CH, &r))
                return;
        int res = 0;
        if (r.disk == disc) {
                CHECK(r.kind == DISK_READ);
                CHECK(r.len > 0 && r.offset % ATAPI_BLOCK_SIZE == 0 && r.len % ATAPI_BLOCK_SIZE == 0);
                CHECK(r.offset < DISC_BLOCKS * ATAPI_BLOCK_SIZE && r.len <= DISC_BLOCKS * ATAPI_BLOCK_SIZE - r.offset);
        } else {
                CHECK(r.disk == hd);
                CHECK(r.kind == DISK_FLUSH || r.offset + r.len <= DISK_SECTORS * 512ull);
        }
        for (unsigned i = 0; i < r.iovcnt; i++)
                CHECK(ide_fuzz_inside(r.iov[i].iov_base, r.iov[i].iov_len, ram, RAM_SIZE) ||
                      r.iov[i].iov_len <= IDE_BUF_SECTORS * 512);
        if (r.kind != DISK_FLUSH)
                res = (int)r.len; /* the data itself does not matter here */
        ide_complete(c, CH, fail ? -fail : res);
}

/* Saves the channel (if nothing is in flight), decodes the state and
 * restores it: every state the channel holds must pass its decoder. */
static void save_restore(struct ide_controller *c) {
        static struct ide_channel_state st, back;
        char err[256];
        if (ide_get_state(c, CH, &st) < 0)
                return;
        uint8_t *buf;
        size_t len;
        CHECK(vmstate_test_encode(&ide_channel_state_desc, CH, &st, &buf, &len) == 0);
        struct vmstate_section secs[2];
        struct vmstate_header h;
        CHECK(vmstate_index(buf, len, &h, secs, 2, err, sizeof err) == 1);
        CHECK(ide_channel_state_decode(&secs[0], &back, err, sizeof err) == 0);
        free(buf);
        CHECK(ide_set_state(c, CH, &back, err, sizeof err) == 0);
}

static void packet(struct ide_controller *c, uint8_t a, uint32_t v, const uint8_t *cdb) {
        ide_cmd_write(c, CH, 6, 1, (a & 1) ? 0xb0 : 0xa0);
        ide_cmd_write(c, CH, 1, 1, (a >> 1) & 1);
        ide_cmd_write(c, CH, 4, 1, v & 0xff);
        ide_cmd_write(c, CH, 5, 1, (v >> 8) & 0xff);
        ide_cmd_write(c, CH, 7, 1, ATA_CMD_PACKET);
        for (unsigned i = 0; i < 12; i += 2)
                ide_cmd_write(c, CH, 0, 2, (uint32_t)(cdb[i] | cdb[i + 1] << 8));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        memset(ram, 0, RAM_SIZE);
        memcpy(ram, in, size < 4096 ? size : 4096);
        if (!disc) {
                disc = ide_fuzz_image(DISC_BLOCKS * ATAPI_BLOCK_SIZE, true);
                hd = ide_fuzz_image(DISK_SECTORS * 512, false);
        }
        struct ide_controller *c;
        CHECK(ide_new(&ops, NULL, &c) == 0);
        struct ata_identity id = { .model = "Virtual CD", .serial = "1", .firmware = "1" };
        CHECK(ide_attach_dvd(c, 2 * CH, disc, &id) == 0);
        CHECK(ide_attach(c, 2 * CH + 1, hd, &id) == 0);
        ide_bm_claimed(c, 0xc000);
        ide_set_decode(c, true, true, true, true, 0xc000);
        size_t off = 0;
        while (off + 7 <= size) {
                const uint8_t *p = in + off;
                unsigned a = p[1], b = p[2], len = 1u << (b & 3);
                uint32_t v;
                memcpy(&v, p + 3, 4);
                if (len == 8)
                        len = 4;
                off += 7;
                if (ide_fuzz_register_op(c, p[0] % 10, CH, a, 8 + (a & 7), len, v))
                        continue;
                switch (p[0] % 10) {
                case 6:
                        backend(c, (b & 0x80) ? EIO : 0);
                        break;
                case 7:
                        if (off + 12 > size)
                                break;
                        packet(c, (uint8_t)a, v, in + off);
                        off += 12;
                        break;
                case 8:
                        (void)((a & 1) ? ide_atapi_eject(c, 2 * CH) : ide_atapi_insert(c, 2 * CH, disc));
                        break;
                case 9:
                        save_restore(c);
                        break;
                }
        }
        backend(c, 0);
        ide_free(c);
        return 0;
}
