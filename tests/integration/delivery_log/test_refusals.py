"""What the delivery log refuses, and how: a problem+json 4xx that names what is wrong."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from services.demo.system import LocalSystem
from tests.integration.delivery_log.support import (
    PROBLEM_JSON,
    delivery_row,
    get_log,
    store_deliveries,
)

pytestmark = pytest.mark.database

T0 = datetime(2027, 1, 3, 9, 0, tzinfo=UTC)


async def _problem(system: LocalSystem, query: str, status: int) -> dict[str, object]:
    answer = await get_log(system, f"/v1/deliveries?{query}")
    assert (answer.status, answer.content_type) == (status, PROBLEM_JSON), answer.text
    problem: dict[str, object] = answer.json()
    assert problem["status"] == status
    return problem


def _reencoded(cursor: str, change: dict[str, object]) -> str:
    document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw = json.dumps(document | change).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_a_cursor_that_is_not_ours_is_a_400_saying_so(system: LocalSystem) -> None:
    await store_deliveries(
        system,
        [delivery_row(f"d-{n}", T0 + timedelta(seconds=n), member_id="member-a") for n in range(3)],
    )
    first = (await get_log(system, "/v1/deliveries?member_id=member-a&limit=1")).json()
    cursor = first["next_cursor"]
    assert isinstance(cursor, str)

    for bad, says in [
        ("not a cursor!", "malformed"),
        (base64.urlsafe_b64encode(b"plain text").decode().rstrip("="), "malformed"),
        ("A" * 600, "malformed"),
        (_reencoded(cursor, {"after": ["yesterday", "d-1"]}), "not issued by this endpoint"),
        (_reencoded(cursor, {"after": ["2027-01-03T09:00:00", "d-1"]}), "not issued"),
        (_reencoded(cursor, {"after": [1, 2, 3]}), "not issued"),
        (_reencoded(cursor, {"v": 2}), "not issued"),
    ]:
        problem = await _problem(system, f"member_id=member-a&cursor={quote(bad)}", 400)
        assert says in str(problem["detail"]), (bad, problem)
        assert str(problem["detail"]).startswith("cursor: ")
    # A cursor goes with the filters it was issued for.
    problem = await _problem(system, f"member_id=member-b&cursor={cursor}", 400)
    assert "other filters" in str(problem["detail"])
    problem = await _problem(system, f"cursor={cursor}", 400)
    assert "other filters" in str(problem["detail"])
    # ...but not with the page size, which may change between pages.
    answer = await get_log(system, f"/v1/deliveries?member_id=member-a&limit=5&cursor={cursor}")
    assert [item["id"] for item in answer.json()["items"]] == ["d-1", "d-0"]


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("status=lost", "status", "Input should be"),
        ("channel=pigeon", "channel", "Input should be 'email' or 'sms'"),
        ("since=2027-01-04T09:00:00", "since", "UTC offset"),
        ("until=2027-01-04", "until", "UTC offset"),
        ("since=last%20week", "since", "RFC 3339"),
        ("since=1767225600", "since", "RFC 3339"),
        ("since=2027-01-04T09:00:00+01:00", "since", "%2B"),  # the + arrived as a space
        ("since=2027-01-04T09:00:00Z&until=2027-01-04T09:00:00Z", "query", "before until"),
        ("limit=0", "limit", "greater than or equal to 1"),
        ("limit=501", "limit", "less than or equal to 500"),
        ("limit=lots", "limit", "valid integer"),
        ("stauts=sent", "stauts", "Extra inputs are not permitted"),
        (f"member_id={'m' * 65}", "member_id", "at most 64 characters"),
    ],
)
async def test_bad_parameters_are_a_422_naming_the_field(
    system: LocalSystem, query: str, field: str, says: str
) -> None:
    problem = await _problem(system, query, 422)
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert any(error["location"][-1] == field and says in error["message"] for error in errors), (
        errors
    )
    assert says in str(problem["detail"])


async def test_the_log_is_for_operators_only(system: LocalSystem) -> None:
    for token in ("", "not-the-token", system.tokens["scheduler"]):
        answer = await get_log(system, "/v1/deliveries", token=token)
        assert (answer.status, answer.content_type) == (401, PROBLEM_JSON)
        assert "operator bearer token" in answer.json()["detail"]
    # Nor is it on the members' and providers' listener.
    answer = await get_log(system, "/v1/deliveries", listener="notifier-public")
    assert (answer.status, answer.content_type) == (404, PROBLEM_JSON)
