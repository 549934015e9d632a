// SPDX-License-Identifier: MIT
// The page's view of vmms over cockpit.dbus (system bus, the caller's own
// rights): one GetManagedObjects at the start (and again only when vmms
// itself restarted), then PropertiesChanged, VMAdded and VMRemoved keep it
// current. Listeners get ("vm", path) for one VM, ("vms") when the set
// changed, ("host") and ("service") for vmms itself, ("access") when
// GetCallerAccess was read (with every load), ("migration", path, ended)
// when a VM's move ended (MigrationFinished, whoever started it; ended:
// {name, outcome, dest, there, message}), before the VM leaves the list.
/* global cockpit */
import { idFromPath } from "./format.js";

const NAME = "org.vmstack.VMMS1";
const ROOT = "/org/vmstack/VMMS1";
export const IF_MANAGER = "org.vmstack.VMMS1.Manager";
export const IF_VM = "org.vmstack.VMMS1.VM";
export const IF_CHECKPOINTS = "org.vmstack.VMMS1.Checkpoints";
export const IF_MEMORY = "org.vmstack.VMMS1.Memory";
export const IF_DISPLAY = "org.vmstack.VMMS1.Display";
const IF_PROPS = "org.freedesktop.DBus.Properties";
const VM_IFACES = [IF_VM, IF_MEMORY, IF_CHECKPOINTS, IF_DISPLAY];
const CALL_TIMEOUT_MS = 3600 * 1000;

// {prop: {t, v}} (a{sv} as cockpit.js gives it) into {prop: value}.
function unwrap(dict) {
    const out = {};
    for (const [k, v] of Object.entries(dict || {}))
        out[k] = v && typeof v === "object" && "v" in v ? v.v : v;
    return out;
}

export class Model {
    constructor() {
        this.client = null;
        this.vms = new Map(); // path -> { path, id, props: {iface: {prop: value}} }
        this.host = null; // GetHostCapabilities, unwrapped
        this.manager = {}; // Manager properties
        this.service = "connecting"; // "connecting", "up", "down", or an error
        this.clockSkewUs = 0; // browser clock minus the host's
        this.clockKnown = false;
        this.listeners = [];
        this.generation = 0;
        this.owner = undefined; // vmms's unique name, once the bridge said it
        this.access = null; // GetCallerAccess: ["manage" | "read", reason]; null: unknown
    }

    on(fn) {
        this.listeners.push(fn);
    }

    emit(...args) {
        for (const fn of this.listeners)
            fn(...args);
    }

    start() {
        this.client = cockpit.dbus(NAME, { bus: "system" });
        this.client.subscribe({ interface: IF_PROPS, member: "PropertiesChanged", path_namespace: ROOT },
                              (path, iface, signal, args) => this.propertiesChanged(path, args));
        this.client.subscribe({ interface: IF_MANAGER, member: "VMAdded", path: ROOT },
                              (path, iface, signal, args) => this.vmAdded(args[0]));
        this.client.subscribe({ interface: IF_VM, member: "MigrationFinished", path_namespace: ROOT },
                              (path, iface, signal, args) => this.migrationFinished(path, args));
        this.client.subscribe({ interface: IF_MANAGER, member: "VMRemoved", path: ROOT },
                              (path, iface, signal, args) => this.vmRemoved(args[0]));
        // vmms restarted, or went away: everything is read again then. The
        // first owner the bridge reports is the vmms the first load() read.
        this.client.addEventListener("owner", (ev, owner) => {
            const known = this.owner;
            this.owner = owner;
            if (!owner)
                this.setService("down");
            else if (known !== undefined && owner !== known)
                this.load();
        });
        this.client.addEventListener("close", (ev, options) => this.setService(options.problem || "disconnected"));
        return this.load();
    }

    setService(s) {
        this.service = s;
        this.emit("service");
    }

