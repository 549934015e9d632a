// SPDX-License-Identifier: MIT
/* The fake worker's answers to vmms's requests (common/proto.h): pause,
 * save, migration, disk-push, the integration services, Dynamic Memory,
 * the processor limit, disks, NICs and DVDs, as vmwp answers them
 * (what the fake does and its fake.* words: vmms-fake-vmwp.c). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/migcommit.h"
#include "common/proto.h"
#include "common/vmstate.h"
#include "vmms-fake-hotplug.h"
#include "vmms-fake-stats.h"
#include "vmms-fake-vmwp.h"

static bool is_listener(int fd) {
        int type = 0, acc = 0;
        socklen_t l1 = sizeof type, l2 = sizeof acc;
        return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == 0 && type == SOCK_SEQPACKET &&
               getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l2) == 0 && acc;
}

static void console_status(struct fake *f, json_object *req) {
        if (f->con_listen < 0) {
                fake_send_msg(f, fake_reply(req, false, ENOTSUP, "the console is not a socket"));
                return;
        }
        fake_accept_console(f);
        json_object *m = fake_reply(req, true, 0, NULL);
        json_object_object_add(m, "connected", json_object_new_boolean(f->con[0] >= 0));
        json_object_object_add(m, "clients", json_object_new_int64((int64_t)f->con_clients));
        json_object_object_add(m, "since_us", json_object_new_int64((int64_t)f->con_since_us));
        fake_send_msg(f, m);
}

static void save_progress(struct fake *f, uint64_t done, uint64_t total) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("save-progress"));
        json_object_object_add(m, "done", json_object_new_int64((int64_t)done));
        json_object_object_add(m, "total", json_object_new_int64((int64_t)total));
        fake_send_msg(f, m);
}

/* As vmwp's op_save (vmwp/run.c): pause, write, progress, reply; on a
 * failure the VM is as it was. */
static void save(struct fake *f, json_object *req, int fd) {
        static uint8_t chunk[FAKE_STATE_BYTES / 8];
        if (fd < 0) {
                fake_send_msg(f, fake_reply(req, false, EINVAL, "save needs the state file's fd"));
                return;
        }
        if (fake_knob(f, "fake.save_fail", 0)) {
                fake_send_msg(f, fake_reply(req, false, ENOSPC, "writing the state: No space left on device"));
                return;
        }
        uint64_t t0 = now_us(CLOCK_MONOTONIC), step_us = (uint64_t)fake_knob(f, "fake.save_ms", 200) * 1000 / 8;
        bool was_paused = f->paused;
        f->paused = true;
        if (!was_paused)
                fake_state_event(f);
        memset(chunk, 0x5a, sizeof chunk);
        memcpy(chunk, FAKE_STATE_MAGIC, strlen(FAKE_STATE_MAGIC));
        struct vmstate_writer *w = NULL;
        int r = 0;
        if ((f->firmware || fake_knob(f, "fake.vmstate", 0)) && (r = vmstate_writer_new(fd, 0, &w)) == 0)
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
                        fake_state_event(f);
                fake_send_msg(f, fake_reply(req, false, -r, "writing the state failed"));
                return;
        }
        json_object *m = fake_reply(req, true, 0, NULL);
        json_object_object_add(m, "bytes", json_object_new_int64((int64_t)bytes));
        json_object_object_add(m, "ms", json_object_new_double((double)(now_us(CLOCK_MONOTONIC) - t0) / 1e3));
        fake_send_msg(f, m);
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
        json_object_object_add(m, "throttle_pct", json_object_new_int64(pass > 1 ? fake_knob(f, "fake.throttle_pct", 0) : 0));
        fake_send_msg(f, m);
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
        fake_console_out(f, seen);
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
        for (long t = 0, pass = 1; r >= 0 && t < fake_knob(f, "fake.migrate_ms", 0); t += 50, pass++) {
                if ((r = mig_send_record(fd, MIG_PASS, NULL, 10000)) < 0)
                        snprintf(err, sizeof err, "pass: sending to the destination: %s", strerror(-r));
                else
                        migrate_progress(f, pass);
                usleep(50000);
        }
        if (r >= 0 && ((r = mig_send_record(fd, MIG_PASS, NULL, 10000)) < 0 ||
                       (r = mig_send_record(fd, MIG_STATE, NULL, 10000)) < 0))
                snprintf(err, sizeof err, "sending: %s", strerror(-r));
        if (r >= 0 && fake_knob(f, "fake.lose_commit", 0)) {
                r = mig_recv_record(fd, 10000, false, &rec, why, sizeof why);
                committed = r >= 0 && rec.type == MIG_READY; /* and the COMMIT goes nowhere */
                r = -ECONNRESET;
                snprintf(err, sizeof err, "committed, but the destination did not confirm running: the stream closed");
        } else if (r >= 0)
                r = mig_commit_source(fd, 10000, &committed, err, sizeof err);
        long pc_ms = fake_knob(f, "fake.postcopy_ms", 0);
        for (size_t i = 0; r >= 0 && pc_ms > 0 && i < f->n_disk_fds; i++)
                (void)flock(f->disk_fds[i], LOCK_UN); /* the destination runs: its vmms takes them */
        for (long t = 0; r >= 0 && t < pc_ms; t += 50) { /* the destination runs; "pages" still go */
                json_object *m = json_object_new_object();
                json_object_object_add(m, "event", json_object_new_string("migrate-progress"));
                json_object_object_add(m, "pass", json_object_new_int64(2));
                json_object_object_add(m, "dirty_pages", json_object_new_int64((pc_ms - t) / 50));
                json_object_object_add(m, "postcopy", json_object_new_boolean(true));
                json_object_object_add(m, "committed", json_object_new_boolean(true));
                fake_send_msg(f, m);
                usleep(50000);
        }
        safe_close(fd);
        if (r < 0 && !committed)
                f->paused = was_paused; /* the VM runs on here */
        json_object *m = fake_reply(req, r >= 0, -r, err);
        if (r < 0 && committed)
                json_object_object_add(m, "committed", json_object_new_boolean(true));
        if (r >= 0 && pc_ms > 0) {
                json_object_object_add(m, "postcopy", json_object_new_boolean(true));
                json_object_object_add(m, "postcopy_pages", json_object_new_int64(pc_ms / 50));
                json_object_object_add(m, "postcopy_requested", json_object_new_int64(pc_ms / 100));
                json_object_object_add(m, "postcopy_ms", json_object_new_double((double)pc_ms));
        }
        fake_send_msg(f, m);
}

