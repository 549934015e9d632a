// SPDX-License-Identifier: MIT
/* vmms at scale (issue #9): one D-Bus client creates and starts 100 VMs
 * with a small test guest, calls pipelined asynchronously as an
 * orchestrator would issue them, and waits (PropertiesChanged) until every
 * VM reports Running. Prints:
 *   - CreateVM throughput, time from the first CreateVM to all Running,
 *   - VM starts per second and per host core, against Firecracker's
 *     published steady rate of 5 microVM starts per host core per second
 *     (firecracker docs/design.md; 1 vCPU, 128 MiB, a minimal Linux kernel)
 *     as the baseline row: a published figure, not measured here,
 *   - vmms's resident memory per VM, and vmwp's (with and without the
 *     guest RAM mapping).
 * Private dbus-daemon and vmms, files from the build tree next to this
 * binary: vmms/vmms, vmwp/vmwp (the fake worker when vmwp is not built) and
 * the tiny guest tests/tg_vmwp_irq.elf (idles in HLT). Needs root (vmms
 * creates runtime sockets; workers open /dev/kvm).
 *   bench-vmms [N]    (default 100) */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "bench.h"

#define MAX_VMS 1000
#define FIRECRACKER_STARTS_PER_CORE 5.0

struct bench {
        sd_bus *bus;
        int n, created, running, failed;
        char *paths[MAX_VMS];
        bool is_running[MAX_VMS];
};

static char dir[64], build[PATH_MAX - 128]; /* dir: /tmp/bench-vmms.XXXXXX */

/* argv[0] with stderr to log; fd3, if >= 0, becomes the child's fd 3. */
static pid_t spawn(char *const argv[], const char *log, int fd3) {
        pid_t p = fork();
        if (p == 0) {
                if (fd3 >= 0 && dup2(fd3, 3) < 0)
                        _exit(127);
                FILE *f = freopen(log, "a", stderr);
                (void)f;
                (void)!freopen("/dev/null", "w", stdout);
                execv(argv[0], argv);
                _exit(127);
        }
        return p;
}

/* Resident KiB of pid without the guest RAM memfd ("vid-guest-ram"). */
static long rss_without_guest(pid_t pid) {
        char path[64], line[512];
        long total = 0, kib;
        bool skip = false;
        snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f)) {
                unsigned long a, b;
                if (sscanf(line, "%lx-%lx ", &a, &b) == 2)
                        skip = strstr(line, "vid-guest-ram") != NULL;
                else if (!skip && sscanf(line, "Rss: %ld kB", &kib) == 1)
                        total += kib;
        }
        fclose(f);
        return total;
}

/* Dispatches until *counter (plus failed calls) reaches want. */
static int run_until(struct bench *b, const int *counter, int want, uint64_t timeout_ns) {
        uint64_t end = bench_now_ns() + timeout_ns;
        while (*counter + b->failed < want) {
                int r = sd_bus_process(b->bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                uint64_t now = bench_now_ns();
                if (now >= end)
                        return -ETIMEDOUT;
                if ((r = sd_bus_wait(b->bus, (end - now) / 1000)) < 0)
                        return r;
        }
        return 0;
}

static int on_created(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct bench *b = userdata;
        const char *path;
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "o", &path) < 0) {
                fprintf(stderr, "CreateVM: %s\n", sd_bus_message_get_error(m) ? sd_bus_message_get_error(m)->message : "?");
                b->failed++;
                return 0;
        }
        b->paths[b->n++] = strdup(path);
        b->created++;
        return 0;
}

static int on_started(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct bench *b = userdata;
        if (sd_bus_message_is_method_error(m, NULL)) {
                fprintf(stderr, "Start: %s\n", sd_bus_message_get_error(m)->message);
                b->failed++;
        }
        return 0;
}

