#!/usr/bin/env bash
# Resolves every base image of docker/images.lock to the digest its tag names now (its multi-arch index,
# through `docker buildx imagetools inspect`), rewrites the lock and puts IMAGE@DIGEST into the Dockerfiles.
# Run it on a machine that reaches the registries, review the diff, and commit it with the image update.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK=docker/images.lock
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line; do
  case "$line" in ''|'#'*) printf '%s\n' "$line" >>"$tmp"; continue ;; esac
  image=${line%% *}
  new=$(docker buildx imagetools inspect "$image" --format '{{json .Manifest}}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])')
  printf '%s %s %s\n' "$image" "$new" "registry@$(date -u +%F)" >>"$tmp"
  for file in docker/*.Dockerfile; do
    sed -i -E "s#${image}(@sha256:[0-9a-f]{64})?([[:space:]]|\$)#${image}@${new}\2#g" "$file"
  done
done <"$LOCK"
mv "$tmp" "$LOCK"
trap - EXIT
