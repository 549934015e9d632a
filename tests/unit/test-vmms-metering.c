// SPDX-License-Identifier: MIT
/* Metering's pure half (vmms/metering/sample.c, document.c,
 * vmms/shared/metrics-prom.c; docs/metering.md): a worker's "stats" reply
 * read and refused where it lies, /proc/PID/stat's CPU time, totals since
 * a reset across a worker's restart, rates over a window, and the
 * Prometheus exposition (each family's HELP and TYPE once, label values
 * escaped, nanoseconds as seconds), and a sample as the JSON vmms keeps
 * its totals in. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/test.h"
#include "vmms/metering.h"
#include "vmms/metrics-prom.h"

static int parse(const char *text, struct vmms_meter_sample *s) {
        struct json_object *o = json_tokener_parse(text);
        ASSERT_NOT_NULL(o);
        int r = vmms_meter_parse(o, s);
        json_object_put(o);
        return r;
}

static const char *reply_k(unsigned k) {
        static char buf[1024];
        snprintf(buf, sizeof buf,
                 "{\"ok\":true,\"exits\":5,\"vcpu_cpu_ns\":[%u000000,%u000000],"
                 "\"disk_io\":[{\"index\":1,\"read_bytes\":%u,\"write_bytes\":%u,\"read_ops\":%u,\"write_ops\":%u,"
                 "\"flush_ops\":1,\"read_latency_ns\":%u,\"write_latency_ns\":7,\"errors\":0}],"
                 "\"nics\":[{\"rx_bytes\":%u,\"tx_bytes\":%u,\"rx_packets\":%u,\"tx_packets\":3,\"rx_dropped\":1,"
                 "\"tx_dropped\":2,\"link_up\":true}]}",
                 k, 2 * k, 4096 * k, 512 * k, k, k, 1000 * k, 1500 * k, 100 * k, k);
        return buf;
}

TEST(parse_reads_the_counters) {
        struct vmms_meter_sample s;
        ASSERT_OK(parse(reply_k(3), &s));
        ASSERT_EQ(s.n_vcpus, 2u);
        ASSERT_EQ(s.vcpu_ns[0], 3000000u);
        ASSERT_EQ(s.vcpu_ns[1], 6000000u);
        ASSERT_EQ(s.n_disks, 2u); /* disk 1 reported: 0 has no counters */
        ASSERT_EQ(s.disks[0].read_bytes, 0u);
        ASSERT_EQ(s.disks[1].read_bytes, 3 * 4096u);
        ASSERT_EQ(s.disks[1].write_bytes, 3 * 512u);
        ASSERT_EQ(s.disks[1].read_latency_ns, 3000u);
        ASSERT_EQ(s.disks[1].write_latency_ns, 7u);
        ASSERT_EQ(s.n_nics, 1u);
        ASSERT_EQ(s.nics[0].rx_bytes, 4500u);
        ASSERT_EQ(s.nics[0].tx_dropped, 2u);
        ASSERT_OK(parse("{}", &s)); /* an older worker: nothing */
        ASSERT_EQ(s.n_vcpus + s.n_disks + s.n_nics, 0u);
}

TEST(parse_refuses_what_a_worker_may_not_say) {
        struct vmms_meter_sample s;
        ASSERT_ERROR(parse("[]", &s), EINVAL);
        ASSERT_ERROR(parse("{\"vcpu_cpu_ns\":[-1]}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"vcpu_cpu_ns\":[\"1\"]}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"vcpu_cpu_ns\":5}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"disk_io\":[{\"index\":64}]}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"disk_io\":[{\"index\":0},{\"index\":0}]}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"disk_io\":[{\"index\":0,\"read_bytes\":1.5}]}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"nics\":[{},{},{},{},{},{},{},{},{}]}", &s), EINVAL);
        ASSERT_ERROR(parse("{\"nics\":[7]}", &s), EINVAL);
        /* more vCPUs than a VM may have */
        char big[2048] = "{\"vcpu_cpu_ns\":[0";
        for (unsigned i = 0; i < VM_VCPUS_MAX; i++)
                strcat(big, ",0");
        strcat(big, "]}");
        ASSERT_ERROR(parse(big, &s), EINVAL);
        ASSERT_EQ(s.n_vcpus, 0u); /* refused: nothing kept */
}

