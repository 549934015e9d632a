// SPDX-License-Identifier: MIT
/* vmctl stats [VM...]: metering (org.vmstack.VMMS1.Metering GetMetrics,
 * docs/metering.md) of the VMs named, or of every VM: as text, --json (an
 * array of the documents), or --prometheus (the text exposition vmms
 * writes to --metrics-file); --reset zeroes the totals (ResetMetering);
 * --history VM: vmms's samples of its last 5 minutes (GetMetricsHistory),
 * a line each. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmctl/vmctl.h"
#include "vmms/metrics-prom.h"
#include "vmms/names.h"

static struct json_object *get(struct json_object *o, const char *k) {
        struct json_object *v = NULL;
        return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}
static double num(struct json_object *o, const char *k) {
        return json_object_get_double(get(o, k));
}

/* 1536 -> "1.5 KiB" */
static const char *size_text(double b, char *buf, size_t len) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        size_t u = 0;
        while (b >= 1024 && u + 1 < sizeof units / sizeof units[0])
                b /= 1024, u++;
        snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
        return buf;
}

static double avg_ms(struct json_object *o, const char *lat, const char *ops) {
        double n = num(o, ops);
        return n > 0 ? num(o, lat) / n / 1e6 : 0;
}

static void print_cpu(struct json_object *cpu) {
        struct json_object *vcpus = get(cpu, "vcpus");
        size_t n = json_object_is_type(vcpus, json_type_array) ? json_object_array_length(vcpus) : 0;
        printf("  CPU      %.2f s on %zu vCPU%s, %.1f %% of them; worker %.2f s, %.1f %% of a host core\n",
               num(cpu, "total_ns") / 1e9, n, n == 1 ? "" : "s", num(cpu, "use_percent"), num(cpu, "worker_ns") / 1e9,
               num(cpu, "worker_use_percent"));
        for (size_t i = 0; i < n; i++) {
                struct json_object *v = json_object_array_get_idx(vcpus, i);
                printf("    vcpu%-3d %.2f s, %.1f %%\n", (int)num(v, "vcpu"), num(v, "ns") / 1e9, num(v, "use_percent"));
        }
}

static void print_disk(struct json_object *d) {
        char a[32], b[32], c[32], e[32];
        printf("  disk %-3d %s\n", (int)num(d, "index"), json_object_get_string(get(d, "path")));
        printf("           read  %s in %.0f ops (%.2f ms avg), now %s/s\n", size_text(num(d, "read_bytes"), a, sizeof a),
               num(d, "read_ops"), avg_ms(d, "read_latency_ns", "read_ops"),
               size_text(num(d, "read_bytes_per_s"), b, sizeof b));
        printf("           write %s in %.0f ops (%.2f ms avg), now %s/s; %.0f flushes\n",
               size_text(num(d, "write_bytes"), c, sizeof c), num(d, "write_ops"),
               avg_ms(d, "write_latency_ns", "write_ops"), size_text(num(d, "write_bytes_per_s"), e, sizeof e),
               num(d, "flush_ops"));
}

static void print_nic(struct json_object *n) {
        char a[32], b[32], c[32], d[32];
        printf("  nic %-4d %s\n", (int)num(n, "index"), json_object_get_string(get(n, "mac")));
        printf("           rx %s, %.0f packets, %.0f dropped, now %s/s\n", size_text(num(n, "rx_bytes"), a, sizeof a),
               num(n, "rx_packets"), num(n, "rx_dropped"), size_text(num(n, "rx_bytes_per_s"), b, sizeof b));
        printf("           tx %s, %.0f packets, %.0f dropped, now %s/s\n", size_text(num(n, "tx_bytes"), c, sizeof c),
               num(n, "tx_packets"), num(n, "tx_dropped"), size_text(num(n, "tx_bytes_per_s"), d, sizeof d));
}

static void print_doc(struct json_object *doc) {
        char a[32], b[32];
        struct json_object *mem = get(doc, "memory"), *l;
        printf("%s: %s, up %.0f s; totals since the reset %.0f s ago; rates over %.1f s\n",
               json_object_get_string(get(doc, "name")), json_object_get_string(get(doc, "state")),
               num(doc, "uptime_us") / 1e6, (num(doc, "sampled_at_us") - num(doc, "reset_at_us")) / 1e6,
               num(doc, "window_s"));
        print_cpu(get(doc, "cpu"));
        printf("  memory   %s assigned, %s demand\n", size_text(num(mem, "assigned_bytes"), a, sizeof a),
               size_text(num(mem, "demand_bytes"), b, sizeof b));
        if (json_object_is_type(l = get(doc, "disks"), json_type_array))
                for (size_t i = 0; i < json_object_array_length(l); i++)
                        print_disk(json_object_array_get_idx(l, i));
        if (json_object_is_type(l = get(doc, "nics"), json_type_array))
                for (size_t i = 0; i < json_object_array_length(l); i++)
                        print_nic(json_object_array_get_idx(l, i));
}

