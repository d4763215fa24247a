"""Answer pages behind signed links: GET shows a small form, only POST records.

Mail scanners follow links with GET; an answer must take a deliberate tap. The pages are plain
HTML with no scripts or cookies, readable on any phone.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse

from services.notifier.api.dependencies import ApiContext, api_context
from services.notifier.domain.signed_links import ExpiredLink, InvalidLink
from services.notifier.handlers.compose import ANSWER_PURPOSE
from services.notifier.handlers.record_answer import (
    AnswerOutcome,
    InvalidAnswer,
    UnknownDelivery,
    question_for,
    record_answer,
)

router = APIRouter(tags=["replies"])
Context = Annotated[ApiContext, Depends(api_context)]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;
line-height:1.5}}label{{display:block;padding:.75rem;margin:.5rem 0;border:1px solid #bbb;
border-radius:.5rem}}button{{font-size:1.1rem;padding:.75rem 1.5rem;border-radius:.5rem}}</style>
</head><body>{body}</body></html>"""


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status_code)


def _link_problem(error: InvalidLink) -> HTMLResponse:
    if isinstance(error, ExpiredLink):
        return page("Link expired", "<h1>This link has expired</h1>", 410)
    return page("Link not valid", "<h1>This link is not valid</h1>", 403)


@router.get("/r/{token}", response_class=HTMLResponse)
async def answer_form(
    token: str, context: Context, v: Annotated[int | None, Query()] = None
) -> HTMLResponse:
    try:
        delivery_id = context.signer.verify(token, ANSWER_PURPOSE, context.answers.clock.now())
        question = await question_for(context.answers, delivery_id)
    except InvalidLink as error:
        return _link_problem(error)
    except UnknownDelivery:
        return page("Not found", "<h1>We could not find this check-in</h1>", 404)
    choices = "".join(
        f'<label><input type="radio" name="value" value="{option.value}"'
        f"{' checked' if option.value == v else ''} required> {escape(option.label)}</label>"
        for option in question.item.options
    )
    body = (
        f"<h1>{escape(question.item.prompt)}</h1>"
        f'<form method="post" action="/r/{escape(token)}">{choices}'
        '<button type="submit">Send my answer</button></form>'
        "<p>You can leave this page if you'd rather not answer.</p>"
    )
    return page("Your check-in", body)


@router.post("/r/{token}", response_class=HTMLResponse)
async def submit_answer(
    token: str, context: Context, value: Annotated[int, Form()]
) -> HTMLResponse:
    try:
        delivery_id = context.signer.verify(token, ANSWER_PURPOSE, context.answers.clock.now())
        outcome = await record_answer(context.answers, delivery_id, value)
    except InvalidLink as error:
        return _link_problem(error)
    except UnknownDelivery:
        return page("Not found", "<h1>We could not find this check-in</h1>", 404)
    except InvalidAnswer as error:
        return page("Please choose an answer", f"<h1>{escape(str(error))}</h1>", 422)
    if outcome is AnswerOutcome.already_answered:
        return page("Already answered", "<h1>We already have your answer. Thank you!</h1>")
    return page("Thank you", "<h1>Thank you</h1><p>Your answer is recorded.</p>")
