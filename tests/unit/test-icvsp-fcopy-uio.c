// SPDX-License-Identifier: MIT
/* Linux's own hv_fcopy_uio_daemon (tools/hv of Debian's 6.12 kernel source,
 * built by tests/lib/hv-fcopy-uio-daemon.sh) against the file-copy service
 * (vsp/ic/fcopy.c) over the simulated guest, no VM: the daemon runs as a
 * process in a mount namespace of its own, where a tmpfs holds its
 * device's sysfs directory (Hyper-V's instance, a "uio" entry, the ring
 * size); tests/linux/fcopy-uio-shim.c gives it this test as /dev/uio0:
 * the rings in the simulated guest's RAM (contiguous, as uio_hv_generic
 * allocates them), an interrupt for each event the host raises on the
 * channel, its write() to unmask and signal the host (hv_uio_irqcontrol).
 * Once with the interrupt mask set at each interrupt (uio_hv_generic up
 * to 6.12.y's "Let userspace take care of interrupt mask"), once without.
 * A file is copied into a directory the copy makes, a second copy without
 * overwrite is refused (the file exists), one with it replaces the file.
 * Skips without root (mount namespace) or the daemon: VM_FCOPY_UIO_DAEMON,
 * else the newest in tests/lib/hv-fcopy-uio-daemon.sh's cache (the ctest
 * linux/fcopy-uio-daemon fetches and builds it). */
#include <glob.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "test-icvsp-harness.h"

static const uint8_t fcopy_class[16] = HV_FCOPY_GUID;
/* Per ring, header page included: uio_hv_generic's VMBUS_RING_SIZE(0x4000)
 * for file copy (6.12.y). The daemon reads it from the channel's "ring"
 * (both rings' size). */
#define RING_PAGES 5u
#define RAM_BYTES (16u << 20)
#define DEV_DIR "/sys/bus/vmbus/devices/eb765408-105f-49b6-b4aa-c123b64d17d4"

struct uio {
        struct env e;
        int ram_fd;
        uint8_t *ram;
        uint64_t ring_pfn;
        struct vmbus_sim_channel ch;
        int sock; /* the test's end of the daemon's /dev/uio0 */
        pid_t pid;
        pthread_t pump;
        bool masks, stop;
        unsigned interrupts, unmasks;
};

static const char *find_daemon(char *buf, size_t len) {
        const char *v = getenv("VM_FCOPY_UIO_DAEMON");
        if (v && v[0])
                return access(v, X_OK) == 0 ? v : NULL;
        const char *cache = getenv("VM_CACHE_DIR");
        char pat[512];
        snprintf(pat, sizeof pat, "%s/hv-fcopy-uio-daemon/*/*/hv_fcopy_uio_daemon",
                 cache && cache[0] ? cache : "/var/cache/vmstack");
        glob_t g;
        if (glob(pat, 0, NULL, &g) != 0)
                return NULL;
        snprintf(buf, len, "%s", g.gl_pathv[g.gl_pathc - 1]);
        globfree(&g);
        return buf;
}

/* The simulated guest over a memfd the daemon maps too. */
static void uio_env(struct uio *u, bool masks) {
        struct env *e = &u->e;
        memset(u, 0, sizeof *u);
        u->masks = masks;
        u->sock = -1;
        pthread_mutex_init(&e->o.lock, NULL);
        u->ram_fd = memfd_create("fcopy-uio-ram", MFD_CLOEXEC);
        ASSERT_GE(u->ram_fd, 0);
        ASSERT_OK(ftruncate(u->ram_fd, RAM_BYTES));
        u->ram = mmap(NULL, RAM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, u->ram_fd, 0);
        ASSERT_TRUE(u->ram != MAP_FAILED);
        ASSERT_OK(vmbus_sim_new_external(u->ram_fd, u->ram, RAM_BYTES, 1, &e->sim));
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e->sim, &e->srv));
        struct icvsp_config c = env_config();
        c.fcopy = true;
        ASSERT_OK(icvsp_new(e->srv, &c, &owner_ops, &e->o, &e->ic));
        ASSERT_EQ(vmbus_sim_connect(e->sim, VERSION_WIN10_V5_3), 1);
        e->n_offers = vmbus_sim_request_offers(e->sim, e->offers, 8);
        ASSERT_EQ(e->n_offers, 1);
}

