// SPDX-License-Identifier: MIT
/* Storage QoS arithmetic (disk/qos.h) on a fake clock: the rate a
 * saturating client gets over a window (within 1 %), 8 KiB normalisation,
 * the byte rate, both limits together, the burst after idling, a live
 * change of the rate, zero as unlimited, two channels sharing a disk's
 * rate evenly, the minimum's meter, and the limits' checks with the field
 * they name. */
#include <string.h>

#include "common/test.h"
#include "disk/qos.h"

#define SEC 1000000000ull
#define MS 1000000ull

/* A client that keeps depth requests of bytes outstanding on a device that
 * completes each at once when it starts: each request arrives when the one
 * before it in its slot started. */
struct client {
        uint64_t slot[64]; /* the start of the slot's last request: its next one's arrival */
        bool reserved[64]; /* slot[] is a request's start (not client_init's time) */
        unsigned depth;
};

static void client_init(struct client *c, unsigned depth, uint64_t now) {
        ASSERT_LE(depth, 64u);
        c->depth = depth;
        for (unsigned i = 0; i < depth; i++)
                c->slot[i] = now, c->reserved[i] = false;
}

/* Runs the client until every slot's next request arrives at or after to;
 * returns the requests started in [from, to) (also those reserved by the
 * previous call). */
static uint64_t run_client(struct disk_qos_bucket *b, struct client *c, uint64_t bytes, uint64_t from, uint64_t to) {
        uint64_t n = 0;
        for (unsigned i = 0; i < c->depth; i++)
                if (c->reserved[i] && c->slot[i] >= from && c->slot[i] < to)
                        n++;
        for (;;) {
                unsigned k = 0; /* the slot that frees first */
                for (unsigned i = 1; i < c->depth; i++)
                        if (c->slot[i] < c->slot[k])
                                k = i;
                if (c->slot[k] >= to)
                        return n;
                uint64_t start = disk_qos_bucket_reserve(b, c->slot[k], bytes);
                ASSERT_GE(start, c->slot[k]);
                if (start >= from && start < to)
                        n++;
                c->slot[k] = start;
                c->reserved[k] = true;
        }
}

static void set(struct disk_qos_bucket *b, uint64_t iops, uint64_t bps, uint64_t now) {
        struct disk_qos_limits l = { .max_iops = iops, .max_bytes_per_s = bps };
        disk_qos_bucket_set(b, &l, now);
}

TEST(units_normalised_to_8k) {
        ASSERT_EQ(disk_qos_units(0), 1u); /* a flush counts one I/O */
        ASSERT_EQ(disk_qos_units(512), 1u);
        ASSERT_EQ(disk_qos_units(4096), 1u);
        ASSERT_EQ(disk_qos_units(8192), 1u);
        ASSERT_EQ(disk_qos_units(8193), 2u);
        ASSERT_EQ(disk_qos_units(16384), 2u);
        ASSERT_EQ(disk_qos_units(16385), 3u);
        ASSERT_EQ(disk_qos_units(1u << 20), 128u);
}

TEST(iops_rate_within_1_percent) {
        struct disk_qos_bucket b = { 0 };
        struct client c;
        uint64_t t0 = 5 * SEC;
        set(&b, 500, 0, t0);
        client_init(&c, 32, t0);
        (void)run_client(&b, &c, 4096, 0, t0 + SEC); /* spends the burst */
        uint64_t n = run_client(&b, &c, 4096, t0 + SEC, t0 + 11 * SEC);
        printf("  4 KiB QD32 under 500 IOPS: %llu in 10 s\n", (unsigned long long)n);
        ASSERT_GE(n, 4950u);
        ASSERT_LE(n, 5050u);
}

TEST(large_requests_count_per_8k) {
        struct disk_qos_bucket b = { 0 };
        struct client c;
        set(&b, 1000, 0, SEC);
        client_init(&c, 8, SEC);
        (void)run_client(&b, &c, 65536, 0, 2 * SEC);
        uint64_t n = run_client(&b, &c, 65536, 2 * SEC, 12 * SEC);
        /* 64 KiB = 8 normalised I/Os: 125 requests a second */
        ASSERT_GE(n, 1238u);
        ASSERT_LE(n, 1262u);
}

