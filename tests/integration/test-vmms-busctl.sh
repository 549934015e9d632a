#!/bin/bash
# SPDX-License-Identifier: MIT
# The D-Bus API without vmctl: raw calls with busctl and gdbus (which prints
# error names), introspection, the ObjectManager, signals (VMAdded,
# VMRemoved, PropertiesChanged on each state change) and named errors.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
t_pick_worker
t_start_vmms
command -v gdbus >/dev/null || { echo "SKIP: gdbus (libglib2.0-bin) is needed to see error names"; exit 77; }
M="org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager"
gcall() { gdbus call --address="$ADDR" --dest org.vmstack.VMMS1 "$@" 2>&1; }

note "watch signals"
t_monitor "$T/signals.log" --dest org.vmstack.VMMS1

note "introspection"
bus introspect org.vmstack.VMMS1 /org/vmstack/VMMS1 >"$T/intro" || fail "introspect Manager"
for m in .CreateVM .CreateVMWithCloudInit .ListVMs .GetVM .GetHostCapabilities .VMAdded .VMRemoved .Version .Problems; do
  grep -q "^\\$m " "$T/intro" || fail "Manager lacks $m"
done

note "CreateVM"
CFG=$(vm_json raw1)
out=$(bus call $M CreateVM s "$CFG") || fail "CreateVM: $out"
P=$(echo "$out" | sed -n 's/^o "\(.*\)"$/\1/p')
echo "$P" | grep -Eq '^/org/vmstack/VMMS1/vm/[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}$' || fail "path $P"
ID=$(bus get-property org.vmstack.VMMS1 "$P" org.vmstack.VMMS1.VM Id | sed 's/^s "\(.*\)"$/\1/')
[ "$(echo "$ID" | tr - _)" = "${P##*/}" ] || fail "path does not encode the id"
bus introspect org.vmstack.VMMS1 "$P" >"$T/vmintro" || fail "introspect VM"
for m in .Start .Stop .Kill .Reboot .Pause .Resume .Delete .Update .OpenConsole .State .Id .Name .Config \
         .WorkerPid .Uptime .ExitReason .Heartbeat; do
  grep -q "^\\$m " "$T/vmintro" || fail "VM lacks $m"
done
bus tree org.vmstack.VMMS1 | grep -q "${P##*/}" || fail "the VM is not in the object tree"
bus call org.vmstack.VMMS1 /org/vmstack/VMMS1 org.freedesktop.DBus.ObjectManager GetManagedObjects | grep -q "$P" ||
  fail "GetManagedObjects lacks the VM"

note "GetVM by name and by id, ListVMs"
[ "$(bus call $M GetVM s raw1)" = "o \"$P\"" ] || fail "GetVM name"
[ "$(bus call $M GetVM s "$ID")" = "o \"$P\"" ] || fail "GetVM id"
bus call $M ListVMs | grep -q "\"$P\" \"$ID\" \"raw1\" \"Off\"" || fail "ListVMs: $(bus call $M ListVMs)"
bus call $M GetHostCapabilities | grep -q '"vmstack_version" s "' || fail "GetHostCapabilities"
bus call $M GetHostCapabilities | grep -qF "\"storage_pools\" as 2 \"$T\" \"$VM_BUILD_DIR\"" ||
  fail "GetHostCapabilities: storage_pools: $(bus call $M GetHostCapabilities)"

note "lifecycle"
V="org.vmstack.VMMS1 $P org.vmstack.VMMS1.VM"
bus call $V Start || fail "Start"
for _ in $(seq 600); do [ "$(bus get-property $V State)" = 's "Running"' ] && break; sleep 0.1; done
[ "$(bus get-property $V State)" = 's "Running"' ] || fail "not Running"
bus get-property $V Uptime | grep -Eq '^t [0-9]+$' || fail "Uptime"
bus get-property $V Heartbeat | grep -Eq '^\(st\) "(ok|no-contact)" [0-9]+$' || fail "Heartbeat $(bus get-property $V Heartbeat)"
bus call $V Pause && [ "$(bus get-property $V State)" = 's "Paused"' ] || fail "Pause"
bus call $V Resume && [ "$(bus get-property $V State)" = 's "Running"' ] || fail "Resume"
bus call $V Stop u 1 || fail "Stop"
for _ in $(seq 600); do [ "$(bus get-property $V State)" = 's "Off"' ] && break; sleep 0.1; done
[ "$(bus get-property $V State)" = 's "Off"' ] || fail "not Off after Stop"

