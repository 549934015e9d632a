#!/bin/bash
# SPDX-License-Identifier: MIT
# vmctl's bash completion (packaging/bash-completion/vmctl), sourced into
# this shell and called as bash calls it (COMP_WORDS, COMP_CWORD): commands,
# sub-commands, global and per-command options, a file name after "=", and
# VM names from `vmctl list` (a stand-in vmctl answers that; the real one
# answers --help).
set -uo pipefail
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${VM_BUILD_DIR:-$src/build/debug}
real=$build/vmctl/vmctl
[ -x "$real" ] || { echo "SKIP: $real is not built"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fail=0
source "$src/packaging/bash-completion/vmctl"
[ "$(complete -p vmctl)" = "complete -F _vmctl vmctl" ] || { echo "FAIL: not registered: $(complete -p vmctl)"; fail=1; }

mkdir bin
cat >bin/vmctl <<EOS
#!/bin/sh
case "\$*" in
*list) printf 'NAME  STATE    ID\nweb1  Off      3f2a\nweb2  Running  4c55\ndb1   Off      7d2b\n' ;;
*) exec "$real" "\$@" ;;
esac
EOS
chmod +x bin/vmctl
touch kernel.elf

# expect "WORDS..." "EXPECTED COMPLETIONS": the last word is the one completed.
expect() {
        local want=$2 got
        read -ra COMP_WORDS <<<"$1"
        [[ $1 == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _vmctl
        got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | xargs)
        want=$(printf '%s\n' $want | sort | xargs)
        [ "$got" = "$want" ] || { echo "FAIL: '$1': got '$got', want '$want'"; fail=1; }
}
V=$T/bin/vmctl
all=$("$real" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' | xargs)
[ -n "$all" ] || { echo "FAIL: no commands in vmctl --help"; exit 1; }
expect "$V " "$all"
expect "$V st" "start stats stop"
expect "$V stats --p" "--prometheus"
expect "$V migrate-c" "migrate-cancel"
expect "$V --json sh" "show"
expect "$V --address = unix:path=/x che" "checkpoint checkpoints checkpoint-delete"
expect "$V --addr" "--address="
expect "$V --j" "--json"
expect "$V create --mem" "--memory="
expect "$V migrate web1 h --no-" "--no-auto-converge --no-start"
expect "$V disk c" "create check convert"
expect "$V nic " "attach detach qos"
expect "$V disk create x.vhdx 10G --block" "--block-size="
expect "$V start we" "web1 web2"
expect "$V create --kernel = ker" "kernel.elf"
[ "$fail" -eq 0 ] && echo PASS
exit "$fail"
