// SPDX-License-Identifier: MIT
// A VM's graphical console in its details page: noVNC (bundled, MPL-2.0)
// over a WebSocket that Cockpit turns into a stream channel running
// `vmctl display --stdio VM` as the page's user. vmctl asks vmms for the
// VNC connection (Display.OpenDisplay, the manage action) and relays it:
// no port of ours, and vmms decides who gets the screen. The VNC password
// comes from Display.Password (also the manage action), so a user without
// the right sees vmms's refusal here and no console. docs/cockpit.md.
/* global cockpit */
import RFB from "@novnc/novnc";
import "./console.css";
import { h, replace, button } from "./dom.js";
import { describeError } from "./errors.js";
import { IF_VM, IF_DISPLAY } from "./model.js";
import { consoleState, channelUrl } from "./console-state.js";

const RETRY_MS = [1000, 2000, 5000, 10000]; // after a drop while the VM still runs

function transportReady() {
    return new Promise(resolve => cockpit.transport.wait(resolve));
}

export class Console {
    constructor(model) {
        this.model = model;
        this.vm = null;
        this.rfb = null;
        this.gen = 0; // bumps on each connection attempt or teardown
        this.refused = null; // the VM path whose Password call was refused
        this.retries = 0;
        this.retryTimer = null;
        this.status = h("div", { class: "vmstack-console-status", role: "status", "aria-live": "polite" });
        this.cad = button("Ctrl+Alt+Del", "secondary", () => this.rfb && this.rfb.sendCtrlAltDel(),
                          { "data-action": "console-cad", hidden: true });
        this.screen = h("div", { class: "vmstack-console-screen", hidden: true, "aria-label": "The VM's screen" });
        this.el = h("section", { class: "pf-v6-c-card vmstack-console", "aria-label": "Console" },
                    h("div", { class: "pf-v6-c-card__title vmstack-console-title" },
                      h("h2", { class: "pf-v6-c-card__title-text" }, "Console"),
                      h("div", { class: "vmstack-actions" }, this.cad)),
                    h("div", { class: "pf-v6-c-card__body" }, this.status, this.screen));
        cockpit.addEventListener("locationchanged", () => this.followLocation());
    }

    show(vm) {
        if (this.vm !== vm)
            this.disconnect();
        this.vm = vm;
        this.refused = null;
        this.retries = 0;
        this.vmChanged();
        this.followLocation();
    }

    // Leaving the VM's page ends its console; #/vm/<id>/console brings it
    // into view with the keyboard on it (the list's Console button).
    followLocation() {
        const path = cockpit.location.path;
        if (!this.vm || path[0] !== "vm" || path[1] !== this.vm.id) {
            this.disconnect();
            this.vm = null;
            return;
        }
        if (path[2] === "console") {
            this.el.scrollIntoView({ block: "start" });
            if (this.rfb)
                this.rfb.focus();
            else
                this.focusWhenConnected = true;
        }
    }

    name() {
        return this.vm.props[IF_VM].Name || this.vm.id;
    }

    // The VM's properties changed (or were first read).
    vmChanged() {
        if (!this.vm)
            return;
        const d = this.vm.props[IF_DISPLAY] || {};
        const st = consoleState(this.vm.props[IF_VM], d);
        this.setAspect(d.Mode);
        if (st !== "ready") {
            this.refused = null;
            this.retries = 0;
            if (this.rfb || this.connecting)
                this.disconnect();
            this.say(st === "none"
                ? `${this.name()} has no graphical display (it can get one while it is off: vmctl edit ${this.name()} --display=on).`
                : st === "off" ? `The console shows while ${this.name()} runs.`
                    : "The VM's display server is starting…");
            return;
        }
        if (!this.rfb && !this.connecting && !this.retryTimer && this.refused !== this.vm.path)
            this.connect();
    }

    setAspect(mode) {
        const [w, hgt] = Array.isArray(mode) && mode[0] > 0 && mode[1] > 0 ? mode : [4, 3];
        this.screen.style.aspectRatio = `${w} / ${hgt}`;
        this.screen.style.setProperty("--vmstack-aspect", String(w / hgt));
    }

    say(text, error = null) {
        const e = error ? describeError(error) : null;
        replace(this.status, h("p", {}, text),
                e ? h("p", {}, e.summary) : null,
                e && e.detail ? h("p", { class: "vmstack-error-detail" }, e.detail) : null);
        this.status.dataset.error = e ? e.name : "";
        this.status.hidden = false;
    }

    async connect() {
        const gen = ++this.gen;
        const vm = this.vm;
        this.connecting = true;
        this.say("Connecting to the console…");
        let password;
        try {
            [password] = await this.model.call(vm.path, IF_DISPLAY, "Password");
            await transportReady();
        } catch (err) {
            if (gen !== this.gen)
                return;
            this.connecting = false;
            this.refused = vm.path; // again when the VM's state changes
            this.say(`The console of ${this.name()} cannot be opened.`, err);
            return;
        }
        if (gen !== this.gen)
            return;
        const url = channelUrl(cockpit.transport.uri("channel"), cockpit.transport.csrf_token, vm.id);
        const rfb = new RFB(this.screen, url, { credentials: { password }, shared: true });
        rfb.scaleViewport = true; // the whole screen at the card's width
        rfb.resizeSession = false; // the guest's mode is the guest's
        rfb.showDotCursor = true; // vmdisplay sends no cursor shape
        rfb.addEventListener("connect", () => this.connected(gen));
        rfb.addEventListener("disconnect", ev => this.dropped(gen, ev.detail.clean));
        rfb.addEventListener("securityfailure", ev => this.securityFailure(gen, ev.detail));
        this.rfb = rfb;
    }

    connected(gen) {
        if (gen !== this.gen)
            return;
        this.connecting = false;
        this.retries = 0;
        this.screen.hidden = false;
        this.cad.hidden = false;
        this.status.hidden = true;
        this.status.dataset.error = "";
        if (this.focusWhenConnected) {
            this.focusWhenConnected = false;
            this.rfb.focus();
        }
    }

    securityFailure(gen, detail) {
        if (gen !== this.gen)
            return;
        this.failedAuth = `the VNC server refused the login${detail.reason ? `: ${detail.reason}` : ""}`;
    }

    // The connection ended: the VM stopped (vmChanged says so once its
    // state arrives), vmdisplay restarted, or the channel failed: once the
    // VM still runs, try again, a little later each time.
    dropped(gen, clean) {
        if (gen !== this.gen)
            return;
        const why = this.failedAuth || (clean ? "it was closed" : "the connection failed");
        this.failedAuth = null;
        this.rfb = null; // noVNC is done with it already
        this.teardown();
        this.say(`The console disconnected (${why}); it reconnects while ${this.name()} runs.`);
        const delay = RETRY_MS[Math.min(this.retries++, RETRY_MS.length - 1)];
        this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.vmChanged();
        }, delay);
    }

    teardown() {
        this.gen++;
        this.connecting = false;
        if (this.rfb) {
            const rfb = this.rfb;
            this.rfb = null;
            try {
                rfb.disconnect();
            } catch (err) {
                console.info("vmstack: closing the console:", err.message);
            }
        }
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.screen.hidden = true;
        this.cad.hidden = true;
    }

    disconnect() {
        this.teardown();
        this.screen.replaceChildren();
    }
}
