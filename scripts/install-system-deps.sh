#!/usr/bin/env bash
# Installs from Debian's packages what the daemon and its tests need and the machine lacks:
# janus and nats-server (tests and `make run`), and PostgreSQL and MariaDB when none answers
# on its usual loopback port and the tests are not pointed at one (TEST_POSTGRES_URL,
# TEST_MYSQL_URL): the tests then start throw-away servers from these binaries
# (test/support/local-databases.ts).
set -euo pipefail

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
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} from Debian's packages"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q "${missing[@]}"
