# test-server-lib.sh - what the throwaway test servers' scripts share (sourced by
# swift-s3.sh and rgw-mini.sh; not run on its own). The sourcing script sets NAME
# (its log prefix), DIR (state dir, deleted on stop), PORT (S3 endpoint on
# 127.0.0.1), PKGS (Debian packages), ACCESS_KEY, SECRET_KEY, REGION and WATCH_PID,
# and defines server_status (exit 0 when every daemon is alive and answers),
# do_start and do_stop.

log() { echo "$NAME: $*" >&2; }

refuse_bad_dir() {
  case "$DIR" in /|"") echo "$NAME: refusing state dir '$DIR'" >&2; exit 2;; esac
}

do_install() {
  local need=0 p
  for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || need=1; done
  [ "$need" = 0 ] && { log "packages already installed"; return 0; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends: keeps unneeded clients and daemons out
  apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
}

# alive NAME: the daemon whose PID is in $DIR/run/NAME.pid runs.
alive() { [ -f "$DIR/run/$1.pid" ] && kill -0 "$(cat "$DIR/run/$1.pid")" 2>/dev/null; }

# require_free_ports PORT...: exit 1 naming the first port something listens on.
require_free_ports() {
  local p
  for p in "$@"; do
    if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then log "port $p already in use"; exit 1; fi
  done
}

# refuse_running: exit 1 when a previous start left PID files in $DIR.
refuse_running() {
  if [ -d "$DIR/run" ] && ls "$DIR"/run/*.pid >/dev/null 2>&1; then
    log "already started in $DIR (run '$0 stop' first)"; exit 1
  fi
}

# stop_daemons TENTHS NAME...: TERM each daemon, wait up to TENTHS tenths of a
# second for all, then KILL those left; removes their PID files.
stop_daemons() {
  local tenths=$1 d pid pids="" i left
  shift
  for d in "$@"; do
    [ -f "$DIR/run/$d.pid" ] || continue
    pid=$(cat "$DIR/run/$d.pid")
    kill -TERM "$pid" 2>/dev/null && pids="$pids $pid"
    rm -f "$DIR/run/$d.pid"
  done
  for i in $(seq "$tenths"); do
    left=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
    pids=$left
    [ -z "$pids" ] && break
    sleep 0.1
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
}

# A detached watcher: when process $WATCH_PID dies (even by SIGKILL), stop.
start_watcher() {
  [ -n "$WATCH_PID" ] || return 0
  nohup setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; "$2" stop' _ \
    "$WATCH_PID" "$(readlink -f "$0")" >/dev/null 2>&1 </dev/null &
}

# log_ready T0: "ready on URL in N s", T0 from `date +%s.%N`.
log_ready() {
  log "ready on http://127.0.0.1:$PORT in $(awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s (dir $DIR)"
}

do_env() {
  cat <<EOF
export AWS_ACCESS_KEY_ID='$ACCESS_KEY'
export AWS_SECRET_ACCESS_KEY='$SECRET_KEY'
export AWS_DEFAULT_REGION='$REGION'
export AWS_REGION='$REGION'
export AWS_ENDPOINT_URL='http://127.0.0.1:$PORT'
EOF
}

# run_command "$@": the scripts' command line.
run_command() {
  case "${1:-}" in
    install) do_install ;;
    start)   do_start ;;
    stop)    do_stop ;;
    status)  server_status && echo running || { echo "not running"; exit 1; } ;;
    env)     do_env ;;
    *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
  esac
}
