#!/bin/bash
# SPDX-License-Identifier: MIT
# A VM's cloud-init seed moves with it (docs/migration.md "The cloud-init
# seed", docs/vmms.md "cloud-init seeds"): the source sends its
# <state-dir>/<id>.cidata.iso in a SEED frame after the request, the
# destination writes it as its own (0600) and its drive names that file:
#   live A -> B: B's seed is byte for byte A's, in B's state directory, the
#     drive names it, B's worker got its fd; A's seed is gone;
#   quick B -> A of the Running VM (its check asks with the seed too): back
#     on A, gone from B;
#   shared-nothing live A -> B (--storage-path): the same;
#   a Saved VM's move B -> A, and its resume there;
#   refusals leave nothing and keep the source running: a file already at
#     the seed's place on the destination (kept as it was), a VM of that
#     name there (no seed left behind);
#   Delete on the destination removes the seed.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
WORKER=$FAKE_WORKER WORKER_KIND=fake # the seed is vmms's; the worker only receives its fd
read -r PA PB < <(t_free_ports 2)
[ -n "$PB" ] || fail "no free ports"
P=$T/pool FW=$T/fw SA=$T/state
mkdir -p "$P" "$FW"
head -c 262144 /dev/zero >"$FW/bios.bin"
truncate -s 4M "$P/ci.img"
printf '#cloud-config\nhostname: ci\n' >"$T/ud"
head -c 300000 /dev/urandom | base64 >"$T/nc" # a seed of several blocks: ~400 KiB
VMMS_POOLS= t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA --storage-pool="$P" --firmware-dir="$FW"
t_host_b_start "$PB" --migration-insecure --storage-pool="$P" --firmware-dir="$FW"
SB=$B/state
show_cfg() { "$VMCTL_BIN" --address="$1" show "$2" --json | jq -r ".Config$3"; }
gone_from() { ! "$VMCTL_BIN" --address="$1" show "$2" >/dev/null 2>&1; }
seeds() { ls "$1" | grep -c '\.cidata\.iso'; }

expect_rc 0 vmctl create --name=ci --disk="$P/ci.img" --firmware="$FW/bios.bin" --cloud-init="$T/ud,network-config=$T/nc"
id=$(vm_prop ci Id)
cp "$SA/$id.cidata.iso" "$T/seed.orig"
[ "$(stat -c %s "$T/seed.orig")" -gt 400000 ] || fail "the seed is only $(stat -c %s "$T/seed.orig") bytes"
expect_rc 0 vmctl start ci
wait_state ci Running

# on HOST_ADDR STATE_DIR: the VM runs there with its seed: the file is the
# original, vmms's 0600, the drive names it, the worker got its fd.
on() {
  local addr=$1 dir=$2
  ADDR=$addr wait_state ci Running 30
  cmp -s "$dir/$id.cidata.iso" "$T/seed.orig" || fail "the seed in $dir: $(ls -l "$dir")"
  [ "$(stat -c '%a %u' "$dir/$id.cidata.iso")" = "600 $(id -u)" ] || fail "mode/owner: $(stat -c '%a %u' "$dir/$id.cidata.iso")"
  [ "$(show_cfg "$addr" ci '.dvd_drives[0].path')" = "$dir/$id.cidata.iso" ] ||
    fail "the drive: $(show_cfg "$addr" ci .dvd_drives)"
  ADDR=$addr wait_for 10 "the seed's fd" console_has ci "fake-vmwp: dvd 0: ino=$(stat -c %i "$dir/$id.cidata.iso") ro"
}

note "live A -> B: the seed goes with the VM"
expect_rc 0 vmctl migrate ci 127.0.0.1:$PB
on "$ADDRB" "$SB"
wait_for 30 "ci gone from A" gone_from "$ADDR" ci
[ ! -e "$SA/$id.cidata.iso" ] || fail "A kept the seed of a VM that left"
[ -z "$(ls "$SB" | grep '\.tmp$')" ] || fail "B left a temporary file: $(ls "$SB")"

note "quick B -> A of the Running VM: back on A"
ADDR=$ADDRB expect_rc 0 vmctl migrate ci 127.0.0.1:$PA --quick
on "$ADDR" "$SA"
wait_for 30 "ci gone from B" gone_from "$ADDRB" ci
[ "$(seeds "$SB")" = 0 ] || fail "B kept a seed: $(ls "$SB")"

note "shared-nothing live A -> B"
mkdir -p "$P/b-disks"
expect_rc 0 vmctl migrate ci 127.0.0.1:$PB --storage-path="$P/b-disks"
on "$ADDRB" "$SB"
wait_for 30 "ci gone from A" gone_from "$ADDR" ci
[ "$(seeds "$SA")" = 0 ] || fail "A kept a seed: $(ls "$SA")"

note "a Saved VM's move B -> A, and its resume there"
ADDR=$ADDRB expect_rc 0 vmctl save ci
ADDR=$ADDRB expect_rc 0 vmctl migrate ci 127.0.0.1:$PA
[ "$(vm_prop ci State)" = Saved ] || fail "ci on A: $(vm_prop ci State)"
cmp -s "$SA/$id.cidata.iso" "$T/seed.orig" || fail "the Saved VM's seed on A"
[ "$(seeds "$SB")" = 0 ] || fail "B kept a seed: $(ls "$SB")"
expect_rc 0 vmctl start ci
on "$ADDR" "$SA"

note "refusals: a file at the seed's place on B stays as it was, the VM runs on A"
echo "not ours" >"$SB/$id.cidata.iso"
expect_rc 1 vmctl migrate ci 127.0.0.1:$PB
echo "$LAST_OUT" | grep -qF "the cloud-init seed $SB/$id.cidata.iso: exists here" || fail "existing seed: $LAST_OUT"
[ "$(cat "$SB/$id.cidata.iso")" = "not ours" ] || fail "B's file was replaced"
rm "$SB/$id.cidata.iso"
wait_state ci Running
cmp -s "$SA/$id.cidata.iso" "$T/seed.orig" || fail "A's seed after a refusal"
note "refusals: a VM named ci on B: no seed left there"
expect_rc 0 vmctlb create --name=ci --disk="$P/ci.img" --firmware="$FW/bios.bin"
expect_rc 1 vmctl migrate ci 127.0.0.1:$PB
echo "$LAST_OUT" | grep -qF "a VM named 'ci' exists here" || fail "name taken: $LAST_OUT"
[ "$(seeds "$SB")" = 0 ] || fail "a refused migration left a seed on B: $(ls "$SB")"
wait_state ci Running
expect_rc 0 vmctlb delete ci

note "Delete on the destination removes the seed"
expect_rc 0 vmctl migrate ci 127.0.0.1:$PB
on "$ADDRB" "$SB"
ADDR=$ADDRB expect_rc 0 vmctl kill ci
ADDR=$ADDRB wait_state ci Off
ADDR=$ADDRB expect_rc 0 vmctl delete ci
[ "$(seeds "$SB")" = 0 ] || fail "the seed outlived its VM on B: $(ls "$SB")"
alive "$VMMS_PID" || fail "vmms A is gone"
alive "$BVMMS" || fail "vmms B is gone"
echo "PASS"
