#!/bin/bash
# SPDX-License-Identifier: MIT
# amdv-host.sh [options] -- COMMAND...: runs COMMAND on the emulated AMD-V
# test host (issue #55, docs/amdv-host.md) and exits with its status.
#
# The host is this machine's own Debian 12 tree, booted under QEMU TCG
# (-cpu max: AMD-V with nested paging, so Debian's kvm-amd loads and
# /dev/kvm is hardware virtualization, not PVM) with Debian's cloud kernel
# (tests/lib/debian-kernel.sh) and systemd as PID 1 (cgroup v2, a system
# D-Bus). Its root is this machine's "/" shared read-only over virtiofs
# under a tmpfs overlay, so it has every package and every build of this
# checkout at the same paths, and nothing it writes reaches this machine
# but the run's folder (--out), shared writable at the same path. COMMAND
# runs there as a systemd service (amdv-run.service) with the working
# directory this script was started in; its output goes to OUT/output.log
# and is printed here, its exit status to OUT/rc. The host powers off
# after it.
#
# Options:
#   --out DIR        the run's folder (default: a new one under
#                    $VM_BUILD_DIR or build/, printed); kept afterwards with
#                    the console log (console.log) and the output
#   --timeout S      give up after S seconds of wall time (default 1800): the
#                    host is killed and the run fails with that message
#   --mem MIB        the emulated host's memory (default 6144)
#   --cpus N         its vCPUs (default 2: multi-threaded TCG, one thread each)
#   --tcg MODE       TCG's threading: multi (default: one host thread per
#                    vCPU) or single (one thread runs every vCPU in turn);
#                    also from AMDV_TCG (docs/amdv-host.md: the host panics)
#   --qemu WHICH     the QEMU that emulates the host: patched (the
#                    default: Debian 12's source with our fixes of TCG's SVM
#                    (interrupt injection, another thread's write to CPU 0's
#                    hflags2), built once by tests/amdv/qemu-patched.sh),
#                    system (Debian 12's own 7.2, whose TCG faults nested
#                    guests and the host), backports (bookworm-backports'
#                    qemu-system-x86 and qemu-system-data, fetched once into
#                    the package cache, never installed), diag (the
#                    same with tests/amdv/qemu-tcg-diag.patch: a nested
#                    guest's triple fault writes what led to it to
#                    qemu-diag.log in the run's folder; docs/amdv-host.md,
#                    "Looking inside TCG"), or the absolute path of a
#                    qemu-system-x86_64 of your own, run with this host's
#                    firmware folders; also from AMDV_QEMU
#   --cpu MODEL      QEMU's -cpu for the host (default max); also from
#                    AMDV_CPU
#   --append ARGS    more of the emulated host's kernel command line, e.g.
#                    kvm_amd.npt=0 (KVM's shadow paging instead of nested
#                    paging); also from AMDV_APPEND
#
# Exit status: COMMAND's; 77 (skip) when the emulated host cannot be had
# here (no QEMU, no virtiofsd, no kernel); 1 with "AMDV FAIL: ..." when the
# host failed (QEMU exited, the boot failed, the timeout).
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out="" timeout=1800 mem=6144 cpus=2 tcg=${AMDV_TCG:-multi} qemu=${AMDV_QEMU:-patched} append=${AMDV_APPEND:-}
cpu=${AMDV_CPU:-max}
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--mem) mem=$2; shift ;;
	--cpus) cpus=$2; shift ;;
	--tcg) tcg=$2; shift ;;
	--qemu) qemu=$2; shift ;;
	--append) append=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--) shift; break ;;
	*) echo "amdv-host: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ $# -gt 0 ] || { echo "usage: amdv-host.sh [--out DIR] [--timeout S] [--mem MIB] [--cpus N] [--tcg multi|single] [--qemu system|backports|patched|diag|/PATH] [--cpu MODEL] [--append ARGS] -- COMMAND..." >&2; exit 2; }