TEST(proc_stat_cpu_time) {
        /* comm with spaces and a parenthesis; utime 250, stime 50 ticks */
        const char *t = "4242 (vmwp web) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 5 0 12345 "
                        "1000000 100 18446744073709551615\n";
        uint64_t ns = 0;
        ASSERT_OK(vmms_meter_proc_cpu_parse(t, strlen(t), 100, &ns));
        ASSERT_EQ(ns, 3000000000u);
        ASSERT_ERROR(vmms_meter_proc_cpu_parse("4242 vmwp S 1", 13, 100, &ns), EINVAL);
        ASSERT_ERROR(vmms_meter_proc_cpu_parse("1 (a) S 1 2", 11, 100, &ns), EINVAL);
        ASSERT_ERROR(vmms_meter_proc_cpu_parse(t, strlen(t), 0, &ns), EINVAL);
}

/* What vmms keeps on disk (metering/persist.c): a sample as JSON reads
 * back counter for counter, and a file that breaks the worker's rules
 * is refused whole. */
TEST(sample_json_round_trip) {
        struct vmms_meter_sample s, back;
        ASSERT_OK(parse(reply_k(7), &s));
        s.at_us = 123456789;
        s.worker_cpu_ns = 42;
        s.disks[0].write_ops = 9; /* an index the worker did not name: zeros below n_disks travel too */
        struct json_object *o = vmms_meter_to_json(&s);
        ASSERT_NOT_NULL(o);
        ASSERT_OK(vmms_meter_from_json(o, &back));
        json_object_put(o);
        ASSERT_EQ(memcmp(&s, &back, sizeof s), 0);
        struct vmms_meter_sample empty = { 0 };
        o = vmms_meter_to_json(&empty);
        ASSERT_OK(vmms_meter_from_json(o, &back));
        json_object_put(o);
        ASSERT_EQ(memcmp(&empty, &back, sizeof back), 0);
        static const char *const bad[] = {
                "{\"at_us\":-1}", "{\"worker_cpu_ns\":\"1\"}", "{\"disk_io\":[{\"index\":99}]}", "[]",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                o = json_tokener_parse(bad[i]);
                ASSERT_NOT_NULL(o);
                ASSERT_ERROR(vmms_meter_from_json(o, &back), EINVAL);
                json_object_put(o);
                ASSERT_EQ(back.at_us, 0u);
        }
}

TEST(totals_since_a_reset_across_a_restart) {
        struct vmms_meter_sample base, s, d, acc = { 0 };
        ASSERT_OK(parse(reply_k(10), &base));  /* the reset */
        ASSERT_OK(parse(reply_k(15), &s));     /* the worker's last sample */
        vmms_meter_sub(&s, &base, &d);
        ASSERT_EQ(d.disks[1].read_bytes, 5 * 4096u);
        ASSERT_EQ(d.vcpu_ns[1], 10000000u);
        ASSERT_EQ(d.disks[1].flush_ops, 0u); /* 1 - 1 */
        vmms_meter_add(&acc, &d);              /* the worker ended */
        ASSERT_OK(parse(reply_k(2), &s));      /* the next one counts from 0 */
        vmms_meter_sub(&s, &base, &d);         /* below its base: its own value */
        ASSERT_EQ(d.disks[1].read_bytes, 2 * 4096u);
        vmms_meter_add(&acc, &d);
        ASSERT_EQ(acc.disks[1].read_bytes, 7 * 4096u);
        ASSERT_EQ(acc.nics[0].rx_bytes, 7 * 1500u);
        ASSERT_EQ(acc.n_disks, 2u);
        /* a worker's final counters over its newest sample: the larger each */
        struct vmms_meter_sample newest, fin;
        ASSERT_OK(parse(reply_k(5), &newest));
        ASSERT_OK(parse(reply_k(6), &fin));
        fin.vcpu_ns[0] = 0; /* a clock it could no longer read */
        vmms_meter_max(&newest, &fin);
        ASSERT_EQ(newest.disks[1].read_bytes, 6 * 4096u);
        ASSERT_EQ(newest.vcpu_ns[0], 5000000u);
        ASSERT_EQ(newest.vcpu_ns[1], 12000000u);
        acc.nics[0].tx_bytes = UINT64_MAX - 1; /* saturates */
        vmms_meter_add(&acc, &d);
        ASSERT_EQ(acc.nics[0].tx_bytes, UINT64_MAX);
}

