// SPDX-License-Identifier: MIT
// One VM: its operations, state, settings (the Config property) and guest
// items; checkpoints are in checkpoints.js. Re-rendered from the model's
// cached properties when a signal changes this VM (no D-Bus read).
import { h, replace, label, button, descriptionList, card, table, cell } from "./dom.js";
import { ACTIONS, MORE_ACTIONS, actionsFor, stateColor, formatDuration, formatBytes, heartbeatInfo, guestAddresses, parseConfig, isActive, bootWarning } from "./format.js";
import { IF_VM, IF_MEMORY } from "./model.js";
import { BOOT_ORDERS } from "./config-edit.js";
import { actionButton } from "./actions.js";
import { Checkpoints } from "./checkpoints.js";
import { Console } from "./console.js";
import { Graphs } from "./graphs.js";
import { Settings } from "./settings.js";
import { BootSettings } from "./settings-boot.js";
import { ServiceSettings } from "./settings-services.js";
import { Move } from "./move.js";
import { deleteControl } from "./delete-vm.js";

export class VmDetails {
    constructor(model, alerts, back) {
        this.model = model;
        this.alerts = alerts;
        this.vm = null;
        this.state = null;
        this.head = h("div", { class: "vmstack-details-head" });
        this.actions = h("div", { class: "vmstack-actions", role: "group", "aria-label": "Operations" });
        this.overview = h("div", {});
        this.settings = h("div", {});
        this.guest = h("div", {});
        this.checkpoints = new Checkpoints(model, alerts);
        this.console = new Console(model);
        this.graphs = new Graphs(model);
        this.edit = new Settings(model, alerts);
        this.boot = new BootSettings(model, alerts);
        this.services = new ServiceSettings(model, alerts);
        this.move = new Move(model, alerts, back);
        this.back = back;
        this.el = h("div", { class: "vmstack-details" },
                    h("nav", { class: "vmstack-back" }, button("← Virtual machines", "link", back, { "data-action": "back" })),
                    this.head, this.actions, this.console.el,
                    h("div", { class: "vmstack-cards" },
                      card("Overview", this.overview), card("Guest", this.guest), this.graphs.el,
                      card("Settings", this.settings), this.edit.el, this.boot.el, this.services.el,
                      this.checkpoints.el, this.move.el));
    }

    show(vm) {
        this.vm = vm;
        this.state = null;
        this.checkpoints.show(vm);
        this.console.show(vm);
        this.graphs.show(vm);
        this.edit.show(vm);
        this.boot.show(vm);
        this.services.show(vm);
        this.move.show(vm);
        this.render();
    }

    render() {
        const vm = this.vm;
        if (!vm)
            return;
        const p = vm.props[IF_VM];
        const boot = bootWarning(p);
        replace(this.head, h("h1", { class: "pf-v6-c-title pf-m-xl" }, p.Name || vm.id, " "),
                label(p.State || "", stateColor(p.State), { "data-state": p.State }),
                boot ? h("div", { class: "pf-v6-c-alert pf-m-warning pf-m-inline pf-m-plain vmstack-boot-warning", role: "status" },
                         h("p", { class: "pf-v6-c-alert__title" }, boot.text),
                         h("p", { class: "pf-v6-c-alert__description" }, boot.hint)) : null);
        if (this.state !== p.State) {
            this.state = p.State;
            this.renderActions();
        }
        this.renderOverview();
        this.renderSettings();
        this.renderGuest();
        this.checkpoints.vmChanged();
        this.console.vmChanged();
        this.graphs.vmChanged();
        this.edit.vmChanged();
        this.boot.vmChanged();
        this.services.vmChanged();
        this.move.vmChanged();
    }

    renderActions() {
        const vm = this.vm;
        const hadFocus = this.actions.contains(document.activeElement);
        const buttons = actionsFor(this.state, ACTIONS.concat(MORE_ACTIONS)).map(a =>
            actionButton(this.model, this.alerts, vm, a));
        replace(this.actions, buttons, deleteControl(this.model, this.alerts, vm, this.back));
        if (hadFocus && buttons.length)
            buttons[0].focus();
    }

    tick() {
        if (this.vm && this.uptimeEl) {
            const up = this.model.uptimeUs(this.vm);
            this.uptimeEl.textContent = up >= 0 ? formatDuration(up) : "—";
        }
    }

