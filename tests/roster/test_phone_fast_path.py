"""The fast phone path decides exactly as the full phonenumbers parse: same E.164, same kind, same error.

Thousands of generated numbers per region: valid and invalid mobiles, fixed lines with and without the trunk prefix,
400/800 numbers, short codes, carrier and international prefixes, foreign numbers, random digit strings.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from carevisit.care import phones
from carevisit.care.phones import InvalidPhone, parse_phone

# Regions alone on their country code take the fast path; US and GB share theirs, so they always parse fully.
REGIONS = ("CN", "DE", "FR", "JP", "IN", "BR", "AU", "US", "GB")
_TYPES = [value for name, value in vars(PhoneNumberType).items() if name.isupper() and isinstance(value, int)]


def _outcome(parse: object, text: str, region: str) -> tuple[str, ...]:
    try:
        phone = parse(text, region)  # type: ignore[operator]
    except InvalidPhone as error:
        return ("error", str(error))
    return ("ok", phone.e164, phone.kind)


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _vary(rng: random.Random, nsn: str) -> str:
    """Keep the first digits of an example number (its kind), draw the rest; sometimes one digit more or fewer."""
    keep = rng.randint(1, max(1, len(nsn) - 1))
    length = len(nsn) + rng.choice((0, 0, 0, 0, -1, 1))
    return nsn[:keep] + _digits(rng, max(0, length - keep))


def _generated(region: str, count: int, seed: int) -> Iterator[str]:
    rng = random.Random(f"{seed}-{region}")
    examples = [
        example for kind in _TYPES if (example := phonenumbers.example_number_for_type(region, kind)) is not None
    ]
    foreign = [e for r in ("GB", "US", "JP", "DE") if r != region for e in [phonenumbers.example_number(r)] if e]
    country_code = str(phonenumbers.country_code_for_region(region))
    for _ in range(count):
        example = rng.choice(examples)
        nsn = _vary(rng, phonenumbers.national_significant_number(example))
        pick = rng.randrange(12)
        if pick < 4:  # digits only, as most rosters write them
            yield nsn
        elif pick == 4:  # with the trunk prefix and the region's own grouping
            number = phonenumbers.parse(nsn, region) if nsn else example
            yield phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        elif pick == 5:  # trunk 0 glued on
            yield "0" + nsn
        elif pick == 6:  # the country code or an international prefix glued on
            yield rng.choice((country_code, "00" + country_code, "+" + country_code, "17951", "12593")) + nsn
        elif pick == 7:  # random digit strings, short codes among them
            yield _digits(rng, rng.randint(1, 18))
        elif pick == 8:  # short codes and service numbers
            yield rng.choice(("110", "120", "119", "12345", "95588", "10086", "400" + _digits(rng, 7),
                              "800" + _digits(rng, 7), "4008108888"))  # fmt: skip
        elif pick == 9:  # foreign numbers in international form
            other = rng.choice(foreign)
            yield f"+{other.country_code} {_vary(rng, phonenumbers.national_significant_number(other))}"
        elif pick == 10:  # separators, extensions, full-width digits, spaces
            yield rng.choice((f"{nsn[:3]}-{nsn[3:]}", f"{nsn} ext. 12", f" {nsn} ", nsn.translate(_FULL_WIDTH)))
        else:  # mobiles of CN's shape whatever the region: 1 + 10 digits
            yield "1" + _digits(rng, 10)


_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("region", REGIONS)
def test_fast_path_decides_exactly_as_the_full_parse(region: str) -> None:
    numbers = list(_generated(region, 4_000, seed=2026))
    different = [
        (text, fast, full)
        for text in numbers
        if (fast := _outcome(parse_phone, text, region)) != (full := _outcome(phones._parse_fully, text, region))
    ]
    assert different == [], different[:10]


@pytest.mark.parametrize("region", ["CN", "DE", "JP"])
def test_most_plain_national_numbers_take_the_fast_path(region: str) -> None:
    # Otherwise the comparison above would prove nothing about the fast path.
    rules = phones._national_rules(region)
    assert rules is not None
    numbers = list(_generated(region, 4_000, seed=7))
    taken = [text for text in numbers if rules.takes(text.strip())]
    assert len(taken) > len(numbers) // 4
    valid = [text for text in taken if _outcome(parse_phone, text, region)[0] == "ok"]
    assert len(valid) > len(taken) // 4


@pytest.mark.parametrize("region", ["US", "GB"])
def test_regions_sharing_a_country_code_always_parse_fully(region: str) -> None:
    assert phones._national_rules(region) is None


@pytest.mark.parametrize("region", ["cn", "ZZ", "001", "XX", ""])
def test_a_region_phonenumbers_does_not_take_gives_the_same_error(region: str) -> None:
    for text in ("13800138000", "010-12345678", "+8613800138000"):
        assert _outcome(parse_phone, text, region) == _outcome(phones._parse_fully, text, region)


def test_roster_numbers_as_coordinators_write_them() -> None:
    assert parse_phone("13800138000", "CN") == phones.Phone("+8613800138000", phones.PhoneKind.MOBILE)
    assert parse_phone("010-12345678", "CN") == phones.Phone("+861012345678", phones.PhoneKind.FIXED_LINE)
    assert parse_phone("4008108888", "CN").kind == phones.PhoneKind.OTHER
    with pytest.raises(InvalidPhone, match="not a valid phone number"):
        parse_phone("12345", "CN")
    with pytest.raises(InvalidPhone, match="not a valid phone number"):
        parse_phone("12012345678", "CN")
