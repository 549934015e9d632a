#!/bin/bash
# SPDX-License-Identifier: MIT
# keep-artifacts.sh OUT BUILD: run on the emulated AMD-V host after the
# run's command. What the tests kept there (test directories a failed test
# left in /tmp, and BUILD's *-artifacts folders) is on the host's
# overlay and would go with it: its small files (under 4 MiB each: logs,
# consoles, screenshots; not disk images) are copied to OUT/kept/.
out=${1:?usage: keep-artifacts.sh OUT BUILD} build=${2:-.}
dest=$out/kept
# Only what this run made: the host's own /tmp shows through the overlay,
# with every test directory kept there before.
for d in $(find /tmp -maxdepth 1 -type d \( -name 'vmms-test.*' -o -name 'vm-test.*' \) -newer "$out/command.sh" 2>/dev/null) \
	$(find "$build" -maxdepth 4 -type d -name '*-artifacts' -newer "$out/command.sh" 2>/dev/null); do
	[ -d "$d" ] || continue
	(cd "$d" && find . -type f -size -4M -print0 |
		xargs -0 -r cp --parents -t "$(mkdir -p "$dest$d" && echo "$dest$d")" 2>/dev/null)
done
exit 0
