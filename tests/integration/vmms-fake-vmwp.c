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
 *   fake.build_ms=N      before that, read no request for N ms, as vmwp while
 *                        it builds the VM (a restore, an incoming migration)
 *   fake.exit_after_ms=N fake.exit_status=S   exit with S, N ms after ready
 *   fake.shutdown_ic     the guest runs the shutdown integration service
 *                        (otherwise shutdown answers ENOTSUP, as vmwp does today)
 *   fake.ignore_acpi     the guest ignores the ACPI power button
 *   fake.no_reattach     answer "reattach-listen" with EOPNOTSUPP, as a worker
 *                        without re-attach does (it then exits when vmms goes)
 *   fake.setup_fail      fail setup (exit VMWP_EXIT_SETUP)
 *   fake.stats_bad      answer "stats" with a negative vCPU time (vmms-fake-stats.c
 *                        says what "stats" reports otherwise)
 *   fake.hb_lost_after=N after N heartbeats (one a second once ready) report
 *                        "lost" and beat no more, as vmwp after a guest stopped
 *                        answering
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
 *   fake.dm_pressure_file=PATH fake.dm_pressure_mib=M   once PATH exists
 *                          its demand becomes M MiB (the test's moment:
 *                          a fixed time after ready, the first checks ran
 *                          past it on the emulated AMD-V host)
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
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "vmms-fake-stats.h"
#include "vmms-fake-vmwp.h"

/* Just past fake.NAME in the cmdline ("=..." or the end of a bare flag);
 * NULL without it. */
static const char *knob_at(const struct fake *f, const char *name) {
        const char *p = strstr(f->cmdline, name);
        return p ? p + strlen(name) : NULL;
}

long fake_knob(const struct fake *f, const char *name, long def) {
        const char *p = knob_at(f, name);
        if (!p)
                return def;
        return *p == '=' ? strtol(p + 1, NULL, 10) : 1;
}

bool fake_knob_word(const struct fake *f, const char *name, char *out, size_t len) {
        const char *p = knob_at(f, name);
        if (!p || *p++ != '=')
                return false;
        size_t n = strcspn(p, " ");
        if (n == 0 || n >= len)
                return false;
        memcpy(out, p, n);
        out[n] = 0;
        return true;
}

uint64_t fake_now_ms(void) {
        return now_us(CLOCK_MONOTONIC) / 1000;
}

/* As vmwp's control_lost(): without a re-attach listener the worker ends;
 * with one it waits there for the next vmms. A send that fails counts as
 * much as a read that does (a heartbeat can find vmms gone first). */
static void control_lost(struct fake *f) {
        f->ctl = safe_close(f->ctl);
        if (f->ctl_listen < 0)
                fake_finish(f, VMWP_EXIT_CONTROL_LOST, "control connection to vmms lost");
}

void fake_send_msg(struct fake *f, json_object *m) {
        int r = f->ctl >= 0 ? proto_send(f->ctl, m, NULL, 0) : 0;
        json_object_put(m);
        if (r < 0)
                control_lost(f);
}

void fake_console_out(struct fake *f, const char *s) {
        if (f->con_log >= 0)
                (void)write_full(f->con_log, s, strlen(s));
        for (int i = 0; i < MAX_CONSOLE_CLIENTS; i++)
                if (f->con[i] >= 0 && write_full(f->con[i], s, strlen(s)) < 0)
                        f->con[i] = safe_close(f->con[i]);
}

_Noreturn void fake_finish(struct fake *f, int status, const char *reason) {
        char line[256];
        if (f->display_pid > 0) /* the display socket closes with the worker */
                kill(f->display_pid, SIGTERM);
        snprintf(line, sizeof line, "fake-vmwp: %s: exiting: %s\n", f->name, reason);
        fake_console_out(f, line);
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("exit"));
        json_object_object_add(m, "status", json_object_new_int(status));
        json_object_object_add(m, "reason", json_object_new_string(reason));
        if (f->ready) { /* as vmwp: the final counters (one more step) */
                json_object *st = json_object_new_object();
                fake_stats_fill(st, ++f->stats_calls, f->vcpus, f->n_disks, f->n_nics, fake_knob(f, "fake.stats_bad", 0));
                json_object_object_add(m, "stats", st);
        }
        fake_send_msg(f, m);
        fprintf(stderr, "fake-vmwp: %s\n", reason);
        exit(status);
}

json_object *fake_reply(json_object *req, bool ok, int err, const char *error) {
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

void fake_state_event(struct fake *f) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("state"));
        json_object_object_add(m, "state", json_object_new_string(f->paused ? "paused" : "running"));
        fake_send_msg(f, m);
}

void fake_schedule_exit(struct fake *f, int status, const char *reason) {
        f->pending_exit_at = fake_now_ms() + 20;
        f->pending_exit_status = status;
        f->pending_reason = reason;
}

/* As vmwp: SeaBIOS's words on the console and in the worker's log, and
 * the "firmware" event. */
static void firmware_event(struct fake *f) {
        bool none = !strcmp(f->boot, "no-bootable-device");
        fake_console_out(f, none ? "No bootable device.\r\n" : "Booting from Hard Disk...\r\n");
        fprintf(stderr, "firmware: %s\n", none ? "No bootable device." : "Booting from 0000:7c00");
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("firmware"));
        json_object_object_add(m, "status", json_object_new_string(f->boot));
        if (none)
                json_object_object_add(m, "message", json_object_new_string("No bootable device."));
        fake_send_msg(f, m);
}

