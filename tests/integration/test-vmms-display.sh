#!/bin/bash
# SPDX-License-Identifier: MIT
# The console through vmms (docs/console.md, docs/dbus-api.md "Display"):
# vmms runs the real vmdisplay for a VM with a display; the worker's side is
# the fake worker with fake-display-worker on the display socket vmms named
# (its test pattern on a 640x480 screen). Checked: the Display properties
# off and running; VNC on the Unix socket and 127.0.0.1:vnc_port with the
# password vmctl prints (vncsnapshot, LibVNCClient), refused without it;
# keys through VNC reach the worker; vmctl screenshot writes the exact
# pattern while the console is served; a display server that dies is
# started again; one left by a vmms that restarted keeps serving; a guest
# without a video driver has no mode and no screenshot; the password is new
# at each start; display settings change only while the VM is off; the
# guest's keyboard layout (keymap) reaches vmdisplay and its keys; a failed
# screenshot leaves no file (and an earlier one as it was); vmms run from
# the build tree finds vmdisplay there; a display server that cannot be
# executed is reported once, with its path, and not started again;
# vmctl display --stdio relays the VNC connection (a viewer through it sees
# the pattern), refuses no such VM, no display, off and a user without the
# manage right.
set -u
source "$(dirname "$0")/vmms-lib.sh"
D=$VM_BUILD_DIR/vmdisplay
for b in vmdisplay fake-display-worker display-vnc-client display-image-check; do
  [ -x "$D/$b" ] || { echo "SKIP: $D/$b is not built"; exit 77; }
done
command -v vncsnapshot >/dev/null || { echo "SKIP: vncsnapshot is not installed (scripts/deps.sh)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
t_setup
VMMS_TEST_WORKER=fake t_pick_worker
export VM_FAKE_DISPLAY_WORKER=$D/fake-display-worker VM_FAKE_DISPLAY_LOG=$T/fake-display.log
t_start_vmms --display-server="$D/vmdisplay"
read -r PORT PORT2 <<<"$(t_free_ports 2)"
CHECK=$D/display-image-check CLIENT=$D/display-vnc-client

disp() { # VM PROPERTY: a property of the Display interface
  bus get-property org.vmstack.VMMS1 "$(vm_path "$1")" org.vmstack.VMMS1.Display "$2" | sed -e 's/^[a-z()]* //' -e 's/^"\(.*\)"$/\1/'
}
# The display server vmms runs for VM: its pid (by the runtime directory in
# its command line).
vmd_pid() { pgrep -f "vmdisplay --connect=$T/run/vms/$(vm_prop "$1" Id)/display.sock --listen" | head -n 1; }

note "a VM without a display has no console"
t_create plain
expect_rc 0 vmctl display plain
echo "$LAST_OUT" | grep -q "plain has no display" || fail "vmctl display of a VM without one: $LAST_OUT"
expect_rc 0 vmctl start plain --timeout=30
expect_rc 5 vmctl screenshot plain "$T/plain.png"
echo "$LAST_OUT" | grep -q "has no display" || fail "a screenshot without a display: $LAST_OUT"
[ -e "$T/plain.png" ] && fail "a failed screenshot left a file"
note "a failed screenshot leaves no file, and an earlier one as it was"
expect_rc 3 vmctl screenshot NOSUCHVM "$T/nosuch.png"
[ -e "$T/nosuch.png" ] && fail "a screenshot of no such VM left a file"
echo earlier >"$T/earlier.png"
expect_rc 5 vmctl screenshot plain "$T/earlier.png"
[ "$(cat "$T/earlier.png")" = earlier ] || fail "a failed screenshot changed the file that was there"
ls "$T" | grep -q '\.png\.tmp' && fail "a failed screenshot left its temporary file: $(ls "$T")"
[ "$(disp plain Enabled)" = false ] || fail "Enabled of a VM without a display: $(disp plain Enabled)"

note "a VM with a display, off"
t_create d1 "" ",\"display\":{\"enabled\":true,\"vnc_port\":$PORT}"
[ "$(disp d1 Enabled)" = true ] || fail "Enabled: $(disp d1 Enabled)"
[ "$(disp d1 Resolution)" = "1024 768" ] || fail "Resolution: $(disp d1 Resolution)"
[ -z "$(disp d1 VncSocket)" ] || fail "VncSocket of a VM that is off: $(disp d1 VncSocket)"
[ "$(disp d1 ServerRunning)" = false ] || fail "ServerRunning while off"
expect_rc 0 vmctl display d1
echo "$LAST_OUT" | grep -q "^Console  *not running" || fail "vmctl display while off: $LAST_OUT"
expect_rc 5 vmctl screenshot d1 "$T/off.png"
echo "$LAST_OUT" | grep -q "is Off: its console exists while it runs" || fail "a screenshot while off: $LAST_OUT"
expect_rc 5 vmctl display d1 --password
expect_rc 5 vmctl display d1 --stdio
echo "$LAST_OUT" | grep -q "is Off: its console exists while it runs" || fail "--stdio while off: $LAST_OUT"

note "running: the console is served, the guest's drivers and mode are known"
expect_rc 0 vmctl start d1 --timeout=30
wait_for 10 "the display server" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.Display ServerRunning)\" = 'b true' ]"
wait_for 10 "the guest's mode" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.Display Mode)\" = '(uu) 640 480' ]"
[ "$(disp d1 GuestVideo)" = true ] && [ "$(disp d1 GuestKeyboard)" = true ] && [ "$(disp d1 GuestMouse)" = true ] ||
  fail "the guest's drivers: $(disp d1 GuestVideo) $(disp d1 GuestKeyboard) $(disp d1 GuestMouse)"
