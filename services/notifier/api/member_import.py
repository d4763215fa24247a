"""``POST /v1/members/import``: members in bulk from a CSV file, each row checked as the
single-member API checks it, invalid rows reported by number without echoing their values.

The file comes as the body (``text/csv``) or as the ``file`` field of a form upload
(``multipart/form-data``, what ``curl -F file=@members.csv`` and a browser send). Both are
held to ``member_import_max_bytes``: the listener caps the raw body at that limit, and a
form's whole body at it plus ``FORM_ENVELOPE_BYTES`` (boundaries and part headers), then the
file in it at the limit itself."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import itertools
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from services.notifier.api.members import Context, MemberIn, new_member
from services.notifier.domain.phone import to_e164
from services.notifier.handlers.use_cases import members as member_handlers
from shared.http.errors import UNPROCESSABLE, problem_response
from shared.http.input_guard import csv_body_problems
from shared.http.limits import too_large_detail
from shared.messaging.consumer import describe_validation_error

router = APIRouter(prefix="/v1/members", tags=["members"])
MAX_IMPORT_ROWS = 10_000
IMPORT_PATH = "/v1/members/import"  # allowed a larger body than the rest (see app.py)
CSV = "text/csv"
FORM = "multipart/form-data"
FILE_FIELD = "file"
FORM_ENVELOPE_BYTES = 16 * 1024  # a form's boundaries, part headers and a few small fields


class ImportRow(BaseModel):
    row: int
    member_id: str | None = None
    errors: list[str] = Field(default_factory=list)


class ImportReport(BaseModel):
    created: int
    failed: int
    rows: list[ImportRow]


CSV_COLUMNS = (
    "email, phone, phone_region, locale, preferred_channel, fallback_channel, quiet_start, "
    "quiet_end, prompt_consent (yes/no), insights_consent (yes/no), consent_source"
)


def _yes(value: str | None) -> bool | None:
    if value is None or not value.strip():
        return None
    lowered = value.strip().lower()
    if lowered in {"yes", "y", "true", "1"}:
        return True
    if lowered in {"no", "n", "false", "0"}:
        return False
    raise ValueError("expected yes or no")


def _row_to_member(row: dict[str, str | None]) -> MemberIn:
    def cell(name: str) -> str | None:
        value = row.get(name)
        return value.strip() if value and value.strip() else None

    errors: list[str] = []
    consents: dict[str, bool] = {}
    for name in ("prompt_consent", "insights_consent"):
        try:
            given = _yes(cell(name))
        except ValueError as error:
            errors.append(f"{name}: {error}")
            continue
        if given is None:
            errors.append(f"{name}: required (yes or no)")
        else:
            consents[name] = given
    if errors:
        raise ValueError("; ".join(errors))
    source = cell("consent_source") or "csv import"
    quiet = None
    if cell("quiet_start") or cell("quiet_end"):
        quiet = {"start": cell("quiet_start"), "end": cell("quiet_end")}
    fields: dict[str, Any] = {
        "email": cell("email"),
        "phone": cell("phone"),
        "phone_region": cell("phone_region"),
        "locale": cell("locale") or "en",
        "preferred_channel": cell("preferred_channel") or ("email" if cell("email") else "sms"),
        "fallback_channel": cell("fallback_channel"),
        "quiet_hours": quiet,
        "prompt_consent": {"given": consents["prompt_consent"], "source": source},
        "insights_consent": {"given": consents["insights_consent"], "source": source},
    }
    return MemberIn.model_validate(fields)


# Excel's "CSV UTF-8" starts with a byte-order mark; its plain "CSV" is windows-1252 on most
# Western systems. Guessing the encoding from the bytes would turn a file in any other 8-bit
# encoding into wrong letters in members' names and addresses without a word, so the file is
# UTF-8 unless the request's Content-Type names one of these charsets (decoded as named).
DECLARABLE_CHARSETS = {  # codecs.lookup() name -> how to decode
    "utf-8": "utf-8-sig",
    "cp1252": "cp1252",
    "iso8859-1": "latin-1",
    "iso8859-15": "iso8859-15",
    "ascii": "ascii",
}
CHARSET_NAMES = "UTF-8, windows-1252, ISO-8859-1 or ISO-8859-15"


def decode_csv(body: bytes, content_type: str) -> str:
    """The CSV's text: UTF-8 (with or without BOM) or the declared charset; otherwise a 4xx
    that says how to send it (naming no byte of its content)."""
    declared = next(
        (
            value.strip().strip('"').lower()
            for name, _, value in (p.partition("=") for p in content_type.split(";")[1:])
            if name.strip().lower() == "charset"
        ),
        "utf-8",
    )
    try:
        codec = DECLARABLE_CHARSETS[codecs.lookup(declared).name]
    except (LookupError, KeyError):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"the CSV's charset is not supported: send it as {CHARSET_NAMES}",
        ) from None
    try:
        return body.decode(codec)
    except UnicodeDecodeError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the file is not valid {'UTF-8' if codec == 'utf-8-sig' else declared} (at byte "
            f'{error.start}): save it as "CSV UTF-8", or declare its encoding in the '
            "Content-Type, e.g. text/csv; charset=windows-1252",
        ) from None


async def _uploaded_csv(request: Request) -> tuple[bytes, str]:
    """The bytes and Content-Type of the form's ``file`` part (a 4xx if there is none, or
    more than one, or it is larger than the import accepts)."""
    form = await request.form(max_files=1, max_fields=10)
    try:
        parts = form.getlist(FILE_FIELD)
        if len(parts) != 1 or not isinstance(parts[0], UploadFile):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the form must hold the CSV as one file field named {FILE_FIELD!r}",
            )
        upload = parts[0]
        limit: int = request.app.state.member_import_max_bytes
        body = await upload.read(limit + 1)
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large_detail(limit))
        kind = upload.content_type or CSV
        if kind.split(";")[0].strip().lower() not in {CSV, "application/octet-stream"}:
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f"the {FILE_FIELD!r} part must be text/csv",
            )
        return body, kind
    finally:
        await form.close()


async def _csv_text(request: Request) -> str:
    content_type = request.headers.get("content-type", CSV)
    kind = content_type.split(";")[0].strip().lower()
    if kind == CSV:
        return decode_csv(await request.body(), content_type)
    if kind != FORM:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the CSV as a {CSV} body or as the {FILE_FIELD!r} field of a {FORM} upload",
        )
    body, part_type = await _uploaded_csv(request)
    # The raw body was checked at the door (input_guard); a form's file part is checked here.
    if found := csv_body_problems(body):
        raise RequestValidationError(
            [{"loc": ("body", FILE_FIELD), "msg": e.message, "type": e.type} for e in found]
        )
    return decode_csv(body, part_type)


def _checked(
    context: Context, number: int, row: dict[str, str | None]
) -> tuple[int, member_handlers.NewMember | ImportRow]:
    """The row as a member to register, or its report naming what is wrong."""
    try:
        member = _row_to_member(row)
        region = member.phone_region or context.phone_region
        return number, new_member(member, to_e164(member.phone, region) if member.phone else None)
    except ValidationError as error:
        return number, ImportRow(row=number, errors=[describe_validation_error(error, prefix="")])
    except ValueError as error:  # includes InvalidPhone
        return number, ImportRow(row=number, errors=[str(error)])


@router.post(
    IMPORT_PATH.removeprefix(router.prefix),
    response_model=ImportReport,
    summary="Bulk import members from CSV",
    responses={
        **UNPROCESSABLE,
        **problem_response(400, "The form upload is malformed."),
        **problem_response(415, "Neither text/csv nor a form upload, or an unknown charset."),
    },
    description=f"A CSV with a header row, as a {CSV} body or as the {FILE_FIELD!r} field of a "
    f"{FORM} upload; columns: {CSV_COLUMNS}. Each valid row "
    "becomes a member; each invalid one is reported with its row number and the reasons, "
    "without echoing its values. Valid rows are kept even when others fail. UTF-8 (with or "
    f"without BOM), or the charset the Content-Type names ({CHARSET_NAMES}).",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                CSV: {"schema": {"type": "string"}},
                FORM: {
                    "schema": {
                        "type": "object",
                        "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                        "required": [FILE_FIELD],
                    }
                },
            },
        }
    },
)
async def import_members(context: Context, request: Request) -> ImportReport:
    text = await _csv_text(request)
    reader = csv.DictReader(io.StringIO(text))
    try:  # the whole file is read first: a malformed one is refused before anything is stored
        fieldnames = reader.fieldnames
        rows = list(itertools.islice(reader, MAX_IMPORT_ROWS + 1))
    except csv.Error as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"not valid CSV (line {reader.line_num}): {error}",
        ) from None
    if not fieldnames or not {"email", "phone"} & set(fieldnames):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"a header row is required; columns: {CSV_COLUMNS}",
        )
    if len(rows) > MAX_IMPORT_ROWS:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"at most {MAX_IMPORT_ROWS} rows per import"
        )
    # Every row is checked first, off the event loop (10,000 rows of parsing and phone
    # numbers hold the CPU for a second or more); the valid ones are then stored together.
    checked = await asyncio.to_thread(
        lambda: [_checked(context, number, row) for number, row in enumerate(rows, start=2)]
    )
    valid = [(number, member) for number, member in checked if not isinstance(member, ImportRow)]
    stored = await member_handlers.register_all(
        context.answers.sessions, [member for _, member in valid], context.answers.clock.now()
    )
    outcomes = {number: outcome for number, outcome in checked if isinstance(outcome, ImportRow)}
    for (number, _), result in zip(valid, stored, strict=True):
        outcomes[number] = (
            ImportRow(row=number, errors=[str(result)])
            if isinstance(result, member_handlers.MemberConflict)
            else ImportRow(row=number, member_id=result)
        )
    report = ImportReport(created=0, failed=0, rows=[outcomes[n] for n in sorted(outcomes)])
    report.created = sum(1 for r in report.rows if r.member_id)
    report.failed = len(report.rows) - report.created
    return report
