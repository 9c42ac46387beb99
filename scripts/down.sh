#!/usr/bin/env bash
# Stops every service `scripts/up.sh` started, by the pids it recorded (nothing else is touched).
set -uo pipefail
cd "$(dirname "$0")/.."
for pidfile in .run/*.pid; do
  [ -e "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    printf '[down] stopped %s (pid %s)\n' "$(basename "$pidfile" .pid)" "$pid"
  fi
  rm -f "$pidfile"
done
