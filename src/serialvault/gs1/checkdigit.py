"""The GS1 mod-10 check digit (GS1 General Specifications §7.9.1).

Used by GTIN-8/12/13/14, SSCC-18 and GLN-13: weights 3 and 1 alternate from the
right-most data digit; the check digit brings the weighted sum to a multiple of ten.
"""

from __future__ import annotations


def gs1_check_digit(digits: str) -> str:
    """Return the check digit for ``digits`` (the data digits, without a check digit).

    >>> gs1_check_digit("0952123454321")
    '3'
    >>> gs1_check_digit("00614141123456789")
    '0'
    """
    total = 0
    weight = 3
    for ch in reversed(digits):
        total += (ord(ch) - 48) * weight
        weight = 4 - weight
    return str((10 - total % 10) % 10)


def has_valid_check_digit(number: str) -> bool:
    """True when the last digit of an all-digit ``number`` is its GS1 check digit."""
    return len(number) >= 2 and number.isdigit() and gs1_check_digit(number[:-1]) == number[-1]
