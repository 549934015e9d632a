#!/bin/bash
# SPDX-License-Identifier: MIT
# The packaged D-Bus policy (packaging/dbus/org.vmstack.VMMS1.conf) lets
# callers reach every interface vmms exports: each interface of an
# sd_bus_add_object_vtable / sd_bus_add_fallback_vtable call in vmms/
# (by its VMMS_*_IFACE name from vmms/shared/include/vmms/names.h) has an
# allow rule in the default context, and the policy names no org.vmstack
# interface vmms does not export. An interface missing from the policy is
# refused by the system bus for everyone but root (AccessDenied), which
# no test on a permissive test bus notices. test-packaging.sh checks the
# installed file against a running vmms's introspection too.
set -uo pipefail
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
policy=$src/packaging/dbus/org.vmstack.VMMS1.conf
names=$src/vmms/shared/include/vmms/names.h
bad() { echo "FAIL: $*" >&2; exit 1; }

# The interface argument (the 4th) of each vtable registration, however
# the call is wrapped over lines.
macros=$(find "$src/vmms" -name '*.c' -print0 | xargs -0 cat |
  tr '\n' ' ' | grep -oE 'sd_bus_add_(object|fallback)_vtable\([^;]*' |
  awk -F, '{ gsub(/[ \t]/, "", $4); print $4 }' | sort -u)
[ -n "$macros" ] || bad "found no vtable registration in vmms/"
exported=
for m in $macros; do
  case $m in
  \"*\") name=${m//\"/} ;;
  *) name=$(sed -n "s/^#define $m \"\([^\"]*\)\".*/\1/p" "$names")
     [ -n "$name" ] || bad "$m (a vtable's interface) is not a string in names.h" ;;
  esac
  exported="$exported $name"
done
[ "$(echo $exported | wc -w)" -ge 6 ] || bad "only$exported: the extraction missed registrations"

# The interfaces the default context may call.
allowed=$(sed -n '/<policy context="default">/,/<\/policy>/p' "$policy" |
  grep 'send_destination="org.vmstack.VMMS1"' | sed -n 's/.*send_interface="\([^"]*\)".*/\1/p' | sort -u)
for i in $exported; do
  grep -qx "$i" <<<"$allowed" || bad "vmms exports $i, which the D-Bus policy ($policy) does not allow"
done
for i in $(grep '^org\.vmstack\.' <<<"$allowed"); do
  case " $exported " in *" $i "*) ;; *) bad "the policy allows $i, which vmms does not export" ;; esac
done
if command -v xmllint >/dev/null; then
  xmllint --noout "$policy" || bad "$policy is not well-formed"
fi
echo "ok: the policy allows all of:$exported"
