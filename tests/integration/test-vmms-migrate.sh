#!/bin/bash
# SPDX-License-Identifier: MIT
# Live migration between two vmms (docs/migration.md "vmms"): host A (the
# usual test vmms) and host B (a second dbus-daemon and vmms with their own
# state, runtime and log directories), on loopback in the insecure mode:
#   vmctl migrate A->B: the VM Running on B (stored there), gone from A;
#     and back B->A;
#   refusals leave the source running: nobody listening, a destination
#     that already has a VM of that name, a destination without the kernel
#     in its storage pools;
#   shared-nothing (--storage-path): a raw and a VHDX disk copied into new
#     images in B's directory, byte-equal, the configuration stored on B
#     names them; refused (nothing left on B, the VM runs on A) when an
#     image exists there already or the directory is outside B's pools;
#   with TLS (certificates made with openssl, one CA): A->B->A; a guest
#     dirtying and checking 12 MiB is refused a 1 ms budget without
#     auto-converge (--no-auto-converge), then moves without a lost write; a source
#     whose certificate names a host B does not allow, and one from
#     another CA, are refused and the VM keeps running.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
VMMS_TEST_WORKER=${VMMS_TEST_WORKER:-real}
t_pick_worker
[ "$WORKER_KIND" = real ] || { echo "SKIP: needs the real worker"; exit 77; }
read -r PA PB PC < <(t_free_ports 3)
[ -n "$PC" ] || fail "no free ports"
t_start_vmms --migration-insecure --migration-listen=127.0.0.1:$PA

# Host B (vmms-lib.sh).
start_b() { t_host_b_start "$PB" "$@"; }
stop_b() { t_host_b_stop; }
start_b --migration-insecure
vm_prop_b() { ADDR=$ADDRB vm_prop "$@"; }

t_create mig
expect_rc 0 vmctl start mig --timeout=60
wait_state mig Running 60
id=$(vm_prop mig Id)

note "A -> B"
t0=$(date +%s%N)
expect_rc 0 vmctl migrate mig 127.0.0.1:$PB
echo "migration A->B through vmms: $(( ($(date +%s%N) - t0) / 1000000 )) ms ($LAST_OUT)"
echo "$LAST_OUT" | grep -q "mig migrated to 127.0.0.1:$PB" || fail "vmctl migrate said: $LAST_OUT"
echo "$LAST_OUT" | grep -Eq "^migrating mig: pass 1, [0-9.]+ MiB sent" || fail "no progress line: $LAST_OUT"
# Migrate() answers once B's worker took over; B shows Running when it reports ready.
ADDR=$ADDRB wait_state mig Running 30
[ "$(vm_prop_b mig Id)" = "$id" ] || fail "the id changed on B"
[ -f "$B/state/$id.json" ] || fail "B did not store the configuration"
wait_for 30 "the VM gone from A" sh -c "! '$VMCTL_BIN' --address='$ADDR' show mig >/dev/null 2>&1"
[ ! -e "$T/state/$id.json" ] || fail "A kept the configuration"

note "B -> A"
ADDR=$ADDRB expect_rc 0 vmctl migrate mig 127.0.0.1:$PA
wait_state mig Running 30
wait_for 30 "the VM gone from B" sh -c "! '$VMCTL_BIN' --address='$ADDRB' show mig >/dev/null 2>&1"