/* PropertiesChanged of a VM: count the first "Running" of each. */
static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct bench *b = userdata;
        const char *path = sd_bus_message_get_path(m), *iface, *key, *state;
        if (sd_bus_message_read(m, "s", &iface) < 0 || sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                if (sd_bus_message_read(m, "s", &key) < 0)
                        return 0;
                if (strcmp(key, "State") || sd_bus_message_read(m, "v", "s", &state) < 0) {
                        (void)sd_bus_message_skip(m, "v");
                        (void)sd_bus_message_exit_container(m);
                        continue;
                }
                for (int i = 0; i < b->n; i++)
                        if (!b->is_running[i] && !strcmp(b->paths[i], path) && !strcmp(state, "Running")) {
                                b->is_running[i] = true;
                                b->running++;
                        }
                (void)sd_bus_message_exit_container(m);
        }
        return 0;
}

static int setup(char *addr, size_t addrlen, pid_t *dbus, pid_t *vmms, const char **worker) {
        char conf[PATH_MAX], sock[PATH_MAX], log[PATH_MAX], vmms_bin[PATH_MAX], wk[PATH_MAX];
        static char worker_buf[PATH_MAX];
        snprintf(conf, sizeof conf, "%s/bus.conf", dir);
        snprintf(sock, sizeof sock, "%s/bus", dir);
        snprintf(log, sizeof log, "%s/log.txt", dir);
        FILE *f = fopen(conf, "w");
        if (!f)
                return -errno;
        fprintf(f, "<busconfig><listen>unix:path=%s</listen><auth>EXTERNAL</auth><policy context=\"default\">"
                   "<allow user=\"*\"/><allow own=\"*\"/><allow send_destination=\"*\"/><allow receive_sender=\"*\"/>"
                   "</policy><limit name=\"max_replies_per_connection\">4096</limit></busconfig>\n", sock);
        fclose(f);
        char conf_arg[PATH_MAX + 16];
        snprintf(conf_arg, sizeof conf_arg, "--config-file=%s", conf);
        /* Ready when it prints its address: the socket file exists from
         * bind(), before listen(), and a vmms that connected in between
         * was refused ("Connection refused" after 0.01 s, once in CI). */
        char *dargv[] = { (char *)"/usr/bin/dbus-daemon", conf_arg, (char *)"--nofork", (char *)"--nopidfile",
                          (char *)"--print-address=3", NULL };
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        *dbus = spawn(dargv, log, pfd[1]);
        close(pfd[1]);
        char printed[PATH_MAX + 64];
        size_t got = 0;
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        while (got < sizeof printed - 1 && !memchr(printed, '\n', got) && poll(&p, 1, 10000) > 0) {
                ssize_t k = read(pfd[0], printed + got, sizeof printed - 1 - got);
                if (k <= 0)
                        break;
                got += (size_t)k;
        }
        close(pfd[0]);
        if (!memchr(printed, '\n', got)) {
                fprintf(stderr, "bench-vmms: dbus-daemon did not say it listens (see %s)\n", log);
                return -EIO;
        }
        snprintf(addr, addrlen, "unix:path=%s", sock);
        snprintf(vmms_bin, sizeof vmms_bin, "%s/vmms/vmms", build);
        snprintf(wk, sizeof wk, "%s/vmwp/vmwp", build);
        if (access(wk, X_OK) < 0)
                snprintf(wk, sizeof wk, "%s/vmms/vmms-fake-vmwp", build);
        snprintf(worker_buf, sizeof worker_buf, "%s", wk);
        *worker = worker_buf;
        char a_bus[PATH_MAX + 32], a_state[PATH_MAX], a_run[PATH_MAX], a_log[PATH_MAX], a_worker[PATH_MAX + 16];
        snprintf(a_bus, sizeof a_bus, "--bus-address=%s", addr);
        snprintf(a_state, sizeof a_state, "--state-dir=%s/state", dir);
        snprintf(a_run, sizeof a_run, "--runtime-dir=%s/run", dir);
        snprintf(a_log, sizeof a_log, "--log-dir=%s/logs", dir);
        snprintf(a_worker, sizeof a_worker, "--worker=%s", wk);
        char a_pool[PATH_MAX + 32];
        /* The guest kernel lives in the build tree: the one storage pool. */
        snprintf(a_pool, sizeof a_pool, "--storage-pool=%s", build);
        char *vargv[] = { vmms_bin, a_bus, a_state, a_run, a_log, a_worker, a_pool, (char *)"--no-polkit",
                          (char *)"--max-starting=1000", (char *)"--max-vms=2000", NULL };
        *vmms = spawn(vargv, log, -1);
        return 0;
}

