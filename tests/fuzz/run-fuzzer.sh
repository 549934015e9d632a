#!/bin/bash
# SPDX-License-Identifier: MIT
# Replay the seed corpus, then fuzz for a fixed budget into a scratch copy
# of it (the checked-in corpus only changes by hand, with regression inputs).
set -euo pipefail
bin=$1 corpus=$2 secs=$3
[ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ] || { echo "empty corpus $corpus"; exit 1; }
"$bin" -runs=0 "$corpus"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="${VM_FUZZ_ARTIFACTS:-$work}/" "$work"
