#!/bin/bash
# SPDX-License-Identifier: MIT
# vmdisplay's web console (docs/console.md): Debian's noVNC in headless
# Chromium, through the websockify vmdisplay starts, against a fake worker
# (fake-display-worker.c). With the password the page shows the worker's
# test pattern (found by its marker block, compared within a browser's
# colour tolerance); without it, or with a wrong one, it does not. The
# web port is on loopback only, and goes away with vmdisplay. Over TLS
# (--web-cert, a self-signed certificate): https and wss show the screen,
# plain http gets nothing.
set -u
source "$(dirname "$0")/display-lib.sh"
d_need_binaries
WEBSOCKIFY=$(command -v websockify) || skip "websockify is not installed (scripts/deps.sh)"
[ -r /usr/share/novnc/vnc.html ] || skip "noVNC is not installed (/usr/share/novnc, scripts/deps.sh)"
CHROMIUM=$(command -v chromium || command -v chromium-browser) || skip "chromium is not installed (scripts/deps.sh)"
[ -x /usr/bin/python3 ] || skip "python3 is not installed"
d_setup
read -r PORT <<<"$(free_ports 1)"

# page NAME QUERY STATE [BASE]: noVNC's vnc.html?QUERY in headless Chromium
# (at BASE, default http://127.0.0.1:$PORT) until it shows STATE
# (display-browser.py: screen, or refused), then a screenshot of the page
# as $T/NAME.png.
page() {
  TMPDIR=$T /usr/bin/python3 "$(dirname "$0")/display-browser.py" "$CHROMIUM" "${4:-http://127.0.0.1:$PORT}/vnc.html?$2" \
    "$T/$1.png" "$3" 60 "$CHECK" >"$T/browser-$1.log" 2>&1 || fail "the page did not get to '$3': $(cat "$T/browser-$1.log")"
  echo "$1: $(cat "$T/browser-$1.log")"
}

note "the web console needs a password and a loopback address"
"$VMD" --connect="$T/w.sock" --listen="$T/x.vnc" --web=127.0.0.1:$PORT >/dev/null 2>&1
[ $? = 2 ] || fail "--web without --password-file"
"$VMD" --connect="$T/w.sock" --listen="$T/x.vnc" --web=0.0.0.0:$PORT --password-file="$T/password" >/dev/null 2>&1
[ $? = 2 ] || fail "--web on every interface without --allow-remote"

start_worker w
start_vmd v w --web=127.0.0.1:$PORT --password-file="$T/password" --websockify="$WEBSOCKIFY"
wait_for 20 "the web console's port" tcp_listening "$PORT"
python3 - "$PORT" <<'EOF' || fail "vnc.html is not served, or / does not lead to it: $(tail -5 "$T/v.log")"
import sys, urllib.request
get = lambda path: urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], path), timeout=10).read()
sys.exit(b"noVNC" not in get("/vnc.html") or b"url=vnc.html?autoconnect=true" not in get("/"))
EOF
# Only on loopback: nothing answers on the host's other addresses.
OTHER=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
if [ -n "$OTHER" ]; then
  python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)' "$OTHER" "$PORT" \
    2>/dev/null && fail "the web console answers on $OTHER"
fi

note "noVNC with the password shows the guest's screen"
page right "autoconnect=true&resize=off&password=Pa55word" screen
"$CHECK" find "$T/right.png" 0 >"$T/check.out" 2>&1 || fail "the page does not show the pattern: $(cat "$T/check.out")"
echo "browser: $(cat "$T/check.out")"
grep -q "a viewer is connected" "$T/v.log" || fail "vmdisplay saw no viewer"

note "without the password, or with a wrong one, it does not"
page none "autoconnect=true&resize=off" refused
"$CHECK" absent "$T/none.png" >"$T/check.out" 2>&1 || fail "the pattern without a password: $(cat "$T/check.out")"
page wrong "autoconnect=true&resize=off&password=wrong123" refused
"$CHECK" absent "$T/wrong.png" >"$T/check.out" 2>&1 || fail "the pattern with a wrong password: $(cat "$T/check.out")"
grep -q "authentication failed" "$T/v.log" || fail "vmdisplay did not log the wrong password"

