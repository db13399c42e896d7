#!/usr/bin/env bash
# Runs the README's two commands the way a new user would: on a pristine
# Debian 12 root (debootstrap --variant=minbase, nothing else installed),
# from a fresh clone of this repository's HEAD. A passing `make test` here,
# unlike one on a developer machine, proves no install step is missing.
#
#   sudo scripts/pristine-debian-check.sh            make serve (curl it), then make test
#   sudo scripts/pristine-debian-check.sh serve      only make serve
#   PRISTINE_DIR=/var/tmp/hp   where the root is made (default: .pristine/ in the repo, git-ignored)
#   PRISTINE_MIRROR=URL        Debian mirror (default http://deb.debian.org/debian)
#   PRISTINE_KEEP=1            keep the root afterwards (a rerun then skips debootstrap; the clone is fresh)
#
# Safety: every mount (proc, sys, dev) is made inside a private mount and pid
# namespace (unshare --mount --pid --fork --propagation private), so they all
# vanish with it even if this script is killed, and nothing leaks into the
# host's mount table. The root is deleted only after checking that nothing is
# mounted under it, and with rm --one-file-system.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHAT=${1:-both}
case "$WHAT" in serve | test | both) ;; *) sed -n '2,17p' "$0"; exit 2 ;; esac
WORK=${PRISTINE_DIR:-$REPO/.pristine}
TARGET=$WORK/bookworm
MIRROR=${PRISTINE_MIRROR:-http://deb.debian.org/debian}

log() { printf '[pristine %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root (debootstrap, chroot, mounts)"; exit 1; }
for tool in debootstrap unshare chroot findmnt git; do
  command -v "$tool" >/dev/null || { log "$tool not found (apt-get install debootstrap util-linux git)"; exit 1; }
done

cleanup() {
  [ "${PRISTINE_KEEP:-0}" = 1 ] && return
  [ -d "$TARGET" ] || return
  if findmnt -rn -o TARGET | grep -q "^$TARGET"; then
    log "something is still mounted under $TARGET; not deleting it"
    return
  fi
  rm -rf --one-file-system "$TARGET"
}
trap cleanup EXIT

if [ ! -x "$TARGET/bin/bash" ]; then
  log "debootstrap --variant=minbase bookworm into $TARGET"
  mkdir -p "$WORK"
  debootstrap --variant=minbase bookworm "$TARGET" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log"; exit 1; }
fi

# A fresh clone of HEAD, as CI gets it (uncommitted changes are not tested).
rm -rf --one-file-system "$TARGET/home/user/hyperion"
mkdir -p "$TARGET/home/user"
git clone -q --no-hardlinks "$REPO" "$TARGET/home/user/hyperion"
cp /etc/resolv.conf "$TARGET/etc/resolv.conf"

# What runs inside the root. The only things a user does before the README's
# commands: install git and make, and get the source.
cat >"$TARGET/home/user/check.sh" <<'EOF'
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
apt-get update -qq
apt-get install -y -qq --no-install-recommends make git ca-certificates >/dev/null
cd /home/user/hyperion
if [ "$1" != test ]; then
  echo "== make serve"
  make serve >/tmp/serve.log 2>&1 &
  serve=$!
  ok=""
  for _ in $(seq 1800); do  # the first run installs and builds: allow 30 min
    if ruby -rnet/http -e 'exit(Net::HTTP.get_response(URI("http://127.0.0.1:9292/")).code == "200")' 2>/dev/null; then
      ok=yes; break
    fi
    kill -0 "$serve" 2>/dev/null || break
    sleep 1
  done
  ruby -rnet/http -e 'r = Net::HTTP.get_response(URI("http://127.0.0.1:9292/")); puts "GET / -> #{r.code} #{r.body.inspect}"' || true
  pkill -TERM -f 'build/release/hyperion -b tcp://127.0.0.1:9292' || true
  wait "$serve" || true
  if [ -z "$ok" ]; then tail -40 /tmp/serve.log; echo "make serve did not serve"; exit 1; fi
  echo "make serve: served"
fi
if [ "$1" != serve ]; then
  echo "== make test"
  make test
fi
EOF

log "running the README's commands ($WHAT) in a private mount+pid namespace"
started=$SECONDS
unshare --mount --pid --fork --propagation private /bin/bash -euo pipefail -c '
  target=$1 what=$2
  mount -t proc proc "$target/proc"
  mount -t sysfs -o ro sysfs "$target/sys"
  mount --rbind /dev "$target/dev"
  mount -t tmpfs tmpfs "$target/tmp"
  exec chroot "$target" /bin/bash /home/user/check.sh "$what"
' _ "$TARGET" "$WHAT"
log "passed in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
