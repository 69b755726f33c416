# Sourced: `podman_env STATE_DIR` points podman at a containers.conf and a
# storage.conf of the project's own, with every path under STATE_DIR, so builds
# and rehearsals leave nothing in the host's default podman state. The settings
# are the ones this kind of host needs (runc, fixed ulimits, slirp4netns runs,
# host-network builds, file events).
podman_env() {
  local state
  state=$(mkdir -p "$1" && cd "$1" && pwd)
  mkdir -p "$state/storage" "$state/run" "$state/tmp" "$state/volumes" "$state/networks"
  cat >"$state/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "slirp4netns"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$state/events.log"
tmp_dir = "$state/tmp"
static_dir = "$state/storage/libpod"
volume_path = "$state/volumes"
image_copy_tmp_dir = "$state/tmp"
[network]
network_config_dir = "$state/networks"
CONF
  cat >"$state/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$state/storage"
runroot = "$state/run"
CONF
  export CONTAINERS_CONF="$state/containers.conf"
  export CONTAINERS_STORAGE_CONF="$state/storage.conf"
  export TMPDIR="$state/tmp"
}

# podman also creates a few host folders outside STATE_DIR (/run/netns a bind mount
# of itself). `podman_host_dirs_note` notes which of them are missing now;
# `podman_host_dirs_remove` (for an EXIT trap) unmounts and removes those.
podman_host_dirs_missing=()
podman_host_dirs_note() {
  local d
  podman_host_dirs_missing=()
  for d in /run/containers /run/netns /run/runc /var/lib/containers; do
    [ -e "$d" ] || podman_host_dirs_missing+=("$d")
  done
}
podman_host_dirs_remove() {
  local d
  for d in "${podman_host_dirs_missing[@]}"; do
    while mountpoint -q "$d"; do umount "$d" || break; done
    rm -rf "$d" || true
  done
}