SOCK=$(disp d1 VncSocket)
[ "$SOCK" = "$T/run/vms/$(vm_prop d1 Id)/vnc.sock" ] || fail "VncSocket: $SOCK"
wait_for 10 "the VNC socket" test -S "$SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "the VNC socket is mode $(stat -c %a "$SOCK")"
[ "$(disp d1 VncAddress)" = "127.0.0.1:$PORT" ] || fail "VncAddress: $(disp d1 VncAddress)"
[ -z "$(disp d1 WebUrl)" ] || fail "WebUrl without web_port: $(disp d1 WebUrl)"
expect_rc 0 vmctl display d1 --password
PW=$(echo "$LAST_OUT" | sed -n 's/^Password  *//p')
[ ${#PW} = 12 ] || fail "vmctl display --password: $LAST_OUT"
echo "$LAST_OUT" | grep -q "^Mode  *640x480 (preferred 1024x768)" || fail "vmctl display, the mode: $LAST_OUT"
echo "$LAST_OUT" | grep -q "^Guest drivers  *video yes, keyboard yes, mouse yes" || fail "vmctl display, drivers: $LAST_OUT"
expect_rc 0 vmctl --json display d1
echo "$LAST_OUT" | grep -q '"width":640' || fail "vmctl --json display: $LAST_OUT"
echo "$LAST_OUT" | grep -q password && fail "--json display printed the password unasked"
stat -c %a "$T/run/vms/$(vm_prop d1 Id)/vnc.password" | grep -qx 600 || fail "the password file is not 0600"

note "a VNC client with the password sees the guest's screen: vncsnapshot on TCP, LibVNCClient on the socket"
printf '%s\n' "$PW" >"$T/pw" && chmod 600 "$T/pw"
"$CLIENT" store-passwd "$PW" "$T/vncpasswd" || fail "cannot write a vncpasswd file"
"$CLIENT" store-passwd "wrong123" "$T/vncpasswd.wrong" || fail "cannot write a vncpasswd file"
wait_for 10 "the TCP port" python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$PORT"
vncsnapshot -quiet -passwd "$T/vncpasswd" -nojpeg -encodings raw -quality 100 "127.0.0.1::$PORT" "$T/snap.jpg" \
  >"$T/vncsnapshot.log" 2>&1 || fail "vncsnapshot failed: $(cat "$T/vncsnapshot.log")"
"$CHECK" near "$T/snap.jpg" 0 16 >"$T/check.out" 2>&1 || fail "vncsnapshot's image is not the guest's: $(cat "$T/check.out")"
vncsnapshot -quiet -passwd "$T/vncpasswd.wrong" -nojpeg "127.0.0.1::$PORT" "$T/wrong.jpg" >/dev/null 2>&1 &&
  fail "vncsnapshot got in with a wrong password"
"$CLIENT" "$SOCK" wait-pattern 0 >"$T/nopw.log" 2>&1
[ $? = 3 ] || fail "a viewer without the password got in on the socket"
"$CLIENT" --password-file="$T/pw" "$SOCK" wait-pattern 0 key a down key a up key 0xff52 down key 0xff52 up sleep 100 \
  >"$T/keys.log" 2>&1 || fail "the viewer on the socket: $(tail -3 "$T/keys.log")"
wait_for 5 "the keys at the worker" grep -q "KEY 0xe048 up" "$T/fake-display.log"
grep -q "KEY 0x001e down" "$T/fake-display.log" || fail "the key a: $(grep KEY "$T/fake-display.log")"

note "vmctl display --stdio: the VNC connection on stdin/stdout (the Cockpit console's channel)"
# The server's RFB banner comes out; input held open by sleep, which then
# ends it: the relay ends too.
out=$(sleep 2 | timeout 20 "$VMCTL_BIN" --address="$ADDR" display d1 --stdio | head -c 12)
[ "$out" = "RFB 003.008" ] || fail "vmctl display --stdio did not relay the VNC server's banner: '$out'"
# A whole session through it: LibVNCClient on a socketpair to vmctl's stdio.
python3 - "$CLIENT" "$T/pw" "$VMCTL_BIN" "$ADDR" <<'PY' >"$T/stdio.log" 2>&1 || fail "a viewer through vmctl display --stdio: $(tail -3 "$T/stdio.log")"
import socket, subprocess, sys, tempfile, os
client, pw, vmctl, addr = sys.argv[1:5]
d = tempfile.mkdtemp()
path = os.path.join(d, "relay.sock")
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(1)
viewer = subprocess.Popen([client, "--password-file=" + pw, path, "wait-pattern", "0"])
conn, _ = srv.accept()
relay = subprocess.Popen([vmctl, "--address=" + addr, "display", "d1", "--stdio"], stdin=conn, stdout=conn)
conn.close()
rc = viewer.wait(30)
relay.wait(10)
sys.exit(rc)
PY
expect_rc 3 vmctl display NOSUCHVM --stdio
expect_rc 5 vmctl display plain --stdio
echo "$LAST_OUT" | grep -q "has no display" || fail "--stdio on a VM without a display: $LAST_OUT"
expect_rc 2 vmctl display d1 --stdio --password
NOBODY=$(id -u nobody 2>/dev/null) || fail "no user nobody"
expect_rc 6 setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups "$VMCTL_BIN" --address="$ADDR" display d1 --stdio
echo "$LAST_OUT" | grep -q "user $NOBODY may not do this" || fail "--stdio as nobody: $LAST_OUT"

note "vmctl screenshot while the console is served: the exact screen"
expect_rc 0 vmctl screenshot d1 "$T/shot.png"
"$CHECK" exact "$T/shot.png" 0 >"$T/check.out" 2>&1 || fail "the screenshot is not the guest's screen: $(cat "$T/check.out")"
grep -q "^640x480," "$T/check.out" || fail "the screenshot's size: $(cat "$T/check.out")"
expect_rc 0 vmctl -q screenshot d1 - >"$T/stdout.png"
"$VMCTL_BIN" --address="$ADDR" screenshot d1 - >"$T/stdout.png" || fail "vmctl screenshot to stdout"
"$CHECK" exact "$T/stdout.png" 0 >/dev/null 2>&1 || fail "the screenshot on stdout is not the screen"
[ "$(disp d1 ServerRunning)" = true ] || fail "the screenshot disturbed the console"

note "display settings change only while the VM is off"
expect_rc 5 vmctl edit d1 --display=1280x1024
echo "$LAST_OUT" | grep -q "display: can only change while the VM is Off" || fail "editing the display of a running VM: $LAST_OUT"

note "a display server that dies is started again"
P1=$(vmd_pid d1)
[ -n "$P1" ] || fail "no vmdisplay for d1"
kill -9 "$P1"
wait_for 15 "a new display server" sh -c "p=\$(pgrep -f 'vmdisplay --connect=$T/run/vms/$(vm_prop d1 Id)/display.sock --listen' | head -n 1); [ -n \"\$p\" ] && [ \"\$p\" != $P1 ]"
wait_for 10 "it serves again" sh -c "'$CLIENT' --password-file='$T/pw' '$SOCK' wait-pattern 0 >/dev/null 2>&1"
grep -q "the display server ended (exit status 137" "$T/vmms.log" || fail "vmms did not log the dead display server"

note "a vmms restart: the display server it left keeps serving"
P2=$(vmd_pid d1)
t_stop_vmms
t_start_vmms --display-server="$D/vmdisplay"
kill -0 "$P2" 2>/dev/null || fail "the display server ended with vmms"
wait_for 10 "the re-attached VM" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.VM State)\" = 's \"Running\"' ]"
wait_for 10 "the new vmms's refused display server" grep -q "another display server serves the console" "$T/vmms.log"
"$CLIENT" --password-file="$T/pw" "$SOCK" wait-pattern 0 >"$T/after.log" 2>&1 || fail "the console after vmms restarted: $(tail -3 "$T/after.log")"
expect_rc 0 vmctl screenshot d1 "$T/shot2.png"
"$CHECK" exact "$T/shot2.png" 0 >/dev/null 2>&1 || fail "the screenshot after vmms restarted"

note "stopped: the console goes, and the next start has a new password"
expect_rc 0 vmctl kill d1
wait_state d1 Off
wait_for 10 "the display server's end" sh -c "! kill -0 $P2 2>/dev/null"
[ -z "$(disp d1 VncSocket)" ] || fail "VncSocket after the stop: $(disp d1 VncSocket)"
[ -e "$T/run/vms/$(vm_prop d1 Id)/vnc.password" ] && fail "the password outlived the VM's run"
expect_rc 0 vmctl start d1 --timeout=30
wait_for 10 "the display server" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.Display ServerRunning)\" = 'b true' ]"
expect_rc 0 vmctl display d1 --password
PW2=$(echo "$LAST_OUT" | sed -n 's/^Password  *//p')
[ -n "$PW2" ] && [ "$PW2" != "$PW" ] || fail "the password did not change: $PW -> $PW2"
expect_rc 0 vmctl kill d1
wait_state d1 Off

