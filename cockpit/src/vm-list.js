// SPDX-License-Identifier: MIT
// The host card and the VM list. Rows are kept per VM and only their cells
// are rewritten when a signal changes that VM, so focus and scroll stay put
// (a keyboard user's focus moves to the row's first button only when the
// button it was on went away with the state).
/* global cockpit */
import { h, replace, label, button, descriptionList, card, table, cell } from "./dom.js";
import { ACTIONS, actionsFor, stateColor, formatDuration, formatBytes, heartbeatInfo, guestAddresses, parseConfig, isActive, bootWarning } from "./format.js";
import { IF_VM, IF_MEMORY, IF_DISPLAY } from "./model.js";
import { actionButton } from "./actions.js";
import { formatPercent } from "./metrics.js";

const COLUMNS = ["Name", "State", "Uptime", "vCPUs", "Memory", "CPU", "Heartbeat", "IP addresses", "Actions"];

export class VmList {
    constructor(model, alerts, open) {
        this.model = model;
        this.alerts = alerts;
        this.open = open; // open(vm): the details page
        this.rows = new Map(); // path -> { tr, cells, state }
        this.hostBody = h("div", {});
        const { table: t, tbody } = table("Virtual machines", COLUMNS);
        this.tbody = tbody;
        this.empty = h("p", { class: "vmstack-empty", hidden: true }, "No virtual machines are defined on this host.");
        this.el = h("div", { class: "vmstack-list" },
                    card("Host", this.hostBody),
                    h("section", { class: "pf-v6-c-card", "aria-label": "Virtual machines" },
                      h("div", { class: "pf-v6-c-card__title" }, h("h2", { class: "pf-v6-c-card__title-text" }, "Virtual machines")),
                      h("div", { class: "pf-v6-c-card__body vmstack-table-body" }, t, this.empty)));
    }

    renderHost() {
        const c = this.model.host || {};
        const m = this.model.manager || {};
        const kvm = c.kvm ? `yes (${c.virtualization || "?"})` : `not usable: ${c.kvm_error || "unknown"}`;
        replace(this.hostBody, descriptionList([
            ["vmstack", c.vmstack_version || m.Version || ""],
            ["KVM", kvm],
            ["CPUs", c.host_cpus !== undefined ? String(c.host_cpus) : ""],
            ["Memory", c.host_memory_mib !== undefined ? formatBytes(c.host_memory_mib * 1048576) : ""],
            ["VMs", m.VMCount !== undefined ? `${m.VMCount} of at most ${c.max_vms ?? "?"}` : ""],
            ["Worker", c.worker_present === false ? `missing: ${c.worker}` : null],
        ].filter(p => p[1] !== null), "pf-m-auto-fit vmstack-host"),
                (m.Problems || []).length
                    ? h("div", { class: "pf-v6-c-alert pf-m-warning pf-m-inline pf-m-plain", role: "status" },
                        h("p", { class: "pf-v6-c-alert__title" }, "vmms found unusable files at its start"),
                        h("ul", { class: "pf-v6-c-alert__description" }, m.Problems.map(p => h("li", {}, p))))
                    : null);
    }

    // The whole set changed (start, VMAdded, VMRemoved): rows in name order.
    renderAll() {
        const vms = this.model.vmList();
        const keep = new Set(vms.map(v => v.path));
        for (const [path, row] of this.rows)
            if (!keep.has(path)) {
                row.tr.remove();
                this.rows.delete(path);
            }
        for (const vm of vms) {
            this.renderVm(vm.path);
            this.tbody.append(this.rows.get(vm.path).tr); // moves it into order
        }
        this.empty.hidden = vms.length > 0;
    }

