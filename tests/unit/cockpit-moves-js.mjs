// SPDX-License-Identifier: MIT
// The Cockpit page's pure helpers under node: a move's Migrate options
// and progress sentence (cockpit/src/move-state.js), and the configuration
// changes of the boot, DVD drive, integration and automatic-action forms
// and the NIC caps' units (cockpit/src/config-edit.js).
import assert from "node:assert/strict";
import { kindsFor, kindFor, migrateCall, moveProgress, moveOutcome, finishedOutcome, rememberHost, canReconnect } from "../../cockpit/src/move-state.js";
import {
    withBoot, withIntegration, withPolicy, freeDvdPosition, withDvdDrive, withoutDvdDrive, dvdPositionName,
    mbitToBits, bitsToMbit, mibToBytes,
} from "../../cockpit/src/config-edit.js";

// The kinds a state offers: Running all three, Saved quick only, others none.
assert.deepEqual(kindsFor("Running").map(k => k.id), ["live", "storage", "quick"]);
assert.deepEqual(kindsFor("Saved").map(k => k.id), ["quick"]);
assert.deepEqual(kindsFor("Off"), []);
assert.equal(kindFor("Saved", "live"), "quick");
assert.equal(kindFor("Running", "storage"), "storage");
assert.equal(kindFor("Off", "storage"), "storage");

// Migrate's arguments: only what differs from vmms's defaults.
assert.deepEqual(migrateCall({ kind: "live", dest: " hostb:7391 ", state: "Running", autoConverge: true }),
                 { args: ["hostb:7391", { mode: { t: "s", v: "live" } }], type: "sa{sv}" });
assert.deepEqual(migrateCall({ kind: "live", dest: "b", maxDowntime: "50", autoConverge: false, postcopy: true }).args[1], {
    mode: { t: "s", v: "live" }, "max-downtime-ms": { t: "u", v: 50 }, "auto-converge": { t: "b", v: false }, postcopy: { t: "b", v: true },
});
assert.deepEqual(migrateCall({ kind: "storage", dest: "b", storagePath: " /srv/b " }).args[1],
                 { mode: { t: "s", v: "live" }, "storage-path": { t: "s", v: "/srv/b" } });
// Quick: start only when it differs from the state's default.
assert.deepEqual(migrateCall({ kind: "quick", dest: "b", state: "Running", start: true }).args[1], { mode: { t: "s", v: "quick" } });
assert.deepEqual(migrateCall({ kind: "quick", dest: "b", state: "Running", start: false }).args[1],
                 { mode: { t: "s", v: "quick" }, start: { t: "b", v: false } });
assert.deepEqual(migrateCall({ kind: "quick", dest: "b", state: "Saved", start: true }).args[1],
                 { mode: { t: "s", v: "quick" }, start: { t: "b", v: true } });
assert.deepEqual(migrateCall({ kind: "quick", dest: "b", state: "Saved", start: false }).args[1], { mode: { t: "s", v: "quick" } });
// What the page refuses to send, and says why.
assert.match(migrateCall({ kind: "live", dest: "  " }).error, /Type the destination/);
assert.match(migrateCall({ kind: "live", dest: "a b" }).error, /without spaces/);
assert.match(migrateCall({ kind: "live", dest: "b", maxDowntime: "1.5" }).error, /whole number of milliseconds/);
assert.match(migrateCall({ kind: "storage", dest: "b", storagePath: "" }).error, /directory on the destination/);

// Progress: nothing outside a move; a save's share; a live pass; a quick
// migration's bytes against the save's total; a throttle and a cut channel.
assert.equal(moveProgress({ State: "Running" }), null);
assert.equal(moveProgress(undefined), null);
assert.deepEqual(moveProgress({ State: "Saving", SaveProgress: [512, 1024] }),
                 { text: "Saving the VM before it moves: 50 % (512 B of 1 KiB)", pct: 50 });
assert.equal(moveProgress({ State: "Saving", SaveProgress: [0, 0] }).pct, null);
assert.equal(moveProgress({ State: "Migrating", MigrationProgress: [0, 0, 0, 0, 0] }).text, "Connecting to the destination…");
assert.equal(moveProgress({ State: "Migrating", MigrationProgress: [3, 2097152, 120, 4000, 12] }).text,
             "Pass 3: 2 MiB sent, 120 pages dirty (4000 pages/s), expected downtime 12 ms");
