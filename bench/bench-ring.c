// SPDX-License-Identifier: MIT
/* Packets/s and bytes/s through one VMBus ring pair: a client thread (the
 * guest, through the simulated guest's independent ring code) writes
 * in-band packets into the guest->host ring and reads the echoes the echo
 * provider writes back from its device worker. 64-byte and 4 KiB payloads,
 * with the provider polling (50 µs) and purely doorbell driven. Each packet
 * is copied four times on its way (guest write, host read, host write,
 * guest read); the baseline is plain memcpy of the same bytes in the same
 * chunk size, measured in the same run.
 *
 * Each figure is the best of `runs` runs (ours and the baseline alike):
 * the development machines are shared, and the best run is the one least
 * disturbed by other load.
 *
 * Then the cost of marking a page dirty (vid_mark_dirty, what every host
 * write into guest RAM pays for live migration, docs/vm-state.md "Dirty
 * pages") with tracking off and on, against a 4 KiB memcpy, the write it
 * marks (needs /dev/kvm for a partition; skipped without).
 *
 * Usage: bench-ring [seconds per run, default 1] [runs, default 3] */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "common/macro.h"
#include "vmbustest/echo.h"
#include "vmbus/server.h"
#include "vid/vid.h"
#include "vmbustest/sim.h"

#define RING_PAGES 64u /* per direction: 252 KiB of data */
#define WINDOW_MAX 256u /* packets in flight, at most half a ring (so neither side blocks on a full ring) */

struct result {
        double pps, bytes_per_s;
        double doorbells_per_kpkt, interrupts_per_kpkt;
};

static void die(const char *what, int r) {
        fprintf(stderr, "bench-ring: %s failed (%d)\n", what, r);
        exit(1);
}

/* One case: returns the echo rate through the ring pair. */
static struct result run_echo(unsigned poll_us, size_t payload, double seconds) {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct vmbus_echo echo;
        int r = vmbus_echo_init(&echo, poll_us);
        if (r < 0)
                die("echo", r);
        if ((r = vmbus_sim_new(16u << 20, 1, &sim)) < 0)
        if (r < 0)
                die("sim", r);
        struct vmbus_server_config cfg = { .vp_count = 1 };
        if ((r = vmbus_server_new(&cfg, &vmbus_sim_ops, sim, &srv)) < 0)
                die("server", r);
        if ((r = vmbus_server_add_device(srv, &(struct vmbus_device_config){ .ops = &vmbus_echo_ops, .data = &echo },
                                         NULL)) < 0)
                die("add", r);
        struct vmbus_channel_offer_channel o;
        struct vmbus_sim_channel ch;
        if (vmbus_sim_connect(sim, VERSION_WIN10_V5_3) != 1 || vmbus_sim_request_offers(sim, &o, 1) != 1 ||
            vmbus_sim_open(sim, o.child_relid, o.connection_id, RING_PAGES, NULL, 0, &ch) != 0)
                die("open", -1);
        /* The client polls its inbound ring (as storvsc/netvsc do while busy,
         * §5.6), so the host does not interrupt it. */
        ch.in.hdr->interrupt_mask = 1;
        uint8_t *out = calloc(1, payload), in[VMBUS_ECHO_GUEST_MAX_PACKET];
        uint64_t window = MIN((uint64_t)WINDOW_MAX,
                              (RING_PAGES - 1) * VMBUS_PAGE_SIZE / vmbus_ring_packet_space(0, payload) / 2);
        uint64_t sent = 0, done = 0, t0 = bench_now_ns(), deadline = t0 + (uint64_t)(seconds * 1e9);
        uint64_t doorbells0 = vmbus_sim_doorbell_count(sim), irq0 = vmbus_sim_event_count(sim);
        uint64_t now = t0;
        for (unsigned idle = 0; now < deadline; idle++) {
                bool progress = false;
                while (sent - done < window &&
                       vmbus_sim_ring_write(sim, &ch, VM_PKT_DATA_INBAND, 0, sent, out, payload) == 0) {
                        sent++;
                        progress = true;
                }
                struct vmbus_packet p;
                while ((r = vmbus_sim_ring_read(sim, &ch, in, sizeof in, &p)) > 0) {
                        if (p.trans_id != done)
                                die("order", (int)p.trans_id);
                        done++;
                        progress = true;
                }
                if (r < 0)
                        die("ring", r);
                if (!progress && idle % 64 == 0)
                        sched_yield(); /* two shared cores: let the echo worker run */
                if ((idle & 255) == 0)
                        now = bench_now_ns();
        }
        now = bench_now_ns();
        double secs = (double)(now - t0) / 1e9;
        struct result res = {
                .pps = (double)done / secs,
                .bytes_per_s = (double)done * (double)payload / secs,
                .doorbells_per_kpkt = 1000.0 * (double)(vmbus_sim_doorbell_count(sim) - doorbells0) / (double)done,
                .interrupts_per_kpkt = 1000.0 * (double)(vmbus_sim_event_count(sim) - irq0) / (double)done,
        };
        free(out);
        vmbus_server_free(srv);
        vmbus_echo_fini(&echo);
        vmbus_sim_free(sim);
        return res;
}

/* memcpy of the same bytes in the same chunks, through a buffer as large
 * as the ring data area (so both stay in the same cache level). */
