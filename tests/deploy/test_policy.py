"""checkov (its own virtualenv, .tools/checkov) finds nothing in either overlay apart from the
rules deploy/k8s/.checkov.yaml skips, each with its reason; and it does fail a manifest that
breaks the rules. One checkov run covers all three files (its start-up is most of its time)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.manifests import K8S, OVERLAYS, as_manifest, documents, render, tool

CONFIG = K8S / ".checkov.yaml"


def broken_manifest() -> str:
    """The prod notifier, privileged, as root, without limits or probes."""
    (deployment,) = (
        d
        for d in documents("prod")
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "notifier"
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {"privileged": True, "runAsUser": 0}
    for key in ("resources", "livenessProbe", "readinessProbe"):
        container.pop(key)
    deployment["spec"]["template"]["spec"].pop("securityContext")
    return as_manifest([deployment])


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Failed check ids by file: dev.yaml, prod.yaml, broken.yaml."""
    folder = tmp_path_factory.mktemp("checkov")
    for overlay in OVERLAYS:
        (folder / f"{overlay}.yaml").write_text(render(overlay))
    (folder / "broken.yaml").write_text(broken_manifest())
    result = subprocess.run(
        [
            str(tool("checkov", "checkov")),
            "--config-file",
            str(CONFIG),
            "-d",
            str(folder),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=folder,
    )
    report: Any = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    found: dict[str, set[str]] = {"dev.yaml": set(), "prod.yaml": set(), "broken.yaml": set()}
    for part in reports:
        for check in part["results"]["failed_checks"]:
            found[Path(check["file_path"]).name].add(check["check_id"])
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_the_policy_check(failures: dict[str, set[str]], overlay: str) -> None:
    assert failures[f"{overlay}.yaml"] == set()


def test_the_policy_check_fails_a_broken_manifest(failures: dict[str, set[str]]) -> None:
    assert {
        "CKV_K8S_16",  # privileged
        "CKV_K8S_23",  # root allowed
        "CKV_K8S_8",  # no liveness probe
        "CKV_K8S_9",  # no readiness probe
        "CKV_K8S_13",  # no memory limit
    } <= failures["broken.yaml"]


def test_every_skipped_rule_has_its_reason() -> None:
    lines = CONFIG.read_text().splitlines()
    start = lines.index("skip-check:")
    skipped = [line.strip()[2:] for line in lines[start + 1 :] if line.strip().startswith("- ")]
    assert skipped, "nothing skipped: then drop skip-check"
    for rule in skipped:
        (index,) = (i for i, line in enumerate(lines) if line.strip() == f"- {rule}")
        reason: list[str] = []
        for line in reversed(lines[:index]):
            if not line.strip().startswith("#"):
                break
            reason.insert(0, line.strip("# "))
        text = " ".join(reason)
        assert re.match(rf"{rule}\b", text), f"{rule}: the comment above it must name it"
        assert len(text.split()) >= 15, f"{rule}: the reason is too short to be one"
