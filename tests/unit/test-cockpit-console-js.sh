#!/bin/bash
# SPDX-License-Identifier: MIT
# The Cockpit console's pure helpers under node
# (tests/unit/cockpit-console-js.mjs). Skips (77) without node.
set -u
command -v node >/dev/null || { echo "SKIP: node is not installed (scripts/deps.sh)"; exit 77; }
exec node "$(dirname "$0")/cockpit-console-js.mjs"
