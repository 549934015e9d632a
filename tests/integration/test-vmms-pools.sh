#!/bin/bash
# SPDX-License-Identifier: MIT
# The Manager's calls for a page that lists VMs (docs/dbus-api.md):
# ListPoolImages, CreatePoolImage and DeletePoolImage (names only, inside
# the configured pools, as the caller; good and bad arguments),
# GetAllMetrics (every VM's figures in one call) and GetCallerAccess (the
# "may I?" of the managing calls: root, the group, and nobody without
# polkit). With the fake worker; `nobody` through setpriv.
set -u
source "$(dirname "$0")/vmms-lib.sh"
t_setup
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) missing"; exit 77; }
for p in jq gdbus; do command -v $p >/dev/null || { echo "SKIP: $p missing (scripts/deps.sh)"; exit 77; }; done
WORKER=$FAKE_WORKER WORKER_KIND=fake
NOBODY=$(id -u nobody)
GROUP=staff
GID=$(getent group $GROUP | cut -d: -f3)
[ -n "$GID" ] || { echo "SKIP: no group '$GROUP' to test with"; exit 77; }
id -nG nobody | grep -qw $GROUP && { echo "SKIP: nobody is in $GROUP already"; exit 77; }
P=$T/images RO=$T/ro Q=$T/more
mkdir -p "$RO" "$P/sub" "$Q"
chgrp "$GROUP" "$P"; chmod 2770 "$P" # as the package's pool: the group writes, others see nothing
M=(org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager)
mgr() { bus call "${M[@]}" "$@"; }
as_nobody() { setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups "$@"; }
as_member() { setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --groups="$GID" "$@"; }
nbus() { busctl --address="$ADDR" "$@"; }
# gd WHO METHOD ARG...: a Manager call through gdbus (its arguments as
# GVariant text: 'string', a plain number for a t), as WHO (root, as_nobody, as_member).
root() { "$@"; }
gd() {
  local who=$1 method=$2; shift 2
  "$who" gdbus call --address="$ADDR" --dest org.vmstack.VMMS1 --object-path /org/vmstack/VMMS1 \
    --method "org.vmstack.VMMS1.Manager.$method" "$@"
}
# expect_error NAME TEXT WHO METHOD ARG...: the call fails with org.vmstack.Error.NAME and TEXT.
expect_error() {
  local name=$1 text=$2 out; shift 2
  out=$(gd "$@" 2>&1) && fail "$* succeeded: $out"
  echo "$out" | grep -qF "org.vmstack.Error.$name" || fail "$*: expected $name, got: $out"
  echo "$out" | grep -qF -- "$text" || fail "$*: expected '$text', got: $out"
}
t_start_vmms --group=$GROUP --metering-interval-ms=200 --storage-pool="$P" --storage-pool="$RO:ro" --storage-pool="$Q"

note "GetCallerAccess: root and the group may manage, nobody may read, with the refusal's reason"
access_of() { "$@" busctl --address="$ADDR" --json=short call "${M[@]}" GetCallerAccess | jq -r '.data | join("|")'; }
out=$(access_of root)
[ "$out" = "manage|user 0 is root" ] || fail "root: $out"
out=$(access_of as_member)
[ "$out" = "manage|user $NOBODY is in group '$GROUP'" ] || fail "member: $out"
out=$(access_of as_nobody)
[ "$out" = "read|user $NOBODY may not do this: it is not root or in group '$GROUP', and polkit is disabled (--no-polkit) for org.vmstack.vmms.manage; ask an administrator to add the user to the group or allow it in polkit" ] ||
  fail "nobody: $out"
# ... and it is what a managing call does: nobody's Start is refused with that sentence
t_create a1
expect_rc 6 as_nobody "$VMCTL_BIN" --address="$ADDR" start a1
echo "$LAST_OUT" | grep -q "polkit is disabled (--no-polkit) for org.vmstack.vmms.manage" || fail "start as nobody: $LAST_OUT"

