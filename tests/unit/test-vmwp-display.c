// SPDX-License-Identifier: MIT
/* The worker's end of the display protocol (vmwp/display-server.c)
 * against fake devices and a client on the real socket: what a display
 * server sees on connecting (HELLO with a read-only framebuffer, MODE,
 * STATUS, the whole screen), updates as the devices change, its input
 * reaching the devices, snapshots for a second connection, a client that
 * stops reading (the worker goes on; the client gets the whole screen
 * when it reads again), garbage, and a client that leaves. */
#include <pthread.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/display.h"
#include "common/fd-util.h"
#include "common/macro.h"
#include "common/test.h"
#include "tests/lib/display-client.h"
#include "vmwp/display-server.h"

#define FB_BYTES (4u << 20)

struct fake {
        pthread_mutex_t lock;
        struct display_mode mode;
        uint32_t status;
        struct display_rect dirty[8];
        size_t n_dirty;
        unsigned full_takes, watches, unwatches, kicks;
        uint32_t key, key_down, px, py, buttons, keys, pointers;
        int32_t wheel;
        int key_result;
};

static void f_state(void *o, struct display_mode *mode, uint32_t *status) {
        struct fake *f = o;
        pthread_mutex_lock(&f->lock);
        *mode = f->mode;
        *status = f->status;
        pthread_mutex_unlock(&f->lock);
}

static size_t f_take_dirty(void *o, struct display_rect *out, size_t max, bool full) {
        struct fake *f = o;
        pthread_mutex_lock(&f->lock);
        size_t n = 0;
        if (full) {
                f->full_takes++;
                out[n++] = (struct display_rect){ 0, 0, f->mode.width, f->mode.height };
        } else {
                for (; n < f->n_dirty && n < max; n++)
                        out[n] = f->dirty[n];
        }
        f->n_dirty = 0;
        pthread_mutex_unlock(&f->lock);
        return n;
}

static void f_watch(void *o, bool on) {
        struct fake *f = o;
        pthread_mutex_lock(&f->lock);
        if (on)
                f->watches++;
        else
                f->unwatches++;
        pthread_mutex_unlock(&f->lock);
}

static int f_key(void *o, uint32_t scancode, bool down) {
        struct fake *f = o;
        pthread_mutex_lock(&f->lock);
        f->key = scancode, f->key_down = down, f->keys++;
        int r = f->key_result;
        pthread_mutex_unlock(&f->lock);
        return r;
}

static int f_pointer(void *o, uint32_t x, uint32_t y, uint32_t buttons, int32_t wheel) {
        struct fake *f = o;
        pthread_mutex_lock(&f->lock);
        f->px = x, f->py = y, f->buttons = buttons, f->wheel = wheel, f->pointers++;
        pthread_mutex_unlock(&f->lock);
        return 0;
}

static void f_kicked(void *o) {
        struct fake *f = o;
        pthread_mutex_lock(&f->lock);
        f->kicks++;
        pthread_mutex_unlock(&f->lock);
}

static const struct vmwp_dsrv_ops f_ops = { f_state, f_take_dirty, f_watch, f_key, f_pointer, f_kicked };

struct env {
        struct fake f;
        char dir[48], path[96];
        int listen_fd, fb_fd, fb_ro_fd;
        struct vmwp_dsrv *s;
};

static unsigned get(struct fake *f, unsigned *field) {
        pthread_mutex_lock(&f->lock);
        unsigned v = *field;
        pthread_mutex_unlock(&f->lock);
        return v;
}

static void set_mode(struct env *e, uint32_t w, uint32_t h, uint32_t status) {
        pthread_mutex_lock(&e->f.lock);
        e->f.mode = (struct display_mode){ .active = true, .width = w, .height = h, .stride = w * 4, .bpp = 32 };
        e->f.status = status;
        pthread_mutex_unlock(&e->f.lock);
        vmwp_dsrv_kick(e->s);
}

