#!/bin/bash
# SPDX-License-Identifier: MIT
# The test guest's storvsc client against storvsp in a sandboxed vmwp, on raw
# images (issue #7):
#  restart   boot 1 writes the pattern across the disk, flushes, reads it
#            back; the host finds it in the image; boot 2 (a new worker)
#            verifies it; a boot with another seed must fail to verify it
#  bad       refused requests come back with sense data (unsupported
#            opcode 20h, LBA out of range 21h, transfer > buffer 24h, absent
#            LUN = INVALID_LUN), and the VM keeps running
#  4k        a 4096-byte-sector disk
#  ro        a read-only disk: write-protected, a write refused with DATA
#            PROTECT 27h, the host's pattern read back, the image unchanged
#  multi     two LUNs on one controller and a second controller, each disk
#            with its own pattern (no cross-wiring)
#  sub       a VM with two vCPUs: the guest asks for a sub-channel
#            (CREATE_SUB_CHANNELS, §6.7) and spreads its I/O over both
# Every worker exits 0: a system call outside the sandbox would be status 16.
set -uo pipefail
. "$(dirname "$0")/guest-disk-lib.sh"
disk_require
seed=$(( (RANDOM << 15 | RANDOM) + 1 ))
echo "seed $seed"

disk() { # PATH [extra json]
        printf '{ "path": "%s"%s }' "$1" "${2:+, $2}"
}

# ---- restart: write, verify in a new worker, host check, wrong seed fails ----
img=$tmp/restart.img
truncate -s 64M "$img"
boot write "vsc.mode=disk-check vsc.disk.seed=$seed" "$(disk "$img")"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL [write]: vmwp exit status $rc"; fail=1; }
check write '^VSC disk_controller=0 relid=[0-9]+ instance=[0-9a-f-]{36} protocol=0x0602 max_transfer=1048576 ' \
        '^VSC disk=0:0 vendor=Msft product=Virtual_Disk .*blocks=131072 block_size=512 .*capacity_mib=64 wp=0 ' \
        '^VSC disks=1$' '^VSC disk_write=0:0 regions=16 ' '^VSC disk_flush=0:0 ok$' \
        '^VSC disk_read=0:0 regions=16 .* compared=1$' '^VSC disk_unmap=0:0 .* lbprz=1 zeroed=1$' \
        '^VSC result=ok status=0$'
check_regions write 0:0 "$img" "$seed"
boot verify "vsc.mode=disk-check vsc.disk.seed=$seed vsc.disk.verify_only=1" "$(disk "$img")"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL [verify]: vmwp exit status $rc"; fail=1; }
check verify '^VSC disk_read=0:0 regions=16 .* compared=1$' '^VSC result=ok status=0$'
grep -q '^VSC disk_write=' "$tmp/verify.out" && { echo "FAIL [verify]: verify_only wrote"; fail=1; }
boot wrongseed "vsc.mode=disk-check vsc.disk.seed=$((seed + 1)) vsc.disk.verify_only=1" "$(disk "$img")"
check wrongseed "^VSC error=disk 0:0: data mismatch at offset 0 \(region 0\): found VSCDISK_s=$(printf %08x "$seed")_" \
        '^VSC result=fail status=74$'

# ---- bad requests (from the first boot): sense, and the VM went on ----
check write \
        '^VSC bad_request=unsupported_opcode disk=0:0 srb_status=0x84 scsi_status=0x2 status=0xc0000185 sense_key=0x5 asc=0x20 ascq=0x0$' \
        '^VSC bad_request=lba_out_of_range disk=0:0 srb_status=0x84 scsi_status=0x2 .* sense_key=0x5 asc=0x21 ascq=0x0$' \
        '^VSC bad_request=transfer_exceeds_buffer disk=0:0 srb_status=0x84 .* sense_key=0x5 asc=0x24 ascq=0x0$' \
        '^VSC bad_request=absent_lun disk=0:254 srb_status=0x20 scsi_status=0x2 status=0xc00000c0 sense=none$' \
        '^VSC after_bad_requests=0:0 ok$'