/* Sums a device list's field ("disks", "read_bytes_per_s"). */
static double sum(struct json_object *doc, const char *list, const char *k) {
        struct json_object *l = get(doc, list);
        double t = 0;
        for (size_t i = 0; json_object_is_type(l, json_type_array) && i < json_object_array_length(l); i++)
                t += num(json_object_array_get_idx(l, i), k);
        return t;
}

/* --history: a line per sample, its rates over that round's window ("-"
 * for the first of a run, which has none). */
static void print_history(struct json_object *docs, const char *name) {
        size_t n = json_object_array_length(docs);
        printf("%s: %zu sample%s%s\n", name, n, n == 1 ? "" : "s",
               n ? " of vmms's rounds, the last 5 minutes of its runs at most, oldest first" : " (vmms has sampled none yet)");
        if (!n)
                return;
        printf("%-8s  %7s  %9s  %9s  %11s  %11s  %11s  %11s\n", "TIME", "CPU", "MEMORY", "DEMAND", "DISK READ",
               "DISK WRITE", "NET RX", "NET TX");
        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(docs, i), *mem = get(d, "memory");
                time_t t = (time_t)(num(d, "sampled_at_us") / 1e6);
                struct tm tm;
                char when[16] = "?", m[32], dm[32], r[4][40];
                if (localtime_r(&t, &tm))
                        strftime(when, sizeof when, "%H:%M:%S", &tm);
                bool rates = num(d, "window_s") > 0;
                const double per_s[4] = { sum(d, "disks", "read_bytes_per_s"), sum(d, "disks", "write_bytes_per_s"),
                                          sum(d, "nics", "rx_bytes_per_s"), sum(d, "nics", "tx_bytes_per_s") };
                for (int k = 0; k < 4; k++) {
                        char b[32];
                        snprintf(r[k], sizeof r[k], "%s%s", rates ? size_text(per_s[k], b, sizeof b) : "-",
                                 rates ? "/s" : "");
                }
                char cpu[16] = "-";
                if (rates)
                        snprintf(cpu, sizeof cpu, "%.1f %%", num(get(d, "cpu"), "use_percent"));
                printf("%-8s  %7s  %9s  %9s  %11s  %11s  %11s  %11s\n", when, cpu,
                       size_text(num(mem, "assigned_bytes"), m, sizeof m), size_text(num(mem, "demand_bytes"), dm, sizeof dm),
                       r[0], r[1], r[2], r[3]);
        }
}

/* One VM's document (GetMetrics), or its history (GetMetricsHistory: an
 * array), or NULL after saying why (*rc set). */
static struct json_object *call_metering(struct vmctl *c, const char *path, const char *method, int *rc) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *text = NULL;
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_METERING_IFACE, method, &e, &reply, NULL);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &text);
        struct json_object *doc = r >= 0 ? json_tokener_parse(text) : NULL;
        if (r < 0)
                *rc = vmctl_fail(&e, r, "stats");
        else if (!doc)
                *rc = vmctl_fail(NULL, -EBADMSG, "stats");
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return doc;
}

static struct json_object *metrics_of(struct vmctl *c, const char *path, int *rc) {
        return call_metering(c, path, "GetMetrics", rc);
}

static int show_history(struct vmctl *c, const char *path, const char *name) {
        int rc = 0;
        struct json_object *docs = call_metering(c, path, "GetMetricsHistory", &rc);
        if (!rc && !json_object_is_type(docs, json_type_array))
                rc = vmctl_fail(NULL, -EBADMSG, "stats --history");
        if (!rc && c->json)
                printf("%s\n", json_object_to_json_string_ext(docs, JSON_C_TO_STRING_PRETTY));
        else if (!rc)
                print_history(docs, name);
        json_object_put(docs);
        return rc;
}

static int reset(struct vmctl *c, const char *path, const char *name) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_METERING_IFACE, "ResetMetering", &e, NULL, NULL);
        int rc = 0;
        if (r < 0)
                rc = vmctl_fail(&e, r, "stats --reset"); /* an exit code */
        else if (!c->quiet && !c->json)
                printf("%s: metering reset\n", name);
        sd_bus_error_free(&e);
        return rc;
}

