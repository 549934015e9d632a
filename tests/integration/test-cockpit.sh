#!/bin/bash
# SPDX-License-Identifier: MIT
# The Cockpit page (cockpit/, docs/cockpit.md) in Debian's headless
# Chromium against a real vmms with the fake worker on a private bus,
# served by cockpit-ws on loopback with a local bridge (no login) whose
# "system bus" is that private bus (DBUS_SYSTEM_BUS_ADDRESS, checked in
# the bridge's environment). cockpit-browser.py drives the page: the list,
# VMs added and removed elsewhere, start, pause and resume (by keyboard),
# a refused start and its message, a firmware VM's "Nothing to boot"
# warning (BootStatus, from the fake worker's SeaBIOS act), the CPU column and a VM's graphs
# (metering, moving as the fake worker's counters grow), settings edited
# (read back from Config with busctl) and refused (vmms's error in the
# alert), a VM's details and checkpoints, a VM's boot, DVD drives,
# integration services, automatic actions and NIC caps edited, moves to a
# second vmms B (live, quick, shared-nothing; refused, cancelled; the VM
# read back on B), the new-VM wizard (a new VHDX,
# cloud-init, started) and Delete, a shut down, vmms restarting under the page, a phone's width; the page in
# Cockpit's shell (where cockpit-system is installed); then, through a second cockpit-ws whose bridge
# runs as nobody (outside the vmstack group), a start refused with vmms's
# PermissionDenied and its reason. The graphical console (cockpit-console.py,
# where vmdisplay is built): a VM with a display, its screen in the page
# against vmctl screenshot, input reaching the fake display worker, the VM
# stopped and started under it; as nobody its refusal.
# Screenshots: $VM_BUILD_DIR/test-artifacts/cockpit/.
set -u
source "$(dirname "$0")/vmms-lib.sh"
PAGE=$VM_BUILD_DIR/cockpit/dist
WS=/usr/lib/cockpit/cockpit-ws
skip() { echo "SKIP: $*"; exit 77; }
[ -x "$WS" ] || skip "cockpit-ws is not installed (scripts/deps.sh)"
BRIDGE=$(command -v cockpit-bridge) || skip "cockpit-bridge is not installed (scripts/deps.sh)"
CHROMIUM=$(command -v chromium || command -v chromium-browser) || skip "chromium is not installed (scripts/deps.sh)"
command -v node >/dev/null || skip "node is not installed: the page is not built (scripts/deps.sh)"
[ -f "$PAGE/index.js" ] || skip "the page is not built ($PAGE; cmake -DVMSTACK_COCKPIT=ON)"
[ -x /usr/bin/python3 ] || skip "python3 is not installed"
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
# The console's VM: the fake worker's display side, served by the real
# vmdisplay (vmms finds it in the build tree).
D=$VM_BUILD_DIR/vmdisplay
CONSOLE=1
for b in vmdisplay fake-display-worker; do [ -x "$D/$b" ] || CONSOLE=""; done
export VM_FAKE_DISPLAY_WORKER=$D/fake-display-worker VM_FAKE_DISPLAY_LOG=$T/fake-display.log
# A firmware image and a disk with nothing to boot (the boot warning).
mkdir -p "$T/fw"
head -c 262144 /dev/zero >"$T/fw/bios.bin"
truncate -s 1M "$T/images/empty.img"
# Host B: a second dbus-daemon and vmms that takes moves on loopback
# (vmms-lib.sh); PORT_NONE: a port nobody listens on (a refused move).
read -r PORTB PORT_NONE <<<"$(t_free_ports 2)"
t_start_vmms --firmware-dir="$T/fw" --metering-interval-ms=1000 --migration-insecure
t_host_b_start "$PORTB" --migration-insecure
mkdir -p "$T/b-images"
truncate -s 1M "$T/images/install.iso"
ART=$VM_BUILD_DIR/test-artifacts/cockpit
rm -rf "$ART"
mkdir -p "$ART"