case "$tcg" in multi|single) ;; *) echo "amdv-host: --tcg is multi or single, not $tcg" >&2; exit 2 ;; esac
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "AMDV FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (virtiofsd shares /)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing (qemu-system-x86)"
qemu_bin=qemu-system-x86_64 qemu_data=() diag_log=""
# The firmware a QEMU of our own links to: this host's SeaBIOS and iPXE ROMs.
host_fw=(-L /usr/share/seabios -L /usr/lib/ipxe/qemu)
case "$qemu" in
system) ;;
backports)
	qx=$(VM_DEBIAN_SUITE=bookworm-backports "$src/tests/lib/debian-package.sh" qemu-system-x86) &&
		qd=$(VM_DEBIAN_SUITE=bookworm-backports "$src/tests/lib/debian-package.sh" qemu-system-data) ||
		skip "bookworm-backports' QEMU could not be had"
	qemu_bin=$qx/usr/bin/qemu-system-x86_64
	# Its own data first, then this host's firmware.
	qemu_data=(-L "$qd/usr/share/qemu" "${host_fw[@]}")
	;;
patched | diag)
	# Debian 12's QEMU with our fixes (tests/amdv/qemu-patched.sh; diag:
	# with qemu-tcg-diag.patch too); the wrapper passes this host's
	# firmware folders. The note names the patches the build was made with.
	opt=(); [ "$qemu" = diag ] && opt=(--diag) diag_log=yes
	qemu_bin=$("$src/tests/amdv/qemu-patched.sh" "${opt[@]}")
	case $? in 0) ;; 77) skip "the $qemu QEMU could not be had" ;; *) fail "building the $qemu QEMU failed" ;; esac
	qemu_note=" with $(cd "$(dirname "$qemu_bin")" && echo *.patch)"
	;;
