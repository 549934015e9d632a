// SPDX-License-Identifier: MIT
/* The worker's main thread: one event loop over the control socket, a
 * signalfd (SIGTERM/SIGINT; SIGUSR1 samples the vCPUs), the partition's stop eventfd and the console.
 * Every way out goes through vid_partition_request_stop(), so the first
 * reason wins and the exit status always matches it. */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "hv/ic.h"
#include "vid/vid.h"
#include "emit.h"
#include "reattach.h"
#include "vm-internal.h"
#include "vmwp/control.h"
#include "vmwp/migrate.h"
#include "common/devworker.h"

/* A message's fds: disk-push carries one per disk at most, disk-attach an
 * image and its parents (1 + DISK_MAX_PARENTS), nic-attach a queue each. */
#define CONTROL_MAX_FDS VM_DISKS_MAX

struct run_ctx {
        struct vmwp_vm *vm;
        struct devworker *loop;
        int control_fd;
        struct dw_source *control_src;
        struct vmwp_reattach *reattach; /* vmms's re-attach listener, if it sent one */
        struct vmwp_emit emit; /* the device modules' events */
};

static void control_lost(struct run_ctx *c, int r) {
        if (c->reattach) { /* vmms restarts: keep running, wait for it on the listener */
                dw_source_free(c->control_src);
                c->control_src = NULL;
                c->control_fd = safe_close(c->control_fd);
                return;
        }
        vid_partition_request_stop(c->vm->p, VMWP_EXIT_CONTROL_LOST, "control connection to vmms lost (%s)",
                                   r == -ECONNRESET ? "closed" : strerror(-r));
        dw_source_free(c->control_src);
        c->control_src = NULL;
        c->control_fd = -1;
}

static int send_msg(struct run_ctx *c, struct json_object *m) {
        if (!m)
                return -ENOMEM;
        int r = c->control_fd >= 0 ? proto_send(c->control_fd, m, NULL, 0) : -ENOTCONN;
        json_object_put(m);
        if (r < 0 && r != -ENOTCONN && r != -ENOMEM)
                control_lost(c, r);
        return r;
}

static void emit_send(void *opaque, struct json_object *ev) {
        (void)send_msg(opaque, ev);
}

static bool emit_connected(void *opaque) {
        return ((struct run_ctx *)opaque)->control_fd >= 0;
}

/* ---- control ops over the VM ---- */

static int op_pause(void *o) {
        struct vmwp_vm *vm = ((struct run_ctx *)o)->vm;
        return vmwp_vm_pause(vm);
}
static int op_resume(void *o) {
        struct vmwp_vm *vm = ((struct run_ctx *)o)->vm;
        return vmwp_vm_resume(vm); /* the integration services' row sends a time SYNC (§8.5) */
}
static bool op_is_paused(void *o) {
        return vmwp_vm_is_paused(((struct run_ctx *)o)->vm);
}
static void op_stop(void *o) {
        vid_partition_request_stop(((struct run_ctx *)o)->vm->p, VMWP_EXIT_STOPPED, "stopped by vmms");
}
static void op_power_button(void *o) {
        vmwp_vm_power_button(((struct run_ctx *)o)->vm);
}
static int op_nmi(void *o) {
        return vmwp_vm_nmi(((struct run_ctx *)o)->vm);
}
static int op_shutdown(void *o, bool reboot) {
        return vmwp_vm_shutdown(((struct run_ctx *)o)->vm, reboot);
}
static int op_vss(void *o, uint8_t op) {
        return vmwp_vm_vss(((struct run_ctx *)o)->vm, op);
}
static int op_kvp_get(void *o, struct json_object *into) {
        struct vmwp_vm *vm = ((struct run_ctx *)o)->vm;
        struct json_object *items, *host;
        int r = vmwp_vm_kvp_items(vm, true, &items);
        if (r < 0)
                return r;
        if ((r = vmwp_vm_kvp_items(vm, false, &host)) < 0) {
                json_object_put(items);
                return r;
        }
        json_object_object_add(into, "items", items);
        json_object_object_add(into, "host", host);
        json_object_object_add(into, "ready", json_object_new_boolean(vmwp_vm_kvp_ready(vm)));
        return 0;
}
static int op_memory(void *o, bool set, uint64_t target_bytes, struct json_object *into) {
        return vmwp_vm_memory(((struct run_ctx *)o)->vm, set, target_bytes, into);
}
static int op_processor(void *o, bool set, uint32_t limit_pct, struct json_object *into) {
        struct vmwp_vm *vm = ((struct run_ctx *)o)->vm;
        int r = set ? vmwp_vm_set_cpu_limit(vm, limit_pct) : 0;
        if (r >= 0)
                vmwp_vm_processor_report(vm, into);
        return r;
}
static int op_kvp_set(void *o, const char *key, const char *value) {
        return vmwp_vm_kvp_set(((struct run_ctx *)o)->vm, key, value);
}

