#!/bin/sh
# Usage: fuzz/run.sh BUILD_DIR SECONDS TARGET...
# Fuzzes each target (BUILD_DIR/fuzz/fuzz_TARGET, built with SWAPLINE_FUZZ=ON) for
# SECONDS, seeded with its kept corpus (fuzz/corpus/TARGET, never written to). New
# inputs go to BUILD_DIR/fuzz-corpus/TARGET, crashes to BUILD_DIR/fuzz-findings/TARGET/,
# the log to BUILD_DIR/fuzz-logs/TARGET.log. Prints runs, coverage (cov, ft) and any
# finding per target; exits 1 if a target found something.
set -u
build=$1 seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
status=0
for target in "$@"; do
  corpus=$build/fuzz-corpus/$target findings=$build/fuzz-findings/$target/ log=$build/fuzz-logs/$target.log
  mkdir -p "$corpus" "$findings" "$build/fuzz-logs"
  case $target in
    image|video) limits="-max_len=65536 -rss_limit_mb=3072 -timeout=30" ;;
    *) limits="-max_len=16384 -rss_limit_mb=2048 -timeout=10" ;;
  esac
  # shellcheck disable=SC2086
  "$build/fuzz/fuzz_$target" "$corpus" "$here/corpus/$target" -max_total_time="$seconds" \
    -artifact_prefix="$findings" -print_final_stats=1 $limits >"$log" 2>&1
  rc=$?
  stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "$target: ${runs:-?} runs in ${seconds}s; last: $stats"
  if [ "$rc" -ne 0 ]; then
    echo "$target: FINDING (exit $rc), see $log and $findings"
    status=1
  fi
done
exit $status
