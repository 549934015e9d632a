#!/bin/bash
# SPDX-License-Identifier: MIT
# A real two-node Pacemaker cluster on one machine (docs/clustering.md,
# issue #22): nodes hosta and hostb, each a network, mount and UTS
# namespace of its own with its own Corosync, Pacemaker and vmms (own bus,
# state, runtime and log directories, TLS certificates for its address),
# joined by a veth pair (10.98.0.1/.2); a third namespace is the VMs'
# network: a bridge with the UDP echo peer (10.99.0.1) that each node's
# VM bridge reaches through a veth of its own. Fencing is disabled.
#
# The VM is the guest-vsc test guest in soak mode (disk writes read back
# and checked, a ping every millisecond) on a disk on the shared directory,
# managed by ocf:vmstack:VM with allow-migrate:
#   Pacemaker starts it; `crm_resource --move` live-migrates it to the
#     other node (the source's vmms says so, with its downtime): the guest
#     writes, reads and pings on over the other node's bridge, no bad
#     block, at most a window of pings lost;
#   the node running it dies (every process of its namespace killed):
#     Pacemaker notices, starts it on the survivor, the guest runs there;
#   the dead node comes back; the VM, stopped with save_on_stop, leaves its
#     state in the shared directory; its node dies; started on the other
#     node it resumes that state: the guest's counters go on from where
#     they were saved.
# Prints the downtime of the Pacemaker-driven migration, the time from the
# node's death to Pacemaker seeing it lost and on to the VM running on the
# survivor (target <= 5 s), and the monitor's execution time as Pacemaker
# recorded it (target <= 50 ms).
set -u
source "$(dirname "$0")/vmms-lib.sh"
AGENT=$(cd "$(dirname "$0")/../.." && pwd)/packaging/ocf/VM
for c in corosync pacemakerd crm_mon crm_resource cibadmin crm_attribute corosync-cfgtool nsenter unshare; do
  command -v $c >/dev/null || { echo "SKIP: $c missing (scripts/deps.sh installs pacemaker and corosync)"; exit 77; }
done
[ -f /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ] || { echo "SKIP: resource-agents missing"; exit 77; }
id hacluster >/dev/null 2>&1 || { echo "SKIP: no hacluster user (the pacemaker package makes it)"; exit 77; }
t_setup
t_need_guest_vsc
PEER=$VM_BUILD_DIR/bench/bench-net-guest
[ -x "$PEER" ] || { echo "SKIP: $PEER is not built"; exit 77; }
WINDOW=8 STOP_PORT=7797

# Namespaces: s (the VMs' switch), a and b (the nodes).
NS_S=clus$$ NS_A=cla$$ NS_B=clb$$
ip netns add "$NS_S" 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
t_on_exit "nodes_kill; ip netns del $NS_S; ip netns del $NS_A; ip netns del $NS_B"
ip netns add "$NS_A" && ip netns add "$NS_B" || fail "netns"
for ns in "$NS_S" "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip link add ca$$ netns "$NS_A" type veth peer name cb$$ netns "$NS_B" || fail "the cluster link"
ip -n "$NS_A" addr add 10.98.0.1/24 dev ca$$ && ip -n "$NS_B" addr add 10.98.0.2/24 dev cb$$ || fail "addresses"
ip -n "$NS_A" link set ca$$ up && ip -n "$NS_B" link set cb$$ up || fail "link up"
ip -n "$NS_S" link add brs type bridge && ip -n "$NS_S" addr add 10.99.0.1/24 dev brs && ip -n "$NS_S" link set brs up ||
  fail "the switch"
for h in a b; do
  ns=$NS_A; [ $h = b ] && ns=$NS_B
  ip -n "$ns" link add brvm type bridge && ip -n "$ns" link set brvm up || fail "brvm on $h"
  ip link add u$h$$ netns "$ns" type veth peer name s$h$$ netns "$NS_S" || fail "uplink $h"
  ip -n "$ns" link set u$h$$ master brvm up && ip -n "$NS_S" link set s$h$$ master brs up || fail "uplink $h up"
