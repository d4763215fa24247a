"""The member import takes the CSV as a raw ``text/csv`` body or as a form upload (``curl -F
file=@members.csv``), both held to the same size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.demo.system import DatabaseFor, LocalSystem
from shared.clock import ManualClock
from tests.integration.http_edge.support import PROBLEM_JSON

IMPORT_LIMIT = 4096
CSV = (
    "email,phone,preferred_channel,prompt_consent,insights_consent\n"
    "ana@example.org,,email,yes,yes\n"
    "bo@example.org,,email,maybe,yes\n"
)


@pytest.fixture
async def system(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> AsyncIterator[LocalSystem]:
    overrides = {"member_import_max_bytes": IMPORT_LIMIT}
    async with LocalSystem(tmp_path, clock, database_for, notifier_overrides=overrides) as local:
        yield local


async def upload(
    system: LocalSystem,
    content: bytes,
    *,
    field: str = "file",
    part_type: str = "text/csv",
    raw: bool = False,
) -> tuple[int, str, Any]:
    url = f"{system.url('notifier')}/v1/members/import"
    headers = {"Authorization": f"Bearer {system.tokens['notifier']}"}
    if raw:
        data: Any = content
        headers["Content-Type"] = part_type
    else:
        data = aiohttp.FormData()
        data.add_field(field, content, filename="members.csv", content_type=part_type)
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=data, headers=headers) as response,
    ):
        kind = response.headers.get("Content-Type", "").split(";")[0]
        return response.status, kind, await response.json()


def outcome(report: dict[str, Any]) -> list[tuple[int, bool, list[str]]]:
    return [(r["row"], r["member_id"] is not None, r["errors"]) for r in report["rows"]]


async def test_a_form_upload_imports_as_the_raw_body_does(system: LocalSystem) -> None:
    status, kind, form_report = await upload(system, CSV.encode())
    assert (status, kind) == (200, "application/json"), form_report
    assert (form_report["created"], form_report["failed"]) == (1, 1)
    again = CSV.replace("ana@", "cy@").replace("bo@", "di@")
    status, _, raw_report = await upload(system, again.encode(), raw=True)
    assert status == 200, raw_report
    assert outcome(raw_report) == outcome(form_report)
    # windows-1252 declared on the part, as on the raw body's Content-Type.
    latin = "email,prompt_consent,insights_consent\nzoë@example.org,yes,no\n".encode("cp1252")
    status, _, report = await upload(system, latin, part_type="text/csv; charset=windows-1252")
    assert (status, report["created"]) == (200, 1), report


@pytest.mark.parametrize("raw", [True, False])
async def test_the_size_limit_holds_for_both(system: LocalSystem, raw: bool) -> None:
    header = "email,prompt_consent,insights_consent\n"
    big = (header + "x@example.org,yes,yes\n" * (IMPORT_LIMIT // 20)).encode()
    assert len(big) > IMPORT_LIMIT
    status, kind, problem = await upload(system, big, raw=raw)
    assert (status, kind) == (413, PROBLEM_JSON), problem
    # Just under the limit passes either way (the form's envelope is not counted).
    fits = (header + "x@example.org,yes,yes\n" * ((IMPORT_LIMIT - 100) // 22)).encode()
    assert len(fits) <= IMPORT_LIMIT
    status, _, report = await upload(system, fits, raw=raw)
    assert status == 200, report


@pytest.mark.parametrize(
    ("field", "content", "part_type", "status"),
    [
        ("csv", CSV.encode(), "text/csv", 422),  # not the field named file
        ("file", CSV.encode(), "application/pdf", 415),
        ("file", b"email,prompt_consent\nan\x00a@example.org,yes\n", "text/csv", 422),
        ("file", "email\n".encode("utf-16"), "text/csv", 422),
    ],
)
async def test_a_wrong_upload_is_a_problem_that_says_what(
    system: LocalSystem, field: str, content: bytes, part_type: str, status: int
) -> None:
    answer_status, kind, problem = await upload(system, content, field=field, part_type=part_type)
    assert (answer_status, kind) == (status, PROBLEM_JSON), problem
    assert problem["detail"]
    assert "a@example.org" not in str(problem)


async def test_other_media_types_are_refused(system: LocalSystem) -> None:
    status, kind, problem = await upload(system, b'{"email": 1}', raw=True, part_type="text/plain")
    assert (status, kind) == (415, PROBLEM_JSON)
    assert "multipart/form-data" in problem["detail"]
