"""The deployment files in deploy/, checked by parsing them: Docker and Kubernetes do not run
on the build machine (deploy/README.md says so). `kubectl kustomize` renders the manifests
when kubectl is installed; it needs no cluster."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"


def load_all(path: Path) -> list[Any]:
    docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    assert docs, f"{path} holds no YAML document"
    return docs


def flag(args: list[str], name: str) -> str:
    """The value after `--name` in a redis-server argument list."""
    assert f"--{name}" in args, name
    return str(args[args.index(f"--{name}") + 1])


def env_file_keys(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.split("=", 1)[0] for line in lines if line.strip() and not line.startswith("#")}


def test_every_yaml_file_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert {f.relative_to(DEPLOY).as_posix() for f in files} >= {
        "compose.yaml",
        "k8s/kustomization.yaml",
        "k8s/redis-statefulset.yaml",
        "k8s/redis-service.yaml",
        "k8s/server-deployment.yaml",
        "k8s/server-service.yaml",
    }
    for path in files:
        load_all(path)


# ---------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (doc,) = load_all(DEPLOY / "compose.yaml")
    assert isinstance(doc, dict)
    return doc


def test_compose_redis(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert re.fullmatch(r"redis:8(\.\d+)*", redis["image"]) or "redis-stack" in redis["image"]
    args = [str(a) for a in redis["command"]]
    assert args[0] == "redis-server"
    assert flag(args, "appendonly") == "yes"
    assert flag(args, "appendfsync") in {"everysec", "always"}
    policy = flag(args, "maxmemory-policy")
    assert policy == "noeviction"  # volatile-* evicts memories, which have a TTL
    # The reason for the policy is written next to it.
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert re.search(r"#.*no TTL", text) and re.search(r"#.*allkeys", text)

    volume, mount = redis["volumes"][0].split(":")[:2]
    assert mount == "/data" and volume in compose["volumes"]

    test = " ".join(redis["healthcheck"]["test"])
    assert "redis-cli ping" in test
    assert "ports" not in redis  # only the server talks to Redis


def test_compose_server(compose: dict[str, Any]) -> None:
    server = compose["services"]["server"]
    assert server["command"] == ["aether", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert server["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / server["build"]["context"] / server["build"]["dockerfile"]).is_file()
    env = server["environment"]
    assert env["MEMORY_TYPE"] == "redis"
    assert env["MEMORY_REDIS_URL"] == "redis://redis:6379/0"  # the service name, its port
    assert "AETHER_API_KEYS" not in env  # secrets come from the env file, not this file
    (env_file,) = server["env_file"]
    assert env_file["required"] is True
    example = DEPLOY / (env_file["path"].removeprefix("./") + ".example")
    assert "AETHER_API_KEYS" in env_file_keys(example)
    assert server["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(server["healthcheck"]["test"])
    assert "8080" in " ".join(server["healthcheck"]["test"])
    assert [p.rsplit(":", 1)[1] for p in server["ports"]] == ["8080"]


def test_compose_dashboard_and_redisinsight(compose: dict[str, Any]) -> None:
    services = compose["services"]
    server, dashboard = services["server"], services["dashboard"]
    assert dashboard["image"] == server["image"]
    assert dashboard["command"] == ["aether", "ui", "--host", "0.0.0.0", "--port", "8081"]
    assert "--writable" not in dashboard["command"]  # read-only unless asked
    assert dashboard["environment"] == server["environment"]
    assert dashboard["env_file"] == server["env_file"]  # the same API keys
    assert dashboard["ports"] == ["127.0.0.1:8081:8081"]
    insight = services["redisinsight"]
    assert insight["image"].startswith("redis/redisinsight:")
    assert insight["environment"]["RI_REDIS_HOST"] == "redis"
    assert insight["ports"] == ["127.0.0.1:8003:5540"]  # loopback only, port 8003 as in 000
    volume = insight["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.12-slim$", text, re.MULTILINE)
    assert re.search(r"^RUN pip install \"?\.", text, re.MULTILINE)
    assert re.search(r"^USER ", text, re.MULTILINE)  # not root
    assert 'CMD ["aether", "serve", "--host", "0.0.0.0", "--port", "8080"]' in text
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*") :][:4] == ["*", "!pyproject.toml", "!README.md", "!src"]
    git_ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {"aether.env", "k8s/aether.env"} <= set(git_ignored)


# ---------------------------------------------------------------------------- kubernetes


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    """Every resource the kustomization lists, by (kind, name)."""
    (kustomization,) = load_all(K8S / "kustomization.yaml")
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for doc in load_all(K8S / name):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), name
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = load_all(K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk
    (generator,) = kustomization["secretGenerator"]
    assert generator["name"] == "aether-api-keys"
    for env_file in generator["envs"]:
        assert "AETHER_API_KEYS" in env_file_keys(K8S / f"{env_file}.example")


def test_kinds(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert set(manifests) == {
        ("StatefulSet", "redis"),
        ("Service", "redis"),
        ("Deployment", "aether-server"),
        ("Service", "aether-server"),
    }


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container


def _selects(workload: dict[str, Any]) -> None:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_redis_statefulset(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    sts = manifests[("StatefulSet", "redis")]
    service = manifests[("Service", "redis")]
    _selects(sts)
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"  # headless

    container = _container(sts)
    assert "command" not in container  # the image's entrypoint loads the modules
    args = [str(a) for a in container["args"]]
    assert args[0] == "redis-server"
    assert flag(args, "appendonly") == "yes"
    policy = flag(args, "maxmemory-policy")
    assert policy == "noeviction"  # allkeys-* and volatile-* both evict this project's keys
    text = (K8S / "redis-statefulset.yaml").read_text(encoding="utf-8")
    assert re.search(r"#.*no TTL", text)

    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    assert "ReadWriteOnce" in claim["spec"]["accessModes"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == flag(args, "dir") == "/data"
    for probe in ("readinessProbe", "livenessProbe"):
        assert "redis-cli ping" in " ".join(container[probe]["exec"]["command"])


def test_server_deployment(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    deployment = manifests[("Deployment", "aether-server")]
    _selects(deployment)
    assert deployment["spec"]["replicas"] == 2
    container = _container(deployment)
    assert container["args"] == ["aether", "serve", "--host", "0.0.0.0", "--port", "8080"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert get["port"] in ports or get["port"] in ports.values()

    env = {e["name"]: e for e in container["env"]}
    assert env["MEMORY_TYPE"]["value"] == "redis"
    redis_service = manifests[("Service", "redis")]
    redis_port = redis_service["spec"]["ports"][0]["port"]
    assert env["MEMORY_REDIS_URL"]["value"] == f"redis://redis:{redis_port}/0"
    assert "value" not in env["AETHER_API_KEYS"]
    ref = env["AETHER_API_KEYS"]["valueFrom"]["secretKeyRef"]
    (kustomization,) = load_all(K8S / "kustomization.yaml")
    assert ref["name"] == kustomization["secretGenerator"][0]["name"]
    assert ref["key"] == "AETHER_API_KEYS"


@pytest.mark.parametrize(
    ("service", "workload"), [("redis", "StatefulSet"), ("aether-server", "Deployment")]
)
def test_services_reach_their_pods(
    manifests: dict[tuple[str, str], dict[str, Any]], service: str, workload: str
) -> None:
    svc = manifests[("Service", service)]
    pods = manifests[(workload, service)]
    labels = pods["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    container_ports = {(p.get("name"), p["containerPort"]) for p in _container(pods)["ports"]}
    for port in svc["spec"]["ports"]:
        target = port.get("targetPort", port["port"])
        assert any(target in pair for pair in container_ports), (service, target)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_renders(tmp_path: Path) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    shutil.copy(copy / "aether.env.example", copy / "aether.env")
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(copy)], capture_output=True, text=True, timeout=60
    )
    if rendered.returncode != 0 and "unknown command" in rendered.stderr:
        pytest.skip("this kubectl has no kustomize")
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    by_kind = {d["kind"]: d for d in docs}
    secret = by_kind["Secret"]
    assert secret["metadata"]["name"].startswith("aether-api-keys-")  # content-hashed
    keys = base64.b64decode(secret["data"]["AETHER_API_KEYS"]).decode()
    assert f"AETHER_API_KEYS={keys}" in (copy / "aether.env").read_text(encoding="utf-8")
    env = {e["name"]: e for e in _container(by_kind["Deployment"])["env"]}
    assert env["AETHER_API_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