    // Everything, once: the VMs with all their properties in one call.
    async load() {
        const gen = ++this.generation;
        try {
            const [[objects], [caps], [mprops]] = await Promise.all([
                this.client.call(ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", [], { type: "" }),
                this.client.call(ROOT, IF_MANAGER, "GetHostCapabilities", [], { type: "" }),
                this.client.call(ROOT, IF_PROPS, "GetAll", [IF_MANAGER], { type: "s" }),
            ]);
            if (gen !== this.generation)
                return;
            this.host = unwrap(caps);
            this.manager = unwrap(mprops);
            const seen = new Set();
            for (const [path, ifaces] of Object.entries(objects)) {
                if (!ifaces[IF_VM])
                    continue;
                seen.add(path);
                const props = {};
                for (const i of VM_IFACES)
                    props[i] = unwrap(ifaces[i]);
                this.vms.set(path, { path, id: idFromPath(path), props });
                this.learnClock(props[IF_VM]);
            }
            for (const path of [...this.vms.keys()])
                if (!seen.has(path))
                    this.vms.delete(path);
            this.service = "up";
            this.emit("host");
            this.emit("vms");
        } catch (err) {
            if (gen === this.generation)
                this.setService(err.name || err.problem || "failed");
            return;
        }
        this.loadAccess(gen);
    }

    // Whether the caller may manage VMs; an older vmms without the call
    // leaves it unknown (null), and its refusals say it after a click.
    async loadAccess(gen) {
        let access = null;
        try {
            access = await this.client.call(ROOT, IF_MANAGER, "GetCallerAccess", [], { type: "" });
        } catch (err) {
            console.info("vmstack: GetCallerAccess unavailable:", err.message);
        }
        if (gen === this.generation) {
            this.access = access;
            this.emit("access");
        }
    }

    // Uptime is computed by vmms on each read and never signalled: the page
    // counts it from RunningSince, with the browser's clock offset from the
    // host's learnt from a read of both.
    learnClock(vm) {
        if (vm && vm.RunningSince > 0 && vm.Uptime > 0) {
            this.clockSkewUs = Date.now() * 1000 - (vm.RunningSince + vm.Uptime);
            this.clockKnown = true;
        }
    }

    uptimeUs(vm) {
        const since = vm.props[IF_VM].RunningSince;
        return since > 0 ? Math.max(0, Date.now() * 1000 - this.clockSkewUs - since) : -1;
    }

    propertiesChanged(path, [iface, changed, invalidated]) {
        if (path === ROOT && iface === IF_MANAGER) {
            Object.assign(this.manager, unwrap(changed));
            this.emit("host");
            return;
        }
        const vm = this.vms.get(path);
        if (!vm || !VM_IFACES.includes(iface))
            return;
        const props = unwrap(changed);
        Object.assign(vm.props[iface], props);
        // No VM ran at the start: the first that runs tells the offset
        // (one read of its Uptime).
        if (iface === IF_VM && props.State === "Running" && !this.clockKnown)
            this.refreshProperty(vm, IF_VM, "Uptime").then(() => this.learnClock(vm.props[IF_VM]));
        // Config only says it changed: read it (one property of one VM).
        if ((invalidated || []).includes("Config") && iface === IF_VM)
            this.refreshProperty(vm, IF_VM, "Config");
        this.emit("vm", path, iface);
    }

    async refreshProperty(vm, iface, prop) {
        try {
            const [v] = await this.client.call(vm.path, IF_PROPS, "Get", [iface, prop], { type: "ss" });
            if (this.vms.get(vm.path) === vm) {
                vm.props[iface][prop] = v.v;
                this.emit("vm", vm.path, iface);
            }
        } catch (err) {
            console.warn("vmstack: reading", prop, "of", vm.path, "failed:", err.message);
        }
    }

    // A new VM: its properties, one GetAll per interface of that object only.
    async vmAdded(path) {
        if (this.vms.has(path))
            return;
        const vm = { path, id: idFromPath(path), props: {} };
        for (const i of VM_IFACES)
            vm.props[i] = {};
        this.vms.set(path, vm);
        try {
            for (const i of VM_IFACES) {
                const [p] = await this.client.call(path, IF_PROPS, "GetAll", [i], { type: "s" });
                vm.props[i] = Object.assign(unwrap(p), vm.props[i]);
            }
        } catch (err) {
            // Removed again meanwhile (VMRemoved follows), or an older vmms
            // without one of the interfaces: what was read stays.
            console.info("vmstack: reading the new VM", path, "stopped:", err.message);
        }
        if (this.vms.get(path) === vm)
            this.emit("vms");
    }

    migrationFinished(path, [outcome, dest, there, message]) {
        const vm = this.vms.get(path);
        const name = vm ? vm.props[IF_VM].Name || vm.id : idFromPath(path);
        this.emit("migration", path, { name, outcome, dest, there, message });
    }

    vmRemoved(path) {
        if (this.vms.delete(path))
            this.emit("vms");
    }

    // A method of a VM's object; rejects with the D-Bus error (name, message).
    // No D-Bus timeout of 25 s: a save, a checkpoint or a merge of a large VM
    // takes longer, and vmms bounds its own operations (as vmctl waits).
    call(path, iface, method, args = [], type = "") {
        return this.client.call(path, iface, method, args, { type, timeout: CALL_TIMEOUT_MS });
    }

    vmList() {
        return [...this.vms.values()].sort((a, b) =>
            (a.props[IF_VM].Name || "").localeCompare(b.props[IF_VM].Name || ""));
    }

    byId(id) {
        for (const vm of this.vms.values())
            if (vm.id === id)
                return vm;
        return null;
    }
}