static void op_status(void *o, struct json_object *into) {
        struct vmwp_vm *vm = ((struct run_ctx *)o)->vm;
        vmwp_ic_add_heartbeat(vm, into);
        vmwp_firmware_add_status(vm, into);
        json_object_object_add(into, "name", json_object_new_string(vm->cfg.name));
        json_object_object_add(into, "vcpus", json_object_new_int((int)vm->cfg.vcpus));
        json_object_object_add(into, "memory_mib", json_object_new_int64(vm->cfg.memory_mib));
        json_object_object_add(into, "uptime_us", json_object_new_int64((int64_t)((vmwp_now_ns() - vm->start_ns) / 1000)));
}
static int op_console_status(void *o, struct json_object *into) {
        struct vmwp_console_client cc;
        int r = vmwp_console_client_status(vmwp_vm_console(((struct run_ctx *)o)->vm), &cc);
        if (r < 0)
                return r;
        json_object_object_add(into, "connected", json_object_new_boolean(cc.connected));
        json_object_object_add(into, "clients", json_object_new_int64((int64_t)cc.clients));
        json_object_object_add(into, "since_us", json_object_new_int64((int64_t)cc.since_us));
        return 0;
}
static int op_stats(void *o, struct json_object *into) {
        return vmwp_vm_stats(((struct run_ctx *)o)->vm, into);
}

/* The guest's services reported something: each device module emits its
 * events (vmwp/emit.h). */
static int on_guest_event(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        struct run_ctx *c = userdata;
        vmwp_emit_guest_events(&c->emit);
        return 0;
}

static int on_hvsock_client(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        struct run_ctx *c = userdata;
        vmwp_vm_hvsock_accept(c->vm);
        return 0;
}

static int on_vmbus(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        struct run_ctx *c = userdata;
        vmwp_vm_vmbus_dispatch(c->vm);
        return 0;
}

static int on_control(struct dw_source *s, int fd, uint32_t revents, void *userdata);

/* {"op":"save"} with the state file's fd (docs/vm-state.md): progress
 * events while it writes, then the reply; the VM stays paused. */
static void save_progress(void *opaque, uint64_t done, uint64_t total) {
        struct json_object *ev = proto_event_new(PROTO_EV_SAVE_PROGRESS);
        if (ev) {
                json_object_object_add(ev, "done", json_object_new_int64((int64_t)MIN(done, (uint64_t)INT64_MAX)));
                json_object_object_add(ev, "total", json_object_new_int64((int64_t)MIN(total, (uint64_t)INT64_MAX)));
        }
        send_msg(opaque, ev);
}

static struct json_object *op_save(struct run_ctx *c, const struct vmwp_request *rq, int fd) {
        char err[512] = "";
        uint64_t t0 = vmwp_now_ns();
        /* hv_sock connections are host sockets: they end here (the guest
         * sees its peer close); the VM's resume takes new ones again. */
        (void)vmwp_vm_detach(c->vm);
        int64_t r = fd < 0 ? errorf(err, sizeof err, -EINVAL, "save needs the state file's fd")
                           : vmwp_vm_save(c->vm, fd, save_progress, c, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "vmwp: %s: save: %s\n", c->vm->cfg.name, err);
        struct json_object *rep = vmwp_control_reply(rq, r < 0 ? (int)r : 0, err);
        if (rep && r >= 0) {
                json_object_object_add(rep, "bytes", json_object_new_int64(r));
                json_object_object_add(rep, "ms", json_object_new_double((double)(vmwp_now_ns() - t0) / 1e6));
        }
        return rep;
}

/* {"op":"hvsock-connected","token":n} with the host socket's fd, or with
 * "errno":e and none: vmms's answer to an "hvsock-connect" event. */
static struct json_object *op_hvsock_connected(void *o, struct vmwp_request *rq) {
        struct run_ctx *c = o;
        struct json_object *v, *req = rq->req;
        int fd = rq->fd;
        int64_t token = json_object_object_get_ex(req, "token", &v) && json_object_is_type(v, json_type_int)
                                ? json_object_get_int64(v)
                                : -1;
        int e = json_object_object_get_ex(req, "errno", &v) && json_object_is_type(v, json_type_int)
                        ? json_object_get_int(v)
                        : 0;
        if (token < 0 || (fd < 0 && e <= 0) || (fd >= 0 && e)) {
                safe_close(fd);
                return vmwp_control_reply(rq, -EINVAL, "hvsock-connected needs \"token\" and the socket's fd or \"errno\"");
        }
        int r = vmwp_vm_hvsock_connected(c->vm, (uint64_t)token, fd >= 0 ? fd : -e);
        return vmwp_control_reply(rq, r == -ENOENT ? 0 : r, r < 0 && r != -ENOENT ? strerror(-r) : "");
}

