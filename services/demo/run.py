"""``make run``: two communities through a 4-week period of weekly check-ins, end to end, ending
with the indicator table insights released; ``rituals demo --serve`` then keeps it all up.

Riverside Neighbours is small (five people in five time zones, one by SMS) and is shown prompt
by prompt; Meadowbank has 150 synthetic members (``crowd``, which says why that many): its
participation is published with overwhelming probability, its other indicators in most runs.
Every answer is printed with its words (``answers``). Then Brookside Club's one check-in
(``story``) shows a nudge, a send deferred by quiet hours, a STOP and a fallback to e-mail. The
clock is compressed (a ManualClock the demo moves from one due instant to the next); every other
part is the production path: the scheduler's tick, JetStream, the notifier's queue, SMTP and an
SMS provider (a local Twilio-like outbox that posts signed status callbacks), the signed answer
links and forms and signed SMS webhooks, the weekly release of anonymised facts, insights'
disclosure control and its analysts' API. The demo checks its own result and exits non-zero if
anything it expected did not happen.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from services.demo.answers import anchor_legend, in_words
from services.demo.crowd import CrowdShape, assured_indicators, crowd, weekly_dates
from services.demo.play import CheckIn, Cohort, Inbox, play_check_ins
from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.story import play_story
from services.demo.system import ApiClient, DatabaseFor, LocalSystem, sqlite_databases
from services.demo.table import (
    Area,
    Row,
    indicator_table,
    is_published,
    released_values,
    summary_by_area,
)
from services.insights.domain.indicators import INDICATORS
from services.insights.main import RELEASE_INTERVAL
from services.notifier.templating.wording import wording
from shared.clock import ManualClock
from shared.logs import configure_logging
from shared.weeks import is_last_week_of_its_period, iso_week_of, period_of

START = datetime(2027, 1, 3, 12, 0, tzinfo=UTC)  # Sunday noon UTC, before the first check-in
FIRST_CHECK_IN = date(2027, 1, 4)  # Monday of 2027-W01
WEEKS = 4  # 2027-W01..W04: the period 2027-P01
RRULE = f"FREQ=WEEKLY;BYDAY=MO;COUNT={WEEKS}"
# How far clear of the suppression thresholds (in noise σ) a count must be for the demo to
# insist that its indicator is published: Φ(-6) ≈ 10⁻⁹ per count (see ``crowd``).
ASSURED_SIGMAS = 6.0

SMALL_ID = "riverside"
PEOPLE = (
    Person("Ana", "ana@riverside.example", "Europe/London", True, (3, 4, 4, 3)),
    Person("Bilal", "bilal@riverside.example", "Europe/London", True, (2, None, 3, 2)),
    Person("Chen", "chen@riverside.example", "America/New_York", True, (1, 2, 2, 1)),
    Person("Dipa", "dipa@riverside.example", "Asia/Kathmandu", True, (4, 5, None, 4)),
    Person(
        "Eli",
        "eli@riverside.example",
        "Australia/Sydney",
        False,
        (5, 5, 5, 4),
        phone="+61412345678",
        channel="sms",
    ),
)

Say = Callable[[str], None]


def say_on_stdout(line: str = "") -> None:
    print(line, flush=True)


@dataclass(frozen=True)
class DemoConfig:
    crowd: CrowdShape = field(default_factory=CrowdShape)
    crowd_name: str = "Meadowbank Connects"


async def run_demo(
    workdir: Path,
    config: DemoConfig | None = None,
    *,
    database_for: DatabaseFor | None = None,
    serve: bool = False,
    say: Say = say_on_stdout,
) -> int:
    """Play the demo; with ``serve``, keep the system up afterwards until SIGINT or SIGTERM.
    Returns the exit status: 0 if everything the demo expected happened."""
    clock = ManualClock(START)
    databases = database_for or sqlite_databases(workdir)
    async with LocalSystem(workdir, clock, databases) as system:
        status = await _play(system, config or DemoConfig(), say)
        if serve:
            await serve_until_stopped(system, say)
        return status


async def _play(system: LocalSystem, config: DemoConfig, say: Say) -> int:
    say("Connection Rituals demo: embedded nats-server, SQLite, SMTP sink, local SMS provider")
    say(
        f"  NATS {system.nats.url}; SMTP 127.0.0.1:{system.smtp.port}; SMS {system.twilio.base_url}"
    )
    small = Cohort(await set_up_weekly_check_in(system, PEOPLE, SMALL_ID, rrule=RRULE), PEOPLE)
    say(f"Community 'Riverside Neighbours'; ritual 'Monday check-in' ({RRULE}),")
    say("at 09:00 where each member lives:")
    for person in PEOPLE:
        sharing = "shares answers" if person.shares_answers else "keeps answers private"
        say(f"  {person.name:<6} {person.timezone:<17} {person.channel:<5} ({sharing})")
    people = crowd(config.crowd, weekly_dates(FIRST_CHECK_IN, WEEKS))
    large = Cohort(
        await set_up_weekly_check_in(
            system,
            people,
            config.crowd.community_id,
            community_zone=config.crowd.timezone,
            name=config.crowd_name,
            concurrency=8,
            by_import=True,
            rrule=RRULE,
        ),
        people,
    )
    by_sms = sum(person.channel == "sms" for person in people)
    private = sum(not person.shares_answers for person in people)
    say(
        f"Community '{config.crowd_name}' (same region): {len(people)} synthetic members, "
        f"{len(people) - by_sms} by e-mail and {by_sms} by SMS, at 09:00 {config.crowd.timezone};"
    )
    say(
        f"{private} keep their answers private; the others answer as a seeded plan says "
        "(some skip weeks, some never answer)."
    )
    assured = assured_indicators(people, system.insights_settings, ASSURED_SIGMAS)
    say(
        "Sized so that these are published with overwhelming probability: "
        + ", ".join(assured)
        + f" (each count at least {ASSURED_SIGMAS:g} noise σ clear of the suppression rules);"
    )
    say("the others in most runs (the noise may withhold one now and then: flag c).")

    say("Each prompt asks the anchor question, " + anchor_legend() + ";")
    say("answers below are its codes with their words (the week's module is asked too).")
    weeks_seen: list[str] = []

    def report(due: datetime, check_ins: list[CheckIn]) -> None:
        week = _iso_week(check_ins[0])
        if week not in weeks_seen:
            weeks_seen.append(week)
            say(f"Week {len(weeks_seen)} ({week})")
        for check_in in check_ins:
            if check_in.cohort is small:
                _say_check_in(say, check_in)
        crowd_check_ins = [c for c in check_ins if c.cohort is large]
        if crowd_check_ins:
            _say_crowd(say, config.crowd_name, due, crowd_check_ins)

    inbox = await play_check_ins(system, [small, large], report)
    problems = _say_examples(system, inbox, say)
    story = await play_story(system, say)

    closes = await system.close_week(weeks_seen[-1])
    say("")
    say(
        "Answers leave for insights in one batch per week, once the week has closed "
        f"(the last one at {closes:%Y-%m-%d %H:%MZ}),"
    )
    say("under a different pseudonym each week, so nobody can follow a person or match a batch")
    say("to who answered when.")
    expected = weeks_seen + [period_of(w) for w in weeks_seen if is_last_week_of_its_period(w)]
    analysts = system.clients["insights-analyst"]
    released = await _wait_for_releases(system, analysts, expected)
    problems += [f"{window} was not released" for window in expected if window not in released]
    problems += story.problems
    problems += await _say_releases(analysts, expected, released, large, assured, config, say)
    say("")
    if problems:
        say("MISMATCH: " + "; ".join(problems) + ".")
        return 1
    say("Demo complete: every week and the period released, with the values the demo expected.")
    return 0


def _iso_week(check_in: CheckIn) -> str:
    return iso_week_of(check_in.due.astimezone(ZoneInfo(check_in.person.timezone)).date())


def _say_check_in(say: Say, check_in: CheckIn) -> None:
    person, due = check_in.person, check_in.due
    local = due.astimezone(ZoneInfo(person.timezone)).strftime("%a %d %b %H:%M %Z")
    answers = check_in.answers
    reply = (
        "does not answer"
        if answers is None
        else "answers " + ", ".join(in_words(item, code) for item, code in answers.items())
    )
    say(f"  {due:%Y-%m-%dT%H:%MZ} ({local}) {person.channel:<5} to {person.name:<6} {reply}")


def _say_crowd(say: Say, name: str, due: datetime, check_ins: list[CheckIn]) -> None:
    answered = [c for c in check_ins if c.answers is not None]
    with_module = sum(1 for c in answered if c.answers is not None and len(c.answers) > 1)
    by_sms = sum(c.person.channel == "sms" for c in check_ins)
    say(
        f"  {due:%Y-%m-%dT%H:%MZ} {name}: {len(check_ins)} prompts ({len(check_ins) - by_sms} "
        f"e-mail, {by_sms} SMS); {len(answered)} answer ({with_module} the week's module too), "
        f"{len(check_ins) - len(answered)} do not"
    )


def _say_examples(system: LocalSystem, inbox: Inbox, say: Say) -> list[str]:
    """Print one e-mail and one text as received; returns what was missing."""
    ana = PEOPLE[0]
    first = inbox.first_mail(ana)
    say("")
    say(
        f"One prompt as the SMTP server received it (Subject: {first.subject}), abridged to its "
        "first lines and the link to the member's preferences page:"
    )
    lines = first.text().splitlines()
    for line in lines[:9]:
        say(f"  | {line[:110]}")
    say("  | …")
    # Every e-mail ends with this link (the notifier adds it): pause, stop one ritual, change
    # channel, quiet hours or language.
    preferences = wording("preferences_text", "en").split("{url}")[0]
    links = [line for line in lines[9:] if line.startswith(preferences)]
    for line in links:
        say(f"  | {line[:110]}")
    eli = PEOPLE[-1]
    say("")
    say(
        f"SMS outbox: {len(system.twilio.messages)} messages (prompts and replies); Eli's first "
        "(the anchor question by text, the week's other questions on the linked form):"
    )
    for line in inbox.texts(eli)[0].splitlines():
        say(f"  | {line}")
    return [] if links else ["the prompt e-mail carried no link to the preferences page"]


async def _wait_for_releases(
    system: LocalSystem, analysts: ApiClient, windows: list[str], timeout_s: float = 300
) -> set[str]:
    """The windows released, once all of ``windows`` are (or the timeout passed).

    Insights releases when the notifier's WeekClosed markers arrive, once its consumers have
    stored every fact; if they are still busy it tries again at its next beat, which on the
    demo's compressed clock comes only when the clock moves: so it moves, now and then.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    next_beat = loop.time() + 20
    while True:
        found = {r["period"] for r in await analysts.get_all("/v1/periods")}
        if set(windows) <= found or loop.time() > deadline:
            return found & set(windows)
        if loop.time() > next_beat:
            await system.advance_to(system.clock.now() + RELEASE_INTERVAL)
            next_beat = loop.time() + 20
        await asyncio.sleep(0.1)


