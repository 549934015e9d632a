#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Headless Chromium for test-vmdisplay-web.sh, driven over its DevTools
protocol: opens URL (noVNC's vnc.html), waits until the page shows the
remote screen or says it was refused, then saves a screenshot of the page.

Waiting on the page's state rather than on Chromium's --screenshot with a
virtual time budget: that shot is taken when the budget runs out, which
on a busy machine can be before the VNC connection has drawn anything.

usage: display-browser.py CHROMIUM URL OUT.png {screen|refused} [SECONDS [CHECKER]]
  screen   noVNC's canvas shows the test pattern's marker (display-pattern.h)
  refused  noVNC asks for a password, or reports a failed authentication
Exit 0 when that state came (OUT.png then shows it), 1 when it did not
within SECONDS (default 30; OUT.png shows what there was), 2 on errors.
With CHECKER (display-image-check), a "screen" page is shot again until
`CHECKER find OUT.png 0` finds the pattern in the shot (SECONDS more).
Python's standard library only: the DevTools WebSocket is spoken here
(RFC 6455, the little of it a client needs); python3-websockify's client
cannot mask its frames (0.10: bytes + int)."""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib

# What the page shows, as noVNC 1.3 lays it out.
STATE_JS = r"""(() => {
  const dlg = document.getElementById('noVNC_credentials_dlg');
  if (dlg && dlg.classList.contains('noVNC_open')) return 'refused: asks for a password';
  const st = document.getElementById('noVNC_status');
  if (st && /fail|denied|authentication/i.test(st.textContent)) return 'refused: ' + st.textContent;
  const c = document.querySelector('#noVNC_container canvas');
  if (c && c.width >= 200 && c.height >= 130) {
    const d = c.getContext('2d').getImageData(100, 100, 1, 1).data;
    if (d[0] > 0xc0 && d[1] < 0x40 && d[2] > 0xc0) return 'screen';
  }
  return 'waiting';
})()"""


# Where the marker pixel STATE_JS reads lies on the page, in CSS pixels.
MARKER_AT_JS = r"""(() => {
  const r = document.querySelector('#noVNC_container canvas').getBoundingClientRect();
  return [r.left + window.scrollX + 100, r.top + window.scrollY + 100];
})()"""


# Two frames drawn, or 3 s gone: under QEMU's TCG the page drew no frame
# for over a minute at times (requestAnimationFrame never called back),
# and a shot is then retried rather than waited for.
FRAMES_JS = "new Promise(r => { requestAnimationFrame(() => requestAnimationFrame(r)); setTimeout(r, 3000); })"

# What a person would need to know when the page's screenshot lacks the
# canvas: where it is, how it is shown, and the window.
LAYOUT_JS = r"""(() => {
  const c = document.querySelector('#noVNC_container canvas');
  const out = ['window ' + innerWidth + 'x' + innerHeight + ' dpr ' + devicePixelRatio + ' scroll ' + scrollX + ',' + scrollY];
  if (!c) return out.concat(['no canvas']).join('; ');
  const r = c.getBoundingClientRect();
  out.push('canvas ' + c.width + 'x' + c.height + ' at ' + [r.left, r.top, r.width, r.height].map(Math.round).join(','));
  for (let e = c; e && e !== document.documentElement; e = e.parentElement) {
    const cs = getComputedStyle(e);
    out.push((e.id || e.tagName.toLowerCase()) + ' ' + cs.display + '/' + cs.visibility + '/' + cs.opacity +
             (e.className && typeof e.className === 'string' ? ' .' + e.className.trim().replace(/\s+/g, '.') : ''));
  }
  return out.join('; ');
})()"""


def png_pixels(data):
    """The rows of an 8-bit RGB or RGBA PNG (what Chromium's screenshots
    are), as lists of (r, g, b) tuples."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise RuntimeError("not a PNG")
    pos, idat, head = 8, b"", None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if not head or head[2] != 8 or head[3] not in (2, 6) or head[6] != 0:
        raise RuntimeError("a PNG this reader does not know: %r" % (head,))
    width, height, bpp = head[0], head[1], 3 if head[3] == 2 else 4
    raw, stride, prev, rows = zlib.decompress(idat), width * bpp, bytearray(width * bpp), []
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xff
            elif kind == 2:
                line[i] = (line[i] + b) & 0xff
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return rows


def is_marker(rgb):
    return rgb[0] > 0xc0 and rgb[1] < 0x40 and rgb[2] > 0xc0


class WebSocket:
    """A WebSocket client: text messages out (masked), messages in; with
    protocol (a subprotocol, websockify's "binary"), binary ones both ways
    (web-vnc-bridge.py)."""

    def __init__(self, url, timeout=30, protocol=None, peer="DevTools"):
        u = urllib.parse.urlparse(url)
        self.binary, self.peer = protocol is not None, peer
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "Sec-WebSocket-Protocol: %s\r\n" % protocol if protocol else ""
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
                           % (u.path or "/", u.hostname, u.port, key, extra)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("%s closed the WebSocket handshake" % self.peer)
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("%s refused the WebSocket: %r" % (self.peer, head[:80]))

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise RuntimeError("%s closed the WebSocket" % self.peer)
            data += chunk
        return data

    def send(self, data):
        payload, mask = data if self.binary else data.encode(), os.urandom(4)
        n, op = len(payload), 0x82 if self.binary else 0x81
        head = struct.pack(">BB", op, 0x80 | n) if n < 126 else (
            struct.pack(">BBH", op, 0x80 | 126, n) if n < 65536 else struct.pack(">BBQ", op, 0x80 | 127, n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self):
        message = b""
        while True:
            b1, b2 = self._exact(2)
            n = b2 & 0x7f
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)  # a server does not mask
            if b1 & 0x0f == 0x8:
                raise RuntimeError("%s closed the WebSocket" % self.peer)
            if b1 & 0x0f in (0x0, 0x1, 0x2):
                message += payload
                if b1 & 0x80:
                    return message if self.binary else message.decode()


class DevTools:
    """timeout: how long one answer may take. Under QEMU's TCG (tests/amdv/)
    a Chromium that is still translating the page answers a call in more
    than 30 s at times: the stock-Linux test's web console failed there
    with the socket's "timed out" while its page was on its way."""

    def __init__(self, url, timeout=30):
        self.ws = WebSocket(url, timeout)
        self.next_id = 0

    def call(self, method, params=None):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params or {}}))
        t0 = time.monotonic()
        while True:  # events come in between: skip them
            try:
                reply = json.loads(self.ws.recv())
            except socket.timeout:
                what = (params or {}).get("expression", "")
                raise RuntimeError("%s%s: no answer in %.0f s" % (method, " (%s)" % what[:60].replace("\n", " ") if what else "",
                                                                time.monotonic() - t0)) from None
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply["result"]


