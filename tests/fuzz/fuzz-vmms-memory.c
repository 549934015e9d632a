// SPDX-License-Identifier: MIT
/* Dynamic Memory in vmms (vmms/dm/balancer.c): any bytes as a worker's
 * "memory" event (what parses is in range), and as the balancer's input
 * (every target within its VM's minimum and maximum, and the VMs together
 * never get more than they have plus what the host has free). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take(const uint8_t **p, size_t *left, unsigned bytes) {
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes && *left; i++, (*p)++, (*left)--)
                v |= (uint64_t)**p << (8 * i);
        return v;
}

static void status(const uint8_t *data, size_t size) {
        json_tokener *tok = json_tokener_new_ex(16);
        if (!tok)
                return;
        struct json_object *o = json_tokener_parse_ex(tok, (const char *)data, (int)MIN(size, (size_t)INT32_MAX));
        json_tokener_free(tok);
        struct vmms_dm_status s;
        if (o && vmms_dm_status_parse(o, &s) == 0 &&
            (s.assigned > s.maximum || s.maximum > VMMS_DM_BYTES_MAX || s.assigned % 4096 ||
             !memchr(s.note, 0, sizeof s.note) || !memchr(s.operation, 0, sizeof s.operation)))
                abort();
        json_object_put(o);
}

#define VMS_MAX 16

static void balance(const uint8_t *p, size_t left) {
        struct vmms_dm_vm v[VMS_MAX] = { 0 };
        uint64_t t[VMS_MAX] = { 0 };
        int64_t host_free = (int64_t)take(&p, &left, 8);
        size_t n = take(&p, &left, 1) % (VMS_MAX + 1);
        for (size_t i = 0; i < n; i++) {
                uint64_t a = take(&p, &left, 6) << 12, b = take(&p, &left, 6) << 12;
                v[i] = (struct vmms_dm_vm){
                        .minimum = MIN(a, b), .maximum = MAX(a, b),
                        .buffer_percent = 5 + (uint32_t)(take(&p, &left, 2) % 1996),
                        .weight = (uint32_t)(take(&p, &left, 2) % 10001),
                        .manual = take(&p, &left, 1) & 1 ? take(&p, &left, 6) << 12 : 0,
                        .reported = take(&p, &left, 1) & 1,
                        .assigned = take(&p, &left, 6) << 12,
                        .demand = take(&p, &left, 8),
                };
        }
        vmms_dm_balance(v, n, host_free, t);
        /* 128 bits: 16 sizes of up to 2^60 each (the input's, beyond
         * VMMS_DM_BYTES_MAX) overflowed 64 and failed a balance that was
         * right (regress-sum-overflow in the corpus). */
        unsigned __int128 had = 0, got = 0;
        for (size_t i = 0; i < n; i++) {
                if (t[i] < v[i].minimum || t[i] > v[i].maximum)
                        abort();
                had += MAX(MIN(v[i].assigned, VMMS_DM_BYTES_MAX), v[i].minimum);
                got += t[i];
        }
        if (got > had + (uint64_t)MAX(MIN(host_free, (int64_t)VMMS_DM_BYTES_MAX), 0))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        status(data, size);
        balance(data, size);
        return 0;
}
