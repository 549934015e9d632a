// SPDX-License-Identifier: MIT
/* The test guest's network path end to end: UDP packets/s and throughput
 * guest->host and host->guest through netvsp (vsc-guest.elf in
 * vsc.mode=net-bench on vmwp, its NIC on a TAP), beside the same datagrams
 * written to / read from that TAP by a host process in the same run (the
 * baseline). In a private network namespace; rounds alternate baseline and
 * guest, medians of ROUNDS.
 *
 *   guest->host: the guest sends datagrams to 10.77.0.1:9000 as fast as its
 *     NIC takes them; both figures count what the host's UDP socket got
 *     (the guest reports its sending time, until the last completion);
 *   host->guest: a thread blasts datagrams at 10.77.0.2:9000 (a permanent
 *     neighbour entry); the guest counts what arrived in its window, the
 *     baseline what a host process read off the TAP in the same time.
 * And the same with two flows (vRSS, issue #25): the guest with two vCPUs
 * opens a sub-channel (vsc.queues=2) and polls each channel on its own
 * vCPU; guest->host each channel sends its own flow, host->guest two
 * blaster threads send from source ports whose Toeplitz hash under the
 * guest's key and table lands one flow on each channel (the TAP's steering
 * program reads the guest's table). The baseline: a thread per queue of
 * the same 2-queue TAP. Each row's 2 flows / 1 flow ratio is printed
 * beside the host's. The VM has 2 vCPUs and a 2-queue NIC in every row.
 * TSO-sized sends both ways: guest->host the guest's LSOv2 frames beside a
 * host process writing the same GSO frames to the TAP; host->guest GSO
 * TCP frames sent out of the TAP (a packet socket with a virtio_net_hdr,
 * as the host's stack hands them to a NIC with TSO) to the guest with RSC
 * on (netvsp hands each over whole), with it off (the kernel segments
 * them for the TAP), and to a host process reading the TAP with TSO on.
 * Arguments: "1" or "2" only the rows of that many flows (and "1" the
 * TSO-sized rows), "lso" only the TSO-sized rows, --smoke the CI check.
 *
 * Also the host peer of the net-check and soak integration tests:
 *   bench-net-guest --echo ADDR:PORT [--seconds N] [--dup-every N]
 * a UDP echo server; --dup-every N echoes every Nth datagram twice (a
 * network that duplicates, which the soak mode must catch).
 * Needs root (unshare, TAP) and /dev/kvm; prints why and exits 1 otherwise. */
#include "net-guest.h"

#define ROUNDS 3
unsigned bench_ms = 1000;
const uint8_t gmac[6] = NT_GUEST_MAC;

/* ---- the test guest on vmwp ---- */

struct vm {
        pid_t pid;
        int fd;           /* vmwp's stdout + stderr (the guest's serial) */
        char buf[8192];
        size_t len;
};

/* Two vCPUs and a NIC of two queues in every row: a one-flow row uses the
 * primary channel only (the host splits the receive buffer either way).
 * The receive buffer is the guest library's default, 16 MiB, the size
 * Linux's netvsc registers: with 4 MiB, half of it per channel held 30
 * coalesced 62 KB frames, and netvsp waited for the guest's completions
 * (the host->guest TSO-sized row went from 4.3 to 14.2 Gbit/s on the
 * 2-core machine with the larger buffer). */
