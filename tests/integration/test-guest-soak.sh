#!/bin/bash
# SPDX-License-Identifier: MIT
# The test guest's soak mode (vsc.mode=soak, docs/guest-vsc.md "Soak mode")
# on a sandboxed vmwp without saves, in a network namespace of its own: a
# disk image and a NIC on a bridge whose address runs the UDP echo peer
# (bench-net-guest --echo). Each run ends its own way and its figures must
# add up:
#   duration  vsc.soak.ms: blocks written and read back, every read checked
#             (read = 2 x written: each write read back, each later round
#             reading the last one first, the final pass the rest), every
#             ping answered, none lost;
#   rounds    vsc.soak.rounds over a small area, 1400-byte pings: exactly
#             rounds x blocks written;
#   datagram  "VSCSOAK-STOP" from the host ends a run without a deadline;
# and the mode must catch what goes wrong:
#   disk      the host zeroes the soak area under the running guest: the
#             blocks read back are reported bad, the result is a failure;
#   dup       a peer that echoes every 50th ping twice: duplicates counted,
#             the result is a failure;
#   options   a run that could never end is refused.
set -uo pipefail
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${VM_BUILD_DIR:-$src/build/debug}
elf=$build/guest-vsc/guest/vsc-guest.elf
vmwp=$build/vmwp/vmwp
peer=$build/bench/bench-net-guest
for f in "$vmwp" "$peer"; do [ -x "$f" ] || { echo "SKIP: $f is not built"; exit 77; }; done
[ -f "$elf" ] || { echo "FAIL: $elf not built"; exit 1; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: iproute2 (ip) not installed"; exit 77; }
if [ -z "${GUEST_SOAK_IN_NETNS:-}" ]; then
        unshare -n true 2>/dev/null || { echo "SKIP: cannot create a network namespace (needs root)"; exit 77; }
        exec unshare -n env GUEST_SOAK_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

tmp=$(mktemp -d)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

ip link add gsoakbr0 type bridge
ip addr add 10.93.0.1/24 dev gsoakbr0
ip link set gsoakbr0 up
"$peer" --echo 10.93.0.1:7793 --seconds 600 2>"$tmp/peer.log" &
pids+=($!)
"$peer" --echo 10.93.0.1:7794 --seconds 600 --dup-every 50 2>"$tmp/peer-dup.log" &
pids+=($!)
ADDRS="vsc.ip=10.93.0.2 vsc.peer=10.93.0.1 vsc.timeout_ms=30000"

# start NAME CMDLINE: the guest on a fresh 64 MiB image, in the background
# (vmwp's pid in $wpid); serial output in $tmp/NAME.out.
start() {
        truncate -s 64M "$tmp/$1.img"
        cat >"$tmp/$1.json" <<JSON
{ "name": "guest-soak-$1", "memory_mib": 128, "vcpus": 1,
  "boot": { "kind": "pvh", "kernel": "$(realpath "$elf")", "cmdline": "vsc.mode=soak $ADDRS $2" },
  "disks": [ { "path": "$tmp/$1.img" } ],
  "nics": [ { "mac": "02:00:5e:10:00:93", "bridge": "gsoakbr0" } ] }
JSON
        : >"$tmp/$1.out"
        timeout 300 "$vmwp" --config "$tmp/$1.json" --serial "file:$tmp/$1.out" 2>"$tmp/$1.err" </dev/null &
        wpid=$!
}
finish() { # NAME: waits for the worker; its status
        wait "$wpid"
        local rc=$?
        grep -E '^VSC (soak_(start|stop|disk|net|bad)|error|result)' "$tmp/$1.out" | sed "s/^/  [$1] /"
        return $rc
}
has() { grep -Eq "$2" "$tmp/$1.out"; }
check() { # NAME REGEX...
        local name=$1
        shift
        for re in "$@"; do has "$name" "$re" || bad "[$name] no line matching /$re/"; done
}
# val NAME LINE KEY: KEY's value on the guest's line starting "VSC LINE"
val() { sed -n "s/^VSC $2.* $3=\([0-9]*\).*/\1/p" "$tmp/$1.out" | tail -n 1; }
wait_line() { # NAME REGEX SECONDS
        for _ in $(seq $(($3 * 10))); do has "$1" "$2" && return 0; kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
        has "$1" "$2"
}
send_stop() { # NAME PORT: until the guest says it stopped
        for _ in $(seq 60); do
                has "$1" '^VSC soak_stop=' && return 0
                kill -0 "$wpid" 2>/dev/null || return 1
                echo VSCSOAK-STOP >"/dev/udp/10.93.0.2/$2" 2>/dev/null
                sleep 0.5
        done
        return 1
}

# The figures of a run that passed: disk and pings add up, nothing bad.
check_ok() { # NAME
        local n=$1 w r f blocks sent ans lost
        check "$n" '^VSC soak_start=0:0 blocks=[0-9]+ block_bytes=4096 ' '^VSC soak_progress ms=' \
                '^VSC soak_disk=0:0 .* bad=0 ' \
                '^VSC soak_net .* lost=0 dup=0 late=0 reordered=0 corrupt=0 ' \
                '^VSC net_close=ok$' '^VSC unload=ok$' '^VSC result=ok status=0$'
        has "$n" '^VSC (soak_bad|warning|error)=' && bad "[$n] $(grep -E '^VSC (soak_bad|warning|error)=' "$tmp/$n.out")"
        w=$(val "$n" soak_disk= written) r=$(val "$n" soak_disk= read) f=$(val "$n" soak_disk= final_read)
        blocks=$(val "$n" soak_start= blocks)
        [ "${w:-0}" -gt 0 ] || bad "[$n] nothing written"
        [ "${r:-0}" = $((2 * ${w:-0})) ] || bad "[$n] read $r, written $w: every write is read back, then again before the next"
        [ "${f:-0}" = $((w < blocks ? w : blocks)) ] || bad "[$n] the final pass read $f of $blocks blocks ($w written)"
        sent=$(val "$n" soak_net pings) ans=$(val "$n" soak_net answered) lost=$(val "$n" soak_net lost)
        [ "${sent:-0}" -gt 0 ] && [ "$ans" = "$sent" ] && [ "$lost" = 0 ] || bad "[$n] pings $sent, answered $ans, lost $lost"
}

note() { echo "--- $*"; }

note "duration: 3 s of disk and pings"
start dur "vsc.soak.ms=3000 vsc.soak.progress_ms=500 vsc.port=7793"
finish dur || bad "[dur] vmwp exit status $?"
check_ok dur
check dur '^VSC soak_stop=duration ms=3[0-9]{3}$'
[ "$(grep -c '^VSC soak_progress ' "$tmp/dur.out")" -ge 4 ] || bad "[dur] fewer than 4 progress lines in 3 s"

note "rounds: 3 rounds over 256 blocks, 16 lanes, 1400-byte pings"
start rounds "vsc.soak.ms=0 vsc.soak.rounds=3 vsc.soak.progress_ms=10 vsc.soak.blocks=256 vsc.soak.qd=16 vsc.soak.ping_size=1400 vsc.soak.window=32 vsc.soak.seed=9 vsc.port=7793"
finish rounds || bad "[rounds] vmwp exit status $?"
check_ok rounds
check rounds '^VSC soak_start=0:0 blocks=256 block_bytes=4096 qd=16 seed=9 window=32 ping_us=1000 ping_size=1400 ' \
        '^VSC soak_stop=rounds ' '^VSC soak_disk=0:0 written=768 read=1536 final_read=256 bad=0 rounds=3$'

note "datagram: no deadline, the host's VSCSOAK-STOP ends it"
start stop "vsc.soak.ms=0 vsc.soak.stop_port=7795 vsc.port=7793"
wait_line stop '^VSC soak_progress ' 60 || bad "[stop] no progress: $(tail -n 3 "$tmp/stop.out")"
send_stop stop 7795 || bad "[stop] the guest did not take the stop datagram"
finish stop || bad "[stop] vmwp exit status $?"
check_ok stop
check stop '^VSC soak_stop=datagram '

note "disk: the host zeroes the soak area under the guest"
start zero "vsc.soak.ms=0 vsc.soak.stop_port=7795 vsc.soak.progress_ms=200 vsc.port=7793"
# a round done: every block has a generation the guest will read back first
for _ in $(seq 600); do [ "$(val zero soak_progress written)" -gt 2048 ] 2>/dev/null && break; sleep 0.1; done
# Direct writes where the file system takes them; tmpfs before Linux 6.6
# refuses O_DIRECT (EINVAL: the emulated AMD-V host's /tmp, docs/amdv-host.md),
# and there the written and synced pages are what the worker reads.
dd if=/dev/zero of="$tmp/zero.img" bs=1M count=4 oflag=direct conv=notrunc,fsync status=none 2>/dev/null ||
  dd if=/dev/zero of="$tmp/zero.img" bs=1M count=4 conv=notrunc,fsync status=none || bad "[zero] dd"
wait_line zero '^VSC soak_bad=' 60 || bad "[zero] no bad block reported"
send_stop zero 7795
finish zero || bad "[zero] vmwp exit status $? (a guest that fails still powers off)"
# zeros where a write was: no header (foreign), or one the zeros cut short (torn)
check zero '^VSC soak_bad=0:0 block=[0-9]+ phase=(old|new|final) verdict=(foreign|torn) want_seq=[1-9][0-9]* found_seq=[0-9]+$' \
        '^VSC error=[0-9]+ bad blocks$' '^VSC result=fail status=74$'
[ "$(val zero soak_disk= bad)" -gt 0 ] 2>/dev/null || bad "[zero] soak_disk counts no bad block"

note "dup: a peer that echoes every 50th ping twice"
start dup "vsc.soak.ms=2000 vsc.port=7794"
finish dup || bad "[dup] vmwp exit status $?"
check dup '^VSC soak_net pings=[0-9]+ answered=[0-9]+ lost=0 dup=[1-9]' \
        '^VSC error=ping replies: [1-9][0-9]* duplicated, 0 corrupt, 0 never sent$' '^VSC result=fail status=74$'

note "options: a run without an end is refused"
start never "vsc.soak.ms=0 vsc.soak.qd=999 vsc.port=7793"
finish never || bad "[never] vmwp exit status $?"
check never '^VSC warning=ignoring vsc.soak.qd=999 \(allowed 1\.\.32\)$' \
        '^VSC error=vsc.soak.ms=0 needs vsc.soak.rounds= or vsc.soak.stop_port= to end$' '^VSC result=fail status=22$'

[ $fail -eq 0 ] && echo PASS || echo FAIL
exit $fail
