#!/usr/bin/env bash
# `make run`: the daemon in the foreground with CONFIG, on a loopback NATS (4222) and
# Janus (8188), each started here only when nothing listens on its port yet.
# Ctrl-C stops the daemon gracefully, then everything this script started.
set -euo pipefail
config=${1:-config/example.json}
here=$(cd "$(dirname "$0")/.." && pwd)
state=$(mktemp -d /tmp/janus-nats-bridge-run.XXXXXX)
started=()

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cleanup() {
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

wait_for() {
  for _ in $(seq 1 100); do listening "$1" && return 0; sleep 0.1; done
  echo "nothing listens on 127.0.0.1:$1 after 10 s; see $2" >&2
  return 1
}

if listening 4222; then
  echo "NATS: using the server already on 127.0.0.1:4222"
else
  echo "NATS: starting nats-server on 127.0.0.1:4222 (log: $state/nats.log)"
  setsid nats-server -a 127.0.0.1 -p 4222 >"$state/nats.log" 2>&1 &
  started+=($!)
  wait_for 4222 "$state/nats.log"
fi

if listening 8188; then
  echo "Janus: using the server already on 127.0.0.1:8188"
else
  echo "Janus: starting janus on 127.0.0.1:8188, admin API on 7188 (log: $state/janus.log)"
  setsid bash "$here/scripts/janus-local.sh" "$state/janus" 8188 7188 >"$state/janus.log" 2>&1 &
  started+=($!)
  wait_for 8188 "$state/janus.log"
fi

echo "daemon: node dist/main.js --config $config (Ctrl-C to stop)"
# In the foreground and not exec'd: Ctrl-C reaches the daemon (the servers above run in
# their own sessions and do not get it), and the EXIT trap still stops what we started.
status=0
node "$here/dist/main.js" --config "$config" || status=$?
exit $status
