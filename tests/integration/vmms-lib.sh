# SPDX-License-Identifier: MIT
# Shared helpers of the vmms/vmctl integration tests (sourced, not run): a
# private dbus-daemon, a vmms on it with its own state/runtime/log dirs, and
# assertions. Every test gets a fresh directory and cleans up its processes.
#
# Worker selection: VMMS_TEST_WORKER=real|fake (default: real when the real
# vmwp, a bootable test guest and /dev/kvm are available, else fake).

: "${VM_BUILD_DIR:?run through ctest (VM_BUILD_DIR unset)}"
VMMS=$VM_BUILD_DIR/vmms/vmms
VMCTL_BIN=$VM_BUILD_DIR/vmctl/vmctl
FAKE_WORKER=$VM_BUILD_DIR/vmms/vmms-fake-vmwp
REAL_WORKER=$VM_BUILD_DIR/vmwp/vmwp

fail() { echo "FAIL: $*" >&2; [ -n "${T:-}" ] && [ -f "$T/vmms.log" ] && tail -n 40 "$T/vmms.log" >&2; exit 1; }
note() { echo "--- $*"; }
source "$(dirname "${BASH_SOURCE[0]}")/../lib/dbus-start.sh"

t_setup() {
  [ "$(id -u)" = 0 ] || { echo "SKIP: the vmms integration tests run as root (TAPs, /dev/kvm, setpriv)"; exit 77; }
  command -v dbus-daemon >/dev/null || { echo "SKIP: dbus-daemon not installed"; exit 77; }
  T=$(mktemp -d /tmp/vmms-test.XXXXXX)
  chmod 755 "$T"
  VMMS_PID= DBUS_PID= T_ON_EXIT=
  trap t_cleanup EXIT
  cat >"$T/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
  dbus_start "$T/bus.conf" "$T" || fail "dbus-daemon did not start: $(cat "$T/dbus.log")"
  DBUS_PID=$DBUS_START_PID
  ADDR="unix:path=$T/bus"
  chmod 777 "$T/bus"
  mkdir -p "$T/state" "$T/run" "$T/log" "$T/images"
}

# t_on_exit CMD: CMD (a shell command line) runs first when the test ends,
# before vmms and the workers are stopped: a test's own helpers (a peer, a
# monitor). Use it instead of a trap of its own, which would replace
# t_cleanup's and leave vmms, dbus-daemon and the test directory behind.
t_on_exit() { T_ON_EXIT="${T_ON_EXIT:-}$1;"; }