note "three VMs: alpha (with a disk, for the graphs), beta, and broken whose kernel is gone"
truncate -s 1M "$T/images/alpha.img"
t_create alpha "" ",\"disks\":[{\"path\":\"$T/images/alpha.img\"}]"
t_create beta
echo "fake kernel" >"$T/images/gone"
vm_json broken >"$T/broken.json"
sed -i "s|$(t_kernel)|$T/images/gone|" "$T/broken.json"
expect_rc 0 vmctl create "$T/broken.json"
rm "$T/images/gone"
if [ -n "$CONSOLE" ]; then
  note "screen: a VM with a display, for the console (cockpit-console.py)"
  t_create screen "" ',"display":{"enabled":true}'
  CONSOLE_ENV=(DISPLAY_LOG="$VM_FAKE_DISPLAY_LOG" VMCTL="$VMCTL_BIN")
else
  echo "vmdisplay or fake-display-worker is not built: the console is not tested"
  CONSOLE_ENV=()
fi

note "cockpit-ws on loopback, the page from the build tree"
t_cockpit_ws "$PAGE"
curl -sf "$BASE/manifests.json" | grep -q '"vmstack":{.*"label":"vmstack VMs"' ||
  fail "the bridge does not list the page: $(curl -s "$BASE/manifests.json" | head -c 300)"
# Only loopback: nothing answers on the host's other addresses.
OTHER=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
if [ -n "$OTHER" ]; then
  curl -s -m 2 -o /dev/null "http://$OTHER:$PORT/" && fail "cockpit-ws answers on $OTHER"
fi

