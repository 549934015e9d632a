# SPDX-License-Identifier: MIT
# Shared by tests/integration/test-guest-disk*.sh: the test guest's disk
# modes on a sandboxed vmwp, and the host's own view of the images.
# Sourced, not run (the test glob is test-*.sh).

src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${VM_BUILD_DIR:-$src/build/debug}
elf=$build/guest-vsc/guest/vsc-guest.elf
vmwp=$build/vmwp/vmwp
fail=0

disk_require() {
        [ -x "$vmwp" ] || { echo "SKIP: $vmwp is not built"; exit 77; }
        [ -f "$elf" ] || { echo "FAIL: $elf not built"; exit 1; }
        [ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
        command -v awk >/dev/null && command -v cmp >/dev/null || { echo "SKIP: needs awk and cmp"; exit 77; }
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
}

# vm_json NAME CMDLINE DISKS_JSON: the worker's configuration file ($VCPUS
# vCPUs, default 1: the guest runs on the first; more make vmwp offer
# sub-channels, vCPUs - 1).
vm_json() {
        cat >"$tmp/$1.json" <<JSON
{ "name": "disk-$1", "memory_mib": 128, "vcpus": ${VCPUS:-1},
  "boot": { "kind": "pvh", "kernel": "$(realpath "$elf")", "cmdline": "$2" },
  "disks": [ $3 ] }
JSON
}

# boot NAME CMDLINE DISKS_JSON: runs the guest to its end on a sandboxed
# worker (the default as root); output in $tmp/NAME.out; returns vmwp's status.
boot() {
        vm_json "$@"
        timeout 300 "$vmwp" --config "$tmp/$1.json" --serial "file:$tmp/$1.out" 2>"$tmp/$1.err" </dev/null
        local rc=$?
        grep -E '^VSC (disk|bad_request|after|durable|result|error)' "$tmp/$1.out" | grep -v '^VSC disk_region=' |
                sed "s/^/  [$1] /"
        sed "s/^/  [$1] /" "$tmp/$1.err"
        return $rc
}

check() { # NAME REGEX...: each must match a line of the guest's output
        local name=$1
        shift
        for re in "$@"; do
                grep -Eq "$re" "$tmp/$name.out" || { echo "FAIL [$name]: no line matching /$re/"; fail=1; }
        done
}

. "$(dirname "${BASH_SOURCE[0]}")/pattern-lib.sh"

# image_has IMAGE SEED C L OFFSET BYTES: the host reads the image itself.
image_has() {
        cmp -s <(dd if="$1" iflag=skip_bytes,count_bytes skip="$5" count="$6" bs=64K status=none) \
                <(pattern "$2" "$3" "$4" "$5" "$6")
}

# check_regions NAME C:L IMAGE SEED: every region the guest reported for
# disk C:L holds its pattern in IMAGE; at least one region, one at offset 0
# and one ending at the image's end.
check_regions() {
        local name=$1 cl=$2 img=$3 seed=$4 n=0 bad=0 first=no last=no size
        size=$(stat -c %s "$img")
        while read -r off bytes; do
                n=$((n + 1))
                [ "$off" -eq 0 ] && first=yes
                [ $((off + bytes)) -eq "$size" ] && last=yes
                image_has "$img" "$seed" "${cl%%:*}" "${cl##*:}" "$off" "$bytes" ||
                        { echo "FAIL [$name]: $img at $off (+$bytes) does not hold disk $cl's pattern"; bad=1; }
        done < <(sed -n "s/^VSC disk_region=$cl index=[0-9]* offset=\([0-9]*\) bytes=\([0-9]*\)$/\1 \2/p" "$tmp/$name.out")
        [ $n -gt 0 ] && [ $first = yes ] && [ $last = yes ] ||
                { echo "FAIL [$name]: disk $cl: $n regions, first at 0: $first, last at the end: $last"; bad=1; }
        [ $bad -eq 0 ] && echo "  [$name] host: the $n regions of disk $cl hold its pattern (seed $seed)"
        [ $bad -eq 0 ] || fail=1
}

finish() {
        [ $fail -eq 0 ] && echo PASS || echo FAIL
        exit $fail
}