t_cleanup() {
  local rc=$?
  [ -n "${T_ON_EXIT:-}" ] && eval "$T_ON_EXIT" 2>/dev/null
  [ -n "${VMMS_PID:-}" ] && kill "$VMMS_PID" 2>/dev/null
  # Workers outlive vmms by design; end those of this test (their runtime
  # records name them), by pid, never by name.
  for rec in "$T"/run/vms/*/worker.json; do
    [ -f "$rec" ] || continue
    pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$rec")
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  done
  # Also workers whose record is gone or corrupt: they carry their VM's id
  # (random, so only this test's) in VMSTACK_VM_ID.
  local f id p
  for f in "$T"/state/*.json; do
    [ -f "$f" ] || continue
    id=$(basename "$f" .json)
    for p in $(grep -l -s -z "^VMSTACK_VM_ID=$id\$" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
      kill -9 "$p" 2>/dev/null
    done
  done
  [ -n "${DBUS_PID:-}" ] && kill "$DBUS_PID" 2>/dev/null
  wait 2>/dev/null
  if [ $rc -eq 0 ] && [ -z "${VMMS_KEEP:-}" ]; then rm -rf "$T"; else echo "test directory kept: $T" >&2; fi
}

# Chooses the worker binary; sets WORKER and WORKER_KIND.
t_pick_worker() {
  local want=${VMMS_TEST_WORKER:-auto}
  if [ "$want" != fake ] && [ -x "$REAL_WORKER" ] && [ -n "$(t_guest_kernel)" ] && [ -w /dev/kvm ]; then
    WORKER=$REAL_WORKER WORKER_KIND=real
  elif [ "$want" = real ]; then
    echo "SKIP: VMMS_TEST_WORKER=real but vmwp, a test guest or /dev/kvm is missing"; exit 77
  else
    WORKER=$FAKE_WORKER WORKER_KIND=fake
  fi
  note "worker: $WORKER_KIND ($WORKER)"
}

# t_vmms_netns PREFIX: vmms will run in a network namespace of its own,
# PREFIX plus this shell's pid (NS; deleted on exit, its loopback up), so
# the TAPs it makes are made there: VMMS becomes a wrapper that enters it.
# Skips (exit 77) where namespaces cannot be made.
t_vmms_netns() {
  NS=$1$$
  ip netns add "$NS" 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
  t_on_exit "ip netns del $NS"
  ip -n "$NS" link set lo up
  printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "$VMMS" >"$T/vmms-ns"
  chmod +x "$T/vmms-ns"
  VMMS=$T/vmms-ns
}

# t_need_guest_vsc: for tests whose VMs run the guest-vsc test guest: picks
# the real worker (skips, exit 77, with VMMS_TEST_WORKER=fake or without
# vmwp, the guest or /dev/kvm) and sets GUEST to the guest's ELF.
t_need_guest_vsc() {
  [ "${VMMS_TEST_WORKER:-real}" = fake ] && { echo "SKIP: needs the real worker (VMMS_TEST_WORKER=fake)"; exit 77; }
  VMMS_TEST_WORKER=real
  t_pick_worker
  GUEST=$(t_vsc_guest)
  [ -n "$GUEST" ] || { echo "SKIP: the guest-vsc test guest is not built"; exit 77; }
}

# The guest the real worker boots for VMs that must stay up: vmwp's tiny PVH
# guest tg_vmwp_irq (tests/guests/vmwp_irq.S: idles in HLT, echoes COM1
# input, powers off on the ACPI power button or '.'). The guest-vsc test guest
# (t_vsc_guest) runs one mode and powers off, so the tests boot it where a
# VM is meant to end by itself.
t_guest_kernel() {
  local g=$VM_BUILD_DIR/tests/tg_vmwp_irq.elf
  [ -f "$g" ] && echo "$g"
}

t_vsc_guest() {
  local g=$VM_BUILD_DIR/guest-vsc/guest/vsc-guest.elf
  [ -f "$g" ] && echo "$g"
}

# t_kernel: the boot image of the current worker kind (the fake worker
# only needs a file).
t_kernel() {
  if [ "${WORKER_KIND:-fake}" = real ]; then t_guest_kernel; else
    [ -f "$T/images/kernel" ] || echo "fake kernel" >"$T/images/kernel"
    echo "$T/images/kernel"
  fi
}

# deadline_us SECONDS: the wall-clock time (microseconds, bash's
# EPOCHREALTIME) SECONDS from now; before_deadline DEADLINE: whether it is not yet
# there. The wait helpers below time out by the clock, not by counting
# tries: under load each try (a busctl, a grep) takes longer, and a
# count of tries stretched a 10 s timeout to minutes.
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
deadline_us() { echo $(($(now_us) + $1 * 1000000)); }
before_deadline() { [ "$(now_us)" -lt "$1" ]; }

# t_start_vmms [extra vmms options...]: the test directory and the build
# tree are its storage pools (VMMS_POOLS overrides that). Logs are not
# rotated (--log-max-size=0): tests read a guest's whole console log for
# its results and a worker's whole log for sanitizer reports;
# test-vmms-logs passes its own limit (a later option wins).
# ready_after LOG N: waits (20 s at most) until LOG has more than N "ready
# on" lines: vmms owns its bus name before it listens for migrations and
# re-attaches its workers, and says "ready" after those (a test that went
# on at the name raced the listener once, under load).
ready_after() {
  local end
  end=$(deadline_us 20)
  until [ "$(grep -c '^vmms: ready on' "$1" 2>/dev/null)" -gt "$2" ]; do
    before_deadline "$end" || fail "vmms did not say ready in 20 s: $(tail -3 "$1")"
    sleep 0.1
  done
}
ready_lines() { local n; n=$(grep -c '^vmms: ready on' "$1" 2>/dev/null); echo "${n:-0}"; }

t_start_vmms() {
  local ready0
  ready0=$(ready_lines "$T/vmms.log")
  "$VMMS" --bus-address="$ADDR" --state-dir="$T/state" --runtime-dir="$T/run" --log-dir="$T/log" \
    --worker="$WORKER" ${VMMS_NO_POLKIT---no-polkit} --restart-delay-ms=100 --log-max-size=0 \
    ${VMMS_POOLS---storage-pool="$T" --storage-pool="$VM_BUILD_DIR"} "$@" >>"$T/vmms.log" 2>&1 &
  VMMS_PID=$!
  local end
  end=$(deadline_us 10)
  while :; do
    # NameHasOwner, not "busctl status": the latter reads the peer's
    # credentials (cgroup), which fail inside "ip netns exec" (its /sys
    # has no cgroup file system).
    busctl --address="$ADDR" call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
      NameHasOwner s org.vmstack.VMMS1 2>/dev/null | grep -q "^b true" && { ready_after "$T/vmms.log" "$ready0"; return 0; }
    kill -0 "$VMMS_PID" 2>/dev/null || fail "vmms exited at start"
    before_deadline "$end" || fail "vmms did not acquire its bus name in 10 s"
    sleep 0.05
  done
}

t_stop_vmms() {
  kill -TERM "$VMMS_PID"
  wait "$VMMS_PID" 2>/dev/null
  VMMS_PID=
}

vmctl() { "$VMCTL_BIN" --address="$ADDR" "$@"; }
bus() { busctl --address="$ADDR" "$@"; }

# expect_rc CODE command...: runs the command, checks its exit code.
expect_rc() {
  local want=$1; shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $out"
  LAST_OUT=$out
}

# vm_path VM: the object path of a VM (by name or id), through raw D-Bus.
vm_path() {
  bus call org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager GetVM s "$1" 2>/dev/null |
    sed -n 's/^o "\(.*\)"$/\1/p'
}

# vm_prop VM PROPERTY: a VM property's value (strings unquoted).
vm_prop() {
  local p
  p=$(vm_path "$1")
  [ -n "$p" ] || return 1
  bus get-property org.vmstack.VMMS1 "$p" org.vmstack.VMMS1.VM "$2" | sed -e 's/^[a-z()]* //' -e 's/^"\(.*\)"$/\1/'
}

# stored_cfg VM EXPR: a Python expression over the VM's stored
# configuration c (the state directory's file, not the property), printed.
stored_cfg() {
  local id
  id=$(vm_prop "$1" Id)
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/state/$id.json" "$2"
}

# vm_iface VM: busctl's service, object path and interface of a VM
# (bus call $(vm_iface VM) METHOD ...).
vm_iface() { echo org.vmstack.VMMS1 "$(vm_path "$1")" org.vmstack.VMMS1.VM; }

# console VM: its console log so far.
console() { cat "$(vm_prop "$1" ConsoleLog)" 2>/dev/null; }
console_has() { console "$1" | grep -Eq "$2"; }
console_count() { console "$1" | grep -Ec "$2"; }
# console_text FILE: a console log as text: escape sequences (a shell's
# bracketed paste mode, colours) and CRs taken out.
console_text() { sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$1" 2>/dev/null | tr -d '\r'; }
# console_wait VM SECONDS WHAT REGEX [N]: until VM's console log (appended
# to from boot to boot; escape sequences and CRs taken out) has more than
# N lines (default 0) matching REGEX, by the clock (an emulated host is
# slow, and slower under load); fails at once, with the console's tail,
# when the VM stops running.
console_wait() {
  local vm=$1 end=$(($(date +%s) + $2)) what=$3 re=$4 more=${5:-0} n=0 st con
  con=$(vm_prop "$vm" ConsoleLog)
  while [ "$(console_text "$con" | grep -Ec "$re")" -le "$more" ]; do
    if [ $((n++ % 10)) = 0 ]; then
      st=$(vm_prop "$vm" State)
      [ "$st" = Running ] || fail "waiting for $what: $vm is $st ($(vm_prop "$vm" ExitReason)); its console ends: $(tail -c 3000 "$con")"
    fi
    [ "$(date +%s)" -lt "$end" ] || fail "timed out after $2 s waiting for $what; the console ends: $(tail -c 3000 "$con")"
    sleep 0.5
  done
}

# wait_for SECONDS DESCRIPTION COMMAND...: until the command succeeds,
# for SECONDS of wall time (deadline_us: a loaded machine's slow tries do
# not stretch it), trying once more at the deadline.
wait_for() {
  local secs=$1 what=$2 end; shift 2
  end=$(deadline_us "$secs")
  until "$@" >/dev/null 2>&1; do
    before_deadline "$end" || fail "timed out after $secs s waiting for $what"
    sleep 0.1
  done
}

# t_monitor LOG ARGS...: gdbus monitor on the test's bus (ARGS: its --dest,
# --object-path), its pid in MON; returns once it listens. It subscribes
# before it looks up the destination's owner, and the bus answers one
# connection's messages in order: its "is owned by" line means its match
# rules are in. (A fixed sleep missed the first signals on a slow host.)
t_monitor() {
  local log=$1; shift
  gdbus monitor --address="$ADDR" "$@" >"$log" 2>&1 &
  MON=$!
  t_on_exit "kill $MON"
  wait_for 60 "gdbus monitor to listen ($log)" grep -q " is owned by " "$log"
}

wait_state() { # VM STATE [timeout]
  vmctl wait "$1" "$2" --timeout="${3:-30}" >/dev/null || fail "$1 did not reach $2 (it is $(vm_prop "$1" State): $(vm_prop "$1" ExitReason))"
}

# t_sweeping ADDRESS VM: a VM running vmwp's memory-sweeping guest
# (tests/guests/vmwp_basic.S 'w': a '.' every 64 sweeps, "dirty BAD" on a
# lost or replayed write) on the vmms at ADDRESS prints another dot and no
# BAD. A no-op with the fake worker.
t_sweeping() {
  [ "${WORKER_KIND:-fake}" = real ] || return 0
  local log n
  log=$(ADDR=$1 vm_prop "$2" ConsoleLog)
  n=$(tr -cd . <"$log" | wc -c)
  wait_for 60 "$2 sweeping on $1" sh -c "[ \$(tr -cd . <'$log' | wc -c) -gt $n ]"
  ! grep -q "dirty BAD" "$log" || fail "$2 lost a write: $(tail -c 300 "$log")"
}

# A minimal configuration for the chosen worker: name [extra cmdline words].
vm_json() {
  printf '{"name":"%s","memory_mib":%s,"vcpus":1,"boot":{"kernel":"%s","cmdline":"%s"}%s}' \
    "$1" "${VM_MEMORY:-64}" "$(t_kernel)" "${2:-}" "${3:-}"
}

# t_create NAME [cmdline] [extra JSON members] [expected vmctl rc]: creates a
# VM from vm_json through a file (a pipe would lose LAST_OUT in a subshell).
t_create() {
  vm_json "$1" "${2:-}" "${3:-}" >"$T/$1.json"
  expect_rc "${4:-0}" vmctl create "$T/$1.json"
}

# t_crash_by_kill NAME: creates NAME (restart policy never), starts it, kills
# its worker with SIGKILL and waits until the VM is Crashed for that reason.
t_crash_by_kill() {
  t_create "$1" "" ',"restart_policy":"never"'
  expect_rc 0 vmctl start "$1" --timeout=120
  kill -9 "$(vm_prop "$1" WorkerPid)"
  wait_state "$1" Crashed
  [ "$(vm_prop "$1" ExitReason)" = "worker killed by signal KILL" ] || fail "$1: reason: $(vm_prop "$1" ExitReason)"
}

# alive PID: the process exists and is not a zombie (a re-attached worker is
# not vmms's child; its zombie waits for whoever adopted it).
alive() {
  [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^[ZX]'
}

# bg CMD...: runs a command in the background and remembers it for wait_bg
# (a plain `wait` would also wait for dbus-daemon and vmms).
BG_PIDS=()
bg() { "$@" & BG_PIDS+=($!); }
wait_bg() { local p; for p in "${BG_PIDS[@]}"; do wait "$p"; done; BG_PIDS=(); }

# A second "host" for the migration tests: host B, a dbus-daemon and vmms
# with their own state, runtime and log directories under $T/b, listening
# for migrations on 127.0.0.1:PORT. t_host_b_start PORT [vmms options...]
# (again after t_host_b_stop); vmctlb runs vmctl against B; ADDRB is its bus.
t_host_b_start() {
  local port=$1; shift
  B=$T/b ADDRB="unix:path=$T/b/bus"
  if [ -z "${BDBUS:-}" ]; then
    mkdir -p "$B/state" "$B/run" "$B/log"
    sed "s|$T/bus|$B/bus|" "$T/bus.conf" >"$B/bus.conf"
    dbus_start "$B/bus.conf" "$B" || fail "host B's dbus-daemon did not start: $(cat "$B/dbus.log")"
    BDBUS=$DBUS_START_PID
    t_on_exit 't_host_b_workers; t_host_b_stop; kill $BDBUS'
  fi
  local ready0
  ready0=$(ready_lines "$B/vmms.log")
  "$VMMS" --bus-address="$ADDRB" --state-dir="$B/state" --runtime-dir="$B/run" --log-dir="$B/log" \
    --worker="$WORKER" --no-polkit --log-max-size=0 --storage-pool="$T" --storage-pool="$VM_BUILD_DIR" \
    --migration-listen=127.0.0.1:$port "$@" >>"$B/vmms.log" 2>&1 &
  BVMMS=$!
  local end
  end=$(deadline_us 10)
  while :; do
    busctl --address="$ADDRB" call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
      NameHasOwner s org.vmstack.VMMS1 2>/dev/null | grep -q "^b true" && { ready_after "$B/vmms.log" "$ready0"; return 0; }
    before_deadline "$end" || fail "vmms B did not start in 10 s: $(tail "$B/vmms.log")"
    sleep 0.05
  done
}
t_host_b_stop() { [ -n "${BVMMS:-}" ] && kill "$BVMMS" 2>/dev/null; [ -n "${BVMMS:-}" ] && wait "$BVMMS" 2>/dev/null; BVMMS=; }
t_host_b_workers() { # end B's workers by their runtime records
  local rec
  for rec in "$B"/run/vms/*/worker.json; do
    [ -f "$rec" ] && kill -9 "$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$rec")" 2>/dev/null
  done
}
vmctlb() { "$VMCTL_BIN" --address="$ADDRB" "$@"; }
vm_prop_b() { ADDR=$ADDRB vm_prop "$@"; }
# t_migration_pki DIR [SAN_A [SAN_B]]: a CA "ca" and certificates hosta,
# hostb (each also localhost, and the extra subjectAltName given, such as
# IP:10.94.0.1) in DIR; tls NAME prints vmms's options for one.
t_migration_pki() {
  P=$1; mkdir -p "$P"
  local san_hosta=${2:+,$2} san_hostb=${3:+,$3}
  command -v openssl >/dev/null || fail "openssl missing (scripts/deps.sh installs it)"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/ca.key" -out "$P/ca.pem" \
    -days 2 -subj "/CN=ca" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
  local n
  for n in hosta hostb; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$n.key" -out "$P/$n.csr" -subj "/CN=$n" >/dev/null 2>&1
    local extra=san_$n
    printf 'subjectAltName=DNS:%s,DNS:localhost%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$n" "${!extra}" >"$P/$n.ext"
    openssl x509 -req -in "$P/$n.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -out "$P/$n.pem" -days 2 \
      -extfile "$P/$n.ext" >/dev/null 2>&1
  done
  [ -s "$P/hosta.pem" ] && [ -s "$P/hostb.pem" ] || fail "openssl did not make the certificates"
}
tls() { echo --migration-cert="$P/$1.pem" --migration-key="$P/$1.key" --migration-ca="$P/ca.pem"; }

