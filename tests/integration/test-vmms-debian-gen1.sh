#!/bin/bash
# SPDX-License-Identifier: MIT
# A real Debian 12 system boots from its own disk as a Generation 1 VM
# (issue #57, docs/firmware.md): the test image (tests/lib/debian-image.sh,
# a VHDX with GRUB, Debian's cloud kernel, cloud-init and hyperv-daemons)
# under a differencing disk, a cloud-init NoCloud seed that vmms made on
# the DVD (`vmctl create --cloud-init`), one NIC
# on a bridge with a DHCP server, the real sandboxed worker under vmms.
# SeaBIOS and GRUB read the emulated IDE disk; the kernel's hv_storvsc
# takes it over on VMBus (ata_piix ignores it on "Microsoft Corporation"
# hardware). Checked from inside the guest (a cloud-init runcmd writes what
# it sees to COM1, the serial shell answers): the root file system on
# storvsc, the seed applied, an address by DHCP; from outside: the guest's
# IP in `vmctl kvp` (hv_kvp_daemon), the DVD drive as Linux's sr driver
# sees it (the seed's label, then no medium after `vmctl dvd eject`, then
# another disc's label and size after `vmctl dvd insert`, each read by the
# guest's serial root shell), a save and a resume with the guest answering
# and the second disc still in its drive, then a live migration to a
# second vmms on the same host (host B, the same real worker): on B the
# guest's shell answers, its root on sda reads and writes (a file written
# and read back, direct reads of sda), eth0 is up with its address and
# `vmctl kvp` on B reports it, and the DVD drive holds the same disc
# (label and size as before the move); last, `vmctl stop` on B through the
# shutdown service. One boot in all.
#
# Runs where a boot costs about a minute: on hardware virtualization or the
# emulated AMD-V host (ctest amdv/debian-gen1). On PVM the firmware, GRUB
# and the kernel run emulated at CPL0 (tens of minutes): it skips there.
set -u
source "$(dirname "$0")/vmms-lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
[ -x "$REAL_WORKER" ] && [ -w /dev/kvm ] || { echo "SKIP: needs the real vmwp and /dev/kvm"; exit 77; }
[ -d /sys/module/kvm_pvm ] && { echo "SKIP: PVM KVM: a firmware boot of Debian takes tens of minutes here (run amdv/debian-gen1)"; exit 77; }
[ -r /usr/share/seabios/bios-256k.bin ] || { echo "SKIP: Debian's seabios is not installed"; exit 77; }
command -v busybox >/dev/null || { echo "SKIP: busybox (udhcpd) missing"; exit 77; }
command -v xorriso >/dev/null || { echo "SKIP: xorriso missing (scripts/deps.sh)"; exit 77; }
images=$("$src/tests/lib/debian-image.sh") || { rc=$?; [ $rc = 77 ] && echo "SKIP: no Debian test image"; exit $rc; }
base=$(echo "$images" | sed -n 2p)
WORKER=$REAL_WORKER WORKER_KIND=real
P=$T/pool
mkdir -p "$P"
"$VMCTL_BIN" disk create "$P/deb.avhdx" --parent="$base" >/dev/null || fail "differencing disk on $base"

note "the network: br0 10.57.0.1/24 with a DHCP server"
ip link set lo up
ip link add br0 type bridge && ip addr add 10.57.0.1/24 dev br0 && ip link set br0 up || fail "bridge"
t_on_exit "ip link del br0 2>/dev/null"
# The pool's addresses, .10 to .20 (.20 came once, 2026-12-01), as a pattern.
LEASE='10\.57\.0\.(1[0-9]|20)\b'
printf 'start 10.57.0.10\nend 10.57.0.20\ninterface br0\nlease_file %s\noption subnet 255.255.255.0\n' \
	"$T/leases" >"$T/udhcpd.conf"
touch "$T/leases"
busybox udhcpd -f "$T/udhcpd.conf" >"$T/udhcpd.log" 2>&1 &
t_on_exit "kill $! 2>/dev/null"

note "the cloud-init seed: a host name, a file, what the guest sees on COM1"
cat >"$T/user-data" <<'EOF'
#cloud-config
hostname: gen1-test
write_files:
  - path: /root/seeded
    content: "written by cloud-init from the vmstack seed\n"
runcmd:
  - sh -c 'd=$(readlink -f /sys/block/sda/device); echo "GEN1 root=$(findmnt -no SOURCE /) host=$(cat ${d%/target*}/scsi_host/*/proc_name) hostname=$(hostname) seeded=$(cat /root/seeded | wc -c) ip=$(ip -4 -o addr show eth0 | grep -o "inet [0-9.]*")" >/dev/ttyS0'
