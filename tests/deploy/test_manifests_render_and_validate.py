"""Both overlays render offline and are valid for Kubernetes 1.33, strictly: unknown fields
are errors, custom resources are checked against their operators' vendored schemas, and a
kind with no schema at all is an error (deploy/k8s/checks/validate.py)."""

from __future__ import annotations

import subprocess

import pytest

from tests.deploy.manifests import (
    K8S,
    KUBERNETES_VERSION,
    OVERLAYS,
    as_manifest,
    documents,
    render,
    tool,
)

VALIDATE = K8S / "checks" / "validate.py"


def validate(manifests: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("kubernetes-validate", "python")), str(VALIDATE), "-k", KUBERNETES_VERSION],
        input=manifests,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(overlay: str) -> None:
    result = validate(render(overlay))
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 problems" in result.stdout


def test_prod_uses_the_custom_resources_whose_schemas_are_vendored() -> None:
    kinds = {d["kind"] for d in documents("prod")}
    assert {
        "Cluster",
        "ScheduledBackup",
        "ScaledObject",
        "ServiceMonitor",
        "PrometheusRule",
    } <= kinds


def test_the_validator_fails_on_what_it_should() -> None:
    """A typo in a built-in kind, one in a custom resource, and a kind nobody knows."""
    docs = documents("prod")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    cluster = next(d for d in docs if d["kind"] == "Cluster")
    cluster["spec"]["instancse"] = 3
    scaled = next(d for d in docs if d["kind"] == "ScaledObject")
    scaled["spec"]["maxReplicaCount"] = "four"
    unknown = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}}
    broken = as_manifest([deployment, cluster, scaled, unknown])

    result = validate(broken)

    assert result.returncode == 1
    assert "'readinessprobe' was unexpected" in result.stdout
    assert "'instancse' was unexpected" in result.stdout
    assert "maxReplicaCount: 'four' is not of type 'integer'" in result.stdout
    assert "no schema for example.org/v1 Widget" in result.stdout