/* As vmwp's migrate_incoming: the stream, then the commit; any failure
 * ends the worker with status 3 before it runs. */
void fake_migrate_receive(struct fake *f, int fd) {
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
        long delay_ms = fake_knob(f, "fake.delay_running_ms", 0);
        bool lose = fake_knob(f, "fake.lose_running", 0);
        if (r >= 0 && (lose || delay_ms > 0)) {
                if ((r = mig_send_record(fd, MIG_READY, NULL, 10000)) >= 0 &&
                    (r = mig_recv_record(fd, 60000, true, &rec, err, sizeof err)) >= 0 && rec.type != MIG_COMMIT)
                        r = -EPROTO;
                if (r < 0)
                        snprintf(err, sizeof err, "no COMMIT from the source");
                if (r >= 0)
                        fake_console_out(f, "fake-vmwp: committed\n");
                if (r >= 0 && lose)
                        fd = safe_close(fd); /* the confirmation is lost with the link, at once */
                if (r >= 0 && delay_ms > 0) /* committed: it runs, whatever the source does meanwhile */
                        usleep((useconds_t)delay_ms * 1000);
                if (r >= 0 && !lose)
                        (void)mig_send_record(fd, MIG_RUNNING, NULL, 1000);
        } else if (r >= 0)
                r = mig_commit_destination(fd, 60000, err, sizeof err);
        if (r >= 0 && fake_knob(f, "fake.postcopy_ms", 0) > 0)
                f->pc_fd = TAKE_FD(fd); /* the pages come after the commit */
        safe_close(fd);
        snprintf(reason, sizeof reason, "migration: %s", err);
        if (r < 0)
                fake_finish(f, VMWP_EXIT_SETUP, reason);
}

static void disk_push(struct fake *f, json_object *req, int *fds, size_t n) {
        json_object *a;
        bool ok = f->paused && !fake_knob(f, "fake.push_fail", 0) && json_object_object_get_ex(req, "disks", &a) &&
                  json_object_array_length(a) == n;
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                char line[160];
                int fl = fcntl(fds[i], F_GETFL);
                if (ok && fstat(fds[i], &st) == 0) {
                        snprintf(line, sizeof line, "fake-vmwp: disk-push disk %d ino=%llu %s\n",
                                 json_object_get_int(json_object_array_get_idx(a, i)), (unsigned long long)st.st_ino,
                                 (fl & O_ACCMODE) == O_RDWR ? "rw" : "ro");
                        fake_console_out(f, line);
                } else {
                        safe_close(fds[i]);
                }
        }
        fake_send_msg(f, fake_reply(req, ok, ok ? 0 : EIO, ok ? NULL : f->paused ? "fake.push_fail" : "not paused"));
}

