// SPDX-License-Identifier: MIT
// The vmstack page: the VM list or one VM's details (cockpit.location
// "/" or "/<id>", so the browser's back button works), alerts on top, and
// a notice while vmms cannot be reached.
/* global cockpit */
import "./page.css";
import { h, replace } from "./dom.js";
import { Model } from "./model.js";
import { Alerts } from "./actions.js";
import { VmList } from "./vm-list.js";
import { VmDetails } from "./vm-details.js";
import { describeError } from "./errors.js";
import { ListCpu } from "./graphs.js";
import { PoolImages } from "./pools.js";
import { Wizard } from "./wizard.js";
import { ReadOnly, accessState } from "./access.js";

function main() {
    const app = document.getElementById("app");
    const model = new Model();
    const root = h("main", { class: "pf-v6-c-page__main-section vmstack-main", id: "vmstack-main" });
    app.append(root);
    const alerts = new Alerts(root);
    const notice = h("div", { class: "vmstack-notice", role: "status", hidden: true });
    const banner = h("div", { class: "pf-v6-c-alert pf-m-info pf-m-inline vmstack-readonly", role: "status", hidden: true });
    const content = h("div", {});
    root.append(notice, banner, content);
    const readOnly = new ReadOnly(content, banner);

    const open = vm => cockpit.location.go(["vm", vm.id]);
    const list = new VmList(model, alerts, open);
    const details = new VmDetails(model, alerts, () => cockpit.location.go([]));
    const pools = new PoolImages(model);
    const wizard = new Wizard(model, alerts, pools);
    list.el.insertBefore(wizard.el, list.el.children[1]);
    list.el.append(pools.el);
    new ListCpu(model, (path, pct) => list.setCpu(path, pct), () => list.el.isConnected); // eslint-disable-line no-new

    function route() {
        const path = cockpit.location.path;
        const vm = path[0] === "vm" ? model.byId(path[1]) : null;
        const view = vm ? details.el : list.el;
        const changed = content.firstChild !== view;
        if (!vm)
            details.vm = null;
        // The view in the document first: what show() starts (the graphs'
        // polling) starts only for what is on the screen.
        if (changed)
            replace(content, view);
        if (vm && details.vm !== vm)
            details.show(vm);
        if (changed) {
            document.title = vm ? `${vm.props["org.vmstack.VMMS1.VM"].Name} – Virtual machines` : "Virtual machines";
            const heading = view.querySelector("h1, h2");
            if (heading && document.activeElement && document.activeElement !== document.body)
                heading.setAttribute("tabindex", "-1"), heading.focus();
        }
    }

    model.on((what, path) => {
        if (what === "service") {
            const s = model.service;
            notice.hidden = s === "up";
            // What was read from a vmms that is gone stays visible, dimmed
            // and out of reach (inert) until the new one has been read.
            content.inert = s !== "up" && s !== "connecting";
            content.classList.toggle("vmstack-stale", content.inert);
            replace(notice, s === "up" ? "" : s === "connecting" ? "Connecting to vmms…"
                : s === "down" ? "The vmstack service (vmms) is not running on this host; the page updates when it starts."
                    : describeError({ name: s, problem: s }).summary);
        } else if (what === "host") {
            notice.hidden = true;
            content.inert = false;
            content.classList.remove("vmstack-stale");
            list.renderHost();
            pools.refresh();
        } else if (what === "access") {
            readOnly.set(accessState(model.access));
        } else if (what === "vms") {
            list.renderAll();
            pools.refresh(); // which VMs use which image
            route();
        } else if (what === "vm") {
            list.renderVm(path);
            if (details.vm && details.vm.path === path)
                details.render();
        }
    });
    cockpit.addEventListener("locationchanged", route);
    setInterval(() => {
        list.tickAll();
        details.tick();
    }, 1000);
    model.setService("connecting");
    model.start();
    route();
}

if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", main);
else
    main();
