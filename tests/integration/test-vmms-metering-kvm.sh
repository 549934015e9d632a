#!/bin/bash
# SPDX-License-Identifier: MIT
# Metering against a real guest (docs/metering.md; needs /dev/kvm, vmwp
# and the guest-vsc test guest, skips otherwise): the test guest's
# disk-check (vsc.mode=disk-check: 16 regions of 256 KiB written, flushed,
# read back, a block unmapped and read, requests the device refuses, one
# more read) on one SCSI disk, run to its power-off; then `vmctl stats`
# shows exactly the bytes the guest says it wrote (its "disk_write ...
# bytes=" line, and the block it writes before its UNMAP), at least the bytes it says it read, and no more than one
# disk-check request more (the unmap's read-back and the read after the
# refused requests, 64 KiB at most each); a write op per write command;
# the vCPU threads' and the worker's CPU time from the kernel, non-zero.
# The totals come from the worker's final counters (its exit event). The
# fake worker's part: test-vmms-metering.sh.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
t_need_guest_vsc
t_start_vmms --metering-interval-ms=200 # samples while it runs: the worker process's CPU time
truncate -s 64M "$T/images/m.img"
printf '{"name":"mk","memory_mib":128,"vcpus":1,"boot":{"kernel":"%s","cmdline":"%s"},"disks":[{"path":"%s"}]}' \
  "$GUEST" "vsc.mode=disk-check vsc.disk.seed=7" "$T/images/m.img" >"$T/mk.json"
expect_rc 0 vmctl create "$T/mk.json"
expect_rc 0 vmctl start mk --timeout=120
wait_state mk Off 300
console_has mk '^VSC result=ok status=0' || fail "the guest's disk-check failed: $(console mk | grep -E '^VSC (error|result)')"
line() { console mk | sed -n "s/^VSC $1=0:0 .*$2=\([0-9]*\).*/\1/p" | head -1; }
wrote=$(line disk_write bytes) wcmds=$(line disk_write commands) read=$(line disk_read bytes)
[ -n "$wrote" ] && [ -n "$read" ] && [ -n "$wcmds" ] || fail "no disk_write/disk_read lines: $(console mk | grep '^VSC disk')"
note "the guest wrote $wrote bytes in $wcmds commands and read $read"
# The UNMAP step first writes the block it unmaps (one command of the
# "disk_unmap ... bytes=" line's size), so an unmap's zeros are seen to
# replace data: that write is the guest's too.
unmapped=$(console mk | sed -n 's/^VSC disk_unmap=0:0 .*bytes=\([0-9]*\).*/\1/p' | head -1)
if [ -n "$unmapped" ]; then
  wrote=$((wrote + unmapped)) wcmds=$((wcmds + 1))
  note "and $unmapped bytes in one command before its UNMAP: $wrote bytes in $wcmds writes"
fi

expect_rc 0 vmctl --json stats mk
echo "$LAST_OUT" >"$T/mk.stats"
get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))[0]; print(eval(sys.argv[2]))' "$T/mk.stats" "$1"; }
[ "$(get 'd["disks"][0]["write_bytes"]')" = "$wrote" ] ||
  fail "vmctl stats write_bytes $(get 'd["disks"][0]["write_bytes"]'), the guest wrote $wrote"
[ "$(get 'd["disks"][0]["write_ops"]')" = "$wcmds" ] ||
  fail "vmctl stats write_ops $(get 'd["disks"][0]["write_ops"]'), the guest sent $wcmds writes"
r=$(get 'd["disks"][0]["read_bytes"]')
[ "$r" -ge "$read" ] && [ "$r" -le $((read + 2 * 65536)) ] || fail "vmctl stats read_bytes $r, the guest read $read"
[ "$(get 'd["disks"][0]["flush_ops"] >= 1 and d["disks"][0]["write_latency_ns"] > 0')" = True ] ||
  fail "flushes and latency: $(get 'd["disks"][0]')"
[ "$(get 'd["cpu"]["vcpus"][0]["ns"] > 0 and d["cpu"]["worker_ns"] > 0')" = True ] ||
  fail "CPU times: $(get 'd["cpu"]')"
echo PASS
