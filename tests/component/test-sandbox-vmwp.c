// SPDX-License-Identifier: MIT
/* The sandboxed vmwp end to end (docs/sandbox.md): a running worker cannot
 * open a host file from its main thread, the "vcpu" policy's launcher or a
 * vCPU thread, while the same probe without the sandbox can; the kernel's
 * view of the running worker (/proc/<pid>/status, root, namespaces,
 * limits) shows the sandbox; --sandbox-user picks the user. The full
 * checks need root (the worker then drops to the sandbox user); as a
 * normal user the worker applies what it can and the test checks that. */
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/macro.h"
#include "common/proto.h"
#include "common/test.h"
#include "tests/guests/tinyguest.h"

TINY_GUEST(vmwp_basic_elf);

static char dir[] = "/tmp/vmwp-sandbox-XXXXXX";
static char vmwp_bin[1024];
static const char probe_path[] = "/etc/passwd";

/* The basic guest: "p" prints and powers off, "h" halts until stopped. */
static const char *write_config(const char *cmdline) {
        static char cfg[600];
        char kernel[512], json[1024];
        snprintf(kernel, sizeof kernel, "%s/basic.elf", dir);
        FILE *f = fopen(kernel, "w");
        ASSERT_NOT_NULL(f);
        ASSERT_EQ(fwrite(tg_vmwp_basic_elf, 1, tg_vmwp_basic_elf_len, f), (size_t)tg_vmwp_basic_elf_len);
        fclose(f);
        snprintf(json, sizeof json,
                 "{\"name\":\"sbx\",\"memory_mib\":32,\"vcpus\":1,\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\","
                 "\"cmdline\":\"%s\"}}",
                 kernel, cmdline);
        snprintf(cfg, sizeof cfg, "%s/%s.json", dir, cmdline);
        f = fopen(cfg, "w");
        ASSERT_NOT_NULL(f);
        fputs(json, f);
        fclose(f);
        return cfg;
}

struct worker {
        pid_t pid;
        int err_fd;
        char err[8192];
        size_t n;
};

static void spawn(struct worker *w, const char *const *args) {
        int p[2];
        ASSERT_OK(pipe2(p, O_CLOEXEC));
        const char *argv[16] = { vmwp_bin };
        for (size_t i = 0; args[i]; i++)
                argv[i + 1] = args[i];
        *w = (struct worker){ .pid = fork() };
        ASSERT_GE(w->pid, 0);
        if (w->pid == 0) {
                int devnull = open("/dev/null", O_RDWR);
                dup2(devnull, 0);
                dup2(devnull, 1);
                dup2(p[1], 2);
                execv(vmwp_bin, (char **)argv);
                _exit(127);
        }
        close(p[1]);
        w->err_fd = p[0];
}

/* Reads stderr until want appears (true) or 30 s pass. */
static bool wait_for(struct worker *w, const char *want) {
        for (int i = 0; i < 3000 && !strstr(w->err, want); i++) {
                struct pollfd p = { .fd = w->err_fd, .events = POLLIN };
                if (poll(&p, 1, 10) > 0) {
                        ssize_t k = read(w->err_fd, w->err + w->n, sizeof w->err - 1 - w->n);
                        if (k <= 0)
                                break;
                        w->n += (size_t)k;
                        w->err[w->n] = 0;
                }
        }
        return strstr(w->err, want) != NULL;
}