static void vss(struct fake *f, json_object *req) {
        json_object *v;
        const char *op = json_object_object_get_ex(req, "operation", &v) ? json_object_get_string(v) : "";
        bool freeze = !strcmp(op, "freeze"), thaw = !strcmp(op, "thaw");
        if (f->vss < 0)
                return fake_send_msg(f, fake_reply(req, false, ENOTSUP, "the VM has no backup (VSS) integration service"));
        if (f->vss == 0)
                return fake_send_msg(f, fake_reply(req, false, ENOTCONN, "the guest has not started its backup (VSS) service"));
        if (!freeze && !thaw)
                return fake_send_msg(f, fake_reply(req, false, EINVAL, "\"operation\" must be freeze, thaw or hot-backup"));
        fake_send_msg(f, fake_reply(req, true, 0, NULL));
        bool ok = freeze ? f->vss != 2 : f->vss != 3;
        if (ok)
                f->frozen = freeze;
        char line[64];
        snprintf(line, sizeof line, "fake-vmwp: vss %s%s\n", op, ok ? "" : " failed");
        fake_console_out(f, line);
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("vss"));
        json_object_object_add(m, "operation", json_object_new_string(op));
        json_object_object_add(m, "ok", json_object_new_boolean(ok));
        json_object_object_add(m, "status", json_object_new_int64(ok ? 0 : 0x80004005));
        fake_send_msg(f, m);
}

/* Reads the source as the guest would get it; the answer goes at
 * fcopy_at (timers). */
static void fcopy(struct fake *f, json_object *req, int fd) {
        json_object *v;
        if (f->fcopy < 0)
                return fake_send_msg(f, fake_reply(req, false, ENOTSUP, "the VM has no file-copy integration service"));
        if (f->fcopy == 0)
                return fake_send_msg(f, fake_reply(req, false, ENOTCONN, "the guest has not started its file-copy service"));
        if (fd < 0 || f->fcopy_ev)
                return fake_send_msg(f, fake_reply(req, false, fd < 0 ? EINVAL : EBUSY, "fcopy: one fd, one copy at a time"));
        const char *dir = json_object_object_get_ex(req, "dir", &v) ? json_object_get_string(v) : "";
        const char *name = json_object_object_get_ex(req, "name", &v) ? json_object_get_string(v) : "";
        int64_t size = json_object_object_get_ex(req, "size", &v) ? json_object_get_int64(v) : -1;
        bool overwrite = json_object_object_get_ex(req, "overwrite", &v) && json_object_get_boolean(v);
        fake_send_msg(f, fake_reply(req, true, 0, NULL));
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
                fake_send_msg(f, p);
        }
        char line[1200];
        if (!status) {
                snprintf(line, sizeof line, "fake-vmwp: fcopy %s%s%s %llu fnv=%016llx\n", dir,
                         strcmp(dir, "/") ? "/" : "", name, (unsigned long long)bytes, (unsigned long long)h);
                fake_console_out(f, line);
        }
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("fcopy"));
        json_object_object_add(m, "ok", json_object_new_boolean(!status && (int64_t)bytes == size));
        json_object_object_add(m, "errno", json_object_new_int(status ? EIO : 0));
        json_object_object_add(m, "status", json_object_new_int64(status));
        json_object_object_add(m, "why", json_object_new_string(!status ? "" : f->fcopy == 2 ? "exists" : "refused"));
        json_object_object_add(m, "bytes", json_object_new_int64((int64_t)bytes));
        f->fcopy_ev = m;
        f->fcopy_at = fake_now_ms() + (uint64_t)fake_knob(f, "fake.copy_ms", 0) + 1;
}

/* vmms's answer to the guest's hv_sock connect: talk over the socket. */
static void hvsock_connected(struct fake *f, json_object *req, int fd) {
        json_object *v;
        int e = json_object_object_get_ex(req, "errno", &v) ? json_object_get_int(v) : 0;
        char line[600];
        if (fd < 0) {
                snprintf(line, sizeof line, "fake-vmwp: hvsock port=%ld refused errno=%d\n", f->hvsock_port, e);
                fake_console_out(f, line);
                return fake_send_msg(f, fake_reply(req, true, 0, NULL));
        }
        fake_send_msg(f, fake_reply(req, true, 0, NULL));
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
        fake_console_out(f, line);
}