note "the guest's keyboard layout: a German guest gets 'z' on its Z key (set 1 0x15, the US Y key)"
expect_rc 4 vmctl edit d1 --display=keymap=../de
echo "$LAST_OUT" | grep -q "not a keyboard layout" || fail "a malformed keymap: $LAST_OUT"
expect_rc 0 vmctl edit d1 --display=keymap=de
expect_rc 0 vmctl start d1 --timeout=30
wait_for 10 "the display server" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.Display ServerRunning)\" = 'b true' ]"
pgrep -af "vmdisplay --connect=$T/run/vms/$(vm_prop d1 Id)/display.sock" | grep -q -- "--keymap=de" ||
  fail "vmdisplay runs without --keymap=de: $(pgrep -af vmdisplay)"
printf '%s\n' "$(vmctl display d1 --password | sed -n 's/^Password  *//p')" >"$T/pw3" && chmod 600 "$T/pw3"
"$CLIENT" --password-file="$T/pw3" "$(disp d1 VncSocket)" wait-pattern 0 key z down key z up key 0xe4 down key 0xe4 up \
  key 0xffe1 down key 0x40 down key 0x40 up key 0xffe1 up sleep 100 \
  >"$T/keys-de.log" 2>&1 || fail "the viewer with the German layout: $(tail -3 "$T/keys-de.log")"
