"""Every NATS subject in one place.

Subjects name the kind of event and its major version, never a member: metrics label by subject
and must not carry personal data.
"""

RITUAL_DUE = "rituals.due.v1"
NUDGE_DUE = "rituals.nudge.v1"
# A member paused, resumed or stopped one ritual (notifier -> scheduler); pseudonymous id only.
RITUAL_CHOICE = "rituals.member-choice.v1"
PROMPT_SENT = "prompts.sent.v1"
PROMPT_FAILED = "prompts.failed.v1"
PROMPT_ANSWERED = "prompts.answered.v1"
PROMPT_DELIVERED = "prompts.delivered.v1"
# Anonymised: what reaches insights. Version 2 carries no ritual, no time and keyed ids only.
RESPONSE_RECEIVED = "responses.received.v2"
SIGNPOSTING_SENT = "responses.signposted.v2"
PROMPTED = "responses.prompted.v1"
PERIOD_SUMMARY = "responses.period.v1"
WEEK_CLOSED = "responses.week-closed.v1"
# Public facts about communities (name, official area code) for releases.
COMMUNITY_CHANGED = "communities.changed.v1"
# Erasures: kept for good (a replay or a restored backup must honour every one of them).
MEMBER_ERASED = "erasures.member.v1"
RESPONDENTS_ERASED = "erasures.respondents.v2"

DEAD_LETTER_PREFIX = "deadletter"


def dead_letter_subject(original_subject: str) -> str:
    """Where a message that could not be processed goes: ``deadletter.<original subject>``."""
    return f"{DEAD_LETTER_PREFIX}.{original_subject}"