note "named errors"
gcall --object-path /org/vmstack/VMMS1 --method org.vmstack.VMMS1.Manager.GetVM nosuch | grep -q "org.vmstack.Error.NoSuchVM" || fail "NoSuchVM"
gcall --object-path /org/vmstack/VMMS1 --method org.vmstack.VMMS1.Manager.GetVM "bad name" | grep -q "org.vmstack.Error.InvalidArgument" || fail "InvalidArgument"
out=$(gcall --object-path "$P" --method org.vmstack.VMMS1.VM.Pause)
echo "$out" | grep -q "org.vmstack.Error.InvalidState.*Pause is not possible while the VM is Off" || fail "InvalidState: $out"
# Migrate's auto-converge option is a boolean (checked before the state).
out=$(gcall --object-path "$P" --method org.vmstack.VMMS1.VM.Migrate 127.0.0.1:1 "{'auto-converge': <'no'>}")
echo "$out" | grep -q "org.vmstack.Error.InvalidArgument.*options: auto-converge: wrong type" || fail "auto-converge: $out"
out=$(gcall --object-path "$P" --method org.vmstack.VMMS1.VM.Migrate 127.0.0.1:1 "{'postcopy': <1>}")
echo "$out" | grep -q "org.vmstack.Error.InvalidArgument.*options: postcopy: wrong type" || fail "postcopy: $out"
out=$(vmctl migrate "$P" 127.0.0.1:1 --quick --postcopy 2>&1) && fail "vmctl migrate --quick --postcopy: $out"
echo "$out" | grep -q "postcopy is a way to end a live migration: not with --quick" || fail "--quick --postcopy: $out"
out=$(gcall --object-path "$P" --method org.vmstack.VMMS1.VM.Migrate 127.0.0.1:1 "{'auto-converge': <false>}")
echo "$out" | grep -q "org.vmstack.Error.InvalidState.*Migrate is not possible while the VM is Off" || fail "Migrate when Off: $out"
out=$(gcall --object-path "$P" --method org.vmstack.VMMS1.VM.Stop 4000)
echo "$out" | grep -q "org.vmstack.Error.InvalidState" || fail "Stop when Off: $out"
bus call $V Start >/dev/null
out=$(gcall --object-path "$P" --method org.vmstack.VMMS1.VM.Stop 4000)
echo "$out" | grep -q "org.vmstack.Error.InvalidArgument.*timeout: must be" || fail "bad timeout: $out"
bus call $V Kill >/dev/null
out=$(gcall --object-path /org/vmstack/VMMS1 --method org.vmstack.VMMS1.Manager.CreateVM '{"name":"x","vcpus":999,"boot":{"kernel":"/k"}}')
echo "$out" | grep -q "org.vmstack.Error.InvalidConfig.*vcpus: must be between 1 and 64" || fail "InvalidConfig: $out"
out=$(gcall --object-path /org/vmstack/VMMS1 --method org.vmstack.VMMS1.Manager.CreateVM '{"name":"y","boot":{"kernel":"/k"},"colour":"red"}')
echo "$out" | grep -q "org.vmstack.Error.InvalidConfig.*colour: unknown field" || fail "unknown field: $out"
out=$(gcall --object-path /org/vmstack/VMMS1 --method org.vmstack.VMMS1.Manager.CreateVM "$CFG")
echo "$out" | grep -q "org.vmstack.Error.Exists.*name: a VM named 'raw1' exists" || fail "Exists: $out"
big=$(head -c 70000 /dev/zero | tr '\0' ' ')
out=$(gcall --object-path /org/vmstack/VMMS1 --method org.vmstack.VMMS1.Manager.CreateVM "{$big}")
echo "$out" | grep -q "org.vmstack.Error.InvalidConfig.*larger than 65536 bytes" || fail "size limit: $out"
out=$(gcall --object-path /org/vmstack/VMMS1/vm/00000000_0000_4000_8000_000000000000 --method org.vmstack.VMMS1.VM.Start)
echo "$out" | grep -q "UnknownObject\|UnknownMethod" || fail "unknown VM object: $out"

note "Update and Delete"
bus call $V Update s "$(vm_json raw1-renamed)" || fail "Update"
[ "$(bus get-property $V Name)" = 's "raw1-renamed"' ] || fail "Name after Update"
bus call $V Delete || fail "Delete"
out=$(gcall --object-path "$P" --method org.vmstack.VMMS1.VM.Start)
echo "$out" | grep -q "UnknownObject\|UnknownMethod" || fail "deleted VM still answers: $out"
sleep 0.5
kill $MON 2>/dev/null; wait $MON 2>/dev/null

note "signals seen"
grep -q "org.vmstack.VMMS1.Manager.VMAdded (objectpath '$P', '$ID', 'raw1')" "$T/signals.log" || fail "no VMAdded: $(head -5 "$T/signals.log")"
grep -q "org.vmstack.VMMS1.Manager.VMRemoved (objectpath '$P', '$ID', 'raw1-renamed')" "$T/signals.log" || fail "no VMRemoved"
for s in Starting Running Paused Stopping Off; do
  grep -q "PropertiesChanged ('org.vmstack.VMMS1.VM', {'State': <'$s'>" "$T/signals.log" || fail "no PropertiesChanged to $s"
done
grep -q "InterfacesAdded (objectpath '$P'" "$T/signals.log" || fail "no InterfacesAdded"
grep -q "InterfacesRemoved (objectpath '$P'" "$T/signals.log" || fail "no InterfacesRemoved"
echo "PASS (worker: $WORKER_KIND)"
