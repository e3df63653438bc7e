#!/usr/bin/env bash
# The S3-compatible object store of the tests and the local cluster: OpenStack Swift (Debian packages) with its S3
# API (s3api + tempauth), single node, everything under $TRIALDOCS_SWIFT_BASE. Adapted from shared/recipes/swift-s3.
#
#   scripts/objectstore.sh start    install the packages if missing (as root), start (idempotent), create the
#                                   bucket, print the environment variables that point TrialDocs at it
#   scripts/objectstore.sh stop     stop only the processes this script started (data and config are kept)
#   scripts/objectstore.sh status   "running" (exit 0) or "stopped" (exit 3), then the variables
#   scripts/objectstore.sh env      only the variables (for `eval "$(scripts/objectstore.sh env)"`)
#
# Settings (environment): TRIALDOCS_SWIFT_BASE (default var/swift of the checkout), TRIALDOCS_SWIFT_PORT (S3 API,
# default 8480), TRIALDOCS_SWIFT_PORTS_FROM (first of the 3 backend ports, default 6410), TRIALDOCS_SWIFT_MC_PORT
# (memcached, default 11811), TRIALDOCS_S3_BUCKET (default trialdocs). The credentials are the local store's own
# (tempauth user test:tester), not secrets: the servers listen on 127.0.0.1 only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${TRIALDOCS_SWIFT_BASE:-$ROOT/var/swift}
S3_PORT=${TRIALDOCS_SWIFT_PORT:-8480}
FIRST=${TRIALDOCS_SWIFT_PORTS_FROM:-6410}
MC_PORT=${TRIALDOCS_SWIFT_MC_PORT:-11811}
BUCKET=${TRIALDOCS_S3_BUCKET:-trialdocs}
declare -A PORT=([object]=$FIRST [container]=$((FIRST + 1)) [account]=$((FIRST + 2)) [proxy]=$S3_PORT [memcached]=$MC_PORT)
ETC=$BASE/etc RUN=$BASE/run LOG=$BASE/log NODE=$BASE/srv/node ME=$(id -un)
PACKAGES="swift swift-proxy swift-object swift-container swift-account python3-swift memcached"
SERVICES="memcached object container account proxy"

print_env() {
  echo "export TRIALDOCS_S3_ENDPOINT_URL=http://127.0.0.1:$S3_PORT"
  echo "export TRIALDOCS_S3_BUCKET=$BUCKET"
  echo "export TRIALDOCS_S3_ACCESS_KEY_ID=test:tester"
  echo "export TRIALDOCS_S3_SECRET_ACCESS_KEY=testing"
  echo "export TRIALDOCS_S3_REGION=us-east-1"
}
running() { [ -f "$RUN/$1.pid" ] && grep -qa -- "${2:-$1}" "/proc/$(cat "$RUN/$1.pid")/cmdline" 2>/dev/null; }
pattern() { if [ "$1" = memcached ]; then echo memcached; else echo "swift-$1-server"; fi; }
busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
all_running() { for s in $SERVICES; do running "$s" "$(pattern "$s")" || return 1; done; }

install_packages() {
  command -v swift-proxy-server >/dev/null && command -v memcached >/dev/null && [ -r /etc/swift/swift.conf ] && return
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "OpenStack Swift is not installed. Install it (Debian/Ubuntu): sudo apt-get install -y $PACKAGES" >&2
    exit 1
  fi
  echo "Installing OpenStack Swift (Debian packages: $PACKAGES)…" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null; }
}

configure() {
  mkdir -p "$ETC" "$RUN" "$LOG" "$NODE/d1"
  for s in object container account; do
    [ -f "$ETC/$s-server.conf" ] || cat > "$ETC/$s-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${PORT[$s]}
workers = 0
user = $ME
swift_dir = $ETC
devices = $NODE
mount_check = false

[pipeline:main]
pipeline = $s-server

[app:$s-server]
use = egg:swift#$s
CONF
  done
  [ -f "$ETC/proxy-server.conf" ] || cat > "$ETC/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $S3_PORT
workers = 0
user = $ME
swift_dir = $ETC

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
# user_<account>_<user> = <key> <groups>: S3 access key "test:tester", secret "testing"
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT
CONF
  for f in catch_errors gatekeeper healthcheck proxy-logging listing_formats copy slo dlo versioned_writes; do
    grep -q "^\[filter:$f\]" "$ETC/proxy-server.conf" ||
      printf '\n[filter:%s]\nuse = egg:swift#%s\n' "$f" "${f/-/_}" >> "$ETC/proxy-server.conf"
  done
  # Rings: 2^10 partitions, 1 replica, 1 device each (the Python API: one process instead of 9 CLI calls).
  [ -f "$ETC/object.ring.gz" ] && [ -f "$ETC/container.ring.gz" ] && [ -f "$ETC/account.ring.gz" ] ||
  /usr/bin/python3 - "$ETC" "${PORT[object]}" "${PORT[container]}" "${PORT[account]}" <<'PY'
import sys
from swift.common.ring import RingBuilder
for name, port in zip(("object", "container", "account"), map(int, sys.argv[2:])):
    b = RingBuilder(10, 1, 1)
    b.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": port, "device": "d1", "weight": 100,
               "replication_ip": "127.0.0.1", "replication_port": port, "meta": ""})
    b.rebalance(); b.get_ring().save("%s/%s.ring.gz" % (sys.argv[1], name)); b.save("%s/%s.builder" % (sys.argv[1], name))
