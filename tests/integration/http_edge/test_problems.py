"""Bad input is a 4xx problem+json that repeats none of it, and nothing logs it (defect 4).

An Excel CSV in windows-1252 was a 500 whose log held the whole file; ``1e999`` or a lone
surrogate in a JSON body was a 500; a refused e-mail address came back in the 422.
"""

from __future__ import annotations

import logging

import pytest

from services.demo.system import LocalSystem
from tests.integration.http_edge.support import PROBLEM_JSON, Answer, call

EMAILS = ("müller@example.org", "zoe.obrien@example.org")
PHONES = ("+447911123457", "07911 123458")


def excel_csv(emails: tuple[str, ...], phones: tuple[str, ...]) -> str:
    """What Excel saves as plain "CSV" (windows-1252 on a Western PC) once encoded."""
    rows = [f"{e},{p},yes,{c}\n" for e, p, c in zip(emails, phones, ("yes", "no"), strict=True)]
    return "email,phone,prompt_consent,insights_consent\n" + "".join(rows)


EXCEL_CSV = excel_csv(EMAILS, PHONES)
JSON = "application/json"
MEMBER = {
    "email": "ann@example.org",
    "prompt_consent": {"given": True, "source": "form"},
    "insights_consent": {"given": True, "source": "form"},
}


def assert_problem(answer: Answer, status: int) -> dict[str, object]:
    assert answer.status == status, answer.text
    assert answer.content_type == PROBLEM_JSON, answer
    problem: dict[str, object] = answer.json()
    assert problem["status"] == status
    assert {"type", "title", "detail"} <= problem.keys()
    return problem


