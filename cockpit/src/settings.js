// SPDX-License-Identifier: MIT
// Editing a VM's settings on its details page, with the calls vmctl makes:
// vCPUs, memory, Dynamic Memory and the processor limit and weight by
// Update (vmctl edit), a disk's Storage QoS by SetDiskQoS (vmctl disk qos),
// a NIC's bandwidth caps by SetNicQoS (vmctl nic qos) and its minimum
// weight by SetNicMinWeight (vmctl nic qos --min-weight), disks and NICs
// added and removed by AttachDisk, DetachDisk, AttachNic, DetachNic (vmctl
// disk attach, nic attach, ...), a disk grown by ResizeDisk (vmctl disk
// resize). Each form says in which states vmms
// accepts it; vmms checks again and its refusal is the alert. The boot,
// DVD drives, integration services and automatic actions are
// settings-boot.js's and settings-services.js's cards.
import { h, replace, button, table, cell } from "./dom.js";
import { input, checkbox, select, field } from "./form.js";
import { parseConfig } from "./format.js";
import { withSettings, numberOrText, mbitToBits, bitsToMbit, mibToBytes } from "./config-edit.js";
import { IF_VM } from "./model.js";
import { ConfigCard, saveButton } from "./settings-card.js";

const HINT = {
    hardware: "vCPUs, memory and Dynamic Memory change while the VM is off; the processor limit and weight at any time but while it starts, stops, saves or migrates.",
    qos: "Storage QoS: IOPS in 8 KiB units and bytes a second, 0 for none; applied at once while the VM runs.",
    devices: "Disks and network adapters are added and removed while the VM is off, or while it runs (SCSI disks only).",
    resize: "A disk grows (never shrinks) while the VM is off, or while it runs (SCSI disks that are not read-only); the guest sees the new size.",
    nicQos: "Bandwidth caps in Mbit/s each way (in: to the guest), 0 for none, from 1 Mbit/s; applied at once while the VM runs. " +
        "The minimum weight (1 to 100, 0 for none) is the adapter's share of the host's uplink while it is congested, where vmms was started with an uplink (--nic-uplink).",
};

export class Settings extends ConfigCard {
    constructor(model, alerts) {
        super(model, alerts, "Edit settings", "vmstack-settings-edit");
    }

    build(c) {
        return [this.hardwareForm(c), this.disksForm(c), this.nicsForm(c)];
    }

    hardwareForm(c) {
        const dm = c.dynamic_memory || {}, p = c.processor || {};
        const f = {
            vcpus: input({ type: "number", value: c.vcpus ?? 1, min: 1, name: "vcpus" }),
            memory_mib: input({ type: "number", value: c.memory_mib ?? "", min: 1, name: "memory_mib" }),
            dm: checkbox(dm.enabled, { name: "dm_enabled" }),
            minimum_mib: input({ type: "number", value: dm.minimum_mib ?? "", name: "dm_minimum_mib", placeholder: "startup" }),
            maximum_mib: input({ type: "number", value: dm.maximum_mib ?? "", name: "dm_maximum_mib", placeholder: "startup" }),
            buffer_percent: input({ type: "number", value: dm.buffer_percent ?? "", name: "dm_buffer_percent", placeholder: "20" }),
            limit_pct: input({ type: "number", value: p.limit_pct ?? 100, name: "limit_pct" }),
            weight: input({ type: "number", value: p.weight ?? 100, name: "weight" }),
        };
        const save = async () => {
            const next = withSettings(parseConfig(this.vm.props[IF_VM].Config) || c, {
                vcpus: f.vcpus.value, memory_mib: f.memory_mib.value,
                dm: { enabled: f.dm.checked, minimum_mib: f.minimum_mib.value, maximum_mib: f.maximum_mib.value, buffer_percent: f.buffer_percent.value },
                processor: { limit_pct: f.limit_pct.value, weight: f.weight.value },
            });
            await this.call("change the settings of", "Update", [JSON.stringify(next)], "s");
        };
        const dmRow = h("div", { class: "vmstack-form-grid", hidden: !f.dm.checked },
                        field("Minimum (MiB)", f.minimum_mib), field("Maximum (MiB)", f.maximum_mib), field("Buffer (%)", f.buffer_percent));
        f.dm.addEventListener("change", () => (dmRow.hidden = !f.dm.checked));
        return h("form", { class: "pf-v6-c-form vmstack-form", "aria-label": "Processor and memory", onsubmit: ev => { ev.preventDefault(); save(); } },
                 h("h3", { class: "pf-v6-c-title pf-m-md" }, "Processor and memory"),
                 h("div", { class: "vmstack-form-grid" },
                   field("vCPUs", f.vcpus), field("Memory (MiB)", f.memory_mib),
                   field("Processor limit (%)", f.limit_pct), field("Processor weight", f.weight)),
                 field("Dynamic Memory", f.dm, "memory between a minimum and a maximum, as the guest needs it"),
                 dmRow,
                 h("p", { class: "vmstack-sub" }, HINT.hardware),
                 saveButton("settings-save"));
    }