EOF

read -r PB < <(t_free_ports 1)
[ -n "$PB" ] || fail "no free port for host B"
VMMS_POOLS= t_start_vmms --storage-pool="$P" --storage-pool="$(dirname "$base")" --migration-insecure
expect_rc 0 vmctl create --name=deb --memory=1G --vcpus=2 --disk="$P/deb.avhdx" --cloud-init="$T/user-data" \
	--nic=bridge=br0 --stop-timeout=120
CON=$(vm_prop deb ConsoleLog)
# guest_wait SECONDS WHAT REGEX [N]: vmms-lib.sh's console_wait for deb.
guest_wait() { console_wait deb "$@"; }
# ask_guest TAG LINE PATTERN: types LINE into deb's console (its root
# shell, $CON's log) until a console line matches PATTERN (grep -E), asked
# again while none does (a line typed before the shell is up, after a
# resume or a migration, is lost), then prints the last such line.
ask_guest() {
	local tag=$1 line=$2 re=$3 try
	for try in 1 2 3 4 5 6; do
		(sleep 1; printf '\n%s\n' "$line"; sleep 5) | vmctl console deb --timeout=20 >/dev/null 2>&1
		console_text "$CON" | grep -Eq "$re" && break
		sleep 10
	done
	guest_wait 60 "the guest's answer ($tag)" "$re"
	console_text "$CON" | grep -E "$re" | tail -1
}
t0=$(date +%s)
expect_rc 0 vmctl start deb --timeout=60

note "boot: SeaBIOS, GRUB, the kernel, multi-user"
guest_wait 120 "SeaBIOS's banner" "SeaBIOS \(version"
guest_wait 900 "multi-user (or the initramfs giving up)" "vmstack-guest: multi-user reached|ALERT! |Kernel panic"
console_has deb "vmstack-guest: multi-user reached" ||
	fail "the guest did not reach multi-user: $(console deb | tail -30)"
echo "multi-user after $(($(date +%s) - t0)) s"
guest_wait 300 "cloud-init's runcmd line" "^GEN1 root="
line=$(console deb | tr -d '\r' | grep "^GEN1 root=" | tail -1)
echo "guest: $line"
# ata_piix stepped aside for the disk (our SMBIOS), storvsc took it over.
console_has deb "ATA device ignore set" || fail "no ata_piix ignore message: $(console deb | grep -i ata | tail)"
console_has deb "storvsc_host_t" || fail "no storvsc host: $(console deb | grep -i scsi | tail)"
console_has deb "sd [0-9]+:0:0:0: \[sda\]" || fail "no sda on target 0: $(console deb | grep -i 'sd ' | tail)"
echo "$line" | grep -q "root=/dev/sda1 " || fail "root is not /dev/sda1: $line"
echo "$line" | grep -q " host=storvsc_host " || fail "the root disk is not on hv_storvsc: $line"
echo "$line" | grep -q " hostname=gen1-test " || fail "cloud-init did not set the host name: $line"
echo "$line" | grep -q " seeded=44 " || fail "cloud-init did not write the seed's file: $line"
echo "$line" | grep -Eq " ip=inet $LEASE" || fail "no DHCP address on eth0: $line"

note "the guest's address in KVP (hv_kvp_daemon)"
wait_for 120 "NetworkAddressIPv4 in KVP" sh -c "'$VMCTL_BIN' --address='$ADDR' kvp deb 2>/dev/null | grep -Eq '$LEASE'"