static int vm_start(struct env *e, struct vm *vm, const char *args) {
        FILE *f = fopen(e->cfg, "w");
        if (!f)
                return -errno;
        fprintf(f,
                "{\"name\":\"bench-net-guest\",\"memory_mib\":128,\"vcpus\":%d,\"boot\":{\"kind\":\"pvh\","
                "\"kernel\":\"%s\",\"cmdline\":\"vsc.mode=net-bench vsc.ip=" NT_GUEST_IP " vsc.peer=" NT_HOST_IP
                " vsc.port=%d vsc.bench_ms=%u vsc.timeout_ms=20000 %s\"},"
                "\"nics\":[{\"mac\":\"02:00:5e:10:00:02\",\"tap\":\"" TAP_NAME "\",\"queues\":%d}]}\n",
                MAX_FLOWS, e->elf, PORT, bench_ms, args, MAX_FLOWS);
        fclose(f);
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        vm->pid = fork();
        if (vm->pid == 0) {
                int nul = open("/dev/null", O_RDONLY);
                dup2(nul, 0);
                dup2(p[1], 1);
                dup2(p[1], 2);
                execl(e->vmwp, e->vmwp, "--config", e->cfg, "--serial", "stdio", (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        vm->fd = p[0];
        vm->len = 0;
        return vm->pid < 0 ? -errno : 0;
}

/* The next output line starting with prefix (others are skipped), within
 * ms; false on timeout or end of output. */
static bool vm_expect(struct vm *vm, const char *prefix, char *line, size_t cap, int ms) {
        uint64_t end = bench_now_ns() + (uint64_t)ms * 1000000ull;
        for (;;) {
                char *nl = memchr(vm->buf, '\n', vm->len);
                if (nl) {
                        size_t n = (size_t)(nl - vm->buf);
                        bool match = strncmp(vm->buf, prefix, strlen(prefix)) == 0;
                        if (match)
                                snprintf(line, cap, "%.*s", (int)n, vm->buf);
                        if (getenv("VM_GUEST_CONSOLE"))
                                fprintf(stderr, "%.*s\n", (int)n, vm->buf);
                        memmove(vm->buf, nl + 1, vm->len - n - 1);
                        vm->len -= n + 1;
                        if (match)
                                return true;
                        continue;
                }
                int left = (int)((end - MIN(end, bench_now_ns())) / 1000000);
                if (left <= 0 || vm->len == sizeof vm->buf ||
                    poll(&(struct pollfd){ .fd = vm->fd, .events = POLLIN }, 1, left) <= 0)
                        return false;
                ssize_t k = read(vm->fd, vm->buf + vm->len, sizeof vm->buf - vm->len);
                if (k <= 0)
                        return false;
                vm->len += (size_t)k;
        }
}

static bool vm_finish(struct vm *vm) {
        char line[256];
        bool ok = vm_expect(vm, "VSC result=ok", line, sizeof line, 30000);
        int st = 0;
        if (!ok)
                kill(vm->pid, SIGKILL);
        waitpid(vm->pid, &st, 0);
        close(vm->fd);
        return ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static uint64_t field(const char *line, const char *key) {
        const char *p = strstr(line, key);
        return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

struct guest_result {
        double pps;
        double doorbells_per_k;
};

/* With two flows, each must have moved frames on its own channel: the
 * guest's net_bench_flow=k lines come before its net_bench= line. */
static bool flows_moved(struct vm *vm, unsigned flows, const char *dir) {
        for (unsigned k = 0; k < flows && flows > 1; k++) {
                char line[256], want[32];
                snprintf(want, sizeof want, "VSC net_bench_flow=%u ", k);
                if (!vm_expect(vm, want, line, sizeof line, 60000)) {
                        fprintf(stderr, "bench-net-guest: %s: the guest reported no flow %u (VM_GUEST_CONSOLE=1 "
                                        "shows its error)\n", dir, k);
                        return false;
                }
                if (field(line, " frames=") == 0) {
                        fprintf(stderr, "bench-net-guest: %s flow %u moved no frame on channel %u\n", dir, k, k);
                        return false;
                }
        }
        return true;
}

/* guest->host: datagrams the host socket got during the guest's run. */
static int guest_tx(struct env *e, size_t frame, unsigned flows, struct guest_result *out) {
        struct vm vm;
        char args[96], line[512];
        snprintf(args, sizeof args, "vsc.bench=tx vsc.frame=%zu vsc.queues=%u", frame, flows);
        if (vm_start(e, &vm, args) < 0)
                return -1;
        bool ok = vm_expect(&vm, "VSC net_bench_ready=tx", line, sizeof line, 60000);
        uint64_t s0 = atomic_load(&e->sunk);
        ok = ok && flows_moved(&vm, flows, "guest->host");
        ok = ok && vm_expect(&vm, "VSC net_bench=tx", line, sizeof line, 60000);
        usleep(50000);
        uint64_t got = atomic_load(&e->sunk) - s0, ns = field(line, " ns="), sent = field(line, " frames=");
        ok = vm_finish(&vm) && ok && ns;
        if (!ok)
                return -1;
        out->pps = (double)got * 1e9 / (double)ns;
        out->doorbells_per_k = sent ? (double)field(line, " doorbells=") * 1000.0 / (double)sent : 0;
        return 0;
}

/* host->guest: what the guest counted while the blasters ran. */
static int guest_rx(struct env *e, size_t frame, unsigned flows, struct guest_result *out) {
        struct vm vm;
        struct blaster bl[MAX_FLOWS];
        char args[96], line[512];
        snprintf(args, sizeof args, "vsc.bench=rx vsc.frame=%zu vsc.queues=%u", frame, flows);
        if (vm_start(e, &vm, args) < 0)
                return -1;
        bool ok = vm_expect(&vm, "VSC net_bench_ready=rx", line, sizeof line, 60000);
        blast_start(e, frame, flows, bl);
        ok = ok && flows_moved(&vm, flows, "host->guest");
        ok = ok && vm_expect(&vm, "VSC net_bench=rx", line, sizeof line, 60000);
        blast_stop(e, flows, bl);
        /* the flows' rates added (each counts its own window) */
        uint64_t got = field(line, " frames="), ns = field(line, " ns=");
        double kpps = strtod(strstr(line, " kpps=") ? strstr(line, " kpps=") + 6 : "0", NULL);
        ok = vm_finish(&vm) && ok && ns;
        if (!ok)
                return -1;
        out->pps = kpps * 1e3;
        out->doorbells_per_k = got ? (double)field(line, " doorbells=") * 1000.0 / (double)got : 0;
        return 0;
}

/* TSO-sized: what the TAP took in while the guest sent its LSO frames. */
/* rx_frames (NULL: not wanted): what the guest received meanwhile, from
 * its net_stats line. */
static int guest_lso(struct env *e, double *gbps, uint64_t *rx_frames) {
        struct vm vm;
        char line[512], stats[512] = "";
        if (vm_start(e, &vm, "vsc.bench=tx vsc.lso=1 vsc.lso_dst=" LSO_DST_IP) < 0)
                return -1;
        bool ok = vm_expect(&vm, "VSC net_bench_ready=tx", line, sizeof line, 60000);
        uint64_t b0 = tap_rx_bytes();
        ok = ok && vm_expect(&vm, "VSC net_bench=tx", line, sizeof line, 60000);
        uint64_t bytes = tap_rx_bytes() - b0, ns = field(line, " ns="), frame = field(line, " frame=");
        ok = ok && vm_expect(&vm, "VSC net_stats", stats, sizeof stats, 30000);
        if (rx_frames)
                *rx_frames = field(stats, " rx_frames=");
        ok = vm_finish(&vm) && ok && ns;
        if (!ok)
                return -1;
        if (frame != LSO_FRAME)
                fprintf(stderr, "bench-net-guest: the guest's LSO frames are %llu bytes, not %u\n",
                        (unsigned long long)frame, LSO_FRAME);
        *gbps = (double)bytes * 8 / (double)ns;
        return 0;
}

/* The guest counting the TCP bytes that reach it (vsc.tcp=1), with RSC on
 * or off; *coalesced: the frames it reassembled. */
static int guest_rsc(struct env *e, bool rsc, double *gbps, uint64_t *coalesced) {
        struct vm vm;
        struct injector in;
        char args[96], line[512];
        snprintf(args, sizeof args, "vsc.bench=rx vsc.tcp=1 vsc.rsc=%d", rsc);
        if (vm_start(e, &vm, args) < 0)
                return -1;
        bool ok = vm_expect(&vm, "VSC net_bench_ready=rx", line, sizeof line, 60000);
        inject_start(e, &in);
        ok = ok && vm_expect(&vm, "VSC net_bench=rx", line, sizeof line, 60000);
        inject_stop(&in);
        uint64_t bytes = field(line, " bytes="), ns = field(line, " ns=");
        if (coalesced)
                *coalesced = field(line, " coalesced=");
        ok = vm_finish(&vm) && ok && ns;
        if (!ok)
                return -1;
        if (rsc && field(line, " rsc=") != 1)
                fprintf(stderr, "bench-net-guest: the guest asked for RSC and did not get it: %s\n", line);
        *gbps = (double)bytes * 8 / (double)ns;
        return 0;
}

/* ---- set-up and the table ---- */

static int make_tap(struct env *e) {
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE };
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, TAP_NAME);
        if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
                return -errno;
        close(fd);
        struct tap *t = open_tap(); /* MTU and up */
        if (!t)
                return -EIO;
        int idx = tap_ifindex(t);
        tap_close(t);
        if (nt_add_addr(idx, TAP_NAME, NT_HOST_IP "/24") < 0 || nt_add_neigh(idx, NT_GUEST_IP, gmac) < 0)
                return -EIO;
        struct ifreq hw = { .ifr_name = TAP_NAME };
        e->sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (ioctl(e->sink, SIOCGIFHWADDR, &hw) < 0)
                return -errno;
        memcpy(e->host_mac, hw.ifr_hwaddr.sa_data, 6);
        int big = 64 << 20;
        setsockopt(e->sink, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
        inet_pton(AF_INET, NT_HOST_IP, &a.sin_addr);
        return bind(e->sink, (struct sockaddr *)&a, sizeof a) < 0 ? -errno : 0;
}

static int find_build(struct env *e) {
        char exe[512] = "";
        const char *dir = getenv("VM_BUILD_DIR");
        if (!dir) {
                ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
                if (n <= 0)
                        return -errno;
                exe[n] = 0;
                dir = dirname(dirname(exe));
        }
        snprintf(e->vmwp, sizeof e->vmwp, "%s/vmwp/vmwp", dir);
        snprintf(e->elf, sizeof e->elf, "%s/guest-vsc/guest/vsc-guest.elf", dir);
        snprintf(e->cfg, sizeof e->cfg, "/tmp/bench-net-guest.%d.json", (int)getpid());
        return access(e->vmwp, X_OK) == 0 && access(e->elf, R_OK) == 0 ? 0 : -ENOENT;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* Median of ROUNDS alternating baseline and guest runs. */
static bool measure(struct env *e, bool tx, size_t frame, unsigned flows, double *base, struct guest_result *ours) {
        double vb[ROUNDS], vo[ROUNDS], vd[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
                struct guest_result g;
                vb[i] = base_run(e, tx, frame, flows);
                if ((tx ? guest_tx(e, frame, flows, &g) : guest_rx(e, frame, flows, &g)) < 0)
                        return false;
                vo[i] = g.pps;
                vd[i] = g.doorbells_per_k;
        }
        qsort(vb, ROUNDS, sizeof vb[0], cmp_double);
        qsort(vo, ROUNDS, sizeof vo[0], cmp_double);
        qsort(vd, ROUNDS, sizeof vd[0], cmp_double);
        *base = vb[ROUNDS / 2];
        ours->pps = vo[ROUNDS / 2];
        ours->doorbells_per_k = vd[ROUNDS / 2];
        return true;
}

static void report(const char *dir, size_t frame, unsigned flows, const struct guest_result *g, double base) {
        char m[128], f[24] = "";
        if (flows > 1)
                snprintf(f, sizeof f, " %u flows", flows);
        snprintf(m, sizeof m, "net-guest: %s%s %zu-byte UDP frames", dir, f, frame + 4);
        bench_result(m, g->pps / 1e3, base / 1e3, "kpps", flows > 1 ? "-" : ">= 0.90x host", "higher");
        snprintf(m, sizeof m, "net-guest: %s%s %zu-byte throughput", dir, f, frame + 4);
        bench_result(m, g->pps * (double)(frame + 4) * 8 / 1e9, base * (double)(frame + 4) * 8 / 1e9, "Gbit/s", "-",
                     "higher");
        snprintf(m, sizeof m, "net-guest: %s%s %zu-byte guest doorbells per 1000 frames", dir, f, frame + 4);
        bench_result(m, g->doorbells_per_k, -1, "count", "-", "lower");
}

static bool measure_lso(struct env *e, double *base, double *ours) {
        double vb[ROUNDS], vo[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
                vb[i] = base_lso(e);
                if (guest_lso(e, &vo[i], NULL) < 0)
                        return false;
        }
        qsort(vb, ROUNDS, sizeof vb[0], cmp_double);
        qsort(vo, ROUNDS, sizeof vo[0], cmp_double);
        *base = vb[ROUNDS / 2];
        *ours = vo[ROUNDS / 2];
        return true;
}

/* host->guest TSO-sized: the baseline, the guest with RSC and without. */
static bool measure_rsc(struct env *e, double *base, double *on, double *off) {
        double vb[ROUNDS], vn[ROUNDS], vf[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
                vb[i] = base_rsc(e);
                if (guest_rsc(e, true, &vn[i], NULL) < 0 || guest_rsc(e, false, &vf[i], NULL) < 0)
                        return false;
        }
        qsort(vb, ROUNDS, sizeof vb[0], cmp_double);
        qsort(vn, ROUNDS, sizeof vn[0], cmp_double);
        qsort(vf, ROUNDS, sizeof vf[0], cmp_double);
        *base = vb[ROUNDS / 2];
        *on = vn[ROUNDS / 2];
        *off = vf[ROUNDS / 2];
        return true;
}

/* --smoke (a test, integration/bench-net-guest-vrss): two flows each way
 * for 300 ms, each on its own channel and vCPU, each moving frames; the
 * host's socket got some of the guest's. Then the TSO-sized row's guest
 * for 300 ms: its frames reach the TAP, and the host answers none of them
 * (a reply per frame would load netvsp with receives the baseline never
 * does). Then host->guest TSO-sized frames for 300 ms to the guest with
 * RSC on: it receives them, coalesced. No baseline, no figures. */
static int smoke(struct env *e) {
        struct guest_result g;
        bench_ms = 300;
        uint64_t s0 = atomic_load(&e->sunk);
        if (guest_tx(e, 60, MAX_FLOWS, &g) < 0 || atomic_load(&e->sunk) == s0)
                return fprintf(stderr, "bench-net-guest: two flows guest->host failed\n"), 1;
        if (guest_rx(e, 60, MAX_FLOWS, &g) < 0)
                return fprintf(stderr, "bench-net-guest: two flows host->guest failed\n"), 1;
        printf("bench-net-guest: two flows on two channels both ways: ok\n");
        double gbps = 0;
        uint64_t rx = UINT64_MAX;
        if (guest_lso(e, &gbps, &rx) < 0 || gbps <= 0)
                return fprintf(stderr, "bench-net-guest: the TSO-sized sends failed\n"), 1;
        if (rx > 16)
                return fprintf(stderr, "bench-net-guest: the guest received %llu frames while it sent TSO-sized ones: "
                                       "the host answers them\n", (unsigned long long)rx), 1;
        printf("bench-net-guest: TSO-sized sends %.1f Gbit/s, %llu frames back: ok\n", gbps, (unsigned long long)rx);
        uint64_t coalesced = 0;
        if (guest_rsc(e, true, &gbps, &coalesced) < 0 || gbps <= 0 || coalesced == 0)
                return fprintf(stderr, "bench-net-guest: host->guest TSO-sized frames with RSC: %.2f Gbit/s, %llu "
                                       "coalesced\n", gbps, (unsigned long long)coalesced), 1;
        printf("bench-net-guest: host->guest TSO-sized frames with RSC %.1f Gbit/s, %llu coalesced: ok\n", gbps,
               (unsigned long long)coalesced);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 3 && strcmp(argv[1], "--echo") == 0) {
                unsigned seconds = 600, dup_every = 0;
                for (int i = 3; i + 1 < argc; i += 2) {
                        if (strcmp(argv[i], "--seconds") == 0)
                                seconds = (unsigned)atoi(argv[i + 1]);
                        else if (strcmp(argv[i], "--dup-every") == 0)
                                dup_every = (unsigned)atoi(argv[i + 1]);
                        else
                                return fprintf(stderr, "bench-net-guest: unknown option %s\n", argv[i]), 2;
                }
                return echo_server(argv[2], seconds, dup_every);
        }
        struct env e = { .sink = -1 };
        static const size_t sizes[] = { 60, 1514 }; /* 64 and 1518 bytes on the wire */
        if (find_build(&e) < 0)
                return fprintf(stderr, "bench-net-guest: vmwp or vsc-guest.elf not built\n"), 1;
        int r = nt_netns_enter();
        if (r == 0)
                r = make_tap(&e);
        if (r < 0)
                return fprintf(stderr, "bench-net-guest: no TAP in a network namespace (%s): needs root\n",
                               strerror(-r)), 1;
        pick_flow_ports(&e);
        pthread_t sink;
        pthread_create(&sink, NULL, sink_thread, &e);
        int fails = 0;
        if (argc >= 2 && strcmp(argv[1], "--smoke") == 0) {
                /* The test suite's "skip": no KVM here (a host without
                 * /dev/kvm runs the KVM tiers on the emulated AMD-V host,
                 * docs/amdv-host.md). */
                if (access("/dev/kvm", R_OK | W_OK) != 0) {
                        printf("SKIP: no /dev/kvm: %s\n", strerror(errno));
                        atomic_store(&e.stop_sink, true);
                        pthread_join(sink, NULL);
                        return 77;
                }
                int st = smoke(&e);
                atomic_store(&e.stop_sink, true);
                pthread_join(sink, NULL);
                unlink(e.cfg);
                return st;
        }
        /* argv[1] "1" or "2": only that many flows (default both); "lso":
         * only the TSO-sized rows; "rsc": only the host->guest TSO-sized rows */
        bool rsc_only = argc >= 2 && strcmp(argv[1], "rsc") == 0;
        bool lso_only = rsc_only || (argc >= 2 && strcmp(argv[1], "lso") == 0);
        unsigned only = argc >= 2 && !lso_only ? (unsigned)atoi(argv[1]) : 0;
        for (int dir = 0; dir < 2 && !lso_only; dir++)
                for (size_t i = 0; i < 2; i++) {
                        double base[MAX_FLOWS + 1] = { 0 };
                        struct guest_result g[MAX_FLOWS + 1];
                        const char *name = dir == 0 ? "guest->host" : "host->guest";
                        for (unsigned flows = 1; flows <= MAX_FLOWS; flows++) {
                                if (only && flows != only)
                                        continue;
                                if (!measure(&e, dir == 0, sizes[i], flows, &base[flows], &g[flows])) {
                                        fprintf(stderr, "bench-net-guest: the guest run failed (VM_GUEST_CONSOLE=1 "
                                                        "shows it)\n");
                                        fails++;
                                        g[flows].pps = 0;
                                        continue;
                                }
                                report(name, sizes[i], flows, &g[flows], base[flows]);
                        }
                        if (!only && g[1].pps > 0 && g[2].pps > 0 && base[1] > 0) {
                                char m[128];
                                snprintf(m, sizeof m, "net-guest: %s %zu-byte 2 flows / 1 flow", name, sizes[i] + 4);
                                bench_result(m, g[2].pps / g[1].pps, base[2] / base[1], "ratio", ">= 1.7", "higher");
                        }
                }
        if (!only || only == 1) {
                double base, ours;
                if (!rsc_only) {
                        if (measure_lso(&e, &base, &ours))
                                bench_result("net-guest: guest->host TSO-sized sends (62794-byte LSOv2 frames, MSS 1448)",
                                             ours, base, "Gbit/s", ">= 0.90x host", "higher");
                        else
                                fails++, fprintf(stderr, "bench-net-guest: the LSO run failed (VM_GUEST_CONSOLE=1 shows it)\n");
                }
                double on, off;
                if (measure_rsc(&e, &base, &on, &off)) {
                        bench_result("net-guest: host->guest TSO-sized frames, RSC on (62794-byte GSO TCP frames)", on,
                                     base, "Gbit/s", ">= 0.90x host", "higher");
                        bench_result("net-guest: host->guest TSO-sized frames, RSC off (segmented for the TAP)", off,
                                     base, "Gbit/s", "-", "higher");
                        bench_result("net-guest: host->guest TSO-sized frames, RSC on / off", off > 0 ? on / off : 0,
                                     -1, "ratio", "> 1 (RSC helps)", "higher");
                } else {
                        fails++, fprintf(stderr, "bench-net-guest: the RSC run failed (VM_GUEST_CONSOLE=1 shows it)\n");
                }
        }
        atomic_store(&e.stop_sink, true);
        pthread_join(sink, NULL);
        unlink(e.cfg);
        return fails ? 1 : 0;
}
