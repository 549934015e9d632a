#!/bin/bash
# SPDX-License-Identifier: MIT
# Power-on to the login prompt of the Debian 12 test image
# (tests/lib/debian-image.sh) as a Generation 1 VM (issue #57, docs/
# firmware.md): our vmwp (standalone, the image on the IDE disk, Debian's
# bios-256k.bin) beside QEMU `-M pc -nodefaults -accel kvm` with the same
# image on its IDE disk and the same BIOS (COM1 as SeaBIOS's screen in
# both: etc/sercon-port), 1 GiB and 2 vCPUs each, in one run. Each line
# on COM1 is stamped with the milliseconds since the process started; the
# time is split at SeaBIOS's "Booting from Hard Disk" (firmware), the
# kernel's "Linux version" (boot loader: GRUB reading the kernel and
# initrd through INT 13h), "Run /init" (kernel) and "login:" (user space).
# The firmware's disk reads: at the kernel's first line ("Linux version")
# the bench reads what the IDE disk served until then (SeaBIOS's probe and
# boot sector, GRUB's core, kernel and initrd through INT 13h): ours from
# the worker's counters (SIGUSR1 prints its `stats` document on stderr:
# ide_commands, ide_pio_bytes + ide_dma_bytes), QEMU's from QMP
# `query-blockstats` (rd_operations, rd_bytes of its IDE disk); each
# divided by the firmware + boot loader time gives reads (commands or
# requests) and KiB per second. Neither firmware nor GRUB writes the disk
# on this path, so our byte counters (both directions) are reads.
# Prints the phases side by side with the ratio, and RESULT rows for
# bench/run.sh:
#   RESULT <metric> <ours> <baseline> <unit> <target>
# Needs /dev/kvm: on this project's machines run it on the emulated AMD-V
# host (docs/amdv-host.md), where both run the whole boot:
#   tests/amdv/amdv-host.sh --out DIR -- bash bench/bench-gen1-boot.sh build/debug
# (the image is built or found in its cache first, where the network is).
# Usage: bench/bench-gen1-boot.sh [build-dir] [runs]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
runs=${2:-1}
vmwp=$build/vmwp/vmwp
bios=/usr/share/seabios/bios-256k.bin
timeout_s=${VM_BENCH_BOOT_TIMEOUT:-900}
skip() { echo "bench-gen1-boot: $*" >&2; exit 77; }
[ -x "$vmwp" ] || skip "$vmwp not built"
[ -w /dev/kvm ] || skip "no /dev/kvm (run it on the emulated AMD-V host: see the header)"
[ -r "$bios" ] || skip "Debian's seabios is not installed"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed: no baseline"
raw=$(tests/lib/debian-image.sh | sed -n 1p) || skip "no Debian test image (tests/lib/debian-image.sh)"
[ -r "$raw" ] || skip "no Debian test image"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# boot NAME CMD...: starts CMD with COM1 on its stdout and stamps each line
# (ms since the start) into $tmp/NAME.log until the login prompt, then ends
# CMD; at the kernel's first line it calls disk_NAME PID (the disk reads so
# far). Returns 1 when the prompt did not come within timeout_s.
boot() {
	local name=$1 line now t0 pid found=1 kernel= end=$((SECONDS + timeout_s))
	shift
	rm -f "$tmp/$name.fifo" "$tmp/$name.log"
	mkfifo "$tmp/$name.fifo"
	t0=${EPOCHREALTIME/./}
	"$@" </dev/null >"$tmp/$name.fifo" 2>"$tmp/$name.err" &
	pid=$!
	while [ $SECONDS -lt $end ]; do
		if IFS= read -r -t 5 line; then
			now=${EPOCHREALTIME/./}
			printf '%d %s\n' $(((now - t0) / 1000)) "${line//$'\r'/}" >>"$tmp/$name.log"
			[ -z "$kernel" ] && [[ $line == *"Linux version"* ]] && { kernel=1; "disk_$name" "$pid"; }
			[[ $line == *"login:"* ]] && { found=0; break; }
		elif [ $? -le 128 ]; then
			break # the process ended
		fi
	done <"$tmp/$name.fifo"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $found
}

boot_ours() {
	cp --sparse=always "$raw" "$tmp/ours.raw" || return 1
	cat >"$tmp/vm.json" <<JSON
{ "name": "bench-gen1", "memory_mib": 1024, "vcpus": 2,
  "boot": { "kind": "firmware", "firmware": "$bios", "order": ["disk"] },
  "disks": [ { "path": "$tmp/ours.raw", "bus": "ide", "lun": 0, "format": "raw" } ] }
JSON
	boot ours "$vmwp" --config "$tmp/vm.json" --serial stdio
}

boot_qemu() {
	printf '\xf8\x03' >"$tmp/sercon" # etc/sercon-port 0x3f8, as our worker sets it
	rm -f "$tmp/qmp.sock"
	boot qemu qemu-system-x86_64 -accel kvm -M pc -nodefaults -m 1024 -smp 2 -bios "$bios" \
		-fw_cfg name=etc/sercon-port,file="$tmp/sercon" -qmp unix:"$tmp/qmp.sock",server=on,wait=off \
		-drive file="$raw",format=raw,if=ide,snapshot=on -serial stdio -display none -monitor none -no-reboot
}

