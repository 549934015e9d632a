#!/bin/bash
# SPDX-License-Identifier: MIT
# The web console off loopback (docs/console.md "vmms's consoles on the
# network"): vmms in a network namespace of its own with a second address
# (on a veth pair), the VM's worker the fake one with fake-display-worker.
# Checked: vmms refuses a non-loopback --console-address without TLS, a key
# without a certificate and a file it cannot read, naming the option; with
# --console-address and --console-cert the VM's web console is https on that
# address (WebUrl, vmctl display), serves noVNC to a client that trusts the
# certificate and nothing to plain http, and is not on loopback; VNC's own
# port stays on 127.0.0.1 and is not on the public address; a VNC session
# through the wss WebSocket logs in with the password and gets the pattern.
set -u
source "$(dirname "$0")/vmms-lib.sh"
D=$VM_BUILD_DIR/vmdisplay
for b in vmdisplay fake-display-worker; do
  [ -x "$D/$b" ] || { echo "SKIP: $D/$b is not built"; exit 77; }
done
for p in websockify openssl curl python3; do
  command -v "$p" >/dev/null || { echo "SKIP: $p is not installed (scripts/deps.sh)"; exit 77; }
done
[ -d /usr/share/novnc ] || { echo "SKIP: noVNC is not installed (scripts/deps.sh)"; exit 77; }
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
t_vmms_netns vmmsdr
IP=10.231.7.1
# A veth pair inside the namespace (the dummy driver is not always there).
ip -n "$NS" link add pub0 type veth peer name pub1 && ip -n "$NS" addr add "$IP/24" dev pub0 &&
  ip -n "$NS" link set pub0 up && ip -n "$NS" link set pub1 up || fail "the namespace's public address"
inns() { ip netns exec "$NS" "$@"; }
export VM_FAKE_DISPLAY_WORKER=$D/fake-display-worker VM_FAKE_DISPLAY_LOG=$T/fake-display.log

note "a certificate for $IP (self-signed)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$IP" \
  -addext "subjectAltName=IP:$IP" -keyout "$T/console.key" -out "$T/console.crt" 2>"$T/openssl.log" ||
  fail "openssl: $(cat "$T/openssl.log")"
chmod 600 "$T/console.key"

note "refusals at start"
refused() { # MESSAGE OPTIONS...: vmms exits 2 at once and names the problem
  local want=$1 out rc; shift
  out=$(timeout 10 "$VMMS" --bus-address="$ADDR" --state-dir="$T/state" --runtime-dir="$T/run" --log-dir="$T/log" \
    --worker="$WORKER" --no-polkit "$@" 2>&1); rc=$?
  [ "$rc" = 2 ] || fail "vmms $* exited $rc, expected 2: $out"
  echo "$out" | grep -qF -- "$want" || fail "vmms $*: expected '$want', got: $out"
}
refused "--console-address=$IP is not a loopback address: the web consoles there need TLS (--console-cert)" \
  --console-address="$IP"
refused "--console-address=0.0.0.0 is not a loopback address" --console-address=0.0.0.0
refused "--console-key needs --console-cert" --console-key="$T/console.key"
refused "--console-cert=$T/nothing.crt: No such file or directory" --console-address="$IP" --console-cert="$T/nothing.crt"
refused "--console-address=localhost: a numeric IPv4 or IPv6 address" --console-address=localhost

note "vmms with its consoles on $IP over TLS"
t_start_vmms --display-server="$D/vmdisplay" --console-address="$IP" --console-cert="$T/console.crt" \
  --console-key="$T/console.key"
