// SPDX-License-Identifier: MIT
/* hvshim signalling costs with tests/guests/hvshim_bench.S,
 * for a guest running its loops at CPL0 and at CPL3:
 *   - pio:    a plain port-I/O exit to user space (the baseline);
 *   - doorbell: HvSignalEvent through the hypercall page alone (stub +
 *             ioeventfd, nobody answers): the guest's cost of a signal;
 *   - signal: HvSignalEvent through the hypercall page (doorbell on an
 *             ioeventfd, no exit) -> a host thread reading the eventfd
 *             answers with synic_signal_event -> the guest's handler runs
 *             and the guest loop sees it; timed by the guest's marks;
 *   - irq:    synic_signal_event from the host -> guest interrupt handler
 *             -> its HvSignalEvent doorbell -> eventfd readable on the
 *             host; timed on the host.
 * Figures are microseconds per round trip, beside the pio baseline.
 * Usage: bench-hvshim [iterations] */
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "bench.h"
#include "tests/component/test-hvshim-harness.h"

TINY_GUEST(hvshim_bench);

#define CONN_SIGNAL 0x3003u
#define CONN_IRQ 0x3004u
#define CONN_DOORBELL 0x3005u
#define SINT 2u
#define FLAG 1u

struct responder {
        struct hvshim *hv;
        int efd;
        atomic_bool stop;
};

/* Answers every doorbell of the signal phase with an event interrupt. */
static void *respond(void *arg) {
        struct responder *r = arg;
        for (;;) {
                uint64_t n;
                if (read(r->efd, &n, sizeof n) != sizeof n || atomic_load(&r->stop))
                        break;
                (void)synic_signal_event(r->hv, 0, SINT, FLAG);
        }
        return NULL;
}

static double phase_us(struct hg *h, unsigned phase, unsigned iterations) {
        struct hg_mark b = { 0 }, e = { 0 };
        for (unsigned i = 1; hg_wait_mark(h, HG_MARK_BEGIN, i, HG_TIMEOUT_MS, &b); i++)
                if (b.res[HG_R_PHASE] == phase)
                        break;
        for (unsigned i = 1; hg_wait_mark(h, HG_MARK_END, i, HG_TIMEOUT_MS * 5, &e); i++)
                if (e.res[HG_R_PHASE] == phase)
                        break;
        if (b.res[HG_R_PHASE] != phase || e.res[HG_R_PHASE] != phase) {
                fprintf(stderr, "phase %u did not complete\n", phase);
                exit(1);
        }
        return (double)(e.ns - b.ns) / 1000.0 / iterations;
}

/* Host-driven: event -> guest handler -> doorbell back, N times. */
static double irq_round_trip_us(struct hg *h, int efd, unsigned iterations) {
        struct hg_mark b;
        unsigned n = 0;
        do
                ASSERT_TRUE(hg_wait_mark(h, HG_MARK_BEGIN, ++n, HG_TIMEOUT_MS, &b));
        while (b.res[HG_R_PHASE] != HG_PHASE_IRQ);
        uint64_t t0 = hg_now_ns();
        for (unsigned i = 0; i < iterations; i++) {
                ASSERT_OK(synic_signal_event(h->hv, 0, SINT, FLAG));
                uint64_t v;
                struct pollfd pfd = { .fd = efd, .events = POLLIN };
                ASSERT_EQ(poll(&pfd, 1, HG_TIMEOUT_MS), 1);
                ASSERT_EQ(read(efd, &v, sizeof v), (ssize_t)sizeof v);
        }
        return (double)(hg_now_ns() - t0) / 1000.0 / iterations;
}

static void run(bool user, unsigned iterations) {
        struct hg h;
        hg_init_image(&h, tg_hvshim_bench, tg_hvshim_bench_len, 1, 0, NULL);
        struct responder r = { .hv = h.hv, .efd = eventfd(0, EFD_CLOEXEC) };
        int irq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), db_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_OK(r.efd);
        ASSERT_OK(irq_efd);
        ASSERT_OK(db_efd);
        ASSERT_OK(hvshim_register_event(h.hv, CONN_DOORBELL, db_efd));
        ASSERT_OK(hvshim_register_event(h.hv, CONN_SIGNAL, r.efd));
        ASSERT_OK(hvshim_register_event(h.hv, CONN_IRQ, irq_efd));
        hg_mailbox(&h, HG_MB_ARG, CONN_SIGNAL);
        hg_mailbox(&h, HG_MB_ARG2, iterations);
        hg_mailbox(&h, HG_MB_ARG3, CONN_IRQ);
        hg_mailbox(&h, HG_MB_ARG4, CONN_DOORBELL);
        hg_mailbox(&h, HG_MB_USER, user);
        pthread_t t;
        ASSERT_EQ(pthread_create(&t, NULL, respond, &r), 0);
        hg_start(&h);

        double pio = phase_us(&h, HG_PHASE_PIO, iterations);
        double doorbell = phase_us(&h, HG_PHASE_DOORBELL, iterations);
        uint64_t rung = 0;
        ASSERT_EQ(read(db_efd, &rung, sizeof rung), (ssize_t)sizeof rung);
        ASSERT_EQ(rung, iterations); /* every doorbell counted in the kernel */
        double signal = phase_us(&h, HG_PHASE_SIGNAL, iterations);
        atomic_store(&r.stop, true);
        ASSERT_EQ(write(r.efd, &(uint64_t){ 1 }, sizeof(uint64_t)), (ssize_t)sizeof(uint64_t));
        pthread_join(t, NULL);
        double irq = irq_round_trip_us(&h, irq_efd, iterations);
        struct vid_stats vs;
        vid_partition_stats(h.p, &vs);
        struct hvshim_stats hs;
        hvshim_get_stats(h.hv, &hs);
        hg_finish(&h, 0);
        close(r.efd);
        close(irq_efd);
        close(db_efd);

        const char *cpl = user ? "cpl3" : "cpl0";
        char name[96];
        snprintf(name, sizeof name, "hvshim_pio_exit_%s", cpl);
        bench_result(name, pio, -1, "us", NULL, "lower");
        snprintf(name, sizeof name, "hvshim_signal_event_doorbell_%s", cpl);
        bench_result(name, doorbell, pio, "us", "< pio exit", "lower");
        snprintf(name, sizeof name, "hvshim_signal_event_round_trip_%s", cpl);
        bench_result(name, signal, pio, "us", "< pio exit", "lower");
        snprintf(name, sizeof name, "hvshim_event_irq_round_trip_%s", cpl);
        bench_result(name, irq, pio, "us", "< pio exit", "lower");
        /* The doorbells never reached user space. */
        fprintf(stderr, "%s: %u iterations, %llu exits, %llu hvshim user-space signals\n", cpl, iterations,
                (unsigned long long)vs.exits, (unsigned long long)hs.signal_events_user);
}

int main(int argc, char **argv) {
        unsigned iterations = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 2000;
        if (iterations == 0)
                iterations = 1;
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "bench-hvshim: /dev/kvm not usable, skipped\n");
                return 0;
        }
        close(fd);
        run(false, iterations);
        run(true, iterations);
        return 0;
}
