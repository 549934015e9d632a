#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Headless Chromium for test-cockpit.sh: drives the vmstack Cockpit page
(served by cockpit-ws, talking to a real vmms) over the DevTools protocol
and checks what a person would see. The WebSocket, the DevTools calls and
Chromium's start are display-browser.py's.

usage: cockpit-browser.py CHROMIUM URL OUT_DIR [all|unprivileged|shell]
Environment: ADDR (the private system bus, for busctl), KERNEL (a boot
file for a new VM), FIRMWARE and EMPTY_DISK (a firmware image in vmms's
--firmware-dir and a disk without a boot signature, for the boot warning), RESTART_REQUEST (a file the test creates when the
page is to see vmms restart; test-cockpit.sh restarts it then); with
DISPLAY_LOG (and VMCTL), the console's steps of cockpit-console.py follow
the others (VM screen, with a display, exists). The VMs alpha, beta and broken exist, Off; broken's
kernel is gone, so vmms refuses to start it.

Steps: the list at 1280x800; gamma created behind the page's back shows up
(VMAdded) and goes again (VMRemoved) without a reload; alpha started from
its button becomes Running live, with an uptime; paused by keyboard (Enter
on the focused button; the focus then is on Resume), resumed; broken's
start is refused and the page says why; a firmware VM (nothing, made over
the bus) started with no bootable disk gets the "Nothing to boot" warning
under its state and on its details page, live, gone once killed; the list's CPU column and alpha's
graphs show and move; alpha's processor limit and disk QoS set in the page
are in Config (busctl), bad values refused with vmms's error; beta's
details show its settings,
a checkpoint is created; beta's vCPUs changed
elsewhere show at once, and go back when the checkpoint is applied; it
is deleted; beta's vCPUs, memory and a NIC edited in the page are in
Config; a path typed to add a disk survives a change made elsewhere; a VM's boot, DVD drives, integration services, automatic actions
and NIC caps edited, and moves to a second vmms (live, quick,
shared-nothing, refused, cancelled; cockpit-moves.py, with ADDRB, PORTB,
PORT_NONE, ISO, STORAGE_B, IMAGES); the wizard creates and starts delta (a new VHDX, cloud-init), a
second delta is refused; delta is deleted from its details (its image
stays); alpha shut down; vmms restarts (the page says it is gone,
then shows the new vmms's VMs without a reload); the
list and the details at a phone's width. Screenshots of each in OUT_DIR.
unprivileged (a page whose bridge runs as a user outside the vmstack
group): the list shows read-only (GetCallerAccess): a banner with vmms's
reason, and no button that changes anything enabled, on the list and on
beta's details.
shell (URL is the shell's /vmstack): Cockpit's shell lists the page in its
menu and shows it, with the VMs, in its frame.
Fails on a JavaScript error or an alert the step did not expect.
Exit 0 when all passed, 1 on the first failure (said on stderr)."""
import base64
import importlib.util
import os
import subprocess
import sys
import time
import json

# Beside this file; also when another script loads this one by its path
# (tests/amdv/cockpit-login.py), where sys.path[0] is that script's folder.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp_session  # noqa: E402

# The graphical console's steps (cockpit-console.py), where the test has a
# VM with a display (DISPLAY_LOG).
_spec = importlib.util.spec_from_file_location(
    "cockpit_console", os.path.join(os.path.dirname(os.path.abspath(__file__)), "cockpit-console.py"))
console = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(console)
# Moves to a second vmms and the boot, DVD, services and NIC-cap settings
# (cockpit-moves.py).
_spec = importlib.util.spec_from_file_location(
    "cockpit_moves", os.path.join(os.path.dirname(os.path.abspath(__file__)), "cockpit-moves.py"))
moves = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(moves)

# Runs before the page's own scripts: records JavaScript errors, unhandled
# rejections, console.error and Content-Security-Policy violations (Cockpit's
# default policy), which the test fails on; and sets the browser's clock an
# hour ahead of the host's, as a remote browser's may be (the uptimes shown
# must be the host's).
PAGE_HOOK = r"""
const realNow = Date.now;
Date.now = () => realNow() + 3600 * 1000;
window.__errors = [];
window.addEventListener('error', e => window.__errors.push('error: ' + e.message));
window.addEventListener('unhandledrejection', e => window.__errors.push('unhandled rejection: ' +
    ((e.reason && e.reason.message) || e.reason)));
document.addEventListener('securitypolicyviolation', e => window.__errors.push('CSP: ' + e.violatedDirective +
    ' ' + e.blockedURI));
const origError = console.error;
console.error = (...a) => { window.__errors.push('console.error: ' + a.join(' ')); origError(...a); };
"""


class Failed(Exception):
    pass


class Page:
    def __init__(self, dt, out):
        self.dt = dt
        self.out = out

    def js(self, expr):
        return cdp_session.evaluate(self.dt, expr, Failed)

    def wait(self, what, expr, seconds=30):
        if cdp_session.poll(lambda: self.js("!!(%s)" % expr), seconds, 0.1):
            return
        self.shot("timeout")
        raise Failed("timed out waiting for %s (page text: %s)" % (what, self.js("document.body.innerText")[:600]))

    def size(self, width, height, mobile=False):
        cdp_session.set_size(self.dt, width, height, mobile)

    def shot(self, name, full=True):
        params = {"format": "png"}
        if full:
            params["captureBeyondViewport"] = True
        data = self.dt.call("Page.captureScreenshot", params)["data"]
        with open(os.path.join(self.out, name + ".png"), "wb") as f:
            f.write(base64.b64decode(data))

    def check_errors(self, step):
        errors = self.js("window.__errors")
        if errors:
            raise Failed("%s: JavaScript errors: %s" % (step, errors))

    def alerts(self):
        return self.js("[...document.querySelectorAll('.vmstack-alerts [role=alert]')].map(a => a.innerText)")

    def no_alerts(self, step):
        self.check_errors(step)
        a = self.alerts()
        if a:
            raise Failed("%s: an alert the test did not expect: %s" % (step, a))

    # Selectors of the VM list (vm-list.js: rows carry data-name, state
    # labels data-state, buttons data-action).
    def row(self, name):
        return "document.querySelector('tr[data-name=\"%s\"]')" % name

    def state_is(self, name, state):
        return "(%s || {querySelector: () => null}).querySelector('[data-state=\"%s\"]') !== null" % (self.row(name), state)

    def click(self, name, action):
        ok = self.js("(() => { const b = %s && %s.querySelector('button[data-action=\"%s\"]');"
                     " if (!b || b.disabled) return false; b.click(); return true; })()" % (self.row(name), self.row(name), action))
        if not ok:
            raise Failed("no %s button for %s" % (action, name))

    def click_sel(self, selector):
        if not self.js("(() => { const b = document.querySelector(%s); if (!b) return false; b.click(); return true; })()"
                       % json.dumps(selector)):
            raise Failed("nothing to click at %s" % selector)

    def set_input(self, selector, value, event="input"):
        """Types a value into a control (as a person would: the input event fires)."""
        if not self.js("(() => { const e = document.querySelector(%s); if (!e) return false; e.value = %s;"
                       " e.dispatchEvent(new Event(%s, {bubbles: true})); return true; })()"
                       % (json.dumps(selector), json.dumps(value), json.dumps(event))):
            raise Failed("no control at %s" % selector)

    def fits_phone(self, what, shot, back=True):
        """At a phone's 390x844 the page is at most 400 px wide (else Failed:
        what, "the list is", N px wide), screenshot shot; then 1280x800
        again unless not back."""
        self.size(390, 844, mobile=True)
        time.sleep(0.3)
        width = self.js("document.documentElement.scrollWidth")
        if width > 400:
            raise Failed("%s %d px wide at a phone's 390" % (what, width))
        self.shot(shot)
        if back:
            self.size(1280, 800)

    def key(self, key, code, keycode):
        for t in ("keyDown", "keyUp"):
            self.dt.call("Input.dispatchKeyEvent", {"type": t, "key": key, "code": code,
                                                    "windowsVirtualKeyCode": keycode, "text": "\r" if t == "keyDown" else ""})


def bus(*args):
    return cdp_session.bus(*args, error=Failed)


MANAGER = ["org.vmstack.VMMS1", "/org/vmstack/VMMS1", "org.vmstack.VMMS1.Manager"]


def note(s):
    print("--- page: " + s, flush=True)


def steps_first(p):
    p.size(1280, 800)
    p.wait("the VM list", p.row("alpha") + " && " + p.row("beta") + " && " + p.row("broken"))
    p.wait("the host card", "document.body.innerText.includes('vmstack') && /KVM/.test(document.body.innerText)")
    p.js("window.__loaded = 1")
    if p.js("document.querySelector('.vmstack-notice').hidden") is not True:
        raise Failed("the page says: " + p.js("document.querySelector('.vmstack-notice').innerText"))
    p.shot("list-1280", full=False)
    p.no_alerts("the list")


def steps_list(p):
    note("a VM created elsewhere appears, and goes when deleted (no reload)")
    cfg = json.dumps({"name": "gamma", "memory_mib": 96, "vcpus": 2, "boot": {"kernel": os.environ["KERNEL"]}})
    path = bus("call", *MANAGER, "CreateVM", "s", cfg).split('"')[1]
    p.wait("gamma's row", p.row("gamma"), 10)
    cells = p.js("[...%s.cells].map(c => c.innerText)" % p.row("gamma"))
    if cells[3] != "2" or "96 MiB" not in cells[4]:
        raise Failed("gamma's row: vCPUs and memory %s" % cells)
    bus("call", "org.vmstack.VMMS1", path, "org.vmstack.VMMS1.VM", "Delete")
    p.wait("gamma's row to go", "!" + p.row("gamma"), 10)
    if p.js("window.__loaded") != 1:
        raise Failed("the page reloaded")


def steps_lifecycle(p):
    note("start alpha: Starting, then Running live, with an uptime")
    p.click("alpha", "start")
    p.wait("alpha Running", p.state_is("alpha", "Running"), 60)
    # Seconds, not the browser's hour ahead: the offset was learnt from vmms.
    p.wait("alpha's uptime", "/^(\\d+ min )?\\d+ s$/.test(%s.cells[2].innerText.trim())" % p.row("alpha"), 10)
    p.no_alerts("start")
    p.shot("running-1280", full=False)

    note("pause by keyboard: Enter on the focused Pause button")
    p.js("%s.querySelector('button[data-action=\"pause\"]').focus()" % p.row("alpha"))
    p.key("Enter", "Enter", 13)
    p.wait("alpha Paused", p.state_is("alpha", "Paused"), 20)
    p.wait("the focus on Resume", "document.activeElement && document.activeElement.dataset.action === 'resume'", 5)
    p.key("Enter", "Enter", 13)
    p.wait("alpha Running again", p.state_is("alpha", "Running"), 20)
    p.no_alerts("pause/resume")

    note("a refused operation: broken's kernel is gone")
    p.click("broken", "start")
    p.wait("an alert", "document.querySelector('.vmstack-alerts [role=alert]') !== null", 20)
    text = p.alerts()[0]
    if "Could not start broken" not in text or "kernel" not in text:
        raise Failed("the alert does not say what and why: %r" % text)
    if p.js("document.querySelector('.vmstack-alerts [role=alert]').dataset.error") != "org.vmstack.Error.Failed":
        raise Failed("the alert's error: %s" % p.js("document.querySelector('.vmstack-alerts [role=alert]').dataset.error"))
    p.shot("refused-1280", full=False)
    p.click_sel(".vmstack-alerts button")
    p.no_alerts("closing the alert")


def steps_boot(p):
    note("a firmware VM that finds nothing to boot: the warning in the list and on its details, live")
    cfg = json.dumps({"name": "nothing", "memory_mib": 64, "vcpus": 1,
                      "boot": {"kind": "firmware", "firmware": os.environ["FIRMWARE"]},
                      "disks": [{"path": os.environ["EMPTY_DISK"], "bus": "ide"}]})
    path = bus("call", *MANAGER, "CreateVM", "s", cfg).split('"')[1]
    p.wait("nothing's row", p.row("nothing"), 10)
    warning = "(%s.querySelector('.vmstack-boot-warning') || {innerText: ''}).innerText" % p.row("nothing")
    if p.js(warning):
        raise Failed("an Off VM has a boot warning: %r" % p.js(warning))
    bus("call", "org.vmstack.VMMS1", path, "org.vmstack.VMMS1.VM", "Start")
    p.wait("nothing Running", p.state_is("nothing", "Running"), 30)
    p.wait("the warning under nothing's state (PropertiesChanged)", "/^Nothing to boot: the firmware found no bootable "
           "disk or DVD\\. Insert a DVD or attach a bootable disk/.test(%s)" % warning, 10)
    if p.js("%s.querySelector('.vmstack-boot-warning')" % p.row("alpha") + " !== null"):
        raise Failed("alpha, a kernel VM, has a boot warning")
    p.shot("boot-warning-1280", full=False)
    p.js("%s.querySelector('.vmstack-name').click()" % p.row("nothing"))
    head = "(document.querySelector('.vmstack-details-head .vmstack-boot-warning') || {innerText: ''}).innerText"
    p.wait("the warning on nothing's details", "/Nothing to boot/.test(%s) && /Insert a DVD/.test(%s)" % (head, head), 10)
    p.shot("boot-details-1280", full=False)
    bus("call", "org.vmstack.VMMS1", path, "org.vmstack.VMMS1.VM", "Kill")
    p.wait("the warning gone with the run", "!/Nothing to boot/.test(%s)" % head, 20)
    p.click_sel("button[data-action=back]")
    p.wait("the list again", p.row("nothing"), 10)
    bus("call", "org.vmstack.VMMS1", path, "org.vmstack.VMMS1.VM", "Delete")
    p.wait("nothing's row to go", "!" + p.row("nothing"), 10)
    if p.js("window.__loaded") != 1:
        raise Failed("the page reloaded")
    p.no_alerts("the boot warning")


def steps_details(p):
    note("beta's details: settings, a checkpoint created, applied, deleted")
    p.js("%s.querySelector('.vmstack-name').click()" % p.row("beta"))
    p.wait("beta's details", "document.querySelector('.vmstack-details h1') && "
           "document.querySelector('.vmstack-details h1').innerText.trim() === 'beta'", 10)
    p.wait("beta's settings", "/vCPUs\\s*1/.test(document.querySelector('.vmstack-details').innerText)", 10)
    p.js("document.getElementById('checkpoint-name').value = 'before-update'")
    p.click_sel("button[data-action=checkpoint-create]")
    p.wait("the checkpoint's row", "document.querySelector('tr[data-checkpoint=\"before-update\"]') !== null", 30)
    p.no_alerts("checkpoint create")
    p.shot("details-1280")
    note("beta's configuration changed elsewhere shows at once (Config invalidated)")
    beta = bus("call", *MANAGER, "GetVM", "s", "beta").split('"')[1]
    bus("call", "org.vmstack.VMMS1", beta, "org.vmstack.VMMS1.VM", "Update", "s",
        json.dumps({"name": "beta", "memory_mib": 64, "vcpus": 3, "boot": {"kernel": os.environ["KERNEL"]}}))
    p.wait("beta's 3 vCPUs", "/vCPUs\\s*3/.test(document.querySelector('.vmstack-details').innerText)", 10)
    p.click_sel("tr[data-checkpoint=\"before-update\"] button[data-action=checkpoint-apply]")
    p.click_sel("tr[data-checkpoint=\"before-update\"] button[data-action=checkpoint-apply-confirm]")
    p.wait("beta's 1 vCPU again (the checkpoint applied)", "/vCPUs\\s*1/.test(document.querySelector('.vmstack-details').innerText)", 30)
    p.no_alerts("checkpoint apply")
    p.size(390, 844, mobile=True)
    time.sleep(0.3)
    p.shot("details-phone")
    p.size(1280, 800)
    p.click_sel("tr[data-checkpoint=\"before-update\"] button[data-action=checkpoint-delete]")
    p.click_sel("tr[data-checkpoint=\"before-update\"] button[data-action=checkpoint-delete-confirm]")
    p.wait("the checkpoint gone", "document.querySelector('tr[data-checkpoint]') === null", 30)
    p.no_alerts("checkpoint delete")
    steps_settings_off(p)
    p.click_sel("button[data-action=back]")
    p.wait("the list again", p.row("alpha"), 10)


def config_of(name):
    """A VM's Config property as a dict, read with busctl (not the page)."""
    path = bus("call", *MANAGER, "GetVM", "s", name).split('"')[1]
    return json.loads(json.loads(bus("--json=short", "get-property", "org.vmstack.VMMS1", path,
                                     "org.vmstack.VMMS1.VM", "Config"))["data"])


def expect_alert(p, step, words, error):
    p.wait("an alert (%s)" % step, "document.querySelector('.vmstack-alerts [role=alert]') !== null", 20)
    text = p.alerts()[0]
    name = p.js("document.querySelector('.vmstack-alerts [role=alert]').dataset.error")
    if any(w not in text for w in words) or name != error:
        raise Failed("%s: the alert %r (%s), wanted %s and %s" % (step, text, name, words, error))
    p.click_sel(".vmstack-alerts button")
    p.check_errors(step)


def graph_points(p, chart, series):
    return p.js("(document.querySelector('[data-graph=%s] polyline[data-series=%s]') || {getAttribute: () => ''})"
                ".getAttribute('points')" % (chart, series)) or ""


def steps_graphs(p):
    note("the list's CPU column, from metering, for the running alpha")
    # Above 0 once two answers compare: the fake worker's vCPU time grows
    # 10 ms with each stats request, and vmms's metering round makes one
    # every second (--metering-interval-ms=1000); the list's GetAllMetrics
    # answers from those rounds.
    p.wait("alpha's CPU use above 0", "parseFloat(%s.cells[5].innerText) > 0 && /\\d %%$/.test(%s.cells[5].innerText.trim())"
           % (p.row("alpha"), p.row("alpha")), 20)
    if p.js("%s.cells[5].innerText.trim()" % p.row("beta")) != "—":
        raise Failed("beta (Off) has a CPU use: %s" % p.js("%s.cells[5].innerText" % p.row("beta")))
    note("alpha's graphs: they start with vmms's history, and move as the figures change")
    time.sleep(3)  # a few more of vmms's rounds (one a second) before the page opens
    opened = p.js("Date.now()")
    p.js("%s.querySelector('.vmstack-name').click()" % p.row("alpha"))
    p.wait("alpha's CPU graph with two points", "(document.querySelector('[data-graph=cpu] polyline[data-series=cpu]') || "
           "{getAttribute: () => ''}).getAttribute('points').split(' ').length >= 2", 20)
    # The graph is 300 units for its 5 minutes, 1 unit a second: vmms's
    # rounds (one a second here) are 1 unit apart, the page's own polls 2.
    # The first points drawn are 1 apart: they came from GetMetricsHistory.
    shown = p.js("Date.now()") - opened
    xs = [float(pt.split(",")[0]) for pt in graph_points(p, "cpu", "cpu").split(" ")]
    gaps = [b - a for a, b in zip(xs, xs[1:])]
    if len(xs) < 3 or any(g > 1.5 for g in gaps[:2]):
        raise Failed("alpha's CPU graph did not start with vmms's history: points at %r, %.1f s after the page opened"
                     % (xs, shown / 1000))
    before = {c: graph_points(p, c, k) for c, k in (("cpu", "cpu"), ("disk", "diskW"))}
    time.sleep(4.5)
    for chart, key in (("cpu", "cpu"), ("disk", "diskW")):
        after = graph_points(p, chart, key)
        if after == before[chart] or len(after.split(" ")) <= len(before[chart].split(" ")):
            raise Failed("the %s graph did not move: %r then %r" % (chart, before[chart], after))
        value = p.js("document.querySelector('[data-chart=%s] li[data-series=%s] .vmstack-graph-value').innerText" % (chart, key))
        if not value or float(value.split()[0]) <= 0:
            raise Failed("the %s graph's %s figure: %r (the fake worker's counters grow)" % (chart, key, value))
    p.no_alerts("graphs")
    p.shot("graphs-1280", full=False)
    p.fits_phone("the details are", "graphs-phone")

    note("a running VM's processor limit and disk QoS, and vmms's refusals")
    limit = ".vmstack-settings-edit input[name=limit_pct]"
    p.set_input(limit, "50")
    p.js("document.querySelector(%s).dataset.beforeSave = '1'" % json.dumps(limit))
    p.click_sel("button[data-action=settings-save]")
    wait_config(p, "alpha", lambda c: c.get("processor", {}).get("limit_pct") == 50, "processor.limit_pct 50")
    # The page rebuilds the form once it has read the new Config: a value
    # typed before that is overwritten by the setting that changed (50),
    # as the form is meant to (form-edits.js); a person cannot type that
    # fast, a test under load can (one CI run typed 150 first).
    p.wait("the form rebuilt from the new Config", "!document.querySelector(%s).dataset.beforeSave" % json.dumps(limit), 10)
    p.no_alerts("processor limit")
    p.set_input(".vmstack-settings-edit input[name=limit_pct]", "150")
    p.click_sel("button[data-action=settings-save]")
    expect_alert(p, "limit 150", ["Could not change the settings of alpha", "limit_pct"], "org.vmstack.Error.InvalidConfig")
    p.set_input(".vmstack-settings-edit input[name=limit_pct]", "50")
    p.set_input(".vmstack-settings-edit input[name=vcpus]", "2")
    p.click_sel("button[data-action=settings-save]")
    expect_alert(p, "vCPUs of a running VM", ["not possible in the VM's present state", "vcpus"], "org.vmstack.Error.InvalidState")
    p.set_input("tr[data-disk='0'] input[name=qos-max-0]", "500")
    p.click_sel("tr[data-disk='0'] button[data-action=disk-qos]")
    wait_config(p, "alpha", lambda c: c["disks"][0].get("qos", {}).get("max_iops") == 500, "disks[0].qos.max_iops 500")
    p.no_alerts("disk QoS")
    p.wait("the disk row rebuilt with max 500", "document.querySelector(\"tr[data-disk='0'] input[name=qos-max-0]\").value === '500'", 10)
    p.set_input("tr[data-disk='0'] input[name=qos-min-0]", "600")
    # Config changes underneath (another client sets the byte rate): the
    # row is rebuilt, and the minimum typed but not yet set stays.
    path = bus("call", *MANAGER, "GetVM", "s", "alpha").split('"')[1]
    bus("call", "org.vmstack.VMMS1", path, "org.vmstack.VMMS1.VM", "SetDiskQoS", "uttt", "0", "500", "0", "1000000")
    p.wait("the byte rate set elsewhere, on the page", "document.querySelector(\"tr[data-disk='0'] input[name=qos-bps-0]\").value === '1000000'", 10)
    typed = p.js("document.querySelector(\"tr[data-disk='0'] input[name=qos-min-0]\").value")
    if typed != "600":
        raise Failed("the minimum IOPS typed before Config changed was lost: the field holds %r" % typed)
    p.click_sel("tr[data-disk='0'] button[data-action=disk-qos]")
    expect_alert(p, "min above max", ["Could not set disk 0's QoS of alpha", "min_iops"], "org.vmstack.Error.InvalidArgument")
    p.click_sel("button[data-action=back]")
    p.wait("the list again", p.row("alpha"), 10)


def wait_config(p, name, pred, what, seconds=15):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        c = config_of(name)
        if pred(c):
            return c
        time.sleep(0.2)
    p.shot("timeout")
    raise Failed("%s's Config never had %s: %s (alerts: %s)" % (name, what, json.dumps(c), p.alerts()))


def steps_settings_off(p):
    note("beta (Off): vCPUs, memory and Dynamic Memory saved into Config; a network adapter added and removed")
    p.set_input(".vmstack-settings-edit input[name=vcpus]", "2")
    p.set_input(".vmstack-settings-edit input[name=memory_mib]", "128")
    p.click_sel("button[data-action=settings-save]")
    wait_config(p, "beta", lambda c: c["vcpus"] == 2 and c["memory_mib"] == 128, "vcpus 2, memory_mib 128")
    p.wait("beta's 2 vCPUs on the page", "/vCPUs\\s*2/.test(document.querySelector('.vmstack-details').innerText)", 10)
    p.wait("the Dynamic Memory range hidden while it is off",
           "document.querySelector('.vmstack-settings-edit input[name=dm_minimum_mib]').offsetParent === null", 5)
    p.click_sel(".vmstack-settings-edit input[name=dm_enabled]")
    p.set_input(".vmstack-settings-edit input[name=dm_minimum_mib]", "64")
    p.set_input(".vmstack-settings-edit input[name=dm_maximum_mib]", "256")
    p.click_sel("button[data-action=settings-save]")
    wait_config(p, "beta", lambda c: c.get("dynamic_memory", {}).get("enabled") is True and
                c["dynamic_memory"].get("minimum_mib") == 64 and c["dynamic_memory"].get("maximum_mib") == 256,
                "Dynamic Memory 64..256 MiB")
    p.wait("Dynamic Memory on the page", "/Dynamic\\s*Memory\\s*on/.test(document.querySelector('.vmstack-details').innerText)", 10)
    p.set_input(".vmstack-settings-edit input[name=vcpus]", "999")
    p.click_sel("button[data-action=settings-save]")
    expect_alert(p, "999 vCPUs", ["Could not change the settings of beta", "vcpus"], "org.vmstack.Error.InvalidConfig")
    p.set_input(".vmstack-settings-edit input[name=attach-nic-mac]", "00:15:5d:00:00:42")
    p.click_sel("button[data-action=nic-attach]")
    wait_config(p, "beta", lambda c: [n.get("mac") for n in c.get("nics", [])] == ["00:15:5d:00:00:42"], "the new NIC")
    p.wait("the NIC's row", "document.querySelector('tr[data-nic=\"0\"]') !== null", 10)
    p.click_sel("tr[data-nic='0'] button[data-action=nic-remove]")
    p.click_sel("tr[data-nic='0'] button[data-action=nic-remove-confirm]")
    wait_config(p, "beta", lambda c: not c.get("nics"), "no NIC")
    p.no_alerts("beta's settings")
    note("beta (Off): a disk added (the path typed survives a change made elsewhere), grown from 1 to 4 MiB by ResizeDisk (the file grows), shrinking refused, removed")
    image = os.path.join(os.environ["IMAGES"], "beta-data.img")
    with open(image, "wb") as f:
        f.truncate(1 << 20)
    # A path being typed survives a rebuild of the card (a change made
    # elsewhere), and the field empties once the disk is added.
    path_field = "document.querySelector('.vmstack-settings-edit input[name=attach-disk-path]')"
    p.set_input(".vmstack-settings-edit input[name=attach-disk-path]", image)
    changed = config_of("beta")
    changed["memory_mib"] = 192
    bus("call", "org.vmstack.VMMS1", bus("call", *MANAGER, "GetVM", "s", "beta").split('"')[1],
        "org.vmstack.VMMS1.VM", "Update", "s", json.dumps(changed))
    p.wait("the card rebuilt with 192 MiB",
           "document.querySelector('.vmstack-settings-edit input[name=memory_mib]').value === '192'", 10)
    if p.js(path_field + ".value") != image:
        raise Failed("the path typed to add a disk was lost when the card was rebuilt: %r" % p.js(path_field + ".value"))
    p.click_sel("button[data-action=disk-attach]")
    wait_config(p, "beta", lambda c: [d.get("path") for d in c.get("disks", [])] == [image], "the new disk")
    p.wait("the path field empty again after the disk was added", path_field + ".value === ''", 10)
    p.wait("the resize form", "document.querySelector('.vmstack-settings-edit input[name=resize-disk-mib]') !== null", 10)
    p.set_input(".vmstack-settings-edit select[name=resize-disk]", "0", "change")
    p.set_input(".vmstack-settings-edit input[name=resize-disk-mib]", "4")
    p.click_sel("button[data-action=disk-resize]")
    end = time.monotonic() + 15
    while os.path.getsize(image) != 4 << 20:
        if time.monotonic() > end:
            raise Failed("ResizeDisk from the page: beta-data.img is %d bytes" % os.path.getsize(image))
        time.sleep(0.2)
    p.no_alerts("beta's disk grown")
    p.set_input(".vmstack-settings-edit input[name=resize-disk-mib]", "2")
    p.click_sel("button[data-action=disk-resize]")
    expect_alert(p, "a smaller disk", ["Could not resize disk 0 of beta", "shrinking a disk is not supported"],
                 "org.vmstack.Error.InvalidArgument")
    if os.path.getsize(image) != 4 << 20:
        raise Failed("a refused shrink changed beta-data.img: %d bytes" % os.path.getsize(image))
    p.js("document.querySelector('.vmstack-resize').scrollIntoView({block: 'center'})")
    p.shot("disk-resize-1280", full=False)
    p.size(390, 844, mobile=True)
    time.sleep(0.3)
    if p.js("document.documentElement.scrollWidth") > 400:
        raise Failed("the resize form: the page is wider than a phone's 390 px")
    p.js("document.querySelector('.vmstack-resize').scrollIntoView({block: 'center'})")
    p.shot("disk-resize-phone", full=False)
    p.size(1280, 800)
    p.click_sel("tr[data-disk='0'] button[data-action=disk-remove]")
    p.click_sel("tr[data-disk='0'] button[data-action=disk-remove-confirm]")
    wait_config(p, "beta", lambda c: not c.get("disks"), "no disk")
    p.no_alerts("beta's disk")
    os.remove(image)


def steps_wizard(p):
    note("the new-VM wizard: delta, 2 vCPUs, 128 MiB, a new 1 GiB VHDX, cloud-init, started")
    p.click_sel("button[data-action=wizard-open]")
    p.wait("the wizard's form", "document.querySelector('.vmstack-wizard input[name=name]') !== null", 10)
    p.wait("the pools listed", "document.querySelector('.vmstack-wizard select[name=new_dir]').options.length > 0", 10)
    p.set_input(".vmstack-wizard input[name=name]", "delta")
    p.set_input(".vmstack-wizard input[name=vcpus]", "2")
    p.set_input(".vmstack-wizard input[name=memory_mib]", "128")
    p.set_input(".vmstack-wizard select[name=boot]", "kernel", "change")
    p.set_input(".vmstack-wizard input[name=kernel]", os.environ["KERNEL"])
    p.set_input(".vmstack-wizard input[name=new_size_gib]", "1")
    p.set_input(".vmstack-wizard textarea[name=user_data]", "#cloud-config\nhostname: delta\n")
    p.js("document.querySelector('.vmstack-wizard input[name=start]').checked = true")
    p.shot("wizard-1280")
    p.fits_phone("the wizard is", "wizard-phone")
    p.click_sel("button[data-action=wizard-create]")
    p.wait("delta's row, Running", p.state_is("delta", "Running"), 60)
    cells = p.js("[...%s.cells].map(c => c.innerText)" % p.row("delta"))
    if cells[3] != "2" or "128 MiB" not in cells[4]:
        raise Failed("delta's row: vCPUs and memory %s" % cells)
    c = config_of("delta")
    image = os.path.join(os.environ["TMPDIR"], "delta.vhdx")
    if c["vcpus"] != 2 or c["memory_mib"] != 128 or c["disks"][0]["path"] != image or \
            not any(d.get("path", "").endswith(".cidata.iso") for d in c.get("dvd_drives", [])):
        raise Failed("delta's configuration: %s" % json.dumps(c))
    if not os.path.getsize(image):
        raise Failed("no image at %s" % image)
    note("the storage pools' card: delta.vhdx, a VHDX of 1 GiB, used by delta (ListPoolImages)")
    img_row = "document.querySelector('.vmstack-pool tr[data-image=\"delta.vhdx\"]')"
    p.wait("delta.vhdx in the pools' card, used by delta", "%s && /vhdx/.test(%s.innerText) && /1(\\.0)? GiB/.test(%s.innerText) && "
           "/delta/.test(%s.cells[4].innerText)" % (img_row, img_row, img_row, img_row), 20)
    p.no_alerts("the wizard")
    note("a refused name: vmms's message in the alert, the new image made for it removed again")
    p.click_sel("button[data-action=wizard-open]")
    p.wait("the wizard's form", "document.querySelector('.vmstack-wizard input[name=name]') !== null", 10)
    p.wait("the pools listed", "document.querySelector('.vmstack-wizard select[name=new_dir]').options.length > 0", 10)
    p.set_input(".vmstack-wizard input[name=name]", "delta")
    p.set_input(".vmstack-wizard select[name=boot]", "kernel", "change")
    p.set_input(".vmstack-wizard input[name=kernel]", os.environ["KERNEL"])
    p.set_input(".vmstack-wizard input[name=new_file]", "delta2.vhdx")
    p.set_input(".vmstack-wizard input[name=new_size_gib]", "1")
    p.click_sel("button[data-action=wizard-create]")
    expect_alert(p, "a name taken", ["Could not create delta", "delta"], "org.vmstack.Error.Exists")
    image2 = os.path.join(os.environ["TMPDIR"], "delta2.vhdx")
    deadline = time.time() + 10
    while os.path.exists(image2) and time.time() < deadline:
        time.sleep(0.2)
    if os.path.exists(image2):
        raise Failed("the image made for the refused VM stays: %s" % image2)
    p.click_sel("button[data-action=wizard-cancel]")

    note("delete delta: asks first, the VM goes, its image stays")
    p.click("delta", "kill")
    p.wait("delta Off", p.state_is("delta", "Off"), 30)
    p.js("%s.querySelector('.vmstack-name').click()" % p.row("delta"))
    p.wait("delta's details", "document.querySelector('.vmstack-details h1') && "
           "document.querySelector('.vmstack-details h1').innerText.trim() === 'delta'", 10)
    p.click_sel("button[data-action=delete]")
    p.wait("the question", "/disk images stay/.test(document.querySelector('.vmstack-delete').innerText)", 5)
    p.click_sel("button[data-action=delete-confirm]")
    p.wait("delta gone from the list", p.row("alpha") + " && !" + p.row("delta"), 15)
    r = subprocess.run(["busctl", "--address=" + os.environ["ADDR"], "call", *MANAGER, "GetVM", "s", "delta"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode == 0 or "no VM is named 'delta'" not in r.stderr:
        raise Failed("delta is still known to vmms: %s %s" % (r.stdout, r.stderr))
    if not os.path.exists(image):
        raise Failed("Delete removed the disk image")
    p.no_alerts("delete")


def steps_end(p):
    note("shut alpha down")
    p.click("alpha", "stop")
    p.wait("alpha Off", p.state_is("alpha", "Off"), 60)
    p.no_alerts("shut down")

    note("vmms restarts: the page says it is gone, then reads the new one")
    open(os.environ["RESTART_REQUEST"], "w").close()
    p.wait("the notice that vmms is gone", "!document.querySelector('.vmstack-notice').hidden && "
           "/not running/.test(document.querySelector('.vmstack-notice').innerText)", 20)
    if not p.js("document.querySelector('.vmstack-stale') !== null && document.querySelector('.vmstack-stale').inert"):
        raise Failed("the old vmms's list is still usable while vmms is gone")
    p.shot("vmms-gone-1280", full=False)
    p.wait("the list from the new vmms", "document.querySelector('.vmstack-notice').hidden && " +
           p.state_is("alpha", "Off") + " && " + p.state_is("beta", "Off"), 30)
    if p.js("window.__loaded") != 1:
        raise Failed("the page reloaded")
    p.no_alerts("vmms restart")

    note("a phone's width")
    p.fits_phone("the list is", "list-phone", back=False)
    p.check_errors("the end")


def scenario(p):
    for steps in (steps_first, steps_list, steps_lifecycle, steps_boot, steps_graphs, steps_details, moves.settings, moves.moves, moves.elsewhere,
                  steps_wizard, steps_end):
        steps(p)
    if os.environ.get("DISPLAY_LOG"):
        console.scenario(p, p.out)


# Buttons that change nothing (cockpit/src/access.js); every other one
# must be disabled for a user who may only read.
READ_ACTIONS = ["back", "console", "wizard-cancel", "delete-cancel"]
ENABLED_MANAGING = ("[...document.querySelectorAll('button[data-action]')].filter(b => !%s.includes(b.dataset.action) "
                    "&& !b.disabled).map(b => b.dataset.action)" % json.dumps(READ_ACTIONS))
DISABLED_MANAGING = ("[...document.querySelectorAll('button[data-action]')].filter(b => !%s.includes(b.dataset.action) "
                     "&& b.disabled).length" % json.dumps(READ_ACTIONS))


def read_only(p, where):
    """The read-only banner with vmms's reason, and no button that would
    change something enabled (but some there, disabled)."""
    p.wait("the read-only banner (%s)" % where, "document.querySelector('.vmstack-readonly') && "
           "!document.querySelector('.vmstack-readonly').hidden", 20)
    text = p.js("document.querySelector('.vmstack-readonly').innerText")
    if "Read-only" not in text or "user 65534 may not do this" not in text:
        raise Failed("the banner does not say why: %r" % text)
    if "polkit is disabled" not in text:
        raise Failed("the banner lacks vmms's reason: %r" % text)
    enabled = p.js(ENABLED_MANAGING)
    if enabled:
        raise Failed("managing buttons enabled for a user who may only read (%s): %s" % (where, enabled))
    if p.js(DISABLED_MANAGING) == 0:
        raise Failed("no managing button on the page at all (%s): the check could not fail" % where)


def unprivileged(p):
    p.size(1280, 800)
    p.wait("the VM list", p.row("alpha") + " && " + p.row("beta"))
    p.no_alerts("the list")
    read_only(p, "the list")
    if not p.js("%s.querySelector('button[data-action=\"start\"]').disabled" % p.row("alpha")):
        raise Failed("alpha's Start is not disabled")
    if not p.js("document.querySelector('button[data-action=wizard-open]').disabled"):
        raise Failed("Create VM is not disabled")
    p.wait("the pools' card", "document.querySelector('.vmstack-pool') !== null", 20)
    p.shot("unprivileged-1280", full=False)
    p.js("%s.querySelector('.vmstack-name').click()" % p.row("beta"))
    p.wait("beta's details", "document.querySelector('.vmstack-details h1') && "
           "document.querySelector('.vmstack-details h1').innerText.trim() === 'beta'", 10)
    time.sleep(0.5)  # the details' cards (checkpoints, settings) drawn
    read_only(p, "beta's details")
    p.shot("unprivileged-details-1280", full=False)
    p.click_sel("button[data-action=back]")
    if not p.js(p.state_is("alpha", "Off")):
        raise Failed("alpha is not Off")
    p.check_errors("the end")
    if os.environ.get("DISPLAY_LOG"):
        console.unprivileged(p, p.out)


def shell(p):
    """The page in Cockpit's own shell (cockpit-system): in its menu, in its
    frame, with the VMs."""
    p.size(1280, 800)
    frame_rows = ("[...document.querySelectorAll('iframe')].some(f => f.contentDocument && "
                  "f.contentDocument.querySelectorAll('tr[data-name]').length >= 3)")
    p.wait("the page in the shell's frame with the VMs", frame_rows, 60)
    if not p.js("[...document.querySelectorAll('a')].some(a => a.innerText.trim() === 'vmstack VMs')"):
        raise Failed("the shell's menu has no 'vmstack VMs'")
    p.shot("shell-1280", full=False)
    p.check_errors("the shell")


console.init(Failed, bus, note, MANAGER)
moves.init(Failed, bus, note, MANAGER, config_of, wait_config, expect_alert)


def run_steps(tool, run, on_error=None):
    """A browser tool's main: run() the steps; 0 when they pass, 1 when a
    step failed (Failed), 2 on anything else, said on stderr, then
    on_error() (what the tool keeps of a browser that went away)."""
    try:
        run()
        return 0
    except Failed as e:
        print("%s: FAIL: %s" % (tool, e), file=sys.stderr)
        return 1
    except Exception as e:  # a test tool: say what went wrong
        print("%s: %s: %s" % (tool, type(e).__name__, e), file=sys.stderr)
        if on_error:
            on_error()
        return 2


def main():
    modes = {"all": scenario, "unprivileged": unprivileged, "shell": shell}
    if len(sys.argv) not in (4, 5) or (sys.argv[4:] and sys.argv[4] not in modes):
        print(__doc__, file=sys.stderr)
        return 2
    chromium, url, out = sys.argv[1:4]
    steps = modes[sys.argv[4] if sys.argv[4:] else "all"]

    def run():
        with cdp_session.page_session(chromium, url, "cockpit-browser.", hook=PAGE_HOOK) as dt:
            steps(Page(dt, out))
        print("page: all steps passed")

    return run_steps("cockpit-browser", run)


if __name__ == "__main__":
    sys.exit(main())
