#!/usr/bin/env bash
# rgw-mini.sh - throwaway Ceph radosgw (S3) on loopback for tests: one monitor, one
# RAM-backed (memstore) OSD and radosgw, from Debian 12 packages, no disks, no
# mounts, no systemd, no mgr. Closer to AWS than Swift's s3api where the tests need
# it (bucket lifecycle, tagging, conditional PUT); SSE-S3 is not supported.
#
#   rgw-mini.sh install   # apt-get install radosgw ceph-mon ceph-osd (root)
#   rgw-mini.sh start     # create $RGW_MINI_DIR, start mon, osd, rgw, create the user
#   rgw-mini.sh env       # print export lines for AWS SDKs / aws CLI
#   rgw-mini.sh status    # exit 0 if the three daemons are alive and rgw answers
#   rgw-mini.sh stop      # stop the daemons (by PID file), delete $RGW_MINI_DIR
#
# Knobs (environment):
#   RGW_MINI_DIR      state dir, deleted on stop        (default /tmp/rgw-mini)
#   RGW_MINI_PORT     S3 endpoint port on 127.0.0.1      (default 17480); the
#                     monitor listens on PORT+1, the OSD on PORT+2..PORT+9
#   RGW_MINI_TIMEOUT  seconds to wait for readiness      (default 90)
#   RGW_MINI_KEEP=1   keep $RGW_MINI_DIR (logs) on stop
#   RGW_MINI_WATCH_PID  stop everything (and delete the dir) when this process
#                     exits, so a crashed test run leaves nothing behind
#
# Credentials: access key "rgwtest", secret "rgwtestsecret" (user "test").
set -euo pipefail

NAME=rgw-mini
# shellcheck source=scripts/test-server-lib.sh
. "$(dirname "$(readlink -f "$0")")/test-server-lib.sh"
DIR=${RGW_MINI_DIR:-/tmp/rgw-mini}
refuse_bad_dir
REGION=us-east-1
PORT=${RGW_MINI_PORT:-17480}
MON_PORT=$((PORT + 1)); OSD_PORT_MIN=$((PORT + 2)); OSD_PORT_MAX=$((PORT + 9))
TIMEOUT=${RGW_MINI_TIMEOUT:-90}
WATCH_PID=${RGW_MINI_WATCH_PID:-}
ACCESS_KEY=rgwtest; SECRET_KEY=rgwtestsecret
DAEMONS="rgw osd mon"   # stop order
PKGS="radosgw ceph-mon ceph-osd curl"

rgw_answers() {
  [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" || true)" = 200 ]
}

do_stop() {
  # The data lives in RAM (memstore) and is thrown away: no need to wait for a
  # clean shutdown (each daemon takes ~2 s on TERM). TERM, 1 s of grace, KILL.
  stop_daemons 10 $DAEMONS
  if [ "${RGW_MINI_KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi
}

server_status() { alive mon && alive osd && alive rgw && rgw_answers; }

fail() {
  log "$*"
  local f
  for f in "$DIR"/log/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done
  RGW_MINI_KEEP=1 do_stop
  exit 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.2 s; daemons must stay alive.
wait_for() {
  local deadline=$(( $(date +%s) + $1 )) what=$2 d
  shift 2
  until "$@"; do
    for d in $DAEMONS; do
      if [ -f "$DIR/run/$d.pid" ] && ! alive "$d"; then fail "$d died while waiting for $what"; fi
    done
    [ "$(date +%s)" -ge "$deadline" ] && fail "timed out waiting for $what"
    sleep 0.2
  done
}

osd_up() { ceph osd stat 2>/dev/null | grep -q ' 1 up'; }

do_start() {
  local t0 fsid osd_uuid osd_id p
  for p in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
    command -v $p >/dev/null || { log "Ceph not installed (no $p): run '$0 install' (root)"; exit 1; }
  done
  refuse_running
  require_free_ports $PORT $MON_PORT
  t0=$(date +%s.%N)
  rm -rf "$DIR"
  mkdir -p "$DIR"/{run,log,mon-a,osd-0,rgw,tmp}
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat > "$DIR/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$MON_PORT
auth cluster required = none
auth service required = none
auth client required = none
ms bind ipv4 = true
ms bind ipv6 = false
ms bind port min = $OSD_PORT_MIN
ms bind port max = $OSD_PORT_MAX
public network = 127.0.0.0/8
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 1073741824
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
keyring = $DIR/keyring
mon data = $DIR/mon-\$id
osd data = $DIR/osd-\$id
mon max pg per osd = 1000
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
# lifecycle rules are evaluated once a day by default; tests only put/get them
EOF
  export CEPH_CONF=$DIR/ceph.conf
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "v1:127.0.0.1:$MON_PORT" "$DIR/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" >"$DIR/log/mkfs-mon.log" 2>&1 \
    || fail "ceph-mon --mkfs failed"
  # -f: stay in the foreground, so $! is the daemon's PID (stop by PID)
  nohup ceph-mon -f -i a >"$DIR/log/mon.stderr.log" 2>&1 </dev/null &
  echo $! > "$DIR/run/mon.pid"
  start_watcher
  # The first ceph command waits for the monitor to answer.
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  osd_id=$(timeout 30 ceph --connect-timeout 25 osd create "$osd_uuid" 2>"$DIR/log/osd-create.log") \
    || fail "the monitor did not answer 'osd create'"
  [ "$osd_id" = 0 ] || fail "unexpected OSD id '$osd_id'"
  # the OSD must be made with the uuid registered above, or it dies with "wrong fsid"
  ceph-osd -i 0 --mkfs --osd-uuid "$osd_uuid" >"$DIR/log/mkfs-osd.log" 2>&1 || fail "ceph-osd --mkfs failed"
  # Ceph 16 race: now and then the OSD's first monitor command goes out before it
  # knows the cluster fsid ("mon_cmd_maybe_osd_create fail: 'wrong fsid'") and the
  # OSD exits during init. Starting it again works.
  local try
  for try in 1 2 3; do
    nohup ceph-osd -f -i 0 >>"$DIR/log/osd.stderr.log" 2>&1 </dev/null &
    echo $! > "$DIR/run/osd.pid"
    until osd_up || ! alive osd; do sleep 0.2; done
    osd_up && break
    log "the OSD exited during start (try $try); starting it again"
    rm -f "$DIR/run/osd.pid"
  done
  wait_for 60 "the OSD to be up" osd_up
  nohup radosgw -f -n client.rgw >"$DIR/log/rgw.stderr.log" 2>&1 </dev/null &
  echo $! > "$DIR/run/rgw.pid"
  # The user lives in RADOS: create it while radosgw starts (both make the rgw pools).
  timeout 60 radosgw-admin user create --uid test --display-name test \
    --access-key "$ACCESS_KEY" --secret "$SECRET_KEY" >"$DIR/log/user-create.log" 2>&1 \
    || fail "radosgw-admin user create failed"
  wait_for "$TIMEOUT" "radosgw to answer on port $PORT" rgw_answers
  log_ready "$t0"
}

run_command "$@"
