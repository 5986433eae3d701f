#!/usr/bin/env bash
# Several instances on one origin: N servers (default 3) on PostgreSQL and Redis behind
# nginx (round robin, no sticky sessions), serving the SPA and the API. Prints the URL
# and, on a new database, the demo logins; Ctrl-C stops everything.
#
#   scripts/cluster.sh                  # 3 instances, nginx on 127.0.0.1:8080
#   INSTANCES=5 PORT=9000 scripts/cluster.sh
#
# Environment (defaults in brackets):
#   INSTANCES [3]  PORT [8080] (nginx; the servers take the ports after it)
#   DATABASE_URL [postgres://postgres@127.0.0.1:5432/jwt_refresh_cluster, created if missing]
#   REDIS_URL [redis://127.0.0.1:6379]
#   SECRET_KEY_FILE [data/cluster-secret.key, created if missing]: every instance must
#     share it, like the database.
#   DEMO_USERS [true]; SKIP_BUILD=1 uses the built binary (SERVER_BIN, default the
#     release build) and dist/ as they are.
#   Any other server setting (ACCESS_TTL, ...) passes through to every instance.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

instances="${INSTANCES:-3}"
port="${PORT:-8080}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/jwt_refresh_cluster}"
export SECRET_KEY_FILE="${SECRET_KEY_FILE:-$root/data/cluster-secret.key}"
# nginx is the only peer the servers see: believe its X-Forwarded-For, and do not cap
# its connections as if it were one client.
export TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1/32}"
export STATIC_DIR="${STATIC_DIR:-$root/dist}"
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ -z "${SKIP_BUILD:-}" ]; then
  source scripts/setup.sh
  step "building the SPA and the release server"
  trunk build --release
  cargo build --release --quiet -p server
fi
server="${SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/server}"

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  step "installing nginx (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
  step "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
db_name="${DATABASE_URL##*/}"
db_admin="${DATABASE_URL%/*}/postgres"
if ! psql -q "$db_admin" -At -c "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1; then
  step "creating database $db_name"
  psql -q "$db_admin" -c "CREATE DATABASE \"$db_name\"" >/dev/null
fi
if [ ! -f "$SECRET_KEY_FILE" ]; then
  mkdir -p "$(dirname "$SECRET_KEY_FILE")"
  (umask 077 && head -c 32 /dev/urandom >"$SECRET_KEY_FILE")
fi

run="$(mktemp -d)"
pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run"
}
trap stop EXIT INT TERM

wait_for() { # wait_for LOG: until the server in LOG prints its URL
  for _ in $(seq 1 300); do
    grep -q '^Serving on' "$1" && return 0
    sleep 0.1
  done
  echo "an instance did not start:" >&2
  cat "$1" >&2
  exit 1
}

upstreams=""
for i in $(seq 1 "$instances"); do
  addr="127.0.0.1:$((port + i))"
  log="$run/server-$i.log"
  # The first instance creates the demo users on a new database, before the others.
  if [ "$i" = 1 ]; then demo="${DEMO_USERS:-true}"; else demo=false; fi
  ADDR="$addr" DEMO_USERS="$demo" "$server" serve >"$log" 2>&1 &
  pids+=($!)
  wait_for "$log"
  if [ "$i" = 1 ]; then sed -n '/^Created demo users/,/^Serving on/p' "$log" | grep -v '^Serving on' || true; fi
  upstreams+="    server $addr;"$'\n'
done

# The load balancer's site is deploy/nginx/app.conf (compose.yaml uses it too), on our
# port, in front of these instances.
sed "s/listen 8080;/listen 127.0.0.1:$port;/" deploy/nginx/app.conf >"$run/app.conf"
cat >"$run/nginx.conf" <<EOF
worker_processes 1;
pid $run/nginx.pid;
error_log $run/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $run;
  proxy_temp_path $run;
  fastcgi_temp_path $run;
  uwsgi_temp_path $run;
  scgi_temp_path $run;
  upstream app {
$upstreams    keepalive 16;
  }
  include $run/app.conf;
}
EOF
"$nginx_bin" -p "$run" -c "$run/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "Cluster of $instances instances behind nginx (logs in $run)"
echo "Serving on http://127.0.0.1:$port"
wait -n "${pids[@]}"
echo "a process of the cluster exited; stopping the rest" >&2
exit 1
