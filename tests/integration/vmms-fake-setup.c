// SPDX-License-Identifier: MIT
/* The fake worker's setup: the config message from vmms and its fds
 * (disks, TAPs, VHDX parents, boot files, DVDs, a saved state), the
 * console socket and fake-display-worker, as vmwp checks and reports them
 * (what the fake does and its fake.* words: vmms-fake-vmwp.c). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fd-util.h"
#include "common/macro.h"
#include "common/proto.h"
#include "common/vmstate.h"
#include "vmms-fake-hotplug.h"
#include "vmms-fake-firmware.h"
#include "vmms-fake-vmwp.h"

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
                fake_finish(f, VMWP_EXIT_USAGE, "disk_parents: not one count per disk");
        for (uint32_t d = 0; d < c->n_disks; d++)
                total += (size_t)json_object_get_int(json_object_array_get_idx(a, d));
        if (total > n)
                fake_finish(f, VMWP_EXIT_USAGE, "wrong number of fds");
        for (uint32_t d = 0; d < c->n_disks; d++) {
                int cnt = json_object_get_int(json_object_array_get_idx(a, d));
                for (int p = 0; p < cnt; p++, k++) {
                        struct stat st;
                        int fd = fds[n - total + k];
                        int fl = fcntl(fd, F_GETFL);
                        if (fstat(fd, &st) < 0 || fl < 0)
                                fake_finish(f, VMWP_EXIT_USAGE, "a parent fd is not open");
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
                fake_finish(f, VMWP_EXIT_USAGE, "nic_queues: not one count per NIC");
        (void)json_object_object_get_ex(msg, "nic_steer", &st);
        size_t k = 0;
        for (uint32_t i = 0; i < c->n_nics; i++) {
                if (!c->nics[i].tap[0])
                        continue;
                int64_t q = given ? json_object_get_int64(json_object_array_get_idx(a, i)) : 1;
                if (q < 1 || q > 8 || k + (size_t)q > n)
                        fake_finish(f, VMWP_EXIT_USAGE, "nic_queues: a count out of range");
                struct ifreq ifr = { 0 };
                bool mq = ioctl(fds[k], TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_MULTI_QUEUE);
                k += (size_t)q;
                /* the RSS steering map after the queues: a BPF array map */
                bool steer = st && json_object_get_boolean(json_object_array_get_idx(st, i));
                if (steer && (k >= n || !is_bpf_map(fds[k])))
                        fake_finish(f, VMWP_EXIT_USAGE, "nic_steer: no BPF map after the queues");
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
                fake_finish(f, VMWP_EXIT_USAGE, "a file fd is not open");
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
                fake_finish(f, VMWP_EXIT_USAGE, "dvd_fds: not one per DVD drive with an ISO");
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
                fake_finish(f, VMWP_EXIT_USAGE, "wrong number of fds");
        for (size_t i = 0; i < n; i++)
                if (fstat(fds[i], &st) < 0)
                        fake_finish(f, VMWP_EXIT_USAGE, "an fd is not open");
        bool log = last && !strcmp(json_object_get_string(last), "serial_log");
        if (last && !strcmp(json_object_get_string(last), "migrate_incoming")) {
                f->mig_fd = fds[--n];
                f->restored = true; /* as vmwp: the guest comes from the source's state */
                log = n_files >= 2 &&
                      !strcmp(json_object_get_string(json_object_array_get_idx(files, n_files - 2)), "serial_log");
        }
        if (last && !strcmp(json_object_get_string(last), "saved_state")) {
                if (n == 0 || !fake_state_ok(fds[n - 1]))
                        fake_finish(f, VMWP_EXIT_SETUP, "saved state: not a state this worker saved");
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
                fake_finish(f, VMWP_EXIT_SETUP, "display: VM_FAKE_DISPLAY_WORKER is not set");
        f->display_video = !fake_knob(f, "fake.no_video", 0);
        char a_sock[VM_PATH_MAX + 16], a_log[VM_PATH_MAX + 16];
        snprintf(a_sock, sizeof a_sock, "--socket=%s", socket_path);
        snprintf(a_log, sizeof a_log, "--log=%s", log && *log ? log : "/dev/null");
        char *argv[] = { (char *)bin, a_sock, a_log, f->display_video ? NULL : (char *)"--no-video", NULL };
        pid_t ppid = getpid();
        pid_t p = fork();
        if (p < 0)
                fake_finish(f, VMWP_EXIT_SETUP, "display: fork failed");
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
                fake_finish(f, VMWP_EXIT_SETUP, "display: fake-display-worker did not listen");
}

