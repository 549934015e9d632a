// SPDX-License-Identifier: MIT
/* The i8042 controller and its PS/2 keyboard (emu/i8042.c, ps2kbd.c,
 * keymap.c) as a register decoder: controller commands, keyboard
 * commands and their answers, set 1/set 2 and XLATE, IRQ 1 with an edge
 * per byte, the reset paths, typed characters and the input queue's
 * back-pressure. */
#include "common/macro.h"
#include "common/test.h"
#include "emu/i8042.h"

static unsigned edges, resets, spaces;
static bool level;
static const char *reset_source;

static void on_irq(void *o, bool l) {
        if (l && !level)
                edges++;
        level = l;
}
static void on_reset(void *o, const char *source) {
        resets++;
        reset_source = source;
}
static void on_space(void *o) {
        spaces++;
}
static const struct i8042_ops ops = { .irq = on_irq, .reset = on_reset, .input_space = on_space };

static void init(struct i8042 *k) {
        edges = resets = spaces = 0;
        level = false;
        i8042_init(k, &ops, NULL);
}

static void cmd(struct i8042 *k, uint8_t c) {
        i8042_write(k, I8042_CMD_PORT, c);
}
static void data(struct i8042 *k, uint8_t d) {
        i8042_write(k, I8042_DATA_PORT, d);
}
/* The next output byte, which must be there. */
static uint8_t next(struct i8042 *k) {
        ASSERT_TRUE(i8042_read(k, I8042_CMD_PORT) & I8042_STR_OBF);
        return i8042_read(k, I8042_DATA_PORT);
}
static bool empty(struct i8042 *k) {
        return !(i8042_read(k, I8042_CMD_PORT) & I8042_STR_OBF);
}

TEST(controller_commands) {
        struct i8042 k;
        init(&k);
        ASSERT_EQ(i8042_read(&k, I8042_CMD_PORT), I8042_STR_SYS | I8042_STR_UNLOCKED);
        cmd(&k, 0x20);
        ASSERT_EQ(i8042_read(&k, I8042_CMD_PORT) & (I8042_STR_CMD | I8042_STR_OBF), I8042_STR_CMD | I8042_STR_OBF);
        ASSERT_EQ(next(&k), 0x65);
        cmd(&k, 0xaa);
        ASSERT_EQ(next(&k), 0x55);
        cmd(&k, 0xab);
        ASSERT_EQ(next(&k), 0x00);
        cmd(&k, 0xa9); /* no auxiliary device */
        ASSERT_EQ(next(&k), 0x02);
        cmd(&k, 0xa4);
        ASSERT_EQ(next(&k), 0xf1);
        cmd(&k, 0xa8); /* enable aux: command byte bit 5 */
        cmd(&k, 0x20);
        ASSERT_EQ(next(&k), 0x45);
        cmd(&k, 0xad);
        cmd(&k, 0x20);
        ASSERT_EQ(next(&k), 0x55);
        cmd(&k, 0xae);
        cmd(&k, 0x60); /* write the command byte, then RAM byte 5 */
        data(&k, 0x40);
        cmd(&k, 0x65);
        data(&k, 0x99);
        cmd(&k, 0x25);
        ASSERT_EQ(next(&k), 0x99);
        cmd(&k, 0x20);
        ASSERT_EQ(next(&k), 0x40);
        ASSERT_EQ(i8042_read(&k, I8042_CMD_PORT) & I8042_STR_SYS, 0); /* follows command byte bit 2 */
        cmd(&k, 0xd0);
        ASSERT_EQ(next(&k), 0x03); /* output port: reset high, A20 */
        cmd(&k, 0xd2); /* as if the keyboard sent it */
        data(&k, 0x7e);
        ASSERT_EQ(next(&k), 0x7e);
        cmd(&k, 0xd3); /* aux: swallowed */
        data(&k, 0x5a);
        ASSERT_TRUE(empty(&k));
        cmd(&k, 0x01); /* unknown */
        struct i8042_stats st;
        i8042_get_stats(&k, &st);
        ASSERT_EQ(st.ignored, 1u);
        ASSERT_EQ(resets, 0u);
        i8042_destroy(&k);
}

