// SPDX-License-Identifier: MIT
/* vid's port windows (vid/io.c): a range the guest moves at run time, as
 * a PCI function's I/O BAR, dispatched beside the fixed ranges without a
 * partition (no KVM): accesses reach it at its base with the offset from
 * there, nowhere else once it moved, nowhere while off or past the port
 * space, never over a fixed range; registration's limits. */
#include "common/test.h"
#include "vid/internal.h"

struct seen {
        unsigned reads, writes;
        uint64_t offset;
        uint32_t value;
};

static void on_read(void *o, struct vid_vp *vp, uint64_t off, void *data, unsigned len) {
        struct seen *s = o;
        s->reads++, s->offset = off;
        uint32_t v = 0xa0u + (uint32_t)off; /* one byte: A0h + the offset */
        memcpy(data, &v, len < 4 ? len : 4);
}

static void on_write(void *o, struct vid_vp *vp, uint64_t off, const void *data, unsigned len) {
        struct seen *s = o;
        s->writes++, s->offset = off, s->value = 0;
        memcpy(&s->value, data, len < 4 ? len : 4);
}

static const struct vid_io_ops ops = { .read = on_read, .write = on_write };

/* A partition that was never started (large: not on the stack). */
static struct vid_partition *fresh(void) {
        static struct vid_partition part;
        vid_io_free(&part.pio);
        part = (struct vid_partition){ 0 };
        return &part;
}

static uint32_t in(struct vid_partition *p, uint16_t port, unsigned len, int *r) {
        uint32_t v = 0;
        *r = vid_io_dispatch(&p->pio, NULL, port, &v, len, false);
        return v;
}

static int out(struct vid_partition *p, uint16_t port, unsigned len, uint32_t v) {
        return vid_io_dispatch(&p->pio, NULL, port, &v, len, true);
}

TEST(a_window_moves_and_its_old_ports_go_dead) {
        struct vid_partition *p = fresh();
        struct seen fixed = { 0 }, bar = { 0 };
        unsigned w;
        int r;
        ASSERT_OK(vid_register_pio(p, 0x1f0, 8, &ops, &fixed));
        ASSERT_OK(vid_register_pio_window(p, 0xc000, 16, &ops, &bar, &w));
        ASSERT_EQ(in(p, 0xc002, 1, &r), 0xa2u);
        ASSERT_OK(r);
        ASSERT_EQ(bar.reads, 1u);
        ASSERT_OK(vid_pio_window_move(p, w, 0xd040)); /* where a BIOS put BAR4 */
        ASSERT_EQ(in(p, 0xc002, 1, &r), 0xffu); /* the old ports float */
        ASSERT_ERROR(r, ENOENT);
        ASSERT_ERROR(out(p, 0xc000, 1, 0x01), ENOENT);
        ASSERT_EQ(bar.reads, 1u);
        ASSERT_EQ(bar.writes, 0u);
        ASSERT_OK(out(p, 0xd044, 4, 0x1000)); /* the PRD table register, at its offset */
        ASSERT_EQ(bar.writes, 1u);
        ASSERT_EQ(bar.offset, 4u);
        ASSERT_EQ(bar.value, 0x1000u);
        ASSERT_EQ(in(p, 0xd04e, 2, &r), 0x00aeu);
        ASSERT_ERROR((in(p, 0xd04e, 4, &r), r), ENOENT); /* straddles the window's end */
        ASSERT_EQ(in(p, 0x1f7, 1, &r), 0xa7u);
        ASSERT_EQ(fixed.reads, 1u);
}

TEST(a_window_off_past_the_port_space_or_over_a_fixed_range) {
        struct vid_partition *p = fresh();
        struct seen fixed = { 0 }, bar = { 0 };
        unsigned w;
        int r;
        ASSERT_OK(vid_register_pio(p, 0x1f0, 8, &ops, &fixed));
        ASSERT_OK(vid_register_pio_window(p, VID_PIO_WINDOW_OFF, 16, &ops, &bar, &w));
        ASSERT_EQ(in(p, 0x0000, 1, &r), 0xffu); /* off: nowhere, not at 0 */
        ASSERT_OK(vid_pio_window_move(p, w, 0xfff0)); /* the last place it fits */
        ASSERT_EQ(in(p, 0xffff, 1, &r), 0xafu);
        ASSERT_OK(vid_pio_window_move(p, w, 0xfff8)); /* would pass 0xFFFF: off */
        ASSERT_EQ(in(p, 0xfff8, 1, &r), 0xffu);
        ASSERT_ERROR(r, ENOENT);
        ASSERT_OK(vid_pio_window_move(p, w, 0xfffffff0u)); /* a BAR being sized */
        ASSERT_EQ(in(p, 0xfff0, 1, &r), 0xffu);
        ASSERT_OK(vid_pio_window_move(p, w, 0x1f0)); /* onto the fixed ports: they keep them */
        ASSERT_EQ(in(p, 0x1f2, 1, &r), 0xa2u);
        ASSERT_EQ(fixed.reads, 1u);
        ASSERT_EQ(in(p, 0x1f9, 1, &r), 0xa9u); /* the window's rest past them */
        ASSERT_EQ(bar.reads, 2u);
        ASSERT_ERROR(vid_pio_window_move(p, w + 1, 0xc000), EINVAL); /* not registered */
}

TEST(window_registration_limits) {
        struct vid_partition *p = fresh();
        struct seen s = { 0 };
        unsigned w;
        ASSERT_ERROR(vid_register_pio_window(p, 0xc000, 0, &ops, &s, &w), EINVAL);
        ASSERT_ERROR(vid_register_pio_window(p, 0xc000, 16, NULL, &s, &w), EINVAL);
        for (unsigned i = 0; i < VID_PIO_WINDOWS_MAX; i++) {
                ASSERT_OK(vid_register_pio_window(p, 0xc000 + 16 * i, 16, &ops, &s, &w));
                ASSERT_EQ(w, i);
        }
        ASSERT_ERROR(vid_register_pio_window(p, 0xd000, 16, &ops, &s, &w), ENOSPC);
        p = fresh();
        p->started = true;
        ASSERT_ERROR(vid_register_pio_window(p, 0xc000, 16, &ops, &s, &w), EBUSY);
        p->started = false;
        fresh();
}

TEST_MAIN()
