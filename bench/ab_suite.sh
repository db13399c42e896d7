#!/usr/bin/env bash
# The refactor check: bench/ab.sh over every workload a change to the
# connection layer must not slow down (hello, JSON, 25 headers, prebuilt
# route, preloaded 1 KiB, 1 MiB file, SSE, Connection: close), one table of
# medians and B/A ratios at the end (requests/s, and server CPU µs per
# request, the steadier of the two on a shared machine). Same session,
# alternating runs.
#
#   bench/ab_suite.sh OLD_BINARY NEW_BINARY        (AB_RUNS / AB_DURATION as in ab.sh)
#   AB_WORKLOADS="hello json"                      a subset
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -eq 2 ] || { sed -n '2,9p' "$0"; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
FILES=$(mktemp -d); trap 'rm -rf "$FILES"' EXIT
head -c 1024 /dev/urandom >"$FILES/1k.bin"
head -c 1048576 /dev/urandom >"$FILES/1m.bin"
export BENCH_FILES_DIR=$FILES
APPS=$ROOT/bench/apps
WORKLOADS=(${AB_WORKLOADS:-hello json headers25 prebuilt static_1k file_1m sse_1000 hello_close})
TABLE=()
for w in "${WORKLOADS[@]}"; do
  flags=(-w 2 -t 5); envs=()
  case $w in
    hello)       envs=(AB_RACKUP=$APPS/hello.ru) ;;
    json)        envs=(AB_RACKUP=$APPS/json.ru) ;;
    headers25)   envs=(AB_RACKUP=$APPS/headers.ru) ;;
    prebuilt)    envs=(AB_RACKUP=$APPS/prebuilt.ru) ;;
    static_1k)   envs=(AB_RACKUP=$APPS/files.ru AB_PATH=/1k.bin); flags+=(--preload-static "$FILES") ;;
    file_1m)     envs=(AB_RACKUP=$APPS/files.ru AB_PATH=/1m.bin AB_CONNS=50) ;;
    sse_1000)    envs=(AB_RACKUP=$APPS/sse.ru AB_CONNS=50) ;;
    hello_close) envs=(AB_RACKUP=$APPS/hello.ru AB_CLOSE=1 AB_CONNS=50) ;;
    *) echo "unknown workload $w" >&2; exit 2 ;;
  esac
  echo "== $w"
  env "${envs[@]}" "$ROOT/bench/ab.sh" "$A" "$B" "${flags[@]}" >"$FILES/out"
  cat "$FILES/out"
  out=$(tail -1 "$FILES/out")
  TABLE+=("$(printf '| %-11s | %s |' "$w" "$(echo "$out" | awk '{printf "%8s | %8s | %s | %6s | %6s | %s", $3, $5, $7, $10, $13, $16}')")")
done
echo
echo "| workload    |        A |        B | B/A   | A µs/req | B µs/req | B/A"
echo "|-------------|----------|----------|-------|--------|--------|------"
printf '%s\n' "${TABLE[@]}"
