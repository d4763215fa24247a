"""One-click unsubscribe from e-mail prompts (RFC 8058).

Mail providers POST ``List-Unsubscribe=One-Click`` to the URL in the List-Unsubscribe header,
without cookies: the signed token in the path is the whole authorisation. A GET, which link
scanners and previews make, only shows a page with a button: it never unsubscribes.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from services.notifier.adapters.contacts import Contacts
from services.notifier.api.dependencies import ApiContext, api_context
from services.notifier.api.member_pages import MemberPageRoute, link_problem, page
from services.notifier.domain.signed_links import InvalidLink
from services.notifier.handlers.compose import UNSUBSCRIBE_PURPOSE
from services.notifier.handlers.use_cases.members import record_consent

router = APIRouter(tags=["unsubscribe"], route_class=MemberPageRoute)
Context = Annotated[ApiContext, Depends(api_context)]


@router.get("/u/{token}", response_class=HTMLResponse)
async def confirm_unsubscribe(token: str, context: Context) -> HTMLResponse:
    try:
        context.signer.verify(token, UNSUBSCRIBE_PURPOSE, context.answers.clock.now())
    except InvalidLink as error:
        return link_problem(error)
    return page(
        "Stop check-in e-mails?",
        "<h1>Stop check-in e-mails?</h1><p>You won't get these e-mails any more. You can "
        "always ask to start again.</p>"
        f'<form method="post" action="/u/{escape(token)}"><button type="submit" '
        'name="List-Unsubscribe" value="One-Click">Unsubscribe</button></form>',
    )


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(token: str, context: Context) -> HTMLResponse:
    deps = context.answers
    try:
        member_id = context.signer.verify(token, UNSUBSCRIBE_PURPOSE, deps.clock.now())
    except InvalidLink as error:
        return link_problem(error)
    async with deps.sessions() as session, session.begin():
        contact = await Contacts(session, default_quiet_hours=None).record(member_id)
        # Once: an address already opted out gets no second row in the consent trail.
        if contact is not None and contact.email_opted_out_at is None:
            await record_consent(
                session, member_id, "email", False, "one-click unsubscribe", deps.clock.now()
            )
    return page(
        "Unsubscribed",
        "<h1>You're unsubscribed</h1><p>We won't send you check-in e-mails any more.</p>",
    )