# disk_ours PID: the worker prints its counters on SIGUSR1 (read after the
# run from its stderr: the first stats line). disk_qemu PID: QMP's
# query-blockstats of the IDE disk, "OPS BYTES" into $tmp/qemu.disk.
disk_ours() { kill -USR1 "$1" 2>/dev/null; }
disk_qemu() {
	python3 - "$tmp/qmp.sock" >"$tmp/qemu.disk" 2>>"$tmp/qemu.err" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
f = s.makefile("rw")
def ask(cmd):
    f.write(json.dumps({"execute": cmd}) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m
f.readline()  # the greeting
ask("qmp_capabilities")
for d in ask("query-blockstats").get("return", []):
    st = d.get("stats", {})
    if st.get("rd_bytes"):
        print(st["rd_operations"], st["rd_bytes"]); break
PY
}

# disk_reads NAME: "OPS BYTES" the firmware and boot loader read, or "- -".
disk_reads() {
	local ops bytes pio dma st
	if [ "$1" = ours ]; then
		st=$(grep -m1 ': stats: ' "$tmp/ours.err" 2>/dev/null)
		ops=$(grep -o '"ide_commands":[0-9]*' <<<"$st" | cut -d: -f2)
		pio=$(grep -o '"ide_pio_bytes":[0-9]*' <<<"$st" | cut -d: -f2)
		dma=$(grep -o '"ide_dma_bytes":[0-9]*' <<<"$st" | cut -d: -f2)
		[ -n "$ops" ] && [ -n "$pio" ] && [ -n "$dma" ] && bytes=$((pio + dma))
	else
		[ -r "$tmp/qemu.disk" ] && read -r ops bytes <"$tmp/qemu.disk"
	fi
	echo "${ops:--} ${bytes:--}"
}

# per_s COUNT MS: COUNT per second over MS, or "-".
per_s() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[1-9][0-9]*$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a * 1000 / b }' || echo -; }

# at NAME REGEX: ms of the first line matching REGEX, or nothing.
at() { awk -v re="$2" '{ t = $1; $1 = ""; if ($0 ~ re) { print t; exit } }' "$tmp/$1.log" 2>/dev/null; }

# phases NAME: "firmware loader kernel user total" in ms, "-" for a phase
# whose marks are not both there (a boot that stopped on the way).
phases() {
	local m=(0 "$(at "$1" "Booting from Hard Disk")" "$(at "$1" "Linux version")" "$(at "$1" "Run /init")"
		"$(at "$1" "login:")") out=() i
	for i in 0 1 2 3; do
		if [ -n "${m[$i]}" ] && [ -n "${m[$((i + 1))]}" ]; then out+=($((m[i + 1] - m[i]))); else out+=(-); fi
	done
	echo "${out[*]} ${m[4]:--}"
}

ratio() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[1-9][0-9]*$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || echo -; }

names=(firmware "boot loader" kernel "user space" "power-on to login")
for run in $(seq "$runs"); do
	boot_ours || echo "bench-gen1-boot: ours did not reach the login prompt: $(tail -c 400 "$tmp/ours.log" 2>/dev/null) $(tail -3 "$tmp/ours.err")" >&2
	boot_qemu || echo "bench-gen1-boot: QEMU did not reach the login prompt: $(tail -c 400 "$tmp/qemu.log" 2>/dev/null) $(tail -3 "$tmp/qemu.err")" >&2
	read -r -a o <<<"$(phases ours)"
	read -r -a q <<<"$(phases qemu)"
	printf 'run %d of %d (ms since the process started; vmwp vs QEMU -M pc -nodefaults -accel kvm)\n' "$run" "$runs"
	printf '  %-18s %10s %10s %8s\n' phase vmwp qemu ratio
	for i in 0 1 2 3 4; do
		printf '  %-18s %10s %10s %8s\n' "${names[$i]}" "${o[$i]}" "${q[$i]}" "$(ratio "${o[$i]}" "${q[$i]}")"
		printf 'RESULT\tgen1 boot: %s, vmwp vs QEMU pc\t%s\t%s\tms\t%s\n' "${names[$i]}" "${o[$i]}" "${q[$i]}" \
			"$([ "$i" = 4 ] && echo "<= 1.0x QEMU" || echo -)"
	done
	# The firmware's disk reads: until the kernel's first line, over the
	# firmware and boot loader phases together.
	read -r od ob <<<"$(disk_reads ours)"
	read -r qd qb <<<"$(disk_reads qemu)"
	oms=$(at ours "Linux version") qms=$(at qemu "Linux version")
	printf '  firmware + boot loader disk reads (until "Linux version"; ratio vmwp / QEMU: above 1.0x reads faster)\n'
	printf '  %-18s %10s %10s\n' "reads" "$od" "$qd"
	printf '  %-18s %10s %10s\n' "KiB read" "$([[ $ob =~ ^[0-9]+$ ]] && echo $((ob / 1024)) || echo -)" \
		"$([[ $qb =~ ^[0-9]+$ ]] && echo $((qb / 1024)) || echo -)"
	o_rs=$(per_s "$od" "$oms") q_rs=$(per_s "$qd" "$qms")
	o_ks=$([[ $ob =~ ^[0-9]+$ ]] && per_s $((ob / 1024)) "$oms" || echo -)
	q_ks=$([[ $qb =~ ^[0-9]+$ ]] && per_s $((qb / 1024)) "$qms" || echo -)
	printf '  %-18s %10s %10s %8s\n' "reads/s" "$o_rs" "$q_rs" "$(ratio "$o_rs" "$q_rs")"
	printf '  %-18s %10s %10s %8s\n' "KiB/s" "$o_ks" "$q_ks" "$(ratio "$o_ks" "$q_ks")"
	printf 'RESULT\tgen1 boot: firmware disk reads per second, vmwp vs QEMU pc\t%s\t%s\treads/s\t-\n' "$o_rs" "$q_rs"
	printf 'RESULT\tgen1 boot: firmware disk KiB per second, vmwp vs QEMU pc\t%s\t%s\tKiB/s\t-\n' "$o_ks" "$q_ks"
done