wait_for 5 "the German keys at the worker" grep -q "KEY 0x0010 up" "$T/fake-display.log"
grep -q "KEY 0x0015 down" "$T/fake-display.log" || fail "'z' on a German guest: $(grep KEY "$T/fake-display.log" | tail -4)"
# A US viewer's '@' (Shift-2 there): AltGr-Q on the German guest, its
# Shift lifted around the key and put back.
grep "^KEY" "$T/fake-display.log" | sed 's/ t=.*//' | tail -n 10 | tr '\n' ' ' >"$T/at.got"
[ "$(cat "$T/at.got")" = "KEY 0x0028 down KEY 0x0028 up KEY 0x002a down KEY 0x002a up KEY 0xe038 down KEY 0x0010 down KEY 0xe038 up KEY 0x002a down KEY 0x0010 up KEY 0x002a up " ] ||
  fail "'@' from a US viewer on a German guest: $(cat "$T/at.got")"
expect_rc 0 vmctl kill d1
wait_state d1 Off

note "a guest without a video driver: no mode, no screenshot; the console says so"
t_create nv "fake.no_video" ",\"display\":{\"enabled\":true,\"web_port\":$PORT2}"
expect_rc 0 vmctl start nv --timeout=30
wait_for 10 "the display server" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path nv)' org.vmstack.VMMS1.Display ServerRunning)\" = 'b true' ]"
[ "$(disp nv Mode)" = "0 0" ] || fail "Mode without a video driver: $(disp nv Mode)"
[ "$(disp nv GuestVideo)" = false ] || fail "GuestVideo without a driver"
[ "$(disp nv WebUrl)" = "http://127.0.0.1:$PORT2/" ] || fail "WebUrl: $(disp nv WebUrl)"
expect_rc 0 vmctl display nv
echo "$LAST_OUT" | grep -q "^Mode  *none (no video driver yet)" || fail "vmctl display without a mode: $LAST_OUT"
echo "$LAST_OUT" | grep -q "^Web console  *http://127.0.0.1:$PORT2/" || fail "vmctl display, the web console: $LAST_OUT"
expect_rc 5 vmctl screenshot nv "$T/nv.png"
echo "$LAST_OUT" | grep -q "has not set a display mode" || fail "a screenshot without a mode: $LAST_OUT"
[ -e "$T/nv.png" ] && fail "a failed screenshot left a file"
printf '%s\n' "$(vmctl display nv --password | sed -n 's/^Password  *//p')" >"$T/pw2" && chmod 600 "$T/pw2"
"$CLIENT" --password-file="$T/pw2" "$(disp nv VncSocket)" wait-message >"$T/msg.log" 2>&1 ||
  fail "the console does not say that the guest has no video driver: $(tail -3 "$T/msg.log")"