static int finish(struct worker *w) {
        wait_for(w, "\x01never"); /* drain until EOF */
        int st;
        ASSERT_EQ(waitpid(w->pid, &st, 0), w->pid);
        close(w->err_fd);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The line the probe printed for `where`, or NULL. */
static const char *probe_line(const struct worker *w, const char *where) {
        char want[256];
        snprintf(want, sizeof want, "vmwp: sandbox-probe: %s: open(%s): ", where, probe_path);
        const char *l = strstr(w->err, want);
        return l ? l + strlen(want) : NULL;
}

static bool probe_ok(const struct worker *w, const char *where) {
        const char *r = probe_line(w, where);
        return r && strncmp(r, "ok\n", 3) == 0;
}

TEST(probe_cannot_open_host_files_from_any_thread) {
        struct worker w;
        const char *args[] = { "--config", write_config("p"), "--serial", "none", "--sandbox-probe", probe_path, NULL };
        spawn(&w, args);
        ASSERT_EQ(finish(&w), 0);
        ASSERT_NOT_NULL(strstr(w.err, "vmwp: sbx: powered off (ACPI S5)"));
        static const char *const wheres[] = { "main thread", "vCPU thread", "vcpu policy (launcher thread)" };
        for (size_t i = 0; i < ARRAY_SIZE(wheres); i++) {
                ASSERT_NOT_NULL(probe_line(&w, wheres[i]));
                ASSERT_FALSE(probe_ok(&w, wheres[i]));
        }
}

TEST(same_probe_without_sandbox_opens_the_file) {
        struct worker w;
        const char *args[] = { "--config", write_config("p"), "--serial", "none", "--no-sandbox", "--sandbox-probe",
                               probe_path, NULL };
        spawn(&w, args);
        ASSERT_EQ(finish(&w), 0);
        ASSERT_TRUE(probe_ok(&w, "main thread"));
        ASSERT_TRUE(probe_ok(&w, "vCPU thread"));
        ASSERT_NOT_NULL(strstr(w.err, "WARNING: the sandbox is DISABLED (--no-sandbox)"));
}

static void read_proc(pid_t pid, const char *file, char *buf, size_t cap) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        ssize_t n = read(fd, buf, cap - 1);
        ASSERT_GT(n, 0);
        buf[n] = 0;
        close(fd);
}

static void assert_field(const char *status, const char *line) {
        if (!strstr(status, line)) {
                fprintf(stderr, "/proc/<pid>/status lacks \"%s\":\n%s", line, status);
                ASSERT_NOT_NULL(strstr(status, line));
        }
}

static void assert_other_ns(pid_t pid, const char *ns) {
        char a[64], b[64], path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns);
        ssize_t n = readlink(path, a, sizeof a - 1);
        ASSERT_GT(n, 0);
        a[n] = 0;
        snprintf(path, sizeof path, "/proc/self/ns/%s", ns);
        n = readlink(path, b, sizeof b - 1);
        ASSERT_GT(n, 0);
        b[n] = 0;
        ASSERT_TRUE(strcmp(a, b) != 0);
}

static void assert_empty_root(pid_t pid) {
        char path[64];
        struct stat host, worker;
        snprintf(path, sizeof path, "/proc/%d/root/", (int)pid);
        ASSERT_OK(stat("/", &host));
        ASSERT_OK(stat(path, &worker));
        ASSERT_TRUE(host.st_dev != worker.st_dev || host.st_ino != worker.st_ino);
        snprintf(path, sizeof path, "/proc/%d/root/etc/passwd", (int)pid);
        ASSERT_ERROR(access(path, F_OK) < 0 ? -errno : 0, ENOENT);
}

/* From /proc/<pid>/limits ("Max core file size  0  0  bytes"). */
static unsigned long long hard_limit(const char *limits, const char *name) {
        const char *l = strstr(limits, name);
        ASSERT_NOT_NULL(l);
        unsigned long long soft, hard;
        ASSERT_EQ(sscanf(l + strlen(name), "%llu %llu", &soft, &hard), 2);
        return hard;
}

static void assert_limits(pid_t pid) {
        char limits[4096];
        read_proc(pid, "limits", limits, sizeof limits);
        ASSERT_EQ(hard_limit(limits, "Max core file size"), 0ull);
        ASSERT_LE(hard_limit(limits, "Max open files"), 1024ull);
        ASSERT_EQ(hard_limit(limits, "Max file size"), 1ull << 30);
}

