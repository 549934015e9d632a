// SPDX-License-Identifier: MIT
// Deleting a VM from its details page (VM.Delete; Off, Crashed or Saved):
// the button asks first and says what goes (the configuration, logs, a
// saved state, a cloud-init seed) and what stays (the disk images), as
// vmms does it (docs/dbus-api.md Delete).
import { h, replace, button } from "./dom.js";
import { STATES } from "./config-edit.js";
import { IF_VM } from "./model.js";
import { run } from "./actions.js";

export function deleteControl(model, alerts, vm, onDeleted) {
    const p = vm.props[IF_VM];
    if (!STATES.delete.includes(p.State))
        return null;
    const box = h("div", { class: "vmstack-actions vmstack-delete" });
    const name = p.Name || vm.id;
    const ask = () => {
        const yes = button(`Delete ${name}`, "danger", async () => {
            if (await run(model, alerts, vm, { method: "Delete", verb: "delete" }))
                onDeleted();
            else
                reset(true);
        }, { "data-action": "delete-confirm" });
        replace(box, h("span", { class: "vmstack-confirm", role: "status" },
                       `Delete ${name}? Its configuration, logs${p.State === "Saved" ? ", saved state" : ""} and cloud-init seed go; its disk images stay.`),
                yes, button("Cancel", "link", () => reset(true), { "data-action": "delete-cancel" }));
        yes.focus();
    };
    const reset = focus => {
        const b = button("Delete", "danger", ask, { "data-action": "delete" });
        replace(box, b);
        if (focus)
            b.focus();
    };
    reset();
    return box;
}
