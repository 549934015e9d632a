#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job (README, command 1): installs what is missing, builds the
# release preset, and runs a VM on the built-in default guest (the
# guest-vsc test guest, a PVH ELF) on our own worker, with the synthetic
# devices this tree serves, and shows what the guest reports about them.
#
#   scripts/demo.sh               boot the test guest; it connects to VMBus and
#                                 reports the synthetic devices offered to it
#   scripts/demo.sh --keep        keep the scratch directory (disk image, logs)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

keep=0
[ "${1:-}" = "--keep" ] && keep=1

scripts/deps.sh || exit 1
echo "=== building (release preset)"
cmake --preset release >/dev/null || exit 1
cmake --build --preset release -j "$(nproc)" >/dev/null || { echo "build failed" >&2; exit 1; }

build=$root/build/release
vmwp=$build/vmwp/vmwp
guest=$build/guest-vsc/guest/vsc-guest.elf
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "demo: /dev/kvm is not usable here (KVM is required)" >&2; exit 1; }

work=$(mktemp -d /tmp/vmstack-demo.XXXXXX)
cleanup() { [ "$keep" -eq 1 ] && echo "scratch files kept in $work" || rm -rf "$work"; }
trap cleanup EXIT

cat >"$work/vm.json" <<JSON
{ "name": "demo", "memory_mib": 128, "vcpus": 1,
  "boot": { "kind": "pvh", "kernel": "$guest", "cmdline": "vsc.mode=enumerate" } }
JSON

echo "=== starting a VM: $(basename "$guest") on vmwp (config $work/vm.json)"
"$vmwp" --config "$work/vm.json" --serial file:"$work/serial.log" --timing >"$work/vmwp.log" 2>&1
status=$?
echo "=== what the guest reported"
grep '^VSC ' "$work/serial.log" | sed 's/^VSC /  /'
echo "=== how the VM ended"
sed 's/^vmwp: /  /' "$work/vmwp.log"
if [ $status -ne 0 ]; then
        echo "demo: the VM did not power off cleanly (vmwp exit status $status)" >&2
        exit 1
fi
grep -q '^VSC result=ok' "$work/serial.log" || { echo "demo: the guest reported a failure" >&2; exit 1; }
echo "demo: OK"