static void become_ready(struct fake *f) {
        json_object *m = json_object_new_object();
        f->ready = true;
        f->ready_at = 0;
        json_object_object_add(m, "event", json_object_new_string("ready"));
        if (f->pc_fd >= 0)
                json_object_object_add(m, "postcopy", json_object_new_boolean(true));
        fake_send_msg(f, m);
        fake_console_out(f, "fake-vmwp: guest running\n");
        if (f->boot) /* the firmware's decision, as vmwp reports SeaBIOS's */
                firmware_event(f);
        long unmet = fake_knob(f, "fake.disk_qos_unmet", -1);
        if (unmet >= 0) { /* a malformed "disk-qos" event (ignored), then disks[N]'s minimum unmet at 42 IOPS */
                json_object *bad = json_object_new_object(), *q = json_object_new_object();
                json_object_object_add(bad, "event", json_object_new_string("disk-qos"));
                json_object_object_add(bad, "disk", json_object_new_int64(VM_DISKS_MAX + 5));
                fake_send_msg(f, bad);
                json_object_object_add(q, "event", json_object_new_string("disk-qos"));
                json_object_object_add(q, "disk", json_object_new_int64(unmet));
                json_object_object_add(q, "met", json_object_new_boolean(false));
                json_object_object_add(q, "iops", json_object_new_int64(42));
                json_object_object_add(q, "min_iops", json_object_new_int64(100));
                json_object_object_add(q, "busy_permille", json_object_new_int64(1000));
                fake_send_msg(f, q);
        }
        long after = fake_knob(f, "fake.exit_after_ms", -1);
        if (after >= 0) {
                f->exit_at = fake_now_ms() + (uint64_t)after;
                f->exit_status = (int)fake_knob(f, "fake.exit_status", VMWP_EXIT_GUEST_CRASH);
        }
        f->hb_next = fake_now_ms() + 100;
        if (f->hvsock_port >= 0) {
                json_object *h = json_object_new_object();
                json_object_object_add(h, "event", json_object_new_string("hvsock-connect"));
                json_object_object_add(h, "port", json_object_new_int64(f->hvsock_port));
                json_object_object_add(h, "token", json_object_new_int64(f->hvsock_port + 1000));
                fake_send_msg(f, h);
        }
        if (fake_knob(f, "fake.chatter", 0) > 0)
                f->chatter_next = fake_now_ms() + 10;
        /* fake.display_repeat=N: the same display state N times (a
         * worker's repeats must not reach the bus). */
        for (long i = 0; f->display_pid > 0 && i < MAX(fake_knob(f, "fake.display_repeat", 1), 1L); i++)
                fake_display_event(f);
}

static void heartbeat(struct fake *f) {
        long lost_after = fake_knob(f, "fake.hb_lost_after", 0);
        bool lost = lost_after > 0 && f->beats >= lost_after;
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("heartbeat"));
        json_object_object_add(m, "status", json_object_new_string(lost ? "lost" : "ok"));
        if (!lost)
                f->last_beat_us = now_us(CLOCK_REALTIME);
        json_object_object_add(m, "last_us", json_object_new_int64((int64_t)f->last_beat_us));
        fake_send_msg(f, m);
        f->beats++;
        f->hb_next = lost ? UINT64_MAX : fake_now_ms() + 1000;
        if (f->dm_max)
                fake_dm_event(f);
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
                fake_handle_request(f, msg, fds, n_fds);
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
                fake_console_out(f, line);
        }
}

/* Accepts what is queued: the free slot goes to the first, the others are
 * refused with a line, as vmwp does. A client that hung up frees the slot. */
void fake_accept_console(struct fake *f) {
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
        for (long n = fake_knob(f, "fake.chatter", 0); n > 0; n -= (long)sizeof line - 1) {
                fake_console_out(f, line);
                fputs(line, stderr);
        }
        fflush(stderr);
        f->chatter_next = fake_now_ms() + 10;
}

static int poll_timeout(const struct fake *f) {
        uint64_t now = fake_now_ms(), next = UINT64_MAX;
        const uint64_t t[] = { f->ready_at, f->exit_at, f->ready ? f->hb_next : 0, f->pending_exit_at,
                               f->chatter_next, f->fcopy_at };
        for (size_t i = 0; i < ARRAY_SIZE(t); i++)
                if (t[i] && t[i] < next)
                        next = t[i];
        return next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
}

static void timers(struct fake *f) {
        uint64_t now = fake_now_ms();
        if (f->ready_at && now >= f->ready_at)
                become_ready(f);
        if (f->exit_at && now >= f->exit_at)
                fake_finish(f, f->exit_status, "exit requested by fake.exit_after_ms");
        if (f->pending_exit_at && now >= f->pending_exit_at)
                fake_finish(f, f->pending_exit_status, f->pending_reason);
        if (f->ready && !f->paused && now >= f->hb_next)
                heartbeat(f);
        if (f->chatter_next && now >= f->chatter_next)
                chatter(f);
        if (f->fcopy_at && now >= f->fcopy_at) {
                f->fcopy_at = 0;
                fake_send_msg(f, TAKE_PTR(f->fcopy_ev));
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
                        fake_finish(f, VMWP_EXIT_INTERNAL, "poll failed");
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
                        fake_accept_console(f);
                for (int i = 0; i < MAX_CONSOLE_CLIENTS; i++)
                        if (f->con[i] >= 0 && (p[3 + i].revents & (POLLIN | POLLHUP)))
                                on_console_input(f, i);
                if (f->pc_fd >= 0 && p[3 + MAX_CONSOLE_CLIENTS].revents) {
                        char buf[4096];
                        ssize_t n = read(f->pc_fd, buf, sizeof buf);
                        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                                f->pc_fd = safe_close(f->pc_fd);
                                fake_console_out(f, n == 0 ? "fake-vmwp: post-copy: the stream ended\n"
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
        fake_configure(&f, argc == 5 ? argv[4] : NULL);
        run(&f);
}
