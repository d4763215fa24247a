"""An SMS from a member: opt-out, opt-in, help, preferences (PREFS), an answer, or free text.

Handled once per provider message id. Opting out takes effect before anything else and is
confirmed once; answers go to the member's latest SMS prompt; free text stays here (for
``retain_inbound_messages_days``), and is not kept at all from a number that belongs to no member
(an erased member texting again is a stranger); a reply that matches the distress rule gets the
support resources at once (and is recorded: insights counts it, for consenting members only).
Returns the text to send back, if any (the caller sends it, outside the transaction).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.notifier.adapters.contacts import Contacts
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.tables import inbound_messages
from services.notifier.domain.keywords import InboundKind, InboundSms, classify_inbound_sms
from services.notifier.domain.questionnaire import InvalidAnswer as QuestionnaireInvalidAnswer
from services.notifier.domain.questionnaire import Questionnaire
from services.notifier.handlers.use_cases.members import record_consent
from services.notifier.handlers.use_cases.record_answer import (
    RITUAL_KEPT,
    AnswerDeps,
    AnswerOutcome,
    InvalidAnswer,
    questions_for,
    record_answers,
    record_signpost,
)
from services.notifier.templating.wording import wording
from shared.contracts import Channel
from shared.db import insert_ignoring_duplicates

ServiceText = Callable[[str, str], Awaitable[str]]  # (text key, locale) -> text
PreferencesLink = Callable[[str], str]  # member id -> signed link to their preferences page


@dataclass(frozen=True)
class InboundResult:
    handled: str
    reply: str | None


def _answer_values(message: InboundSms, questionnaire: Questionnaire | None) -> dict[str, int]:
    if message.kind is InboundKind.YES_NO:
        if questionnaire is not None:
            raise InvalidAnswer("reply with the numbers of your answers")
        return {RITUAL_KEPT: 1 if message.yes else 0}
    if questionnaire is None:
        raise InvalidAnswer("there is no open question to answer")
    try:
        return questionnaire.parse_numbers(message.numbers)
    except QuestionnaireInvalidAnswer as error:
        raise InvalidAnswer(str(error)) from error


async def handle_inbound_sms(
    deps: AnswerDeps,
    provider_message_id: str,
    from_e164: str,
    body: str,
    texts: ServiceText,
    preferences_link: PreferencesLink | None = None,
) -> InboundResult:
    now = deps.clock.now()
    message = classify_inbound_sms(body)
    async with deps.sessions() as session, session.begin():
        contact = await Contacts(session, default_quiet_hours=None).by_phone(from_e164)
        member_id = contact.member_id if contact else None
        first_time = await insert_ignoring_duplicates(
            session,
            inbound_messages,
            [
                {
                    "provider_message_id": provider_message_id,
                    "member_id": member_id,
                    "kind": message.kind.value,
                    # Free text only from a member: a stranger's words are nobody's to keep.
                    "free_text": (
                        body if contact and message.kind is InboundKind.FREE_TEXT else None
                    ),
                    "received_at": now,
                }
            ],
        )
        if not first_time:
            return InboundResult("duplicate", None)
        if contact is None:
            return InboundResult("unknown_sender", None)
        locale = contact.locale
        if message.kind is InboundKind.OPT_OUT:
            if contact.sms_opted_out_at is not None:
                return InboundResult("already_opted_out", None)  # confirm once only
            await record_consent(session, contact.member_id, "sms", False, "sms keyword", now)
            return InboundResult("opted_out", await texts("sms_opt_out_confirmation", locale))
        if message.kind is InboundKind.OPT_IN:
            await record_consent(session, contact.member_id, "sms", True, "sms keyword", now)
            return InboundResult("opted_in", await texts("sms_opt_in_confirmation", locale))
        if message.kind is InboundKind.HELP:
            return InboundResult("help", await texts("sms_help", locale))
        if message.kind is InboundKind.PREFERENCES:
            if preferences_link is None:
                return InboundResult("help", await texts("sms_help", locale))
            link = preferences_link(contact.member_id)
            return InboundResult("preferences", wording("preferences_sms", locale).format(url=link))
        if message.kind is InboundKind.FREE_TEXT:
            if deps.distress is not None and deps.distress.by_text(body):
                ledger = Deliveries(session)
                latest = await ledger.sms_prompt_to_answer(contact.member_id)
                prompt = await ledger.get(latest) if latest is not None else None
                if prompt is not None:
                    await record_signpost(
                        session,
                        contact.member_id,
                        prompt.community_id,
                        prompt.occurrence_local_date,
                        now,
                    )
                return InboundResult("signposted", deps.distress.support_message)
            return InboundResult("free_text", None)
        delivery_id = await Deliveries(session).sms_prompt_to_answer(contact.member_id)
    # Answers: numbers or yes/no, recorded in their own transaction.
    if delivery_id is None:
        return InboundResult("no_open_prompt", await texts("sms_answer_invalid", locale))
    questions = await questions_for(deps, delivery_id, Channel.sms)
    try:
        values = _answer_values(message, questions.questionnaire)
        result = await record_answers(deps, delivery_id, values, Channel.sms)
    except InvalidAnswer:
        return InboundResult("invalid_answer", await texts("sms_answer_invalid", locale))
    if result.signpost and deps.distress is not None:
        return InboundResult("answered_signposted", deps.distress.support_message)
    if result.outcome is AnswerOutcome.already_answered:
        return InboundResult("already_answered", await texts("sms_answer_thanks", locale))
    return InboundResult("answered", await texts("sms_answer_thanks", locale))
