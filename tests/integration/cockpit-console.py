# SPDX-License-Identifier: MIT
"""The Cockpit page's graphical console (cockpit/src/console.js), steps
of cockpit-browser.py's sessions (one browser per cockpit-ws: a second
browser on the same local session was sometimes given Cockpit's login
page). Against a real vmms whose VM "screen" has a display: the fake
worker with fake-display-worker (its test pattern, display-pattern.h, on a
640x480 screen; it logs the keys and pointer events it gets) and the real
vmdisplay. Environment: ADDR (the private bus, for busctl), VMCTL (vmctl,
for a screenshot), DISPLAY_LOG (fake-display-worker's log). Without
DISPLAY_LOG cockpit-browser.py leaves these steps out.

scenario (screen exists, Off): its details say the console shows while it
runs; started from the list, its Console button opens the details with
the screen live: the canvas's pixels are vmctl screenshot's (sampled off
the pattern's edges, within noVNC's JPEG loss), at 1280x800 fitted to the
card's width; a key typed into the page and a click reach the worker;
Ctrl+Alt+Del arrives as its three keys, so does the Send keys menu's
Ctrl+Alt+F2; Type text sends "aB1" and a new line as their keys (Shift
for the B) and nothing for a text with a character a US keyboard has no
key for; Full screen puts the screen on the whole display; the VM killed: the page says the
console went and shows none; started again: the console comes back on its
own; at a phone's width the screen fits. Leaves screen running.
unprivileged (a bridge as a user outside the vmstack group; screen runs):
the details say the console cannot be opened, with vmms's refusal
(PermissionDenied), and show no screen."""
import os
import re
import struct
import subprocess
import time
import zlib

Failed = bus = note = None
MANAGER = None


def init(failed, bus_fn, note_fn, manager):
    """cockpit-browser.py's Failed, bus(), note() and manager's names."""
    global Failed, bus, note, MANAGER
    Failed, bus, note, MANAGER = failed, bus_fn, note_fn, manager


CANVAS = "document.querySelector('.vmstack-console-screen canvas')"
CAD_SHOWN = "document.querySelector('button[data-action=console-cad]').offsetParent !== null"
# The pattern's marker block (display-pattern.h: 64,64 128x64, #d820d8) in
# the canvas, whose pixels are the guest's at 1:1 (noVNC scales it by CSS).
MARKER = ("(() => { const c = %s; if (!c || c.width !== 640 || c.height !== 480) return false;"
          " const d = c.getContext('2d').getImageData(128, 96, 1, 1).data;"
          " return d[0] > 0xc0 && d[1] < 0x40 && d[2] > 0xc0; })()" % CANVAS)


