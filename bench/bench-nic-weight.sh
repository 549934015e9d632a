#!/bin/bash
# SPDX-License-Identifier: MIT
# The mechanism chosen for Hyper-V's -MinimumBandwidthWeight (issue #58,
# docs/netvsp.md "Minimum bandwidth weight"), measured before vmms uses
# it: where VMs' traffic meets, a bridge's uplink, an HTB root on the
# uplink at the link's rate with one class per weighted NIC, picked by the
# NIC's source MAC (u32 on the Ethernet header), each guaranteed
# rate × weight / (sum of weights) and allowed to borrow up to the whole
# rate, so a congested uplink is shared by the weights and an idle NIC's
# share goes to the others. No KVM: two network namespaces play two VMs'
# NICs (veth pairs on a bridge, as TAPs would be), a third the far end of
# the uplink; each "VM" sends paced UDP at twice the uplink's rate, the
# far end counts what arrives from each. In one run:
#   baseline   one HTB class at the rate for all (what the uplink does
#              without weights): the shares the senders get alone
#   weighted   weights 25 and 75: the shares (target: 25:75 within 5
#              points of the link)
#   borrowed   the same weights, the 75 one silent: what the 25 one gets
#              (target: the whole rate, within 10 %)
# What a class borrows beyond its guarantee is shared by its quantum,
# 1514 bytes × its weight, so the excess goes by the weights as well.
# Prints RESULT rows for bench/run.sh. Needs root (namespaces, tc) and
# the kernel's sch_htb and cls_u32.
# Usage: bench/bench-nic-weight.sh [RATE_MBIT] [SECONDS]
set -uo pipefail
rate=${1:-20} secs=${2:-4}
[ "$(id -u)" = 0 ] || { echo "bench-nic-weight: needs root" >&2; exit 1; }
p=nw$$
H=${p}h G1=${p}g1 G2=${p}g2 S=${p}s
cleanup() { for n in $H $G1 $G2 $S; do ip netns del "$n" 2>/dev/null; done; }
trap cleanup EXIT
for n in $H $G1 $G2 $S; do ip netns add "$n" || exit 1; ip -n "$n" link set lo up; done
ip -n $H link add br0 type bridge && ip -n $H link set br0 up || exit 1
# port HOSTNS PEERNS NAME MAC IP: a veth with its bridge side in H, its other end in PEERNS.
port() {
	ip -n $H link add "$3h" type veth peer name "$3" netns "$2" &&
		ip -n $H link set "$3h" master br0 up &&
		ip -n "$2" link set "$3" address "$4" up &&
		ip -n "$2" addr add "$5/24" dev "$3"
}
port $H $G1 vm1 00:15:5d:00:0c:01 10.77.0.1 || exit 1
port $H $G2 vm2 00:15:5d:00:0c:02 10.77.0.2 || exit 1
port $H $S wan 00:15:5d:00:0c:fe 10.77.0.254 || exit 1
# Static neighbours: no ARP to queue behind the flood.
for g in $G1 $G2; do ip -n $g neigh add 10.77.0.254 lladdr 00:15:5d:00:0c:fe dev "vm${g: -1}"; done
ip -n $S neigh add 10.77.0.1 lladdr 00:15:5d:00:0c:01 dev wan
ip -n $S neigh add 10.77.0.2 lladdr 00:15:5d:00:0c:02 dev wan

tcq() { ip netns exec $H tc "$@"; }
# htb W1 W2: the uplink's root at the rate; W1, W2 the NICs' weights (0: no class of their own).
htb() {
	tcq qdisc del dev wanh root 2>/dev/null
	tcq qdisc add dev wanh root handle 1: htb default 99 || return 1
	tcq class add dev wanh parent 1: classid 1:1 htb rate ${rate}mbit ceil ${rate}mbit quantum 1514 || return 1
	local sum=$(( $1 + $2 + 1 )) k=0 w mac
	for w in "$1" "$2"; do
		k=$((k + 1)); [ "$w" -gt 0 ] || continue
		tcq class add dev wanh parent 1:1 classid 1:1$k htb rate $(( rate * 1000 * w / sum ))kbit ceil ${rate}mbit \
			quantum $(( 1514 * w )) || return 1
		# The source MAC 00:15:5d:00:0c:0k: bytes -8..-3 before the network header.
		tcq filter add dev wanh parent 1: protocol all prio 1 u32 match u32 0x00155d00 0xffffffff at -8 \
			match u16 0x0c0$k 0xffff at -4 flowid 1:1$k || return 1
	done
	tcq class add dev wanh parent 1:1 classid 1:99 htb rate $(( rate * 1000 / sum ))kbit ceil ${rate}mbit quantum 1514
}

# The far end: bytes from each source over the window, printed "A B" (bytes/s).
sink() {
	ip netns exec $S python3 - "$secs" <<'EOF'
import socket, sys, time
secs = float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("10.77.0.254", 5001))
s.settimeout(0.2)
got = {"10.77.0.1": 0, "10.77.0.2": 0}
start = None
while True:
    try:
        data, (ip, _) = s.recvfrom(2048)
    except socket.timeout:
        if start and time.monotonic() - start > secs + 1:
            break
        continue
    now = time.monotonic()
    if start is None:
        start = now + 0.5  # the first half second fills the queues
    if start <= now < start + secs and ip in got:
        got[ip] += len(data)
    if now >= start + secs + 0.5:
        break
print(got["10.77.0.1"] / secs, got["10.77.0.2"] / secs)
EOF
}
# send NS: paced UDP at twice the uplink's rate for the window and a second.
send() {
	ip netns exec "$1" python3 - "$rate" "$secs" <<'EOF' &
import socket, sys, time
rate, secs = float(sys.argv[1]) * 2e6 / 8, float(sys.argv[2]) + 1.5
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
buf = b"x" * 1400
t0 = time.monotonic(); sent = 0
while time.monotonic() - t0 < secs:
    due = (time.monotonic() - t0) * rate
    while sent < due:
        try:
            s.sendto(buf, ("10.77.0.254", 5001))
        except OSError:
            pass
        sent += len(buf)
    time.sleep(0.002)
EOF
}
# run W1 W2 SENDERS: "A B" Mbit/s arriving from each.
run() {
	htb "$1" "$2" || { echo "bench-nic-weight: tc refused (sch_htb, cls_u32?)" >&2; exit 1; }
	local out
	sink >"/tmp/$p.sink" & local sk=$!
	sleep 0.3
	send $G1
	[ "$3" = both ] && send $G2
	wait $sk
	wait
	read -r a b <"/tmp/$p.sink"; rm -f "/tmp/$p.sink"
	awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f %.2f\n", a * 8 / 1e6, b * 8 / 1e6 }'
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { s = a + b; printf "%.1f", s ? 100 * a / s : -1 }'; }

read -r b1 b2 < <(run 0 0 both)
read -r w1 w2 < <(run 25 75 both)
read -r o1 o2 < <(run 25 75 one)
echo "uplink ${rate} Mbit/s; baseline (one class): $b1 + $b2 Mbit/s; weights 25:75: $w1 + $w2; 25 alone: $o1" >&2
printf 'RESULT\tnic weight 25 of 25:75: its share of a congested uplink\t%s\t%s\t%%\t25 +- 5\n' "$(pct "$w1" "$w2")" "$(pct "$b1" "$b2")"
printf 'RESULT\tnic weight 25 of 25:75, the other idle: its rate\t%s\t%s\tMbit/s\t%s -10 %%\n' "$o1" "$rate" "$rate"
