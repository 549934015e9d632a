// SPDX-License-Identifier: MIT
// A VM's integration services and automatic actions on its details page
// ("Integration services and automatic actions"), by Update as vmctl edit
// does: the services while the VM is off; the restart policy, the
// shutdown's timeout and the checkpoint type in any state (vmms takes
// them while it runs). vmms's refusal is the alert.
import { h } from "./dom.js";
import { input, checkbox, select, field } from "./form.js";
import { INTEGRATION_SERVICES, RESTART_POLICIES, CHECKPOINT_TYPES, withIntegration, withPolicy } from "./config-edit.js";
import { ConfigCard, saveButton, settingsForm } from "./settings-card.js";

const HINT = {
    integration: "The services the guest is offered (Hyper-V's integration services); they change while the VM is off.",
    policy: "These change at any time, also while the VM runs. Restart: never (a crashed VM stays Crashed), when it crashes, or always (also after the guest powered off). A shut down that takes longer than its timeout turns the VM off. A production checkpoint freezes the guest's file systems through its backup service (standard, with the memory, when it cannot); production only fails instead.",
};

export class ServiceSettings extends ConfigCard {
    constructor(model, alerts) {
        super(model, alerts, "Integration services and automatic actions", "vmstack-services-edit");
    }

    build(c) {
        return [this.integrationForm(c), this.policyForm(c)];
    }

    integrationForm(c) {
        const on = c.integration || {};
        const boxes = INTEGRATION_SERVICES.map(([k, text]) => [k, text, checkbox(on[k], { name: `ic_${k}` })]);
        const save = () => this.update("change the integration services of", cfg =>
            withIntegration(cfg, Object.fromEntries(boxes.map(([k, , el]) => [k, el.checked]))), c);
        return settingsForm("Integration services", save,
                            h("div", { class: "vmstack-form-grid" }, boxes.map(([, text, el]) => field(text, el))),
                            h("p", { class: "vmstack-sub" }, HINT.integration), saveButton("integration-save"));
    }

    policyForm(c) {
        const f = {
            restart: select(RESTART_POLICIES, c.restart_policy || "never", { name: "restart_policy" }),
            timeout: input({ type: "number", value: c.stop_timeout_s ?? "", name: "stop_timeout_s" }),
            checkpoint: select(CHECKPOINT_TYPES, c.checkpoint_type || "production", { name: "checkpoint_type" }),
        };
        const save = () => this.update("change the automatic actions of", cfg => withPolicy(cfg, {
            restart_policy: f.restart.value, stop_timeout_s: f.timeout.value, checkpoint_type: f.checkpoint.value,
        }), c);
        return settingsForm("Automatic actions", save,
                            h("div", { class: "vmstack-form-grid" },
                              field("Restart the VM", f.restart), field("Shut down timeout (s)", f.timeout),
                              field("Checkpoint type", f.checkpoint)),
                            h("p", { class: "vmstack-sub" }, HINT.policy), saveButton("policy-save"));
    }
}
