#!/usr/bin/env bash
# Same-session A/B of two hyperion binaries on one workload: runs alternate
# (A B A B ...) so drift on the machine hits both alike; prints each run, the
# medians and the ratio B/A. The server is pinned to CPU 0, wrk to CPU 1, as
# in bench/run.sh (docs/BENCHMARKS.md).
#
#   bench/ab.sh OLD_BINARY NEW_BINARY [hyperion flags...]   (default flags: -w 2 -t 5)
#   AB_RUNS=5 AB_DURATION=5 AB_CONNS=100 AB_THREADS=2    runs per binary, seconds, wrk -c, wrk -t
#   AB_CLOSE=1                                           a new connection per request (Connection: close)
#   AB_RACKUP=bench/apps/hello.ru  AB_PATH=/             app and path
#
# Besides requests/s it prints the server's CPU time per request (every
# process of its group, from /proc/PID/stat, over the timed run): on a
# shared VM throughput swings with the neighbours, CPU per request much less.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 2 ] || { sed -n '2,12p' "$0"; exit 2; }
A=$1 B=$2; shift 2
FLAGS=("$@"); [ ${#FLAGS[@]} -gt 0 ] || FLAGS=(-w 2 -t 5)
RUNS=${AB_RUNS:-5} DURATION=${AB_DURATION:-5} CONNS=${AB_CONNS:-100} WRK_THREADS=${AB_THREADS:-2}
RACKUP=${AB_RACKUP:-$ROOT/bench/apps/hello.ru} URL_PATH=${AB_PATH:-/}
WRK_EXTRA=(); [ "${AB_CLOSE:-0}" = 1 ] && WRK_EXTRA=(-H 'Connection: close')
for tool in wrk taskset ruby; do command -v $tool >/dev/null || { echo "$tool not found" >&2; exit 1; }; done
PORT=$(ruby -rsocket -e 's = TCPServer.new("127.0.0.1", 0); puts s.addr[1]; s.close')
LOG=$(mktemp); SERVER=
trap '[ -n "$SERVER" ] && kill -TERM -- "-$SERVER" 2>/dev/null; rm -f "$LOG"' EXIT

# CPU ticks (user + system) of every process in the server's process group.
group_ticks() {
  local total=0 pid f
  for pid in $(pgrep -g "$1"); do
    f=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + ${f% *} + ${f#* }))
  done
  echo "$total"
}

run_one() { # run_one BINARY -> prints "requests/s cpu-us-per-request"
  setsid taskset -c 0 "$1" "${FLAGS[@]}" -e production --no-access-log -b "tcp://127.0.0.1:$PORT" "$RACKUP" \
    >"$LOG" 2>&1 & SERVER=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT$URL_PATH" && break; sleep 0.1; done
  taskset -c 1 wrk -t "$WRK_THREADS" -c "$CONNS" -d 1 "${WRK_EXTRA[@]}" "http://127.0.0.1:$PORT$URL_PATH" >/dev/null
  local before out after
  before=$(group_ticks "$SERVER")
  out=$(taskset -c 1 wrk -t "$WRK_THREADS" -c "$CONNS" -d "$DURATION" "${WRK_EXTRA[@]}" "http://127.0.0.1:$PORT$URL_PATH")
  after=$(group_ticks "$SERVER")
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    /requests in/ {n = $1} /Requests\/sec/ {r = $2}
    END {printf "%s %.2f\n", r, (n > 0 ? t * 1e6 / hz / n : 0)}' <<<"$out"
  kill -TERM -- "-$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  while ss -ltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN; do sleep 0.1; done
}

declare -a RA RB CA CB
for i in $(seq "$RUNS"); do
  read -r ra ca <<<"$(run_one "$A")"; read -r rb cb <<<"$(run_one "$B")"
  RA+=("$ra"); RB+=("$rb"); CA+=("$ca"); CB+=("$cb")
  printf 'run %d  A %10.0f  B %10.0f   cpu/req A %6.2f us  B %6.2f us\n' "$i" "$ra" "$rb" "$ca" "$cb"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
MA=$(median "${RA[@]}") MB=$(median "${RB[@]}")
echo "flags: ${FLAGS[*]}  wrk -c $CONNS${AB_CLOSE:+ (close=$AB_CLOSE)}  ${RUNS}x${DURATION}s"
CMA=$(median "${CA[@]}") CMB=$(median "${CB[@]}")
awk -v a="$MA" -v b="$MB" -v ca="$CMA" -v cb="$CMB" \
  'BEGIN {printf "median  A %.0f  B %.0f  B/A %.3f   cpu/req A %.2f us  B %.2f us  B/A %.3f\n", a, b, b / a, ca, cb, cb / ca}'