assert.equal(moveProgress({ State: "Migrating", MigrationProgress: [1, 1048576, 0, 0, 0], SaveProgress: [4194304, 4194304] }, "quick").text,
             "Moving its saved state: 1 MiB sent of 4 MiB");
assert.equal(moveProgress({ State: "Migrating", MigrationProgress: [1, 1048576, 0, 0, 0], SaveProgress: [4194304, 4194304] }, "quick").pct, 25);
assert.equal(moveProgress({ State: "Migrating", MigrationProgress: [5, 0, 9, 9, 40], MigrationThrottle: 30,
                            MigrationChannel: ["cut", true, 1, "connection reset", 0] }).text,
             "Pass 5: 0 B sent, 9 pages dirty (9 pages/s), expected downtime 40 ms, vCPUs throttled 30 %; " +
             "the connection is cut (connection reset), reconnecting until it is back");
// The outcome says where the VM is now.
assert.equal(moveOutcome("web1", "b", "live", undefined, "Running", 1.234), "web1 moved to b in 1.2 s; it runs there now.");

// A move started elsewhere: vmms's MigrationFinished in words.
assert.deepEqual(finishedOutcome({ name: "web1", outcome: "moved", dest: "b:7390", there: "Running", message: "" }),
                 { level: "success", outcome: "moved", title: "Moved web1", text: "web1 moved to b:7390; it runs there now." });
assert.equal(finishedOutcome({ name: "web1", outcome: "moved", dest: "b:7390", there: "Saved", message: "" }).text,
             "web1 moved to b:7390; it is Saved there now.");
assert.deepEqual(finishedOutcome({ name: "web1", outcome: "moved", dest: "b:7390", there: "Saved",
                                   message: "VM 'web1' moved to b, but it stays Saved there: no memory" }),
                 { level: "warning", outcome: "moved", title: "Moved web1",
                   text: "web1 moved to b:7390; it is Saved there now. VM 'web1' moved to b, but it stays Saved there: no memory" });
assert.deepEqual(finishedOutcome({ name: "web1", outcome: "failed", dest: "b:7390", there: "",
                                   message: "cannot migrate VM 'web1' to b: Connection refused" }),
                 { level: "danger", outcome: "failed", title: "The move of web1 to b:7390 failed",
                   text: "cannot migrate VM 'web1' to b: Connection refused" });
assert.deepEqual(finishedOutcome({ name: "web1", outcome: "cancelled", dest: "b:7390", there: "",
                                   message: "cannot migrate VM 'web1' to b: cancelled" }),
                 { level: "warning", outcome: "cancelled", title: "The move of web1 to b:7390 was cancelled",
                   text: "It stays on this host (cannot migrate VM 'web1' to b: cancelled)." });
assert.equal(finishedOutcome({ name: "web1", outcome: "odd", dest: "b", there: "", message: "" }).text,
             "vmms gave no reason");

// The known destinations: the latest first, no repeats, at most 8; junk stored is none.
assert.deepEqual(rememberHost([], " b:7390 "), ["b:7390"]);
assert.deepEqual(rememberHost(["a", "b:7390", "c"], "b:7390"), ["b:7390", "a", "c"]);
assert.deepEqual(rememberHost(["a", "b"], ""), ["a", "b"]);
assert.deepEqual(rememberHost({ x: 1 }, "a"), ["a"]);
assert.deepEqual(rememberHost(["a", 7, null, ""], ""), ["a"]);
assert.deepEqual(rememberHost(["1", "2", "3", "4", "5", "6", "7", "8"], "9"), ["9", "1", "2", "3", "4", "5", "6", "7"]);
// Reconnect: a live move's channel, up or cut; not a quick move's transfer.
assert.equal(canReconnect({ State: "Migrating", MigrationChannel: ["up", false, 0, "", 0] }), true);
assert.equal(canReconnect({ State: "Migrating", MigrationChannel: ["cut", false, 1, "reset", 0] }), true);
assert.equal(canReconnect({ State: "Migrating", MigrationChannel: ["closed", false, 0, "", 0] }), false);
assert.equal(canReconnect({ State: "Migrating", MigrationChannel: ["", false, 0, "", 0] }), false);
assert.equal(canReconnect({ State: "Running", MigrationChannel: ["up", false, 0, "", 0] }), false);
assert.equal(canReconnect(undefined), false);
assert.equal(moveOutcome("web1", "b", "quick", false, "Running", 2), "web1 moved to b in 2.0 s; it is Saved there now.");
assert.equal(moveOutcome("web1", "b", "quick", undefined, "Saved", 2), "web1 moved to b in 2.0 s; it is Saved there now.");

