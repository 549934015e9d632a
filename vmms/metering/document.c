// SPDX-License-Identifier: MIT
/* The GetMetrics document (docs/metering.md "GetMetrics"): the totals
 * since the reset, and the rates over the window between two samples.
 * Pure (vmms/metering.h). */
#include <json-c/json.h>
#include <stddef.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/metering.h"

static void put_u(struct json_object *o, const char *k, uint64_t v) {
        json_object_object_add(o, k, json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v));
}

/* A rate per second with the window in ns; 0 without a window. */
static double per_s(uint64_t now, uint64_t then, uint64_t window_ns) {
        if (!window_ns || now < then)
                return 0;
        return (double)(now - then) * 1e9 / (double)window_ns;
}

static void put_rate(struct json_object *o, const char *k, uint64_t now, uint64_t then, uint64_t window_ns) {
        json_object_object_add(o, k, json_object_new_double(per_s(now, then, window_ns)));
}

struct window {
        const struct vmms_meter_sample *now, *then;
        uint64_t ns;
};

static struct json_object *cpu(const struct vmms_meter_view *v, const struct window *w) {
        struct json_object *c = json_object_new_object(), *a = json_object_new_array();
        if (!c || !a) {
                json_object_put(c);
                json_object_put(a);
                return NULL;
        }
        uint64_t total = 0, now_sum = 0, then_sum = 0;
        for (unsigned i = 0; i < v->total->n_vcpus; i++) {
                struct json_object *o = json_object_new_object();
                if (!o)
                        break;
                put_u(o, "vcpu", i);
                put_u(o, "ns", v->total->vcpu_ns[i]);
                total += v->total->vcpu_ns[i];
                uint64_t n = w->now ? w->now->vcpu_ns[i] : 0, t = w->then ? w->then->vcpu_ns[i] : 0;
                now_sum += n, then_sum += t;
                json_object_object_add(o, "use_percent", json_object_new_double(100 * per_s(n, t, w->ns) / 1e9));
                json_object_array_add(a, o);
        }
        put_u(c, "total_ns", total);
        put_u(c, "worker_ns", v->total->worker_cpu_ns);
        unsigned n_vcpus = v->total->n_vcpus ? v->total->n_vcpus : 1;
        /* 100: every vCPU busy all the window (Hyper-V's "average CPU use") */
        json_object_object_add(c, "use_percent",
                               json_object_new_double(100 * per_s(now_sum, then_sum, w->ns) / 1e9 / n_vcpus));
        /* the worker process, of one host core: vCPUs and device threads */
        json_object_object_add(c, "worker_use_percent",
                               json_object_new_double(w->now ? 100 * per_s(w->now->worker_cpu_ns,
                                                                            w->then->worker_cpu_ns, w->ns) / 1e9
                                                             : 0));
        json_object_object_add(c, "vcpus", a);
        return c;
}

/* A counter of a disk's or a NIC's struct (uint64_t fields) and the key of
 * its rate per second over the window (NULL: none). */
struct counter {
        const char *key, *rate_key;
        size_t off;
};

#define DISK_COUNTER(f, rate) { #f, rate, offsetof(struct vmms_meter_disk, f) }
static const struct counter disk_counters[] = {
        DISK_COUNTER(read_bytes, "read_bytes_per_s"), DISK_COUNTER(write_bytes, "write_bytes_per_s"),
        DISK_COUNTER(read_ops, "read_ops_per_s"),     DISK_COUNTER(write_ops, "write_ops_per_s"),
        DISK_COUNTER(flush_ops, NULL),                DISK_COUNTER(read_latency_ns, NULL),
        DISK_COUNTER(write_latency_ns, NULL),
};

#define NIC_COUNTER(f, rate) { #f, rate, offsetof(struct vmms_meter_nic, f) }
static const struct counter nic_counters[] = {
        NIC_COUNTER(rx_bytes, "rx_bytes_per_s"),     NIC_COUNTER(tx_bytes, "tx_bytes_per_s"),
        NIC_COUNTER(rx_packets, "rx_packets_per_s"), NIC_COUNTER(tx_packets, "tx_packets_per_s"),
        NIC_COUNTER(rx_dropped, NULL),               NIC_COUNTER(tx_dropped, NULL),
};

