"""Answer pages behind signed links: GET shows a small form, only POST records.

Mail scanners follow links with GET; an answer must take a deliberate tap. The pages are plain
HTML with no scripts or cookies, readable on any phone (see ``member_pages``). The form asks
what the e-mail asks, the week's form-only items (WHO-5) included; an SMS reply cannot answer
those.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from services.notifier.api.dependencies import ApiContext, api_context
from services.notifier.api.member_pages import MemberPageRoute, link_problem, page
from services.notifier.domain.signed_links import InvalidLink
from services.notifier.handlers.compose import ANSWER_PURPOSE
from services.notifier.handlers.use_cases.record_answer import (
    AnswerOutcome,
    InvalidAnswer,
    UnknownDelivery,
    questions_for,
    record_answers,
)
from shared.contracts import Channel

router = APIRouter(tags=["replies"], route_class=MemberPageRoute)
Context = Annotated[ApiContext, Depends(api_context)]


def _not_found() -> HTMLResponse:
    return page("Not found", "<h1>We could not find this check-in</h1>", 404)


@router.get("/r/{token}", response_class=HTMLResponse)
async def answer_form(token: str, request: Request, context: Context) -> HTMLResponse:
    try:
        delivery_id = context.signer.verify(token, ANSWER_PURPOSE, context.answers.clock.now())
        questions = await questions_for(context.answers, delivery_id, Channel.email)
    except InvalidLink as error:
        return link_problem(error)
    except UnknownDelivery:
        return _not_found()
    questionnaire = questions.questionnaire
    if questionnaire is None or not questionnaire.items:
        return _not_found()
    chosen = dict(request.query_params)  # a one-tap link preselects its answer
    locale = questions.locale
    fieldsets = []
    for position, item in enumerate(questionnaire.items):
        key = item.key
        intro = questionnaire.intro_before(position, locale)
        if intro is not None:
            fieldsets.append(f'<p class="intro">{escape(intro)}</p>')
        choices = "".join(
            f'<label><input type="radio" name="{escape(key)}" value="{escape(str(option.value))}"'
            f"{' checked' if str(option.value) == chosen.get(key) else ''}> "
            f"{escape(option.label(locale))}</label>"
            for option in item.options
        )
        fieldsets.append(
            f"<fieldset><legend>{escape(item.prompt(locale))}</legend>{choices}</fieldset>"
        )
    body = (
        "<h1>Your check-in</h1>"
        f'<form method="post" action="/r/{escape(token)}">{"".join(fieldsets)}'
        '<button type="submit">Send my answers</button></form>'
        "<p>Skip any question you'd rather not answer.</p>"
    )
    return page("Your check-in", body)


@router.post("/r/{token}", response_class=HTMLResponse)
async def submit_answer(token: str, request: Request, context: Context) -> HTMLResponse:
    try:
        delivery_id = context.signer.verify(token, ANSWER_PURPOSE, context.answers.clock.now())
        questions = await questions_for(context.answers, delivery_id, Channel.email)
        form = await request.form()
        values: dict[str, int] = {}
        for key in questions.items:
            raw = form.get(key, form.get("value") if len(questions.items) == 1 else None)
            if isinstance(raw, str) and raw.strip():
                try:
                    values[key] = int(raw)
                except ValueError as error:
                    raise InvalidAnswer("answers are the numbers shown") from error
        result = await record_answers(context.answers, delivery_id, values, Channel.email)
    except InvalidLink as error:
        return link_problem(error)
    except UnknownDelivery:
        return _not_found()
    except InvalidAnswer as error:
        return page("Please choose an answer", f"<h1>{escape(str(error))}</h1>", 422)
    if result.outcome is AnswerOutcome.already_answered:
        return page("Already answered", "<h1>We already have your answer. Thank you!</h1>")
    support = ""
    if result.signpost and context.answers.distress is not None:
        support = f'<p class="support">{escape(context.answers.distress.support_message)}</p>'
    return page("Thank you", f"<h1>Thank you</h1><p>Your answer is recorded.</p>{support}")
