// SPDX-License-Identifier: MIT
/* Metering (docs/metering.md): every --metering-interval-ms each running
 * worker is asked for its "stats" (one request per VM, none while the
 * last is in flight) and its process CPU time is read from /proc; the
 * last two samples give the rates; the totals since ResetMetering are
 * what ended runs counted (acc) plus this worker's counters less their
 * value at the reset (base). A worker's end folds its newest sample (its
 * exit event's final counters, else the last it answered) into acc, so a
 * stop, a save and its restore, a migration away keep the totals. The state is vmms's
 * memory only: a vmms restart starts the totals again at the running
 * workers' own counters (from their start). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "core/feature.h"
#include "dm/dm.h"
#include "metering/metering.h"
#include "vmms/metrics-prom.h"
#include "worker/worker.h"

#define MiB (1ull << 20)

struct vmms_metering *vmms_metering_of(struct vmms_vm *vm) {
        if (!vm->metering) {
                vm->metering = calloc(1, sizeof *vm->metering);
                if (vm->metering)
                        vm->metering->reset_at_us = now_us(CLOCK_REALTIME);
        }
        return vm->metering;
}

void vmms_metering_free(struct vmms_vm *vm) {
        if (vm->metering)
                vmms_meter_history_clear(&vm->metering->history);
        free(vm->metering);
        vm->metering = NULL;
}

static bool running(const struct vmms_vm *vm) {
        return vm->worker && (vm->state == VMMS_STATE_RUNNING || vm->state == VMMS_STATE_PAUSED);
}

/* The worker process's user + system time (all its threads) from the kernel. */
static uint64_t worker_cpu_ns(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        uint64_t ns = 0;
        long hz = sysconf(_SC_CLK_TCK);
        if (n > 0 && hz > 0)
                (void)vmms_meter_proc_cpu_parse(buf, (size_t)n, (uint64_t)hz, &ns);
        return ns;
}

/* A worker's "stats" reply as a sample; -EINVAL for one metering refuses. */
static int sample_of(struct vmms_vm *vm, struct json_object *reply, struct vmms_meter_sample *s) {
        int r = vmms_meter_parse(reply, s);
        if (r < 0)
                return r;
        s->at_us = now_us(CLOCK_MONOTONIC);
        s->worker_cpu_ns = vm->worker ? worker_cpu_ns(vmms_worker_pid(vm->worker)) : 0;
        return 0;
}

/* The window the rates of a sample taken now are over: the newest
 * periodic sample at least half an interval older, else the one before. */
static const struct vmms_meter_sample *window_start(const struct vmms_vm *vm, const struct vmms_meter_sample *now) {
        const struct vmms_metering *m = vm->metering;
        if (!m || !now)
                return NULL;
        if (m->last.at_us && now != &m->last && now->at_us >= m->last.at_us + vm->d->opt.metering_interval_us / 2)
                return &m->last;
        return m->prev.at_us && now->at_us > m->prev.at_us ? &m->prev : NULL;
}

static void fmt_mac(const uint8_t mac[6], char out[18]) {
        snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

struct json_object *vmms_metering_document(struct vmms_vm *vm, const struct vmms_meter_sample *now) {
        struct vmms_metering *m = vmms_metering_of(vm);
        if (!m)
                return NULL;
        const struct vm_config *c = vm->config;
        struct vmms_meter_sample total = m->acc; /* 4.5 KiB */
        if (now) {
                struct vmms_meter_sample d;
                vmms_meter_sub(now, &m->base, &d);
                vmms_meter_add(&total, &d);
        }
        const char *paths[VM_DISKS_MAX] = { 0 }, *macs[VM_NICS_MAX] = { 0 };
        char mac_text[VM_NICS_MAX][18];
        for (uint32_t i = 0; i < c->n_disks && i < VM_DISKS_MAX; i++)
                paths[i] = c->disks[i].path;
        for (uint32_t i = 0; i < c->n_nics && i < VM_NICS_MAX; i++)
                fmt_mac(c->nics[i].mac, mac_text[i]), macs[i] = mac_text[i];
        bool run = running(vm);
        uint64_t rt = now_us(CLOCK_REALTIME);
        struct vmms_meter_view v = {
                .name = c->name, .id = vm->id, .state = vmms_state_to_string(vm->state),
                .uptime_us = run && vm->running_since_us && rt > vm->running_since_us ? rt - vm->running_since_us : 0,
                .reset_at_us = m->reset_at_us, .sampled_at_us = now ? rt - (now_us(CLOCK_MONOTONIC) - now->at_us) : rt,
                .memory_assigned = !run ? 0 : vm->dm->known && vm->dm->status.connected ? vm->dm->status.assigned
                                                                              : (uint64_t)c->memory_mib * MiB,
                .memory_demand = run && vm->dm->status.reported ? vm->dm->status.demand : 0,
                .total = &total, .now = now, .then = window_start(vm, now),
                .disk_paths = paths, .nic_macs = macs,
        };
        return vmms_meter_document(&v);
}

/* ---- sampling ---- */

/* A periodic sample's document into the history: what a page that opens
 * later draws its graphs from (GetMetricsHistory). Without memory, the
 * history keeps what it had. */
static void remember(struct vmms_vm *vm, const struct vmms_meter_sample *s) {
        struct json_object *doc = vmms_metering_document(vm, s);
        const char *text = doc ? json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN) : NULL;
        if (!text || vmms_meter_history_push(&vm->metering->history, text, s->at_us) < 0)
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, 0, "metering: a sample not kept in the history");
        json_object_put(doc);
}

