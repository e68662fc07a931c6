#!/usr/bin/env bash
# Installs Debian's janus and nats-server when they are not on PATH (tests and `make run` need both).
set -euo pipefail
missing=()
command -v janus >/dev/null || missing+=(janus)
command -v nats-server >/dev/null || missing+=(nats-server)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} from Debian's packages"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q "${missing[@]}"
