#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A running test guest in the Cockpit page (test-cockpit-guest.sh):
headless Chromium opens the VM's details (URL: the page at #/vm/<id>) while
the guest-vsc test guest writes and reads its disk and pings its peer, and
checks that the disk and network graphs show that traffic (the latest
figures above 0, each way) and move (new points a few seconds later), that
the CPU graph has a line, and that the page raised no JavaScript error.
Then, with CONSOLE_URL set, a second browser opens the details of the VM
"screen", whose test guest drew vmdisplay's pattern through its synthetic
video device: the console's canvas is the guest's 640x480 screen, against
`vmctl screenshot` (cockpit-console.py's check; environment VMCTL, ADDR).
Screenshots: OUT/graphs-guest.png, OUT/console-guest.png.

usage: cockpit-guest.py CHROMIUM URL OUT
"""
import base64
import importlib.util
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp_session  # noqa: E402

# The console's checks against vmctl screenshot (cockpit-console.py).
_spec = importlib.util.spec_from_file_location(
    "cockpit_console", os.path.join(os.path.dirname(os.path.abspath(__file__)), "cockpit-console.py"))
console = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(console)

HOOK = r"""
window.__errors = [];
window.addEventListener('error', e => window.__errors.push('error: ' + e.message));
window.addEventListener('unhandledrejection', e => window.__errors.push('unhandled rejection: ' +
    ((e.reason && e.reason.message) || e.reason)));
const origError = console.error;
console.error = (...a) => { window.__errors.push('console.error: ' + a.join(' ')); origError(...a); };
"""


class Failed(Exception):
    pass


def js(dt, expr):
    return cdp_session.evaluate(dt, expr, Failed)


def wait(dt, what, expr, seconds):
    if not cdp_session.poll(lambda: js(dt, "!!(%s)" % expr), seconds, 0.2):
        raise Failed("timed out waiting for %s (page: %s)" % (what, js(dt, "document.body.innerText")[:400]))


def figure(chart, series):
    """The JavaScript for a chart's latest figure of a series, as a number (bytes/s or percent)."""
    return ("(() => { const v = document.querySelector('[data-chart=%s] li[data-series=%s] .vmstack-graph-value');"
            " if (!v) return 0; const [n, u] = v.innerText.trim().split(' ');"
            " return parseFloat(n) * ({'B/s': 1, 'kB/s': 1e3, 'MB/s': 1e6, 'GB/s': 1e9, '%%': 1}[u] || 0); })()"
            % (chart, series))


def points(dt, chart, series):
    return js(dt, "(document.querySelector('[data-graph=%s] polyline[data-series=%s]') || {getAttribute: () => ''})"
                  ".getAttribute('points')" % (chart, series)) or ""


def shot_and_check(dt, out, card, name):
    """The card in view, shot as OUT/name.png; Failed on a JavaScript error so far."""
    js(dt, "document.querySelector('%s').scrollIntoView()" % card)
    time.sleep(0.3)
    data = dt.call("Page.captureScreenshot", {"format": "png"})["data"]
    with open(os.path.join(out, name + ".png"), "wb") as f:
        f.write(base64.b64decode(data))
    errors = js(dt, "window.__errors")
    if errors:
        raise Failed("JavaScript errors: %s" % errors)


class Page:
    """What cockpit-console.py's checks call."""

    def __init__(self, dt):
        self.dt = dt

    def js(self, expr):
        return js(self.dt, expr)


def run_console(chromium, url, out):
    with cdp_session.page_session(chromium, url, "cockpit-guest.", hook=HOOK, size=(1280, 800)) as dt:
        wait(dt, "the guest's screen in the console", console.MARKER, 60)
        console.compare_with_screenshot(Page(dt), out)
        shot_and_check(dt, out, ".vmstack-console", "console-guest")


def run(chromium, url, out):
    with cdp_session.page_session(chromium, url, "cockpit-guest.", hook=HOOK, size=(1280, 800)) as dt:
        wait(dt, "the VM's details", "document.querySelector('.vmstack-graphs-card') !== null", 60)
        for chart, series in (("disk", "diskW"), ("disk", "diskR"), ("net", "netRx"), ("net", "netTx")):
            wait(dt, "the %s graph's %s above 0" % (chart, series), "%s > 0" % figure(chart, series), 60)
        before = {k: points(dt, *k) for k in (("disk", "diskW"), ("net", "netTx"), ("cpu", "cpu"))}
        time.sleep(4.5)
        for k, was in before.items():
            now = points(dt, *k)
            if now == was or len(now.split(" ")) <= len(was.split(" ")):
                raise Failed("the %s graph's %s line did not move: %r then %r" % (k[0], k[1], was, now))
        figures = {s: js(dt, figure(c, s)) for c, s in (("disk", "diskR"), ("disk", "diskW"), ("net", "netRx"),
                                                         ("net", "netTx"), ("cpu", "cpu"))}
        print("page: the guest's figures %s" % ", ".join("%s %.0f" % kv for kv in figures.items()))
        shot_and_check(dt, out, ".vmstack-graphs-card", "graphs-guest")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    console.init(Failed, None, lambda text: print("--- page: " + text, flush=True), None)
    try:
        run(*sys.argv[1:4])
        print("page: the guest's graphs move")
        if os.environ.get("CONSOLE_URL"):
            run_console(sys.argv[1], os.environ["CONSOLE_URL"], sys.argv[3])
            print("page: the console shows the guest's screen")
    except Exception as e:  # the test's verdict: say what failed
        print("cockpit-guest: FAIL: %s: %s" % (type(e).__name__, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