done
ip netns exec "$NS_S" "$PEER" --echo 10.99.0.1:7799 --seconds 900 2>"$T/peer.log" &


t_migration_pki "$T/pki" IP:10.98.0.1 IP:10.98.0.2
mkdir -p "$T/shared"

# The node: runs in its namespaces (ip netns exec + unshare -m -u); vmms
# first (its own bus), then Corosync, then Pacemaker, whose resource agents
# reach vmms through DBUS_SYSTEM_BUS_ADDRESS. Private copies of Corosync's
# and Pacemaker's directories, /run (Corosync's lock) and /dev/shm (libqb's
# IPC), and of the OCF agent directory (ours only).
cat >"$T/node.sh" <<'NODE'
set -u
name=$1 D=$2 ip=$3 other=$4 bus=$5
hostname "$name"
echo $$ >"$D/pid"
mkdir -p "$D"/{etc-corosync,lib-corosync,log-corosync,log-pacemaker,state,run,log} "$D"/lib-pacemaker/{cib,pengine,cores,blackbox}
chown -R hacluster:haclient "$D/lib-pacemaker" "$D/log-pacemaker"
chmod 750 "$D/lib-pacemaker/cib"
cat >"$D/etc-corosync/corosync.conf" <<CONF
totem {
	version: 2
	cluster_name: vmstack-test
	crypto_cipher: none
	crypto_hash: none
	token: 3000
}
logging {
	to_stderr: no
	to_syslog: no
	to_logfile: yes
	logfile: /var/log/corosync/corosync.log
	timestamp: hires
}
quorum {
	provider: corosync_votequorum
	two_node: 1
}
nodelist {
	node {
		name: hosta
		nodeid: 1
		ring0_addr: 10.98.0.1
	}
	node {
		name: hostb
		nodeid: 2
		ring0_addr: 10.98.0.2
	}
}
CONF
mount --bind "$D/etc-corosync" /etc/corosync &&
mount --bind "$D/lib-corosync" /var/lib/corosync &&
mount --bind "$D/log-corosync" /var/log/corosync &&
mount --bind "$D/lib-pacemaker" /var/lib/pacemaker &&
mount --bind "$D/log-pacemaker" /var/log/pacemaker &&
mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /run &&
mount -t tmpfs tmpfs /usr/lib/ocf/resource.d || { echo "node $name: mounts failed"; exit 1; }
mkdir /usr/lib/ocf/resource.d/vmstack && cp "$AGENT" /usr/lib/ocf/resource.d/vmstack/VM &&
  chmod 755 /usr/lib/ocf/resource.d/vmstack/VM || exit 1
# shellcheck disable=SC2086
"$VMMS" --bus-address="$bus" --state-dir="$D/state" --runtime-dir="$D/run" --log-dir="$D/log" \
  --worker="$WORKER" --no-polkit --log-max-size=0 --storage-pool="$T" --storage-pool="$VM_BUILD_DIR" \
  --migration-listen="$ip" $TLS --migration-allow="$other" >>"$D/vmms.log" 2>&1 &
for _ in $(seq 200); do grep -q '^vmms: ready on' "$D/vmms.log" && break; sleep 0.1; done
corosync -f &
for _ in $(seq 100); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.1; done
DBUS_SYSTEM_BUS_ADDRESS=$bus PCMK_logfile=/var/log/pacemaker/pacemaker.log pacemakerd &
wait
NODE