/* OPENCHANNEL over one GPADL of contiguous pages, the outbound ring first,
 * both headers as Linux's vmbus_open leaves them (what the daemon mmaps). */
static void uio_open_channel(struct uio *u) {
        struct env *e = &u->e;
        const struct vmbus_channel_offer_channel *o = find_offer(e, fcopy_class);
        ASSERT_NOT_NULL(o);
        u->ring_pfn = vmbus_sim_alloc_pages(e->sim, 2 * RING_PAGES);
        ASSERT_NE(u->ring_pfn, 0u);
        uint8_t *base = u->ram + u->ring_pfn * 4096;
        memset(base, 0, 2 * RING_PAGES * 4096);
        struct vmbus_sim_channel *ch = &u->ch;
        ch->relid = o->child_relid;
        ch->connection_id = o->connection_id;
        ch->openid = o->child_relid;
        ch->gpadl = vmbus_sim_next_gpadl_handle(e->sim);
        ch->out.hdr = (struct hv_ring_buffer *)(void *)base;
        ch->in.hdr = (struct hv_ring_buffer *)(void *)(base + RING_PAGES * 4096);
        ch->out.hdr->feature_bits = ch->in.hdr->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
        uint64_t pfns[2 * RING_PAGES];
        for (unsigned i = 0; i < 2 * RING_PAGES; i++)
                pfns[i] = u->ring_pfn + i;
        ASSERT_EQ(vmbus_sim_create_gpadl(e->sim, ch->relid, ch->gpadl, pfns, 2 * RING_PAGES, 2 * RING_PAGES * 4096),
                  0);
        struct vmbus_channel_open_channel m = { .header.msgtype = CHANNELMSG_OPENCHANNEL, .child_relid = ch->relid,
                                                .openid = ch->openid, .ringbuffer_gpadlhandle = ch->gpadl,
                                                .downstream_ringbuffer_pageoffset = RING_PAGES };
        ASSERT_EQ(vmbus_sim_post(e->sim, VMBUS_MESSAGE_CONNECTION_ID, 0, &m, sizeof m), 0);
        struct vmbus_channel_open_result res;
        ASSERT_EQ(vmbus_sim_expect(e->sim, CHANNELMSG_OPENCHANNEL_RESULT, &res, sizeof res), (int)sizeof res);
        ASSERT_EQ(res.status, 0u);
}

/* uio_hv_generic: hv_uio_channel_cb at each event of the channel (it
 * masks, in the older driver, and counts an event for pread), and
 * hv_uio_irqcontrol at each write (unmask, then signal the host: the
 * channel has no monitor). */
static void *uio_pump(void *arg) {
        struct uio *u = arg;
        while (!__atomic_load_n(&u->stop, __ATOMIC_ACQUIRE)) {
                if (vmbus_sim_take_event(u->e.sim, 0, u->ch.relid)) {
                        if (u->masks)
                                __atomic_store_n(&u->ch.in.hdr->interrupt_mask, 1u, __ATOMIC_SEQ_CST);
                        if (write(u->sock, "i", 1) == 1)
                                __atomic_fetch_add(&u->interrupts, 1, __ATOMIC_RELAXED);
                }
                struct pollfd p = { .fd = u->sock, .events = POLLIN };
                if (poll(&p, 1, 1) == 1) {
                        char buf[64];
                        ssize_t n = read(u->sock, buf, sizeof buf);
                        for (ssize_t i = 0; i + 4 <= n; i += 4) {
                                __atomic_store_n(&u->ch.in.hdr->interrupt_mask, 0u, __ATOMIC_SEQ_CST);
                                (void)vmbus_sim_signal(u->e.sim, u->ch.connection_id);
                                __atomic_fetch_add(&u->unmasks, 1, __ATOMIC_RELAXED);
                        }
                        if (n == 0)
                                break; /* the daemon is gone */
                }
        }
        return NULL;
}

