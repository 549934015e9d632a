// SPDX-License-Identifier: MIT
/* A test double of vmwp for the vmms integration tests: it speaks
 * common/proto.h exactly as vmms expects of the real worker (config message
 * with the disk and TAP fds, ready/state/heartbeat/exit events, requests
 * with ids, the "reattach-listen" listener, the console on --serial
 * socket:PATH with one client at a time, a second one refused, and
 * "console-status", serial_log) like vmwp (docs/vmwp.md),
 * but runs no guest. Behaviour is
 * chosen by "fake.*" words in the VM's boot.cmdline:
 *   fake.ready_ms=N      report ready after N ms (default 20)
 *   fake.exit_after_ms=N fake.exit_status=S   exit with S, N ms after ready
 *   fake.shutdown_ic     the guest runs the shutdown integration service
 *                        (otherwise shutdown answers ENOTSUP, as vmwp does today)
 *   fake.ignore_acpi     the guest ignores the ACPI power button
 *   fake.no_reattach     answer "reattach-listen" with EOPNOTSUPP, as a worker
 *                        without re-attach does (it then exits when vmms goes)
 *   fake.setup_fail      fail setup (exit VMWP_EXIT_SETUP)
 *   fake.stats_bad      answer "stats" with a negative vCPU time (vmms-fake-stats.c
 *                        says what "stats" reports otherwise)
 *   fake.chatter=N       once running, print N bytes to the console and N to
 *                        stderr (the worker log) every 10 ms: a chatty guest
 *   fake.save_ms=N       "save" takes about N ms (default 200), sending
 *                        save-progress events as it writes
 *   fake.save_fail       "save" fails with ENOSPC (the VM runs on)
 *   fake.vmstate         "save" writes the same bytes as one bulk section
 *                        ("FAKE") of a real saved-state file (common/vmstate.h),
 *                        which a destination vmms checks in a quick migration
 *                        (always for a firmware VM, which has no cmdline)
 *   fake.postcopy_ms=N   as a migration's source, act out post-copy after
 *                        the commit: migrate-progress events with
 *                        "postcopy" and "committed" for N ms (pages left
 *                        counting down), then the reply with its figures;
 *                        its disks' image locks go as the post-copy begins,
 *                        as vmwp lets them go at the destination's RUNNING;
 *                        as the destination, read the stream on after
 *                        RUNNING until its end, and say "postcopy" in the
 *                        ready event meanwhile (as vmwp's pager)
 *   fake.throttle_pct=N  as a migration's source, report auto-converge's
 *                        throttle at N % in the migrate-progress events
 *                        from the second pass on (fake.migrate_ms)
 *   fake.lose_commit     as a migration's source, "lose" the COMMIT: after
 *                        READY, close the stream without it and report
 *                        committed-unconfirmed (as a link cut right then)
 *   fake.lose_running    as a migration's destination, take the COMMIT and
 *                        run, but close the stream without RUNNING
 *   fake.delay_running_ms=N  as a destination, wait N ms between taking the
 *                        COMMIT (printing "fake-vmwp: committed") and RUNNING
 *                        (with fake.lose_running: and reporting ready, the
 *                        stream closed at once)
 *   fake.migrate_ms=N    as a source, send passes for N ms before the state
 *   fake.vss=N           with integration.vss: the guest runs the backup (VSS)
 *                        service; 1 it freezes and thaws, 2 it cannot freeze
 *                        (E_FAIL), 3 it freezes but cannot thaw. "vss" answers
 *                        ENOTSUP without integration.vss, ENOTCONN without
 *                        fake.vss, as vmwp does; the guest's answer follows
 *                        as a "vss" event, and "fake-vmwp: vss OP" (or "vss
 *                        OP failed") goes to the console; a disk-push while
 *                        frozen also prints "fake-vmwp: disk-push frozen"
 *   fake.fcopy=N         with integration.fcopy: the guest runs the file-copy
 *                        service; 1 it takes files ("fake-vmwp: fcopy DIR/NAME
 *                        BYTES fnv=HEX" on the console: the FNV-1a 64 of what
 *                        it read), 2 it says the file exists unless overwrite,
 *                        3 E_FAIL (no daemon). "fcopy" answers ENOTSUP without
 *                        integration.fcopy, ENOTCONN without fake.fcopy, as
 *                        vmwp does; the guest's answer follows as a "fcopy"
 *                        event (fcopy-progress events before), after
 *                        fake.copy_ms=N ms (default 0); "fcopy-cancel"
 *                        sends it at once as cancelled ("fake-vmwp: fcopy
 *                        cancelled"), ENOENT without a copy
 *   fake.hvsock_port=N   once running, the guest connects (without
 *                        hvsock.enabled too, as a compromised worker could)
 *                        to the host's port N ("hvsock-connect" event, token
 *                        N + 1000); with the socket vmms answers it sends
 *                        "from-fake-guest", shuts down and prints "fake-vmwp:
 *                        hvsock port=N reply=WHAT"; refused: "fake-vmwp:
 *                        hvsock port=N refused errno=E". The config's
 *                        hvsock.socket is printed as "fake-vmwp: hvsock
 *                        socket=PATH" at boot.
 * A firmware VM (boot.kind "firmware") acts out SeaBIOS's decision once
 * ready (vmms-fake-firmware.c): "No bootable device." on the console and
 * in the worker's log and a "firmware" event with "no-bootable-device",
 * or "booted" when an IDE disk has a boot signature or a DVD an ISO; the
 * "status" reply carries "boot_status" as vmwp's does. A restored one
 * (a saved state, an incoming migration) acts out nothing and reports
 * none, as vmwp's boot happened in the worker that saved it.
 * With dynamic_memory.enabled the guest runs a Dynamic Memory driver
 * (docs/dynamic-memory.md) that takes every target at once, within its
 * range and as the real device rounds it, hot-adding in 128 MiB blocks;
 * "memory" answers as vmwp does (ENOTSUP without it), "memory" events
 * come with each heartbeat, and each new target prints "fake-vmwp: memory
 * target=MiB assigned=MiB" on the console:
 *   fake.dm_demand_mib=N   the guest reports a demand of N MiB (default: no
 *                          reports, as a guest within its first 45 s)
 *   fake.dm_pressure_after_ms=T fake.dm_pressure_mib=M   T ms after ready
 *                          its demand becomes M MiB
 *   fake.dm_floor_mib=F    it balloons down to F MiB at the lowest (the
 *                          device's note says so, as hv_balloon's floor)
 * The processor limit is printed at boot and at each "processor" op
 * ("fake-vmwp: processor limit=N"), which answers as vmwp does;
 * fake.processor_fail makes it refuse a new limit (EIO).
 * Each NIC's TAP fds (one, or "nic_queues" of them) print "fake-vmwp: nic
 * I: N queue(s)" and " multi-queue" when the TAP is (TUNGETIFF).
 * A config with VHDX parents ("disk_parents") prints "fake-vmwp: disk D
 * parent K: ino=N ro" for each (the parent fd's inode and mode) on the
 * console, and keeps them open: their shared locks hold while it runs, as
 * with vmwp.
 * "migrate-send" prints "fake-vmwp: migrate-send" and the options it got
 * (max_downtime_ms, auto_converge, postcopy; "-" if absent) on the console, then it
 * and a config with "migrate_incoming" speak the stream of
 * common/migstream.h without RAM: hello, ACCEPT, a PASS, STATE, and the
 * commit (common/migcommit.h) as vmwp does; the source pauses for it and
 * stays paused after a commit, resumes after a failure before one.
 * "disk-push" (a checkpoint of a running VM; the fake must be paused, as
 * after "save") prints "fake-vmwp: disk-push disk D ino=N rw" for each fd
 * on the console and keeps them open (their locks hold); fake.push_fail
 * answers EIO instead.
 * "save" (common/proto.h) pauses, writes a small state file (the magic
 * FAKE_STATE_MAGIC and FAKE_STATE_BYTES in all) to the fd vmms passes,
 * with save-progress events and a last one with done == total, replies
 * ok with "bytes" and "ms" and stays paused, as vmwp does. A start with a
 * "saved_state" file checks the magic (exit 3, "saved state: ...", as
 * vmwp refuses a bad state) and runs on.
 * Disks and NICs of a running VM (disk-attach, disk-detach, disk-resize,
 * nic-attach, nic-detach, and the config message's "hot_plug") are
 * vmms-fake-hotplug.c's, answered as vmwp answers them; at boot the VM's
 * disks and NICs are listed on the console ("fake-vmwp: disks[I] PATH",
 * "fake-vmwp: nics[I] tap=T instance=G"):
 *   display.enabled (with vmms's display.socket): the display side is
 *                        fake-display-worker (VM_FAKE_DISPLAY_WORKER, its
 *                        log VM_FAKE_DISPLAY_LOG) on that socket, the
 *                        guest's drivers and its 640x480 mode reported in
 *                        a "display" event once running; fake.no_video:
 *                        the guest has no video driver (no mode);
 *                        fake.display_repeat=N: that event N times
 *   fake.hotplug_ms=N    each of those ops answers after N ms (printing
 *                        "fake-vmwp: hot-plug op waits" first)
 *   fake.hotplug_die     the worker ends (status 12) when one comes,
 *                        without an answer
 *   fake.disk_qos_unmet=N once running, a malformed "disk-qos" event, then
 *                        one saying disks[N]'s minimum (100) is not met
 *                        (42 IOPS)
 * The console echoes each input line back as "echo: <line>". */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/migcommit.h"
