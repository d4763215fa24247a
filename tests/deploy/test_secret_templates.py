"""deploy/k8s/secret-templates/: one Secret template per service, holding every key the
overlays read from that Secret and no value, included by no kustomization (so nothing filled
in could be applied from the repository by accident)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.deploy.manifests import K8S, OVERLAYS, containers, documents, yaml_documents

TEMPLATES = K8S / "secret-templates"
# Made by others: CloudNativePG (the database users' passwords) and dev-secrets.sh.
NOT_OURS = {"scheduler-db-app", "notifier-db-app", "insights-db-app", "rituals-dev-postgres"}


def _template(path: Path) -> Any:
    (secret,) = yaml_documents(path)
    return secret


def _keys_read() -> dict[str, set[str]]:
    read: dict[str, set[str]] = defaultdict(set)
    for overlay in OVERLAYS:
        for container in containers(documents(overlay)):
            for entry in container.spec.get("env", []):
                reference = entry.get("valueFrom", {}).get("secretKeyRef")
                if reference is not None and reference["name"] not in NOT_OURS:
                    read[reference["name"]].add(reference["key"])
    return read


def test_every_key_the_manifests_read_is_in_its_template_and_no_value_is() -> None:
    templates = {path.stem: _template(path) for path in sorted(TEMPLATES.glob("*.yaml"))}
    read = _keys_read()
    assert set(read) == set(templates), "one template per Secret the overlays read"
    for name, secret in templates.items():
        assert secret["kind"] == "Secret"
        assert secret["metadata"]["name"] == name
        assert "data" not in secret, f"{name}: values go in stringData, and stay empty"
        values = secret["stringData"]
        assert set(values) == read[name], f"{name}: keys differ from what the manifests read"
        assert all(value == "" for value in values.values()), f"{name}: a value is committed"


def test_no_kustomization_includes_the_templates() -> None:
    for kustomization in K8S.rglob("kustomization.yaml"):
        assert "secret-templates" not in kustomization.read_text(), kustomization
