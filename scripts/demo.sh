#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job (README, command 1): installs what is missing, builds the
# release preset, and runs a VM on the built-in default guest (the
# guest-vsc test guest, a PVH ELF) on our own worker, with a synthetic SCSI
# disk (a raw image) and a synthetic NIC (a TAP in a private network
# namespace, with a host peer), and shows what the guest reports. The guest
# runs one mode per boot, so the VM is booted three times:
#   enumerate   connect to VMBus and list the devices offered to it
#   disk-check  discover the disk, write patterns, read them back, flush
#   net-check   bring the NIC up, ARP + ICMP echo + UDP echo with the host
#
#   scripts/demo.sh [--keep]     --keep: keep the scratch directory
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1

if [ -z "${VMSTACK_DEMO_NETNS:-}" ]; then
        [ "$(id -u)" = 0 ] || { echo "demo: run as root (KVM, TAP, network namespace)" >&2; exit 1; }
        scripts/deps.sh || exit 1
        echo "=== building (release preset)"
        cmake --preset release >/dev/null || exit 1
        cmake --build --preset release -j "$(nproc)" >/dev/null || { echo "demo: build failed" >&2; exit 1; }
        # The NIC's TAP and its peer live in a network namespace of their
        # own: the demo never touches the host's network.
        exec unshare -n env VMSTACK_DEMO_NETNS=1 bash "$root/scripts/demo.sh" "$@"
fi

build=$root/build/release
vmwp=$build/vmwp/vmwp
guest=$build/guest-vsc/guest/vsc-guest.elf
peer=$build/bench/bench-net-guest
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "demo: /dev/kvm is not usable here (KVM is required)" >&2; exit 1; }

work=$(mktemp -d /tmp/vmstack-demo.XXXXXX)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        [ "$keep" -eq 1 ] && echo "scratch files kept in $work" || rm -rf "$work"
}
trap cleanup EXIT

ip link set lo up
ip tuntap add dev vmdemo0 mode tap vnet_hdr && ip addr add 10.99.0.1/24 dev vmdemo0 && ip link set vmdemo0 up ||
        { echo "demo: cannot create the TAP" >&2; exit 1; }
"$peer" --echo 10.99.0.1:7777 --seconds 600 2>"$work/peer.log" &
pids+=($!)
truncate -s 64M "$work/disk.raw"

failed=0
boot() { # MODE CMDLINE
        cat >"$work/$1.json" <<JSON
{ "name": "demo", "memory_mib": 128, "vcpus": 1,
  "boot": { "kind": "pvh", "kernel": "$guest", "cmdline": "vsc.mode=$1 $2" },
  "disks": [ { "path": "$work/disk.raw" } ],
  "nics": [ { "mac": "00:15:5d:00:99:02", "tap": "vmdemo0" } ] }
JSON
        echo
        echo "=== VM boot: vsc.mode=$1"
        "$vmwp" --config "$work/$1.json" --serial file:"$work/$1.serial" --timing >"$work/$1.vmwp" 2>&1
        local status=$?
        # One line per disk region is too much for a demo: count them.
        grep '^VSC ' "$work/$1.serial" | grep -v '^VSC disk_region=' | sed 's/^VSC /  guest: /'
        local regions
        regions=$(grep -c '^VSC disk_region=' "$work/$1.serial")
        [ "$regions" -gt 0 ] && echo "  guest: ($regions disk_region lines: where the patterns went)"
        sed -n 's/^vmwp: demo: /  worker: /p' "$work/$1.vmwp" | grep -v timing-ns
        if [ $status -ne 0 ] || ! grep -q '^VSC result=ok' "$work/$1.serial"; then
                echo "  -> FAILED (vmwp exit status $status)"
                failed=1
        fi
}

boot enumerate ""
boot disk-check "vsc.disk.seed=42"
boot net-check "vsc.ip=10.99.0.2 vsc.peer=10.99.0.1 vsc.port=7777"

echo
if [ $failed -eq 0 ]; then
        echo "demo: OK — the guest enumerated its VMBus devices, checked its synthetic disk and its synthetic NIC"
else
        echo "demo: some boots failed (see above)" >&2
        exit 1
fi
