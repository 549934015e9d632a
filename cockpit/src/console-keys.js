// SPDX-License-Identifier: MIT
// The console's keys (console.js): the key combinations its "Send keys"
// menu sends, and text typed into the guest as key presses on a US
// keyboard (Hyper-V's "Type clipboard text"). Each key is [keysym, code]:
// the X keysym noVNC sends and the KeyboardEvent code it turns into the
// scancode (QEMU's extended key event, which vmdisplay takes). Pure: no
// DOM, no noVNC, so tests/unit/cockpit-console-js.mjs loads it under node.

const CTRL = [0xffe3, "ControlLeft"];
const ALT = [0xffe9, "AltLeft"];
const SHIFT = [0xffe1, "ShiftLeft"];
const fkey = n => [0xffbe + n - 1, `F${n}`];

// id, label, and the keys pressed in order and released in reverse.
export const KEY_COMBOS = [
    ...[1, 2, 3, 4, 5, 6, 7].map(n => ({ id: `ctrl-alt-f${n}`, label: `Ctrl+Alt+F${n}`, keys: [CTRL, ALT, fkey(n)] })),
    { id: "ctrl-alt-backspace", label: "Ctrl+Alt+Backspace", keys: [CTRL, ALT, [0xff08, "Backspace"]] },
    { id: "alt-tab", label: "Alt+Tab", keys: [ALT, [0xff09, "Tab"]] },
    { id: "alt-f4", label: "Alt+F4", keys: [ALT, fkey(4)] },
    { id: "ctrl-esc", label: "Ctrl+Esc", keys: [CTRL, [0xff1b, "Escape"]] },
    { id: "super", label: "Windows (Super)", keys: [[0xffeb, "MetaLeft"]] },
    { id: "print", label: "Print Screen", keys: [[0xff61, "PrintScreen"]] },
    { id: "alt-sysrq", label: "Alt+SysRq", keys: [ALT, [0xff61, "PrintScreen"]] },
];

// The events of a combination: [keysym, code, down] in order.
export function comboEvents(combo) {
    return [...combo.keys.map(([s, c]) => [s, c, true]), ...combo.keys.slice().reverse().map(([s, c]) => [s, c, false])];
}

// US layout: each printable character's code, and whether it needs Shift.
const SHIFTED_DIGITS = ")!@#$%^&*(";
const PUNCT = { "-": "Minus", "=": "Equal", "[": "BracketLeft", "]": "BracketRight", "\\": "Backslash",
    ";": "Semicolon", "'": "Quote", "`": "Backquote", ",": "Comma", ".": "Period", "/": "Slash" };
const PUNCT_SHIFTED = { "_": "Minus", "+": "Equal", "{": "BracketLeft", "}": "BracketRight", "|": "Backslash",
    ":": "Semicolon", "\"": "Quote", "~": "Backquote", "<": "Comma", ">": "Period", "?": "Slash" };

// A character as [keysym, code, shift], or null where a US keyboard has no key for it.
export function charKey(ch) {
    const c = ch.codePointAt(0);
    if (ch >= "a" && ch <= "z")
        return [c, `Key${ch.toUpperCase()}`, false];
    if (ch >= "A" && ch <= "Z")
        return [c, `Key${ch}`, true];
    if (ch >= "0" && ch <= "9")
        return [c, `Digit${ch}`, false];
    if (SHIFTED_DIGITS.includes(ch))
        return [c, `Digit${SHIFTED_DIGITS.indexOf(ch)}`, true];
    if (PUNCT[ch])
        return [c, PUNCT[ch], false];
    if (PUNCT_SHIFTED[ch])
        return [c, PUNCT_SHIFTED[ch], true];
    if (ch === " ")
        return [c, "Space", false];
    if (ch === "\n")
        return [0xff0d, "Enter", false];
    if (ch === "\t")
        return [0xff09, "Tab", false];
    return null;
}

export const TYPE_MAX = 4096; // characters in one "Type text"

// Text as key presses: { keys: [[events of one character], ...], bad: the
// characters it cannot type (in order, each once) }. "\r\n" counts as one
// Enter; nothing is typed from a text with a bad character or above
// TYPE_MAX characters (too long: bad is ["too long"]).
export function typeEvents(text) {
    const chars = [...String(text).replace(/\r\n?/g, "\n")];
    if (chars.length > TYPE_MAX)
        return { keys: [], bad: ["too long"] };
    const keys = [], bad = [];
    for (const ch of chars) {
        const k = charKey(ch);
        if (!k) {
            if (!bad.includes(ch))
                bad.push(ch);
            continue;
        }
        const [sym, code, shift] = k;
        keys.push(shift
            ? [[...SHIFT, true], [sym, code, true], [sym, code, false], [...SHIFT, false]]
            : [[sym, code, true], [sym, code, false]]);
    }
    return bad.length ? { keys: [], bad } : { keys, bad };
}
