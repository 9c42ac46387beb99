"""The Kubernetes manifests (deploy/k8s): rendered by kustomize and checked offline.

`kubectl kustomize` renders the production overlay (skipped, with the reason, where kubectl is absent), and
`kubernetes-validate` checks every object strictly against the schemas it ships, so an unknown field or a wrong
type fails here rather than at `kubectl apply`. The rest are the properties the deployment relies on.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "production"
# The oldest Kubernetes minor the manifests promise to work on (docs/production.md).
KUBERNETES_VERSION = "1.30"

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def objects() -> list[Obj]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (it renders the manifests with its built-in kustomize)")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def _named(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _pod_specs(objects: list[Obj]) -> Iterator[tuple[str, Obj]]:
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet"):
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]


def test_every_object_validates_strictly(objects: list[Obj]) -> None:
    assert len(objects) >= 30
    for o in objects:
        kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"tcurity"}


def test_the_validator_refuses_a_broken_object(objects: list[Obj]) -> None:
    broken = copy.deepcopy(_named(objects, "Deployment", "backend"))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_backend_scales_on_cpu(objects: list[Obj]) -> None:
    hpa = _named(objects, "HorizontalPodAutoscaler", "backend")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "backend"}
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    container = _named(objects, "Deployment", "backend")["spec"]["template"]["spec"]["containers"][0]
    assert "cpu" in container["resources"]["requests"], "an HPA on CPU needs a CPU request"


def test_the_ai_server_requests_a_gpu_on_gpu_nodes(objects: list[Obj]) -> None:
    spec = _named(objects, "Deployment", "ai-server")["spec"]["template"]["spec"]
    resources = spec["containers"][0]["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == 1
    assert any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])


def test_the_ai_server_is_ready_only_with_its_models(objects: list[Obj]) -> None:
    container = _named(objects, "Deployment", "ai-server")["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"


def test_stores_registry_and_filler_are_deployed(objects: list[Obj]) -> None:
    for kind, name in [
        ("StatefulSet", "redis"),
        ("StatefulSet", "redis-collect"),
        ("StatefulSet", "postgres"),
        ("Deployment", "mlflow"),
        ("Deployment", "pool-filler"),
    ]:
        _named(objects, kind, name)
    redis = _named(objects, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]
    assert "--maxmemory-policy noeviction" in redis["command"][-1], (
        "sessions and markers must never be evicted"
    )
    mlflow = _named(objects, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]
    assert "--app-name basic-auth" in mlflow["args"][0], "the registry must not be open to the network"


def test_one_filler_fills_the_pool_and_the_backends_only_pop(objects: list[Obj]) -> None:
    """The filler is the backend's code with the backend's role (so it may call the AI server); backends do not
    fill (Phase B problems, docs/architecture.md)."""
    filler = _named(objects, "Deployment", "pool-filler")
    pod = filler["spec"]["template"]
    container = pod["spec"]["containers"][0]
    backend = _named(objects, "Deployment", "backend")["spec"]["template"]["spec"]["containers"][0]
    assert filler["spec"]["replicas"] == 1
    assert container["image"].split(":")[0] == backend["image"].split(":")[0]
    assert container["command"][:3] == ["python", "-m", "web.backend.app.filler"]
    assert pod["metadata"]["labels"]["tcurity.io/role"] == "backend"
    assert "nvidia.com/gpu" not in container["resources"]["requests"]
    config = _named(objects, "ConfigMap", "tcurity-backend")["data"]
    assert config["PROBLEM_POOL_FILLER"] == "false"
    assert int(config["PROBLEM_POOL_DEPTH"]) >= 256


def test_only_the_backend_reaches_the_ai_server(objects: list[Obj]) -> None:
    deny = _named(objects, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    policies = [
        o["spec"]
        for o in objects
        if o["kind"] == "NetworkPolicy"
        and o["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == "ai-server"
    ]
    assert len(policies) == 1
    sources = [peer for rule in policies[0]["ingress"] for peer in rule["from"]]
    pods = [p["podSelector"]["matchLabels"] for p in sources if "podSelector" in p]
    namespaces = [p["namespaceSelector"]["matchLabels"] for p in sources if "namespaceSelector" in p]
    assert pods == [{"tcurity.io/role": "backend"}]
    assert namespaces == [{"kubernetes.io/metadata.name": "monitoring"}]  # Prometheus, with the bearer token
    backend_pods = _named(objects, "Deployment", "backend")["spec"]["template"]["metadata"]["labels"]
    assert backend_pods["tcurity.io/role"] == "backend"


def test_containers_do_not_escalate_and_declare_resources(objects: list[Obj]) -> None:
    for name, spec in _pod_specs(objects):
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert "ALL" in container["securityContext"]["capabilities"]["drop"], name
            assert "memory" in container["resources"]["limits"], name
        if name != "nginx":  # the edge binds :80/:443 (namespace.yaml says why)
            assert spec["securityContext"]["runAsNonRoot"] is True, name


def test_every_secret_it_reads_is_documented(objects: list[Obj]) -> None:
    rendered = yaml.safe_dump_all(objects)
    used = set(re.findall(r"secretName: (tcurity-[a-z-]+)|name: (tcurity-[a-z-]+)\n\s+key:", rendered))
    names = {a or b for a, b in used}
    production = (ROOT / "docs" / "production.md").read_text()
    assert names and all(f"`{n}`" in production for n in names), sorted(names)
