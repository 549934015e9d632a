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
#
# The two boots run one after the other, each with its own deadline
# (--timeout, per boot): each side's phases and disk reads are printed as
# soon as that boot ends, and a boot that missed its deadline (or whose
# process ended) prints the phase it reached and its last console line, so
# a slow baseline never hides our figures. At the end the phases side by
# side with the ratio, and RESULT rows for bench/run.sh:
#   RESULT <metric> <ours> <baseline> <unit> <target>
# The stamped consoles (ours.log, qemu.log), the processes' stderr and
# QEMU's block statistics are kept in --out (default
# BUILD/bench-gen1-artifacts/run-N, which the emulated host's
# keep-artifacts.sh copies out); `--report DIR` prints a kept run again.
# Needs /dev/kvm: on this project's machines run it on the emulated AMD-V
# host (docs/amdv-host.md), where both run the whole boot (under QEMU 10
# as the host: under 7.2 QEMU's guest stalled):
#   tests/amdv/amdv-host.sh --qemu backports --out DIR --timeout 1700 -- bash bench/bench-gen1-boot.sh build/debug
# (the image is built or found in its cache first, where the network is).
# On the PVM host (our development machines) `--until kernel` stops both
# boots at the kernel's first line and compares firmware and boot loader
# only: QEMU goes no further there (it has no PVM layer), and those
# stages run at emulated CPL0, tens of minutes for both (firmware-facts.md
# §1.7: QEMU 661 s):
#   bench/bench-gen1-boot.sh --until kernel --timeout 1500 build/release
# Usage: bench/bench-gen1-boot.sh [--timeout S] [--out DIR] [--until login|kernel] [build-dir] [runs]
#        bench/bench-gen1-boot.sh --report RUN-DIR
set -uo pipefail

usage() {
	echo "usage: bench-gen1-boot.sh [--timeout S] [--out DIR] [--until login|kernel] [build-dir] [runs]" >&2
	echo "       bench-gen1-boot.sh --report RUN-DIR" >&2
	exit 2
}

# boot NAME DIR DEADLINE CMD...: starts CMD with COM1 on its stdout and
# stamps each line (ms since the start) into DIR/NAME.log until the
# goal's last mark, then ends CMD; at the goal's disk mark it calls
# disk_NAME PID DIR (the disk reads so far). Writes how it ended into
# DIR/NAME.end
# (the goal reached, "deadline S", "exited" or "internal-error": QEMU
# said "KVM internal error" and holds the stopped VM) and returns 1 unless
# the goal.
boot() {
	local name=$1 dir=$2 limit=$3 line now t0 pid end_how kernel="" end
	shift 3
	rm -f "$dir/$name.fifo" "$dir/$name.log"
	: >"$dir/$name.log"
	mkfifo "$dir/$name.fifo"
	t0=${EPOCHREALTIME/[.,]/}
	"$@" </dev/null >"$dir/$name.fifo" 2>"$dir/$name.err" &
	pid=$!
	end=$((SECONDS + limit)) end_how="deadline $limit"
	while [ $SECONDS -lt $end ]; do
		if IFS= read -r -t 1 line; then
			now=${EPOCHREALTIME/[.,]/}
			printf '%d %s\n' $(((now - t0) / 1000)) "${line//$'\r'/}" >>"$dir/$name.log"
			[ -z "$kernel" ] && [[ $line == *"$disk_mark"* ]] && { kernel=1; "disk_$name" "$pid" "$dir"; }
			[[ $line == *"${marks[-1]}"* ]] && { end_how=$goal; break; }
		elif [ $? -le 128 ]; then
			end_how=exited # the process ended (EOF on COM1)
			break
		elif grep -q "KVM internal error" "$dir/$name.err" 2>/dev/null; then
			end_how=internal-error # QEMU stopped the VM and waits (on PVM: an instruction KVM cannot emulate)
			break
		fi
	done <"$dir/$name.fifo"
	# Ended at the kernel's first line: the disk reads asked for there
	# are in before the process goes.
	[ "$end_how" = kernel ] && "disk_wait_$name" "$dir"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$dir/$name.fifo"
	echo "$end_how" >"$dir/$name.end"
	echo "$goal" >"$dir/goal"
	[ "$end_how" = "$goal" ]
}

