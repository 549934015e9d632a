// SPDX-License-Identifier: MIT
/* Metering's pure half (vmms/metering.h): a worker's "stats" reply read
 * into a sample, /proc/PID/stat's CPU time, and the arithmetic of totals
 * (a - b, acc + d). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/metering.h"

/* o's key as a counter: absent is 0; anything but a non-negative integer
 * is -EINVAL. */
static int counter(struct json_object *o, const char *key, uint64_t *out) {
        struct json_object *v;
        *out = 0;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        int64_t n = json_object_get_int64(v);
        if (n < 0)
                return -EINVAL;
        *out = (uint64_t)n;
        return 0;
}

/* An array under key (absent: n = 0), at most max entries. */
static int array(struct json_object *stats, const char *key, size_t max, struct json_object **a, size_t *n) {
        *n = 0;
        *a = NULL;
        if (!json_object_object_get_ex(stats, key, a))
                return 0;
        if (!json_object_is_type(*a, json_type_array) || json_object_array_length(*a) > max)
                return -EINVAL;
        *n = json_object_array_length(*a);
        return 0;
}

static int parse_vcpus(struct json_object *stats, struct vmms_meter_sample *s) {
        struct json_object *a;
        size_t n;
        int r = array(stats, "vcpu_cpu_ns", VM_VCPUS_MAX, &a, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                struct json_object *v = json_object_array_get_idx(a, i);
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                        return -EINVAL;
                s->vcpu_ns[i] = (uint64_t)json_object_get_int64(v);
        }
        s->n_vcpus = (unsigned)n;
        return r;
}

static int parse_disks(struct json_object *stats, struct vmms_meter_sample *s) {
        struct json_object *a;
        size_t n;
        bool seen[VM_DISKS_MAX] = { false };
        int r = array(stats, "disk_io", VM_DISKS_MAX, &a, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                struct json_object *o = json_object_array_get_idx(a, i);
                uint64_t idx;
                if (!json_object_is_type(o, json_type_object) || counter(o, "index", &idx) < 0 ||
                    idx >= VM_DISKS_MAX || seen[idx])
                        return -EINVAL;
                seen[idx] = true;
                struct vmms_meter_disk *d = &s->disks[idx];
                if (counter(o, "read_bytes", &d->read_bytes) < 0 || counter(o, "write_bytes", &d->write_bytes) < 0 ||
                    counter(o, "read_ops", &d->read_ops) < 0 || counter(o, "write_ops", &d->write_ops) < 0 ||
                    counter(o, "flush_ops", &d->flush_ops) < 0 ||
                    counter(o, "read_latency_ns", &d->read_latency_ns) < 0 ||
                    counter(o, "write_latency_ns", &d->write_latency_ns) < 0)
                        return -EINVAL;
                s->n_disks = MAX(s->n_disks, (unsigned)idx + 1);
        }
        return r;
}

static int parse_nics(struct json_object *stats, struct vmms_meter_sample *s) {
        struct json_object *a;
        size_t n;
        int r = array(stats, "nics", VM_NICS_MAX, &a, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                struct json_object *o = json_object_array_get_idx(a, i);
                struct vmms_meter_nic *c = &s->nics[i];
                if (!json_object_is_type(o, json_type_object) || counter(o, "rx_bytes", &c->rx_bytes) < 0 ||
                    counter(o, "tx_bytes", &c->tx_bytes) < 0 || counter(o, "rx_packets", &c->rx_packets) < 0 ||
                    counter(o, "tx_packets", &c->tx_packets) < 0 || counter(o, "rx_dropped", &c->rx_dropped) < 0 ||
                    counter(o, "tx_dropped", &c->tx_dropped) < 0)
                        return -EINVAL;
        }
        s->n_nics = (unsigned)n;
        return r;
}

int vmms_meter_parse(struct json_object *stats, struct vmms_meter_sample *out) {
        memset(out, 0, sizeof *out);
        if (!json_object_is_type(stats, json_type_object))
                return -EINVAL;
        int r = parse_vcpus(stats, out);
        if (r >= 0)
                r = parse_disks(stats, out);
        if (r >= 0)
                r = parse_nics(stats, out);
        if (r < 0)
                memset(out, 0, sizeof *out);
        return r;
}

