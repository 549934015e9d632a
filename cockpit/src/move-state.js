// SPDX-License-Identifier: MIT
// A move to another host (docs/migration.md; docs/dbus-api.md "Migrate"):
// the kinds vmms offers, the call's options from the page's form, its
// progress properties as a sentence, and the outcome. Pure: no DOM, no
// D-Bus; vmms checks every value (the destination's address, its
// policy, the storage directory) and its refusal is the page's alert.
import { formatBytes } from "./format.js";

// The kinds of move, as Hyper-V Manager's Move wizard names them. Live
// and shared-nothing move a Running VM; quick also a Saved one (which is
// always moved that way: its saved state goes, docs/migration.md "Quick
// migration").
export const MOVE_KINDS = [
    { id: "live", label: "Live", states: ["Running"],
      hint: "The VM runs on while its memory moves; the disks must be reachable from there at the same paths (shared storage)." },
    { id: "storage", label: "Shared-nothing", states: ["Running"],
      hint: "Live, and its writable disks are copied while it runs into new images in a directory there; the images here stay." },
    { id: "quick", label: "Quick", states: ["Running", "Saved"],
      hint: "The VM is saved here, its saved state moves, and it is resumed there: paused for seconds, but nothing has to converge." },
];

// The states a move can start in, and those it can be cancelled in (a
// quick migration's question to the destination runs while the VM is
// still Running: the page cancels it only while its own call waits).
export const MOVE_STATES = ["Running", "Saved"];
export const CANCEL_STATES = ["Migrating"];
export const DEFAULT_PORT = 7390;

export function kindsFor(state) {
    return MOVE_KINDS.filter(k => k.states.includes(state));
}

// The kind the form shows for a state: what the user chose when that kind
// is possible, else the first one that is (a Saved VM: quick).
export function kindFor(state, chosen) {
    const kinds = kindsFor(state);
    return kinds.some(k => k.id === chosen) ? chosen : kinds.length ? kinds[0].id : chosen;
}

// A whole number typed into a field, or null when empty; NaN otherwise.
function wholeOrNull(s) {
    const t = String(s ?? "").trim();
    if (t === "")
        return null;
    return /^\d+$/.test(t) ? Number(t) : NaN;
}

// The form's answers {kind, dest, storagePath, start, maxDowntime,
// autoConverge, postcopy, state} as Migrate's arguments: {args: [dest,
// options], type: "sa{sv}"} with options as cockpit.dbus writes a{sv}
// ({key: {t, v}}); or {error} saying which answer cannot be sent. Only
// what differs from vmms's defaults is sent, as vmctl migrate does.
export function migrateCall(f) {
    const dest = String(f.dest ?? "").trim();
    if (dest === "")
        return { error: `Type the destination: a host name or address, with :PORT when its vmms does not listen on ${DEFAULT_PORT}.` };
    if (/\s/.test(dest))
        return { error: "The destination is one host name or address (HOST or HOST:PORT), without spaces." };
    const o = {};
    if (f.kind === "quick") {
        o.mode = { t: "s", v: "quick" };
        // A Running VM runs there by default, a Saved one stays Saved.
        const dflt = f.state !== "Saved";
        if (f.start !== undefined && !!f.start !== dflt)
            o.start = { t: "b", v: !!f.start };
    } else {
        o.mode = { t: "s", v: "live" };
        const ms = wholeOrNull(f.maxDowntime);
        if (Number.isNaN(ms))
            return { error: "The maximum downtime is a whole number of milliseconds (empty: vmms's 300)." };
        if (ms !== null)
            o["max-downtime-ms"] = { t: "u", v: ms };
        if (f.autoConverge === false)
            o["auto-converge"] = { t: "b", v: false };
        if (f.postcopy)
            o.postcopy = { t: "b", v: true };
        if (f.kind === "storage") {
            const dir = String(f.storagePath ?? "").trim();
            if (dir === "")
                return { error: "Type the directory on the destination that the disks are copied into." };
            o["storage-path"] = { t: "s", v: dir };
        }
    }
    return { args: [dest, o], type: "sa{sv}" };
}

