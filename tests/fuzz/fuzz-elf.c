// SPDX-License-Identifier: MIT
/* The ELF/PVH loader on arbitrary images (a kernel file is untrusted input
 * for the worker): parse, bounds-check and load into a 4 MiB fake RAM. A
 * successful load must have an entry inside a loaded segment and must never
 * write outside RAM; an initrd must not overlap a loaded segment. */
#include <stdlib.h>
#include <string.h>

#include "vmwp/boot.h"

#define RAM (4u << 20)
static uint8_t ram[RAM];

static int fuzz_write(void *opaque, uint64_t gpa, const void *buf, size_t len) {
        if (gpa > RAM || len > RAM - gpa)
                abort(); /* the loader must have checked */
        memcpy(ram + gpa, buf, len);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct boot_guest g = { .write = fuzz_write, .n_ram = 1, .ram = { { 0, RAM } } };
        struct boot_request req = { .image = data, .image_len = size, .cmdline = "console=ttyS0",
                                    .rsdp_gpa = 0xe0000 };
        /* Half of the inputs also carry an initrd (the image's own bytes,
         * its size chosen by the last byte, up to all of RAM), so that its
         * placement is fuzzed against the segments. */
        if (size > 0 && (data[size - 1] & 1)) {
                req.initrd = data;
                req.initrd_len = (size_t)data[size - 1] << 14;
                if (req.initrd_len > size)
                        req.initrd_len = size;
        }
        struct boot_entry e;
        char err[256];
        if (boot_pvh_load(&req, &g, &e, err, sizeof err) == 0) {
                struct boot_elf_info info;
                if (boot_elf_parse(data, size, &info, err, sizeof err) != 0 || e.rip != info.pvh_entry)
                        abort();
                if (req.initrd) {
                        uint64_t at;
                        memcpy(&at, ram + BOOT_PVH_MODLIST_GPA, sizeof at);
                        for (size_t i = 0; i < info.n_segments; i++)
                                if (at < info.seg[i].paddr + info.seg[i].memsz &&
                                    info.seg[i].paddr < at + req.initrd_len)
                                        abort();
                }
        } else if (!err[0]) {
                abort(); /* every failure explains itself */
        }
        return 0;
}
