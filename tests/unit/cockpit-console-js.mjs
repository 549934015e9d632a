// SPDX-License-Identifier: MIT
// The Cockpit console's pure helpers (cockpit/src/console-state.js) under
// node: what the console shows for a VM's state and Display properties,
// and the channel URL cockpit-ws turns into `vmctl display --stdio VM`.
import assert from "node:assert/strict";
import { consoleState, channelUrl } from "../../cockpit/src/console-state.js";

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