#include "common/proto.h"
#include "common/vmstate.h"
#include "vmms-fake-hotplug.h"
#include "vmms-fake-firmware.h"
#include "vmms-fake-stats.h"

#define MAX_CONSOLE_CLIENTS 1 /* as vmwp: one client at a time */
#define FAKE_STATE_MAGIC "FAKEVMRS"
#define FAKE_STATE_BYTES (256u * 1024u)
#define FAKE_STATE_TAG VMSTATE_TAG('F', 'A', 'K', 'E')

struct fake {
        char parents[4096]; /* report_parents' lines, printed once the console log is open */
        char nics[1024];    /* report_nics' lines, as well */
        char files[1024];   /* report_files' lines (boot image, DVD ISOs), as well */
        int ctl, ctl_listen, con_listen, con_log;
        int con[MAX_CONSOLE_CLIENTS];
        uint64_t con_clients, con_since_us; /* as vmwp's "console-status" */
        char name[VM_NAME_MAX + 1];
        char cmdline[VM_CMDLINE_MAX];
        bool paused, ready, shutdown_ic, reattach, frozen;
        int vss; /* -1: no integration.vss; else fake.vss */
        int fcopy; /* -1: no integration.fcopy; else fake.fcopy */
        long hvsock_port; /* fake.hvsock_port with hvsock.enabled, else -1 */
        pid_t display_pid; /* fake-display-worker, 0: none */
        bool display_video;
        uint64_t fcopy_at; /* when the pending "fcopy" event goes */
        json_object *fcopy_ev;
        int mig_fd; /* an incoming migration's stream, until configure() took it */
        int pc_fd;  /* a post-copy's stream after the commit, read until its end */
        uint64_t ready_at, exit_at, hb_next, pending_exit_at, chatter_next;
        int exit_status, pending_exit_status;
        const char *pending_reason;
        /* Dynamic Memory (MiB; dm_max 0: not configured) */
        uint64_t dm_startup, dm_min, dm_max, dm_target, dm_assigned, dm_hot_added, ready_since;
        char dm_note[128];
        struct fake_hotplug *hp; /* its disks and NICs */
        uint32_t cpu_limit;      /* the processor limit, as vmwp's "processor" op keeps it */
        int disk_fds[VM_DISKS_MAX]; /* the configuration's images, as vmms sent them */
        size_t n_disk_fds;
        unsigned vcpus, n_disks, n_nics; /* for "stats" (vmms-fake-stats.c) */
        uint64_t stats_calls;
        bool restored;    /* the config message named a "saved_state" or "migrate_incoming" */
        const char *boot; /* a firmware VM's boot (vmms-fake-firmware.c), NULL: none */
        bool firmware;    /* boot.kind "firmware": no cmdline, so saves as fake.vmstate */
};

static long knob(const struct fake *f, const char *name, long def) {
        const char *p = strstr(f->cmdline, name);
        if (!p)
                return def;
        p += strlen(name);
        return *p == '=' ? strtol(p + 1, NULL, 10) : 1;
}

static uint64_t now_ms(void) {
        return now_us(CLOCK_MONOTONIC) / 1000;
}

static _Noreturn void finish(struct fake *f, int status, const char *reason);

/* As vmwp's control_lost(): without a re-attach listener the worker ends;
 * with one it waits there for the next vmms. A send that fails counts as
 * much as a read that does (a heartbeat can find vmms gone first). */
static void control_lost(struct fake *f) {
        f->ctl = safe_close(f->ctl);
        if (f->ctl_listen < 0)
                finish(f, VMWP_EXIT_CONTROL_LOST, "control connection to vmms lost");
}

static void send_msg(struct fake *f, json_object *m) {
        int r = f->ctl >= 0 ? proto_send(f->ctl, m, NULL, 0) : 0;
        json_object_put(m);
        if (r < 0)
                control_lost(f);
}

static void console_out(struct fake *f, const char *s) {
        if (f->con_log >= 0)
                (void)write_full(f->con_log, s, strlen(s));
        for (int i = 0; i < MAX_CONSOLE_CLIENTS; i++)
                if (f->con[i] >= 0 && write_full(f->con[i], s, strlen(s)) < 0)
                        f->con[i] = safe_close(f->con[i]);
}

static _Noreturn void finish(struct fake *f, int status, const char *reason) {
        char line[256];
        if (f->display_pid > 0) /* the display socket closes with the worker */
                kill(f->display_pid, SIGTERM);
        snprintf(line, sizeof line, "fake-vmwp: %s: exiting: %s\n", f->name, reason);
        console_out(f, line);
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("exit"));
        json_object_object_add(m, "status", json_object_new_int(status));
        json_object_object_add(m, "reason", json_object_new_string(reason));
        if (f->ready) { /* as vmwp: the final counters (one more step) */
                json_object *st = json_object_new_object();
                fake_stats_fill(st, ++f->stats_calls, f->vcpus, f->n_disks, f->n_nics, knob(f, "fake.stats_bad", 0));
                json_object_object_add(m, "stats", st);
        }
        send_msg(f, m);
        fprintf(stderr, "fake-vmwp: %s\n", reason);
        exit(status);
}

static json_object *reply(json_object *req, bool ok, int err, const char *error) {
        json_object *m = json_object_new_object(), *id;
        if (json_object_object_get_ex(req, "id", &id))
                json_object_object_add(m, "id", json_object_get(id));
        json_object_object_add(m, "ok", json_object_new_boolean(ok));
        if (!ok) {
                json_object_object_add(m, "errno", json_object_new_int(err));
                json_object_object_add(m, "error", json_object_new_string(error));
        }
        return m;
}

static void state_event(struct fake *f) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("state"));
        json_object_object_add(m, "state", json_object_new_string(f->paused ? "paused" : "running"));
        send_msg(f, m);
}

static void schedule_exit(struct fake *f, int status, const char *reason) {
        f->pending_exit_at = now_ms() + 20;
        f->pending_exit_status = status;
        f->pending_reason = reason;
}

static bool is_listener(int fd) {
        int type = 0, acc = 0;
        socklen_t l1 = sizeof type, l2 = sizeof acc;
        return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == 0 && type == SOCK_SEQPACKET &&
               getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l2) == 0 && acc;
}

static void accept_console(struct fake *f);

static void console_status(struct fake *f, json_object *req) {
        if (f->con_listen < 0) {
                send_msg(f, reply(req, false, ENOTSUP, "the console is not a socket"));
                return;
        }
        accept_console(f);
        json_object *m = reply(req, true, 0, NULL);
        json_object_object_add(m, "connected", json_object_new_boolean(f->con[0] >= 0));
        json_object_object_add(m, "clients", json_object_new_int64((int64_t)f->con_clients));
        json_object_object_add(m, "since_us", json_object_new_int64((int64_t)f->con_since_us));
        send_msg(f, m);
}

static void save_progress(struct fake *f, uint64_t done, uint64_t total) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("save-progress"));
        json_object_object_add(m, "done", json_object_new_int64((int64_t)done));
        json_object_object_add(m, "total", json_object_new_int64((int64_t)total));
        send_msg(f, m);
}

/* As vmwp's op_save (vmwp/run.c): pause, write, progress, reply; on a
 * failure the VM is as it was. */