TEST(byte_rate_and_both_limits) {
        struct disk_qos_bucket b = { 0 };
        struct client c;
        set(&b, 0, 1u << 20, SEC); /* 1 MiB/s */
        client_init(&c, 16, SEC);
        (void)run_client(&b, &c, 65536, 0, 2 * SEC);
        uint64_t n = run_client(&b, &c, 65536, 2 * SEC, 12 * SEC);
        ASSERT_GE(n, 158u); /* 16 a second */
        ASSERT_LE(n, 162u);
        /* both set: the tighter one binds (1000 IOPS of 4 KiB would be
         * 4 MB/s; 1 MiB/s allows 256 a second) */
        set(&b, 1000, 1u << 20, 12 * SEC);
        client_init(&c, 16, 12 * SEC);
        (void)run_client(&b, &c, 4096, 0, 13 * SEC);
        n = run_client(&b, &c, 4096, 13 * SEC, 23 * SEC);
        ASSERT_GE(n, 2534u);
        ASSERT_LE(n, 2586u);
}

TEST(zero_is_unlimited) {
        struct disk_qos_bucket b = { 0 };
        set(&b, 0, 0, 100);
        for (uint64_t t = 100; t < 100000; t += 7)
                ASSERT_EQ(disk_qos_bucket_reserve(&b, t, 1u << 20), t);
        /* a byte limit alone does not count requests without data */
        set(&b, 0, 1, 100);
        for (uint64_t t = 100; t < 1000; t++)
                ASSERT_EQ(disk_qos_bucket_reserve(&b, t, 0), t);
}

TEST(burst_after_idle_is_a_tenth_of_a_second) {
        struct disk_qos_bucket b = { 0 };
        set(&b, 1000, 0, SEC);
        uint64_t now = 100 * SEC; /* idle for long: no more than the burst saved */
        unsigned at_once = 0;
        while (disk_qos_bucket_reserve(&b, now, 4096) <= now)
                at_once++;
        /* 100 ms of 1000 IOPS, and the one request due now */
        ASSERT_EQ(at_once, 101u);
}

TEST(live_change_of_the_rate) {
        struct disk_qos_bucket b = { 0 };
        struct client c;
        set(&b, 200, 0, SEC);
        client_init(&c, 32, SEC);
        (void)run_client(&b, &c, 4096, 0, 2 * SEC);
        uint64_t n = run_client(&b, &c, 4096, 2 * SEC, 7 * SEC);
        ASSERT_GE(n, 990u);
        ASSERT_LE(n, 1010u);
        unsigned gen = b.gen;
        set(&b, 2000, 0, 7 * SEC);
        ASSERT_NE(b.gen, gen); /* held requests know to reserve again */
        client_init(&c, 32, 7 * SEC); /* they do: as new requests */
        (void)run_client(&b, &c, 4096, 0, 8 * SEC);
        n = run_client(&b, &c, 4096, 8 * SEC, 13 * SEC);
        ASSERT_GE(n, 9900u);
        ASSERT_LE(n, 10100u);
}

/* Two channels of one disk, one with 4 times the other's depth: the
 * reservations are first come, first served, so each gets what it asks
 * while the disk's total stays at the cap (neither starves). */
TEST(channels_share_the_disk_rate) {
        struct disk_qos_bucket b = { 0 };
        uint64_t clock = SEC;
        set(&b, 1000, 0, clock);
        uint64_t a[32], c[8], na = 0, nc = 0, from = clock + SEC, to = clock + 11 * SEC;
        for (unsigned i = 0; i < 32; i++)
                a[i] = clock;
        for (unsigned i = 0; i < 8; i++)
                c[i] = clock;
        for (;;) { /* whichever slot of either channel frees first asks next */
                uint64_t *slot = &a[0];
                for (unsigned i = 0; i < 32; i++)
                        if (a[i] < *slot)
                                slot = &a[i];
                for (unsigned i = 0; i < 8; i++)
                        if (c[i] < *slot)
                                slot = &c[i];
                if (*slot >= to)
                        break;
                uint64_t s = disk_qos_bucket_reserve(&b, *slot, 4096);
                if (s >= from && s < to)
                        *(slot >= a && slot < a + 32 ? &na : &nc) += 1;
                *slot = s;
        }
        printf("  channel of depth 32: %llu, of depth 8: %llu in 10 s\n", (unsigned long long)na,
               (unsigned long long)nc);
        ASSERT_GE(na + nc, 9900u);
        ASSERT_LE(na + nc, 10100u);
        ASSERT_GE(nc, 1900u); /* its 8 slots' share of 40: 2000 */
        ASSERT_LE(nc, 2100u);
}

