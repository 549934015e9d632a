#!/bin/bash
# SPDX-License-Identifier: MIT
# Dynamic Memory, vmms's part (docs/dynamic-memory.md), with the fake
# worker as the guest's driver: a VM's target follows the demand its
# guest reports plus its buffer (hot-added above the startup memory),
# follows a demand that grows, a target set by hand (vmctl memory) wins
# until "auto" and ends with the VM; a guest at its floor keeps what it
# needs and says so; the properties of org.vmstack.VMMS1.Memory and
# `vmctl show`; a hand-set target moves with a live migration (the
# destination keeps it, its balancer does not take the VM to demand plus
# buffer), and lasts for the guest's run: through a save and its resume,
# a vmms restart (the worker's runtime record) and a revert to a
# checkpoint, not past a kill; a VM without Dynamic Memory and one that is
# off refuse a target; a host without free memory gives no buffers (the reserve).
# The worker's part is tests/unit/test-dmvsp.c; the balancer's arithmetic
# tests/unit/test-vmms-memory.c.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
t_start_vmms --memory-interval-ms=200

mem() { # VM PROPERTY: a property of the Memory interface
  bus get-property org.vmstack.VMMS1 "$(vm_path "$1")" org.vmstack.VMMS1.Memory "$2" | sed -e 's/^[a-z()]* //' -e 's/^"\(.*\)"$/\1/'
}
mib() { echo $(($1 << 20)); }
DM=',"dynamic_memory":{"enabled":true,"minimum_mib":256,"maximum_mib":2100}'

note "the target follows the guest's demand plus its buffer"
# The demand grows when the test says so (the file): the checks of the
# first target took more than a fixed 3 s on the emulated AMD-V host.
rm -f "$T/d1-pressure"
VM_MEMORY=512 t_create d1 "fake.dm_demand_mib=600 fake.dm_pressure_file=$T/d1-pressure fake.dm_pressure_mib=1200" "$DM"
[ "$(mem d1 Status)" = off ] || fail "Status of a VM that is off: $(mem d1 Status)"
[ "$(mem d1 Maximum)" = "$(mib 2048)" ] || fail "Maximum: startup plus whole 128 MiB blocks: $(mem d1 Maximum)"
[ "$(mem d1 Assigned)" = 0 ] || fail "Assigned while off: $(mem d1 Assigned)"
expect_rc 5 vmctl memory d1 300M
echo "$LAST_OUT" | grep -q "a target applies while it runs" || fail "a target while off: $LAST_OUT"
expect_rc 0 vmctl start d1 --timeout=30
wait_for 10 "the first target" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.Memory Assigned)\" = 't $(mib 720)' ]"
[ "$(mem d1 Demand)" = "$(mib 600)" ] || fail "Demand: $(mem d1 Demand)"
[ "$(mem d1 Target)" = "$(mib 720)" ] || fail "Target: $(mem d1 Target)"
[ "$(mem d1 HotAdded)" = "$(mib 256)" ] || fail "HotAdded: two 128 MiB blocks above 512: $(mem d1 HotAdded)"
[ "$(mem d1 Status)" = ok ] || fail "Status: $(mem d1 Status)"
console_has d1 "^fake-vmwp: memory target=720 assigned=720$" || fail "the worker's target: $(console d1 | grep memory)"
expect_rc 0 vmctl show d1
echo "$LAST_OUT" | grep -q "^Memory  *512 MiB at start, dynamic 256..2048 MiB (buffer 20%, weight 5000)$" ||
  fail "vmctl show, the configuration: $LAST_OUT"
echo "$LAST_OUT" | grep -q "assigned 720 MiB, demand 600 MiB, target 720 MiB (automatic), status ok" ||
  fail "vmctl show, the state: $LAST_OUT"
expect_rc 0 vmctl --json memory d1
echo "$LAST_OUT" | grep -q "\"Assigned\":$(mib 720)" || fail "vmctl --json memory: $LAST_OUT"

note "the demand grows: more is hot-added"
touch "$T/d1-pressure"
wait_for 15 "the grown target" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.Memory Assigned)\" = 't $(mib 1440)' ]"
[ "$(mem d1 HotAdded)" = "$(mib 1024)" ] || fail "HotAdded after the growth: $(mem d1 HotAdded)"