# t_free_ports N: N free loopback TCP ports (others' tests run beside ours).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/free-ports.sh"
t_free_ports() { free_ports "$@"; }

# t_cockpit_ws PAGE: cockpit-ws ($WS) on a free loopback port serving the
# built page PAGE as the "vmstack" package, with a local bridge ($BRIDGE)
# whose system bus is the test's ($ADDR) and whose PATH has vmctl (the
# console's channel runs `vmctl display --stdio`, the wizard makes images
# with it, as the page's user); killed at exit. Sets PORT, WSPID and BASE
# (the page is $BASE/vmstack/index.html) once it serves the manifest.
t_cockpit_ws() {
  mkdir -p "$T/share/cockpit"
  ln -s "$1" "$T/share/cockpit/vmstack"
  read -r PORT <<<"$(t_free_ports 1)"
  PATH=$(dirname "$VMCTL_BIN"):$PATH LANG=C.UTF-8 LC_ALL=C.UTF-8 DBUS_SYSTEM_BUS_ADDRESS=$ADDR XDG_DATA_HOME=$T/share \
    XDG_CONFIG_HOME=$T/config "$WS" --no-tls --address=127.0.0.1 --port="$PORT" --local-session="$BRIDGE" >"$T/ws.log" 2>&1 &
  WSPID=$!
  t_on_exit "kill $WSPID"
  BASE=http://127.0.0.1:$PORT/cockpit/@localhost
  wait_for 20 "cockpit-ws" curl -sf -o /dev/null "$BASE/vmstack/manifest.json"
}

# t_silent_listener PORT: a TCP listener on 127.0.0.1:PORT that takes one
# connection and never answers (a destination that hangs); SILENT is its
# pid, ended at exit.
t_silent_listener() {
  python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); time.sleep(120)' "$1" &
  SILENT=$!
  t_on_exit "kill $SILENT 2>/dev/null"
  wait_for 10 "the silent listener" sh -c "ss -ltn | grep -q ':$1 '"
}