/* {"op":"fcopy","dir":s,"name":s,"size":n,"overwrite":b,"create_path":b}
 * with the source's fd (taken): answered once the copy started; the
 * guest's progress and answer follow as "fcopy-progress" and "fcopy"
 * events (vmwp_ic_emit(), vm-ic.c). */
static struct json_object *op_fcopy(void *o, struct vmwp_request *rq) {
        struct run_ctx *c = o;
        struct json_object *v, *req = rq->req;
        int fd = rq->fd;
        char err[200] = "";
        const char *dir = json_object_object_get_ex(req, "dir", &v) && json_object_is_type(v, json_type_string)
                                  ? json_object_get_string(v)
                                  : NULL;
        const char *name = json_object_object_get_ex(req, "name", &v) && json_object_is_type(v, json_type_string)
                                   ? json_object_get_string(v)
                                   : NULL;
        int64_t size = json_object_object_get_ex(req, "size", &v) && json_object_is_type(v, json_type_int)
                               ? json_object_get_int64(v)
                               : -1;
        uint32_t flags = (json_object_object_get_ex(req, "overwrite", &v) && json_object_get_boolean(v) ? FCOPY_OVER_WRITE : 0) |
                         (json_object_object_get_ex(req, "create_path", &v) && json_object_get_boolean(v) ? FCOPY_CREATE_PATH : 0);
        int r;
        if (fd < 0 || !dir || !name || size < 0) {
                safe_close(fd);
                r = errorf(err, sizeof err, -EINVAL, "fcopy needs the file's fd, \"dir\", \"name\" and \"size\"");
        } else if ((r = vmwp_vm_fcopy(c->vm, fd, dir, name, (uint64_t)size, flags)) < 0) {
                snprintf(err, sizeof err, "%s",
                         r == -ENOTSUP    ? "the VM has no file-copy integration service"
                         : r == -ENOTCONN ? "the guest has not started its file-copy service"
                         : r == -EBUSY    ? "a file copy is in progress"
                         : r == -EINVAL   ? "the guest path: an absolute directory and a file name of 259 bytes at most"
                                          : strerror(-r));
        }
        return vmwp_control_reply(rq, r, err);
}

/* {"op":"fcopy-cancel"}: the copy in progress ends with CANCEL_FCOPY. */
static struct json_object *op_fcopy_cancel(void *o, struct vmwp_request *rq) {
        int r = vmwp_vm_fcopy_cancel(((struct run_ctx *)o)->vm);
        return vmwp_control_reply(rq, r,
                        r == -ENOENT     ? "no file copy is in progress"
                        : r == -EALREADY ? "the file copy is ending already"
                        : r == -ENOTSUP  ? "the VM has no file-copy integration service"
                        : r < 0          ? strerror(-r)
                                         : "");
}

/* {"op":"disk-push","disks":[i,...]} with one fd per disk: a checkpoint's
 * children become the disks' images (vmwp_vm_disk_push; the VM paused by
 * a save before). Takes the fds. */
static struct json_object *op_disk_push(void *o, struct vmwp_request *rq) {
        struct run_ctx *c = o;
        struct json_object *req = rq->req;
        int *fds = rq->fds;
        size_t n = rq->n_fds;
        char err[700] = "";
        uint32_t disks[VM_DISKS_MAX];
        struct json_object *a;
        int r = 0;
        if (!json_object_object_get_ex(req, "disks", &a) || !json_object_is_type(a, json_type_array) ||
            json_object_array_length(a) != n || n == 0)
                r = errorf(err, sizeof err, -EINVAL, "disk-push needs \"disks\" with one index per fd");
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct json_object *v = json_object_array_get_idx(a, i);
                int64_t d = json_object_get_int64(v);
                if (!json_object_is_type(v, json_type_int) || d < 0 || d >= (int64_t)c->vm->cfg.n_disks)
                        r = errorf(err, sizeof err, -EINVAL, "disk-push: disks[%zu] is not a disk's index", i);
                disks[i] = (uint32_t)d;
        }
        if (r == 0)
                r = vmwp_vm_disk_push(c->vm, disks, fds, n, err, sizeof err);
        else
                for (size_t i = 0; i < n; i++)
                        safe_close(fds[i]);
        if (r < 0)
                fprintf(stderr, "vmwp: %s: disk-push: %s\n", c->vm->cfg.name, err);
        return vmwp_control_reply(rq, r, err);
}