# node_start a|b
node_start() {
  local h=$1 ns name ip other bus
  if [ "$h" = a ]; then ns=$NS_A name=hosta ip=10.98.0.1 other=hostb bus=$ADDR
  else ns=$NS_B name=hostb ip=10.98.0.2 other=hosta bus=$ADDRB; fi
  mkdir -p "$T/$h"
  AGENT=$AGENT VMMS=$VMMS WORKER=$WORKER T=$T VM_BUILD_DIR=$VM_BUILD_DIR TLS="$(tls "$name")" \
    ip netns exec "$ns" unshare -m -u --propagation private bash "$T/node.sh" "$name" "$T/$h" "$ip" "$other" "$bus" \
    >"$T/$h/node.out" 2>&1 &
  disown # its death is the test's doing, not news
}
# on a|b CMD...: a command inside the node's namespaces
on() {
  local pid
  pid=$(cat "$T/$1/pid" 2>/dev/null) || return 1
  shift
  nsenter -t "$pid" -m -n -u "$@"
}
nodes_kill() {
  local ns p
  for ns in "$NS_A" "$NS_B" "$NS_S"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  done
  for p in "$T"/{a,b}/run/vms/*/worker.json; do
    [ -f "$p" ] && kill -9 "$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$p")" 2>/dev/null
  done
  sleep 0.5
}

# Host B's bus (vmms-lib's t_host_b_start would also start a vmms).
B=$T/b ADDRB="unix:path=$T/b/bus"
mkdir -p "$B"
sed "s|$T/bus|$B/bus|" "$T/bus.conf" >"$B/bus.conf"
dbus_start "$B/bus.conf" "$B" || fail "host B's dbus-daemon did not start: $(cat "$B/dbus.log")"
BDBUS=$DBUS_START_PID
t_on_exit "kill $BDBUS"

note "two nodes: Corosync and Pacemaker form the cluster"
t0=$SECONDS
node_start a
node_start b
wait_for 90 "both nodes online" sh -c "nsenter -t \$(cat '$T/a/pid') -m -n -u crm_mon -1 2>/dev/null | grep -q 'Online: \[ hosta hostb \]'"
echo "cluster formed in $((SECONDS - t0)) s"
for h in a b; do grep -q "ready on" "$T/$h/vmms.log" || fail "vmms on $h: $(cat "$T/$h/vmms.log")"; done
on a crm_attribute -t crm_config -n stonith-enabled -v false || fail "stonith-enabled"

note "the VM as a cluster resource"
truncate -s 64M "$T/shared/soak.img"
printf '{"memory_mib":128,"vcpus":1,"restart_policy":"never","boot":{"kernel":"%s","cmdline":"%s"},"disks":[{"path":"%s"}],"nics":[{"mac":"02:00:5e:10:00:98","bridge":"brvm"}]}' \
  "$GUEST" "vsc.mode=soak vsc.ip=10.99.0.2 vsc.peer=10.99.0.1 vsc.port=7799 vsc.soak.ms=900000 vsc.soak.stop_port=$STOP_PORT vsc.soak.window=$WINDOW vsc.soak.ping_timeout_ms=1000 vsc.soak.progress_ms=100 vsc.timeout_ms=30000" \
  "$T/shared/soak.img" >"$T/shared/vm1.json"
cat >"$T/vm1.xml" <<XML
<primitive id="vm1" class="ocf" provider="vmstack" type="VM">
  <instance_attributes id="vm1-params">
    <nvpair id="vm1-vm" name="vm" value="vm1"/>
    <nvpair id="vm1-config" name="config" value="$T/shared/vm1.json"/>
    <nvpair id="vm1-vmctl" name="vmctl" value="$VMCTL_BIN"/>
    <nvpair id="vm1-hosts" name="migration_hosts" value="hosta=10.98.0.1 hostb=10.98.0.2"/>
    <nvpair id="vm1-st" name="shutdown_timeout" value="5"/>
  </instance_attributes>
  <meta_attributes id="vm1-meta">
    <nvpair id="vm1-allow-migrate" name="allow-migrate" value="true"/>
    <nvpair id="vm1-stickiness" name="resource-stickiness" value="100"/>
  </meta_attributes>
  <operations>
    <op id="vm1-monitor" name="monitor" interval="2s" timeout="20s"/>
    <op id="vm1-start" name="start" interval="0" timeout="120s"/>
    <op id="vm1-stop" name="stop" interval="0" timeout="60s"/>
    <op id="vm1-migrate-to" name="migrate_to" interval="0" timeout="120s"/>
    <op id="vm1-migrate-from" name="migrate_from" interval="0" timeout="60s"/>
  </operations>
</primitive>
XML
on a cibadmin -C -o resources --xml-file "$T/vm1.xml" || fail "cibadmin"

# where: the node whose vmms runs vm1 (a or b), or nothing
running_on() {
  local h
  for h in a b; do
    local addr=$ADDR; [ $h = b ] && addr=$ADDRB
    [ "$(ADDR=$addr vm_prop vm1 State 2>/dev/null)" = Running ] && echo $h
  done
}
for _ in $(seq 1200); do [ -n "$(running_on)" ] && break; sleep 0.1; done
X=$(running_on)
[ -n "$X" ] && [ "$(echo "$X" | wc -w)" = 1 ] || fail "vm1 runs on '$X' (after 120 s); a: $(tail -n 5 "$T/a/vmms.log") b: $(tail -n 5 "$T/b/vmms.log")"
Y=a; [ "$X" = a ] && Y=b
addr_of() { if [ "$1" = a ]; then echo "$ADDR"; else echo "$ADDRB"; fi; }
name_of() { if [ "$1" = a ]; then echo hosta; else echo hostb; fi; }
echo "Pacemaker started vm1 on $(name_of "$X")"
on "$X" crm_resource --locate -r vm1 | grep -q "$(name_of "$X")" || fail "crm_resource --locate: $(on "$X" crm_resource --locate -r vm1)"

# The guest's progress lines (vsc.mode=soak) on node H's console log.
prog() { # H KEY [first]: the KEY= of the last complete progress line (or the first)
  local log pick=tail
  [ "${3:-}" = first ] && pick=head
  log=$(ADDR=$(addr_of "$1") vm_prop vm1 ConsoleLog) || return 1
  grep '^VSC soak_progress .*dup=[0-9]*$' "$log" 2>/dev/null | $pick -n 1 | sed -n "s/.* $2=\([0-9]*\).*/\1/p"
}
moved() { # H W A: written and answered grew past W and A (no fail: wait_for hides its output)
  local w a
  w=$(prog "$1" written) a=$(prog "$1" answered)
  [ "${w:-0}" -gt "$2" ] && [ "${a:-0}" -gt "$3" ]
}
no_bad() { [ "$(prog "$1" bad)" = 0 ] || fail "bad blocks on $1: $(prog "$1" bad)"; }
wait_for 120 "the guest's disk and network traffic on $X" moved "$X" 0 0
w=$(prog "$X" written) a=$(prog "$X" answered)
wait_for 30 "more traffic on $X" moved "$X" "$w" "$a"
no_bad "$X"

