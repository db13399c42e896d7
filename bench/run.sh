#!/usr/bin/env bash
# Hyperion benchmark harness (docs/BENCHMARKS.md explains the method and the numbers).
#
#   bench/run.sh                      full default set: 3 runs x 5 s per workload and server (~8 min)
#   BENCH_QUICK=1 bench/run.sh        smoke test: 1 run x 2 s, results in bench/results/quick/
#   BENCH_DURATION=10 BENCH_RUNS=5    longer runs
#   BENCH_WORKLOADS=hello,json        a subset of workloads (names as in the table)
#   BENCH_SERVERS=hyperion,nginx      a subset of servers (hyperion, puma, unicorn, nginx)
#   BENCH_PORT=18080                  port every server binds in turn (default: a free ephemeral port)
#   HYPERION=path/to/hyperion         binary under test (default build/release/hyperion)
#   BENCH_LABEL="text"                what the binary is, printed in the report (default: git HEAD)
#   BENCH_QUIET_BUDGET=90             seconds in all to spend waiting for other CPU load to stop,
#                                     or repeating runs it disturbed (0: never wait, never repeat)
#
# Every server is started alone, on the same loopback port, pinned to CPU 0; wrk runs on CPU 1.
# Per (workload, server): start, smoke request, 2 s warm-up, N timed runs, stop, wait for the
# port to close. A server that fails to start or answers the smoke request wrongly is recorded
# as "failed" and the harness moves on. Servers run in their own session (setsid) and the EXIT
# trap stops every process group it started, so nothing is left running.
set -uo pipefail