static struct json_object *doc_of(const struct vmms_meter_sample *total, const struct vmms_meter_sample *now,
                                  const struct vmms_meter_sample *then, const char *name, const char *path) {
        const char *paths[VM_DISKS_MAX] = { "/srv/a.img", path };
        const char *macs[VM_NICS_MAX] = { "00:15:5d:00:00:01" };
        struct vmms_meter_view v = { .name = name, .id = "id", .state = "Running", .uptime_us = 61500000,
                                     .reset_at_us = 1700000000123456, .sampled_at_us = 1700000100000000,
                                     .memory_assigned = 1 << 30, .memory_demand = 1 << 29, .total = total,
                                     .now = now, .then = then, .disk_paths = paths, .nic_macs = macs };
        struct json_object *doc = vmms_meter_document(&v);
        ASSERT_NOT_NULL(doc);
        return doc;
}

static double dget(struct json_object *o, const char *path) {
        char buf[128], *save = NULL;
        snprintf(buf, sizeof buf, "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
                struct json_object *v = NULL;
                if (json_object_is_type(o, json_type_array))
                        v = json_object_array_get_idx(o, (size_t)atoi(k));
                else
                        ASSERT_TRUE(json_object_object_get_ex(o, k, &v));
                o = v;
        }
        return json_object_get_double(o);
}

TEST(document_totals_and_rates) {
        struct vmms_meter_sample then, now;
        ASSERT_OK(parse(reply_k(10), &then));
        ASSERT_OK(parse(reply_k(30), &now));
        then.at_us = 1000000, now.at_us = 11000000; /* a 10 s window */
        then.worker_cpu_ns = 1000000000, now.worker_cpu_ns = 6000000000;
        struct json_object *doc = doc_of(&now, &now, &then, "web", "/srv/b.img");
        ASSERT_EQ(dget(doc, "window_s"), 10.0);
        ASSERT_EQ(dget(doc, "disks.1.read_bytes"), 30 * 4096.0);
        ASSERT_EQ(dget(doc, "disks.1.read_bytes_per_s"), 20 * 4096.0 / 10);
        ASSERT_EQ(dget(doc, "disks.1.write_ops_per_s"), 2.0);
        ASSERT_EQ(dget(doc, "nics.0.rx_bytes_per_s"), 20 * 1500.0 / 10);
        ASSERT_EQ(dget(doc, "cpu.total_ns"), 90000000.0);
        /* vCPU 1: 40 ms in 10 s = 0.4 %; both: 60 ms of 20 s = 0.3 % */
        ASSERT_EQ(dget(doc, "cpu.vcpus.1.use_percent"), 0.4);
        ASSERT_EQ(dget(doc, "cpu.use_percent"), 0.3);
        ASSERT_EQ(dget(doc, "cpu.worker_use_percent"), 50.0);
        ASSERT_EQ(dget(doc, "memory.demand_bytes"), (double)(1 << 29));
        json_object_put(doc);
        doc = doc_of(&now, &now, NULL, "web", "/srv/b.img"); /* no window yet: no rates */
        ASSERT_EQ(dget(doc, "window_s"), 0.0);
        ASSERT_EQ(dget(doc, "disks.1.read_bytes_per_s"), 0.0);
        ASSERT_EQ(dget(doc, "cpu.use_percent"), 0.0);
        json_object_put(doc);
}

static char *prom(struct json_object *const *docs, size_t n) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ASSERT_NOT_NULL(f);
        ASSERT_OK(vmms_metrics_prom_write(f, docs, n));
        fclose(f);
        return buf;
}