static void periodic_reply(struct vmms_vm *vm, sd_bus_message *call, struct json_object *reply, int error) {
        struct vmms_metering *m = vm->metering;
        struct vmms_meter_sample s;
        if (!m)
                return;
        m->sampling = false;
        if (error < 0 || !vm->worker)
                return; /* the worker ended or is busy: the next round asks again */
        if (sample_of(vm, reply, &s) < 0) {
                vmms_vm_log(vm, LOG_LEVEL_DEBUG, 0, "metering: a malformed stats reply, ignored");
                return;
        }
        m->prev = m->last;
        m->last = s;
        m->newest = s;
        (void)vmms_metering_save(vm); /* once a round: the totals outlive vmms (persist.c) */
        remember(vm, &s);
}

/* Every VM's document from its last sample, as Prometheus text in
 * --metrics-file: written to PATH.tmp, then renamed over PATH, so that
 * the collector never reads half a file. */
static int write_metrics_file(struct vmms_daemon *d) {
        char tmp[PATH_MAX];
        struct json_object **docs = calloc(d->n_vms ? d->n_vms : 1, sizeof *docs);
        size_t n = 0;
        int r = docs ? 0 : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < d->n_vms; i++) {
                struct vmms_vm *vm = d->vms[i];
                struct vmms_metering *m = vmms_metering_of(vm);
                if (!m || !(docs[n] = vmms_metering_document(vm, running(vm) && m->last.at_us ? &m->last : NULL)))
                        r = -ENOMEM;
                else
                        n++;
        }
        snprintf(tmp, sizeof tmp, "%s.tmp", d->opt.metrics_file);
        FILE *f = r >= 0 ? fopen(tmp, "we") : NULL;
        if (r >= 0 && !f)
                r = -errno;
        if (f) {
                r = vmms_metrics_prom_write(f, docs, n);
                if (fclose(f) != 0 && r >= 0)
                        r = -EIO;
                if (r >= 0 && rename(tmp, d->opt.metrics_file) < 0)
                        r = -errno;
                if (r < 0)
                        (void)unlink(tmp);
        }
        for (size_t i = 0; i < n; i++)
                json_object_put(docs[i]);
        free(docs);
        return r;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        struct vmms_daemon *d = userdata;
        for (size_t i = 0; i < d->n_vms; i++) {
                struct vmms_vm *vm = d->vms[i];
                if (!running(vm))
                        continue;
                struct vmms_metering *m = vmms_metering_of(vm);
                if (m && !m->sampling && vmms_worker_request(vm->worker, "stats", NULL, periodic_reply, NULL) >= 0)
                        m->sampling = true;
        }
        if (d->opt.metrics_file) {
                int r = write_metrics_file(d);
                if (r < 0 && r != d->metrics_file_error)
                        log_warning_errno(r, "cannot write the metrics file %s: %m", d->opt.metrics_file);
                d->metrics_file_error = r < 0 ? r : 0; /* logged once per failure, not per round */
        }
        (void)sd_event_source_set_time_relative(src, d->opt.metering_interval_us);
        return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

int vmms_metering_timer_start(struct vmms_daemon *d) {
        return sd_event_add_time_relative(d->event, &d->metering_timer, CLOCK_MONOTONIC, d->opt.metering_interval_us,
                                          0, on_timer, d);
}

/* ---- GetMetrics and ResetMetering ---- */

static void reply_document(struct vmms_vm *vm, sd_bus_message *call, const struct vmms_meter_sample *now) {
        struct json_object *doc = vmms_metering_document(vm, now);
        const char *text = doc ? json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN) : NULL;
        if (text)
                (void)sd_bus_reply_method_return(call, "s", text);
        else
                (void)sd_bus_reply_method_errno(call, -ENOMEM, NULL);
        json_object_put(doc);
}

static void reset_now(struct vmms_vm *vm, const struct vmms_meter_sample *now) {
        struct vmms_metering *m = vm->metering;
        memset(&m->acc, 0, sizeof m->acc);
        if (now)
                m->base = *now;
        else
                memset(&m->base, 0, sizeof m->base);
        m->reset_at_us = now_us(CLOCK_REALTIME);
        int r = vmms_metering_save(vm);
        vmms_vm_log(vm, LOG_LEVEL_INFO, 0, "metering reset");
        if (r < 0)
                vmms_vm_log(vm, LOG_LEVEL_WARNING, r, "metering: the reset is not on disk: %m");
}

