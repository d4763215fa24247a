"""``rituals demo --serve``, in process: the demo's own code path with a smaller synthetic
community, through the real services, ending with the released table; then the system stays
up, the printed analyst address and token work, and SIGINT stops it cleanly.

The community here has 130 members (the demo's has 150, for chronic loneliness in most runs
too): enough for participation's counts to stand 6σ clear of the suppression rules (the test checks
that before relying on it), so it is published except with probability about 2·10⁻⁹; the
small community's values are withheld except with some chance each, and all nine of its
period values pass together with probability below 10⁻¹².
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.demo.crowd import CrowdShape, assured_indicators, crowd, weekly_dates
from services.demo.run import ASSURED_SIGMAS, FIRST_CHECK_IN, SMALL_ID, WEEKS, DemoConfig, run_demo
from services.demo.scenario import ANCHOR_ITEM
from services.demo.story import (
    FRAN_ANSWER,
    GUS_ANSWER,
    IVO_ANSWER,
    NUDGE_AFTER,
    QUIET_ENDS,
    STORY_DAY,
    STORY_ID,
    STORY_NAME,
    STORY_PEOPLE,
)
from services.demo.system import DatabaseFor
from services.insights.domain.indicators import INDICATORS, Kind
from services.insights.settings import InsightsSettings
from services.notifier.domain.pseudonyms import respondent_key
from shared.settings import Environment
from shared.weeks import weeks_between
from tests.support import eventually, read_database, with_zones

SHAPE = CrowdShape(size=130, community_id="meadowbank")
CONFIG = DemoConfig(crowd=SHAPE, crowd_name="Meadowbank Connects")
TITLES = {f"{i.number}. {i.title}": i.code for i in INDICATORS}
LINE = re.compile(
    r"^  (?P<title>\d+\. .{0,40}?)?\s*(?P<area>Meadowbank Connects|Riverside Neighbours|"
    r"region \S+)\s+(?P<value>\S+)\s+(?P<interval>\[.*?\]|-)\s+(?P<n>\S+)\s+(?P<flag>\S+)$"
)


def _table(lines: list[str]) -> dict[tuple[str, str], dict[str, str]]:
    """(indicator code, area label) -> the printed cells of the period table."""
    start = next(i for i, line in enumerate(lines) if line.startswith("Indicators released"))
    cells: dict[tuple[str, str], dict[str, str]] = {}
    code = ""
    for line in lines[start:]:
        match = LINE.match(line)
        if match is None:
            continue
        if match["title"]:
            code = TITLES[match["title"].strip()]
        cells[(code, match["area"])] = match.groupdict()
    return cells


@pytest.mark.timeout(900)
async def test_demo_releases_a_table_and_serves_until_sigint(
    tmp_path: Path, database_for: DatabaseFor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = InsightsSettings(environment=Environment.dev)
    people = crowd(SHAPE, weekly_dates(FIRST_CHECK_IN, WEEKS))
    assert "participation" in assured_indicators(people, settings, ASSURED_SIGMAS)

    lines: list[str] = []
    demo = asyncio.create_task(
        run_demo(tmp_path, CONFIG, database_for=database_for, serve=True, say=lines.append)
    )
    await eventually(lambda: demo.done() or "Press Ctrl-C to stop." in lines, timeout_s=800)
    assert not demo.done(), lines[-20:]
    output = "\n".join(lines)

    # The printed address and token are the analysts' API, and it serves what was printed.
    address = re.search(r"Dashboard \(analysts\):\s+(http://127\.0\.0\.1:\d+)/dashboard", output)
    token = re.search(r"sign in with the analyst token (\S+)", output)
    assert address
    assert token
    headers = {"Authorization": f"Bearer {token[1]}"}
    url = f"{address[1]}/v1/values?period=2027-P01&limit=500"
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as response:
        assert response.status == 200
        values = (await response.json())["items"]
    os.kill(os.getpid(), signal.SIGINT)
    assert await asyncio.wait_for(demo, timeout=60) == 0
    assert lines[-1] == "Stopping."
    assert "Demo complete" in output

    # The table shows what insights released: published values for the large community
    # (participation assured), c for every value of the small one that was withheld.
    table = _table(lines)
    released = {(row["indicator"], row["area"]): row for row in values}
    for indicator in INDICATORS:
        for area_id, label in ((SHAPE.community_id, "Meadowbank Connects"), (SMALL_ID, None)):
            row = released[(indicator.code, area_id)]
            printed = table[(indicator.code, label or "Riverside Neighbours")]
            if row["flag"] == "c":
                assert (printed["value"], printed["n"], printed["flag"]) == ("-", "-", "c")
            else:
                assert printed["flag"] == (row["flag"] or "-")
                assert printed["n"] == str(row["noisy_n"])
    participation = table[("participation", "Meadowbank Connects")]
    assert participation["flag"] in ("-", "u")
    assert participation["value"].endswith("%")
    assert any(cells["flag"] == "c" for (_, area), cells in table.items() if area.startswith("Riv"))
    # No published cell rests on fewer (noisy) people than the thresholds: the rules are
    # decided on the noisy counts (never on the true ones, which would leak).
    kinds = {i.code: i.kind for i in INDICATORS}
    for row in values:
        if row["flag"] == "c":
            continue
        if kinds[row["indicator"]] is Kind.proportion:
            assert row["noisy_n"] >= 30, row
        else:
            assert row["value"] >= 11, row
    # A small-community value that noise let through is pointed out (and only those).
    titles = {i.code: i.title for i in INDICATORS}
    for row in (r for r in values if r["area"] == SMALL_ID):
        assert (f"2027-P01 {titles[row['indicator']]}" in output) == (row["flag"] != "c")

    # Answers are said in words, beside their codes, after a legend of the anchor's codes.
    assert '"How often do you feel lonely?" 1 Often/always, 2 Some of the time' in output
    assert re.search(r'to Eli +answers 5 \("Never"\)', output)
    assert 'answers 1 ("Often/always")' in output  # Chen's first week
    # The printed e-mail shows its link to the member's preferences page.
    assert re.search(
        r"\| Pause, stop one ritual, or change channel, quiet hours or language: http://", output
    )

    # The story's beats, from what the system recorded, not only from what was printed.
    notifier = await read_database(database_for, "notifier")
    _assert_the_story_happened(notifier, _story_output(output))

    # Nothing printed or logged names a member: no id, e-mail, phone or respondent key.
    contacts = notifier["contacts"]
    assert len(contacts) == len(people) + 5 + len(STORY_PEOPLE)
    scopes = [*weeks_between(FIRST_CHECK_IN, FIRST_CHECK_IN.replace(day=31)), "2027-P01"]
    personal = {
        str(value)
        for contact in contacts
        for value in (contact["member_id"], contact["email"], contact["phone"])
        if value
    } | {respondent_key(c["pseudonym_seed"], scope) for c in contacts for scope in scopes}
    logged = caplog.text
    leaks = sorted(value for value in personal if value in output or value in logged)
    assert leaks == []


def _story_output(output: str) -> str:
    """The story's part of the printed output."""
    return output[output.index(STORY_NAME) : output.index("Answers leave for insights")]


