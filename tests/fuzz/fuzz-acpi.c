// SPDX-License-Identifier: MIT
/* The ACPI builder with fuzzed parameters (vCPU count, ports, sleep type,
 * base, buffer size): it either refuses or produces tables whose checksums
 * are all correct and which stay inside the buffer. */
#include <stdlib.h>
#include <string.h>

#include "vmwp/acpi.h"

static uint8_t buf[ACPI_TABLES_MAX_SIZE];

static uint32_t take(const uint8_t **d, size_t *n, unsigned bytes) {
        uint32_t v = 0;
        for (unsigned i = 0; i < bytes && *n; i++, (*d)++, (*n)--)
                v |= (uint32_t)**d << (8 * i);
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct acpi_config c = {
                .base = take(&data, &size, 4), .n_cpus = take(&data, &size, 1),
                .pm1a_evt_port = (uint16_t)take(&data, &size, 2), .pm1a_cnt_port = (uint16_t)take(&data, &size, 2),
                .pm_tmr_port = (uint16_t)take(&data, &size, 2), .reset_port = (uint16_t)take(&data, &size, 2),
                .reset_value = (uint8_t)take(&data, &size, 1), .slp_typ_s5 = (uint8_t)take(&data, &size, 1),
        };
        uint32_t flags = take(&data, &size, 1);
        c.com1 = flags & 1;
        c.vmbus = flags & 2;
        size_t len = take(&data, &size, 2) * 2u;
        if (len > sizeof buf)
                len = sizeof buf;
        struct acpi_layout l;
        if (acpi_build(&c, buf, len, &l) != 0)
                return 0;
        if (l.size > len || acpi_checksum(buf, 20) != 0 || acpi_checksum(buf, 36) != 0)
                abort();
        for (size_t i = 1; i < l.n_tables; i++) {
                const struct acpi_table_ref *t = &l.tables[i];
                if (t->offset + t->length > l.size)
                        abort();
                if (strcmp(t->sig, "FACS") != 0 && acpi_checksum(buf + t->offset, t->length) != 0)
                        abort();
        }
        return 0;
}