note "/ opens the console: noVNC connects and asks for the password"
TMPDIR=$T /usr/bin/python3 "$(dirname "$0")/display-browser.py" "$CHROMIUM" "http://127.0.0.1:$PORT/" "$T/root.png" refused 60 \
  >"$T/browser-root.log" 2>&1 || fail "/ did not open the console: $(cat "$T/browser-root.log")"
echo "root: $(cat "$T/browser-root.log")"

note "a VNC viewer through the web console's WebSocket (web-vnc-bridge.py): the screen with the password, nothing without"
# The stock-Linux test's check of the web console on the emulated AMD-V
# host, where no browser runs (docs/linux-guests.md): vncsnapshot speaks
# RFB over websockify's WebSocket as noVNC does.
VNCSNAPSHOT=$(command -v vncsnapshot) || fail "vncsnapshot is not installed (scripts/deps.sh)"
"$CLIENT" store-passwd Pa55word "$T/vncpasswd" || fail "cannot write a vncpasswd file"
"$CLIENT" store-passwd wrong123 "$T/vncwrong" || fail "cannot write a vncpasswd file"
bridge() {
  /usr/bin/python3 "$(dirname "$0")/web-vnc-bridge.py" "ws://127.0.0.1:$PORT/websockify" 60 -- "$VNCSNAPSHOT" -quiet \
    -passwd "$1" -nojpeg -encodings raw -quality 100 "127.0.0.1::{port}" "$2" >"$T/bridge.log" 2>&1
}
bridge "$T/vncpasswd" "$T/bridge.jpg" || fail "vncsnapshot through the web console: $(cat "$T/bridge.log")"
"$CHECK" near "$T/bridge.jpg" 0 16 >"$T/check.out" 2>&1 || fail "vncsnapshot through the web console: $(cat "$T/check.out")"
# The screen came through the bridge: 640x480 at 32 bits, raw, is 1228800 bytes.
grep -Eq "connection 1: [0-9]+ bytes to the VM's display, [0-9]{7,} from it" "$T/bridge.log" ||
  fail "the screen did not come through the bridge: $(cat "$T/bridge.log")"
echo "through the web console's WebSocket: $(cat "$T/check.out")"
bridge "$T/vncwrong" "$T/bridge-wrong.jpg" && fail "vncsnapshot with a wrong password through the web console succeeded"
grep -q "VNC authentication failed" "$T/bridge.log" || fail "the wrong password through the web console: $(cat "$T/bridge.log")"
[ -e "$T/bridge-wrong.jpg" ] && fail "a wrong password through the web console got an image"

note "websockify ends with vmdisplay, and its directory goes"
kill "$VPID"
wait "$VPID"
for _ in $(seq 100); do tcp_listening "$PORT" || break; sleep 0.1; done
tcp_listening "$PORT" && fail "the web console outlived vmdisplay"
[ -e "$T/v.vnc.web" ] && fail "the web console's directory was left behind"

note "over TLS (--web-cert): noVNC by https and wss shows the screen; plain http gets nothing"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/web.key" -out "$T/web.crt" -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 >"$T/openssl.log" 2>&1 || fail "openssl: $(cat "$T/openssl.log")"
read -r TPORT <<<"$(free_ports 1)"
start_vmd t w --web=127.0.0.1:$TPORT --password-file="$T/password" --websockify="$WEBSOCKIFY" \
  --web-cert="$T/web.crt" --web-key="$T/web.key"
wait_for 20 "the TLS web console's port" tcp_listening "$TPORT"
grep -q "web console on https://127.0.0.1:$TPORT/" "$T/t.log" || fail "vmdisplay did not say https: $(cat "$T/t.log")"
python3 - "$TPORT" <<'EOF' || fail "https is not served, or plain http is"
import ssl, sys, urllib.request
port = sys.argv[1]
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ok = b"noVNC" in urllib.request.urlopen("https://127.0.0.1:%s/vnc.html" % port, timeout=10, context=ctx).read()
try:
    urllib.request.urlopen("http://127.0.0.1:%s/vnc.html" % port, timeout=10).read()
    plain = True
except Exception:
    plain = False
sys.exit(0 if ok and not plain else 1)
EOF
page tls "autoconnect=true&resize=off&password=Pa55word" screen "https://127.0.0.1:$TPORT"
"$CHECK" find "$T/tls.png" 0 >"$T/check.out" 2>&1 || fail "the https page does not show the pattern: $(cat "$T/check.out")"
echo "browser over TLS: $(cat "$T/check.out")"
echo "PASS"
