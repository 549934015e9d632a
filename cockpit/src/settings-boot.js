// SPDX-License-Identifier: MIT
// A VM's boot and DVD drives on its details page ("Boot and DVD drives"):
// the boot (firmware and its boot order, or a kernel, its initrd and
// command line) by Update while the VM is off (vmctl edit); a disc
// inserted or ejected by InsertDvd and EjectDvd while it is off or runs
// (vmctl dvd insert|eject; the guest sees a media change); a drive added
// or removed by Update while it is off. The ISOs offered are the storage
// pools' (pools.js's datalist); any path can be typed, vmms checks it.
import { h, replace, button, table, cell } from "./dom.js";
import { input, select, field } from "./form.js";
import { BOOT_ORDERS, withBoot, dvdPositionName, freeDvdPosition, withDvdDrive, withoutDvdDrive } from "./config-edit.js";
import { LISTS } from "./pools.js";
import { ConfigCard, saveButton, settingsForm } from "./settings-card.js";

const BOOT_KINDS = [
    ["firmware", "Firmware (SeaBIOS)"],
    ["linux", "Linux kernel (bzImage)"],
    ["pvh", "PVH kernel (ELF)"],
];

const HINT = {
    boot: "The boot changes while the VM is off. The firmware boots the VM's own first IDE disk or first DVD drive, in the order given; a kernel is started directly, with its initrd and command line.",
    dvd: "A disc is inserted or ejected while the VM is off or runs (the guest sees the media change); drives are added and removed while it is off.",
};

export class BootSettings extends ConfigCard {
    constructor(model, alerts) {
        super(model, alerts, "Boot and DVD drives", "vmstack-boot-edit");
    }

    build(c) {
        return [this.bootForm(c), this.dvdForm(c)];
    }

    bootForm(c) {
        const b = c.boot || {};
        const f = {
            kind: select(BOOT_KINDS, b.kind || "pvh", { name: "boot_kind" }),
            order: select(BOOT_ORDERS, (b.order || ["dvd", "disk"]).join(","), { name: "boot_order" }),
            firmware: input({ name: "boot_firmware", value: b.firmware || "", placeholder: "/usr/share/seabios/bios-256k.bin" }),
            kernel: input({ name: "boot_kernel", value: b.kernel || "", list: LISTS.other }),
            initrd: input({ name: "boot_initrd", value: b.initrd || "", list: LISTS.other, placeholder: "none" }),
            cmdline: input({ name: "boot_cmdline", value: b.cmdline || "" }),
        };
        const firmware = h("div", { class: "vmstack-form-grid" }, field("Boot order", f.order), field("Firmware image", f.firmware));
        const kernel = h("div", { class: "vmstack-form-grid" },
                         field("Kernel", f.kernel), field("Initrd", f.initrd), field("Command line", f.cmdline));
        const sync = () => {
            firmware.hidden = f.kind.value !== "firmware";
            kernel.hidden = !firmware.hidden;
        };
        f.kind.addEventListener("change", sync);
        sync();
        const save = () => this.update("change the boot of", cfg => withBoot(cfg, {
            kind: f.kind.value, order: f.order.value, firmware: f.firmware.value,
            kernel: f.kernel.value, initrd: f.initrd.value, cmdline: f.cmdline.value,
        }), c);
        return settingsForm("Boot", save, field("Boot from", f.kind), firmware, kernel,
                            h("p", { class: "vmstack-sub" }, HINT.boot), saveButton("boot-save"));
    }

    dvdForm(c) {
        const drives = c.dvd_drives || [];
        const { table: t, tbody } = table("DVD drives", ["Drive", "Position", "Disc", ""]);
        drives.forEach((d, i) => {
            const iso = input({ name: `dvd-iso-${i}`, list: LISTS.isos, placeholder: "an ISO image", oneShot: true });
            iso.setAttribute("aria-label", `DVD drive ${i}: the ISO to insert`);
            const insert = () => this.callOnce([`dvd-iso-${i}`], `insert a disc into DVD drive ${i} of`, "InsertDvd", [i, iso.value.trim()], "us");
            const eject = () => this.call(`eject DVD drive ${i} of`, "EjectDvd", [i], "u");
            tbody.append(h("tr", { class: "pf-v6-c-table__tr", "data-dvd": i },
                cell("Drive", String(i)), cell("Position", dvdPositionName(d)),
                cell("Disc", d.path ? h("span", { class: "vmstack-path" }, d.path) : "empty"),
                cell("", h("div", { class: "vmstack-actions vmstack-dvd-actions" }, iso,
                  button("Insert", "secondary", insert, { "data-action": "dvd-insert", "aria-label": `Insert the ISO into DVD drive ${i}` }),
                  d.path ? button("Eject", "secondary", eject, { "data-action": "dvd-eject", "aria-label": `Eject DVD drive ${i}` }) : null,
                  this.removeDrive(i)))));
        });
        const free = freeDvdPosition(c);
        const add = () => this.update("add a DVD drive to", cfg => withDvdDrive(cfg) || cfg, c);
        return h("div", { class: "vmstack-form" },
                 h("h3", { class: "pf-v6-c-title pf-m-md vmstack-sub-title" }, "DVD drives"),
                 drives.length ? t : h("p", {}, "No DVD drives."),
                 h("p", { class: "vmstack-sub" }, HINT.dvd),
                 h("div", { class: "vmstack-actions" },
                   free ? button(`Add a DVD drive (${dvdPositionName(free)})`, "secondary", add, { "data-action": "dvd-add" })
                       : h("span", { class: "vmstack-sub" }, "Every IDE position is taken: no further DVD drive fits.")));
    }

    // Removing a drive asks first, in its row.
    removeDrive(index) {
        const box = h("span", { class: "vmstack-actions" });
        const reset = focus => {
            const b = button("Remove", "secondary", ask, { "data-action": "dvd-remove", "aria-label": `Remove DVD drive ${index}` });
            replace(box, b);
            if (focus)
                b.focus();
        };
        const ask = () => {
            const yes = button(`Remove DVD drive ${index}`, "danger", () =>
                this.update(`remove DVD drive ${index} of`, cfg => withoutDvdDrive(cfg, index)), { "data-action": "dvd-remove-confirm" });
            replace(box, yes, button("Cancel", "link", () => reset(true)));
            yes.focus();
        };
        reset();
        return box;
    }
}
