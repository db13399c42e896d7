#!/usr/bin/env bash
# WebSocket side by side (bench/ws). Server pinned to CPU 0, the C++ load
# client (bench/ws/ws_load.cpp) to CPU 1, median of WS_RUNS runs:
#
#   echo     1 KiB text ping-pong over 50 connections: Hyperion's rack.upgrade
#            echo vs Puma + faye-websocket (the same echo over rack.hijack)
#   idle     10,000 idle connections on one worker: RSS per connection, the
#            worker's thread count, and a ping on every one answered
#   fanout   one Hyperion.publish to 10,000 subscribers: p50/p99 delivery
#   floor    the same fan-out without a server: one process on CPU 0 send()s
#            the frame to 10,000 loopback sockets, the receiver on CPU 1
#            (bench/ws/send_floor.cpp): the kernel's share, to read fanout by
#   deflate  bytes on the wire for 1,000 chat-JSON messages echoed, with and
#            without permessage-deflate (node ws client)
#
#   bench/ws/run.sh [workload...]      WS_RUNS=3 WS_DURATION=5 WS_CONNS=10000
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HYPERION=${HYPERION:-$ROOT/build/release/hyperion}
RUNS=${WS_RUNS:-3} DURATION=${WS_DURATION:-5} CONNS=${WS_CONNS:-10000}
WORKLOADS=("$@"); [ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(echo idle fanout deflate)
for tool in taskset ruby puma node g++; do
  command -v $tool >/dev/null || { echo "$tool not found (scripts/install-deps.sh bench)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"  # 10,000 connections need a few more fds than that on each side
WORK=$(mktemp -d); SERVER=
trap '[ -n "$SERVER" ] && kill -TERM -- "-$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
g++ -O2 -std=c++20 -o "$WORK/ws_load" "$ROOT/bench/ws/ws_load.cpp"
g++ -O2 -std=c++20 -o "$WORK/send_floor" "$ROOT/bench/ws/send_floor.cpp"
LOAD="taskset -c 1 $WORK/ws_load"
PORT=$(ruby -rsocket -e 's = TCPServer.new("127.0.0.1", 0); puts s.addr[1]; s.close')

start() { # start hyperion|puma RACKUP [extra flags]
  local kind=$1 app=$2; shift 2
  if [ "$kind" = hyperion ]; then
    setsid taskset -c 0 "$HYPERION" -w 0 -t 5 -e production --no-access-log -b "tcp://127.0.0.1:$PORT" "$@" "$app" \
      >"$WORK/server.log" 2>&1 &
  else
    setsid taskset -c 0 puma -w 0 -t 5:5 -e production -b "tcp://127.0.0.1:$PORT" "$app" >"$WORK/server.log" 2>&1 &
  fi
  SERVER=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0; sleep 0.1; done
  echo "server did not start:"; cat "$WORK/server.log"; exit 1
}
stop() { kill -TERM -- "-$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=; sleep 0.5; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
threads() { awk '/Threads/ {print $2}' "/proc/$1/status"; }
# The process serving: hyperion -w 0 is the server itself.
server_pid() { echo "$SERVER"; }

for workload in "${WORKLOADS[@]}"; do
  case $workload in
    echo)
      declare -A rate
      for server in hyperion puma; do
        app=$ROOT/bench/ws/echo.ru; [ $server = puma ] && app=$ROOT/bench/ws/faye_echo.ru
        start $server "$app"
        $LOAD echo 127.0.0.1 "$PORT" / 50 1 1024 >/dev/null  # warm-up
        for _ in $(seq "$RUNS"); do $LOAD echo 127.0.0.1 "$PORT" / 50 "$DURATION" 1024; done | tee "$WORK/$server.txt"
        rate[$server]=$(awk '{print $2}' "$WORK/$server.txt" | median)
        p99=$(awk '{print $6}' "$WORK/$server.txt" | median)
        echo "echo $server: median ${rate[$server]} msgs/s, p99 ${p99} us"
        stop
      done
      echo "echo ratio hyperion/puma+faye: $(awk -v a="${rate[hyperion]}" -v b="${rate[puma]}" 'BEGIN {printf "%.2f", a / b}')x"
      ;;
    idle)
      start hyperion "$ROOT/bench/ws/echo.ru" --ws-ping-interval off --ws-idle-timeout off
      pid=$(server_pid); before=$(rss_kib "$pid"); t_before=$(threads "$pid")
      $LOAD idle 127.0.0.1 "$PORT" / "$CONNS" 6 >"$WORK/idle.txt" &
      load=$!
      sleep 5
      during=$(rss_kib "$pid"); t_during=$(threads "$pid")
      wait $load || true
      cat "$WORK/idle.txt"
      echo "idle: $CONNS connections, RSS $before -> $during KiB = $(( (during - before) * 1024 / CONNS )) bytes each; threads $t_before -> $t_during"
      stop
      ;;
    fanout)
      start hyperion "$ROOT/bench/ws/chat.ru" --ws-ping-interval off ${WS_FLAGS:-}
      for _ in $(seq "$RUNS"); do $LOAD fanout 127.0.0.1 "$PORT" / "$CONNS"; done | tee "$WORK/fanout.txt"
      echo "fanout: median p99 $(awk '{print $8}' "$WORK/fanout.txt" | median) ms to $CONNS subscribers"
      stop
      ;;
    floor)
      for _ in $(seq "$RUNS"); do "$WORK/send_floor" "$CONNS" 0 1; done | tee "$WORK/floor.txt"
      echo "floor: median p99 $(awk '{print $9}' "$WORK/floor.txt" | median) ms to $CONNS sockets, no server"
      ;;
    deflate)
      start hyperion "$ROOT/bench/ws/echo.ru"
      NODE_PATH=/usr/share/nodejs node "$ROOT/bench/ws/deflate_bytes.js" "ws://127.0.0.1:$PORT/"
      stop
      ;;
    *) echo "unknown workload $workload" >&2; exit 2 ;;
  esac
done
