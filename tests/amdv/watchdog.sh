#!/bin/bash
# SPDX-License-Identifier: MIT
# watchdog.sh OUT SECONDS: started beside the run's command on the emulated
# AMD-V host (amdv-host.sh). When the command still runs after SECONDS (a
# while before the outer deadline kills the host), it writes what the host
# is doing: every task's state and wait channel, the kernel stacks of the
# tasks stuck in an uninterruptible wait (D) and of every thread of the
# tests and workers, and the kernel's own view (SysRq w: blocked tasks;
# l: each CPU's backtrace). A run whose tests hang where ctest's timeout
# cannot end them (a task in D state) otherwise leaves nothing to read.
# The report goes to the serial console first (the run's folder is a
# virtiofs share, and a stuck file server is one of the suspects), then to
# OUT/watchdog.log.
#
# The whole script is one compound command, which bash reads in full before
# it runs any of it: bash reads a script file as it goes, and this file is
# on the virtiofs share too, so a stalled file server would leave the bash
# after `sleep` waiting for its next line. The kernel's own view comes
# first as well, through builtins only (SysRq written by a redirection),
# since running ps means reading it from the share. (A host whose CPUs
# both spin, as in the int3 livelock docs/amdv-host.md describes, runs no
# watchdog at all: amdv-host.sh's NMI backtraces are what is left then.)
{
out=${1:?usage: watchdog.sh OUT SECONDS} after=${2:?usage: watchdog.sh OUT SECONDS}
sleep "$after" || exit 0
echo "=== AMDV WATCHDOG fired after ${after}s: the kernel's blocked tasks and CPUs first (SysRq w, l)" >/dev/console
echo w >/proc/sysrq-trigger
echo l >/proc/sysrq-trigger
echo "=== AMDV WATCHDOG: now each task's state (ps, /proc)" >/dev/console
report() {
	echo "=== AMDV WATCHDOG: the run's command still runs after ${after}s"
	echo "--- tasks (pid tid state wchan elapsed command):"
	ps -eLo pid=,tid=,stat=,wchan:32=,etime=,args= | grep -v ' \[[^]]*\]$' | cut -c1-200
	local t comm st state
	for t in /proc/[0-9]*/task/[0-9]*; do
		read -r comm <"$t/comm" 2>/dev/null || continue
		read -r st <"$t/stat" 2>/dev/null || continue
		state=${st##*) }
		state=${state%% *}
		case "$state:$comm" in
		D:* | *:vmwp* | *:test-* | *:vmms* | *:vcpu* | *:ctest*) ;;
		*) continue ;;
		esac
		echo "--- $t ($comm) state $state, kernel stack:"
		cat "$t/stack" 2>/dev/null
	done
}
log=/run/amdv-watchdog.log
report >"$log" 2>&1
cat "$log" >/dev/console
dmesg | tail -400 >>"$log"
cp "$log" "$out/watchdog.log"
exit 0
}
