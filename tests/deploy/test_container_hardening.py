"""What every pod and container in both overlays must have (stack notes, "Kubernetes,
offline"): probes, requests and a memory limit, the restricted securityContext, no service
account token, a writable /tmp only as an emptyDir, a grace period above the drain, a
PodDisruptionBudget, a NetworkPolicy besides the default deny, and a pinned image."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import (
    OVERLAYS,
    Container,
    Doc,
    containers,
    documents,
    of_kind,
    selects,
)

# preStop sleep (5 s) + FastStream's graceful_timeout (15 s, shared/runtime.py) + closing pools.
DRAIN_S = 25


def all_containers() -> list[Container]:
    return [c for overlay in OVERLAYS for c in containers(documents(overlay))]


@pytest.mark.parametrize("container", all_containers(), ids=lambda c: c.where)
def test_container_is_hardened(container: Container) -> None:
    check_hardened(container)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("readOnlyRootFilesystem", False),
        ("allowPrivilegeEscalation", True),
        ("capabilities", {"drop": ["NET_RAW"]}),
        ("runAsUser", 0),
    ],
)
def test_a_weakened_container_is_caught(key: str, value: object) -> None:
    container = next(c for c in containers(documents("prod")) if not c.is_job)
    container.spec["securityContext"][key] = value
    with pytest.raises(AssertionError):
        check_hardened(container)


def test_a_container_without_a_probe_is_caught() -> None:
    container = next(c for c in containers(documents("prod")) if not c.is_job)
    del container.spec["readinessProbe"]
    with pytest.raises(AssertionError, match="no readinessProbe"):
        check_hardened(container)


def check_hardened(container: Container) -> None:
    spec, pod = container.spec, container.pod
    context = spec["securityContext"]
    assert context["runAsNonRoot"] is True
    assert isinstance(context["runAsUser"], int)
    assert context["runAsUser"] >= 10000  # above any host user's
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context.get("privileged", False) is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # Service env vars could shadow settings

    resources = spec["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]

    tmp = next(m for m in spec["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume

    image = spec["image"]
    assert ":" in image.rsplit("/", 1)[-1], f"{image}: no tag"
    assert not image.endswith(":latest"), image
    if container.is_job:
        return  # a Job runs to completion: nothing to probe, no grace needed past its work
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe in spec, f"{container.where}: no {probe}"
    assert pod["terminationGracePeriodSeconds"] > DRAIN_S


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_workload_has_a_budget_and_a_network_policy(overlay: str) -> None:
    docs = documents(overlay)
    budgets = of_kind(docs, "PodDisruptionBudget")
    policies = of_kind(docs, "NetworkPolicy")
    default_deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert any(set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in default_deny)
    for workload in docs:
        if workload["kind"] not in ("Deployment", "StatefulSet"):
            continue
        labels = workload["spec"]["template"]["metadata"]["labels"]
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        assert any(selects(b["spec"]["selector"], labels) for b in budgets), name
        assert any(
            selects(p["spec"]["podSelector"], labels)
            and p["spec"]["podSelector"] != {}
            and "Ingress" in p["spec"]["policyTypes"]
            for p in policies
        ), f"{name}: no ingress allowed by any policy"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_reaches_only_public_listeners(overlay: str) -> None:
    (ingress,) = of_kind(documents(overlay), "Ingress")
    backends = {
        (path["backend"]["service"]["name"], path["backend"]["service"]["port"]["name"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {("notifier-public", "public"), ("insights-analysts", "analysts")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_notifier_scales_and_nothing_else_owns_its_replicas(overlay: str) -> None:
    docs = documents(overlay)
    scalers: list[Doc] = [
        d
        for d in docs
        if d["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")
        and d["spec"]["scaleTargetRef"]["name"] == "notifier"
    ]
    assert len(scalers) == 1
    (notifier,) = (d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "notifier")
    assert "replicas" not in notifier["spec"]
    if overlay == "prod":
        assert scalers[0]["kind"] == "ScaledObject"
        (trigger,) = (t for t in scalers[0]["spec"]["triggers"] if t["type"] == "nats-jetstream")
        assert trigger["metadata"]["consumer"] == "notifier-ritual-due"
