// SPDX-License-Identifier: MIT
// A VM's graphical console in its details page: noVNC (bundled, MPL-2.0)
// over a WebSocket that Cockpit turns into a stream channel running
// `vmctl display --stdio VM` as the page's user. vmctl asks vmms for the
// VNC connection (Display.OpenDisplay, the manage action) and relays it:
// no port of ours, and vmms decides who gets the screen. The VNC password
// comes from Display.Password (also the manage action), so a user without
// the right sees vmms's refusal here and no console. Beside the screen:
// Ctrl+Alt+Del, a "Send keys" menu of other combinations, "Type text"
// (text typed into the guest as key presses) and full screen.
// docs/cockpit.md.
/* global cockpit */
import RFB from "@novnc/novnc";
import "./console.css";
import { h, replace, button } from "./dom.js";
import { describeError } from "./errors.js";
import { IF_VM, IF_DISPLAY } from "./model.js";
import { consoleState, channelUrl } from "./console-state.js";
import { KEY_COMBOS, comboEvents, typeEvents, TYPE_MAX } from "./console-keys.js";
import { textarea } from "./form.js";

const RETRY_MS = [1000, 2000, 5000, 10000]; // after a drop while the VM still runs
const TYPE_PAUSE_MS = 8; // between typed characters: the guest's keyboard keeps up
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

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
                          { "data-action": "console-cad" });
        this.keys = h("select", { class: "vmstack-input vmstack-console-keys", "aria-label": "Send keys to the VM",
                                  "data-action": "console-keys", onchange: () => this.sendCombo() },
                      h("option", { value: "" }, "Send keys…"),
                      KEY_COMBOS.map(c => h("option", { value: c.id }, c.label)));
        this.typeToggle = button("Type text…", "secondary", () => this.toggleType(),
                                 { "data-action": "console-type", "aria-expanded": "false" });
        this.full = button("Full screen", "secondary", () => this.fullScreen(), { "data-action": "console-full" });
        this.tools = h("div", { class: "vmstack-actions", hidden: true },
                       this.keys, this.typeToggle, this.full, this.cad);
        this.typeText = textarea({ rows: 3 });
        this.typeText.setAttribute("aria-label", "Text to type into the VM");
        this.typeText.setAttribute("maxlength", String(TYPE_MAX));
        this.typeStatus = h("p", { class: "vmstack-sub", role: "status" },
                            "Typed as key presses on a US keyboard layout: letters, digits, punctuation, spaces, tabs and new lines.");
        this.typeButton = button("Type", "primary", () => this.type(), { "data-action": "console-type-go" });
        this.typeForm = h("div", { class: "vmstack-console-type", hidden: true },
                          this.typeText, h("div", { class: "vmstack-actions" }, this.typeButton), this.typeStatus);
        this.screen = h("div", { class: "vmstack-console-screen", hidden: true, "aria-label": "The VM's screen" });
        this.el = h("section", { class: "pf-v6-c-card vmstack-console", "aria-label": "Console" },
                    h("div", { class: "pf-v6-c-card__title vmstack-console-title" },
                      h("h2", { class: "pf-v6-c-card__title-text" }, "Console"), this.tools),
                    h("div", { class: "pf-v6-c-card__body" }, this.status, this.typeForm, this.screen));
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
        this.tools.hidden = false;
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
        this.tools.hidden = true;
        this.typeForm.hidden = true;
        this.typeToggle.setAttribute("aria-expanded", "false");
        if (document.fullscreenElement === this.screen)
            document.exitFullscreen().catch(() => {});
    }

    // The menu's combination, pressed in order and released in reverse;
    // the menu back on its prompt and the keyboard back on the screen.
    sendCombo() {
        const combo = KEY_COMBOS.find(c => c.id === this.keys.value);
        this.keys.value = "";
        if (!combo || !this.rfb)
            return;
        for (const [sym, code, down] of comboEvents(combo))
            this.rfb.sendKey(sym, code, down);
        this.rfb.focus();
    }

    toggleType() {
        const open = this.typeForm.hidden;
        this.typeForm.hidden = !open;
        this.typeToggle.setAttribute("aria-expanded", String(open));
        if (open)
            this.typeText.focus();
    }

    // The text as key presses, a character at a time (a few ms apart, so
    // that the guest's keyboard takes them all); a character a US
    // keyboard has no key for stops it before anything is typed.
    async type() {
        const { keys, bad } = typeEvents(this.typeText.value);
        if (bad.length) {
            this.typeStatus.textContent = bad[0] === "too long"
                ? `At most ${TYPE_MAX} characters at a time.`
                : `Nothing typed: no key for ${bad.map(c => JSON.stringify(c)).join(", ")} on a US keyboard layout.`;
            return;
        }
        const gen = this.gen;
        this.typeButton.disabled = true;
        for (let i = 0; i < keys.length; i++) {
            if (gen !== this.gen || !this.rfb)
                break;
            for (const [sym, code, down] of keys[i])
                this.rfb.sendKey(sym, code, down);
            if (i % 50 === 0)
                this.typeStatus.textContent = `Typing… ${i + 1} of ${keys.length} characters`;
            await sleep(TYPE_PAUSE_MS);
        }
        this.typeButton.disabled = false;
        this.typeStatus.textContent = gen === this.gen
            ? `Typed ${keys.length} characters.` : "Typing stopped: the console disconnected.";
    }

    fullScreen() {
        this.screen.requestFullscreen().then(() => this.rfb && this.rfb.focus()).catch(err =>
            this.say(`Full screen is not available here (${err.message}).`));
    }

    disconnect() {
        this.teardown();
        this.screen.replaceChildren();
    }
}
