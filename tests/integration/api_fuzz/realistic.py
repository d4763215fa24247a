"""Values that get past the schema's first line of defence, mixed into schemathesis' cases.

Random strings are refused at once (a random ``timezone`` is a 422), so on their own they
never reach schedules, phone parsing, templates or the database. These hooks swap a field for
a plausible or awkward real value half of the time — known ids of seeded rows, real zones,
RRULEs that never fire, dates at the ends of the calendar, numbers from odd regions, hostile
templates — so the code behind validation gets fuzzed too. Hypothesis draws the choices, so
runs stay deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st
from schemathesis import HookContext
from schemathesis.specs.openapi.schemas import OpenApiSchema

COMMUNITY = "riverside"
RITUAL = "weekly"

ZONES = [
    "Europe/London",
    "America/New_York",
    "Pacific/Apia",  # skipped 30 Dec 2011
    "Pacific/Kiritimati",  # UTC+14
    "Australia/Lord_Howe",  # half-hour DST
    "Asia/Kathmandu",
    "Etc/GMT+12",
    "UTC",
    "Mars/Base",
    "europe/london",
    "../../etc/passwd",
    "",
]
RRULES = [
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=DAILY",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",  # never happens
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=WEEKLY;COUNT=1",
    "FREQ=DAILY;COUNT=0",
    "FREQ=DAILY;INTERVAL=0",
    "FREQ=DAILY;UNTIL=20000101T000000Z",  # all in the past
    "FREQ=DAILY;UNTIL=20270201T090000",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYSETPOS=400;BYDAY=MO",
    "FREQ=WEEKLY;INTERVAL=99999999999",
    "FREQ=YEARLY;INTERVAL=9999",
    "FREQ=HOURLY;INTERVAL=2",
    "FREQ=DAILY;BYHOUR=9,21",
    "FREQ=SECONDLY",
    "RRULE:FREQ=DAILY",
    "FREQ=DAILY;BYHOUR=25",
    "FREQ=WEEKLY;BYDAY=XX",
    "FREQ=DAILY;DTSTART=20270101T000000",
    "FREQ=WEEKLY\nEXDATE:20270104T090000",
]
DATETIMES = [
    "2027-01-04T09:00",
    "2027-03-14T02:30",  # spring-forward gap in New York
    "2027-10-31T01:30",  # repeated hour in London
    "2011-12-30T09:00",
    "2027-02-29T09:00",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "1970-01-01T00:00",
    "2027-01-04",
    "2027-01-04T09:00:00.999999",
    "2027-01-04T24:00",
    "20270104T090000",
    "2027-01-04T09:00Z",
]
PHONES = [
    "+447911123457",
    "+447700900123",
    "07700 900123",
    "+1 202 555 0143",
    "+999999",
    "+0",
    "0",
    "+44 7700 900123 ext. 1234",
    "tel:+447700900123",
    "99999999999999999999999999999",
]
REGIONS = ["GB", "US", "ZZ", "AQ", "XK", "001"]
LOCALES = ["en", "es", "es-MX", "de", "zz", "en-ZZ", "pt-BR", "zh-Hant-TW", "x"]
TEMPLATE_KEYS = ["check_in", "check_in_nudge", "gratitude", "sms_help", "unknown_key"]
CHANNELS = ["email", "sms"]
TEMPLATES = [
    "Hello {{ member_name }}",
    "{{ 1 / 0 }}",
    "{{ 10 ** 10 ** 10 }}",
    "{{ 'x' * 100000000 }}",
    "{% for i in range(10 ** 9) %}x{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{{ undefined_name.attr }}",
    "{{ nothing | no_such_filter }}",
    "{% macro m() %}{% endmacro %}",
    "{% include 'x' %}",
    "{% extends 'x' %}",
    "{{ ",
    "{% if %}",
    "{{ link }}{{ link }}",
    "{{ '%s' % (1,) * 3 }}",
    "{{ [1] * 99999999 }}",
    "{{ range(99999999) | list | length }}",
    "{{ 'a' | format(*range(9)) }}",
    "{{ (1).__class__ }}",
    "{{ lipsum(999, True, 1000, 1000) }}",
    "{{ cycler }}",
    "\x00",
    "😀" * 2000,
]
CSV_BODIES = [
    "email,phone,prompt_consent,insights_consent\nann@example.org,,yes,no\n",
    "email,prompt_consent,insights_consent\nann@example.org,yes,yes\nann@example.org,yes,yes\n",
    "phone,phone_region,prompt_consent,insights_consent\n07700900123,ZZ,yes,yes\n",
    "email,prompt_consent,insights_consent,quiet_start,quiet_end\nb@example.org,yes,yes,25:00,x\n",
    "email,prompt_consent,insights_consent,quiet_start\nc@example.org,yes,yes,21:00\n",
    "email,prompt_consent,insights_consent,preferred_channel\nd@example.org,yes,yes,sms\n",
    'email,prompt_consent,insights_consent\n"unterminated,yes,yes\n',
    "email,phone\n,,\n,\n",
    "email,email,email\na@example.org,b@example.org\n",
    "email\n" + "\x00\n",
    "email;phone\n",
    "",
    "\ufeffemail,prompt_consent,insights_consent\ne@example.org,yes,yes\n",
]


Table = Mapping[str, tuple[Sequence[Any], Sequence[Any]]]  # field -> (valid, awkward)


def _swap(value: Any, table: Table) -> st.SearchStrategy[Any]:
    """The value as generated; or with some known fields replaced by valid or awkward values;
    or with every known field valid (so whole plausible requests reach the code behind)."""
    if not isinstance(value, dict) or not table.keys() & value.keys():
        return st.just(value)

    def mixed(name: str, current: Any) -> st.SearchStrategy[Any]:
        if name not in table:
            return st.just(current)
        valid, awkward = table[name]
        return st.one_of(st.just(current), st.sampled_from([*valid, *awkward]))

    def valid(name: str, current: Any) -> st.SearchStrategy[Any]:
        return st.sampled_from(table[name][0]) if name in table else st.just(current)

    return st.one_of(
        st.just(value),
        st.fixed_dictionaries({name: mixed(name, v) for name, v in value.items()}),
        st.fixed_dictionaries({name: valid(name, v) for name, v in value.items()}),
    )


def register(schema: OpenApiSchema, known: Mapping[str, Sequence[str]]) -> None:
    """Mix real values into ``schema``'s generated cases; ``known`` names seeded ids."""
    ids: Table = {name: (values, ["nowhere"]) for name, values in known.items()}
    path_table: Table = {
        **ids,
        "key": (TEMPLATE_KEYS[:4], TEMPLATE_KEYS[4:]),
        "locale": (LOCALES[:4], LOCALES[4:]),
        "channel": (CHANNELS, []),
    }
    query_table: Table = {**ids, "timezone": (ZONES[:8], ZONES[8:])}
    body_table: Table = {
        **ids,
        "id": ([COMMUNITY, RITUAL, "fresh-one", "x" * 64], []),
        "timezone": (ZONES[:8], ZONES[8:]),
        "rrule": (RRULES[:16], RRULES[16:]),
        "dtstart": (DATETIMES[:8], DATETIMES[8:]),
        "exdates": ([[], ["2027-01-11T09:00"], DATETIMES[:8]], [[d] for d in DATETIMES[8:]]),
        "time_slots": (
            [None, ["09:00"], ["09:00", "18:00"], ["02:30", "12:00", "23:59"]],
            [["24:00"], ["09:00", "09:00"], ["9:00"]],
        ),
        "phone": (PHONES[:4], PHONES[4:]),
        "phone_region": (REGIONS[:2], REGIONS[2:]),
        "locale": (LOCALES[:4], LOCALES[4:]),
        "email": (["ann@example.org", "ANN@EXAMPLE.ORG", "bob@example.org"], []),
        "subject": (TEMPLATES[:1], TEMPLATES[1:]),
        "text_body": (TEMPLATES[:1], TEMPLATES[1:]),
        "html_body": (TEMPLATES[:1], TEMPLATES[1:]),
        "template_key": (TEMPLATE_KEYS[:4], TEMPLATE_KEYS[4:]),
        "title": (["Weekly check-in", "x" * 200, "🙂"], ["\u0000"]),
        "name": (["Riverside", "x" * 200], ["\u0000"]),
        "region_code": (["E08000035"], ["\u0000"]),
        "source": (["form", "x" * 64], ["\u0000"]),
        "preferred_channel": (CHANNELS, []),
        "fallback_channel": ([*CHANNELS, None], []),
        "quiet_hours": (
            [None, {"start": "21:30", "end": "08:00"}, {"start": "00:00", "end": "00:00"}],
            [],
        ),
        "kind": (["check_in", "prompts", "insights", "sms", "email"], []),
        "given": ([True, False], []),
    }

    @schema.hook
    def flatmap_path_parameters(
        context: HookContext, path_parameters: dict[str, Any]
    ) -> st.SearchStrategy[Any]:
        return _swap(path_parameters, path_table)

    @schema.hook
    def flatmap_query(context: HookContext, query: dict[str, Any]) -> st.SearchStrategy[Any]:
        return _swap(query, query_table)

    @schema.hook
    def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
        if isinstance(body, str):  # the CSV import
            return st.one_of(st.just(body), st.sampled_from(CSV_BODIES))
        if isinstance(body, dict):
            for nested in ("prompt_consent", "insights_consent"):
                if isinstance(body.get(nested), dict):
                    body = {**body, nested: {"given": True, "source": "form"}}
        return _swap(body, body_table)
