// SPDX-License-Identifier: MIT
/* The live-migration stream as a destination reads it (common/migstream.h):
 * mig_stream_walk() on any bytes, against a destination of 32 MiB, one
 * vCPU and a fixed device shape, the hello's shape and CPU features taken
 * (and its shared-nothing flag) from the input when it parses (so the
 * walk gets past the check, DISK records included); DEVMEM records
 * applied to a 16 MiB VRAM as the destination does; the
 * hello's CPU features are also compared with a fixed host's, and must
 * pass against themselves and against a host with every bit; each record it hands
 * over must lie inside RAM and the input; the final state it frames is
 * indexed as the restore path would; a post-copy bitmap (POSTCOPY) is
 * marked in a post-copy destination over a 32 MiB mapping, which must
 * count no more pages missing than the RAM has. Also the record parser in
 * both directions and the state framing on the raw input. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/migstream.h"
#include "common/vmstate.h"
#include "tests/fuzz/fuzz-check.h"
#include "vmwp/postcopy.h"

#define RAM (32ull << 20)

struct walk {
        const uint8_t *buf;
        size_t len;
        unsigned records;
        struct postcopy_dest *pc;
};

/* The post-copy destination's RAM: one shared mapping for every input. */
static uint8_t *ram_map(void) {
        static uint8_t *ram;
        if (!ram) {
                int fd = memfd_create("fuzz-migstream", MFD_CLOEXEC);
                CHECK(fd >= 0 && ftruncate(fd, (off_t)RAM) == 0);
                ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                CHECK(ram != MAP_FAILED);
                close(fd);
        }
        return ram;
}

static void on_record(void *opaque, const struct mig_record *r, const uint8_t *payload) {
        struct walk *w = opaque;
        w->records++;
        CHECK(payload >= w->buf && (size_t)(payload - w->buf) <= w->len);
        if (r->type == MIG_PAGES || r->type == MIG_ZERO)
                CHECK(r->addr + r->length <= RAM && r->length % MIG_PAGE_SIZE == 0);
        if (r->type == MIG_DISK || r->type == MIG_DISK_ZERO) /* the disk's size is the destination's check */
                CHECK(r->index < MIG_DISKS_MAX && r->length % MIG_DISK_SECTOR == 0 && r->addr % MIG_DISK_SECTOR == 0 &&
                      r->addr + r->length >= r->addr);
        if (r->type == MIG_DEVMEM || r->type == MIG_DEVMEM_ZERO) {
                CHECK(r->index < MIG_DEVMEM_MAX && r->length % MIG_PAGE_SIZE == 0 && r->addr % MIG_PAGE_SIZE == 0 &&
                      r->length > 0 && r->addr + r->length <= MIG_DEVMEM_BYTES);
                /* applied as the destination does, to a 16 MiB VRAM */
                static uint8_t vram[16u << 20];
                if (r->addr <= sizeof vram && r->length <= sizeof vram - r->addr) {
                        if (r->type == MIG_DEVMEM)
                                memcpy(vram + r->addr, payload, (size_t)r->length);
                        else
                                memset(vram + r->addr, 0, (size_t)r->length);
                }
        }
        if (r->type == MIG_DEVMEM)
                CHECK(r->length <= MIG_PAGES_MAX && r->length <= w->len - (size_t)(payload - w->buf));
        if (r->type == MIG_PAGES)
                CHECK(r->length <= MIG_PAGES_MAX && r->length <= w->len - (size_t)(payload - w->buf));
        if (r->type == MIG_POSTCOPY) {
                uint64_t pl = mig_record_payload(r);
                CHECK(r->addr % MIG_POSTCOPY_ALIGN == 0 && r->addr + r->length <= RAM && pl <= MIG_PAGES_MAX &&
                      pl <= w->len - (size_t)(payload - w->buf) && pl * 8 >= r->length / MIG_PAGE_SIZE);
                char err[256];
                if (!w->pc)
                        CHECK(postcopy_dest_new(ram_map(), RAM, -1, 0, &w->pc, err, sizeof err) == 0);
                if (postcopy_dest_mark(w->pc, r->addr, r->length, payload, err, sizeof err) < 0)
                        CHECK(strlen(err) > 0);
                CHECK(postcopy_dest_missing(w->pc) <= RAM / MIG_PAGE_SIZE);
        }
        if (r->type == MIG_STATE) {
                CHECK(r->length <= w->len - (size_t)(payload - w->buf));
                static struct vmstate_section secs[64];
                char err[256];
                (void)vmstate_index(payload, (size_t)r->length, NULL, secs, 64, err, sizeof err);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct mig_hello dst = { .major = MIG_MAJOR, .page_size = MIG_PAGE_SIZE, .ram_bytes = RAM, .vcpus = 1 };
        strcpy(dst.shape, "uart,acpi-pm");
        struct mig_hello h;
        char err[512];
        if (mig_hello_parse(data, size, &h, err, sizeof err) > 0) {
                CHECK(h.shape_len <= MIG_SHAPE_MAX && strlen(h.shape) == h.shape_len);
                dst.vcpus = h.vcpus, dst.ram_bytes = h.ram_bytes == RAM ? RAM : dst.ram_bytes;
                memcpy(dst.shape, h.shape, sizeof dst.shape);
                dst.flags = h.flags; /* a shared-nothing stream's DISK records are walked too */
                CHECK(strlen(h.cpu.vendor) <= 12 && h.cpu.phys_bits <= 64);
                CHECK(cpufeat_missing(&h.cpu, &h.cpu, err, sizeof err) == 0);
                struct cpufeat all = h.cpu;
                memset(all.word, 0xff, sizeof all.word);
                all.phys_bits = 64;
                CHECK(cpufeat_missing(&h.cpu, &all, err, sizeof err) == 0);
                struct cpufeat host = { .vendor = "GenuineIntel", .phys_bits = 39, .word = { 0xfffa3203u, 0x178bfbffu } };
                if (cpufeat_missing(&h.cpu, &host, err, sizeof err) < 0)
                        CHECK(strlen(err) > 0 && strlen(err) < sizeof err);
                uint8_t block[CPUFEAT_BYTES];
                struct cpufeat back;
                cpufeat_encode(&h.cpu, block);
                CHECK(cpufeat_decode(block, sizeof block, &back, err, sizeof err) == 0);
                CHECK(memcmp(back.word, h.cpu.word, sizeof back.word) == 0 && back.phys_bits == h.cpu.phys_bits);
                dst.cpu = h.cpu;
        }
        struct walk w = { .buf = data, .len = size };
        int64_t n = mig_stream_walk(data, size, &dst, on_record, &w, err, sizeof err);
        CHECK(n <= (int64_t)size);
        CHECK(n < 0 ? strlen(err) > 0 : w.records > 0);
        postcopy_dest_free(w.pc);
        struct mig_record r;
        if (size >= MIG_RECORD_HEADER) {
                for (int from_source = 0; from_source < 2; from_source++)
                        if (mig_record_parse(data, RAM, from_source, &r, err, sizeof err) == 0)
                                CHECK(mig_record_payload(&r) <= (from_source ? MIG_PAGES_MAX : MIG_TEXT_MAX) ||
                                      r.type == MIG_ZERO);
                uint64_t span;
                bool end;
                if (mig_state_section_span(data, &span, &end, err, sizeof err) == 0)
                        CHECK(span >= VMSTATE_SECTION_HEADER_SIZE && span % 8 == 0);
        }
        return 0;
}
