"""The member's preferences page, behind the signed link every prompt carries (and the reply to
the SMS keyword PREFS): pause, resume or stop each ritual, choose among the time slots a ritual
offers (local times in the zone its prompts are read in, named on the page), and choose
channel, quiet hours and language.

Plain HTML forms, no script: GET shows the form; POST saves and redirects (303) to the page
again, so a reload never posts twice. The form carries a short-lived signed token of its own
(purpose ``preferences-form``, for the same member): a POST without one, or with a token made
for someone else or expired, saves nothing (403). Every save goes to the consent trail, and a
ritual's pause, resume or stop to the scheduler (``handlers/use_cases/preferences``).
"""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from services.notifier.api.dependencies import ApiContext, api_context
from services.notifier.api.member_pages import MemberPageRoute, link_problem, page
from services.notifier.api.preferences_text import page_language, text
from services.notifier.domain.signed_links import ExpiredLink, InvalidLink
from services.notifier.handlers.compose import PREFERENCES_FORM_PURPOSE, PREFERENCES_PURPOSE
from services.notifier.handlers.use_cases.preferences import (
    LANGUAGES,
    ChosenPreferences,
    InvalidPreferences,
    MemberPreferences,
    RitualPreference,
    load_preferences,
    parse_local_time,
    save_preferences,
)
from shared.contracts import Channel, RitualChoice, RitualKind

router = APIRouter(tags=["preferences"], route_class=MemberPageRoute)
Context = Annotated[ApiContext, Depends(api_context)]

# Long enough to read and fill the form; short enough that a copied page is soon useless.
FORM_TOKEN_LIFETIME = timedelta(hours=2)
KINDS = {f"kind.{kind.value}" for kind in RitualKind}


def _radio(name: str, value: str, label: str, checked: bool) -> str:
    ident = f"{name}-{value}"
    return (
        f'<label for="{escape(ident)}"><input type="radio" id="{escape(ident)}" '
        f'name="{escape(name)}" value="{escape(value)}"{" checked" if checked else ""}> '
        f"{escape(label)}</label>"
    )


def _ritual_fieldsets(preferences: MemberPreferences, lang: str) -> str:
    if not preferences.rituals:
        return f"<p>{escape(text('no_rituals', lang))}</p>"
    parts = []
    for ritual in preferences.rituals:
        name = f"ritual-{ritual.ritual_id}"
        kind = f"kind.{ritual.kind}"
        title = f"{text(kind, lang) if kind in KINDS else ritual.kind} ({ritual.ritual_id})"
        choices = "".join(
            _radio(
                name, choice.value, text(f"choice.{choice.value}", lang), ritual.choice is choice
            )
            for choice in RitualChoice
        )
        parts.append(
            f"<fieldset><legend>{escape(title)}</legend>{choices}"
            f"{_slot_fieldset(ritual, lang)}</fieldset>"
        )
    return "".join(parts)


def _slot_fieldset(ritual: RitualPreference, lang: str) -> str:
    """The ritual's time slots as radio buttons, if it offers more than one."""
    if len(ritual.time_slots) < 2:
        return ""
    legend = (
        text("slot_legend_zone", lang).format(zone=ritual.zone)
        if ritual.zone
        else text("slot_legend", lang)
    )
    slots = "".join(
        _radio(f"slot-{ritual.ritual_id}", slot, slot, slot == ritual.time_slot)
        for slot in ritual.time_slots
    )
    return f"<fieldset><legend>{escape(legend)}</legend>{slots}</fieldset>"


def _form(token: str, form_token: str, preferences: MemberPreferences, notice: str) -> str:
    lang = page_language(preferences.language)

    def say(key: str) -> str:
        return escape(text(key, lang))

    channels = "".join(
        _radio(
            "channel",
            channel.value,
            text(f"channel.{channel.value}", lang),
            channel is preferences.preferred_channel,
        )
        for channel in preferences.channels
    )
    languages = "".join(
        _radio("language", code, label, code == preferences.language)
        for code, label in LANGUAGES.items()
    )
    return (
        f"<h1>{say('title')}</h1>{notice}"
        f'<form method="post" action="/p/{escape(token)}">'
        f'<input type="hidden" name="form_token" value="{escape(form_token)}">'
        f"<h2>{say('rituals')}</h2>"
        f"{_ritual_fieldsets(preferences, lang)}"
        f"<h2>{say('reach')}</h2>"
        f"<fieldset><legend>{say('channel_legend')}</legend>{channels}</fieldset>"
        f'<fieldset aria-describedby="quiet-hint"><legend>{say("quiet_legend")}</legend>'
        f'<p id="quiet-hint">{say("quiet_hint")}</p>'
        f'<label for="quiet_start">{say("from")}'
        f'<input type="time" id="quiet_start" name="quiet_start" '
        f'value="{escape(preferences.quiet_start or "")}"></label>'
        f'<label for="quiet_end">{say("until")}'
        f'<input type="time" id="quiet_end" name="quiet_end" '
        f'value="{escape(preferences.quiet_end or "")}"></label></fieldset>'
        f"<fieldset><legend>{say('language_legend')}</legend>{languages}</fieldset>"
        f'<button type="submit">{say("save")}</button></form>'
    )