/* The pending copy's answer becomes a cancelled one, sent at once. */
static void fcopy_cancel(struct fake *f, json_object *req) {
        if (!f->fcopy_ev)
                return fake_send_msg(f, fake_reply(req, false, ENOENT, "no file copy is in progress"));
        fake_send_msg(f, fake_reply(req, true, 0, NULL));
        json_object_object_add(f->fcopy_ev, "ok", json_object_new_boolean(false));
        json_object_object_add(f->fcopy_ev, "errno", json_object_new_int(ECANCELED));
        json_object_object_add(f->fcopy_ev, "why", json_object_new_string("cancelled"));
        f->fcopy_at = fake_now_ms() + 1;
        fake_console_out(f, "fake-vmwp: fcopy cancelled\n");
}

/* ---- Dynamic Memory ---- */

static uint64_t dm_demand_mib(const struct fake *f) {
        char path[256];
        if (fake_knob_word(f, "fake.dm_pressure_file", path, sizeof path) && access(path, F_OK) == 0)
                return (uint64_t)fake_knob(f, "fake.dm_pressure_mib", 0);
        return (uint64_t)fake_knob(f, "fake.dm_demand_mib", 0);
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

void fake_dm_event(struct fake *f) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("memory"));
        dm_fields(f, m);
        fake_send_msg(f, m);
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
                return fake_send_msg(f, fake_reply(req, false, EINVAL, "\"limit_pct\" must be an integer from 1 to 100"));
        if (set && fake_knob(f, "fake.processor_fail", 0))
                return fake_send_msg(f, fake_reply(req, false, EIO, "fake-vmwp: processor_fail"));
        if (set) {
                f->cpu_limit = (uint32_t)limit;
                snprintf(line, sizeof line, "fake-vmwp: processor limit=%u\n", f->cpu_limit);
                fake_console_out(f, line);
        }
        json_object *m = fake_reply(req, true, 0, NULL);
        json_object_object_add(m, "limit_pct", json_object_new_int64(f->cpu_limit));
        json_object_object_add(m, "throttled_ms", json_object_new_int64(0));
        fake_send_msg(f, m);
}

static void dm_target(struct fake *f, json_object *req) {
        json_object *v;
        if (!f->dm_max)
                return fake_send_msg(f, fake_reply(req, false, ENOTSUP, "the VM has no dynamic memory"));
        if (json_object_object_get_ex(req, "target_bytes", &v)) {
                uint64_t t = (uint64_t)json_object_get_int64(v) >> 20;
                t = MIN(MAX(t, f->dm_min), f->dm_max) & ~1ull;
                f->dm_target = t;
                while (f->dm_startup + f->dm_hot_added < t)
                        f->dm_hot_added += VM_DM_BLOCK_MIB;
                uint64_t floor = (uint64_t)fake_knob(f, "fake.dm_floor_mib", 0);
                f->dm_assigned = MAX(t, floor);
                snprintf(f->dm_note, sizeof f->dm_note, "%s",
                         t < floor ? "the guest gave less than asked (its floor or free memory)" : "");
                char line[128];
                snprintf(line, sizeof line, "fake-vmwp: memory target=%llu assigned=%llu\n", (unsigned long long)t,
                         (unsigned long long)f->dm_assigned);
                fake_console_out(f, line);
        }
        json_object *m = fake_reply(req, true, 0, NULL);
        dm_fields(f, m);
        fake_send_msg(f, m);
}

