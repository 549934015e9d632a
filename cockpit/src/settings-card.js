// SPDX-License-Identifier: MIT
// A card of forms that edit a VM's configuration (settings.js,
// settings-boot.js, settings-services.js): its forms are built from the
// Config property and rebuilt only when Config changes, so a value being
// typed survives other updates; across a rebuild, a field typed into keeps
// its value where its setting did not change (form-edits.js), and the
// control that had the keyboard keeps it. A one-shot field (a path to
// attach) is carried the same way, and goes back to its built value only
// when its own action has worked (callOnce). Calls go through run():
// vmms's refusal is the page's alert.
import { h, replace, card } from "./dom.js";
import { parseConfig } from "./format.js";
import { IF_VM } from "./model.js";
import { run } from "./actions.js";
import { carriedEdits, controlValues } from "./form-edits.js";

const CONTROLS = ["input", "select", "textarea"].map(t => `${t}[name]`).join(", ");

// Sets a control back to value (text, or "true"/"false" for a checkbox);
// false where a select has no such option (the value stays as built).
function setControl(el, value) {
    if (el.type === "checkbox" || el.type === "radio") {
        el.checked = value === "true";
        return true;
    }
    if (el.tagName === "SELECT" && ![...el.options].some(o => o.value === value))
        return false;
    el.value = value;
    return true;
}

// Where the focus was, as a selector and which match it was.
function focusKey(body) {
    const a = document.activeElement;
    if (!a || !body.contains(a))
        return null;
    const sel = a.dataset.action ? `[data-action="${a.dataset.action}"]` : a.name ? `[name="${a.name}"]` : null;
    return sel ? { sel, i: [...body.querySelectorAll(sel)].indexOf(a) } : null;
}

export class ConfigCard {
    constructor(model, alerts, title, bodyClass) {
        this.model = model;
        this.alerts = alerts;
        this.vm = null;
        this.config = null;
        this.built = new Map();
        this.body = h("div", { class: bodyClass });
        this.el = card(title, this.body);
    }

    show(vm) {
        this.vm = vm;
        this.config = null;
        this.built = new Map();
        this.vmChanged();
    }

    vmChanged() {
        const text = this.vm && this.vm.props[IF_VM].Config;
        if (text === this.config)
            return;
        this.config = text;
        const c = parseConfig(text);
        const focus = focusKey(this.body);
        const typed = controlValues(this.body.querySelectorAll(CONTROLS)).values;
        replace(this.body, c ? this.build(c) : h("p", {}, "The configuration could not be read."));
        const fresh = controlValues(this.body.querySelectorAll(CONTROLS));
        for (const [key, value] of carriedEdits(this.built, typed, fresh.values)) {
            const el = fresh.els.get(key);
            if (setControl(el, value))
                el.dispatchEvent(new Event("change"));
        }
        this.built = fresh.values;
        if (focus) {
            const all = this.body.querySelectorAll(focus.sel);
            const el = all[Math.min(Math.max(focus.i, 0), all.length - 1)];
            if (el)
                el.focus();
        }
    }

    // The forms of the configuration c (a subclass's).
    build() {
        return [];
    }

    call(verb, method, args, type) {
        return run(this.model, this.alerts, this.vm, { method, verb }, IF_VM, args, type);
    }

    // call() for an action whose fields (their names) are one-shot: when it
    // works they go back to what the card built. The fields are looked up
    // in the card as it is then: the action's own Config change may have
    // rebuilt it (and carried the typed values) before the reply came.
    async callOnce(fields, verb, method, args, type) {
        const ok = await this.call(verb, method, args, type);
        if (ok) {
            for (const name of fields) {
                this.body.querySelectorAll(`[name="${name}"]`).forEach((el, n) => {
                    const built = this.built.get(`${name}#${n}`);
                    if (built !== undefined)
                        setControl(el, built);
                });
            }
        }
        return ok;
    }

    // Update with change(the VM's latest configuration) applied.
    update(verb, change, fallback) {
        const next = change(parseConfig(this.vm.props[IF_VM].Config) || fallback);
        return this.call(verb, "Update", [JSON.stringify(next)], "s");
    }
}

// A form's Save button (the form's submit: Enter in any field saves).
export function saveButton(action, text = "Save") {
    return h("div", { class: "vmstack-actions" },
             h("button", { class: "pf-v6-c-button pf-m-primary pf-m-small", type: "submit", "data-action": action },
               h("span", { class: "pf-v6-c-button__text" }, text)));
}

// A form that calls save() on submit, with its title.
export function settingsForm(title, save, ...children) {
    return h("form", { class: "pf-v6-c-form vmstack-form", "aria-label": title, onsubmit: ev => { ev.preventDefault(); save(); } },
             h("h3", { class: "pf-v6-c-title pf-m-md" }, title), ...children);
}
