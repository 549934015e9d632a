// SPDX-License-Identifier: MIT
// Read-only for a caller who may not manage VMs: vmms's GetCallerAccess
// (the same decision its managing calls make: root, the vmstack group,
// polkit) says so before any click. The page then shows a banner with
// vmms's reason and disables every button that would change something;
// what only shows (a VM's details, its console's card, Back, Cancel) stays.
// Rows and forms are redrawn all the time, so a MutationObserver applies
// it to whatever appears.

// Buttons that change nothing in vmms.
const READ_ACTIONS = new Set(["back", "console", "wizard-cancel", "delete-cancel"]);
const MARK = "data-vmstack-readonly";

// Whether a button (its data-action) changes something.
export function isManaging(action) {
    return typeof action === "string" && action !== "" && !READ_ACTIONS.has(action);
}

// GetCallerAccess's answer as the page uses it: { readOnly, reason }. An
// answer it does not know (an older vmms without the call: null) leaves
// the page as it was, where vmms's refusals say it after a click.
export function accessState(answer) {
    if (!Array.isArray(answer) || answer[0] !== "read")
        return { readOnly: false, reason: "" };
    return { readOnly: true, reason: typeof answer[1] === "string" ? answer[1] : "" };
}

export class ReadOnly {
    constructor(root, banner) {
        this.root = root;
        this.banner = banner;
        this.state = { readOnly: false, reason: "" };
        new MutationObserver(() => this.apply()).observe(root, { childList: true, subtree: true });
    }

    set(state) {
        this.state = state;
        this.banner.hidden = !state.readOnly;
        this.banner.replaceChildren(...(state.readOnly ? [
            Object.assign(document.createElement("p"), { className: "pf-v6-c-alert__title", textContent: "Read-only: you may see the VMs but not change them." }),
            Object.assign(document.createElement("div"), { className: "pf-v6-c-alert__description vmstack-readonly-reason", textContent: state.reason }),
        ] : []));
        this.apply();
    }

    apply() {
        const ro = this.state.readOnly;
        for (const b of this.root.querySelectorAll("button[data-action]")) {
            if (ro && isManaging(b.dataset.action) && !b.hasAttribute(MARK)) {
                b.setAttribute(MARK, "");
                b.disabled = true;
                b.title = "You may not change VMs (see the notice on top).";
            } else if (!ro && b.hasAttribute(MARK)) {
                b.removeAttribute(MARK);
                b.disabled = false;
                b.removeAttribute("title");
            }
        }
    }
}