static int wait_name(struct bench *b) {
        for (int i = 0; i < 500; i++) {
                if (sd_bus_get_name_creds(b->bus, "org.vmstack.VMMS1", 0, NULL) >= 0)
                        return 0;
                usleep(10000);
        }
        return -ETIMEDOUT;
}

static void measure_memory(struct bench *b, pid_t vmms, long vmms_before) {
        long worker_rss = 0, worker_noram = 0;
        int counted = 0;
        for (int i = 0; i < b->n; i++) {
                uint32_t pid = 0;
                if (sd_bus_get_property_trivial(b->bus, "org.vmstack.VMMS1", b->paths[i], "org.vmstack.VMMS1.VM",
                                                "WorkerPid", NULL, 'u', &pid) < 0 || !pid)
                        continue;
                long r = bench_vmrss_kib((int)pid), s = rss_without_guest((pid_t)pid);
                if (r > 0 && s > 0) {
                        worker_rss += r, worker_noram += s;
                        counted++;
                }
        }
        long after = bench_vmrss_kib(vmms);
        bench_result("vmms: resident memory per VM (vmms)", (double)(after - vmms_before) / b->n, -1, "KiB", "-",
                     "lower");
        if (counted) {
                bench_result("vmwp: resident memory per VM, without guest RAM", (double)worker_noram / counted, -1,
                             "KiB", "<= 5120 (Firecracker VMM overhead)", "lower");
                bench_result("vmwp: resident memory per VM, total", (double)worker_rss / counted, -1, "KiB", "-",
                             "lower");
        }
}

static int bench_run(struct bench *b, int n, const char *kernel, pid_t vmms) {
        char cfg[PATH_MAX + 256];
        long ncores = sysconf(_SC_NPROCESSORS_ONLN);
        int r;
        if ((r = sd_bus_match_signal(b->bus, NULL, "org.vmstack.VMMS1", NULL, "org.freedesktop.DBus.Properties",
                                     "PropertiesChanged", on_changed, b)) < 0)
                return r;
        long vmms_before = bench_vmrss_kib(vmms);
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < n; i++) {
                snprintf(cfg, sizeof cfg, "{\"name\":\"bench%d\",\"memory_mib\":32,\"vcpus\":1,"
                         "\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\",\"cmdline\":\"x\"}}", i, kernel);
                if ((r = sd_bus_call_method_async(b->bus, NULL, "org.vmstack.VMMS1", "/org/vmstack/VMMS1",
                                                  "org.vmstack.VMMS1.Manager", "CreateVM", on_created, b, "s", cfg)) < 0)
                        return r;
        }
        if ((r = run_until(b, &b->created, n, 60ull * 1000000000)) < 0 || b->failed)
                return r < 0 ? r : -EIO;
        uint64_t t1 = bench_now_ns();
        for (int i = 0; i < b->n; i++) {
                if ((r = sd_bus_call_method_async(b->bus, NULL, "org.vmstack.VMMS1", b->paths[i],
                                                  "org.vmstack.VMMS1.VM", "Start", on_started, b, "")) < 0)
                        return r;
        }
        if ((r = run_until(b, &b->running, b->n, 300ull * 1000000000)) < 0)
                return r;
        uint64_t t2 = bench_now_ns();
        double create_s = (double)(t1 - t0) / 1e9, start_s = (double)(t2 - t1) / 1e9, total_s = (double)(t2 - t0) / 1e9;
        double rate = b->n / start_s;
        printf("# %d VMs on %ld host cores: creates %.3f s, starts until all Running %.3f s\n", b->n, ncores, create_s,
               start_s);
        printf("# baseline: Firecracker's published steady rate, 5 microVMs per host core per second (docs/design.md;\n"
               "#   1 vCPU, 128 MiB, minimal Linux kernel, bare metal), not measured here; ours: PVH tiny guest, %s\n",
               "nested KVM (PVM) on this machine");
        bench_result("vmms: CreateVM calls per second", b->n / create_s, -1, "VM/s", "-", "higher");
        bench_result("vmms: create+start 100 VMs until all Running", total_s, -1, "s", "-", "lower");
        bench_result("vmms: VM starts per second (all host cores)", rate, FIRECRACKER_STARTS_PER_CORE * (double)ncores,
                     "VM/s", ">= Firecracker (5/core/s)", "higher");
        bench_result("vmms: VM starts per second per host core", rate / (double)ncores, FIRECRACKER_STARTS_PER_CORE,
                     "VM/s/core", ">= 5 (Firecracker, published)", "higher");
        measure_memory(b, vmms, vmms_before);
        return b->failed ? -EIO : 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void)remove(path);
        return 0;
}