note "shared-nothing A -> B"
mkdir -p "$T/sn-a" "$T/sn-b"
truncate -s 32M "$T/sn-a/sn.img"
head -c 3M /dev/urandom | dd of="$T/sn-a/sn.img" bs=1M seek=5 conv=notrunc status=none
head -c 1M /dev/urandom | dd of="$T/sn-a/sn.img" bs=1M seek=31 conv=notrunc status=none
expect_rc 0 vmctl disk create "$T/sn-a/sn2.vhdx" 16M
t_create sn "" ",\"disks\":[{\"path\":\"$T/sn-a/sn.img\"},{\"path\":\"$T/sn-a/sn2.vhdx\",\"format\":\"vhdx\",\"lun\":1}]"
expect_rc 0 vmctl start sn --timeout=60
wait_state sn Running 60
sid=$(vm_prop sn Id)
touch "$T/sn-b/sn2.vhdx" # the second image exists there: the first one made is removed again
expect_rc 1 vmctl migrate sn 127.0.0.1:$PB --storage-path="$T/sn-b"
echo "$LAST_OUT" | grep -q "sn-b/sn2.vhdx exists here" || fail "an existing image: $LAST_OUT"
[ ! -e "$T/sn-b/sn.img" ] || fail "the refused migration left sn.img on B"
[ "$(vm_prop sn State)" = Running ] || fail "State after the refusal: $(vm_prop sn State)"
rm "$T/sn-b/sn2.vhdx"
expect_rc 1 vmctl migrate sn 127.0.0.1:$PB --storage-path=/var/tmp/outside-the-pools
echo "$LAST_OUT" | grep -q "the destination refused" || fail "outside the pools: $LAST_OUT"
vmctl migrate sn 127.0.0.1:$PB --storage-path=relative/dir >/dev/null 2>&1 && fail "a relative storage path was taken"
vmctl migrate sn 127.0.0.1:$PB --quick --storage-path="$T/sn-b" >/dev/null 2>&1 && fail "--quick --storage-path was taken"
[ "$(vm_prop sn State)" = Running ] || fail "State after the refusals: $(vm_prop sn State)"
expect_rc 0 vmctl migrate sn 127.0.0.1:$PB --storage-path="$T/sn-b"
echo "shared-nothing A->B: $LAST_OUT"
ADDR=$ADDRB wait_state sn Running 30
cmp "$T/sn-a/sn.img" "$T/sn-b/sn.img" || fail "the raw disk's copy differs"
[ "$(stat -c %s "$T/sn-b/sn.img")" = $((32 << 20)) ] || fail "the copy's size: $(stat -c %s "$T/sn-b/sn.img")"
grep -q "$T/sn-b/sn.img" "$B/state/$sid.json" && grep -q "$T/sn-b/sn2.vhdx" "$B/state/$sid.json" ||
  fail "B's configuration does not name the copies: $(cat "$B/state/$sid.json")"
wait_for 30 "sn gone from A" sh -c "! '$VMCTL_BIN' --address='$ADDR' show sn >/dev/null 2>&1"
note "shared-nothing B -> A"
mkdir -p "$T/sn-c" "$T/sn-d"
ADDR=$ADDRB expect_rc 0 vmctl migrate sn 127.0.0.1:$PA --storage-path="$T/sn-c"
wait_state sn Running 30
wait_for 30 "sn gone from B" sh -c "! '$VMCTL_BIN' --address='$ADDRB' show sn >/dev/null 2>&1"
cmp "$T/sn-a/sn.img" "$T/sn-c/sn.img" || fail "the raw disk's second copy differs"
expect_rc 0 vmctl disk info "$T/sn-b/sn2.vhdx"
echo "$LAST_OUT" | grep -q "16.0 MiB\|16777216" || fail "the VHDX copy: $LAST_OUT"
if command -v qemu-img >/dev/null; then
  qemu-img check -q "$T/sn-b/sn2.vhdx" || fail "qemu-img check of the VHDX copy"
fi
[ -f "$T/sn-a/sn.img" ] || fail "A's image went away"

note "bad arguments and states"
expect_rc 4 vmctl migrate mig "no such:host"
expect_rc 2 vmctl migrate mig 127.0.0.1:$PB --max-downtime=x
t_create idle
expect_rc 5 vmctl migrate idle 127.0.0.1:$PB
echo "$LAST_OUT" | grep -q "Migrate is not possible while the VM is Off (possible in: Running, Saved)" || fail "Off: $LAST_OUT"
expect_rc 0 vmctl delete idle

