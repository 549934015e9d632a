// SPDX-License-Identifier: MIT
// The images in vmms's storage pools (GetHostCapabilities' storage_pools),
// as the user sees them: vmms has no call that lists a pool's files, so
// the page lists each pool with `find` run as the user (cockpit.spawn;
// the user's own rights, as vmctl's would be) and offers what it found in
// datalists: disk images, ISOs, other files (kernels). Any path can still
// be typed; vmms checks it (the pools, the caller's access).
// A new empty image is made with `vmctl disk create` as the user (vmms
// has no call for it either; vmctl's own disk commands work this way).
/* global cockpit */
import { h, replace } from "./dom.js";
import { parsePools, classifyImages } from "./config-edit.js";

export const LISTS = { disks: "vmstack-pool-disks", isos: "vmstack-pool-isos", other: "vmstack-pool-files" };

export class PoolImages {
    constructor(model) {
        this.model = model;
        this.found = { isos: [], disks: [], other: [] };
        this.lists = {};
        for (const [k, id] of Object.entries(LISTS)) {
            this.lists[k] = h("datalist", { id });
            document.body.append(this.lists[k]);
        }
    }

    pools() {
        return parsePools((this.model.host || {}).storage_pools);
    }

    // Reads every pool (two levels deep) again; a pool the user may not
    // read is left out.
    async refresh() {
        const lists = await Promise.all(this.pools().map(p =>
            cockpit.spawn(["find", p.dir, "-maxdepth", "2", "-type", "f", "-readable"], { err: "ignore" })
                .then(out => out.split("\n").filter(x => x), () => [])));
        this.found = classifyImages(lists.flat());
        for (const k of Object.keys(LISTS))
            replace(this.lists[k], this.found[k].map(p => h("option", { value: p })));
        return this.found;
    }
}

// A new empty image of `gib` GiB at path (VHDX, dynamic: it takes its
// space as the guest writes), as the user; rejects with vmctl's message.
export function createImage(path, gib) {
    return cockpit.spawn(["vmctl", "disk", "create", path, `${gib}G`, "--format=vhdx"], { err: "message" })
        .catch(err => Promise.reject(Object.assign(new Error(String(err.message || err).trim()), { name: "vmctl disk create" })));
}
