// SPDX-License-Identifier: MIT
// Form controls in PatternFly 6's markup for the settings and the new-VM
// wizard: a labelled input, a checkbox, a select. Each control has an id
// and a <label for>, so it is reachable and named by keyboard and screen
// reader.
import { h } from "./dom.js";

let seq = 0;
const nextId = prefix => `${prefix}-${++seq}`;

// opts.oneShot marks a control whose value is for one action (a path to
// attach, a size to grow to) rather than a setting's: what is typed there
// survives a rebuild like a setting's edit, and the card empties it when
// its action has worked (ConfigCard.callOnce in settings-card.js).
// A text or number input: opts {type, value, min, max, name, list, required, placeholder, oneShot}.
export function input(opts = {}) {
    const el = h("input", {
        class: "vmstack-input", type: opts.type || "text", id: opts.id || nextId("in"),
        name: opts.name, min: opts.min, max: opts.max, list: opts.list, step: opts.step,
        required: opts.required, placeholder: opts.placeholder, "aria-describedby": opts.describedby,
        inputmode: opts.type === "number" ? "numeric" : undefined, "data-one-shot": opts.oneShot,
    });
    el.value = opts.value ?? "";
    return el;
}

export function textarea(opts = {}) {
    const el = h("textarea", { class: "vmstack-input vmstack-textarea", id: opts.id || nextId("ta"), name: opts.name, rows: opts.rows || 5 });
    el.value = opts.value ?? "";
    return el;
}

export function select(options, value, opts = {}) {
    const el = h("select", { class: "vmstack-input", id: opts.id || nextId("sel"), name: opts.name, "data-one-shot": opts.oneShot },
                 options.map(([v, text]) => h("option", { value: v }, text)));
    el.value = value;
    return el;
}

export function checkbox(checked, opts = {}) {
    const el = h("input", { type: "checkbox", class: "pf-v6-c-check__input", id: opts.id || nextId("cb"), name: opts.name,
                            "data-one-shot": opts.oneShot });
    el.checked = !!checked;
    return el;
}

// A form group: the label, the control, a help line under it.
export function field(labelText, control, help) {
    if (control.type === "checkbox")
        return h("div", { class: "pf-v6-c-form__group vmstack-field" },
                 h("div", { class: "pf-v6-c-check" }, control,
                   h("label", { class: "pf-v6-c-check__label", for: control.id }, labelText),
                   help ? h("span", { class: "pf-v6-c-check__description" }, help) : null));
    return h("div", { class: "pf-v6-c-form__group vmstack-field" },
             h("div", { class: "pf-v6-c-form__group-label" },
               h("label", { class: "pf-v6-c-form__label", for: control.id }, h("span", { class: "pf-v6-c-form__label-text" }, labelText))),
             h("div", { class: "pf-v6-c-form__group-control" }, control,
               help ? h("p", { class: "pf-v6-c-form__helper-text vmstack-sub" }, help) : null));
}

// A non-negative whole number from an input, or NaN.
export function intOf(el) {
    const s = String(el.value).trim();
    return /^\d+$/.test(s) ? Number(s) : NaN;
}