def _read_form(form: FormData, preferences: MemberPreferences) -> ChosenPreferences:
    def field(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    rituals: dict[str, RitualChoice] = {}
    time_slots: dict[str, str] = {}
    for ritual in preferences.rituals:
        slot = field(f"slot-{ritual.ritual_id}")
        if slot is not None:
            time_slots[ritual.ritual_id] = slot
        raw = field(f"ritual-{ritual.ritual_id}")
        if raw is None:
            continue
        try:
            rituals[ritual.ritual_id] = RitualChoice(raw)
        except ValueError as error:
            raise InvalidPreferences(
                "ritual_choice", "choose keep, pause or stop for each ritual"
            ) from error
    channel_text = field("channel")
    try:
        channel = Channel(channel_text) if channel_text else None
    except ValueError as error:
        raise InvalidPreferences("channel", "the channel must be e-mail or text message") from error
    return ChosenPreferences(
        rituals=rituals,
        time_slots=time_slots,
        channel=channel,
        quiet_hours_sent="quiet_start" in form or "quiet_end" in form,
        quiet_start=parse_local_time(field("quiet_start"), "start"),
        quiet_end=parse_local_time(field("quiet_end"), "end"),
        language=field("language") or None,
    )


def _gone() -> HTMLResponse:
    return page("Not found", f"<h1>{escape(text('not_found', 'en'))}</h1>", 404)


@router.get("/p/{token}", response_class=HTMLResponse)
async def preferences_form(token: str, request: Request, context: Context) -> HTMLResponse:
    now = context.answers.clock.now()
    try:
        member_id = context.signer.verify(token, PREFERENCES_PURPOSE, now)
    except InvalidLink as error:
        return link_problem(error)
    async with context.answers.sessions() as session:
        preferences = await load_preferences(session, member_id)
    if preferences is None:
        return _gone()
    lang = page_language(preferences.language)
    notice = ""
    if request.query_params.get("saved") == "1":
        notice = f'<p role="status" class="saved">{escape(text("saved", lang))}</p>'
    form_token = context.signer.sign(PREFERENCES_FORM_PURPOSE, member_id, now + FORM_TOKEN_LIFETIME)
    return page(text("title", lang), _form(token, form_token, preferences, notice), lang=lang)


@router.post("/p/{token}", response_class=HTMLResponse)
async def save(token: str, request: Request, context: Context) -> HTMLResponse:
    now = context.answers.clock.now()
    try:
        member_id = context.signer.verify(token, PREFERENCES_PURPOSE, now)
    except InvalidLink as error:
        return link_problem(error)
    form = await request.form()
    form_token = form.get("form_token")
    async with context.answers.sessions() as session:
        preferences = await load_preferences(session, member_id)
    if preferences is None:
        return _gone()
    lang = page_language(preferences.language)
    try:
        if not isinstance(form_token, str):
            raise InvalidLink("no form token")
        signed_for = context.signer.verify(form_token, PREFERENCES_FORM_PURPOSE, now)
        if signed_for != member_id:
            raise InvalidLink("form token of another member")
    except InvalidLink as error:
        what = "form_expired" if isinstance(error, ExpiredLink) else "form_unchecked"
        return page(
            text("retry_title", lang),
            f"<h1>{escape(text(what, lang))}</h1><p>{escape(text('nothing_changed', lang))} "
            f'<a href="/p/{escape(token)}">{escape(text("open_again", lang))}</a> '
            f"{escape(text('and_save', lang))}</p>",
            403,
            lang=lang,
        )
    async with context.answers.sessions() as session, session.begin():
        try:
            chosen = _read_form(form, preferences)
            await save_preferences(session, member_id, chosen, context.secret, now)
        except InvalidPreferences as error:
            # Raised before anything is written: the transaction commits nothing.
            reason = text(f"error.{error.code}", lang)
            notice = (
                '<div role="alert" class="error"><p>'
                f"{escape(text('not_saved', lang).format(reason=reason))}</p></div>"
            )
            fresh = context.signer.sign(
                PREFERENCES_FORM_PURPOSE, member_id, now + FORM_TOKEN_LIFETIME
            )
            body = _form(token, fresh, preferences, notice)
            return page(text("check_title", lang), body, 422, lang=lang)
        except LookupError:
            return _gone()
    context.answers.relay.kick()
    # 303: the browser shows the page again with GET, so a reload never posts twice. The body
    # is for a client that does not follow redirects.
    saved = f"/p/{escape(token)}?saved=1"
    response = page(
        text("saved_short", lang),
        f'<p>{escape(text("saved_short", lang))} <a href="{saved}">'
        f"{escape(text('back', lang))}</a></p>",
        303,
        lang=lang,
    )
    response.headers["Location"] = f"/p/{token}?saved=1"
    return response
