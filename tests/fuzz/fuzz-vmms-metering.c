// SPDX-License-Identifier: MIT
/* Metering in vmms (vmms/metering/sample.c, document.c,
 * vmms/shared/metrics-prom.c): any bytes as a worker's "stats" reply (what
 * parses stays within a VM's limits), the document and the Prometheus text
 * made from it (never a crash, every line ends), as vmms's metering file
 * (a sample read back survives its own JSON), and as /proc/PID/stat. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/metering.h"
#include "vmms/metrics-prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exposition(const struct vmms_meter_sample *s) {
        struct vmms_meter_view v = { .name = "vm\"\\\n", .id = "", .state = "Running", .total = s, .now = s };
        struct json_object *doc = vmms_meter_document(&v);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (doc && f && (vmms_metrics_prom_write(f, &doc, 1) < 0))
                abort();
        if (f)
                fclose(f);
        if (buf && len && buf[len - 1] != '\n')
                abort();
        free(buf);
        json_object_put(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint64_t ns;
        (void)vmms_meter_proc_cpu_parse((const char *)data, size, 100, &ns);
        json_tokener *tok = json_tokener_new_ex(16);
        if (!tok)
                return 0;
        struct json_object *o = json_tokener_parse_ex(tok, (const char *)data, (int)MIN(size, (size_t)INT32_MAX));
        json_tokener_free(tok);
        struct vmms_meter_sample *s = malloc(sizeof *s);
        if (s && o && vmms_meter_parse(o, s) == 0) {
                if (s->n_vcpus > VM_VCPUS_MAX || s->n_disks > VM_DISKS_MAX || s->n_nics > VM_NICS_MAX)
                        abort();
                exposition(s);
        }
        /* as vmms's own file (metering/persist.c): what reads back writes
         * and reads again to the same sample */
        struct vmms_meter_sample *t = malloc(sizeof *t);
        if (s && t && o && vmms_meter_from_json(o, s) == 0) {
                struct json_object *again = vmms_meter_to_json(s);
                if (again && (vmms_meter_from_json(again, t) < 0 || memcmp(s, t, sizeof *s)))
                        abort();
                json_object_put(again);
        }
        free(t);
        free(s);
        json_object_put(o);
        return 0;
}
