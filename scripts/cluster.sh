#!/usr/bin/env bash
# `make cluster`: a whole deployment of TrialDocs on this machine, as on several (README, "Production"):
#   - PostgreSQL (the machine's, 127.0.0.1:5432): its own database, made anew, migrated, with the demo loaded;
#   - its own redis-server (shared cache and throttles in DB 0, the task queue in DB 1; append-only file, so a
#     restart loses no queued task);
#   - the object store, when scripts/objectstore.sh is there (else the local folder var/cluster/media, shared by
#     both app servers: they are on one machine);
#   - two gunicorn app servers, one RQ task worker (each restarted when it dies),
#   - nginx as the load balancer on http://127.0.0.1:$CLUSTER_PORT.
# Ctrl-C (or SIGTERM) stops everything it started. Logs and data: var/cluster/.
#
# Environment: CLUSTER_DB (database name, default trialdocs_cluster), CLUSTER_PORT (8080), CLUSTER_APP_PORTS
# ("8081 8082"), CLUSTER_REDIS_PORT (6390), CLUSTER_PKI_PORT (9102: the demo PKI's TSA, OCSP and CRLs), CLUSTER_WORKERS (gunicorn workers per app server, 2), CLUSTER_THREADS (2),
# CLUSTER_DIR (var/cluster), CLUSTER_KEEP_DB=1 (keep an existing database instead of making it anew).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"

DB=${CLUSTER_DB:-trialdocs_cluster}
PORT=${CLUSTER_PORT:-8080}
APP_PORTS=(${CLUSTER_APP_PORTS:-8081 8082})
REDIS_PORT=${CLUSTER_REDIS_PORT:-6390}
PKI_PORT=${CLUSTER_PKI_PORT:-9102}
WORKERS=${CLUSTER_WORKERS:-2}
THREADS=${CLUSTER_THREADS:-2}
DIR=${CLUSTER_DIR:-$ROOT/var/cluster}
PG="-h 127.0.0.1 -p 5432 -U postgres"

for tool in nginx redis-server psql; do
  command -v "$tool" >/dev/null || { echo "make cluster needs $tool (Debian: nginx-light, redis-server, postgresql-client)" >&2; exit 1; }
done
if ! [[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]]; then echo "CLUSTER_DB must be a plain lower-case name" >&2; exit 1; fi

mkdir -p "$DIR"/{log,run,redis,media,pki,nginx/tmp}
LOG="$DIR/log"
PIDS=()   # supervisors and services to stop on exit

stop_all() {
  trap - EXIT INT TERM
  echo "Stopping the cluster..."
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # the services the supervisors started (their own process groups)
  for f in "$DIR"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 1
  for f in "$DIR"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); kill -KILL -- "-$pid" 2>/dev/null || true; rm -f "$f"
  done
  if [ -n "${OBJECTSTORE:-}" ]; then scripts/objectstore.sh stop || true; fi
  echo "Cluster stopped."
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# supervise NAME COMMAND...: run COMMAND in its own process group (its pid in run/NAME.pid), start it again 1 s
# after it exits, for as long as the cluster runs (kill -9 of a server or the worker: it comes back).
supervise() {
  local name=$1; shift
  (
    trap 'kill -TERM -- "-$(cat "$DIR/run/$name.pid" 2>/dev/null)" 2>/dev/null; exit 0' TERM
    while :; do
      setsid "$@" >>"$LOG/$name.log" 2>&1 &
      echo $! >"$DIR/run/$name.pid"
      wait $! || true
      echo "$(date -u '+%F %T') $name exited: starting it again" >>"$LOG/$name.log"
      sleep 1
    done
  ) &
  PIDS+=($!)
}

wait_for() {  # wait_for URL SECONDS
  for _ in $(seq 1 "$2"); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "$1 did not answer within $2 s (logs in $LOG)" >&2
  return 1
}

echo "== Redis on 127.0.0.1:$REDIS_PORT (append-only file in $DIR/redis) =="
supervise redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis" --appendonly yes \
  --appendfsync always --save "" --protected-mode yes
for _ in $(seq 1 30); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done

export DJANGO_SETTINGS_MODULE=cms.settings.dev
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export TRIALDOCS_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export TRIALDOCS_TASKS_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/1"
export TRIALDOCS_MEDIA_ROOT="$DIR/media"
export TRIALDOCS_PKI_DIR="$DIR/pki"
export TRIALDOCS_PUBLIC_URL="http://127.0.0.1:$PORT"
# The demo PKI's time-stamping authority, OCSP responder and CRLs (certomancer's Animator): every signature the demo
# and the app servers make is PAdES B-LTA, so they must answer before load_demo signs anything. In production
# TRIALDOCS_TSA_URL names the real TSA and the CA's certificates name their own OCSP/CRL services.
export TRIALDOCS_PKI_SERVICES_URL="http://127.0.0.1:$PKI_PORT"

