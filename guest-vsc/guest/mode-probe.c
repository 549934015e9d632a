// SPDX-License-Identifier: MIT
/* vsc.mode=probe: what the primitives the VSC loops are built from cost on
 * this host, at CPL0 and at CPL3: the CPL3 -> CPL0 gate, port exits, the
 * doorbell (vsc.probe_doorbell=<connection id> with an ioeventfd behind it)
 * directly and, on Hyper-V, as HvSignalEvent through the hypercall page,
 * a self IPI (interrupt delivery + EOI). One line per measurement:
 *   VSC probe=<name> cpl=<0|3> iterations=<n> ns_per_op=<t>
 * vsc.probe=<name,name,...> selects (default: all). */
#include "hv/vmstack.h"

#include "guest.h"

#define PROBE_PORT 0x80 /* the POST diagnostic port: an exit, no device behind it */

struct probe_arg {
        unsigned n;
        uint32_t conn;
        uint64_t ticks;
        struct vsc_bus *bus; /* with the hypercall page enabled, or NULL */
};

static long p_empty(void *a) {
        return 0;
}

static long p_rdtsc(void *a) {
        struct probe_arg *p = a;
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++)
                (void)rdtsc();
        p->ticks = rdtsc() - t0;
        return 0;
}

static long p_int80(void *a) {
        struct probe_arg *p = a;
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++)
                __asm__ volatile("int %0" : : "i"(VEC_USER_CALL) : "memory");
        p->ticks = rdtsc() - t0;
        return 0;
}

/* `ud2; nop`: cpu.c treats it as a null CPL0 service and resumes after it. */
static long p_ud2(void *a) {
        struct probe_arg *p = a;
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++)
                __asm__ volatile("ud2; nop" : : : "memory");
        p->ticks = rdtsc() - t0;
        return 0;
}

static long p_int3(void *a) {
        struct probe_arg *p = a;
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++)
                __asm__ volatile("int3" : : : "memory");
        p->ticks = rdtsc() - t0;
        return 0;
}

static long p_cpuid(void *a) {
        struct probe_arg *p = a;
        uint32_t r[4];
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++)
                cpuid(0, 0, r);
        p->ticks = rdtsc() - t0;
        return 0;
}

static long p_port(void *a) {
        struct probe_arg *p = a;
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++)
                outb(PROBE_PORT, 0);
        p->ticks = rdtsc() - t0;
        return 0;
}

static long p_doorbell(void *a) {
        struct probe_arg *p = a;
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++)
                outl(VMSTACK_DOORBELL_PORT, p->conn);
        p->ticks = rdtsc() - t0;
        return 0;
}

/* HvSignalEvent, fast form, through the host's hypercall page (CPL0 only:
 * the TLFS makes it #UD above). */
static long p_hvcall_signal(void *a) {
        struct probe_arg *p = a;
        const struct vsc_ops *o = p->bus->ops;
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++)
                o->hypercall(p->bus->ctx, p->bus->hypercall_page, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
                             p->conn, 0);
        p->ticks = rdtsc() - t0;
        return 0;
}

/* Interrupt delivery and EOI: a self IPI. At CPL0 the IPI is sent with
 * interrupts off and taken in `sti; hlt` (how the guest waits); CPL3 code
 * runs with IF set for this probe (cli/sti fault at CPL3 on PVM) and spins.
 * Returns -1 if one never arrived. */
static long p_self_ipi(void *a) {
        struct probe_arg *p = a;
        struct cpu_counters c;
        bool cpl0 = current_cpl() == 0;
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++) {
                cpu_counters(&c);
                uint64_t before = c.self_ipi;
                lapic_self_ipi(VEC_SELF_IPI);
                if (cpl0)
                        __asm__ volatile("sti; hlt; cli" ::: "memory");
                for (unsigned spin = 0; c.self_ipi == before; spin++) {
                        if (spin > 10000000)
                                return -1;
                        cpu_counters(&c);
                }
        }
        p->ticks = rdtsc() - t0;
        return 0;
}

static long p_user_call(void *a) {
        struct probe_arg *p = a;
        uint64_t t0 = rdtsc();
        for (unsigned i = 0; i < p->n; i++)
                cpu_run_user(p_empty, NULL, false);
        p->ticks = rdtsc() - t0;
        return 0;
}

struct probe {
        const char *name;
        long (*fn)(void *);
        unsigned cpl, n;
};

/* Iteration counts keep each probe around a few ms on the PVM host. */
static const struct probe probes[] = {
        { "rdtsc", p_rdtsc, 0, 50 },
        { "rdtsc", p_rdtsc, 3, 50 },
        { "user_call", p_user_call, 0, 20 },
        { "int80", p_int80, 3, 50 },
        { "ud2", p_ud2, 3, 50 },
        { "int3", p_int3, 3, 50 },
        { "cpuid", p_cpuid, 0, 50 },
        { "cpuid", p_cpuid, 3, 50 },
        { "port_exit", p_port, 0, 50 },
        { "port_exit", p_port, 3, 50 },
        { "doorbell", p_doorbell, 0, 50 },
        { "doorbell", p_doorbell, 3, 50 },
        { "hvcall_signal", p_hvcall_signal, 0, 50 },
        { "self_ipi", p_self_ipi, 0, 20 },
        { "self_ipi", p_self_ipi, 3, 20 },
};

static bool selected(const char *list, const char *name) {
        size_t n = strlen(name);
        for (const char *p = list; *p;) {
                const char *e = p;
                while (*e && *e != ',')
                        e++;
                if (!strncmp(list, "all", 4) || ((size_t)(e - p) == n && !strncmp(p, name, n)))
                        return true;
                p = *e ? e + 1 : e;
        }
        return false;
}

static int run_probe(const struct probe *pr, uint32_t conn, struct vsc_bus *bus) {
        struct probe_arg a = { .n = pr->n, .conn = conn, .bus = bus };
        bool irq = pr->fn == p_self_ipi;
        long r = pr->cpl == 3 ? cpu_run_user(pr->fn, &a, irq) : pr->fn(&a);
        if (r < 0)
                return guest_fail(-ETIMEDOUT, "probe %s at CPL%u: no interrupt arrived", pr->name, pr->cpl);
        report("probe=%s cpl=%u iterations=%u ns_per_op=%lu", pr->name, pr->cpl, pr->n,
               clock_tsc_to_ns(a.ticks) / pr->n);
        return 0;
}

int mode_probe(struct guest *g) {
        char list[128] = "all", v[24];
        bool ok = false;
        uint32_t conn = 0;
        boot_cmdline_get(&g->boot, "vsc.probe", list, sizeof list);
        if (boot_cmdline_get(&g->boot, "vsc.probe_doorbell", v, sizeof v) == 0)
                conn = (uint32_t)parse_u64(v, &ok);
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
                const struct probe *pr = &probes[i];
                if (!selected(list, pr->name))
                        continue;
                if ((pr->fn == p_doorbell || pr->fn == p_hvcall_signal) && !ok)
                        continue; /* needs a connection id the host listens on */
                if (pr->fn == p_hvcall_signal && !g->bus.hv_enabled) {
                        if (!g->hyperv)
                                continue;
                        vsc_bus_init(&g->bus, &guest_vsc_ops, NULL);
                        int r = vsc_hv_enable(&g->bus);
                        if (r < 0)
                                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
                }
                int r = run_probe(pr, conn, &g->bus);
                if (r < 0)
                        return r;
        }
        if (g->bus.hv_enabled)
                vsc_hv_disable(&g->bus);
        return 0;
}
