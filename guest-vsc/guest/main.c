// SPDX-License-Identifier: MIT
/* The built-in test guest: boots from the PVH entry (entry.S), reports what
 * it finds as "VSC key=value" lines on the serial console, runs the mode the
 * command line selects (vsc.mode=...), prints "VSC result=ok|fail status=N"
 * and powers off (docs/guest-vsc.md). */
#include "hv/vmstack.h"

#include "guest.h"

#define GUEST_VERSION "0.1.0"
#define MODE_MAX 32

/* The one guest instance (CONVENTIONS.md §4: main may own one). */
static struct guest the_guest;

static const struct guest_mode modes[] = {
        { "boot", mode_boot },
        { "enumerate", mode_enumerate },
        { "probe", mode_probe },
        { "echo", mode_echo },
        { "services", mode_services },
        { "net-check", mode_net_check },
        { "net-bench", mode_net_bench },
        { "disk-check", mode_disk_check },
        { "disk-bench", mode_disk_bench },
        { "soak", mode_soak },
        { "hostile", mode_hostile },
        { "balloon", mode_balloon },
        { "virtio-balloon", mode_virtio_balloon },
        { "video", mode_video },
        { "smp", mode_smp },
};

int guest_fail(int r, const char *fmt, ...) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsc_vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        report("error=%s", msg);
        return r;
}

void guest_exit(int status) {
        if (status == 0)
                report("result=ok status=0");
        else
                report("result=fail status=%d", status < 0 ? -status : status);
        if (the_guest.reset_on_exit) /* reset register (FADT), as a reboot ends */
                outb(VMSTACK_RESET_PORT, VMSTACK_RESET_VALUE);
        acpi_power_off(&the_guest.power);
}

uint64_t guest_opt(const struct guest *g, const char *name, uint64_t def, uint64_t min, uint64_t max) {
        char v[24];
        bool ok = false;
        if (boot_cmdline_get(&g->boot, name, v, sizeof v) < 0)
                return def;
        uint64_t n = parse_u64(v, &ok);
        if (ok && n >= min && n <= max)
                return n;
        report("warning=ignoring %s=%s (allowed %lu..%lu)", name, v, min, max);
        return def;
}

int mode_boot(struct guest *g) {
        return 0; /* the common prelude already said everything */
}

static void report_memory(const struct guest *g) {
        struct mem_stats m;
        mem_stats(&m);
        report("memory_mib=%lu ram_regions=%u memmap=%s", g->boot.ram_bytes >> 20, g->boot.n_ram,
               g->boot.memmap_from_loader ? "loader" : "assumed");
        report("pool_base=0x%lx pool_mib=%lu mapped_gib=%lu", m.pool_base, m.pool_pages >> 8, m.mapped_top >> 30);
}

static void report_platform(const struct guest *g, const char *why) {
        struct guest_clock_info ci;
        clock_info(&ci);
        char vendor[13];
        for (int i = 0; i < 13; i++) /* "Microsoft Hv" has a space: keep values space-free */
                vendor[i] = g->hv.vendor[i] == ' ' ? '_' : g->hv.vendor[i];
        if (g->hyperv) {
                report("hyperv=present vendor=%s max_leaf=0x%x features=0x%x priv_high=0x%x misc=0x%x hints=0x%x",
                       vendor, g->hv.max_leaf, g->hv.features, g->hv.priv_high, g->hv.misc, g->hv.hints);
        } else {
                report("hyperv=absent vendor=%s", vendor[0] ? vendor : "none");
                report("detail=no VMBus here: %s", why);
        }
        report("clock=%s tsc_khz=%lu lapic_khz=%lu", ci.source, ci.tsc_hz / 1000, ci.lapic_hz / 1000);
        report("acpi=%s pm1a_cnt=0x%x pm_tmr=0x%x", g->power.from_tables ? "tables" : "defaults", g->power.pm1a_cnt,
               g->power.pm_tmr);
}

static const struct guest_mode *pick_mode(const struct guest *g, char name[MODE_MAX]) {
        if (boot_cmdline_get(&g->boot, "vsc.mode", name, MODE_MAX) < 0)
                __builtin_memcpy(name, "boot", 5);
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
                if (!strncmp(modes[i].name, name, MODE_MAX))
                        return &modes[i];
        return NULL;
}

static void read_options(struct guest *g) {
        char v[24];
        bool ok;
        g->timeout_ns = VSC_DEFAULT_TIMEOUT_NS;
        if (boot_cmdline_get(&g->boot, "vsc.timeout_ms", v, sizeof v) == 0) {
                uint64_t ms = parse_u64(v, &ok);
                if (ok && ms > 0 && ms < 3600000)
                        g->timeout_ns = ms * 1000000;
                else
                        report("warning=ignoring vsc.timeout_ms=%s", v);
        }
}

/* Everything before the mode runs: CPU tables, console, boot info, memory,
 * APIC, Hyper-V detection, clock. */
static int prelude(struct guest *g, uint32_t start_info, uint64_t main_tsc) {
        cpu_init();
        con_init();
        report("guest=vsc-guest version=%s", GUEST_VERSION);
        if (boot_parse(start_info, &g->boot) < 0)
                return guest_fail(-EINVAL, "no hvm_start_info with magic 0x%x at 0x%x", PVH_START_MAGIC, start_info);
        acpi_find_power(g->boot.rsdp, &g->power);
        int r = mem_init(&g->boot);
        if (r < 0)
                return guest_fail(r, "no usable RAM for the page pool");
        lapic_init();
        const char *why = "";
        g->hyperv = vsc_hv_detect(&guest_vsc_ops, NULL, &g->hv, &why) == 0;
        clock_init(&g->hv, g->hyperv, g->power.pm_tmr);
        read_options(g);
        char cmd[GUEST_CMDLINE_MAX];
        size_t n = strlen(g->boot.cmdline);
        for (size_t i = 0; i <= n; i++) /* one value: spaces become commas */
                cmd[i] = g->boot.cmdline[i] == ' ' ? ',' : g->boot.cmdline[i];
        report("cmdline=%s", cmd);
        report_memory(g);
        report_platform(g, why);
        report("booted=1 entry_to_long_mode_us=%lu", clock_tsc_to_ns(main_tsc - g->boot.boot_tsc) / 1000);
        return 0;
}

void guest_main(uint32_t start_info);
void guest_main(uint32_t start_info) {
        struct guest *g = &the_guest;
        uint64_t main_tsc = rdtsc();
        g->power = (struct acpi_power){ .pm1a_cnt = VMSTACK_PM1A_CNT_PORT, .pm_tmr = VMSTACK_PM_TMR_PORT,
                                        .slp_typ_s5 = VMSTACK_SLP_TYP_S5 };
        int r = prelude(g, start_info, main_tsc);
        if (r < 0)
                guest_exit(r);
        char name[MODE_MAX];
        const struct guest_mode *m = pick_mode(g, name);
        if (!m)
                guest_exit(guest_fail(-EINVAL, "unknown vsc.mode=%s (known: boot enumerate probe echo net-check net-bench services "
                                                "disk-check disk-bench soak hostile balloon virtio-balloon video smp)", name));
        report("mode=%s", m->name);
        guest_exit(m->run(g));
}
