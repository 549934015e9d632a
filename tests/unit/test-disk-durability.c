// SPDX-License-Identifier: MIT
/* Durability of acknowledged writes across kill -9, at the backend level.
 * A child process writes numbered blocks through the disk backend with 8
 * requests in flight: odd numbers as FUA writes (acknowledged when they
 * complete), even numbers as plain writes acknowledged only after a
 * following flush (SYNCHRONIZE CACHE) completes. Each acknowledgement goes
 * to the parent through a pipe, exactly as storvsp acknowledges to the
 * guest only from the completion. The parent SIGKILLs the child at an
 * arbitrary point, reopens the image and checks every acknowledged block.
 * Done with O_DIRECT and with buffered I/O. (What this proves and how it
 * extends to the whole worker: docs/storvsp.md, "Durability".) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "common/test.h"
#include "disk/disk.h"

#define BLOCK 4096u
#define N_BLOCKS 2048u
#define DEPTH 8u

static char dir[256];

static void fill(uint8_t *p, uint32_t seq) {
        memcpy(p, &seq, 4);
        for (unsigned i = 4; i < BLOCK; i++)
                p[i] = (uint8_t)(seq * 2654435761u >> (i % 24));
}

/* One write per batch of acknowledgements, like one guest signal per
 * batch of completions; atomic (< PIPE_BUF). */
static void ack(int fd, const uint32_t *seqs, unsigned n) {
        if (n && write(fd, seqs, n * sizeof *seqs) != (ssize_t)(n * sizeof *seqs))
                _exit(3);
}

/* The child: never returns; killed by the parent. */
static void writer(const char *path, bool buffered, int ack_fd) {
        struct disk_options o = { .path = path, .fd = -1, .buffered = buffered, .block_size = 512 };
        struct disk *d;
        struct disk_queue *q;
        uint8_t *buf;
        if (disk_open(&o, &d) < 0 || disk_queue_new(DEPTH + 1, &q) < 0 ||
            posix_memalign((void **)&buf, 4096, DEPTH * BLOCK) != 0)
                _exit(2);
        struct iovec iov[DEPTH];
        struct disk_completion c[DEPTH + 1];
        for (uint32_t seq = 0; seq < N_BLOCKS; seq += DEPTH) {
                for (uint32_t i = 0; i < DEPTH; i++) {
                        fill(buf + i * BLOCK, seq + i);
                        iov[i] = (struct iovec){ buf + i * BLOCK, BLOCK };
                        struct disk_request r = { .kind = DISK_WRITE, .disk = d, .offset = (uint64_t)(seq + i) * BLOCK,
                                                  .len = BLOCK, .iov = &iov[i], .iovcnt = 1,
                                                  .fua = (seq + i) & 1, .user_data = seq + i };
                        if (disk_queue_prep(q, &r) < 0)
                                _exit(2);
                }
                disk_queue_submit(q);
                for (unsigned got = 0; got < DEPTH;) {
                        uint32_t acks[DEPTH];
                        unsigned n_acks = 0;
                        int n = disk_queue_reap(q, c, DEPTH, 1);
                        if (n <= 0)
                                _exit(2);
                        for (int i = 0; i < n; i++) {
                                if (c[i].res != BLOCK)
                                        _exit(2);
                                if (c[i].user_data & 1) /* FUA: durable on completion */
                                        acks[n_acks++] = (uint32_t)c[i].user_data;
                        }
                        ack(ack_fd, acks, n_acks);
                        got += (unsigned)n;
                }
                struct disk_request fl = { .kind = DISK_FLUSH, .disk = d };
                if (disk_queue_prep(q, &fl) < 0 || disk_queue_submit(q) != 1 || disk_queue_reap(q, c, 1, 1) != 1 ||
                    c[0].res != 0)
                        _exit(2);
                uint32_t flushed[DEPTH / 2];
                for (uint32_t i = 0; i < DEPTH / 2; i++) /* the plain writes, now flushed */
                        flushed[i] = seq + 2 * i;
                ack(ack_fd, flushed, DEPTH / 2);
        }
        for (;;)
                pause();
}

static void one_round(bool buffered, unsigned kill_after) {
        char path[400];
        snprintf(path, sizeof path, "%s/durable-%s-%u.img", dir, buffered ? "buffered" : "direct", kill_after);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(ftruncate(fd, (off_t)N_BLOCKS * BLOCK), 0);
        close(fd);
        int p[2];
        ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                close(p[0]);
                writer(path, buffered, p[1]);
        }
        close(p[1]);
        static bool acked[N_BLOCKS];
        memset(acked, 0, sizeof acked);
        unsigned n_acked = 0;
        uint32_t seq;
        while (n_acked < kill_after && read(p[0], &seq, sizeof seq) == sizeof seq) {
                ASSERT_LT(seq, N_BLOCKS);
                acked[seq] = true;
                n_acked++;
        }
        ASSERT_EQ(kill(pid, SIGKILL), 0);
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* not a writer failure */
        /* acknowledgements already in the pipe were given before the kill */
        while (read(p[0], &seq, sizeof seq) == sizeof seq) {
                ASSERT_LT(seq, N_BLOCKS);
                acked[seq] = true;
                n_acked++;
        }
        close(p[0]);
        ASSERT_GE(n_acked, kill_after);

        /* reopen the image (a new process would do the same) and check */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
        if (fd < 0)
                fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        uint8_t *got, *want;
        ASSERT_EQ(posix_memalign((void **)&got, 4096, BLOCK), 0);
        ASSERT_EQ(posix_memalign((void **)&want, 4096, BLOCK), 0);
        for (uint32_t s = 0; s < N_BLOCKS; s++) {
                if (!acked[s])
                        continue;
                ASSERT_EQ(pread(fd, got, BLOCK, (off_t)s * BLOCK), (ssize_t)BLOCK);
                fill(want, s);
                ASSERT_MEMEQ(got, want, BLOCK);
        }
        printf("  %s: %u acknowledged writes survived kill -9\n", buffered ? "buffered" : "O_DIRECT", n_acked);
        close(fd);
        free(got);
        free(want);
}

TEST(acknowledged_writes_survive_sigkill) {
        static const unsigned kill_points[] = { 1, 57, 400 };
        for (size_t i = 0; i < sizeof kill_points / sizeof kill_points[0]; i++) {
                one_round(false, kill_points[i]);
                one_round(true, kill_points[i]);
        }
}

static void cleanup(void) {
        if (dir[0] && test_remove_tree(dir) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv) {
        const char *base = getenv("VM_BUILD_DIR");
        snprintf(dir, sizeof dir, "%s/test-durability-XXXXXX", base ? base : "/var/tmp");
        if (!mkdtemp(dir))
                TEST_SKIP("no temporary directory: %s", strerror(errno));
        atexit(cleanup);
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
