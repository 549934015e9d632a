#!/bin/bash
# SPDX-License-Identifier: MIT
# The synthetic NIC end to end: in a network namespace of its own, vmwp
# boots the test guest (vsc.mode=net-check) with a NIC on a TAP; the guest
# brings netvsc up the way Linux 6.1 does, gets error statuses for two
# malformed RNDIS messages, resolves the host's address with ARP, gets ICMP
# echo replies and has UDP datagrams echoed by a host peer
# (bench-net-guest --echo). Two ways to the TAP:
#   A  a pre-created TAP opened by name, Linux-sized buffers (16 MiB receive)
#   B  a TAP the worker creates on a bridge, 1400-byte datagrams
# and configurations that cannot work are refused with a reason.
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

# Everything below runs in a fresh network namespace (gone when we exit).
if [ -z "${VSC_NET_IN_NETNS:-}" ]; then
        unshare -n true 2>/dev/null || { echo "SKIP: cannot create a network namespace (needs root)"; exit 77; }
        exec unshare -n env VSC_NET_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

tmp=$(mktemp -d)
peers=()
cleanup() {
        for p in "${peers[@]}"; do kill "$p" 2>/dev/null; done
        rm -rf "$tmp"
}
trap cleanup EXIT
fail=0

# run NAME CMDLINE NIC-JSON: boots the guest, output in $tmp/NAME.out,
# returns vmwp's exit status.
run() {
        cat >"$tmp/$1.json" <<JSON
{ "name": "guest-net-$1", "memory_mib": 128, "vcpus": ${VCPUS:-1},
  "boot": { "kind": "pvh", "kernel": "$(realpath "$elf")", "cmdline": "$2" },
  "nics": [ $3 ] }
JSON
        timeout 300 "$vmwp" --config "$tmp/$1.json" --serial stdio </dev/null >"$tmp/$1.out" 2>&1
}

check() { # NAME REGEX...
        local name=$1
        shift
        for re in "$@"; do
                grep -Eq "$re" "$tmp/$name.out" || { echo "FAIL [$name]: no line matching /$re/"; fail=1; }
        done
}

# The lines every net-check run must print (docs/guest-vsc.md).
check_net_check() { # NAME PEER-IP PORT SIZE COUNT
        check "$1" '^VSC net=up nvsp=6\.1 mac=02:00:5e:10:00:0[0-9] mtu=1500 link=up speed_mbps=10000 ' \
                '^VSC net_buffers .*section=6144 .*max_pkt_per_msg=8 align=8$' \
                '^VSC net_offload tx_csum_ip4=0x54 ' \
                '^VSC net_malformed=query status=0xc0000001 nvsp_status=1$' \
                '^VSC net_malformed=packet nvsp_status=5$' \
                '^VSC arp=ok peer_mac=([0-9a-f]{2}:){5}[0-9a-f]{2} us=[0-9]+$' \
                '^VSC icmp=ok sent=5 received=5 rtt_us_min=[0-9]+ rtt_us_avg=[0-9]+$' \
                "^VSC udp=ok sent=$5 received=$5 size=$4 port=$3 resent=0\$" \
                '^VSC net_stats .* rx_bad=0 .* bogus_completions=0 ' \
                '^VSC net_close=ok$' '^VSC unload=ok$' '^VSC result=ok status=0$' '^vmwp: .*powered off'
        grep '^VSC ' "$tmp/$1.out" | tail -1 | grep -q '^VSC result=' || { echo "FAIL [$1]: result is not last"; fail=1; }
        # every answer was a frame of its own: ARP, 5 ICMP echo replies, the UDP echoes
        local rx
        rx=$(sed -n 's/^VSC net_stats .* rx_frames=\([0-9]*\) .*/\1/p' "$tmp/$1.out")
        [ "${rx:-0}" -ge $((1 + 5 + $5)) ] || { echo "FAIL [$1]: only ${rx:-0} frames received for $((1 + 5 + $5)) answers"; fail=1; }
}

show() {
        grep -E '^(VSC (net|arp|icmp|udp|result|error)|vmwp: )' "$tmp/$1.out" | sed "s/^/  [$1] /"
}

# A: a pre-created TAP, opened by name
ip tuntap add dev vsctap0 mode tap vnet_hdr
ip addr add 10.77.0.1/24 dev vsctap0
ip link set vsctap0 up
"$peer" --echo 10.77.0.1:7777 --seconds 300 2>"$tmp/peer-a.log" &
peers+=($!)
run tap "vsc.mode=net-check vsc.ip=10.77.0.2 vsc.peer=10.77.0.1 vsc.port=7777 vsc.timeout_ms=30000" \
        '{ "mac": "02:00:5e:10:00:02", "tap": "vsctap0" }'
rc=$?
show tap
[ $rc -eq 0 ] || { echo "FAIL [tap]: vmwp exit status $rc"; fail=1; }
check_net_check tap 10.77.0.1 7777 64 10
check tap '^VSC net_buffers recv_kib=16384 slot=1664 '

# B: the worker creates its TAP and puts it on a bridge (the guest reaches
# the bridge's address only through it); the TAP goes with the worker.
# Two vCPUs and "queues": 2 make it a multi-queue TAP whose second queue
# stays detached (the test guest opens no sub-channel): every frame for the
# guest must still reach it, none may wait on a queue nobody reads.
ip link add vscbr0 type bridge
ip addr add 10.78.0.1/24 dev vscbr0
ip link set vscbr0 up
"$peer" --echo 10.78.0.1:7778 --seconds 300 2>"$tmp/peer-b.log" &
peers+=($!)
VCPUS=2 run bridge "vsc.mode=net-check vsc.ip=10.78.0.2 vsc.peer=10.78.0.1 vsc.port=7778 vsc.net_recv_kib=1024 vsc.udp_n=50 vsc.udp_size=1400 vsc.timeout_ms=30000" \
        '{ "mac": "02:00:5e:10:00:03", "bridge": "vscbr0", "queues": 2 }'
rc=$?
show bridge
[ $rc -eq 0 ] || { echo "FAIL [bridge]: vmwp exit status $rc"; fail=1; }
check_net_check bridge 10.78.0.1 7778 1400 50
! grep -q vmtap <<<"$(ip -o link show)" || { echo "FAIL [bridge]: the worker's TAP outlived it"; fail=1; }

# Refusals: exit status 3 and the reason (docs/vmwp.md)
run notap vsc.mode=boot '{ "mac": "02:00:5e:10:00:04", "tap": "vscnone0" }'
rc=$?
[ $rc -eq 3 ] || { echo "FAIL [notap]: exit status $rc, expected 3"; fail=1; }
check notap '^vmwp: .*nics\[0\]: opening the TAP vscnone0: No such device'
run nobridge vsc.mode=boot '{ "mac": "02:00:5e:10:00:05", "bridge": "vscbrx" }'
rc=$?
[ $rc -eq 3 ] || { echo "FAIL [nobridge]: exit status $rc, expected 3"; fail=1; }
check nobridge '^vmwp: .*nics\[0\]: creating the TAP .* on bridge vscbrx: No such device'

[ $fail -eq 0 ] && echo PASS || echo FAIL
exit $fail