expect_rc 0 vmctl kill nv
wait_state nv Off
[ -z "$(ls "$T" | grep '\.png\.tmp')" ] || fail "a screenshot left its temporary file: $(ls "$T")"

note "vmms run from the build tree finds vmdisplay there (no --display-server)"
t_stop_vmms
t_start_vmms
expect_rc 0 vmctl start d1 --timeout=30
wait_for 10 "the display server" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path d1)' org.vmstack.VMMS1.Display ServerRunning)\" = 'b true' ]"
[ "$(readlink "/proc/$(vmd_pid d1)/exe")" = "$(realpath "$D/vmdisplay")" ] ||
  fail "d1's display server is not the build tree's: $(pgrep -af vmdisplay)"
expect_rc 0 vmctl kill d1
wait_state d1 Off

# A display server that cannot be executed: reported once with its path,
# never started again (it exited 127 at every try, for ever, before).
display_not_executable() { # PATH WHAT: vmms with --display-server=PATH; the log line WHAT
  local n0
  n0=$(grep -c "display server" "$T/vmms.log")
  t_stop_vmms
  t_start_vmms --display-server="$1"
  expect_rc 0 vmctl start d1 --timeout=30
  wait_for 10 "the report of $1" grep -qF "$2" "$T/vmms.log"
  sleep 4 # a retry would have come after 1 s and 2 s
  [ "$(grep -cF "$2" "$T/vmms.log")" = 1 ] || fail "not reported once: $(grep -F "$2" "$T/vmms.log")"
  [ "$(grep -c "display server" "$T/vmms.log")" = $((n0 + 1)) ] ||
    fail "the display server was tried again: $(grep "display server" "$T/vmms.log" | tail -n +$((n0 + 1)))"
  [ "$(disp d1 ServerRunning)" = false ] || fail "ServerRunning with $1"
}
note "a display server that is not there"
display_not_executable "$T/no-vmdisplay" "cannot execute the display server $T/no-vmdisplay: No such file or directory"
expect_rc 1 vmctl screenshot d1 "$T/noexec.png"
echo "$LAST_OUT" | grep -qF "cannot run $T/no-vmdisplay: No such file or directory" || fail "a screenshot without vmdisplay: $LAST_OUT"
[ -e "$T/noexec.png" ] && fail "a failed screenshot left a file"
expect_rc 0 vmctl kill d1
wait_state d1 Off
note "a display server that exits 127 (a wrapper whose program is not there)"
printf '#!/bin/sh\nexec %s/no-vmdisplay "$@"\n' "$T" >"$T/vmdisplay-wrapper"
chmod +x "$T/vmdisplay-wrapper"
display_not_executable "$T/vmdisplay-wrapper" "the display server $T/vmdisplay-wrapper cannot be executed (exit status 127"
expect_rc 0 vmctl kill d1
wait_state d1 Off
t_stop_vmms
t_start_vmms

note "a worker that sends the same state again and again: the bus hears of it once"
t_create rep "fake.display_repeat=200" ',"display":{"enabled":true}'
t_monitor "$T/rep-signals.log" --dest org.vmstack.VMMS1 --object-path "$(vm_path rep)"
expect_rc 0 vmctl start rep --timeout=30
wait_for 10 "the guest's mode" sh -c "[ \"\$(busctl --address='$ADDR' get-property org.vmstack.VMMS1 '$(vm_path rep)' org.vmstack.VMMS1.Display Mode)\" = '(uu) 640 480' ]"
sleep 1
kill "$MON"
wait "$MON" 2>/dev/null
n=$(grep -c "PropertiesChanged ('org.vmstack.VMMS1.Display'" "$T/rep-signals.log")
note "Display PropertiesChanged signals for 200 display events: $n"
[ "$n" -ge 1 ] && [ "$n" -le 10 ] || fail "$n Display PropertiesChanged signals for 200 events of one state"
expect_rc 0 vmctl kill rep
wait_state rep Off
echo "PASS"