static void save(struct fake *f, json_object *req, int fd) {
        static uint8_t chunk[FAKE_STATE_BYTES / 8];
        if (fd < 0) {
                send_msg(f, reply(req, false, EINVAL, "save needs the state file's fd"));
                return;
        }
        if (knob(f, "fake.save_fail", 0)) {
                send_msg(f, reply(req, false, ENOSPC, "writing the state: No space left on device"));
                return;
        }
        uint64_t t0 = now_us(CLOCK_MONOTONIC), step_us = (uint64_t)knob(f, "fake.save_ms", 200) * 1000 / 8;
        bool was_paused = f->paused;
        f->paused = true;
        if (!was_paused)
                state_event(f);
        memset(chunk, 0x5a, sizeof chunk);
        memcpy(chunk, FAKE_STATE_MAGIC, strlen(FAKE_STATE_MAGIC));
        struct vmstate_writer *w = NULL;
        int r = 0;
        if ((f->firmware || knob(f, "fake.vmstate", 0)) && (r = vmstate_writer_new(fd, 0, &w)) == 0)
                r = vmstate_bulk_begin(w, FAKE_STATE_TAG, 0, 1, FAKE_STATE_BYTES);
        for (unsigned i = 0; i < 8 && r == 0; i++) {
                r = w ? vmstate_bulk_write(w, chunk, sizeof chunk) : write_full(fd, chunk, sizeof chunk);
                memset(chunk, 0x5a, strlen(FAKE_STATE_MAGIC));
                save_progress(f, (i + 1) * (uint64_t)sizeof chunk, FAKE_STATE_BYTES);
                usleep((useconds_t)step_us);
        }
        if (w && r == 0 && (r = vmstate_bulk_end(w)) == 0)
                r = vmstate_finish(w);
        uint64_t bytes = w ? vmstate_written(w) : FAKE_STATE_BYTES;
        vmstate_writer_free(w);
        if (r == 0 && fdatasync(fd) < 0)
                r = -errno;
        if (r < 0) {
                f->paused = was_paused;
                if (!was_paused)
                        state_event(f);
                send_msg(f, reply(req, false, -r, "writing the state failed"));
                return;
        }
        json_object *m = reply(req, true, 0, NULL);
        json_object_object_add(m, "bytes", json_object_new_int64((int64_t)bytes));
        json_object_object_add(m, "ms", json_object_new_double((double)(now_us(CLOCK_MONOTONIC) - t0) / 1e3));
        send_msg(f, m);
}

/* A migrate-progress event as vmwp's after each pass (vmwp/run.c). */
static void migrate_progress(struct fake *f, long pass) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("migrate-progress"));
        json_object_object_add(m, "pass", json_object_new_int64(pass));
        json_object_object_add(m, "bytes", json_object_new_int64(pass << 20));
        json_object_object_add(m, "dirty_pages", json_object_new_int64(256));
        json_object_object_add(m, "dirty_rate", json_object_new_int64(5120));
        json_object_object_add(m, "expected_downtime_ms", json_object_new_int64(4));
        json_object_object_add(m, "throttle_pct", json_object_new_int64(pass > 1 ? knob(f, "fake.throttle_pct", 0) : 0));
        send_msg(f, m);
}

/* As vmwp's op_migrate (vmwp/migrate.c), without RAM. */
static void migrate_send(struct fake *f, json_object *req, int fd) {
        uint8_t hello[MIG_HELLO_MAX];
        struct mig_hello h = { .page_size = MIG_PAGE_SIZE, .ram_bytes = 1u << 20, .vcpus = 1, .shape_len = 4 };
        struct mig_record rec;
        char why[MIG_TEXT_MAX + 1] = "", err[MIG_TEXT_MAX + 128] = "";
        bool committed = false;
        json_object *v;
        char seen[192];
        snprintf(seen, sizeof seen, "fake-vmwp: migrate-send max_downtime_ms=%s auto_converge=%s postcopy=%s\n",
                 json_object_object_get_ex(req, "max_downtime_ms", &v) ? json_object_to_json_string(v) : "-",
                 json_object_object_get_ex(req, "auto_converge", &v) ? json_object_to_json_string(v) : "-",
                 json_object_object_get_ex(req, "postcopy", &v) ? json_object_to_json_string(v) : "-");
        console_out(f, seen);
        memcpy(h.shape, "fake", 5);
        int n = mig_hello_encode(&h, hello, sizeof hello);
        int r = n < 0 ? n : write_full(fd, hello, (size_t)n);
        if (r >= 0 && (r = mig_recv_record(fd, 10000, false, &rec, why, sizeof why)) >= 0 && rec.type != MIG_ACCEPT)
                r = -ECONNREFUSED;
        if (r < 0)
                snprintf(err, sizeof err, "the destination refused: %s", why[0] ? why : strerror(-r));
        bool was_paused = f->paused;
        f->paused = true;
        /* fake.migrate_ms: a pass every 50 ms for that long, a transfer
         * one can cut or kill mid-way. */
        for (long t = 0, pass = 1; r >= 0 && t < knob(f, "fake.migrate_ms", 0); t += 50, pass++) {
                if ((r = mig_send_record(fd, MIG_PASS, NULL, 10000)) < 0)
                        snprintf(err, sizeof err, "pass: sending to the destination: %s", strerror(-r));
                else
                        migrate_progress(f, pass);
                usleep(50000);
        }
        if (r >= 0 && ((r = mig_send_record(fd, MIG_PASS, NULL, 10000)) < 0 ||
                       (r = mig_send_record(fd, MIG_STATE, NULL, 10000)) < 0))
                snprintf(err, sizeof err, "sending: %s", strerror(-r));
        if (r >= 0 && knob(f, "fake.lose_commit", 0)) {
                r = mig_recv_record(fd, 10000, false, &rec, why, sizeof why);
                committed = r >= 0 && rec.type == MIG_READY; /* and the COMMIT goes nowhere */
                r = -ECONNRESET;
                snprintf(err, sizeof err, "committed, but the destination did not confirm running: the stream closed");
        } else if (r >= 0)
                r = mig_commit_source(fd, 10000, &committed, err, sizeof err);
        long pc_ms = knob(f, "fake.postcopy_ms", 0);
        for (size_t i = 0; r >= 0 && pc_ms > 0 && i < f->n_disk_fds; i++)
                (void)flock(f->disk_fds[i], LOCK_UN); /* the destination runs: its vmms takes them */
        for (long t = 0; r >= 0 && t < pc_ms; t += 50) { /* the destination runs; "pages" still go */
                json_object *m = json_object_new_object();
                json_object_object_add(m, "event", json_object_new_string("migrate-progress"));
                json_object_object_add(m, "pass", json_object_new_int64(2));
                json_object_object_add(m, "dirty_pages", json_object_new_int64((pc_ms - t) / 50));
                json_object_object_add(m, "postcopy", json_object_new_boolean(true));
                json_object_object_add(m, "committed", json_object_new_boolean(true));
                send_msg(f, m);
                usleep(50000);
        }
        safe_close(fd);
        if (r < 0 && !committed)
                f->paused = was_paused; /* the VM runs on here */
        json_object *m = reply(req, r >= 0, -r, err);
        if (r < 0 && committed)
                json_object_object_add(m, "committed", json_object_new_boolean(true));
        if (r >= 0 && pc_ms > 0) {
                json_object_object_add(m, "postcopy", json_object_new_boolean(true));
                json_object_object_add(m, "postcopy_pages", json_object_new_int64(pc_ms / 50));
                json_object_object_add(m, "postcopy_requested", json_object_new_int64(pc_ms / 100));
                json_object_object_add(m, "postcopy_ms", json_object_new_double((double)pc_ms));
        }
        send_msg(f, m);
}

/* As vmwp's migrate_incoming: the stream, then the commit; any failure
 * ends the worker with status 3 before it runs. */
static void migrate_receive(struct fake *f, int fd) {
        uint8_t buf[MIG_HELLO_MAX];
        char err[MIG_TEXT_MAX + 128] = "", reason[sizeof err + 16];
        struct mig_hello h;
        struct mig_record rec;
        size_t have = 0;
        int r;
        while ((r = mig_hello_parse(buf, have, &h, err, sizeof err)) == 0) {
                ssize_t k = have < sizeof buf ? read(fd, buf + have, 1) : -1;
                if (k <= 0) {
                        r = -ECONNRESET;
                        snprintf(err, sizeof err, "the source closed the stream in the hello");
                        break;
                }
                have += (size_t)k;
        }
        if (r > 0)
                r = mig_send_record(fd, MIG_ACCEPT, NULL, 10000);
        while (r >= 0 && (r = mig_recv_record(fd, 60000, true, &rec, err, sizeof err)) >= 0 && rec.type != MIG_STATE)
                if (rec.type == MIG_ABORT)
                        r = -ECANCELED;
        if (r < 0 && !err[0])
                snprintf(err, sizeof err, "%s", strerror(-r));
        long delay_ms = knob(f, "fake.delay_running_ms", 0);
        bool lose = knob(f, "fake.lose_running", 0);
        if (r >= 0 && (lose || delay_ms > 0)) {
                if ((r = mig_send_record(fd, MIG_READY, NULL, 10000)) >= 0 &&
                    (r = mig_recv_record(fd, 60000, true, &rec, err, sizeof err)) >= 0 && rec.type != MIG_COMMIT)
                        r = -EPROTO;
                if (r < 0)
                        snprintf(err, sizeof err, "no COMMIT from the source");
                if (r >= 0)
                        console_out(f, "fake-vmwp: committed\n");
                if (r >= 0 && lose)
                        fd = safe_close(fd); /* the confirmation is lost with the link, at once */
                if (r >= 0 && delay_ms > 0) /* committed: it runs, whatever the source does meanwhile */
                        usleep((useconds_t)delay_ms * 1000);
                if (r >= 0 && !lose)
                        (void)mig_send_record(fd, MIG_RUNNING, NULL, 1000);
        } else if (r >= 0)
                r = mig_commit_destination(fd, 60000, err, sizeof err);
        if (r >= 0 && knob(f, "fake.postcopy_ms", 0) > 0)
                f->pc_fd = TAKE_FD(fd); /* the pages come after the commit */
        safe_close(fd);
        snprintf(reason, sizeof reason, "migration: %s", err);
        if (r < 0)
                finish(f, VMWP_EXIT_SETUP, reason);
}