/*)
	[ -x "$qemu" ] || { echo "amdv-host: --qemu $qemu is not an executable" >&2; exit 2; }
	qemu_bin=$qemu qemu_note=" ($qemu)" diag_log=yes
	qemu_data=(-L /usr/share/qemu "${host_fw[@]}")
	;;
*) echo "amdv-host: --qemu is system, backports, patched, diag or a binary's absolute path, not $qemu" >&2; exit 2 ;;
esac
virtiofsd=""
for v in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do [ -x "$v" ] && virtiofsd=$v && break; done
[ -n "$virtiofsd" ] || skip "virtiofsd missing (qemu-system-common)"
[ -x /lib/systemd/systemd ] || skip "systemd missing"
kroot=$("$src/tests/lib/debian-kernel.sh") || exit $?
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || skip "no kernel image in $kroot"
moddir=$(ls -d "$kroot"/lib/modules/* "$kroot"/usr/lib/modules/* 2>/dev/null | head -1)
kver=$(basename "$moddir")

if [ -z "$out" ]; then
	base=${VM_BUILD_DIR:-$src/build}
	mkdir -p "$base/amdv-runs"
	out=$(mktemp -d "$base/amdv-runs/run.XXXXXX")
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# tests/amdv/qemu-tcg-diag.patch writes there (a build of your own may too).
[ -z "$diag_log" ] || export QEMU_DBG_LOG="$out/qemu-diag.log"
rm -f "$out/rc" "$out/rc.tmp" "$out/output.log" "$out/console.log"

# The modules the host needs, in load order (the cloud kernel builds them
# as modules; modinfo's depends checked when this list was made).
mods=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci fuse virtiofs overlay
	failover net_failover virtio_net irqbypass kvm kvm-amd)
# The guest's modprobe (udev, the tests' TAP and bridge) needs modules.dep,
# which the package does not ship: made once next to the modules.
if [ ! -e "$moddir/modules.dep" ]; then
	depmod -b "$(dirname "$(dirname "$(dirname "$moddir")")")" "$kver" 2>/dev/null ||
		depmod -b "$(dirname "$(dirname "$moddir")")" "$kver" || fail "depmod on $moddir"
fi
[ -e "$moddir/modules.dep" ] || fail "no modules.dep in $moddir"

work=$(mktemp -d)
qpid="" vpids=()
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	for p in "${vpids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# initramfs: busybox, the modules, our /init.
ir=$work/initramfs
mkdir -p "$ir"/{bin,sbin,proc,sys,dev,lib/modules}
cp /bin/busybox "$ir/bin/busybox" 2>/dev/null || skip "busybox-static missing"
install -m 755 "$src/tests/amdv/init" "$ir/init"
for m in "${mods[@]}"; do
	f=$(find "$moddir/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \) -print -quit)
	[ -n "$f" ] || fail "module $m not in $moddir"
	case "$f" in
	*.ko.xz) xz -dc "$f" >"$ir/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$ir/lib/modules/$m.ko" ;;
	*) cp "$f" "$ir/lib/modules/$m.ko" ;;
	esac
done
printf '%s\n' "${mods[@]}" >"$ir/modules.list"
(cd "$ir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$work/initrd.cpio" || fail "cpio"

# The run's unit: COMMAND from the current directory, output and status
# into the run's folder, then power off (also when COMMAND fails).
# A watchdog (watchdog.sh) reports the host's state two minutes before the
# deadline, or at half of it for short runs. kvm-hold.py holds a VM open
# meanwhile, made while the other CPUs are offline, so KVM's static keys
# flip once, with no other CPU to run into the patch, rather than each
# time a test makes or destroys the only partition (docs/amdv-host.md).
wd_after=$((timeout > 240 ? timeout - 120 : timeout / 2))
{
	echo "cd $(printf '%q' "$PWD") || exit 1"
	echo "bash $(printf '%q' "$src/tests/amdv/watchdog.sh") $(printf '%q' "$out") $wd_after &"
	echo "wd=\$!"
	echo "cpus=\$(ls -d /sys/devices/system/cpu/cpu[1-9]*/online 2>/dev/null)"
	echo "for c in \$cpus; do echo 0 >\$c; done"
	echo "rm -f /run/kvm-hold.ready"
	echo "python3 $(printf '%q' "$src/tests/amdv/kvm-hold.py") /run/kvm-hold.ready &"
	echo "hold=\$!"
	echo "for i in \$(seq 300); do [ -e /run/kvm-hold.ready ] && break; sleep 0.1; done"
	echo "for c in \$cpus; do echo 1 >\$c; done"
	printf '%q ' "$@"
	echo
	echo "rc=\$?"
	echo "kill \$wd \$hold 2>/dev/null"
	echo "exit \$rc"
} >"$out/command.sh"
cat >"$out/amdv-run.service" <<EOF
[Unit]
Description=Emulated AMD-V host: the run's command
After=basic.target dbus.socket
[Service]
Type=oneshot
Environment=AMDV_HOST=1 HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/bin/sh -c 'touch $out/started; /bin/bash $out/command.sh >$out/output.log 2>&1; echo \$\$? >$out/rc.tmp; /bin/bash $src/tests/amdv/keep-artifacts.sh $out ${VM_BUILD_DIR:-$PWD}; mv $out/rc.tmp $out/rc'
ExecStopPost=/bin/systemctl --no-block poweroff
TimeoutStartSec=infinity
StandardOutput=journal+console
EOF

# virtiofsd: "/" read-only in the guest (its overlay), the run's folder
# writable. Each serves one folder on one socket.
start_virtiofsd() { # tag dir
	rm -f "$work/$1.sock"
	"$virtiofsd" --socket-path="$work/$1.sock" -o source="$2" -o cache=always -o sandbox=chroot \
		>"$work/virtiofsd-$1.log" 2>&1 &
	vpids+=($!)
}

