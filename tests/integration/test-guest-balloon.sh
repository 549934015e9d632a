#!/bin/bash
# SPDX-License-Identifier: MIT
# Dynamic Memory end to end on KVM with the test guest's hv_balloon side
# (guest-vsc vsc.mode=balloon, docs/dynamic-memory.md): vmms, the real
# worker's device and a guest that fills 256 MiB of its 512 MiB first.
#   vmctl memory 256M: the guest balloons 256 MiB; Assigned and Ballooned
#     say so and the worker's RSS falls by at least 240 MiB;
#   vmctl memory 512M: they come back (unballoon; the guest finds them
#     zeroed), Ballooned 0;
#   vmctl memory 1024M: 512 MiB hot-added in 128 MiB blocks, the guest maps
#     and writes them; HotAdded and the guest's own count agree;
#   vmctl save / start: the Saved VM resumes with its hot-added memory and
#     the operator's target, and still answers a balloon.
# The stock-Linux version of these checks is in tests/linux/test-linux.sh;
# bench/bench-dm.c times them against QEMU's virtio-balloon.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=real t_pick_worker
[ -n "$(t_vsc_guest)" ] || { echo "SKIP: the test guest is not built"; exit 77; }
t_start_vmms --memory-interval-ms=200

mem() { bus get-property org.vmstack.VMMS1 "$(vm_path "$1")" org.vmstack.VMMS1.Memory "$2" | sed -e 's/^[a-z()]* //' -e 's/^"\(.*\)"$/\1/'; }
mib() { echo $(($1 << 20)); }
assigned_is() { [ "$(mem "$1" Assigned)" = "$(mib "$2")" ] && [ "$(mem "$1" Status)" = ok ]; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$(vm_prop "$1" WorkerPid)/status"; }

cat >"$T/b1.json" <<EOF
{"name":"b1","memory_mib":512,"vcpus":1,
 "boot":{"kernel":"$(t_vsc_guest)","cmdline":"vsc.mode=balloon vsc.balloon.touch_mib=256 vsc.balloon.seconds=600"},
 "dynamic_memory":{"enabled":true,"minimum_mib":128,"maximum_mib":1024}}
EOF
expect_rc 0 vmctl create "$T/b1.json"
expect_rc 0 vmctl start b1 --timeout=60
# The target first: the balancer would otherwise move the idle guest.
expect_rc 0 vmctl memory b1 512M
wait_for 60 "the guest's balloon driver" console_has b1 "^VSC balloon_ready device=dm touched_mib=256"
wait_for 10 "the driver connected" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path b1)' org.vmstack.VMMS1.Memory Status)\" = 's \"ok\"' ]"

note "balloon 256 MiB: the worker's RSS falls"
rss0=$(rss_kib b1)
expect_rc 0 vmctl memory b1 256M
wait_for 30 "256 MiB assigned" assigned_is b1 256
[ "$(mem b1 Ballooned)" = "$(mib 256)" ] || fail "Ballooned: $(mem b1 Ballooned)"
rss1=$(rss_kib b1)
note "worker RSS $rss0 -> $rss1 KiB"
[ "$rss1" -le $((rss0 - 240 * 1024)) ] || fail "the worker's RSS fell from $rss0 to only $rss1 KiB"
console_has b1 "^VSC balloon_change device=dm op=balloon pages=65536 " || fail "the guest's balloon line: $(console b1 | grep balloon)"

note "back to 512 MiB: the ballooned pages return"
expect_rc 0 vmctl memory b1 512M
wait_for 30 "512 MiB assigned" assigned_is b1 512
[ "$(mem b1 Ballooned)" = 0 ] || fail "Ballooned after the unballoon: $(mem b1 Ballooned)"
console_has b1 "^VSC balloon_change device=dm op=unballoon pages=0 " || fail "the guest's unballoon line: $(console b1 | grep balloon)"

note "1 GiB: 512 MiB hot-added"
expect_rc 0 vmctl memory b1 1G
wait_for 30 "1024 MiB assigned" assigned_is b1 1024
[ "$(mem b1 HotAdded)" = "$(mib 512)" ] || fail "HotAdded: $(mem b1 HotAdded)"
console_has b1 "^VSC balloon_change device=dm op=hot-add pages=0 hot_added_mib=512 " ||
  fail "the guest's hot-add lines: $(console b1 | grep balloon)"

note "saved and resumed: the hot-added memory and the target stay"
expect_rc 0 vmctl save b1
wait_state b1 Saved
expect_rc 0 vmctl start b1 --timeout=60
wait_state b1 Running
wait_for 30 "1024 MiB assigned after the resume" assigned_is b1 1024
[ "$(mem b1 ManualTarget)" = "$(mib 1024)" ] || fail "ManualTarget after the resume: $(mem b1 ManualTarget)"
[ "$(mem b1 HotAdded)" = "$(mib 512)" ] || fail "HotAdded after the resume: $(mem b1 HotAdded)"
expect_rc 0 vmctl memory b1 768M
wait_for 30 "768 MiB assigned after the resume" assigned_is b1 768
expect_rc 0 vmctl kill b1
console_has b1 "VSC error=" && fail "the guest failed: $(console b1 | grep error=)"
echo PASS
