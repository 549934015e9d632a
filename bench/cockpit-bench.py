#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Cockpit page's speed, for bench-cockpit.sh: headless Chromium
(tests/integration/cdp_session.py, as test-cockpit's page test) opens the page and measures, inside
the page, when the list first shows all N VMs (performance.now(): from the
navigation's start), then R times changes one VM's vCPUs with busctl
(Update: vmms sends PropertiesChanged, Config invalidated; the page reads
that VM's Config and rewrites its row) and measures the time from just
before the call to the row's new text on the screen (a MutationObserver's
Date.now(), the same host clock), beside the busctl call's own time.
Then the page's steady CPU: left open on the list for STEADY_S seconds
(default 30), the CPU time (/proc/PID/stat, user + system) of the
browser's processes, of cockpit-ws's (its bridge with it) and of vmms,
each as a share of one core.

usage: cockpit-bench.py CHROMIUM URL N VM [R]
Environment: ADDR (the private system bus), VMMS_PID, WS_PID, STEADY_S.
Prints one line: first_render_ms=F change_ms=median change_ms_max=M
busctl_ms=median browser_pct=B cockpit_pct=C vmms_pct=V
"""
import json
import os
import statistics
import sys
import time

# The DevTools session helpers live with the page's test, found from this
# file's place in the tree (as bench-cockpit.sh runs it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import cdp_session  # noqa: E402

HOOK = r"""
window.__rendered = null;
new MutationObserver((m, obs) => {
    if (document.querySelectorAll('tr[data-name]').length >= %d) {
        window.__rendered = performance.now();
        obs.disconnect();
    }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""

WATCH = r"""
(() => {
    window.__changed = null;
    const cell = document.querySelector('tr[data-name="%s"]').cells[3];
    new MutationObserver((m, obs) => {
        if (cell.innerText.trim() === '%d') {
            window.__changed = Date.now();
            obs.disconnect();
        }
    }).observe(cell, {subtree: true, childList: true, characterData: true});
    return true;
})()
"""

BUS = ["org.vmstack.VMMS1"]


bus = cdp_session.bus


def js(dt, expr):
    return cdp_session.evaluate(dt, expr)


def wait(dt, expr, seconds):
    v = cdp_session.poll(lambda: js(dt, expr), seconds, 0.01)
    if v:
        return v
    raise RuntimeError("timed out: %s (rows: %s; page: %s)" % (expr, js(dt, "document.querySelectorAll('tr[data-name]').length"),
                                                              js(dt, "document.body.innerText.slice(0, 300)")))


def tree_ticks(root, tree=True):
    """The CPU ticks (user + system) of root and (tree) every live process below it."""
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        procs[int(d)] = (int(fields[1]), int(fields[11]) + int(fields[12]))  # ppid, utime + stime
    below, ticks, todo = set(), 0, [root]
    while todo:
        pid = todo.pop()
        if pid in below or pid not in procs:
            continue
        below.add(pid)
        ticks += procs[pid][1]
        if tree:
            todo.extend(p for p, (ppid, _) in procs.items() if ppid == pid)
    return ticks


def steady(roots, seconds):
    """Each (pid, tree)'s share of one core (percent) over seconds."""
    hz = os.sysconf("SC_CLK_TCK")
    before = [tree_ticks(*r) for r in roots]
    time.sleep(seconds)
    return [100.0 * (tree_ticks(*r) - b) / hz / seconds for r, b in zip(roots, before)]


def measure(dt, n, vm, rounds):
    """The first render with n VMs, then rounds changes of vm's vCPUs; prints the figures."""
    first = wait(dt, "window.__rendered", 120)
    path = bus("call", *BUS, "/org/vmstack/VMMS1", "org.vmstack.VMMS1.Manager", "GetVM", "s", vm).split('"')[1]
    cfg = json.loads(json.loads(bus("--json=short", "get-property", *BUS, path, "org.vmstack.VMMS1.VM", "Config"))["data"])
    changes, calls = [], []
    for i in range(rounds):
        cfg["vcpus"] = 2 + i % 2
        wait(dt, WATCH % (vm, cfg["vcpus"]), 5)
        t0 = time.time() * 1000
        bus("call", *BUS, path, "org.vmstack.VMMS1.VM", "Update", "s", json.dumps(cfg))
        calls.append(time.time() * 1000 - t0)
        changes.append(wait(dt, "window.__changed", 30) - t0)
        time.sleep(0.2)
    time.sleep(2)  # the last change's work done
    cpu = steady([(dt.browser_pid, True), (int(os.environ["WS_PID"]), True), (int(os.environ["VMMS_PID"]), False)],
                 float(os.environ.get("STEADY_S", "30")))
    print("first_render_ms=%.0f change_ms=%.1f change_ms_max=%.1f busctl_ms=%.1f"
          " browser_pct=%.2f cockpit_pct=%.2f vmms_pct=%.2f" % (
              first, statistics.median(changes), max(changes), statistics.median(calls), *cpu))
    return 0


def main():
    chromium, url, n, vm = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 10
    try:
        with cdp_session.page_session(chromium, url, "cockpit-bench.", hook=HOOK % n, size=(1280, 800)) as dt:
            return measure(dt, n, vm, rounds)
    except Exception as e:  # a benchmark tool: say what went wrong
        print("cockpit-bench: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
