// SPDX-License-Identifier: MIT
/* The emulated devices' service thread (emu/service.h) on its device
 * worker: sources, wake and exit hooks, a source watching no events (a
 * hung-up client must not spin it), calls; pause runs the pause hooks on
 * the parked thread and nothing else until resume; and quiesce with the
 * guest active: the IDE controller's DMA reads (one started before the
 * pause, one after) and keystrokes typed into the keyboard socket while
 * quiesced change no byte of guest RAM and raise no interrupt for 50 ms,
 * and after resume each is served exactly once. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "tests/lib/fake-ide.h"
#include "tests/lib/fake-ram.h"
#include "common/test.h"
#include "emu/i8042.h"
#include "emu/ide-backend.h"
#include "emu/ide.h"
#include "emu/service.h"
#include "vmwp/vm-emu.h"

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
}

static bool wait_for(atomic_uint *v, unsigned want, int ms) {
        for (int i = 0; i < ms && atomic_load(v) < want; i++)
                sleep_ms(1);
        return atomic_load(v) >= want;
}

struct basic {
        struct emu_service *svc;
        int efd, sock[2], si;
        atomic_uint events, wakes, hup_calls, pause_hooks, exits;
        pthread_t service_thread;
        bool pause_on_thread, exit_on_thread;
};

static void on_efd(void *opaque, short revents) {
        struct basic *b = opaque;
        eventfd_t v;
        if (eventfd_read(b->efd, &v) == 0)
                atomic_fetch_add(&b->events, (unsigned)v);
}

/* A hang-up: counted, and the source removed (on the thread). */
static void on_sock(void *opaque, short revents) {
        struct basic *b = opaque;
        atomic_fetch_add(&b->hup_calls, 1);
        emu_service_remove(b->svc, b->si);
}

static void on_wake(void *opaque) {
        struct basic *b = opaque;
        b->service_thread = pthread_self();
        atomic_fetch_add(&b->wakes, 1);
}

static void on_pause(void *opaque) {
        struct basic *b = opaque;
        b->pause_on_thread = pthread_equal(pthread_self(), b->service_thread);
        atomic_fetch_add(&b->pause_hooks, 1);
}

static void on_exit_hook(void *opaque) {
        struct basic *b = opaque;
        b->exit_on_thread = pthread_equal(pthread_self(), b->service_thread);
        atomic_fetch_add(&b->exits, 1);
}

static int twice(void *arg) {
        return 2 * *(int *)arg;
}

TEST(sources_hooks_calls_and_pause) {
        static struct basic b;
        b.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, b.sock));
        ASSERT_OK(emu_service_new(&b.svc));
        ASSERT_ERROR(emu_service_add(b.svc, -1, POLLIN, on_efd, &b), EINVAL);
        ASSERT_OK(emu_service_add(b.svc, b.efd, POLLIN, on_efd, &b));
        int si = b.si = emu_service_add(b.svc, b.sock[0], POLLIN, on_sock, &b);
        ASSERT_OK(si);
        ASSERT_OK(emu_service_on_wake(b.svc, on_wake, &b));
        ASSERT_OK(emu_service_on_pause(b.svc, on_pause, &b));
        ASSERT_OK(emu_service_on_exit(b.svc, on_exit_hook, &b));
        ASSERT_OK(emu_service_start(b.svc));
        ASSERT_ERROR(emu_service_start(b.svc), EBUSY);
        ASSERT_OK(eventfd_write(b.efd, 3));
        ASSERT_TRUE(wait_for(&b.events, 3, 2000));
        ASSERT_TRUE(wait_for(&b.wakes, 1, 2000));
        int x = 21;
        ASSERT_EQ(emu_service_call(b.svc, twice, &x), 42);

        /* Events 0 on a hung-up socket: not called (epoll would report the
         * hang-up whatever the mask). */
        ASSERT_OK(emu_service_pause(b.svc));
        emu_service_set_events(b.svc, si, 0);
        emu_service_resume(b.svc);
        close(b.sock[1]);
        sleep_ms(20);
        ASSERT_EQ(atomic_load(&b.hup_calls), 0u);

        /* Paused: the pause hook ran on the thread; nothing else runs. */
        ASSERT_OK(emu_service_pause(b.svc));
        ASSERT_EQ(atomic_load(&b.pause_hooks), 2u); /* once per pause */
        ASSERT_TRUE(b.pause_on_thread);
        unsigned wakes = atomic_load(&b.wakes);
        ASSERT_OK(eventfd_write(b.efd, 1));
        emu_service_kick(b.svc);
        ASSERT_EQ(emu_service_call(b.svc, twice, &x), 42); /* calls still run */
        sleep_ms(20);
        ASSERT_EQ(atomic_load(&b.events), 3u);
        ASSERT_EQ(atomic_load(&b.wakes), wakes);
        emu_service_set_events(b.svc, si, POLLIN); /* while paused: allowed */
        emu_service_resume(b.svc);
        ASSERT_TRUE(wait_for(&b.events, 4, 2000));
        ASSERT_TRUE(wait_for(&b.hup_calls, 1, 2000)); /* watched again: the hang-up */
        emu_service_free(b.svc);
        ASSERT_EQ(atomic_load(&b.hup_calls), 1u); /* removed by its callback */
        ASSERT_EQ(atomic_load(&b.exits), 1u);
        ASSERT_TRUE(b.exit_on_thread);
        ASSERT_EQ(atomic_load(&b.events), 4u);
        close(b.efd);
        close(b.sock[0]);
}