/* Every VM's object path and name (ListVMs), in vmms's order. */
static int all_vms(struct vmctl *c, char ***paths, char ***names, size_t *n) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path, *id, *name, *state;
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE, "ListVMs", &e, &reply,
                                   NULL);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(osss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(osss)", &path, &id, &name, &state)) > 0) {
                char **p = realloc(*paths, (*n + 1) * sizeof *p), **q = p ? realloc(*names, (*n + 1) * sizeof *q) : NULL;
                if (p)
                        *paths = p;
                if (q)
                        *names = q;
                if (!p || !q || !((*paths)[*n] = strdup(path)) || !((*names)[*n] = strdup(name))) {
                        if (p && q)
                                free((*paths)[*n]);
                        r = -ENOMEM;
                        break;
                }
                (*n)++;
        }
        if (r < 0)
                r = vmctl_fail(&e, r, "stats"); /* an exit code */
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return r;
}

/* The VMs named, resolved. */
static int targets(struct vmctl *c, int argc, char **argv, char ***paths, char ***names, size_t *n) {
        size_t want = (size_t)(argc - optind);
        *paths = calloc(want, sizeof **paths);
        *names = calloc(want, sizeof **names);
        if (!*paths || !*names)
                return vmctl_fail(NULL, -ENOMEM, "stats");
        for (; *n < want; (*n)++) {
                int r = vmctl_resolve(c, argv[optind + (int)*n], &(*paths)[*n]);
                if (r)
                        return r;
                (*names)[*n] = strdup(argv[optind + (int)*n]);
        }
        return 0;
}

/* Every VM's document in one call (GetAllMetrics: vmms's newest samples),
 * into *all (a JSON array); 1 when vmms has no such call (an older vmms:
 * the caller asks each VM), else 0 or an exit code. */
static int all_metrics(struct vmctl *c, struct json_object **all) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *text = NULL;
        int rc = 0, r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, VMMS_MANAGER_PATH, VMMS_MANAGER_IFACE,
                                           "GetAllMetrics", &e, &reply, NULL);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &text);
        *all = r >= 0 ? json_tokener_parse(text) : NULL;
        if (r < 0 && sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_METHOD))
                rc = 1;
        else if (r < 0)
                rc = vmctl_fail(&e, r, "stats");
        else if (!json_object_is_type(*all, json_type_array))
                rc = vmctl_fail(NULL, -EBADMSG, "stats");
        if (rc)
                json_object_put(*all), *all = NULL;
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return rc;
}

static int print_docs(struct vmctl *c, struct json_object **docs, size_t got, bool prometheus) {
        int rc = 0;
        if (prometheus) {
                if (vmms_metrics_prom_write(stdout, docs, got) < 0)
                        rc = vmctl_fail(NULL, -EIO, "stats");
        } else if (c->json) {
                struct json_object *a = json_object_new_array();
                for (size_t i = 0; a && i < got; i++)
                        json_object_array_add(a, json_object_get(docs[i]));
                printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY));
                json_object_put(a);
        } else
                for (size_t i = 0; i < got; i++)
                        print_doc(docs[i]);
        return rc;
}

/* The VMs at paths, one GetMetrics each (fresh from their workers). */
static int show(struct vmctl *c, char **paths, size_t n, bool prometheus) {
        struct json_object **docs = calloc(n ? n : 1, sizeof *docs);
        int rc = docs ? 0 : vmctl_fail(NULL, -ENOMEM, "stats");
        size_t got = 0;
        for (size_t i = 0; !rc && i < n; i++)
                if ((docs[got] = metrics_of(c, paths[i], &rc)))
                        got++;
        if (!rc)
                rc = print_docs(c, docs, got, prometheus);
        for (size_t i = 0; i < got; i++)
                json_object_put(docs[i]);
        free(docs);
        return rc;
}

/* Every VM: one GetAllMetrics (its array's documents in vmms's order, as
 * ListVMs gives them), or, from a vmms without it, ListVMs and one
 * GetMetrics each. */
static int show_all(struct vmctl *c, bool prometheus) {
        struct json_object *all = NULL;
        int rc = all_metrics(c, &all);
        if (rc == 1) {
                char **paths = NULL, **names = NULL;
                size_t n = 0;
                rc = all_vms(c, &paths, &names, &n);
                if (!rc)
                        rc = show(c, paths, n, prometheus);
                for (size_t i = 0; i < n; i++)
                        free(paths[i]), free(names[i]);
                free(paths);
                free(names);
                return rc;
        }
        size_t n = rc ? 0 : json_object_array_length(all);
        struct json_object **docs = rc ? NULL : calloc(n ? n : 1, sizeof *docs);
        if (!rc && !docs)
                rc = vmctl_fail(NULL, -ENOMEM, "stats");
        for (size_t i = 0; !rc && i < n; i++)
                docs[i] = json_object_array_get_idx(all, i); /* borrowed from all */
        if (!rc)
                rc = print_docs(c, docs, n, prometheus);
        free(docs);
        json_object_put(all);
        return rc;
}

