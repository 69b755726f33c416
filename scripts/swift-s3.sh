#!/usr/bin/env bash
# swift-s3.sh - throwaway single-node OpenStack Swift + s3api (S3-compatible)
# server on loopback, for tests/CI on Debian 12 (bookworm). Debian packages only.
#
#   swift-s3.sh install   # apt-get install the Swift packages (root)
#   swift-s3.sh start     # create $SWIFT_S3_DIR, build rings, start 4 servers, wait until ready
#   swift-s3.sh env       # print export lines for AWS SDKs / aws CLI
#   swift-s3.sh status    # exit 0 if all four servers are alive and ready
#   swift-s3.sh stop      # stop the servers (by PID file), delete $SWIFT_S3_DIR
#
# Knobs (environment):
#   SWIFT_S3_DIR      state dir, deleted on stop      (default /tmp/swift-s3)
#   SWIFT_S3_PORT     S3 endpoint port on 127.0.0.1    (default 8080); the object,
#                     container and account servers use PORT+1, PORT+2, PORT+3
#   SWIFT_S3_REGION   region used for SigV4            (default us-east-1)
#   SWIFT_S3_MIN_PART minimum multipart part size      (default 5242880, as AWS)
#   SWIFT_S3_ENCRYPTION=0  disable keymaster+encryption (then SSE headers -> 501)
#   SWIFT_S3_MEMCACHED auto|0  run memcached on PORT+4 if installed (default auto);
#                     without it Swift works but logs memcache connection errors
#   SWIFT_S3_KEEP=1   keep $SWIFT_S3_DIR (logs) on stop
#   SWIFT_S3_TIMEOUT  seconds to wait for readiness    (default 60)
#   SWIFT_S3_STORAGE_DOMAIN  s3api storage_domain for virtual-hosted buckets
#                     (default s3.localhost)
#   SWIFT_S3_WATCH_PID  stop the servers (and delete the dir) when this process
#                     exits, so a crashed test run leaves nothing behind
#
# Credentials (tempauth): access key "test:tester" (the colon is part of the
# key!), secret "testing".  Second user: "test2:tester2" / "testing2" (its own
# account, so it sees none of test's buckets).  "test:reader" / "reading" is in
# test's account without .admin: every S3 request on test's buckets is denied
# (403 AccessDenied), for permission tests beyond a wrong secret.
set -euo pipefail

NAME=swift-s3
# shellcheck source=scripts/test-server-lib.sh
. "$(dirname "$(readlink -f "$0")")/test-server-lib.sh"
DIR=${SWIFT_S3_DIR:-/tmp/swift-s3}
refuse_bad_dir
PORT=${SWIFT_S3_PORT:-8080}
OBJ_PORT=$((PORT + 1)); CONT_PORT=$((PORT + 2)); ACCT_PORT=$((PORT + 3)); MC_PORT=$((PORT + 4))
REGION=${SWIFT_S3_REGION:-us-east-1}
MIN_PART=${SWIFT_S3_MIN_PART:-5242880}
ENCRYPTION=${SWIFT_S3_ENCRYPTION:-1}
TIMEOUT=${SWIFT_S3_TIMEOUT:-60}
MEMCACHED=${SWIFT_S3_MEMCACHED:-auto}
STORAGE_DOMAIN=${SWIFT_S3_STORAGE_DOMAIN:-s3.localhost}
WATCH_PID=${SWIFT_S3_WATCH_PID:-}
if [ "$MEMCACHED" = auto ]; then command -v memcached >/dev/null && MEMCACHED=1 || MEMCACHED=0; fi
ACCESS_KEY="test:tester"; SECRET_KEY="testing"
SERVERS="account container object proxy"
PKGS="swift swift-proxy swift-account swift-container swift-object memcached curl"

write_confs() {
  local user etc=$DIR/etc node=$DIR/node
  user=$(id -un)
  mkdir -p "$etc" "$node/d1" "$DIR/log" "$DIR/run"
  # Swift always reads /etc/swift/swift.conf (hash prefix/suffix, storage
  # policies); the 'swift' package ships one.  Only create it if missing.
  if [ ! -f /etc/swift/swift.conf ]; then
    mkdir -p /etc/swift
    printf '[swift-hash]\nswift_hash_path_suffix = changeme\nswift_hash_path_prefix = changeme\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' \
      > /etc/swift/swift.conf
  fi
  local common="[DEFAULT]
bind_ip = 127.0.0.1
workers = 0
user = $user
swift_dir = $etc
devices = $node
mount_check = false
disable_fallocate = true
fallocate_reserve = 0
log_level = INFO
"
  local s port
  for s in object container account; do
    case $s in object) port=$OBJ_PORT;; container) port=$CONT_PORT;; account) port=$ACCT_PORT;; esac
    cat > "$etc/$s-server.conf" <<EOF