int vmms_meter_proc_cpu_parse(const char *text, size_t len, uint64_t ticks_per_s, uint64_t *ns) {
        char buf[1024];
        if (len == 0 || len >= sizeof buf || ticks_per_s == 0)
                return -EINVAL;
        memcpy(buf, text, len);
        buf[len] = 0;
        /* "pid (comm) state ppid ...": comm may hold spaces and parentheses,
         * so the fields start after the last ')'. utime and stime are
         * fields 14 and 15 (proc(5)), the 12th and 13th after it. */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EINVAL;
        p++;
        unsigned long long f[13];
        for (int i = 0; i < 13; i++) {
                char *end;
                while (*p == ' ')
                        p++;
                if (i == 0) { /* the state: one letter */
                        if (!*p)
                                return -EINVAL;
                        p++;
                        f[i] = 0;
                        continue;
                }
                errno = 0;
                f[i] = strtoull(p, &end, 10);
                if (end == p || errno || (*end != ' ' && *end != '\n' && *end))
                        return -EINVAL;
                p = end;
        }
        unsigned long long ticks = f[11] + f[12];
        if (ticks < f[11] || ticks > UINT64_MAX / (1000000000ull / ticks_per_s + 1))
                return -EINVAL;
        *ns = (uint64_t)ticks * (1000000000ull / ticks_per_s);
        return 0;
}

static uint64_t sub1(uint64_t a, uint64_t b) {
        return a >= b ? a - b : a;
}

