"""Validates rendered manifests offline, strictly, and fails on anything it cannot check.

Runs in the kubernetes-validate tool environment (.tools/kubernetes-validate), never the
services' virtualenv:

    kubectl kustomize deploy/k8s/overlays/prod | python deploy/k8s/checks/validate.py -k 1.33

Built-in kinds: kubernetes-validate's bundled schemas for that Kubernetes version, strict
(unknown fields are errors). Custom resources: the schemas vendored in ../schemas from the
operators' CRDs, made strict the same way (an object schema that lists its properties allows
no others unless the CRD preserves unknown fields). A kind with neither is an error, where
kubernetes-validate would only warn. Exit status 0 when every document is valid, else 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def strict(schema: Any) -> Any:
    """The schema with additionalProperties false wherever the CRD lists properties and does
    not allow others (the API server would prune them silently: a typo would go unnoticed)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


def custom_resource_schemas() -> dict[tuple[str, str], Any]:
    schemas = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        document = json.loads(path.read_text())
        schemas[(document["apiVersion"], document["kind"])] = strict(document["schema"])
    return schemas


def problems(document: Any, version: str, custom: dict[tuple[str, str], Any]) -> list[str]:
    if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
        return ["not a Kubernetes object (no apiVersion and kind)"]
    try:
        kv.validate(document, version, strict=True)
    except kv.SchemaNotFoundError:
        schema = custom.get((document["apiVersion"], document["kind"]))
        if schema is None:
            return [
                f"no schema for {document['apiVersion']} {document['kind']}: vendor its CRD's "
                "schema into deploy/k8s/schemas (checks/vendor_crd_schema.py)"
            ]
        validator = jsonschema.Draft202012Validator(schema)
        return [
            f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
            for error in sorted(validator.iter_errors(document), key=str)
        ]
    except kv.ValidationError as error:
        path = ".".join(str(p) for p in error.absolute_path) or "(top)"
        return [f"{path}: {error.message}"]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", "--kubernetes-version", required=True)
    parser.add_argument("files", nargs="*", help="rendered manifests (default: stdin)")
    args = parser.parse_args()
    texts = [Path(f).read_text() for f in args.files] or [sys.stdin.read()]
    custom = custom_resource_schemas()
    failed = checked = 0
    for text in texts:
        for document in yaml.safe_load_all(text):
            if document is None:
                continue
            checked += 1
            name = f"{document.get('kind')}/{document.get('metadata', {}).get('name')}"
            for problem in problems(document, args.kubernetes_version, custom):
                failed += 1
                sys.stdout.write(f"INVALID {name}: {problem}\n")
    if checked == 0:
        sys.stdout.write("INVALID: no documents\n")
        return 1
    sys.stdout.write(f"{checked} documents, {failed} problems\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