static void mkdirs(char *path) {
        for (char *p = path + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        (void)mkdir(path, 0755);
                        *p = '/';
                }
        (void)mkdir(path, 0755);
}

/* The daemon, in the foreground (-n), with its device directory and the
 * shim; everything it gets is prepared before the fork. */
static void uio_start_daemon(struct uio *u, const char *daemon, const char *shim) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        static char uio_dir[] = DEV_DIR "/uio/uio0", chan_dir[] = DEV_DIR "/channels/9";
        static const char ring[] = DEV_DIR "/channels/9/ring";
        static char env_path[] = "PATH=/usr/bin:/bin", opt_n[] = "-n";
        char env_sock[32], env_ram[32], env_off[48], env_pre[sizeof "LD_PRELOAD=" + 512] /* shim: at most 511 bytes */;
        snprintf(env_sock, sizeof env_sock, "FCOPY_UIO_SOCK=%d", sv[1]);
        snprintf(env_ram, sizeof env_ram, "FCOPY_UIO_RAM=%d", u->ram_fd);
        snprintf(env_off, sizeof env_off, "FCOPY_UIO_RING_OFF=%llu", (unsigned long long)u->ring_pfn * 4096);
        snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", shim);
        char *envp[] = { env_sock, env_ram, env_off, env_pre, env_path, NULL };
        char *argv[] = { (char *)daemon, opt_n, NULL };
        u->pid = fork();
        ASSERT_GE(u->pid, 0);
        if (u->pid == 0) {
                if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
                    mount("tmpfs", "/sys/bus", "tmpfs", 0, NULL))
                        _exit(90);
                mkdirs(uio_dir);
                mkdirs(chan_dir);
                int fd = open(ring, O_CREAT | O_WRONLY, 0600);
                if (fd < 0 || ftruncate(fd, 2 * RING_PAGES * 4096) || fcntl(sv[1], F_SETFD, 0) ||
                    fcntl(u->ram_fd, F_SETFD, 0))
                        _exit(91);
                close(fd);
                execve(daemon, argv, envp);
                _exit(92);
        }
        close(sv[1]);
        u->sock = sv[0];
        ASSERT_OK(pthread_create(&u->pump, NULL, uio_pump, u));
}

static void uio_stop(struct uio *u) {
        close(u->sock); /* the daemon's next pread ends it (the shim) */
        int st;
        for (int i = 0; i < 5000 && waitpid(u->pid, &st, WNOHANG) == 0; i++)
                usleep(1000);
        if (waitpid(u->pid, &st, WNOHANG) == 0) {
                kill(u->pid, SIGKILL);
                waitpid(u->pid, &st, 0);
        }
        __atomic_store_n(&u->stop, true, __ATOMIC_RELEASE);
        pthread_join(u->pump, NULL);
        env_free(&u->e);
        munmap(u->ram, RAM_BYTES);
        close(u->ram_fd);
}

static bool ended(struct owner *o) {
        return o->fcopy_dones > 0;
}

/* Copy n bytes of a fresh pattern to dir/name; the owner's result. */
static int copy(struct uio *u, const char *dir, const uint8_t *data, size_t n, uint32_t flags, uint32_t *status) {
        int fd = memfd_create("fcopy-uio-src", MFD_CLOEXEC);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(write(fd, data, n), (ssize_t)n);
        pthread_mutex_lock(&u->e.o.lock);
        u->e.o.fcopy_dones = 0;
        pthread_mutex_unlock(&u->e.o.lock);
        ASSERT_OK(icvsp_fcopy_start(u->e.ic, fd, dir, "in.bin", n, flags));
        ASSERT_TRUE(wait_owner(&u->e.o, ended, 30000));
        pthread_mutex_lock(&u->e.o.lock);
        int r = u->e.o.fcopy_r;
        *status = u->e.o.fcopy_status;
        pthread_mutex_unlock(&u->e.o.lock);
        close(fd);
        return r;
}

