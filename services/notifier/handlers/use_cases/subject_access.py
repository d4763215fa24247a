"""Subject access: everything the notifier holds on one member, as one document.

Operators answer a member's request for their data with it. It holds what this service keeps
under the member's id: contact points and preferences, the consent trail, the sends (the
delivery ledger), their answers, the support messages they were sent and the SMS they sent.
Not in it, on purpose: the pseudonym seed and respondent keys (handing them out would tie the
person to insights' anonymised data, which is exactly what they exist to prevent), and nothing
other services hold, since they hold no personal data (the scheduler has the member id and time
zone of each enrolment: ask it).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.contacts import Contacts
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.tables import inbound_messages, signposts

CONTACT_FIELDS = (
    "member_id",
    "email",
    "phone",
    "locale",
    "preferred_channel",
    "fallback_channel",
    "quiet_start",
    "quiet_end",
    "prompt_consent",
    "insights_consent",
    "sms_opted_out_at",
    "email_opted_out_at",
    "created_at",
    "updated_at",
)
DELIVERY_FIELDS = (
    "id",
    "channel",
    "community_id",
    "ritual_id",
    "ritual_kind",
    "occurrence_at",
    "nudge_number",
    "status",
    "attempts",
    "failure_reason",
    "created_at",
    "sent_at",
    "delivered_at",
    "provider_message_id",
)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):  # a typed Delivery's channel, status, kind: as stored
        return value.value
    return value.isoformat() if isinstance(value, datetime) else value


def _pick(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in fields}


async def export_member(session: AsyncSession, member_id: str) -> dict[str, Any] | None:
    """The member's data, or None if there is no such member (or they were erased)."""
    contacts = Contacts(session, default_quiet_hours=None)
    contact = await contacts.record(member_id)
    if contact is None:
        return None
    consents = await contacts.consent_trail(member_id)
    ledger = Deliveries(session)
    sends = await ledger.of_member(member_id)
    given = await ledger.answers_of_member(member_id)
    texts = (
        await session.execute(
            select(inbound_messages)
            .where(inbound_messages.c.member_id == member_id)
            .order_by(inbound_messages.c.received_at)
        )
    ).all()
    supported = (
        await session.execute(
            select(signposts)
            .where(signposts.c.member_id == member_id)
            .order_by(signposts.c.recorded_at)
        )
    ).all()
    return {
        "contact": _pick(contact, CONTACT_FIELDS),
        "consents": [
            _pick(row, ("kind", "given", "source", "recorded_at", "ritual_id", "detail"))
            for row in consents
        ],
        "deliveries": [_pick(row, DELIVERY_FIELDS) for row in sends],
        "answers": [
            _pick(row, ("delivery_id", "item_key", "value", "on_time", "answered_at"))
            for row in given
        ],
        "inbound_messages": [
            _pick(row, ("received_at", "kind", "free_text", "delivery_id")) for row in texts
        ],
        "support_messages_sent": [
            _pick(row, ("community_id", "iso_week", "recorded_at")) for row in supported
        ],
        "not_included": (
            "Respondent keys and the pseudonym seed: they would tie this person to the "
            "anonymised data insights holds. Other services hold no personal data."
        ),
    }
