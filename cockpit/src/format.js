// SPDX-License-Identifier: MIT
// Pure helpers of the vmstack page: what a VM's D-Bus properties look like
// on the screen, and which operations its state allows (docs/dbus-api.md,
// "States"). No DOM and no D-Bus here, so tools/unit tests can load it.

// The operations of the VM list, in the order of their buttons, with the
// states vmms accepts them in (the table in docs/dbus-api.md). Stop is
// offered only where it shuts a guest down (not for Crashed, where it only
// cancels a pending restart).
export const ACTIONS = [
    { id: "start", method: "Start", label: "Start", kind: "primary", states: ["Off", "Crashed", "Saved"] },
    { id: "resume", method: "Resume", label: "Resume", kind: "primary", states: ["Paused"] },
    { id: "stop", method: "Stop", label: "Shut down", kind: "secondary", states: ["Starting", "Running", "Paused"], type: "u", args: [0] },
    { id: "pause", method: "Pause", label: "Pause", kind: "secondary", states: ["Running"] },
    { id: "save", method: "Save", label: "Save", kind: "secondary", states: ["Running", "Paused"] },
    { id: "reboot", method: "Reboot", label: "Restart", kind: "secondary", states: ["Running"] },
    { id: "kill", method: "Kill", label: "Turn off", kind: "danger", states: ["Starting", "Running", "Paused", "Stopping", "Saving", "Crashed"] },
];

// Further operations on the details page only.
export const MORE_ACTIONS = [
    { id: "nmi", method: "InjectNmi", label: "Send NMI", kind: "secondary", states: ["Running"] },
    { id: "discard", method: "DiscardSavedState", label: "Delete saved state", kind: "danger", states: ["Saved"] },
];

export function actionsFor(state, list = ACTIONS) {
    return list.filter(a => a.states.includes(state));
}

// A state's label colour (PatternFly label modifiers) and whether the VM
// has a worker (uptime, heartbeat and addresses mean something then).
const STATE_COLOR = {
    Running: "green", Paused: "orange", Saved: "blue", Crashed: "red",
    Starting: "teal", Stopping: "teal", Saving: "teal", Migrating: "purple", Off: "grey",
};
export function stateColor(state) {
    return STATE_COLOR[state] || "grey";
}

export function isActive(state) {
    return ["Starting", "Running", "Paused", "Stopping", "Saving", "Migrating"].includes(state);
}

// "3 d 4 h", "2 h 5 min", "4 min 12 s", "12 s" from microseconds.
export function formatDuration(us) {
    if (!Number.isFinite(us) || us < 0)
        return "";
    let s = Math.floor(us / 1e6);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d > 0)
        return `${d} d ${h} h`;
    if (h > 0)
        return `${h} h ${m} min`;
    if (m > 0)
        return `${m} min ${s} s`;
    return `${s} s`;
}

export function formatBytes(bytes) {
    if (!Number.isFinite(bytes) || bytes < 0)
        return "";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0, v = bytes;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    const text = v >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
    return `${text} ${units[i]}`;
}

// The Heartbeat property (st): the service's word and the last beat (µs).
const HEARTBEAT = {
    ok: { text: "OK", color: "green" },
    "no-contact": { text: "No contact", color: "orange" },
    lost: { text: "Lost", color: "red" },
};
export function heartbeatInfo(hb) {
    const word = Array.isArray(hb) ? hb[0] : "";
    return HEARTBEAT[word] || { text: "—", color: "grey" };
}

// A firmware VM's BootStatus (docs/firmware.md "Nothing bootable") as a
// warning for a VM with a worker: what happened and what to do; null for
// any other status or state (the property is empty after the run).
export const NOTHING_TO_BOOT = "Nothing to boot: the firmware found no bootable disk or DVD.";
export const NOTHING_TO_BOOT_HINT = "Insert a DVD or attach a bootable disk, then restart the VM.";
export function bootWarning(p) {
    return p && p.BootStatus === "no-bootable-device" && isActive(p.State)
        ? { text: NOTHING_TO_BOOT, hint: NOTHING_TO_BOOT_HINT } : null;
}

// The guest's addresses from its KVP items (hv_kvp_daemon's
// NetworkAddressIPv4/IPv6, ';'-separated lists), IPv4 first.
export function guestAddresses(kvp) {
    if (!kvp || typeof kvp !== "object")
        return [];
    const out = [];
    for (const key of ["NetworkAddressIPv4", "NetworkAddressIPv6"]) {
        const v = kvp[key];
        if (typeof v !== "string")
            continue;
        for (const a of v.split(/[;,\s]+/))
            if (a && !out.includes(a))
                out.push(a);
    }
    return out;
}

// The configuration document (the Config property, JSON) or null.
export function parseConfig(text) {
    if (typeof text !== "string" || text === "")
        return null;
    try {
        const c = JSON.parse(text);
        return c && typeof c === "object" && !Array.isArray(c) ? c : null;
    } catch {
        return null;
    }
}

// A D-Bus object path's last element back to the VM's id.
export function idFromPath(path) {
    const m = /^\/org\/vmstack\/VMMS1\/vm\/([0-9a-f_]+)$/.exec(path || "");
    return m ? m[1].replace(/_/g, "-") : "";
}