TEST(reset_paths) {
        struct i8042 k;
        init(&k);
        cmd(&k, 0xff); /* pulse nothing */
        ASSERT_EQ(resets, 0u);
        cmd(&k, 0xfe);
        ASSERT_EQ(resets, 1u);
        ASSERT_STREQ(reset_source, "keyboard controller reset (0xFE to port 0x64)");
        cmd(&k, 0xf0); /* pulses every line, bit 0 included */
        ASSERT_EQ(resets, 2u);
        cmd(&k, 0xd1);
        data(&k, 0x03); /* reset line stays high */
        ASSERT_EQ(resets, 2u);
        cmd(&k, 0xd1);
        data(&k, 0x02);
        ASSERT_EQ(resets, 3u);
        ASSERT_STREQ(reset_source, "keyboard controller reset (output port bit 0 cleared)");
        i8042_destroy(&k);
}

TEST(keyboard_commands_translated) {
        struct i8042 k;
        init(&k);
        data(&k, 0xff);
        ASSERT_EQ(next(&k), 0xfa);
        ASSERT_EQ(next(&k), 0xaa);
        data(&k, 0xf2); /* AB 83, translated: AB 41 */
        ASSERT_EQ(next(&k), 0xfa);
        ASSERT_EQ(next(&k), 0xab);
        ASSERT_EQ(next(&k), 0x41);
        data(&k, 0xed);
        ASSERT_EQ(next(&k), 0xfa);
        data(&k, 0x07);
        ASSERT_EQ(next(&k), 0xfa);
        ASSERT_EQ(k.kbd.leds, 7);
        data(&k, 0xee);
        ASSERT_EQ(next(&k), 0xee);
        data(&k, 0xf0);
        ASSERT_EQ(next(&k), 0xfa);
        data(&k, 0x03); /* set 3: refused */
        ASSERT_EQ(next(&k), 0xfe);
        data(&k, 0xf3);
        ASSERT_EQ(next(&k), 0xfa);
        data(&k, 0xf4); /* a command where an argument was expected */
        ASSERT_EQ(next(&k), 0xfa);
        data(&k, 0x55); /* unknown */
        ASSERT_EQ(next(&k), 0xfe);
        data(&k, 0xfe); /* resend: the last byte */
        ASSERT_EQ(next(&k), 0xfe);
        ASSERT_TRUE(empty(&k));
        i8042_destroy(&k);
}

TEST(typing_set2_translated_and_set1) {
        struct i8042 k;
        init(&k);
        ASSERT_OK(i8042_type_char(&k, 'a'));
        ASSERT_OK(i8042_type_char(&k, 'B'));
        ASSERT_OK(i8042_type_char(&k, '\n'));
        ASSERT_OK(i8042_type_char(&k, 3)); /* Ctrl+C */
        static const uint8_t want1[] = { 0x1e, 0x9e, 0x2a, 0x30, 0xb0, 0xaa, 0x1c, 0x9c, 0x1d, 0x2e, 0xae, 0x9d };
        for (size_t i = 0; i < ARRAY_SIZE(want1); i++)
                ASSERT_EQ(next(&k), want1[i]);
        ASSERT_TRUE(empty(&k));
        ASSERT_EQ(edges, (unsigned)ARRAY_SIZE(want1)); /* one interrupt per byte */
        ASSERT_FALSE(level);
        /* Without XLATE the guest sees set 2: F0 for breaks. */
        cmd(&k, 0x60);
        data(&k, 0x25);
        ASSERT_OK(i8042_type_char(&k, 'a'));
        ASSERT_EQ(next(&k), 0x1c);
        ASSERT_EQ(next(&k), 0xf0);
        ASSERT_EQ(next(&k), 0x1c);
        /* Set 1 selected on the keyboard. */
        data(&k, 0xf0);
        ASSERT_EQ(next(&k), 0xfa);
        data(&k, 0x01);
        ASSERT_EQ(next(&k), 0xfa);
        ASSERT_OK(i8042_type_char(&k, 'z'));
        ASSERT_EQ(next(&k), 0x2c);
        ASSERT_EQ(next(&k), 0xac);
        ASSERT_ERROR(i8042_type_char(&k, 0xc3), EINVAL); /* no key types it */
        /* A disabled keyboard does not scan; keystrokes are dropped. */
        data(&k, 0xf5);
        ASSERT_EQ(next(&k), 0xfa);
        ASSERT_OK(i8042_type_char(&k, 'q'));
        ASSERT_TRUE(empty(&k));
        struct i8042_stats st;
        i8042_get_stats(&k, &st);
        ASSERT_EQ(st.dropped_keys, 2u);
        i8042_destroy(&k);
}

