"""The member's preferences page, behind the signed link every prompt carries (and the reply to
the SMS keyword PREFS): pause, resume or stop each ritual, and choose channel, quiet hours and
language.

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
from services.notifier.domain.signed_links import ExpiredLink, InvalidLink
from services.notifier.handlers.compose import PREFERENCES_FORM_PURPOSE, PREFERENCES_PURPOSE
from services.notifier.handlers.use_cases.preferences import (
    LANGUAGES,
    ChosenPreferences,
    InvalidPreferences,
    MemberPreferences,
    load_preferences,
    parse_local_time,
    save_preferences,
)
from shared.contracts import Channel, RitualChoice

router = APIRouter(tags=["preferences"], route_class=MemberPageRoute)
Context = Annotated[ApiContext, Depends(api_context)]

# Long enough to read and fill the form; short enough that a copied page is soon useless.
FORM_TOKEN_LIFETIME = timedelta(hours=2)

RITUAL_NAMES = {
    "check_in": "Check-in",
    "shared_activity": "Shared activity",
    "reach_out": "Reach-out reminder",
    "gratitude": "Gratitude moment",
    "group_event": "Group event",
}
CHOICE_LABELS = {
    RitualChoice.active: "Keep receiving it",
    RitualChoice.paused: "Pause it for now (resume here any time)",
    RitualChoice.stopped: "Stop this one (the others go on)",
}
CHANNEL_LABELS = {Channel.email: "E-mail", Channel.sms: "Text message (SMS)"}


def _radio(name: str, value: str, label: str, checked: bool) -> str:
    ident = f"{name}-{value}"
    return (
        f'<label for="{escape(ident)}"><input type="radio" id="{escape(ident)}" '
        f'name="{escape(name)}" value="{escape(value)}"{" checked" if checked else ""}> '
        f"{escape(label)}</label>"
    )


def _ritual_fieldsets(preferences: MemberPreferences) -> str:
    if not preferences.rituals:
        return "<p>You have no rituals yet: they appear here after their first message.</p>"
    parts = []
    for ritual in preferences.rituals:
        name = f"ritual-{ritual.ritual_id}"
        title = f"{RITUAL_NAMES.get(ritual.kind, ritual.kind)} ({ritual.ritual_id})"
        choices = "".join(
            _radio(name, choice.value, label, ritual.choice is choice)
            for choice, label in CHOICE_LABELS.items()
        )
        parts.append(f"<fieldset><legend>{escape(title)}</legend>{choices}</fieldset>")
    return "".join(parts)


def _form(token: str, form_token: str, preferences: MemberPreferences, notice: str) -> str:
    channels = "".join(
        _radio(
            "channel",
            channel.value,
            CHANNEL_LABELS[channel],
            channel is preferences.preferred_channel,
        )
        for channel in preferences.channels
    )
    languages = "".join(
        _radio("language", code, label, code == preferences.language)
        for code, label in LANGUAGES.items()
    )
    return (
        f"<h1>Your preferences</h1>{notice}"
        f'<form method="post" action="/p/{escape(token)}">'
        f'<input type="hidden" name="form_token" value="{escape(form_token)}">'
        "<h2>Your rituals</h2>"
        f"{_ritual_fieldsets(preferences)}"
        "<h2>How we reach you</h2>"
        f"<fieldset><legend>Send my messages by</legend>{channels}</fieldset>"
        '<fieldset aria-describedby="quiet-hint"><legend>Quiet hours</legend>'
        '<p id="quiet-hint">No messages between these times, in your own time zone (they wait '
        "until the quiet hours end). Leave both empty for none.</p>"
        '<label for="quiet_start">From (for example 22:00)'
        f'<input type="time" id="quiet_start" name="quiet_start" '
        f'value="{escape(preferences.quiet_start or "")}"></label>'
        '<label for="quiet_end">Until (for example 07:30)'
        f'<input type="time" id="quiet_end" name="quiet_end" '
        f'value="{escape(preferences.quiet_end or "")}"></label></fieldset>'
        f"<fieldset><legend>Language of your messages</legend>{languages}</fieldset>"
        '<button type="submit">Save my choices</button></form>'
    )


def _read_form(form: FormData, preferences: MemberPreferences) -> ChosenPreferences:
    def text(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    rituals: dict[str, RitualChoice] = {}
    for ritual in preferences.rituals:
        raw = text(f"ritual-{ritual.ritual_id}")
        if raw is None:
            continue
        try:
            rituals[ritual.ritual_id] = RitualChoice(raw)
        except ValueError as error:
            raise InvalidPreferences("choose keep, pause or stop for each ritual") from error
    channel_text = text("channel")
    try:
        channel = Channel(channel_text) if channel_text else None
    except ValueError as error:
        raise InvalidPreferences("the channel must be e-mail or text message") from error
    return ChosenPreferences(
        rituals=rituals,
        channel=channel,
        quiet_hours_sent="quiet_start" in form or "quiet_end" in form,
        quiet_start=parse_local_time(text("quiet_start"), "the start of quiet hours"),
        quiet_end=parse_local_time(text("quiet_end"), "the end of quiet hours"),
        language=text("language") or None,
    )


def _gone() -> HTMLResponse:
    return page("Not found", "<h1>We could not find your preferences</h1>", 404)


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
    notice = ""
    if request.query_params.get("saved") == "1":
        notice = '<p role="status" class="saved">Your choices are saved.</p>'
    form_token = context.signer.sign(PREFERENCES_FORM_PURPOSE, member_id, now + FORM_TOKEN_LIFETIME)
    return page("Your preferences", _form(token, form_token, preferences, notice))


@router.post("/p/{token}", response_class=HTMLResponse)
async def save(token: str, request: Request, context: Context) -> HTMLResponse:
    now = context.answers.clock.now()
    try:
        member_id = context.signer.verify(token, PREFERENCES_PURPOSE, now)
    except InvalidLink as error:
        return link_problem(error)
    form = await request.form()
    form_token = form.get("form_token")
    try:
        if not isinstance(form_token, str):
            raise InvalidLink("no form token")
        signed_for = context.signer.verify(form_token, PREFERENCES_FORM_PURPOSE, now)
        if signed_for != member_id:
            raise InvalidLink("form token of another member")
    except InvalidLink as error:
        what = "has expired" if isinstance(error, ExpiredLink) else "could not be checked"
        return page(
            "Please try again",
            f"<h1>This form {what}</h1><p>Nothing was changed. "
            f'<a href="/p/{escape(token)}">Open your preferences again</a> and save once more.</p>',
            403,
        )
    async with context.answers.sessions() as session, session.begin():
        preferences = await load_preferences(session, member_id)
        if preferences is None:
            return _gone()
        try:
            chosen = _read_form(form, preferences)
            await save_preferences(session, member_id, chosen, context.secret, now)
        except InvalidPreferences as error:
            # Raised before anything is written: the transaction commits nothing.
            notice = (
                '<div role="alert" class="error"><p>Nothing was saved: '
                f"{escape(str(error))}.</p></div>"
            )
            fresh = context.signer.sign(
                PREFERENCES_FORM_PURPOSE, member_id, now + FORM_TOKEN_LIFETIME
            )
            return page("Please check your choices", _form(token, fresh, preferences, notice), 422)
    context.answers.relay.kick()
    # 303: the browser shows the page again with GET, so a reload never posts twice. The body
    # is for a client that does not follow redirects.
    saved = f"/p/{escape(token)}?saved=1"
    response = page("Saved", f'<p>Saved. <a href="{saved}">Back to your preferences</a></p>', 303)
    response.headers["Location"] = f"/p/{token}?saved=1"
    return response
