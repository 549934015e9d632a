#!/bin/bash
# SPDX-License-Identifier: MIT
# vRSS's TAPs (docs/netvsp.md "vRSS", common/proto.h "nic_queues"): vmms
# gives a NIC with "queues" a multi-queue TAP and one fd per queue, at most
# one per vCPU; a TAP an admin pre-created without multi_queue gets one
# queue and a notice in the VM's log. The fake worker reports what it got
# (TUNGETIFF on the fds); vmms runs in a network namespace of its own, so
# the TAPs are made there. A multi-queue TAP gets the RSS steering program
# and its map travels after the queues ("nic_steer"; fdinfo says it is a
# BPF map), also for a NIC added while the VM runs; where the kernel
# refuses the program, vmms must have said so in its log.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=fake
t_pick_worker
t_vmms_netns vmsnq
t_start_vmms

# q_vm NAME VCPUS NIC-JSON: a VM with that one NIC.
q_vm() {
  printf '{"name":"%s","memory_mib":64,"vcpus":%s,"boot":{"kernel":"%s"},"nics":[%s]}' \
    "$1" "$2" "$(t_kernel)" "$3" >"$T/$1.json"
  expect_rc 0 vmctl create "$T/$1.json"
}
# booted NAME LINE: the fake worker printed LINE on the VM's console.
booted() {
  for _ in $(seq 100); do grep -q "$2" "$(vm_prop "$1" ConsoleLog)" 2>/dev/null && return 0; sleep 0.1; done
  fail "$1: no '$2' on the console: $(cat "$(vm_prop "$1" ConsoleLog)" 2>/dev/null)"
}

# steered NAME NIC: the fake worker got NIC's RSS steering map, or vmms
# logged why the kernel refused the program.
steered() {
  grep -q "fake-vmwp: nic $2: .* multi-queue, RSS steering" "$(vm_prop "$1" ConsoleLog)" && return 0
  grep -q "nics\[$2\]: TAP .*RSS steering.*flows follow the channel they were sent on instead" "$T/vmms.log" ||
    fail "$1: nic $2 has no steering map and vmms did not say why: $(tail -3 "$T/vmms.log")"
  echo "NOTE: the kernel refused the RSS steering program: $(grep -m1 'RSS steering' "$T/vmms.log")"
}

note "queues 4 on 2 vCPUs: a multi-queue TAP, 2 queues, steered by the guest's RSS table"
q_vm mq 2 '{"mac":"00:15:5d:00:07:01","queues":4}'
expect_rc 0 vmctl start mq
booted mq 'fake-vmwp: nic 0: 2 queue(s) multi-queue'
steered mq 0
ip -n "$NS" tuntap show | grep -q '^vt.*multi_queue' || fail "no multi-queue TAP: $(ip -n "$NS" tuntap show)"

note "a NIC with 2 queues added while it runs: its map too"
expect_rc 0 vmctl nic attach mq mac=00:15:5d:00:07:05,queues=2
booted mq 'fake-vmwp: nic-attach nics\[1\] tap=[^ ]* queues=2'
if ! grep -q 'fake-vmwp: nic-attach nics\[1\] tap=[^ ]* queues=2 steered' "$(vm_prop mq ConsoleLog)"; then
  grep -q "nics\[1\]: TAP .*flows follow the channel" "$T/vmms.log" || fail "the added NIC has no steering map"
fi
expect_rc 0 vmctl kill mq

note "one vCPU: one queue"
q_vm one 1 '{"mac":"00:15:5d:00:07:02","queues":4}'
expect_rc 0 vmctl start one
booted one 'fake-vmwp: nic 0: 1 queue(s)$'
expect_rc 0 vmctl kill one

note "the admin's TAP without multi_queue: one queue, and a notice"
ip -n "$NS" tuntap add mode tap name nqsingle || fail "tuntap add"
q_vm adm 2 '{"mac":"00:15:5d:00:07:03","tap":"nqsingle","queues":2}'
expect_rc 0 vmctl start adm
booted adm 'fake-vmwp: nic 0: 1 queue(s)$'
grep -rq 'TAP nqsingle is not multi-queue: one queue instead of 2' "$T/log" "$T/vmms.log" 2>/dev/null ||
  fail "no notice about the single-queue TAP: $(tail -5 "$T/vmms.log")"
expect_rc 0 vmctl kill adm

note "the admin's multi-queue TAP: its queues"
ip -n "$NS" tuntap add mode tap multi_queue name nqmulti || fail "tuntap add multi_queue"
q_vm admq 2 '{"mac":"00:15:5d:00:07:04","tap":"nqmulti","queues":2}'
expect_rc 0 vmctl start admq
booted admq 'fake-vmwp: nic 0: 2 queue(s) multi-queue'
steered admq 0
expect_rc 0 vmctl kill admq
echo PASS
