"""A delivery's life: queued -> sending (leased) -> sent | failed | skipped; a transient
failure puts it back in the queue with a later ``not_before``."""

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"  # e.g. a nudge whose prompt was answered before it went out
