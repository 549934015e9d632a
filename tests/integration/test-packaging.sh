#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian package: build it with packaging/mkdeb.sh (debhelper, debian/),
# check its metadata, contents and -dbgsym package, run lintian on both (no
# error or warning allowed), install it into a scratch root with dpkg and
# purge it again (debhelper's maintainer scripts: the group, the user, the
# directories, the enabled unit), verify the systemd unit with
# systemd-analyze (no warnings allowed), load the D-Bus policy into a real
# dbus-daemon and check who may own and call what, check the polkit and
# activation files, and apply the sysusers.d and tmpfiles.d files to a
# scratch root.
set -u
source "$(dirname "$0")/../lib/dbus-start.sh"
: "${VM_BUILD_DIR:?run through ctest}" "${VM_SOURCE_DIR:?run through ctest}"
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*"; }
for t in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian; do
  command -v "${t%:*}" >/dev/null || { echo "SKIP: ${t%:*} missing (apt-get install ${t#*:}; scripts/deps.sh)"; exit 77; }
done
T=$(mktemp -d /tmp/vmms-pkg.XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() { local rc=$?; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; [ $rc = 0 ] && rm -rf "$T" || echo "kept $T" >&2; }
trap cleanup EXIT

note "build"
DEB=$("$VM_SOURCE_DIR/packaging/mkdeb.sh" "$VM_BUILD_DIR" "$T" 2>"$T/mkdeb.err") || fail "mkdeb: $(cat "$T/mkdeb.err")"
[ -f "$DEB" ] || fail "no package"
VERSION=$(sed -n 's/^project(vmstack VERSION \([0-9.]*\).*/\1/p' "$VM_SOURCE_DIR/CMakeLists.txt")
[ "$(cd "$VM_SOURCE_DIR" && dpkg-parsechangelog -S Version)" = "$VERSION" ] ||
  fail "debian/changelog's version is not CMakeLists.txt's $VERSION"
ARCH=$(dpkg --print-architecture)
[ "$(basename "$DEB")" = "vmstack_${VERSION}_$ARCH.deb" ] || fail "name $(basename "$DEB")"
DBGSYM=$(dirname "$DEB")/vmstack-dbgsym_${VERSION}_$ARCH.deb
[ -f "$DBGSYM" ] || fail "no $DBGSYM"

note "metadata"
[ "$(dpkg-deb -f "$DEB" Package)" = vmstack ] || fail "Package"
[ "$(dpkg-deb -f "$DEB" Version)" = "$VERSION" ] || fail "Version"
dpkg-deb -f "$DEB" Depends | grep -q "libsystemd0" && dpkg-deb -f "$DEB" Depends | grep -q "dbus" || fail "Depends"
dpkg-deb -I "$DEB" | grep -q " postinst" && dpkg-deb -I "$DEB" | grep -q " prerm" || fail "maintainer scripts"

note "contents, owners and modes"
dpkg-deb -c "$DEB" >"$T/contents"
want() { # mode path
  grep -q "^$1 root/root .* \./$2\$" "$T/contents" || fail "missing or wrong: $1 $2 ($(grep "$2" "$T/contents"))"
}
want -rwxr-xr-x usr/libexec/vmstack/vmms
want -rwxr-xr-x usr/bin/vmctl
want -rw-r--r-- lib/systemd/system/vmms.service
want -rw-r--r-- usr/share/dbus-1/system.d/org.vmstack.VMMS1.conf
want -rw-r--r-- usr/share/dbus-1/system-services/org.vmstack.VMMS1.service
want -rw-r--r-- usr/share/polkit-1/actions/org.vmstack.vmms.policy
want -rw-r--r-- usr/lib/sysusers.d/vmstack.conf
want -rw-r--r-- usr/lib/tmpfiles.d/vmstack.conf
want -rw-r--r-- usr/share/doc/vmstack/dbus-api.md
want -rw-r--r-- usr/share/doc/vmstack/vmms.md
want -rw-r--r-- usr/share/doc/vmstack/clustering.md
want -rwxr-xr-x usr/lib/ocf/resource.d/vmstack/VM
want -rw-r--r-- lib/systemd/system/pacemaker.service.d/vmstack.conf
want -rw-r--r-- usr/share/doc/vmstack/copyright
want -rw-r--r-- usr/share/doc/vmstack/changelog.gz
want -rw-r--r-- usr/share/man/man1/vmctl.1.gz
want -rw-r--r-- usr/share/man/man8/vmms.8.gz
want -rw-r--r-- usr/share/man/man5/vmstack.json.5.gz
want -rw-r--r-- usr/share/bash-completion/completions/vmctl
if [ -x "$VM_BUILD_DIR/vmwp/vmwp" ]; then want -rwxr-xr-x usr/libexec/vmstack/vmwp; else
  grep -q "vmwp is not built" "$T/mkdeb.err" || fail "no warning about the missing worker"; fi
# The Cockpit page (docs/cockpit.md), where the build tree has it.
if [ -f "$VM_BUILD_DIR/cockpit/dist/index.js" ]; then
  for f in manifest.json index.html index.js index.css novnc-LICENSE.txt; do want -rw-r--r-- usr/share/cockpit/vmstack/$f; done
  grep -q "\./usr/share/cockpit/vmstack/assets/RedHatTextVF-.*\.woff2\$" "$T/contents" || fail "the page's fonts"
else
  grep -q "the Cockpit page is not built" "$T/mkdeb.err" || fail "no warning about the missing Cockpit page"
fi
grep -q "^drwxr-xr-x root/root .* \./\$" "$T/contents" || fail "package root mode"
grep -v "^d" "$T/contents" | grep -v "root/root" && fail "files not owned by root"
R=$T/root
dpkg-deb -x "$DEB" "$R"

note "stripped programs, their symbols in -dbgsym"
dpkg-deb -c "$DBGSYM" >"$T/dbgsym-contents"
while read -r elf; do
  readelf -S "$elf" | grep -Eq "\.(symtab|debug_info) " && fail "${elf#"$R"} is not stripped"
  id=$(readelf -n "$elf" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
  [ -n "$id" ] || fail "${elf#"$R"} has no build id"
  grep -q "\./usr/lib/debug/\.build-id/${id:0:2}/${id:2}\.debug\$" "$T/dbgsym-contents" ||
    fail "${elf#"$R"}: no symbols (build id $id) in $(basename "$DBGSYM")"
done < <(find "$R/usr" -type f -exec sh -c 'head -c4 "$1" | grep -q "^.ELF"' _ {} \; -print)

note "maintainer scripts: debhelper's (no systemctl of our own)"
dpkg-deb -e "$DEB" "$T/control"
for s in postinst prerm postrm; do
  grep -q "Automatically added by dh_" "$T/control/$s" || fail "$s is not debhelper's"
  grep -n "systemctl" "$T/control/$s" | grep -v "systemctl --system daemon-reload" && fail "$s calls systemctl"
done
grep -q "deb-systemd-helper enable 'vmms.service'" "$T/control/postinst" || fail "postinst does not enable vmms"
grep -q "deb-systemd-invoke stop 'vmms.service'" "$T/control/prerm" || fail "prerm does not stop vmms"
# The group and the user before the directories that name them.
[ "$(grep -n "systemd-sysusers" "$T/control/postinst" | head -1 | cut -d: -f1)" -lt \
  "$(grep -n "systemd-tmpfiles" "$T/control/postinst" | head -1 | cut -d: -f1)" ] 2>/dev/null ||
  fail "postinst: systemd-sysusers does not come before systemd-tmpfiles"

note "lintian: no error, no warning"
lintian --fail-on error,warning "$DEB" "$DBGSYM" >"$T/lintian.log" 2>&1 || fail "lintian: $(cat "$T/lintian.log")"
grep -v "root privileges" "$T/lintian.log"

note "dpkg install into a scratch root and purge (the maintainer scripts run, with DPKG_ROOT)"
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  D=$T/dpkgroot
  mkdir -p "$D/var/lib/dpkg/info" "$D/var/lib/dpkg/updates" "$D/etc"
  touch "$D/var/lib/dpkg/status" "$D/var/lib/dpkg/available"
  echo "root:x:0:" >"$D/etc/group"
  echo "root:x:0:0:root:/root:/bin/sh" >"$D/etc/passwd"
  : >"$D/etc/shadow"; : >"$D/etc/gshadow"
  # Chrootless: the scripts run here with DPKG_ROOT=$D, and debhelper's
  # snippets act on $D; with /run/systemd hidden they leave this host's
  # systemd alone (no daemon-reload, no start). Depends are this host's.
  dpkg_root() {
    unshare -m sh -c 'if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd || exit 1; fi; exec "$@"' sh \
      dpkg --root="$D" --force-script-chrootless --force-depends "$@" >>"$T/dpkg.log" 2>&1
  }
  dpkg_root -i "$DEB" || fail "dpkg -i: $(cat "$T/dpkg.log")"
  grep -q "ok installed" <(dpkg --root="$D" -s vmstack 2>/dev/null) || fail "not installed: $(cat "$T/dpkg.log")"
  grep -q "^vmstack:x:" "$D/etc/group" && grep -q "^vmstack-worker:x:" "$D/etc/passwd" || fail "install made no vmstack group or user"
  [ "$(stat -c %a "$D/var/lib/vmstack/images")" = 2770 ] || fail "install made no storage pool"
  [ -L "$D/etc/systemd/system/multi-user.target.wants/vmms.service" ] || fail "vmms.service not enabled"
  [ -L "$D/etc/systemd/system/dbus-org.vmstack.VMMS1.service" ] || fail "no bus activation alias"
  [ -x "$D/usr/libexec/vmstack/vmms" ] || fail "vmms not installed"
  dpkg_root --purge vmstack || fail "dpkg --purge: $(cat "$T/dpkg.log")"
  [ ! -e "$D/usr/libexec/vmstack/vmms" ] && [ ! -e "$D/etc/systemd/system/multi-user.target.wants/vmms.service" ] ||
    fail "purge left the package behind"
else
  echo "SKIP (part): not root, or no mount namespace (unshare -m): the package was not installed"
fi

note "Depends names the package of every shared library a program links"
DEPS=$(dpkg-deb -f "$DEB" Depends)
while read -r elf; do
  for so in $(objdump -p "$elf" | awk '$1 == "NEEDED" { print $2 }'); do
    lib=$(ldconfig -p | awk -v so="$so" '$1 == so { print $NF; exit }')
    [ -n "$lib" ] || fail "${elf#"$R"}: $so is not on this host"
    pkg=$(dpkg -S "$(realpath "$lib")" 2>/dev/null | head -1 | cut -d: -f1)
    [ -n "$pkg" ] || pkg=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1)
    [ -n "$pkg" ] || fail "${elf#"$R"}: no package owns $lib"
    grep -Eq "(^|, )$pkg( |,|\$)" <<<"$DEPS" || fail "${elf#"$R"} links $so from $pkg, which Depends lacks: $DEPS"
  done
done < <(find "$R/usr" -type f -exec sh -c 'head -c4 "$1" | grep -q "^.ELF"' _ {} \; -print)
echo "Depends: $DEPS"
"$R/usr/bin/vmctl" --help | grep -q "^Usage: vmctl" || fail "vmctl does not run"
"$R/usr/libexec/vmstack/vmms" --version | grep -q "vmms $VERSION" || fail "vmms --version"

note "systemd-analyze verify (the unit, with the package and the host's units in one root)"
if command -v systemd-analyze >/dev/null && systemd-analyze verify --help >/dev/null 2>&1; then
  mkdir -p "$R/usr/lib/systemd/system"
  cp -an /usr/lib/systemd/system/. "$R/usr/lib/systemd/system/" 2>/dev/null
  out=$(systemd-analyze verify --man=no --root="$R" vmms.service 2>&1); rc=$?
  [ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify (rc $rc): $out"
  # The check is not vacuous: a wrong value is reported.
  sed 's/^OOMPolicy=continue/OOMPolicy=sometimes/' "$R/lib/systemd/system/vmms.service" >"$R/lib/systemd/system/vmms-bad.service"
  systemd-analyze verify --man=no --root="$R" vmms-bad.service 2>&1 | grep -q "Failed to parse OOM policy" || fail "verify sees nothing"
  rm "$R/lib/systemd/system/vmms-bad.service"
  # Pacemaker's drop-in: it stops before vmms (a node is drained first).
  if [ -f "$R/usr/lib/systemd/system/pacemaker.service" ]; then
    out=$(systemd-analyze verify --man=no --root="$R" pacemaker.service 2>&1 | grep -i vmstack)
    [ -z "$out" ] || fail "systemd-analyze verify of pacemaker.service with our drop-in: $out"
  fi
  grep -qx "After=vmms.service" "$R/lib/systemd/system/pacemaker.service.d/vmstack.conf" || fail "the drop-in does not order pacemaker after vmms"
  "$R/usr/lib/ocf/resource.d/vmstack/VM" meta-data 2>/dev/null | grep -q '<resource-agent name="VM"' ||
    [ ! -f /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ] || fail "the installed resource agent gives no meta-data"
  U=$R/lib/systemd/system/vmms.service
  for k in Type=notify KillMode=process OOMPolicy=continue "DeviceAllow=/dev/kvm rw" "DeviceAllow=/dev/net/tun rw" \
           RuntimeDirectoryPreserve=yes NoNewPrivileges=yes ProtectSystem=full ProtectHome=read-only \
           "StateDirectory=vmstack/vms"; do
    grep -qx "$k" "$U" || fail "unit lacks $k"
  done
  # Its seccomp filter fails openat2() with ENOSYS: no caller's file
  # could be opened (found by tests/amdv/install.sh under systemd).
  ! grep -q "^RestrictSUIDSGID=yes" "$U" || fail "the unit has RestrictSUIDSGID=yes"
else
  echo "SKIP (part): systemd-analyze cannot run here; the unit was not verified"
fi

note "D-Bus policy in a real dbus-daemon: root owns, others call but cannot own"
command -v dbus-daemon >/dev/null || fail "dbus-daemon missing"
# The system bus's own default policy (from the installed system.conf) plus
# the package's file: what a real system bus would enforce.
SYSCONF=/usr/share/dbus-1/system.conf
[ -f "$SYSCONF" ] || fail "no $SYSCONF"
{
  echo '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"'
  echo ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">'
  echo "<busconfig><listen>unix:path=$T/bus</listen><auth>EXTERNAL</auth>"
  sed -n '/<policy context="default">/,/<\/policy>/p' "$SYSCONF"
  echo "<include>$R/usr/share/dbus-1/system.d/org.vmstack.VMMS1.conf</include></busconfig>"
} >"$T/bus.conf"
dbus_start "$T/bus.conf" "$T" || fail "dbus-daemon rejected the policy: $(cat "$T/dbus.log")"
PIDS+=("$DBUS_START_PID")
chmod 777 "$T/bus"
ADDR=unix:path=$T/bus
NOBODY=$(id -u nobody)
mkdir -p "$T/state" "$T/run" "$T/log"
mkdir -p "$T/n" && chown "$NOBODY" "$T/n" # so that only the bus can stop nobody's vmms
setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups "$R/usr/libexec/vmstack/vmms" --bus-address="$ADDR" \
  --state-dir="$T/n/state" --runtime-dir="$T/n/run" --log-dir="$T/n/log" >"$T/nobody-vmms.log" 2>&1 &&
  fail "nobody could run vmms"
grep -q "cannot own org.vmstack.VMMS1" "$T/nobody-vmms.log" || fail "nobody's vmms: $(cat "$T/nobody-vmms.log")"
"$R/usr/libexec/vmstack/vmms" --bus-address="$ADDR" --state-dir="$T/state" --runtime-dir="$T/run" \
  --log-dir="$T/log" --no-polkit --storage-pool="$T" >"$T/vmms.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do busctl --address="$ADDR" status org.vmstack.VMMS1 >/dev/null 2>&1 && break; sleep 0.05; done
busctl --address="$ADDR" status org.vmstack.VMMS1 >/dev/null 2>&1 || fail "root could not own the name: $(cat "$T/vmms.log")"
as_nobody() { setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups "$@"; }
as_nobody "$R/usr/bin/vmctl" --address="$ADDR" list >/dev/null || fail "nobody may not call ListVMs"
as_nobody busctl --address="$ADDR" get-property org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager Version \
  >/dev/null || fail "nobody may not read properties"
as_nobody busctl --address="$ADDR" introspect org.vmstack.VMMS1 /org/vmstack/VMMS1 >/dev/null || fail "nobody may not introspect"
out=$(as_nobody busctl --address="$ADDR" set-property org.vmstack.VMMS1 /org/vmstack/VMMS1 org.vmstack.VMMS1.Manager Version s x 2>&1)
echo "$out" | grep -qi "access denied\|AccessDenied" || fail "Properties.Set not denied by the bus: $out"
out=$(as_nobody "$R/usr/bin/vmctl" --address="$ADDR" create --name=x --kernel=/k 2>&1); rc=$?
[ $rc = 6 ] || fail "nobody's CreateVM: rc $rc: $out"
# The Checkpoints interface passes the bus too: reading for anyone, vmms
# refusing the rest with its own reason.
touch "$T/k"
out=$("$R/usr/bin/vmctl" --address="$ADDR" create --name=pk --kernel="$T/k" 2>&1) || fail "root's CreateVM: $out"
as_nobody "$R/usr/bin/vmctl" --address="$ADDR" checkpoints pk >/dev/null || fail "nobody may not list checkpoints"
out=$(as_nobody "$R/usr/bin/vmctl" --address="$ADDR" checkpoint pk 2>&1); rc=$?
[ $rc = 6 ] || fail "nobody's checkpoint: rc $rc: $out"
# Every interface the running vmms exports on its objects (the manager's
# and a VM's, where Memory, Metering, Display and Checkpoints live) has an
# allow rule in the installed policy: one missing is refused by the bus.
CONF=$R/usr/share/dbus-1/system.d/org.vmstack.VMMS1.conf
for obj in /org/vmstack/VMMS1 $(busctl --address="$ADDR" tree --list org.vmstack.VMMS1 | grep '/vm/'); do
  for i in $(busctl --address="$ADDR" introspect org.vmstack.VMMS1 "$obj" | awk '$2 == "interface" && $1 ~ /^org\.vmstack\./ { print $1 }'); do
    grep -q "send_interface=\"$i\"" "$CONF" || fail "$obj exports $i, which the installed D-Bus policy does not allow"
    seen="${seen:-} $i"
  done
done
case "$seen" in *org.vmstack.VMMS1.Memory*org.vmstack.VMMS1.Display*|*org.vmstack.VMMS1.Display*org.vmstack.VMMS1.Memory*) ;;
  *) fail "introspection found only:$seen" ;; esac