note "CreatePoolImage: VHDX, raw, differencing, as the caller"
mgr CreatePoolImage sssts "$P" a.vhdx vhdx 67108864 "" | grep -qxF "s \"$P/a.vhdx\"" || fail "a.vhdx"
expect_rc 0 vmctl disk info "$P/a.vhdx"
echo "$LAST_OUT" | grep -q "64 MiB\|67108864" || fail "a.vhdx info: $LAST_OUT"
mgr CreatePoolImage sssts "$P" b.img raw 2097152 "" >/dev/null || fail "b.img"
[ "$(stat -c %s "$P/b.img")" = 2097152 ] || fail "b.img size $(stat -c %s "$P/b.img")"
[ "$(stat -c %a "$P/b.img")" = 600 ] || fail "b.img mode $(stat -c %a "$P/b.img")"
mgr CreatePoolImage sssts "$P" c.vhdx vhdx 0 a.vhdx >/dev/null || fail "c.vhdx"
expect_rc 0 vmctl disk info "$P/c.vhdx"
echo "$LAST_OUT" | grep -q "a.vhdx" || fail "c.vhdx's parent: $LAST_OUT"
out=$(as_member busctl --address="$ADDR" call "${M[@]}" CreatePoolImage sssts "$P" m.vhdx vhdx 1048576 "") || fail "member: $out"
[ "$(stat -c %u "$P/m.vhdx")" = "$NOBODY" ] || fail "m.vhdx is not the member's: $(stat -c %u "$P/m.vhdx")"

note "CreatePoolImage refuses bad names, sizes, formats, pools and callers"
expect_error InvalidArgument "is not a file name in a pool" root CreatePoolImage "'$P'" "'../x.vhdx'" "'vhdx'" 1048576 "''"
expect_error InvalidArgument "is not a file name in a pool" root CreatePoolImage "'$P'" "'sub/x.vhdx'" "'vhdx'" 1048576 "''"
expect_error InvalidArgument "is not a file name in a pool" root CreatePoolImage "'$P'" "'.x.vhdx'" "'vhdx'" 1048576 "''"
expect_error InvalidArgument "must be 1 to 255" root CreatePoolImage "'$P'" "''" "'vhdx'" 1048576 "''"
expect_error InvalidArgument "size: 0 bytes; must be a multiple of 512 from 1 MiB" root CreatePoolImage "'$P'" "'z.vhdx'" "'vhdx'" 0 "''"
expect_error InvalidArgument "size: 1048577 bytes" root CreatePoolImage "'$P'" "'z.vhdx'" "'vhdx'" 1048577 "''"
expect_error InvalidArgument "size: 70368744178176 bytes" root CreatePoolImage "'$P'" "'z.vhdx'" "'vhdx'" 70368744178176 "''"
expect_error InvalidArgument "format: must be vhdx or raw" root CreatePoolImage "'$P'" "'z.vhdx'" "'qcow2'" 1048576 "''"
expect_error InvalidArgument "name: a raw image's name ends in .img or .raw" root CreatePoolImage "'$P'" "'z.vhdx'" "'raw'" 1048576 "''"
expect_error InvalidArgument "size: must be 0 for a differencing image" root CreatePoolImage "'$P'" "'z.vhdx'" "'vhdx'" 1048576 "'a.vhdx'"
expect_error InvalidArgument "parent: a differencing image is a VHDX of a VHDX parent" root CreatePoolImage "'$P'" "'z.vhdx'" "'vhdx'" 0 "'b.img'"
expect_error InvalidArgument "parent: " root CreatePoolImage "'$P'" "'z.vhdx'" "'vhdx'" 0 "'none.vhdx'"
[ ! -e "$P/z.vhdx" ] || fail "a refused differencing image was left behind"
expect_error Exists "name: exists already" root CreatePoolImage "'$P'" "'a.vhdx'" "'vhdx'" 1048576 "''"
expect_error InvalidArgument "is not a storage pool" root CreatePoolImage "'/tmp'" "'z.vhdx'" "'vhdx'" 1048576 "''"
expect_error InvalidArgument "is not a storage pool" root CreatePoolImage "'$P/'" "'z.vhdx'" "'vhdx'" 1048576 "''"
expect_error PermissionDenied "is read-only" root CreatePoolImage "'$RO'" "'z.vhdx'" "'vhdx'" 1048576 "''"
expect_error PermissionDenied "user $NOBODY may not do this" as_nobody CreatePoolImage "'$P'" "'n.vhdx'" "'vhdx'" 1048576 "''"
[ ! -e "$P/n.vhdx" ] || fail "nobody made an image"
ln -s /etc/passwd "$P/link.img"; touch "$P/.hidden.img"
chmod 0640 "$P/c.vhdx"; chgrp $GROUP "$P/c.vhdx"

