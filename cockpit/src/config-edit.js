// SPDX-License-Identifier: MIT
// The configuration documents the page sends (docs/dbus-api.md "The
// configuration document", common/config.h): an edited VM's (Update) and a
// new VM's (CreateVM). Pure: no DOM, no D-Bus; vmms checks every value and
// its refusal names the field, so nothing here second-guesses a limit.

// The states each change is accepted in (docs/dbus-api.md "States").
export const STATES = {
    hardware: ["Off", "Crashed"], // vCPUs, memory, Dynamic Memory (Update)
    processor: ["Off", "Crashed", "Saved", "Running", "Paused"], // processor limit and weight (Update)
    qos: ["Off", "Crashed", "Saved", "Running", "Paused"], // SetDiskQoS
    devices: ["Off", "Crashed", "Running"], // AttachDisk, DetachDisk, ResizeDisk, AttachNic, DetachNic
    delete: ["Off", "Crashed", "Saved"],
};

// A number as the user typed it: whole numbers become numbers; anything
// else is sent as typed (vmms refuses it and names the field).
export function numberOrText(s) {
    const t = String(s ?? "").trim();
    return /^\d+$/.test(t) ? Number(t) : t;
}

// The VM's configuration with the settings form's values: {vcpus,
// memory_mib, dm: {enabled, minimum_mib, maximum_mib, buffer_percent},
// processor: {limit_pct, weight}}. Only what differs from the document is
// written, so that an Update of a running VM changes only the processor
// when only the processor was edited.
export function withSettings(config, v) {
    const c = JSON.parse(JSON.stringify(config));
    const set = (obj, key, val, dflt) => {
        const n = numberOrText(val);
        if ((obj[key] ?? dflt) !== n)
            obj[key] = n;
    };
    set(c, "vcpus", v.vcpus, 1);
    set(c, "memory_mib", v.memory_mib, undefined);
    const dm = { ...(c.dynamic_memory || {}) };
    if (!!dm.enabled !== !!v.dm.enabled)
        dm.enabled = !!v.dm.enabled;
    if (v.dm.enabled)
        for (const k of ["minimum_mib", "maximum_mib", "buffer_percent"])
            if (String(v.dm[k] ?? "").trim() !== "")
                set(dm, k, v.dm[k], undefined);
    if (Object.keys(dm).length)
        c.dynamic_memory = dm;
    const p = { ...(c.processor || {}) };
    set(p, "limit_pct", v.processor.limit_pct, 100);
    set(p, "weight", v.processor.weight, 100);
    if (Object.keys(p).length)
        c.processor = p;
    return c;
}

// A new VM's configuration from the wizard's answers: {name, vcpus,
// memory_mib, boot: "firmware"|"kernel", kernel, order: ["dvd","disk"],
// disk (path or ""), iso (path or "")}. A firmware VM's disk is on IDE
// (SeaBIOS boots IDE; docs/firmware.md), its DVD drive the secondary
// master.
export function newVmConfig(a) {
    const c = { name: String(a.name || "").trim(), vcpus: numberOrText(a.vcpus), memory_mib: numberOrText(a.memory_mib) };
    const firmware = a.boot === "firmware";
    c.boot = firmware ? { kind: "firmware", order: a.order && a.order.length ? a.order : ["dvd", "disk"] }
        : { kernel: String(a.kernel || "").trim() };
    if (a.disk)
        c.disks = [firmware ? { path: a.disk, bus: "ide" } : { path: a.disk }];
    if (a.iso)
        c.dvd_drives = [{ channel: 1, position: 0, path: a.iso }];
    return c;
}

// UTF-8 text as base64: cockpit.dbus sends "ay" arguments that way.
export function bytesBase64(text) {
    const bytes = new TextEncoder().encode(text);
    let s = "";
    for (const b of bytes)
        s += String.fromCharCode(b);
    return btoa(s);
}

// The pools of GetHostCapabilities' storage_pools ("DIR" or "DIR:ro").
export function parsePools(list) {
    return (Array.isArray(list) ? list : []).filter(s => typeof s === "string" && s.startsWith("/")).map(s =>
        s.endsWith(":ro") ? { dir: s.slice(0, -3), readOnly: true } : { dir: s, readOnly: false });
}

// The firmware's boot orders (boot.order), as the boot form offers them.
export const BOOT_ORDERS = [
    ["dvd,disk", "DVD, then disk"], ["disk,dvd", "Disk, then DVD"], ["dvd", "DVD only"], ["disk", "Disk only"],
];

const trimmed = s => String(s ?? "").trim();

