"""Creates (or re-keys) the MLflow users T-curity needs, once the basic-auth server answers.

- ``tcurity-trainer`` (``MLFLOW_TRAINER_PASSWORD``): training machines and the promotion step. It is granted
  ``MANAGE`` on the served registered models, which the admin creates here when they do not exist yet: any
  logged-in user may create a registered model and then manages it, so the served names must never be left
  for another user to create first.
- ``tcurity-serving`` (``MLFLOW_SERVING_PASSWORD``): the AI server. Read-only by ``default_permission = READ``,
  so it cannot register versions, set tags or move ``champion``.

Runs in the MLflow container after the server starts (``docker/mlflow/entrypoint.sh``) as the admin
(``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``). Safe to run again: it sets the passwords anew.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import urllib.request

from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient
from mlflow.tracking import MlflowClient

logger = logging.getLogger("tcurity.mlflow_users")

TRAINER = "tcurity-trainer"
SERVING = "tcurity-serving"
SERVED_MODELS = ("tcurity-phase-a-iforest", "tcurity-phase-b-rf", "tcurity-phase-b-effnet")


def wait_for_health(url: str, timeout_s: float = 120.0) -> None:
    """Waits until ``<url>/health`` answers 200 (the only unauthenticated route)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}/health did not answer within {timeout_s:.0f} s")
        time.sleep(1.0)


def ensure_user(client: AuthServiceClient, username: str, password: str) -> None:
    """Creates ``username``, or sets its password when it exists."""
    try:
        client.get_user(username)
    except MlflowException:
        client.create_user(username, password)
        logger.info("created user %s", username)
        return
    client.update_user_password(username, password)
    logger.info("user %s exists; password set", username)


def ensure_models(registry: MlflowClient, models: tuple[str, ...] = SERVED_MODELS) -> None:
    """Creates the served registered models that do not exist yet, owned by the admin."""
    for name in models:
        try:
            registry.get_registered_model(name)
        except MlflowException:
            registry.create_registered_model(name)
            logger.info("created registered model %s", name)


def grant_trainer(client: AuthServiceClient, models: tuple[str, ...] = SERVED_MODELS) -> None:
    """Grants the trainer ``MANAGE`` on the served models (register versions, write tags, move aliases)."""
    for name in models:
        client.grant_user_permission(TRAINER, "registered_model", name, "MANAGE")
        logger.info("granted %s MANAGE on %s", TRAINER, name)


def main() -> int:
    """Reads the passwords from the environment and sets up both users."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    url = os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    passwords = {
        TRAINER: os.environ["MLFLOW_TRAINER_PASSWORD"],
        SERVING: os.environ["MLFLOW_SERVING_PASSWORD"],
    }
    wait_for_health(url)
    client = AuthServiceClient(url)
    for username, password in passwords.items():
        ensure_user(client, username, password)
    ensure_models(MlflowClient(url))
    grant_trainer(client)
    return 0


if __name__ == "__main__":
    sys.exit(main())
