# SPDX-License-Identifier: MIT
# Shared by tests/integration/test-hostile*.sh and test-fault-*.sh
# (docs/hostile-guests.md): the test guest's hostile mode on a sandboxed
# vmwp, what its report lines must say, sanitizer reports, and the
# worker's memory, fds and threads. Sourced, not run (the test glob is
# test-*.sh).

# Also sourced after vmms-lib.sh: nothing here may reuse its names.
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${VM_BUILD_DIR:-$src/build/debug}
elf=$build/guest-vsc/guest/vsc-guest.elf
vmwp=$build/vmwp/vmwp
fail=0

HOSTILE_FD_SLACK=2

# The bound on what a flooding guest may make its worker allocate
# (docs/THREAT_MODEL.md, "Worker resources", which lists it): anonymous memory at the end
# of the flood, and at its peak, at most this much above its start.
HOSTILE_RSS_BOUND_KB=8192

hostile_require() {
        [ -x "$vmwp" ] || { echo "SKIP: $vmwp is not built"; exit 77; }
        [ -f "$elf" ] || { echo "FAIL: $elf not built"; exit 1; }
        [ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
}

bad() { echo "FAIL: $*"; fail=1; }

# hostile_json NAME CMDLINE EXTRA_JSON: a worker configuration (128 MiB,
# one vCPU) with whatever EXTRA_JSON adds ("disks": ..., "nics": ...).
hostile_json() {
        cat >"$tmp/$1.json" <<JSON
{ "name": "hostile-$1", "memory_mib": 128, "vcpus": 1,
  "boot": { "kind": "pvh", "kernel": "$(realpath "$elf")", "cmdline": "$2" } $3 }
JSON
}

# hostile_start NAME CMDLINE EXTRA_JSON: starts the sandboxed worker in the
# background (pid in $wpid); serial output in $tmp/NAME.out, stderr in
# $tmp/NAME.err.
hostile_start() {
        hostile_json "$@"
        : >"$tmp/$1.out"
        timeout 600 "$vmwp" --config "$tmp/$1.json" --serial "file:$tmp/$1.out" 2>"$tmp/$1.err" </dev/null &
        wpid=$!
}

# worker_of PID: the vmwp that `timeout` (PID) runs.
worker_of() {
        local w
        for _ in $(seq 100); do
                w=$(pgrep -P "$1") && { echo "$w"; return 0; }
                sleep 0.02
        done
        return 1
}

# hostile_end NAME: waits for the worker; checks it powered off (status 0),
# the guest's result, no case that went wrong, no sanitizer report; shows
# the guest's hostile lines.
hostile_end() {
        local name=$1 rc
        wait "$wpid"
        rc=$?
        grep -E '^VSC (hostile_(begin|alive|done|phase)|error|result)' "$tmp/$name.out" | sed "s/^/  [$name] /"
        grep -E '^VSC hostile_case=.* ok=0' "$tmp/$name.out" | sed "s/^/  [$name] /"
        [ "$rc" -eq 0 ] || bad "[$name] vmwp exit status $rc: $(tail -n 3 "$tmp/$name.err")"
        grep -q '^vmwp: .*powered off (ACPI S5)' "$tmp/$name.err" || bad "[$name] the worker did not end with the guest's power-off"
        grep -q '^VSC result=ok status=0$' "$tmp/$name.out" || bad "[$name] the guest did not end with result=ok"
        ! grep -q '^VSC hostile_case=.* ok=0' "$tmp/$name.out" || bad "[$name] cases without the answer they must get"
        sanitizer_clean "$tmp/$name.err" "$name"
}

# sanitizer_clean FILE NAME: no ASan/UBSan/LSan report in a worker's stderr.
sanitizer_clean() {
        if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)Sanitizer' "$1"; then
                bad "[$2] sanitizer report:"
                grep -E -A12 'ERROR: |runtime error:' "$1" | head -40 | sed "s/^/  [$2] /"
        fi
}

# check_sub NAME SUB MIN_CASES: the sub-mode ran at least MIN_CASES cases,
# all as they must, and the survivor check passed after them.
check_sub() {
        local name=$1 sub=$2 min=$3 n
        n=$(sed -n "s/^VSC hostile_done=$sub cases=\([0-9]*\) unexpected=0$/\1/p" "$tmp/$name.out")
        [ -n "$n" ] && [ "$n" -ge "$min" ] || bad "[$name] $sub: ${n:-no} cases done (at least $min expected)"
        grep -Eq "^VSC hostile_alive=$sub scsi=[0-9]+ nic=(ok|none) heartbeat=ok$" "$tmp/$name.out" ||
                bad "[$name] $sub: no survivor check after it"
}

check() { # NAME REGEX...: each must match a line of the guest's output ($tmp/NAME.out)
        local name=$1
        shift
        for re in "$@"; do
                grep -Eq "$re" "$tmp/$name.out" || bad "[$name] no line matching /$re/"
        done
}

# pattern (shared with guest-disk-lib.sh, whose other names clash with
# vmms-lib.sh's)
. "$(dirname "${BASH_SOURCE[0]}")/pattern-lib.sh"