/* The checks that hold for a worker started as root. */
static void assert_root_sandbox(pid_t pid, uid_t uid, gid_t gid) {
        char st[4096], line[128];
        read_proc(pid, "status", st, sizeof st);
        snprintf(line, sizeof line, "Uid:\t%u\t%u\t%u\t%u\n", uid, uid, uid, uid);
        assert_field(st, line);
        snprintf(line, sizeof line, "Gid:\t%u\t%u\t%u\t%u\n", gid, gid, gid, gid);
        assert_field(st, line);
        assert_field(st, "NoNewPrivs:\t1\n");
        assert_field(st, "Seccomp:\t2\n");
        assert_field(st, "CapEff:\t0000000000000000\n");
        assert_field(st, "CapPrm:\t0000000000000000\n");
        assert_field(st, "CapBnd:\t0000000000000000\n");
        assert_field(st, "CapAmb:\t0000000000000000\n");
        assert_empty_root(pid);
        assert_other_ns(pid, "mnt");
        assert_other_ns(pid, "ipc");
        assert_other_ns(pid, "net"); /* no NICs */
        assert_limits(pid);
}

static void default_user(uid_t *uid, gid_t *gid) {
        struct passwd *pw = getpwnam("vmstack-worker");
        *uid = pw ? pw->pw_uid : 65534;
        *gid = pw ? pw->pw_gid : 65534;
}

/* Starts the halting guest, waits until the sandbox is in place (the
 * main thread's probe comes last), checks, then stops it with SIGTERM. */
static void check_running(const char *user, uid_t uid, gid_t gid) {
        struct worker w;
        const char *args[] = { "--config", write_config("h"), "--serial", "none", "--sandbox-probe", probe_path,
                               user ? "--sandbox-user" : NULL, user, NULL };
        spawn(&w, args);
        ASSERT_TRUE(wait_for(&w, "sandbox-probe: main thread"));
        char st[4096];
        read_proc(w.pid, "status", st, sizeof st);
        assert_field(st, "NoNewPrivs:\t1\n");
        assert_field(st, "Seccomp:\t2\n");
        assert_field(st, "CapEff:\t0000000000000000\n");
        assert_limits(w.pid);
        if (geteuid() == 0)
                assert_root_sandbox(w.pid, uid, gid);
        kill(w.pid, SIGTERM);
        ASSERT_EQ(finish(&w), VMWP_EXIT_STOPPED);
        ASSERT_NOT_NULL(strstr(w.err, "vmwp: sbx: stopped by signal SIGTERM"));
}

TEST(running_worker_is_confined) {
        uid_t uid;
        gid_t gid;
        default_user(&uid, &gid);
        check_running(NULL, uid, gid);
}

TEST(sandbox_user_option) {
        if (geteuid() != 0) {
                printf("not root: --sandbox-user needs a root worker, not tested\n");
                return;
        }
        check_running("4242:4343", 4242, 4343);
        struct worker w;
        const char *args[] = { "--config", write_config("p"), "--serial", "none", "--sandbox-user", "0", NULL };
        spawn(&w, args);
        ASSERT_EQ(finish(&w), VMWP_EXIT_USAGE);
        ASSERT_NOT_NULL(strstr(w.err, "the worker must not stay root"));
        const char *args2[] = { "--config", write_config("p"), "--serial", "none", "--sandbox-user", "no-such-user",
                                NULL };
        spawn(&w, args2);
        ASSERT_EQ(finish(&w), VMWP_EXIT_USAGE);
        ASSERT_NOT_NULL(strstr(w.err, "no user \"no-such-user\""));
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        ASSERT_NOT_NULL(mkdtemp(dir));
        /* The sandbox user must be able to reach nothing here anyway; the
         * worker reads its config and kernel before dropping privileges. */
        const char *b = getenv("VM_BUILD_DIR");
        snprintf(vmwp_bin, sizeof vmwp_bin, "%s/vmwp/vmwp", b ? b : "build/debug");
        int r = test_run_all_(argc > 1 ? argv[1] : NULL);
        (void)test_remove_tree(dir);
        return r;
}