# disk_ours PID DIR: the worker prints its counters on SIGUSR1 (read after
# the run from its stderr: the first stats line). disk_qemu PID DIR: QMP's
# query-blockstats of the IDE disk, "OPS BYTES" into DIR/qemu.disk.
disk_ours() { kill -USR1 "$1" 2>/dev/null; }
# disk_wait_NAME DIR: until the reads asked for are written (at most 5 s).
disk_wait_ours() {
	local i
	for ((i = 0; i < 50; i++)); do grep -q ': stats: ' "$1/ours.err" 2>/dev/null && return; sleep 0.1; done
}
disk_wait_qemu() { :; } # query-blockstats answered before the boot went on
disk_qemu() {
	python3 - "$tmp/qmp.sock" >"$2/qemu.disk" 2>>"$2/qemu.err" <<'PY'
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

# disk_reads DIR NAME: "OPS BYTES" the firmware and boot loader read, or "- -".
disk_reads() {
	local ops='' bytes='' pio dma st
	if [ "$2" = ours ]; then
		st=$(grep -m1 ': stats: ' "$1/ours.err" 2>/dev/null)
		ops=$(grep -o '"ide_commands":[0-9]*' <<<"$st" | cut -d: -f2)
		pio=$(grep -o '"ide_pio_bytes":[0-9]*' <<<"$st" | cut -d: -f2)
		dma=$(grep -o '"ide_dma_bytes":[0-9]*' <<<"$st" | cut -d: -f2)
		[ -n "$ops" ] && [ -n "$pio" ] && [ -n "$dma" ] && bytes=$((pio + dma))
	else
		[ -r "$1/qemu.disk" ] && read -r ops bytes <"$1/qemu.disk"
	fi
	echo "${ops:--} ${bytes:--}"
}

# per_s COUNT MS: COUNT per second over MS, or "-".
per_s() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[1-9][0-9]*$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a * 1000 / b }' || echo -; }
kib() { [[ $1 =~ ^[0-9]+$ ]] && echo $(($1 / 1024)) || echo -; }
ratio() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[1-9][0-9]*$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || echo -; }

# at DIR NAME REGEX: ms of the first line matching REGEX, or nothing.
at() { awk -v re="$3" '{ t = $1; $1 = ""; if ($0 ~ re) { print t; exit } }' "$1/$2.log" 2>/dev/null; }

# set_goal login|kernel: how far the boots go, and so the console marks
# that end the phases and the phases' names (the last the total). login:
# the whole boot (the emulated AMD-V host, hardware). kernel: to the
# kernel's first line ("Linux version"): firmware, boot loader and the
# bzImage's decompressor, the disk reads taken at GRUB's "boot" (the boot
# loader's end: nothing reads the disk after it until the kernel's own
# drivers); on the PVM host, where QEMU stops in the kernel's early boot (no PVM
# layer; firmware-facts.md §1.7) and a whole boot takes tens of minutes.
set_goal() {
	goal=$1
	if [ "$goal" = kernel ]; then
		# GRUB's "boot" (the test image's grub.cfg says it: tests/lib/
		# debian-image-key.sh) splits the boot loader from the kernel's
		# decompressor, which QEMU does not get through on PVM.
		marks=("Booting from Hard Disk" "vmstack-grub: booting" "Linux version")
		names=(firmware "boot loader" decompressor "power-on to kernel")
		disk_mark="vmstack-grub: booting"
		goal_text="the kernel's first line"
	else
		marks=("Booting from Hard Disk" "Linux version" "Run /init" "login:")
		disk_mark="Linux version"
		names=(firmware "boot loader" kernel "user space" "power-on to login")
		goal_text="the login prompt"
	fi
}
set_goal login

