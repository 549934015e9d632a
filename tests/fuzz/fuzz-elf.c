// SPDX-License-Identifier: MIT
/* The ELF/PVH loader on arbitrary images (a kernel file is untrusted input
 * for the worker): parse, bounds-check and load into a 4 MiB fake RAM. A
 * successful load must have an entry inside a loaded segment and must never
 * write outside RAM. */
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
        struct boot_entry e;
        char err[256];
        if (boot_pvh_load(&req, &g, &e, err, sizeof err) == 0) {
                struct boot_elf_info info;
                if (boot_elf_parse(data, size, &info, err, sizeof err) != 0 || e.rip != info.pvh_entry)
                        abort();
        } else if (!err[0]) {
                abort(); /* every failure explains itself */
        }
        return 0;
}