note "ListPoolImages: names, formats, sizes and users; the caller's view"
vm_json user1 "" ",\"disks\":[{\"path\":\"$P/a.vhdx\"}]" >"$T/user1.json"
expect_rc 0 vmctl create "$T/user1.json"
list() { "$@" --json=short call "${M[@]}" ListPoolImages s "$P" | jq -c '.data[0]'; }
out=$(list nbus)
want="[[\"a.vhdx\",\"vhdx\",67108864,$(($(stat -c %b "$P/a.vhdx") * 512)),[\"user1\"]],[\"b.img\",\"raw\",2097152,$(($(stat -c %b "$P/b.img") * 512)),[]],[\"c.vhdx\",\"vhdx\",67108864,$(($(stat -c %b "$P/c.vhdx") * 512)),[]],[\"kernel\",\"file\",$(stat -c %s "$P/kernel"),$(($(stat -c %b "$P/kernel") * 512)),[\"a1\",\"user1\"]],[\"m.vhdx\",\"vhdx\",1048576,$(($(stat -c %b "$P/m.vhdx") * 512)),[]]]"
[ "$out" = "$want" ] || fail "root's list: $out, expected $want"
# (the fake worker's kernel is in the pool too: both VMs boot it)
# the member reads the directory, its own image and the group's c.vhdx, not root's a.vhdx (0600)
out=$(list as_member busctl --address="$ADDR")
echo "$out" | jq -e '.[0][0] == "a.vhdx" and .[0][2] == 0 and .[2][2] == 67108864 and .[4][2] == 1048576' >/dev/null ||
  fail "member's list: $out"
expect_error PermissionDenied "permission denied for uid $NOBODY" as_nobody ListPoolImages "'$P'"
expect_error InvalidArgument "is not a storage pool" root ListPoolImages "'$P/sub'"
mgr ListPoolImages s "$RO" | grep -qx 'a(ssttas) 0' || fail "the empty pool: $(mgr ListPoolImages s "$RO")"

note "DeletePoolImage: not an image in use, only names, as the caller"
expect_error Busy "used by VM 'user1'" root DeletePoolImage "'$P'" "'a.vhdx'"
expect_error InvalidArgument "is not a file name in a pool" root DeletePoolImage "'$P'" "'../a.vhdx'"
expect_error InvalidArgument "is not in" root DeletePoolImage "'$P'" "'none.vhdx'"
expect_error InvalidArgument "is not a regular file" root DeletePoolImage "'$P'" "'link.img'"
expect_error PermissionDenied "user $NOBODY may not do this" as_nobody DeletePoolImage "'$P'" "'b.img'"
mgr DeletePoolImage ss "$P" b.img || fail "delete b.img"
[ ! -e "$P/b.img" ] || fail "b.img is still there"
[ -e /etc/passwd ] && [ -L "$P/link.img" ] || fail "the link or its target went"

