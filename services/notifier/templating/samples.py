"""Sample contexts: what validation, previews and tests render templates with.

Realistic and a little pessimistic, so segment counts are not understated: a deadline on a
long weekday and month ("Wednesday 29 September", "miércoles, 29 de septiembre"), links as
long as real signed links, every module week, prompt and reminder, every support focus. The
questions are those of the channel the sample is for: an e-mail's include the form-only ones.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.notifier.domain.questionnaire import (
    MODULES,
    NUDGE_SUFFIX,
    Questionnaire,
    questionnaire_for,
)
from services.notifier.templating.context import RITUAL_KINDS, SUPPORT_FOCUSES, PromptContext
from services.notifier.templating.sources import is_service_key
from shared.contracts import Channel

SAMPLE_RESPOND_BY = datetime(2027, 9, 29, 8, 0, tzinfo=UTC)  # Wed 09:00 in London (BST)
SAMPLE_TIMEZONE = "Europe/London"
SAMPLE_BASE_URL = "https://rituals.example"
# As long as a real signed link (base64url payload and MAC: 95 characters).
SAMPLE_LINK_ID = f"{'S' * 72}.{'m' * 22}"


def module_date(module: int) -> date:
    """A local date in the sample's month whose ISO week asks module ``module``."""
    return date.fromisocalendar(2027, 36 + module, 1)  # weeks 36-39: 36 % 4 == 0


def sample_questionnaire(key: str, module: int, channel: Channel) -> Questionnaire | None:
    return questionnaire_for(key, module_date(module), channel)


def kind_for_key(key: str) -> str:
    base = key.removesuffix(NUDGE_SUFFIX)
    return base if base in RITUAL_KINDS else "check_in"


def sample_context(
    key: str,
    locale: str,
    *,
    nudge_number: int = 0,
    kind: str | None = None,
    support_focus: str | None = None,
    module: int | None = None,
    questionnaire: Questionnaire | None = None,
    with_links: bool = True,
    channel: Channel = Channel.sms,
) -> PromptContext:
    """One sample for ``channel`` (by default SMS, whose questions every channel asks). The
    questionnaire is the one ``key`` asks in module ``module`` (default 0), unless given;
    service texts (``sms_*``) get one only when given or ``module`` is set, like a reply to a
    check-in. One-tap links, as a send makes them: none for form-only items."""
    if questionnaire is None and (module is not None or not is_service_key(key)):
        questionnaire = sample_questionnaire(key, module or 0, channel)
        if questionnaire is None and is_service_key(key):
            questionnaire = sample_questionnaire("check_in", module or 0, channel)
    form = f"{SAMPLE_BASE_URL}/r/{SAMPLE_LINK_ID}"
    option_urls = (
        {
            item.key: {option.value: f"{form}?{item.key}={option.value}" for option in item.options}
            for item in questionnaire.items
            if not item.form_only
        }
        if questionnaire and with_links
        else {}
    )
    return PromptContext(
        questionnaire=questionnaire,
        locale=locale,
        timezone=SAMPLE_TIMEZONE,
        respond_by=SAMPLE_RESPOND_BY,
        answer_url=form if with_links else None,
        option_urls=option_urls,
        unsubscribe_url=f"{SAMPLE_BASE_URL}/u/{SAMPLE_LINK_ID}" if with_links else None,
        ritual_kind=kind or kind_for_key(key),
        nudge_number=nudge_number,
        support_focus=support_focus,
    )


def sample_contexts(
    key: str,
    locale: str,
    nudge_numbers: tuple[int, ...] = (0,),
    limit: int | None = None,
    channel: Channel = Channel.sms,
) -> list[PromptContext]:
    """Every combination a template for ``key`` in ``channel`` is checked with: each module
    week (or none for reminders; both for service texts, which may answer a check-in or not),
    each nudge number given, each support focus and none, with links and without; at most
    ``limit`` of them. Ordered so that any first few vary the module week and the nudge number
    first (what changes a text's length most), then links, then the support focus."""
    asks = sample_questionnaire(key, 0, channel) is not None
    if asks:
        modules: tuple[int | None, ...] = tuple(range(len(MODULES)))
    elif is_service_key(key):
        modules = (None, *range(len(MODULES)))
    else:
        modules = (None,)
    groups = []
    for module in modules:
        questionnaire = (
            sample_questionnaire(key if asks else "check_in", module, channel)
            if module is not None
            else None
        )
        for nudge_number in nudge_numbers:
            groups.append(
                [
                    sample_context(
                        key,
                        locale,
                        nudge_number=nudge_number,
                        support_focus=focus,
                        questionnaire=questionnaire,
                        with_links=with_links,
                    )
                    for focus in (None, *SUPPORT_FOCUSES)
                    for with_links in (True, False)
                ]
            )
    # One of each (module, nudge) group in turn: the groups are all the same length.
    interleaved = [ctx for turn in zip(*groups, strict=True) for ctx in turn]
    return interleaved[:limit]