/* {"op":"disk-merge","disk":i} with the parent's image open writable: the
 * disk's present image merged into it while the VM runs, which then runs
 * on the parent (vmwp_vm_disk_merge); merge-progress events after each
 * pass, then the reply. */
static void merge_progress(void *opaque, uint32_t pass, uint64_t bytes, uint64_t dirty) {
        struct json_object *ev = proto_event_new(PROTO_EV_MERGE_PROGRESS);
        if (ev) {
                json_object_object_add(ev, "pass", json_object_new_int64(pass));
                json_object_object_add(ev, "bytes", json_object_new_int64((int64_t)MIN(bytes, INT64_MAX)));
                json_object_object_add(ev, "dirty", json_object_new_int64((int64_t)MIN(dirty, INT64_MAX)));
        }
        send_msg(opaque, ev);
}

static struct json_object *op_disk_merge(void *o, struct vmwp_request *rq) {
        struct run_ctx *c = o;
        struct json_object *req = rq->req;
        int *fds = rq->fds;
        size_t n = rq->n_fds;
        char err[700] = "";
        struct json_object *v;
        struct vmwp_merge_result res = { 0 };
        int64_t disk = json_object_object_get_ex(req, "disk", &v) && json_object_is_type(v, json_type_int)
                               ? json_object_get_int64(v)
                               : -1;
        int r;
        if (n != 1 || disk < 0 || disk >= (int64_t)c->vm->cfg.n_disks) {
                for (size_t i = 0; i < n; i++)
                        safe_close(fds[i]);
                r = errorf(err, sizeof err, -EINVAL, "disk-merge needs \"disk\" (a disk's index) and the parent's fd");
        } else {
                r = vmwp_vm_disk_merge(c->vm, (uint32_t)disk, fds[0], merge_progress, c, &res, err, sizeof err);
        }
        if (r < 0)
                fprintf(stderr, "vmwp: %s: disk-merge: %s\n", c->vm->cfg.name, err);
        struct json_object *rep = vmwp_control_reply(rq, r, err);
        if (rep && r >= 0) {
                json_object_object_add(rep, "passes", json_object_new_int64(res.passes));
                json_object_object_add(rep, "bytes", json_object_new_int64((int64_t)MIN(res.bytes, INT64_MAX)));
                json_object_object_add(rep, "final_bytes",
                                       json_object_new_int64((int64_t)MIN(res.final_bytes, INT64_MAX)));
                json_object_object_add(rep, "pause_ms", json_object_new_double((double)res.pause_ns / 1e6));
        }
        return rep;
}

/* {"op":"dirty-check"[,"rounds":n][,"round_ms":n]}: the pre-copy check
 * (vmwp_vm_dirty_check), a test aid; vmms never sends it. */
static struct json_object *op_dirty_check(void *o, struct vmwp_request *rq) {
        struct run_ctx *c = o;
        struct json_object *v, *req = rq->req;
        int64_t rounds = 5, round_ms = 50;
        char err[512] = "";
        int r = 0;
        if (json_object_object_get_ex(req, "rounds", &v))
                rounds = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (json_object_object_get_ex(req, "round_ms", &v))
                round_ms = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        struct vmwp_dirty_check res = { 0 };
        if (rounds < 1 || rounds > 1000 || round_ms < 1 || round_ms > 10000)
                r = errorf(err, sizeof err, -EINVAL, "\"rounds\" (1-1000) and \"round_ms\" (1-10000) must be integers");
        else
                r = vmwp_vm_dirty_check(c->vm, (unsigned)rounds, (unsigned)round_ms, &res, err, sizeof err);
        struct json_object *rep = vmwp_control_reply(rq, r, err);
        if (!rep || r < 0)
                return rep;
        json_object_object_add(rep, "ram_pages", json_object_new_int64((int64_t)res.ram_pages));
        json_object_object_add(rep, "copied", json_object_new_int64((int64_t)res.copied));
        json_object_object_add(rep, "last", json_object_new_int64((int64_t)res.last));
        json_object_object_add(rep, "mismatched", json_object_new_int64((int64_t)res.mismatched));
        struct json_object *gpas = json_object_new_array();
        for (size_t i = 0; gpas && i < MIN(res.mismatched, (uint64_t)ARRAY_SIZE(res.mismatch_gpa)); i++) {
                char hex[24];
                snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)res.mismatch_gpa[i]);
                json_object_array_add(gpas, json_object_new_string(hex));
        }
        if (gpas)
                json_object_object_add(rep, "mismatch_gpas", gpas);
        return rep;
}