note "refused: nobody listens there; the VM keeps running"
expect_rc 1 vmctl migrate mig 127.0.0.1:$PC
echo "$LAST_OUT" | grep -q "cannot connect" || fail "no listener: $LAST_OUT"
[ "$(vm_prop mig State)" = Running ] || fail "State after a refused migration: $(vm_prop mig State)"

note "cancel: a destination that accepts and never answers"
t_silent_listener "$PC"
vmctl migrate mig 127.0.0.1:$PC >"$T/cancel.out" 2>&1 &
MIG=$!
wait_for 10 "Migrating" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path mig)' org.vmstack.VMMS1.VM State)\" = 's \"Migrating\"' ]"
expect_rc 5 vmctl stop mig
bus call org.vmstack.VMMS1 "$(vm_path mig)" org.vmstack.VMMS1.VM CancelMigration >/dev/null || fail "CancelMigration"
wait "$MIG"; rc=$?
[ "$rc" = 1 ] || fail "vmctl migrate after the cancel exited $rc: $(cat "$T/cancel.out")"
grep -q "cancelled" "$T/cancel.out" || fail "cancel: $(cat "$T/cancel.out")"
[ "$(vm_prop mig State)" = Running ] || fail "State after the cancel: $(vm_prop mig State)"
kill $SILENT 2>/dev/null

note "refused: the destination has a VM of that name"
vm_json mig >"$T/other.json"
expect_rc 0 vmctlb create "$T/other.json"
expect_rc 1 vmctl migrate mig 127.0.0.1:$PB
echo "$LAST_OUT" | grep -q "the destination refused: a VM named 'mig' exists here" || fail "name clash: $LAST_OUT"
[ "$(vm_prop mig State)" = Running ] || fail "State after the refusal: $(vm_prop mig State)"
expect_rc 0 vmctlb delete mig

note "the destination's worker dies at once: the source keeps running, B forgets the VM"
stop_b
cp /bin/false "$T/dead-worker"
n=$(grep -c "accepting migrations" "$B/vmms.log")
start_b --migration-insecure --worker="$T/dead-worker"
expect_rc 1 vmctl migrate mig 127.0.0.1:$PB
[ "$(vm_prop mig State)" = Running ] || fail "State after the destination's worker died: $(vm_prop mig State)"
wait_for 10 "B forgetting the VM" sh -c "! '$VMCTL_BIN' --address='$ADDRB' show mig >/dev/null 2>&1"
ls "$B/state" | grep -q json && fail "B stored the VM: $(ls "$B/state")"
expect_rc 1 vmctl migrate sn 127.0.0.1:$PB --storage-path="$T/sn-d"
[ "$(vm_prop sn State)" = Running ] || fail "sn's State after the destination's worker died: $(vm_prop sn State)"
wait_for 10 "B forgetting sn" sh -c "! '$VMCTL_BIN' --address='$ADDRB' show sn >/dev/null 2>&1"
[ -z "$(ls -A "$T/sn-d")" ] || fail "the dead destination left its copies: $(ls "$T/sn-d")"
kill -0 "$(vm_prop mig WorkerPid)" || fail "the source's worker is gone"
echo "  ($LAST_OUT)"

note "refused: the kernel is outside the destination's storage pools"
stop_b
n=$(grep -c "accepting migrations" "$B/vmms.log")
"$VMMS" --bus-address="$ADDRB" --state-dir="$B/state" --runtime-dir="$B/run" --log-dir="$B/log" \
  --worker="$WORKER" --no-polkit --storage-pool="$B/log" --migration-insecure \
  --migration-listen=127.0.0.1:$PB >>"$B/vmms.log" 2>&1 &
BVMMS=$!
wait_for 20 "vmms B listening" sh -c "[ \$(grep -c 'accepting migrations' '$B/vmms.log') -gt $n ]"
expect_rc 1 vmctl migrate mig 127.0.0.1:$PB
echo "$LAST_OUT" | grep -q "the destination refused: .*boot.kernel" || fail "pools: $LAST_OUT"
[ "$(vm_prop mig State)" = Running ] || fail "State after the pool refusal: $(vm_prop mig State)"
stop_b

