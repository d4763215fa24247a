"""Phone numbers in, E.164 out, or a reason why not."""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    pass


def to_e164(raw: str, default_region: str) -> str:
    """Parse as people type numbers ("07700 900123" in GB, "+1 415 555 0100") and refuse what
    is not a valid, assignable number (``is_valid_number``, not just ``is_possible``)."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone("not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number for its region")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