void fake_display_event(struct fake *f) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "event", json_object_new_string("display"));
        json_object_object_add(m, "video", json_object_new_boolean(f->display_video));
        json_object_object_add(m, "keyboard", json_object_new_boolean(true));
        json_object_object_add(m, "mouse", json_object_new_boolean(true));
        json_object_object_add(m, "active", json_object_new_boolean(f->display_video));
        json_object_object_add(m, "width", json_object_new_int64(f->display_video ? 640 : 0));
        json_object_object_add(m, "height", json_object_new_int64(f->display_video ? 480 : 0));
        json_object_object_add(m, "watched", json_object_new_boolean(true));
        fake_send_msg(f, m);
}

void fake_configure(struct fake *f, const char *serial) {
        json_object *msg = NULL, *cfg, *v;
        int fds[PROTO_MAX_FDS];
        size_t n = 0;
        struct vm_config *c = malloc(sizeof *c);
        char err[256], line[512];
        if (!c || proto_recv(f->ctl, &msg, fds, PROTO_MAX_FDS, &n) < 0 ||
            !json_object_object_get_ex(msg, "op", &v) || strcmp(json_object_get_string(v), "config") ||
            !json_object_object_get_ex(msg, "config", &cfg))
                fake_finish(f, VMWP_EXIT_USAGE, "no configuration message");
        const char *js = json_object_to_json_string(cfg);
        if (vm_config_parse(js, strlen(js), c, err, sizeof err) < 0)
                fake_finish(f, VMWP_EXIT_USAGE, err);
        snprintf(f->name, sizeof f->name, "%s", c->name);
        snprintf(f->cmdline, sizeof f->cmdline, "%s", c->cmdline);
        f->con_log = check_fds(f, c, msg, fds, n);
        if (!(f->hp = fake_hotplug_new(c, msg, fds, n, err, sizeof err)))
                fake_finish(f, VMWP_EXIT_USAGE, err);
        if (f->con_log < 0 && c->serial_log[0] &&
            (f->con_log = open(c->serial_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0)
                fake_finish(f, VMWP_EXIT_SETUP, "serial_log: cannot open");
        if (serial && !strncmp(serial, "socket:", 7) && (f->con_listen = listen_console(serial + 7)) < 0)
                fake_finish(f, VMWP_EXIT_SETUP, "serial socket: cannot listen");
        f->reattach = !fake_knob(f, "fake.no_reattach", 0);
        f->shutdown_ic = c->ic.shutdown && fake_knob(f, "fake.shutdown_ic", 0);
        f->vss = c->ic.vss ? (int)fake_knob(f, "fake.vss", 0) : -1;
        f->fcopy = c->ic.fcopy ? (int)fake_knob(f, "fake.fcopy", 0) : -1;
        f->hvsock_port = fake_knob(f, "fake.hvsock_port", -1); /* without hvsock.enabled too: a rogue worker */
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
        fake_console_out(f, line);
        f->cpu_limit = c->processor.limit_pct;
        snprintf(line, sizeof line, "fake-vmwp: processor limit=%u\n", f->cpu_limit);
        fake_console_out(f, line);
        if (c->hvsock.enabled) {
                snprintf(line, sizeof line, "fake-vmwp: hvsock socket=%.400s\n", c->hvsock.socket);
                fake_console_out(f, line);
        }
        fake_console_out(f, f->nics);
        fake_console_out(f, f->files);
        fake_console_out(f, f->parents);
        char *devices = malloc(96 * (VM_DISKS_MAX + VM_NICS_MAX) + VM_PATH_MAX * VM_DISKS_MAX);
        if (devices) {
                fake_hotplug_describe(f->hp, devices, 96 * (VM_DISKS_MAX + VM_NICS_MAX) + VM_PATH_MAX * VM_DISKS_MAX);
                fake_console_out(f, devices);
                free(devices);
        }
        free(c);
        json_object_put(msg);
        if (fake_knob(f, "fake.setup_fail", 0))
                fake_finish(f, VMWP_EXIT_SETUP, "setup failed on request (fake.setup_fail)");
        if (f->mig_fd >= 0)
                fake_migrate_receive(f, TAKE_FD(f->mig_fd));
        /* vmwp reads no request while it builds the VM (a saved state
         * restored, an incoming migration taken): nor does this, that long */
        usleep((useconds_t)fake_knob(f, "fake.build_ms", 0) * 1000);
        f->ready_at = fake_now_ms() + (uint64_t)fake_knob(f, "fake.ready_ms", 20);
}
