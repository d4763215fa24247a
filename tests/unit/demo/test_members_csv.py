"""The demo registers its crowd by the notifier's CSV import: each row must say what the
single-member registration says, or the crowd would differ from the plan it was sized by."""

from __future__ import annotations

import csv
import io

from services.demo.crowd import CrowdShape, crowd, weekly_dates
from services.demo.run import FIRST_CHECK_IN, PEOPLE, WEEKS
from services.demo.scenario import members_csv
from services.demo.story import STORY_PEOPLE
from services.notifier.api.member_import import _row_to_member
from services.notifier.api.members import MemberIn


def test_each_csv_row_registers_the_member_the_single_registration_does() -> None:
    people = (
        *PEOPLE,
        *STORY_PEOPLE,  # quiet hours, a fallback channel, SMS only
        *crowd(CrowdShape(size=20), weekly_dates(FIRST_CHECK_IN, WEEKS)),
    )
    rows = list(csv.DictReader(io.StringIO(members_csv(people))))
    assert len(rows) == len(people)
    for person, row in zip(people, rows, strict=True):
        from_csv = _row_to_member(dict(row)).model_dump()
        assert from_csv == MemberIn.model_validate(person.registration()).model_dump(), person
