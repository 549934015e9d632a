# SPDX-License-Identifier: MIT
"""A page in headless Chromium over the DevTools protocol (CDP), shared by
the Cockpit page's test (cockpit-browser.py) and its benchmark
(bench/cockpit-bench.py, which imports it from this directory by its own
path): a session that starts the browser, opens a URL and always ends the
browser; page scripts evaluated with their exception as an error; polling;
busctl on the test's private bus (ADDR). The WebSocket, the DevTools calls
and Chromium's start are display-browser.py's."""
import contextlib
import importlib.util
import os
import subprocess
import tempfile
import time

_spec = importlib.util.spec_from_file_location(
    "display_browser", os.path.join(os.path.dirname(os.path.abspath(__file__)), "display-browser.py"))
display_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(display_browser)


def set_size(dt, width, height, mobile=False):
    """The page's viewport, in CSS pixels at a scale of 1."""
    dt.call("Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


@contextlib.contextmanager
def page_session(chromium, url, profile_prefix, hook=None, size=None):
    """Yields the DevTools client of a fresh headless Chromium (its own
    profile) that has opened url; hook is a script run before each
    document's own, size (width, height) the viewport. The browser ends and
    its profile goes when the block ends, however it ends."""
    profile = tempfile.mkdtemp(prefix=profile_prefix)
    proc = None
    try:
        proc, ws_url = display_browser.start(chromium, profile, False, 60)
        dt = display_browser.DevTools(ws_url)
        dt.browser_pid = proc.pid  # for a benchmark's CPU accounting
        dt.call("Page.enable")
        if size:
            set_size(dt, *size)
        if hook:
            dt.call("Page.addScriptToEvaluateOnNewDocument", {"source": hook})
        dt.call("Page.navigate", {"url": url})
        yield dt
    finally:
        display_browser.stop(proc, profile)


def evaluate(dt, expr, error=RuntimeError):
    """expr's value in the page (a promise awaited); its exception raises
    error, naming the script and the exception."""
    r = dt.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
    if "exceptionDetails" in r:
        details = r["exceptionDetails"]
        raise error("page script %r: %s" % (expr[:80], details.get("exception", {}).get(
            "description", details.get("text"))))
    return r["result"].get("value")


def poll(probe, seconds, interval):
    """probe()'s first true value within seconds, asked every interval
    seconds; None when it stayed false."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = probe()
        if v:
            return v
        time.sleep(interval)
    return None


def bus(*args, error=RuntimeError):
    """busctl on the private bus ($ADDR): its output; a failure raises error
    with busctl's message."""
    r = subprocess.run(["busctl", "--address=" + os.environ["ADDR"], *args], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise error("busctl %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout.strip()