# proc_mem PID: "rss_anon_kb fds threads" of a process (as root: also of a
# sandboxed worker, which is not dumpable).
proc_mem() {
        local a
        a=$(awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
        echo "${a:-0} $(ls "/proc/$1/fd" 2>/dev/null | wc -l) $(ls "/proc/$1/task" 2>/dev/null | wc -l)"
}

# watch_phases PID OUT FILE: until PID ends, samples the worker every 20 ms;
# writes "phase <name> <rss_anon_kb> <fds> <threads>" for each hostile_phase
# line as it appears in OUT, and "peak <rss_anon_kb>" at the end, to FILE.
watch_phases() {
        local pid=$1 out=$2 file=$3 seen=0 peak=0 m n name
        : >"$file"
        while kill -0 "$pid" 2>/dev/null; do
                m=$(proc_mem "$pid") || break
                [ "${m%% *}" -gt "$peak" ] && peak=${m%% *}
                n=$(grep -c '^VSC hostile_phase=' "$out")
                while [ "$seen" -lt "$n" ]; do
                        seen=$((seen + 1))
                        name=$(grep '^VSC hostile_phase=' "$out" | sed -n "${seen}p" | sed 's/^VSC hostile_phase=//')
                        echo "phase $name $m" >>"$file"
                done
                sleep 0.02
        done
        echo "peak $peak" >>"$file"
}

# check_bounded NAME FILE FROM TO: between the phases FROM and TO the
# worker's fds and threads came back to where they were, and its anonymous
# memory (at TO and at its peak) grew by at most HOSTILE_RSS_BOUND_KB.
check_bounded() {
        local name=$1 file=$2 from=$3 to=$4 a b peak rss0 fd0 th0 rss1 fd1 th1
        a=$(sed -n "s/^phase $from //p" "$file")
        b=$(sed -n "s/^phase $to //p" "$file")
        peak=$(sed -n 's/^peak //p' "$file")
        [ -n "$a" ] && [ -n "$b" ] || { bad "[$name] no measurement at $from/$to: $(cat "$file")"; return; }
        read -r rss0 fd0 th0 <<<"$a"
        read -r rss1 fd1 th1 <<<"$b"
        echo "  [$name] worker from $from to $to: rss_anon $rss0 -> $rss1 kB (peak $peak kB), fds $fd0 -> $fd1, threads $th0 -> $th1"
        # A channel the guest opened during the phase keeps its eventfds (the
        # connection's doorbell, hvshim/dispatch.c; a storvsp queue's
        # completions, made on first use): up to HOSTILE_FD_SLACK more fds is
        # state, not a leak. A leak per message or per open/close cycle
        # shows as tens or thousands.
        [ "$fd1" -le $((fd0 + HOSTILE_FD_SLACK)) ] || bad "[$name] fds $fd0 -> $fd1"
        [ "$th1" -eq "$th0" ] || bad "[$name] threads $th0 -> $th1"
        # Under AddressSanitizer freed memory waits in a quarantine and its
        # shadow is resident too (26 MB over a flood, measured): the bound is
        # the plain build's to check; here it is only reported.
        if grep -q '^VM_SANITIZE:STRING=.*address' "$build/CMakeCache.txt" 2>/dev/null; then
                echo "  [$name] ASan build: memory bound not checked here"
                return
        fi
        [ $((rss1 - rss0)) -le $HOSTILE_RSS_BOUND_KB ] && [ $((peak - rss0)) -le $HOSTILE_RSS_BOUND_KB ] ||
                bad "[$name] anonymous memory grew by more than $HOSTILE_RSS_BOUND_KB kB"
}

# check_acked NAME IMAGE LOG SEED: every block a "VSC fault_ack=N" line of
# LOG names (4 KiB at N * 4 KiB of controller 0, LUN 0) holds its pattern in
# IMAGE, read by the host itself.
check_acked() {
        local name=$1 img=$2 log=$3 seed=$4 max=-1 n=0 bad_blocks=0 b acked
        acked=$(sed -n 's/^VSC fault_ack=\([0-9]*\)$/\1/p' "$log")
        for b in $acked; do [ "$b" -gt $max ] && max=$b; done
        [ $max -ge 0 ] || { bad "[$name] no block was acknowledged"; return; }
        pattern "$seed" 0 0 0 $(((max + 1) * 4096)) >"$tmp/$name.expect"
        dd if="$img" bs=4096 count=$((max + 1)) status=none >"$tmp/$name.actual" 2>/dev/null
        # One process for all the blocks: a cmp each took 74 s for 410
        # blocks on the emulated AMD-V host (a fork and exec translated by
        # TCG each), longer than test-fault-kill's restart back-off.
        n=$(wc -w <<<"$acked")
        # shellcheck disable=SC2086 # the block numbers, one word each
        bad_blocks=$(python3 -c '
import sys
actual, expect = (open(f, "rb").read() for f in sys.argv[1:3])
print(sum(actual[b * 4096:(b + 1) * 4096] != expect[b * 4096:(b + 1) * 4096] for b in map(int, sys.argv[3:])))
' "$tmp/$name.actual" "$tmp/$name.expect" $acked) || { bad "[$name] the blocks could not be compared"; return; }
        [ $bad_blocks -eq 0 ] || bad "[$name] $bad_blocks of $n acknowledged blocks are not in $img"
        echo "  [$name] host: $((n - bad_blocks)) of $n acknowledged blocks are in the image"
}

finish() {
        [ $fail -eq 0 ] && echo PASS || echo FAIL
        exit $fail
}