    disksForm(c) {
        const disks = c.disks || [];
        const { table: t, tbody } = table("Disks: Storage QoS", ["Disk", "Max IOPS", "Min IOPS", "Max bytes/s", ""]);
        disks.forEach((d, i) => {
            const q = d.qos || {};
            const max = input({ type: "number", value: q.max_iops ?? 0, name: `qos-max-${i}` });
            const min = input({ type: "number", value: q.min_iops ?? 0, name: `qos-min-${i}` });
            const bps = input({ type: "number", value: q.max_bytes_per_s ?? 0, name: `qos-bps-${i}` });
            [max, min, bps].forEach((el, k) => el.setAttribute("aria-label", `Disk ${i}: ${["maximum IOPS", "minimum IOPS", "maximum bytes a second"][k]}`));
            const set = () => this.call(`set disk ${i}'s QoS of`, "SetDiskQoS",
                [i, numberOrText(max.value), numberOrText(min.value), numberOrText(bps.value)], "uttt");
            tbody.append(h("tr", { class: "pf-v6-c-table__tr", "data-disk": i },
                cell("Disk", h("span", { class: "vmstack-path" }, `${i}: ${d.path || ""}`)),
                cell("Max IOPS", max), cell("Min IOPS", min), cell("Max bytes/s", bps),
                cell("", h("div", { class: "vmstack-actions" },
                  button("Set QoS", "secondary", set, { "data-action": "disk-qos" }),
                  this.removeButton(`disk ${i}`, "DetachDisk", i)))));
        });
        const path = input({ name: "attach-disk-path", placeholder: "/var/lib/vmstack/images/data.img", list: "vmstack-pool-disks", oneShot: true });
        const ro = checkbox(false, { name: "attach-disk-ro", oneShot: true });
        const attach = () => this.callOnce(["attach-disk-path", "attach-disk-ro"], "add a disk to", "AttachDisk", [JSON.stringify(ro.checked ? { path: path.value.trim(), read_only: true } : { path: path.value.trim() })], "s");
        return h("div", { class: "vmstack-form" },
                 h("h3", { class: "pf-v6-c-title pf-m-md vmstack-sub-title" }, "Disks"),
                 disks.length ? t : h("p", {}, "No disks."),
                 h("p", { class: "vmstack-sub" }, HINT.qos),
                 disks.length ? this.resizeForm(disks) : null,
                 h("div", { class: "vmstack-inline-form" }, field("Image to add", path), field("Read-only", ro),
                   button("Add disk", "secondary", attach, { "data-action": "disk-attach" })));
    }

    nicsForm(c) {
        const nics = c.nics || [];
        const { table: t, tbody } = table("Network adapters", ["Adapter", "Max in (Mbit/s)", "Max out (Mbit/s)", "Min weight", ""]);
        t.classList.add("vmstack-nic-table");
        nics.forEach((n, i) => {
            const q = n.qos || {};
            const bw = ["in", "out"].map(way => input({ type: "number", min: 0, step: "any", value: bitsToMbit(q[`max_${way}_bps`]), name: `nic-qos-${way}-${i}` }));
            bw.forEach((el, k) => el.setAttribute("aria-label", `Network adapter ${i}: maximum ${["in", "out"][k]} (Mbit/s)`));
            const weight = input({ type: "number", min: 0, max: 100, step: 1, value: q.min_weight ?? 0, name: `nic-weight-${i}` });
            weight.setAttribute("aria-label", `Network adapter ${i}: minimum bandwidth weight`);
            tbody.append(h("tr", { class: "pf-v6-c-table__tr", "data-nic": i },
                cell("Adapter", `${i}: ${n.mac || ""}`,
                     h("div", { class: "vmstack-sub" }, n.bridge ? `bridge ${n.bridge}` : n.tap ? `TAP ${n.tap}` : "TAP")),
                cell("Max in (Mbit/s)", bw[0]), cell("Max out (Mbit/s)", bw[1]), cell("Min weight", weight),
                cell("", h("div", { class: "vmstack-actions vmstack-actions-stacked" },
                  button("Set", "secondary", () => this.setNicQos(i, bw, weight, q.min_weight ?? 0), { "data-action": "nic-qos" }),
                  this.removeButton(`network adapter ${i}`, "DetachNic", i)))));
        });
        const bridge = input({ name: "attach-nic-bridge", placeholder: "br0 (empty: a TAP only)", oneShot: true });
        const mac = input({ name: "attach-nic-mac", placeholder: "automatic", oneShot: true });
        const attach = () => {
            const nic = {};
            if (bridge.value.trim())
                nic.bridge = bridge.value.trim();
            if (mac.value.trim())
                nic.mac = mac.value.trim();
            return this.callOnce(["attach-nic-bridge", "attach-nic-mac"], "add a network adapter to", "AttachNic", [JSON.stringify(nic)], "s");
        };
        return h("div", { class: "vmstack-form" },
                 h("h3", { class: "pf-v6-c-title pf-m-md vmstack-sub-title" }, "Network adapters"),
                 nics.length ? t : h("p", {}, "No network adapters."),
                 nics.length ? h("p", { class: "vmstack-sub" }, HINT.nicQos) : null,
                 h("p", { class: "vmstack-sub" }, HINT.devices),
                 h("div", { class: "vmstack-inline-form" }, field("Bridge", bridge), field("MAC", mac),
                   button("Add network adapter", "secondary", attach, { "data-action": "nic-attach" })));
    }

