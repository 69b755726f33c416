#!/usr/bin/env bash
# Installs the pinned npm packages of tests/deploy (package-lock.json) into
# NODE_DIR, beside copies of the scripts that import them.
# usage: setup_node.sh SOURCE_DIR NODE_DIR
set -euo pipefail
src=$1/tests/deploy
dir=$2
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.mjs "$dir/"
cd "$dir"
if ! cmp -s package-lock.json node_modules/.package-lock.json.installed 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.package-lock.json.installed
fi
