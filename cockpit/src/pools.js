// SPDX-License-Identifier: MIT
// vmms's storage pools (GetHostCapabilities' storage_pools) and their
// images, from vmms: ListPoolImages (read with the caller's own rights:
// a pool the user may not read says so), shown as a card on the list page
// (name, format, size, space on disk, the VMs that use it) and offered in
// datalists (disk images, ISOs, other files such as kernels); any path can
// still be typed, and vmms checks it. A new image is CreatePoolImage's
// (the manage action; vmms makes it as the caller), and one made for a VM
// vmms then refused goes again by DeletePoolImage.
import { h, replace, card, table, cell } from "./dom.js";
import { parsePools } from "./config-edit.js";
import { formatBytes } from "./format.js";
import { IF_MANAGER } from "./model.js";
import { describeError } from "./errors.js";

const ROOT = "/org/vmstack/VMMS1";
export const LISTS = { disks: "vmstack-pool-disks", isos: "vmstack-pool-isos", other: "vmstack-pool-files" };
const COLUMNS = ["Image", "Format", "Size", "On disk", "Used by"];

// ListPoolImages' rows of one pool into what the datalists offer: ISOs,
// disk images (raw and VHDX, not a checkpoint's .avhdx), other files
// (kernels, initrds), each a full path. Pure (tests/unit/cockpit-js.mjs).
export function classifyPoolImages(dir, rows) {
    const out = { isos: [], disks: [], other: [] };
    for (const [name, format] of Array.isArray(rows) ? rows : []) {
        const path = `${dir}/${name}`;
        if (format === "iso")
            out.isos.push(path);
        else if ((format === "raw" || format === "vhdx") && !/\.avhdx$/i.test(name))
            out.disks.push(path);
        else if (format === "file" && !/\.(json|log|vmrs|tmp)$/i.test(name))
            out.other.push(path);
    }
    return out;
}

export class PoolImages {
    constructor(model) {
        this.model = model;
        this.found = { isos: [], disks: [], other: [] };
        this.lists = {};
        for (const [k, id] of Object.entries(LISTS)) {
            this.lists[k] = h("datalist", { id });
            document.body.append(this.lists[k]);
        }
        this.body = h("div", { class: "vmstack-pools" });
        this.el = card("Storage pools", this.body);
        this.generation = 0;
    }

    pools() {
        return parsePools((this.model.host || {}).storage_pools);
    }

    // Every pool again (one ListPoolImages each); the newest refresh wins.
    async refresh() {
        const gen = ++this.generation;
        const pools = this.pools();
        const read = await Promise.all(pools.map(p =>
            this.model.call(ROOT, IF_MANAGER, "ListPoolImages", [p.dir], "s")
                .then(([rows]) => ({ ...p, rows }), err => ({ ...p, rows: [], err }))));
        if (gen !== this.generation)
            return this.found;
        const found = { isos: [], disks: [], other: [] };
        for (const p of read) {
            const c = classifyPoolImages(p.dir, p.rows);
            for (const k of Object.keys(found))
                found[k].push(...c[k]);
        }
        for (const k of Object.keys(found))
            found[k].sort();
        this.found = found;
        for (const k of Object.keys(LISTS))
            replace(this.lists[k], found[k].map(p => h("option", { value: p })));
        this.render(read);
        return found;
    }

    render(read) {
        replace(this.body, read.length ? read.map(p => this.renderPool(p))
            : h("p", { class: "vmstack-empty" }, "vmms has no storage pools (vmms --storage-pool)."));
    }

    renderPool(p) {
        const title = h("h3", { class: "vmstack-pool-title" }, p.dir, p.readOnly ? " (read-only)" : "");
        if (p.err) {
            const { summary, detail } = describeError(p.err);
            return h("div", { class: "vmstack-pool", "data-pool": p.dir }, title,
                     h("p", { class: "vmstack-pool-error" }, `Cannot list this pool: ${summary}`, detail ? ` ${detail}` : ""));
        }
        if (!p.rows.length)
            return h("div", { class: "vmstack-pool", "data-pool": p.dir }, title, h("p", { class: "vmstack-empty" }, "No images."));
        const { table: t, tbody } = table(`Images in ${p.dir}`, COLUMNS);
        for (const [name, format, size, onDisk, users] of p.rows)
            tbody.append(h("tr", { class: "pf-v6-c-table__tr", "data-image": name },
                           cell("Image", name), cell("Format", format),
                           cell("Size", size > 0 ? formatBytes(size) : "—"), cell("On disk", formatBytes(onDisk)),
                           cell("Used by", users.length ? users.join(", ") : "—")));
        return h("div", { class: "vmstack-pool", "data-pool": p.dir }, title, t);
    }
}

// A new empty dynamic VHDX of `gib` GiB named `name` in pool `dir`, by
// vmms as the user; resolves to its path, rejects with vmms's error.
export async function createImage(model, dir, name, gib) {
    const [path] = await model.call(ROOT, IF_MANAGER, "CreatePoolImage", [dir, name, "vhdx", Number(gib) * 1073741824, ""], "sssts");
    return path;
}

// Removes an image the page made (a VM vmms refused): failures are only logged.
export function deleteImage(model, dir, name) {
    return model.call(ROOT, IF_MANAGER, "DeletePoolImage", [dir, name], "ss")
        .catch(err => console.info("vmstack: could not remove", name, "again:", err.message));
}
