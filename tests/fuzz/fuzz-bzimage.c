// SPDX-License-Identifier: MIT
/* The bzImage header parser and loader on arbitrary images, into a 24 MiB
 * fake RAM: no write outside RAM, every failure explained, and a success
 * leaves the entry above 1 MiB + 0x200 with boot_params at the zero page. */
#include <stdlib.h>
#include <string.h>

#include "vmwp/boot.h"

#define RAM (24u << 20)
static uint8_t *ram;

static int fuzz_write(void *opaque, uint64_t gpa, const void *buf, size_t len) {
        if (gpa > RAM || len > RAM - gpa)
                abort();
        memcpy(ram + gpa, buf, len);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!ram && !(ram = calloc(1, RAM)))
                return 0;
        struct boot_guest g = { .write = fuzz_write, .n_ram = 1, .ram = { { 0, RAM } } };
        /* The input's tail doubles as the initrd, so its placement is fuzzed too. */
        size_t initrd_len = size > 64 ? (size_t)data[size - 1] * 4096 : 0;
        static uint8_t initrd[255 * 4096];
        struct boot_request req = { .image = data, .image_len = size, .cmdline = "console=ttyS0 quiet",
                                    .initrd = initrd_len ? initrd : NULL, .initrd_len = initrd_len,
                                    .rsdp_gpa = 0xe0000 };
        struct boot_entry e;
        char err[256] = "";
        int r = boot_linux_load(&req, &g, &e, err, sizeof err);
        if (r == 0) {
                if (e.rsi != BOOT_ZERO_PAGE_GPA || e.rip < 0x100000 + 0x200)
                        abort();
        } else if (!err[0]) {
                abort();
        }
        return 0;
}