if [ -x scripts/objectstore.sh ]; then
  echo "== Object store (scripts/objectstore.sh) =="
  OBJECTSTORE=1
  # The script prints the settings of the store it started (TRIALDOCS_S3_…=…): the app servers and worker use them.
  while IFS= read -r line; do
    if [[ "$line" =~ ^(export\ )?(TRIALDOCS_S3_[A-Z0-9_]*)=(.*)$ ]]; then
      value=${BASH_REMATCH[3]}; value=${value%\"}; value=${value#\"}; value=${value%\'}; value=${value#\'}
      export "${BASH_REMATCH[2]}=$value"
    fi
    echo "  $line"
  done < <(scripts/objectstore.sh start)
  # This cluster's objects under a prefix of their own (the store's data outlives a cluster, and the tests share it)
  export TRIALDOCS_S3_PREFIX="${TRIALDOCS_S3_PREFIX:-cluster-$DB}"
  echo "  export TRIALDOCS_S3_PREFIX=$TRIALDOCS_S3_PREFIX"
else
  echo "== Files: no object store script (scripts/objectstore.sh): the local folder $DIR/media, shared by both app"
  echo "   servers because they run on this one machine. Across machines, point TRIALDOCS_S3_* at an object store. =="
fi

echo "== PostgreSQL database $DB =="
if [ "${CLUSTER_KEEP_DB:-}" != 1 ]; then
  dropdb $PG --if-exists --force "$DB"
  rm -rf "${DIR:?}/media" "${DIR:?}/pki"; mkdir -p "$DIR/media" "$DIR/pki"
  redis-cli -p "$REDIS_PORT" -n 0 flushdb >/dev/null; redis-cli -p "$REDIS_PORT" -n 1 flushdb >/dev/null
fi
createdb $PG "$DB" 2>/dev/null || true
"$PY" manage.py migrate --noinput -v0
if [ "${CLUSTER_KEEP_DB:-}" != 1 ] && [ -n "${OBJECTSTORE:-}" ]; then
  # The database is new, so every object under this cluster's prefix belongs to an earlier run: remove them.
  "$PY" manage.py sweep_orphan_files --delete --min-age 0 >"$LOG/sweep.log" 2>&1 || { tail -20 "$LOG/sweep.log" >&2; exit 1; }
fi
echo "== Demo PKI services on 127.0.0.1:$PKI_PORT (manage.py pki_services; log $LOG/pki.log) =="
supervise pki "$PY" manage.py pki_services
echo "== Demo data (load_demo) =="
"$PY" manage.py load_demo --no-logins --addr "127.0.0.1:$PORT" >"$LOG/load_demo.log" 2>&1 || {
  tail -30 "$LOG/load_demo.log" >&2; exit 1; }

echo "== App servers (gunicorn, $WORKERS workers x $THREADS threads each) and the task worker =="
UPSTREAMS=""
i=0
for app_port in "${APP_PORTS[@]}"; do
  i=$((i + 1))
  supervise "app$i" env TRIALDOCS_INSTANCE="app$i" DJANGO_SETTINGS_MODULE=cms.settings.dev \
    "$PY" -m gunicorn cms.wsgi:application --bind "127.0.0.1:$app_port" --reuse-port \
    --workers "$WORKERS" --threads "$THREADS" --worker-class gthread --timeout 120 --graceful-timeout 10 \
    --access-logfile - --log-level warning
  UPSTREAMS+="    server 127.0.0.1:$app_port max_fails=1 fail_timeout=5s;"$'\n'
done
# The worker at a lower CPU priority (as the README's unit's CPUWeight and Nice): when it shares cores with an app
# server, the requests people wait for come first and the background work (B-LTA completions, exports) takes the
# idle time. Each service runs in a session of its own, so Linux schedules each as a group ("autogroup") and a
# process's nice value counts only within its group: the worker's group is niced too (/proc/self/autogroup).
supervise worker sh -c 'echo 10 >/proc/self/autogroup 2>/dev/null || true; exec nice -n 10 "$@"' lower-priority \
  env TRIALDOCS_INSTANCE=worker1 "$PY" manage.py rqworker default \
  --worker-class regulatory.task_queue.Worker --job-class django_tasks_rq.Job

USER_LINE=""
if [ "$(id -u)" = 0 ]; then USER_LINE="user root;"; fi
cat >"$DIR/nginx/nginx.conf" <<EOF
# Written by scripts/cluster.sh: the load balancer in front of the app servers.
$USER_LINE
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $LOG/nginx-error.log warn;
events { worker_connections 512; }
http {
  access_log $LOG/nginx-access.log;
  client_body_temp_path $DIR/nginx/tmp/body;
  proxy_temp_path $DIR/nginx/tmp/proxy;
  fastcgi_temp_path $DIR/nginx/tmp/fastcgi;
  uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
  scgi_temp_path $DIR/nginx/tmp/scgi;
  client_max_body_size 25m;
  upstream trialdocs {
$UPSTREAMS    keepalive 16;
  }
  server {
    listen 127.0.0.1:$PORT;
    location / {
      proxy_pass http://trialdocs;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      # A server that refuses the connection: the request goes to the other one. A POST already sent is never
      # sent twice (nginx's default for non-idempotent methods): its client sees the failure and may try again.
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 2s;
      proxy_read_timeout 120s;
    }
  }
}
EOF
nginx -t -q -c "$DIR/nginx/nginx.conf" -p "$DIR/nginx"
supervise nginx nginx -c "$DIR/nginx/nginx.conf" -p "$DIR/nginx" -g "daemon off;"

i=0
for app_port in "${APP_PORTS[@]}"; do
  i=$((i + 1)); wait_for "http://127.0.0.1:$app_port/healthz" 90
done
wait_for "http://127.0.0.1:$PORT/healthz" 30
echo
echo "TrialDocs cluster ready: http://127.0.0.1:$PORT/ (load balancer: nginx)"
i=0
for app_port in "${APP_PORTS[@]}"; do
  i=$((i + 1)); echo "  app server app$i: http://127.0.0.1:$app_port/  (log $LOG/app$i.log)"
done
echo "  health: http://127.0.0.1:$PORT/healthz -> $(curl -fsS "http://127.0.0.1:$PORT/healthz")"
echo "  task worker: log $LOG/worker.log; Redis 127.0.0.1:$REDIS_PORT; database $DB"
"$PY" manage.py demo_logins --addr "127.0.0.1:$PORT" 2>/dev/null || true
echo "Ctrl-C stops everything."
while :; do sleep 3600 & wait $! || true; done