    // ResizeDisk of the chosen disk to the size typed in MiB.
    resizeForm(disks) {
        const which = select(disks.map((d, i) => [String(i), `${i}: ${d.path || ""}`]), "0", { name: "resize-disk", oneShot: true });
        const size = input({ type: "number", min: 1, name: "resize-disk-mib", placeholder: "e.g. 20480", oneShot: true });
        const resize = () => {
            const bytes = mibToBytes(size.value);
            size.setCustomValidity(Number.isNaN(bytes) ? "A whole number of MiB, from 1" : "");
            if (!size.reportValidity())
                return Promise.resolve(false);
            const i = Number(which.value);
            return this.callOnce(["resize-disk-mib"], `resize disk ${i} of`, "ResizeDisk", [i, bytes], "ut");
        };
        return h("div", { class: "vmstack-inline-form vmstack-resize" }, field("Disk to grow", which), field("New size (MiB)", size),
                 button("Resize", "secondary", resize, { "data-action": "disk-resize" }),
                 h("p", { class: "vmstack-sub" }, HINT.resize));
    }

    // SetNicQoS with both caps, then SetNicMinWeight where the weight
    // changed (from `was`). A field that is no number (a weight: no whole
    // number from 0 to 100) says so itself, the browser's own message, and
    // nothing is sent.
    async setNicQos(index, fields, weightEl, was) {
        const bits = fields.map(el => mbitToBits(el.value));
        for (const [k, el] of fields.entries()) {
            el.setCustomValidity(Number.isNaN(bits[k]) || el.validity.badInput ? "A number of Mbit/s, 0 for none" : "");
            if (!el.reportValidity())
                return false;
        }
        const w = weightEl.value.trim() === "" ? NaN : Number(weightEl.value);
        weightEl.setCustomValidity(Number.isInteger(w) && w >= 0 && w <= 100 ? "" : "A whole number from 0 to 100, 0 for none");
        if (!weightEl.reportValidity())
            return false;
        if (!await this.call(`set network adapter ${index}'s bandwidth caps of`, "SetNicQoS", [index, ...bits], "utt"))
            return false;
        if (w === was)
            return true;
        return this.call(`set network adapter ${index}'s minimum bandwidth weight of`, "SetNicMinWeight", [index, w], "uu");
    }

    // Remove asks first: a second button confirms, Escape or Cancel keeps it.
    removeButton(what, method, index) {
        const box = h("div", { class: "vmstack-actions" });
        const ask = () => {
            const yes = button(`Remove ${what}`, "danger", async () => {
                await this.call(`remove ${what} of`, method, [index], "u");
                reset();
            }, { "data-action": `${method === "DetachDisk" ? "disk" : "nic"}-remove-confirm` });
            replace(box, yes, button("Cancel", "link", () => reset(true)));
            yes.focus();
        };
        const reset = focus => {
            const b = button("Remove", "secondary", ask, { "data-action": `${method === "DetachDisk" ? "disk" : "nic"}-remove`, "aria-label": `Remove ${what}` });
            replace(box, b);
            if (focus)
                b.focus();
        };
        reset();
        return box;
    }
}