note "a target by hand wins until auto"
expect_rc 0 vmctl memory d1 300M
wait_for 10 "the hand-set target" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.Memory Assigned)\" = 't $(mib 300)' ]"
[ "$(mem d1 ManualTarget)" = "$(mib 300)" ] || fail "ManualTarget: $(mem d1 ManualTarget)"
sleep 1 # rounds of the balancer: it stays
[ "$(mem d1 Assigned)" = "$(mib 300)" ] || fail "the hand-set target did not hold: $(mem d1 Assigned)"
expect_rc 0 vmctl memory d1
echo "$LAST_OUT" | grep -q "target 300 MiB (set by hand)" || fail "vmctl memory: $LAST_OUT"
expect_rc 4 vmctl memory d1 4G
echo "$LAST_OUT" | grep -q "4096 MiB is outside VM 'd1''s dynamic memory range (256..2048 MiB)" || fail "out of range: $LAST_OUT"
expect_rc 2 vmctl memory d1 lots
expect_rc 0 vmctl memory d1 auto
wait_for 10 "the automatic target again" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.Memory Assigned)\" = 't $(mib 1440)' ]"
[ "$(mem d1 ManualTarget)" = 0 ] || fail "ManualTarget after auto: $(mem d1 ManualTarget)"
expect_rc 0 vmctl memory d1 1G
expect_rc 0 vmctl kill d1
wait_state d1 Off
[ "$(mem d1 ManualTarget)" = 0 ] || fail "a hand-set target outlived the VM: $(mem d1 ManualTarget)"
[ "$(mem d1 Status)" = off ] || fail "Status after the end: $(mem d1 Status)"

note "a guest at its floor keeps what it needs"
VM_MEMORY=512 t_create d2 "fake.dm_demand_mib=100 fake.dm_floor_mib=400" "$DM"
expect_rc 0 vmctl start d2 --timeout=30
wait_for 10 "the floor" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d2)' org.vmstack.VMMS1.Memory Target)\" = 't $(mib 256)' ]"
wait_for 5 "the note" sh -c "busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d2)' org.vmstack.VMMS1.Memory Note | grep -q floor"
[ "$(mem d2 Assigned)" = "$(mib 400)" ] || fail "Assigned at the floor: $(mem d2 Assigned)"
expect_rc 0 vmctl kill d2

note "a VM without Dynamic Memory"
VM_MEMORY=64 t_create s1 "" ""
expect_rc 0 vmctl start s1 --timeout=30
[ "$(mem s1 Status)" = disabled ] || fail "Status: $(mem s1 Status)"
[ "$(mem s1 Assigned)" = "$(mib 64)" ] || fail "Assigned of a static VM: $(mem s1 Assigned)"
expect_rc 5 vmctl memory s1 128M
echo "$LAST_OUT" | grep -q "has no dynamic memory" || fail "a static VM: $LAST_OUT"
expect_rc 0 vmctl memory s1
echo "$LAST_OUT" | grep -q "^Memory  *64 MiB$" || fail "vmctl memory of a static VM: $LAST_OUT"
expect_rc 0 vmctl kill s1

note "configurations vmms refuses"
VM_MEMORY=512 t_create bad1 "" ',"dynamic_memory":{"enabled":true,"minimum_mib":1024}' 4
echo "$LAST_OUT" | grep -q "dynamic_memory.minimum_mib: 1024 is above the startup memory" || fail "min > startup: $LAST_OUT"
expect_rc 4 vmctl create --name=bad2 --kernel="$(t_kernel)" --memory=512M --dynamic-memory=max=256M
echo "$LAST_OUT" | grep -q "dynamic_memory.maximum_mib: 256 is below the startup memory" || fail "max < startup: $LAST_OUT"
expect_rc 0 vmctl create --name=d3 --kernel="$(t_kernel)" --cmdline="fake.dm_demand_mib=300" --memory=512M \
  --dynamic-memory=min=256M,max=2G,buffer=50,weight=100