static int parse_watch(const char *arg, unsigned *secs) {
        char *end;
        unsigned long v = arg ? strtoul(arg, &end, 10) : 2;
        if (arg && (*arg < '0' || *arg > '9' || *end || v < 1 || v > 3600)) {
                fprintf(stderr, "vmctl stats: --watch=%s: seconds from 1 to 3600\n", arg);
                return -EINVAL;
        }
        *secs = (unsigned)v;
        return 0;
}

static int run_stats(struct vmctl *c, int argc, char **argv) {
        enum { ARG_PROMETHEUS = 0x100, ARG_RESET, ARG_WATCH, ARG_HISTORY };
        static const struct option opts[] = {
                { "prometheus", no_argument, NULL, ARG_PROMETHEUS },
                { "reset", no_argument, NULL, ARG_RESET },
                { "watch", optional_argument, NULL, ARG_WATCH },
                { "history", no_argument, NULL, ARG_HISTORY },
                {},
        };
        bool prometheus = false, do_reset = false, history = false;
        unsigned watch = 0; /* seconds between two showings; 0: once */
        int o;
        while ((o = vmctl_getopt(c, argc, argv, opts)) != -1)
                switch (o) {
                case ARG_PROMETHEUS: prometheus = true; break;
                case ARG_RESET: do_reset = true; break;
                case ARG_HISTORY: history = true; break;
                case ARG_WATCH:
                        if (parse_watch(optarg, &watch) < 0)
                                return VMCTL_EXIT_USAGE;
                        break;
                default: return VMCTL_EXIT_USAGE;
                }
        if (do_reset && (optind >= argc || prometheus || watch)) {
                fprintf(stderr, "vmctl stats: --reset needs the VMs named, and shows nothing (see --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        if (history && (argc - optind != 1 || prometheus || watch || do_reset)) {
                fprintf(stderr, "vmctl stats: --history shows one VM, named, as text or --json (see --help)\n");
                return VMCTL_EXIT_USAGE;
        }
        char **paths = NULL, **names = NULL;
        size_t n = 0;
        bool every = optind >= argc; /* no VM named: each showing asks for every VM at once */
        int rc = every ? 0 : targets(c, argc, argv, &paths, &names, &n);
        if (!rc && history)
                rc = show_history(c, paths[0], names[0]);
        for (size_t i = 0; !rc && do_reset && i < n; i++)
                rc = reset(c, paths[i], names[i]);
        /* --watch: again every interval until interrupted or a call fails */
        for (bool first = true; !rc && !do_reset && !history && (first || watch); first = false) {
                if (!first) {
                        sleep(watch);
                        printf("\n");
                }
                rc = every ? show_all(c, prometheus) : show(c, paths, n, prometheus);
                fflush(stdout);
        }
        for (size_t i = 0; i < n; i++)
                free(paths[i]), free(names[i]);
        free(paths);
        free(names);
        return rc;
}

static void help_stats(void) {
        printf("Usage: vmctl [--json] stats [VM...]        metering of the VMs (default: every VM)\n"
               "       vmctl stats --prometheus [VM...]     the same in Prometheus's text format\n"
               "       vmctl stats --watch[=SECONDS] [VM...]  show them again every SECONDS (2)\n"
               "       vmctl stats --reset VM...            zero the VMs' totals\n"
               "       vmctl [--json] stats --history VM    vmms's samples of its last 5 minutes\n"
               "Per VM, from the worker and the kernel (never the guest's word): CPU time of each\n"
               "vCPU thread and of the worker process, memory assigned and demanded, each disk's\n"
               "bytes, ops and latency each way, each NIC's bytes, packets and drops each way, as\n"
               "totals since the last reset (kept across the VM's runs while vmms runs) and rates\n"
               "over vmms's last sampling window (vmms --metering-interval-ms). Anyone may read the\n"
               "figures; --reset needs the right to manage the VM. Fields: docs/metering.md.\n");
}

const struct vmctl_command vmctl_cmd_stats = { "stats", "[VM...]", "metering: CPU, memory, disk and network use",
                                               run_stats, help_stats };