note "vmctl pool: list, create, delete, with vmms's refusals as exit codes"
expect_rc 0 vmctl pool create "$P" v.vhdx 8M
[ "$LAST_OUT" = "$P/v.vhdx" ] || fail "vmctl pool create: $LAST_OUT"
expect_rc 0 vmctl pool create "$P" r.img 2M
[ "$(stat -c %s "$P/r.img")" = 2097152 ] || fail "vmctl pool create r.img: $(stat -c %s "$P/r.img")"
expect_rc 0 vmctl pool create "$P" d.vhdx --parent=v.vhdx
expect_rc 0 vmctl pool list "$P"
echo "$LAST_OUT" | grep -Eq '^v\.vhdx +vhdx +8388608 ' || fail "vmctl pool list: $LAST_OUT"
echo "$LAST_OUT" | grep -Eq '^a\.vhdx +vhdx +67108864 +[0-9]+ +user1$' || fail "vmctl pool list (used by): $LAST_OUT"
expect_rc 0 vmctl --json pool list "$P"
echo "$LAST_OUT" | jq -e 'map(select(.name == "d.vhdx"))[0] | .format == "vhdx" and .virtual_size == 8388608 and .used_by == []' >/dev/null ||
  fail "vmctl --json pool list: $LAST_OUT"
expect_rc 4 vmctl pool create "$P" ../v.vhdx 8M
expect_rc 10 vmctl pool create "$P" v.vhdx 8M
expect_rc 6 as_nobody "$VMCTL_BIN" --address="$ADDR" pool create "$P" n.vhdx 8M
expect_rc 6 as_nobody "$VMCTL_BIN" --address="$ADDR" pool list "$P"
expect_rc 2 vmctl pool create "$P" v2.vhdx
expect_rc 11 vmctl pool delete "$P" a.vhdx

note "DeletePoolImage refuses a differencing image's parent, named by its relative or absolute locator"
# d.vhdx (made above) names v.vhdx relatively, as CreatePoolImage makes it
expect_error Busy "name: v.vhdx is the parent of the differencing image $P/d.vhdx" root DeletePoolImage "'$P'" "'v.vhdx'"
expect_rc 11 vmctl pool delete "$P" v.vhdx
echo "$LAST_OUT" | grep -qF "v.vhdx is the parent of the differencing image $P/d.vhdx; delete or merge that first" ||
  fail "vmctl pool delete of a parent: $LAST_OUT"
[ -e "$P/v.vhdx" ] || fail "a parent was deleted"
expect_rc 0 vmctl pool delete "$P" d.vhdx
# a child in another pool: vmctl disk create writes only the absolute locator there
expect_rc 0 vmctl disk create "$Q/w.vhdx" --parent="$P/v.vhdx"
expect_rc 0 vmctl --json disk info "$Q/w.vhdx"
echo "$LAST_OUT" | jq -e ".parent.relative_path == \"\" and .parent.absolute_path == \"$P/v.vhdx\"" >/dev/null ||
  fail "w.vhdx's locators: $LAST_OUT"
expect_error Busy "name: v.vhdx is the parent of the differencing image $Q/w.vhdx" root DeletePoolImage "'$P'" "'v.vhdx'"
expect_rc 0 vmctl pool delete "$Q" w.vhdx
expect_rc 0 vmctl pool delete "$P" v.vhdx
[ ! -e "$P/v.vhdx" ] || fail "v.vhdx, no longer a parent, is still there"
expect_rc 0 vmctl pool delete "$P" r.img
[ ! -e "$P/r.img" ] || fail "vmctl pool delete left r.img"

note "GetAllMetrics: every VM in one call, the running one's figures from metering's rounds"
expect_rc 0 vmctl start a1
wait_state a1 Running
wait_for 10 "a1's CPU time in GetAllMetrics" sh -c "busctl --address='$ADDR' --json=short call ${M[*]} GetAllMetrics |
  jq -e '.data[0] | fromjson | map(select(.name == \"a1\"))[0].cpu.total_ns > 0' >/dev/null"
out=$(as_nobody busctl --address="$ADDR" --json=short call "${M[@]}" GetAllMetrics | jq -c '.data[0] | fromjson | map([.name, .state]) | sort')
[ "$out" = '[["a1","Running"],["user1","Off"]]' ] || fail "GetAllMetrics as nobody: $out"
echo "PASS"
