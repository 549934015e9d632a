// SPDX-License-Identifier: MIT
// The new-VM wizard on the list page: name, vCPUs, memory, boot (SeaBIOS
// firmware with a boot order, or a Linux kernel), a disk (an image from
// the storage pools, or a new empty VHDX made there), an installer ISO in
// the DVD drive, cloud-init user-data (CreateVMWithCloudInit), and whether
// to start it. One form, in reading order; vmms checks the configuration
// and its refusal (naming the field) is the alert; a new image (vmms's
// CreatePoolImage) made for a refused VM is removed again (DeletePoolImage).
import { h, replace, button } from "./dom.js";
import { input, textarea, select, checkbox, field } from "./form.js";
import { newVmConfig, bytesBase64 } from "./config-edit.js";
import { IF_MANAGER, IF_VM } from "./model.js";
import { LISTS, createImage, deleteImage } from "./pools.js";

const ROOT = "/org/vmstack/VMMS1";

export class Wizard {
    constructor(model, alerts, pools) {
        this.model = model;
        this.alerts = alerts;
        this.pools = pools;
        this.open = button("Create VM", "primary", () => this.show(), { "data-action": "wizard-open", "aria-expanded": "false" });
        this.form = h("div", { hidden: true });
        this.el = h("div", { class: "vmstack-wizard" }, h("div", { class: "vmstack-actions" }, this.open), this.form);
    }

    async show() {
        this.open.setAttribute("aria-expanded", "true");
        this.open.hidden = true;
        this.build();
        this.form.hidden = false;
        this.f.name.focus();
        await this.pools.refresh();
        this.fillPoolDirs();
    }

    hide() {
        this.form.hidden = true;
        replace(this.form);
        this.open.hidden = false;
        this.open.setAttribute("aria-expanded", "false");
        this.open.focus();
    }

    fillPoolDirs() {
        const dirs = this.pools.pools().filter(p => !p.readOnly).map(p => [p.dir, p.dir]);
        replace(this.f.newDir, dirs.map(([v, t]) => h("option", { value: v }, t)));
        this.f.newDir.disabled = dirs.length === 0;
    }

    build() {
        const f = this.f = {
            name: input({ name: "name", required: true, placeholder: "web1" }),
            vcpus: input({ type: "number", name: "vcpus", value: 1, min: 1 }),
            memory: input({ type: "number", name: "memory_mib", value: 1024, min: 1 }),
            boot: select([["firmware", "Firmware (SeaBIOS): the disk or the DVD"], ["kernel", "A Linux kernel"]], "firmware", { name: "boot" }),
            order: select([["dvd,disk", "DVD, then disk"], ["disk,dvd", "Disk, then DVD"]], "dvd,disk", { name: "order" }),
            kernel: input({ name: "kernel", list: LISTS.other, placeholder: "/var/lib/vmstack/images/vmlinuz" }),
            diskKind: select([["none", "No disk"], ["existing", "An existing image"], ["new", "A new empty VHDX"]], "new", { name: "disk_kind" }),
            disk: input({ name: "disk", list: LISTS.disks, placeholder: "/var/lib/vmstack/images/web1.img" }),
            newDir: select([], "", { name: "new_dir" }),
            newFile: input({ name: "new_file", placeholder: "NAME.vhdx" }),
            newSize: input({ type: "number", name: "new_size_gib", value: 20, min: 1 }),
            iso: input({ name: "iso", list: LISTS.isos, placeholder: "none" }),
            userData: textarea({ name: "user_data", rows: 4 }),
            start: checkbox(false, { name: "start" }),
        };
        const kernelRow = field("Kernel", f.kernel, "a file in a storage pool");
        const orderRow = field("Boot order", f.order);
        const existingRow = field("Image", f.disk, "from the storage pools, or type its path");
        const newRow = h("div", { class: "vmstack-form-grid" }, field("Pool", f.newDir), field("File name", f.newFile, "default: the VM's name .vhdx"),
                         field("Size (GiB)", f.newSize));
        const sync = () => {
            kernelRow.hidden = f.boot.value !== "kernel";
            orderRow.hidden = f.boot.value !== "firmware";
            existingRow.hidden = f.diskKind.value !== "existing";
            newRow.hidden = f.diskKind.value !== "new";
        };
        f.boot.addEventListener("change", sync);
        f.diskKind.addEventListener("change", sync);
        sync();
        const submit = h("button", { class: "pf-v6-c-button pf-m-primary pf-m-small", type: "submit", "data-action": "wizard-create" },
                         h("span", { class: "pf-v6-c-button__text" }, "Create"));
        replace(this.form, h("section", { class: "pf-v6-c-card", "aria-label": "New virtual machine" },
            h("div", { class: "pf-v6-c-card__title" }, h("h2", { class: "pf-v6-c-card__title-text" }, "New virtual machine")),
            h("div", { class: "pf-v6-c-card__body" },
              h("form", { class: "pf-v6-c-form vmstack-form", onsubmit: ev => { ev.preventDefault(); this.create(submit); },
                          onkeydown: ev => { if (ev.key === "Escape") this.hide(); } },
                h("div", { class: "vmstack-form-grid" }, field("Name", f.name), field("vCPUs", f.vcpus), field("Memory (MiB)", f.memory)),
                h("div", { class: "vmstack-form-grid" }, field("Boot", f.boot), orderRow, kernelRow),
                h("div", { class: "vmstack-form-grid" }, field("Disk", f.diskKind), existingRow), newRow,
                field("Installer ISO (DVD)", f.iso, "optional: an ISO in a storage pool"),
                field("cloud-init user-data", f.userData, "optional: vmms adds a NoCloud seed (cidata) in a DVD drive"),
                field("Start it when created", f.start),
                h("div", { class: "vmstack-actions" }, submit, button("Cancel", "link", () => this.hide(), { "data-action": "wizard-cancel" }))))));
    }