    renderOverview() {
        const p = this.vm.props[IF_VM];
        const hb = heartbeatInfo(isActive(p.State) ? p.Heartbeat : null);
        this.uptimeEl = h("span", {});
        replace(this.overview, descriptionList([
            ["Id", p.Id || this.vm.id],
            ["Uptime", this.uptimeEl],
            ["Heartbeat", hb.text],
            ["Worker", p.WorkerPid ? `pid ${p.WorkerPid}` : "none"],
            ["Restarts", String(p.Restarts ?? 0)],
            ["Last exit", p.ExitReason || ""],
            ["Saved state", p.SavedStateSize > 0 ? formatBytes(p.SavedStateSize) : null],
            ["Owner", p.Owner !== undefined ? `uid ${p.Owner}` : ""],
        ].filter(x => x[1] !== null)));
        this.tick();
    }

    renderGuest() {
        const kvp = this.vm.props[IF_VM].GuestKVP || {};
        const ips = guestAddresses(kvp);
        replace(this.guest, Object.keys(kvp).length === 0
            ? h("p", {}, "The guest reports nothing (it does not run, or has no KVP service).")
            : descriptionList([
                ["Host name", kvp.FullyQualifiedDomainName || ""],
                ["Operating system", [kvp.OSName, kvp.OSVersion].filter(x => x).join(" ")],
                ["IP addresses", ips.join(", ")],
                ["Integration services", kvp.IntegrationServicesVersion || ""],
            ]));
    }

    renderSettings() {
        const c = parseConfig(this.vm.props[IF_VM].Config);
        if (!c) {
            replace(this.settings, h("p", {}, "The configuration could not be read."));
            return;
        }
        const mem = this.vm.props[IF_MEMORY] || {};
        const dm = c.dynamic_memory && c.dynamic_memory.enabled
            ? `on: ${formatBytes(mem.Minimum || 0)} – ${formatBytes(mem.Maximum || 0)}, buffer ${mem.Buffer ?? "?"} %` : "off";
        const integ = Object.entries(c.integration || {}).filter(([, v]) => v === true).map(([k]) => k).join(", ");
        const boot = c.boot || {};
        replace(this.settings, descriptionList([
            ["vCPUs", String(c.vcpus ?? "")],
            ["Memory", c.memory_mib ? formatBytes(c.memory_mib * 1048576) : ""],
            ["Dynamic Memory", dm],
            ["Boot", bootText(boot)],
            ["DVD drives", (c.dvd_drives || []).map(d => d.path || "empty").join(", ") || "none"],
            ["Integration services", integ || "none"],
            ["Restart policy", c.restart_policy || ""],
            ["Stop timeout", c.stop_timeout_s !== undefined ? `${c.stop_timeout_s} s` : ""],
            ["Checkpoint type", c.checkpoint_type || ""],
            ["Console", c.display && c.display.enabled ? "graphical and serial" : "serial"],
        ]), this.devices(c));
    }

    devices(c) {
        const out = [];
        if ((c.disks || []).length) {
            const { table: t, tbody } = table("Disks", ["Disk", "Image", "Format", "Access"]);
            c.disks.forEach((d, i) => tbody.append(h("tr", { class: "pf-v6-c-table__tr" },
                cell("Disk", `${d.bus || "scsi"} ${d.lun ?? i}`), cell("Image", h("span", { class: "vmstack-path" }, d.path || "")),
                cell("Format", d.format || ""), cell("Access", d.read_only ? "read-only" : "read-write"))));
            out.push(h("h3", { class: "pf-v6-c-title pf-m-md vmstack-sub-title" }, "Disks"), t);
        }
        if ((c.nics || []).length) {
            const { table: t, tbody } = table("Network adapters", ["Adapter", "MAC", "Connected to"]);
            c.nics.forEach((n, i) => tbody.append(h("tr", { class: "pf-v6-c-table__tr" },
                cell("Adapter", String(i)), cell("MAC", n.mac || ""),
                cell("Connected to", n.bridge ? `bridge ${n.bridge}` : n.tap ? `TAP ${n.tap}` : "TAP"))));
            out.push(h("h3", { class: "pf-v6-c-title pf-m-md vmstack-sub-title" }, "Network adapters"), t);
        }
        return out;
    }
}

// The boot as one line: "firmware: DVD, then disk", "pvh: /srv/vm/kernel".
function bootText(boot) {
    if (boot.kind === "firmware") {
        const order = BOOT_ORDERS.find(([v]) => v === (boot.order || ["dvd", "disk"]).join(","));
        return `firmware: ${order ? order[1] : (boot.order || []).join(", ")}`;
    }
    return [boot.kind, boot.kernel].filter(x => x).join(": ");
}