def _assert_the_story_happened(notifier: dict[str, list[dict[str, Any]]], story_texts: str) -> None:
    contacts = {row["email"]: row["member_id"] for row in notifier["contacts"]}
    member = {person.name: contacts[person.email] for person in STORY_PEOPLE}
    deliveries = [
        row for row in with_zones(notifier["deliveries"]) if row["community_id"] == STORY_ID
    ]

    def of(name: str) -> list[dict[str, Any]]:
        return sorted(
            (row for row in deliveries if row["member_id"] == member[name]),
            key=lambda row: (row["nudge_number"], row["channel"]),
        )

    answers = {(row["delivery_id"], row["item_key"]): row["value"] for row in notifier["answers"]}

    # Fran: the prompt, then one nudge two hours later by the nudge template, answered.
    prompt, nudge = of("Fran")
    assert (prompt["nudge_number"], prompt["status"]) == (0, "sent")
    assert (nudge["nudge_number"], nudge["status"], nudge["channel"]) == (1, "sent", "email")
    assert nudge["sent_at"] == STORY_DAY + NUDGE_AFTER
    assert nudge["answers_delivery_id"] == prompt["id"]
    assert answers[(prompt["id"], ANCHOR_ITEM)] == FRAN_ANSWER
    assert 'a nudge ("A gentle reminder: this week\'s check-in")' in story_texts

    # Gus: queued at 09:00 inside his quiet hours, sent when they ended at 10:30, answered.
    (gus,) = of("Gus")
    assert gus["occurrence_at"] == STORY_DAY
    assert (gus["status"], gus["sent_at"]) == ("sent", QUIET_ENDS)
    assert answers[(gus["id"], ANCHOR_ITEM)] == GUS_ANSWER

    # Hana: texted STOP; the consent trail has it, and her nudge was not texted.
    hana_prompt, hana_nudge = of("Hana")
    assert (hana_prompt["channel"], hana_prompt["status"]) == ("sms", "sent")
    withdrawn = [
        row
        for row in notifier["consent_records"]
        if row["member_id"] == member["Hana"] and row["kind"] == "sms"
    ]
    assert [(row["given"], row["source"]) for row in withdrawn] == [(False, "sms keyword")]
    assert (hana_nudge["nudge_number"], hana_nudge["status"]) == (1, "failed")
    assert hana_nudge["failure_reason"] == "opted_out"
    assert hana_nudge["sent_at"] is None
    assert "her nudge is not sent: she opted out of texts (failed: opted_out)" in story_texts

    # Ivo: the provider refused his number for good; the prompt went by e-mail instead.
    ivo_email, ivo_sms = of("Ivo")
    assert (ivo_sms["channel"], ivo_sms["status"]) == ("sms", "failed")
    assert ivo_sms["failure_reason"] == "rejected_permanently"
    assert (ivo_email["channel"], ivo_email["status"]) == ("email", "sent")
    assert ivo_email["due_event_id"] == ivo_sms["due_event_id"]
    assert answers[(ivo_email["id"], ANCHOR_ITEM)] == IVO_ANSWER