read -r VPORT WPORT <<<"$(t_free_ports 2)"
disp() { # VM PROPERTY: a property of the Display interface
  bus get-property org.vmstack.VMMS1 "$(vm_path "$1")" org.vmstack.VMMS1.Display "$2" | sed -e 's/^[a-z()]* //' -e 's/^"\(.*\)"$/\1/'
}
t_create r1 "" ",\"display\":{\"enabled\":true,\"vnc_port\":$VPORT,\"web_port\":$WPORT}"
expect_rc 0 vmctl start r1 --timeout=30
wait_for 10 "the display server" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path r1)' org.vmstack.VMMS1.Display ServerRunning)\" = 'b true' ]"
URL=https://$IP:$WPORT/
[ "$(disp r1 WebUrl)" = "$URL" ] || fail "WebUrl: $(disp r1 WebUrl), expected $URL"
[ "$(disp r1 VncAddress)" = "127.0.0.1:$VPORT" ] || fail "VncAddress: $(disp r1 VncAddress)"
expect_rc 0 vmctl display r1
echo "$LAST_OUT" | grep -q "^Web console  *$URL\$" || fail "vmctl display: $LAST_OUT"
CMD=$(pgrep -af "vmdisplay --connect=$T/run/vms/$(vm_prop r1 Id)/display.sock" | head -n 1)
for a in "--web=$IP:$WPORT" --allow-remote "--web-cert=$T/console.crt" "--web-key=$T/console.key" \
  "--listen-tcp=127.0.0.1:$VPORT"; do
  echo " $CMD " | grep -qF -- " $a " || fail "vmdisplay runs without $a: $CMD"
done

note "https on $IP with the certificate; nothing in the clear, nothing on loopback"
# websockify's start: seconds on a slow host (the emulated AMD-V host's
# TCG took more than 15)
wait_for 60 "the web console on $IP" inns curl -sf --cacert "$T/console.crt" -o "$T/index.html" "$URL"
grep -q "vnc.html" "$T/index.html" || fail "the console's page: $(head -c 300 "$T/index.html")"
inns curl -sf --cacert "$T/console.crt" -o "$T/vnc.html" "${URL}vnc.html" || fail "noVNC's page over https"
grep -qi "novnc" "$T/vnc.html" || fail "vnc.html is not noVNC's"
inns curl -s -m 5 -o /dev/null "http://$IP:$WPORT/" && fail "plain http to the web console got an answer"
inns curl -s -m 5 -o /dev/null --cacert "$T/console.crt" "https://127.0.0.1:$WPORT/" &&
  fail "the web console answers on loopback too"
tcp_open() { inns python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5).close()' "$@" 2>/dev/null; }
tcp_open "$IP" "$VPORT" && fail "VNC's port is open on $IP"
tcp_open 127.0.0.1 "$VPORT" || fail "VNC's port is not on 127.0.0.1"