static void disk_push(struct fake *f, json_object *req, int *fds, size_t n) {
        json_object *a;
        bool ok = f->paused && !knob(f, "fake.push_fail", 0) && json_object_object_get_ex(req, "disks", &a) &&
                  json_object_array_length(a) == n;
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                char line[160];
                int fl = fcntl(fds[i], F_GETFL);
                if (ok && fstat(fds[i], &st) == 0) {
                        snprintf(line, sizeof line, "fake-vmwp: disk-push disk %d ino=%llu %s\n",
                                 json_object_get_int(json_object_array_get_idx(a, i)), (unsigned long long)st.st_ino,
                                 (fl & O_ACCMODE) == O_RDWR ? "rw" : "ro");
                        console_out(f, line);
                } else {
                        safe_close(fds[i]);
                }
        }
        send_msg(f, reply(req, ok, ok ? 0 : EIO, ok ? NULL : f->paused ? "fake.push_fail" : "not paused"));
}

static void vss(struct fake *f, json_object *req) {
        json_object *v;
        const char *op = json_object_object_get_ex(req, "operation", &v) ? json_object_get_string(v) : "";
        bool freeze = !strcmp(op, "freeze"), thaw = !strcmp(op, "thaw");
        if (f->vss < 0)
                return send_msg(f, reply(req, false, ENOTSUP, "the VM has no backup (VSS) integration service"));
        if (f->vss == 0)
                return send_msg(f, reply(req, false, ENOTCONN, "the guest has not started its backup (VSS) service"));
        if (!freeze && !thaw)
                return send_msg(f, reply(req, false, EINVAL, "\"operation\" must be freeze, thaw or hot-backup"));
        send_msg(f, reply(req, true, 0, NULL));
        bool ok = freeze ? f->vss != 2 : f->vss != 3;
        if (ok)
                f->frozen = freeze;
        char line[64];
        snprintf(line, sizeof line, "fake-vmwp: vss %s%s\n", op, ok ? "" : " failed");
        console_out(f, line);
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("vss"));
        json_object_object_add(m, "operation", json_object_new_string(op));
        json_object_object_add(m, "ok", json_object_new_boolean(ok));
        json_object_object_add(m, "status", json_object_new_int64(ok ? 0 : 0x80004005));
        send_msg(f, m);
}

/* Reads the source as the guest would get it; the answer goes at
 * fcopy_at (timers). */
static void fcopy(struct fake *f, json_object *req, int fd) {
        json_object *v;
        if (f->fcopy < 0)
                return send_msg(f, reply(req, false, ENOTSUP, "the VM has no file-copy integration service"));
        if (f->fcopy == 0)
                return send_msg(f, reply(req, false, ENOTCONN, "the guest has not started its file-copy service"));
        if (fd < 0 || f->fcopy_ev)
                return send_msg(f, reply(req, false, fd < 0 ? EINVAL : EBUSY, "fcopy: one fd, one copy at a time"));
        const char *dir = json_object_object_get_ex(req, "dir", &v) ? json_object_get_string(v) : "";
        const char *name = json_object_object_get_ex(req, "name", &v) ? json_object_get_string(v) : "";
        int64_t size = json_object_object_get_ex(req, "size", &v) ? json_object_get_int64(v) : -1;
        bool overwrite = json_object_object_get_ex(req, "overwrite", &v) && json_object_get_boolean(v);
        send_msg(f, reply(req, true, 0, NULL));
        uint64_t h = 0xcbf29ce484222325ull, bytes = 0;
        uint32_t status = 0;
        uint8_t buf[65536];
        ssize_t n;
        if (f->fcopy == 2 && !overwrite)
                status = 0x80070050u; /* HV_ERROR_ALREADY_EXISTS */
        else if (f->fcopy == 3)
                status = 0x80004005u; /* HV_E_FAIL */
        while (!status && (n = pread(fd, buf, sizeof buf, (off_t)bytes)) > 0) {
                for (ssize_t i = 0; i < n; i++)
                        h = (h ^ buf[i]) * 0x100000001b3ull;
                bytes += (uint64_t)n;
                json_object *p = json_object_new_object();
                json_object_object_add(p, "event", json_object_new_string("fcopy-progress"));
                json_object_object_add(p, "bytes", json_object_new_int64((int64_t)bytes));
                send_msg(f, p);
        }
        char line[1200];
        if (!status) {
                snprintf(line, sizeof line, "fake-vmwp: fcopy %s%s%s %llu fnv=%016llx\n", dir,
                         strcmp(dir, "/") ? "/" : "", name, (unsigned long long)bytes, (unsigned long long)h);
                console_out(f, line);
        }
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("fcopy"));
        json_object_object_add(m, "ok", json_object_new_boolean(!status && (int64_t)bytes == size));
        json_object_object_add(m, "errno", json_object_new_int(status ? EIO : 0));
        json_object_object_add(m, "status", json_object_new_int64(status));
        json_object_object_add(m, "why", json_object_new_string(!status ? "" : f->fcopy == 2 ? "exists" : "refused"));
        json_object_object_add(m, "bytes", json_object_new_int64((int64_t)bytes));
        f->fcopy_ev = m;
        f->fcopy_at = now_ms() + (uint64_t)knob(f, "fake.copy_ms", 0) + 1;
}

/* vmms's answer to the guest's hv_sock connect: talk over the socket. */
static void hvsock_connected(struct fake *f, json_object *req, int fd) {
        json_object *v;
        int e = json_object_object_get_ex(req, "errno", &v) ? json_object_get_int(v) : 0;
        char line[600];
        if (fd < 0) {
                snprintf(line, sizeof line, "fake-vmwp: hvsock port=%ld refused errno=%d\n", f->hvsock_port, e);
                console_out(f, line);
                return send_msg(f, reply(req, true, 0, NULL));
        }
        send_msg(f, reply(req, true, 0, NULL));
        char buf[256] = "";
        size_t n = 0;
        (void)fcntl(fd, F_SETFL, 0);
        if (write_full(fd, "from-fake-guest", 15) == 0 && shutdown(fd, SHUT_WR) == 0) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                while (n + 1 < sizeof buf && poll(&p, 1, 5000) == 1) {
                        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
                        if (r <= 0)
                                break;
                        n += (size_t)r;
                }
        }
        buf[n] = 0;
        snprintf(line, sizeof line, "fake-vmwp: hvsock port=%ld reply=%s\n", f->hvsock_port, buf);
        console_out(f, line);
}

/* The pending copy's answer becomes a cancelled one, sent at once. */
static void fcopy_cancel(struct fake *f, json_object *req) {
        if (!f->fcopy_ev)
                return send_msg(f, reply(req, false, ENOENT, "no file copy is in progress"));
        send_msg(f, reply(req, true, 0, NULL));
        json_object_object_add(f->fcopy_ev, "ok", json_object_new_boolean(false));
        json_object_object_add(f->fcopy_ev, "errno", json_object_new_int(ECANCELED));
        json_object_object_add(f->fcopy_ev, "why", json_object_new_string("cancelled"));
        f->fcopy_at = now_ms() + 1;
        console_out(f, "fake-vmwp: fcopy cancelled\n");
}

/* ---- Dynamic Memory ---- */

static uint64_t dm_demand_mib(const struct fake *f) {
        long after = knob(f, "fake.dm_pressure_after_ms", -1);
        if (after >= 0 && f->ready && now_ms() >= f->ready_since + (uint64_t)after)
                return (uint64_t)knob(f, "fake.dm_pressure_mib", 0);
        return (uint64_t)knob(f, "fake.dm_demand_mib", 0);
}

static void dm_fields(struct fake *f, json_object *m) {
#define B(k, mib) json_object_object_add(m, k, json_object_new_int64((int64_t)((mib) << 20)))
        uint64_t have = f->dm_startup + f->dm_hot_added, demand = dm_demand_mib(f);
        json_object_object_add(m, "connected", json_object_new_boolean(true));
        B("startup_bytes", f->dm_startup);
        B("maximum_bytes", f->dm_max);
        B("assigned_bytes", f->dm_assigned);
        B("target_bytes", f->dm_target);
        B("ballooned_bytes", have - f->dm_assigned);
        B("hot_added_bytes", f->dm_hot_added);
        json_object_object_add(m, "reported", json_object_new_boolean(demand > 0));
        B("demand_bytes", demand);
        B("available_bytes", f->dm_assigned > demand ? f->dm_assigned - demand : 0);
        json_object_object_add(m, "report_age_ms", json_object_new_int64(300));
        json_object_object_add(m, "can_balloon", json_object_new_boolean(true));
        json_object_object_add(m, "can_hot_add", json_object_new_boolean(f->dm_hot_added < f->dm_max - f->dm_startup));
        json_object_object_add(m, "operation", json_object_new_string("none"));
        json_object_object_add(m, "note", json_object_new_string(f->dm_note));
#undef B
}

