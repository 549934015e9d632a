# SPDX-License-Identifier: MIT
# dbus_start CONF DIR: a private dbus-daemon on the configuration CONF, in
# the background (its pid in DBUS_START_PID, its output in DIR/dbus.log),
# returned from once it accepts connections; false if it exits or has not
# started within 10 s. Sourced, not run.
#
# It waits for the address dbus-daemon prints (to DIR/dbus.addr), not for
# its socket file: bind() makes the file before listen(), and a connection
# made in between is refused (bench-vmms was, once, in CI). The address is
# printed only once the daemon listens.
dbus_start() {
  local conf=$1 dir=$2 i
  rm -f "$dir/dbus.addr"
  dbus-daemon --config-file="$conf" --nofork --nopidfile --print-address=3 \
    3>"$dir/dbus.addr" >"$dir/dbus.log" 2>&1 &
  DBUS_START_PID=$!
  for i in $(seq 200); do
    [ -s "$dir/dbus.addr" ] && return 0
    kill -0 "$DBUS_START_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
