// SPDX-License-Identifier: MIT
/* The worker's device table (vmwp/devices.h) and the platform devices'
 * quiesce and sections: quiesce in reverse table order and resume in
 * order, a failing quiesce resumes what it had quiesced and names the
 * device, a save refused while running or for a device that cannot save;
 * the UART holds console input while quiesced and round-trips its FIFOs;
 * ACPI PM holds a power-button press and its timer goes on from the saved
 * count; the pure decoders refuse impossible values. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/test.h"
#include "common/vmstate.h"
#include "emu/acpi-pm.h"
#include "emu/uart.h"
#include "hv/vmstack.h"
#include "tests/lib/vmstate-roundtrip.h"
#include "vmwp/devices.h"

/* ---- the table ---------------------------------------------------------- */

struct fake {
        char trace[64];
        int fail_quiesce; /* errno to fail with */
};

static struct fake *g_log; /* one trace for all rows, in call order */

static void note(char op, const struct fake *f) {
        size_t n = strlen(g_log->trace);
        g_log->trace[n] = op;
        g_log->trace[n + 1] = f ? f->trace[0] : 0;
        g_log->trace[n + 2] = 0;
}

static int fake_quiesce(void *dev) {
        struct fake *f = dev;
        if (f->fail_quiesce)
                return -f->fail_quiesce;
        note('q', f);
        return 0;
}

static void fake_resume(void *dev) {
        note('r', dev);
}

static int fake_save(void *dev, struct vmstate_writer *w, char *err, size_t errlen) {
        (void)dev, (void)w, (void)err, (void)errlen;
        note('s', NULL);
        return 0;
}

static const struct device_ops fake_ops = { .name = "fake", .quiesce = fake_quiesce, .resume = fake_resume,
                                            .save = fake_save };
static const struct device_ops unsaveable = { .name = "unsaveable", .quiesce = fake_quiesce,
                                              .resume = fake_resume };

TEST(table_order_and_rollback) {
        struct fake log = { "" }, a = { "a" }, b = { "b" }, c = { "c" };
        g_log = &log;
        struct vmwp_devices t = { 0 };
        char err[128] = "";
        ASSERT_OK(vmwp_devices_add(&t, &fake_ops, &a));
        ASSERT_OK(vmwp_devices_add(&t, &fake_ops, &b));
        ASSERT_OK(vmwp_devices_add(&t, &fake_ops, &c));
        ASSERT_EQ(vmwp_devices_save(&t, NULL, err, sizeof err), -EBUSY); /* running */
        ASSERT_OK(vmwp_devices_quiesce(&t, err, sizeof err));
        ASSERT_OK(vmwp_devices_quiesce(&t, err, sizeof err)); /* idempotent */
        ASSERT_EQ(vmwp_devices_add(&t, &fake_ops, &a), -EBUSY);
        ASSERT_OK(vmwp_devices_save(&t, NULL, err, sizeof err));
        vmwp_devices_resume(&t);
        vmwp_devices_resume(&t);
        ASSERT_STREQ(log.trace, "qcqbqasssrarbrc");

        /* b fails: c was quiesced and is resumed again, a never quiesced. */
        log.trace[0] = 0;
        b.fail_quiesce = EIO;
        ASSERT_EQ(vmwp_devices_quiesce(&t, err, sizeof err), -EIO);
        ASSERT_STREQ(log.trace, "qcrc");
        ASSERT_NOT_NULL(strstr(err, "quiescing fake"));
        ASSERT_FALSE(vmwp_devices_quiesced(&t));

        struct vmwp_devices u = { 0 };
        ASSERT_OK(vmwp_devices_add(&u, &fake_ops, &a));
        ASSERT_OK(vmwp_devices_add(&u, &unsaveable, &c));
        ASSERT_OK(vmwp_devices_quiesce(&u, err, sizeof err));
        log.trace[0] = 0;
        ASSERT_EQ(vmwp_devices_save(&u, NULL, err, sizeof err), -EOPNOTSUPP);
        ASSERT_STREQ(err, "unsaveable cannot be saved yet");
        ASSERT_STREQ(log.trace, ""); /* nothing written before the refusal */
        ASSERT_EQ(vmwp_devices_add(&t, NULL, &a), -EINVAL);
}