/* {"op":"migrate-send"} with a connected stream socket to the destination
 * worker (docs/migration.md): migrate-progress events after each pass,
 * then the reply; on success the VM stays paused (it runs on the
 * destination), on failure it runs here as before. */
static void migrate_progress(void *opaque, const struct vmwp_migrate_progress *p) {
        struct json_object *ev = proto_event_new(PROTO_EV_MIGRATE_PROGRESS);
        if (ev) {
                json_object_object_add(ev, "pass", json_object_new_int64(p->pass));
                json_object_object_add(ev, "bytes", json_object_new_int64((int64_t)MIN(p->bytes_sent, INT64_MAX)));
                json_object_object_add(ev, "dirty_pages", json_object_new_int64((int64_t)MIN(p->dirty_pages, INT64_MAX)));
                json_object_object_add(ev, "dirty_rate", json_object_new_int64((int64_t)MIN(p->dirty_rate, INT64_MAX)));
                json_object_object_add(ev, "bandwidth", json_object_new_int64((int64_t)MIN(p->bandwidth, INT64_MAX)));
                json_object_object_add(ev, "expected_downtime_ms",
                                       json_object_new_int64((int64_t)MIN(p->expected_downtime_ms, INT64_MAX)));
                json_object_object_add(ev, "throttle_pct", json_object_new_int64(p->throttle_pct));
                json_object_object_add(ev, "dirty_disk_bytes",
                                       json_object_new_int64((int64_t)MIN(p->dirty_disk_bytes, INT64_MAX)));
                if (p->postcopy) { /* the pages left to send; the COMMIT gone: no cancel */
                        json_object_object_add(ev, "postcopy", json_object_new_boolean(true));
                        json_object_object_add(ev, "committed", json_object_new_boolean(p->committed));
                }
        }
        send_msg(opaque, ev);
}

static struct json_object *op_migrate(struct run_ctx *c, const struct vmwp_request *rq, int fd) {
        char err[1024] = "";
        struct vmwp_migrate_options o;
        struct vmwp_migrate_result res = { 0 };
        int r = fd < 0 ? errorf(err, sizeof err, -EINVAL, "migrate-send needs the destination's socket")
                       : vmwp_migrate_options_parse(rq->req, &o, err, sizeof err);
        if (r >= 0) {
                (void)vmwp_vm_detach(c->vm); /* as for a save */
                r = vmwp_vm_migrate_send(c->vm, fd, &o, migrate_progress, c, &res, err, sizeof err);
                if (r < 0 && !res.committed && !vmwp_vm_is_paused(c->vm))
                        vmwp_vm_attach(c->vm); /* it stays here, running */
        }
        struct json_object *rep = vmwp_control_reply(rq, r, err);
        if (!rep)
                return NULL;
        if (r >= 0) {
                json_object_object_add(rep, "passes", json_object_new_int64(res.passes));
                json_object_object_add(rep, "bytes", json_object_new_int64((int64_t)MIN(res.bytes, INT64_MAX)));
                json_object_object_add(rep, "pages", json_object_new_int64((int64_t)res.pages));
                json_object_object_add(rep, "zero_pages", json_object_new_int64((int64_t)res.zero_pages));
                json_object_object_add(rep, "final_pages", json_object_new_int64((int64_t)res.final_pages));
                json_object_object_add(rep, "disk_bytes", json_object_new_int64((int64_t)MIN(res.disk_bytes, INT64_MAX)));
                json_object_object_add(rep, "final_disk_bytes",
                                       json_object_new_int64((int64_t)MIN(res.final_disk_bytes, INT64_MAX)));
                json_object_object_add(rep, "devmem_bytes", json_object_new_int64((int64_t)res.devmem_bytes));
                json_object_object_add(rep, "final_devmem_bytes", json_object_new_int64((int64_t)res.final_devmem_bytes));
                json_object_object_add(rep, "total_ms", json_object_new_double((double)res.total_ns / 1e6));
                json_object_object_add(rep, "downtime_ms", json_object_new_double((double)res.downtime_ns / 1e6));
                json_object_object_add(rep, "pause_ms", json_object_new_double((double)res.pause_ns / 1e6));
                json_object_object_add(rep, "state_ms", json_object_new_double((double)res.state_ns / 1e6));
                json_object_object_add(rep, "commit_ms", json_object_new_double((double)res.commit_ns / 1e6));
                json_object_object_add(rep, "paused_at_ns", json_object_new_int64((int64_t)MIN(res.paused_at_ns, INT64_MAX)));
        } else {
                json_object_object_add(rep, "passes", json_object_new_int64(res.passes));
                fprintf(stderr, "vmwp: %s: migrate: %s\n", c->vm->cfg.name, err);
                if (res.committed) /* paused, and the destination's to tell */
                        json_object_object_add(rep, "committed", json_object_new_boolean(true));
        }
        /* Post-copy, either way: a failure after it began leaves the
         * destination without its pages. */
        if (res.postcopy) {
                json_object_object_add(rep, "postcopy", json_object_new_boolean(true));
                json_object_object_add(rep, "postcopy_pages", json_object_new_int64((int64_t)res.postcopy_pages));
                json_object_object_add(rep, "postcopy_requested",
                                       json_object_new_int64((int64_t)res.postcopy_requested));
                json_object_object_add(rep, "postcopy_requests", json_object_new_int64((int64_t)res.postcopy_requests));
                json_object_object_add(rep, "postcopy_ms", json_object_new_double((double)res.postcopy_ns / 1e6));
        }
        /* Auto-converge's last throttle, either way (it is off again now). */
        json_object_object_add(rep, "throttle_pct", json_object_new_int64(res.throttle_pct));
        json_object_object_add(rep, "throttled_ms", json_object_new_double((double)res.throttled_ns / 1e6));
        return rep;
}

