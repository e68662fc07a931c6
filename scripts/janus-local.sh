#!/usr/bin/env bash
# Starts a Janus for tests and `make run`, listening on loopback only.
# Usage: janus-local.sh DIR WS_PORT ADMIN_WS_PORT [extra janus flags, e.g. -s 3 -m 10]
# Writes a config folder into DIR (from Debian's /etc/janus), then execs janus in the
# foreground, so the caller's child pid is Janus itself (SIGSTOP/SIGKILL reach it).
set -euo pipefail
dir=${1:?config dir}; ws_port=${2:?ws port}; admin_port=${3:?admin ws port}; shift 3
src=${JANUS_CONFIG_SOURCE:-/etc/janus}
# Loopback unless told otherwise (the test container binds 0.0.0.0 behind its port mappings).
ip=${JANUS_BIND_IP:-127.0.0.1}
command -v janus >/dev/null || { echo "janus is not installed (apt-get install -y janus)" >&2; exit 127; }
mkdir -p "$dir"
cp "$src"/*.jcfg "$dir"/

ws="$dir/janus.transport.websockets.jcfg"
sed -i -E \
  -e "s/^(\s*)ws_port = [0-9]+/\1ws_port = $ws_port\n\1ws_ip = \"$ip\"/" \
  -e "s/^(\s*)admin_ws = false/\1admin_ws = true/" \
  -e "s/^(\s*)admin_ws_port = [0-9]+/\1admin_ws_port = $admin_port\n\1admin_ws_ip = \"$ip\"/" \
  "$ws"

# Only the WebSocket transport: the stock config would also open HTTP on 0.0.0.0:8088
# and try MQTT, RabbitMQ, Nanomsg and Unix sockets.
sed -i -E \
  -e 's/^(\s*)#?disable = "libjanus_rabbitmq.so"/\1disable = "libjanus_http.so,libjanus_rabbitmq.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so"/' \
  "$dir/janus.jcfg"

# The SIP plugin binds its signalling to loopback, so SIP tests never leave the machine.
if [ -f "$dir/janus.plugin.sip.jcfg" ]; then
  sed -i -E 's/^(\s*)#?local_ip = .*/\1local_ip = "127.0.0.1"/' "$dir/janus.plugin.sip.jcfg"
fi

# Optional: Janus's WebSocket event handler (wsevh) sends every event to JANUS_EVH_BACKEND
# (e.g. ws://127.0.0.1:8190/local). Only that handler is loaded; JANUS_EVH_GROUPING
# (true/false, default true: JSON arrays) and JANUS_EVH_JSON (indented, plain, compact;
# default the packaged file's) tune it. Unset: the event handlers stay off, as before.
if [ -n "${JANUS_EVH_BACKEND:-}" ]; then
  sed -i -E \
    -e 's/^(\s*)#?broadcast = .*/\1broadcast = true/' \
    -e 's/^(\s*)#?disable = "libjanus_sampleevh.so"/\1disable = "libjanus_sampleevh.so,libjanus_gelfevh.so,libjanus_mqttevh.so,libjanus_nanomsgevh.so,libjanus_rabbitmqevh.so"/' \
    "$dir/janus.jcfg"
  evh="$dir/janus.eventhandler.wsevh.jcfg"
  sed -i -E \
    -e 's/^(\s*)enabled = false/\1enabled = true/' \
    -e "s|^(\s*)backend = .*|\1backend = \"$JANUS_EVH_BACKEND\"|" \
    "$evh"
  if [ -n "${JANUS_EVH_GROUPING:-}" ]; then
    sed -i -E "s/^(\s*)grouping = .*/\1grouping = $JANUS_EVH_GROUPING/" "$evh"
  fi
  if [ -n "${JANUS_EVH_JSON:-}" ]; then
    sed -i -E "s/^(\s*)json = .*/\1json = \"$JANUS_EVH_JSON\"/" "$evh"
  fi
fi

# Run inside the config folder with core dumps off: Janus sometimes crashes while it is
# being stopped, and a 50 MB core file must not land in the caller's working directory.
cd "$dir"
ulimit -c 0
exec janus -F "$dir" -o -d "${JANUS_DEBUG_LEVEL:-3}" "$@"
