"""Who can reach the backend directly, and whose ``X-Forwarded-For`` it believes (review 5), as deployed.

The backend's :8000 is published on the host's loopback only (Prometheus comes through nginx's metrics-only
door); no deployment believes every peer's ``X-Forwarded-For`` any more (the old ``TRUST_FORWARDED_FOR``), and
where nginx fronts the backend, ``TRUSTED_PROXIES`` names exactly nginx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT_FILES = [
    "docker-compose.main.yml",
    "docker/backend.Dockerfile",
    "scripts/up.sh",
    "deploy/k8s/base/backend.yaml",
    "redteam/stack.py",
    "bench/backend.py",
]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.main.yml").read_text())
    return loaded


def test_the_backend_port_is_published_on_loopback_only() -> None:
    services = compose()["services"]
    assert services["backend"]["ports"] == ["127.0.0.1:8000:8000"]
    published = [port for svc in services.values() for port in svc.get("ports", [])]
    assert [p for p in published if p.endswith(":8000")] == ["127.0.0.1:8000:8000"]
    # Prometheus scrapes nginx's metrics door on the private address, where the backend itself is not.
    assert any(
        p.startswith("${MAIN_PRIVATE_IP") and p.endswith(":9180:9180") for p in services["nginx"]["ports"]
    )
    prometheus = yaml.safe_load((ROOT / "deploy" / "monitoring" / "prometheus.yml").read_text())
    backend_job = next(job for job in prometheus["scrape_configs"] if job["job_name"] == "tcurity-backend")
    assert backend_job["static_configs"][0]["targets"] == ["main.tcurity.internal:9180"]


def test_no_deployment_trusts_every_forwarded_for() -> None:
    for name in DEPLOYMENT_FILES:
        assert "TRUST_FORWARDED_FOR" not in (ROOT / name).read_text(), name
    assert "TRUSTED_PROXIES=127.0.0.1 " in (ROOT / "scripts" / "up.sh").read_text()  # nginx on loopback


def test_compose_trusts_exactly_its_nginx() -> None:
    loaded = compose()
    nginx_ip = loaded["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    assert loaded["services"]["backend"]["environment"]["TRUSTED_PROXIES"] == nginx_ip
    subnet = loaded["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert (nginx_ip, subnet) == (
        "${NGINX_INTERNAL_IP:-172.30.0.10}",
        "${MAIN_INTERNAL_SUBNET:-172.30.0.0/24}",
    )