/* save and migrate-send: refused while a file copy into the guest or a
 * post-copy migration's pages are on their way (the reason, else NULL);
 * each keeps its fd only for the call. */
static const char *save_busy(struct run_ctx *c) {
        return vmwp_vm_fcopy_busy(c->vm)       ? "a file copy into the guest is in progress"
               : vmwp_vm_postcopy_busy(c->vm) ? "its memory is still arriving from a post-copy migration"
                                              : NULL;
}

static struct json_object *op_save_request(void *o, struct vmwp_request *rq) {
        const char *busy = save_busy(o);
        struct json_object *rep = busy ? vmwp_control_reply(rq, -EBUSY, busy) : op_save(o, rq, rq->fd);
        safe_close(rq->fd);
        return rep;
}

static struct json_object *op_migrate_request(void *o, struct vmwp_request *rq) {
        const char *busy = save_busy(o);
        struct json_object *rep = busy ? vmwp_control_reply(rq, -EBUSY, busy) : op_migrate(o, rq, rq->fd);
        safe_close(rq->fd);
        return rep;
}

static struct json_object *op_hotplug(void *o, struct vmwp_request *rq) {
        return vmwp_run_hotplug(((struct run_ctx *)o)->vm, rq->req, rq->fds, rq->n_fds); /* takes the fds */
}

static struct json_object *op_dvd(void *o, struct vmwp_request *rq) {
        struct json_object *rep = vmwp_run_dvd(((struct run_ctx *)o)->vm, rq->req, rq->fd); /* takes the fd */
        rq->fd = -1;
        return rep;
}

static struct json_object *op_disk_qos(void *o, struct vmwp_request *rq) {
        char err[512] = "";
        int r = vmwp_vm_set_disk_qos(((struct run_ctx *)o)->vm, rq->req, err, sizeof err);
        return vmwp_control_reply(rq, r, err[0] ? err : strerror(-r > 0 ? -r : EINVAL));
}

static struct json_object *op_nic_qos(void *o, struct vmwp_request *rq) {
        char err[512] = "";
        int r = vmwp_vm_set_nic_qos(((struct run_ctx *)o)->vm, rq->req, err, sizeof err);
        return vmwp_control_reply(rq, r, err[0] ? err : strerror(-r > 0 ? -r : EINVAL));
}

static void on_reattach(int fd, void *userdata);

static struct json_object *op_reattach_listen(void *o, struct vmwp_request *rq) {
        struct run_ctx *c = o;
        return vmwp_reattach_take(&c->reattach, c->loop, rq->req, rq->fds, rq->n_fds, on_reattach, c);
}

