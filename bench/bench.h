/* SPDX-License-Identifier: MIT */
/* Benchmark result rows. Every benchmark measures a baseline in the same run
 * (memcpy, a host-side fio, a plain exit, a TAP written by a host process)
 * and prints both, so the ratio means something on whatever machine it runs. */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

/* Prints "RESULT\t<metric>\t<ours>\t<baseline>\t<unit>\t<target>\t<better>",
 * better is "higher" or "lower". baseline < 0: none. The first call prints
 * "host: <kind>" before it (bench/host.h): which host the figures are of. */
void bench_result(const char *metric, double ours, double baseline, const char *unit, const char *target,
                  const char *better);
/* VmRSS of pid in KiB (/proc/<pid>/status), -1 when it cannot be read. */
long bench_vmrss_kib(int pid);
/* The environment variable name as a decimal number, def when unset or empty. */
uint64_t bench_env_u64(const char *name, uint64_t def);
/* The next of a xorshift64 sequence (*s nonzero): cheap random offsets. */
uint64_t bench_xorshift(uint64_t *s);
/* Creates path (mode 0600, truncated) and fills size bytes of it with a
 * pattern, fsync'ed: reads of holes would not touch the disk. 0 or -errno. */
int bench_make_image(const char *path, uint64_t size);
/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);
/* The median of v[0..n) (n > 0; v is sorted in place). */
double bench_median(double *v, unsigned n);
/* vmwp --timing's phase name (vmwp_phase_name(): "start", "guest", ...) in
 * its "timing-phases-ns:" line somewhere in log: CLOCK_MONOTONIC ns, 0 when
 * the line or the phase is missing or the phase was not reached. */
uint64_t bench_phase_ns(const char *log, const char *phase);
/* A sink thread's loop: receives datagrams on fd (MSG_DONTWAIT),
 * 64 per recvmmsg(), adding their number to *count, until *stop. */
void bench_udp_sink(int fd, const atomic_bool *stop, atomic_ullong *count);