static void dm_event(struct fake *f) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("memory"));
        dm_fields(f, m);
        send_msg(f, m);
}

/* As dmvsp_set_target and the guest together: clamped, 2 MiB steps,
 * hot-add in 128 MiB blocks, ballooning down to the guest's floor. */
/* "processor": checked as vmwp checks it; a new limit is printed
 * ("fake-vmwp: processor limit=N"); fake.processor_fail refuses with EIO
 * (a worker that could not apply it: vmms must change nothing). */
static void processor(struct fake *f, json_object *req) {
        json_object *v;
        bool set = json_object_object_get_ex(req, "limit_pct", &v);
        int64_t limit = set && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        char line[64];
        if (set && (limit < 1 || limit > 100))
                return send_msg(f, reply(req, false, EINVAL, "\"limit_pct\" must be an integer from 1 to 100"));
        if (set && knob(f, "fake.processor_fail", 0))
                return send_msg(f, reply(req, false, EIO, "fake-vmwp: processor_fail"));
        if (set) {
                f->cpu_limit = (uint32_t)limit;
                snprintf(line, sizeof line, "fake-vmwp: processor limit=%u\n", f->cpu_limit);
                console_out(f, line);
        }
        json_object *m = reply(req, true, 0, NULL);
        json_object_object_add(m, "limit_pct", json_object_new_int64(f->cpu_limit));
        json_object_object_add(m, "throttled_ms", json_object_new_int64(0));
        send_msg(f, m);
}

static void dm_target(struct fake *f, json_object *req) {
        json_object *v;
        if (!f->dm_max)
                return send_msg(f, reply(req, false, ENOTSUP, "the VM has no dynamic memory"));
        if (json_object_object_get_ex(req, "target_bytes", &v)) {
                uint64_t t = (uint64_t)json_object_get_int64(v) >> 20;
                t = MIN(MAX(t, f->dm_min), f->dm_max) & ~1ull;
                f->dm_target = t;
                while (f->dm_startup + f->dm_hot_added < t)
                        f->dm_hot_added += VM_DM_BLOCK_MIB;
                uint64_t floor = (uint64_t)knob(f, "fake.dm_floor_mib", 0);
                f->dm_assigned = MAX(t, floor);
                snprintf(f->dm_note, sizeof f->dm_note, "%s",
                         t < floor ? "the guest gave less than asked (its floor or free memory)" : "");
                char line[128];
                snprintf(line, sizeof line, "fake-vmwp: memory target=%llu assigned=%llu\n", (unsigned long long)t,
                         (unsigned long long)f->dm_assigned);
                console_out(f, line);
        }
        json_object *m = reply(req, true, 0, NULL);
        dm_fields(f, m);
        send_msg(f, m);
}

/* disk-attach, ...: vmms-fake-hotplug.c, which takes the fds. */
static void hotplug(struct fake *f, json_object *req, int *fds, size_t n_fds) {
        char err[1024] = "", line[1400] = "";
        if (knob(f, "fake.hotplug_die", 0)) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                finish(f, VMWP_EXIT_INTERNAL, "ended during a hot-plug op (fake.hotplug_die)");
        }
        if (knob(f, "fake.hotplug_ms", 0) > 0) {
                console_out(f, "fake-vmwp: hot-plug op waits\n");
                usleep((useconds_t)knob(f, "fake.hotplug_ms", 0) * 1000);
        }
        json_object *fields = json_object_new_object();
        int r = fake_hotplug_run(f->hp, req, fds, n_fds, f->paused, fields, err, sizeof err, line, sizeof line);
        json_object *m = reply(req, r >= 0, -r, err);
        if (r >= 0) {
                json_object_object_foreach(fields, key, val) json_object_object_add(m, key, json_object_get(val));
        }
        json_object_put(fields);
        if (line[0])
                console_out(f, line);
        send_msg(f, m);
}

/* dvd-insert (one fd: the ISO) and dvd-eject: the change is reported on
 * the console ("fake-vmwp: dvd-insert drive D: ino=N ro PATH",
 * "fake-vmwp: dvd-eject drive D") and answered with "drive". */
static void dvd_change(struct fake *f, json_object *req, const char *op, int *fds, size_t n_fds) {
        json_object *v;
        bool insert = !strcmp(op, "dvd-insert");
        int64_t drive = json_object_object_get_ex(req, "drive", &v) ? json_object_get_int64(v) : -1;
        const char *path = json_object_object_get_ex(req, "path", &v) ? json_object_get_string(v) : "";
        char line[VM_PATH_MAX + 96];
        struct stat st;
        int fl = insert && n_fds == 1 ? fcntl(fds[0], F_GETFL) : -1;
        if (drive < 0 || n_fds != (insert ? 1u : 0u) || (insert && (fl < 0 || fstat(fds[0], &st) < 0))) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                send_msg(f, reply(req, false, EINVAL, "a drive index, and the ISO's fd with dvd-insert only"));
                return;
        }
        if (insert)
                snprintf(line, sizeof line, "fake-vmwp: dvd-insert drive %lld: ino=%llu %s %s\n", (long long)drive,
                         (unsigned long long)st.st_ino, (fl & O_ACCMODE) == O_RDONLY ? "ro" : "rw", path);
        else
                snprintf(line, sizeof line, "fake-vmwp: dvd-eject drive %lld\n", (long long)drive);
        for (size_t i = 0; i < n_fds; i++)
                safe_close(fds[i]);
        console_out(f, line);
        json_object *m = reply(req, true, 0, NULL);
        json_object_object_add(m, "drive", json_object_new_int64(drive));
        send_msg(f, m);
}

static void handle_request(struct fake *f, json_object *req, int *fds, size_t n_fds) {
        json_object *v;
        const char *op = json_object_object_get_ex(req, "op", &v) ? json_object_get_string(v) : "";
        if (fake_hotplug_is_op(op)) {
                hotplug(f, req, fds, n_fds);
                return;
        }
        if (!strcmp(op, "dvd-insert") || !strcmp(op, "dvd-eject")) {
                dvd_change(f, req, op, fds, n_fds);
                return;
        }
        if (!strcmp(op, "reattach-listen") && f->reattach && n_fds == 1 && is_listener(fds[0])) {
                safe_close(f->ctl_listen);
                f->ctl_listen = fds[0];
                send_msg(f, reply(req, true, 0, NULL));
                return;
        }
        if (!strcmp(op, "migrate-send") && n_fds == 1) {
                migrate_send(f, req, fds[0]);
                return;
        }
        if (!strcmp(op, "disk-push")) {
                if (f->frozen)
                        console_out(f, "fake-vmwp: disk-push frozen\n");
                disk_push(f, req, fds, n_fds);
                return;
        }
        if (!strcmp(op, "fcopy")) {
                fcopy(f, req, n_fds == 1 ? fds[0] : -1);
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return;
        }
        if (!strcmp(op, "hvsock-connected")) {
                hvsock_connected(f, req, n_fds == 1 ? fds[0] : -1);
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return;
        }
        if (!strcmp(op, "fcopy-cancel")) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return fcopy_cancel(f, req);
        }
        if (!strcmp(op, "save")) {
                save(f, req, n_fds == 1 ? fds[0] : -1);
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return;
        }
        for (size_t i = 0; i < n_fds; i++)
                safe_close(fds[i]);
        if (!strcmp(op, "pause") || !strcmp(op, "resume")) {
                f->paused = !strcmp(op, "pause");
                send_msg(f, reply(req, true, 0, NULL));
                state_event(f);
        } else if (!strcmp(op, "shutdown")) {
                if (!f->shutdown_ic) {
                        send_msg(f, reply(req, false, ENOTSUP, "the guest runs no shutdown integration service"));
                        return;
                }
                bool reboot = json_object_object_get_ex(req, "reboot", &v) && json_object_get_boolean(v);
                send_msg(f, reply(req, true, 0, NULL));
                schedule_exit(f, reboot ? VMWP_EXIT_RESET : VMWP_EXIT_POWEROFF,
                              reboot ? "guest rebooted" : "guest shut down");
        } else if (!strcmp(op, "nmi")) {
                json_object *m = reply(req, true, 0, NULL);
                json_object_object_add(m, "vcpus", json_object_new_int(1));
                send_msg(f, m);
        } else if (!strcmp(op, "power-button")) {
                send_msg(f, reply(req, true, 0, NULL));
                if (!knob(f, "fake.ignore_acpi", 0))
                        schedule_exit(f, VMWP_EXIT_POWEROFF, "guest powered off after the power button");
        } else if (!strcmp(op, "stop")) {
                send_msg(f, reply(req, true, 0, NULL));
                finish(f, VMWP_EXIT_STOPPED, "stopped by vmms");
        } else if (!strcmp(op, "status")) {
                json_object *m = reply(req, true, 0, NULL);
                json_object_object_add(m, "state", json_object_new_string(!f->ready ? "starting" : f->paused ? "paused" : "running"));
                if (f->boot) /* a firmware VM's, as vmwp's */
                        json_object_object_add(m, "boot_status", json_object_new_string(f->ready ? f->boot : "firmware"));
                send_msg(f, m);
        } else if (!strcmp(op, "stats")) {
                json_object *m = reply(req, true, 0, NULL);
                fake_stats_fill(m, ++f->stats_calls, f->vcpus, f->n_disks, f->n_nics, knob(f, "fake.stats_bad", 0));
                send_msg(f, m);
        } else if (!strcmp(op, "console-status"))
                console_status(f, req);
        else if (!strcmp(op, "vss"))
                vss(f, req);
        else if (!strcmp(op, "memory"))
                dm_target(f, req);
        else if (!strcmp(op, "processor"))
                processor(f, req);
        else
                send_msg(f, reply(req, false, EOPNOTSUPP, "unknown op"));
}

