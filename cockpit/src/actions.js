// SPDX-License-Identifier: MIT
// Runs a VM operation and turns a refusal into an alert at the top of the
// page: "Could not pause web1" with the error's meaning and vmms's reason.
import { h, replace, button } from "./dom.js";
import { describeError } from "./errors.js";
import { IF_VM } from "./model.js";

export class Alerts {
    constructor(container) {
        this.el = h("ul", { class: "pf-v6-c-alert-group vmstack-alerts", role: "list", "aria-live": "polite" });
        container.append(this.el);
    }

    // Keeps the last few; each can be closed.
    show(title, err) {
        const { summary, detail, name } = describeError(err);
        const item = h("li", { class: "pf-v6-c-alert-group__item" });
        const close = button("Close", "plain", () => item.remove(), { "aria-label": `Close the alert: ${title}` });
        replace(item, h("div", { class: "pf-v6-c-alert pf-m-danger pf-m-inline", role: "alert", "data-error": name },
                        h("p", { class: "pf-v6-c-alert__title" }, title),
                        h("div", { class: "pf-v6-c-alert__action" }, close),
                        h("div", { class: "pf-v6-c-alert__description" },
                          h("p", {}, summary), detail ? h("p", { class: "vmstack-error-detail" }, detail) : null)));
        this.keep(item);
    }

    // An operation that ended well but left this page's view (a VM moved
    // to another host): what happened, as a status (not an alert).
    success(title, text) {
        this.status(title, text, "success", "success");
    }

    // The same for an outcome of a level (success, warning, danger) that
    // happened elsewhere (a move vmctl started): data-outcome says which.
    status(title, text, level, outcome) {
        const item = h("li", { class: "pf-v6-c-alert-group__item" });
        const close = button("Close", "plain", () => item.remove(), { "aria-label": `Close: ${title}` });
        replace(item, h("div", { class: `pf-v6-c-alert pf-m-${level} pf-m-inline`, role: "status", "data-outcome": outcome },
                        h("p", { class: "pf-v6-c-alert__title" }, title),
                        h("div", { class: "pf-v6-c-alert__action" }, close),
                        h("div", { class: "pf-v6-c-alert__description" }, h("p", {}, text))));
        this.keep(item);
    }

    keep(item) {
        this.el.prepend(item);
        while (this.el.children.length > 4)
            this.el.lastChild.remove();
    }
}

// run(model, alerts, vm, action): the action's method on the VM; the
// button's own state says it is in flight. Resolves to whether it worked.
export async function run(model, alerts, vm, action, iface = IF_VM, args = action.args || [], type = action.type || "") {
    const name = vm.props[IF_VM].Name || vm.id;
    try {
        await model.call(vm.path, iface, action.method, args, type);
        return true;
    } catch (err) {
        alerts.show(`Could not ${action.verb || action.label.toLowerCase()} ${name}`, err);
        return false;
    }
}

// A button for an operation of the VM. While the call is in flight the
// button says so (aria-disabled) and ignores clicks, but keeps the focus:
// a disabled button would drop it to the page's top.
export function actionButton(model, alerts, vm, action, attrs = {}) {
    let busy = false;
    return button(action.label, action.kind, async ev => {
        const b = ev.currentTarget;
        if (busy)
            return;
        busy = true;
        b.setAttribute("aria-disabled", "true");
        b.classList.add("pf-m-aria-disabled");
        await run(model, alerts, vm, action);
        busy = false;
        b.removeAttribute("aria-disabled");
        b.classList.remove("pf-m-aria-disabled");
    }, { "data-action": action.id, ...attrs });
}
