"""The production registry's authentication, run for real: MLflow's basic-auth app with the image's
``basic_auth.ini`` and ``users.py`` on loopback (security review finding 7).

The trainer registers and promotes; the AI server's user reads and loads, and is refused every write; a wrong
password reads nothing. Skipped, with the reason, where Flask-WTF (the ``mlflow[auth]`` extra the image installs)
is missing.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving.models import ModelStore
from serving.settings import Settings
from tcurity import registry
from tcurity.train.behaviour import fit_isolation_forest, log_bundle

ROOT = Path(__file__).resolve().parents[2]
ADMIN, TRAINER, SERVING = "admin-password-0123456789", "trainer-password-0123", "serving-password-0123"
PHASE_A = "tcurity-phase-a-iforest"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("flask_wtf") is None,
        reason="Flask-WTF is not installed (the image installs mlflow[auth]; pip install flask-wtf to run this)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_health(url: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not start")


@pytest.fixture
def auth_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """MLflow with the image's auth config (its user store moved to ``tmp_path``) and the image's users."""
    ini = (ROOT / "docker/mlflow/basic_auth.ini").read_text()
    (tmp_path / "auth.ini").write_text(ini.replace("sqlite:////auth/", f"sqlite:///{tmp_path}/"))
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_AUTH_CONFIG_PATH": str(tmp_path / "auth.ini"),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "csrf-key-0123456789abcdef",
    }
    command = [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth"]
    command += ["--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db", "--serve-artifacts"]
    command += ["--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url)
        users_env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": url,
            "MLFLOW_TRACKING_USERNAME": "admin",
            "MLFLOW_TRACKING_PASSWORD": ADMIN,
            "MLFLOW_TRAINER_PASSWORD": TRAINER,
            "MLFLOW_SERVING_PASSWORD": SERVING,
        }
        subprocess.run([sys.executable, str(ROOT / "docker/mlflow/users.py")], env=users_env, check=True)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def _as(monkeypatch: pytest.MonkeyPatch, user: str, password: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    registry.configure()


def _refused(call: Callable[[], Any]) -> str:
    with pytest.raises(MlflowException) as refused:
        call()
    return str(refused.value.error_code)


def test_only_the_trainer_writes_and_serving_loads_read_only(
    auth_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as(monkeypatch, "tcurity-trainer", TRAINER)
    x = np.random.default_rng(0).normal(size=(200, 3))
    bundle, _ = fit_isolation_forest(x[:150], x[150:], ["a", "b", "c"], 20, 64, 1.0, 0.01, 100.0, 0)
    with mlflow.start_run(experiment_id=registry.ensure_experiment("auth-test")):
        version = str(log_bundle(bundle, PHASE_A, {"seed": 0}, {"n": 200.0}, x).version)
    assert registry.promote_challenger(PHASE_A, []).promoted

    _as(monkeypatch, "tcurity-serving", SERVING)
    client = MlflowClient()
    assert (
        _refused(lambda: client.set_registered_model_alias(PHASE_A, "champion", version))
        == "PERMISSION_DENIED"
    )
    assert _refused(lambda: client.set_model_version_tag(PHASE_A, version, "x", "y")) == "PERMISSION_DENIED"
    # The served names exist from the start (created by the admin), so no other user can create and own one.
    assert _refused(lambda: client.create_registered_model("tcurity-phase-b-rf")) == "RESOURCE_ALREADY_EXISTS"
    store = ModelStore(
        Settings(
            ai_server_token="t" * 32,
            tcurity_env="test",
            model_poll_interval_s=0.0,
            phase_b_problem_image_root=Path("/nonexistent"),
        )
    )
    assert store.refresh() == ["phase_a"]
    assert store.current.phase_a is not None and store.current.phase_a.version == version

    _as(monkeypatch, "tcurity-serving", "wrong-password")
    assert _refused(lambda: MlflowClient().search_registered_models()) == "UNAUTHENTICATED"