static void expect_file(const char *path, const uint8_t *data, size_t n) {
        static uint8_t got[1 << 20];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(read(fd, got, sizeof got), (ssize_t)n);
        ASSERT_MEMEQ(got, data, n);
        close(fd);
}

TEST(linux_hv_fcopy_uio_daemon_copies_files) {
        char dbuf[512], shim[512];
        const char *daemon = find_daemon(dbuf, sizeof dbuf);
        if (!daemon)
                TEST_SKIP("no hv_fcopy_uio_daemon: VM_FCOPY_UIO_DAEMON, or tests/lib/hv-fcopy-uio-daemon.sh "
                          "(ctest -R linux/fcopy-uio-daemon fetches and builds it)");
        if (geteuid() != 0)
                TEST_SKIP("needs root (a mount namespace for the daemon's sysfs directory)");
        const char *build = getenv("VM_BUILD_DIR");
        snprintf(shim, sizeof shim, "%s/tests/linux/libfcopy-uio-shim.so", build ? build : "build/debug");
        if (access(shim, R_OK) != 0)
                TEST_SKIP("%s not built", shim);
        static uint8_t data[300000], other[7000];
        for (size_t i = 0; i < sizeof data; i++)
                data[i] = (uint8_t)(i * 131 + (i >> 10));
        for (size_t i = 0; i < sizeof other; i++)
                other[i] = (uint8_t)(i * 7 + 3);
        for (int masks = 0; masks < 2; masks++) {
                static struct uio u;
                uio_env(&u, masks);
                uio_open_channel(&u);
                uio_start_daemon(&u, daemon, shim);
                for (int i = 0; i < 10000 && !icvsp_fcopy_ready(u.e.ic); i++)
                        usleep(1000);
                ASSERT_TRUE(icvsp_fcopy_ready(u.e.ic));

                char tmp[] = "/tmp/fcopy-uio.XXXXXX", dir[128], file[160];
                ASSERT_NOT_NULL(mkdtemp(tmp));
                snprintf(dir, sizeof dir, "%s/new/dir", tmp);
                snprintf(file, sizeof file, "%s/in.bin", dir);
                uint32_t status;
                ASSERT_EQ(copy(&u, dir, data, sizeof data, FCOPY_CREATE_PATH, &status), 0);
                ASSERT_EQ(status, HV_S_OK);
                expect_file(file, data, sizeof data);
                ASSERT_EQ(copy(&u, dir, other, sizeof other, 0, &status), -EIO);
                ASSERT_EQ(status, HV_ERROR_ALREADY_EXISTS);
                expect_file(file, data, sizeof data);
                ASSERT_EQ(copy(&u, dir, other, sizeof other, FCOPY_OVER_WRITE, &status), 0);
                expect_file(file, other, sizeof other);

                struct icvsp_stats st = stats_of(&u.e);
                ASSERT_EQ(st.stale_answers + st.bad_packets + st.timeouts, 0u);
                /* One interrupt per request: the negotiate, 1 + 49 + 1,
                 * 1, 1 + 2 + 1; each answered with a write (the last
                 * one may come after the host found the answer in the
                 * ring on its poll). */
                for (int i = 0; i < 2000 && __atomic_load_n(&u.unmasks, __ATOMIC_RELAXED) < 57u; i++)
                        usleep(1000);
                ASSERT_EQ(__atomic_load_n(&u.interrupts, __ATOMIC_RELAXED), 57u);
                ASSERT_EQ(__atomic_load_n(&u.unmasks, __ATOMIC_RELAXED), 57u);
                uio_stop(&u);
                ASSERT_OK(test_remove_tree(tmp));
        }
}

TEST_MAIN();