// The VM's configuration with the boot form's values {kind: "firmware" |
// "linux" | "pvh", order: "dvd,disk", firmware, kernel, initrd, cmdline}:
// a new "boot" object of that kind only (vmms refuses a kernel's fields
// on a firmware boot and the reverse); empty optional fields are left out
// (vmms's defaults: SeaBIOS's image, no initrd).
export function withBoot(config, v) {
    const c = JSON.parse(JSON.stringify(config));
    if (v.kind === "firmware") {
        c.boot = { kind: "firmware", order: trimmed(v.order || "dvd,disk").split(",") };
        if (trimmed(v.firmware))
            c.boot.firmware = trimmed(v.firmware);
    } else {
        c.boot = { kind: v.kind || "pvh", kernel: trimmed(v.kernel) };
        if (trimmed(v.initrd))
            c.boot.initrd = trimmed(v.initrd);
        if (trimmed(v.cmdline))
            c.boot.cmdline = trimmed(v.cmdline);
    }
    return c;
}

// The integration services (Hyper-V's names; docs/dbus-api.md "The
// configuration document").
export const INTEGRATION_SERVICES = [
    ["shutdown", "Operating system shutdown"], ["heartbeat", "Heartbeat"], ["timesync", "Time synchronization"],
    ["kvp", "Data exchange (KVP)"], ["vss", "Backup (volume shadow copy)"], ["fcopy", "Guest services (file copy)"],
];

// The VM's configuration with the services on or off ({name: bool}).
export function withIntegration(config, on) {
    const c = JSON.parse(JSON.stringify(config));
    c.integration = { ...(c.integration || {}) };
    for (const [k] of INTEGRATION_SERVICES)
        if (k in on)
            c.integration[k] = !!on[k];
    return c;
}

export const RESTART_POLICIES = [["never", "Never"], ["on-failure", "When it crashes"], ["always", "Always"]];
export const CHECKPOINT_TYPES = [
    ["production", "Production"], ["production-only", "Production only"], ["standard", "Standard"], ["disabled", "Disabled"],
];

// The VM's configuration with the automatic actions {restart_policy,
// stop_timeout_s, checkpoint_type}, which vmms takes in any state.
export function withPolicy(config, v) {
    const c = JSON.parse(JSON.stringify(config));
    c.restart_policy = v.restart_policy;
    c.stop_timeout_s = numberOrText(v.stop_timeout_s);
    c.checkpoint_type = v.checkpoint_type;
    return c;
}

// The IDE positions a new DVD drive may take, in vmms's order
// (CreateVMWithCloudInit's): secondary master, secondary slave, primary
// slave, primary master.
const DVD_POSITIONS = [[1, 0], [1, 1], [0, 1], [0, 0]];
const POSITION_NAMES = ["primary master", "primary slave", "secondary master", "secondary slave"];

export function dvdPositionName(d) {
    const ch = d.channel ?? 1, pos = d.position ?? 0;
    return `IDE ${ch}:${pos} (${POSITION_NAMES[ch * 2 + pos] || "?"})`;
}

// The first position no DVD drive and no IDE disk takes, or null.
export function freeDvdPosition(config) {
    const taken = new Set((config.dvd_drives || []).map(d => (d.channel ?? 1) * 2 + (d.position ?? 0)));
    for (const d of config.disks || [])
        if (d.bus === "ide")
            taken.add(d.lun ?? 0);
    const free = DVD_POSITIONS.find(([ch, pos]) => !taken.has(ch * 2 + pos));
    return free ? { channel: free[0], position: free[1] } : null;
}

// The VM's configuration with an empty DVD drive added at the first free
// position (null when none is), or drive index removed.
export function withDvdDrive(config) {
    const at = freeDvdPosition(config);
    if (!at)
        return null;
    const c = JSON.parse(JSON.stringify(config));
    c.dvd_drives = [...(c.dvd_drives || []), at];
    return c;
}

export function withoutDvdDrive(config, index) {
    const c = JSON.parse(JSON.stringify(config));
    c.dvd_drives = (c.dvd_drives || []).filter((d, i) => i !== index);
    if (!c.dvd_drives.length)
        delete c.dvd_drives;
    return c;
}

// A NIC's bandwidth cap typed in Mbit/s as SetNicQoS's bits a second: ""
// is 0 (none); a number (decimals too) is rounded to whole bits; anything
// else NaN. vmms checks the range (1 Mbit/s .. 1 Tbit/s, or 0).
export function mbitToBits(s) {
    const t = trimmed(s);
    if (t === "")
        return 0;
    return /^\d+(\.\d+)?$/.test(t) ? Math.round(Number(t) * 1e6) : NaN;
}

export function bitsToMbit(bits) {
    return bits ? String(bits / 1e6) : "0";
}

// A disk's new size typed in MiB as ResizeDisk's bytes: a whole number of
// MiB from 1; NaN otherwise (the field says so, nothing is sent). vmms
// checks the rest (never smaller, a VHDX's limits, the disk's bus).
export function mibToBytes(s) {
    const t = String(s ?? "").trim();
    return /^[1-9]\d{0,8}$/.test(t) ? Number(t) * 1048576 : NaN;
}
