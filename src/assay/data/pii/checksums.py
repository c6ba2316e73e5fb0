"""Check digits and issuing rules that tell a real identifier from a number of the same shape."""

from __future__ import annotations

import re

#: IBAN length per country (ISO 13616 registry, SWIFT IBAN Registry release 2024).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check used by payment cards."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


_CARD_PREFIXES = re.compile(
    r"""^(?:
        4                                   # Visa
      | 5[1-5] | 2(?:2[2-9]|[3-6]\d|7[01]|720)  # Mastercard
      | 3[47]                               # American Express
      | 6011 | 65 | 64[4-9] | 622            # Discover, UnionPay co-branded
      | 62                                  # UnionPay
      | 35(?:2[89]|[3-8]\d)                 # JCB
      | 3(?:0[0-5]|[689])                   # Diners Club
      | 5[06-8] | 6[37]                     # Maestro
    )""",
    re.VERBOSE,
)


def card_valid(digits: str) -> bool:
    """A payment card number: 13-19 digits, a known issuer prefix, and a valid Luhn digit."""
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIXES.match(digits)) and luhn_valid(digits)


def iban_valid(iban: str) -> bool:
    """ISO 13616 IBAN: known country, that country's length, and mod 97 of the rearranged
    number equal to 1 (ISO 7064 MOD 97-10). Spaces are ignored; letters may be any case."""
    compact = iban.replace(" ", "").upper()
    if len(compact) < 15 or not compact.isalnum() or not compact[2:4].isdigit():
        return False
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


#: Numbers the SSA has said are invalid or were used in advertising (never issued to anyone).
_SSN_NOT_ISSUED = {"078051120", "219099999", "123456789"}


def us_ssn_valid(digits: str) -> bool:
    """A US Social Security number that could have been issued: 9 digits; area not 000, 666 or
    900-999; group not 00; serial not 0000; not a number the SSA lists as invalid."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return digits not in _SSN_NOT_ISSUED


_NINO_BAD_PREFIXES = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def uk_nino_valid(nino: str) -> bool:
    """A UK National Insurance number: two prefix letters (first not D, F, I, Q, U or V; second
    not D, F, I, O, Q, U or V; not BG, GB, NK, KN, TN, NT or ZZ), six digits, suffix A-D."""
    compact = nino.replace(" ", "").upper()
    if len(compact) != 9 or not compact[2:8].isdigit() or compact[8] not in "ABCD":
        return False
    first, second = compact[0], compact[1]
    if not (first.isalpha() and second.isalpha()):
        return False
    if first in "DFIQUV" or second in "DFIOQUV":
        return False
    return compact[:2] not in _NINO_BAD_PREFIXES
