// SPDX-License-Identifier: MIT
/* Fuzz the firmware's debug port (emu/debugcon.c): any bytes. Checks:
 * every line handed out is printable ASCII of at most DEBUGCON_LINE_MAX
 * characters, and the bytes taken never pass DEBUGCON_BUDGET (the rest is
 * counted as dropped, exactly). The input is repeated so that the budget
 * is reached. Each line also goes through a firmware VM's boot status
 * (vmwp_firmware_boot_line, vmwp/vm-firmware.c): it leaves "firmware"
 * at most once and never changes after, a valid name for each. */
#include <string.h>

#include "emu/debugcon.h"
#include "tests/fuzz/fuzz-check.h"
#include "vmwp/vm.h"

static size_t lines;
static enum vmwp_boot_status boot;
static unsigned boot_changes;

static void line(void *opaque, const char *s) {
        size_t n = strlen(s);
        CHECK(n <= DEBUGCON_LINE_MAX);
        for (size_t i = 0; i < n; i++)
                CHECK(s[i] >= 0x20 && s[i] < 0x7f);
        lines++;
        enum vmwp_boot_status next = vmwp_firmware_boot_line(boot, s);
        CHECK(boot == VMWP_BOOT_FIRMWARE || next == boot);
        CHECK(vmwp_boot_status_name(next)[0]);
        boot_changes += next != boot;
        boot = next;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        struct debugcon d;
        boot = VMWP_BOOT_FIRMWARE;
        boot_changes = 0;
        debugcon_init(&d, line, NULL);
        uint64_t total = 0;
        unsigned rounds = size ? (unsigned)(DEBUGCON_BUDGET / size) + 2 : 0;
        if (rounds > 64)
                rounds = 64;
        for (unsigned r = 0; r < rounds; r++)
                for (size_t i = 0; i < size; i++, total++)
                        debugcon_put(&d, in[i]);
        CHECK(d.bytes <= DEBUGCON_BUDGET);
        CHECK(d.bytes + d.dropped == total);
        CHECK(boot_changes <= 1);
        debugcon_destroy(&d);
        return 0;
}
