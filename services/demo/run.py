"""``make run``: a small community through three weekly check-ins, end to end, then exit.

The clock is compressed (a ManualClock the demo moves from one due instant to the next); every
other part is the production path: the scheduler's tick, JetStream, the notifier's queue, SMTP
and an SMS provider (a local Twilio-like outbox that posts signed status callbacks), the signed
answer links and signed SMS webhooks, the insights consumer and API. The demo checks its own
result and exits non-zero if anything it expected did not happen.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from services.demo.scenario import Person, answer, set_up_weekly_check_in
from services.demo.system import SMS_NUMBER, ApiClient, LocalSystem, sqlite_databases
from shared.clock import ManualClock
from shared.logs import configure_logging

WEEKS = 3
START = datetime(2027, 1, 3, 12, 0, tzinfo=UTC)  # Sunday noon UTC, before the first check-in

PEOPLE = (
    Person("Ana", "ana@riverside.example", "Europe/London", True, (3, 4, 4)),
    Person("Bilal", "bilal@riverside.example", "Europe/London", True, (2, None, 3)),
    Person("Chen", "chen@riverside.example", "America/New_York", True, (1, 2, 2)),
    Person("Dipa", "dipa@riverside.example", "Asia/Kathmandu", True, (4, 5, None)),
    Person(
        "Eli",
        "eli@riverside.example",
        "Australia/Sydney",
        False,
        (5, 5, 5),
        phone="+61412345678",
        channel="sms",
    ),
)


def say(line: str = "") -> None:
    print(line, flush=True)


async def run_demo(workdir: Path) -> int:
    clock = ManualClock(START)
    async with LocalSystem(workdir, clock, sqlite_databases(workdir)) as system:
        return await _play(system)


async def _prompts_for(system: LocalSystem, people: list[Person], seen: dict[str, int]) -> None:
    """Wait until each of ``people`` has one more prompt than before, on their channel."""

    def count(person: Person) -> int:
        if person.channel == "sms":
            return len(_sms_prompts(system, person))
        return len(system.smtp.to(person.email))

    deadline = asyncio.get_running_loop().time() + 15
    while any(count(p) <= seen.get(p.name, 0) for p in people):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("a prompt did not arrive")
        await asyncio.sleep(0.02)
    for person in people:
        seen[person.name] = count(person)


def _sms_prompts(system: LocalSystem, person: Person) -> list[str]:
    # Prompts carry opt-out guidance; service replies ("thank you") do not.
    return [m.body for m in system.twilio.to(person.phone or "") if "STOP" in m.body]


async def _play(system: LocalSystem) -> int:
    say("Connection Rituals demo: embedded nats-server, SQLite, SMTP sink, local SMS provider")
    say(
        f"  NATS {system.nats.url}; SMTP 127.0.0.1:{system.smtp.port}; SMS {system.twilio.base_url}"
    )
    community = await set_up_weekly_check_in(system, PEOPLE)
    say("Community 'Riverside Neighbours'; ritual 'Monday check-in' (FREQ=WEEKLY;BYDAY=MO),")
    say("at 09:00 where each member lives:")
    for person in PEOPLE:
        sharing = "shares answers" if person.shares_answers else "keeps answers private"
        member_id = community.member_ids[person.email]
        say(f"  {person.name:<6} {person.timezone:<17} {person.channel:<5} {member_id} ({sharing})")

    scheduler = system.clients["scheduler"]
    expected: dict[str, int] = {}
    seen: dict[str, int] = {}
    async with aiohttp.ClientSession() as browser:
        for week in range(WEEKS):
            say(f"Week {week + 1}")
            week_end = START + timedelta(weeks=week + 1)
            while True:
                upcoming = (await scheduler.get("/v1/schedule/upcoming?limit=1"))[0]
                due = datetime.fromisoformat(upcoming["due_at"])
                if due >= week_end:
                    break
                zone = ZoneInfo(upcoming["timezone"])
                here = [p for p in PEOPLE if p.timezone == upcoming["timezone"]]
                await system.advance_to(due)  # the compressed clock: the next due instant
                await _prompts_for(system, here, seen)
                for person in here:
                    value = person.answers[week]
                    local = due.astimezone(zone).strftime("%a %d %b %H:%M %Z")
                    reply = f"answers {value}" if value is not None else "does not answer"
                    say(
                        f"  {due:%Y-%m-%dT%H:%MZ} ({local}) {person.channel:<5} to "
                        f"{person.name:<6} {reply}"
                    )
                    if value is None:
                        continue
                    if person.channel == "sms":
                        status = await system.twilio.send_inbound(
                            system.sms_webhook("inbound"),
                            person.phone or "",
                            SMS_NUMBER,
                            str(value),
                        )
                        assert status == 200
                    else:
                        await answer(browser, system.smtp.to(person.email)[-1], value)
                    if person.shares_answers:
                        year, number, _ = due.astimezone(zone).date().isocalendar()
                        week_key = f"{year}-W{number:02d}"
                        expected[week_key] = expected.get(week_key, 0) + 1

    first = system.smtp.messages[0]
    say()
    say(f"One prompt as the SMTP server received it (Subject: {first.subject}), abridged:")
    for line in first.text().splitlines()[:9]:
        say(f"  | {line[:110]}")
    say("  | …")
    sms = _sms_prompts(system, PEOPLE[-1])
    say()
    say(f"SMS outbox: {len(system.twilio.messages)} messages (prompts and replies); Eli's first:")
    for line in sms[0].splitlines():
        say(f"  | {line}")

    closes = await system.close_week(max(expected))
    say()
    say(
        "Answers leave for insights in one batch per week, once the week has closed "
        f"(the last one at {closes:%Y-%m-%d %H:%MZ}),"
    )
    say("under a different pseudonym each week, so nobody can follow a person or match a batch")
    say("to who answered when.")
    released = await _wait_for_releases(system.clients["insights-analyst"], sorted(expected))
    say()
    say("What insights released for each week (differential privacy, then small-cell rules;")
    say("c = withheld: a community this small can never be published):")
    values = (await system.clients["insights-analyst"].get("/v1/values?cadence=week"))["items"]
    for row in values:
        if row["area_type"] == "community":
            shown = "c" if row["flag"] == "c" else f"{row['value']} ({row['flag'] or 'ok'})"
            say(f"  {row['period']} {row['area']:<10} {row['indicator']:<20} {shown}")
    prompts = len(system.smtp.messages) + len(sms)
    ok = released == sorted(expected) and prompts >= WEEKS * len(PEOPLE)
    say()
    say(
        f"Prompts sent: {prompts}; answers shared with insights: {sum(expected.values())}. "
        + ("Demo complete." if ok else "MISMATCH: see above.")
    )
    return 0 if ok else 1


async def _wait_for_releases(
    insights: ApiClient, weeks: list[str], timeout_s: float = 30
) -> list[str]:
    """The weeks released, once all of ``weeks`` are (or the timeout passed)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        releases: list[dict[str, str]] = await insights.get("/v1/periods")
        found = sorted(r["period"] for r in releases if r["cadence"] == "week")
        if set(weeks) <= set(found) or asyncio.get_running_loop().time() > deadline:
            return [week for week in found if week in weeks]
        await asyncio.sleep(0.05)


def main() -> int:
    configure_logging("demo", "WARNING")
    with tempfile.TemporaryDirectory(prefix="rituals-demo-") as workdir:
        return asyncio.run(run_demo(Path(workdir)))
