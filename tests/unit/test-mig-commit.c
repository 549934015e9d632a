// SPDX-License-Identifier: MIT
/* The commit point of a live migration (common/migcommit.h) over socket
 * pairs: the source's and the destination's side on two threads, and a
 * link between them that can lose the COMMIT or the RUNNING (cut right
 * there), as a network failing at the worst moment does. Whatever happens,
 * never both sides go on to run the VM, and a source that cannot know
 * reports itself committed. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/migcommit.h"
#include "common/test.h"
#include "common/vmstate.h"

enum cut { CUT_NONE, CUT_COMMIT, CUT_RUNNING };

struct link {
        int src, dst; /* the link's ends toward each side */
        enum cut cut;
};

/* Copies whole records both ways (the commit exchanges only header-sized
 * ones), dropping what cut names and then closing both ends. */
static void *link_thread(void *opaque) {
        struct link *l = opaque;
        uint8_t rec[MIG_RECORD_HEADER];
        for (;;) {
                struct pollfd p[2] = { { .fd = l->src, .events = POLLIN }, { .fd = l->dst, .events = POLLIN } };
                if (poll(p, 2, 5000) <= 0)
                        break;
                int from = p[0].revents ? 0 : 1;
                int in = from ? l->dst : l->src, out = from ? l->src : l->dst;
                size_t got = 0;
                while (got < sizeof rec) {
                        ssize_t k = read(in, rec + got, sizeof rec - got);
                        if (k <= 0)
                                goto done;
                        got += (size_t)k;
                }
                uint32_t type = vmstate_le32(rec);
                if ((l->cut == CUT_COMMIT && type == MIG_COMMIT) || (l->cut == CUT_RUNNING && type == MIG_RUNNING))
                        break;
                if (write(out, rec, sizeof rec) != (ssize_t)sizeof rec)
                        break;
        }
done:
        close(l->src), close(l->dst);
        return NULL;
}

struct dest {
        int fd, r;
        char err[512];
};

static void *dest_thread(void *opaque) {
        struct dest *d = opaque;
        d->r = mig_commit_destination(d->fd, 2000, d->err, sizeof d->err);
        return NULL;
}

/* Runs both sides through a link; returns the source's result. */
static int run(enum cut cut, bool *committed, struct dest *d, char *err, size_t errlen) {
        int a[2], b[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a));
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b));
        struct link l = { .src = a[1], .dst = b[1], .cut = cut };
        *d = (struct dest){ .fd = b[0] };
        pthread_t lt, dt;
        ASSERT_EQ(pthread_create(&lt, NULL, link_thread, &l), 0);
        ASSERT_EQ(pthread_create(&dt, NULL, dest_thread, d), 0);
        int r = mig_commit_source(a[0], 2000, committed, err, errlen);
        pthread_join(dt, NULL);
        close(a[0]), close(b[0]);
        pthread_join(lt, NULL);
        return r;
}

TEST(commit_through_a_good_link) {
        bool committed;
        struct dest d;
        char err[512] = "";
        ASSERT_OK(run(CUT_NONE, &committed, &d, err, sizeof err));
        ASSERT_TRUE(committed);
        ASSERT_OK(d.r);
}

/* The COMMIT is lost: the destination never runs; the source, which wrote
 * it, cannot know and stays committed (its vmms asks the destination's). */
TEST(commit_lost_destination_does_not_run) {
        bool committed;
        struct dest d;
        char err[512] = "";
        ASSERT_ERROR(run(CUT_COMMIT, &committed, &d, err, sizeof err), ECONNRESET);
        ASSERT_TRUE(committed);
        ASSERT_NOT_NULL(strstr(err, "did not confirm running"));
        ASSERT_ERROR(d.r, ECONNRESET);
        ASSERT_NOT_NULL(strstr(d.err, "no COMMIT from the source"));
}

/* The RUNNING is lost: the destination runs; the source stays committed. */
TEST(confirmation_lost_destination_runs) {
        bool committed;
        struct dest d;
        char err[512] = "";
        ASSERT_ERROR(run(CUT_RUNNING, &committed, &d, err, sizeof err), ECONNRESET);
        ASSERT_TRUE(committed);
        ASSERT_OK(d.r);
}

/* A destination that refuses instead of READY, one that says nothing, one
 * that answers garbage: nothing committed, the source keeps the VM. */
