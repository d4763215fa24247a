from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.contracts import (
    Channel,
    FailureReason,
    PromptFailedV1,
    PromptSentV1,
    ResponseReceivedV2,
    RitualDueV1,
    RitualKind,
    deterministic_event_id,
    keyed_event_id,
)
from shared.subjects import RITUAL_DUE

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def ritual_due(**overrides: object) -> RitualDueV1:
    fields: dict[str, object] = {
        "event_id": deterministic_event_id("ritual.due", "rit", "mbr", NOW, 1),
        "occurred_at": NOW,
        "ritual_id": "riverside-monday",
        "ritual_version": 1,
        "ritual_kind": RitualKind.check_in,
        "community_id": "riverside",
        "member_id": "mbr_AbCdEfGhIjKlMnOp",
        "template_key": "check_in",
        "timezone": "Europe/London",
        "occurrence_at": NOW,
        "occurrence_local_date": date(2027, 1, 4),
        "respond_by": NOW + timedelta(days=2),
    }
    fields.update(overrides)
    return RitualDueV1.model_validate(fields)


class TestDeterministicIds:
    def test_same_inputs_give_the_same_id(self) -> None:
        assert deterministic_event_id("ritual.due", "r", "m", NOW, 2) == deterministic_event_id(
            "ritual.due", "r", "m", NOW, 2
        )

    def test_any_differing_part_gives_another_id(self) -> None:
        base = deterministic_event_id("ritual.due", "r", "m", NOW, 1)
        assert base != deterministic_event_id("ritual.due", "r", "m", NOW, 2)  # edited ritual
        assert base != deterministic_event_id("ritual.due", "r", "m2", NOW, 1)
        assert base != deterministic_event_id("ritual.due", "r", "m", NOW + timedelta(days=7), 1)
        assert base != deterministic_event_id("prompt.sent", "r", "m", NOW, 1)

    def test_the_same_instant_in_another_zone_is_the_same_id(self) -> None:
        new_york = NOW.astimezone(ZoneInfo("America/New_York"))
        assert deterministic_event_id("x", NOW) == deterministic_event_id("x", new_york)

    def test_naive_datetimes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            deterministic_event_id("x", datetime(2027, 1, 4, 9, 0))


class TestRitualDue:
    def test_round_trips_through_json(self) -> None:
        event = ritual_due()
        assert RitualDueV1.model_validate_json(event.model_dump_json()) == event
        assert event.subject == RITUAL_DUE
        assert event.version == 1

    @pytest.mark.parametrize(
        "member_id", ["ana@example.org", "+447700900123", "mbr_short", "", "mbr_has space123"]
    )
    def test_member_ids_that_could_be_contact_data_are_refused(self, member_id: str) -> None:
        with pytest.raises(ValidationError, match="member_id"):
            ritual_due(member_id=member_id)

    def test_timestamps_without_offset_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="occurrence_at"):
            ritual_due(occurrence_at=datetime(2027, 1, 4, 9, 0))

    def test_timestamps_are_normalised_to_utc(self) -> None:
        event = RitualDueV1.model_validate_json(
            ritual_due()
            .model_dump_json()
            .replace("2027-01-04T09:00:00Z", "2027-01-04T10:00:00+01:00")
        )
        assert event.occurrence_at == NOW
        assert event.occurrence_at.utcoffset() == timedelta(0)

    def test_unknown_fields_are_tolerated_for_forward_compatibility(self) -> None:
        payload = ritual_due().model_dump(mode="json") | {"added_in_a_later_minor": 1}
        assert RitualDueV1.model_validate(payload).event_id == ritual_due().event_id

    def test_another_major_version_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="version"):
            RitualDueV1.model_validate(ritual_due().model_dump(mode="json") | {"version": 2})


class TestOtherEvents:
    def test_prompt_events_carry_codes_not_provider_text(self) -> None:
        due = ritual_due()
        sent = PromptSentV1(
            event_id=deterministic_event_id("prompt.sent", due.event_id, "email"),
            occurred_at=NOW,
            due_event_id=due.event_id,
            ritual_id=due.ritual_id,
            community_id=due.community_id,
            member_id=due.member_id,
            channel=Channel.email,
            attempts=1,
            occurrence_at=due.occurrence_at,
            respond_by=due.respond_by,
        )
        failed = PromptFailedV1(
            event_id=deterministic_event_id("prompt.failed", due.event_id),
            occurred_at=NOW,
            due_event_id=due.event_id,
            ritual_id=due.ritual_id,
            community_id=due.community_id,
            member_id=due.member_id,
            channel=Channel.email,
            reason=FailureReason.rejected_permanently,
            provider_status=550,
            attempts=1,
        )
        assert PromptSentV1.model_validate_json(sent.model_dump_json()) == sent
        assert PromptFailedV1.model_validate_json(failed.model_dump_json()) == failed
        with pytest.raises(ValidationError, match="reason"):
            PromptFailedV1.model_validate(
                failed.model_dump(mode="json") | {"reason": "550 <ana@example.org> unknown"}
            )

    def test_response_received_has_no_member_id_ritual_time_or_free_text(self) -> None:
        fields = set(ResponseReceivedV2.model_fields)
        assert "member_id" not in fields
        assert not {"text", "body", "email", "phone"} & fields
        # Nothing that links to the identity side: no ritual, no delivery, no answer time.
        assert not {"ritual_id", "ritual_kind", "due_event_id", "on_time", "answered_at"} & fields
        response = ResponseReceivedV2(
            event_id=keyed_event_id(b"k" * 32, "response.received", "rk_x", "ons_loneliness"),
            occurred_at=NOW,
            respondent_key="rk_0123456789abcdef0123456789abcdef",
            community_id="riverside",
            iso_week="2027-W01",
            item="ons_loneliness",
            value=3,
        )
        assert ResponseReceivedV2.model_validate_json(response.model_dump_json()) == response
        with pytest.raises(ValidationError, match="respondent_key"):
            ResponseReceivedV2.model_validate(
                response.model_dump(mode="json") | {"respondent_key": "mbr_AbCdEfGhIjKlMnOp"}
            )

    def test_keyed_ids_need_the_key(self) -> None:
        one = keyed_event_id(b"a" * 32, "response.received", "rk_x", "item")
        assert one == keyed_event_id(b"a" * 32, "response.received", "rk_x", "item")
        assert one != keyed_event_id(b"b" * 32, "response.received", "rk_x", "item")
        assert one != deterministic_event_id("response.received", "rk_x", "item")
        with pytest.raises(ValueError, match="16 bytes"):
            keyed_event_id(b"short", "x")