${common}bind_port = $port

[pipeline:main]
pipeline = healthcheck $s-server

[app:$s-server]
use = egg:swift#$s

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
  done
  local crypt_pipe="" crypt_conf=""
  if [ "$ENCRYPTION" = 1 ]; then
    crypt_pipe="keymaster encryption"
    crypt_conf="[filter:keymaster]
use = egg:swift#keymaster
encryption_root_secret = $(head -c 32 /dev/urandom | base64)

[filter:encryption]
use = egg:swift#encryption
"
  fi
  cat > "$etc/proxy-server.conf" <<EOF
${common}bind_port = $PORT

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes symlink $crypt_pipe proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:s3api]
use = egg:swift#s3api
location = $REGION
min_segment_size = $MIN_PART
max_upload_part_num = 10000
s3_acl = false
dns_compliant_bucket_names = true
# virtual-hosted style: Host "<bucket>.$STORAGE_DOMAIN[:port]" (tests pin the name with curl --resolve)
storage_domain = $STORAGE_DOMAIN

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin
user_test_reader = reading

[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000

[filter:cache]
# tempauth requires this filter.  Without a memcached behind it Swift still
# works (S3 signatures are checked per request against the users below), it
# just logs connection errors and caches nothing.
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
# enables S3 PutBucketVersioning (needs symlink after it)
use = egg:swift#versioned_writes
allow_object_versioning = true
[filter:symlink]
use = egg:swift#symlink
$crypt_conf
EOF
}

build_rings() {
  # one interpreter instead of 9 swift-ring-builder runs (saves seconds)
  /usr/bin/python3 - "$DIR/etc" $OBJ_PORT $CONT_PORT $ACCT_PORT <<'PY'
import sys
from swift.common.ring import RingBuilder
etc, ports = sys.argv[1], dict(zip(("object", "container", "account"), map(int, sys.argv[2:5])))
for name, port in ports.items():
    b = RingBuilder(6, 1, 1)          # 2^6 partitions, 1 replica, min_part_hours 1
    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": port,
               "device": "d1", "weight": 1.0, "meta": ""})
    b.rebalance()
    b.get_ring().save("%s/%s.ring.gz" % (etc, name))
PY
}

server_status() {
  local s port
  for s in $SERVERS; do alive $s || return 1; done
  for port in $OBJ_PORT $CONT_PORT $ACCT_PORT $PORT; do
    [ "$(curl -s -m 2 http://127.0.0.1:$port/healthcheck || true)" = OK ] || return 1
  done
  # end-to-end S3 check: signed ListBuckets (SigV4) must answer 200.
  # the access key contains ':', so pass credentials in the URL, %-encoded;
  # curl 7.88 does not add x-amz-content-sha256 itself and s3api requires it.
  [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        "http://test%3Atester:$SECRET_KEY@127.0.0.1:$PORT/" || true)" = 200 ]
}

do_stop() {
  stop_daemons 50 $SERVERS memcached
  if [ "${SWIFT_S3_KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi
}

do_start() {
  local s t0 cmd
  command -v swift-proxy-server >/dev/null || { log "Swift not installed: run '$0 install' (root)"; exit 1; }
  refuse_running
  require_free_ports $PORT $OBJ_PORT $CONT_PORT $ACCT_PORT $MC_PORT
  t0=$(date +%s.%N)
  rm -rf "$DIR"
  write_confs
  build_rings
  if [ "$MEMCACHED" = 1 ]; then
    nohup memcached -l 127.0.0.1 -p $MC_PORT -U 0 -m 64 -c 256 -u "$(id -un)" \
      >"$DIR/log/memcached.log" 2>&1 </dev/null &
    echo $! > "$DIR/run/memcached.pid"
  fi
  for s in $SERVERS; do
    cmd=swift-$s-server
    # -v: log to stderr (besides syslog); workers=0: one process, no fork
    nohup "$cmd" "$DIR/etc/$s-server.conf" -v >"$DIR/log/$s.log" 2>&1 </dev/null &
    echo $! > "$DIR/run/$s.pid"
  done
  local deadline=$(( $(date +%s) + TIMEOUT ))
  until server_status; do
    for s in $SERVERS; do
      alive $s || { log "$s-server died; log:"; tail -20 "$DIR/log/$s.log" >&2; do_stop; exit 1; }
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then log "not ready after ${TIMEOUT}s"; SWIFT_S3_KEEP=1 do_stop; exit 1; fi
    sleep 0.2
  done
  start_watcher
  log_ready "$t0"
}

run_command "$@"