static void fresh_reply(struct vmms_vm *vm, sd_bus_message *call, struct json_object *reply, int error) {
        bool reset = !strcmp(sd_bus_message_get_member(call), "ResetMetering");
        struct vmms_meter_sample s;
        if (error >= 0 && (!vm->metering || sample_of(vm, reply, &s) < 0))
                error = -EBADMSG;
        if (error < 0) {
                (void)sd_bus_reply_method_errorf(call, VMMS_ERROR_FAILED, "cannot take VM '%s''s figures: %s",
                                                 vm->config->name, vmms_worker_reply_why(reply, error));
                return;
        }
        vm->metering->newest = s;
        if (reset) {
                reset_now(vm, &s);
                (void)sd_bus_reply_method_return(call, NULL);
        } else
                reply_document(vm, call, &s);
}

static int fresh(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e) {
        if (!vmms_metering_of(vm))
                return -ENOMEM;
        if (!running(vm))
                return 0;
        int r = vmms_worker_request(vm->worker, "stats", NULL, fresh_reply, m);
        if (r < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "cannot reach the worker of VM '%s': %s",
                                         vm->config->name, strerror(-r));
        return 1;
}

int vmms_metering_get(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e) {
        int r = fresh(vm, m, e);
        if (r != 0)
                return r;
        reply_document(vm, m, NULL);
        return 1;
}

int vmms_metering_history(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_metering *mt = vmms_metering_of(vm);
        char *text = mt ? vmms_meter_history_text(&mt->history) : NULL;
        if (!text)
                return -ENOMEM;
        int r = sd_bus_reply_method_return(m, "s", text);
        free(text);
        return r < 0 ? r : 1;
}

/* GetAllMetrics: every VM's document from the newest sample vmms holds
 * (the periodic round's, or a later GetMetrics'), asking no worker: one
 * call for a whole list, whose cost does not grow with the workers'. */
int vmms_metering_get_all(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct json_object *all = json_object_new_array_ext((int)d->n_vms);
        int r = all ? 0 : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < d->n_vms; i++) {
                struct vmms_vm *vm = d->vms[i];
                struct vmms_metering *mt = vmms_metering_of(vm);
                struct json_object *doc = !mt ? NULL
                        : vmms_metering_document(vm, running(vm) && mt->newest.at_us ? &mt->newest : NULL);
                if (!doc || json_object_array_add(all, doc) < 0) {
                        json_object_put(doc);
                        r = -ENOMEM;
                }
        }
        const char *text = r >= 0 ? json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN) : NULL;
        if (text)
                r = sd_bus_reply_method_return(m, "s", text);
        json_object_put(all);
        return text ? (r < 0 ? r : 1) : -ENOMEM;
}

int vmms_metering_reset(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e) {
        int r = fresh(vm, m, e);
        if (r != 0)
                return r;
        reset_now(vm, NULL);
        return sd_bus_reply_method_return(m, NULL);
}

/* The worker's exit event carries its final counters ("stats", docs/vmwp.md):
 * they become its newest sample, so that nothing it did is lost. A reply
 * metering refuses is ignored (the newest sample stands). */
static void on_exit_event(struct vmms_vm *vm, struct json_object *ev) {
        struct vmms_metering *m = vm->metering;
        struct json_object *st;
        struct vmms_meter_sample s;
        if (!m || !json_object_object_get_ex(ev, "stats", &st) || vmms_meter_parse(st, &s) < 0)
                return;
        s.at_us = now_us(CLOCK_MONOTONIC);
        s.worker_cpu_ns = m->newest.worker_cpu_ns; /* /proc no longer has it reliably */
        vmms_meter_max(&m->newest, &s);
}

static const struct vmms_worker_event events[] = {
        { "exit", NULL, on_exit_event },
        {},
};

/* The worker ended: its newest sample (its final counters when its exit
 * event had them) less the base goes into the totals, and the next
 * worker counts from 0. */
static void worker_ended(struct vmms_vm *vm) {
        struct vmms_metering *m = vm->metering;
        if (!m)
                return;
        if (m->newest.at_us) {
                struct vmms_meter_sample d;
                vmms_meter_sub(&m->newest, &m->base, &d);
                vmms_meter_add(&m->acc, &d);
        }
        memset(&m->base, 0, sizeof m->base);
        memset(&m->prev, 0, sizeof m->prev);
        memset(&m->last, 0, sizeof m->last);
        memset(&m->newest, 0, sizeof m->newest);
        m->sampling = false;
        (void)vmms_metering_save(vm);
}

const struct vmms_feature vmms_feature_metering = {
        .name = "metering",
        .events = events,
        .worker_ended = worker_ended,
        .bus_register = vmms_bus_metering_register,
};
