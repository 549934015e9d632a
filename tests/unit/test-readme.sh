#!/bin/bash
# SPDX-License-Identifier: MIT
# README.md against the programs it documents: every command `vmctl --help`
# lists appears in the vmctl section, and vmwp's exit codes are the ones
# `vmwp --help` prints ("Exit status: ..."), word for word.
set -uo pipefail
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${VM_BUILD_DIR:-$src/build/debug}
vmctl=$build/vmctl/vmctl vmwp=$build/vmwp/vmwp
for f in "$vmctl" "$vmwp"; do [ -x "$f" ] || { echo "SKIP: $f is not built"; exit 77; }; done
fail=0
flat() { tr -s ' \n' ' '; } # one line, single spaces

section=$(sed -n '/^## Command line: vmctl/,/^## /p' "$src/README.md" | flat)
cmds=$("$vmctl" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$cmds" ] || { echo "FAIL: no commands in vmctl --help"; exit 1; }
for c in $cmds; do
        grep -qE "\`(vmctl )?$c\b" <<<"$section" || { echo "FAIL: README's vmctl section does not name \`$c\`"; fail=1; }
done

# "Exit status: 0 powered off, ..., 16 forbidden system call (sandbox)."
codes=$("$vmwp" --help | flat | sed -n 's/.*Exit status: \([^.]*\)\..*/\1/p')
[ -n "$codes" ] || { echo "FAIL: no 'Exit status:' in vmwp --help"; exit 1; }
readme=$(sed -n '/^## Running a VM by hand: vmwp/,/^## /p' "$src/README.md" | flat)
grep -qF -- "$codes" <<<"$readme" ||
        { echo "FAIL: README's vmwp section does not list the exit codes as vmwp --help does: $codes"; fail=1; }

[ "$fail" -eq 0 ] && echo PASS
exit "$fail"
