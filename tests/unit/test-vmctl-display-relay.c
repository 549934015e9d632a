// SPDX-License-Identifier: MIT
/* vmctl display --stdio's relay (vmctl/display-relay.c): bytes both ways
 * between the VNC connection and standard input/output, unchanged and in
 * order; the end of the input passed on as a half close while the
 * server's bytes still come; the end when the server closes (the VM
 * stopped) or the output's reader goes. Over socketpairs and pipes. */
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "common/test.h"
#include "vmctl/vmctl.h"

struct rig {
        int server;  /* the display server's end of the VNC connection */
        int in_w;    /* what the viewer writes (vmctl's stdin) */
        int out_r;   /* what the viewer reads (vmctl's stdout) */
        pid_t pid;   /* the relay, in a child */
};

static void rig_start(struct rig *g) {
        int sp[2], in[2], out[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
        ASSERT_OK(pipe2(in, O_CLOEXEC));
        ASSERT_OK(pipe2(out, O_CLOEXEC));
        g->pid = fork();
        ASSERT_TRUE(g->pid >= 0);
        if (g->pid == 0) {
                signal(SIGPIPE, SIG_IGN);
                close(sp[0]), close(in[1]), close(out[0]);
                _exit(vmctl_display_relay(sp[1], in[0], out[1]) == 0 ? 0 : 1);
        }
        close(sp[1]), close(in[0]), close(out[1]);
        g->server = sp[0], g->in_w = in[1], g->out_r = out[0];
}

static int rig_wait(struct rig *g) {
        int st;
        ASSERT_EQ(waitpid(g->pid, &st, 0), g->pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void rig_close(struct rig *g) {
        safe_close(g->server), safe_close(g->in_w), safe_close(g->out_r);
}

static void expect(int fd, const char *want) {
        char buf[256] = "";
        ASSERT_EQ(read_full(fd, buf, strlen(want)), (ssize_t)strlen(want));
        ASSERT_STREQ(buf, want);
}

TEST(bytes_go_both_ways_until_the_server_closes) {
        struct rig g;
        rig_start(&g);
        ASSERT_OK(write_full(g.server, "RFB 003.008\n", 12));
        expect(g.out_r, "RFB 003.008\n");
        ASSERT_OK(write_full(g.in_w, "RFB 003.008\n", 12));
        expect(g.server, "RFB 003.008\n");
        /* binary, with zero bytes, larger than one read */
        static uint8_t big[100000], got[100000];
        for (size_t i = 0; i < sizeof big; i++)
                big[i] = (uint8_t)(i * 7);
        ASSERT_OK(write_full(g.server, big, sizeof big));
        ASSERT_EQ(read_full(g.out_r, got, sizeof got), (ssize_t)sizeof got);
        ASSERT_MEMEQ(got, big, sizeof big);
        /* the server closes: the VM stopped; the relay ends, output at EOF */
        g.server = safe_close(g.server);
        ASSERT_EQ(rig_wait(&g), 0);
        char c;
        ASSERT_EQ(read(g.out_r, &c, 1), 0);
        rig_close(&g);
}

TEST(the_end_of_input_is_a_half_close) {
        struct rig g;
        rig_start(&g);
        g.in_w = safe_close(g.in_w);
        char c;
        ASSERT_EQ(read(g.server, &c, 1), 0); /* the server sees the viewer's end */
        ASSERT_OK(write_full(g.server, "bye", 3));
        expect(g.out_r, "bye");              /* and may still answer */
        g.server = safe_close(g.server);
        ASSERT_EQ(rig_wait(&g), 0);
        rig_close(&g);
}

TEST(a_reader_that_goes_ends_the_relay) {
        struct rig g;
        rig_start(&g);
        g.out_r = safe_close(g.out_r);
        ASSERT_OK(write_full(g.server, "frame", 5));
        ASSERT_EQ(rig_wait(&g), 0);
        char c;
        ASSERT_EQ(read(g.server, &c, 1), 0); /* the connection to the server is closed */
        rig_close(&g);
}

TEST_MAIN();
