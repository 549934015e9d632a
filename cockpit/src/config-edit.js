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
    devices: ["Off", "Crashed", "Running"], // AttachDisk, DetachDisk, AttachNic, DetachNic
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

