#!/bin/bash
# SPDX-License-Identifier: MIT
# vmctl disk create/info/check/convert on files, without vmms, with
# qemu-img (Debian's qemu-utils) as the independent oracle: it reads the
# VHDX images we make and its images convert back byte for byte; a
# differencing image reads through its chain; check tells the empty tail
# qemu-img leaves from one with data; refusals name the cause and never
# touch an existing file.
set -uo pipefail
build=${VM_BUILD_DIR:-build/debug}
V=$build/vmctl/vmctl
[ -x "$V" ] || { echo "SKIP: $V is not built"; exit 77; }
command -v qemu-img >/dev/null || { echo "SKIP: qemu-img missing (scripts/deps.sh installs qemu-utils)"; exit 77; }
T=$(mktemp -d /tmp/vmctl-disk.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { # RC CMD...: runs it, LAST holds its output
  local want=$1; shift
  LAST=$("$@" 2>&1); local rc=$?
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $LAST"
}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

echo "--- create: dynamic and fixed VHDX, raw; qemu-img reads them"
expect 0 "$V" disk create dyn.vhdx 256M
expect 0 "$V" disk create fix.vhdx 64M --type=fixed --block-size=8M
expect 0 "$V" disk create sec.vhdx 1G --sector-size=4096
expect 0 "$V" disk create plain.img 100M
# (not sec.vhdx: QEMU's VHDX driver opens only 512-byte logical sectors)
for f in dyn fix; do qemu-img check -q "$f.vhdx" || fail "qemu-img check $f.vhdx"; done
[ "$(qemu-img info --output=json dyn.vhdx | json "['virtual-size']")" = 268435456 ] || fail "qemu-img size of dyn.vhdx"
[ "$(stat -c %a dyn.vhdx)" = 600 ] || fail "a new image is not 0600: $(stat -c %a dyn.vhdx)"
[ "$(stat -c %s plain.img)" = 104857600 ] || fail "plain.img size"
expect 0 "$V" --json disk info fix.vhdx
[ "$(echo "$LAST" | json "['type']")" = fixed ] || fail "fix.vhdx type: $LAST"
[ "$(echo "$LAST" | json "['block_size']")" = 8388608 ] || fail "fix.vhdx block size: $LAST"
[ "$(echo "$LAST" | json "['blocks_present']")" = 8 ] || fail "fix.vhdx blocks: $LAST"
expect 0 "$V" --json disk info sec.vhdx
[ "$(echo "$LAST" | json "['logical_sector_size']")" = 4096 ] || fail "sec.vhdx sectors: $LAST"

echo "--- convert raw -> vhdx -> raw, byte for byte (qemu-img reads ours)"
head -c $((5 << 20)) /dev/urandom >data.raw
dd if=/dev/urandom of=data.raw bs=1M seek=100 count=3 conv=notrunc status=none
truncate -s 200M data.raw
expect 0 "$V" disk convert data.raw data.vhdx
qemu-img check -q data.vhdx || fail "qemu-img check data.vhdx"
qemu-img convert -f vhdx -O raw data.vhdx q.raw && cmp -s q.raw data.raw || fail "qemu-img reads data.vhdx differently"
expect 0 "$V" --json disk convert data.vhdx back.raw
[ "$(echo "$LAST" | json "['data_bytes']")" = $((8 << 20)) ] || fail "data bytes: $LAST"
cmp -s back.raw data.raw || fail "back.raw differs"
[ "$(stat -c %b back.raw)" -lt 40000 ] || fail "back.raw is not sparse: $(stat -c %b back.raw) blocks"
# what qemu-img writes, we read
qemu-img convert -f raw -O vhdx -o subformat=dynamic data.raw q.vhdx
expect 0 "$V" disk convert q.vhdx q2.raw && cmp -s q2.raw data.raw || fail "we read q.vhdx differently"

echo "--- check: a dynamic image qemu-img just made is clean, its empty tail not a crash's"
qemu-img create -q -f vhdx qnew.vhdx 1G
expect 0 "$V" disk check qnew.vhdx
grep -q "MiB of empty space past the last block" <<<"$LAST" || fail "qemu-img's reserve: $LAST"
grep -q "never committed" <<<"$LAST" && fail "qemu-img's reserve called a crash's: $LAST"
grep -q "no errors" <<<"$LAST" || fail "check of qemu-img's image: $LAST"
expect 0 "$V" --json disk check qnew.vhdx
[ "$(echo "$LAST" | json "['leaked_empty']")" = True ] || fail "leaked_empty: $LAST"
# data in that space: what an allocation never committed
printf 'X' | dd of=qnew.vhdx bs=1 seek=$(( (8 << 20) - 1 )) conv=notrunc status=none
expect 0 "$V" disk check qnew.vhdx
grep -q "4.0 MiB past the last block were never committed" <<<"$LAST" || fail "a tail with data: $LAST"

echo "--- differencing: a child reads its parent until it writes"
expect 0 "$V" disk create child.avhdx --parent=data.vhdx
expect 0 "$V" --json disk info child.avhdx
[ "$(echo "$LAST" | json "['parent']['relative_path']")" = data.vhdx ] || fail "relative locator: $LAST"
[ "$(echo "$LAST" | json "['parent']['absolute_path']")" = "$T/data.vhdx" ] || fail "absolute locator: $LAST"
[ "$(echo "$LAST" | json "['chain_depth']")" = 1 ] || fail "chain depth: $LAST"
expect 0 "$V" disk create grand.avhdx --parent=child.avhdx
expect 0 "$V" disk convert grand.avhdx flat.raw && cmp -s flat.raw data.raw || fail "the chain reads differently"
expect 0 "$V" disk check grand.avhdx
# a parent in another directory: absolute locator only (vmms refuses one through ..)
mkdir sub && expect 0 "$V" disk create sub/c.avhdx --parent=data.vhdx
expect 0 "$V" --json disk info sub/c.avhdx
[ "$(echo "$LAST" | json "['parent']['relative_path']")" = "" ] || fail "a locator through ..: $LAST"
# the parent written since: the child's chain is broken, and says so
expect 0 "$V" disk convert data.raw p2.vhdx
expect 0 "$V" disk create c2.avhdx --parent=p2.vhdx
"$build/tests/vhdx-test-helper" write p2.vhdx || fail "helper write"
expect 1 "$V" disk check c2.avhdx
grep -q "chain broken: .*parent was changed" <<<"$LAST" || fail "changed parent: $LAST"
expect 1 "$V" disk convert c2.avhdx never.raw
[ ! -e never.raw ] || fail "a failed convert left its output"

echo "--- refusals: existing files, bad sizes and options, not a VHDX"
expect 1 "$V" disk create dyn.vhdx 1G
grep -q "exists already" <<<"$LAST" || fail "overwrite: $LAST"
expect 0 qemu-img check -q dyn.vhdx
expect 2 "$V" disk create z.vhdx 0
expect 2 "$V" disk create z.vhdx 1G --block-size=3M
expect 2 "$V" disk create z.vhdx 1G --type=thin
expect 2 "$V" disk create z.img --parent=data.vhdx
expect 2 "$V" disk frobnicate x
[ ! -e z.vhdx ] && [ ! -e z.img ] || fail "a refused create left a file"
expect 1 "$V" disk info data.raw --format=vhdx
grep -q "not a VHDX" <<<"$LAST" || fail "raw as vhdx: $LAST"
# a corrupt BAT (block 1 on block 0's space): check fails, naming the entry
# (our images keep the BAT at 3 MiB: docs/vhdx.md "Creating")
cp data.vhdx bad.vhdx
bat=$((3 << 20))
dd if=bad.vhdx of=e0 bs=8 count=1 skip=$((bat / 8)) status=none
dd if=e0 of=bad.vhdx bs=8 seek=$((bat / 8 + 1)) conv=notrunc status=none
expect 1 "$V" disk check bad.vhdx
grep -q "another block uses" <<<"$LAST" || fail "shared block: $LAST"
echo PASS