static uint64_t counter_of(const void *s, const struct counter *c) {
        uint64_t v;
        memcpy(&v, (const char *)s + c->off, sizeof v);
        return v;
}

/* One entry of "disks" or "nics": its index, its label, the totals, then
 * the rates between the window's samples (now, then). */
static struct json_object *device_entry(unsigned i, const char *label_key, const char *label,
                                        const struct counter *c, size_t n, const void *total, const void *now,
                                        const void *then, uint64_t window_ns) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        put_u(o, "index", i);
        json_object_object_add(o, label_key, json_object_new_string(label ? label : ""));
        for (size_t k = 0; k < n; k++)
                put_u(o, c[k].key, counter_of(total, &c[k]));
        for (size_t k = 0; k < n; k++)
                if (c[k].rate_key)
                        put_rate(o, c[k].rate_key, counter_of(now, &c[k]), counter_of(then, &c[k]), window_ns);
        return o;
}

static struct json_object *disk(const struct vmms_meter_view *v, const struct window *w, unsigned i) {
        static const struct vmms_meter_disk zero;
        return device_entry(i, "path", v->disk_paths ? v->disk_paths[i] : NULL, disk_counters,
                            ARRAY_SIZE(disk_counters), &v->total->disks[i], w->now ? &w->now->disks[i] : &zero,
                            w->then ? &w->then->disks[i] : &zero, w->ns);
}

static struct json_object *nic(const struct vmms_meter_view *v, const struct window *w, unsigned i) {
        static const struct vmms_meter_nic zero;
        return device_entry(i, "mac", v->nic_macs ? v->nic_macs[i] : NULL, nic_counters, ARRAY_SIZE(nic_counters),
                            &v->total->nics[i], w->now ? &w->now->nics[i] : &zero,
                            w->then ? &w->then->nics[i] : &zero, w->ns);
}

static int add_list(struct json_object *doc, const char *key, unsigned n, const struct vmms_meter_view *v,
                    const struct window *w, struct json_object *(*one)(const struct vmms_meter_view *,
                                                                       const struct window *, unsigned)) {
        struct json_object *a = json_object_new_array();
        if (!a)
                return -1;
        json_object_object_add(doc, key, a);
        for (unsigned i = 0; i < n; i++) {
                struct json_object *o = one(v, w, i);
                if (!o || json_object_array_add(a, o) < 0)
                        return -1;
        }
        return 0;
}

struct json_object *vmms_meter_document(const struct vmms_meter_view *v) {
        struct window w = { 0 };
        if (v->now && v->then && v->now->at_us > v->then->at_us)
                w = (struct window){ v->now, v->then, (v->now->at_us - v->then->at_us) * 1000 };
        struct json_object *doc = json_object_new_object(), *mem = json_object_new_object();
        if (!doc || !mem) {
                json_object_put(doc);
                json_object_put(mem);
                return NULL;
        }
        json_object_object_add(doc, "name", json_object_new_string(v->name));
        json_object_object_add(doc, "id", json_object_new_string(v->id));
        json_object_object_add(doc, "state", json_object_new_string(v->state));
        put_u(doc, "uptime_us", v->uptime_us);
        put_u(doc, "reset_at_us", v->reset_at_us);
        put_u(doc, "sampled_at_us", v->sampled_at_us);
        json_object_object_add(doc, "window_s", json_object_new_double((double)w.ns / 1e9));
        put_u(mem, "assigned_bytes", v->memory_assigned);
        put_u(mem, "demand_bytes", v->memory_demand);
        json_object_object_add(doc, "memory", mem);
        struct json_object *c = cpu(v, &w);
        if (!c || json_object_object_add(doc, "cpu", c) < 0 ||
            add_list(doc, "disks", v->total->n_disks, v, &w, disk) < 0 ||
            add_list(doc, "nics", v->total->n_nics, v, &w, nic) < 0) {
                json_object_put(doc);
                return NULL;
        }
        return doc;
}