    renderVm(path) {
        const vm = this.model.vms.get(path);
        if (!vm)
            return;
        let row = this.rows.get(path);
        if (!row) {
            const cells = {};
            const tr = h("tr", { class: "pf-v6-c-table__tr", "data-vm": vm.id },
                         COLUMNS.map(c => (cells[c] = cell(c))));
            row = { tr, cells, state: null, name: null };
            cells.CPU.textContent = "—";
            this.rows.set(path, row);
        }
        const p = vm.props[IF_VM], mem = vm.props[IF_MEMORY] || {};
        const cfg = parseConfig(p.Config) || {};
        const state = p.State || "";
        if (row.name !== p.Name) {
            row.name = p.Name;
            replace(row.cells.Name, button(p.Name || vm.id, "link", () => this.open(vm), { class: "pf-v6-c-button pf-m-link pf-m-inline vmstack-name" }));
            row.tr.setAttribute("data-name", p.Name || "");
        }
        const [done, total] = Array.isArray(p.SaveProgress) ? p.SaveProgress : [0, 0];
        const boot = bootWarning(p);
        replace(row.cells.State, label(state, stateColor(state), { "data-state": state }),
                boot ? h("div", { class: "vmstack-boot-warning", role: "status" }, boot.text, " ", boot.hint) : null,
                state === "Crashed" && p.ExitReason ? h("div", { class: "vmstack-reason" }, p.ExitReason) : null,
                state === "Saving" && total > 0 ? h("div", { class: "vmstack-sub" }, `${Math.floor(100 * done / total)} %`) : null);
        this.tick(vm, row);
        replace(row.cells.vCPUs, cfg.vcpus !== undefined ? String(cfg.vcpus) : "");
        const assigned = mem.Assigned > 0 ? mem.Assigned : (cfg.memory_mib || 0) * 1048576;
        replace(row.cells.Memory, assigned ? formatBytes(assigned) : "",
                mem.Demand > 0 ? h("div", { class: "vmstack-sub" }, `demand ${formatBytes(mem.Demand)}`) : null);
        if (!isActive(state))
            row.cells.CPU.textContent = "—";
        const hb = heartbeatInfo(isActive(state) ? p.Heartbeat : null);
        replace(row.cells.Heartbeat, hb.color === "grey" ? "—" : label(hb.text, hb.color));
        const ips = guestAddresses(p.GuestKVP);
        replace(row.cells["IP addresses"], ips.length ? h("ul", { class: "vmstack-ips" }, ips.map(a => h("li", {}, a))) : "—");
        if (row.state !== state) {
            row.state = state;
            this.renderActions(vm, row);
        }
    }

    renderActions(vm, row) {
        const hadFocus = row.cells.Actions.contains(document.activeElement);
        const name = vm.props[IF_VM].Name || vm.id;
        const buttons = actionsFor(row.state).map(a =>
            actionButton(this.model, this.alerts, vm, a, { "aria-label": `${a.label} ${name}` }));
        // The graphical console (console.js), on the VM's details page.
        if ((vm.props[IF_DISPLAY] || {}).Enabled && (row.state === "Running" || row.state === "Paused"))
            buttons.push(button("Console", "secondary", () => cockpit.location.go(["vm", vm.id, "console"]),
                                { "data-action": "console", "aria-label": `Console of ${name}` }));
        replace(row.cells.Actions, h("div", { class: "vmstack-actions" }, buttons));
        if (hadFocus && buttons.length)
            buttons[0].focus();
    }

    // The CPU column: metering's use (graphs.js ListCpu), — without a worker.
    setCpu(path, percent) {
        const row = this.rows.get(path);
        if (row)
            row.cells.CPU.textContent = percent === null ? "—" : formatPercent(percent);
    }

    // Uptime, every second for the running ones (no D-Bus traffic).
    tick(vm, row = this.rows.get(vm.path)) {
        if (!row)
            return;
        const up = this.model.uptimeUs(vm);
        row.cells.Uptime.textContent = up >= 0 ? formatDuration(up) : "—";
    }

    tickAll() {
        for (const vm of this.model.vms.values())
            this.tick(vm);
    }
}
