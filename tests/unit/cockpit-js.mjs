// SPDX-License-Identifier: MIT
// The Cockpit page's pure helpers (cockpit/src/format.js, errors.js) under
// node: the operations each state offers match docs/dbus-api.md's table,
// the formats, the guest's addresses from KVP, and error names as sentences.
import assert from "node:assert/strict";
import { ACTIONS, MORE_ACTIONS, actionsFor, formatDuration, formatBytes, heartbeatInfo, guestAddresses, parseConfig, idFromPath, stateColor, isActive, bootWarning, NOTHING_TO_BOOT } from "../../cockpit/src/format.js";
import { describeError } from "../../cockpit/src/errors.js";
import { parseMetrics, parseAllMetrics, parseMetricsList, historyPoints, graphPoint, rates, niceMax, formatPercent, formatRate, polylinePoints } from "../../cockpit/src/metrics.js";
import { withSettings, newVmConfig, numberOrText, bytesBase64, parsePools, STATES } from "../../cockpit/src/config-edit.js";
import { classifyPoolImages } from "../../cockpit/src/pools.js";
import { accessState, isManaging } from "../../cockpit/src/access.js";
import { carriedEdits, controlValues } from "../../cockpit/src/form-edits.js";

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

// A firmware VM that found nothing to boot: a warning while it has a worker.
assert.equal(bootWarning({ BootStatus: "no-bootable-device", State: "Running" }).text, NOTHING_TO_BOOT);
assert.match(bootWarning({ BootStatus: "no-bootable-device", State: "Paused" }).hint, /Insert a DVD or attach a bootable disk/);
assert.equal(bootWarning({ BootStatus: "no-bootable-device", State: "Off" }), null);
assert.equal(bootWarning({ BootStatus: "booted", State: "Running" }), null);
assert.equal(bootWarning({ BootStatus: "firmware", State: "Running" }), null);
assert.equal(bootWarning({ State: "Running" }), null);
assert.equal(bootWarning(null), null);

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

// Metering: a GetMetrics document into totals; rates between two samples
// (the page's own), vmms's rates when they do not compare.
const doc = (t, k, extra = {}) => JSON.stringify({
    state: "Running", sampled_at_us: t, reset_at_us: 5,
    memory: { assigned_bytes: 1 << 30, demand_bytes: 1 << 29 },
    cpu: { total_ns: 2 * k * 1e7, use_percent: 7, vcpus: [{ vcpu: 0, ns: k * 1e7, use_percent: 3 }, { vcpu: 1, ns: k * 1e7, use_percent: 4 }] },
    disks: [{ read_bytes: 512 * k, write_bytes: 4096 * k, read_bytes_per_s: 11, write_bytes_per_s: 22 }, { read_bytes: 0, write_bytes: 4096 * k }],
    nics: [{ rx_bytes: 1500 * k, tx_bytes: 1000 * k, rx_bytes_per_s: 33, tx_bytes_per_s: 44 }], ...extra });
