#!/bin/sh
# Starts MLflow with its basic-auth app, then creates the trainer and serving users (docker/mlflow/users.py) as
# the admin. The container stops if the users cannot be set up, so it never runs with missing credentials.
set -eu
: "${MLFLOW_AUTH_ADMIN_PASSWORD:?}" "${MLFLOW_TRAINER_PASSWORD:?}" "${MLFLOW_SERVING_PASSWORD:?}"
: "${MLFLOW_FLASK_SERVER_SECRET_KEY:?}"
mlflow server --app-name basic-auth --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" --serve-artifacts \
  --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION" --host 0.0.0.0 --port 5000 --workers 2 &
server=$!
trap 'kill -TERM "$server"; wait "$server"' TERM INT
MLFLOW_TRACKING_URI=http://127.0.0.1:5000 MLFLOW_TRACKING_USERNAME=admin \
  MLFLOW_TRACKING_PASSWORD="$MLFLOW_AUTH_ADMIN_PASSWORD" python /opt/tcurity/users.py || {
  kill -TERM "$server"
  exit 1
}
wait "$server"
