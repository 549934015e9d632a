#!/bin/bash
# SPDX-License-Identifier: MIT
# The Pacemaker resource agent ocf:vmstack:VM (packaging/ocf/VM,
# docs/clustering.md) against two vmms "nodes" on loopback (host A and
# host B of vmms-lib.sh), run the way Pacemaker runs it (OCF_RESKEY_*
# in the environment, OCF exit codes):
#   ocf-tester (resource-agents) passes: meta-data against ra-api-1.dtd,
#     validate-all, probes, start/stop twice, monitor of both;
#   the monitor's latency (median of 20, printed; target <= 50 ms);
#   validate-all refuses bad parameters (6) and says what is not on this
#     node (5); a node that does not know the VM and has no config: 5;
#   vmms unreachable (no bus) or hung (SIGSTOP): monitor, probe, start and
#     stop answer 1 (an error), never 7, and within the action's timeout;
#   migrate_to A->B (live) and migrate_from on B: the VM runs on B only,
#     its guest goes on; B->A quick; a failed live migration (a vmctl
#     whose live migrate fails) falls back to quick and the VM moves;
#   stop of a guest that ignores the shutdown request: vmms stops the
#     worker after shutdown_timeout and the agent logs it; the node
#     forgets the VM (its definition, not its disk) and the ledger says off;
#   save_on_stop: stop saves and exports the state to the shared
#     directory, the node forgets the VM; a start on the other node resumes
#     it (same id, the guest's sweep goes on) and consumes the export; a
#     state the export could not share resumes on its own node only, and
#     once the VM ran elsewhere it is discarded, never resumed; a shared
#     state that cannot be resumed (a flipped byte) is set aside, the VM
#     boots.
set -u
source "$(dirname "$0")/vmms-lib.sh"
AGENT=$(cd "$(dirname "$0")/../.." && pwd)/packaging/ocf/VM
command -v ocf-tester >/dev/null || { echo "SKIP: ocf-tester missing (scripts/deps.sh installs resource-agents)"; exit 77; }
[ -f /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ] || { echo "SKIP: resource-agents' ocf-shellfuncs missing"; exit 77; }
t_setup
t_pick_worker
read -r PA PB < <(t_free_ports 2)
[ -n "$PB" ] || fail "no free ports"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA
t_host_b_start "$PB" --migration-insecure
S=$T/shared
mkdir -p "$S"
chmod 755 "$AGENT" 2>/dev/null || true

# ra NODE ACTION [NAME=VALUE...]: the agent as Pacemaker runs it on node
# "a" or "b" for resource VM (RA_VM, RA_CONFIG); RA_RC its exit code,
# RA_OUT what it printed, $T/ra.log what it logged.
RA_VM=vm1 RA_CONFIG=
ra() {
  local node=$1 action=$2 addr=$ADDR; shift 2
  [ "$node" = b ] && addr=$ADDRB
  RA_OUT=$(env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE="$RA_VM" HA_LOGFACILITY=none HA_LOGFILE="$T/ra.log" \
    OCF_RESKEY_vm="$RA_VM" OCF_RESKEY_config="$RA_CONFIG" OCF_RESKEY_vmctl="$VMCTL_BIN" \
    OCF_RESKEY_bus_address="$addr" OCF_RESKEY_CRM_meta_on_node="node$node" \
    OCF_RESKEY_migration_hosts="nodea=127.0.0.1:$PA nodeb=127.0.0.1:$PB" \
    OCF_RESKEY_CRM_meta_timeout=60000 OCF_RESKEY_CRM_meta_interval=10000 \
    "$@" "$AGENT" "$action" 2>&1 </dev/null)
  RA_RC=$?
}
expect_ra() { # RC NODE ACTION [NAME=VALUE...]
  local want=$1; shift
  ra "$@"
  [ "$RA_RC" = "$want" ] || fail "agent $* on node $1: rc $RA_RC, expected $want: $RA_OUT $(tail -n 5 "$T/ra.log" 2>/dev/null)"
}
logged() { grep -q -- "$1" "$T/ra.log" 2>/dev/null || fail "the agent did not log '$1': $(tail -n 8 "$T/ra.log" 2>/dev/null)"; }
ledger() { cat "$S/$RA_VM.owner" 2>/dev/null | cut -d' ' -f1,2; }
absent_on() { # ADDRESS VM: vmms there does not know it
  "$VMCTL_BIN" --address="$1" show "$2" >/dev/null 2>&1
  [ $? = 3 ] || fail "$2 is still defined on $1"
}
# The guest: the idle HLT guest (powers off on the ACPI power button) for
# the ocf-tester run; a memory-sweeping guest that ignores the button for
# the migrations (a lost page prints "dirty BAD").
vm_json ocft >"$S/ocft.json"
if [ "$WORKER_KIND" = real ]; then
  printf '{"name":"x","memory_mib":64,"vcpus":1,"restart_policy":"never","boot":{"kernel":"%s","cmdline":"w"}}' \
    "$VM_BUILD_DIR/tests/tg_vmwp_basic.elf" >"$S/vm1.json"
