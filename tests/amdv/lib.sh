#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by the amdv tests that install the .deb (install.sh, cockpit.sh):
# the package built on this machine and the emulated host booted with it,
# then, there, README's install commands run as written. The caller sets
# src (the tree) and defines step and fail before it sources this.

: "${src:?the sourcing script sets src}"
skip() { echo "SKIP: $*"; exit 77; }

# On this machine: packages VM_BUILD_DIR with packaging/mkdeb.sh into a
# folder of its own, boots the emulated host (tests/amdv/amdv-host.sh,
# TIMEOUT seconds) and runs SCRIPT there with that folder as its argument;
# exits with its status. NAME names the folder. Skips without dpkg-dev and
# debhelper.
amdv_deb_run() { # NAME TIMEOUT SCRIPT
	local name=$1 timeout=$2 script=$3 t
	build=${VM_BUILD_DIR:?run through ctest}
	for t in dpkg-buildpackage:dpkg-dev dh:debhelper; do
		command -v "${t%:*}" >/dev/null || skip "${t%:*} missing (scripts/deps.sh)"
	done
	debs=$(mktemp -d "$build/amdv-$name.XXXXXX")
	trap 'rm -rf "$debs"' EXIT
	step "packaging/mkdeb.sh $build (on this machine)"
	"$src/packaging/mkdeb.sh" "$build" "$debs" || fail "mkdeb"
	chmod 755 "$debs"
	bash "$src/tests/amdv/amdv-host.sh" --timeout "$timeout" -- env VM_BUILD_DIR="$build" bash "$script" "$debs"
	exit $?
}

# On the emulated host: systemd must be PID 1.
amdv_require_systemd() {
	[ "$(cat /proc/1/comm)" = systemd ] || fail "systemd is not PID 1"
}

vmctl_as() { # user args...
	local u=$1
	shift
	runuser -u "$u" -- vmctl "$@"
}

# On the emulated host: README's "Installing on a host" commands from
# `apt install` on, verbatim (the build before them is this machine's),
# run in the package folder DEBS, USER replaced by the given user.
amdv_readme_install() { # DEBS USER
	local readme cmds c
	readme=$(awk '/^## Installing on a host/,/^## Running/' "$src/README.md" |
		awk '/^```sh/ {f=1; next} /^```/ {f=0} f' | sed 's/ *#.*//')
	cmds=$(echo "$readme" | sed -n '/^apt install/,$p' | sed "s/\bUSER\b/$2/")
	[ "$(echo "$cmds" | grep -c .)" = 3 ] || fail "README's install commands changed shape: $cmds"
	cd "$1" || fail "cd $1"
	while IFS= read -r c; do
		[ -n "$c" ] || continue
		step "README: $c"
		(export DEBIAN_FRONTEND=noninteractive; eval "$c") || fail "README's '$c'"
	done <<<"$cmds"
	cd / || exit 1
}
