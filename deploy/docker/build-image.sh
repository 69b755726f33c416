#!/usr/bin/env bash
# Builds the swapline image with podman, with no registry: a Debian 12 base rootfs
# from debootstrap (on the mirror this machine's apt sources name), imported once
# and reused, then deploy/docker/Dockerfile. Podman keeps all of its state under
# STATE_DIR (default .podman/ in the repository, ignored by git) through a
# containers.conf and storage.conf of its own: nothing lands in the host's default
# podman storage.
#
# usage: build-image.sh IMAGE_NAME "BUILD PACKAGES…"      prints the image name last
set -euo pipefail

image=$1
build_packages=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
state=${STATE_DIR:-$repo/.podman}
base=localhost/bookworm-base:latest

source "$repo/deploy/docker/podman-env.sh"
podman_env "$state"
podman_host_dirs_note
trap podman_host_dirs_remove EXIT

# The first deb mirror of this machine's apt sources (deb822 or one-line format).
apt_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit} $1 == "deb" {print $3; exit}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { echo "no deb mirror in /etc/apt/sources.list*" >&2; return 1; }
  echo "$uri"
}

if ! podman image exists "$base"; then
  start=$(date +%s)
  rootfs="$state/rootfs"
  rm -rf "$rootfs"
  mirror=$(apt_mirror)
  echo "base image: debootstrap bookworm from $mirror" >&2
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 \
    || { tail -20 "$state/debootstrap.log" >&2; exit 1; }
  tar -C "$rootfs" -c . | podman import - "$base" >/dev/null
  rm -rf "$rootfs"
  echo "base image $base in $(( $(date +%s) - start )) s" >&2
fi

# The build context: the repository's tracked and untracked-but-not-ignored files
# (no build trees, no podman state), with their modification times.
context="$state/context"
rm -rf "$context"
mkdir -p "$context"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r tar -c --no-recursion) \
  | tar -x -C "$context"

version=$(sed -n 's/^project(swapline VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
revision=$(git -C "$repo" rev-parse HEAD)
git -C "$repo" diff --quiet HEAD || revision="$revision-dirty"

start=$(date +%s)
podman build --pull=never --network=host --format docker --layers \
  --build-arg BUILD_PACKAGES="$build_packages" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  -f "$context/deploy/docker/Dockerfile" -t "$image" "$context" >&2
echo "built $image in $(( $(date +%s) - start )) s;" \
  "size $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')" >&2
echo "$image"