static int listen_console(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -1;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        (void)unlink(path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0)
                return safe_close(fd);
        return fd;
}

/* The magic at the start, or (fake.vmstate) a complete saved-state file
 * whose FAKE section starts with it. */
static bool fake_state_ok(int fd) {
        static uint8_t buf[FAKE_STATE_BYTES + 4096];
        ssize_t n = pread(fd, buf, sizeof buf, 0);
        size_t m = strlen(FAKE_STATE_MAGIC);
        if (n >= (ssize_t)m && memcmp(buf, FAKE_STATE_MAGIC, m) == 0)
                return true;
        struct vmstate_section secs[4];
        char err[256];
        int k = n > 0 ? vmstate_index(buf, (size_t)n, NULL, secs, 4, err, sizeof err) : -EINVAL;
        const struct vmstate_section *s = k > 0 ? vmstate_find(secs, (size_t)k, FAKE_STATE_TAG, 0) : NULL;
        return s && s->length >= m && memcmp(s->payload, FAKE_STATE_MAGIC, m) == 0;
}

/* The VHDX parents that come last ("disk_parents", common/proto.h): each
 * is reported on the console ("fake-vmwp: disk D parent K: ino=N ro|rw")
 * for the tests, and kept open (the shared locks hold while it runs). Returns how many there were. */
static size_t report_parents(struct fake *f, const struct vm_config *c, json_object *msg, const int *fds, size_t n) {
        json_object *a;
        size_t total = 0, k = 0;
        char line[160];
        if (!json_object_object_get_ex(msg, "disk_parents", &a))
                return 0;
        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != c->n_disks)
                finish(f, VMWP_EXIT_USAGE, "disk_parents: not one count per disk");
        for (uint32_t d = 0; d < c->n_disks; d++)
                total += (size_t)json_object_get_int(json_object_array_get_idx(a, d));
        if (total > n)
                finish(f, VMWP_EXIT_USAGE, "wrong number of fds");
        for (uint32_t d = 0; d < c->n_disks; d++) {
                int cnt = json_object_get_int(json_object_array_get_idx(a, d));
                for (int p = 0; p < cnt; p++, k++) {
                        struct stat st;
                        int fd = fds[n - total + k];
                        int fl = fcntl(fd, F_GETFL);
                        if (fstat(fd, &st) < 0 || fl < 0)
                                finish(f, VMWP_EXIT_USAGE, "a parent fd is not open");
                        snprintf(line, sizeof line, "fake-vmwp: disk %u parent %d: ino=%llu %s\n", d, p,
                                 (unsigned long long)st.st_ino, (fl & O_ACCMODE) == O_RDONLY ? "ro" : "rw");
                        size_t used = strlen(f->parents);
                        snprintf(f->parents + used, sizeof f->parents - used, "%s", line);
                }
        }
        return total;
}

/* fd is a BPF map (its fdinfo names a map_type). */
static bool is_bpf_map(int fd) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
        int i = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t r = i < 0 ? -1 : read(i, buf, sizeof buf - 1);
        if (i >= 0)
                close(i);
        if (r <= 0)
                return false;
        buf[r] = 0;
        return strstr(buf, "map_type:") != NULL;
}

/* The TAP fds after the disks' (from fds[0]): one per NIC that names a
 * TAP, or "nic_queues" of them, and its RSS steering map ("nic_steer").
 * Returns how many there are. */
static size_t report_nics(struct fake *f, const struct vm_config *c, json_object *msg, const int *fds, size_t n) {
        json_object *a = NULL, *st = NULL;
        bool given = json_object_object_get_ex(msg, "nic_queues", &a);
        if (given && (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != c->n_nics))
                finish(f, VMWP_EXIT_USAGE, "nic_queues: not one count per NIC");
        (void)json_object_object_get_ex(msg, "nic_steer", &st);
        size_t k = 0;
        for (uint32_t i = 0; i < c->n_nics; i++) {
                if (!c->nics[i].tap[0])
                        continue;
                int64_t q = given ? json_object_get_int64(json_object_array_get_idx(a, i)) : 1;
                if (q < 1 || q > 8 || k + (size_t)q > n)
                        finish(f, VMWP_EXIT_USAGE, "nic_queues: a count out of range");
                struct ifreq ifr = { 0 };
                bool mq = ioctl(fds[k], TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_MULTI_QUEUE);
                k += (size_t)q;
                /* the RSS steering map after the queues: a BPF array map */
                bool steer = st && json_object_get_boolean(json_object_array_get_idx(st, i));
                if (steer && (k >= n || !is_bpf_map(fds[k])))
                        finish(f, VMWP_EXIT_USAGE, "nic_steer: no BPF map after the queues");
                k += steer;
                char line[128];
                snprintf(line, sizeof line, "fake-vmwp: nic %u: %lld queue(s)%s%s\n", i, (long long)q,
                         mq ? " multi-queue" : "", steer ? ", RSS steering" : "");
                size_t used = strlen(f->nics);
                snprintf(f->nics + used, sizeof f->nics - used, "%s", line);
        }
        return k;
}

static void files_line(struct fake *f, const char *what, int fd) {
        struct stat st;
        int fl = fcntl(fd, F_GETFL);
        if (fstat(fd, &st) < 0 || fl < 0)
                finish(f, VMWP_EXIT_USAGE, "a file fd is not open");
        size_t used = strlen(f->files);
        snprintf(f->files + used, sizeof f->files - used, "fake-vmwp: %s: ino=%llu %s\n", what,
                 (unsigned long long)st.st_ino, (fl & O_ACCMODE) == O_RDONLY ? "ro" : "rw");
}

/* The DVD drives' ISOs ("dvd_fds", common/proto.h), between the files and
 * the parents: each reported ("fake-vmwp: dvd I: ino=N ro", I the drive
 * index) and closed. Returns how many there were. */
static size_t report_dvds(struct fake *f, const struct vm_config *c, json_object *msg, const int *fds, size_t n) {
        json_object *v;
        if (!json_object_object_get_ex(msg, "dvd_fds", &v))
                return 0;
        size_t want = 0, k = 0;
        for (uint32_t i = 0; i < c->n_dvds; i++)
                want += c->dvds[i].path[0] != 0;
        if (json_object_get_int64(v) != (int64_t)want || want > n)
                finish(f, VMWP_EXIT_USAGE, "dvd_fds: not one per DVD drive with an ISO");
        for (uint32_t i = 0; i < c->n_dvds; i++) {
                if (!c->dvds[i].path[0])
                        continue;
                char what[32];
                snprintf(what, sizeof what, "dvd %u", i);
                files_line(f, what, fds[n - want + k]);
                close(fds[n - want + k++]);
        }
        return want;
}

/* vmwp's rule: one fd per disk, then one per NIC that names a TAP, then
 * the files the message names (kernel or firmware, initrd, serial_log),
 * then the DVD ISOs, then the VHDX parents. A firmware image is reported
 * ("fake-vmwp: file firmware: ino=N ro"). Returns the console log's fd,
 * or -1. */