/* ---- quiesce with the guest active ---- */

/* Channel 0 reads 16 MiB per command: O_DIRECT from the disk, long
 * enough to be in flight when the pause comes (and drained by it);
 * channel 1 reads 128 KiB. */
#define RAM_SIZE (24u << 20)
#define SECTORS (18u << 11)
#define BIG_SECTORS (16u << 11)
#define SMALL_SECTORS 256u
#define BIG_DST 0x100000u
#define SMALL_DST 0x1200000u

/* Page-aligned, so the disk's O_DIRECT reads land in it directly (not
 * through a bounce buffer copied at reap time): a read still in flight
 * when the pause returns would change it behind the parked thread. */
static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096))), shadow[RAM_SIZE];
static atomic_uint kbd_edges;
static bool kbd_level;
static struct emu_service *svc;

FAKE_RAM_OPS(ram, RAM_SIZE)
FAKE_IDE_OPS(svc)

static void kbd_irq(void *o, bool level) {
        if (level && !kbd_level)
                atomic_fetch_add(&kbd_edges, 1);
        kbd_level = level;
}
static void kbd_reset(void *o, const char *source) {
}
static const struct i8042_ops kbd_ops = { .irq = kbd_irq, .reset = kbd_reset, .input_space = kick };

static uint8_t disk_byte(uint64_t off) {
        return (uint8_t)(off * 7 + (off >> 9) * 13);
}

static struct disk *make_disk(void) {
        char path[] = "/tmp/emu-service-XXXXXX";
        int fd = mkstemp(path);
        ASSERT_GE(fd, 0);
        static uint8_t data[SECTORS * 512];
        for (uint64_t i = 0; i < sizeof data; i++)
                data[i] = disk_byte(i);
        ASSERT_EQ(write(fd, data, sizeof data), (ssize_t)sizeof data);
        close(fd);
        struct disk_options o = { .path = path, .fd = -1, .block_size = 512, .no_lock = true };
        struct disk *d;
        ASSERT_OK(disk_open(&o, &d));
        unlink(path);
        return d;
}

/* READ DMA EXT of n sectors (a multiple of 128) at lba on channel ch into
 * RAM at dst, through 64 KiB PRD entries (channel ch's table at 0x1000 +
 * 0x1000 * ch). */
static void start_read(struct ide_controller *c, unsigned ch, uint32_t lba, uint32_t n, uint32_t dst) {
        uint32_t table = 0x1000 + 0x1000 * ch, bm = 8 * ch, entries = n / 128;
        for (uint32_t i = 0; i < entries; i++) {
                uint32_t d[2] = { dst + i * 0x10000, i + 1 == entries ? BM_PRD_EOT : 0 }; /* count 0: 64 KiB */
                memcpy(ram + table + 8 * i, d, sizeof d);
        }
        ide_bm_write(c, bm + 2, 1, BM_STS_INTR | BM_STS_ERROR);
        ide_bm_write(c, bm + 4, 4, table);
        ide_bm_write(c, bm, 1, BM_CMD_WRITE_MEM);
        static const unsigned shift[3][2] = { { 24, 0 }, { 32, 8 }, { 40, 16 } };
        ide_cmd_write(c, ch, 2, 1, (n >> 8) & 0xff); /* HOB first, then the low byte */
        ide_cmd_write(c, ch, 2, 1, n & 0xff);
        for (unsigned r = 0; r < 3; r++)
                for (unsigned k = 0; k < 2; k++)
                        ide_cmd_write(c, ch, 3 + r, 1, (uint32_t)(((uint64_t)lba >> shift[r][k]) & 0xff));
        ide_cmd_write(c, ch, 6, 1, 0x40);
        ide_cmd_write(c, ch, 7, 1, ATA_CMD_READ_DMA_EXT);
        ide_bm_write(c, bm, 1, BM_CMD_WRITE_MEM | BM_CMD_START);
}

