#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the Cockpit page into OUT_DIR (manifest.json, index.html,
# index.js, index.css, the fonts and images PatternFly's CSS names, in
# assets/, and noVNC's licence, novnc-LICENSE.txt):
#   cockpit/build.sh OUT_DIR [NPM_DIR]
# npm ci installs package-lock.json's exact packages (from the registry,
# or npm's cache) into NPM_DIR (default OUT_DIR/../npm), never into the
# source tree, and runs no package's install scripts; esbuild then
# bundles src/ into OUT_DIR. The same sources and lock give the same
# files. The page loads nothing from the network at run time. An ES
# module (index.html loads it as one): noVNC's module awaits at its top
# level, which esbuild cannot put in a classic script.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 OUT_DIR [NPM_DIR]" >&2; exit 2; }
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(realpath "$1")
npmdir=$(realpath -m "${2:-$out/../npm}")
for t in node npm; do
  command -v $t >/dev/null || { echo "cockpit/build.sh: $t missing (apt-get install nodejs npm; scripts/deps.sh)" >&2; exit 1; }
done
mkdir -p "$npmdir"
# npm ci again only when the lock changed.
if ! cmp -s "$src/package-lock.json" "$npmdir/package-lock.json" || [ ! -x "$npmdir/node_modules/.bin/esbuild" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$npmdir/"
  (cd "$npmdir" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
fi
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
NODE_PATH=$npmdir/node_modules "$npmdir/node_modules/.bin/esbuild" "$src/src/index.js" \
  --bundle --minify --format=esm --target=es2022 \
  --outfile="$out.tmp/index.js" --loader:.woff2=file --loader:.woff=file --loader:.ttf=file \
  --loader:.svg=file --loader:.png=file --asset-names=assets/[name]-[hash] --legal-comments=linked \
  --log-level=warning
cp "$src/index.html" "$src/manifest.json" "$out.tmp/"
# noVNC (the console) is MPL-2.0: its licence goes with the bundle.
cp "$npmdir/node_modules/@novnc/novnc/LICENSE.txt" "$out.tmp/novnc-LICENSE.txt"
rm -rf "$out"
mv "$out.tmp" "$out"
