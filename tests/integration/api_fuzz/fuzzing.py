"""Drive schemathesis over every operation of one running API (blocking: run it in a thread).

The test's event loop serves the APIs (the ``system`` fixture), so schemathesis, which calls
them synchronously over HTTP, runs in a worker thread meanwhile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from schemathesis import APIOperation, Case, CheckFunction
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.generation.overrides import with_config_headers
from schemathesis.specs.openapi.schemas import OpenApiSchema

# How schemathesis makes cases: the schema's examples, the deterministic coverage phase
# (boundaries, missing, extra and wrongly typed values, positive and negative), and Hypothesis
# fuzzing (``max_examples`` per operation, positive and negative).
MODES = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]


@dataclass
class OperationRun:
    label: str
    statuses: Counter[int] = field(default_factory=Counter)
    failure: str | None = None

    @property
    def calls(self) -> int:
        return sum(self.statuses.values())


def _caller(run: OperationRun, checks: Sequence[CheckFunction]) -> Callable[[Case[Any]], None]:
    def call(case: Case[Any]) -> None:
        response = case.call()
        run.statuses[response.status_code] += 1
        case.validate_response(response, checks=list(checks))

    return call


def _deletes_last(operation: APIOperation[Any, Any, Any, Any]) -> tuple[bool, str]:
    # Seeded rows stay for every other operation; the DELETEs remove them at the end.
    return operation.method.upper() == "DELETE", operation.label


def fuzz_api(
    base_url: str,
    headers: dict[str, str],
    settings: hypothesis.settings,
    checks: Sequence[CheckFunction],
    prepare: Callable[[OpenApiSchema], None] = lambda _schema: None,
) -> list[OperationRun]:
    """Fuzz every operation in ``base_url``/openapi.json, one Hypothesis run each; failures
    are kept rather than raised, so one bad operation does not hide another."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=30)
    schema.config.update(base_url=base_url, headers=headers, request_timeout=30)
    prepare(schema)
    operations: list[APIOperation[Any, Any, Any, Any]] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise AssertionError(f"the OpenAPI is not valid: {result.err()}")
        operations.append(result.ok())
    runs: list[OperationRun] = []
    for operation in sorted(operations, key=_deletes_last):
        run = OperationRun(operation.label)
        runs.append(run)
        test = create_test(
            operation=operation,
            test_func=settings(_caller(run, checks)),
            config=HypothesisTestConfig(
                project=schema.config,
                modes=MODES,
                override=with_config_headers(schema.config, operation=operation),
            ),
        )
        try:
            test()
        except (Exception, FailureGroup) as error:  # failed checks, or no answer at all
            run.failure = f"{type(error).__name__}: {error}"
    return runs