def start(chromium, profile, tls, seconds):
    # An https URL is the test's own self-signed certificate.
    extra = ["--ignore-certificate-errors"] if tls else []
    log = open(os.path.join(profile, "chromium.log"), "wb")
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",

         "--force-device-scale-factor=1", "--force-color-profile=srgb", "--window-size=1024,768", "--remote-debugging-port=0",
         "--user-data-dir=" + profile] + extra + ["about:blank"],
        stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    port_file = os.path.join(profile, "DevToolsActivePort")
    # As long as the page may take: Chromium's start is most of it on a
    # slow host (under QEMU's TCG, tests/amdv/, every page of it is
    # translated first).
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if os.path.exists(port_file) and open(port_file).read().count("\n") >= 1:
            port = open(port_file).read().split("\n")[0]
            pages = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port, timeout=10))
            for p in pages:
                if p.get("type") == "page":
                    return proc, p["webSocketDebuggerUrl"]
        if proc.poll() is not None:
            tail = chromium_log(profile, 5)
            raise RuntimeError("Chromium exited with status %d before its DevTools endpoint was up: %s"
                               % (proc.returncode, " | ".join(tail)))
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("Chromium did not start its DevTools endpoint in %.0f s" % seconds)


def stop(proc, profile):
    """Ends the browser started by start() and removes its profile."""
    if proc:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    # Chromium's helpers (crashpad) may still write there for a moment.
    for _ in range(20):
        shutil.rmtree(profile, ignore_errors=True)
        if not os.path.exists(profile):
            break
        time.sleep(0.1)


def page_shot(dt, out):
    shot = dt.call("Page.captureScreenshot", {"format": "png"})
    with open(out, "wb") as f:
        f.write(base64.b64decode(shot["data"]))


class GpuCrashed(Exception):
    pass


def chromium_log(profile, lines=8):
    try:
        return open(os.path.join(profile, "chromium.log"), errors="replace").read().strip().splitlines()[-lines:]
    except OSError:
        return []


def gpu_crashed(profile):
    return any("GPU process exited unexpectedly" in line for line in chromium_log(profile, 1000))