    answers() {
        const f = this.f;
        const name = f.name.value.trim();
        let disk = "", newImage = null;
        if (f.diskKind.value === "existing")
            disk = f.disk.value.trim();
        else if (f.diskKind.value === "new" && f.newDir.value) {
            const file = f.newFile.value.trim() || `${name}.vhdx`;
            disk = `${f.newDir.value.replace(/\/+$/, "")}/${file}`;
            newImage = { dir: f.newDir.value, path: disk, gib: f.newSize.value.trim(), file };
        }
        return {
            config: newVmConfig({ name, vcpus: f.vcpus.value, memory_mib: f.memory.value, boot: f.boot.value,
                                  kernel: f.kernel.value, order: f.order.value.split(","), disk, iso: f.iso.value.trim() }),
            newImage, userData: f.userData.value, start: f.start.checked,
        };
    }

    async create(submit) {
        if (submit.getAttribute("aria-disabled"))
            return;
        const a = this.answers();
        const name = a.config.name || "the VM";
        if (a.newImage && (!/^[A-Za-z0-9._-]+$/.test(a.newImage.file) || a.newImage.file.startsWith(".") || !/^\d+$/.test(a.newImage.gib) || a.newImage.gib === "0")) {
            this.alerts.show(`Could not create ${name}`, { name: "", message: "The new image needs a plain file name (letters, digits, . _ -) and a size of at least 1 GiB." });
            return;
        }
        submit.setAttribute("aria-disabled", "true");
        try {
            await this.createVm(a, name);
        } finally {
            submit.removeAttribute("aria-disabled");
        }
    }

    async createVm(a, name) {
        if (a.newImage) {
            try {
                await createImage(this.model, a.newImage.dir, a.newImage.file, a.newImage.gib);
            } catch (err) {
                this.alerts.show(`Could not create the disk image for ${name}`, err);
                return;
            }
        }
        let path;
        try {
            const cfg = JSON.stringify(a.config);
            [path] = a.userData.trim()
                ? await this.model.call(ROOT, IF_MANAGER, "CreateVMWithCloudInit", [cfg, { "user-data": bytesBase64(a.userData) }], "sa{say}")
                : await this.model.call(ROOT, IF_MANAGER, "CreateVM", [cfg], "s");
        } catch (err) {
            this.alerts.show(`Could not create ${name}`, err);
            if (a.newImage)
                await deleteImage(this.model, a.newImage.dir, a.newImage.file);
            return;
        }
        if (a.start) {
            try {
                await this.model.call(path, IF_VM, "Start", [], "");
            } catch (err) {
                this.alerts.show(`Could not start ${name}`, err);
            }
        }
        this.hide();
        this.pools.refresh();
    }
}