# What a run that failed leaves to read: the console's tail, the command's
# output so far, virtiofsd's own words (a file server that died stops the
# host's file system, which looks like a hang).
diagnose() {
	tail -20 "$out/console.log"
	[ -e "$out/output.log" ] && { echo "--- output so far:"; tail -20 "$out/output.log"; }
	grep -q "AMDV WATCHDOG" "$out/console.log" && { echo "--- the watchdog's report (watchdog.sh; whole: $out/console.log):"; sed -n '/AMDV WATCHDOG/,$p' "$out/console.log" | head -150; }
	for t in root out; do
		grep -q . "$work/virtiofsd-$t.log" 2>/dev/null && { echo "--- virtiofsd ($t):"; tail -5 "$work/virtiofsd-$t.log"; }
	done
	for p in "${vpids[@]}"; do kill -0 "$p" 2>/dev/null || echo "--- a virtiofsd (pid $p) had exited before the host was stopped"; done
	cpu_state
}

# Where the emulated CPUs are (a host whose kernel stopped taking
# interrupts runs no watchdog): each vCPU's RIP three times (nokaslr:
# the same addresses in every boot), then an NMI to every vCPU, which the
# kernel (unknown_nmi_panic panic_print=0x40) answers with every CPU's
# backtrace on the console (Debian's System.map is a stub: the kernel
# names the functions itself there).
monitor() { # HMP command
	python3 - "$work/monitor.sock" "$1" <<'PY' 2>/dev/null
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
def until_prompt():
    buf = b""
    while not buf.endswith(b"(qemu) "):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    return buf.decode(errors="replace")
until_prompt()
s.sendall(sys.argv[2].encode() + b"\n")
out = until_prompt()
print("\n".join(l for l in out.replace("\r", "").split("\n")[1:] if l != "(qemu) "))
PY
}
cpu_state() {
	[ -S "$work/monitor.sock" ] || return 0
	local i n
	echo "--- the emulated CPUs (QEMU monitor), their RIPs three times:"
	monitor "info cpus"
	for i in 1 2 3; do
		monitor "info registers -a" | grep -o 'RIP=[0-9a-f]*' | tr '\n' ' '
		echo
		sleep 1
	done
	echo "--- NMI to every vCPU: what the kernel wrote to the console then:"
	n=$(stat -c %s "$out/console.log")
	monitor "nmi"
	sleep 10
	tail -c +$((n + 1)) "$out/console.log" | tail -150
}