def attempt(chromium, url, out, want, seconds, checker):
    """One browser's try: its exit status (main's)."""
    profile = tempfile.mkdtemp(prefix="display-browser.")
    proc = None
    try:
        proc, ws_url = start(chromium, profile, url.startswith("https:"), seconds)
        dt = DevTools(ws_url, max(30, seconds))
        dt.call("Page.enable")
        dt.call("Page.navigate", {"url": url})
        state, end = "waiting", time.monotonic() + seconds
        while time.monotonic() < end:
            state = dt.call("Runtime.evaluate", {"expression": STATE_JS, "returnByValue": True})["result"].get(
                "value", "waiting")
            if state.split(":")[0] == want:
                break
            time.sleep(0.2)
        # The canvas held the marker when the state was read, and a
        # screenshot can still be of a frame without it: under QEMU's TCG
        # (tests/amdv/; most likely also the stock-Linux test's failure in
        # CI on a busy PVM host, whose log was cut) a shot taken then
        # showed noVNC's empty screen, and so did a shot of the page taken
        # right after a shot of the marker's pixels had shown it. So for
        # "screen" the marker's pixels are shot until they show, then the
        # page, which CHECKER (display-image-check) must find the pattern
        # in, or both are shot again.
        shots = 0
        if state.split(":")[0] == "screen":
            x, y = dt.call("Runtime.evaluate", {"expression": MARKER_AT_JS, "returnByValue": True})["result"]["value"]
            deadline = time.monotonic() + seconds
            while True:
                dt.call("Runtime.evaluate", {"expression": FRAMES_JS, "awaitPromise": True})
                clip = dt.call("Page.captureScreenshot", {"format": "png", "clip": {"x": x, "y": y, "width": 2, "height": 2,
                                                                                   "scale": 1}})
                if is_marker(png_pixels(base64.b64decode(clip["data"]))[0][0]):
                    shots += 1
                    page_shot(dt, out)
                    if not checker or subprocess.run([checker, "find", out, "0"], stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.DEVNULL).returncode == 0:
                        break
                if time.monotonic() > deadline:
                    layout = dt.call("Runtime.evaluate", {"expression": LAYOUT_JS, "returnByValue": True})["result"].get("value")
                    state = ("screen in the canvas, but no screenshot of the page showed it in %.0f s (%d shots of the page;"
                             " the marker's pixels at %d,%d; %s)" % (seconds, shots, x, y, layout))
                    if not shots:
                        page_shot(dt, out)
                    break
                time.sleep(0.2)
        else:
            page_shot(dt, out)
        if shots > 1:
            print("display-browser: the page was shot %d times before it showed the screen" % shots, file=sys.stderr)
        if state.split(":")[0] != want and gpu_crashed(profile):
            raise GpuCrashed("the page got to %r" % state)
        print("page: " + state)
        return 0 if state.split(":")[0] == want else 1
    except Exception as e:  # a test tool: say what went wrong
        if gpu_crashed(profile):
            raise GpuCrashed("%s; Chromium's GPU process had crashed" % e) from None
        print("display-browser: %s" % e, file=sys.stderr)
        print("display-browser: Chromium's last words: %s" % " | ".join(chromium_log(profile)), file=sys.stderr)
        return 2
    finally:
        stop(proc, profile)


def main():
    if len(sys.argv) < 5 or sys.argv[4] not in ("screen", "refused"):
        print(__doc__, file=sys.stderr)
        return 2
    chromium, url, out, want = sys.argv[1:5]
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 30
    checker = sys.argv[6] if len(sys.argv) > 6 else None
    # Chromium's GPU process (its display compositor, software here) ends
    # at times with exit code 11 (SIGSEGV, caught by crashpad): in most
    # runs under QEMU's TCG (tests/amdv/, docs/amdv-host.md "The web
    # console under TCG"). The page then draws no frame (its
    # requestAnimationFrame calls back no more) and a screenshot is of an
    # old frame, without noVNC's canvas. A browser whose GPU process
    # crashed is started again, once; nothing else is retried.
    try:
        return attempt(chromium, url, out, want, seconds, checker)
    except GpuCrashed as e:
        print("display-browser: %s: a new browser" % e, file=sys.stderr)
    try:
        return attempt(chromium, url, out, want, seconds, checker)
    except GpuCrashed as e:
        print("display-browser: %s, again" % e, file=sys.stderr)
        return 2




if __name__ == "__main__":
    sys.exit(main())
