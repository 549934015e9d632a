#!/bin/bash
# SPDX-License-Identifier: MIT
# The man pages (packaging/man): vmctl(1) and vmms(8), made from --help at
# build time, are what packaging/man/mkman.sh makes from the built programs
# now, name every command and every option their --help texts name and no
# other; vmstack.json(5), written by hand, documents every key that
# common/src/config-parse.c accepts and no other. All three format without a
# warning from man (lintian's check).
set -uo pipefail
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${VM_BUILD_DIR:-$src/build/debug}
vmctl=$build/vmctl/vmctl vmms=$build/vmms/vmms man_dir=$build/packaging/man
for f in "$vmctl" "$vmms" "$man_dir/vmctl.1" "$man_dir/vmms.8"; do
        [ -e "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done
fail=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
bad() { echo "FAIL: $*"; fail=1; }
# The options a text names, one per line: "--name" of "--name=NAME",
# "\-\-name" in man(7) markup.
options() { sed 's/\\-/-/g' | grep -oE -- '(^|[^a-z0-9-])--[a-z][a-z0-9-]*' | sed 's/^[^-]*//' | sort -u; }
# same_set WHAT A B: the two lists (files, one item a line) are equal.
same_set() {
        local d
        d=$(diff <(sort -u "$2") <(sort -u "$3")) || bad "$1: ${d//$'\n'/; }"
}

# Up to date: what mkman.sh makes from these programs now.
for p in vmctl:1 vmms:8; do
        prog=${p%:*} page=${p%:*}.${p#*:}
        sh "$src/packaging/man/mkman.sh" "$src/packaging/man/$page.in" "$T/$page" 0.0 "$build/$prog/$prog" ||
                bad "mkman.sh $page"
        sed -i 's/"vmstack 0\.0"/"vmstack VERSION"/' "$T/$page"
        sed 's/"vmstack [0-9.]*"/"vmstack VERSION"/' "$man_dir/$page" | cmp -s - "$T/$page" ||
                bad "$man_dir/$page is not what packaging/man/mkman.sh makes from $prog --help now"
done

# vmctl(1): a .SS per command of vmctl --help, and every option of vmctl
# --help and of each command's --help, both ways.
"$vmctl" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' >"$T/cmds"
[ "$(wc -l <"$T/cmds")" -ge 30 ] || bad "only $(wc -l <"$T/cmds") commands in vmctl --help"
sed -n 's/^\.SS //p' "$man_dir/vmctl.1" >"$T/sections"
same_set "vmctl(1) commands (<: vmctl --help, >: the page)" "$T/cmds" "$T/sections"
{ "$vmctl" --help; while read -r c; do "$vmctl" "$c" --help; done <"$T/cmds"; } | options >"$T/help-opts"
options <"$man_dir/vmctl.1" >"$T/page-opts"
same_set "vmctl(1) options (<: --help texts, >: the page)" "$T/help-opts" "$T/page-opts"
grep -qx -- --storage-path "$T/page-opts" || bad "vmctl(1) lacks migrate's --storage-path"
grep -q '^\.SH EXIT STATUS' "$man_dir/vmctl.1" && grep -qx '\\fB11\\fR' "$man_dir/vmctl.1" || bad "vmctl(1): exit codes"

# vmms(8): every option, each a .TP of OPTIONS.
"$vmms" --help | options >"$T/help-opts"
sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$man_dir/vmms.8" | options >"$T/page-opts"
same_set "vmms(8) options (<: vmms --help, >: the page)" "$T/help-opts" "$T/page-opts"
[ "$(wc -l <"$T/page-opts")" -ge 30 ] || bad "vmms(8) names only $(wc -l <"$T/page-opts") options"

# vmstack.json(5): the keys each parse function of config-parse.c and
# config-processor.c allows (its "keys[] = { ... }", or for a "qos" object
# its "struct qos_field fields[] = { ... }"), named as the page names
# them: "disks[].path".
awk '
        /^static int parse_[a-z_]*\(/ { fn = $3; sub(/\(.*/, "", fn) }
        /static const char \*const keys\[\] = \{/ || /static const struct qos_field fields\[\] = \{/ { collect = 1 }
        collect {
                line = $0
                while (match(line, /"[a-z_0-9]+"/)) {
                        print fn, substr(line, RSTART + 1, RLENGTH - 2)
                        line = substr(line, RSTART + RLENGTH)
                }
                if ($0 ~ /NULL *\};/ || $0 ~ /^ *\};/)
                        collect = 0
        }' "$src/common/src/config-parse.c" "$src/common/src/config-processor.c" >"$T/fn-keys"
: >"$T/keys"
while read -r fn key; do
        case $fn in
        parse_root) prefix="" ;;
        parse_boot) prefix=boot. ;;
        parse_disk) prefix="disks[]." ;;
        parse_disk_qos) prefix="disks[].qos." ;;
        parse_dvd) prefix="dvd_drives[]." ;;
        parse_nic) prefix="nics[]." ;;
        parse_nic_qos) prefix="nics[].qos." ;;
        parse_ic) prefix=integration. ;;
        parse_hvsock) prefix=hvsock. ;;
        parse_hvsock_service) prefix="hvsock.services[]." ;;
        parse_dm) prefix=dynamic_memory. ;;
        parse_display) prefix=display. ;;
        parse_processor) prefix=processor. ;;
        *) bad "common/src/config-parse.c: $fn's keys: add the object to this test and to vmstack.json(5)"; continue ;;
        esac
        echo "$prefix$key" >>"$T/keys"
done <"$T/fn-keys"
[ "$(wc -l <"$T/keys")" -ge 60 ] || bad "found only $(wc -l <"$T/keys") keys in common/src/config-parse.c"
page5=$src/packaging/man/vmstack.json.5
sed -n '/^\.SH FIELDS/,/^\.SH /p' "$page5" | awk 'prev == ".TP" && /^\.B / { print $2 } { prev = $0 }' >"$T/page-keys"
same_set "vmstack.json(5) fields (<: common/src/config-parse.c, >: the page)" "$T/keys" "$T/page-keys"

# man's own check, as lintian runs it (groff warnings on stderr).
if command -v man >/dev/null; then
        for page in "$man_dir/vmctl.1" "$man_dir/vmms.8" "$page5"; do
                out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
                [ -z "$out" ] || bad "man --warnings $(basename "$page"): $out"
        done
else
        echo "SKIP (part): man is not installed; the pages were not formatted"
fi

[ "$fail" -eq 0 ] && echo PASS
exit "$fail"