else
  vm_json x "fake.vmstate fake.ignore_acpi" ',"restart_policy":"never"' >"$S/vm1.json"
fi
chmod 644 "$S"/*.json

note "ocf-tester"
out=$(env HA_LOGFACILITY=none HA_LOGFILE="$T/ocft.log" OCF_RESKEY_CRM_meta_on_node=nodea ocf-tester -v -n ocft \
  -o vm=ocft -o config="$S/ocft.json" -o vmctl="$VMCTL_BIN" -o bus_address="$ADDR" -o shutdown_timeout=10 \
  "$AGENT" 2>&1)
rc=$?
echo "$out" | grep -E "^\*|passed|failed" || true
[ $rc = 0 ] && echo "$out" | grep -q "passed all tests" || fail "ocf-tester: rc $rc: $out"
absent_on "$ADDR" ocft
[ "$(RA_VM=ocft ledger)" = "nodea off" ] || fail "ledger after ocf-tester: $(RA_VM=ocft ledger)"

note "monitor latency"
RA_VM=ocft RA_CONFIG=$S/ocft.json expect_ra 0 a start
lat=()
for _ in $(seq 20); do
  t0=$(date +%s%N)
  RA_VM=ocft ra a monitor
  lat+=($(( ($(date +%s%N) - t0) / 1000 )))
  [ "$RA_RC" = 0 ] || fail "monitor of a running VM: $RA_RC ($RA_OUT)"
done
med=$(printf '%s\n' "${lat[@]}" | sort -n | sed -n 10p)
# The floor under it: the one vmctl call the monitor makes, alone.
lat=()
for _ in $(seq 20); do
  t0=$(date +%s%N)
  vmctl show ocft >/dev/null || fail "vmctl show ocft"
  lat+=($(( ($(date +%s%N) - t0) / 1000 )))
done
base=$(printf '%s\n' "${lat[@]}" | sort -n | sed -n 10p)
echo "monitor latency: median $((med / 1000)).$(( (med % 1000) / 100 )) ms over 20 calls (target <= 50 ms);" \
  "vmctl show alone: median $((base / 1000)).$(( (base % 1000) / 100 )) ms"
RA_VM=ocft RA_CONFIG=$S/ocft.json expect_ra 0 a stop
absent_on "$ADDR" ocft

note "validate-all"
RA_CONFIG=$S/vm1.json
expect_ra 0 a validate-all
expect_ra 6 a validate-all OCF_RESKEY_vm=
expect_ra 6 a validate-all OCF_RESKEY_vm="a/b"
expect_ra 6 a validate-all OCF_RESKEY_migration_mode=fast
expect_ra 6 a validate-all OCF_RESKEY_max_downtime=abc
expect_ra 6 a validate-all OCF_RESKEY_shutdown_timeout=0
expect_ra 6 a validate-all OCF_RESKEY_save_on_stop=maybe
expect_ra 6 a validate-all OCF_RESKEY_migration_hosts="nodea"
expect_ra 6 a validate-all OCF_RESKEY_config= OCF_RESKEY_save_on_stop=true
expect_ra 5 a validate-all OCF_RESKEY_config="$S/missing.json"
expect_ra 5 a validate-all OCF_RESKEY_vmctl=/nonexistent/vmctl
expect_ra 5 a start OCF_RESKEY_config=
expect_ra 7 a monitor OCF_RESKEY_config="$S/missing.json" OCF_RESKEY_CRM_meta_interval=0
expect_ra 3 a promote

note "vmms unreachable or hung: an error, never 'stopped'"
for a in monitor start stop; do
  expect_ra 1 a $a OCF_RESKEY_bus_address="unix:path=$T/no-such-bus"
done
expect_ra 1 a monitor OCF_RESKEY_bus_address="unix:path=$T/no-such-bus" OCF_RESKEY_CRM_meta_interval=0
grep -q "cannot ask vmms" <<<"$RA_OUT$(tail -n 3 "$T/ra.log")" || fail "no reason given: $RA_OUT"
kill -STOP "$BVMMS"
t0=$SECONDS
expect_ra 1 b monitor OCF_RESKEY_CRM_meta_timeout=5000
kill -CONT "$BVMMS"
[ $((SECONDS - t0)) -le 8 ] || fail "the monitor of a hung vmms took $((SECONDS - t0)) s (timeout 5 s)"

note "start on A defines the VM from the shared configuration"
expect_ra 0 a start
[ "$(vm_prop vm1 State)" = Running ] || fail "vm1 on A: $(vm_prop vm1 State)"
logged "vm1: defined on nodea"
[ "$(ledger)" = "nodea running" ] || fail "ledger: $(ledger)"
expect_ra 0 a monitor
expect_ra 7 b monitor OCF_RESKEY_CRM_meta_interval=0
expect_ra 0 a start
t_sweeping "$ADDR" vm1

note "migrate_to A -> B (live), migrate_from on B"
expect_ra 1 a migrate_to
expect_ra 0 a migrate_to OCF_RESKEY_CRM_meta_migrate_target=nodeb OCF_RESKEY_CRM_meta_migrate_source=nodea
expect_ra 0 b migrate_from OCF_RESKEY_CRM_meta_migrate_target=nodeb OCF_RESKEY_CRM_meta_migrate_source=nodea
absent_on "$ADDR" vm1
expect_ra 7 a monitor
expect_ra 0 b monitor
[ "$(ledger)" = "nodeb running" ] || fail "ledger: $(ledger)"
logged "vm1: live migration to nodeb"
t_sweeping "$ADDRB" vm1

note "migrate_to B -> A, migration_mode=quick"
expect_ra 0 b migrate_to OCF_RESKEY_CRM_meta_migrate_target=nodea OCF_RESKEY_migration_mode=quick
expect_ra 0 a migrate_from
absent_on "$ADDRB" vm1
expect_ra 0 a monitor
t_sweeping "$ADDR" vm1

note "a failed live migration falls back to quick"
cat >"$T/vmctl-nolive" <<EOF
#!/bin/bash
# vmctl, except that a live migration fails and leaves the VM running here
for a in "\$@"; do [ "\$a" = --live ] && { echo "vm1 cannot be migrated: the destination went away; it runs here"; exit 1; }; done
exec "$VMCTL_BIN" "\$@"
EOF
chmod 755 "$T/vmctl-nolive"
expect_ra 0 a migrate_to OCF_RESKEY_CRM_meta_migrate_target=nodeb OCF_RESKEY_vmctl="$T/vmctl-nolive"
expect_ra 0 b migrate_from
logged "vm1: falling back to a quick migration"
absent_on "$ADDR" vm1
expect_ra 0 b monitor
t_sweeping "$ADDRB" vm1

note "stop of a guest that ignores the shutdown request"
t0=$SECONDS
expect_ra 0 b stop OCF_RESKEY_shutdown_timeout=2
logged "vm1: the guest did not shut down within 2 s; vmms stopped its worker"
absent_on "$ADDRB" vm1
[ "$(ledger)" = "nodeb off" ] || fail "ledger: $(ledger)"
expect_ra 7 b monitor
expect_ra 0 b stop
echo "stop with a 2 s shutdown timeout: $((SECONDS - t0)) s"

note "save_on_stop: stop saves and exports; a start on the other node resumes it"
expect_ra 0 a start
t_sweeping "$ADDR" vm1
id=$(vm_prop vm1 Id)
expect_ra 0 a stop OCF_RESKEY_save_on_stop=true
logged "vm1: saved on nodea; its state is in $S/vm1.saved"
absent_on "$ADDR" vm1
[ "$(ledger)" = "nodea exported" ] || fail "ledger: $(ledger)"
[ "$(stat -c %a "$S/vm1.saved/state.vmrs")" = 600 ] || fail "the shared state: $(ls -la "$S/vm1.saved")"
grep -q "\"id\": *\"$id\"" "$S/vm1.saved/config.json" || fail "the exported configuration: $(cat "$S/vm1.saved/config.json")"
expect_ra 7 a monitor
expect_ra 7 b monitor OCF_RESKEY_CRM_meta_interval=0
expect_ra 0 a stop OCF_RESKEY_save_on_stop=true
expect_ra 0 b start
logged "vm1: resuming the state nodea saved"
[ "$(vm_prop_b vm1 Id)" = "$id" ] || fail "the id on B: $(vm_prop_b vm1 Id), A had $id"
grep -q "vm vm1: saved state imported" "$B/vmms.log" && grep -q "vm vm1: Saved -> Starting" "$B/vmms.log" ||
  fail "B did not resume the state: $(grep 'vm vm1' "$B/vmms.log" | tail -n 5)"
[ ! -e "$S/vm1.saved" ] || fail "the shared state was not consumed"
[ "$(ledger)" = "nodeb running" ] || fail "ledger: $(ledger)"
t_sweeping "$ADDRB" vm1

note "a state only its node holds (the export failed): resumed there; stale once the VM ran elsewhere"
cat >"$T/vmctl-noexport" <<EOF
#!/bin/bash
# vmctl, except that export-saved fails (a shared directory gone read-only)
for a in "\$@"; do [ "\$a" = export-saved ] && { echo "export-saved: Read-only file system"; exit 1; }; done
exec "$VMCTL_BIN" "\$@"
EOF
chmod 755 "$T/vmctl-noexport"
expect_ra 0 b stop OCF_RESKEY_save_on_stop=true OCF_RESKEY_vmctl="$T/vmctl-noexport"
logged "vm1: cannot export its saved state"
[ "$(vm_prop_b vm1 State)" = Saved ] || fail "after stop with save_on_stop: $(vm_prop_b vm1 State)"
[ "$(ledger)" = "nodeb saved" ] || fail "ledger: $(ledger)"
expect_ra 0 b start
logged "vm1: resuming from its saved state"
t_sweeping "$ADDRB" vm1
expect_ra 0 b stop OCF_RESKEY_save_on_stop=true OCF_RESKEY_vmctl="$T/vmctl-noexport"
[ "$(vm_prop_b vm1 State)" = Saved ] || fail "after stop with save_on_stop: $(vm_prop_b vm1 State)"
expect_ra 0 a start
[ "$(ledger)" = "nodea running" ] || fail "ledger: $(ledger)"
expect_ra 0 a stop OCF_RESKEY_shutdown_timeout=1
expect_ra 0 b start
logged "vm1: discarding this node's saved state: the VM was off on nodea since"
[ "$(vm_prop_b vm1 State)" = Running ] || fail "vm1 on B: $(vm_prop_b vm1 State)"
[ "$(vm_prop_b vm1 SavedStateSize)" = 0 ] || fail "a saved state is left: $(vm_prop_b vm1 SavedStateSize)"

note "a shared state that cannot be resumed is set aside; the VM boots"
expect_ra 0 b stop OCF_RESKEY_save_on_stop=true
[ -f "$S/vm1.saved/state.vmrs" ] || fail "no shared state"
size=$(stat -c %s "$S/vm1.saved/state.vmrs")
printf '\xff' | dd of="$S/vm1.saved/state.vmrs" bs=1 seek=$((size - 100)) conv=notrunc status=none
expect_ra 0 a start
logged "vm1: the shared saved state is refused"
[ "$(vm_prop vm1 State)" = Running ] || fail "vm1 on A: $(vm_prop vm1 State)"
[ ! -e "$S/vm1.saved" ] && ls -d "$S"/vm1.saved.refused.* >/dev/null 2>&1 || fail "not set aside: $(ls "$S")"
[ "$(ledger)" = "nodea running" ] || fail "ledger: $(ledger)"
expect_ra 0 a stop OCF_RESKEY_shutdown_timeout=1
absent_on "$ADDR" vm1
echo "PASS"
