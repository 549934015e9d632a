// SPDX-License-Identifier: MIT
/* The guest's keyboard layout (--keymap), from Debian's XKB data through
 * libxkbcommon, the compiler every Linux desktop uses: for each key of a
 * PC keyboard (model pc105, evdev rules), the symbols it types at its
 * first four shift levels (plain, Shift, AltGr, AltGr+Shift), so that
 * each symbol a viewer sends maps to the key that types it on that
 * layout (docs/console.md "Input"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xkbcommon/xkbcommon.h>

#include "common/config.h"
#include "vmdisplay/input.h"

#define LEVELS 4u /* plain, Shift, AltGr, AltGr+Shift */

/* Symbols every layout puts on the same keys, or on modifiers: the
 * built-in table's (keymap.c); a dead key (0xFE50 on) is a layout's own. */
static bool layout_symbol(xkb_keysym_t sym) {
        return sym != XKB_KEY_NoSymbol && !(sym >= 0xff00 && sym <= 0xffff) && !(sym >= 0xfe00 && sym < 0xfe50);
}

static void quiet(struct xkb_context *ctx, enum xkb_log_level level, const char *fmt, va_list args) {
}

static int fill(struct vmd_keymap *km, struct xkb_keymap *k) {
        xkb_keycode_t min = xkb_keymap_min_keycode(k), max = xkb_keymap_max_keycode(k);
        for (xkb_level_index_t level = 0; level < LEVELS; level++)
                for (xkb_keycode_t kc = min < 8 ? 8 : min; kc <= max; kc++) {
                        uint32_t sc = vmd_evdev_scancode(kc - 8);
                        if (!sc || xkb_keymap_num_layouts_for_key(k, kc) == 0 ||
                            level >= xkb_keymap_num_levels_for_key(k, kc, 0))
                                continue;
                        const xkb_keysym_t *syms;
                        int n = xkb_keymap_key_get_syms_by_level(k, kc, 0, level, &syms);
                        for (int i = 0; i < n; i++) {
                                bool cased = xkb_keysym_to_upper(syms[i]) != xkb_keysym_to_lower(syms[i]);
                                if (layout_symbol(syms[i]) && vmd_keymap_add(km, syms[i], sc, level, cased) < 0)
                                        return -ENOMEM;
                        }
                }
        vmd_keymap_finish(km);
        return 0;
}

int vmd_keymap_load(const char *spec, struct vmd_keymap **out, char *err, size_t errlen) {
        *out = NULL;
        if (!vm_keymap_is_valid(spec))
                return snprintf(err, errlen, "--keymap=%s: not a layout name (" VM_KEYMAP_HINT ")", spec), -EINVAL;
        if (!strcmp(spec, "us"))
                return 0; /* the built-in table */
        const char *colon = strchr(spec, ':');
        size_t llen = colon ? (size_t)(colon - spec) : strlen(spec);
        char layout[33], variant[33] = "";
        memcpy(layout, spec, llen);
        layout[llen] = 0;
        if (colon)
                snprintf(variant, sizeof variant, "%s", colon + 1);
        struct vmd_keymap *km = calloc(1, sizeof *km);
        struct xkb_context *ctx = km ? xkb_context_new(XKB_CONTEXT_NO_ENVIRONMENT_NAMES) : NULL;
        if (!ctx) {
                free(km);
                return snprintf(err, errlen, "--keymap=%s: out of memory", spec), -ENOMEM;
        }
        xkb_context_set_log_fn(ctx, quiet); /* the sentence below says what failed */
        struct xkb_rule_names names = { .rules = "evdev", .model = "pc105", .layout = layout,
                                        .variant = variant[0] ? variant : NULL };
        struct xkb_keymap *k = xkb_keymap_new_from_names(ctx, &names, XKB_KEYMAP_COMPILE_NO_FLAGS);
        int r = k ? fill(km, k) : -ENOENT;
        xkb_keymap_unref(k);
        xkb_context_unref(ctx);
        if (r == 0 && km->n == 0)
                r = -ENOENT;
        if (r < 0) {
                vmd_keymap_free(km);
                if (r == -ENOMEM)
                        return snprintf(err, errlen, "--keymap=%s: out of memory", spec), r;
                return snprintf(err, errlen, "--keymap=%s: XKB has no such layout%s (is xkb-data installed? "
                                             "its layouts are in /usr/share/X11/xkb/symbols)", spec,
                                colon ? " and variant" : ""), r;
        }
        snprintf(km->name, sizeof km->name, "%s", spec);
        *out = km;
        return 0;
}

void vmd_keymap_free(struct vmd_keymap *km) {
        if (!km)
                return;
        free(km->keys);
        free(km);
}
