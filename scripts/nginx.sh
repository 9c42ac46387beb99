#!/usr/bin/env bash
# nginx in front of the system, on loopback: renders web/nginx/*.template into $RUN_DIR/nginx/ and runs
# Debian's nginx as a non-daemon with its own pid and logs under $RUN_DIR (nothing in /etc or /var is used).
#
#   scripts/nginx.sh render   write and check the config; print its path
#   scripts/nginx.sh run      render, then run nginx in the foreground (what `make up` starts)
#   scripts/nginx.sh start    render, then run it in the background (pid in $RUN_DIR/nginx.pid)
#   scripts/nginx.sh stop     stop the one `start` began (by its pid)
#
# Environment: NGINX_HOST (127.0.0.1), NGINX_PORT (8080), BACKEND_PORT (8000), DEMO_PORT (5173),
# RUN_DIR (.run), SDK_DIST (web/sdk/dist).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_DIR=$(mkdir -p "${RUN_DIR:-.run}" && cd "${RUN_DIR:-.run}" && pwd)
SDK_DIST=$(cd "${SDK_DIST:-web/sdk/dist}" 2>/dev/null && pwd || echo "$PWD/web/sdk/dist")
NGINX_HOST=${NGINX_HOST:-127.0.0.1}
NGINX_PORT=${NGINX_PORT:-8080}
BACKEND_PORT=${BACKEND_PORT:-8000}
DEMO_PORT=${DEMO_PORT:-5173}
CONF=$RUN_DIR/nginx/tcurity.conf
PIDFILE=$RUN_DIR/nginx.pid
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

log() { printf '\033[1;34m[nginx]\033[0m %s\n' "$*" >&2; }

render() {
  [ -x "$NGINX" ] || { log "nginx is not installed (Debian package: nginx; make setup installs it)"; exit 1; }
  mkdir -p "$RUN_DIR/nginx"/{body,proxy,fastcgi,uwsgi,scgi}
  # As root the workers would drop to an unprivileged user that may not read this checkout; a loopback
  # development server keeps them as the invoking user instead.
  local user_directive=""
  [ "$(id -u)" -eq 0 ] && user_directive="user root;"
  local template
  for template in tcurity security-headers; do
    sed -e "s|{{RUN_DIR}}|$RUN_DIR|g" -e "s|{{SDK_DIST}}|$SDK_DIST|g" -e "s|{{HOST}}|$NGINX_HOST|g" \
      -e "s|{{PORT}}|$NGINX_PORT|g" -e "s|{{BACKEND_PORT}}|$BACKEND_PORT|g" -e "s|{{DEMO_PORT}}|$DEMO_PORT|g" \
      -e "s|{{USER_DIRECTIVE}}|$user_directive|g" \
      "web/nginx/$template.conf.template" >"$RUN_DIR/nginx/$template.conf"
  done
  "$NGINX" -t -q -c "$CONF" -p "$RUN_DIR/nginx" -e "$RUN_DIR/nginx-error.log" -g "daemon off;"
  echo "$CONF"
}

run() {
  render >/dev/null
  exec "$NGINX" -c "$CONF" -p "$RUN_DIR/nginx" -e "$RUN_DIR/nginx-error.log" -g "daemon off;"
}

start() {
  render >/dev/null
  "$NGINX" -c "$CONF" -p "$RUN_DIR/nginx" -e "$RUN_DIR/nginx-error.log" -g "daemon off;" &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 40); do
    if curl -fsS "http://$NGINX_HOST:$NGINX_PORT/health" >/dev/null 2>&1; then
      log "http://$NGINX_HOST:$NGINX_PORT (pid $(cat "$PIDFILE"))"
      return
    fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { log "nginx failed to start:"; tail -5 "$RUN_DIR/nginx-error.log" >&2; exit 1; }
    sleep 0.25
  done
  log "nginx did not answer on :$NGINX_PORT"; exit 1
}

stop() {
  [ -f "$PIDFILE" ] || return 0
  local pid
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    log "stopped (pid $pid)"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  render) render ;;
  run) run ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 render|run|start|stop" >&2; exit 2 ;;
esac
