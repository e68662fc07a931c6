#!/usr/bin/env bash
# Installs from Debian's packages what the daemon and its tests need and the machine lacks:
# janus and nats-server (tests and `make run`), and PostgreSQL and MariaDB when none answers
# on its usual loopback port and the tests are not pointed at one (TEST_POSTGRES_URL,
# TEST_MYSQL_URL): the tests then start throw-away servers from these binaries
# (test/support/local-databases.ts). And promtool, which the monitoring tests run: unpacked
# from Debian's prometheus package into .tools/bin, without installing the package (that
# would start a Prometheus server).
set -euo pipefail
cd "$(dirname "$0")/.."

listens() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

missing=()
command -v janus >/dev/null || missing+=(janus)
command -v nats-server >/dev/null || missing+=(nats-server)
if [ -z "${TEST_POSTGRES_URL:-}" ] && ! listens 5432 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  missing+=(postgresql)
fi
if [ -z "${TEST_MYSQL_URL:-}" ] && ! listens 3306 && ! [ -x /usr/bin/mariadb-install-db ]; then
  missing+=(mariadb-server)
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=""
update_once() { [ -n "$updated" ] || $sudo apt-get update -q; updated=1; }

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from Debian's packages"
  update_once
  $sudo apt-get install -y -q "${missing[@]}"
fi

if ! command -v promtool >/dev/null && ! [ -x .tools/bin/promtool ]; then
  echo "unpacking promtool from Debian's prometheus package into .tools/bin"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  chmod 777 "$work" # apt downloads as the _apt user
  (cd "$work" && apt-get download -q prometheus) || (update_once && cd "$work" && apt-get download -q prometheus)
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
  mkdir -p .tools/bin
  mv "$work/usr/bin/promtool" .tools/bin/promtool
fi
