#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue #7's table: the test guest's disk through storvsp (vsc.mode=
# disk-bench: CPL3 hot loop, masked interrupts, polling, one doorbell per
# batch at most) against the host's own fio with io_uring on the same raw
# image, same block size, depth and duration, alternated VM_BENCH_ROUNDS
# times in the same run; medians and the guest/host ratio as RESULT rows
# (bench/bench.h). The worker runs as in production: sandboxed, O_DIRECT
# on the image, no fixed buffers; fio gets its best case (O_DIRECT,
# registered files, fixed buffers).
#
# Environment: VM_BUILD_DIR (default build/release, else build/debug),
# VM_BENCH_ROUNDS (3), VM_BENCH_SECONDS (5), VM_BENCH_DIR (where the 1 GiB
# image goes; default /var/tmp: a real file system for O_DIRECT),
# VM_BENCH_ONLY (a substring of the workload names to run),
# VM_BENCH_GUEST_OPTS (more guest options, e.g. vsc.disk.sleep_us=50).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${VM_BUILD_DIR:-$src/build/release}
[ -x "$build/vmwp/vmwp" ] || build=$src/build/debug
vmwp=$build/vmwp/vmwp
elf=$build/guest-vsc/guest/vsc-guest.elf
rounds=${VM_BENCH_ROUNDS:-3}
secs=${VM_BENCH_SECONDS:-5}
only=${VM_BENCH_ONLY:-}
gopts=${VM_BENCH_GUEST_OPTS:-}
note() { echo "bench-storvsp-guest: $*" >&2; }

[ -x "$vmwp" ] && [ -f "$elf" ] || { note "vmwp or the guest is not built in $build"; exit 1; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { note "no usable /dev/kvm"; exit 1; }
command -v fio >/dev/null || { note "fio is not installed"; exit 1; }
dir=$(mktemp -d "${VM_BENCH_DIR:-/var/tmp}/bench-storvsp.XXXXXX")
trap 'rm -rf "$dir"' EXIT
img=$dir/disk.img
# fully written: no holes, so reads hit the device, as for fio
dd if=/dev/urandom of="$img" bs=1M count=1024 conv=fsync status=none || { note "cannot write $img"; exit 1; }

# guest RW BS QD: prints "iops mbps doorbells ios"
guest() {
        cat >"$dir/vm.json" <<JSON
{ "name": "bench-storvsp", "memory_mib": 256, "vcpus": 1,
  "boot": { "kind": "pvh", "kernel": "$(realpath "$elf")",
            "cmdline": "vsc.mode=disk-bench vsc.disk.rw=$1 vsc.disk.bs=$2 vsc.disk.qd=$3 vsc.disk.ms=$((secs * 1000)) vsc.timeout_ms=30000 $gopts" },
  "disks": [ { "path": "$img" } ] }
JSON
        local line
        line=$(timeout $((secs + 120)) "$vmwp" --config "$dir/vm.json" --serial stdio </dev/null 2>"$dir/vmwp.err" |
                grep '^VSC disk_bench=')
        [ -n "$line" ] || { note "guest run failed: $(grep -h 'error=\|vmwp:' "$dir/vmwp.err" 2>/dev/null | tail -2)"; echo "-1 -1 0 0"; return; }
        echo "$line" | sed -E 's/.* ios=([0-9]+) iops=([0-9]+) mbps=([0-9.]+) .* doorbells=([0-9]+) .*/\2 \3 \4 \1/'
}

# host RW BS QD: prints "iops mbps"
host() {
        fio --name=host --filename="$img" --ioengine=io_uring --direct=1 --rw="$1" --bs="$2" --iodepth="$3" \
                --runtime="$secs" --time_based --ramp_time=200ms --registerfiles=1 --fixedbufs=1 \
                --output-format=terse --terse-version=3 2>/dev/null |
                awk -F';' '{ if ($1 == 3) { r = $8 + $49; bw = ($7 + $48) * 1024 / 1e6; printf "%d %.2f\n", r, bw } }'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : -1 }'; }

# workload NAME RW BS QD UNIT TARGET
workload() {
        local name=$1 rw=$2 bs=$3 qd=$4 unit=$5 target=$6 gi="" gm="" hi="" hm="" db="" g h
        [ -n "$only" ] && [[ "$name" != *"$only"* ]] && return
        for ((k = 0; k < rounds; k++)); do
                read -r a b c d < <(guest "$rw" "$bs" "$qd")
                gi+=" $a"; gm+=" $b"
                [ "$d" -gt 0 ] && db+=" $(awk -v x="$c" -v y="$d" 'BEGIN { printf "%.3f", x / y }')"
                read -r a b < <(host "$rw" "$bs" "$qd")
                hi+=" ${a:--1}"; hm+=" ${b:--1}"
        done
        note "$name: guest IOPS${gi} MB/s${gm} doorbells/IO${db:- -}; host IOPS${hi} MB/s${hm}"
        if [ "$unit" = IOPS ]; then
                g=$(echo "$gi" | median); h=$(echo "$hi" | median)
        else
                g=$(echo "$gm" | median); h=$(echo "$hm" | median)
        fi
        printf 'RESULT\tstorvsp guest %s (%s)\t%s\t%s\t%s\t%s\thigher\n' "$name" "$unit" "$g" "$h" "$unit" "$target"
}

note "image $img (1 GiB), $rounds rounds of ${secs} s, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
workload "4k randread qd1" randread 4096 1 IOPS "report"
workload "4k randread qd32" randread 4096 32 IOPS ">= 0.90x fio"
workload "4k randwrite qd1" randwrite 4096 1 IOPS "report"
workload "4k randwrite qd32" randwrite 4096 32 IOPS ">= 0.90x fio"
workload "128k seqread qd8" read 131072 8 MB/s ">= 0.95x fio"
