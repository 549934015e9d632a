#!/bin/bash
# SPDX-License-Identifier: MIT
# Durability at the VM level (docs/storvsp.md, "Durability"): the test
# guest writes numbered 4 KiB blocks (odd ones FUA, even ones acknowledged
# after a SYNCHRONIZE CACHE that followed their completion) and prints
# "VSC ack=<n>" for each block it may call durable. The test SIGKILLs the
# sandboxed worker at some point while it writes (a worker crash), then
# reads the image itself: every block an ack line names holds that block's
# pattern. Three runs, killed after a different number of acks each.
set -uo pipefail
. "$(dirname "$0")/guest-disk-lib.sh"
disk_require
blocks=4000

# run NAME KILL_AFTER: boots, kills vmwp once KILL_AFTER acks are on the
# serial file, checks every acknowledged block in the image.
run() {
        local name=$1 after=$2 seed=$(( (RANDOM << 15 | RANDOM) + 1 )) img=$tmp/$1.img
        truncate -s 64M "$img"
        vm_json "$name" "vsc.mode=disk-check vsc.disk.seed=$seed vsc.disk.durable_blocks=$blocks" \
                "{ \"path\": \"$img\" }"
        "$vmwp" --config "$tmp/$name.json" --serial "file:$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
        local pid=$! waited=0
        until [ "$(cat "$tmp/$name.out" 2>/dev/null | grep -c '^VSC ack=')" -ge "$after" ]; do
                kill -0 $pid 2>/dev/null || break
                sleep 0.02
                waited=$((waited + 1))
                [ $waited -lt 15000 ] || { echo "FAIL [$name]: no $after acks within 300 s"; fail=1; break; }
        done
        kill -9 $pid 2>/dev/null
        wait $pid 2>/dev/null
        local rc=$?
        [ $rc -eq 137 ] || { echo "FAIL [$name]: the worker was not killed mid-run (status $rc)"; fail=1; }
        grep -E '^VSC (durable|error|result)' "$tmp/$name.out" | sed "s/^/  [$name] /"
        grep -q '^VSC durable_start=0:0 blocks=4000 block_bytes=4096 ' "$tmp/$name.out" ||
                { echo "FAIL [$name]: the durability run did not start"; fail=1; }
        grep -q '^VSC durable_done=' "$tmp/$name.out" && { echo "FAIL [$name]: finished before the kill"; fail=1; }
        # Only whole lines count: the kill may cut the last one.
        local acked n=0 bad=0 max=-1 expect=$tmp/$name.expect actual=$tmp/$name.actual
        acked=$(grep -E '^VSC ack=[0-9]+$' "$tmp/$name.out" | sed 's/^VSC ack=//')
        for b in $acked; do [ "$b" -gt $max ] && max=$b; done
        [ $max -ge 0 ] || { echo "FAIL [$name]: no acknowledgement before the kill"; fail=1; return; }
        pattern "$seed" 0 0 0 $(((max + 1) * 4096)) >"$expect"
        dd if="$img" bs=4096 count=$((max + 1)) status=none >"$actual"
        for b in $acked; do
                n=$((n + 1))
                cmp -s -i $((b * 4096)):$((b * 4096)) -n 4096 "$actual" "$expect" ||
                        { [ $bad -lt 5 ] && echo "FAIL [$name]: block $b was acknowledged but is not in the image"; bad=$((bad + 1)); }
        done
        # The check can fail: the last block was never written before the kill.
        [ $max -lt $((blocks - 100)) ] && image_has "$img" "$seed" 0 0 $(((blocks - 1) * 4096)) 4096 &&
                { echo "FAIL [$name]: block $((blocks - 1)) holds its pattern although never written"; bad=1; }
        [ $bad -eq 0 ] || fail=1
        echo "  [$name] killed after $n acks (block $max the highest); $((n - bad)) of $n are in the image"
}

run early 1
run middle $((20 + RANDOM % 200))
run late $((300 + RANDOM % 300))
finish
