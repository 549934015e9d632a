// SPDX-License-Identifier: MIT
// The Cockpit page's pure helpers (cockpit/src/format.js, errors.js) under
// node: the operations each state offers match docs/dbus-api.md's table,
// the formats, the guest's addresses from KVP, and error names as sentences.
import assert from "node:assert/strict";
import { ACTIONS, MORE_ACTIONS, actionsFor, formatDuration, formatBytes, heartbeatInfo, guestAddresses, parseConfig, idFromPath, stateColor, isActive } from "../../cockpit/src/format.js";
import { describeError } from "../../cockpit/src/errors.js";

const ids = state => actionsFor(state, ACTIONS.concat(MORE_ACTIONS)).map(a => a.id);
// docs/dbus-api.md "States": where vmms accepts each method.
assert.deepEqual(ids("Off"), ["start"]);
assert.deepEqual(ids("Running"), ["stop", "pause", "save", "reboot", "kill", "nmi"]);
assert.deepEqual(ids("Paused"), ["resume", "stop", "save", "kill"]);
assert.deepEqual(ids("Saved"), ["start", "discard"]);
assert.deepEqual(ids("Crashed"), ["start", "kill"]);
assert.deepEqual(ids("Stopping"), ["kill"]);
assert.deepEqual(ids("Saving"), ["kill"]);
assert.deepEqual(ids("Migrating"), []);
assert.deepEqual(ids("Bogus"), []);
assert.equal(ACTIONS.find(a => a.id === "stop").type, "u");
assert.deepEqual(ACTIONS.find(a => a.id === "stop").args, [0]);
assert.equal(stateColor("Running"), "green");
assert.equal(stateColor("Nonsense"), "grey");
assert.ok(isActive("Paused") && !isActive("Saved") && !isActive("Off"));

assert.equal(formatDuration(0), "0 s");
assert.equal(formatDuration(59.9e6), "59 s");
assert.equal(formatDuration(61e6), "1 min 1 s");
assert.equal(formatDuration(3 * 3600e6 + 5 * 60e6), "3 h 5 min");
assert.equal(formatDuration(2 * 86400e6 + 3600e6), "2 d 1 h");
assert.equal(formatDuration(-1), "");
assert.equal(formatDuration(NaN), "");
assert.equal(formatBytes(512), "512 B");
assert.equal(formatBytes(64 * 1048576), "64 MiB");
assert.equal(formatBytes(1.5 * 1073741824), "1.5 GiB");
assert.equal(formatBytes(24105 * 1048576), "23.5 GiB");
assert.equal(formatBytes(-5), "");

assert.deepEqual(heartbeatInfo(["ok", 1]), { text: "OK", color: "green" });
assert.equal(heartbeatInfo(["lost", 1]).color, "red");
assert.equal(heartbeatInfo(["unknown", 0]).text, "—");
assert.equal(heartbeatInfo(null).text, "—");

assert.deepEqual(guestAddresses({ NetworkAddressIPv4: "10.0.0.5;192.168.1.2", NetworkAddressIPv6: "fe80::1", OSName: "x" }),
                 ["10.0.0.5", "192.168.1.2", "fe80::1"]);
assert.deepEqual(guestAddresses({ NetworkAddressIPv4: "10.0.0.5;10.0.0.5;" }), ["10.0.0.5"]);
assert.deepEqual(guestAddresses({}), []);
assert.deepEqual(guestAddresses(null), []);
assert.deepEqual(guestAddresses({ NetworkAddressIPv4: 7 }), []);

assert.deepEqual(parseConfig('{"vcpus":2}'), { vcpus: 2 });
assert.equal(parseConfig("[1]"), null);
assert.equal(parseConfig("{broken"), null);
assert.equal(parseConfig(""), null);
assert.equal(parseConfig(undefined), null);
assert.equal(idFromPath("/org/vmstack/VMMS1/vm/3f2a9c1d_0b7e_4c55_9a0e_7d2b1c4e5f60"), "3f2a9c1d-0b7e-4c55-9a0e-7d2b1c4e5f60");
assert.equal(idFromPath("/org/vmstack/VMMS1"), "");

// Named errors: a sentence for the name, vmms's message as the detail.
let e = describeError({ name: "org.vmstack.Error.InvalidState", message: "VM 'web1': Pause is not possible while the VM is Off (possible in: Running)" });
assert.equal(e.summary, "This is not possible in the VM's present state.");
assert.match(e.detail, /possible in: Running/);
assert.equal(e.name, "org.vmstack.Error.InvalidState");
e = describeError({ name: "org.vmstack.Error.PermissionDenied", message: "not in group vmstack" });
assert.equal(e.summary, "You are not allowed to do this.");
assert.equal(describeError({ name: "org.vmstack.Error.SomethingNew", message: "m" }).summary, "The operation failed.");
assert.equal(describeError({ problem: "not-found", message: "not-found" }).summary, "The vmstack service (vmms) is not running on this host.");
assert.equal(describeError({ problem: "not-found", message: "not-found" }).detail, "");
assert.equal(describeError({ name: "org.freedesktop.DBus.Error.ServiceUnknown", message: "x" }).summary, "The vmstack service (vmms) is not running on this host.");
assert.equal(describeError("boom").summary, "Something went wrong.");
assert.equal(describeError("boom").detail, "boom");
assert.equal(describeError(null).summary, "Something went wrong.");
console.log("cockpit-js: all checks passed");
