#!/bin/bash
# SPDX-License-Identifier: MIT
# Makes a cloud-init NoCloud seed for the Debian 12 test image
# (docs/firmware.md "Test guests"): an ISO 9660 image with the volume
# label "cidata" holding user-data and meta-data (cloud-init 22.4's
# NoCloud data source looks for that label; both files are required).
#
#   tests/lib/cloud-init-seed.sh OUT.iso [--hostname NAME] [--user-data FILE]
#                                [--meta-data FILE] [--network-config FILE]
#
# Without --meta-data it writes "instance-id: NAME" and
# "local-hostname: NAME" (NAME defaults to vmstack-guest); without
# --user-data a "#cloud-config" that only sets the host name. Exit status
# 77 when xorriso is missing, 2 on bad arguments.
set -euo pipefail
usage() {
  echo "usage: $0 OUT.iso [--hostname NAME] [--user-data FILE] [--meta-data FILE] [--network-config FILE]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
out=$1
shift
case "$out" in -*) usage ;; esac
hostname=vmstack-guest user_data="" meta_data="" network_config=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case "$1" in
  --hostname) hostname=$2 ;;
  --user-data) user_data=$2 ;;
  --meta-data) meta_data=$2 ;;
  --network-config) network_config=$2 ;;
  *) usage ;;
  esac
  shift 2
done
# A host name cloud-init and the kernel accept (RFC 1123 label).
[[ "$hostname" =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] || {
  echo "cloud-init-seed: bad host name: $hostname" >&2
  exit 2
}
for f in "$user_data" "$meta_data" "$network_config"; do
  [ -z "$f" ] || [ -r "$f" ] || { echo "cloud-init-seed: cannot read $f" >&2; exit 2; }
done
command -v xorriso >/dev/null || { echo "cloud-init-seed: xorriso not available (scripts/deps.sh)" >&2; exit 77; }

d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
if [ -n "$meta_data" ]; then
  cp "$meta_data" "$d/meta-data"
else
  printf 'instance-id: %s\nlocal-hostname: %s\n' "$hostname" "$hostname" >"$d/meta-data"
fi
if [ -n "$user_data" ]; then
  cp "$user_data" "$d/user-data"
else
  printf '#cloud-config\nhostname: %s\n' "$hostname" >"$d/user-data"
fi
[ -z "$network_config" ] || cp "$network_config" "$d/network-config"
# Rock Ridge and Joliet keep the names as they are ("user-data", not
# "USER_DAT.;1"); cloud-init mounts the seed and reads the files by name.
xorriso -as mkisofs -quiet -volid cidata -joliet -rock -o "$out" "$d" 2>"$d.err" || {
  cat "$d.err" >&2
  rm -f "$d.err"
  exit 1
}
rm -f "$d.err"
echo "$out"