static unsigned count(const char *hay, const char *needle) {
        unsigned n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

TEST(prometheus_exposition) {
        struct vmms_meter_sample s;
        ASSERT_OK(parse(reply_k(3), &s));
        s.worker_cpu_ns = 1500000001;
        struct json_object *docs[2] = { doc_of(&s, NULL, NULL, "web", "/srv/we\"ird\\dir\nx.img"),
                                        doc_of(&s, NULL, NULL, "db", "/srv/db.img") };
        char *t = prom(docs, 2);
        /* each family once, both VMs' samples after it */
        ASSERT_EQ(count(t, "# TYPE vmstack_disk_read_bytes_total counter\n"), 1u);
        ASSERT_EQ(count(t, "# HELP vmstack_disk_read_bytes_total "), 1u);
        ASSERT_EQ(count(t, "# TYPE vmstack_vm_memory_assigned_bytes gauge\n"), 1u);
        ASSERT_NOT_NULL(strstr(t, "vmstack_disk_read_bytes_total{vm=\"web\",disk=\"1\","
                                  "path=\"/srv/we\\\"ird\\\\dir\\nx.img\"} 12288\n"));
        ASSERT_NOT_NULL(strstr(t, "vmstack_disk_read_bytes_total{vm=\"db\",disk=\"1\",path=\"/srv/db.img\"} 12288\n"));
        ASSERT_NOT_NULL(strstr(t, "vmstack_vm_cpu_seconds_total{vm=\"web\",vcpu=\"1\"} 0.006000000\n"));
        ASSERT_NOT_NULL(strstr(t, "vmstack_vm_worker_cpu_seconds_total{vm=\"db\"} 1.500000001\n"));
        ASSERT_NOT_NULL(strstr(t, "vmstack_disk_read_latency_seconds_total{vm=\"web\",disk=\"1\","));
        ASSERT_NOT_NULL(strstr(t, "vmstack_nic_receive_bytes_total{vm=\"db\",nic=\"0\",mac=\"00:15:5d:00:00:01\"} 4500\n"));
        ASSERT_NOT_NULL(strstr(t, "vmstack_vm_uptime_seconds{vm=\"web\"} 61.500000\n"));
        ASSERT_NOT_NULL(strstr(t, "vmstack_vm_metering_reset_timestamp_seconds{vm=\"web\"} 1700000000.123456\n"));
        /* a family's samples are together: web's and db's disk reads come before the next family */
        const char *fam = strstr(t, "# HELP vmstack_disk_write_bytes_total");
        ASSERT_NOT_NULL(fam);
        ASSERT_TRUE(strstr(t, "vmstack_disk_read_bytes_total{vm=\"db\"") < fam);
        ASSERT_NULL(strstr(t, "\n\n"));
        free(t);
        json_object_put(docs[0]);
        json_object_put(docs[1]);
        t = prom(NULL, 0); /* no VM: the families, no samples */
        ASSERT_EQ(count(t, "# TYPE "), count(t, "# HELP "));
        ASSERT_NULL(strstr(t, "{"));
        free(t);
}

TEST(label_escaping_is_bounded) {
        char out[8];
        vmms_metrics_prom_escape("a\"b\\c\nd", out, sizeof out);
        ASSERT_STREQ(out, "a\\\"b\\\\c"); /* cut before the escape (\\n) that does not fit */
        vmms_metrics_prom_escape(NULL, out, sizeof out);
        ASSERT_STREQ(out, "");
}

/* GetMetricsHistory's ring: oldest first, bounded by count and by age,
 * time never going back, the text one JSON array. */
TEST(history_bounded_by_count_and_age) {
        struct vmms_meter_history h = { 0 };
        char *t = vmms_meter_history_text(&h);
        ASSERT_STREQ(t, "[]");
        free(t);
        char doc[32];
        for (unsigned i = 0; i < VMMS_METER_HISTORY_MAX + 5; i++) {
                snprintf(doc, sizeof doc, "{\"i\":%u}", i);
                ASSERT_OK(vmms_meter_history_push(&h, doc, 1000 + i)); /* 1 µs apart: the count bounds */
        }
        ASSERT_EQ(h.n, VMMS_METER_HISTORY_MAX);
        t = vmms_meter_history_text(&h);
        struct json_object *a = json_tokener_parse(t);
        ASSERT_NOT_NULL(a);
        ASSERT_EQ(json_object_array_length(a), (size_t)VMMS_METER_HISTORY_MAX);
        ASSERT_EQ(json_object_get_int(json_object_object_get(json_object_array_get_idx(a, 0), "i")), 5);
        ASSERT_EQ(json_object_get_int(json_object_object_get(
                          json_object_array_get_idx(a, VMMS_METER_HISTORY_MAX - 1), "i")),
                  (int)VMMS_METER_HISTORY_MAX + 4);
        json_object_put(a);
        free(t);
        ASSERT_ERROR(vmms_meter_history_push(&h, "{}", 999), EINVAL); /* before the newest */
        ASSERT_EQ(h.n, VMMS_METER_HISTORY_MAX);
        /* One taken more than the age bound after all of them: alone. */
        ASSERT_OK(vmms_meter_history_push(&h, "{\"late\":1}", 2000 + VMMS_METER_HISTORY_US));
        ASSERT_EQ(h.n, 1u);
        t = vmms_meter_history_text(&h);
        ASSERT_STREQ(t, "[{\"late\":1}]");
        free(t);
        /* Exactly the bound apart: both kept. */
        ASSERT_OK(vmms_meter_history_push(&h, "{}", 2000 + 2 * VMMS_METER_HISTORY_US));
        ASSERT_EQ(h.n, 2u);
        vmms_meter_history_clear(&h);
        ASSERT_EQ(h.n, 0u);
        t = vmms_meter_history_text(&h);
        ASSERT_STREQ(t, "[]");
        free(t);
}

TEST_MAIN();