# The page is the built files, and nothing it loads leaves the host.
grep -Eq 'https?://' "$PAGE/index.html" && fail "index.html loads from the network"
[ "$(sed -n 's/.*src="\([^"]*\)".*/\1/p' "$PAGE/index.html" | tr '\n' ' ')" = "../base1/cockpit.js index.js " ] ||
  fail "index.html loads other scripts: $(grep -o 'src="[^"]*"' "$PAGE/index.html")"
grep -o 'url([^)]*)' "$PAGE/index.css" | grep -Ev '^url\("?(\./assets/|data:)' | grep . &&
  fail "index.css loads from elsewhere than the page's own assets/"

# vmms restarts when the page asks for it (RESTART_REQUEST): stopped, gone
# from the bus for a second, started again; the new one's pid in vmms2.pid.
(
  while [ ! -e "$T/restart-request" ]; do sleep 0.1; done
  kill -TERM "$VMMS_PID"
  while kill -0 "$VMMS_PID" 2>/dev/null; do sleep 0.1; done
  sleep 1.5
  t_start_vmms --firmware-dir="$T/fw" --metering-interval-ms=1000 --migration-insecure
  echo "$VMMS_PID" >"$T/vmms2.pid"
) &
RESTARTER=$!
t_on_exit "kill $RESTARTER; [ -f $T/vmms2.pid ] && kill \$(cat $T/vmms2.pid)"

note "the browser drives the page"
env "${CONSOLE_ENV[@]}" RESTART_REQUEST=$T/restart-request ADDR=$ADDR VMCTL="$VMCTL_BIN" KERNEL=$(t_kernel) \
  ADDRB=$ADDRB PORTB=$PORTB PORT_NONE=$PORT_NONE ISO=$T/images/install.iso STORAGE_B=$T/b-images IMAGES=$T/images \
  FIRMWARE=$T/fw/bios.bin EMPTY_DISK=$T/images/empty.img TMPDIR=$T /usr/bin/python3 "$(dirname "$0")/cockpit-browser.py" "$CHROMIUM" \
  "$BASE/vmstack/index.html" "$ART" >"$T/browser.log" 2>&1
rc=$?
cat "$T/browser.log"
[ $rc = 0 ] || fail "the page (screenshots in $ART; cockpit-ws: $(tail -5 "$T/ws.log"))"

# The bridge the page used talked to this test's bus, not the host's.
bridge=""
for p in $(pgrep -P "$WSPID"); do
  [ "$(readlink "/proc/$p/exe")" = "$(readlink -f "$BRIDGE")" ] && bridge=$p
done
[ -n "$bridge" ] || fail "no cockpit-bridge under cockpit-ws"
tr '\0' '\n' <"/proc/$bridge/environ" | grep -qx "DBUS_SYSTEM_BUS_ADDRESS=$ADDR" || fail "the bridge's system bus is not the test's"

if [ -f /usr/share/cockpit/shell/manifest.json ]; then
  note "in Cockpit's shell: its menu, its frame"
  # A cockpit-ws of its own: a --local-session cockpit-ws whose first
  # browser has gone sometimes answered the next one with its login page
  # (3 runs in 5 on a loaded machine).
  read -r PORT3 <<<"$(t_free_ports 1)"
  PATH=$(dirname "$VMCTL_BIN"):$PATH LANG=C.UTF-8 LC_ALL=C.UTF-8 DBUS_SYSTEM_BUS_ADDRESS=$ADDR XDG_DATA_HOME=$T/share XDG_CONFIG_HOME=$T/config \
    "$WS" --no-tls --address=127.0.0.1 --port="$PORT3" --local-session="$BRIDGE" >"$T/ws3.log" 2>&1 &
  WS3=$!
  t_on_exit "kill $WS3"
  wait_for 20 "cockpit-ws for the shell" curl -sf -o /dev/null "http://127.0.0.1:$PORT3/cockpit/@localhost/vmstack/manifest.json"
  TMPDIR=$T /usr/bin/python3 "$(dirname "$0")/cockpit-browser.py" "$CHROMIUM" "http://127.0.0.1:$PORT3/vmstack" "$ART" shell \
    >"$T/browser-shell.log" 2>&1 || fail "the page in the shell: $(cat "$T/browser-shell.log"; tail -5 "$T/ws3.log")"
  cat "$T/browser-shell.log"
else
  echo "cockpit-system (the shell) is not installed: the page is tested on its own only"
fi

note "a user outside the vmstack group: the page shows, a change is refused with the reason"
NOBODY=$(id -u nobody 2>/dev/null) || skip "no user nobody"
id -nG nobody | grep -qw vmstack && skip "nobody is in the vmstack group"
mkdir -p "$T/nobody"
chown nobody "$T/nobody"
read -r PORT2 <<<"$(t_free_ports 1)"
HOME=$T/nobody PATH=$VM_BUILD_DIR/vmctl:$PATH LANG=C.UTF-8 LC_ALL=C.UTF-8 DBUS_SYSTEM_BUS_ADDRESS=$ADDR XDG_DATA_HOME=$T/share XDG_CONFIG_HOME=$T/nobody \
  setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups \
  "$WS" --no-tls --address=127.0.0.1 --port="$PORT2" --local-session="$BRIDGE" >"$T/ws2.log" 2>&1 &
WS2=$!
t_on_exit "kill $WS2"
wait_for 20 "cockpit-ws as nobody" curl -sf -o /dev/null "http://127.0.0.1:$PORT2/cockpit/@localhost/vmstack/manifest.json"
env "${CONSOLE_ENV[@]}" ADDR=$ADDR KERNEL=$(t_kernel) TMPDIR=$T /usr/bin/python3 "$(dirname "$0")/cockpit-browser.py" "$CHROMIUM" \
  "http://127.0.0.1:$PORT2/cockpit/@localhost/vmstack/index.html" "$ART" unprivileged >"$T/browser2.log" 2>&1
rc=$?
cat "$T/browser2.log"
[ $rc = 0 ] || fail "the page as nobody (screenshots in $ART; cockpit-ws: $(tail -5 "$T/ws2.log"))"

note "what vmms saw: the page's operations"
for s in "alpha.*Starting" "alpha.*Paused" "alpha.*Off"; do
  grep -Eq "$s" "$T/vmms.log" || fail "vmms.log lacks '$s'"
done
for f in list-1280 running-1280 refused-1280 boot-warning-1280 boot-details-1280 graphs-1280 graphs-phone details-1280 details-phone wizard-1280 wizard-phone \
  vmms-gone-1280 list-phone unprivileged-1280 settings-more-1280 settings-more-phone settings-boot-1280 nic-caps-1280 \
  settings-boot-phone settings-services-phone move-progress-1280 moved-1280 move-phone move-card-phone move-quick-1280 \
  moved-elsewhere-1280 move-outcomes-1280 move-outcomes-phone move-reconnect-1280 \
  disk-resize-1280 disk-resize-phone; do
  [ -s "$ART/$f.png" ] || fail "no screenshot $f"
done
if [ -n "$CONSOLE" ]; then
  for f in console-1280 console-stopped-1280 console-phone console-unprivileged-1280; do
    [ -s "$ART/$f.png" ] || fail "no screenshot $f"
  done
fi
echo "screenshots: $ART"
echo "PASS"