# and their methods reach vmms, which answers with its own reason (the
# bus's refusal reads "Rejected send message").
VMOBJ=$(busctl --address="$ADDR" tree --list org.vmstack.VMMS1 | grep -m1 '/vm/')
out=$(as_nobody busctl --address="$ADDR" call org.vmstack.VMMS1 "$VMOBJ" org.vmstack.VMMS1.Display Password 2>&1)
! grep -q "Rejected send message" <<<"$out" || fail "the bus refused nobody's Display.Password: $out"
out=$(as_nobody busctl --address="$ADDR" call org.vmstack.VMMS1 "$VMOBJ" org.vmstack.VMMS1.Memory SetTarget t 1 2>&1)
! grep -q "Rejected send message" <<<"$out" || fail "the bus refused nobody's Memory.SetTarget: $out"

note "activation file and polkit actions"
A=$R/usr/share/dbus-1/system-services/org.vmstack.VMMS1.service
grep -qx "Name=org.vmstack.VMMS1" "$A" && grep -qx "SystemdService=dbus-org.vmstack.VMMS1.service" "$A" && grep -qx "User=root" "$A" ||
  fail "activation file"
grep -qx "Alias=dbus-org.vmstack.VMMS1.service" "$R/lib/systemd/system/vmms.service" || fail "no alias for activation"
P=$R/usr/share/polkit-1/actions/org.vmstack.vmms.policy
grep -q '<action id="org.vmstack.vmms.manage">' "$P" && grep -q '<action id="org.vmstack.vmms.read">' "$P" || fail "polkit actions"
if command -v xmllint >/dev/null; then
  xmllint --noout "$P" "$R/usr/share/dbus-1/system.d/org.vmstack.VMMS1.conf" || fail "XML not well-formed"
