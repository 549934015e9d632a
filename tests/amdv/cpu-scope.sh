#!/bin/bash
# SPDX-License-Identifier: MIT
# The workers' systemd scopes and CPU weight (docs/vmms.md "Processor
# limit") on the emulated AMD-V host (docs/amdv-host.md), where systemd is
# PID 1 with cgroup v2, with vmms as the integration tests start it
# (tests/integration/vmms-lib.sh: its own bus; systemd on the system bus):
#   1. the fake worker of a VM with --cpu-weight=300 is in
#      vmstack-<name>-<id8>-<pid>.scope in machine.slice, whose cpu.weight is
#      300; `vmctl edit --cpu-weight=50` on the running VM makes it 50; its
#      memory.high is the VM's guest memory and the worker's allowance
#      (vmms_scope_memory_high: 64 MiB, 1 vCPU, 1 NIC -> 333 MiB), raised
#      on the running VM when Dynamic Memory's maximum is (--dynamic-memory=
#      on,max=1G -> 1243 MiB) and by 4 MiB for a disk attached to it (a
#      device hot-add); systemd-machined lists the VM (machinectl: class
#      vm, service vmstack, its id, the worker its leader, the scope its
#      unit, its NIC's TAP as its interface: `machinectl status` names it),
#      under the same name for the restarted VM's new worker;
#      scope and machine are gone once the VM is off; with machined's unit
#      masked two VMs run on in their scopes and vmms says so once;
#   2. real workers with the spinning test guest (tests/guests/vmwp_spin.S,
#      two vCPUs each): one with --cpu-limit=25: its vCPU threads run
#      20-27 % of the time each (their schedstat), its scope (the worker's
#      own threads included, by cpu.stat) at most 40 % a vCPU; two
#      unlimited ones with weights 100 and 300,
#      four vCPUs on the host's two CPUs, share the CPUs about 1:3 (2.4 to
#      3.6);
#   3. a real worker under disk load (the guest-vsc test guest's 4 KiB
#      random writes at QD32 on a SCSI disk for 8 s, 2 vCPUs): its scope's
#      memory.peak, sampled to the worker's end, stays under memory.high
#      (the allowance of docs/vmms.md "The worker's memory", measured under
#      load) and the bound never throttled it (memory.events high 0).
# Run here (ctest amdv/cpu-scope, in CI): boots the emulated host and runs
# itself there. Part 2 measured (2026-11-30, three runs): the scope 26.6,
# 27.1 and 26.8 % a vCPU under the 25 % limit (its cpu.stat counts the
# worker's own threads too, which TCG makes dear: docs/vmms.md "Processor
# limit"), weights 2.98, 2.93 and 2.90 : 1; 64 s with the host's boot.
# CI's run of 2026-12-01 (seventh session) measured the scope at 28.6 %,
# past the 28 % the check then allowed: it now bounds the vCPU threads'
# own time (20-27 %), and the scope's only far below an unlimited 100 %.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${AMDV_HOST:-}" != 1 ]; then
	build=${VM_BUILD_DIR:?run through ctest}
	# The emulated host's root is this machine's: machined is there if it is here.
	command -v machinectl >/dev/null || { echo "SKIP: systemd-container is not installed (scripts/deps.sh)"; exit 77; }
	exec bash "$src/tests/amdv/amdv-host.sh" --timeout 600 -- env VM_BUILD_DIR="$build" bash "$0" "$@"
fi
export VM_BUILD_DIR VM_SOURCE_DIR=$src
source "$src/tests/integration/vmms-lib.sh"
[ -d /run/systemd/system ] || fail "systemd is not PID 1 here"
grep -qw cpu /sys/fs/cgroup/cgroup.controllers || fail "no cgroup v2 cpu controller"
command -v machinectl >/dev/null || fail "no machinectl here: systemd-container is not installed (scripts/deps.sh)"
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
t_start_vmms