note "crm_resource --move: Pacemaker live-migrates it"
lost0=$(prog "$X" lost) pings0=$(prog "$X" pings)
t0=$(date +%s%N)
on "$X" crm_resource --move -r vm1 -N "$(name_of "$Y")" >/dev/null 2>&1 || fail "crm_resource --move"
for _ in $(seq 600); do [ "$(running_on)" = "$Y" ] && break; sleep 0.1; done
[ "$(running_on)" = "$Y" ] || fail "vm1 runs on '$(running_on)' after the move"
t1=$(date +%s%N)
wait_for 30 "$(name_of "$X") to forget vm1" sh -c "! '$VMCTL_BIN' --address='$(addr_of "$X")' show vm1 >/dev/null 2>&1"
mig=$(grep "vm vm1: migrated to 10.98.0" "$T/$X/vmms.log" | tail -n 1)
[ -n "$mig" ] || fail "no live migration in $(name_of "$X")'s vmms log (a stop and start instead?): $(grep vm1 "$T/$X/vmms.log" | tail -n 5)"
echo "crm_resource --move to vm1 running on $(name_of "$Y"): $(((t1 - t0) / 1000000)) ms; $X's vmms: ${mig#*: }"
grep -q "migrate_to" "$T/$X/log-pacemaker/pacemaker.log" || fail "Pacemaker did not run migrate_to"
wait_for 60 "the guest's traffic on $Y after the move" moved "$Y" 0 0
w=$(prog "$Y" written) a=$(prog "$Y" answered)
wait_for 30 "more traffic on $Y" moved "$Y" "$w" "$a"
no_bad "$Y"
# The pings in flight at the move are below the count on the first
# progress line on the destination: once all of those are answered or
# lost, the move's losses are known.
first=$(prog "$Y" pings first)
resolved() { [ "$(prog "$Y" resolved)" -ge "$first" ] 2>/dev/null; }
wait_for 30 "the pings in flight at the move to be answered or lost" resolved
lost=$(( $(prog "$Y" lost) - lost0 ))
echo "pings during the move: $(( $(prog "$Y" pings) - pings0 )) sent, $lost lost (at most the window, $WINDOW)"
[ "$lost" -ge 0 ] && [ "$lost" -le "$WINDOW" ] || fail "the move lost $lost pings"
on "$Y" crm_resource --clear -r vm1 >/dev/null 2>&1 || fail "crm_resource --clear"
mon=$(on "$Y" cibadmin -Q -o status 2>/dev/null | grep -o 'operation="monitor"[^>]*exec-time="[0-9]*"' |
  sed 's/.*exec-time="\([0-9]*\)"/\1/' | sort -n | tail -n 1)