_formatter = logging.Formatter()


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it, tracebacks included."""
    return "\n".join(_formatter.format(record) for record in caplog.records)


async def test_a_windows_1252_csv_is_a_4xx_that_asks_for_utf8_and_logs_none_of_it(
    system: LocalSystem, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = EXCEL_CSV.encode("cp1252")
    answer = await call(
        system, "notifier", "POST", "/v1/members/import", data=body, content_type="text/csv"
    )
    problem = assert_problem(answer, 422)
    assert "UTF-8" in str(problem["detail"])
    for value in (*EMAILS, *PHONES, "ller@example", "123458"):
        assert value not in answer.text
        assert value not in logged(caplog)
    assert (await call(system, "notifier", "GET", "/v1/members/mbr_nobody")).status == 404


async def test_a_csv_in_a_declared_charset_or_with_a_bom_is_imported(system: LocalSystem) -> None:
    with_bom = excel_csv(("müller@example.net", "zoe@example.net"), ("+447911123459", ""))
    for body, content_type in (
        (EXCEL_CSV.encode("cp1252"), "text/csv; charset=windows-1252"),
        (with_bom.encode("utf-8-sig"), "text/csv"),
    ):
        answer = await call(
            system, "notifier", "POST", "/v1/members/import", data=body, content_type=content_type
        )
        assert answer.status == 200, answer.text
        assert answer.json()["created"] == 2, answer.text
    member_id = answer.json()["rows"][0]["member_id"]
    member = (await call(system, "notifier", "GET", f"/v1/members/{member_id}")).json()
    assert member["email"] == "müller@example.net"
    for body, content_type, status in (
        (EXCEL_CSV.encode("koi8-r", errors="replace"), "text/csv; charset=koi8-r", 415),
        (EXCEL_CSV.encode("utf-16"), "text/csv", 422),  # Excel's "Unicode text"
    ):
        answer = await call(
            system, "notifier", "POST", "/v1/members/import", data=body, content_type=content_type
        )
        assert "UTF-8" in str(assert_problem(answer, status)["detail"])


# A JSON body each listener would otherwise take (or at least read).
JSON_ROUTES = [
    ("scheduler", "POST", "/v1/communities"),
    ("notifier", "POST", "/v1/members"),
    ("notifier", "PUT", "/v1/templates/check_in/en/sms"),
    ("notifier-public", "POST", "/v1/webhooks/sms/twilio/status"),
    ("insights-analyst", "GET", "/v1/values"),
]
UNSTORABLE = [
    (b'{"id": "c1", "name": 1e999}', "finite"),
    (b'{"id": "c1", "name": -1E+400}', "finite"),
    (b'{"id": "c1", "name": NaN}', "finite"),
    (b'{"id": "c1", "name": [Infinity]}', "finite"),
    (b'{"id": "c1", "name": "\\ud800"}', "surrogate"),
    (b'{"id": "c1", "text_body": "a\\udfffb"}', "surrogate"),
    (b'{"id": "c1", "name": "\xed\xa0\x80"}', "surrogate"),  # the same, as UTF-8 bytes
    (b'{"\\udc80": "c1"}', "surrogate"),
]


@pytest.mark.parametrize(("body", "reason"), UNSTORABLE)
async def test_numbers_and_text_no_encoder_can_hold_are_a_4xx_on_every_service(
    system: LocalSystem, body: bytes, reason: str
) -> None:
    for listener, method, path in JSON_ROUTES:
        answer = await call(
            system, listener, method, path, data=body, content_type="application/json"
        )
        problem = assert_problem(answer, 422)
        assert reason in str(problem["errors"]), (listener, path, problem)


@pytest.mark.parametrize(
    "email",
    [
        "zelda@ex!ample.org",
        "zelda@[999.1.1.1]",  # the IPv4 parser's message quotes the address literal
        "zelda@xn--ls8h-bad.org",  # the IDNA codec's quotes the label
        "zelda..q@example.org",
        "zelda@exam_ple.org",
        "zelda-at-example.org",
    ],
)
async def test_a_refused_email_address_is_not_repeated(system: LocalSystem, email: str) -> None:
    for method, path, member in (
        ("POST", "/v1/members", MEMBER | {"email": email}),
        ("PATCH", "/v1/members/mbr_x", {"email": email}),
    ):
        answer = await call(system, "notifier", method, path, json_body=member)
        problem = assert_problem(answer, 422)
        errors = problem["errors"]
        assert isinstance(errors, list)
        assert [e["location"] for e in errors] == [["body", "email"]]
        assert all(set(error) == {"location", "message", "type"} for error in errors)
        local, _, domain = email.partition("@")
        for fragment in filter(None, (email, local, domain.strip("[]"), "zelda")):
            assert fragment not in answer.text, problem


async def test_every_error_is_a_problem_and_member_pages_stay_pages(
    system: LocalSystem,
) -> None:
    cases = [
        (await call(system, "scheduler", "GET", "/v1/nowhere"), 404),
        (await call(system, "scheduler", "DELETE", "/v1/schedule/upcoming"), 405),
        (await call(system, "scheduler", "GET", "/v1/communities/x1", token=""), 401),
        (await call(system, "scheduler", "GET", "/v1/communities/x1"), 404),
        (await call(system, "scheduler", "POST", "/v1/communities", json_body={"id": "x"}), 422),
        (await call(system, "scheduler", "GET", "/v1/rituals/week%00ly"), 422),
        (await call(system, "notifier", "GET", "/v1/members/mbr_nobody"), 404),
        (await call(system, "notifier", "POST", "/v1/members", json_body={"email": 1}), 422),
        (await call(system, "notifier", "POST", "/v1/members", data=b"{", content_type=JSON), 422),
        (await call(system, "notifier", "GET", "/v1/templates/check_in/xx/sms"), 422),
        (await call(system, "notifier-public", "POST", "/v1/webhooks/sms/twilio/status"), 403),
        (await call(system, "insights-analyst", "GET", "/v1/values?period=last-week"), 422),
        (await call(system, "insights", "POST", "/health/live"), 405),
    ]
    for answer, status in cases:
        assert_problem(answer, status)
    page = await call(system, "notifier-public", "GET", "/r/forged-token")
    assert (page.status, page.content_type) == (403, "text/html")


async def test_an_unexpected_error_is_a_generic_500_logged_by_type_only(
    system: LocalSystem, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.notifier.handlers.use_cases import members

    async def failing_register(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError(f"duplicate key: {MEMBER['email']} +447700900123")

    monkeypatch.setattr(members, "register", failing_register)
    caplog.set_level(logging.DEBUG)
    answer = await call(system, "notifier", "POST", "/v1/members", json_body=MEMBER)
    problem = assert_problem(answer, 500)
    assert "errors" not in problem
    assert "ann@example.org" not in answer.text
    text = logged(caplog)
    assert "RuntimeError" in text
    assert "ann@example.org" not in text
    assert "+447700900123" not in text
