#!/usr/bin/env bash
# Renders every overlay of deploy/k8s with kubectl's kustomize into OUT_DIR/<overlay>.yaml.
# usage: render_manifests.sh SOURCE_DIR OUT_DIR
set -euo pipefail
src=$1
out=$2
mkdir -p "$out"
count=0
for overlay in "$src"/deploy/k8s/overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" >"$out/$name.yaml.tmp"
  mv "$out/$name.yaml.tmp" "$out/$name.yaml"
  echo "rendered $name: $(grep -c '^kind:' "$out/$name.yaml") objects"
  count=$((count + 1))
done
[ "$count" -ge 3 ] || { echo "expected the cpu, gpu and local overlays, rendered $count" >&2; exit 1; }