/* disk-attach, ...: vmms-fake-hotplug.c, which takes the fds. */
static void hotplug(struct fake *f, json_object *req, int *fds, size_t n_fds) {
        char err[1024] = "", line[1400] = "";
        if (fake_knob(f, "fake.hotplug_die", 0)) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                fake_finish(f, VMWP_EXIT_INTERNAL, "ended during a hot-plug op (fake.hotplug_die)");
        }
        if (fake_knob(f, "fake.hotplug_ms", 0) > 0) {
                fake_console_out(f, "fake-vmwp: hot-plug op waits\n");
                usleep((useconds_t)fake_knob(f, "fake.hotplug_ms", 0) * 1000);
        }
        json_object *fields = json_object_new_object();
        int r = fake_hotplug_run(f->hp, req, fds, n_fds, f->paused, fields, err, sizeof err, line, sizeof line);
        json_object *m = fake_reply(req, r >= 0, -r, err);
        if (r >= 0) {
                json_object_object_foreach(fields, key, val) json_object_object_add(m, key, json_object_get(val));
        }
        json_object_put(fields);
        if (line[0])
                fake_console_out(f, line);
        fake_send_msg(f, m);
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
                fake_send_msg(f, fake_reply(req, false, EINVAL, "a drive index, and the ISO's fd with dvd-insert only"));
                return;
        }
        if (insert)
                snprintf(line, sizeof line, "fake-vmwp: dvd-insert drive %lld: ino=%llu %s %s\n", (long long)drive,
                         (unsigned long long)st.st_ino, (fl & O_ACCMODE) == O_RDONLY ? "ro" : "rw", path);
        else
                snprintf(line, sizeof line, "fake-vmwp: dvd-eject drive %lld\n", (long long)drive);
        for (size_t i = 0; i < n_fds; i++)
                safe_close(fds[i]);
        fake_console_out(f, line);
        json_object *m = fake_reply(req, true, 0, NULL);
        json_object_object_add(m, "drive", json_object_new_int64(drive));
        fake_send_msg(f, m);
}

void fake_handle_request(struct fake *f, json_object *req, int *fds, size_t n_fds) {
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
                fake_send_msg(f, fake_reply(req, true, 0, NULL));
                return;
        }
        if (!strcmp(op, "migrate-send") && n_fds == 1) {
                migrate_send(f, req, fds[0]);
                return;
        }
        if (!strcmp(op, "disk-push")) {
                if (f->frozen)
                        fake_console_out(f, "fake-vmwp: disk-push frozen\n");
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
                fake_send_msg(f, fake_reply(req, true, 0, NULL));
                fake_state_event(f);
        } else if (!strcmp(op, "shutdown")) {
                if (!f->shutdown_ic) {
                        fake_send_msg(f, fake_reply(req, false, ENOTSUP, "the guest runs no shutdown integration service"));
                        return;
                }
                bool reboot = json_object_object_get_ex(req, "reboot", &v) && json_object_get_boolean(v);
                fake_send_msg(f, fake_reply(req, true, 0, NULL));
                fake_schedule_exit(f, reboot ? VMWP_EXIT_RESET : VMWP_EXIT_POWEROFF,
                              reboot ? "guest rebooted" : "guest shut down");
        } else if (!strcmp(op, "nmi")) {
                json_object *m = fake_reply(req, true, 0, NULL);
                json_object_object_add(m, "vcpus", json_object_new_int(1));
                fake_send_msg(f, m);
        } else if (!strcmp(op, "power-button")) {
                fake_send_msg(f, fake_reply(req, true, 0, NULL));
                if (!fake_knob(f, "fake.ignore_acpi", 0))
                        fake_schedule_exit(f, VMWP_EXIT_POWEROFF, "guest powered off after the power button");
        } else if (!strcmp(op, "stop")) {
                fake_send_msg(f, fake_reply(req, true, 0, NULL));
                fake_finish(f, VMWP_EXIT_STOPPED, "stopped by vmms");
        } else if (!strcmp(op, "status")) {
                json_object *m = fake_reply(req, true, 0, NULL);
                json_object_object_add(m, "state", json_object_new_string(!f->ready ? "starting" : f->paused ? "paused" : "running"));
                if (f->boot) /* a firmware VM's, as vmwp's */
                        json_object_object_add(m, "boot_status", json_object_new_string(f->ready ? f->boot : "firmware"));
                fake_send_msg(f, m);
        } else if (!strcmp(op, "stats")) {
                json_object *m = fake_reply(req, true, 0, NULL);
                fake_stats_fill(m, ++f->stats_calls, f->vcpus, f->n_disks, f->n_nics, fake_knob(f, "fake.stats_bad", 0));
                fake_send_msg(f, m);
        } else if (!strcmp(op, "console-status"))
                console_status(f, req);
        else if (!strcmp(op, "vss"))
                vss(f, req);
        else if (!strcmp(op, "memory"))
                dm_target(f, req);
        else if (!strcmp(op, "processor"))
                processor(f, req);
        else
                fake_send_msg(f, fake_reply(req, false, EOPNOTSUPP, "unknown op"));
}
