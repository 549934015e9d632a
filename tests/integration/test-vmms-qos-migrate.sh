#!/bin/bash
# SPDX-License-Identifier: MIT
# Resource controls kept through a live migration (issue #58; docs/vmms.md
# "Processor limit", docs/storvsp.md "Storage QoS"), through two vmms with
# the fake worker (it speaks the migration stream as vmwp does, without
# RAM): a VM with a processor limit and weight and a capped disk moves
# A -> B; B's worker starts with the limit and the disk's QoS (before the
# first instruction, as vmwp sets them from its configuration), B stores
# them, and a change made on B reaches B's worker; then B -> A, the same
# there. Neither is in a saved-state section: the configuration carries
# them, and this checks that the migration carries the configuration's.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake
t_pick_worker
[ "$WORKER_KIND" = fake ] || { echo "SKIP: needs the fake worker"; exit 77; }
read -r PA PB < <(t_free_ports 2)
[ -n "$PB" ] || fail "no free ports"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA
t_host_b_start "$PB" --migration-insecure
console_b() { cat "$(vm_prop_b "$1" ConsoleLog)" 2>/dev/null; }
cfg_b() { # VM EXPR: EXPR over B's stored configuration c
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "$B/state/$(vm_prop_b "$1" Id).json" "$2"
}

truncate -s 1M "$T/q.img"
t_create q "" ",\"processor\":{\"limit_pct\":25,\"weight\":300},\"disks\":[{\"path\":\"$T/q.img\",\"qos\":{\"max_iops\":500,\"min_iops\":100}}]"
expect_rc 0 vmctl start q --timeout=30
wait_state q Running
wait_for 10 "A's worker with the limit" console_has q '^fake-vmwp: processor limit=25$'
console_has q '^fake-vmwp: disks\[0\] qos max_iops=500 min_iops=100 max_bytes_per_s=0$' ||
  fail "A's worker opened the disk without its QoS: $(console q | grep 'disks\[0\]')"

note "A -> B: B's worker starts with the limit and the disk's QoS, B stores them"
expect_rc 0 vmctl migrate q 127.0.0.1:$PB
ADDR=$ADDRB wait_state q Running 30
console_b q | grep -q '^fake-vmwp: processor limit=25$' || fail "B's worker: $(console_b q | grep processor)"
console_b q | grep -q '^fake-vmwp: disks\[0\] qos max_iops=500 min_iops=100 max_bytes_per_s=0$' ||
  fail "B's worker opened the disk without its QoS: $(console_b q | grep 'disks\[0\]')"
[ "$(cfg_b q 'c["processor"]')" = "{'limit_pct': 25, 'weight': 300}" ] || fail "B stored processor $(cfg_b q 'c.get("processor")')"
[ "$(cfg_b q 'c["disks"][0]["qos"]')" = "{'max_iops': 500, 'min_iops': 100}" ] ||
  fail "B stored the disk's qos as $(cfg_b q 'c["disks"][0].get("qos")')"

note "changed on B: B's worker gets it"
ADDR=$ADDRB expect_rc 0 vmctl edit q --cpu-limit=40
console_b q | grep -q '^fake-vmwp: processor limit=40$' || fail "B's worker did not get 40: $(console_b q | grep processor)"
ADDR=$ADDRB expect_rc 0 vmctl disk qos q 0 --max-iops=800
console_b q | grep -q '^fake-vmwp: disk-qos disks\[0\] max_iops=800 min_iops=100 max_bytes_per_s=0$' ||
  fail "B's worker's disk-qos: $(console_b q | grep disk-qos)"

note "B -> A: A's new worker starts with B's values"
ADDR=$ADDRB expect_rc 0 vmctl migrate q 127.0.0.1:$PA
wait_state q Running 30
wait_for 10 "A's new worker with the limit" console_has q '^fake-vmwp: processor limit=40$'
console_has q '^fake-vmwp: disks\[0\] qos max_iops=800 min_iops=100 max_bytes_per_s=0$' ||
  fail "A's new worker opened the disk without its QoS: $(console q | grep 'disks\[0\]')"
[ "$(stored_cfg q 'c["processor"]')" = "{'limit_pct': 40, 'weight': 300}" ] || fail "A stored processor $(stored_cfg q 'c.get("processor")')"
[ "$(stored_cfg q 'c["disks"][0]["qos"]')" = "{'max_iops': 800, 'min_iops': 100}" ] ||
  fail "A stored the disk's qos as $(stored_cfg q 'c["disks"][0].get("qos")')"
expect_rc 0 vmctl kill q
echo PASS