static int check_fds(struct fake *f, const struct vm_config *c, json_object *msg, const int *fds, size_t n) {
        size_t want = c->n_disks, n_files = 0;
        struct stat st;
        json_object *files, *last = NULL;
        want += report_nics(f, c, msg, fds + MIN((size_t)c->n_disks, n), n - MIN((size_t)c->n_disks, n));
        if (json_object_object_get_ex(msg, "files", &files) && json_object_is_type(files, json_type_array)) {
                n_files = json_object_array_length(files);
                last = n_files ? json_object_array_get_idx(files, n_files - 1) : NULL;
        }
        n -= report_parents(f, c, msg, fds, n);
        n -= report_dvds(f, c, msg, fds, n);
        if (n != want + n_files)
                finish(f, VMWP_EXIT_USAGE, "wrong number of fds");
        for (size_t i = 0; i < n; i++)
                if (fstat(fds[i], &st) < 0)
                        finish(f, VMWP_EXIT_USAGE, "an fd is not open");
        bool log = last && !strcmp(json_object_get_string(last), "serial_log");
        if (last && !strcmp(json_object_get_string(last), "migrate_incoming")) {
                f->mig_fd = fds[--n];
                f->restored = true; /* as vmwp: the guest comes from the source's state */
                log = n_files >= 2 &&
                      !strcmp(json_object_get_string(json_object_array_get_idx(files, n_files - 2)), "serial_log");
        }
        if (last && !strcmp(json_object_get_string(last), "saved_state")) {
                if (n == 0 || !fake_state_ok(fds[n - 1]))
                        finish(f, VMWP_EXIT_SETUP, "saved state: not a state this worker saved");
                f->restored = true;
        }
        for (size_t i = 0; i < c->n_disks && i < VM_DISKS_MAX; i++)
                f->disk_fds[f->n_disk_fds++] = fds[i];
        for (size_t i = want; i + (log ? 1 : 0) < n; i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(files, i - want));
                if (name && !strcmp(name, "firmware")) {
                        char what[32];
                        snprintf(what, sizeof what, "file %s", name);
                        files_line(f, what, fds[i]);
                }
                close(fds[i]); /* the boot files: the fake boots nothing */
        }
        return log ? fds[n - 1] : -1;
}

/* The display side: fake-display-worker listens on the socket vmms named
 * (as vmwp does before it is ready); it dies with us. */
static void start_display(struct fake *f, const char *socket_path) {
        const char *bin = getenv("VM_FAKE_DISPLAY_WORKER"), *log = getenv("VM_FAKE_DISPLAY_LOG");
        if (!bin || !*bin)
                finish(f, VMWP_EXIT_SETUP, "display: VM_FAKE_DISPLAY_WORKER is not set");
        f->display_video = !knob(f, "fake.no_video", 0);
        char a_sock[VM_PATH_MAX + 16], a_log[VM_PATH_MAX + 16];
        snprintf(a_sock, sizeof a_sock, "--socket=%s", socket_path);
        snprintf(a_log, sizeof a_log, "--log=%s", log && *log ? log : "/dev/null");
        char *argv[] = { (char *)bin, a_sock, a_log, f->display_video ? NULL : (char *)"--no-video", NULL };
        pid_t ppid = getpid();
        pid_t p = fork();
        if (p < 0)
                finish(f, VMWP_EXIT_SETUP, "display: fork failed");
        if (p == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != ppid)
                        _exit(0);
                execv(bin, argv);
                _exit(127);
        }
        f->display_pid = p;
        for (int i = 0; i < 500 && access(socket_path, F_OK) < 0; i++)
                usleep(10000);
        if (access(socket_path, F_OK) < 0)
                finish(f, VMWP_EXIT_SETUP, "display: fake-display-worker did not listen");
}

static void display_event(struct fake *f) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("display"));
        json_object_object_add(m, "video", json_object_new_boolean(f->display_video));
        json_object_object_add(m, "keyboard", json_object_new_boolean(true));
        json_object_object_add(m, "mouse", json_object_new_boolean(true));
        json_object_object_add(m, "active", json_object_new_boolean(f->display_video));
        json_object_object_add(m, "width", json_object_new_int64(f->display_video ? 640 : 0));
        json_object_object_add(m, "height", json_object_new_int64(f->display_video ? 480 : 0));
        json_object_object_add(m, "watched", json_object_new_boolean(true));
        send_msg(f, m);
}

static void configure(struct fake *f, const char *serial) {
        json_object *msg = NULL, *cfg, *v;
        int fds[PROTO_MAX_FDS];
        size_t n = 0;
        struct vm_config *c = malloc(sizeof *c);
        char err[256], line[512];
        if (!c || proto_recv(f->ctl, &msg, fds, PROTO_MAX_FDS, &n) < 0 ||
            !json_object_object_get_ex(msg, "op", &v) || strcmp(json_object_get_string(v), "config") ||
            !json_object_object_get_ex(msg, "config", &cfg))
                finish(f, VMWP_EXIT_USAGE, "no configuration message");
        const char *js = json_object_to_json_string(cfg);
        if (vm_config_parse(js, strlen(js), c, err, sizeof err) < 0)
                finish(f, VMWP_EXIT_USAGE, err);
        snprintf(f->name, sizeof f->name, "%s", c->name);
        snprintf(f->cmdline, sizeof f->cmdline, "%s", c->cmdline);
        f->con_log = check_fds(f, c, msg, fds, n);
        if (!(f->hp = fake_hotplug_new(c, msg, fds, n, err, sizeof err)))
                finish(f, VMWP_EXIT_USAGE, err);
        if (f->con_log < 0 && c->serial_log[0] &&
            (f->con_log = open(c->serial_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0)
                finish(f, VMWP_EXIT_SETUP, "serial_log: cannot open");
        if (serial && !strncmp(serial, "socket:", 7) && (f->con_listen = listen_console(serial + 7)) < 0)
                finish(f, VMWP_EXIT_SETUP, "serial socket: cannot listen");
        f->reattach = !knob(f, "fake.no_reattach", 0);
        f->shutdown_ic = c->ic.shutdown && knob(f, "fake.shutdown_ic", 0);
        f->vss = c->ic.vss ? (int)knob(f, "fake.vss", 0) : -1;
        f->fcopy = c->ic.fcopy ? (int)knob(f, "fake.fcopy", 0) : -1;
        f->hvsock_port = knob(f, "fake.hvsock_port", -1); /* without hvsock.enabled too: a rogue worker */
        if (c->display.enabled && c->display.socket[0])
                start_display(f, c->display.socket);
        f->vcpus = c->vcpus, f->n_disks = c->n_disks, f->n_nics = c->n_nics;
        f->boot = fake_firmware_boot(c, f->disk_fds, f->n_disk_fds, f->restored);
        f->firmware = c->boot_kind == VM_BOOT_FIRMWARE;
        if (c->dm.enabled) {
                f->dm_startup = f->dm_assigned = c->memory_mib;
                f->dm_min = vm_dm_minimum_mib(c);
                f->dm_max = vm_dm_reach_mib(c);
        }
        snprintf(line, sizeof line, "fake-vmwp: %s booting (%u disks, %u nics)\n", c->name, c->n_disks, c->n_nics);
        console_out(f, line);
        f->cpu_limit = c->processor.limit_pct;
        snprintf(line, sizeof line, "fake-vmwp: processor limit=%u\n", f->cpu_limit);
        console_out(f, line);
        if (c->hvsock.enabled) {
                snprintf(line, sizeof line, "fake-vmwp: hvsock socket=%.400s\n", c->hvsock.socket);
                console_out(f, line);
        }
        console_out(f, f->nics);
        console_out(f, f->files);
        console_out(f, f->parents);
        char *devices = malloc(96 * (VM_DISKS_MAX + VM_NICS_MAX) + VM_PATH_MAX * VM_DISKS_MAX);
        if (devices) {
                fake_hotplug_describe(f->hp, devices, 96 * (VM_DISKS_MAX + VM_NICS_MAX) + VM_PATH_MAX * VM_DISKS_MAX);
                console_out(f, devices);
                free(devices);
        }
        free(c);
        json_object_put(msg);
        if (knob(f, "fake.setup_fail", 0))
                finish(f, VMWP_EXIT_SETUP, "setup failed on request (fake.setup_fail)");
        if (f->mig_fd >= 0)
                migrate_receive(f, TAKE_FD(f->mig_fd));
        f->ready_at = now_ms() + (uint64_t)knob(f, "fake.ready_ms", 20);
}

/* As vmwp: SeaBIOS's words on the console and in the worker's log, and
 * the "firmware" event. */
static void firmware_event(struct fake *f) {
        bool none = !strcmp(f->boot, "no-bootable-device");
        console_out(f, none ? "No bootable device.\r\n" : "Booting from Hard Disk...\r\n");
        fprintf(stderr, "firmware: %s\n", none ? "No bootable device." : "Booting from 0000:7c00");
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("firmware"));
        json_object_object_add(m, "status", json_object_new_string(f->boot));
        if (none)
                json_object_object_add(m, "message", json_object_new_string("No bootable device."));
        send_msg(f, m);
}

static void become_ready(struct fake *f) {
        json_object *m = json_object_new_object();
        f->ready = true;
        f->ready_at = 0;
        f->ready_since = now_ms();
        json_object_object_add(m, "event", json_object_new_string("ready"));
        if (f->pc_fd >= 0)
                json_object_object_add(m, "postcopy", json_object_new_boolean(true));
        send_msg(f, m);
        console_out(f, "fake-vmwp: guest running\n");
        if (f->boot) /* the firmware's decision, as vmwp reports SeaBIOS's */
                firmware_event(f);
        long unmet = knob(f, "fake.disk_qos_unmet", -1);
        if (unmet >= 0) { /* a malformed "disk-qos" event (ignored), then disks[N]'s minimum unmet at 42 IOPS */
                json_object *bad = json_object_new_object(), *q = json_object_new_object();
                json_object_object_add(bad, "event", json_object_new_string("disk-qos"));
                json_object_object_add(bad, "disk", json_object_new_int64(VM_DISKS_MAX + 5));
                send_msg(f, bad);
                json_object_object_add(q, "event", json_object_new_string("disk-qos"));
                json_object_object_add(q, "disk", json_object_new_int64(unmet));
                json_object_object_add(q, "met", json_object_new_boolean(false));
                json_object_object_add(q, "iops", json_object_new_int64(42));
                json_object_object_add(q, "min_iops", json_object_new_int64(100));
                json_object_object_add(q, "busy_permille", json_object_new_int64(1000));
                send_msg(f, q);
        }
        long after = knob(f, "fake.exit_after_ms", -1);
        if (after >= 0) {
                f->exit_at = now_ms() + (uint64_t)after;
                f->exit_status = (int)knob(f, "fake.exit_status", VMWP_EXIT_GUEST_CRASH);
        }
        f->hb_next = now_ms() + 100;
        if (f->hvsock_port >= 0) {
                json_object *h = json_object_new_object();
                json_object_object_add(h, "event", json_object_new_string("hvsock-connect"));
                json_object_object_add(h, "port", json_object_new_int64(f->hvsock_port));
                json_object_object_add(h, "token", json_object_new_int64(f->hvsock_port + 1000));
                send_msg(f, h);
        }
        if (knob(f, "fake.chatter", 0) > 0)
                f->chatter_next = now_ms() + 10;
        /* fake.display_repeat=N: the same display state N times (a
         * worker's repeats must not reach the bus). */
        for (long i = 0; f->display_pid > 0 && i < MAX(knob(f, "fake.display_repeat", 1), 1L); i++)
                display_event(f);
}

static void heartbeat(struct fake *f) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("heartbeat"));
        json_object_object_add(m, "status", json_object_new_string("ok"));
        json_object_object_add(m, "last_us", json_object_new_int64((int64_t)now_us(CLOCK_REALTIME)));
        send_msg(f, m);
        f->hb_next = now_ms() + 1000;
        if (f->dm_max)
                dm_event(f);
}