TEST(interrupts_follow_the_command_byte) {
        struct i8042 k;
        init(&k);
        cmd(&k, 0x60);
        data(&k, 0x64); /* no keyboard interrupt */
        ASSERT_OK(i8042_type_char(&k, 'x'));
        ASSERT_FALSE(level);
        cmd(&k, 0x60);
        data(&k, 0x65);
        ASSERT_TRUE(level); /* the byte waiting now interrupts */
        cmd(&k, 0xad); /* keyboard interface disabled: the next byte waits */
        (void)i8042_read(&k, I8042_DATA_PORT);
        ASSERT_FALSE(level);
        ASSERT_TRUE(empty(&k));
        cmd(&k, 0xae);
        ASSERT_TRUE(level);
        i8042_destroy(&k);
}

TEST(input_backpressure) {
        struct i8042 k;
        init(&k);
        unsigned typed = 0;
        while (i8042_type_char(&k, 'a') == 0)
                typed++;
        ASSERT_EQ(i8042_type_char(&k, 'a'), -ENOBUFS);
        ASSERT_GE(typed * 4, (unsigned)I8042_KBD_QUEUE - 8);
        ASSERT_LT(i8042_input_room(&k), (size_t)I8042_MAX_BYTES_PER_CHAR);
        ASSERT_EQ(spaces, 0u);
        while (!empty(&k))
                (void)i8042_read(&k, I8042_DATA_PORT);
        ASSERT_EQ(spaces, 1u); /* told once when half the queue drained */
        ASSERT_OK(i8042_type_char(&k, 'a'));
        i8042_destroy(&k);
}

TEST(keymap) {
        unsigned key, mod;
        ASSERT_TRUE(keymap_char('A', &key, &mod));
        ASSERT_EQ(mod, (unsigned)KEY_LSHIFT);
        ASSERT_EQ(keymap_set1(key), 0x1e);
        ASSERT_EQ(keymap_set2(key), 0x1c);
        ASSERT_TRUE(keymap_char('\r', &key, &mod));
        ASSERT_EQ(keymap_set2(key), 0x5a);
        ASSERT_EQ(mod, 0u);
        ASSERT_TRUE(keymap_char(0x7f, &key, &mod)); /* DEL: Backspace */
        ASSERT_EQ(keymap_set1(key), 0x0e);
        ASSERT_EQ(mod, 0u);
        ASSERT_TRUE(keymap_char(0x1b, &key, &mod));
        ASSERT_EQ(keymap_set2(key), 0x76);
        ASSERT_FALSE(keymap_char(0x80, &key, &mod));
        ASSERT_FALSE(keymap_char(0, &key, &mod));
        /* Every key's set 2 code translates to its set 1 code. */
        for (unsigned c = 1; c < 128; c++)
                if (keymap_char((uint8_t)c, &key, &mod))
                        ASSERT_EQ(keymap_xlate(keymap_set2(key)), keymap_set1(key));
        ASSERT_EQ(keymap_xlate(0xfa), 0xfa);
}

TEST_MAIN();
