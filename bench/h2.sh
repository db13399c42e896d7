#!/usr/bin/env bash
# HTTP/2 side by side, alternating runs, server pinned to CPU 0 and the load
# client to CPU 1 (as bench/run.sh and bench/tls.sh):
#
#   hello     Rack hello: Hyperion over HTTP/1.1 (wrk -c 50) and over h2c
#             (h2load -c 50 -m 10); the issue's bar is h2c >= 0.8x HTTP/1.1
#   prebuilt  a prebuilt route over h2c, Hyperion vs nginx 1 worker
#             `return 200` on an h2c listener (h2load -c 50 -m 10); bar 0.9x
#   tls_hello Rack hello over h2 on TLS (ALPN), Hyperion vs nginx
#             `listen ssl http2` `return 200` (h2load -c 50 -m 10)
#   tls_1m    a 1 MiB file over h2 on TLS, Hyperion (Rack::Files) vs nginx's
#             static handler (h2load -c 50 -m 1)
#   idle      what an idle h2c connection costs: worker RSS before and after
#             1,000 connections that sent the preface and SETTINGS (and the
#             same for HTTP/1.1 keep-alive connections), Hyperion -w 0
#
#   bench/h2.sh [workload...]                  default: hello prebuilt tls_hello tls_1m idle
#   H2_RUNS=5 H2_DURATION=5 H2_WORKERS=0 H2_THREADS=5
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HYPERION=${HYPERION:-$ROOT/build/release/hyperion}
RUNS=${H2_RUNS:-5} DURATION=${H2_DURATION:-5} WORKERS=${H2_WORKERS:-0} THREADS=${H2_THREADS:-5}
WORKLOADS=("$@"); [ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(hello prebuilt tls_hello tls_1m idle)
for tool in wrk h2load taskset ruby curl nginx openssl; do
  command -v $tool >/dev/null || { echo "$tool not found (scripts/install-deps.sh bench)" >&2; exit 1; }
done
PORT=$(ruby -rsocket -e 's = TCPServer.new("127.0.0.1", 0); puts s.addr[1]; s.close')
WORK=$(mktemp -d); chmod 755 "$WORK"; SERVER=
trap '[ -n "$SERVER" ] && kill -TERM -- "-$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
sed -e "s|@PORT@|$PORT|g" -e "s|@RUN_DIR@|$WORK|g" "$ROOT/bench/nginx/h2c.conf.template" >"$WORK/nginx.conf"
# TLS: one self-signed P-256 certificate for both servers (as bench/tls.sh).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
chmod 644 "$WORK/key.pem"  # nginx workers run unprivileged when started as root
mkdir -p "$WORK/files" && head -c 1048576 /dev/urandom >"$WORK/files/1m.bin"
export BENCH_FILES_DIR=$WORK/files
sed -e "s|@PORT@|$PORT|g" -e "s|@RUN_DIR@|$WORK|g" "$ROOT/bench/nginx/h2_tls.conf.template" >"$WORK/nginx-tls.conf"
SCHEME=http

start() { # start hyperion|nginx RACKUP   (SCHEME=https: the TLS bind / config)
  local bind="tcp://127.0.0.1:$PORT" conf=$WORK/nginx.conf probe=(--http2-prior-knowledge)
  if [ "$SCHEME" = https ]; then
    bind="ssl://127.0.0.1:$PORT?cert=$WORK/cert.pem&key=$WORK/key.pem" conf=$WORK/nginx-tls.conf probe=(-k --http2)
  fi
  case $1 in
    hyperion) exec setsid taskset -c 0 "$HYPERION" -w "$WORKERS" -t "$THREADS" -e production --no-access-log \
                -b "$bind" "$2" ;;
    nginx) exec setsid taskset -c 0 nginx -p "$WORK" -c "$conf" -e "$WORK/nginx-error.log" ;;
  esac >"$WORK/$1.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 150); do curl -sf "${probe[@]}" -o /dev/null "$SCHEME://127.0.0.1:$PORT${PROBE:-/}" && return; sleep 0.1; done
  echo "$1 did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1
}
stop() {
  kill -TERM -- "-$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  while ss -ltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN; do sleep 0.1; done
}
# load h1|h2 PATH -> requests/s
load() {
  if [ "$1" = h1 ]; then
    taskset -c 1 wrk -t 1 -c 50 -d 1 "http://127.0.0.1:$PORT$2" >/dev/null
    taskset -c 1 wrk -t 1 -c 50 -d "$DURATION" "http://127.0.0.1:$PORT$2" | awk '/Requests\/sec/ {print $2}'
  else
    local m=${STREAMS:-10}
    taskset -c 1 h2load -c 50 -m "$m" -D 1 "$SCHEME://127.0.0.1:$PORT$2" >/dev/null
    taskset -c 1 h2load -c 50 -m "$m" -D "$DURATION" "$SCHEME://127.0.0.1:$PORT$2" |
      awk '/^finished in/ {gsub(",", "", $4); print $4} /errored/ && $10 + $12 > 0 {print "h2load errors: " $0 > "/dev/stderr"}'
  fi
}
run_one() { # run_one SERVER RACKUP h1|h2 PATH
  start "$1" "$2"; load "$3" "$4"; stop
}
# rss_per_connection h1|h2 -> KiB per idle connection (1,000 of them) in a -w 0 Hyperion
rss_per_connection() {
  WORKERS=0 start hyperion "$ROOT/bench/apps/hello.ru"
  local before after
  before=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
  ruby "$ROOT/bench/idle_connections.rb" "$PORT" 1000 "$1" "$WORK/idle-ready" &
  local holder=$!
  for _ in $(seq 300); do [ -e "$WORK/idle-ready" ] && break; sleep 0.1; done
  sleep 1
  after=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
  kill "$holder"; wait "$holder" 2>/dev/null || true; rm -f "$WORK/idle-ready"
  stop
  awk -v b="$before" -v a="$after" 'BEGIN {printf "%.1f", (a - b) / 1000}'
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "$("$HYPERION" -v 2>&1 | head -1), $(nginx -v 2>&1), $(h2load --version | head -1)"
echo "Hyperion -w $WORKERS -t $THREADS, nginx 1 worker; ${RUNS} x ${DURATION}s; CPU 0 server, CPU 1 client"
for workload in "${WORKLOADS[@]}"; do
  A=() B=()
  for i in $(seq "$RUNS"); do
    case $workload in
      hello)
        A+=("$(run_one hyperion "$ROOT/bench/apps/hello.ru" h1 /)")
        B+=("$(run_one hyperion "$ROOT/bench/apps/hello.ru" h2 /)")
        printf 'hello    run %d  http/1.1 %8.0f  h2c %8.0f\n' "$i" "${A[-1]}" "${B[-1]}" ;;
      prebuilt)
        A+=("$(run_one nginx - h2 /)")
        B+=("$(run_one hyperion "$ROOT/bench/apps/prebuilt.ru" h2 /)")
        printf 'prebuilt run %d  nginx h2c %8.0f  hyperion h2c %8.0f\n' "$i" "${A[-1]}" "${B[-1]}" ;;
      tls_hello)
        SCHEME=https
        A+=("$(run_one nginx - h2 /)")
        B+=("$(run_one hyperion "$ROOT/bench/apps/hello.ru" h2 /)")
        SCHEME=http
        printf 'tls_hello run %d  nginx h2 %8.0f  hyperion h2 %8.0f\n' "$i" "${A[-1]}" "${B[-1]}" ;;
      tls_1m)
        SCHEME=https STREAMS=1 PROBE=/1m.bin
        A+=("$(run_one nginx - h2 /1m.bin)")
        B+=("$(run_one hyperion "$ROOT/bench/apps/files.ru" h2 /1m.bin)")
        SCHEME=http STREAMS= PROBE=
        printf 'tls_1m   run %d  nginx h2 %8.0f  hyperion h2 %8.0f\n' "$i" "${A[-1]}" "${B[-1]}" ;;
      idle)
        A+=("$(rss_per_connection h1)")
        B+=("$(rss_per_connection h2)")
        printf 'idle     run %d  KiB per idle connection: http/1.1 %s  h2c %s\n' "$i" "${A[-1]}" "${B[-1]}" ;;
      *) echo "unknown workload $workload" >&2; exit 1 ;;
    esac
  done
  a=$(median "${A[@]}") b=$(median "${B[@]}")
  awk -v w="$workload" -v a="$a" -v b="$b" 'BEGIN {printf "%-8s median  %.0f  %.0f  ratio %.2f\n", w, a, b, b / a}'
done