const s1 = parseMetrics(doc(1e6, 1)), s2 = parseMetrics(doc(3e6, 101));
assert.equal(s1.diskW, 8192);
assert.deepEqual(s1.vcpuNs, [1e7, 1e7]);
let r = rates(s1, s2); // 2 s apart: each vCPU 1 s of CPU time: 50 %
assert.equal(r.cpu, 50);
assert.deepEqual(r.vcpus, [50, 50]);
assert.equal(r.diskW, 8192 * 100 / 2);
assert.equal(r.netRx, 1500 * 100 / 2);
assert.equal(r.memAssigned, 1 << 30);
r = rates(null, s1); // no earlier sample: vmms's own rates
assert.equal(r.cpu, 7);
assert.deepEqual(r.vcpus, [3, 4]);
assert.equal(r.diskR, 11);
assert.equal(rates(s2, s1).cpu, 7); // a counter went back (a new worker)
assert.equal(rates(s1, parseMetrics(doc(3e6, 101, { reset_at_us: 9 }))).cpu, 7); // a reset between
assert.equal(rates(s1, parseMetrics(doc(1e6, 101))).cpu, 7); // no time between
// GetMetricsHistory: the samples in order, each a graph point at its time
// on the browser's clock; the first (and one after a new worker) with
// vmms's own rates.
const hist = parseMetricsList(`[${doc(1e6, 1)},"junk",${doc(3e6, 101)},${doc(5e6, 2)}]`);
assert.equal(hist.length, 3);
const hp = historyPoints(hist, 1e6); // the browser's clock 1 s ahead
assert.deepEqual(hp.map(p => p.t), [2000, 4000, 6000]);
assert.deepEqual(hp.map(p => p.cpu), [7, 50, 7]);
assert.equal(hp[1].vcpu1, 50);
assert.equal(hp[1].diskW, 8192 * 100 / 2);
assert.deepEqual(parseMetricsList("{}"), []);
assert.deepEqual(parseMetricsList("[not json"), []);
assert.deepEqual(historyPoints([]), []);
assert.deepEqual(graphPoint({ cpu: 1, vcpus: [2, 3] }, 9), { cpu: 1, vcpus: [2, 3], vcpu0: 2, vcpu1: 3, t: 9 });
assert.equal(parseMetrics("{not json"), null);
assert.equal(parseMetrics("[]"), null);
assert.equal(parseMetrics('{"cpu":{"total_ns":-5,"vcpus":"x"},"disks":7}').cpuNs, 0);
assert.equal(niceMax([0.3]), 1);
assert.equal(niceMax([3.2]), 5);
assert.equal(niceMax([1800], 1000), 2000);
assert.equal(niceMax([NaN], 1000), 1000);
assert.equal(formatPercent(0.5), "0.5 %");
assert.equal(formatPercent(42), "42 %");
assert.equal(formatRate(999), "999 B/s");
assert.equal(formatRate(1900), "1.9 kB/s");
assert.equal(formatRate(-1), "0 B/s");
const pts = [{ t: 0, v: 0 }, { t: 50, v: 5 }, { t: 100, v: 20 }];
assert.equal(polylinePoints(pts, "v", 100, 100, 200, 10, 10), "0.0,10.0 100.0,5.0 200.0,0.0");
assert.equal(polylinePoints(pts, "v", 200, 100, 200, 10, 10), "0.0,0.0"); // older than the window: left out; above the top: at the top

// Settings: only what changed is written; the values as typed go to vmms.
const cfg = { name: "w", vcpus: 1, memory_mib: 64, boot: { kernel: "/k" } };
assert.deepEqual(withSettings(cfg, { vcpus: "2", memory_mib: "128", dm: { enabled: false }, processor: { limit_pct: "100", weight: "100" } }),
                 { name: "w", vcpus: 2, memory_mib: 128, boot: { kernel: "/k" } });
assert.deepEqual(withSettings(cfg, { vcpus: "1", memory_mib: "64", dm: { enabled: false }, processor: { limit_pct: "50", weight: "100" } }).processor,
                 { limit_pct: 50 });
assert.equal(withSettings(cfg, { vcpus: "x1", memory_mib: "64", dm: { enabled: false }, processor: { limit_pct: "100", weight: "100" } }).vcpus, "x1");
assert.deepEqual(withSettings(cfg, { vcpus: "1", memory_mib: "64", dm: { enabled: true, minimum_mib: "32", maximum_mib: "", buffer_percent: "" },
                                     processor: { limit_pct: "100", weight: "100" } }).dynamic_memory, { enabled: true, minimum_mib: 32 });
assert.deepEqual(cfg, { name: "w", vcpus: 1, memory_mib: 64, boot: { kernel: "/k" } }); // not changed in place
assert.equal(numberOrText(" 12 "), 12);
assert.equal(numberOrText("-1"), "-1");
assert.deepEqual(STATES.devices, ["Off", "Crashed", "Running"]);
assert.deepEqual(STATES.delete, ["Off", "Crashed", "Saved"]);
// A new VM: a firmware VM's disk on IDE and the ISO in the secondary master.
assert.deepEqual(newVmConfig({ name: " n ", vcpus: "2", memory_mib: "512", boot: "firmware", order: ["disk", "dvd"], disk: "/p/n.vhdx", iso: "/p/i.iso" }),
                 { name: "n", vcpus: 2, memory_mib: 512, boot: { kind: "firmware", order: ["disk", "dvd"] },
                   disks: [{ path: "/p/n.vhdx", bus: "ide" }], dvd_drives: [{ channel: 1, position: 0, path: "/p/i.iso" }] });
