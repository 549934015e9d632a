#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every benchmark (release build) and prints one table:
#   metric | ours | baseline | unit | ratio | target
# Usage: bench/run.sh [name-filter]
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
cmake --preset release >/dev/null && cmake --build --preset release -j "$(nproc)" >/dev/null || {
  echo "build failed" >&2; exit 1; }
filter=${1:-}
# Which host the figures are of (bench/host.h): the emulated AMD-V host's
# (QEMU's TCG, tests/amdv/) are an emulation's, never performance.
host=$(build/release/bench/host-kind)
echo "host: $host"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for b in build/release/bench/bench-* bench/bench-*.sh; do
  [ -x "$b" ] || [ "${b##*.}" = sh ] || continue
  name=$(basename "$b"); name=${name%.sh}
  [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
  echo "running $name ..." >&2
  if [ "${b##*.}" = sh ]; then bash "$b"; else "$b"; fi | grep '^RESULT' >>"$out" || echo "RESULT	$name	FAILED	-	-	-	-" >>"$out"
done
awk -F'\t' 'BEGIN { printf "%-52s %14s %14s %-8s %8s  %s\n", "metric", "ours", "baseline", "unit", "ratio", "target";
                    printf "%s\n", "-------------------------------------------------------------------------------------------------------------" }
            { ratio = ($4 + 0 > 0 && $3 != "FAILED") ? sprintf("%.3f", $3 / $4) : "-";
              base = ($4 + 0 >= 0 && $4 != "-") ? $4 : "-";
              printf "%-52s %14s %14s %-8s %8s  %s\n", $2, $3, base, $5, ratio, $6 }' "$out"
case $host in
  emulated*) echo "(QEMU's emulation of AMD-V: the ratios of one run on it, not performance; docs/amdv-host.md)" ;;
esac