static int fake_detach(void *dev) {
        struct fake *f = dev;
        note('D', f);
        return f->fail_quiesce ? -f->fail_quiesce : 0;
}

static void fake_attach(void *dev) {
        note('A', dev);
}

/* hv_sock's kind of row: something a saved state cannot hold. */
static const struct device_ops detachable = { .name = "detachable", .quiesce = fake_quiesce,
                                              .resume = fake_resume, .save = fake_save,
                                              .detach = fake_detach, .attach = fake_attach };

TEST(detach_in_reverse_order_attach_in_table_order) {
        struct fake log = { "" }, a = { "a" }, b = { "b" }, c = { "c" };
        g_log = &log;
        struct vmwp_devices t = { 0 };
        ASSERT_OK(vmwp_devices_add(&t, &fake_ops, &a)); /* nothing to detach */
        ASSERT_OK(vmwp_devices_add(&t, &detachable, &b));
        ASSERT_OK(vmwp_devices_add(&t, &detachable, &c));
        ASSERT_OK(vmwp_devices_detach(&t));
        vmwp_devices_attach(&t);
        ASSERT_STREQ(log.trace, "DcDbAbAc");

        /* A failure is reported, and every row is still detached. */
        log.trace[0] = 0;
        c.fail_quiesce = ETIMEDOUT;
        ASSERT_EQ(vmwp_devices_detach(&t), -ETIMEDOUT);
        ASSERT_STREQ(log.trace, "DcDb");
}

static void fake_stats(void *dev, struct json_object *into) {
        const struct fake *f = dev;
        device_stat_add(into, "fake_calls", 1);
        device_stat_add(into, "fake_big", f->trace[0] == 'b' ? UINT64_MAX - 1 : 5);
        struct json_object *o = device_stat_append(into, "fakes");
        if (o)
                device_stat_bool(o, f->trace, true);
}

static const struct device_ops counted = { .name = "counted", .quiesce = fake_quiesce, .resume = fake_resume,
                                           .stats = fake_stats };

TEST(stats_come_from_the_rows_in_table_order_and_sum) {
        struct fake a = { "a" }, b = { "b" }, c = { "c" };
        struct vmwp_devices t = { 0 };
        ASSERT_OK(vmwp_devices_add(&t, &counted, &a));
        ASSERT_OK(vmwp_devices_add(&t, &fake_ops, &c)); /* no counters */
        ASSERT_OK(vmwp_devices_add(&t, &counted, &b));
        struct json_object *o = json_object_new_object();
        ASSERT_NOT_NULL(o);
        vmwp_devices_stats(&t, o);
        ASSERT_STREQ(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"fake_calls\":2,\"fake_big\":9223372036854775807,\"fakes\":[{\"a\":true},{\"b\":true}]}");
        json_object_put(o);
}

/* ---- sections through a real writer and reader ----------------------- */

struct image {
        uint8_t *data;
        size_t len;
        struct vmstate_section secs[8];
        size_t n;
};

static void write_section(const struct vmstate_desc *d, const void *st, struct image *img) {
        ASSERT_OK(vmstate_test_encode(d, 0, st, &img->data, &img->len));
        struct vmstate_header h;
        char err[256];
        int n = vmstate_index(img->data, img->len, &h, img->secs, 8, err, sizeof err);
        ASSERT_EQ(n, 1);
        img->n = (size_t)n;
}

struct irq_log {
        int raises, lowers;
};

static void irq_cb(void *o, bool level) {
        struct irq_log *l = o;
        if (level)
                l->raises++;
        else
                l->lowers++;
}

static const struct uart_ops uops = { .irq = irq_cb };

static void spoil_fifo_off(struct uart_state *s) {
        s->fcr = 0; /* FIFO off holds one byte */
}

static void spoil_ier(struct uart_state *s) {
        s->ier = 0x31;
}

static void spoil_dr(struct uart_state *s) {
        s->lsr &= (uint8_t)~1u;
}

/* A section no row reads is refused before anything is applied, unless
 * a newer build flagged it optional; vid's tags come from the caller. */
