// SPDX-License-Identifier: MIT
// "Move to another host" on a VM's details page: live, shared-nothing or
// quick migration by Migrate (as vmctl migrate calls it: no D-Bus timeout,
// vmms bounds the move), its progress from the VM's MigrationProgress,
// MigrationThrottle, MigrationChannel and SaveProgress properties (kept
// current by PropertiesChanged; nothing is polled), Cancel by
// CancelMigration, and the outcome: a VM that moved is gone from this host,
// so the page returns to the list and says where it went; a move that
// failed or was cancelled is vmms's error in the alert, which says where
// the VM is ("it runs here again"). The form is built once per VM, so
// what is typed survives the VM's updates.
import "./move.css";
import { h, replace, button, card } from "./dom.js";
import { input, checkbox, select, field } from "./form.js";
import { IF_VM } from "./model.js";
import { run } from "./actions.js";
import { MOVE_KINDS, MOVE_STATES, CANCEL_STATES, DEFAULT_PORT, kindsFor, kindFor, migrateCall, moveProgress, moveOutcome,
         finishedOutcome, rememberHost, canReconnect } from "./move-state.js";

// The destinations moved to, in this browser (docs/cockpit.md "Known
// destination hosts": suggestions, not configuration).
const KNOWN_KEY = "vmstack-known-destinations";
function loadKnown() {
    try {
        return rememberHost(JSON.parse(window.localStorage.getItem(KNOWN_KEY) || "[]"), "");
    } catch (err) {
        return [];
    }
}
function saveKnown(list) {
    try {
        window.localStorage.setItem(KNOWN_KEY, JSON.stringify(list));
    } catch (err) {
        console.info("vmstack: the known destinations are not kept:", err.message);
    }
}

export class Move {
    constructor(model, alerts, back) {
        this.model = model;
        this.alerts = alerts;
        this.back = back;
        this.vm = null;
        this.moving = new Map(); // VM path -> {kind, dest, start, t0}: this page's calls in flight
        this.f = {
            dest: input({ name: "move-dest", placeholder: `host or host:port (port ${DEFAULT_PORT})` }),
            kind: select(MOVE_KINDS.map(k => [k.id, k.label]), "live", { name: "move-kind" }),
            storagePath: input({ name: "move-storage-path", placeholder: "/var/lib/vmstack/images" }),
            start: checkbox(true, { name: "move-start" }),
            maxDowntime: input({ type: "number", name: "move-max-downtime", min: 1, placeholder: "300" }),
            autoConverge: checkbox(true, { name: "move-auto-converge" }),
            postcopy: checkbox(false, { name: "move-postcopy" }),
        };
        this.f.kind.addEventListener("change", () => this.layout());
        this.known = h("div", { class: "vmstack-move-known", role: "group", "aria-label": "Known destination hosts" });
        this.groups = {
            storage: field("Directory there for the disks", this.f.storagePath),
            start: field("Start it there", this.f.start, "a Saved VM stays Saved unless this is on"),
            live: h("div", { class: "vmstack-form-grid" },
                    field("Maximum downtime (ms)", this.f.maxDowntime),
                    field("Auto-converge", this.f.autoConverge, "slow the vCPUs down when memory changes faster than it moves"),
                    field("Post-copy", this.f.postcopy, "switch over anyway and fetch the rest on demand")),
        };
        this.hint = h("p", { class: "vmstack-sub" });
        this.moveButton = h("button", { class: "pf-v6-c-button pf-m-primary pf-m-small", type: "submit", "data-action": "move" },
                            h("span", { class: "pf-v6-c-button__text" }, "Move"));
        this.cancelButton = button("Cancel the move", "danger", () => this.cancel(), { "data-action": "move-cancel", hidden: true });
        this.bar = h("progress", { class: "vmstack-move-bar", max: 100, hidden: true, "aria-label": "Share moved" });
        this.status = h("p", { class: "vmstack-move-status", "data-move-status": "", role: "status", "aria-live": "polite" });
        this.reconnectDest = input({ name: "move-reconnect-dest", placeholder: "host or host:port of the same destination" });
        this.reconnect = h("form", { class: "pf-v6-c-form vmstack-form vmstack-move-reconnect", hidden: true,
                                     "aria-label": "Reconnect the move", onsubmit: ev => { ev.preventDefault(); this.reconnectTo() } },
                           field("Reconnect at another address", this.reconnectDest,
                                 "the destination's vmms at another address (a moved link, a second network)"),
                           h("div", { class: "vmstack-actions" },
                             h("button", { class: "pf-v6-c-button pf-m-secondary pf-m-small", type: "submit", "data-action": "move-reconnect" },
                               h("span", { class: "pf-v6-c-button__text" }, "Reconnect"))));
        this.reconnectNote = h("p", { class: "vmstack-move-status", "data-reconnect-note": "", role: "status" });
        this.form = h("form", { class: "pf-v6-c-form vmstack-form", "aria-label": "Move to another host",
                                onsubmit: ev => { ev.preventDefault(); this.move() } },
                      h("div", { class: "vmstack-form-grid" }, field("Destination host", this.f.dest), field("Kind of move", this.f.kind)),
                      this.known,
                      this.groups.storage, this.groups.start, this.groups.live, this.hint,
                      h("div", { class: "vmstack-actions" }, this.moveButton));
        this.el = card("Move to another host", this.form,
                       h("div", { class: "vmstack-move-progress" }, this.status, this.bar, this.reconnect, this.reconnectNote,
                         h("div", { class: "vmstack-actions" }, this.cancelButton)));
        this.el.classList.add("vmstack-move");
        model.on((what, path, ended) => {
            if (what === "migration")
                this.finished(path, ended);
        });
    }