# tsc=reliable: QEMU's TCG gives every vCPU one TSC, a single counter
# kept monotonic under a lock (cpu_get_ticks), so the TSCs are synchronized
# by construction; but TCG cannot offer the invariant-TSC CPUID bit
# ("TCG doesn't support requested feature: CPUID.80000007H:EDX.invtsc"),
# and without it a kernel on a non-Intel CPU with more than one CPU calls
# its TSCs unsynchronized without measuring (unsynchronized_tsc() in
# arch/x86/kernel/tsc.c). KVM would then rewrite a guest's TSC offset at
# every vCPU load (docs/amdv-host.md, "The TSC").
#
# norandmaps: no address space randomization in the host's processes.
# QEMU 7.2's TCG keys each translated block by its virtual address as well
# as its physical one, so a program or library mapped at a new address in
# every process (ASLR) is translated again in each: the host's test
# scripts start thousands. Measured (2026-12-01, seventh session, the
# stock-Linux test's PVM checks, `info jit`): with randomization QEMU
# generated 10-15 MB of code a second throughout the run (the 512 MiB
# buffer flushed every 40-50 s, and a 2 GiB one changed nothing: 253 s
# against 263 s), about a third of QEMU's CPU went to translating and to
# looking blocks up; with norandmaps 2-4 MB a second, falling, no flush,
# and the test took 202 s. docs/amdv-host.md "Translation and ASLR".
#
# One boot: 0 when QEMU ended by itself, 1 past the deadline, 2 when the
# run's unit had not started within boot_limit seconds (a host stuck in
# its boot; the caller boots once more), 3 when one of the host's CPUs
# stalled: its kernel reported the same RCU stall twice, over a minute
# apart, and the stalled CPU answered no NMI (seen in CI on 2026-11-30:
# CPU 0 stuck 35 s into amdv/component, CPU 1 reporting; a user process
# cannot do that to a kernel, TCG's emulation can; the caller boots once
# more).
boot_limit=${AMDV_BOOT_LIMIT:-300}
boot() {
	for p in "${vpids[@]}"; do kill "$p" 2>/dev/null; done
	vpids=()
	rm -f "$out/started"
	start_virtiofsd root /
	start_virtiofsd out "$out"
	for t in root out; do
		for _ in $(seq 100); do [ -S "$work/$t.sock" ] && break; sleep 0.05; done
		[ -S "$work/$t.sock" ] || { cat "$work/virtiofsd-$t.log"; fail "virtiofsd ($t) did not start"; }
	done
	"$qemu_bin" "${qemu_data[@]}" -nodefaults -no-user-config -nographic \
		-machine q35 -accel tcg,thread="$tcg",tb-size=512 -cpu "$cpu" -smp "$cpus" -m "$mem" \
		-object memory-backend-memfd,id=mem,size="${mem}M",share=on -numa node,memdev=mem \
		-kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
		-append "console=ttyS0 rdinit=/init panic=-1 tsc=reliable nokaslr norandmaps unknown_nmi_panic panic_print=0x40 amdv.out=$out amdv.kver=$kver amdv.moddir=$moddir systemd.unified_cgroup_hierarchy=1 systemd.show_status=1 systemd.log_target=kmsg${append:+ $append}" \
		-chardev socket,id=vfs-root,path="$work/root.sock" -device vhost-user-fs-pci,chardev=vfs-root,tag=root \
		-chardev socket,id=vfs-out,path="$work/out.sock" -device vhost-user-fs-pci,chardev=vfs-out,tag=out \
		-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0 \
		-serial file:"$out/console.log" -monitor unix:"$work/monitor.sock",server=on,wait=off -no-reboot \
		-d cpu_reset -D "$out/qemu-reset.log" &
	qpid=$!
	local t_boot=$(($(date +%s) + boot_limit))
	while kill -0 "$qpid" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			diagnose
			kill "$qpid"
			wait "$qpid" 2>/dev/null
			qpid=""
			return 1
		fi
		if [ ! -e "$out/started" ] && [ "$(date +%s)" -ge "$t_boot" ]; then
			diagnose
			kill "$qpid"
			wait "$qpid" 2>/dev/null
			qpid=""
			return 2
		fi
		if [ ! -e "$out/rc" ] && [ -e "$out/console.log" ] &&
			[ "$(grep -c 'rcu: INFO: rcu_.* detected stalls on CPUs' "$out/console.log")" -ge 2 ]; then
			kill "$qpid"
			wait "$qpid" 2>/dev/null
			qpid=""
			return 3
		fi
		sleep 1
	done
	wait "$qpid"
	qrc=$?
	qpid=""
	return 0
}

# boot_again WHAT: the last boot's console and output kept as
# console-WHAT.log and output-WHAT.log, and the host booted once more
# where at least half the deadline is left (b: that boot's result); 1,
# with b as it was, where it is not.
boot_again() {
	mv "$out/console.log" "$out/console-$1.log"
	[ -e "$out/output.log" ] && mv "$out/output.log" "$out/output-$1.log"
	[ -e "$out/qemu-reset.log" ] && mv "$out/qemu-reset.log" "$out/qemu-reset-$1.log"
	if [ $((deadline - $(date +%s))) -lt $((timeout / 2)) ]; then
		echo "AMDV: not enough time left before the deadline for another boot"
		return 1
	fi
	boot
	b=$?
}

