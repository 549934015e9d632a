#!/bin/bash
# SPDX-License-Identifier: MIT
# The Cockpit page's graphs while the test guest does disk and network I/O
# (issue #59; docs/cockpit.md "Graphs"): the real worker with the guest-vsc
# test guest in vsc.mode=soak (checksummed blocks written and read back on
# its SCSI disk while it pings a UDP echo peer through a bridge, in a
# network namespace of its own), vmms sampling every second, cockpit-ws on
# loopback with the built page, and headless Chromium on the VM's details
# (cockpit-guest.py): the disk graph's read and write and the network
# graph's received and sent figures above 0, the disk, network and CPU
# lines moving, no JavaScript error; then the guest stopped by its peer's
# datagram ends with result=ok (the traffic the graphs showed was the
# guest's own, and whole). And where vmdisplay is built, a second test
# guest (vsc.mode=video) draws vmdisplay's pattern through its synthetic
# video device: the page's console shows that screen, pixel for pixel
# against `vmctl screenshot`. The fake worker's part, and everything else
# the page does: test-cockpit.sh. Needs root, /dev/kvm and the test guest.
# Screenshots: $VM_BUILD_DIR/test-artifacts/cockpit-guest/.
set -u
source "$(dirname "$0")/vmms-lib.sh"
PAGE=$VM_BUILD_DIR/cockpit/dist
WS=/usr/lib/cockpit/cockpit-ws
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, bridge)"
command -v ip >/dev/null || skip "iproute2 (ip) not installed"
[ -x "$WS" ] || skip "cockpit-ws is not installed (scripts/deps.sh)"
BRIDGE=$(command -v cockpit-bridge) || skip "cockpit-bridge is not installed (scripts/deps.sh)"
CHROMIUM=$(command -v chromium || command -v chromium-browser) || skip "chromium is not installed (scripts/deps.sh)"
[ -f "$PAGE/index.js" ] || skip "the page is not built ($PAGE; cmake -DVMSTACK_COCKPIT=ON)"
if [ -z "${COCKPIT_GUEST_IN_NETNS:-}" ]; then
  unshare -n true 2>/dev/null || skip "cannot create a network namespace"
  exec unshare -n env COCKPIT_GUEST_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
t_setup
t_need_guest_vsc
PEER_BIN=$VM_BUILD_DIR/bench/bench-net-guest
[ -x "$PEER_BIN" ] || skip "$PEER_BIN is not built"
STOP_PORT=7797
VMD=$VM_BUILD_DIR/vmdisplay/vmdisplay
if [ -x "$VMD" ]; then
  t_start_vmms --metering-interval-ms=1000 --display-server="$VMD"
else
  echo "vmdisplay is not built: the console is not tested"
  t_start_vmms --metering-interval-ms=1000
fi
ART=$VM_BUILD_DIR/test-artifacts/cockpit-guest
rm -rf "$ART"
mkdir -p "$ART"

note "the test guest: disk and network traffic at once (vsc.mode=soak)"
ip link add cgsoakbr0 type bridge || fail "ip link add bridge"
ip addr add 10.97.0.1/24 dev cgsoakbr0
ip link set cgsoakbr0 up
"$PEER_BIN" --echo 10.97.0.1:7796 --seconds 600 2>"$T/peer.log" &
t_on_exit "kill $!"
truncate -s 64M "$T/images/soak.img"
printf '{"name":"soak","memory_mib":128,"vcpus":1,"boot":{"kernel":"%s","cmdline":"%s"},"disks":[{"path":"%s"}],"nics":[{"mac":"02:00:5e:10:00:97","bridge":"cgsoakbr0"}],"restart_policy":"never"}' \
  "$GUEST" "vsc.mode=soak vsc.ip=10.97.0.2 vsc.peer=10.97.0.1 vsc.port=7796 vsc.soak.ms=300000 vsc.soak.stop_port=$STOP_PORT vsc.soak.progress_ms=1000 vsc.timeout_ms=30000" \
  "$T/images/soak.img" >"$T/soak.json"
expect_rc 0 vmctl create "$T/soak.json"
expect_rc 0 vmctl start soak --timeout=120
wait_for 60 "the guest's first progress line" console_has soak '^VSC soak_progress '

CONSOLE_URL=
if [ -x "$VMD" ]; then
  note "screen: the test guest draws vmdisplay's pattern on its synthetic video (vsc.mode=video)"
  printf '{"name":"screen","memory_mib":64,"vcpus":1,"boot":{"kernel":"%s","cmdline":"vsc.mode=video vsc.video.seconds=600"},"display":{"enabled":true}}' \
    "$GUEST" >"$T/screen.json"
  expect_rc 0 vmctl create "$T/screen.json"
  expect_rc 0 vmctl start screen --timeout=60
  wait_for 60 "the guest's video driver" console_has screen '^VSC video_ready gpa=0xe0000000 mode=640x480'
fi

note "cockpit-ws on loopback, the page from the build tree"
t_cockpit_ws "$PAGE"

[ -x "$VMD" ] && CONSOLE_URL=$BASE/vmstack/index.html#/vm/$(vm_prop screen Id)
note "the browser on the VM's details: its graphs show the guest's traffic and move; the other's console its screen"
CONSOLE_URL=$CONSOLE_URL VMCTL=$VMCTL_BIN ADDR=$ADDR TMPDIR=$T /usr/bin/python3 "$(dirname "$0")/cockpit-guest.py" "$CHROMIUM" \
  "$BASE/vmstack/index.html#/vm/$(vm_prop soak Id)" "$ART" || fail "the page (screenshot in $ART)"

note "the guest, stopped by its peer, ends with result=ok"
for _ in $(seq 60); do
  console_has soak '^VSC soak_stop=' && break
  echo VSCSOAK-STOP >"/dev/udp/10.97.0.2/$STOP_PORT" 2>/dev/null
  sleep 0.5
done
wait_state soak Off 120
console_has soak '^VSC result=ok status=0' ||
  fail "the guest's soak: $(console soak | grep -E '^VSC (soak_stop|soak_bad|error|result)' | tr '\n' ' ')"
console soak | grep '^VSC soak_progress ' | tail -1 | sed 's/^/  /'
echo PASS