PY
}

start() {
  install_packages
  configure
  for s in $SERVICES; do  # refuse ports someone else listens on, before starting anything
    running "$s" "$(pattern "$s")" || ! busy "${PORT[$s]}" ||
      { echo "port ${PORT[$s]} ($s) is in use by another program; set TRIALDOCS_SWIFT_PORT / _PORTS_FROM / _MC_PORT" >&2; exit 1; }
  done
  for s in $SERVICES; do
    running "$s" "$(pattern "$s")" && continue
    if [ "$s" = memcached ]; then cmd=(memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 -u "$ME")
    else cmd=("swift-$s-server" "$ETC/$s-server.conf" -v); fi  # -v: log to stderr (no syslog here)
    setsid "${cmd[@]}" >> "$LOG/$s.log" 2>&1 < /dev/null 9>&- &  # setsid: immune to the caller's Ctrl-C; not holding the lock
    echo $! > "$RUN/$s.pid"
  done
  # Wait (at most 30 s) for the backends and the proxy, then create the bucket (S3 PUT Bucket, signature v2).
  /usr/bin/python3 - "$S3_PORT" "$BUCKET" "${PORT[object]}" "${PORT[container]}" "${PORT[account]}" <<'PY' ||
import base64, hashlib, hmac, socket, sys, time, urllib.request as u
from email.utils import formatdate
proxy, bucket, deadline = sys.argv[1], sys.argv[2], time.time() + 30
while True:
    try:
        for p in sys.argv[3:]: socket.create_connection(("127.0.0.1", int(p)), 1).close()
        u.urlopen("http://127.0.0.1:%s/info" % proxy, timeout=2).read()
        break
    except OSError:
        if time.time() > deadline: sys.exit(1)
        time.sleep(0.1)
while True:
    d = formatdate(usegmt=True)
    sig = base64.b64encode(hmac.new(b"testing", ("PUT\n\n\n%s\n/%s" % (d, bucket)).encode(), hashlib.sha1).digest()).decode()
    try:
        u.urlopen(u.Request("http://127.0.0.1:%s/%s" % (proxy, bucket), method="PUT",
                            headers={"Date": d, "Authorization": "AWS test:tester:" + sig}), timeout=10).read()
        break
    except u.HTTPError as e:
        if e.code == 409: break  # BucketAlreadyOwnedByYou
        if e.code < 500 or time.time() > deadline: raise
        time.sleep(0.2)  # the account is auto-created on first use; the backends may still be warming up
PY
    { echo "Swift did not become ready within 30 s; see $LOG" >&2; exit 1; }
  echo "Object store (OpenStack Swift, S3 API) on http://127.0.0.1:$S3_PORT, bucket $BUCKET; data $NODE, logs $LOG" >&2
  print_env
}

stop() {
  for s in proxy object container account memcached; do
    f=$RUN/$s.pid; [ -f "$f" ] || continue
    pid=$(cat "$f"); pat=$(pattern "$s")
    ours() { grep -qa -- "$pat" "/proc/$pid/cmdline" 2>/dev/null; }  # never signal a recycled PID
    if ours; then
      kill -TERM "$pid"
      for _ in $(seq 50); do ours || break; sleep 0.1; done
      ours && kill -KILL "$pid"
      echo "stopped $s ($pid)" >&2
    fi
    rm -f "$f"
  done
}

mkdir -p "$BASE"
exec 9>"$BASE/.lock"  # one start/stop at a time (parallel test workers call start together)
flock 9
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if all_running; then echo "running" >&2; print_env; else echo "stopped" >&2; exit 3; fi ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
