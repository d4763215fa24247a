from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request

from services.notifier.domain.signed_links import LinkSigner
from services.notifier.handlers.use_cases.record_answer import AnswerDeps


@dataclass(frozen=True)
class ApiContext:
    answers: AnswerDeps
    signer: LinkSigner
    secret: bytes  # the notifier's own key (erased members are remembered by a keyed hash)
    phone_region: str = "GB"
    scrub_delay: timedelta = timedelta(minutes=10)


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context
