#!/bin/bash
# SPDX-License-Identifier: MIT
# Failover clustering (issue #22, docs/clustering.md): the figures of the
# Pacemaker resource agent and of a real two-node Corosync/Pacemaker
# cluster on this machine, from the integration tests that drive them
# (tests/integration/test-ocf-agent.sh, test-cluster-pacemaker.sh: root,
# network namespaces, /dev/kvm), ROUNDS runs each, medians:
#   the agent's monitor beside the one vmctl call it makes (its floor);
#   the monitor's execution time as Pacemaker recorded it;
#   the downtime of a Pacemaker-driven live migration (crm_resource --move);
#   node loss -> Pacemaker sees it lost (Corosync's token and consensus);
#   lost -> the VM's start confirmed on the survivor.
# Prints RESULT rows for bench/run.sh:
#   RESULT <metric> <ours> <baseline> <unit> <target>
# Usage: bench/bench-cluster.sh [build-dir] [rounds]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=$(realpath "${1:-build/release}")
rounds=${2:-3}
[ "$(id -u)" = 0 ] || { echo "bench-cluster: needs root (namespaces, TAPs)" >&2; exit 1; }
[ -x "$build/vmms/vmms" ] || { echo "bench-cluster: $build is not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
note() { echo "bench-cluster: $*" >&2; }
median() { grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : -1 }'; }

for ((k = 0; k < rounds; k++)); do
        VM_BUILD_DIR=$build bash tests/integration/test-ocf-agent.sh >"$tmp/ocf.$k" 2>&1 ||
                note "test-ocf-agent round $k failed: $(grep FAIL "$tmp/ocf.$k" | head -1)"
        VM_BUILD_DIR=$build bash tests/integration/test-cluster-pacemaker.sh >"$tmp/clu.$k" 2>&1 ||
                note "test-cluster-pacemaker round $k failed: $(grep FAIL "$tmp/clu.$k" | head -1)"
done
# FIELD FILE-PREFIX SED-EXPRESSION: one number per round
each() { cat "$tmp/$1".* 2>/dev/null | sed -n "$2"; }
mon=$(each ocf 's/^monitor latency: median \([0-9.]*\) ms.*/\1/p' | median)
show=$(each ocf 's/.*vmctl show alone: median \([0-9.]*\) ms.*/\1/p' | median)
rec=$(each clu 's/^monitor exec-time recorded by Pacemaker: \([0-9]*\) ms.*/\1/p' | median)
down=$(each clu 's/.* migrated to .*, \([0-9.]*\) ms downtime,.*/\1/p' | median)
seen=$(each clu 's/^node lost: Pacemaker saw it \([0-9]*\) ms after the kill.*/\1/p' | median)
start=$(each clu 's/.*vm1 started on the survivor \([0-9]*\) ms after that.*/\1/p' | median)
note "rounds: $rounds; monitor $(each ocf 's/^monitor latency: median \([0-9.]*\) ms.*/\1/p' | tr '\n' ' ')ms;" \
        "recorded $(each clu 's/^monitor exec-time recorded by Pacemaker: \([0-9]*\) ms.*/\1/p' | tr '\n' ' ')ms;" \
        "downtime $(each clu 's/.* migrated to .*, \([0-9.]*\) ms downtime,.*/\1/p' | tr '\n' ' ')ms;" \
        "lost->started $(each clu 's/.*vm1 started on the survivor \([0-9]*\) ms after that.*/\1/p' | tr '\n' ' ')ms"
printf 'RESULT\tcluster: agent monitor (vs vmctl show alone)\t%s\t%s\tms\t<= 50 ms\n' "$mon" "$show"
printf 'RESULT\tcluster: monitor as Pacemaker recorded it\t%s\t-\tms\t<= 50 ms\n' "$rec"
printf 'RESULT\tcluster: live migration downtime (crm_resource --move)\t%s\t-\tms\treport\n' "$down"
printf 'RESULT\tcluster: node killed -> Pacemaker sees it lost\t%s\t-\tms\treport (Corosync token)\n' "$seen"
printf 'RESULT\tcluster: node lost -> VM started on the survivor\t%s\t-\tms\t<= 5000 ms\n' "$start"