// The boot: one kind's fields only; empty optional ones left out.
const kernelVm = { name: "a", boot: { kind: "pvh", kernel: "/k", cmdline: "x" }, vcpus: 1 };
assert.deepEqual(withBoot(kernelVm, { kind: "firmware", order: "disk,dvd", firmware: "", kernel: "/k" }).boot,
                 { kind: "firmware", order: ["disk", "dvd"] });
assert.deepEqual(withBoot(kernelVm, { kind: "firmware", order: "dvd", firmware: " /fw/bios.bin " }).boot,
                 { kind: "firmware", order: ["dvd"], firmware: "/fw/bios.bin" });
assert.deepEqual(withBoot(kernelVm, { kind: "linux", kernel: " /bz ", initrd: "/i", cmdline: "" }).boot,
                 { kind: "linux", kernel: "/bz", initrd: "/i" });
assert.deepEqual(kernelVm.boot, { kind: "pvh", kernel: "/k", cmdline: "x" }, "the document given is not changed");
assert.equal(withBoot(kernelVm, { kind: "pvh", kernel: "/k" }).vcpus, 1);

// Integration services and automatic actions.
assert.deepEqual(withIntegration({ integration: { kvp: true, shutdown: true, timesync_interval_s: 5 } }, { kvp: false, vss: true }).integration,
                 { kvp: false, shutdown: true, vss: true, timesync_interval_s: 5 });
assert.deepEqual(withPolicy({ name: "a" }, { restart_policy: "always", stop_timeout_s: " 45 ", checkpoint_type: "standard" }),
                 { name: "a", restart_policy: "always", stop_timeout_s: 45, checkpoint_type: "standard" });
assert.equal(withPolicy({}, { restart_policy: "never", stop_timeout_s: "soon", checkpoint_type: "disabled" }).stop_timeout_s, "soon");

// DVD drives: vmms's order of positions, IDE disks' places taken.
assert.deepEqual(freeDvdPosition({}), { channel: 1, position: 0 });
assert.deepEqual(freeDvdPosition({ dvd_drives: [{ channel: 1, position: 0 }] }), { channel: 1, position: 1 });
assert.deepEqual(freeDvdPosition({ disks: [{ bus: "ide", lun: 2 }, { bus: "ide", lun: 3 }, { lun: 1 }] }), { channel: 0, position: 1 });
assert.equal(freeDvdPosition({ disks: [0, 1, 2, 3].map(lun => ({ bus: "ide", lun })) }), null);
assert.equal(withDvdDrive({ disks: [0, 1, 2, 3].map(lun => ({ bus: "ide", lun })) }), null);
assert.deepEqual(withDvdDrive({ dvd_drives: [{ channel: 1, position: 0, path: "/a.iso" }] }).dvd_drives,
                 [{ channel: 1, position: 0, path: "/a.iso" }, { channel: 1, position: 1 }]);
assert.deepEqual(withoutDvdDrive({ dvd_drives: [{ channel: 1, position: 0 }, { channel: 1, position: 1 }] }, 0).dvd_drives,
                 [{ channel: 1, position: 1 }]);
assert.equal("dvd_drives" in withoutDvdDrive({ dvd_drives: [{ channel: 1, position: 0 }] }, 0), false);
assert.equal(dvdPositionName({ channel: 1, position: 0 }), "IDE 1:0 (secondary master)");
assert.equal(dvdPositionName({ channel: 0, position: 1 }), "IDE 0:1 (primary slave)");

// A disk's new size: whole MiB typed, bytes sent; anything else is NaN.
assert.equal(mibToBytes(" 4 "), 4194304);
assert.equal(mibToBytes("20480"), 21474836480);
for (const bad of ["", "0", "1.5", "-1", "1e3", "04", "abc", "1234567890"])
    assert.ok(Number.isNaN(mibToBytes(bad)), bad);

// NIC caps: Mbit/s typed, bits a second sent.
assert.equal(mbitToBits(""), 0);
assert.equal(mbitToBits(" 100 "), 100000000);
assert.equal(mbitToBits("0.5"), 500000);
assert.ok(Number.isNaN(mbitToBits("1e3")));
assert.ok(Number.isNaN(mbitToBits("-1")));
assert.equal(bitsToMbit(250000000), "250");
assert.equal(bitsToMbit(undefined), "0");
console.log("cockpit-moves-js: all checks passed");
