#!/bin/bash
# SPDX-License-Identifier: MIT
# The console (issue #24, docs/console.md): vmdisplay with real VNC viewers
# against a worker's display side (fake-display-worker: the display
# protocol with a test pattern, so no guest's drawing is in the figures),
# from the integration test that drives them (tests/integration/
# test-vmdisplay.sh), ROUNDS runs, medians:
#   key press at the viewer -> KEY at the worker (median and max of a run);
#   a DIRTY from the worker -> the viewer has the new pixels;
#   the guest's first DIRTY after it had no mode -> the viewer's first frame;
#   an idle console with one viewer connected, % of a core over 10 s.
# No peer runs here to compare with: QEMU's VNC needs a guest drawing
# through an emulated graphics card, at emulated CPL0 on these machines, so
# it would measure the emulation. The worker's own part (the display
# thread, the VMBus messages) is in the unit tests' timings and needs a
# real guest to measure end to end.
# Prints RESULT rows for bench/run.sh:
#   RESULT <metric> <ours> <baseline> <unit> <target>
# Usage: bench/bench-display.sh [build-dir] [rounds]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=$(realpath "${1:-build/release}")
rounds=${2:-3}
[ -x "$build/vmdisplay/vmdisplay" ] || { echo "bench-display: $build is not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
note() { echo "bench-display: $*" >&2; }
median() { grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : -1 }'; }

for ((k = 0; k < rounds; k++)); do
        VM_BUILD_DIR=$build bash tests/integration/test-vmdisplay.sh >"$tmp/d.$k" 2>&1 ||
                note "test-vmdisplay round $k failed: $(grep FAIL "$tmp/d.$k" | head -1)"
done
each() { cat "$tmp"/d.* 2>/dev/null | sed -n "$1"; }
key=$(each 's/^figures: key median\/max median \([0-9.]*\) ms.*/\1/p' | median)
keymax=$(each 's/^figures: key median\/max median [0-9.]* ms max \([0-9.]*\) ms.*/\1/p' | median)
dirty=$(each 's/.*DIRTY to viewer \([0-9.]*\) ms.*/\1/p' | median)
first=$(each 's/.*first frame \([0-9.]*\) ms.*/\1/p' | median)
idle=$(each 's/.*idle \([0-9.]*\)% of a core.*/\1/p' | median)
note "rounds: $rounds; $(each 's/^figures: //p' | tr '\n' ';')"
printf 'RESULT\tdisplay: key press -> worker KEY, median\t%s\t-\tms\t<= 5 ms\n' "$key"
printf 'RESULT\tdisplay: key press -> worker KEY, max of a run\t%s\t-\tms\treport\n' "$keymax"
printf 'RESULT\tdisplay: worker DIRTY -> viewer has the pixels\t%s\t-\tms\treport\n' "$dirty"
printf 'RESULT\tdisplay: first DIRTY -> viewer first frame\t%s\t-\tms\t<= 500 ms\n' "$first"
printf 'RESULT\tdisplay: idle console with a viewer\t%s\t-\t%% core\t<= 1 %%\n' "$idle"