/* Waits for the command's interrupt, acknowledges it, checks the data. */
static void finish_read(struct ide_controller *c, unsigned ch, uint32_t lba, uint32_t n, uint32_t dst,
                        unsigned edges) {
        ASSERT_TRUE(wait_for(&ide_edges[ch], edges, 10000));
        ASSERT_EQ(ide_cmd_read(c, ch, 7, 1), 0x50u); /* DRDY|DSC, INTRQ cleared */
        ASSERT_EQ(ide_bm_read(c, 8 * ch + 2, 1) & BM_STS_INTR, BM_STS_INTR);
        ide_bm_write(c, 8 * ch, 1, 0);
        for (uint32_t i = 0; i < n * 512; i++)
                if (ram[dst + i] != disk_byte((uint64_t)lba * 512 + i))
                        ASSERT_EQ(ram[dst + i], disk_byte((uint64_t)lba * 512 + i));
        memset(ram + dst, 0, n * 512); /* the next round must write it again */
}

static uint64_t hash(const uint8_t *p) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < RAM_SIZE; i++)
                h = (h ^ p[i]) * 0x100000001b3ull;
        return h;
}

static int kbd_connect(const char *path) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        ASSERT_OK(connect(fd, (struct sockaddr *)&sa, sizeof sa));
        return fd;
}

static uint64_t keys_typed(struct i8042 *k) {
        struct i8042_stats st;
        i8042_get_stats(k, &st);
        return st.keys;
}

#define ROUNDS 4u

TEST(quiesce_holds_dma_and_keystrokes) {
        static struct i8042 kbd;
        struct ide_controller *c;
        struct vmwp_kbd_socket *ks;
        char sock[] = "/tmp/emu-kbd-XXXXXX", err[256];
        ASSERT_NOT_NULL(mkdtemp(sock));
        char path[64];
        snprintf(path, sizeof path, "%s/kbd", sock);
        ASSERT_OK(emu_service_new(&svc));
        ASSERT_OK(ide_new(&ide_ops, NULL, &c));
        struct disk *d = make_disk();
        struct ata_identity id = { .model = "M", .serial = "S", .firmware = "F" };
        ASSERT_OK(ide_attach(c, 0, d, &id));
        ASSERT_OK(ide_attach(c, 2, d, &id)); /* the secondary channel */
        disk_unref(d);
        ide_bm_claimed(c, 0xc000);
        ide_set_decode(c, true, true, true, true, 0xc000);
        ASSERT_OK(ide_backend_attach(c, svc, NULL));
        i8042_init(&kbd, &kbd_ops, NULL);
        ASSERT_OK(vmwp_kbd_socket_open(path, &kbd, svc, &ks, err, sizeof err));
        ASSERT_OK(emu_service_start(svc));
        int client = kbd_connect(path);

        for (unsigned round = 0; round < ROUNDS; round++) {
                uint32_t lba0 = 256 * round, lba1 = lba0 + 16;
                start_read(c, 0, lba0, BIG_SECTORS, BIG_DST); /* before the pause: in flight, drained */
                sleep_ms(1); /* the service thread takes and submits it */
                ASSERT_OK(emu_service_pause(svc));
                start_read(c, 1, lba1, SMALL_SECTORS, SMALL_DST); /* while quiesced: waits */
                ASSERT_EQ(write(client, "ab", 2), 2); /* host input while quiesced: waits */
                memcpy(shadow, ram, RAM_SIZE); /* at once: hashing takes a while */
                uint64_t h = hash(shadow), keys = keys_typed(&kbd);
                unsigned e0 = atomic_load(&ide_edges[0]), e1 = atomic_load(&ide_edges[1]);
                unsigned ek = atomic_load(&kbd_edges);
                sleep_ms(50);
                ASSERT_EQ(hash(ram), h);
                ASSERT_EQ(atomic_load(&ide_edges[0]), e0);
                ASSERT_EQ(atomic_load(&ide_edges[1]), e1);
                ASSERT_EQ(atomic_load(&kbd_edges), ek);
                ASSERT_EQ(keys_typed(&kbd), keys);
                ASSERT_EQ(e1, round); /* the second request was not served */
                emu_service_resume(svc);
                finish_read(c, 0, lba0, BIG_SECTORS, BIG_DST, round + 1);
                finish_read(c, 1, lba1, SMALL_SECTORS, SMALL_DST, round + 1);
                for (int i = 0; i < 5000 && keys_typed(&kbd) < 2 * (round + 1); i++)
                        sleep_ms(1);
                ASSERT_EQ(keys_typed(&kbd), 2 * (round + 1));
        }
        sleep_ms(20);
        ASSERT_EQ(atomic_load(&ide_edges[0]), ROUNDS); /* exactly once each */
        ASSERT_EQ(atomic_load(&ide_edges[1]), ROUNDS);
        ASSERT_EQ(keys_typed(&kbd), 2u * ROUNDS);
        close(client);
        emu_service_free(svc); /* drains the queue, releases the disks, closes the socket */
        ide_free(c);
        i8042_destroy(&kbd);
        rmdir(sock);
}

TEST_MAIN();
