#!/usr/bin/env bash
# HTTPS side by side: Hyperion and Puma on the same app, the same ssl:// bind
# and the same self-signed P-256 certificate, alternating runs (H P H P ...),
# server pinned to CPU 0 and wrk to CPU 1 as in bench/run.sh. Prints each run,
# the medians and Hyperion/Puma.
#
#   bench/tls.sh                          keep-alive, then a new TLS connection per request
#   TLS_RUNS=5 TLS_DURATION=5 TLS_CONNS=50   runs per server, seconds, wrk -c
#   TLS_RACKUP=bench/apps/hello.ru         app
#   TLS_WORKERS=0 TLS_THREADS=5            -w / -t for both servers (0: single process)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HYPERION=${HYPERION:-$ROOT/build/release/hyperion}
RUNS=${TLS_RUNS:-5} DURATION=${TLS_DURATION:-5} CONNS=${TLS_CONNS:-50}
RACKUP=${TLS_RACKUP:-$ROOT/bench/apps/hello.ru} WORKERS=${TLS_WORKERS:-0} THREADS=${TLS_THREADS:-5}
for tool in wrk taskset ruby puma openssl curl; do command -v $tool >/dev/null || { echo "$tool not found (scripts/install-deps.sh bench)" >&2; exit 1; }; done
PORT=$(ruby -rsocket -e 's = TCPServer.new("127.0.0.1", 0); puts s.addr[1]; s.close')
WORK=$(mktemp -d); SERVER=
trap '[ -n "$SERVER" ] && kill -TERM -- "-$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
BIND="ssl://127.0.0.1:$PORT?cert=$WORK/cert.pem&key=$WORK/key.pem"

start() { # start hyperion|puma
  case $1 in
    hyperion) setsid taskset -c 0 "$HYPERION" -w "$WORKERS" -t "$THREADS" -e production --no-access-log -b "$BIND" "$RACKUP" ;;
    puma) setsid taskset -c 0 puma -w "$WORKERS" -t "$THREADS:$THREADS" -e production -b "$BIND" "$RACKUP" ;;
  esac >"$WORK/$1.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 150); do curl -skf -o /dev/null "https://127.0.0.1:$PORT/" && return; sleep 0.1; done
  echo "$1 did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1
}

run_one() { # run_one SERVER [wrk args...] -> requests/s
  local server=$1; shift
  start "$server"
  taskset -c 1 wrk -t 1 -c "$CONNS" -d 1 "$@" "https://127.0.0.1:$PORT/" >/dev/null
  taskset -c 1 wrk -t 1 -c "$CONNS" -d "$DURATION" "$@" "https://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}'
  kill -TERM -- "-$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  while ss -ltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN; do sleep 0.1; done
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "hyperion $("$HYPERION" -v 2>&1 | head -1), $(puma --version 2>&1 | head -1), $(openssl version)"
echo "-w $WORKERS -t $THREADS, wrk -t1 -c $CONNS, ${RUNS} x ${DURATION}s, $(basename "$RACKUP")"
for mode in keep-alive close; do
  extra=(); [ $mode = close ] && extra=(-H 'Connection: close')
  declare -a RH=() RP=()
  for i in $(seq "$RUNS"); do
    RH+=("$(run_one hyperion "${extra[@]}")"); RP+=("$(run_one puma "${extra[@]}")")
    printf '%-10s run %d  hyperion %9.0f  puma %9.0f\n' $mode "$i" "${RH[-1]}" "${RP[-1]}"
  done
  MH=$(median "${RH[@]}") MP=$(median "${RP[@]}")
  awk -v m=$mode -v h="$MH" -v p="$MP" 'BEGIN {printf "%-10s median  hyperion %.0f  puma %.0f  hyperion/puma %.2f\n", m, h, p, h / p}'
done
