"""``GET /v1/members``: find members by community, channel, consent and creation time; never by
a contact value, and nothing of theirs in a log line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import LocalSystem
from tests.integration.http_edge.support import PROBLEM_JSON, call
from tests.support import eventually

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA = Person("Ana", "ana@riverside.example", "Europe/London", True)
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", False, phone="+447911123456", channel="sms"
)
LATE: dict[str, Any] = {
    "phone": "+447911123499",
    "preferred_channel": "sms",
    "prompt_consent": {"given": False, "source": "form"},
    "insights_consent": {"given": False, "source": "form"},
}


async def ids(system: LocalSystem, query: str) -> list[str]:
    answer = await call(system, "notifier", "GET", f"/v1/members{query}")
    assert answer.status == 200, (query, answer.text)
    return [member["id"] for member in answer.json()["items"]]


async def test_members_are_found_by_what_the_notifier_knows_newest_first(
    system: LocalSystem, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    community = await set_up_weekly_check_in(system, (ANA, SAM))
    ana, sam = community.member_ids[ANA.email], community.member_ids[SAM.email]
    await system.advance_to(MONDAY_0900)
    await system.smtp.wait_for(1)
    system.clock.advance(timedelta(days=1))
    late_answer = await call(system, "notifier", "POST", "/v1/members", json_body=LATE)
    assert late_answer.status == 201, late_answer.text
    late = late_answer.json()["id"]

    everyone = await ids(system, "")
    # Newest first; Ana and Sam registered at the same instant, ordered by id (descending).
    assert everyone == [late, *sorted([ana, sam], reverse=True)]
    paged = [*await ids(system, "?limit=2")]
    page = (await call(system, "notifier", "GET", "/v1/members?limit=2")).json()
    second = await ids(system, f"?limit=2&cursor={page['next_cursor']}")
    assert paged + second == everyone

    async def prompted() -> list[str]:
        return sorted(await ids(system, "?community_id=riverside"))

    assert await eventually(prompted) == sorted([ana, sam])
    assert await ids(system, "?community_id=elsewhere") == []
    assert set(await ids(system, "?channel=sms")) == {sam, late}
    assert await ids(system, "?channel=email") == [ana]
    assert await ids(system, "?consent_given=insights") == [ana]
    assert set(await ids(system, "?consent_withheld=insights")) == {sam, late}
    assert set(await ids(system, "?consent_given=prompts")) == {ana, sam}
    assert await ids(system, "?consent_withheld=prompts") == [late]
    since = quote((MONDAY_0900 + timedelta(hours=1)).isoformat())
    assert await ids(system, f"?created_since={since}") == [late]
    assert set(await ids(system, f"?created_until={since}")) == {ana, sam}
    assert await ids(system, "?channel=sms&consent_given=prompts") == [sam]
    assert await ids(system, "?opted_out_of=sms") == []

    listed = (await call(system, "notifier", "GET", "/v1/members?channel=email")).json()
    assert listed["items"][0]["email"] == ANA.email  # the notifier answers with contact data
    logged = caplog.text
    for value in (ANA.email, SAM.phone or "", str(LATE["phone"])):
        assert value not in logged


@pytest.mark.parametrize(
    "query",
    [
        "?email=ana%40riverside.example",
        "?phone=%2B447911123456",
        "?contact=ana%40riverside.example",
        "?channel=pigeon",
        "?consent_given=prompts&consent_withheld=prompts",
        "?created_since=2027-01-04T09:00:00",
        "?created_since=2027-01-05T00:00:00Z&created_until=2027-01-04T00:00:00Z",
        "?limit=501",
    ],
)
async def test_contact_values_and_nonsense_are_refused_without_echo(
    system: LocalSystem, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await call(system, "notifier", "GET", f"/v1/members{query}")
    assert (answer.status, answer.content_type) == (422, PROBLEM_JSON), answer.text
    problem: dict[str, Any] = answer.json()
    assert "ana@riverside" not in answer.text
    assert "7911123456" not in answer.text
    assert problem["errors"], problem
    assert "ana@riverside" not in caplog.text
    assert "7911123456" not in caplog.text