note "a VNC session through wss: the password, then the pattern's first row, exact"
PW=$(vmctl display r1 --password | sed -n 's/^Password  *//p')
[ ${#PW} = 12 ] || fail "the password: '$PW'"
cat >"$T/wss.py" <<'EOF'
# A minimal WebSocket client (RFC 6455) over TLS speaking RFC 6143 up to the
# first framebuffer update: Python's standard library only. VNC
# authentication's DES uses bit-reversed key bytes; DES itself comes from
# openssl (the legacy provider, since OpenSSL 3 moved DES there).
import base64, os, socket, ssl, struct, subprocess, sys
host, port, ca, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection((host, port), 10), server_hostname=host)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /websockify HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    c = s.recv(1)
    if not c: sys.exit("the server closed during the handshake: %r" % head)
    head += c
if b" 101 " not in head.split(b"\r\n")[0]: sys.exit("no WebSocket upgrade: %r" % head)
buf = b""
def recv(n):
    global buf
    while len(buf) < n:
        h = s.recv(2)
        while len(h) < 2: h += s.recv(2 - len(h))
        ln = h[1] & 0x7f
        if ln == 126: ln = struct.unpack(">H", s.recv(2))[0]
        elif ln == 127: ln = struct.unpack(">Q", s.recv(8))[0]
        d = b""
        while len(d) < ln: d += s.recv(ln - len(d))
        if h[0] & 0x0f == 8: sys.exit("the server closed the WebSocket")
        buf += d
    out, buf = buf[:n], buf[n:]
    return out
def send(data):
    mask = os.urandom(4)
    hdr = bytes([0x82]) + (bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + struct.pack(">H", len(data)))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
ver = recv(12)
if not ver.startswith(b"RFB 003."): sys.exit("not RFB: %r" % ver)
send(b"RFB 003.008\n")
n = recv(1)[0]
types = recv(n)
if 2 not in types: sys.exit("no VNC authentication offered: %r" % types)
send(b"\x02")
challenge = recv(16)
k = bytes(int(f"{b:08b}"[::-1], 2) for b in pw.encode()[:8].ljust(8, b"\0"))
des = subprocess.run(["openssl", "enc", "-des-ecb", "-nopad", "-K", k.hex(), "-provider", "legacy", "-provider",
                      "default"], input=challenge, capture_output=True)
if des.returncode: sys.exit("openssl des: " + des.stderr.decode())
send(des.stdout)
if struct.unpack(">I", recv(4))[0] != 0: sys.exit("authentication failed")
send(b"\x01")  # shared
w, h = struct.unpack(">HH", recv(4))
recv(16)
name = recv(struct.unpack(">I", recv(4))[0])
print(f"logged in: {w}x{h} {name!r}")
send(struct.pack(">BxH", 2, 1) + struct.pack(">i", 0))  # raw encoding only
send(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))
while True:
    t = recv(1)[0]
    if t == 0: break
    if t == 2: continue  # bell
    if t in (1, 3): sys.exit("unexpected message %d" % t)
recv(1); nr = struct.unpack(">H", recv(2))[0]
x, y, rw, rh, enc = struct.unpack(">HHHHi", recv(12))
if enc != 0 or rw == 0 or rh == 0: sys.exit(f"a rectangle {rw}x{rh} in encoding {enc}")
px = recv(4 * rw)
# The first row against display-pattern.h's dp_pixel (y = 0, phase 0):
# little-endian 0x00RRGGBB, the server's default pixel format.
palette = [0xd82020, 0x20d820, 0x2020d8, 0xd8d820, 0x808080, 0xd88020, 0x2080d8, 0x802080]
if (x, y) != (0, 0): sys.exit(f"the first rectangle starts at {x},{y}")
for i in range(rw):
    want = palette[(i // 64) % 8] + ((i & 7) << 16) + (i & 7)
    got = struct.unpack("<I", px[4 * i:4 * i + 4])[0] & 0xffffff
    if got != want: sys.exit(f"pixel {i},0: {got:06x}, the pattern has {want:06x}")
print(f"update: {nr} rectangle(s), the first {rw}x{rh}, its first row the pattern's")
EOF
wait_for 10 "the guest's mode" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path r1)' org.vmstack.VMMS1.Display Mode)\" = '(uu) 640 480' ]"
inns python3 "$T/wss.py" "$IP" "$WPORT" "$T/console.crt" "$PW" >"$T/wss.log" 2>&1 || fail "the wss session: $(tail -5 "$T/wss.log")"
grep -q "^logged in: 640x480" "$T/wss.log" || fail "the wss session's screen: $(cat "$T/wss.log")"
grep -q "^update: " "$T/wss.log" || fail "no framebuffer update through wss: $(cat "$T/wss.log")"
cat "$T/wss.log"

note "a wrong password through wss is refused"
inns python3 "$T/wss.py" "$IP" "$WPORT" "$T/console.crt" "wrong-password" >"$T/wss-bad.log" 2>&1 &&
  fail "a wrong password logged in: $(cat "$T/wss-bad.log")"
grep -q "authentication failed" "$T/wss-bad.log" || fail "the wrong password: $(cat "$T/wss-bad.log")"

note "the console goes with the VM"
expect_rc 0 vmctl kill r1
wait_state r1 Off
inns curl -s -m 5 -o /dev/null --cacert "$T/console.crt" "$URL" && fail "the web console outlived its VM"
echo "PASS"