assert.deepEqual(newVmConfig({ name: "k", vcpus: "1", memory_mib: "64", boot: "kernel", kernel: "/p/vmlinuz", disk: "", iso: "" }),
                 { name: "k", vcpus: 1, memory_mib: 64, boot: { kernel: "/p/vmlinuz" } });
assert.equal(bytesBase64("#cloud-config\nä"), Buffer.from("#cloud-config\nä").toString("base64"));
assert.deepEqual(parsePools(["/a", "/b:ro", 7, "rel"]), [{ dir: "/a", readOnly: false }, { dir: "/b", readOnly: true }]);
assert.deepEqual(parsePools(undefined), []);
// ListPoolImages' rows into the wizard's lists (vmms says the format)
assert.deepEqual(classifyPoolImages("/p", [["a.img", "raw", 1, 1, []], ["b.vhdx", "vhdx", 1, 1, ["vm"]], ["c.avhdx", "vhdx", 1, 1, []],
                                            ["d.ISO", "iso", 1, 1, []], ["vmlinuz", "file", 1, 1, []], ["x.json", "file", 1, 1, []]]),
                 { isos: ["/p/d.ISO"], disks: ["/p/a.img", "/p/b.vhdx"], other: ["/p/vmlinuz"] });
assert.deepEqual(classifyPoolImages("/p", undefined), { isos: [], disks: [], other: [] });
// GetAllMetrics: one array, by VM id; what is not a document is left out
const all = parseAllMetrics(JSON.stringify([JSON.parse(doc(1e6, 1, { id: "x" })), { id: "y" }, 7, JSON.parse(doc(2e6, 5)),
                                            JSON.parse(doc(2e6, 5, { id: "z" }))]));
assert.deepEqual([...all.keys()], ["x", "z"]);
assert.equal(all.get("z").cpuNs, 1e8);
assert.equal(parseAllMetrics("{").size, 0);
assert.equal(parseAllMetrics('{"a":1}').size, 0);
// GetCallerAccess: read-only only on vmms's "read"; which buttons manage
assert.deepEqual(accessState(["read", "user 65534 may not do this"]), { readOnly: true, reason: "user 65534 may not do this" });
assert.deepEqual(accessState(["manage", "user 0 is root"]), { readOnly: false, reason: "" });
assert.deepEqual(accessState(null), { readOnly: false, reason: "" });
assert.ok(isManaging("start") && isManaging("wizard-open") && isManaging("checkpoint-create") && isManaging("disk-attach"));
assert.ok(!isManaging("back") && !isManaging("console") && !isManaging("wizard-cancel") && !isManaging(undefined));
// A form rebuilt from a changed Config keeps what was typed into a field
// whose setting did not change, and shows the new value where it did.
const m = o => new Map(Object.entries(o));
assert.deepEqual([...carriedEdits(m({ "max#0": "500", "min#0": "0", "bps#0": "0" }),
                                  m({ "max#0": "500", "min#0": "600", "bps#0": "0" }),
                                  m({ "max#0": "500", "min#0": "0", "bps#0": "1000000" }))], [["min#0", "600"]]);
// typed and then saved: the new build holds it, nothing to carry
assert.equal(carriedEdits(m({ "max#0": "0" }), m({ "max#0": "500" }), m({ "max#0": "500" })).size, 0);
// typed, but changed underneath: the new value wins
assert.equal(carriedEdits(m({ "w#0": "100" }), m({ "w#0": "7" }), m({ "w#0": "50" })).size, 0);
// a field gone (its disk detached), or a first build: nothing
assert.equal(carriedEdits(m({ "min#1": "0" }), m({ "min#1": "9" }), m({})).size, 0);
assert.equal(carriedEdits(new Map(), m({ "a#0": "1" }), m({ "a#0": "0" })).size, 0);
// checkboxes by their state; names that repeat by their order
const cv = controlValues([{ name: "dm", type: "checkbox", checked: true }, { name: "iso", type: "text", value: "a" },
                          { name: "iso", type: "text", value: "b" }]);
assert.deepEqual([...cv.values], [["dm#0", "true"], ["iso#0", "a"], ["iso#1", "b"]]);
console.log("cockpit-js: all checks passed");