    // vmms's word on a move's end (MigrationFinished). This page's own
    // calls say it from their answer; a move started elsewhere (vmctl)
    // gets its outcome here, before its VM leaves the list.
    finished(path, ended) {
        if (ended.outcome === "moved")
            this.remember(ended.dest);
        if (this.moving.has(path))
            return;
        const o = finishedOutcome(ended);
        this.alerts.status(o.title, o.text, o.level, o.outcome);
    }

    show(vm) {
        this.vm = vm;
        this.state = undefined;
        replace(this.status);
        replace(this.reconnectNote);
        this.renderKnown();
        this.vmChanged();
    }

    remember(dest) {
        saveKnown(rememberHost(loadKnown(), dest));
        this.renderKnown();
    }

    // The known destinations as buttons that fill in the field.
    renderKnown() {
        const list = loadKnown();
        replace(this.known, list.length ? h("span", { class: "vmstack-sub" }, "Moved to before:") : null,
                ...list.map(host => button(host, "link", () => { this.f.dest.value = host; this.f.dest.focus() },
                                           { "data-known-host": host, "aria-label": `Destination ${host}` })));
        this.known.hidden = list.length === 0;
    }

    vmChanged() {
        if (!this.vm)
            return;
        const p = this.vm.props[IF_VM];
        if (p.State !== this.state) {
            this.state = p.State;
            this.layout();
        }
        this.renderProgress();
    }

    // The form for the VM's state: the kinds it can move by, and the
    // fields of the chosen kind.
    layout() {
        const state = this.vm.props[IF_VM].State;
        const kinds = kindsFor(state);
        for (const o of this.f.kind.options)
            o.disabled = kinds.length > 0 && !kinds.some(k => k.id === o.value);
        const chosen = this.f.kind.value;
        this.f.kind.value = kindFor(state, chosen);
        if (this.f.kind.value === "quick" && chosen !== "quick")
            this.f.start.checked = state !== "Saved";
        const kind = this.f.kind.value;
        this.groups.storage.hidden = kind !== "storage";
        this.groups.start.hidden = kind !== "quick";
        this.groups.live.hidden = kind === "quick";
        const k = MOVE_KINDS.find(x => x.id === kind);
        const moving = CANCEL_STATES.includes(state) || this.moving.has(this.vm.path);
        this.hint.textContent = MOVE_STATES.includes(state) || moving
            ? `${k.hint} The destination's vmms must accept moves (vmms --migration-listen); a VM with checkpoints does not move.`
            : `A VM moves while it is Running (live, shared-nothing or quick) or Saved (quick); it is ${state}.`;
    }