TEST(meter_reports_an_unmet_minimum_only_under_demand) {
        struct disk_qos_meter m = { .window_start = 0 };
        struct disk_qos_sample s;
        /* busy the whole second, 300 normalised I/Os delivered */
        disk_qos_meter_start(&m, 0);
        for (unsigned i = 1; i <= 300; i++)
                disk_qos_meter_done(&m, i * (SEC / 300), 1), disk_qos_meter_start(&m, i * (SEC / 300));
        disk_qos_meter_sample(&m, SEC, 500, &s);
        ASSERT_EQ(s.window_ns, SEC);
        ASSERT_EQ(s.iops, 300u);
        ASSERT_EQ(s.busy_permille, 1000u);
        ASSERT_TRUE(s.demand);
        ASSERT_TRUE(s.min_not_met);
        /* the next second: 600 delivered, the minimum met */
        for (unsigned i = 1; i <= 600; i++)
                disk_qos_meter_done(&m, SEC + i * (SEC / 600), 1), disk_qos_meter_start(&m, SEC + i * (SEC / 600));
        disk_qos_meter_sample(&m, 2 * SEC, 500, &s);
        ASSERT_EQ(s.iops, 600u);
        ASSERT_FALSE(s.min_not_met);
        /* then idle but for 10 requests: below the minimum, no demand */
        disk_qos_meter_done(&m, 2 * SEC + MS, 1);
        for (unsigned i = 0; i < 9; i++) {
                disk_qos_meter_start(&m, 2 * SEC + (i + 2) * MS);
                disk_qos_meter_done(&m, 2 * SEC + (i + 2) * MS + 100000, 1);
        }
        disk_qos_meter_sample(&m, 3 * SEC, 500, &s);
        ASSERT_EQ(s.iops, 10u);
        ASSERT_LT(s.busy_permille, 10u);
        ASSERT_FALSE(s.demand);
        ASSERT_FALSE(s.min_not_met);
        /* no minimum set: never reported */
        disk_qos_meter_start(&m, 3 * SEC);
        disk_qos_meter_sample(&m, 4 * SEC, 0, &s);
        ASSERT_TRUE(s.demand);
        ASSERT_FALSE(s.min_not_met);
}

static void check_refused(uint64_t max, uint64_t min, uint64_t bps, const char *field) {
        struct disk_qos_limits l = { .max_iops = max, .min_iops = min, .max_bytes_per_s = bps };
        char err[128] = "";
        ASSERT_EQ(disk_qos_limits_check(&l, err, sizeof err), -EINVAL);
        ASSERT_EQ(strncmp(err, field, strlen(field)), 0);
}

TEST(limits_checked_with_named_errors) {
        struct disk_qos_limits ok = { .max_iops = 500, .min_iops = 500, .max_bytes_per_s = 1u << 20 };
        ASSERT_OK(disk_qos_limits_check(&ok, NULL, 0));
        struct disk_qos_limits min_only = { .min_iops = 100 };
        ASSERT_OK(disk_qos_limits_check(&min_only, NULL, 0)); /* no maximum: any minimum */
        check_refused(500, 501, 0, "min_iops: is above max_iops");
        check_refused(DISK_QOS_MAX_IOPS + 1, 0, 0, "max_iops: must be at most");
        check_refused(0, DISK_QOS_MAX_IOPS + 1, 0, "min_iops: must be at most");
        check_refused(0, 0, DISK_QOS_MAX_BYTES_PER_S + 1, "max_bytes_per_s: must be at most");
        check_refused(UINT64_MAX, 0, 0, "max_iops: must be at most");
}

TEST_MAIN();
