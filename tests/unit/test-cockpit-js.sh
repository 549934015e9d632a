#!/bin/bash
# SPDX-License-Identifier: MIT
# The Cockpit page's pure helpers under node (tests/unit/cockpit-js.mjs):
# the operations each VM state offers, formats, KVP addresses, error
# messages. Skips (77) without node.
set -u
command -v node >/dev/null || { echo "SKIP: node is not installed (scripts/deps.sh)"; exit 77; }
exec node "$(dirname "$0")/cockpit-js.mjs"
