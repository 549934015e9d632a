#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/bench-gen1-boot.sh without KVM: each boot has its own deadline,
# a boot that misses it prints the phase it reached and its last console
# line, a finished boot prints its phases and disk reads as soon as it
# ends, and --report prints a kept run again. Fake "workers" (shell
# scripts printing a boot's console lines) stand for vmwp and QEMU.
set -u
: "${VM_SOURCE_DIR:?run through ctest (VM_SOURCE_DIR unset)}"
bad() { echo "FAIL: $*" >&2; exit 1; }
bench=$VM_SOURCE_DIR/bench/bench-gen1-boot.sh
dir=$(mktemp -d /tmp/vm-test.bench-gen1-XXXXXX)
trap 'rm -rf "$dir"' EXIT
# shellcheck source=../../bench/bench-gen1-boot.sh
source "$bench" || bad "sourcing the bench failed"

# Ours boots to the login prompt; SIGUSR1 (at "Linux version") prints the
# worker's stats line on stderr as vmwp does.
cat >"$dir/ours.sh" <<'SH'
trap 'echo "vmwp: stats: {\"ide_commands\":200,\"ide_pio_bytes\":1048576,\"ide_dma_bytes\":3145728}" >&2' USR1
echo "SeaBIOS (version 1.16.2-debian-1.16.2-1)"; sleep 0.2
echo "Booting from Hard Disk..."; sleep 0.2
echo "vmstack-grub: booting"; sleep 0.1
echo "[    0.000000] Linux version 6.1.0-28-cloud-amd64"; sleep 0.2
echo "[    1.000000] Run /init as init process"; sleep 0.2
echo "debian login: "
exec sleep 30
SH
# The baseline stops in GRUB and never ends: its deadline ends it.
printf '%s\n' 'echo "SeaBIOS (version 1.16.2-debian-1.16.2-1)"' 'echo "Booting from Hard Disk..."' \
	'echo "GRUB loading."' 'exec sleep 30' >"$dir/qemu.sh"

t0=$SECONDS
boot ours "$dir" 20 bash "$dir/ours.sh" || bad "ours did not reach the login prompt: $(cat "$dir/ours.log")"
[ "$(cat "$dir/ours.end")" = login ] || bad "ours.end: $(cat "$dir/ours.end")"
boot qemu "$dir" 2 bash "$dir/qemu.sh" && bad "the baseline passed its deadline but boot returned 0"
[ $((SECONDS - t0)) -lt 15 ] || bad "the 2 s deadline took $((SECONDS - t0)) s (with ours)"
[ "$(cat "$dir/qemu.end")" = "deadline 2" ] || bad "qemu.end: $(cat "$dir/qemu.end")"

out=$(side_report "$dir" ours vmwp) ours_out=$out
echo "$out"
grep -q '^vmwp: reached the login prompt in [0-9]* ms$' <<<"$out" || bad "ours' summary: $out"
grep -Eq '^  firmware [0-9]+ ms, boot loader [0-9]+ ms, kernel [0-9]+ ms, user space [0-9]+ ms$' <<<"$out" ||
	bad "ours' phases: $out"
grep -Eq '^  firmware \+ boot loader disk reads: 200 reads, 4096 KiB; [0-9]+ reads/s, [0-9]+ KiB/s$' <<<"$out" ||
	bad "ours' disk reads: $out"

out=$(side_report "$dir" qemu QEMU)
echo "$out"
grep -q '^QEMU: did not reach the login prompt (deadline of 2 s); it was in the boot loader phase$' <<<"$out" ||
	bad "the unfinished baseline's summary: $out"
grep -q '^  last console line: GRUB loading.$' <<<"$out" || bad "no last console line: $out"
grep -Eq '^  firmware [0-9]+ ms, boot loader - ms, kernel - ms, user space - ms$' <<<"$out" ||
	bad "the baseline's phases: $out"
grep -q 'disk reads: - reads, - KiB; - reads/s, - KiB/s' <<<"$out" || bad "the baseline's reads: $out"

# A process that ends before the prompt says so.
boot qemu "$dir" 20 sh -c 'echo "SeaBIOS (version 1.16.2)"' && bad "an ended process counted as a login"
out=$(side_report "$dir" qemu QEMU)
grep -q 'did not reach the login prompt (the process ended); it was in the firmware phase' <<<"$out" ||
	bad "the ended baseline's summary: $out"
boot qemu "$dir" 2 bash "$dir/qemu.sh"
qemu_out=$(side_report "$dir" qemu QEMU)