# phases DIR NAME: each phase's ms ("firmware loader kernel user" to the
# login prompt), then the total; "-" for a phase whose marks are not both
# there (a boot that stopped on the way).
phases() {
	local m=(0) ms=() i n=${#marks[@]}
	for ((i = 0; i < n; i++)); do m+=("$(at "$1" "$2" "${marks[$i]}")"); done
	for ((i = 0; i < n; i++)); do
		if [ -n "${m[$i]}" ] && [ -n "${m[$((i + 1))]}" ]; then ms+=($((m[i + 1] - m[i]))); else ms+=(-); fi
	done
	echo "${ms[*]} ${m[$n]:--}"
}

# reached DIR NAME: the phase a boot was in when it ended (the goal's
# words once it printed the last mark): the one after the last mark it
# passed.
reached() {
	local i last=-1 n=${#marks[@]}
	for ((i = 0; i < n; i++)); do [ -n "$(at "$1" "$2" "${marks[$i]}")" ] && last=$i; done
	[ $last = $((n - 1)) ] && echo "${goal_text#the }" || echo "${names[$((last + 1))]}"
}

# side_report DIR NAME LABEL: one boot's figures, printed when it ends.
side_report() {
	local dir=$1 name=$2 label=$3 how p d b ms
	how=$(cat "$dir/$name.end" 2>/dev/null || echo "not run")
	read -r -a p <<<"$(phases "$dir" "$name")"
	local n=${#marks[@]} i line=
	if [ "$how" = "$goal" ]; then
		printf '%s: reached %s in %s ms\n' "$label" "$goal_text" "${p[$n]}"
	else
		case $how in
		exited) how="the process ended" ;;
		internal-error) how="KVM internal error: the VM stopped" ;;
		*) how="${how/deadline/deadline of} s" ;;
		esac
		printf '%s: did not reach %s (%s); it was in the %s phase\n' "$label" "$goal_text" "$how" \
			"$(reached "$dir" "$name")"
		printf '  last console line: %s\n' "$(tail -n 1 "$dir/$name.log" 2>/dev/null | cut -d' ' -f2- | cut -c1-200)"
	fi
	for ((i = 0; i < n; i++)); do line+="${line:+, }${names[$i]} ${p[$i]} ms"; done
	printf '  %s\n' "$line"
	read -r d b <<<"$(disk_reads "$dir" "$name")"
	ms=$(at "$dir" "$name" "$disk_mark")
	printf '  firmware + boot loader disk reads: %s reads, %s KiB; %s reads/s, %s KiB/s\n' "$d" "$(kib "$b")" \
		"$(per_s "$d" "$ms")" "$(per_s "$(kib "$b")" "$ms")"
}

# compare DIR RUN RUNS: both boots side by side and the RESULT rows.
compare() {
	local dir=$1 o q i od ob qd qb oms qms o_rs q_rs o_ks q_ks
	read -r -a o <<<"$(phases "$dir" ours)"
	read -r -a q <<<"$(phases "$dir" qemu)"
	printf 'run %d of %d (ms since the process started; vmwp vs QEMU -M pc -nodefaults -accel kvm)\n' "$2" "$3"
	printf '  %-18s %10s %10s %8s\n' phase vmwp qemu ratio
	for ((i = 0; i <= ${#marks[@]}; i++)); do
		printf '  %-18s %10s %10s %8s\n' "${names[$i]}" "${o[$i]}" "${q[$i]}" "$(ratio "${o[$i]}" "${q[$i]}")"
		printf 'RESULT\tgen1 boot: %s, vmwp vs QEMU pc\t%s\t%s\tms\t%s\n' "${names[$i]}" "${o[$i]}" "${q[$i]}" \
			"$([ "$i" = ${#marks[@]} ] && echo "<= 1.0x QEMU" || echo -)"
	done
	# The firmware's disk reads: until the kernel's first line, over the
	# firmware and boot loader phases together.
	read -r od ob <<<"$(disk_reads "$dir" ours)"
	read -r qd qb <<<"$(disk_reads "$dir" qemu)"
	oms=$(at "$dir" ours "$disk_mark") qms=$(at "$dir" qemu "$disk_mark")
	printf '  firmware + boot loader disk reads (until "%s"; ratio vmwp / QEMU: above 1.0x reads faster)\n' "$disk_mark"
	printf '  %-18s %10s %10s\n' "reads" "$od" "$qd"
	printf '  %-18s %10s %10s\n' "KiB read" "$(kib "$ob")" "$(kib "$qb")"
	o_rs=$(per_s "$od" "$oms") q_rs=$(per_s "$qd" "$qms")
	o_ks=$(per_s "$(kib "$ob")" "$oms") q_ks=$(per_s "$(kib "$qb")" "$qms")
	printf '  %-18s %10s %10s %8s\n' "reads/s" "$o_rs" "$q_rs" "$(ratio "$o_rs" "$q_rs")"
	printf '  %-18s %10s %10s %8s\n' "KiB/s" "$o_ks" "$q_ks" "$(ratio "$o_ks" "$q_ks")"
	printf 'RESULT\tgen1 boot: firmware disk reads per second, vmwp vs QEMU pc\t%s\t%s\treads/s\t-\n' "$o_rs" "$q_rs"
	printf 'RESULT\tgen1 boot: firmware disk KiB per second, vmwp vs QEMU pc\t%s\t%s\tKiB/s\t-\n' "$o_ks" "$q_ks"
}

report() { # RUN-DIR RUN RUNS
	side_report "$1" ours vmwp
	side_report "$1" qemu QEMU
	compare "$@"
}

# Sourced (tests/unit/test-bench-gen1-report.sh): the functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

cd "$(dirname "$0")/.." || exit 2 # the build and --out are relative to the checkout
timeout_s=${VM_BENCH_BOOT_TIMEOUT:-600} out='' build='' runs=''
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; timeout_s=$2; shift 2 ;;
	--out) [ -n "${2:-}" ] || usage; out=$2; shift 2 ;;
	--report) # a kept run's folder, from the directory the bench was started in
		cd "$OLDPWD" || exit 2
		[ -r "${2:-}/ours.log" ] || [ -r "${2:-}/qemu.log" ] || { echo "bench-gen1-boot: no kept run in ${2:-''}" >&2; exit 2; }
		[ -r "$2/goal" ] && set_goal "$(cat "$2/goal")"
		report "$2" 1 1; exit 0 ;;
	--until)
		[[ ${2:-} =~ ^(login|kernel)$ ]] || usage
		set_goal "$2"; shift 2 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) if [ -z "$build" ]; then build=$1; elif [ -z "$runs" ]; then runs=$1; else usage; fi; shift ;;
	esac