static void env_init(struct env *e) {
        memset(e, 0, sizeof *e);
        pthread_mutex_init(&e->f.lock, NULL);
        snprintf(e->dir, sizeof e->dir, "/tmp/test-vmwp-display-XXXXXX");
        ASSERT_NOT_NULL(mkdtemp(e->dir));
        snprintf(e->path, sizeof e->path, "%s/display.sock", e->dir);
        e->listen_fd = unix_listen(e->path, SOCK_SEQPACKET | SOCK_NONBLOCK, 4, 0600);
        ASSERT_GE(e->listen_fd, 0);
        e->fb_fd = memfd_create("fb", MFD_CLOEXEC);
        ASSERT_GE(e->fb_fd, 0);
        ASSERT_OK(ftruncate(e->fb_fd, FB_BYTES));
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", e->fb_fd);
        e->fb_ro_fd = open(p, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(e->fb_ro_fd, 0);
        e->f.mode = (struct display_mode){ .active = true, .width = 640, .height = 480, .stride = 2560, .bpp = 32 };
        e->f.status = DISPLAY_STATUS_VIDEO;
        const struct vmwp_dsrv_config c = { .listen_fd = e->listen_fd, .fb_fd = e->fb_ro_fd, .fb_bytes = FB_BYTES,
                                            .ops = &f_ops, .opaque = &e->f };
        ASSERT_OK(vmwp_dsrv_new(&c, &e->s));
        ASSERT_OK(vmwp_dsrv_start(e->s));
}

static void env_free(struct env *e) {
        vmwp_dsrv_free(e->s);
        close(e->listen_fd);
        close(e->fb_fd);
        close(e->fb_ro_fd);
        unlink(e->path);
        rmdir(e->dir);
}

static int client(struct env *e) {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        ASSERT_GE(fd, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", e->path);
        ASSERT_OK(connect(fd, (struct sockaddr *)&sa, sizeof sa));
        return fd;
}

/* The next message (5 s at most); its fd, if any, in *fd. */
static struct display_msg next(int sock, int *fd) {
        return display_test_recv(sock, fd, 5000);
}

static void send_to(int sock, const struct display_msg *m) {
        uint8_t buf[DISPLAY_MSG_MAX];
        size_t len = display_msg_build(m, buf);
        ASSERT_GT(len, 0u);
        ASSERT_EQ(send(sock, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* HELLO (a read-only descriptor of the framebuffer), MODE, STATUS and a
 * DIRTY covering the mode: what a new display server starts from. */
static int connect_server(struct env *e) {
        int c = client(e), fb = -1;
        struct display_msg m = next(c, &fb);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_HELLO);
        ASSERT_EQ(m.hello.version, DISPLAY_VERSION);
        ASSERT_EQ(m.hello.fb_bytes, FB_BYTES);
        ASSERT_GE(fb, 0);
        struct stat st;
        ASSERT_OK(fstat(fb, &st));
        ASSERT_EQ((uint64_t)st.st_size, (uint64_t)FB_BYTES);
        ASSERT_TRUE(mmap(NULL, FB_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fb, 0) == MAP_FAILED);
        void *ro = mmap(NULL, FB_BYTES, PROT_READ, MAP_SHARED, fb, 0);
        ASSERT_TRUE(ro != MAP_FAILED);
        munmap(ro, FB_BYTES);
        close(fb);
        m = next(c, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_MODE);
        ASSERT_TRUE(m.mode.active);
        m = next(c, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_STATUS);
        m = next(c, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_DIRTY);
        ASSERT_EQ(m.dirty.count, 1u);
        ASSERT_EQ(m.dirty.rect[0].x, 0u);
        return c;
}

TEST(a_display_server_gets_the_screen_then_what_changes) {
        static struct env e;
        env_init(&e);
        int c = connect_server(&e);
        ASSERT_EQ(get(&e.f, &e.f.watches), 1u);
        /* Dirt, clipped to the mode (the second rectangle is half out). */
        pthread_mutex_lock(&e.f.lock);
        e.f.dirty[0] = (struct display_rect){ 10, 20, 30, 40 };
        e.f.dirty[1] = (struct display_rect){ 600, 470, 100, 100 };
        e.f.dirty[2] = (struct display_rect){ 700, 0, 10, 10 }; /* wholly outside: dropped */
        e.f.n_dirty = 3;
        pthread_mutex_unlock(&e.f.lock);
        vmwp_dsrv_kick(e.s);
        struct display_msg m = next(c, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_DIRTY);
        ASSERT_EQ(m.dirty.count, 2u);
        ASSERT_EQ(m.dirty.rect[0].w, 30u);
        ASSERT_EQ(m.dirty.rect[1].w, 40u);
        ASSERT_EQ(m.dirty.rect[1].h, 10u);
        /* A new mode and a driver that connected. */
        set_mode(&e, 1024, 768, DISPLAY_STATUS_VIDEO | DISPLAY_STATUS_KEYBOARD);
        m = next(c, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_MODE);
        ASSERT_EQ(m.mode.width, 1024u);
        ASSERT_EQ(m.mode.stride, 4096u);
        m = next(c, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_STATUS);
        ASSERT_EQ(m.status, DISPLAY_STATUS_VIDEO | DISPLAY_STATUS_KEYBOARD);
        ASSERT_GE(get(&e.f, &e.f.kicks), 2u);
        /* A mode the framebuffer cannot hold reaches nobody: none. */
        set_mode(&e, 2560, 1600, DISPLAY_STATUS_VIDEO | DISPLAY_STATUS_KEYBOARD);
        m = next(c, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_MODE);
        ASSERT_FALSE(m.mode.active);
        /* The client leaves: the devices stop being watched. */
        close(c);
        WAIT_FOR(get(&e.f, &e.f.unwatches) == 1);
        struct vmwp_dsrv_stats st;
        vmwp_dsrv_get_stats(e.s, &st);
        ASSERT_FALSE(st.connected);
        ASSERT_EQ(st.clients, 1u);
        env_free(&e);
}

TEST(input_reaches_the_devices_and_garbage_is_counted) {
        static struct env e;
        env_init(&e);
        int c = connect_server(&e);
        send_to(c, &(struct display_msg){ .type = DISPLAY_KEY, .key = { 0xe048, true } });
        WAIT_FOR(get(&e.f, &e.f.keys) == 1);
        ASSERT_EQ(e.f.key, 0xe048u);
        ASSERT_EQ(e.f.key_down, 1u);
        send_to(c, &(struct display_msg){ .type = DISPLAY_POINTER, .pointer = { 100, 200, DISPLAY_BUTTON_LEFT, -3 } });
        WAIT_FOR(get(&e.f, &e.f.pointers) == 1);
        ASSERT_EQ(e.f.px, 100u);
        ASSERT_EQ(e.f.py, 200u);
        ASSERT_EQ(e.f.buttons, DISPLAY_BUTTON_LEFT);
        ASSERT_EQ(e.f.wheel, -3);
        /* A key the guest does not take is counted as refused. */
        pthread_mutex_lock(&e.f.lock);
        e.f.key_result = -ENOTCONN;
        pthread_mutex_unlock(&e.f.lock);
        send_to(c, &(struct display_msg){ .type = DISPLAY_KEY, .key = { 0x1e, false } });
        WAIT_FOR(get(&e.f, &e.f.keys) == 2);
        /* Garbage, a truncated message, a worker's message type. */
        ASSERT_EQ(send(c, "\x10\0\0\0\x20\0\0\0xyz", 11, 0), 11);
        ASSERT_EQ(send(c, "\x11\0", 2, 0), 2);
        send_to(c, &(struct display_msg){ .type = DISPLAY_STATUS, .status = 1 });
        struct vmwp_dsrv_stats st;
        for (int i = 0; i < 5000; i++) {
                vmwp_dsrv_get_stats(e.s, &st);
                if (st.bad_messages == 3)
                        break;
                usleep(1000);
        }
        ASSERT_EQ(st.bad_messages, 3u);
        ASSERT_EQ(st.input_refused, 1u);
        ASSERT_EQ(st.keys, 2u);
        ASSERT_EQ(st.pointers, 1u);
        /* REFRESH: the whole screen again. */
        unsigned full = get(&e.f, &e.f.full_takes);
        send_to(c, &(struct display_msg){ .type = DISPLAY_REFRESH });
        struct display_msg m = next(c, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_MODE);
        ASSERT_EQ(next(c, NULL).type, (uint32_t)DISPLAY_STATUS);
        m = next(c, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_DIRTY);
        ASSERT_EQ(m.dirty.rect[0].w, 640u);
        ASSERT_EQ(get(&e.f, &e.f.full_takes), full + 1);
        close(c);
        env_free(&e);
}

/* A second connection while a server is connected: HELLO, MODE, BYE and
 * closed; the server goes on undisturbed. */
TEST(a_second_connection_is_a_snapshot) {
        static struct env e;
        env_init(&e);
        int c = connect_server(&e);
        int s = client(&e), fb = -1;
        struct display_msg m = next(s, &fb);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_HELLO);
        ASSERT_GE(fb, 0);
        close(fb);
        m = next(s, NULL);
        ASSERT_EQ(m.type, (uint32_t)DISPLAY_MODE);
        ASSERT_EQ(m.mode.width, 640u);
        ASSERT_EQ(next(s, NULL).type, (uint32_t)DISPLAY_BYE);
        char b;
        struct pollfd p = { .fd = s, .events = POLLIN };
        ASSERT_EQ(poll(&p, 1, 5000), 1);
        ASSERT_EQ(recv(s, &b, 1, 0), 0); /* closed */
        close(s);
        ASSERT_EQ(get(&e.f, &e.f.watches), 1u);
        set_mode(&e, 800, 600, DISPLAY_STATUS_VIDEO);
        ASSERT_EQ(next(c, NULL).mode.width, 800u);
        struct vmwp_dsrv_stats st;
        vmwp_dsrv_get_stats(e.s, &st);
        ASSERT_EQ(st.snapshots, 1u);
        ASSERT_TRUE(st.connected);
        close(c);
        env_free(&e);
}

/* A client that stops reading fills its socket; the display thread goes
 * on (kicks are still taken), and once the client reads again it gets a
 * whole-screen update, not the backlog. */
TEST(a_client_that_does_not_read_holds_nothing_up) {
        static struct env e;
        env_init(&e);
        int c = connect_server(&e);
        /* Kicked until the socket is full: how many kicks that takes
         * depends on how many the display thread folds into one update (a
         * slow run, under ASan on a busy machine, folded 5000 into too few). */
        struct vmwp_dsrv_stats st = { 0 };
        for (unsigned i = 0; i < 1000000 && st.overruns == 0; i++) {
                pthread_mutex_lock(&e.f.lock);
                e.f.dirty[0] = (struct display_rect){ i % 600, 0, 1, 1 };
                e.f.n_dirty = 1;
                pthread_mutex_unlock(&e.f.lock);
                vmwp_dsrv_kick(e.s);
                if (i % 64 == 0) {
                        usleep(1000);
                        vmwp_dsrv_get_stats(e.s, &st);
                }
        }
        WAIT_FOR((vmwp_dsrv_get_stats(e.s, &st), st.overruns >= 1));
        unsigned kicks = get(&e.f, &e.f.kicks);
        vmwp_dsrv_kick(e.s);
        WAIT_FOR(get(&e.f, &e.f.kicks) > kicks);
        /* Drain: the last update is the whole screen. */
        unsigned full = get(&e.f, &e.f.full_takes);
        struct display_msg m;
        bool whole = false;
        for (int i = 0; i < 100000 && !whole; i++) {
                m = next(c, NULL);
                whole = m.type == DISPLAY_DIRTY && m.dirty.count == 1 && m.dirty.rect[0].w == 640 &&
                        m.dirty.rect[0].h == 480;
        }
        ASSERT_TRUE(whole);
        ASSERT_GT(get(&e.f, &e.f.full_takes), full);
        close(c);
        env_free(&e);
}

/* The server leaves and a new one comes: it is the display server, not a
 * snapshot. */
TEST(a_new_server_after_the_first_left) {
        static struct env e;
        env_init(&e);
        int c = connect_server(&e);
        close(c);
        WAIT_FOR(get(&e.f, &e.f.unwatches) == 1);
        c = connect_server(&e);
        ASSERT_EQ(get(&e.f, &e.f.watches), 2u);
        close(c);
        env_free(&e);
}

TEST_MAIN();
