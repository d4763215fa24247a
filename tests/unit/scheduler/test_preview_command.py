from __future__ import annotations

import pytest

from services.cli import main


def test_preview_prints_utc_instants_one_a_line(capsys: pytest.CaptureFixture[str]) -> None:
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
        "2027-03-13T07:30:00Z",
        "2027-03-14T07:30:00Z",
        "2027-03-15T06:30:00Z",
    ]


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("--tz", "Europe/Atlantis", "unknown time zone"),
        ("--rrule", "FREQ=FORTNIGHTLY", "invalid RRULE"),
        ("--dtstart", "tomorrow", "not an ISO 8601 local date-time"),
        ("--after", "2027-03-13T00:00", "needs a UTC offset"),
        ("--rrule", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "RRULE"),  # never occurs: said at once
    ],
)
def test_preview_explains_bad_input_and_exits_2(
    capsys: pytest.CaptureFixture[str], argument: str, value: str, message: str
) -> None:
    arguments = {
        "--rrule": "FREQ=DAILY",
        "--dtstart": "2027-03-13T09:00",
        "--tz": "Europe/London",
        "--after": "2027-03-13T00:00:00Z",
    } | {argument: value}
    code = main(["schedule", "preview", *[x for pair in arguments.items() for x in pair]])
    assert code == 2
    assert message in capsys.readouterr().err
