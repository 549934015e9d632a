#!/bin/bash
# SPDX-License-Identifier: MIT
# A cloud-init seed goes with an exported VM (docs/vmms.md "cloud-init
# seeds"): `vmctl export-saved --config=CONFIG` writes the seed beside the
# configuration as CONFIG.cidata.iso (ExportSavedSeed), and `vmctl create
# CONFIG` on another host sends it (CreateVMWithSeed): that host keeps it
# as its own <id>.cidata.iso, 0600, in the drive that named the
# exporter's; import-saved and start resume the VM there. A seed that is
# not one is refused with nothing left; a VM without a seed exports none;
# Delete removes the imported seed.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake # the seed is vmms's; the worker only receives its fd
P=$T/pool FW=$T/fw
mkdir -p "$P" "$FW"
head -c 262144 /dev/zero >"$FW/bios.bin"
truncate -s 4M "$P/web.img" "$P/plain.img"
printf '#cloud-config\nhostname: web\n' >"$T/ud"
VMMS_POOLS= t_start_vmms --storage-pool="$P" --firmware-dir="$FW"
read -r PB < <(t_free_ports 1)
t_host_b_start "$PB" --migration-insecure --storage-pool="$P" --firmware-dir="$FW"
seeds_b() { ls "$B/state" | grep -c '\.cidata\.iso$'; }

note "export-saved --config: the seed beside the configuration"
expect_rc 0 vmctl create --name=web --disk="$P/web.img" --firmware="$FW/bios.bin" --cloud-init="$T/ud"
id=$(vm_prop web Id)
expect_rc 0 vmctl start web --timeout=30
expect_rc 0 vmctl save web
expect_rc 0 vmctl export-saved web "$T/web.vmrs" --config="$T/web.json"
echo "$LAST_OUT" | grep -q "its cloud-init seed to $T/web.json.cidata.iso" || fail "vmctl said: $LAST_OUT"
cmp -s "$T/web.json.cidata.iso" "$T/state/$id.cidata.iso" || fail "the exported seed differs from A's"
[ "$(stat -c %a "$T/web.json.cidata.iso")" = 600 ] || fail "the seed's mode: $(stat -c %a "$T/web.json.cidata.iso")"
expect_rc 10 vmctl export-saved web "$T/web2.vmrs" --config="$T/web.json" # the config exists
[ ! -e "$T/web2.vmrs" ] || fail "a failed export left its state file"

note "a seed that is not one is refused on B with nothing left"
cp "$T/web.json" "$T/bad.json"
head -c 65536 /dev/urandom >"$T/bad.json.cidata.iso"
expect_rc 4 vmctlb create "$T/bad.json"
echo "$LAST_OUT" | grep -q "seed: " || fail "a random seed: $LAST_OUT"
[ "$(seeds_b)" = 0 ] || fail "a refused create left a seed on B: $(ls "$B/state")"

note "create CONFIG on B: B's own seed in the drive; import-saved and start resume"
expect_rc 0 vmctlb create "$T/web.json"
[ "$(vm_prop_b web Id)" = "$id" ] || fail "B's id: $(vm_prop_b web Id)"
cmp -s "$B/state/$id.cidata.iso" "$T/state/$id.cidata.iso" || fail "B's seed differs: $(ls -l "$B/state")"
[ "$(stat -c %a "$B/state/$id.cidata.iso")" = 600 ] || fail "B's seed mode: $(stat -c %a "$B/state/$id.cidata.iso")"
[ "$(ADDR=$ADDRB vmctl show web --json | jq -r '.Config.dvd_drives[0].path')" = "$B/state/$id.cidata.iso" ] ||
  fail "B's drive: $(ADDR=$ADDRB vmctl show web --json | jq -c .Config.dvd_drives)"
ADDR=$ADDRB expect_rc 0 vmctl import-saved web "$T/web.vmrs"
expect_rc 0 vmctl delete web # A's copy goes, with A's seed
[ ! -e "$T/state/$id.cidata.iso" ] || fail "A's seed after Delete"
ADDR=$ADDRB expect_rc 0 vmctl start web --timeout=30
ADDR=$ADDRB wait_state web Running
[ "$(vm_prop_b web State)" = Running ] || fail "B's VM: $(vm_prop_b web State)"

note "a VM without a seed exports none"
expect_rc 0 vmctl create --name=plain --disk="$P/plain.img" --firmware="$FW/bios.bin"
expect_rc 0 vmctl start plain --timeout=30
expect_rc 0 vmctl save plain
expect_rc 0 vmctl export-saved plain "$T/plain.vmrs" --config="$T/plain.json"
[ ! -e "$T/plain.json.cidata.iso" ] || fail "a seed exported for a VM without one"
! echo "$LAST_OUT" | grep -q "seed" || fail "vmctl said: $LAST_OUT"

note "Delete on B removes its seed"
ADDR=$ADDRB expect_rc 0 vmctl kill web
ADDR=$ADDRB wait_state web Off
ADDR=$ADDRB expect_rc 0 vmctl delete web
[ "$(seeds_b)" = 0 ] || fail "B's seed after Delete: $(ls "$B/state")"
alive "$VMMS_PID" || fail "vmms A is gone"
alive "$BVMMS" || fail "vmms B is gone"
echo "PASS"
