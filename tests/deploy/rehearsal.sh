#!/usr/bin/env bash
# `make test-deploy`: the container image rehearsed on this machine with podman
# (state under .podman/, see deploy/docker/podman-env.sh).
#  1. `swapline swap` inside the container (read-only root, no network, non-root)
#     writes the same bytes as the host build on a test image.
#  2. `swapline serve` in the container: time from `podman run` to /readyz 200,
#     the image's HEALTHCHECK passes, and SIGTERM (`podman stop`) ends it with 0
#     well before podman's kill timeout.
#  3. The `local` overlay under `podman kube play` with Redis and the Swift S3
#     server on the host: jobs through a killed and a drained worker, Redis loss
#     (tests/deploy/kube_play_test.cc, on the manifests deploy_render renders).
# usage: rehearsal.sh IMAGE BUILD_DIR TESTDATA_DIR
set -euo pipefail

image=$1
build=$(cd "$2" && pwd)
testdata=$3
host_swapline=$build/swapline
rehearsal_start=$(date +%s)
repo=$(cd "$(dirname "$0")/../.." && pwd)
state=${STATE_DIR:-$repo/.podman}
source "$repo/deploy/docker/podman-env.sh"
podman_env "$state"

podman_host_dirs_note
work=$(mktemp -d "$state/tmp/rehearsal.XXXXXX")
container=""
# Pods, secrets and volumes in the project's podman state are the rehearsal's own:
# none is left between runs (an interrupted run's would be reused by name).
clear_state() {
  podman pod rm -af -t 0 >/dev/null 2>&1 || true
  podman secret rm -a >/dev/null 2>&1 || true
  podman volume rm -af >/dev/null 2>&1 || true
}
cleanup() {
  [ -n "$container" ] && podman rm -f "$container" >/dev/null 2>&1 || true
  clear_state
  rm -rf "$work"
  podman_host_dirs_remove
}
trap cleanup EXIT

podman image exists "$image" || { echo "no image $image: run make image" >&2; exit 1; }
passed=0
failed=0
check() {  # check NAME COMMAND...
  if "${@:2}"; then echo "ok: $1"; passed=$((passed + 1)); else echo "FAILED: $1" >&2; failed=$((failed + 1)); fi
}

# 1. Same output inside and outside.
source_face=photos/grace_hopper_usn_portrait.jpg
target=photos/eileen_collins_nasa_portrait.png
mkdir -p "$work/out"
chown 10001:10001 "$work/out"
"$host_swapline" swap -s "$testdata/$source_face" -t "$testdata/$target" -o "$work/host.png" >/dev/null
podman run --rm --read-only --read-only-tmpfs=false --network=none --cap-drop=ALL \
  --security-opt=no-new-privileges -v "$testdata:/in:ro" -v "$work/out:/scratch" \
  "$image" swap -s "/in/$source_face" -t "/in/$target" -o /scratch/container.png >/dev/null
check "swap in the container writes the host's bytes" cmp "$work/host.png" "$work/out/container.png"
check "the container ran as uid 10001" test "$(stat -c %u "$work/out/container.png")" = 10001

# 2. serve: start to ready, healthcheck, drain.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/serve"
chown 10001:10001 "$work/serve"
start=$(date +%s%N)
container=$(podman run -d --init --read-only --read-only-tmpfs=false --cap-drop=ALL \
  --security-opt=no-new-privileges -p "127.0.0.1:$port:8080" -v "$work/serve:/scratch" \
  "$image" serve --listen :8080 --store file:///scratch/objects --queue sqlite:///scratch/queue.db)
ready=""
for _ in $(seq 1 600); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then ready=$(date +%s%N); break; fi
  sleep 0.05
done
check "serve in the container becomes ready" test -n "$ready"
[ -n "$ready" ] && echo "container start to ready: $(( (ready - start) / 1000000 )) ms"
check "HEALTHCHECK passes" podman healthcheck run "$container"
stop_start=$(date +%s%N)
podman stop --time 20 "$container" >/dev/null
echo "SIGTERM to exit: $(( ($(date +%s%N) - stop_start) / 1000000 )) ms"
check "SIGTERM ends serve with exit code 0" test "$(podman inspect --format '{{.State.ExitCode}}' "$container")" = 0
echo "image size: $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')"

# 3. The local overlay under kube play, on freshly rendered manifests.
clear_state
check "the overlays render" ctest --test-dir "$build" -R '^deploy_render$' --output-on-failure
check "the local overlay under podman kube play" \
  env SWAPLINE_IMAGE="$image" "$build/tests/deploy/deploy_kube_play_test"
echo "rehearsal: $passed passed, $failed failed in $(( $(date +%s) - rehearsal_start )) s"
[ "$failed" = 0 ]
