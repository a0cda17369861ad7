"""Checks on identity documents, card numbers and payment passwords."""

from __future__ import annotations

import itertools
from datetime import date, datetime

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
PROVINCE_CODES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
    }
)


class InvalidValue(ValueError):
    """A value failed a check; the message is safe to show (it never echoes the value)."""


def id_check_char(first17: str) -> str:
    """GB 11643-1999 check character over the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def parse_id_number(raw: str, today: date) -> tuple[str, date]:
    """A normalised resident ID number and the birth date it carries."""
    number = raw.strip().upper()
    if len(number) != 18 or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidValue("a resident ID number is 17 digits and a digit or X")
    if int(number[:2]) not in PROVINCE_CODES:
        raise InvalidValue("the ID number's region code is not a Chinese province")
    try:
        born = datetime.strptime(number[6:14], "%Y%m%d").date()
    except ValueError as exc:
        raise InvalidValue("the ID number's birth date is not a real date") from exc
    if born > today or born.year < 1900:
        raise InvalidValue("the ID number's birth date is not possible")
    if id_check_char(number[:17]) != number[17]:
        raise InvalidValue("the ID number's check digit is wrong")
    return number, born


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def parse_card_number(raw: str) -> str:
    digits = raw.replace(" ", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise InvalidValue("a card number is 12-19 digits")
    if not luhn_ok(digits):
        raise InvalidValue("the card number fails its check digit (Luhn)")
    return digits


def weak_password(pin: str) -> bool:
    """All one digit, or a run up or down (123456, 987654, 012345...)."""
    if len(set(pin)) == 1:
        return True
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {-1})
