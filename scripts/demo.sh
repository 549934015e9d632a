#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job (README, command 1): installs what is missing, builds the
# release preset, and runs the stack as a user runs it: vmms, the
# management service, on a private D-Bus, and vmctl creating, starting,
# watching and stopping a VM on the built-in default guest (the guest-vsc
# test guest, a PVH ELF) with a synthetic SCSI disk (a raw image in vmms's
# storage pool) and a synthetic NIC (a TAP in a private network namespace,
# with a host peer). The guest runs one mode per boot and powers off, so the
# VM is started three times, its command line edited in between:
#   enumerate   connect to VMBus and list the devices offered to it
#   disk-check  discover the disk, write patterns, read them back, flush
#   net-check   bring the NIC up, ARP + ICMP echo + UDP echo with the host
# then a VM that stays up (a tiny guest idling in HLT) is stopped through
# the ACPI power button. A summary with the figures closes the run.
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

build=${VMSTACK_DEMO_BUILD:-$root/build/release}
guest=$build/guest-vsc/guest/vsc-guest.elf
idle=$build/tests/tg_vmwp_irq.elf
peer=$build/bench/bench-net-guest
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "demo: /dev/kvm is not usable here (KVM is required)" >&2; exit 1; }

work=$(mktemp -d /tmp/vmstack-demo.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
        [ -n "${vmms_pid:-}" ] && "$build/vmctl/vmctl" --address="$addr" kill demo-idle >/dev/null 2>&1
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        [ "$keep" -eq 1 ] && echo "scratch files kept in $work" || rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/images" "$work/state" "$work/run" "$work/log"

# A private bus, so the demo needs no system D-Bus and changes nothing on it.
cat >"$work/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><listen>unix:path=$work/bus</listen><auth>EXTERNAL</auth>
  <policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
  <allow receive_sender="*"/></policy></busconfig>
CONF
source "$root/tests/lib/dbus-start.sh"
dbus_start "$work/bus.conf" "$work" || { echo "demo: dbus-daemon did not start: $(cat "$work/dbus.log")" >&2; exit 1; }
pids+=("$DBUS_START_PID")
addr=unix:path=$work/bus
vmctl() { "$build/vmctl/vmctl" --address="$addr" "$@"; }
step() { echo; echo "=== $*"; }
run() { echo "\$ vmctl $*"; vmctl "$@"; }

ip link set lo up
ip tuntap add dev vmdemo0 mode tap vnet_hdr && ip addr add 10.99.0.1/24 dev vmdemo0 && ip link set vmdemo0 up ||
        { echo "demo: cannot create the TAP" >&2; exit 1; }
"$peer" --echo 10.99.0.1:7777 --seconds 600 2>"$work/peer.log" &
pids+=($!)
truncate -s 64M "$work/images/disk.raw"

step "vmms: the management service (its storage pools: the image directory, and the guests, read-only)"
"$build/vmms/vmms" --bus-address="$addr" --state-dir="$work/state" --runtime-dir="$work/run" \
        --log-dir="$work/log" --worker="$build/vmwp/vmwp" --no-polkit \
        --storage-pool="$work/images" --storage-pool="$build/guest-vsc/guest:ro" \
        --storage-pool="$build/tests:ro" >"$work/vmms.log" 2>&1 &
vmms_pid=$!
pids+=($vmms_pid)
for _ in $(seq 200); do vmctl host >/dev/null 2>&1 && break; sleep 0.05; done
vmctl host >/dev/null 2>&1 || { echo "demo: vmms did not come up: $(tail -3 "$work/vmms.log")" >&2; exit 1; }
echo "vmms is up on $addr"

step "create the VM"
run create --name=demo --memory=128M --vcpus=1 --kernel="$guest" --cmdline="vsc.mode=boot" \
        --disk="$work/images/disk.raw" --nic=mac=00:15:5d:00:99:02,tap=vmdemo0 || exit 1
log=$(vmctl --json show demo | sed -n 's/.*"ConsoleLog": *"\([^"]*\)".*/\1/p')

failed=0
# boot MODE CMDLINE: edits the command line, starts the VM, waits for the
# guest to power off, and shows what it printed on its console.
boot() {
        step "vsc.mode=$1"
        run edit demo --cmdline="vsc.mode=$1 $2" || { failed=1; return; }
        : >"$log" 2>/dev/null
        run start demo || { failed=1; return; }
        vmctl list
        run wait demo Off --timeout=180 >/dev/null || { echo "  -> did not power off"; failed=1; }
        grep '^VSC ' "$log" | grep -v '^VSC disk_region=' |
                sed -e 's/^VSC \(bad_request=\|net_malformed=\|after_bad_requests=\)/  guest (a malformed request on purpose, refused as it must be): \1/' \
                    -e 's/^VSC /  guest: /' >"$work/$1.out"
        cat "$work/$1.out"
        local regions
        regions=$(grep -c '^VSC disk_region=' "$log")
        [ "$regions" -gt 0 ] && echo "  guest: ($regions disk_region lines: where the patterns went)"
        cp "$log" "$work/$1.serial"
        if ! grep -q '^VSC result=ok' "$log"; then
                echo "  -> FAILED: $(vmctl --json show demo | sed -n 's/.*"ExitReason": *"\([^"]*\)".*/\1/p')"
                failed=1
        fi
}
boot enumerate ""
boot disk-check "vsc.disk.seed=42"
boot net-check "vsc.ip=10.99.0.2 vsc.peer=10.99.0.1 vsc.port=7777"

step "a VM that stays up, stopped through the ACPI power button"
run create --name=demo-idle --memory=32M --kernel="$idle" || failed=1
run start demo-idle || failed=1
vmctl show demo-idle | grep -E '^(State|WorkerPid|Uptime)' | sed 's/^/  /'
run stop demo-idle --shutdown-timeout=10 || failed=1
echo "  state: $(vmctl --json show demo-idle | sed -n 's/.*"State": *"\([^"]*\)".*/\1/p')"

# The figures, each with its unit.
num() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$2" | head -1; }
offers=$(num offers "$work/enumerate.serial")
kinds=$(sed -n 's/^VSC offer=.* kind=\([a-z0-9_-]*\) .*/\1/p' "$work/enumerate.serial" | sort | uniq -c |
        awk '{printf "%s%s x%s", n++ ? ", " : "", $2, $1}')
mbs() { # line-prefix: bytes/us = MB/s
        sed -n "s/^VSC $1=.* bytes=\([0-9]*\) .* us=\([0-9]*\).*/\1 \2/p" "$work/disk-check.serial" | head -1 |
                awk '$2 > 0 { printf "%.1f MB/s (%d KiB in %.1f ms)", $1 / $2, $1 / 1024, $2 / 1000 }'
}
rtt=$(sed -n 's/.*rtt_us_min=\([0-9]*\) rtt_us_avg=\([0-9]*\).*/\2 µs average, \1 µs best/p' "$work/net-check.serial" | head -1)
step "summary"
echo "  devices the guest found on VMBus: ${offers:-?} (${kinds:-none})"
echo "  disk, written through storvsp:    $(mbs disk_write)"
echo "  disk, read back and compared:     $(mbs disk_read)"
echo "  network round trip (ICMP echo):   ${rtt:-?}"
echo "  the 'malformed request' lines above are deliberate bad requests; the host refusing them is the check"
echo
if [ $failed -eq 0 ]; then
        echo "demo: OK — vmms ran the VM; the guest enumerated its VMBus devices, checked its synthetic disk and NIC; the idle VM stopped cleanly"
else
        echo "demo: some steps failed (see above)" >&2
        exit 1
fi
