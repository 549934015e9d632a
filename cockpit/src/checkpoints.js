// SPDX-License-Identifier: MIT
// A VM's checkpoints (org.vmstack.VMMS1.Checkpoints): the list, read with
// List() when the page opens the VM and again only when Count, Current or
// Operation change; create, apply (Revert) and delete. Apply and delete
// ask once more in the row (apply discards the VM's present state).
import { h, replace, button, table, cell } from "./dom.js";
import { formatBytes } from "./format.js";
import { IF_VM, IF_CHECKPOINTS } from "./model.js";
import { run } from "./actions.js";

export class Checkpoints {
    constructor(model, alerts) {
        this.model = model;
        this.alerts = alerts;
        this.vm = null;
        this.key = "";
        this.list = [];
        this.confirm = null; // { id, what }
        this.status = h("p", { class: "vmstack-sub", "aria-live": "polite" });
        this.nameInput = h("input", { class: "vmstack-input", type: "text", id: "checkpoint-name", placeholder: "(the VM's name and the time)", "aria-label": "New checkpoint's name" });
        const create = button("Create checkpoint", "secondary", () => this.create(), { "data-action": "checkpoint-create" });
        this.body = h("div", {});
        this.el = h("section", { class: "pf-v6-c-card", "aria-label": "Checkpoints" },
                    h("div", { class: "pf-v6-c-card__title" }, h("h2", { class: "pf-v6-c-card__title-text" }, "Checkpoints")),
                    h("div", { class: "pf-v6-c-card__body" },
                      h("form", { class: "vmstack-inline-form", onsubmit: ev => { ev.preventDefault(); this.create() } },
                        h("label", { for: "checkpoint-name" }, "Name"), this.nameInput, create),
                      this.status, this.body));
    }

    show(vm) {
        this.vm = vm;
        this.key = "";
        this.list = [];
        this.confirm = null;
        this.nameInput.value = "";
        this.vmChanged();
    }

    // The VM's properties changed: read the list again if the checkpoint
    // properties say it changed.
    vmChanged() {
        const c = this.vm.props[IF_CHECKPOINTS] || {};
        const op = c.Operation || "";
        this.status.textContent = op ? `Working: ${op}…` : "";
        const key = `${c.Count}/${c.Current}/${op}`;
        if (key !== this.key) {
            this.key = key;
            this.load();
        }
    }

    async load() {
        const vm = this.vm;
        try {
            const [list] = await this.model.call(vm.path, IF_CHECKPOINTS, "List", [], "");
            if (vm !== this.vm)
                return;
            this.list = list.map(([id, name, parent, created, hasState, bytes, kept, type]) =>
                ({ id, name, parent, created, hasState, bytes, kept, type }));
        } catch (err) {
            this.list = [];
            this.alerts.show(`Could not list the checkpoints of ${vm.props[IF_VM].Name}`, err);
        }
        this.render();
    }

    // Depth-first from the roots, so that a child follows its parent.
    ordered() {
        const kids = new Map();
        for (const c of this.list)
            kids.set(c.parent, (kids.get(c.parent) || []).concat(c));
        const ids = new Set(this.list.map(c => c.id));
        const out = [];
        const walk = (c, depth) => {
            out.push({ c, depth });
            for (const k of (kids.get(c.id) || []).sort((a, b) => a.created - b.created))
                walk(k, depth + 1);
        };
        for (const c of this.list.filter(c => !ids.has(c.parent)).sort((a, b) => a.created - b.created))
            walk(c, 0);
        return out;
    }

    render() {
        if (this.list.length === 0) {
            replace(this.body, h("p", {}, "No checkpoints."));
            return;
        }
        const current = (this.vm.props[IF_CHECKPOINTS] || {}).Current;
        const { table: t, tbody } = table("Checkpoints", ["Checkpoint", "Created", "Type", "Size", "Actions"]);
        for (const { c, depth } of this.ordered()) {
            const nameCell = cell("Checkpoint", h("span", { class: `vmstack-depth-${Math.min(depth, 6)}` }, c.name),
                                  c.id === current ? h("span", { class: "vmstack-sub" }, " (now)") : null);
            tbody.append(h("tr", { class: "pf-v6-c-table__tr", "data-checkpoint": c.name }, nameCell,
                           cell("Created", new Date(c.created / 1000).toLocaleString()),
                           cell("Type", c.type + (c.hasState ? ", with saved state" : "")),
                           cell("Size", formatBytes(c.kept)),
                           cell("Actions", this.rowActions(c))));
        }
        replace(this.body, t);
    }

    rowActions(c) {
        if (this.confirm && this.confirm.id === c.id) {
            const what = this.confirm.what;
            const text = what === "apply" ? "The VM's present state is discarded." : "The checkpoint is deleted.";
            const yes = button(what === "apply" ? "Apply" : "Delete", "danger", () => this.act(c, what), { "data-action": `checkpoint-${what}-confirm` });
            queueMicrotask(() => yes.focus());
            return h("div", { class: "vmstack-actions" }, h("span", {}, text), yes,
                     button("Cancel", "link", () => { this.confirm = null; this.render() }));
        }
        const ask = what => () => { this.confirm = { id: c.id, what }; this.render() };
        return h("div", { class: "vmstack-actions" },
                 button("Apply", "secondary", ask("apply"), { "data-action": "checkpoint-apply", "aria-label": `Apply checkpoint ${c.name}` }),
                 button("Delete", "secondary", ask("delete"), { "data-action": "checkpoint-delete", "aria-label": `Delete checkpoint ${c.name}` }));
    }

    async act(c, what) {
        this.confirm = null;
        this.render();
        if (what === "apply")
            await run(this.model, this.alerts, this.vm, { method: "Revert", verb: `apply checkpoint ${c.name} of` }, IF_CHECKPOINTS, [c.id, {}], "sa{sv}");
        else
            await run(this.model, this.alerts, this.vm, { method: "Delete", verb: `delete checkpoint ${c.name} of` }, IF_CHECKPOINTS, [c.id], "s");
    }

    async create() {
        const name = this.nameInput.value.trim();
        if (await run(this.model, this.alerts, this.vm, { method: "Create", verb: "create a checkpoint of" }, IF_CHECKPOINTS, [name, {}], "sa{sv}"))
            this.nameInput.value = "";
    }
}