async def _say_releases(
    analysts: ApiClient,
    windows: list[str],
    released: set[str],
    large: Cohort,
    assured: list[str],
    config: DemoConfig,
    say: Say,
) -> list[str]:
    """Print the period's table and the weeks' summary; returns what went wrong."""
    catalogue = await analysts.get_all("/v1/areas")
    names = {a["id"]: a["name"] for a in catalogue if a["area_type"] == "community"}
    areas = [
        Area(large.community.id, "community", f"{names.get(large.community.id, '?')}"),
        Area(SMALL_ID, "community", names.get(SMALL_ID, SMALL_ID)),
        *(
            Area(a["id"], "region", f"region {a['id']}")
            for a in catalogue
            if a["area_type"] == "region"
        ),
    ]
    problems: list[str] = []
    small_passed: list[str] = []  # the small community's values noise let through
    titles = {i.code: i.title for i in INDICATORS}
    say("")
    say("Weekly releases (indicators 1, 9 and 10 each week; values published of values released):")
    for week in (w for w in windows if w in released and "-W" in w):
        rows = await released_values(analysts, week)
        summary = summary_by_area(rows)
        cells = [
            f"{area.label} {published}/{total}"
            for area in areas
            for published, total in [summary.get((area.area_type, area.id), (0, 0))]
        ]
        say(f"  {week}: " + "; ".join(cells))
        small_passed += [
            f"{week} {titles[r['indicator']]}" for r in rows if _is_small(r) and is_published(r)
        ]
    for period in (w for w in windows if w in released and "-P" in w):
        rows = await released_values(analysts, period)
        say("")
        say(f"Indicators released for {period} (ISO weeks 1-4), both communities and their region.")
        say("Value: percent (signposting: people); the 95% interval includes the noise; noisy n:")
        say("the noisy number of people it rests on; flag c = withheld (too few people),")
        say("u = published with low reliability (interval wider than ±10 points).")
        for line in indicator_table(rows, areas):
            say(line)
        small_passed += [
            f"{period} {titles[r['indicator']]}" for r in rows if _is_small(r) and is_published(r)
        ]
        for code in assured:
            row = next(
                (
                    r
                    for r in rows
                    if r["area"] == large.community.id
                    and r["area_type"] == "community"
                    and r["indicator"] == code
                ),
                None,
            )
            if row is None or not is_published(row):
                problems.append(f"{config.crowd_name}'s {code} for {period} was not published")
    if small_passed:
        say("")
        say(
            f"Note: noise let {len(small_passed)} of Riverside Neighbours' values through the "
            "small-cell rule this time:"
        )
        say(f"  {', '.join(small_passed)}.")
        say("Suppression is decided on noisy counts (deciding on true ones would leak), so with")
        say("five people this happens now and then; the interval shows how little it says.")
    return problems


