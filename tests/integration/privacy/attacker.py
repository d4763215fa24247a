"""The attacker of the privacy tests: every database but the notifier's, and every stream.

It reads what an insider or an intruder could read — the scheduler's and insights' tables, and
every message the JetStream streams hold, with the server's timestamps and sequences — and
tries to tie anonymised facts (what insights holds, the RESPONSES stream) to member ids (the
identity side: the scheduler, RITUALS, PROMPTS). It knows the code (the uuid5 namespace, the
release design); it does not know the notifier's secrets or tables.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import nats
from nats.js.api import DeliverPolicy

# Published in shared/contracts/base.py: anyone can compute uuid5 ids with it.
PUBLIC_NAMESPACE = uuid.UUID("6f1c1f0e-3d0a-5b7e-9a53-6c1d2b4e8f10")
TOKEN = re.compile(
    r"mbr_[A-Za-z0-9]+|rk_[A-Za-z0-9]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


@dataclass(frozen=True)
class Stored:
    stream: str
    sequence: int
    subject: str
    stored_at: datetime
    headers: dict[str, str]
    body: dict[str, Any]


async def read_streams(url: str) -> list[Stored]:
    """Every message of every stream, with its stream timestamp and sequence."""
    client = await nats.connect(url)
    js = client.jetstream()
    messages: list[Stored] = []
    try:
        for info in await js.streams_info():
            stream, subjects = str(info.config.name), info.config.subjects or []
            if not info.state.messages or not subjects:
                continue
            subscription = await js.subscribe(
                subjects[0],
                stream=stream,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.ALL,
            )
            while True:
                msg = await subscription.next_msg(timeout=10)
                try:
                    body = json.loads(msg.data)
                except ValueError:
                    body = {}
                messages.append(
                    Stored(
                        stream,
                        msg.metadata.sequence.stream,
                        msg.subject,
                        msg.metadata.timestamp,
                        dict(msg.headers or {}),
                        body if isinstance(body, dict) else {},
                    )
                )
                if msg.metadata.num_pending == 0:
                    break
            await subscription.unsubscribe()
    finally:
        await client.close()
    return messages


def tokens_in(values: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for value in values:
        if isinstance(value, dict):
            found |= tokens_in(value.values())
        elif isinstance(value, list | tuple):
            found |= tokens_in(value)
        elif value is not None:
            found.update(TOKEN.findall(str(value)))
    return found


def uuid5(*parts: object) -> str:
    return str(uuid.uuid5(PUBLIC_NAMESPACE, "|".join(str(part) for part in parts)))


def iso_week(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Observations:
    """What the attacker collected, sorted into the two sides."""

    streams: list[Stored]
    scheduler: dict[str, list[dict[str, Any]]]
    insights: dict[str, list[dict[str, Any]]]
    identity: list[Stored] = field(init=False)
    anonymised: list[Stored] = field(init=False)

    def __post_init__(self) -> None:
        self.identity = [m for m in self.streams if m.stream in ("RITUALS", "PROMPTS")]
        # Facts about a community: answers, signposting, prompted, period summaries (not
        # erasure tombstones, not the WeekClosed markers).
        self.anonymised = [
            m for m in self.streams if m.stream == "RESPONSES" and "community_id" in m.body
        ]

    @property
    def answers(self) -> list[Stored]:
        """PromptAnswered: who answered which prompt, when (the identity side)."""
        return [m for m in self.identity if m.subject.startswith("prompts.answered")]

    @property
    def sends(self) -> list[Stored]:
        """PromptSent of prompts (not nudges): who was prompted, when."""
        return [
            m
            for m in self.identity
            if m.subject.startswith("prompts.sent") and not m.body.get("nudge_number")
        ]

    def week_of_due(self) -> dict[str, str]:
        """RitualDue id -> the ISO week of its occurrence (RITUALS holds them)."""
        return {
            m.body["event_id"]: iso_week(m.body["occurrence_local_date"])
            for m in self.identity
            if m.subject.startswith("rituals.due")
        }

    def answered_weeks(self) -> dict[str, set[tuple[str, str]]]:
        """member id -> {(community, week)} they answered in."""
        return self._weeks(self.answers)

    def prompted_weeks(self) -> dict[str, set[tuple[str, str]]]:
        """member id -> {(community, week)} they were prompted in."""
        return self._weeks(self.sends)

    def _weeks(self, messages: list[Stored]) -> dict[str, set[tuple[str, str]]]:
        weeks = self.week_of_due()
        found: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for message in messages:
            week = weeks.get(message.body["due_event_id"])
            if week:
                found[message.body["member_id"]].add((message.body["community_id"], week))
        return found


def fact_weeks(fact: dict[str, Any]) -> set[str]:
    """The weeks a fact is about: its week, or every week of its period."""
    if "iso_week" in fact:
        return {fact["iso_week"]}
    year, number = (int(part) for part in fact["period"].split("-P"))
    return {f"{year}-W{week:02d}" for week in range((number - 1) * 4 + 1, number * 4 + 1)}


def produced_by(message: Stored) -> str:
    """Which identity events a fact follows from: answers, or sends (prompted, periods)."""
    return (
        "answers"
        if ".received." in message.subject or ".signposted." in message.subject
        else "sends"
    )


def id_chain_links(seen: Observations) -> set[str]:
    """Attack 1: ids on the anonymised side that equal, or can be computed from, ids on the
    identity side (uuid5 chains: RitualDue -> delivery -> response / signposting / answer)."""
    identity = tokens_in([m.body for m in seen.identity]) | tokens_in(
        [m.headers for m in seen.identity]
    )
    identity |= tokens_in(seen.scheduler.values())
    items = {row.get("item") for row in seen.insights.get("response_facts", [])}
    items |= {m.body.get("item") for m in seen.anonymised}
    computed: set[str] = set()
    for due_id in seen.week_of_due():
        for channel in ("email", "sms"):
            delivery = uuid5("delivery", due_id, channel)
            computed |= {delivery, uuid5("prompt.answered", delivery)}
            computed |= {uuid5("signposting.sent", f"form:{delivery}")}
            computed |= {uuid5("response.received", delivery, item) for item in items if item}
    anonymised = tokens_in([m.body for m in seen.anonymised])
    anonymised |= tokens_in([m.headers for m in seen.anonymised])
    anonymised |= tokens_in(seen.insights.values())
    return anonymised & (identity | computed)


def timing_candidates(seen: Observations) -> dict[tuple[str, int], set[str]]:
    """Attack 2: for each anonymised fact, the members whose answer (or prompt) could have
    produced it, judged by publication time and order. Facts that follow each other with no
    identity event between them form one burst; a fact's candidates are the members of its
    community whose answer (for answers and signposting) or prompt (for prompted facts and
    period summaries) about one of its weeks was published since the burst before. (An attacker
    who knew nothing about timing would still have all of those people.)"""
    weeks = seen.week_of_due()
    identity = {
        id(m): kind for kind, ms in (("answers", seen.answers), ("sends", seen.sends)) for m in ms
    }
    timeline = sorted(
        [*seen.answers, *seen.sends, *seen.anonymised],
        key=lambda m: (m.stored_at, m.stream, m.sequence),
    )
    candidates: dict[tuple[str, int], set[str]] = {}
    since_last_burst: list[Stored] = []
    in_burst = False
    for message in timeline:
        if message.stream != "RESPONSES":
            if in_burst:
                since_last_burst = []
                in_burst = False
            since_last_burst.append(message)
            continue
        in_burst = True
        fact = message.body
        kind = produced_by(message)
        candidates[(message.stream, message.sequence)] = {
            event.body["member_id"]
            for event in since_last_burst
            if identity[id(event)] == kind
            and event.body["community_id"] == fact["community_id"]
            and weeks.get(event.body["due_event_id"]) in fact_weeks(fact)
        }
    return candidates


def cardinality_set(seen: Observations, message: Stored) -> set[str]:
    """Who a fact can be about by counting alone: everyone who answered (or was prompted) in
    its community in one of its weeks."""
    fact = message.body
    pool = seen.answered_weeks() if produced_by(message) == "answers" else seen.prompted_weeks()
    return {
        member
        for member, places in pool.items()
        if any((fact["community_id"], week) in places for week in fact_weeks(fact))
    }


def weeks_per_key(seen: Observations) -> dict[str, set[str]]:
    """Attack 3's raw material: the weeks each respondent key answered in (insights' table)."""
    weeks: dict[str, set[str]] = defaultdict(set)
    for row in seen.insights.get("response_facts", []):
        weeks[row["respondent_key"]].add(row["iso_week"])
    for message in seen.anonymised:
        if "iso_week" in message.body:
            weeks[message.body["respondent_key"]].add(message.body["iso_week"])
    return weeks


def intersection_candidates(seen: Observations) -> dict[str, set[str]]:
    """Attack 3: if a key lasted across weeks, its members are those who answered in every week
    the key did, and in no other week of that community (a consenting member's answers always
    reach insights)."""
    answered = seen.answered_weeks()
    community_of: dict[str, str] = {}
    for row in seen.insights.get("response_facts", []):
        community_of[row["respondent_key"]] = row["community_id"]
    for message in seen.anonymised:
        community_of[message.body["respondent_key"]] = message.body["community_id"]
    candidates: dict[str, set[str]] = {}
    for key, weeks in weeks_per_key(seen).items():
        community = community_of[key]
        pattern = {(community, week) for week in weeks}
        candidates[key] = {
            member
            for member, theirs in answered.items()
            if {w for w in theirs if w[0] == community} == pattern
        }
    return candidates
