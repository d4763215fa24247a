"""Members' contact points and consent: operator-only, the one place they can be read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select

from services.notifier.adapters.tables import contacts
from services.notifier.api.dependencies import ApiContext, api_context
from services.notifier.domain.pseudonyms import new_member_id

router = APIRouter(prefix="/v1/members", tags=["members"])
Context = Annotated[ApiContext, Depends(api_context)]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given: bool
    source: str = Field(
        min_length=1, max_length=64, description="Where consent was recorded (form, import…)."
    )


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    locale: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")
    prompt_consent: ConsentIn = Field(description="Consent to receive prompts.")
    insights_consent: ConsentIn = Field(
        description="Separate consent to contribute anonymised answers to community indicators."
    )


class MemberOut(BaseModel):
    member_id: str
    email: str | None
    locale: str
    prompt_consent: bool
    insights_consent: bool
    created_at: datetime


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MemberOut)
async def register_member(body: MemberIn, context: Context) -> MemberOut:
    """Store a member's contact and consent; returns the pseudonymous id other services use."""
    now = context.answers.clock.now()
    member_id = new_member_id()
    async with context.answers.sessions() as session, session.begin():
        await session.execute(
            contacts.insert().values(
                member_id=member_id,
                email=str(body.email),
                locale=body.locale,
                prompt_consent=body.prompt_consent.given,
                prompt_consent_at=now,
                prompt_consent_source=body.prompt_consent.source,
                insights_consent=body.insights_consent.given,
                insights_consent_at=now,
                insights_consent_source=body.insights_consent.source,
                created_at=now,
            )
        )
    return MemberOut(
        member_id=member_id,
        email=str(body.email),
        locale=body.locale,
        prompt_consent=body.prompt_consent.given,
        insights_consent=body.insights_consent.given,
        created_at=now,
    )


@router.get("/{member_id}", response_model=MemberOut)
async def get_member(member_id: str, context: Context) -> MemberOut:
    async with context.answers.sessions() as session:
        row = (
            await session.execute(select(contacts).where(contacts.c.member_id == member_id))
        ).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such member")
    return MemberOut.model_validate(row, from_attributes=True)