TEST(no_ready_nothing_committed) {
        int sp[2];
        bool committed = true;
        char err[512] = "";
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
        ASSERT_OK(mig_send_record(sp[1], MIG_REFUSE, "the devices did not fit", 1000));
        ASSERT_ERROR(mig_commit_source(sp[0], 1000, &committed, err, sizeof err), ECONNABORTED);
        ASSERT_FALSE(committed);
        ASSERT_NOT_NULL(strstr(err, "the devices did not fit"));

        ASSERT_ERROR(mig_commit_source(sp[0], 100, &committed, err, sizeof err), ETIMEDOUT);
        ASSERT_FALSE(committed);
        ASSERT_NOT_NULL(strstr(err, "did not report ready"));

        uint8_t rec[MIG_RECORD_HEADER];
        mig_record_encode(rec, MIG_READY, 0, 0, 0);
        rec[8] ^= 1; /* the header's CRC no longer holds */
        ASSERT_EQ(write(sp[1], rec, sizeof rec), (ssize_t)sizeof rec);
        ASSERT_ERROR(mig_commit_source(sp[0], 1000, &committed, err, sizeof err), EINVAL);
        ASSERT_FALSE(committed);

        /* A source's record type from the destination is refused too. */
        mig_record_encode(rec, MIG_COMMIT, 0, 0, 0);
        ASSERT_EQ(write(sp[1], rec, sizeof rec), (ssize_t)sizeof rec);
        ASSERT_ERROR(mig_commit_source(sp[0], 1000, &committed, err, sizeof err), EINVAL);
        ASSERT_FALSE(committed);

        /* The stream closed before READY: no COMMIT can be sent. */
        close(sp[1]);
        ASSERT_ERROR(mig_commit_source(sp[0], 1000, &committed, err, sizeof err), ECONNRESET);
        ASSERT_FALSE(committed);
        close(sp[0]);
}

/* The destination waits for COMMIT: an ABORT (with its reason), another
 * type, silence: it refuses to start. */
TEST(destination_needs_the_commit) {
        int sp[2];
        char err[512] = "";
        struct mig_record rec;
        char why[64];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
        ASSERT_OK(mig_send_record(sp[1], MIG_ABORT, "cancelled by the operator", 1000));
        ASSERT_ERROR(mig_commit_destination(sp[0], 1000, err, sizeof err), ECANCELED);
        ASSERT_NOT_NULL(strstr(err, "cancelled by the operator"));
        ASSERT_OK(mig_recv_record(sp[1], 1000, false, &rec, why, sizeof why));
        ASSERT_EQ(rec.type, (uint32_t)MIG_READY);

        ASSERT_OK(mig_send_record(sp[1], MIG_PASS, NULL, 1000));
        ASSERT_ERROR(mig_commit_destination(sp[0], 1000, err, sizeof err), EPROTO);
        ASSERT_OK(mig_recv_record(sp[1], 1000, false, &rec, why, sizeof why));

        ASSERT_ERROR(mig_commit_destination(sp[0], 100, err, sizeof err), ETIMEDOUT);
        ASSERT_NOT_NULL(strstr(err, "no COMMIT"));
        ASSERT_OK(mig_recv_record(sp[1], 1000, false, &rec, why, sizeof why));

        /* The COMMIT: it starts and confirms. */
        ASSERT_OK(mig_send_record(sp[1], MIG_COMMIT, NULL, 1000));
        ASSERT_OK(mig_commit_destination(sp[0], 1000, err, sizeof err));
        ASSERT_OK(mig_recv_record(sp[1], 1000, false, &rec, why, sizeof why));
        ASSERT_EQ(rec.type, (uint32_t)MIG_READY);
        ASSERT_OK(mig_recv_record(sp[1], 1000, false, &rec, why, sizeof why));
        ASSERT_EQ(rec.type, (uint32_t)MIG_RUNNING);
        close(sp[0]), close(sp[1]);
}

/* COMMIT and READY are refused where they do not belong: COMMIT in the
 * page records, before the state (the stream walker). */
TEST(commit_before_the_state_is_refused) {
        uint8_t buf[256];
        struct mig_hello h = { .major = MIG_MAJOR, .page_size = MIG_PAGE_SIZE, .ram_bytes = 1 << 20, .vcpus = 1,
                               .shape = "uart", .shape_len = 4 };
        int n = mig_hello_encode(&h, buf, sizeof buf);
        ASSERT_GT(n, 0);
        mig_record_encode(buf + n, MIG_COMMIT, 0, 0, 0);
        char err[256] = "";
        ASSERT_ERROR(mig_stream_walk(buf, (size_t)n + MIG_RECORD_HEADER, &h, NULL, NULL, err, sizeof err), EINVAL);
        if (!strstr(err, "COMMIT"))
                ASSERT_STREQ(err, "COMMIT");
        struct mig_record rec;
        mig_record_encode(buf, MIG_READY, 0, 0, 0);
        ASSERT_ERROR(mig_record_parse(buf, 1 << 20, true, &rec, err, sizeof err), EINVAL);
        ASSERT_OK(mig_record_parse(buf, 1 << 20, false, &rec, err, sizeof err));
        mig_record_encode(buf, MIG_COMMIT, 0, 8, 0); /* COMMIT carries nothing */
        ASSERT_ERROR(mig_record_parse(buf, 1 << 20, true, &rec, err, sizeof err), EINVAL);
}

TEST_MAIN();
