#!/usr/bin/env bash
# HTTPS side by side: Hyperion, Puma and nginx with the same ssl:// bind and
# the same self-signed P-256 certificate, TLS 1.2 and 1.3 offered by all
# three, alternating runs (H P N H P N ...), server pinned to CPU 0 and wrk to
# CPU 1 as in bench/run.sh. Prints each run, the medians and the ratios.
#
# Workloads:
#   hello       Rack hello over keep-alive (nginx: `return 200 'hello'`)
#   close       the same with `Connection: close`: one full TLS handshake per
#               request, so this is the handshake rate
#   file_1m     a 1 MiB file over keep-alive (Rack::Files under Hyperion and
#               Puma, nginx's static handler; no sendfile under TLS for any)
#
#   bench/tls.sh [workload...]             default: hello close file_1m
#   TLS_RUNS=5 TLS_DURATION=5 TLS_CONNS=50  runs per server, seconds, wrk -c
#   TLS_WORKERS=0 TLS_THREADS=5             -w / -t for Hyperion and Puma (0: single process)
#   TLS_SERVERS="hyperion puma nginx"       a subset
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HYPERION=${HYPERION:-$ROOT/build/release/hyperion}
RUNS=${TLS_RUNS:-5} DURATION=${TLS_DURATION:-5} CONNS=${TLS_CONNS:-50}
WORKERS=${TLS_WORKERS:-0} THREADS=${TLS_THREADS:-5}
read -r -a SERVERS <<<"${TLS_SERVERS:-hyperion puma nginx}"
WORKLOADS=("$@"); [ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(hello close file_1m)
for tool in wrk taskset ruby openssl curl; do command -v $tool >/dev/null || { echo "$tool not found (scripts/install-deps.sh bench)" >&2; exit 1; }; done
for server in "${SERVERS[@]}"; do
  [ "$server" = hyperion ] || command -v "$server" >/dev/null || { echo "$server not found (scripts/install-deps.sh bench)" >&2; exit 1; }
done
PORT=$(ruby -rsocket -e 's = TCPServer.new("127.0.0.1", 0); puts s.addr[1]; s.close')
WORK=$(mktemp -d); chmod 755 "$WORK"; SERVER=
trap '[ -n "$SERVER" ] && kill -TERM -- "-$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
chmod 644 "$WORK/key.pem"  # nginx workers run unprivileged when started as root
mkdir -p "$WORK/files" && head -c 1048576 /dev/urandom >"$WORK/files/1m.bin"
BIND="ssl://127.0.0.1:$PORT?cert=$WORK/cert.pem&key=$WORK/key.pem"
cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 2048; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx-body;
  proxy_temp_path $WORK/nginx-proxy;
  fastcgi_temp_path $WORK/nginx-fastcgi;
  uwsgi_temp_path $WORK/nginx-uwsgi;
  scgi_temp_path $WORK/nginx-scgi;
  server {
    listen 127.0.0.1:$PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = / { default_type text/plain; return 200 'hello'; }
    location / { root $WORK/files; }
  }
}
EOF

start() { # start SERVER RACKUP PATH (exec: $! is the server, leader of its own group)
  case $1 in
    hyperion) exec setsid taskset -c 0 "$HYPERION" -w "$WORKERS" -t "$THREADS" -e production --no-access-log -b "$BIND" "$2" ;;
    puma) exec setsid taskset -c 0 puma -w "$WORKERS" -t "$THREADS:$THREADS" -e production -b "$BIND" "$2" ;;
    nginx) exec setsid taskset -c 0 nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" ;;
  esac >"$WORK/$1.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 150); do curl -skf -o /dev/null "https://127.0.0.1:$PORT$3" && return; sleep 0.1; done
  echo "$1 did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1
}

run_one() { # run_one SERVER RACKUP PATH [wrk args...] -> requests/s
  local server=$1 rackup=$2 path=$3; shift 3
  start "$server" "$rackup" "$path"
  taskset -c 1 wrk -t 1 -c "$CONNS" -d 1 "$@" "https://127.0.0.1:$PORT$path" >/dev/null
  taskset -c 1 wrk -t 1 -c "$CONNS" -d "$DURATION" "$@" "https://127.0.0.1:$PORT$path" | awk '/Requests\/sec/ {print $2}'
  kill -TERM -- "-$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  while ss -ltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN; do sleep 0.1; done
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

export BENCH_FILES_DIR=$WORK/files
echo "$("$HYPERION" -v 2>&1 | head -1), $(puma --version 2>/dev/null | head -1), $(nginx -v 2>&1), $(openssl version)"
echo "Hyperion/Puma -w $WORKERS -t $THREADS, nginx 1 worker; wrk -t1 -c $CONNS; ${RUNS} x ${DURATION}s; CPU 0 server, CPU 1 wrk"
for workload in "${WORKLOADS[@]}"; do
  extra=() rackup=$ROOT/bench/apps/hello.ru path=/
  case $workload in
    hello) ;;
    close) extra=(-H 'Connection: close') ;;
    file_1m) rackup=$ROOT/bench/apps/files.ru path=/1m.bin ;;
    *) echo "unknown workload $workload" >&2; exit 1 ;;
  esac
  declare -A RESULTS=()
  for i in $(seq "$RUNS"); do
    line=$(printf '%-8s run %d' "$workload" "$i")
    for server in "${SERVERS[@]}"; do
      r=$(run_one "$server" "$rackup" "$path" "${extra[@]}")
      RESULTS[$server]+="$r "
      line+=$(printf '  %s %8.0f' "$server" "$r")
    done
    echo "$line"
  done
  summary=$(printf '%-8s median' "$workload")
  declare -A MED=()
  for server in "${SERVERS[@]}"; do
    # shellcheck disable=SC2086
    MED[$server]=$(median ${RESULTS[$server]})
    summary+=$(printf '  %s %.0f' "$server" "${MED[$server]}")
  done
  for other in puma nginx; do
    [ -n "${MED[hyperion]:-}" ] && [ -n "${MED[$other]:-}" ] &&
      summary+=$(awk -v h="${MED[hyperion]}" -v o="${MED[$other]}" -v n=$other 'BEGIN {printf "  hyperion/%s %.2f", n, h / o}')
  done
  echo "$summary"
  unset RESULTS MED
done
