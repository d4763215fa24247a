"""Vendors the OpenAPI schema of a custom resource from its CRD, for validate.py.

    git show v1.29.2:config/crd/bases/postgresql.cnpg.io_clusters.yaml \
      | python deploy/k8s/checks/vendor_crd_schema.py "cloudnative-pg v1.29.2" v1

writes deploy/k8s/schemas/<group>_<kind>_<version>.json: the schema of that served version,
and where it came from. Run by hand when an operator's version changes (README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def main() -> None:
    source, version = sys.argv[1], sys.argv[2]
    crd = yaml.safe_load(sys.stdin)
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    (served,) = (v for v in crd["spec"]["versions"] if v["name"] == version)
    document = {
        "apiVersion": f"{group}/{version}",
        "kind": kind,
        "source": source,
        "schema": served["schema"]["openAPIV3Schema"],
    }
    target = SCHEMAS / f"{group}_{kind.lower()}_{version}.json"
    target.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"{target.name}\n")


if __name__ == "__main__":
    main()