note "TLS: certificates from one CA; A is hosta, B is hostb (both also localhost)"
command -v openssl >/dev/null || fail "openssl missing (scripts/deps.sh installs it): the TLS part cannot run"
P=$T/pki; mkdir -p "$P"
ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$1.key" -out "$P/$1.pem" \
         -days 2 -subj "/CN=$1" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1; }
cert() { # NAME CA
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" -subj "/CN=$1" >/dev/null 2>&1
  printf 'subjectAltName=DNS:%s,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' "$1" >"$P/$1.ext"
  openssl x509 -req -in "$P/$1.csr" -CA "$P/$2.pem" -CAkey "$P/$2.key" -CAcreateserial -out "$P/$1.pem" -days 2 \
    -extfile "$P/$1.ext" >/dev/null 2>&1
}
ca ca; ca rogue-ca
cert hosta ca; cert hostb ca; cert hostc ca; cert rogue rogue-ca
[ -s "$P/hosta.pem" ] && [ -s "$P/rogue.pem" ] || fail "openssl did not make the certificates"
tls() { echo --migration-cert="$P/$1.pem" --migration-key="$P/$1.key" --migration-ca="$P/ca.pem"; }
t_stop_vmms
# shellcheck disable=SC2046
t_start_vmms $(tls hosta) --migration-listen=127.0.0.1:$PA --migration-allow=hostb
# shellcheck disable=SC2046
start_b $(tls hostb) --migration-allow=hosta
grep -q "accepting migrations on 127.0.0.1:$PB (TLS)" "$B/vmms.log" || fail "B does not listen with TLS"
[ "$(vm_prop mig State)" = Running ] || fail "the VM after the vmms restart: $(vm_prop mig State)"

note "TLS: A -> B -> A"
t0=$(date +%s%N)
expect_rc 0 vmctl migrate mig localhost:$PB
echo "migration A->B through vmms with TLS: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ADDR=$ADDRB wait_state mig Running 30
wait_for 30 "the VM gone from A" sh -c "! '$VMCTL_BIN' --address='$ADDR' show mig >/dev/null 2>&1"
ADDR=$ADDRB expect_rc 0 vmctl migrate mig localhost:$PA
wait_state mig Running 30
wait_for 30 "the VM gone from B" sh -c "! '$VMCTL_BIN' --address='$ADDRB' show mig >/dev/null 2>&1"

note "TLS: a guest dirtying 12 MiB and checking every page on every sweep moves A -> B"
# tests/guests/vmwp_basic.S 'w': a lost or replayed write prints "dirty BAD" and powers off.
printf '{"name":"dirty","memory_mib":64,"vcpus":1,"boot":{"kernel":"%s","cmdline":"w"}}' \
  "$VM_BUILD_DIR/tests/tg_vmwp_basic.elf" >"$T/dirty.json"
