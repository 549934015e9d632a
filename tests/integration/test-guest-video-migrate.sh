#!/bin/bash
# SPDX-License-Identifier: MIT
# The VRAM across a live migration (docs/migration.md "Device memory"), on
# KVM with the test guest's synthetic video side (guest-vsc vsc.mode=video):
# two vmms (host A and host B, loopback, insecure mode), each with
# vmdisplay, and a VM with a display whose guest draws the test pattern and
# keeps 4 MiB of off-screen VRAM changing, checking every page's last
# stamp every 10 ms and the screen every second.
#   A -> B and back: the guest goes on sweeping without finding a page
#     that is not what it wrote; vmms logs the VRAM sent while the guest
#     ran and the part of it in the downtime (less: what changed last);
#   vmctl screenshot on each host is the pattern, pixel for pixel;
#   a guest whose screen stays still (no churn) moves with no VRAM in the
#   downtime, and the destination's VRAM takes only what was drawn.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=real t_pick_worker
[ -n "$(t_vsc_guest)" ] || { echo "SKIP: the test guest is not built"; exit 77; }
D=$VM_BUILD_DIR/vmdisplay
for b in vmdisplay display-image-check; do
  [ -x "$D/$b" ] || { echo "SKIP: $b is not built"; exit 77; }
done
read -r PA PB < <(t_free_ports 2)
[ -n "$PB" ] || fail "no free ports"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA --display-server="$D/vmdisplay"
t_host_b_start "$PB" --migration-insecure --display-server="$D/vmdisplay"

vm() { # NAME CHURN-MIB
  cat >"$T/$1.json" <<EOF
{"name":"$1","memory_mib":64,"vcpus":1,
 "boot":{"kernel":"$(t_vsc_guest)","cmdline":"vsc.mode=video vsc.video.churn_mib=$2 vsc.video.seconds=600"},
 "display":{"enabled":true}}
EOF
  expect_rc 0 vmctl create "$T/$1.json"
  expect_rc 0 vmctl start "$1" --timeout=60
  wait_for 60 "the guest's video driver" console_has "$1" "^VSC video_ready gpa=0xe0000000 mode=640x480 churn_mib=$2"
}
vm v 4

sweeps() { ADDR=$1 console v | sed -n 's/^VSC video_sweeps n=\([0-9]*\).*/\1/p' | tail -n 1; }
sweeping_past() { local n; n=$(sweeps "$1"); [ -n "$n" ] && [ "$n" -gt "$2" ]; }
guest_ok() { # ADDRESS: no failure on that host's console
  ADDR=$1 console v | grep -q "VSC error=" && fail "the guest found its VRAM changed: $(ADDR=$1 console v | grep -E 'error=|video_bad')"
  return 0
}
screen_is_pattern() { # ADDRESS NAME
  ADDR=$1 expect_rc 0 vmctl screenshot v "$T/$2.png"
  "$D/display-image-check" exact "$T/$2.png" 0 >"$T/$2.check" 2>&1 || fail "$2: the screenshot is not the pattern: $(cat "$T/$2.check")"
}
settle() { # ADDRESS COUNT: the guest sweeping past COUNT there, or why not
  for _ in $(seq 300); do
    guest_ok "$1"
    sweeping_past "$1" "$2" && return 0
    sleep 0.1
  done
  fail "the guest did not sweep past $2 there (State $(ADDR=$1 vm_prop v State))"
}
move() { # FROM-ADDRESS TO-ADDRESS TO-PORT LOG
  local before
  before=$(sweeps "$1")
  ADDR=$1 expect_rc 0 vmctl migrate v "127.0.0.1:$3"
  settle "$2" "${before:-0}"
  [ "$(ADDR=$2 vm_prop v State)" = Running ] || fail "State on the destination: $(ADDR=$2 vm_prop v State)"
  local line sent down
  line=$(grep "vm v: device memory (the VRAM): " "$4" | tail -n 1)
  note "${line#*: }"
  sent=$(echo "$line" | sed -n 's/.*: \([0-9]*\) KiB sent while the guest ran, \([0-9]*\) KiB of it in the downtime/\1/p')
  down=$(echo "$line" | sed -n 's/.*: \([0-9]*\) KiB sent while the guest ran, \([0-9]*\) KiB of it in the downtime/\2/p')
  [ -n "$sent" ] && [ -n "$down" ] || fail "no VRAM line in the source's log: $(grep 'vm v:' "$4" | tail -3)"
  # the screen (1200 KiB) and the 4 MiB the guest changes went while it ran
  [ "$sent" -ge 5200 ] || fail "only $sent KiB of VRAM went ahead of the pause"
  [ "$down" -le 4096 ] || fail "$down KiB of VRAM in the downtime"
}

note "on A"
settle "$ADDR" 1
screen_is_pattern "$ADDR" a

note "A -> B"
move "$ADDR" "$ADDRB" "$PB" "$T/vmms.log"
screen_is_pattern "$ADDRB" b
wait_for 30 "the VM gone from A" sh -c "! '$VMCTL_BIN' --address='$ADDR' show v >/dev/null 2>&1"

note "B -> A"
move "$ADDRB" "$ADDR" "$PA" "$B/vmms.log"
screen_is_pattern "$ADDR" a2
settle "$ADDR" "$(( $(sweeps "$ADDR") + 2 ))"
expect_rc 0 vmctl kill v

note "a still screen: nothing of the VRAM in the downtime"
vm still 0
checks() { ADDR=$1 console still | grep -c "^VSC video_sweeps n=0"; } # one a second: the screen checked
checks_past() { [ "$(checks "$1")" -gt "$2" ]; }
wait_for 30 "the still guest checking its screen" checks_past "$ADDR" 0
expect_rc 0 vmctl migrate still "127.0.0.1:$PB"
ADDR=$ADDRB wait_state still Running 30
line=$(grep "vm still: device memory (the VRAM): " "$T/vmms.log" | tail -n 1)
note "${line#*: }"
echo "$line" | grep -Eq ": 1[0-9]{3} KiB sent while the guest ran, 0 KiB of it in the downtime" ||
  fail "the still screen's VRAM: $line"
wait_for 30 "the still guest checking its screen on B" checks_past "$ADDRB" "$(checks "$ADDRB")"
# B's VRAM holds what was drawn, not 16 MiB: the holes stayed holes.
pid=$(ADDR=$ADDRB vm_prop still WorkerPid)
vram_kib=
for f in /proc/"$pid"/fd/*; do
  case "$(readlink "$f")" in "/memfd:vmwp-vram (deleted)") vram_kib=$(( $(stat -L -c '%b * %B' "$f") / 1024 )); break ;; esac
done
note "B's VRAM memfd: $vram_kib KiB allocated"
[ -n "$vram_kib" ] && [ "$vram_kib" -lt 4096 ] || fail "B's VRAM memfd: ${vram_kib:-not found} KiB allocated of 16 MiB"
ADDR=$ADDRB console still | grep -q "VSC error=" && fail "the still guest: $(ADDR=$ADDRB console still | grep error=)"
ADDR=$ADDRB expect_rc 0 vmctl kill still
echo PASS
