// SPDX-License-Identifier: MIT
// The Cockpit console's pure helpers (cockpit/src/console-state.js) under
// node: what the console shows for a VM's state and Display properties,
// and the channel URL cockpit-ws turns into `vmctl display --stdio VM`.
import assert from "node:assert/strict";
import { consoleState, channelUrl } from "../../cockpit/src/console-state.js";
import { KEY_COMBOS, comboEvents, charKey, typeEvents, TYPE_MAX } from "../../cockpit/src/console-keys.js";

const on = { Enabled: true, ServerRunning: true, VncSocket: "/run/vmstack/vms/x/vnc.sock" };
assert.equal(consoleState({ State: "Running" }, on), "ready");
assert.equal(consoleState({ State: "Paused" }, on), "ready");
assert.equal(consoleState({ State: "Running" }, { ...on, ServerRunning: false }), "waiting");
assert.equal(consoleState({ State: "Running" }, { ...on, VncSocket: "" }), "waiting");
for (const s of ["Off", "Starting", "Saved", "Crashed", "Stopping", "Saving", "Migrating", undefined])
    assert.equal(consoleState({ State: s }, on), "off", s);
assert.equal(consoleState({ State: "Running" }, { ...on, Enabled: false }), "none");
// An older vmms without the Display interface: no console, no failure.
assert.equal(consoleState({ State: "Running" }, undefined), "none");
assert.equal(consoleState(undefined, {}), "none");

const url = channelUrl("ws://h:9090/cockpit/channel", "abc123", "5e0c-id");
const [base, query] = url.split("?");
assert.equal(base, "ws://h:9090/cockpit/channel/abc123");
assert.deepEqual(JSON.parse(Buffer.from(query, "base64").toString()), {
    payload: "stream", binary: "raw", spawn: ["vmctl", "display", "--stdio", "5e0c-id"], err: "message",
});
// A name with characters that are not base64's: still one argument.
const odd = JSON.parse(Buffer.from(channelUrl("ws://h/c", "t", "a b\"c").split("?")[1], "base64").toString());
assert.deepEqual(odd.spawn, ["vmctl", "display", "--stdio", "a b\"c"]);
console.log("cockpit-console-js: all checks passed");

// The console's keys (cockpit/src/console-keys.js): the Send keys menu's
// combinations pressed in order and released in reverse; text as key
// presses on a US layout, Shift around a shifted character, nothing typed
// from a text with a character it has no key for, or above TYPE_MAX.

const f2 = KEY_COMBOS.find(c => c.id === "ctrl-alt-f2");
assert.deepEqual(comboEvents(f2).map(([s, c, d]) => `${c}${d ? "+" : "-"}${s.toString(16)}`),
                 ["ControlLeft+ffe3", "AltLeft+ffe9", "F2+ffbf", "F2-ffbf", "AltLeft-ffe9", "ControlLeft-ffe3"]);
assert.equal(new Set(KEY_COMBOS.map(c => c.id)).size, KEY_COMBOS.length);
assert.deepEqual(KEY_COMBOS.find(c => c.id === "ctrl-alt-f7").keys[2], [0xffc4, "F7"]);
assert.deepEqual(charKey("q"), [0x71, "KeyQ", false]);
assert.deepEqual(charKey("Q"), [0x51, "KeyQ", true]);
assert.deepEqual(charKey("7"), [0x37, "Digit7", false]);
assert.deepEqual(charKey("&"), [0x26, "Digit7", true]);
assert.deepEqual(charKey("("), [0x28, "Digit9", true]);
assert.deepEqual(charKey(")"), [0x29, "Digit0", true]);
assert.deepEqual(charKey("~"), [0x7e, "Backquote", true]);
assert.deepEqual(charKey("/"), [0x2f, "Slash", false]);
assert.deepEqual(charKey("\n"), [0xff0d, "Enter", false]);
assert.equal(charKey("é"), null);
assert.equal(charKey("€"), null);
for (let c = 0x20; c < 0x7f; c++) // every printable ASCII character has its key
    assert.notEqual(charKey(String.fromCharCode(c)), null, String.fromCharCode(c));
let t = typeEvents("aB\r\n");
assert.deepEqual(t.bad, []);
assert.equal(t.keys.length, 3);
assert.deepEqual(t.keys[0], [[0x61, "KeyA", true], [0x61, "KeyA", false]]);
assert.deepEqual(t.keys[1], [[0xffe1, "ShiftLeft", true], [0x42, "KeyB", true], [0x42, "KeyB", false], [0xffe1, "ShiftLeft", false]]);
assert.deepEqual(t.keys[2], [[0xff0d, "Enter", true], [0xff0d, "Enter", false]]);
t = typeEvents("héllo wörld é");
assert.deepEqual(t, { keys: [], bad: ["é", "ö"] });
assert.deepEqual(typeEvents("x".repeat(TYPE_MAX)).keys.length, TYPE_MAX);
assert.deepEqual(typeEvents("x".repeat(TYPE_MAX + 1)), { keys: [], bad: ["too long"] });
assert.deepEqual(typeEvents(""), { keys: [], bad: [] });
console.log("cockpit-console-js: the keys' checks passed");
