#!/bin/bash
# SPDX-License-Identifier: MIT
# The integration tests' wait helper (tests/integration/vmms-lib.sh
# wait_for, and display-lib.sh's) times out by the wall clock: a command
# that is slow to fail (a loaded machine's busctl) does not stretch the
# timeout, as a count of tries did. The bounds are loose: only a count
# of tries misses them.
set -u
: "${VM_BUILD_DIR:?run through ctest (VM_BUILD_DIR unset)}"
HERE=$(dirname "${BASH_SOURCE[0]}")
bad() { echo "FAIL: $*" >&2; exit 1; }
now_ms() { echo $(( ${EPOCHREALTIME/[.,]/} / 1000 )); }

check_lib() { # LIB
  local t0 t rc out
  # A command slow to fail (1 s a try): the timeout is 2 s of wall time,
  # reached after three tries; counting tries, it took 20 (20 s).
  t0=$(now_ms)
  out=$( (source "$1"; wait_for 2 "the slow failure" sh -c 'sleep 1; false'; echo returned) 2>&1)
  rc=$? t=$(($(now_ms) - t0))
  [ $rc -ne 0 ] || bad "$1: wait_for returned 0 for a command that never succeeds: $out"
  [ $t -ge 2000 ] || bad "$1: gave up after $t ms, before its 2 s"
  [ $t -lt 10000 ] || bad "$1: a 2 s timeout took $t ms (counting tries, not seconds?)"
  case $out in *"timed out after 2 s waiting for the slow failure"*) ;; *) bad "$1: no timeout message: $out" ;; esac
  # A command that succeeds later: wait_for returns 0 once it does.
  local flag
  flag=$(mktemp -u /tmp/wait-helpers.XXXXXX)
  (sleep 0.4; touch "$flag") &
  out=$( (source "$1"; wait_for 10 "the flag" test -e "$flag" && echo ok) 2>&1)
  wait
  rm -f "$flag"
  [ "$out" = ok ] || bad "$1: wait_for did not see the command succeed: $out"
  # Tried at least once, even with no time at all.
  out=$( (source "$1"; wait_for 0 "true" true && echo ok) 2>&1)
  [ "$out" = ok ] || bad "$1: wait_for 0 did not try once: $out"
}

check_lib "$HERE/../integration/vmms-lib.sh"
check_lib "$HERE/../integration/display-lib.sh"
echo "ok: wait_for times out by the clock"
