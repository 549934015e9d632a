#!/bin/bash
# SPDX-License-Identifier: MIT
# The Cockpit page's pure helpers of moves and the boot, DVD, integration,
# automatic-action and NIC-cap settings under node
# (tests/unit/cockpit-moves-js.mjs). Skips (77) without node.
set -u
command -v node >/dev/null || { echo "SKIP: node is not installed (scripts/deps.sh)"; exit 77; }
exec node "$(dirname "$0")/cockpit-moves-js.mjs"
