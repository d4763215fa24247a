"""``make run``: a small community through three weekly check-ins, end to end, then exit.

The clock is compressed (a ManualClock the demo moves from one due instant to the next); every
other part is the production path: the scheduler's tick, JetStream, the notifier's consumer,
SMTP, the signed answer links, the insights consumer and API. The demo checks its own result
and exits non-zero if anything it expected did not happen.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from services.demo.system import LocalSystem, sqlite_databases
from shared.clock import ManualClock
from shared.devsmtp import ReceivedMail
from shared.logs import configure_logging

WEEKS = 3
START = datetime(2027, 1, 3, 12, 0, tzinfo=UTC)  # Sunday noon UTC, before the first check-in
ANSWER_LINK = re.compile(r"(https?://\S+/r/[A-Za-z0-9_.-]+)\?v=(\d+)")


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    timezone: str
    shares_answers: bool
    # The answer code they give in each week (None: they skip that week).
    answers: tuple[int | None, ...]


PEOPLE = (
    Person("Ana", "ana@riverside.example", "Europe/London", True, (3, 4, 4)),
    Person("Bilal", "bilal@riverside.example", "Europe/London", True, (2, None, 3)),
    Person("Chen", "chen@riverside.example", "America/New_York", True, (1, 2, 2)),
    Person("Dipa", "dipa@riverside.example", "Asia/Kathmandu", True, (4, 5, None)),
    Person("Eli", "eli@riverside.example", "Australia/Sydney", False, (5, 5, 5)),
)


def say(line: str = "") -> None:
    print(line, flush=True)


async def answer(session: aiohttp.ClientSession, mail: ReceivedMail, value: int) -> None:
    """Do what a person does: open the link for their answer, then confirm on the page."""
    links = dict((int(v), url) for url, v in ANSWER_LINK.findall(mail.text()))
    url = links[value].split("?")[0]
    async with session.get(f"{url}?v={value}") as page:
        if page.status != 200:
            raise RuntimeError(f"answer page answered {page.status}")
    async with session.post(url, data={"value": str(value)}) as confirmation:
        if confirmation.status != 200:
            raise RuntimeError(f"answer submission answered {confirmation.status}")


async def run_demo(workdir: Path) -> int:
    clock = ManualClock(START)
    system = LocalSystem(workdir, clock, sqlite_databases(workdir))
    await system.start()
    try:
        return await _play(system, clock)
    finally:
        await system.stop()


async def _play(system: LocalSystem, clock: ManualClock) -> int:
    scheduler = system.clients["scheduler"]
    notifier = system.clients["notifier"]
    insights = system.clients["insights"]
    say("Connection Rituals demo: embedded nats-server, SQLite, SMTP sink, three services")
    say(f"  NATS {system.nats.url}; SMTP 127.0.0.1:{system.smtp.port}")
    community = await scheduler.post(
        "/v1/communities",
        {
            "id": "riverside",
            "name": "Riverside Neighbours",
            "timezone": "Europe/London",
            "region_code": "E08000035",
        },
    )
    ritual = await scheduler.post(
        "/v1/rituals",
        {
            "id": "monday-check-in",
            "community_id": community["id"],
            "kind": "check_in",
            "title": "Monday check-in",
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "dtstart": "2027-01-04T09:00",
            "template_key": "check_in",
            "response_window_minutes": 48 * 60,
        },
    )
    say(f"Community {community['name']!r}; ritual {ritual['title']!r} ({ritual['rrule']}, "
        "09:00 where each member lives)")
    by_email: dict[str, Person] = {}
    for person in PEOPLE:
        member = await notifier.post(
            "/v1/members",
            {
                "email": person.email,
                "prompt_consent": {"given": True, "source": "demo sign-up form"},
                "insights_consent": {"given": person.shares_answers, "source": "demo form"},
            },
        )
        await scheduler.post(
            "/v1/enrolments",
            {
                "community_id": community["id"],
                "member_id": member["member_id"],
                "timezone": person.timezone,
            },
        )
        by_email[person.email] = person
        sharing = "shares answers" if person.shares_answers else "keeps answers private"
        say(f"  enrolled {person.name:<6} {person.timezone:<17} as {member['member_id']} "
            f"({sharing})")

    expected_counts: dict[str, tuple[int, set[str]]] = {}
    sent = 0
    async with aiohttp.ClientSession() as browser:
        for week in range(WEEKS):
            say(f"Week {week + 1}")
            week_end = START + timedelta(weeks=week + 1)
            while True:
                upcoming = await scheduler.get("/v1/schedule/upcoming?limit=1")
                due = datetime.fromisoformat(upcoming[0]["due_at"])
                if due >= week_end:
                    break
                zone = upcoming[0]["timezone"]
                people_here = [p for p in PEOPLE if p.timezone == zone]
                clock.set(due)
                mails = (await system.smtp.wait_for(sent + len(people_here)))[sent:]
                sent += len(mails)
                for mail in mails:
                    person = by_email[mail.envelope_to[0]]
                    local = due.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M %Z")
                    value = person.answers[week]
                    reply = f"answered {value}" if value is not None else "did not answer"
                    say(f"  {due:%Y-%m-%dT%H:%MZ} ({local}) e-mailed {person.name:<6} "
                        f"{mail.subject!r}; {reply}")
                    if value is not None:
                        await answer(browser, mail, value)
                        if person.shares_answers:
                            iso_year, iso_week, _ = (
                                due.astimezone(ZoneInfo(zone)).date().isocalendar()
                            )
                            key = f"{iso_year}-W{iso_week:02d}"
                            count, people = expected_counts.get(key, (0, set()))
                            expected_counts[key] = (count + 1, people | {person.name})
    first = system.smtp.messages[0]
    say()
    say(f"One prompt as received by the SMTP server (Subject: {first.subject}):")
    for line in first.text().splitlines()[:12]:
        say(f"  | {line}")

    expected = {week: count for week, (count, _) in expected_counts.items()}
    counted = await _wait_for_counts(insights, community["id"], expected)
    say()
    say("What insights counted (exact counts; only members who chose to share):")
    for row in counted:
        say(f"  {row['iso_week']}: {row['responses']} responses from "
            f"{row['respondents']} people")
    say()
    ok = {row["iso_week"]: row["responses"] for row in counted} == expected
    ok = ok and sent == WEEKS * len(PEOPLE)
    say(f"Prompts sent: {sent}; responses counted: {sum(expected.values())}. "
        f"{'Demo complete.' if ok else 'MISMATCH: see above.'}")
    return 0 if ok else 1


async def _wait_for_counts(
    insights: object, community_id: str, expected: dict[str, int], timeout_s: float = 20
) -> list[dict[str, object]]:
    from services.demo.system import ApiClient

    assert isinstance(insights, ApiClient)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        rows: list[dict[str, object]] = await insights.get(
            f"/v1/communities/{community_id}/weekly-responses"
        )
        if {str(r["iso_week"]): r["responses"] for r in rows} == expected:
            return rows
        if asyncio.get_running_loop().time() > deadline:
            return rows
        await asyncio.sleep(0.05)


def main() -> int:
    configure_logging("demo", "WARNING")
    logging.getLogger("shared").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="rituals-demo-") as workdir:
        return asyncio.run(run_demo(Path(workdir)))


if __name__ == "__main__":
    sys.exit(main())