unit_of() { local id; id=$(vm_prop "$1" Id); echo "vmstack-$1-${id:0:8}-$(vm_prop "$1" WorkerPid).scope"; }
cg_of() { echo "/sys/fs/cgroup$(systemctl show -p ControlGroup --value "$1")"; }
usage_us() { sed -n 's/^usage_usec //p' "$(cg_of "$1")/cpu.stat"; }
# vcpu_ns PID: the time worker PID's vCPU threads (vid names them vcpuN)
# have run, in ns (each thread's schedstat): what a processor limit bounds.
vcpu_ns() {
	local t n s=0
	for t in /proc/"$1"/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in vcpu*) read -r n _ <"$t/schedstat" && s=$((s + n)) ;; esac
	done
	echo "$s"
}
# The worker's memory bound as vmms_scope_memory_high computes it (no
# display): REACH_MIB VCPUS [DEVICES: disks and NICs] -> bytes.
mem_high() { echo $(( ($1 + 256 + 8 * $2 + ($1 + 63) / 64 + 4 * ${3:-0}) << 20 )); }
# The machine machined lists for VM $1 with worker unit $2: checked field by field.
machine_is() { # VM UNIT
	local want_id pid got
	want_id=$(vm_prop "$1" Id | tr -d - | tr A-F a-f)
	pid=$(vm_prop "$1" WorkerPid)
	# Registered once the scope's start job is done; a restarted VM's last
	# worker may be listed until machined has its UnregisterMachine.
	wait_for 20 "machinectl show $1 with leader $pid" sh -c "[ \"\$(machinectl show '$1' -p Leader --value)\" = $pid ]"
	echo "  machinectl list: $(machinectl list --no-legend --no-pager | grep -w "$1")"
	for kv in Class=vm Service=vmstack "Id=$want_id" "Unit=$2"; do
		got=$(machinectl show "$1" -p "${kv%%=*}" --value)
		[ "${kv%%=*}" != Id ] || got=$(echo "$got" | tr -d '-' | tr A-F a-f) # the 16 bytes in hex
		[ "$got" = "${kv#*=}" ] || fail "machine $1: ${kv%%=*} is '$got', not '${kv#*=}' ($(machinectl show "$1" | tr '\n' ' '))"
	done
	machinectl list --no-legend --no-pager | grep -q "^$1 *vm *vmstack" || fail "machinectl list: $(machinectl list --no-pager)"
}
# machine_iface VM TAP: machined has TAP as the machine's interface, and
# machinectl status names it.
machine_iface() {
	local want got
	want=$(cat "/sys/class/net/$2/ifindex") || fail "no TAP $2: $(ip -o link show | grep -o ' vt[^:@]*')"
	# machinectl show prints an array of integers as "[unprintable]"
	# (systemd 252); the bus gives it as "ai N I...".
	got=$(busctl get-property org.freedesktop.machine1 "$(busctl call org.freedesktop.machine1 \
		/org/freedesktop/machine1 org.freedesktop.machine1.Manager GetMachine s "$1" | awk '{print $2}' | tr -d '"')" \
		org.freedesktop.machine1.Machine NetworkInterfaces)
	[ "$got" = "ai 1 $want" ] || fail "machine $1: NetworkInterfaces '$got', not 'ai 1 $want' ($2's index)"
	machinectl status "$1" --no-pager | grep -E "Iface:.* $2( |\$)" || fail "machinectl status $1 does not name $2: $(machinectl status "$1" --no-pager | head -20)"
}

note "the fake worker in its scope, cpu.weight the VM's weight, changed live"
vm_json s1 "" ',"nics":[{"mac":"00:15:5d:00:0b:01"}]' >"$T/s1.json"
expect_rc 0 vmctl create "$T/s1.json" --cpu-weight=300
expect_rc 0 vmctl start s1 --timeout=60
u=$(unit_of s1)
wait_for 20 "$u active" systemctl is-active --quiet "$u"
[ "$(systemctl show -p Slice --value "$u")" = machine.slice ] || fail "$u: Slice $(systemctl show -p Slice --value "$u")"
cg=$(cg_of "$u")
[ "$cg" = "/sys/fs/cgroup/machine.slice/$u" ] || fail "$u: cgroup $cg"
[ "$(cat "$cg/cpu.weight")" = 300 ] || fail "$u: cpu.weight $(cat "$cg/cpu.weight")"
grep -qx "$(vm_prop s1 WorkerPid)" "$cg/cgroup.procs" || fail "the worker is not in $u: $(cat "$cg/cgroup.procs")"
expect_rc 0 vmctl edit s1 --cpu-weight=50
wait_for 5 "cpu.weight 50" sh -c "[ \"\$(cat '$cg/cpu.weight')\" = 50 ]"

note "the worker's memory bound: MemoryHigh, raised with Dynamic Memory's maximum on the running VM"
want=$(mem_high 64 1 1)
echo "  $u: MemoryHigh $(systemctl show -p MemoryHigh --value "$u"), memory.high $(cat "$cg/memory.high"), memory.current $(cat "$cg/memory.current"); want $want"
[ "$(systemctl show -p MemoryHigh --value "$u")" = "$want" ] || fail "$u: MemoryHigh $(systemctl show -p MemoryHigh --value "$u"), want $want"
[ "$(cat "$cg/memory.high")" = "$want" ] || fail "$u: memory.high $(cat "$cg/memory.high"), want $want"
expect_rc 0 vmctl edit s1 --dynamic-memory=on,max=1G
want=$(mem_high $((64 + 896)) 1 1) # 64 MiB startup, 896 of hot-add window (7 blocks of 128)
wait_for 5 "memory.high $want" sh -c "[ \"\$(cat '$cg/memory.high')\" = $want ]"
note "a disk attached to the running VM raises the bound by its allowance, its detach lowers it again"
truncate -s 16M "$T/images/hot.img"
expect_rc 0 vmctl disk attach s1 "$T/images/hot.img"
wait_for 5 "memory.high $(mem_high 960 1 2)" sh -c "[ \"\$(cat '$cg/memory.high')\" = $(mem_high 960 1 2) ]"
expect_rc 0 vmctl disk detach s1 0
wait_for 5 "memory.high $want" sh -c "[ \"\$(cat '$cg/memory.high')\" = $want ]"

note "systemd-machined lists the VM, its TAP its interface"
machine_is s1 "$u"
tap="vt$(vm_prop s1 Id | cut -c1-8 | tr A-F a-f)0" # the default name (vmms/host/tap.c)
machine_iface s1 "$tap"
note "a restart (a new worker at once): a scope of its own"
expect_rc 0 vmctl kill s1
expect_rc 0 vmctl start s1 --timeout=60
u2=$(unit_of s1)
[ "$u2" != "$u" ] || fail "the new worker's scope has the old one's name: $u"
wait_for 20 "$u2 active" systemctl is-active --quiet "$u2"
[ "$(cat "$(cg_of "$u2")/cpu.weight")" = 50 ] || fail "$u2: cpu.weight $(cat "$(cg_of "$u2")/cpu.weight")"
[ "$(cat "$(cg_of "$u2")/memory.high")" = "$want" ] || fail "$u2: memory.high $(cat "$(cg_of "$u2")/memory.high"), want $want"
machine_is s1 "$u2"
machine_iface s1 "$tap"
expect_rc 0 vmctl kill s1
wait_for 20 "$u gone" sh -c "! systemctl is-active --quiet '$u'"
wait_for 20 "$u2 gone" sh -c "! systemctl is-active --quiet '$u2'"
wait_for 20 "machine s1 gone" sh -c "! machinectl show s1"

note "no systemd-machined (its unit masked): said once, the VMs run on in their scopes"
systemctl mask --runtime systemd-machined.service || fail "mask systemd-machined"
systemctl stop systemd-machined.service
for n in m1 m2; do
	vm_json "$n" >"$T/$n.json"
	expect_rc 0 vmctl create "$T/$n.json"
	expect_rc 0 vmctl start "$n" --timeout=60
	wait_for 20 "$(unit_of "$n") active" systemctl is-active --quiet "$(unit_of "$n")"
done
wait_for 10 "vmms's notice" grep -q "systemd-machined is not available" "$T/vmms.log"
sleep 1
grep "systemd-machined" "$T/vmms.log" | sed 's/^/  vmms: /'
[ "$(grep -c "systemd-machined is not available" "$T/vmms.log")" = 1 ] || fail "the notice is not logged once"
grep -q "RegisterMachine failed" "$T/vmms.log" && fail "a refusal logged per VM: $(grep "RegisterMachine failed" "$T/vmms.log")"
expect_rc 0 vmctl kill m1
expect_rc 0 vmctl kill m2
systemctl unmask --runtime systemd-machined.service

elf=$VM_BUILD_DIR/tests/tg_vmwp_spin.elf
[ -r "$elf" ] && [ -w /dev/kvm ] && [ -x "$REAL_WORKER" ] || fail "no real worker, /dev/kvm or $elf here: the CPU shares cannot be measured"
t_stop_vmms
WORKER=$REAL_WORKER WORKER_KIND=real
t_start_vmms
spin() { # NAME FLAGS...
	local n=$1; shift
	printf '{"name":"%s","memory_mib":32,"vcpus":2,"boot":{"kind":"pvh","kernel":"%s"}}' "$n" "$elf" >"$T/$n.json"
	expect_rc 0 vmctl create "$T/$n.json" "$@"
	expect_rc 0 vmctl start "$n" --timeout=120
	wait_for 60 "$n spinning" console_has "$n" 'spin: Aok'
	wait_for 20 "$(unit_of "$n") active" systemctl is-active --quiet "$(unit_of "$n")"
}

note "a 25 % limit by the scope's accounting"
spin l1 --cpu-limit=25
u=$(unit_of l1)
wp=$(vm_prop l1 WorkerPid)
sleep 1
a=$(usage_us "$u"); va=$(vcpu_ns "$wp"); t0=$(date +%s%N)
sleep 5
b=$(usage_us "$u"); vb=$(vcpu_ns "$wp"); t1=$(date +%s%N)
# Per vCPU, in thousandths of a percent: the vCPU threads' own time (what
# the limit bounds), and the scope's, which adds the worker's other
# threads (the VMBus and console loops, the throttle's kicks), dear under
# TCG and not bounded by the limit (docs/vmms.md "Processor limit").
vpct=$(( (vb - va) * 100000 / (t1 - t0) / 2 ))
pct=$(( (b - a) * 100000 / ((t1 - t0) / 1000) / 2 ))
echo "  l1: each vCPU thread ran $((vpct / 1000)).$(( (vpct % 1000) / 100 )) % of the time; the scope $((pct / 1000)).$(( (pct % 1000) / 100 )) % a vCPU ($u)"
# A real worker's memory against its bound (docs/vmms.md "The worker's
# memory"): a figure for the allowance, and a bound it must stay under.
cg=$(cg_of "$u")
echo "  l1: memory.current $(( $(cat "$cg/memory.current") >> 20 )) MiB, memory.high $(( $(cat "$cg/memory.high") >> 20 )) MiB ($(grep -w high "$cg/memory.events"))"
[ "$(cat "$cg/memory.high")" = "$(mem_high 32 2)" ] || fail "l1: memory.high $(cat "$cg/memory.high"), want $(mem_high 32 2)"
[ "$(cat "$cg/memory.current")" -lt "$(cat "$cg/memory.high")" ] || fail "l1's worker is at its memory bound: $(cat "$cg/memory.current") bytes"
[ "$vpct" -ge 20000 ] && [ "$vpct" -le 27000 ] || fail "l1's vCPU threads under a 25 % limit ran $((vpct / 1000)) % of the time"
# The scope: the limit's share and the worker's own, far from an unlimited
# vCPU's 100 %.
[ "$pct" -ge "$vpct" ] && [ "$pct" -le 40000 ] || fail "l1's scope under a 25 % limit used $((pct / 1000)) % a vCPU"
expect_rc 0 vmctl kill l1

note "weights 100 and 300 on a busy host: about 1:3"
spin w100 --cpu-weight=100
spin w300 --cpu-weight=300
sleep 2
a1=$(usage_us "$(unit_of w100)"); a3=$(usage_us "$(unit_of w300)")
sleep 10
b1=$(usage_us "$(unit_of w100)"); b3=$(usage_us "$(unit_of w300)")
r=$(( (b3 - a3) * 100 / (b1 - a1 + 1) ))
echo "  w300 : w100 = $((r / 100)).$((r % 100)) (usage $(( (b3 - a3) / 1000 )) ms : $(( (b1 - a1) / 1000 )) ms in 10 s)"
[ "$r" -ge 240 ] && [ "$r" -le 360 ] || fail "weights 300:100 gave $((r / 100)).$((r % 100)):1"
expect_rc 0 vmctl kill w100
expect_rc 0 vmctl kill w300

note "a real worker under disk load: its memory against its bound"
GUEST=$(t_vsc_guest)
[ -n "$GUEST" ] || fail "the guest-vsc test guest is not built"
truncate -s 64M "$T/images/load.img"
printf '{"name":"io","memory_mib":128,"vcpus":2,"boot":{"kernel":"%s","cmdline":"%s"},"disks":[{"path":"%s"}]}' "$GUEST" \
	"vsc.mode=disk-bench vsc.disk.rw=randwrite vsc.disk.bs=4096 vsc.disk.qd=32 vsc.disk.lun=0 vsc.disk.ms=8000 vsc.disk.span_mib=64 vsc.timeout_ms=90000" \
	"$T/images/load.img" >"$T/io.json"
expect_rc 0 vmctl create "$T/io.json"
expect_rc 0 vmctl start io --timeout=120
u=$(unit_of io)
wait_for 20 "$u active" systemctl is-active --quiet "$u"
cg=$(cg_of "$u")
high=$(cat "$cg/memory.high") peak=0 events=""
[ "$high" = "$(mem_high 128 2 1)" ] || fail "io: memory.high $high, want $(mem_high 128 2 1)"
# The cgroup goes with the worker when the guest powers off after its
# run: the last reads are its peak and its events.
while p=$(cat "$cg/memory.peak" 2>/dev/null) && e=$(grep -w high "$cg/memory.events" 2>/dev/null); do
	peak=$p events=$e
	sleep 0.2
done
wait_state io Off 120
iops=$(console io | sed -n 's/^VSC disk_bench=.* iops=\([0-9]*\) .*/\1/p' | head -1)
[ -n "$iops" ] || fail "io: the guest's disk-bench gave no figure: $(console io | grep -E '^VSC (error|result)')"
echo "  io: $iops IOPS; memory.peak $((peak >> 20)) MiB of memory.high $((high >> 20)) MiB (guest 128 MiB, 2 vCPUs, 1 disk); $events"
[ "$peak" -gt 0 ] && [ "$peak" -lt "$high" ] || fail "io's worker reached its memory bound under load: peak $peak, high $high"
[ "$events" = "high 0" ] || fail "io's worker was throttled at its memory bound: $events"
echo PASS
