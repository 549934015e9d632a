# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourced by debian-package.sh, debian-kernel.sh and hv-fcopy-uio-daemon.sh:
# debian_apt_setup CACHE sets APT_OPTS, the options for apt-get and
# apt-cache. Without $VM_DEBIAN_SUITE they are empty: the host's own apt
# sources. With VM_DEBIAN_SUITE=<suite> (bookworm-backports: Debian 12's
# 6.12 kernels) apt uses a setup of its own under CACHE/.apt-<suite>:
# that suite of deb.debian.org (binary and source), its package lists
# and archives, never the host's /etc/apt or /var/lib/apt. Its lists are
# fetched once (apt-get update), then again after a failed download.
debian_apt_setup() {
  APT_OPTS=()
  local suite=${VM_DEBIAN_SUITE:-}
  [ -n "$suite" ] || return 0
  case "$suite" in *[!a-z0-9-]*) echo "debian-apt: bad suite name: $suite" >&2; return 2 ;; esac
  local d=$1/.apt-$suite
  mkdir -p "$d/lists/partial" "$d/archives/partial" || return 77
  [ -e "$d/status" ] || : >"$d/status"
  printf 'deb http://deb.debian.org/debian %s main\ndeb-src http://deb.debian.org/debian %s main\n' \
    "$suite" "$suite" >"$d/sources.list"
  APT_OPTS=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d" -o "Dir::Cache::Archives=$d/archives"
    -o "Dir::State::status=$d/status" -o APT::Sandbox::User=root)
  # Any file beside partial/ and lock means an update ran.
  if [ -z "$(find "$d/lists" -maxdepth 1 -type f ! -name lock -print -quit)" ]; then
    apt-get "${APT_OPTS[@]}" update -qq >/dev/null 2>&1 || return 77
  fi
}

# debian_apt_update: refresh the lists (the private ones, or the host's as root).
debian_apt_update() {
  if [ ${#APT_OPTS[@]} -gt 0 ] || [ "$(id -u)" -eq 0 ]; then
    apt-get "${APT_OPTS[@]}" update -qq >/dev/null 2>&1
  else
    return 1
  fi
}
