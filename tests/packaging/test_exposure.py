"""Who can reach the backend directly, and whose ``X-Forwarded-For`` it believes (review 5), as deployed.

The backend's :8000 is published on the host's loopback only (Prometheus comes through nginx's metrics-only
door); no deployment believes every peer's ``X-Forwarded-For`` any more (the old ``TRUST_FORWARDED_FOR``), and
where nginx fronts the backend, ``TRUSTED_PROXIES`` names exactly nginx.
"""

from __future__ import annotations

import ipaddress
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
    nginx = loaded["services"]["nginx"]["networks"]["default"]
    nginx_ip, nginx_ip6 = nginx["ipv4_address"], nginx["ipv6_address"]
    assert loaded["services"]["backend"]["environment"]["TRUSTED_PROXIES"] == f"{nginx_ip},{nginx_ip6}"
    subnets = [entry["subnet"] for entry in loaded["networks"]["default"]["ipam"]["config"]]
    assert (nginx_ip, nginx_ip6, subnets) == (
        "${NGINX_INTERNAL_IP:-172.30.0.10}",
        "${NGINX_INTERNAL_IP6:-fd00:7c:30::10}",
        ["${MAIN_INTERNAL_SUBNET:-172.30.0.0/24}", "${MAIN_INTERNAL_SUBNET6:-fd00:7c:30::/64}"],
    )


def default_of(value: str) -> str:
    """The default of a compose ``${VAR:-default}`` value (the value itself when it has none)."""
    return value.split(":-", 1)[1].rstrip("}") if value.startswith("${") and ":-" in value else value


def test_ports_published_on_ipv6_reach_nginx_on_a_dual_stack_network() -> None:
    """Review finding 4: nginx's 80/443 are published on every address, IPv6 included, but the compose network
    was IPv4 only, so Docker relayed IPv6 clients through docker-proxy and nginx saw the gateway for all of them
    (one bucket for every IPv6 buyer). A port published on all addresses needs a dual-stack network, with
    nginx's fixed IPv6 address inside it and trusted by the backend."""
    loaded = compose()
    published = [str(p) for p in loaded["services"]["nginx"]["ports"]]
    on_all_addresses = [p for p in published if p.count(":") == 1]  # "80:80": no host address given
    assert on_all_addresses == ["80:80", "443:443"]
    network = loaded["networks"]["default"]
    assert network.get("enable_ipv6") is True
    subnets = [ipaddress.ip_network(default_of(c["subnet"])) for c in network["ipam"]["config"]]
    assert sorted(n.version for n in subnets) == [4, 6]
    nginx6 = ipaddress.ip_address(
        default_of(loaded["services"]["nginx"]["networks"]["default"]["ipv6_address"])
    )
    assert any(nginx6 in n for n in subnets if n.version == 6)
    trusted = loaded["services"]["backend"]["environment"]["TRUSTED_PROXIES"].split(",")
    assert str(nginx6) in [default_of(t) for t in trusted]