int main(int argc, char **argv) {
        struct bench b = { 0 };
        char self[PATH_MAX], addr[PATH_MAX + 16], kernel[PATH_MAX];
        const char *worker;
        pid_t dbus = -1, vmms = -1;
        int n = argc > 1 ? atoi(argv[1]) : 100, r;
        if (n < 1 || n > MAX_VMS || geteuid() != 0) {
                fprintf(stderr, "bench-vmms [N<=%d]: needs root\n", MAX_VMS);
                return 77;
        }
        ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
        if (l <= 0)
                return 1;
        self[l] = 0;
        /* The build directory, without "..": vmms takes it as a storage
         * pool and refuses a path that is not plain (it did: "Connection
         * timed out" waiting for its name). */
        snprintf(build, sizeof build, "%s", dirname(dirname(self)));
        snprintf(kernel, sizeof kernel, "%s/tests/tg_vmwp_irq.elf", build);
        /* The real worker needs KVM: without it no VM would get to Running
         * and the benchmark would only time out (a host without /dev/kvm
         * runs KVM on the emulated AMD-V host, docs/amdv-host.md). */
        char vmwp[PATH_MAX];
        snprintf(vmwp, sizeof vmwp, "%s/vmwp/vmwp", build);
        if (access(vmwp, X_OK) == 0 && access("/dev/kvm", R_OK | W_OK) < 0) {
                printf("SKIP: no /dev/kvm for %s: %s\n", vmwp, strerror(errno));
                return 77;
        }
        snprintf(dir, sizeof dir, "/tmp/bench-vmms.XXXXXX");
        if (!mkdtemp(dir) || access(kernel, R_OK) < 0) {
                fprintf(stderr, "bench-vmms: no temp dir or no %s\n", kernel);
                return 1;
        }
        r = setup(addr, sizeof addr, &dbus, &vmms, &worker);
        printf("# worker: %s\n", worker);
        if (r >= 0 && (r = sd_bus_new(&b.bus)) >= 0 && (r = sd_bus_set_address(b.bus, addr)) >= 0 &&
            (r = sd_bus_set_bus_client(b.bus, 1)) >= 0 && (r = sd_bus_start(b.bus)) >= 0 && (r = wait_name(&b)) >= 0)
                r = bench_run(&b, n, kernel, vmms);
        if (r < 0)
                fprintf(stderr, "bench-vmms: %s (%d failed calls); logs in %s\n", strerror(-r), b.failed, dir);
        for (int i = 0; i < b.n; i++) { /* the workers outlive vmms by design: end them */
                uint32_t pid = 0;
                if (sd_bus_get_property_trivial(b.bus, "org.vmstack.VMMS1", b.paths[i], "org.vmstack.VMMS1.VM",
                                                "WorkerPid", NULL, 'u', &pid) >= 0 && pid)
                        kill((pid_t)pid, SIGKILL);
                free(b.paths[i]);
        }
        sd_bus_flush_close_unref(b.bus);
        if (vmms > 0)
                kill(vmms, SIGTERM), waitpid(vmms, NULL, 0);
        if (dbus > 0)
                kill(dbus, SIGTERM), waitpid(dbus, NULL, 0);
        if (r >= 0)
                (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return r < 0 ? 1 : 0;
}