def read_png(path):
    """An 8-bit RGB PNG (what vmdisplay writes) as (width, height, rows of bytes)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Failed("%s is not a PNG" % path)
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, hgt, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype != 2:
                raise Failed("%s: not 8-bit RGB (depth %d, colour type %d)" % (path, depth, ctype))
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), 3 * w, [], bytearray(3 * w)
    for y in range(hgt):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, hgt, rows


def log_lines():
    try:
        return open(os.environ["DISPLAY_LOG"]).read().splitlines()
    except FileNotFoundError:
        return []


def wait_log(what, pred, start, seconds=10):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred(log_lines()[start:]):
            return
        time.sleep(0.1)
    raise Failed("the worker did not get %s; it got: %s" % (what, log_lines()[start:][-12:]))


def vm_path(name):
    return bus("call", *MANAGER, "GetVM", "s", name).split('"')[1]


def compare_with_screenshot(p, out):
    """The canvas against vmctl screenshot, at the centre of every 32-pixel
    cell of the pattern's grid (its edges smear in noVNC's JPEG)."""
    png = os.path.join(out, "console-vmctl-screenshot.png")
    r = subprocess.run([os.environ["VMCTL"], "--address=" + os.environ["ADDR"], "screenshot", "screen", png],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise Failed("vmctl screenshot: %s" % r.stderr.strip())
    w, hgt, rows = read_png(png)
    pts = [(x, y) for y in range(16, hgt, 32) for x in range(16, w, 32)]
    got = p.js("(() => { const g = %s.getContext('2d'); return %s.map(([x, y]) => [...g.getImageData(x, y, 1, 1).data].slice(0, 3)); })()"
               % (CANVAS, str([list(q) for q in pts])))
    bad = [(x, y, list(rows[y][3 * x:3 * x + 3]), g) for (x, y), g in zip(pts, got)
           if max(abs(a - b) for a, b in zip(rows[y][3 * x:3 * x + 3], g)) > 32]
    if (w, hgt) != (640, 480) or bad:
        raise Failed("the canvas is not the guest's screen (%dx%d; %d of %d points differ, first: %s)"
                     % (w, hgt, len(bad), len(pts), bad[:3]))
    print("--- page: the canvas matches vmctl screenshot at %d points" % len(pts), flush=True)


def canvas_box(p):
    return p.js("(() => { const r = %s.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()" % CANVAS)


def steps_open(p):
    p.size(1280, 800)
    p.wait("the VM list", p.row("screen"))
    note("screen is off: its details say when the console shows, and show none")
    p.js("%s.querySelector('.vmstack-name').click()" % p.row("screen"))
    p.wait("the console's message", "/shows while screen runs/.test(document.querySelector('.vmstack-console').innerText)", 10)
    if p.js(CANVAS + " !== null") or p.js(CAD_SHOWN):
        raise Failed("a console (or its Ctrl+Alt+Del) for a VM that is off")
    p.click_sel("button[data-action=back]")
    note("started from the list; its Console button opens the screen")
    p.click("screen", "start")
    p.wait("screen Running", p.state_is("screen", "Running"), 60)
    p.wait("the Console button", "%s.querySelector('button[data-action=console]') !== null" % p.row("screen"), 10)
    p.click("screen", "console")
    p.wait("the guest's screen in the page", MARKER, 30)
    p.wait("the keyboard on the screen", "document.querySelector('.vmstack-console-screen').contains(document.activeElement)", 5)
    p.no_alerts("the console")
    if not re.fullmatch(r"#/vm/[0-9a-f-]+/console", p.js("location.hash")):
        raise Failed("the Console button went to %s" % p.js("location.hash"))


def steps_screen(p, out):
    compare_with_screenshot(p, out)
    # Scaled to fit the card's width and the window's height, at the
    # guest's aspect (640x480): all of it in view with the card's title.
    p.js("document.querySelector('.vmstack-console').scrollIntoView()")
    time.sleep(0.3)
    card = p.js("document.querySelector('.vmstack-console-screen').clientWidth")
    x, y, w, hgt = canvas_box(p)
    if abs(w - card) > 2 or abs(hgt - w * 0.75) > 2 or w < 800 or y < 0 or y + hgt > 800:
        raise Failed("the screen does not fit the card and the window: %.0fx%.0f at %.0f,%.0f in a card %d wide"
                     % (w, hgt, x, y, card))
    p.shot("console-1280", full=False)

    note("a click and a key typed in the page reach the guest")
    start = len(log_lines())
    x, y, w, hgt = canvas_box(p)
    for t in ("mousePressed", "mouseReleased"):
        p.dt.call("Input.dispatchMouseEvent", {"type": t, "x": x + w / 2, "y": y + hgt / 2, "button": "left", "clickCount": 1})
    wait_log("the click", lambda ls: any(l.startswith("POINTER") and " 1 0" in l for l in ls), start)
    start = len(log_lines())
    p.dt.call("Input.dispatchKeyEvent", {"type": "keyDown", "key": "a", "code": "KeyA", "windowsVirtualKeyCode": 65, "text": "a"})
    p.dt.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": "a", "code": "KeyA", "windowsVirtualKeyCode": 65})
    wait_log("the key a (set 1 0x1e)", lambda ls: any(l.startswith("KEY 0x001e up") for l in ls), start)
    if not any(l.startswith("KEY 0x001e down") for l in log_lines()[start:]):
        raise Failed("the key a was not pressed: %s" % log_lines()[start:])

    note("Ctrl+Alt+Del")
    start = len(log_lines())
    p.click_sel("button[data-action=console-cad]")
    want = ["KEY 0x001d down", "KEY 0x0038 down", "KEY 0xe053 down", "KEY 0xe053 up", "KEY 0x0038 up", "KEY 0x001d up"]
    wait_log("Ctrl+Alt+Del", lambda ls: [l.split(" t=")[0] for l in ls if l.startswith("KEY")] == want, start)

    note("Send keys: Ctrl+Alt+F2 from the menu")
    start = len(log_lines())
    p.set_input("select[data-action=console-keys]", "ctrl-alt-f2", "change")
    want = ["KEY 0x001d down", "KEY 0x0038 down", "KEY 0x003c down", "KEY 0x003c up", "KEY 0x0038 up", "KEY 0x001d up"]
    wait_log("Ctrl+Alt+F2", lambda ls: [l.split(" t=")[0] for l in ls if l.startswith("KEY")] == want, start)
    if p.js("document.querySelector('select[data-action=console-keys]').value") != "":
        raise Failed("the Send keys menu did not go back to its prompt")

    note("Type text: letters, Shift, a digit and a new line as key presses")
    p.click_sel("button[data-action=console-type]")
    p.wait("the Type text form", "document.querySelector('.vmstack-console-type').offsetParent !== null", 5)
    start = len(log_lines())
    p.set_input(".vmstack-console-type textarea", "a\u00e9")
    p.click_sel("button[data-action=console-type-go]")
    p.wait("the refusal of a character without a key", "/Nothing typed: no key for \"\u00e9\"/.test("
           "document.querySelector('.vmstack-console-type').innerText)", 5)
    time.sleep(0.5)
    if [l for l in log_lines()[start:] if l.startswith("KEY")]:
        raise Failed("keys typed from a text with a character a US keyboard has not: %s" % log_lines()[start:])
    p.set_input(".vmstack-console-type textarea", "aB1\n")
    p.click_sel("button[data-action=console-type-go]")
    want = ["KEY 0x001e down", "KEY 0x001e up", "KEY 0x002a down", "KEY 0x0030 down", "KEY 0x0030 up", "KEY 0x002a up",
            "KEY 0x0002 down", "KEY 0x0002 up", "KEY 0x001c down", "KEY 0x001c up"]
    wait_log("the text aB1 and Enter", lambda ls: [l.split(" t=")[0] for l in ls if l.startswith("KEY")] == want, start)
    p.wait("the typing's report", "/Typed 4 characters/.test(document.querySelector('.vmstack-console-type').innerText)", 5)
    p.shot("console-type-1280", full=False)
    p.click_sel("button[data-action=console-type]")

    note("Full screen: the guest's screen fills the display")
    p.js("document.querySelector('button[data-action=console-full]').scrollIntoView({block: 'center'})")
    time.sleep(0.3)
    bx, by = p.js("(() => { const r = document.querySelector('button[data-action=console-full]').getBoundingClientRect();"
                  " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    for t in ("mousePressed", "mouseReleased"):  # a person's click: the API wants a user gesture
        p.dt.call("Input.dispatchMouseEvent", {"type": t, "x": bx, "y": by, "button": "left", "clickCount": 1})
    p.wait("the screen in full screen", "document.fullscreenElement === document.querySelector('.vmstack-console-screen')", 5)
    p.js("document.exitFullscreen().then(() => true)")
    p.wait("full screen left", "document.fullscreenElement === null", 5)
    p.no_alerts("input")


def steps_stop(p):
    note("the VM killed: the console goes, and says why")
    path = vm_path("screen")
    bus("call", "org.vmstack.VMMS1", path, "org.vmstack.VMMS1.VM", "Kill")
    p.wait("screen Off", "document.querySelector('.vmstack-details [data-state=Off]') !== null", 30)
    p.wait("the console's message", "/shows while screen runs/.test(document.querySelector('.vmstack-console').innerText) && "
           "!" + CANVAS, 10)
    p.shot("console-stopped-1280", full=False)
    note("started again: the console comes back by itself")
    bus("call", "org.vmstack.VMMS1", path, "org.vmstack.VMMS1.VM", "Start")
    p.wait("the guest's screen again", MARKER, 40)
    p.no_alerts("reconnect")

    note("a phone's width: the screen fits")
    p.size(390, 844, mobile=True)
    time.sleep(0.5)
    width = p.js("document.documentElement.scrollWidth")
    x, y, w, hgt = canvas_box(p)
    card = p.js("document.querySelector('.vmstack-console-screen').clientWidth")
    if width > 390 or abs(w - card) > 2 or w < 250 or abs(hgt - w * 0.75) > 2:
        raise Failed("at 390 px: the page is %d wide, the screen %.0fx%.0f in a card %d wide" % (width, w, hgt, card))
    p.js("document.querySelector('.vmstack-console').scrollIntoView()")
    time.sleep(0.3)
    p.shot("console-phone", full=False)
    p.size(1280, 800)
    p.check_errors("the end")


def scenario(p, out):
    steps_open(p)
    steps_screen(p, out)
    steps_stop(p)


def unprivileged(p, out):
    p.size(1280, 800)
    p.wait("the VM list", p.row("screen") + " && " + p.state_is("screen", "Running"))
    p.js("%s.querySelector('.vmstack-name').click()" % p.row("screen"))
    p.wait("the refusal", "document.querySelector('.vmstack-console-status').dataset.error === "
           "'org.vmstack.Error.PermissionDenied'", 20)
    text = p.js("document.querySelector('.vmstack-console-status').innerText")
    if "cannot be opened" not in text or "You are not allowed to do this." not in text or "user 65534" not in text:
        raise Failed("the console's refusal does not say what and why: %r" % text)
    if p.js(CANVAS + " !== null") or p.js(CAD_SHOWN):
        raise Failed("a console (or its Ctrl+Alt+Del) for a user without the right")
    p.js("document.querySelector('.vmstack-console').scrollIntoView()")
    p.shot("console-unprivileged-1280", full=False)
    p.check_errors("the end")