static void on_control(struct fake *f) {
        json_object *msg = NULL;
        int fds[32]; /* a disk-attach's image and 16 parents, a nic-attach's queues */
        size_t n_fds = 0;
        int r = proto_recv(f->ctl, &msg, fds, ARRAY_SIZE(fds), &n_fds);
        if (r == -ECONNRESET || (r < 0 && r != -EBADMSG && r != -EAGAIN)) {
                control_lost(f);
                return; /* vmms restarts: wait for it on the listener */
        }
        if (r >= 0) {
                handle_request(f, msg, fds, n_fds);
                json_object_put(msg);
        }
}

static void on_console_input(struct fake *f, int i) {
        char buf[512], line[600];
        ssize_t n = read(f->con[i], buf, sizeof buf - 1);
        if (n <= 0) { /* the client went away (vmwp drops it on end of input too) */
                f->con[i] = safe_close(f->con[i]);
                return;
        }
        buf[n] = 0;
        for (char *save = NULL, *l = strtok_r(buf, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
                snprintf(line, sizeof line, "echo: %s\n", l);
                console_out(f, line);
        }
}

/* Accepts what is queued: the free slot goes to the first, the others are
 * refused with a line, as vmwp does. A client that hung up frees the slot. */
static void accept_console(struct fake *f) {
        struct pollfd p = { .fd = f->con[0], .events = POLLRDHUP };
        if (f->con[0] >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR)))
                f->con[0] = safe_close(f->con[0]);
        int fd;
        while ((fd = accept4(f->con_listen, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                if (f->con[0] >= 0) {
                        (void)write_full(fd, "vmwp: the console is in use by another client\r\n", 47);
                        safe_close(fd);
                        continue;
                }
                f->con[0] = fd;
                f->con_clients++;
                f->con_since_us = now_us(CLOCK_REALTIME);
                (void)write_full(fd, "fake-vmwp: console attached\n", 28);
        }
}

static void chatter(struct fake *f) {
        static const char line[] = "fake-vmwp: chatter 0123456789abcdefghijklmnopqrstuvwxyz0123456789\n";
        for (long n = knob(f, "fake.chatter", 0); n > 0; n -= (long)sizeof line - 1) {
                console_out(f, line);
                fputs(line, stderr);
        }
        fflush(stderr);
        f->chatter_next = now_ms() + 10;
}

static int poll_timeout(const struct fake *f) {
        uint64_t now = now_ms(), next = UINT64_MAX;
        const uint64_t t[] = { f->ready_at, f->exit_at, f->ready ? f->hb_next : 0, f->pending_exit_at,
                               f->chatter_next, f->fcopy_at };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++)
                if (t[i] && t[i] < next)
                        next = t[i];
        return next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
}

static void timers(struct fake *f) {
        uint64_t now = now_ms();
        if (f->ready_at && now >= f->ready_at)
                become_ready(f);
        if (f->exit_at && now >= f->exit_at)
                finish(f, f->exit_status, "exit requested by fake.exit_after_ms");
        if (f->pending_exit_at && now >= f->pending_exit_at)
                finish(f, f->pending_exit_status, f->pending_reason);
        if (f->ready && !f->paused && now >= f->hb_next)
                heartbeat(f);
        if (f->chatter_next && now >= f->chatter_next)
                chatter(f);
        if (f->fcopy_at && now >= f->fcopy_at) {
                f->fcopy_at = 0;
                send_msg(f, TAKE_PTR(f->fcopy_ev));
        }
}

static void run(struct fake *f) {
        for (;;) {
                struct pollfd p[4 + MAX_CONSOLE_CLIENTS];
                p[0] = (struct pollfd){ .fd = f->ctl, .events = POLLIN };
                p[1] = (struct pollfd){ .fd = f->ctl_listen, .events = POLLIN };
                p[2] = (struct pollfd){ .fd = f->con_listen, .events = POLLIN };
                for (int i = 0; i < MAX_CONSOLE_CLIENTS; i++)
                        p[3 + i] = (struct pollfd){ .fd = f->con[i], .events = POLLIN };
                p[3 + MAX_CONSOLE_CLIENTS] = (struct pollfd){ .fd = f->pc_fd, .events = POLLIN };
                if (poll(p, ARRAY_SIZE(p), poll_timeout(f)) < 0 && errno != EINTR)
                        finish(f, VMWP_EXIT_INTERNAL, "poll failed");
                timers(f);
                if (p[0].revents && f->ctl >= 0)
                        on_control(f);
                if (p[1].revents & POLLIN) { /* a (re)started vmms: the newest connection wins */
                        int fd = accept4(f->ctl_listen, NULL, NULL, SOCK_CLOEXEC);
                        if (fd >= 0) {
                                safe_close(f->ctl);
                                f->ctl = fd;
                        }
                }
                if (p[2].revents & POLLIN)
                        accept_console(f);
                for (int i = 0; i < MAX_CONSOLE_CLIENTS; i++)
                        if (f->con[i] >= 0 && (p[3 + i].revents & (POLLIN | POLLHUP)))
                                on_console_input(f, i);
                if (f->pc_fd >= 0 && p[3 + MAX_CONSOLE_CLIENTS].revents) {
                        char buf[4096];
                        ssize_t n = read(f->pc_fd, buf, sizeof buf);
                        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                                f->pc_fd = safe_close(f->pc_fd);
                                console_out(f, n == 0 ? "fake-vmwp: post-copy: the stream ended\n"
                                                      : "fake-vmwp: post-copy: the stream failed\n");
                        }
                }
        }
}

static void on_sigterm(int sig) {
        _exit(VMWP_EXIT_STOPPED);
}

int main(int argc, char **argv) {
        struct fake f = { .ctl = PROTO_CONTROL_FD, .ctl_listen = -1, .con_listen = -1, .con_log = -1, .mig_fd = -1,
                          .pc_fd = -1 };
        for (int i = 0; i < MAX_CONSOLE_CLIENTS; i++)
                f.con[i] = -1;
        if ((argc != 3 && argc != 5) || strcmp(argv[1], "--control-fd") || strcmp(argv[2], "3") ||
            (argc == 5 && strcmp(argv[3], "--serial"))) {
                fprintf(stderr, "usage: vmms-fake-vmwp --control-fd 3 [--serial socket:PATH]\n");
                return VMWP_EXIT_USAGE;
        }
        signal(SIGPIPE, SIG_IGN);
        signal(SIGTERM, on_sigterm);
        configure(&f, argc == 5 ? argv[4] : NULL);
        run(&f);
}