static const struct vmwp_control_ops control_ops = {
        .pause = op_pause, .resume = op_resume, .is_paused = op_is_paused, .stop = op_stop,
        .power_button = op_power_button, .nmi = op_nmi, .shutdown = op_shutdown, .kvp_get = op_kvp_get, .kvp_set = op_kvp_set,
        .status = op_status, .stats = op_stats, .console_status = op_console_status, .vss = op_vss,
        .memory = op_memory, .processor = op_processor, .save = op_save_request, .migrate_send = op_migrate_request,
        .dirty_check = op_dirty_check, .disk_merge = op_disk_merge, .disk_push = op_disk_push, .fcopy = op_fcopy,
        .fcopy_cancel = op_fcopy_cancel, .hvsock_connected = op_hvsock_connected, .hotplug = op_hotplug,
        .reattach_listen = op_reattach_listen, .dvd = op_dvd, .disk_qos = op_disk_qos,
        .nic_qos = op_nic_qos,
};

/* A (re)started vmms connected: the newest connection is the control peer. */
static void on_reattach(int fd, void *userdata) {
        struct run_ctx *c = userdata;
        dw_source_free(c->control_src);
        c->control_src = NULL;
        safe_close(c->control_fd);
        c->control_fd = fd;
        if (devworker_add_io(c->loop, fd, EPOLLIN, on_control, c, &c->control_src) < 0)
                control_lost(c, -ENOMEM);
}

static int on_control(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        struct run_ctx *c = userdata;
        struct json_object *req = NULL;
        int fds[CONTROL_MAX_FDS];
        size_t n_fds = 0;
        int r = proto_recv(fd, &req, fds, CONTROL_MAX_FDS, &n_fds);
        if (r >= 0) { /* the one dispatcher (control.c): every op, its fds, its reply */
                const char *state = NULL;
                struct json_object *rep = vmwp_control_handle(&control_ops, c, req, fds, n_fds, &state);
                json_object_put(req);
                send_msg(c, rep);
                if (state) {
                        struct json_object *ev = proto_event_new(PROTO_EV_STATE);
                        if (ev)
                                json_object_object_add(ev, "state", json_object_new_string(state));
                        send_msg(c, ev);
                }
                return 0;
        }
        /* A message that could not be read: its fds are not ours to keep. */
        for (size_t i = 0; i < n_fds; i++)
                safe_close(fds[i]);
        if (r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE) {
                control_lost(c, r);
                return 0;
        }
        struct json_object *rep = json_object_new_object();
        if (rep) {
                json_object_object_add(rep, "ok", json_object_new_boolean(false));
                json_object_object_add(rep, "errno", json_object_new_int(-r));
                json_object_object_add(rep, "error", json_object_new_string("malformed message"));
        }
        send_msg(c, rep);
        return 0;
}

/* SIGUSR1: a diagnostic sample of where every vCPU is (RIP, RSP, CPL),
 * for finding what a slow guest spends its time on, then the worker's
 * counters at that moment on one line (the `stats` op's document: what
 * bench/bench-gen1-boot.sh reads the firmware's IDE reads from). Pauses
 * briefly. */
static void print_stats(struct vmwp_vm *vm) {
        struct json_object *st = json_object_new_object();
        if (st && vmwp_vm_stats(vm, st) == 0)
                fprintf(stderr, "vmwp: %s: stats: %s\n", vm->cfg.name,
                        json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN));
        json_object_put(st);
}

static void sample_vcpus(struct vmwp_vm *vm) {
        if (vid_partition_pause(vm->p) < 0)
                return;
        for (unsigned i = 0; i < vid_partition_vp_count(vm->p); i++) {
                struct vid_vp *vp = vid_partition_vp(vm->p, i);
                struct vid_regs r;
                if (vid_vp_get_regs(vp, &r) == 0)
                        fprintf(stderr, "vmwp: %s: vcpu%u rip=0x%llx rsp=0x%llx cpl=%d\n", vm->cfg.name, i,
                                (unsigned long long)r.rip, (unsigned long long)r.rsp, vid_vp_cpl(vp));
        }
        vid_partition_resume(vm->p);
}