def _is_small(row: Row) -> bool:
    return bool(row["area_type"] == "community" and row["area"] == SMALL_ID)


async def serve_until_stopped(system: LocalSystem, say: Say) -> None:
    """Keep the system up, say where everything is, and return on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        say("")
        say("The system stays up (the clock stands still at the demo's last instant).")
        say(f"  Dashboard (analysts):  {system.url('insights-analyst')}/dashboard")
        say(f"    sign in with the analyst token {system.tokens['insights-analyst']}")
        say(f"    API: {system.url('insights-analyst')}/v1/values, /v1/values.csv, /methodology")
        say("  Operator APIs (bearer tokens):")
        for listener, what in (
            ("scheduler", "scheduler"),
            ("notifier", "notifier"),
            ("insights", "insights (releases on demand)"),
        ):
            say(f"    {what:<29} {system.url(listener)}  token {system.tokens[listener]}")
        say(f"  Member pages and SMS webhooks: {system.url('notifier-public')}")
        say("Press Ctrl-C to stop.")
        await stop.wait()
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
    say("Stopping.")


def main(serve: bool = False, config: DemoConfig | None = None, log_level: str = "WARNING") -> int:
    """``rituals demo``: the narrative on stdout, the services' logs (JSON lines, WARNING and
    above unless ``log_level`` says otherwise) on stderr."""
    configure_logging("demo", log_level)
    with tempfile.TemporaryDirectory(prefix="rituals-demo-") as workdir:
        return asyncio.run(run_demo(Path(workdir), config, serve=serve))