TEST(unknown_sections_are_refused_unless_optional) {
        static const uint32_t a_tags[] = { VMSTATE_TAG('A', 'A', 'A', 'A'), 0 };
        static const uint32_t vid[] = { VMSTATE_TAG('P', 'A', 'R', 'T'), 0 };
        const struct device_ops a_ops = { .name = "a", .quiesce = fake_quiesce, .resume = fake_resume,
                                               .tags = a_tags };
        struct fake a = { "a" };
        struct vmwp_devices t = { 0 };
        ASSERT_OK(vmwp_devices_add(&t, &a_ops, &a));
        ASSERT_OK(vmwp_devices_add(&t, &fake_ops, &a)); /* reads nothing */
        struct vmstate_section secs[3] = {
                { .tag = VMSTATE_TAG('P', 'A', 'R', 'T') },
                { .tag = VMSTATE_TAG('A', 'A', 'A', 'A'), .instance = 1 },
                { .tag = VMSTATE_TAG('Z', 'Z', 'Z', 'Z'), .instance = 7, .offset = 4096 },
        };
        char err[256] = "";
        ASSERT_OK(vmwp_devices_check_sections(&t, vid, secs, 2, err, sizeof err));
        ASSERT_EQ(vmwp_devices_check_sections(&t, vid, secs, 3, err, sizeof err), -EPROTONOSUPPORT);
        ASSERT_NOT_NULL(strstr(err, "section ZZZZ #7 at offset 4096"));
        ASSERT_NOT_NULL(strstr(err, "not marked optional"));
        /* vid's tags are only vid's when the caller says so. */
        ASSERT_EQ(vmwp_devices_check_sections(&t, NULL, secs, 1, err, sizeof err), -EPROTONOSUPPORT);
        ASSERT_NOT_NULL(strstr(err, "PART"));
        secs[2].flags = VMSTATE_SECTION_OPTIONAL;
        ASSERT_OK(vmwp_devices_check_sections(&t, vid, secs, 3, err, sizeof err));
}

