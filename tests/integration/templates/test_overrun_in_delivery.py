"""A stored template that got past validation (written straight to the database) and then
overruns its render deadline fails that prompt as a template error; the notifier sends the
other prompts and keeps answering. The whole local system, with a small deadline set
through the notifier's settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import DatabaseFor, LocalSystem
from services.notifier.templating import SqlStoredTemplates
from shared.clock import ManualClock
from shared.contracts import FailureReason, PromptFailedV1, PromptSentV1
from tests.support import NatsTap, eventually

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA = Person("Ana", "ana@riverside.example", "Europe/London", True)
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", True, phone="+447911123456", channel="sms"
)
# Seconds of work once the operation budget is loosened (below).
SLOW = (
    "{% for i in range(90) %}{% for j in range(20) %}"
    "{% if ('x' * 4000)|wordwrap(1)|length < 0 %}!{% endif %}"
    "{% endfor %}{% endfor %} STOP"
)


async def test_an_overrunning_stored_template_fails_only_its_prompt(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> None:
    overrides = {"template_render_timeout_s": 0.5, "template_max_operations": 10**12}
    async with LocalSystem(tmp_path, clock, database_for, notifier_overrides=overrides) as system:
        tap = NatsTap()
        await tap.start(system.nats.url)
        try:
            store = SqlStoredTemplates(system.runtimes["notifier"].plumbing.sessions)
            await store.put(
                "check_in",
                "en",
                "sms",
                subject=None,
                text_body=SLOW,
                html_body=None,
                now=MONDAY_0900,
            )
            await set_up_weekly_check_in(system, (ANA, SAM))
            await system.advance_to(MONDAY_0900)

            (mail,) = await system.smtp.wait_for(1)
            assert mail.envelope_to == (ANA.email,)
            failed = await eventually(
                lambda: [
                    PromptFailedV1.model_validate_json(m.data)
                    for m in tap.on(PromptFailedV1.subject)
                ]
            )
            assert [(e.channel and e.channel.value, e.reason) for e in failed] == [
                ("sms", FailureReason.template_error)
            ]
            sent = await eventually(
                lambda: [
                    PromptSentV1.model_validate_json(m.data) for m in tap.on(PromptSentV1.subject)
                ]
            )
            assert [e.channel.value for e in sent] == ["email"]
            assert system.twilio.to(SAM.phone or "") == []
            assert await system.clients["notifier"].get("/health/live") == {"status": "ok"}
        finally:
            await tap.stop()