echo "AMDV: $("$qemu_bin" --version | head -1)${qemu_note:-}, TCG thread=$tcg, $cpus vCPUs${append:+, kernel command line + $append}"
t0=$(date +%s%N)
deadline=$(($(date +%s) + timeout))
boot
b=$?
if [ "$b" = 2 ]; then
	echo "AMDV RETRY: the host had not started the run within ${boot_limit}s; booting it once more"
	cp "$out/console.log" "$out/console-first-boot.log"
	boot
	b=$?
fi
# The emulated host's own kernel panicked (QEMU exits: panic=-1,
# -no-reboot) before the command finished: seen on 2026-11-29 in the
# vCPU thread of a worker ("corrupted stack end detected inside
# scheduler", docs/amdv-host.md), under TCG's emulation of AMD-V, not in
# anything the command does. Booted once more, with the panic printed and
# its console kept, when the deadline leaves time for it.
if [ "$b" = 0 ] && [ ! -e "$out/rc" ] && grep -q "Kernel panic - not syncing" "$out/console.log"; then
	echo "AMDV RETRY: the emulated host's kernel panicked; booting it once more (console kept: $out/console-panic.log):"
	grep -A12 "Kernel panic - not syncing" "$out/console.log" | head -14
	boot_again panic || true
fi
# A CPU of the emulated host triple-faulted (QEMU logs "Triple fault"
# under -d cpu_reset, resets the machine, and -no-reboot makes that an
# exit with status 0): its kernel printed nothing, the console just stops.
# Seen in CI on 2026-12-01, 7 s after amdv/cpu-scope started its VMs. A
# triple fault outside a guest is the host kernel's own exception handling
# failing, which no user process can cause on a correct CPU; the same
# state (the GS base, the IDT, the stack) is what TCG's AMD-V emulation
# switches at each VMRUN and #VMEXIT (docs/amdv-host.md). Booted once more
# on the same terms. (QEMU exits at the reset request, before the reset
# that would log the CPU's state.)
triple_fault() { grep -q "^Triple fault" "$out/qemu-reset.log" 2>/dev/null; }
if [ "$b" = 0 ] && [ ! -e "$out/rc" ] && triple_fault; then
	echo "AMDV RETRY: a CPU of the emulated host triple-faulted (no kernel message; QEMU's log: $out/qemu-reset-reset.log); booting it once more (console kept: $out/console-reset.log)"
	if boot_again reset && [ "$b" = 0 ] && [ ! -e "$out/rc" ] && triple_fault; then
		fail "a CPU of the emulated host triple-faulted again (console: $out/console.log, QEMU's log: $out/qemu-reset.log)"
	fi
fi
if [ "$b" = 3 ]; then
	echo "AMDV RETRY: a CPU of the emulated host stalled; booting it once more (console kept: $out/console-stall.log):"
	grep -m2 -A2 "detected stalls on CPUs" "$out/console.log"
	boot_again stall || b=1
fi
if [ "$b" != 0 ]; then
	[ "$b" = 3 ] && fail "a CPU of the emulated host stalled again (console: $out/console.log)"
	[ "$b" = 2 ] && fail "the emulated host did not start the run within ${boot_limit}s, twice (console: $out/console.log)"
	fail "the emulated host ran past ${timeout}s (console: $out/console.log, output: $out/output.log)"
fi
ms=$((($(date +%s%N) - t0) / 1000000))
secs=$((ms / 1000)).$(printf %03d $((ms % 1000)))
[ -e "$out/output.log" ] && cat "$out/output.log"
if [ ! -e "$out/rc" ]; then
	tail -30 "$out/console.log"
	grep -h "AMDV init-failed" "$out/console.log"
	triple_fault && echo "--- QEMU: a CPU of the emulated host triple-faulted ($out/qemu-reset.log)"
	fail "the command did not finish on the emulated host (QEMU exit $qrc after ${secs}s; console: $out/console.log)"
fi
rc=$(cat "$out/rc")
echo "AMDV done: rc=$rc, ${secs}s of wall time (folder $out)"
exit "$rc"