TEST(uart_holds_input_while_quiesced_and_round_trips) {
        struct irq_log il = { 0 };
        struct uart *u;
        ASSERT_OK(uart_new(&uops, &il, &u));
        uart_write(u, UART_IIR_FCR, 0x01); /* FIFO on */
        uart_write(u, UART_IER_DLM, 0x01); /* received-data interrupt */
        uart_write(u, UART_SCR, 0x5a);
        uart_quiesce(u);
        ASSERT_EQ(uart_receive(u, (const uint8_t *)"abc", 3), 3u);
        ASSERT_EQ(il.raises, 0); /* nothing reaches the guest while quiesced */
        struct uart_state *s = calloc(1, sizeof *s);
        uart_get_state(u, s);
        ASSERT_EQ(s->rx_count, 0u);
        ASSERT_EQ(s->in_count, 3u);
        uart_resume(u);
        ASSERT_EQ(il.raises, 1);
        ASSERT_EQ(uart_read(u, UART_RBR_THR_DLL), 'a');

        /* The state with two bytes in the FIFO, through a file, into a new UART. */
        uart_quiesce(u);
        uart_get_state(u, s);
        ASSERT_EQ(s->rx_count, 2u);
        struct image img;
        write_section(&uart_state_desc, s, &img);
        struct uart_state *back = calloc(1, sizeof *back);
        char err[256];
        ASSERT_OK(uart_state_decode(&img.secs[0], back, err, sizeof err));
        ASSERT_EQ(memcmp(back, s, sizeof *s), 0);
        struct irq_log il2 = { 0 };
        struct uart *v;
        ASSERT_OK(uart_new(&uops, &il2, &v));
        uart_set_state(v, back);
        ASSERT_EQ(il2.raises, 0); /* the restored IOAPIC has the level */
        ASSERT_EQ(uart_read(v, UART_SCR), 0x5a);
        ASSERT_EQ(uart_read(v, UART_RBR_THR_DLL), 'b');
        ASSERT_EQ(uart_read(v, UART_RBR_THR_DLL), 'c');
        ASSERT_EQ(uart_read(v, UART_LSR) & 1, 0); /* drained */

        /* Impossible states are refused with a sentence. */
        struct {
                void (*spoil)(struct uart_state *);
                const char *why;
        } bad[] = {
                { spoil_fifo_off, "more received bytes than the FIFO holds" },
                { spoil_ier, "IER has reserved bits set" },
                { spoil_dr, "LSR data-ready disagrees with the receive FIFO" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct uart_state *t = calloc(1, sizeof *t);
                *t = *s;
                bad[i].spoil(t);
                struct image bi;
                write_section(&uart_state_desc, t, &bi);
                ASSERT_EQ(uart_state_decode(&bi.secs[0], back, err, sizeof err), -EINVAL);
                ASSERT_NOT_NULL(strstr(err, bad[i].why));
                free(bi.data);
                free(t);
        }
        uart_free(u);
        uart_free(v);
        free(s);
        free(back);
        free(img.data);
}

struct pm_log {
        int sci_raises;
};

static void sci_cb(void *o, bool level) {
        if (level)
                ((struct pm_log *)o)->sci_raises++;
}

static const struct acpi_pm_ops pops = { .sci = sci_cb };

static void sleep_ms(int ms) {
        struct timespec ts = { 0, (long)ms * 1000000 };
        nanosleep(&ts, NULL);
}

TEST(acpi_pm_holds_the_button_and_its_timer_continues) {
        struct pm_log pl = { 0 };
        struct acpi_pm *pm;
        ASSERT_OK(acpi_pm_new(&pops, &pl, 5, &pm));
        acpi_pm_write(pm, VMSTACK_PM1A_EVT_PORT + 2, 2, ACPI_PM1_PWRBTN_STS); /* PWRBTN_EN */
        acpi_pm_quiesce(pm);
        acpi_pm_power_button(pm);
        ASSERT_EQ(pl.sci_raises, 0);
        struct acpi_pm_state st;
        acpi_pm_get_state(pm, &st);
        ASSERT_TRUE(st.button_held);
        acpi_pm_resume(pm);
        ASSERT_EQ(pl.sci_raises, 1); /* delivered at resume, once */
        ASSERT_TRUE(acpi_pm_read(pm, VMSTACK_PM1A_EVT_PORT, 2) & ACPI_PM1_PWRBTN_STS);

        sleep_ms(20); /* the timer has counted ~71600 ticks */
        acpi_pm_quiesce(pm);
        acpi_pm_get_state(pm, &st);
        struct image img;
        write_section(&acpi_pm_state_desc, &st, &img);
        struct acpi_pm_state back;
        char err[256];
        ASSERT_OK(acpi_pm_state_decode(&img.secs[0], &back, err, sizeof err));
        ASSERT_EQ(memcmp(&back, &st, sizeof st), 0);
        struct pm_log pl2 = { 0 };
        struct acpi_pm *q;
        ASSERT_OK(acpi_pm_new(&pops, &pl2, 5, &q));
        acpi_pm_set_state(q, &back);
        uint32_t t = acpi_pm_timer(q);
        uint32_t saved = (uint32_t)(st.ticks & 0xffffff);
        ASSERT_GE((t - saved) & 0xffffff, 0u);
        ASSERT_LT((t - saved) & 0xffffff, ACPI_PM_TIMER_HZ / 10); /* goes on from the saved count */
        ASSERT_GT(st.ticks, ACPI_PM_TIMER_HZ / 100);                /* which was not zero */
        ASSERT_EQ(pl2.sci_raises, 0);
        ASSERT_EQ(acpi_pm_read(q, VMSTACK_PM1A_EVT_PORT + 2, 2), ACPI_PM1_PWRBTN_STS);

        back.pm1_cnt = 0; /* SCI_EN always reads 1 */
        struct image bi;
        write_section(&acpi_pm_state_desc, &back, &bi);
        ASSERT_EQ(acpi_pm_state_decode(&bi.secs[0], &st, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "section ACPM: PM1 control"));
        acpi_pm_free(pm);
        acpi_pm_free(q);
        free(img.data);
        free(bi.data);
}

TEST_MAIN();