static int on_signal(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        struct run_ctx *c = userdata;
        struct signalfd_siginfo si;
        if (read(fd, &si, sizeof si) != sizeof si)
                return 0;
        if (si.ssi_signo == SIGUSR1) {
                sample_vcpus(c->vm);
                print_stats(c->vm);
                return 0;
        }
        vid_partition_request_stop(c->vm->p, VMWP_EXIT_STOPPED, "stopped by signal %s",
                                   si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        return 0;
}

static int on_stop(struct dw_source *s, int fd, uint32_t revents, void *userdata) {
        struct run_ctx *c = userdata;
        devworker_exit(c->loop, 0);
        return 0;
}

static void print_timing(struct vmwp_vm *vm) {
        struct vmwp_timing t;
        vmwp_vm_timing(vm, &t);
#define REL(x) ((x) ? ((double)((x) - t.start_ns) / 1e6) : -1.0)
        fprintf(stderr,
                "vmwp: %s: timing: first guest instruction %+.3f ms, booted %+.3f ms, first serial byte %+.3f ms "
                "(after worker start; -1: not reached)\n",
                vm->cfg.name, REL(t.first_insn_ns), REL(t.booted_ns), REL(t.first_serial_ns));
#undef REL
        fprintf(stderr, "vmwp: %s: timing-ns: start=%llu first-insn=%llu booted=%llu first-serial=%llu\n",
                vm->cfg.name, (unsigned long long)t.start_ns, (unsigned long long)t.first_insn_ns,
                (unsigned long long)t.booted_ns, (unsigned long long)t.first_serial_ns);
}

static int setup_loop(struct run_ctx *c, int *sfd) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGUSR1);
        /* Blocked before the vCPU threads exist, so they inherit the mask
         * and the signals only ever arrive through the signalfd. */
        if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
                return -EINVAL;
        *sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (*sfd < 0)
                return -errno;
        int r = devworker_new(NULL, &c->loop);
        if (r < 0)
                return r;
        if ((r = devworker_add_io(c->loop, *sfd, EPOLLIN, on_signal, c, NULL)) < 0 ||
            (r = devworker_add_io(c->loop, vid_partition_stop_fd(c->vm->p), EPOLLIN, on_stop, c, NULL)) < 0 ||
            (r = devworker_add_io(c->loop, vmwp_vm_guest_event_fd(c->vm), EPOLLIN, on_guest_event, c, NULL)) < 0 ||
            (r = vmwp_emit_attach(&c->emit, c->loop)) < 0 || (r = vmwp_disk_qos_attach(&c->emit, c->loop)) < 0 ||
            (r = vmwp_console_attach(c->vm->console, c->loop, c->vm->uart)) < 0)
                return r;
        if (vmwp_vm_vmbus_fd(c->vm) >= 0 &&
            (r = devworker_add_io(c->loop, vmwp_vm_vmbus_fd(c->vm), EPOLLIN, on_vmbus, c, NULL)) < 0)
                return r;
        if (vmwp_vm_hvsock_listen_fd(c->vm) >= 0 &&
            (r = devworker_add_io(c->loop, vmwp_vm_hvsock_listen_fd(c->vm), EPOLLIN, on_hvsock_client, c, NULL)) < 0)
                return r;
        if (c->control_fd >= 0)
                r = devworker_add_io(c->loop, c->control_fd, EPOLLIN, on_control, c, &c->control_src);
        return r;
}

int vmwp_run(struct vmwp_vm *vm, int control_fd, char *reason, size_t reason_len) {
        struct run_ctx c = { .vm = vm, .control_fd = control_fd,
                             .emit = { .vm = vm, .send = emit_send, .connected = emit_connected } };
        c.emit.opaque = &c;
        _cleanup_close_ int sfd = -1;
        int r = setup_loop(&c, &sfd);
        if (r >= 0 && (r = vmwp_vm_start(vm)) >= 0) {
                if (control_fd >= 0) {
                        struct json_object *ev = proto_event_new(PROTO_EV_READY);
                        if (ev && vmwp_vm_postcopy_busy(vm)) /* its channel must outlast a cut */
                                json_object_object_add(ev, "postcopy", json_object_new_boolean(true));
                        send_msg(&c, ev);
                }
                r = devworker_run(c.loop);
        }
        if (r < 0)
                vid_partition_request_stop(vm->p, VMWP_EXIT_SETUP, "worker event loop failed: %s", strerror(-r));
        vid_partition_join(vm->p);
        vm->phase_ns[VMWP_PHASE_JOINED] = vmwp_now_ns();
        vid_partition_times(vm->p, &vm->phase_ns[VMWP_PHASE_GUEST], &vm->phase_ns[VMWP_PHASE_STOP]);
        int status = vid_partition_stop_requested(vm->p, reason, reason_len);
        if (vm->timing)
                print_timing(vm);
        if (c.control_fd >= 0) {
                struct json_object *ev = proto_event_new(PROTO_EV_EXIT);
                if (ev) {
                        json_object_object_add(ev, "status", json_object_new_int(status));
                        json_object_object_add(ev, "reason", json_object_new_string(reason));
                        /* the final counters, for metering's totals (docs/vmwp.md) */
                        struct json_object *st = json_object_new_object();
                        if (st && vmwp_vm_stats(vm, st) == 0)
                                json_object_object_add(ev, "stats", st);
                        else
                                json_object_put(st);
                }
                send_msg(&c, ev);
        }
        vmwp_reattach_free(c.reattach);
        devworker_free(c.loop);
        return status;
}