// What the VM's properties say of the move in progress (or the save a
// quick migration begins with), {text, pct} with pct null when no share
// is known; null when nothing moves. kind: the page's own call's kind, or
// undefined for a move started elsewhere (vmctl).
export function moveProgress(p, kind) {
    if (!p)
        return null;
    if (p.State === "Saving") {
        const [done, total] = Array.isArray(p.SaveProgress) ? p.SaveProgress : [0, 0];
        if (!(total > 0))
            return { text: "Saving the VM before it moves…", pct: null };
        const pct = Math.min(100, Math.floor(done * 100 / total));
        return { text: `Saving the VM before it moves: ${pct} % (${formatBytes(done)} of ${formatBytes(total)})`, pct };
    }
    if (p.State !== "Migrating")
        return null;
    const [pass, bytes, dirty, rate, downtime] = Array.isArray(p.MigrationProgress) ? p.MigrationProgress : [0, 0, 0, 0, 0];
    if (!(pass > 0))
        return { text: "Connecting to the destination…", pct: null };
    if (kind === "quick") {
        const [, total] = Array.isArray(p.SaveProgress) ? p.SaveProgress : [0, 0];
        const pct = total > 0 ? Math.min(100, Math.floor(bytes * 100 / total)) : null;
        return { text: `Moving its saved state: ${formatBytes(bytes)} sent` + (pct !== null ? ` of ${formatBytes(total)}` : ""), pct };
    }
    let text = `Pass ${pass}: ${formatBytes(bytes)} sent, ${dirty} pages dirty (${rate} pages/s), expected downtime ${downtime} ms`;
    if (p.MigrationThrottle > 0)
        text += `, vCPUs throttled ${p.MigrationThrottle} %`;
    const chan = Array.isArray(p.MigrationChannel) ? p.MigrationChannel : [];
    if (chan[0] === "cut")
        text += `; the connection is cut (${chan[3] || "no reason given"}), reconnecting${chan[1] ? " until it is back" : ""}`;
    return { text, pct: null };
}

// The sentence after a move that worked: where the VM is now.
export function moveOutcome(name, dest, kind, start, state, seconds) {
    const runs = kind !== "quick" || (start !== undefined ? !!start : state !== "Saved");
    return `${name} moved to ${dest} in ${seconds.toFixed(1)} s; it ${runs ? "runs" : "is Saved"} there now.`;
}

// A move's end as vmms announced it (MigrationFinished), for a move this
// page did not start (vmctl, another page): {level, outcome, title, text}
// for the status on top. outcome: "moved", "failed" or "cancelled"; there:
// the VM's state on the destination when it moved; message: vmms's
// sentence ("" when it moved as asked).
export function finishedOutcome({ name, outcome, dest, there, message }) {
    if (outcome === "moved") {
        const where = there === "Running" ? "; it runs there now" : there === "Saved" ? "; it is Saved there now" : "";
        return { level: message ? "warning" : "success", outcome, title: `Moved ${name}`,
                 text: `${name} moved to ${dest}${where}.` + (message ? ` ${message}` : "") };
    }
    if (outcome === "cancelled")
        return { level: "warning", outcome, title: `The move of ${name} to ${dest} was cancelled`,
                 text: `It stays on this host${message ? ` (${message})` : ""}.` };
    return { level: "danger", outcome: "failed", title: `The move of ${name} to ${dest} failed`,
             text: message || "vmms gave no reason" };
}

// The destinations the page remembers (move.js keeps them in the
// browser's localStorage): dest first, then the others it knew, without
// repeats, at most max. A stored value that is not a list of strings is
// none.
export const KNOWN_HOSTS_MAX = 8;
export function rememberHost(known, dest, max = KNOWN_HOSTS_MAX) {
    const list = Array.isArray(known) ? known.filter(h => typeof h === "string" && h !== "") : [];
    const d = String(dest ?? "").trim();
    return (d ? [d, ...list.filter(h => h !== d)] : list).slice(0, max);
}

// Whether a VM's move has a live vmms-to-vmms channel that
// ReconnectMigration can point elsewhere (a live move, its channel up or
// cut and being resumed; not a quick move's transfer).
export function canReconnect(p) {
    const chan = p && Array.isArray(p.MigrationChannel) ? p.MigrationChannel : [];
    return !!p && p.State === "Migrating" && (chan[0] === "up" || chan[0] === "cut");
}