done
build=${build:-build/release} runs=${runs:-1}
[[ $runs =~ ^[1-9][0-9]*$ ]] || usage
vmwp=$build/vmwp/vmwp
bios=/usr/share/seabios/bios-256k.bin
out=${out:-$build/bench-gen1-artifacts}
skip() { echo "bench-gen1-boot: $*" >&2; exit 77; }
[ -x "$vmwp" ] || skip "$vmwp not built"
[ -w /dev/kvm ] || skip "no /dev/kvm (run it on the emulated AMD-V host: see the header)"
[ -r "$bios" ] || skip "Debian's seabios is not installed"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed: no baseline"
raw=$(tests/lib/debian-image.sh | sed -n 1p) || skip "no Debian test image (tests/lib/debian-image.sh)"
[ -r "$raw" ] || skip "no Debian test image"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

boot_ours() { # DIR
	cp --sparse=always "$raw" "$tmp/ours.raw" || return 1
	cat >"$tmp/vm.json" <<JSON
{ "name": "bench-gen1", "memory_mib": 1024, "vcpus": 2,
  "boot": { "kind": "firmware", "firmware": "$bios", "order": ["disk"] },
  "disks": [ { "path": "$tmp/ours.raw", "bus": "ide", "lun": 0, "format": "raw" } ] }
JSON
	boot ours "$1" "$timeout_s" "$vmwp" --config "$tmp/vm.json" --serial stdio
}

boot_qemu() { # DIR
	printf '\xf8\x03' >"$tmp/sercon" # etc/sercon-port 0x3f8, as our worker sets it
	rm -f "$tmp/qmp.sock"
	boot qemu "$1" "$timeout_s" qemu-system-x86_64 -accel kvm -M pc -nodefaults -m 1024 -smp 2 -bios "$bios" \
		-fw_cfg name=etc/sercon-port,file="$tmp/sercon" -qmp unix:"$tmp/qmp.sock",server=on,wait=off \
		-drive file="$raw",format=raw,if=ide,snapshot=on -serial stdio -display none -monitor none -no-reboot
}

echo "host: $("$build/bench/host-kind" 2>/dev/null || echo "unknown ($build/bench/host-kind not built)")"
echo "bench-gen1-boot: each boot's deadline ${timeout_s} s; consoles kept in $out/run-N"
for run in $(seq "$runs"); do
	dir=$out/run-$run
	{ rm -rf "$dir" && mkdir -p "$dir"; } || skip "cannot make $dir"
	boot_ours "$dir"
	side_report "$dir" ours vmwp
	boot_qemu "$dir"
	side_report "$dir" qemu QEMU
	compare "$dir" "$run" "$runs"
done