# The side-by-side table and RESULT rows, and --report from the kept folder.
out=$(compare "$dir" 1 1)
grep -Eq '^  power-on to login +[0-9]+ +- +-$' <<<"$out" || bad "the table's total: $out"
grep -Eq $'^RESULT\tgen1 boot: firmware, vmwp vs QEMU pc\t[0-9]+\t[0-9]+\tms\t-$' <<<"$out" ||
	bad "the firmware RESULT row: $out"
grep -Eq $'^RESULT\tgen1 boot: power-on to login, vmwp vs QEMU pc\t[0-9]+\t-\tms\t<= 1.0x QEMU$' <<<"$out" ||
	bad "the total's RESULT row: $out"
full=$(bash "$bench" --report "$dir") || bad "--report failed"
[ "$full" = "$ours_out"$'\n'"$qemu_out"$'\n'"$out" ] ||
	bad "--report differs from the run's own output: $full"
bash "$bench" --report "$dir/none" 2>/dev/null && bad "--report of a folder with no run succeeded"
bash "$bench" --timeout x 2>/dev/null; [ $? = 2 ] || bad "--timeout x was not a usage error"

# --until kernel (the PVM host): both boots end at the kernel's first
# line; the phases are the firmware's and the boot loader's, the total is
# power-on to that line, and --report finds the goal in the kept folder.
k=$dir/kernel
mkdir -p "$k"
set_goal kernel
boot ours "$k" 20 bash "$dir/ours.sh" || bad "ours did not reach the kernel's first line: $(cat "$k/ours.log")"
[ "$(cat "$k/ours.end")" = kernel ] || bad "kernel ours.end: $(cat "$k/ours.end")"
grep -q "Run /init" "$k/ours.log" && bad "the boot went on past the kernel's first line"
boot qemu "$k" 2 bash "$dir/qemu.sh" && bad "the stalled baseline reached the kernel"
out=$(side_report "$k" ours vmwp)
grep -q "^vmwp: reached the kernel's first line in [0-9]* ms$" <<<"$out" || bad "kernel summary: $out"
grep -Eq '^  firmware [0-9]+ ms, boot loader [0-9]+ ms, decompressor [0-9]+ ms$' <<<"$out" || bad "kernel phases: $out"
grep -Eq '^  firmware \+ boot loader disk reads: 200 reads, 4096 KiB; [0-9]+ reads/s, [0-9]+ KiB/s$' <<<"$out" ||
	bad "kernel disk reads: $out"
out=$(side_report "$k" qemu QEMU)
grep -q "^QEMU: did not reach the kernel's first line (deadline of 2 s); it was in the boot loader phase$" <<<"$out" ||
	bad "the stalled baseline's kernel summary: $out"
out=$(compare "$k" 1 1)
grep -Eq '^  power-on to kernel +[0-9]+ +- +-$' <<<"$out" || bad "the kernel table's total: $out"
grep -q 'user space' <<<"$out" && bad "a user space row to the kernel's first line: $out"
grep -Eq $'^RESULT\tgen1 boot: power-on to kernel, vmwp vs QEMU pc\t[0-9]+\t-\tms\t<= 1.0x QEMU$' <<<"$out" ||
	bad "the kernel total's RESULT row: $out"
# QEMU stopped by a KVM internal error (PVM) holds its VM: the boot ends
# there, not at the deadline.
printf '%s\n' 'echo "SeaBIOS (version 1.16.2-debian-1.16.2-1)"' 'echo "Booting from Hard Disk..."' \
	'echo "KVM internal error. Suberror: 1" >&2' 'exec sleep 30' >"$dir/stuck.sh"
t0=$SECONDS
boot qemu "$k" 20 bash "$dir/stuck.sh" && bad "a stopped VM reached the kernel"
[ $((SECONDS - t0)) -lt 10 ] || bad "the internal error took $((SECONDS - t0)) s to notice"
[ "$(cat "$k/qemu.end")" = internal-error ] || bad "stuck qemu.end: $(cat "$k/qemu.end")"
out=$(side_report "$k" qemu QEMU)
grep -q "^QEMU: did not reach the kernel's first line (KVM internal error: the VM stopped); it was in the boot loader phase$" <<<"$out" ||
	bad "the stopped baseline's summary: $out"
set_goal login
full=$(bash "$bench" --report "$k") || bad "--report of the kernel run failed"
grep -q "^vmwp: reached the kernel's first line" <<<"$full" || bad "--report lost the goal: $full"
bash "$bench" --until shell 2>/dev/null; [ $? = 2 ] || bad "--until shell was not a usage error"
echo "PASS"