[ "$(mem d3 Buffer)" = 50 ] && [ "$(mem d3 Weight)" = 100 ] || fail "buffer/weight: $(mem d3 Buffer) $(mem d3 Weight)"

note "a host without free memory takes the buffer back (demand 300 MiB, buffer 50 %: 300, not 450)"
t_stop_vmms
t_start_vmms --memory-interval-ms=200 --memory-reserve=1073741824
expect_rc 0 vmctl start d3 --timeout=30
wait_for 10 "the demand without its buffer" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d3)' org.vmstack.VMMS1.Memory Target)\" = 't $(mib 300)' ]"
expect_rc 0 vmctl kill d3

note "a hand-set target moves with a live migration"
read -r PA PB < <(t_free_ports 2)
[ -n "$PB" ] || fail "no free ports"
t_stop_vmms
t_start_vmms --memory-interval-ms=200 --migration-insecure --migration-listen=127.0.0.1:$PA
t_host_b_start "$PB" --memory-interval-ms=200 --migration-insecure
assigned_is() { # BUS VM MIB
  [ "$(busctl --address="$1" get-property org.vmstack.VMMS1 "$(ADDR=$1 vm_path "$2")" org.vmstack.VMMS1.Memory Assigned)" = "t $(mib "$3")" ]
}
VM_MEMORY=512 t_create d4 "fake.dm_demand_mib=600" "$DM"
expect_rc 0 vmctl start d4 --timeout=30
expect_rc 0 vmctl memory d4 300M
wait_for 10 "the hand-set target on A" assigned_is "$ADDR" d4 300
expect_rc 0 vmctl migrate d4 "127.0.0.1:$PB"
ADDR=$ADDRB wait_state d4 Running
[ "$(ADDR=$ADDRB mem d4 ManualTarget)" = "$(mib 300)" ] || fail "ManualTarget on B: $(ADDR=$ADDRB mem d4 ManualTarget)"
wait_for 10 "the hand-set target on B" assigned_is "$ADDRB" d4 300
sleep 1 # rounds of B's balancer: it stays (automatic would be 720 MiB)
assigned_is "$ADDRB" d4 300 || fail "B's balancer moved the target: $(ADDR=$ADDRB mem d4 Assigned)"
ADDR=$ADDRB expect_rc 0 vmctl memory d4 auto
wait_for 10 "B's automatic target" assigned_is "$ADDRB" d4 720
ADDR=$ADDRB expect_rc 0 vmctl kill d4
t_host_b_stop

note "a hand-set target lasts for the guest's run"
VM_MEMORY=512 t_create d5 "fake.dm_demand_mib=600" "$DM"
expect_rc 0 vmctl start d5 --timeout=30
expect_rc 0 vmctl memory d5 300M
wait_for 10 "the hand-set target" assigned_is "$ADDR" d5 300
expect_rc 0 vmctl save d5
wait_state d5 Saved
[ "$(mem d5 ManualTarget)" = "$(mib 300)" ] || fail "ManualTarget of the Saved VM: $(mem d5 ManualTarget)"
expect_rc 0 vmctl start d5 --timeout=30
wait_state d5 Running
wait_for 10 "the hand-set target after the resume" assigned_is "$ADDR" d5 300
t_stop_vmms
t_start_vmms --memory-interval-ms=200
wait_state d5 Running
[ "$(mem d5 ManualTarget)" = "$(mib 300)" ] || fail "ManualTarget after vmms restarted: $(mem d5 ManualTarget)"
sleep 1 # rounds of the new vmms's balancer: it stays
assigned_is "$ADDR" d5 300 || fail "the restarted vmms moved the target: $(mem d5 Assigned)"
expect_rc 0 vmctl checkpoint d5 c1
expect_rc 0 vmctl revert d5 c1
wait_state d5 Running
[ "$(mem d5 ManualTarget)" = "$(mib 300)" ] || fail "ManualTarget after a revert: $(mem d5 ManualTarget)"
expect_rc 0 vmctl kill d5
wait_state d5 Off
[ "$(mem d5 ManualTarget)" = 0 ] || fail "a hand-set target outlived a kill: $(mem d5 ManualTarget)"
echo PASS
