// SPDX-License-Identifier: MIT
/* What vmms tells systemd and systemd-machined about a worker's scope
 * (docs/vmms.md "Processor limit"): its memory bound and the name and
 * machine ID machined lists the VM under. Pure, unit-tested
 * (tests/unit/test-vmms-processor.c). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "vmms/processor.h"

uint64_t vmms_scope_memory_high(const struct vm_config *c, uint64_t reach_mib) {
        uint64_t ram = vm_dm_reach_mib(c);
        if (reach_mib > ram)
                ram = reach_mib;
        uint64_t mib = ram + VMMS_WORKER_OVERHEAD_BASE_MIB + (uint64_t)c->vcpus * VMMS_WORKER_OVERHEAD_VCPU_MIB +
                       (ram + VMMS_WORKER_OVERHEAD_RAM_DIV - 1) / VMMS_WORKER_OVERHEAD_RAM_DIV +
                       ((uint64_t)c->n_disks + c->n_nics) * VMMS_WORKER_OVERHEAD_DEVICE_MIB;
        if (c->display.enabled)
                mib += VMMS_WORKER_OVERHEAD_VRAM_MIB;
        return mib << 20;
}

/* systemd's machine_name_is_valid(): hostname_is_valid() of
 * src/basic/hostname-util.c (252): labels of letters, digits and '-',
 * joined by single dots, no '-' or '.' at either end, 64 at most. */
static bool machine_name_is_valid(const char *s) {
        size_t n = strlen(s);
        bool dot = true, hyphen = true; /* as if after a dot: no leading '.' or '-' */
        if (n == 0 || n > 64)
                return false;
        for (const char *p = s; *p; p++) {
                if (*p == '.') {
                        if (dot || hyphen)
                                return false;
                        dot = true;
                        hyphen = false;
                } else if (*p == '-') {
                        if (dot)
                                return false;
                        hyphen = true;
                } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) {
                        dot = hyphen = false;
                } else {
                        return false;
                }
        }
        return !dot && !hyphen;
}

int vmms_machine_name(const char *name, const char *id, char *out, size_t len) {
        int n = machine_name_is_valid(name) ? snprintf(out, len, "%s", name)
                                            : snprintf(out, len, "vmstack-%.8s", id);
        return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

static int hex_digit(char ch) {
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

int vmms_machine_id_bytes(const char *id, uint8_t out[16]) {
        size_t i = 0;
        for (const char *p = id; *p; p++) {
                if (*p == '-' && (p - id == 8 || p - id == 13 || p - id == 18 || p - id == 23))
                        continue;
                int hi = hex_digit(p[0]), lo = hi < 0 ? -1 : hex_digit(p[1]);
                if (hi < 0 || lo < 0 || i == 16)
                        return -EINVAL;
                out[i++] = (uint8_t)(hi << 4 | lo);
                p++;
        }
        return i == 16 && strlen(id) == 36 ? 0 : -EINVAL;
}

_Static_assert(IFNAMSIZ == 16, "vmms/processor.h takes TAP names as char[16]");

uint32_t vmms_machine_ifindices(const char (*names)[16], uint32_t n, int32_t *out) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
                unsigned idx = names[i][0] ? if_nametoindex(names[i]) : 0;
                if (idx > 0 && idx <= INT32_MAX)
                        out[k++] = (int32_t)idx;
        }
        return k;
}
