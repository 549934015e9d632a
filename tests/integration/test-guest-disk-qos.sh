#!/bin/bash
# SPDX-License-Identifier: MIT
# Storage QoS through the whole disk path (docs/storvsp.md "Storage QoS";
# issue #58): the test guest's 4 KiB random writes at queue depth 32
# (vsc.mode=disk-bench, storvsp, a sandboxed vmwp) on a VM with two disks,
# disks[0] capped by the configuration's "qos" and disks[1] uncapped:
#  free    the guest on the uncapped disk of that VM runs free: more than
#          twice the cap (the cap is 500 IOPS, or a third of what the
#          uncapped disk does where the guest is slower than 1500 IOPS:
#          the emulated AMD-V host)
#  capped  the guest on the capped disk stays within 5 % of the cap over
#          the measured window (the 200 ms warm-up spends the burst); a
#          run short of it is measured once more (capped_run)
#  bytes   a byte-rate cap alone (max_bytes_per_s of 300 x 4 KiB) holds
#          the same way
# The figures are printed. Needs /dev/kvm: skips here otherwise (the lead
# runs it on the emulated AMD-V host, docs/amdv-host.md).
set -uo pipefail
. "$(dirname "$0")/guest-disk-lib.sh"
disk_require
secs=${VM_QOS_SECONDS:-6}
a=$tmp/capped.img b=$tmp/free.img
for f in "$a" "$b"; do dd if=/dev/zero of="$f" bs=1M count=64 conv=fsync status=none || { echo "FAIL: $f"; exit 1; }; done

# bench NAME LUN QOS_JSON: prints the guest's IOPS on disks[LUN] (-1: no result)
bench() {
        boot "$1" "vsc.mode=disk-bench vsc.disk.rw=randwrite vsc.disk.bs=4096 vsc.disk.qd=32 vsc.disk.lun=$2 \
vsc.disk.ms=$((secs * 1000)) vsc.disk.span_mib=64 vsc.timeout_ms=$((secs * 1000 + 60000))" \
                "{ \"path\": \"$a\", \"lun\": 0, \"qos\": $3 }, { \"path\": \"$b\", \"lun\": 1 }" >&2
        local rc=$?
        [ $rc -eq 0 ] || echo "FAIL [$1]: vmwp exit status $rc" >&2
        sed -n 's/^VSC disk_bench=.* iops=\([0-9]*\) .*/\1/p' "$tmp/$1.out" | head -1 | grep . || echo -1
}

within5() { awk -v x="$1" -v c="$2" 'BEGIN { exit !(x >= c * 0.95 && x <= c * 1.05) }'; }
below5() { awk -v x="$1" -v c="$2" 'BEGIN { exit !(x < c * 0.95) }'; }

# capped_run NAME QOS_JSON: the IOPS under a cap of $cap, measured again
# once where the first run fell short of it: a cap is a maximum, and a
# guest that was not scheduled for part of the window (a loaded host: CI
# runs this beside the stock-Linux test) does less whatever the limiter
# does, as it did once (474 under 500, 499 in three runs after). A run
# above the cap is never measured again.
capped_run() {
        local x
        x=$(bench "$1" 0 "$2")
        if below5 "$x" "$cap"; then
                echo "$1: $x IOPS, short of $cap: measuring again" >&2
                x=$(bench "$1-again" 0 "$2")
        fi
        echo "$x"
}

free=$(bench free 1 '{ "max_iops": 500 }')
cap=500
[ "$free" -ge 1500 ] 2>/dev/null || cap=$(( free / 3 ))
echo "uncapped disk beside a 500-IOPS one: $free IOPS; cap used: $cap"
[ "$cap" -ge 20 ] || { echo "FAIL [free]: the guest does $free IOPS uncapped: too slow to measure a cap"; exit 1; }
[ "$free" -gt $(( 2 * cap )) ] || { echo "FAIL [free]: the uncapped disk did $free IOPS"; fail=1; }

capped=$(capped_run capped "{ \"max_iops\": $cap }")
echo "capped at $cap: $capped IOPS (within 5 %: $(awk -v c=$cap 'BEGIN { printf "%d..%d", c * 0.95, c * 1.05 }'))"
within5 "$capped" "$cap" || { echo "FAIL [capped]: $capped IOPS under a cap of $cap"; fail=1; }

bytes=$(capped_run bytes "{ \"max_bytes_per_s\": $(( cap * 4096 )) }")
echo "byte rate of $cap x 4 KiB: $bytes IOPS"
within5 "$bytes" "$cap" || { echo "FAIL [bytes]: $bytes IOPS under $(( cap * 4096 )) bytes/s"; fail=1; }

[ $fail -eq 0 ] && echo PASS
exit $fail
