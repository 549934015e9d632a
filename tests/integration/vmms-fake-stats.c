// SPDX-License-Identifier: MIT
/* The fake worker's answer to "stats" (docs/vmwp.md): the counters
 * metering reads (vcpu_cpu_ns, disk_io, nics), made from the number of
 * "stats" requests answered so far, k, so that a test can tell what vmms
 * did with them: each disk has written 4096 bytes and read 512 per write
 * and read op, k of each, with 1 ms per request; each vCPU used 10 ms per
 * k; each NIC moved 1500 bytes in and 1000 out per packet, k of each, and
 * dropped k/2 each way. The exit event carries one more step as its
 * "stats", as vmwp's carries its final counters. fake.stats_bad: a reply metering must refuse (a
 * negative counter). */
#include <json-c/json.h>

#include "vmms-fake-stats.h"

static void put(json_object *o, const char *k, uint64_t v) {
        json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

void fake_stats_fill(json_object *m, uint64_t k, unsigned vcpus, unsigned disks, unsigned nics, bool bad) {
        json_object *cpu = json_object_new_array(), *da = json_object_new_array(), *na = json_object_new_array();
        for (unsigned i = 0; i < vcpus; i++)
                json_object_array_add(cpu, json_object_new_int64(bad ? -1 : (int64_t)(k * 10000000ull)));
        for (unsigned i = 0; i < disks; i++) {
                json_object *o = json_object_new_object();
                put(o, "index", i);
                put(o, "write_bytes", 4096 * k), put(o, "write_ops", k);
                put(o, "read_bytes", 512 * k), put(o, "read_ops", k);
                put(o, "flush_ops", k);
                put(o, "read_latency_ns", 1000000 * k), put(o, "write_latency_ns", 1000000 * k);
                json_object_array_add(da, o);
        }
        for (unsigned i = 0; i < nics; i++) {
                json_object *o = json_object_new_object();
                put(o, "rx_bytes", 1500 * k), put(o, "rx_packets", k), put(o, "rx_dropped", k / 2);
                put(o, "tx_bytes", 1000 * k), put(o, "tx_packets", k), put(o, "tx_dropped", k / 2);
                json_object_array_add(na, o);
        }
        json_object_object_add(m, "vcpu_cpu_ns", cpu);
        json_object_object_add(m, "disk_io", da);
        json_object_object_add(m, "nics", na);
        put(m, "exits", k);
}
