"""Members' contact points, preferences and consent: operator-only, the one place they are read.

Member ids are minted here and are the only identity other services ever see.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from services.notifier.adapters.contacts import ContactChanges, ContactRecord, Contacts
from services.notifier.api.dependencies import ApiContext, api_context
from services.notifier.domain.phone import InvalidPhone, to_e164
from services.notifier.handlers.use_cases import members as member_handlers
from services.notifier.handlers.use_cases.subject_access import export_member as export_member_data
from shared.contracts import Channel

router = APIRouter(prefix="/v1/members", tags=["members"])
Context = Annotated[ApiContext, Depends(api_context)]
LOCALE = r"^[a-z]{2,3}(-[A-Z]{2})?$"


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given: bool
    source: str = Field(
        min_length=1, max_length=64, description="Where consent was recorded (form, import…)."
    )


class QuietHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: time = Field(description="Local time quiet hours begin, e.g. 21:30.")
    end: time = Field(description="Local time they end, e.g. 08:00 (may be the next day).")


class ContactFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    phone: str | None = Field(
        default=None,
        max_length=32,
        description="As the member gives it; stored as E.164. Without +country code, the "
        "notifier's default region applies unless phone_region says otherwise.",
    )
    phone_region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    locale: str | None = Field(default=None, pattern=LOCALE)
    preferred_channel: Channel | None = None
    fallback_channel: Channel | None = None
    quiet_hours: QuietHoursIn | None = Field(
        default=None, description="Omit for the service default; set start = end for none."
    )


class MemberIn(ContactFields):
    locale: str = Field(default="en", pattern=LOCALE)
    preferred_channel: Channel = Channel.email
    prompt_consent: ConsentIn = Field(description="Consent to receive prompts.")
    insights_consent: ConsentIn = Field(
        description="Separate consent to contribute anonymised answers to community indicators."
    )

    @model_validator(mode="after")
    def _channels_have_addresses(self) -> MemberIn:
        if not self.email and not self.phone:
            raise ValueError("give an email, a phone number or both")
        for role, channel in (
            ("preferred", self.preferred_channel),
            ("fallback", self.fallback_channel),
        ):
            if channel is Channel.email and not self.email:
                raise ValueError(f"{role} channel is email but no email was given")
            if channel is Channel.sms and not self.phone:
                raise ValueError(f"{role} channel is sms but no phone was given")
        if self.fallback_channel is not None and self.fallback_channel == self.preferred_channel:
            raise ValueError("the fallback channel must differ from the preferred one")
        return self


class MemberPatch(ContactFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=lambda schema: _not_null(schema, "preferred_channel"),
    )

    @field_validator("preferred_channel")
    @classmethod
    def _preferred_is_kept(cls, value: Channel | None) -> Channel:
        if value is None:
            raise ValueError("may not be null: every member has a preferred channel")
        return value


def _not_null(schema: dict[str, Any], name: str) -> None:
    """Documents that ``name`` may be omitted but not null (as its validator says)."""
    spec = schema["properties"][name]
    spec.update(next(o for o in spec.pop("anyOf") if o.get("type") != "null"))
    spec.pop("default", None)


# Quiet hours come back as local wall times, "21:30:00": no UTC offset, so not the RFC 3339
# "time" format the OpenAPI would otherwise claim.
LocalTime = Annotated[
    time,
    WithJsonSchema({"type": "string", "pattern": r"^\d{2}:\d{2}:\d{2}$", "example": "21:30:00"}),
]


class QuietHoursOut(BaseModel):
    start: LocalTime
    end: LocalTime


class MemberOut(BaseModel):
    member_id: str
    email: str | None
    phone: str | None
    locale: str
    preferred_channel: Channel
    fallback_channel: Channel | None
    quiet_hours: QuietHoursOut | None
    prompt_consent: bool
    insights_consent: bool
    sms_opted_out: bool
    email_opted_out: bool
    created_at: datetime


class ConsentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["prompts", "insights", "sms", "email"]
    given: bool
    source: str = Field(min_length=1, max_length=64)


class ConsentRecordOut(BaseModel):
    kind: str
    given: bool
    source: str
    recorded_at: datetime
    # From the member's preferences page: the ritual (kind ritual) and what was chosen
    # (active | paused | stopped, a channel, "22:00-07:00", a language).
    ritual_id: str | None = None
    detail: str | None = None


def _member_out(row: ContactRecord) -> MemberOut:
    quiet = None
    if row.quiet_start is not None and row.quiet_end is not None:
        quiet = QuietHoursOut(
            start=time.fromisoformat(row.quiet_start), end=time.fromisoformat(row.quiet_end)
        )
    return MemberOut(
        member_id=row.member_id,
        email=row.email,
        phone=row.phone,
        locale=row.locale,
        preferred_channel=Channel(row.preferred_channel),
        fallback_channel=Channel(row.fallback_channel) if row.fallback_channel else None,
        quiet_hours=quiet,
        prompt_consent=row.prompt_consent,
        insights_consent=row.insights_consent,
        sms_opted_out=row.sms_opted_out_at is not None,
        email_opted_out=row.email_opted_out_at is not None,
        created_at=row.created_at,
    )


def _phone(raw: str | None, region: str | None, context: ApiContext) -> str | None:
    if raw is None:
        return None
    try:
        return to_e164(raw, region or context.phone_region)
    except InvalidPhone as error:
        raise RequestValidationError(
            [{"loc": ("body", "phone"), "msg": str(error), "type": "value_error"}]
        ) from error


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def new_member(body: MemberIn, phone: str | None) -> member_handlers.NewMember:
    quiet = body.quiet_hours
    return member_handlers.NewMember(
        email=str(body.email) if body.email else None,
        phone=phone,
        locale=body.locale,
        preferred_channel=body.preferred_channel.value,
        fallback_channel=body.fallback_channel.value if body.fallback_channel else None,
        quiet_start=_hhmm(quiet.start) if quiet else None,
        quiet_end=_hhmm(quiet.end) if quiet else None,
        prompt_consent=body.prompt_consent.given,
        prompt_consent_source=body.prompt_consent.source,
        insights_consent=body.insights_consent.given,
        insights_consent_source=body.insights_consent.source,
    )


async def _load(context: ApiContext, member_id: str) -> MemberOut:
    async with context.answers.sessions() as session:
        row = await Contacts(session, default_quiet_hours=None).record(member_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such member")
    return _member_out(row)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MemberOut)
async def register_member(body: MemberIn, context: Context) -> MemberOut:
    """Store a member's contact points and consent; returns the pseudonymous member id."""
    phone = _phone(body.phone, body.phone_region, context)
    now = context.answers.clock.now()
    try:
        async with context.answers.sessions() as session, session.begin():
            member_id = await member_handlers.register(session, new_member(body, phone), now)
    except member_handlers.MemberConflict as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return await _load(context, member_id)


