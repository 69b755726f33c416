#!/usr/bin/env bash
# `swapline healthcheck` (the image's HEALTHCHECK): 0 while serve answers /healthz,
# 1 for a refused connection or a non-2xx answer, 2 for a malformed URL.
# usage: healthcheck_test.sh SWAPLINE
set -uo pipefail
swapline=$1
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work" && exec "$swapline" serve --listen "127.0.0.1:$port" --workers 0 2>"$work/serve.log") &
server=$!
failed=0
expect() {  # expect CODE URL
  "$swapline" healthcheck --url "$2" 2>/dev/null
  local got=$?
  if [ "$got" = "$1" ]; then echo "ok: $2 -> $got"; else echo "FAILED: $2 -> $got, expected $1" >&2; failed=1; fi
}
for _ in $(seq 1 600); do
  "$swapline" healthcheck --url "http://127.0.0.1:$port/healthz" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.05
done
expect 0 "http://127.0.0.1:$port/healthz"
expect 1 "http://127.0.0.1:$port/no-such-route"
expect 2 "ftp://127.0.0.1:$port/healthz"
kill "$server"
wait "$server"
expect 1 "http://127.0.0.1:$port/healthz"
exit "$failed"
