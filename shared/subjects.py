"""Every NATS subject in one place.

Subjects name the kind of event and its major version, never a member: metrics label by subject
and must not carry personal data.
"""

RITUAL_DUE = "rituals.due.v1"
NUDGE_DUE = "rituals.nudge.v1"
PROMPT_SENT = "prompts.sent.v1"
PROMPT_FAILED = "prompts.failed.v1"
PROMPT_ANSWERED = "prompts.answered.v1"
PROMPT_DELIVERED = "prompts.delivered.v1"
RESPONSE_RECEIVED = "responses.received.v1"
RESPONDENT_ERASED = "responses.erased.v1"
SIGNPOSTING_SENT = "responses.signposted.v1"
MEMBER_ERASED = "members.erased.v1"

DEAD_LETTER_PREFIX = "deadletter"


def dead_letter_subject(original_subject: str) -> str:
    """Where a message that could not be processed goes: ``deadletter.<original subject>``."""
    return f"{DEAD_LETTER_PREFIX}.{original_subject}"
