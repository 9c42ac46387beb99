#!/usr/bin/env bash
# Rolls one server to an image tag, gates on readiness, and rolls back to the previous tag when the gate fails.
# Runs ON the server (the deploy workflow pipes it over SSH):
#
#   rollout.sh main|gpu NEW_TAG
#
# The server keeps its compose file and env file in $TCURITY_DIR (/opt/tcurity): docker-compose.<role>.yml and
# <role>.env (secrets, mode 600), and the tag it runs in $TCURITY_DIR/<role>.tag (the rollback target).
set -euo pipefail

ROLE=${1:?usage: rollout.sh main|gpu NEW_TAG}
NEW_TAG=${2:?usage: rollout.sh main|gpu NEW_TAG}
DIR=${TCURITY_DIR:-/opt/tcurity}
GATE_S=${GATE_S:-300}
case "$ROLE" in
  main) READY_URL=${READY_URL:-http://127.0.0.1:8000/api/ready} ;;  # the backend's own port: nginx hides it
  gpu) READY_URL=${READY_URL:-http://127.0.0.1:9000/ready} ;;
  *) echo "role must be main or gpu" >&2; exit 2 ;;
esac
[[ $NEW_TAG =~ ^[0-9a-f]{7,40}$ ]] || { echo "tag must be a git SHA, got '$NEW_TAG'" >&2; exit 2; }

cd "$DIR"
TAG_FILE=$DIR/$ROLE.tag
PREV_TAG=$(cat "$TAG_FILE" 2>/dev/null || true)

log() { printf '[rollout %s] %s\n' "$ROLE" "$*" >&2; }

compose() {
  TCURITY_TAG=$1 docker compose -p "tcurity-$ROLE" -f "docker-compose.$ROLE.yml" --env-file "$ROLE.env" "${@:2}"
}

gate() {
  # Ready = the readiness endpoint answers 200 (the backend's checks Redis and the AI server; the AI server's
  # checks every champion model is loaded).
  local deadline=$((SECONDS + GATE_S))
  while ((SECONDS < deadline)); do
    if curl -fsSk --max-time 3 -H "Host: ${PUBLIC_HOST:-localhost}" "$READY_URL" >/dev/null; then
      return 0
    fi
    sleep 5
  done
  return 1
}

log "pulling $NEW_TAG (running: ${PREV_TAG:-none})"
compose "$NEW_TAG" pull --quiet
compose "$NEW_TAG" up -d --remove-orphans --wait --wait-timeout "$GATE_S" || log "compose --wait reported unhealthy"
if gate; then
  echo "$NEW_TAG" >"$TAG_FILE"
  log "ready on $NEW_TAG"
  exit 0
fi

log "not ready within ${GATE_S}s on $NEW_TAG"
compose "$NEW_TAG" ps >&2 || true
if [ -z "$PREV_TAG" ]; then
  log "no previous tag to roll back to"
  exit 1
fi
log "rolling back to $PREV_TAG"
compose "$PREV_TAG" up -d --remove-orphans --wait --wait-timeout "$GATE_S" || true
if gate; then
  log "rolled back: ready on $PREV_TAG"
else
  log "ROLLBACK NOT READY on $PREV_TAG: page the on-call"
fi
exit 1
