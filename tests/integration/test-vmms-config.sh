#!/bin/bash
# SPDX-License-Identifier: MIT
# Configurations: invalid ones are refused naming the field; files in the
# state directory that cannot be used (corrupt JSON, invalid values, an id
# that does not match the file name, a duplicate name) are reported and
# skipped, left untouched, listed by vmctl host and flagged by vmctl list; Update/edit: what may change while running,
# disks and NICs added and removed while Off, merge patches and $EDITOR.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake

note "state directory with good and bad files"
K=$(t_kernel)
G1=11111111-1111-4111-8111-111111111111 G2=22222222-2222-4222-8222-222222222222
G3=33333333-3333-4333-8333-333333333333 G4=44444444-4444-4444-8444-444444444444
G5=55555555-5555-4555-8555-555555555555
printf '{"id":"%s","name":"good","boot":{"kernel":"%s"}}' $G1 "$K" >"$T/state/$G1.json"
printf '{"id":"%s","name":"trunc' $G2 >"$T/state/$G2.json"
printf '{"id":"%s","name":"badmem","memory_mib":3,"boot":{"kernel":"%s"}}' $G3 "$K" >"$T/state/$G3.json"
printf '{"id":"%s","name":"moved","boot":{"kernel":"%s"}}' $G1 "$K" >"$T/state/$G4.json"
printf '{"id":"%s","name":"good","boot":{"kernel":"%s"}}' $G5 "$K" >"$T/state/$G5.json"
echo "notes" >"$T/state/README"
echo "{}" >"$T/state/$G1.json.tmpAbC123"
sums=$(cd "$T/state" && md5sum ./* | sort)
t_start_vmms
expect_rc 0 vmctl list
echo "$LAST_OUT" | grep -qx "4 configuration files or runtime records could not be used: see vmctl host" ||
  fail "list does not flag the skipped files: $LAST_OUT"
[ "$(vmctl list 2>/dev/null | wc -l)" = 2 ] || fail "only 'good' should be loaded: $(vmctl list 2>&1)"
expect_rc 0 vmctl host
echo "$LAST_OUT" | grep -qF "  $T/state/$G3.json: invalid configuration: memory_mib" || fail "host: $LAST_OUT"
[ "$(vmctl host --json | jq '.problems | length')" = 4 ] || fail "host --json: $(vmctl host --json)"
P=$(bus get-property org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager Problems)
echo "$P" | grep -q "$G2.json: invalid configuration: invalid JSON" || fail "truncated file not reported: $P"
echo "$P" | grep -q "$G3.json: invalid configuration: memory_mib: must be between" || fail "badmem not reported: $P"
echo "$P" | grep -q "$G4.json: its id does not match the file name" || fail "id mismatch not reported: $P"
echo "$P" | grep -q "$G5.json: name \\\\\"good\\\\\" is already used by VM $G1" || fail "duplicate name not reported: $P"
grep -q "$G3.json: invalid configuration: memory_mib" "$T/vmms.log" || fail "not logged"
[ "$sums" = "$(cd "$T/state" && md5sum ./* | sort)" ] || fail "files in the state directory were changed"

note "invalid configurations name the field"
bad() { # json expected-substring
  echo "$1" >"$T/bad.json"
  expect_rc 4 vmctl create "$T/bad.json"
  echo "$LAST_OUT" | grep -qF "$2" || fail "'$1': $LAST_OUT"
}
bad '{"name":"x","boot":{"kind":"pvh"}}' 'pvh or linux needs a kernel: --kernel=PATH'
bad '{"name":"x","boot":{"kernel":"rel/k"}}' 'boot.kernel: must be an absolute path'
bad '{"name":"x","boot":{"kernel":"/k"},"disks":[{"path":"/d","lun":70}]}' 'disks[0].lun: must be between 0 and 63'
bad '{"name":"x","boot":{"kernel":"/k"},"nics":[{"mac":"01:00:00:00:00:01"}]}' 'nics[0].mac: must be a unicast address'
bad '{"name":"bad name","boot":{"kernel":"/k"}}' 'name: must be 1-64 characters'
bad '[1,2]' 'the configuration must be a JSON object ({...}), not an array'
bad '{"name":"x","memory_mib":64,"memory_mib":128,"boot":{"kernel":"/k"}}' 'memory_mib: appears twice in one object'
bad '{"name":"x","boot":{"kernel":"/k"},"nics":[{"mac":"00:00:00:00:00:00"}]}' 'nics[0].mac: 00:00:00:00:00:00 is not a valid address'
bad '{"name":"x","boot":{"kernel":"/k"},"disks":[{"path":"/d"},{"path":"/d","lun":1}]}' 'disks[1].path: /d is disks[0] already'
expect_rc 4 vmctl create --name=nokernel --memory=64 --boot=linux
echo "$LAST_OUT" | grep -qF "needs a kernel: --kernel=PATH" || fail "create --boot=linux without --kernel: $LAST_OUT"
expect_rc 4 vmctl create --name=x --kernel=/k --vcpus=65
echo "$LAST_OUT" | grep -qF "vcpus: needs a number from 1 to 64" || fail "vcpus range: $LAST_OUT"
# vmms says the same for what vmctl checks (raw D-Bus):
for j in '[1]|not an array' '{"name":"x","name":"y","boot":{"kernel":"/k"}}|name: appears twice' \
         '{"name":"x"}|boot.kernel: is required'; do
  out=$(bus call org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager CreateVM s "${j%|*}" 2>&1)
  echo "$out" | grep -qF "${j#*|}" || fail "vmms, ${j%|*}: $out"
done
# Past vmctl's own check, vmms says the same (raw D-Bus):
out=$(bus call org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager CreateVM s \
  '{"name":"x","boot":{"kernel":"/k"},"restart_policy":"sometimes"}' 2>&1)
echo "$out" | grep -q 'restart_policy: unknown value "sometimes"' || fail "vmms: $out"

note "Update: while running only name, restart policy and stop timeout"
t_create web
expect_rc 0 vmctl start web
expect_rc 0 vmctl edit web --restart-policy=always --stop-timeout=5 --name=web2
[ "$(vm_prop web2 State)" = Running ] || fail "renamed VM"
expect_rc 5 vmctl edit web2 --memory=128
echo "$LAST_OUT" | grep -q "memory_mib: can only change while the VM is Off or Crashed (it is Running)" || fail "edit running: $LAST_OUT"
expect_rc 10 vmctl edit web2 --name=good
expect_rc 4 vmctl edit web2 --vcpus=0
expect_rc 0 vmctl kill web2

note "Update while Off: add and remove disks and NICs"
truncate -s 1M "$T/images/a.img" "$T/images/b.img"
expect_rc 0 vmctl edit web2 --disk="$T/images/a.img" --disk="$T/images/b.img,ro" --nic=auto --memory=128
C=$(vm_prop web2 Config)
echo "$C" | grep -q "a.img" && echo "$C" | grep -q "b.img" && echo "$C" | grep -q '\\"memory_mib\\":128' || fail "added: $C"
expect_rc 0 vmctl start web2
expect_rc 0 vmctl console web2 --read-only --timeout=1
echo "$LAST_OUT" | grep -q "booting (2 disks, 1 nics)" || grep -q "booting (2 disks, 1 nics)" "$(vm_prop web2 ConsoleLog)" ||
  fail "the worker did not get 2 disks and 1 NIC"
expect_rc 0 vmctl kill web2
expect_rc 0 vmctl edit web2 --remove-disk=0 --remove-nic=0
C=$(vm_prop web2 Config)
echo "$C" | grep -q "a.img" && fail "disk 0 not removed: $C"
grep -q '"mac"' "$T/state/$(vm_prop web2 Id).json" && fail "NIC not removed: $C"

note "merge patch and \$EDITOR"
echo '{"memory_mib": 96, "integration": {"kvp": false}}' >"$T/patch.json"
expect_rc 0 vmctl edit web2 --patch="$T/patch.json"
C=$(vm_prop web2 Config)
echo "$C" | grep -q '\\"memory_mib\\":96' && echo "$C" | grep -q '\\"kvp\\":false' || fail "patch: $C"
echo '{"id": "00000000-0000-4000-8000-000000000001"}' >"$T/patch2.json"
expect_rc 4 vmctl edit web2 --patch="$T/patch2.json"
echo "$LAST_OUT" | grep -q "id: cannot be changed" || fail "id patch: $LAST_OUT"
printf '#!/bin/sh\nsed -i "s/\\"vcpus\\":1/\\"vcpus\\":2/" "$1"\n' >"$T/editor.sh"; chmod +x "$T/editor.sh"
EDITOR="$T/editor.sh" expect_rc 0 vmctl edit web2
vm_prop web2 Config | grep -q '\\"vcpus\\":2' || fail "editor change lost"
printf '#!/bin/sh\nsed -i "s/\\"vcpus\\":2/\\"vcpus\\":99/" "$1"\n' >"$T/bad-editor.sh"; chmod +x "$T/bad-editor.sh"
EDITOR="$T/bad-editor.sh" expect_rc 4 vmctl edit web2
echo "$LAST_OUT" | grep -q "vcpus: must be between" && echo "$LAST_OUT" | grep -q "your edit is kept in /tmp/vmctl-edit-" ||
  fail "rejected edit: $LAST_OUT"
kept=$(echo "$LAST_OUT" | sed -n 's/.*kept in \([^ ]*\) .*/\1/p')
grep -q '"vcpus":99' "$kept" || fail "the rejected edit was not kept"
rm -f "$kept"
printf '#!/bin/sh\ntrue\n' >"$T/noop.sh"; chmod +x "$T/noop.sh"
EDITOR="$T/noop.sh" expect_rc 0 vmctl edit web2
echo "$LAST_OUT" | grep -q "no changes" || fail "unchanged edit: $LAST_OUT"

note "memory above the host's RAM: refused at create, edit and start unless forced"
HOST_MIB=$(( $(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo) / 1024 ))
BIG=$((HOST_MIB + 1))
G6=66666666-6666-4666-8666-666666666666
if [ "$BIG" -le 262144 ]; then # memory_mib's own limit
  expect_rc 4 vmctl create --name=big --memory=$BIG --kernel="$K"
  echo "$LAST_OUT" | grep -qF "memory_mib: $BIG MiB is more than this host's memory ($HOST_MIB MiB); set \"allow_memory_over_host\": true (vmctl --force)" ||
    fail "create above the host's memory: $LAST_OUT"
  expect_rc 0 vmctl create --name=big --memory=$BIG --kernel="$K" --force
  vm_prop big Config | grep -q 'allow_memory_over_host[\"]*:true' || fail "--force not kept: $(vm_prop big Config)"
  expect_rc 0 vmctl start big
  expect_rc 0 vmctl kill big
  expect_rc 0 vmctl edit big --stop-timeout=5 # the size was accepted: other edits go on
  echo '{"allow_memory_over_host": null}' >"$T/unforce.json"
  expect_rc 4 vmctl edit big --patch="$T/unforce.json"
  echo "$LAST_OUT" | grep -qF "memory_mib: $BIG MiB is more than this host's memory" || fail "allowance removed: $LAST_OUT"
  expect_rc 0 vmctl create --name=small --memory=64 --kernel="$K"
  expect_rc 4 vmctl edit small --memory=$BIG
  echo "$LAST_OUT" | grep -qF "memory_mib: $BIG MiB is more than this host's memory ($HOST_MIB MiB)" || fail "edit: $LAST_OUT"
  vm_prop small Config | grep -q 'memory_mib[\"]*:64' || fail "a refused edit changed the VM"
  expect_rc 0 vmctl edit small --memory=$BIG --force
  # A configuration file from elsewhere (another host, an older vmms) is
  # loaded, and refused at Start.
  printf '{"id":"%s","name":"import","memory_mib":%s,"boot":{"kernel":"%s"}}' $G6 $BIG "$K" >"$T/state/$G6.json"
else
  note "(host has more than 256 GiB: memory_mib's own limit is below it, nothing to refuse)"
fi

note "the stored file follows every change and survives a restart"
ID=$(vm_prop web2 Id)
grep -q '"vcpus":2' "$T/state/$ID.json" || fail "file not updated"
t_stop_vmms
t_start_vmms
vm_prop web2 Config | grep -q '\\"vcpus\\":2' || fail "lost over a restart"
if [ -f "$T/state/$G6.json" ]; then
  expect_rc 4 vmctl start import
  echo "$LAST_OUT" | grep -qF "cannot start VM 'import': memory_mib: $BIG MiB is more than this host's memory" ||
    fail "start above the host's memory: $LAST_OUT"
  [ "$(vm_prop import State)" = Off ] || fail "import: $(vm_prop import State)"
  vm_prop import ExitReason | grep -qF "cannot start: memory_mib: $BIG MiB" || fail "ExitReason: $(vm_prop import ExitReason)"
  expect_rc 0 vmctl edit import --force
  expect_rc 0 vmctl start import
fi
echo "PASS"