grep -q '^vmwp: .*powered off (ACPI S5)' "$tmp/write.err" || { echo "FAIL [bad]: the VM did not run to its power-off"; fail=1; }

# ---- 4096-byte sectors ----
img4k=$tmp/4k.img
truncate -s 32M "$img4k"
boot 4k "vsc.mode=disk-check vsc.disk.seed=$seed" "$(disk "$img4k" '"sector_size": 4096')"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL [4k]: vmwp exit status $rc"; fail=1; }
check 4k '^VSC disk=0:0 .*blocks=8192 block_size=4096 phys_block_size=4096 capacity_mib=32 ' \
        '^VSC disk_read=0:0 .* compared=1$' '^VSC result=ok status=0$'
check_regions 4k 0:0 "$img4k" "$seed"

# ---- read-only: the host writes the pattern, the guest can only read it ----
imgro=$tmp/ro.img
pattern "$seed" 0 0 0 $((16 << 20)) >"$imgro"
sum=$(md5sum <"$imgro")
boot ro "vsc.mode=disk-check vsc.disk.seed=$seed vsc.disk.verify_only=1" "$(disk "$imgro" '"read_only": true')"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL [ro]: vmwp exit status $rc"; fail=1; }
check ro '^VSC disk=0:0 .*capacity_mib=16 wp=1 ' '^VSC disk_read=0:0 regions=16 .* compared=1$' \
        '^VSC bad_request=write_protected disk=0:0 srb_status=0x84 scsi_status=0x2 .* sense_key=0x7 asc=0x27 ascq=0x0$' \
        '^VSC result=ok status=0$'
[ "$(md5sum <"$imgro")" = "$sum" ] || { echo "FAIL [ro]: the read-only image changed"; fail=1; }

# ---- two LUNs on controller 0, one on controller 1 ----
for n in a b c; do truncate -s 16M "$tmp/$n.img"; done
boot multi "vsc.mode=disk-check vsc.disk.seed=$seed vsc.disk.regions=8" \
        "$(disk "$tmp/a.img" '"controller": 0, "lun": 0'), $(disk "$tmp/b.img" '"controller": 0, "lun": 3'), $(disk "$tmp/c.img" '"controller": 1, "lun": 0')"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL [multi]: vmwp exit status $rc"; fail=1; }
check multi '^VSC disk_controller=0 ' '^VSC disk_controller=1 ' '^VSC disk=0:0 ' '^VSC disk=0:3 ' '^VSC disk=1:0 ' \
        '^VSC disks=3$' '^VSC disk_read=0:3 .* compared=1$' '^VSC disk_read=1:0 .* compared=1$' '^VSC result=ok status=0$'
n=$(grep -c '^VSC disk_controller=' "$tmp/multi.out")
[ "$n" -eq 2 ] || { echo "FAIL [multi]: $n controllers found, want 2"; fail=1; }
check_regions multi 0:0 "$tmp/a.img" "$seed"
check_regions multi 0:3 "$tmp/b.img" "$seed"
check_regions multi 1:0 "$tmp/c.img" "$seed"

# ---- a sub-channel ----
truncate -s 16M "$tmp/sub.img"
VCPUS=2 boot sub "vsc.mode=disk-check vsc.disk.seed=$seed vsc.disk.subchannels=1 vsc.disk.regions=8" \
        "$(disk "$tmp/sub.img")"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL [sub]: vmwp exit status $rc"; fail=1; }
check sub '^VSC disk_controller=0 .* multi_channel=1 max_sub_channels=1 channels=2 ' \
        '^VSC disk_read=0:0 .* compared=1$' '^VSC result=ok status=0$'
check_regions sub 0:0 "$tmp/sub.img" "$seed"

finish