    // The progress of a move of this VM, whoever started it; Cancel while
    // vmms takes it (Migrating, or the question a quick move asks first).
    renderProgress() {
        const p = this.vm.props[IF_VM];
        const mine = this.moving.get(this.vm.path);
        const prog = moveProgress(p, mine ? mine.kind : undefined);
        if (prog)
            this.status.textContent = prog.text;
        else if (mine)
            this.status.textContent = `Asking ${mine.dest} to take ${p.Name}…`;
        else if (this.status.dataset.phase === "moving")
            this.status.textContent = "";
        this.status.dataset.phase = prog || mine ? "moving" : "";
        this.bar.hidden = !prog || prog.pct === null;
        if (prog && prog.pct !== null)
            this.bar.value = prog.pct;
        this.cancelButton.hidden = !(CANCEL_STATES.includes(p.State) || (mine && mine.kind === "quick" && p.State === "Running"));
        this.reconnect.hidden = !canReconnect(p);
        if (p.State !== "Migrating")
            replace(this.reconnectNote);
        this.moveButton.setAttribute("aria-disabled", mine || !MOVE_STATES.includes(p.State) ? "true" : "false");
        this.moveButton.classList.toggle("pf-m-aria-disabled", !!mine || !MOVE_STATES.includes(p.State));
    }

    async move() {
        const vm = this.vm;
        const p = vm.props[IF_VM];
        if (this.moving.has(vm.path) || !MOVE_STATES.includes(p.State))
            return;
        const answers = {
            kind: this.f.kind.value, dest: this.f.dest.value, storagePath: this.f.storagePath.value,
            start: this.f.start.checked, maxDowntime: this.f.maxDowntime.value,
            autoConverge: this.f.autoConverge.checked, postcopy: this.f.postcopy.checked, state: p.State,
        };
        const call = migrateCall(answers);
        if (call.error) {
            this.status.textContent = call.error;
            this.f.dest.focus();
            return;
        }
        const dest = call.args[0];
        const t0 = performance.now();
        this.moving.set(vm.path, { kind: answers.kind, dest });
        this.renderProgress();
        const name = p.Name || vm.id;
        try {
            await this.model.call(vm.path, IF_VM, "Migrate", call.args, call.type);
            const text = moveOutcome(name, dest, answers.kind, answers.kind === "quick" ? answers.start : undefined,
                                     answers.state, (performance.now() - t0) / 1000);
            this.alerts.success(`Moved ${name}`, text);
            this.moving.delete(vm.path);
            this.remember(dest);
            // The VM is gone from this host (VMRemoved): back to the list.
            if (this.vm === vm)
                this.back();
        } catch (err) {
            this.moving.delete(vm.path);
            this.alerts.show(`Could not move ${name} to ${dest}`, err);
        }
        if (this.vm === vm)
            this.renderProgress();
    }

    // ReconnectMigration: the move's channel dials the destination's vmms
    // at another address from now on; vmms checks the address.
    async reconnectTo() {
        const vm = this.vm;
        const dest = this.reconnectDest.value.trim();
        if (dest === "") {
            this.status.textContent = "Type the destination's other address: HOST or HOST:PORT.";
            this.reconnectDest.focus();
            return;
        }
        const ok = await run(this.model, this.alerts, vm,
                             { method: "ReconnectMigration", verb: "reconnect the move of", args: [dest], type: "s" });
        if (ok && this.vm === vm) {
            this.reconnectDest.value = "";
            this.reconnectNote.textContent = `The move's connection goes to ${dest} from now on.`;
        }
    }

    async cancel() {
        const vm = this.vm;
        const b = this.cancelButton;
        b.setAttribute("aria-disabled", "true");
        await run(this.model, this.alerts, vm, { method: "CancelMigration", verb: "cancel the move of" });
        b.removeAttribute("aria-disabled");
    }
}
