"""Phone numbers as the programme needs them: E.164 for storage, and whether a number can take SMS."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from storage.enums import PhoneKind


class InvalidPhone(ValueError):
    """The text is not a phone number we can call; the message says why, in words a coordinator understands."""


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    kind: PhoneKind

    @property
    def can_sms(self) -> bool:
        return can_sms(self.kind)


_KINDS = {
    PhoneNumberType.MOBILE: PhoneKind.MOBILE,
    PhoneNumberType.FIXED_LINE: PhoneKind.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: PhoneKind.MOBILE_OR_FIXED,
}


def parse_phone(text: str, region: str) -> Phone:
    """Parse a number as written on a roster (`13800138000`, `010-12345678`, `+44 7700 900123`).

    Raises InvalidPhone for anything that is not a valid, dialable number.
    """
    cleaned = text.strip()
    if not cleaned:
        raise InvalidPhone("empty phone number")
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number")
    kind = _KINDS.get(phonenumbers.number_type(number), PhoneKind.OTHER)
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind)


def can_sms(kind: PhoneKind | str | None) -> bool:
    return kind in (PhoneKind.MOBILE, PhoneKind.MOBILE_OR_FIXED)


def mask_phone(e164: str | None) -> str:
    """For logs: enough to tell numbers apart, not enough to call one."""
    if not e164:
        return "-"
    return f"{e164[:3]}****{e164[-2:]}" if len(e164) > 6 else "****"