@router.get("/{member_id}", response_model=MemberOut)
async def get_member(member_id: str, context: Context) -> MemberOut:
    return await _load(context, member_id)


@router.patch("/{member_id}", response_model=MemberOut)
async def change_member(member_id: str, body: MemberPatch, context: Context) -> MemberOut:
    current = await _load(context, member_id)
    changes = body.model_dump(exclude_unset=True)
    # Contact points and preferences only: consent changes go through record_consent (below).
    values: ContactChanges = {}
    if "email" in changes:
        values["email"] = str(body.email) if body.email else None
    if "phone" in changes:
        values["phone"] = _phone(body.phone, body.phone_region, context)
    if "locale" in changes and body.locale:
        values["locale"] = body.locale
    if "preferred_channel" in changes and body.preferred_channel is not None:
        values["preferred_channel"] = body.preferred_channel.value
    if "fallback_channel" in changes:
        fallback = body.fallback_channel
        values["fallback_channel"] = fallback.value if fallback is not None else None
    if "quiet_hours" in changes:
        quiet = body.quiet_hours
        values["quiet_start"] = _hhmm(quiet.start) if quiet else None
        values["quiet_end"] = _hhmm(quiet.end) if quiet else None
    merged = current.model_dump() | {
        k: v
        for k, v in values.items()
        if k in {"email", "phone", "preferred_channel", "fallback_channel"}
    }
    if merged.get("fallback_channel") is not None and Channel(
        merged["fallback_channel"]
    ) == Channel(merged["preferred_channel"]):
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "fallback_channel"),
                    "msg": "the fallback channel must differ from the preferred one",
                    "type": "value_error",
                }
            ]
        )
    for role in ("preferred_channel", "fallback_channel"):
        channel = merged.get(role)
        if channel in (Channel.email, "email") and not merged.get("email"):
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", role),
                        "msg": "email channel needs an email",
                        "type": "value_error",
                    }
                ]
            )
        if channel in (Channel.sms, "sms") and not merged.get("phone"):
            raise RequestValidationError(
                [{"loc": ("body", role), "msg": "sms channel needs a phone", "type": "value_error"}]
            )
    if values:
        async with context.answers.sessions() as session, session.begin():
            phone = values.get("phone")
            if phone and await member_handlers.phone_taken(session, phone, except_member=member_id):
                raise HTTPException(
                    status.HTTP_409_CONFLICT, "phone number already registered to another member"
                )
            await Contacts(session, default_quiet_hours=None).change_details(
                member_id, values, context.answers.clock.now()
            )
    return await _load(context, member_id)


@router.post("/{member_id}/consents", response_model=MemberOut)
async def change_consent(member_id: str, body: ConsentChange, context: Context) -> MemberOut:
    """Record a consent given or withdrawn (prompts, insights, or a channel), with its source."""
    await _load(context, member_id)
    async with context.answers.sessions() as session, session.begin():
        await member_handlers.record_consent(
            session, member_id, body.kind, body.given, body.source, context.answers.clock.now()
        )
    return await _load(context, member_id)


@router.get("/{member_id}/consents", response_model=list[ConsentRecordOut])
async def consent_history(member_id: str, context: Context) -> list[ConsentRecordOut]:
    async with context.answers.sessions() as session:
        rows = await Contacts(session, default_quiet_hours=None).consent_trail(member_id)
    return [ConsentRecordOut.model_validate(row, from_attributes=True) for row in rows]


@router.get(
    "/{member_id}/export",
    summary="Everything the notifier holds on one member (subject access)",
    response_model=dict[str, Any],
)
async def export_member(member_id: str, context: Context) -> JSONResponse:
    """Contact points, consent trail, sends, answers and SMS received, as one JSON document
    (see ``handlers/subject_access.py`` for what is left out, and why)."""
    async with context.answers.sessions() as session:
        document = await export_member_data(session, member_id)
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such member")
    return JSONResponse(
        document,
        headers={
            "Content-Disposition": f'attachment; filename="{member_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.delete("/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
async def erase_member(member_id: str, context: Context) -> Response:
    """Erase the member here and have every other service forget them (see README, Privacy)."""
    deps = context.answers
    async with deps.sessions() as session, session.begin():
        erased = await member_handlers.erase(
            session, member_id, context.secret, deps.clock.now(), context.scrub_delay
        )
    if not erased:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such member")
    deps.relay.kick()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