expect_rc 0 vmctl create "$T/dirty.json"
expect_rc 0 vmctl start dirty --timeout=60
wait_for 30 "the guest sweeping" sh -c "grep -q '\.\.' '$(vm_prop dirty ConsoleLog)'"
# Without auto-converge a 1 ms budget is refused (docs/migration.md,
# "Convergence"): the switch-over's fixed cost alone is taken as 3 ms.
# Not 3 ms, which a pass with no page dirty meets: this guest writes all
# through every pass unless the 2-core host starves its vCPU thread for a
# whole pass, which the sender, the receiver and two vmms relaying TLS
# made happen five tries in a row in one run. The component test
# (test-vmwp-autoconverge) has the 3 ms budget the dirtying misses, with
# fewer threads. Refused with the reason, the guest runs on here.
out=$(vmctl migrate dirty localhost:$PB --no-auto-converge --max-downtime=1 2>&1); rc=$?
[ "$rc" = 1 ] || fail "a 1 ms budget without auto-converge: exit $rc: $out"
echo "$out" | grep -q "did not converge: .*the budget is 1 ms (auto-converge off)" || fail "no auto-converge: $out"
[ "$(vm_prop dirty State)" = Running ] || fail "the dirtying guest after the refusal: $(vm_prop dirty State)"
wait_for 30 "B forgetting the refused VM" sh -c "! '$VMCTL_BIN' --address='$ADDRB' show dirty >/dev/null 2>&1"
t0=$(date +%s%N)
expect_rc 0 vmctl migrate dirty localhost:$PB
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "dirtying guest A->B with TLS: $ms ms; $(echo "$LAST_OUT" | grep '^migrating' | tail -1)"
ADDR=$ADDRB wait_state dirty Running 30
blog=$(vm_prop_b dirty ConsoleLog)
dots=$(tr -cd . <"$blog" | wc -c)
wait_for 30 "the guest sweeping on B" sh -c "[ \$(tr -cd . <'$blog' | wc -c) -gt $dots ]"
! grep -q "dirty BAD" "$blog" || fail "a page lost a write in the move"
[ "$(vm_prop_b dirty State)" = Running ] || fail "the dirtying guest on B: $(vm_prop_b dirty State) $(vm_prop_b dirty ExitReason)"
expect_rc 0 vmctlb kill dirty

note "TLS: insecure source against a TLS destination: refused"
t_stop_vmms
t_start_vmms --migration-insecure
expect_rc 1 vmctl migrate mig 127.0.0.1:$PB
# The TLS side drops the plain request: the source hears that as no answer,
# or, when the reset comes first, as the send failing (both seen in CI).
echo "$LAST_OUT" | grep -Eq "no answer from the destination|sending the request: Connection reset by peer" ||
  fail "insecure against TLS: $LAST_OUT"
[ "$(vm_prop mig State)" = Running ] || fail "State after the insecure attempt: $(vm_prop mig State)"

note "TLS: B does not trust hostc (same CA, not in --migration-allow): refused"
t_stop_vmms
# shellcheck disable=SC2046
t_start_vmms $(tls hostc)
expect_rc 1 vmctl migrate mig localhost:$PB
echo "$LAST_OUT" | grep -q "the destination refused: the source's certificate (CN=hostc) names no host in --migration-allow" ||
  fail "hostc: $LAST_OUT"
# B answers A before it logs why (CI once read B's log in between).
wait_for 10 "B's reason in its log" grep -q "names no host in --migration-allow" "$B/vmms.log"
[ "$(vm_prop mig State)" = Running ] || fail "State after the hostc refusal: $(vm_prop mig State)"
[ -z "$(vm_prop_b mig State)" ] || fail "B defined the VM"

note "TLS: a certificate from another CA: refused"
t_stop_vmms
t_start_vmms --migration-cert="$P/rogue.pem" --migration-key="$P/rogue.key" --migration-ca="$P/ca.pem"
expect_rc 1 vmctl migrate mig localhost:$PB
echo "$LAST_OUT" | grep -q "no answer from the destination\|sending the request\|TLS handshake" || fail "rogue: $LAST_OUT"
wait_for 10 "B's TLS refusal in its log" grep -q "incoming migration channel from 127.0.0.1 ended: TLS handshake" "$B/vmms.log"
[ "$(vm_prop mig State)" = Running ] || fail "State after the rogue refusal: $(vm_prop mig State)"
[ -z "$(vm_prop_b mig State)" ] || fail "B defined the VM"

note "TLS: B's certificate is not valid for the name dialled: the source refuses"
t_stop_vmms
# shellcheck disable=SC2046
t_start_vmms $(tls hosta)
expect_rc 1 vmctl migrate mig 127.0.0.1:$PB
echo "$LAST_OUT" | grep -q "TLS handshake: the peer's certificate: .*name in the certificate does not match" || fail "wrong name: $LAST_OUT"
[ "$(vm_prop mig State)" = Running ] || fail "State after the name mismatch: $(vm_prop mig State)"
expect_rc 0 vmctl stop mig --timeout=30
echo "PASS"
