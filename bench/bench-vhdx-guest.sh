#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue #21's storage target: the test guest's 4 KiB random reads and writes
# at queue depth 32 through storvsp (vsc.mode=disk-bench, as
# bench-storvsp-guest.sh) on a dynamic VHDX and on a differencing child of
# it, against the same workload on a raw image, alternated
# VM_BENCH_ROUNDS times in the same run; medians and the ratio to raw as
# RESULT rows (bench/bench.h). The raw image is 1 GiB of random data, fully
# written; the VHDX is `vmctl disk convert`'s copy of it (every block
# allocated: reads hit the file, as on raw); the child is made anew for
# each round, so its writes take the allocation path (2 MiB blocks, sector
# bitmaps: its worst case) and its reads go through to the parent. The page
# cache is dropped before every run: a parent is read buffered (a base
# shared by many VMs stays cached), which would otherwise compare cached
# reads with raw's O_DIRECT ones.
#
# Environment: VM_BUILD_DIR (default build/release, else build/debug),
# VM_BENCH_ROUNDS (5), VM_BENCH_SECONDS (5), VM_BENCH_DIR (default
# /var/tmp: a real file system for O_DIRECT).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${VM_BUILD_DIR:-$src/build/release}
[ -x "$build/vmwp/vmwp" ] || build=$src/build/debug
vmwp=$build/vmwp/vmwp
vmctl=$build/vmctl/vmctl
elf=$build/guest-vsc/guest/vsc-guest.elf
rounds=${VM_BENCH_ROUNDS:-5}
secs=${VM_BENCH_SECONDS:-5}
note() { echo "bench-vhdx-guest: $*" >&2; }

[ -x "$vmwp" ] && [ -x "$vmctl" ] && [ -f "$elf" ] || { note "vmwp, vmctl or the guest is not built in $build"; exit 1; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { note "no usable /dev/kvm"; exit 1; }
dir=$(mktemp -d "${VM_BENCH_DIR:-/var/tmp}/bench-vhdx.XXXXXX")
trap 'rm -rf "$dir"' EXIT
dd if=/dev/urandom of="$dir/disk.img" bs=1M count=1024 conv=fsync status=none || { note "cannot write the image"; exit 1; }
"$vmctl" -q disk convert "$dir/disk.img" "$dir/disk.vhdx" || { note "vmctl disk convert failed"; exit 1; }

# file_iops FILE RW: fio's 4 KiB QD32 O_DIRECT IOPS on the image file itself
# (past its first 8 MiB), the host's own figure for where the file lies.
# Measured: two 1 GiB files written the same way in one directory differed
# 2.3x for random writes on this machine's virtual disk (where their
# blocks landed), which a guest on each inherits; this row shows it.
file_iops() {
        fio --name=f --filename="$1" --rw="$2" --bs=4k --iodepth=32 --ioengine=io_uring --direct=1 \
                --runtime=3 --time_based --size=1000m --offset=8m --output-format=terse --terse-version=3 2>/dev/null |
                awk -F';' -v rw="$2" '{ print (rw == "randread") ? $8 : $49 }'
}

# guest IMAGE RW: prints the guest's IOPS (-1 on failure)
guest() {
        sync
        echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || note "cannot drop the page cache (not root?)"
        cat >"$dir/vm.json" <<JSON
{ "name": "bench-vhdx", "memory_mib": 256, "vcpus": 1,
  "boot": { "kind": "pvh", "kernel": "$(realpath "$elf")",
            "cmdline": "vsc.mode=disk-bench vsc.disk.rw=$2 vsc.disk.bs=4096 vsc.disk.qd=32 vsc.disk.ms=$((secs * 1000)) vsc.timeout_ms=30000" },
  "disks": [ { "path": "$1" } ] }
JSON
        local line
        line=$(timeout $((secs + 120)) "$vmwp" --config "$dir/vm.json" --serial stdio </dev/null 2>"$dir/vmwp.err" |
                grep '^VSC disk_bench=')
        [ -n "$line" ] || { note "guest run on $1 failed: $(grep -h 'error=\|vmwp:' "$dir/vmwp.err" | tail -2)"; echo -1; return; }
        echo "$line" | sed -E 's/.* iops=([0-9]+) .*/\1/'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : -1 }'; }

workload() { # NAME RW
        local raw="" vhdx="" child="" a
        for ((k = 0; k < rounds; k++)); do
                raw+=" $(guest "$dir/disk.img" "$2")"
                vhdx+=" $(guest "$dir/disk.vhdx" "$2")"
                rm -f "$dir/child.avhdx"
                "$vmctl" -q disk create "$dir/child.avhdx" --parent="$dir/disk.vhdx" || { note "no child"; return; }
                child+=" $(guest "$dir/child.avhdx" "$2")"
        done
        note "$1: raw IOPS$raw; dynamic VHDX$vhdx; differencing child$child"
        command -v fio >/dev/null &&
                note "$1: the files themselves (fio on the host): raw $(file_iops "$dir/disk.img" "$2") IOPS, VHDX $(file_iops "$dir/disk.vhdx" "$2") IOPS"
        a=$(echo "$raw" | median)
        printf 'RESULT\tstorvsp guest %s, dynamic VHDX (IOPS)\t%s\t%s\tIOPS\t>= 0.90x raw\thigher\n' "$1" "$(echo "$vhdx" | median)" "$a"
        printf 'RESULT\tstorvsp guest %s, differencing VHDX (IOPS)\t%s\t%s\tIOPS\t>= 0.90x raw\thigher\n' "$1" "$(echo "$child" | median)" "$a"
}

note "1 GiB image, $rounds rounds of ${secs} s, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
workload "4k randread qd32" randread
workload "4k randwrite qd32" randwrite