# The command as typed, with the settings that came from the environment (for the report).
INVOCATION=""
for var in $(compgen -e | grep -E '^(BENCH_[A-Z_]+|HYPERION)$' | sort); do INVOCATION+="$var=${!var@Q} "; done
INVOCATION+="bench/run.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
HYPERION=${HYPERION:-$ROOT/build/release/hyperion}
[[ $HYPERION = /* ]] || HYPERION=$PWD/$HYPERION

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  DURATION=${BENCH_DURATION:-2}; RUNS=${BENCH_RUNS:-1}; WARMUP=${BENCH_WARMUP:-1}
  RESULTS=${BENCH_RESULTS_DIR:-$BENCH/results/quick}
  CHART=${BENCH_CHART:-$RESULTS/bench.png}
else
  DURATION=${BENCH_DURATION:-5}; RUNS=${BENCH_RUNS:-3}; WARMUP=${BENCH_WARMUP:-2}
  RESULTS=${BENCH_RESULTS_DIR:-$BENCH/results}
  CHART=${BENCH_CHART:-$ROOT/docs/bench.png}
fi
SERVER_CPU=${BENCH_SERVER_CPU:-0}
WRK_CPU=${BENCH_WRK_CPU:-1}
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-30}   # seconds a server may take to answer its first request
STOP_TIMEOUT=${BENCH_STOP_TIMEOUT:-10}   # seconds between TERM and KILL
QUIET_BUDGET=${BENCH_QUIET_BUDGET:-90}   # seconds in all for waiting on, or repeating runs disturbed by, other processes
QUIET_MAX_BUSY=${BENCH_QUIET_MAX_BUSY:-15} # % of all CPUs others may use before a server run
NOISY_CPU=${BENCH_NOISY_CPU:-10}         # % of one CPU others may use during the timed runs...
NOISY_RETRIES=${BENCH_NOISY_RETRIES:-2}  # ...before they are repeated (at most this many times)
ALL_WORKLOADS=(hello json headers25 post_1k file_1k static_1k file_1m sse_1000 hello_close hello_c256 prebuilt)
ALL_SERVERS=(hyperion puma unicorn nginx)

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

in_list() { # in_list WORD "a,b,c" (an empty list contains everything)
  [ -z "$2" ] && return 0
  [[ ",$2," == *",$1,"* ]]
}

# --- preconditions ------------------------------------------------------------------------
for tool in wrk taskset setsid curl ruby ss timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh bench)"
done
[ -x "$HYPERION" ] || die "$HYPERION not built (run make build)"
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs; server and wrk will share a core"

RAW=$RESULTS/raw
mkdir -p "$RESULTS"
rm -rf "$RAW"
mkdir -p "$RAW"
: >"$RAW/status.tsv"
: >"$RAW/meta.tsv"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$RAW/meta.tsv"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hyperion-bench.XXXXXX") || die "mktemp failed"
chmod 755 "$WORK" # nginx workers run as an unprivileged user when started as root

# --- process management -------------------------------------------------------------------
SERVER_PIDS=()   # every session leader we started; the EXIT trap stops the ones still alive
SERVER_PID=""

group_alive() { pgrep -g "$1" >/dev/null 2>&1; }

stop_group() { # stop_group PID: TERM the process group, KILL after STOP_TIMEOUT, reap
  local pid=$1 deadline
  [ -n "$pid" ] || return 0
  if group_alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null
    deadline=$((SECONDS + STOP_TIMEOUT))
    while group_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if group_alive "$pid"; then
      log "process group $pid ignored TERM for ${STOP_TIMEOUT}s; sending KILL"
      kill -KILL -- "-$pid" 2>/dev/null
      while group_alive "$pid"; do sleep 0.1; done
    fi
  fi
  wait "$pid" 2>/dev/null
  return 0
}

port_listening() { [ -n "$(ss -Htln "sport = :$PORT" 2>/dev/null)" ]; }

wait_port_closed() {
  local deadline=$((SECONDS + 15))
  while port_listening; do
    [ $SECONDS -ge $deadline ] && { log "warning: port $PORT still listening after 15 s"; return 1; }
    sleep 0.1
  done
  return 0
}

cleanup() {
  local pid
  trap - EXIT INT TERM
  for pid in "${SERVER_PIDS[@]}"; do stop_group "$pid"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# --- port ---------------------------------------------------------------------------------
if [ -n "${BENCH_PORT:-}" ]; then
  PORT=$BENCH_PORT
else
  PORT=$(ruby -rsocket -e 's = TCPServer.new("127.0.0.1", 0); puts s.addr[1]; s.close')
fi
port_listening && die "port $PORT is already in use"

# --- fixtures: deterministic files, nginx config ------------------------------------------
FILES=$WORK/files
mkdir -p "$FILES"
ruby -e '
  pattern = ("abcdefghijklmnopqrstuvwxyz" "ABCDEFGHIJKLMNOPQRSTUVWXYZ" "0123456789-\n").b
  { "1k.bin" => 1024, "1m.bin" => 1024 * 1024 }.each do |name, size|
    data = (pattern * (size / pattern.bytesize + 1)).byteslice(0, size)
    File.binwrite(File.join(ARGV[0], name), data)
  end' "$FILES" || die "could not write the file fixtures"
chmod 755 "$FILES"; chmod 644 "$FILES"/*
export BENCH_FILES_DIR=$FILES

# Run a private copy: a rebuild of build/release during the session must not change the binary
# under test halfway (the Ruby side is compiled into the executable).
cp "$HYPERION" "$WORK/hyperion" || die "cannot copy $HYPERION"
HYPERION_SOURCE=$HYPERION
HYPERION=$WORK/hyperion

NGINX_DIR=$WORK/nginx
mkdir -p "$NGINX_DIR"
sed -e "s|@PORT@|$PORT|g" -e "s|@RUN_DIR@|$NGINX_DIR|g" -e "s|@FILES_DIR@|$FILES|g" \
  "$BENCH/nginx/nginx.conf.template" >"$NGINX_DIR/nginx.conf"

# --- workloads ----------------------------------------------------------------------------
# Sets W_RACKUP, W_PATH, W_CONNS, W_WRK (extra wrk args), W_CURL (smoke request args),
# W_EXPECT (expected smoke body size), W_NGINX (nginx has a native equivalent),
# W_HYPERION (extra Hyperion flags).
define_workload() {
  W_PATH=/; W_CONNS=50; W_WRK=(); W_CURL=(); W_NGINX=0; W_HYPERION=()
  case "$1" in
    hello)       W_RACKUP=hello.ru;    W_EXPECT=5; W_NGINX=1 ;;
    json)        W_RACKUP=json.ru;     W_EXPECT=any ;;
    headers25)   W_RACKUP=headers.ru;  W_EXPECT=any ;;
    post_1k)     W_RACKUP=post.ru;     W_EXPECT=4
                 W_WRK=(-s "$BENCH/lua/post_1k.lua")
                 W_CURL=(-H 'Content-Type: application/octet-stream' --data-binary "@$FILES/1k.bin") ;;
    file_1k)     W_RACKUP=files.ru;    W_EXPECT=1024;    W_PATH=/1k.bin; W_NGINX=1 ;;
    # The same 1 KiB file preloaded (--preload-static): answered by the loop,
    # never by Rack::Files. Ruby servers have no such path; they run Rack::Files.
    static_1k)   W_RACKUP=files.ru;    W_EXPECT=1024;    W_PATH=/1k.bin; W_NGINX=1
                 W_HYPERION=(--preload-static "$FILES") ;;
    file_1m)     W_RACKUP=files.ru;    W_EXPECT=1048576; W_PATH=/1m.bin; W_NGINX=1 ;;
    sse_1000)    W_RACKUP=sse.ru;      W_EXPECT=50000 ;;
    hello_close) W_RACKUP=hello.ru;    W_EXPECT=5; W_NGINX=1
                 W_WRK=(-H 'Connection: close'); W_CURL=(-H 'Connection: close') ;;
    hello_c256)  W_RACKUP=hello.ru;    W_EXPECT=5; W_NGINX=1; W_CONNS=256 ;;
    prebuilt)    W_RACKUP=prebuilt.ru; W_EXPECT=5 ;;  # Hyperion only; nginx hello is its reference
    *) die "unknown workload $1" ;;
  esac
}

# --- servers ------------------------------------------------------------------------------
server_command() { # server_command SERVER RACKUP -> SERVER_CMD array
  case "$1" in
    hyperion) SERVER_CMD=("$HYPERION" -w 1 -t 5 -e production -b "tcp://127.0.0.1:$PORT" --no-access-log
                        "${W_HYPERION[@]}" "$2") ;;
    puma)     SERVER_CMD=(puma -t 5:5 -e production -b "tcp://127.0.0.1:$PORT" "$2") ;;
    unicorn)  SERVER_CMD=(unicorn -E production -l "127.0.0.1:$PORT" "$2") ;;
    nginx)    SERVER_CMD=(nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log") ;;
  esac
}

server_available() {
  case "$1" in
    hyperion) [ -x "$HYPERION" ] ;;
    *) command -v "$1" >/dev/null ;;
  esac
}

# start_server SERVER RACKUP LOGFILE: sets SERVER_PID, or FAIL_REASON and returns 1.
start_server() {
  local server=$1 rackup=$2 logfile=$3 deadline code
  SERVER_PID=""
  server_command "$server" "$BENCH/apps/$rackup"
  wait_port_closed || { FAIL_REASON="port $PORT busy before start"; return 1; }
  # cwd is the scratch dir so no config/puma.rb or config/hyperion.rb is picked up by accident.
  (cd "$WORK" && exec setsid taskset -c "$SERVER_CPU" "${SERVER_CMD[@]}") >"$logfile" 2>&1 </dev/null &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  deadline=$((SECONDS + BOOT_TIMEOUT))
  while :; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null
      FAIL_REASON="exited with status $? during boot: $(tail -n 2 "$logfile" | tr '\n\t' '  ' | cut -c1-200)"
      return 1
    fi
    # Hyperion's master binds before the worker has loaded the app; wait for the worker.
    if [ "$server" != hyperion ] || grep -q 'worker 0 ready' "$logfile"; then
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/" 2>/dev/null)
      [ "$code" != 000 ] && [ -n "$code" ] && return 0
    fi
    if [ $SECONDS -ge $deadline ]; then
      FAIL_REASON="not answering after ${BOOT_TIMEOUT}s"
      return 1
    fi
    sleep 0.1
  done
}

# smoke_request: the workload's request once with curl; must be 200 with the expected body size.
smoke_request() {
  local out code size
  out=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 10 "${W_CURL[@]}" \
        "http://127.0.0.1:$PORT$W_PATH" 2>/dev/null)
  code=${out%% *}; size=${out##* }
  SMOKE="HTTP $code, $size bytes"
  [ "$code" = 200 ] || return 1
  [ "$W_EXPECT" = any ] && [ "$size" -gt 0 ] && return 0
  [ "$size" = "$W_EXPECT" ]
}

rss_of() { # rss_of PID -> "serving_process_kb group_total_kb"
  local leader=$1 child main total=0 pid rss
  # Hyperion, nginx and unicorn serve from a child of the leader; Puma single mode from itself.
  child=$(pgrep -P "$leader" | head -n 1)
  main=${child:-$leader}
  for pid in $(pgrep -g "$leader"); do
    rss=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ')
    total=$((total + ${rss:-0}))
  done
  echo "$(ps -o rss= -p "$main" 2>/dev/null | tr -d ' ') $total"
}

run_wrk() { # run_wrk SECONDS OUTFILE
  timeout -k 5 $(($1 + 30)) taskset -c "$WRK_CPU" \
    wrk -t1 "-c$W_CONNS" "-d${1}s" --latency "${W_WRK[@]}" "http://127.0.0.1:$PORT$W_PATH" >"$2" 2>&1
}

cpu_busy_percent() { # CPU use of the whole machine over 1 s, in % of all CPUs
  local a b
  read -r -a a < <(grep '^cpu ' /proc/stat)
  sleep 1
  read -r -a b < <(grep '^cpu ' /proc/stat)
  local total=0 idle i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  idle=$((b[4] - a[4] + b[5] - a[5]))
  [ "$total" -gt 0 ] || { echo 0; return; }
  echo $((100 - 100 * idle / total))
}

# wait_quiet: before each server run nothing of ours is running, so CPU use is someone else's
# (a compiler, a test suite). Wait for it to stop, within QUIET_BUDGET seconds for the whole
# session; BUSY_NOTE says what the run had to share the machine with.
wait_quiet() {
  local busy
  BUSY_NOTE=""
  busy=$(cpu_busy_percent)
  while [ "$busy" -gt "$QUIET_MAX_BUSY" ] && [ "$QUIET_BUDGET" -gt 0 ]; do
    log "machine busy (${busy}% CPU used by other processes); waiting (budget ${QUIET_BUDGET}s)"
    sleep 4
    QUIET_BUDGET=$((QUIET_BUDGET - 5))
    busy=$(cpu_busy_percent)
  done
  if [ "$busy" -gt "$QUIET_MAX_BUSY" ]; then
    BUSY_NOTE="machine busy before start: ${busy}% CPU used by other processes"
    log "warning: $BUSY_NOTE"
  fi
}

# CPU accounting, to tell whether something else ran during the timed runs: the machine's
# user+nice+system jiffies minus what the server's process group and our reaped children (wrk)
# used. irq/softirq time is left out on both sides (loopback traffic is mostly softirq).
machine_jiffies() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }
group_jiffies() {
  local pid sum=0 v
  for pid in $(pgrep -g "$1"); do
    v=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }')
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
# Sets CHILD_J: user+sys jiffies of the children this shell has reaped (wrk, through timeout).
# `times` has to run in this very shell: inside $(...) or a pipe it would describe a fresh
# subshell, whose children are not ours. Hence a variable instead of output.
children_jiffies() {
  local _ user sys t total=0
  times >"$WORK/times"
  { read -r _; read -r user sys; } <"$WORK/times"
  for t in "$user" "$sys"; do # e.g. 1m2.345s
    local min=${t%%m*} sec=${t#*m}
    sec=${sec%s}
    local whole=${sec%.*} frac=${sec#*.}000
    total=$((total + 10#$min * 6000 + 10#$whole * 100 + 10#${frac:0:2}))
  done
  CHILD_J=$total
}

record() { # record WORKLOAD SERVER STATUS NOTE [RSS_MAIN RSS_GROUP OTHER_CPU_PCT]
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" "${6:-}" "${7:-}" >>"$RAW/status.tsv"
}

bench_one() { # bench_one WORKLOAD SERVER
  local workload=$1 server=$2 tag=$1.$2 i rss
  wait_quiet
  log "$workload / $server: starting"
  if ! start_server "$server" "$W_RACKUP" "$RAW/$tag.server.log"; then
    log "$workload / $server: FAILED to start ($FAIL_REASON)"
    record "$workload" "$server" failed "$FAIL_REASON"
    stop_group "$SERVER_PID"; wait_port_closed
    return
  fi
  if ! smoke_request; then
    log "$workload / $server: FAILED smoke request ($SMOKE)"
    record "$workload" "$server" failed "smoke request: $SMOKE"
    stop_group "$SERVER_PID"; wait_port_closed
    return
  fi
  run_wrk "$WARMUP" "$RAW/$tag.warmup.txt"
  rss=$(rss_of "$SERVER_PID")
  local m0 g0 c0 t0 m1 g1 c1 t1 other attempt=0 note
  while :; do
    m0=$(machine_jiffies); g0=$(group_jiffies "$SERVER_PID"); children_jiffies; c0=$CHILD_J; t0=$(date +%s%N)
    for ((i = 1; i <= RUNS; i++)); do
      run_wrk "$DURATION" "$RAW/$tag.run$i.txt"
      log "$workload / $server: run $i: $(grep -E 'Requests/sec' "$RAW/$tag.run$i.txt" | tr -s ' ' || echo 'no result')"
    done
    m1=$(machine_jiffies); g1=$(group_jiffies "$SERVER_PID"); children_jiffies; c1=$CHILD_J; t1=$(date +%s%N)
    # % of one CPU used by processes that are neither the server nor wrk (clamped at 0: the
    # three counters are sampled at slightly different moments).
    other=$(( ((m1 - m0) - (g1 - g0) - (c1 - c0)) * 100 * 10000000 / (t1 - t0 + 1) ))
    [ "$other" -lt 0 ] && other=0
    [ "$other" -lt "$NOISY_CPU" ] && break
    log "$workload / $server: other processes used ${other}% of a CPU during the runs"
    # Something else ran: repeat the timed runs (server still up) while retries and budget last.
    [ "$attempt" -lt "$NOISY_RETRIES" ] && [ "$QUIET_BUDGET" -gt 0 ] && kill -0 "$SERVER_PID" 2>/dev/null || break
    attempt=$((attempt + 1))
    QUIET_BUDGET=$((QUIET_BUDGET - RUNS * DURATION))
    wait_quiet
    log "$workload / $server: repeating the runs (retry $attempt of $NOISY_RETRIES)"
  done
  note=$BUSY_NOTE
  [ "$attempt" -gt 0 ] && note="${note:+$note; }runs repeated $attempt time(s) because other processes were using the CPU"
  kill -0 "$SERVER_PID" 2>/dev/null || note="server exited during the runs${note:+; $note}"
  record "$workload" "$server" ok "$note" $rss "$other"
  stop_group "$SERVER_PID"
  wait_port_closed
}

# --- the prebuilt-route probe -------------------------------------------------------------
probe_prebuilt() { # sets PREBUILT=yes|no and PREBUILT_NOTE
  local out code body logfile=$RAW/prebuilt.probe.log
  PREBUILT=no; PREBUILT_NOTE="n/a (not implemented yet)"
  if ! start_server hyperion prebuilt.ru "$logfile"; then
    PREBUILT_NOTE="n/a (probe: hyperion did not start: $FAIL_REASON)"
  else
    out=$(curl -s --max-time 5 -w '\n%{http_code}' "http://127.0.0.1:$PORT/" 2>/dev/null)
    code=${out##*$'\n'}; body=${out%$'\n'*}
    if [ "$code" = 200 ] && [ "$body" = hello ]; then
      PREBUILT=yes; PREBUILT_NOTE=""
    elif [ "$code" = 501 ]; then
      PREBUILT_NOTE="n/a (not implemented yet)"
    else
      PREBUILT_NOTE="n/a (handle_static probe answered HTTP $code: $(echo "$body" | head -c 120))"
    fi
  fi
  stop_group "$SERVER_PID"
  wait_port_closed
}

# --- plan ---------------------------------------------------------------------------------
WORKLOADS=()
for w in "${ALL_WORKLOADS[@]}"; do in_list "$w" "${BENCH_WORKLOADS:-}" && WORKLOADS+=("$w"); done
SERVERS=()
for s in "${ALL_SERVERS[@]}"; do
  in_list "$s" "${BENCH_SERVERS:-}" || continue
  if server_available "$s"; then
    SERVERS+=("$s")
  else
    log "$s: not installed, skipped"
    meta "skipped_server" "$s (not installed)"
  fi
done
[ ${#WORKLOADS[@]} -gt 0 ] || die "no workload selected (BENCH_WORKLOADS=${BENCH_WORKLOADS:-})"

PREBUILT=no; PREBUILT_NOTE=""
if in_list prebuilt "${BENCH_WORKLOADS:-}" && in_list hyperion "${BENCH_SERVERS:-}"; then
  probe_prebuilt
  log "prebuilt route (Hyperion::Server.handle_static): ${PREBUILT_NOTE:-available}"
fi

pairs=0
for w in "${WORKLOADS[@]}"; do
  define_workload "$w"
  for s in "${SERVERS[@]}"; do
    case "$s" in
      nginx) [ "$W_NGINX" = 1 ] && pairs=$((pairs + 1)) ;;
      hyperion) { [ "$w" != prebuilt ] || [ "$PREBUILT" = yes ]; } && pairs=$((pairs + 1)) ;;
      *) [ "$w" != prebuilt ] && pairs=$((pairs + 1)) ;;
    esac
  done
done
estimate=$((pairs * (WARMUP + RUNS * DURATION + 3)))
log "port $PORT; ${#WORKLOADS[@]} workloads x (${SERVERS[*]}): $pairs server runs of ${WARMUP}s + ${RUNS}x${DURATION}s; about $((estimate / 60))m$((estimate % 60))s"

meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta command "$INVOCATION"
meta duration "$DURATION"
meta runs "$RUNS"
meta warmup "$WARMUP"
meta quick "$QUICK"
meta port "$PORT"
meta cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) CPUs)"
meta kernel "$(uname -r)"
meta os "$(. /etc/os-release && echo "$PRETTY_NAME")"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${BENCH_LABEL:-}" ]; then
  HYPERION_LABEL=$BENCH_LABEL
else
  HYPERION_LABEL="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  git -C "$ROOT" diff --quiet HEAD -- src include ext_ruby CMakeLists.txt 2>/dev/null ||
    HYPERION_LABEL="$HYPERION_LABEL with uncommitted changes in the tree"
fi
meta hyperion "$("$HYPERION" -v 2>&1 | head -n1) (${HYPERION_SOURCE#"$ROOT"/}, built $(date -u -r "$HYPERION_SOURCE" '+%Y-%m-%d %H:%M UTC'); $HYPERION_LABEL)"
meta ruby "$(ruby -v)"
meta rack "$(ruby -rrack -e 'print Rack.release' 2>/dev/null)"
command -v puma >/dev/null && meta puma "$(puma --version 2>&1 | head -n1)"
command -v unicorn >/dev/null && meta unicorn "$(unicorn -v 2>&1 | head -n1)"
command -v nginx >/dev/null && meta nginx "$(nginx -v 2>&1 | head -n1)"
meta wrk "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)"
meta prebuilt "${PREBUILT_NOTE:-available}"
meta workloads "${WORKLOADS[*]}"
meta servers "${SERVERS[*]}"

# --- the runs -----------------------------------------------------------------------------
started=$SECONDS
for w in "${WORKLOADS[@]}"; do
  define_workload "$w"
  for s in "${SERVERS[@]}"; do
    if [ "$s" = nginx ] && [ "$W_NGINX" != 1 ]; then continue; fi
    if [ "$w" = prebuilt ]; then
      [ "$s" = hyperion ] || continue
      if [ "$PREBUILT" != yes ]; then record "$w" "$s" na "$PREBUILT_NOTE"; continue; fi
    fi
    bench_one "$w" "$s"
  done
done

# --- allocations per request (bench/alloc_audit.rb) ----------------------------------------
if [ "${BENCH_ALLOC:-1}" = 1 ]; then
  for s in hyperion puma; do
    in_list "$s" "${BENCH_SERVERS:-}" && server_available "$s" || continue
    wait_port_closed
    log "allocation audit: $s"
    timeout -k 5 120 ruby "$BENCH/alloc_audit.rb" --server "$s" --port "$PORT" --hyperion "$HYPERION" \
      >"$RAW/alloc.$s.txt" 2>&1 || log "allocation audit for $s failed (see $RAW/alloc.$s.txt)"
    grep -E '^RESULT' "$RAW/alloc.$s.txt" >&2
  done
fi

meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta elapsed "$((SECONDS - started))"
log "runs finished in $((SECONDS - started))s; writing the report"

ruby "$BENCH/report.rb" --raw "$RAW" --out "$RESULTS" --chart "$CHART" || die "report failed"
log "wrote $RESULTS/latest.md, $RESULTS/latest.csv and $CHART"