static struct result run_memcpy(size_t chunk, double seconds) {
        size_t area = (RING_PAGES - 1) * VMBUS_PAGE_SIZE;
        uint8_t *src = malloc(area), *dst = malloc(area);
        memset(src, 1, area); /* real pages, not the shared zero page */
        memset(dst, 2, area);
        uint64_t n = 0, t0 = bench_now_ns(), deadline = t0 + (uint64_t)(seconds * 1e9), now = t0;
        size_t off = 0;
        while (now < deadline) {
                for (int i = 0; i < 1024; i++, n++) {
                        if (off + chunk > area)
                                off = 0;
                        memcpy(dst + off, src + off, chunk);
                        off += ALIGN_UP(chunk, 8);
                }
                __asm__ volatile("" : : "r"(dst) : "memory");
                now = bench_now_ns();
        }
        double secs = (double)(now - t0) / 1e9;
        free(src);
        free(dst);
        return (struct result){ .pps = (double)n / secs, .bytes_per_s = (double)n * (double)chunk / secs };
}

static void report(const char *name, const struct result *r, const struct result *base) {
        char m[96];
        snprintf(m, sizeof m, "ring_echo_%s_packets_per_s", name);
        bench_result(m, r->pps, base->pps, "pkt/s", "-", "higher");
        snprintf(m, sizeof m, "ring_echo_%s_MiB_per_s", name);
        bench_result(m, r->bytes_per_s / (1 << 20), base->bytes_per_s / (1 << 20), "MiB/s", "-", "higher");
        snprintf(m, sizeof m, "ring_echo_%s_doorbells_per_1k_pkts", name);
        bench_result(m, r->doorbells_per_kpkt, -1, "count", "-", "lower");
        snprintf(m, sizeof m, "ring_echo_%s_guest_interrupts_per_1k_pkts", name);
        bench_result(m, r->interrupts_per_kpkt, -1, "count", "-", "lower");
}

/* ns per call of mark(p, i) over 1 << 20 calls, best of runs. */
static double ns_per_call(void (*mark)(struct vid_partition *, uint64_t), struct vid_partition *p, int runs) {
        double best = 1e30;
        for (int k = 0; k < runs; k++) {
                uint64_t t0 = bench_now_ns();
                for (uint64_t i = 0; i < (1u << 20); i++)
                        mark(p, i);
                best = MIN(best, (double)(bench_now_ns() - t0) / (1u << 20));
        }
        return best;
}

#define MARK_RAM (16u << 20)
static uint8_t *mark_host;

static void mark_gpa(struct vid_partition *p, uint64_t i) {
        vid_mark_dirty(p, (i * VID_PAGE_SIZE) % MARK_RAM, VID_PAGE_SIZE);
}

static void mark_host_ptr(struct vid_partition *p, uint64_t i) {
        vid_mark_dirty_host(p, mark_host + (i * VID_PAGE_SIZE) % MARK_RAM, VID_PAGE_SIZE);
}

static uint8_t copy_src[VID_PAGE_SIZE];
static void copy_page(struct vid_partition *p, uint64_t i) {
        memcpy(mark_host + (i * VID_PAGE_SIZE) % MARK_RAM, copy_src, VID_PAGE_SIZE);
        __asm__ volatile("" : : "r"(mark_host) : "memory");
}

static void bench_mark_dirty(int runs) {
        struct vid_partition_config cfg = { .ram_bytes = MARK_RAM, .n_vps = 1 };
        struct vid_partition *p;
        char err[256];
        if (vid_partition_create(&cfg, &p, err, sizeof err) < 0 ||
            gm_map(p, 0, MARK_RAM, (void **)&mark_host) < 0) {
                fprintf(stderr, "bench-ring: no partition (%s): dirty-marking rows skipped\n", err);
                return;
        }
        memset(mark_host, 1, MARK_RAM); /* real pages */
        double copy = ns_per_call(copy_page, p, runs);
        bench_result("dirty_mark_page_tracking_off_ns", ns_per_call(mark_gpa, p, runs), copy, "ns", "-", "lower");
        bench_result("dirty_mark_host_page_tracking_off_ns", ns_per_call(mark_host_ptr, p, runs), copy, "ns", "-",
                     "lower");
        if (vid_dirty_log_start(p) == 0) {
                bench_result("dirty_mark_page_tracking_on_ns", ns_per_call(mark_gpa, p, runs), copy, "ns", "-",
                             "lower");
                bench_result("dirty_mark_host_page_tracking_on_ns", ns_per_call(mark_host_ptr, p, runs), copy, "ns",
                             "-", "lower");
                (void)vid_dirty_log_stop(p);
        }
        vid_partition_destroy(p);
}

static void keep_best(struct result *best, const struct result *r) {
        if (r->pps > best->pps)
                *best = *r;
}

int main(int argc, char **argv) {
        double seconds = argc > 1 ? atof(argv[1]) : 1.0;
        int runs = argc > 2 ? atoi(argv[2]) : 3;
        if (seconds <= 0)
                seconds = 1.0;
        if (runs <= 0)
                runs = 1;
        static const struct {
                const char *name;
                size_t payload;
                unsigned poll_us;
        } cases[] = {
                { "64B_poll", 64, VMBUS_ECHO_POLL_US },
                { "4KiB_poll", 4096, VMBUS_ECHO_POLL_US },
                { "64B_doorbell", 64, 0 },
                { "4KiB_doorbell", 4096, 0 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct result r = { 0 }, base = { 0 };
                for (int k = 0; k < runs; k++) {
                        struct result one = run_echo(cases[i].poll_us, cases[i].payload, seconds);
                        keep_best(&r, &one);
                        one = run_memcpy(cases[i].payload, seconds);
                        keep_best(&base, &one);
                }
                report(cases[i].name, &r, &base);
        }
        bench_mark_dirty(runs);
        return 0;
}
