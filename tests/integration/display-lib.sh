# SPDX-License-Identifier: MIT
# Shared helpers of the vmdisplay tests (sourced, not run): the binaries,
# a test directory, fake workers and vmdisplays started and ended by pid,
# free loopback ports. Every process a test starts is ended at exit.

: "${VM_BUILD_DIR:?run through ctest (VM_BUILD_DIR unset)}"
D=$VM_BUILD_DIR/vmdisplay
VMD=$D/vmdisplay
FAKE=$D/fake-display-worker
CLIENT=$D/display-vnc-client
CHECK=$D/display-image-check

skip() { echo "SKIP: $*"; exit 77; }
note() { echo "--- $*"; }
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "${T:-/nonexistent}"/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }; done
  exit 1
}

# d_need_binaries: skips (77) when one of ours is not built.
d_need_binaries() {
  local b
  for b in "$VMD" "$FAKE" "$CLIENT" "$CHECK"; do [ -x "$b" ] || skip "$b is not built"; done
}

PIDS=()
d_setup() {
  T=$(mktemp -d /tmp/vmdisplay-test.XXXXXX)
  trap d_cleanup EXIT
  printf 'Pa55word\n' >"$T/password"
  chmod 600 "$T/password"
  printf 'wrong123\n' >"$T/wrong"
  chmod 600 "$T/wrong"
}

d_cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ $rc -eq 0 ] && [ -z "${VMD_KEEP:-}" ]; then rm -rf "$T"; else echo "test directory kept: $T" >&2; fi
}

# wait_for SECONDS DESCRIPTION COMMAND...: until the command succeeds, for
# SECONDS of wall time (not a count of tries, which load stretches), as
# vmms-lib.sh's.
wait_for() {
  local secs=$1 what=$2 end; shift 2
  end=$((${EPOCHREALTIME/[.,]/} + secs * 1000000))
  until "$@" >/dev/null 2>&1; do
    [ "${EPOCHREALTIME/[.,]/}" -lt "$end" ] || fail "timed out after $secs s waiting for $what"
    sleep 0.05
  done
}

# start_worker NAME [options]: a fake worker on $T/NAME.sock logging to
# $T/NAME.log; its pid in WPID.
start_worker() {
  local name=$1; shift
  "$FAKE" --socket="$T/$name.sock" --log="$T/$name.log" "$@" 2>>"$T/$name.err.log" &
  WPID=$!
  PIDS+=("$WPID")
  wait_for 10 "fake worker $name" test -S "$T/$name.sock"
}

# start_vmd NAME WORKER [options]: vmdisplay for the worker's socket,
# serving VNC on $T/NAME.vnc, logging to $T/NAME.log; its pid in VPID.
start_vmd() {
  local name=$1 worker=$2; shift 2
  "$VMD" --connect="$T/$worker.sock" --listen="$T/$name.vnc" "$@" 2>>"$T/$name.log" &
  VPID=$!
  PIDS+=("$VPID")
  wait_for 10 "vmdisplay $name" grep -q "serving VNC" "$T/$name.log"
}

# tcp_listening PORT: something listens on 127.0.0.1:PORT.
tcp_listening() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; }

source "$(dirname "${BASH_SOURCE[0]}")/../lib/free-ports.sh"

# worker_t LOG PATTERN: the time stamp (t=) of the last line matching PATTERN.
worker_t() { grep -E "$2" "$1" | tail -n 1 | sed -n 's/.* t=\([0-9]*\)$/\1/p'; }
