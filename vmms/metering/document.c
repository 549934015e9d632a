// SPDX-License-Identifier: MIT
/* The GetMetrics document (docs/metering.md "GetMetrics"): the totals
 * since the reset, and the rates over the window between two samples.
 * Pure (vmms/metering.h). */
#include <json-c/json.h>

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

static struct json_object *disk(const struct vmms_meter_view *v, const struct window *w, unsigned i) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        const struct vmms_meter_disk *d = &v->total->disks[i];
        static const struct vmms_meter_disk zero;
        const struct vmms_meter_disk *n = w->now ? &w->now->disks[i] : &zero, *t = w->then ? &w->then->disks[i] : &zero;
        put_u(o, "index", i);
        json_object_object_add(o, "path", json_object_new_string(v->disk_paths && v->disk_paths[i] ? v->disk_paths[i] : ""));
        put_u(o, "read_bytes", d->read_bytes);
        put_u(o, "write_bytes", d->write_bytes);
        put_u(o, "read_ops", d->read_ops);
        put_u(o, "write_ops", d->write_ops);
        put_u(o, "flush_ops", d->flush_ops);
        put_u(o, "read_latency_ns", d->read_latency_ns);
        put_u(o, "write_latency_ns", d->write_latency_ns);
        put_rate(o, "read_bytes_per_s", n->read_bytes, t->read_bytes, w->ns);
        put_rate(o, "write_bytes_per_s", n->write_bytes, t->write_bytes, w->ns);
        put_rate(o, "read_ops_per_s", n->read_ops, t->read_ops, w->ns);
        put_rate(o, "write_ops_per_s", n->write_ops, t->write_ops, w->ns);
        return o;
}

static struct json_object *nic(const struct vmms_meter_view *v, const struct window *w, unsigned i) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        const struct vmms_meter_nic *c = &v->total->nics[i];
        static const struct vmms_meter_nic zero;
        const struct vmms_meter_nic *n = w->now ? &w->now->nics[i] : &zero, *t = w->then ? &w->then->nics[i] : &zero;
        put_u(o, "index", i);
        json_object_object_add(o, "mac", json_object_new_string(v->nic_macs && v->nic_macs[i] ? v->nic_macs[i] : ""));
        put_u(o, "rx_bytes", c->rx_bytes);
        put_u(o, "tx_bytes", c->tx_bytes);
        put_u(o, "rx_packets", c->rx_packets);
        put_u(o, "tx_packets", c->tx_packets);
        put_u(o, "rx_dropped", c->rx_dropped);
        put_u(o, "tx_dropped", c->tx_dropped);
        put_rate(o, "rx_bytes_per_s", n->rx_bytes, t->rx_bytes, w->ns);
        put_rate(o, "tx_bytes_per_s", n->tx_bytes, t->tx_bytes, w->ns);
        put_rate(o, "rx_packets_per_s", n->rx_packets, t->rx_packets, w->ns);
        put_rate(o, "tx_packets_per_s", n->tx_packets, t->tx_packets, w->ns);
        return o;
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
