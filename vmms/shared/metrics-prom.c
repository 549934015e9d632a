// SPDX-License-Identifier: MIT
/* GetMetrics documents as Prometheus text (vmms/metrics-prom.h): one
 * table of metric families, walked family by family so that each
 * family's HELP and TYPE come once, before its samples (the format
 * requires a family's samples together). Only totals are exposed: rates
 * are PromQL's (rate()), and a reset is a counter reset to it. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/metrics-prom.h"

enum scope { PER_VM, PER_VCPU, PER_DISK, PER_NIC };

struct family {
        const char *name, *type, *help;
        enum scope scope;
        const char *obj; /* PER_VM: the object the key is in (NULL: the document) */
        const char *key;
        bool ns; /* nanoseconds shown as seconds */
};

static const struct family families[] = {
        { "vmstack_vm_uptime_seconds", "gauge", "Time the VM's worker has run.", PER_VM, NULL, "uptime_us", false },
        { "vmstack_vm_metering_reset_timestamp_seconds", "gauge",
          "When the VM's metering totals were last reset (Unix time).", PER_VM, NULL, "reset_at_us", false },
        { "vmstack_vm_cpu_seconds_total", "counter", "CPU time of each vCPU thread since the reset.", PER_VCPU, NULL,
          "ns", true },
        { "vmstack_vm_worker_cpu_seconds_total", "counter",
          "CPU time of the VM's worker process (vCPUs and devices) since the reset.", PER_VM, "cpu", "worker_ns",
          true },
        { "vmstack_vm_memory_assigned_bytes", "gauge", "Memory assigned to the VM.", PER_VM, "memory",
          "assigned_bytes", false },
        { "vmstack_vm_memory_demand_bytes", "gauge", "Memory the guest demands (Dynamic Memory; 0: not reported).",
          PER_VM, "memory", "demand_bytes", false },
        { "vmstack_disk_read_bytes_total", "counter", "Bytes read from the virtual disk.", PER_DISK, NULL,
          "read_bytes", false },
        { "vmstack_disk_write_bytes_total", "counter", "Bytes written to the virtual disk.", PER_DISK, NULL,
          "write_bytes", false },
        { "vmstack_disk_read_ops_total", "counter", "Read requests completed.", PER_DISK, NULL, "read_ops", false },
        { "vmstack_disk_write_ops_total", "counter", "Write requests completed.", PER_DISK, NULL, "write_ops", false },
        { "vmstack_disk_flush_ops_total", "counter", "Flush requests completed.", PER_DISK, NULL, "flush_ops", false },
        { "vmstack_disk_read_latency_seconds_total", "counter", "Sum of the read requests' latencies.", PER_DISK,
          NULL, "read_latency_ns", true },
        { "vmstack_disk_write_latency_seconds_total", "counter", "Sum of the write requests' latencies.", PER_DISK,
          NULL, "write_latency_ns", true },
        { "vmstack_nic_receive_bytes_total", "counter", "Bytes the NIC delivered to the guest.", PER_NIC, NULL,
          "rx_bytes", false },
        { "vmstack_nic_transmit_bytes_total", "counter", "Bytes the guest sent through the NIC.", PER_NIC, NULL,
          "tx_bytes", false },
        { "vmstack_nic_receive_packets_total", "counter", "Packets the NIC delivered to the guest.", PER_NIC, NULL,
          "rx_packets", false },
        { "vmstack_nic_transmit_packets_total", "counter", "Packets the guest sent through the NIC.", PER_NIC, NULL,
          "tx_packets", false },
        { "vmstack_nic_receive_drop_total", "counter", "Packets for the guest dropped.", PER_NIC, NULL, "rx_dropped",
          false },
        { "vmstack_nic_transmit_drop_total", "counter", "Packets from the guest dropped.", PER_NIC, NULL,
          "tx_dropped", false },
};

void vmms_metrics_prom_escape(const char *in, char *out, size_t outlen) {
        size_t o = 0;
        if (outlen == 0)
                return;
        for (; in && *in; in++) {
                const char *rep = *in == '\\' ? "\\\\" : *in == '"' ? "\\\"" : *in == '\n' ? "\\n" : NULL;
                size_t n = rep ? 2 : 1;
                if (o + n >= outlen)
                        break;
                if (rep)
                        memcpy(out + o, rep, 2);
                else
                        out[o] = *in;
                o += n;
        }
        out[o] = 0;
}

static struct json_object *get(struct json_object *o, const char *key) {
        struct json_object *v = NULL;
        return o && key && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static uint64_t u64(struct json_object *o, const char *key) {
        int64_t v = json_object_get_int64(get(o, key));
        return v > 0 ? (uint64_t)v : 0;
}

static const char *str(struct json_object *o, const char *key) {
        const char *s = json_object_get_string(get(o, key));
        return s ? s : "";
}

/* One sample: name{labels} value. */
static void sample(FILE *f, const struct family *fam, const char *labels, uint64_t v) {
        if (fam->ns)
                fprintf(f, "%s{%s} %" PRIu64 ".%09" PRIu64 "\n", fam->name, labels, v / 1000000000u, v % 1000000000u);
        else if (!strcmp(fam->key, "uptime_us") || !strcmp(fam->key, "reset_at_us"))
                fprintf(f, "%s{%s} %" PRIu64 ".%06" PRIu64 "\n", fam->name, labels, v / 1000000u, v % 1000000u);
        else
                fprintf(f, "%s{%s} %" PRIu64 "\n", fam->name, labels, v);
}

static void family_of(FILE *f, const struct family *fam, struct json_object *doc) {
        char vm[200], extra[1200], labels[1500];
        vmms_metrics_prom_escape(str(doc, "name"), vm, sizeof vm);
        if (fam->scope == PER_VM) {
                snprintf(labels, sizeof labels, "vm=\"%s\"", vm);
                sample(f, fam, labels, u64(fam->obj ? get(doc, fam->obj) : doc, fam->key));
                return;
        }
        struct json_object *a = fam->scope == PER_VCPU ? get(get(doc, "cpu"), "vcpus")
                                : get(doc, fam->scope == PER_DISK ? "disks" : "nics");
        size_t n = json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                if (fam->scope == PER_VCPU)
                        snprintf(labels, sizeof labels, "vm=\"%s\",vcpu=\"%" PRIu64 "\"", vm, u64(e, "vcpu"));
                else {
                        bool d = fam->scope == PER_DISK;
                        vmms_metrics_prom_escape(str(e, d ? "path" : "mac"), extra, sizeof extra);
                        snprintf(labels, sizeof labels, "vm=\"%s\",%s=\"%" PRIu64 "\",%s=\"%s\"", vm, d ? "disk" : "nic",
                                 u64(e, "index"), d ? "path" : "mac", extra);
                }
                sample(f, fam, labels, u64(e, fam->key));
        }
}

int vmms_metrics_prom_write(FILE *f, struct json_object *const *docs, size_t n) {
        for (size_t k = 0; k < ARRAY_SIZE(families); k++) {
                fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", families[k].name, families[k].help, families[k].name,
                        families[k].type);
                for (size_t i = 0; i < n; i++)
                        family_of(f, &families[k], docs[i]);
        }
        return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
