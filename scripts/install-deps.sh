#!/usr/bin/env bash
# Installs (from Debian packages only) whatever is missing for the given
# profile. Idempotent: with everything present it changes nothing.
#   scripts/install-deps.sh build   compiler, libraries, llhttp sources
#   scripts/install-deps.sh test    build + what the test suite talks to
#   scripts/install-deps.sh bench   test + peers and load tools for bench/
set -euo pipefail

profile=${1:-build}
# ruby-rack: the server loads config.ru with Rack::Builder, so it is needed to run at all.
# dpkg-dev, file: `make package` (CPack's .deb finds the Depends with dpkg-shlibdeps, which needs both).
build=(build-essential cmake pkg-config ruby ruby-dev ruby-rack libssl-dev libnghttp2-dev liburing-dev node-llhttp
       libfmt-dev libspdlog-dev zlib1g-dev libhiredis-dev googletest libgtest-dev dpkg-dev file)
# node-ws: the strict WebSocket client of the e2e tests; redis-server: started by the pub/sub tests;
# wrk: the load the restart tests count failures under; systemd: systemd-socket-activate (no daemon runs)
# and systemd-analyze verify; groff-base: the packaging test checks the man page with groff.
test=(ruby-sinatra ruby-rails curl nghttp2-client python3-h2 ruby-grpc clang libclang-rt-14-dev nodejs node-ws
      redis-server ruby-faye-websocket ruby-actioncable wrk systemd groff-base)
bench=(puma nginx-light wrk gnuplot-nox util-linux curl openssl)

case "$profile" in
  build) wanted=("${build[@]}") ;;
  test) wanted=("${build[@]}" "${test[@]}") ;;
  bench) wanted=("${build[@]}" "${test[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
