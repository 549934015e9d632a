#!/bin/sh
# SPDX-License-Identifier: MIT
# Makes a man page from its template and the program's --help:
#   mkman.sh TEMPLATE OUTPUT VERSION PROGRAM
# The template is man(7) text with @VERSION@ and these lines of their own:
#   @OPTIONS@   PROGRAM --help's option list, as .TP paragraphs
#   @COMMANDS@  (vmctl) each command of the "Commands:" list: a .SS with its
#               summary and `PROGRAM COMMAND --help`, word for word
#   @EXIT@      the "Exit codes:" table of PROGRAM --help
# Generated at build time rather than written by hand and checked: the
# --help texts are what users read first and what tests hold README to
# (tests/unit/test-readme.sh), and a generated page cannot fall behind them;
# the template holds what --help does not say (description, files, see
# also). tests/unit/test-manpages.sh checks the result.
set -eu
template=$1 output=$2 version=$3 prog=$4
awk=$(dirname "$0")/help2roff.awk
help=$("$prog" --help)

commands() {
        printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/p' | sed '1d;/^$/d' |
        while IFS= read -r line; do
                name=$(printf '%s\n' "$line" | awk '{ print $1 }')
                summary=$(printf '%s\n' "$line" | sed 's/.*  //')
                printf '.SS %s\n' "$name"
                printf '%s\n' "$summary" | awk -v mode=verbatim -f "$awk"
                printf '.PP\n.nf\n'
                "$prog" "$name" --help | awk -v mode=verbatim -f "$awk"
                printf '.fi\n'
        done
}

tmp=$output.tmp
while IFS= read -r line; do
        case $line in
        @OPTIONS@) printf '%s\n' "$help" | awk -v mode=options -f "$awk" ;;
        @EXIT@) printf '%s\n' "$help" | awk -v mode=exit -f "$awk" ;;
        @COMMANDS@) commands ;;
        *) printf '%s\n' "$line" | sed "s/@VERSION@/$version/g" ;;
        esac
done <"$template" >"$tmp"
mv "$tmp" "$output"
