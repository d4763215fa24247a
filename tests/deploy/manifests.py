"""Rendering the overlays and reading what they contain, for the checks in this folder."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
TOOLS = ROOT / ".tools"
KUBERNETES_VERSION = "1.33"

Doc = dict[str, Any]


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        # Not a skip: without kubectl nothing here is checked, and that must show as a failure.
        pytest.fail("kubectl is not on PATH: it renders the overlays (kubectl kustomize)")
    return path


def tool(venv: str, program: str) -> Path:
    """A program of a tool virtualenv, made by `make tools` if it is not there yet."""
    path = TOOLS / venv / "bin" / program
    if not (TOOLS / venv / ".installed").exists():
        subprocess.run(["make", "-s", "tools"], cwd=ROOT, check=True)
    if not path.exists():
        pytest.fail(f"{path} is missing after `make tools`")
    return path


@cache
def render(overlay: str) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize overlays/{overlay} failed:\n{result.stderr}")
    return result.stdout


# YAML is read by the tool environment's PyYAML (a pin of kubernetes-validate): the services'
# virtualenv has it only through a test dependency, and without type stubs.
_YAML_TO_JSON = (
    "import json, sys, yaml; "
    "json.dump([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sys.stdout)"
)


@cache
def _yaml_as_json(text: str) -> str:
    result = subprocess.run(
        [str(tool("kubernetes-validate", "python")), "-c", _YAML_TO_JSON],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _parsed(overlay: str) -> str:
    return _yaml_as_json(render(overlay))


def yaml_documents(path: Path) -> list[Doc]:
    """The documents of a YAML file in the repository (read as the overlays are)."""
    docs: list[Doc] = json.loads(_yaml_as_json(path.read_text()))
    return docs


def documents(overlay: str) -> list[Doc]:
    """The rendered objects, a fresh copy each call (tests may break them)."""
    docs: list[Doc] = json.loads(_parsed(overlay))
    return docs


def as_manifest(docs: list[Doc]) -> str:
    """Objects as a multi-document manifest (JSON is YAML)."""
    return "".join(f"---\n{json.dumps(d)}\n" for d in docs)


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    (found,) = (d for d in of_kind(docs, kind) if d["metadata"]["name"] == name)
    return found


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")


def pod_template(workload: Doc) -> Doc:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: Doc = spec["template"]
    return template


@dataclass(frozen=True)
class Container:
    workload: Doc
    pod: Doc  # the pod template's spec
    spec: Doc

    @property
    def where(self) -> str:
        return f"{self.workload['kind']}/{self.workload['metadata']['name']}:{self.spec['name']}"

    @property
    def is_job(self) -> bool:
        """Runs to completion (a Job, or a CronJob's): no probes, no drain."""
        return self.workload["kind"] in ("Job", "CronJob")

    @property
    def service(self) -> str:
        return str(pod_template(self.workload)["metadata"]["labels"]["app.kubernetes.io/name"])


def containers(docs: list[Doc]) -> Iterator[Container]:
    for workload in docs:
        if workload["kind"] in WORKLOAD_KINDS:
            pod = pod_template(workload)["spec"]
            for spec in pod.get("initContainers", []) + pod["containers"]:
                yield Container(workload, pod, spec)


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions In/Exists) matches labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        if operator == "In" and labels.get(key) not in expression["values"]:
            return False
        if operator == "NotIn" and labels.get(key) in expression["values"]:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True
