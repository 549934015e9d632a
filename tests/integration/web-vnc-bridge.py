#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A VNC viewer's way into the web console without a browser: listens on
127.0.0.1 (a port of its own, printed as the first line of its output)
and carries each connection's bytes over a WebSocket to URL (the web
console's websockify, subprotocol "binary", as noVNC connects), both
ways, until either side closes. A VNC client on the printed port then
speaks RFB to the VM's display through the same path as noVNC does: the
stock-Linux test's check of the web console on the emulated AMD-V host,
where Chromium under QEMU's TCG costs minutes and loses its GPU process
(docs/amdv-host.md "The web console under TCG"). noVNC's page itself is
test-vmdisplay-web's.

usage: web-vnc-bridge.py ws://HOST:PORT/websockify [SECONDS] [-- COMMAND...]
Without COMMAND: ends after SECONDS (default 300) or when killed; exit 0,
or 2 on errors. With COMMAND: runs it with each "{port}" in its words
replaced by the port (for at most SECONDS), then ends with its exit
status (124 when it ran out of time). Each connection's end is logged on
stderr."""
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time

_spec = importlib.util.spec_from_file_location(
    "display_browser", os.path.join(os.path.dirname(os.path.abspath(__file__)), "display-browser.py"))
display_browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(display_browser)


def relay(conn, url, n):
    try:
        ws = display_browser.WebSocket(url, 30, protocol="binary", peer="websockify")
    except Exception as e:  # a test tool: say what went wrong
        print("web-vnc-bridge: connection %d: %s" % (n, e), file=sys.stderr)
        conn.close()
        return
    ws.sock.settimeout(None)
    carried = [0, 0]

    def to_ws():
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                ws.send(data)
                carried[0] += len(data)
        except OSError:
            pass
        finally:
            try:
                ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    t = threading.Thread(target=to_ws, daemon=True)
    t.start()
    why = "the viewer closed"
    try:
        while True:
            data = ws.recv()
            conn.sendall(data)
            carried[1] += len(data)
    except Exception as e:
        if t.is_alive():
            why = str(e)
    finally:
        conn.close()
        t.join(5)
        ws.sock.close()
    print("web-vnc-bridge: connection %d: %d bytes to the VM's display, %d from it; %s"
          % (n, carried[0], carried[1], why), file=sys.stderr)


def serve(listener, url, end):
    n = 0
    while time.monotonic() < end:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        n += 1
        threading.Thread(target=relay, args=(conn, url, n), daemon=True).start()


def main():
    args, command = sys.argv[1:], None
    if "--" in args:
        args, command = args[:args.index("--")], args[args.index("--") + 1:]
    if not args or not args[0].startswith("ws://") or command == []:
        print(__doc__, file=sys.stderr)
        return 2
    url, seconds = args[0], float(args[1]) if len(args) > 1 else 300
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(1)
    port, end = listener.getsockname()[1], time.monotonic() + seconds
    if command is None:
        print(port, flush=True)
        serve(listener, url, end)
        return 0
    threading.Thread(target=serve, args=(listener, url, end), daemon=True).start()
    try:
        rc = subprocess.run([w.replace("{port}", str(port)) for w in command], timeout=seconds).returncode
    except subprocess.TimeoutExpired:
        print("web-vnc-bridge: %s ran out of %.0f s" % (command[0], seconds), file=sys.stderr)
        rc = 124
    time.sleep(0.2)  # the connections' last lines
    return rc


if __name__ == "__main__":
    sys.exit(main())
