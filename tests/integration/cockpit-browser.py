#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Headless Chromium for test-cockpit.sh: drives the vmstack Cockpit page
(served by cockpit-ws, talking to a real vmms) over the DevTools protocol
and checks what a person would see. The WebSocket, the DevTools calls and
Chromium's start are display-browser.py's.

usage: cockpit-browser.py CHROMIUM URL OUT_DIR [all|unprivileged|shell]
Environment: ADDR (the private system bus, for busctl), KERNEL (a boot
file for a new VM), RESTART_REQUEST (a file the test creates when the
page is to see vmms restart; test-cockpit.sh restarts it then); with
DISPLAY_LOG (and VMCTL), the console's steps of cockpit-console.py follow
the others (VM screen, with a display, exists). The VMs alpha, beta and broken exist, Off; broken's
kernel is gone, so vmms refuses to start it.

Steps: the list at 1280x800; gamma created behind the page's back shows up
(VMAdded) and goes again (VMRemoved) without a reload; alpha started from
its button becomes Running live, with an uptime; paused by keyboard (Enter
on the focused button; the focus then is on Resume), resumed; broken's
start is refused and the page says why; beta's details show its settings,
a checkpoint is created; beta's vCPUs changed
elsewhere show at once, and go back when the checkpoint is applied; it
is deleted; alpha shut down; vmms restarts (the page says it is gone,
then shows the new vmms's VMs without a reload); the
list and the details at a phone's width. Screenshots of each in OUT_DIR.
unprivileged (a page whose bridge runs as a user outside the vmstack
group): the list shows, and alpha's Start is refused with vmms's reason
(PermissionDenied).
shell (URL is the shell's /vmstack): Cockpit's shell lists the page in its
menu and shows it, with the VMs, in its frame.
Fails on a JavaScript error or an alert the step did not expect.
Exit 0 when all passed, 1 on the first failure (said on stderr)."""
import base64
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import json

_spec = importlib.util.spec_from_file_location(
    "display_browser", os.path.join(os.path.dirname(os.path.abspath(__file__)), "display-browser.py"))
display_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(display_browser)
# The graphical console's steps (cockpit-console.py), where the test has a
# VM with a display (DISPLAY_LOG).
_spec = importlib.util.spec_from_file_location(
    "cockpit_console", os.path.join(os.path.dirname(os.path.abspath(__file__)), "cockpit-console.py"))
console = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(console)

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
        r = self.dt.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise Failed("page script %r: %s" % (expr[:80], r["exceptionDetails"].get("exception", {}).get(
                "description", r["exceptionDetails"].get("text"))))
        return r["result"].get("value")

    def wait(self, what, expr, seconds=30):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.js("!!(%s)" % expr):
                return
            time.sleep(0.1)
        self.shot("timeout")
        raise Failed("timed out waiting for %s (page text: %s)" % (what, self.js("document.body.innerText")[:600]))

    def size(self, width, height, mobile=False):
        self.dt.call("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

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

    def key(self, key, code, keycode):
        for t in ("keyDown", "keyUp"):
            self.dt.call("Input.dispatchKeyEvent", {"type": t, "key": key, "code": code,
                                                    "windowsVirtualKeyCode": keycode, "text": "\r" if t == "keyDown" else ""})


def bus(*args):
    r = subprocess.run(["busctl", "--address=" + os.environ["ADDR"], *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise Failed("busctl %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout.strip()


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
    p.click_sel("button[data-action=back]")
    p.wait("the list again", p.row("alpha"), 10)


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
    p.size(390, 844, mobile=True)
    time.sleep(0.3)
    width = p.js("document.documentElement.scrollWidth")
    if width > 400:
        raise Failed("the list is %d px wide at a phone's 390" % width)
    p.shot("list-phone")
    p.check_errors("the end")


def scenario(p):
    for steps in (steps_first, steps_list, steps_lifecycle, steps_details, steps_end):
        steps(p)
    if os.environ.get("DISPLAY_LOG"):
        console.scenario(p, p.out)


def unprivileged(p):
    p.size(1280, 800)
    p.wait("the VM list", p.row("alpha") + " && " + p.row("beta"))
    p.no_alerts("the list")
    p.click("alpha", "start")
    p.wait("an alert", "document.querySelector('.vmstack-alerts [role=alert]') !== null", 20)
    text = p.alerts()[0]
    if "Could not start alpha" not in text or "You are not allowed to do this." not in text:
        raise Failed("the alert does not say what and why: %r" % text)
    name = p.js("document.querySelector('.vmstack-alerts [role=alert]').dataset.error")
    if name != "org.vmstack.Error.PermissionDenied":
        raise Failed("the alert's error: %s" % name)
    if not p.js(p.state_is("alpha", "Off")):
        raise Failed("alpha is not Off")
    p.shot("unprivileged-1280", full=False)
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


def main():
    modes = {"all": scenario, "unprivileged": unprivileged, "shell": shell}
    if len(sys.argv) not in (4, 5) or (sys.argv[4:] and sys.argv[4] not in modes):
        print(__doc__, file=sys.stderr)
        return 2
    chromium, url, out = sys.argv[1:4]
    steps = modes[sys.argv[4] if sys.argv[4:] else "all"]
    profile = tempfile.mkdtemp(prefix="cockpit-browser.")
    proc = None
    try:
        proc, ws_url = display_browser.start(chromium, profile, False, 60)
        dt = display_browser.DevTools(ws_url)
        dt.call("Page.enable")
        dt.call("Page.addScriptToEvaluateOnNewDocument", {"source": PAGE_HOOK})
        dt.call("Page.navigate", {"url": url})
        steps(Page(dt, out))
        print("page: all steps passed")
        return 0
    except Failed as e:
        print("cockpit-browser: FAIL: %s" % e, file=sys.stderr)
        return 1
    except Exception as e:  # a test tool: say what went wrong
        print("cockpit-browser: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 2
    finally:
        display_browser.stop(proc, profile)


if __name__ == "__main__":
    sys.exit(main())
