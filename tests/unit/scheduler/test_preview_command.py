from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.exceptions import RequestValidationError

from services.cli import main
from services.scheduler.api.validation import checked_schedule
from services.scheduler.preview import default_min_prompt_interval


def preview(capsys: pytest.CaptureFixture[str], **changes: str | None) -> tuple[int, str, str]:
    """``rituals schedule preview`` with a valid schedule, with ``changes`` (an argument given
    as None is left out)."""
    arguments = {
        "--rrule": "FREQ=DAILY",
        "--dtstart": "2027-03-13T09:00",
        "--tz": "Europe/London",
        "--after": "2027-03-13T00:00:00Z",
    } | {f"--{name}": value for name, value in changes.items()}
    argv = [x for name, value in arguments.items() if value is not None for x in (name, value)]
    code = main(["schedule", "preview", *argv])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def test_preview_prints_utc_instants_and_local_time_one_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "schedule",
            "preview",
            "--rrule",
            "FREQ=DAILY",
            "--dtstart",
            "2027-03-13T02:30",
            "--tz",
            "America/New_York",
            "--after",
            "2027-03-13T00:00:00Z",
            "--count",
            "3",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "2027-03-13T07:30:00Z  Sat 2027-03-13 02:30 EST (-05:00)",
        # 02:30 does not exist on the day clocks go forward: RFC 5545 reads it as 03:30 EDT.
        "2027-03-14T07:30:00Z  Sun 2027-03-14 03:30 EDT (-04:00)",
        "2027-03-15T06:30:00Z  Mon 2027-03-15 02:30 EDT (-04:00)",
    ]


def test_preview_at_a_time_slot_keeps_the_rules_days_at_the_slots_local_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = preview(capsys, **{"time-slot": "18:00", "count": "2", "after": None})
    assert code == 0
    # 2027-03-14 is not a DST change in London (that is 2027-03-28): GMT, so 18:00Z.
    assert out.splitlines() == [
        "2027-03-13T18:00:00Z  Sat 2027-03-13 18:00 GMT (+00:00)",
        "2027-03-14T18:00:00Z  Sun 2027-03-14 18:00 GMT (+00:00)",
    ]


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("time-slot", "6pm", "time slot 1 must be a local time of day as HH:MM"),
        ("tz", "Europe/Atlantis", "unknown time zone"),
        ("tz", "Europe/Londn", "did you mean 'Europe/London'?"),
        ("tz", "america/new_york", "did you mean 'America/New_York'?"),
        ("rrule", "FREQ=FORTNIGHTLY", "invalid RRULE"),
        ("rrule", "garbage", "write it as NAME=VALUE parts separated by ';'"),
        ("rrule", "FREQ=DAILY;EVERY=2", "unknown part 'EVERY'"),
        ("rrule", "BYDAY=MO", "FREQ is required"),
        ("rrule", "", "invalid RRULE"),
        ("rrule", "FREQ=DAILY;UNTIL=20270301T000000Z", "never occurs: its UNTIL is before DTSTART"),
        ("rrule", "FREQ=MINUTELY", "the minimum for a prompt to a person is 1 h"),
        ("dtstart", "tomorrow", "not an ISO 8601 local date-time"),
        ("after", "2027-03-13T00:00", "needs a UTC offset"),
        ("rrule", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "RRULE"),  # never occurs: said at once
    ],
)
def test_preview_explains_bad_input_in_one_line_and_exits_2(
    capsys: pytest.CaptureFixture[str], argument: str, value: str, message: str
) -> None:
    code, out, err = preview(capsys, **{argument: value})
    assert code == 2
    assert out == ""
    assert err.startswith("rituals: ")
    assert message in err
    assert len(err.splitlines()) == 1
    assert "unpack" not in err


def test_a_schedule_that_has_ended_before_after_is_an_error_not_an_empty_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = preview(
        capsys, rrule="FREQ=DAILY;UNTIL=20270320T000000Z", after="2027-04-01T00:00:00Z"
    )
    assert (code, out) == (2, "")
    assert "no occurrence after 2027-04-01T00:00:00Z" in err


def test_a_schedule_that_ends_before_it_starts_in_its_zone_is_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """UNTIL 12:00Z is after 09:00 read in UTC (what the rule check can see) but before 09:00
    in New York (14:00Z): the only occurrence is gone, and the preview says so."""
    code, out, err = preview(
        capsys,
        rrule="FREQ=DAILY;UNTIL=20270313T120000Z",
        tz="America/New_York",
        after=None,
    )
    assert (code, out) == (2, "")
    assert "no occurrence" in err


@pytest.mark.parametrize(
    ("field", "rrule", "dtstart"),
    [
        ("rrule", "garbage", "2027-03-13T09:00"),
        ("rrule", "FREQ=DAILY;UNTIL=20270301T000000Z", "2027-03-13T09:00"),
        ("rrule", "FREQ=HOURLY;BYMINUTE=0,30", "2027-03-13T09:00"),
        ("dtstart", "FREQ=DAILY", "1999-12-31T09:00"),
        ("dtstart", "FREQ=DAILY", "2027-03-13 nine"),
    ],
)
def test_the_preview_refuses_what_the_api_refuses_with_the_same_words(
    capsys: pytest.CaptureFixture[str], field: str, rrule: str, dtstart: str
) -> None:
    with pytest.raises(RequestValidationError) as refused:
        checked_schedule(rrule, dtstart, [], default_min_prompt_interval())
    (error,) = refused.value.errors()
    assert error["loc"] == ("body", field)
    code, _out, err = preview(capsys, rrule=rrule, dtstart=dtstart)
    assert code == 2
    assert err == f"rituals: {error['msg']}\n"


def test_the_preview_uses_the_scheduler_default_pace() -> None:
    assert default_min_prompt_interval() == timedelta(hours=1)


def test_the_closest_zone_is_suggested_only_when_one_is_close(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _code, _out, err = preview(capsys, tz="Xq/Zzzz")
    assert err == "rituals: unknown time zone 'Xq/Zzzz' (use an IANA name)\n"