static uint64_t add1(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Disk and NIC counters are structs of uint64_t only, walked as arrays. */
_Static_assert(sizeof(struct vmms_meter_disk) == 7 * sizeof(uint64_t), "no padding");
_Static_assert(sizeof(struct vmms_meter_nic) == 6 * sizeof(uint64_t), "no padding");

static void each_counter(struct vmms_meter_sample *out, const struct vmms_meter_sample *a,
                         const struct vmms_meter_sample *b, uint64_t (*op)(uint64_t, uint64_t)) {
        out->worker_cpu_ns = op(a->worker_cpu_ns, b->worker_cpu_ns);
        for (size_t i = 0; i < VM_VCPUS_MAX; i++)
                out->vcpu_ns[i] = op(a->vcpu_ns[i], b->vcpu_ns[i]);
        const uint64_t *da = (const uint64_t *)a->disks, *db = (const uint64_t *)b->disks;
        uint64_t *dout = (uint64_t *)out->disks;
        for (size_t i = 0; i < VM_DISKS_MAX * (sizeof(struct vmms_meter_disk) / sizeof(uint64_t)); i++)
                dout[i] = op(da[i], db[i]);
        const uint64_t *na = (const uint64_t *)a->nics, *nb = (const uint64_t *)b->nics;
        uint64_t *nout = (uint64_t *)out->nics;
        for (size_t i = 0; i < VM_NICS_MAX * (sizeof(struct vmms_meter_nic) / sizeof(uint64_t)); i++)
                nout[i] = op(na[i], nb[i]);
}

void vmms_meter_sub(const struct vmms_meter_sample *a, const struct vmms_meter_sample *b,
                    struct vmms_meter_sample *out) {
        struct vmms_meter_sample r = { .at_us = a->at_us, .n_vcpus = a->n_vcpus, .n_disks = a->n_disks,
                                       .n_nics = a->n_nics };
        each_counter(&r, a, b, sub1);
        *out = r;
}

static uint64_t max1(uint64_t a, uint64_t b) {
        return MAX(a, b);
}

void vmms_meter_max(struct vmms_meter_sample *acc, const struct vmms_meter_sample *d) {
        each_counter(acc, acc, d, max1);
        acc->n_vcpus = MAX(acc->n_vcpus, d->n_vcpus);
        acc->n_disks = MAX(acc->n_disks, d->n_disks);
        acc->n_nics = MAX(acc->n_nics, d->n_nics);
        acc->at_us = MAX(acc->at_us, d->at_us);
}

void vmms_meter_add(struct vmms_meter_sample *acc, const struct vmms_meter_sample *d) {
        each_counter(acc, acc, d, add1);
        acc->n_vcpus = MAX(acc->n_vcpus, d->n_vcpus);
        acc->n_disks = MAX(acc->n_disks, d->n_disks);
        acc->n_nics = MAX(acc->n_nics, d->n_nics);
        acc->at_us = MAX(acc->at_us, d->at_us);
}

static int add_u64(struct json_object *o, const char *key, uint64_t v) {
        struct json_object *n = json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
        return n && json_object_object_add(o, key, n) == 0 ? 0 : (json_object_put(n), -ENOMEM);
}

static int add_array(struct json_object *o, const char *key, struct json_object **a) {
        *a = json_object_new_array();
        return *a && json_object_object_add(o, key, *a) == 0 ? 0 : (json_object_put(*a), -ENOMEM);
}

static int disk_to_json(struct json_object *a, unsigned i, const struct vmms_meter_disk *d) {
        struct json_object *o = json_object_new_object();
        if (!o || json_object_array_add(a, o) < 0)
                return json_object_put(o), -ENOMEM;
        int r = add_u64(o, "index", i);
        static const char *const names[] = { "read_bytes", "write_bytes", "read_ops", "write_ops",
                                             "flush_ops", "read_latency_ns", "write_latency_ns" };
        const uint64_t *v = (const uint64_t *)d;
        for (size_t k = 0; r >= 0 && k < ARRAY_SIZE(names); k++)
                r = add_u64(o, names[k], v[k]);
        return r;
}

static int nic_to_json(struct json_object *a, const struct vmms_meter_nic *c) {
        struct json_object *o = json_object_new_object();
        if (!o || json_object_array_add(a, o) < 0)
                return json_object_put(o), -ENOMEM;
        static const char *const names[] = { "rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_dropped",
                                             "tx_dropped" };
        const uint64_t *v = (const uint64_t *)c;
        int r = 0;
        for (size_t k = 0; r >= 0 && k < ARRAY_SIZE(names); k++)
                r = add_u64(o, names[k], v[k]);
        return r;
}

_Static_assert(offsetof(struct vmms_meter_disk, write_latency_ns) == 6 * sizeof(uint64_t), "disk_to_json's order");
_Static_assert(offsetof(struct vmms_meter_nic, tx_dropped) == 5 * sizeof(uint64_t), "nic_to_json's order");

struct json_object *vmms_meter_to_json(const struct vmms_meter_sample *s) {
        struct json_object *o = json_object_new_object(), *a;
        int r = o ? 0 : -ENOMEM;
        if (r >= 0)
                r = add_u64(o, "at_us", s->at_us);
        if (r >= 0)
                r = add_u64(o, "worker_cpu_ns", s->worker_cpu_ns);
        if (r >= 0 && (r = add_array(o, "vcpu_cpu_ns", &a)) >= 0)
                for (unsigned i = 0; r >= 0 && i < s->n_vcpus && i < VM_VCPUS_MAX; i++) {
                        struct json_object *n = json_object_new_int64(
                                s->vcpu_ns[i] > INT64_MAX ? INT64_MAX : (int64_t)s->vcpu_ns[i]);
                        r = n && json_object_array_add(a, n) == 0 ? 0 : (json_object_put(n), -ENOMEM);
                }
        if (r >= 0 && (r = add_array(o, "disk_io", &a)) >= 0)
                for (unsigned i = 0; r >= 0 && i < s->n_disks && i < VM_DISKS_MAX; i++)
                        r = disk_to_json(a, i, &s->disks[i]);
        if (r >= 0 && (r = add_array(o, "nics", &a)) >= 0)
                for (unsigned i = 0; r >= 0 && i < s->n_nics && i < VM_NICS_MAX; i++)
                        r = nic_to_json(a, &s->nics[i]);
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int vmms_meter_from_json(struct json_object *o, struct vmms_meter_sample *out) {
        int r = vmms_meter_parse(o, out);
        if (r >= 0 && (counter(o, "at_us", &out->at_us) < 0 || counter(o, "worker_cpu_ns", &out->worker_cpu_ns) < 0))
                r = -EINVAL;
        if (r < 0)
                memset(out, 0, sizeof *out);
        return r;
}
