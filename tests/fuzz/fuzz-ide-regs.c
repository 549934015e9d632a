// SPDX-License-Identifier: MIT
/* Fuzz the emulated IDE controller's registers (emu/ide*.c) and the PIIX3
 * PCI functions in front of it (emu/pci.c, piix.c): any sequence of
 * command/control/bus-master/PCI accesses, with a fake backend that runs
 * the requests the channels hand out whenever the input says so (or
 * fails them). Checks the promises to the backend: every request lies
 * inside the disk, its buffers inside guest RAM or the channel's own
 * buffer, one request per channel at a time, and never a second
 * completion; and that nothing crashes or leaks.
 *
 * Input: a sequence of [op u8][a u8][b u8][value u32 le]; the first 4 KiB
 * of guest RAM is the input itself (PRD tables come from there). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/fake-ram.h"
#include "emu/ide.h"
#include "emu/pci.h"
#include "tests/fuzz/ide-fuzz-ops.h"
#include "tests/fuzz/fuzz-check.h"


#define DISK_SECTORS 2048u
#define RAM_SIZE (256u * 1024)

static uint8_t ram[RAM_SIZE];
static uint8_t disk_data[DISK_SECTORS * 512];
static struct disk *disk;

FAKE_RAM_OPS(ram, RAM_SIZE)
static void irq(void *o, unsigned ch, bool level) {
        CHECK(ch < IDE_CHANNELS);
}
static const struct ide_ops ops = { .irq = irq, .gm_read = fake_ram_read, .gm_map = fake_ram_map };

static void reset_write(void *o, uint8_t v) {
}
static uint8_t reset_read(void *o) {
        return 0;
}
static const struct pci_reset_ops reset_ops = { .write = reset_write, .read = reset_read };

static struct disk *the_disk(void) {
        if (!disk)
                disk = ide_fuzz_image(DISK_SECTORS * 512, false);
        return disk;
}

/* Runs channel ch's request: checks where it points, moves the data. */
static void backend(struct ide_controller *c, unsigned ch, int fail) {
        struct ide_request r;
        if (!ide_take_request(c, ch, &r))
                return;
        CHECK(r.disk == disk);
        int res = 0;
        if (r.kind != DISK_FLUSH) {
                CHECK(r.kind == DISK_READ || r.kind == DISK_WRITE);
                CHECK(r.len > 0 && r.offset % 512 == 0 && r.len % 512 == 0);
                CHECK(r.offset < sizeof disk_data && r.len <= sizeof disk_data - r.offset);
                CHECK(r.iovcnt >= 1 && r.iovcnt <= BMDMA_MAX_PRD);
                uint64_t total = 0, off = r.offset;
                for (unsigned i = 0; i < r.iovcnt; i++) {
                        const struct iovec *v = &r.iov[i];
                        CHECK(ide_fuzz_inside(v->iov_base, v->iov_len, ram, RAM_SIZE) || v->iov_len <= IDE_BUF_SECTORS * 512);
                        if (r.kind == DISK_READ)
                                memcpy(v->iov_base, disk_data + off, v->iov_len);
                        else
                                memcpy(disk_data + off, v->iov_base, v->iov_len);
                        off += v->iov_len;
                        total += v->iov_len;
                }
                CHECK(total == r.len);
                res = (int)r.len;
        }
        ide_complete(c, ch, fail ? -fail : res);
        CHECK(!ide_take_request(c, ch, &r)); /* a completion does not leave a stale request */
}

/* The mask PAM0-6 give (piix_pam_read_only): only the 13 pieces' bits. */
static void shadow_mode(void *opaque, uint32_t read_only) {
        (void)opaque;
        CHECK((read_only & ~((1u << 13) - 1u)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        memset(ram, 0, RAM_SIZE);
        memcpy(ram, in, size < 4096 ? size : 4096);
        struct ide_controller *c;
        CHECK(ide_new(&ops, NULL, &c) == 0);
        struct ata_identity id = { .model = "Virtual HD", .serial = "1", .firmware = "1" };
        CHECK(ide_attach(c, 0, the_disk(), &id) == 0);
        CHECK(ide_attach(c, 3, the_disk(), &id) == 0);
        ide_bm_claimed(c, PIIX_IDE_BM_BASE);
        struct piix x;
        CHECK(piix_init(&x, c, &reset_ops, NULL) == 0);
        CHECK(piix_add_video(&x, 0xe0000000u, 16u << 20) == 0); /* Hyper-V's video function at 00:08.0 too */
        piix_set_shadow_hook(&x, shadow_mode, NULL); /* PAM0-6 as a firmware VM's worker takes them */
        for (size_t off = 0; off + 7 <= size; off += 7) {
                const uint8_t *p = in + off;
                unsigned a = p[1], b = p[2], len = 1u << (b & 3);
                uint32_t v;
                memcpy(&v, p + 3, 4);
                if (len == 8)
                        len = 4;
                unsigned ch = a & 1;
                if (ide_fuzz_register_op(c, p[0] % 9, ch, a, a & 15, len, v))
                        continue;
                switch (p[0] % 9) {
                case 6:
                        backend(c, ch, (b & 0x80) ? EIO : 0);
                        break;
                case 7:
                        pci_conf1_write(&x.bus, (uint16_t)(PCI_CONF1_PORT + (a & 7)), len, v);
                        break;
                case 8:
                        (void)pci_conf1_read(&x.bus, (uint16_t)(PCI_CONF1_PORT + (a & 7)), len);
                        break;
                }
        }
        /* Anything still in flight completes before the controller goes. */
        backend(c, 0, 0);
        backend(c, 1, 0);
        piix_destroy(&x);
        ide_free(c);
        return 0;
}