fi
grep -q "VMMS_POLKIT_ACTION_MANAGE \"org.vmstack.vmms.manage\"" "$VM_SOURCE_DIR/vmms/shared/include/vmms/names.h" || fail "action names differ from vmms"

note "sysusers.d and tmpfiles.d on a scratch root"
S=$T/sysroot
mkdir -p "$S/etc"
: >"$S/etc/passwd"; : >"$S/etc/group"; : >"$S/etc/shadow"; : >"$S/etc/gshadow"
echo "root:x:0:" >"$S/etc/group"
echo "root:x:0:0:root:/root:/bin/sh" >"$S/etc/passwd"
systemd-sysusers --root="$S" "$R/usr/lib/sysusers.d/vmstack.conf" || fail "systemd-sysusers"
grep -q "^vmstack:x:[0-9]*:" "$S/etc/group" || fail "no vmstack group: $(cat "$S/etc/group")"
# The account the sandboxed workers run as: a system user with no login.
grep -Eq "^vmstack-worker:x:[0-9]+:[0-9]+:" "$S/etc/passwd" || fail "no vmstack-worker user: $(cat "$S/etc/passwd")"
# The unit must let workers build their sandbox (docs/sandbox.md).
for cap in CAP_SYS_ADMIN CAP_SETPCAP CAP_SETUID CAP_SETGID; do
  grep -Eq "^CapabilityBoundingSet=.*\b$cap\b" "$R/lib/systemd/system/vmms.service" ||
    fail "vmms.service bounding set lacks $cap (the worker sandbox needs it)"
done
systemd-tmpfiles --root="$S" --create "$R/usr/lib/tmpfiles.d/vmstack.conf" || fail "systemd-tmpfiles"
[ "$(stat -c %a "$S/var/lib/vmstack/vms")" = 700 ] || fail "state dir mode"
[ "$(stat -c %a "$S/var/lib/vmstack/images")" = 2770 ] || fail "default storage pool mode"
[ "$(stat -c %a "$S/run/vmstack")" = 755 ] || fail "runtime dir mode"
GID=$(grep "^vmstack:" "$S/etc/group" | cut -d: -f3)
[ "$(stat -c %g "$S/var/log/vmstack")" = "$GID" ] || fail "log dir group"
echo "PASS"