echo "monitor exec-time recorded by Pacemaker: ${mon:-?} ms (target <= 50 ms)"

note "$(name_of "$Y") dies: Pacemaker starts vm1 on $(name_of "$X")"
ns=$NS_A; [ "$Y" = b ] && ns=$NS_B
wpid=$(ADDR=$(addr_of "$Y") vm_prop vm1 WorkerPid)
t0=$(date +%s%N)
for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null; done
[ -n "$wpid" ] && kill -9 "$wpid" 2>/dev/null
for _ in $(seq 600); do
  [ "$(ADDR=$(addr_of "$X") vm_prop vm1 State 2>/dev/null)" = Running ] && break
  sleep 0.1
done
t2=$(date +%s%N)
[ "$(ADDR=$(addr_of "$X") vm_prop vm1 State 2>/dev/null)" = Running ] ||
  fail "vm1 did not come back on $(name_of "$X"): $(grep -E "vm1|VM\(" "$T/$X/log-pacemaker/pacemaker.log" | tail -n 5)"
# The survivor's own times (its log, ms resolution): the controller learns
# the node is lost; the start it then ran is confirmed.
PL=$T/$X/log-pacemaker/pacemaker.log
log_ms() { date -d "$(grep "$1" "$PL" | tail -n 1 | cut -c1-19)" +%s%3N 2>/dev/null; }
lost_ms=$(log_ms "Cluster node $(name_of "$Y") is now lost")
start_ms=$(log_ms "Result of start operation for vm1 on $(name_of "$X"): ok")
[ -n "$lost_ms" ] && [ -n "$start_ms" ] || fail "the survivor's log lacks the loss or the start: $(grep -E "lost|vm1_start" "$PL" | tail -n 4)"
echo "node lost: Pacemaker saw it $((lost_ms - t0 / 1000000)) ms after the kill (Corosync: token 3000 ms + consensus 3600 ms);" \
  "vm1 started on the survivor $((start_ms - lost_ms)) ms after that (target <= 5000 ms), seen running $(((t2 - t0) / 1000000)) ms after the kill"
wait_for 120 "the guest's traffic on $X after the failover" moved "$X" 0 0
no_bad "$X"
note "$(name_of "$Y") comes back; vm1 stopped with save_on_stop: its state goes to the shared directory"
node_start "$Y"
wait_for 90 "$(name_of "$Y") online again" sh -c "nsenter -t \$(cat '$T/$X/pid') -m -n -u crm_mon -1 2>/dev/null | grep -q 'Online: \[ hosta hostb \]'"
[ "$(running_on)" = "$X" ] || fail "vm1 runs on '$(running_on)' after $(name_of "$Y") came back"
# The rejoin settles first: crm_mon shows the node online before the join
# has finished, and the join's CIB sync may replace the DC's CIB with the
# returning node's copy, a parameter set meanwhile with it.
on "$X" crm_resource --wait --timeout=60s >/dev/null 2>&1 || fail "the cluster did not settle after $(name_of "$Y") came back"
on "$X" crm_resource -r vm1 -p save_on_stop -v true >/dev/null 2>&1 || fail "setting save_on_stop"
# A reload (no restart: every parameter but vm and config is read afresh);
# a stop before it would run with the parameters of the last start.
reloaded() { grep -q "Result of reload operation for vm1 on $(name_of "$X"): ok" "$T/$X/log-pacemaker/pacemaker.log"; }
for _ in $(seq 300); do reloaded && break; sleep 0.1; done
reloaded || fail "no reload for save_on_stop in 30 s; save_on_stop in the CIB: '$(on "$X" crm_resource -r vm1 -g save_on_stop 2>&1)';" \
  "vm1's operations: $(grep -E "Result of [a-z_]+ operation for vm1|Initiating [a-z_-]+ operation vm1|vm1.*changed" \
    "$T/$X/log-pacemaker/pacemaker.log" | tail -n 8 | cut -c1-200)"
w=$(prog "$X" written) a=$(prog "$X" answered)
wait_for 30 "traffic on $X" moved "$X" "$w" "$a"
# A lower bound of what the guest wrote before the save (the node forgets
# the VM and its console log once it is exported).
saved_written=$(prog "$X" written)
on "$X" crm_resource -r vm1 --meta -p target-role -v Stopped >/dev/null 2>&1 || fail "target-role Stopped"
wait_for 60 "vm1 saved and exported" sh -c "[ -f '$T/shared/vm1.saved/state.vmrs' ] && grep -q 'exported' '$T/shared/vm1.owner'"
[ -z "$(running_on)" ] || fail "vm1 still runs on $(running_on)"
echo "saved on $(name_of "$X"): $(stat -c %s "$T/shared/vm1.saved/state.vmrs") bytes in the shared directory; the guest had written over $saved_written blocks"

note "$(name_of "$X") dies; vm1 started on $(name_of "$Y") resumes the state $(name_of "$X") saved"
ns=$NS_A; [ "$X" = b ] && ns=$NS_B
for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null; done
wait_for 30 "$(name_of "$Y") to see $(name_of "$X") lost" sh -c "grep -q 'Cluster node $(name_of "$X") is now lost' '$T/$Y/log-pacemaker/pacemaker.log'"
on "$Y" crm_resource -r vm1 --meta -p target-role -v Started >/dev/null 2>&1 || fail "target-role Started"
for _ in $(seq 600); do [ "$(running_on)" = "$Y" ] && break; sleep 0.1; done
[ "$(running_on)" = "$Y" ] || fail "vm1 did not start on $(name_of "$Y"): $(grep -E "vm1" "$T/$Y/log-pacemaker/pacemaker.log" | tail -n 5)"
grep -q "vm vm1: saved state imported" "$T/$Y/vmms.log" && grep -q "vm vm1: Saved -> Starting" "$T/$Y/vmms.log" ||
  fail "$(name_of "$Y") did not resume the saved state: $(grep 'vm vm1' "$T/$Y/vmms.log" | tail -n 5)"
[ ! -e "$T/shared/vm1.saved" ] || fail "the shared state was not consumed"
# The guest goes on where it was saved: its counters continue (a fresh
# boot would count from 0).
wait_for 60 "the resumed guest's traffic on $Y" moved "$Y" 0 0
first=$(prog "$Y" written first)
[ "$first" -ge "$saved_written" ] || fail "the guest on $Y starts at $first blocks written, it had $saved_written: not resumed"
no_bad "$Y"
echo "resumed on $(name_of "$Y") at $first blocks written (saved at $saved_written)"
echo PASS
