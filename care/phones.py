"""Phone numbers as the programme needs them: E.164 for storage, and whether a number can take SMS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberDesc, PhoneNumberType

from carevisit.storage.enums import PhoneKind


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
    rules = _national_rules(region)
    if rules is not None and rules.takes(cleaned):
        return rules.phone(cleaned)
    return _parse_fully(cleaned, region)


def _parse_fully(cleaned: str, region: str) -> Phone:
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number")
    kind = _KINDS.get(phonenumbers.number_type(number), PhoneKind.OTHER)
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind)


def _pattern_for_length(descs: list[PhoneNumberDesc | None], length: int) -> re.Pattern[str] | None:
    """One pattern that fully matches a number of `length` digits exactly when one of `descs` does, as phonenumbers'
    _is_number_matching_desc decides it: a desc with no pattern never matches; one listing possible lengths matches
    only those lengths (one listing none: any length); else its national number pattern must match the whole number.
    """
    sources = [
        desc.national_number_pattern
        for desc in descs
        if desc is not None
        and desc.national_number_pattern
        and (not desc.possible_length or length in desc.possible_length)
    ]
    return re.compile("|".join(f"(?:{source})" for source in sources)) if sources else None


def _matches(pattern: re.Pattern[str] | None, digits: str) -> bool:
    return pattern is not None and pattern.fullmatch(digits) is not None


class _LengthRules:
    """The patterns that can match a national number of one length, each kind compiled once."""

    def __init__(self, metadata: PhoneMetadata, length: int) -> None:
        self.general = _pattern_for_length([metadata.general_desc], length)
        # Any special kind (premium rate, toll free, shared cost — 400/800 —, VoIP, …) is OTHER for the programme.
        special = [
            metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
            metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail,
        ]  # fmt: skip
        self.special = _pattern_for_length(special, length)
        self.fixed_line = _pattern_for_length([metadata.fixed_line], length)
        self.mobile = _pattern_for_length([metadata.mobile], length)
        self.same_mobile_and_fixed = bool(metadata.same_mobile_and_fixed_line_pattern)

    def kind(self, digits: str) -> PhoneKind | None:
        """phonenumbers' _number_type_helper, mapped to PhoneKind. None: invalid (UNKNOWN)."""
        if not _matches(self.general, digits):
            return None
        if _matches(self.special, digits):
            return PhoneKind.OTHER
        if _matches(self.fixed_line, digits):
            if self.same_mobile_and_fixed or _matches(self.mobile, digits):
                return PhoneKind.MOBILE_OR_FIXED
            return PhoneKind.FIXED_LINE
        if not self.same_mobile_and_fixed and _matches(self.mobile, digits):
            return PhoneKind.MOBILE
        return None


class _NationalRules:
    """The fast path: a plain national number of the default region (`13800138000`), decided on the region's own
    metadata exactly as `phonenumbers.parse` + `number_type` would, many times faster. `takes` admits only the
    numbers whose parse is a no-op: digits only, no leading 0 / national prefix / carrier code / international
    prefix / country code, of a length the region allows, in a region that is alone on its country code (so no other
    region can claim the number). Everything else goes through the full parse."""

    def __init__(self, metadata: PhoneMetadata) -> None:
        self.prefix = f"+{metadata.country_code}"
        self.country_code = str(metadata.country_code)
        self.national_prefix = re.compile(metadata.national_prefix_for_parsing or "(?!)")
        self.international_prefix = re.compile(metadata.international_prefix or "(?!)")
        # phonenumbers' own bounds on a national number (2 to 17 digits), within the lengths the region allows.
        lengths = [length for length in metadata.general_desc.possible_length if 2 <= length <= 17]
        self.by_length = {length: _LengthRules(metadata, length) for length in lengths}

    def takes(self, text: str) -> bool:
        return (
            len(text) in self.by_length
            and text.isascii()
            and text.isdigit()
            and text[0] != "0"
            and not text.startswith(self.country_code)
            and self.national_prefix.match(text) is None
            and self.international_prefix.match(text) is None
        )

    def phone(self, digits: str) -> Phone:
        kind = self.by_length[len(digits)].kind(digits)
        if kind is None:
            raise InvalidPhone("not a valid phone number")
        return Phone(self.prefix + digits, kind)


@cache
def _national_rules(region: str) -> _NationalRules | None:
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or COUNTRY_CODE_TO_REGION_CODE.get(metadata.country_code) != (region,):
        return None
    return _NationalRules(metadata)


def can_sms(kind: PhoneKind | str | None) -> bool:
    return kind in (PhoneKind.MOBILE, PhoneKind.MOBILE_OR_FIXED)


def mask_phone(e164: str | None) -> str:
    """For logs: enough to tell numbers apart, not enough to call one."""
    if not e164:
        return "-"
    return f"{e164[:3]}****{e164[-2:]}" if len(e164) > 6 else "****"