note "the DVD seen by Linux's sr driver: the seed, ejected, another disc (vmctl dvd eject|insert)"
mkdir -p "$T/second"
echo "the second disc" >"$T/second/readme.txt"
xorriso -as mkisofs -quiet -V VMSTACK_SECOND -o "$P/second.iso" "$T/second" 2>/dev/null || fail "the second ISO"
# dvd_seen TAG: the guest's root shell on the console opens /dev/sr0 (which
# makes sr look for a media change) and says on one line what it found:
# the disc's label (blkid), its size, the error of a read without a disc.
dvd_seen() {
	local tag="DVD-$1-$RANDOM" cmd
	cmd='echo "'$tag' label=$(blkid -p -s LABEL -o value /dev/sr0 2>/dev/null || echo none) bytes=$(blockdev --getsize64 /dev/sr0 2>/dev/null || echo none) read=$(head -c 2048 /dev/sr0 2>&1 >/dev/null | sed "s/.*: //" | head -1)"'
	(sleep 1; printf '\n%s\n' "$cmd"; sleep 3) | vmctl console deb --timeout=15 >/dev/null 2>&1
	guest_wait 60 "the guest's view of its DVD ($1)" "^$tag label="
	console_text "$CON" | grep "^$tag label=" | tail -1
}
# second_disc_in TAG WHEN: the guest sees the second disc in its drive
# (its label and size, a read that works).
second_disc_in() {
	local seen size
	seen=$(dvd_seen "$1")
	size=$(stat -c %s "$P/second.iso")
	echo "guest: $seen"
	echo "$seen" | grep -q " label=VMSTACK_SECOND bytes=$size read=\$" ||
		fail "the DVD $2 (the second disc, $size bytes): $seen"
}
seen=$(dvd_seen seed)
echo "guest: $seen"
echo "$seen" | grep -q " label=cidata bytes=[1-9]" || fail "the seed on /dev/sr0: $seen"
expect_rc 0 vmctl dvd eject deb
seen=$(dvd_seen ejected)
echo "guest: $seen"
echo "$seen" | grep -q " label=none bytes=.* read=No medium found" || fail "after the eject: $seen"
expect_rc 0 vmctl dvd insert deb "$P/second.iso"
second_disc_in inserted "after the insert"

# The same boot goes on: a save and a resume, the live migration, and on
# B the stop through the shutdown service. (Until 2026-12-02 the guest was
# stopped here and booted a second time for the save: under the emulated
# host's TCG each boot took 6-8 minutes, and the two ran past its 1200 s.)
note "a save and a resume (the second disc in the drive)"
expect_rc 0 vmctl save deb
[ "$(vm_prop deb State)" = Saved ] || fail "deb is $(vm_prop deb State) after save"
expect_rc 0 vmctl start deb --timeout=120
wait_state deb Running
tag="alive-$RANDOM$RANDOM"
ask_guest "$tag" "echo $tag-\$((6*7))" "$tag-42" >/dev/null
second_disc_in resumed "after the resume"

note "a live migration to host B (a second vmms, the real worker)"
t_host_b_start "$PB" --migration-insecure --storage-pool="$(dirname "$base")"
expect_rc 0 vmctl migrate deb 127.0.0.1:$PB
ADDR=$ADDRB wait_state deb Running 60
wait_for 60 "deb gone from A" sh -c "! '$VMCTL_BIN' --address='$ADDR' show deb >/dev/null 2>&1"
ADDRA=$ADDR ADDR=$ADDRB
CON=$(vm_prop deb ConsoleLog)
# The guest's root shell on B's console runs the line, whose output line
# starts with the tag.
tag="MIG-$RANDOM$RANDOM"
line=$(ask_guest "$tag" 'echo "'$tag' $(date +%s%N)" >/root/migrated && sync && echo "'$tag' root=$(findmnt -no SOURCE /) back=$(cut -d" " -f1 /root/migrated) direct=$(dd if=/dev/sda of=/dev/null bs=4096 count=2048 iflag=direct 2>&1 | grep -c copied) eth0=$(cat /sys/class/net/eth0/operstate) ip=$(ip -4 -o addr show eth0 | grep -o "inet [0-9.]*")"' "^$tag ")
echo "guest on B: $line"
echo "$line" | grep -q "root=/dev/sda1 " || fail "root after the migration: $line"
echo "$line" | grep -q " back=$tag " || fail "the root file system did not write and read back: $line"
echo "$line" | grep -q " direct=1 " || fail "direct reads of sda failed after the migration: $line"
echo "$line" | grep -Eq " eth0=up ip=inet $LEASE" || fail "eth0 after the migration: $line"
wait_for 120 "NetworkAddressIPv4 in KVP on B" sh -c "'$VMCTL_BIN' --address='$ADDRB' kvp deb 2>/dev/null | grep -Eq '$LEASE'"
second_disc_in migrated "on B after the migration"
note "vmctl stop on B: the guest shuts down through the shutdown service"
expect_rc 0 vmctl stop deb --timeout=180
[ "$(vm_prop deb State)" = Off ] || fail "deb on B is $(vm_prop deb State): $(vm_prop deb ExitReason)"
console_has deb "reboot: Power down|Power-Off|System Power Off" || note "(no power-off line on the console)"
alive "$BVMMS" || fail "vmms B is gone"
ADDR=$ADDRA
alive "$VMMS_PID" || fail "vmms is gone"
echo "PASS"
