"""PII detectors: regular expressions that find candidates, and validators that keep only the
candidates that are what they look like (check digits, issuing rules, address syntax).

Each detector is a :class:`PatternDetector`; :func:`detect` runs a list of them and resolves
overlaps, keeping the higher-priority finding (a card number is not also a phone number). The
list is pluggable (I1): pass ``detectors=`` with your own objects (anything with ``type``,
``name``, ``priority`` and ``find(text)``), for example a named-entity recogniser.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence

from assay.data.pii.base import Detector, Finding, PatternDetector
from assay.data.pii.checksums import card_valid, iban_valid, uk_nino_valid, us_ssn_valid
from assay.data.pii.credentials import SECRET_DETECTORS

#: The kinds of PII found, in the order reports list them.
PII_TYPES = ("EMAIL", "PHONE", "CARD", "IBAN", "US_SSN", "UK_NINO", "IP_ADDRESS", "SECRET")


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


# -- email -------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+\-@])([A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,63})@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w\-@]|\.[A-Za-z0-9])"
)
_NOT_TLDS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "heic"}


def _email(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    value = match.group(1)
    local, _, domain = value.partition("@")
    if ".." in local or local.endswith(".") or ".." in domain:
        return None
    if domain.rsplit(".", 1)[-1].lower() in _NOT_TLDS:  # icon@2x.png is an asset name
        return None
    return match.span(1)


# -- phone numbers -----------------------------------------------------------------------------

#: ITU-T E.164 country calling codes (assigned, as of 2024).
_CALLING_CODES = frozenset(
    re.findall(
        r"\d+",
        """
        1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62
        63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 222 223 224 225 226
        227 228 229 230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 247 248 249
        250 251 252 253 254 255 256 257 258 260 261 262 263 264 265 266 267 268 269 290 291 297 298
        299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 378 379 380 381
        382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 590 591 592 593
        594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688
        689 690 691 692 850 852 853 855 856 880 886 960 961 962 963 964 965 966 967 968 970 971 972
        973 974 975 976 977 992 993 994 995 996 998
        """,
    )
)
_SEP = r"[ .\-]"
_END = r"(?![\w\-]|[.,]\d)"
# Patterns here start with the first character they consume and check what precedes it in a
# lookbehind after it (``0(?<![\w+.\-/].)`` is ``(?<![\w+.\-/])0``): re then skips ahead to
# that character in C instead of trying every position (5-20x less time on chat text).
_INTERNATIONAL = re.compile(
    r"\+(?<![\w+]\+)\s?(\d{1,3})(?:" + _SEP + r"?\(0?\d{1,4}\)|" + _SEP + r"?\d{1,4})"
    r"(?:" + _SEP + r"?\d{1,4}){1,5}" + _END
)
_NANP = re.compile(
    r"(?<![\w+.\-/])(?:\+?1" + _SEP + r"?)?(?:\(([2-9]\d\d)\) ?|([2-9]\d\d)([ .\-]))"
    r"([2-9]\d\d)([ .\-])(\d{4})" + _END
)
#: What every NANP number contains (the area code's last digit, then the rest): the cheap
#: first check, as the pattern cannot start with what it consumes.
_NANP_CORE = re.compile(r"\d(?:\) ?|[ .\-])[2-9]\d\d[ .\-]\d{4}")
_UK = re.compile(
    r"(0(?<![\w+.\-/].)(?:[1235789]\d{1,3}[ \-]\d{3,4}[ \-]?\d{3,4}|[1235789]\d{3} ?\d{6}))" + _END
)
_FR = re.compile(r"(0(?<![\w+.\-/].)[1-9](?:([ .\-])\d\d)(?:\2\d\d){3})" + _END)


def _international(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    digits = _digits(match.group(0))
    if not 8 <= len(digits) <= 15:
        return None
    if not any(digits[:k] in _CALLING_CODES for k in (1, 2, 3)):
        return None
    return match.span(0)


def _nanp(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    area = match.group(1) or match.group(2)
    exchange = match.group(4)
    if area[1] == "9" or area[1:] == "11" or exchange[1:] == "11":
        return None  # N9X area codes are unassigned; N11 codes are service numbers
    separators = {match.group(3), match.group(5)} - {None}
    if "." in separators and len(separators) > 1:
        return None  # dots mixed with other separators (415.555-2671) are rarely phones
    return match.span(0)


def _uk(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    return match.span(1) if len(_digits(match.group(1))) in (10, 11) else None


# -- payment cards, IBANs, national ids -------------------------------------------------------

_CARD = re.compile(r"(\d(?<![\w\-].)(?<!\d[ \-].)(?:[ \-]?\d){12,18})(?![\w\-]|[ \-]\d)")


def _card(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    raw = match.group(1)
    separators = {c for c in raw if not c.isdigit()}
    if len(separators) > 1:
        return None
    if separators:
        groups = [len(g) for g in re.split(r"[ \-]", raw)]
        # 4-4-4-4(-3), Amex 4-6-5, Diners 4-6-4
        if groups[:-1] != [4] * (len(groups) - 1) and groups not in ([4, 6, 5], [4, 6, 4]):
            return None
    return match.span(1) if card_valid(_digits(raw)) else None


_IBAN = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30})(?![A-Za-z0-9])")


def _iban(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    raw = match.group(1)
    if iban_valid(raw):
        return match.span(1)
    # The greedy match may have run into a following word ("… 00 thanks"): try shorter ends.
    for end in range(len(raw) - 1, 14, -1):
        if raw[end - 1] != " " and (end == len(raw) or raw[end] == " ") and iban_valid(raw[:end]):
            return match.start(1), match.start(1) + end
    return None


_SSN = re.compile(r"(\d(?<![\d\-].)\d\d)-(\d{2})-(\d{4})(?![\d\-])")
_SSN_LABELLED = re.compile(
    r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\s*(?:#|no\.?|number)?\s*[:=]?\s*"
    r"(\d{3} \d{2} \d{4}|\d{9})(?!\d)"
)


def _ssn(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    span_group = 1 if match.re is _SSN_LABELLED else 0
    digits = _digits(match.group(span_group))
    return match.span(span_group) if us_ssn_valid(digits) else None


_NINO = re.compile(
    r"([A-CEGHJ-PR-TW-Z](?<![A-Za-z0-9].)[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])"
    r"(?![A-Za-z0-9])"
)


def _nino(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    return match.span(1) if uk_nino_valid(match.group(1)) else None


# -- IP addresses ------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(r"(?<![\w.])(" + _OCTET + r"(?:\." + _OCTET + r"){3})(?![\w]|\.\d)")
_VERSION_CONTEXT = re.compile(r"(?i)(?:\bv|version|ver\.?|release|build)\s*$")
_IPV6 = re.compile(
    r"(?<![\w:.])((?:[0-9A-Fa-f]{1,4}:|:){2,7}(?:[0-9A-Fa-f]{1,4}|:|"
    + _OCTET
    + r"(?:\."
    + _OCTET
    + r"){3}))(?![\w:]|\.\d)"
)


#: What every IPv4 address contains; and every accepted IPv6 address, which has three parts or
#: more (a part's last character, its colon, the next part's first character or a colon).
#: Both start with what they consume, so they are quick to rule out where ``.`` and ``:`` are
#: everywhere.
_DOTTED = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")
_COLONED = re.compile(r"[0-9A-Fa-f:]:[0-9A-Fa-f:]")


def _ipv4(match: re.Match[str], text: str) -> tuple[int, int] | None:
    if _VERSION_CONTEXT.search(text[max(0, match.start() - 12) : match.start()]):
        return None
    return match.span(1)


def _ipv6(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    value = match.group(1)
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return None
    if sum(1 for part in value.split(":") if part) < 3:
        return None  # "::1", "a::b": too little to be an address worth hiding (or to be sure)
    return match.span(1)


#: Every card, IBAN, SSN, NINO and phone number has at least six digits with at most three
#: other characters between neighbours: a text without such a run skips those detectors (most
#: prose), which is most of their cost on LLM traffic (benchmarks/trace_ingest.py).
_SIX_DIGITS = re.compile(r"\d(?:\D{0,3}\d){5}")

DEFAULT_DETECTORS: tuple[PatternDetector, ...] = (
    *SECRET_DETECTORS,
    PatternDetector("CARD", "payment_card", _CARD, _card, priority=90, prefilter=_SIX_DIGITS),
    PatternDetector("IBAN", "iban", _IBAN, _iban, priority=90, prefilter=_SIX_DIGITS),
    PatternDetector("EMAIL", "email", _EMAIL, _email, priority=80, keywords=("@",)),
    PatternDetector(
        "US_SSN", "us_ssn", _SSN, _ssn, priority=70, keywords=("-",), prefilter=_SIX_DIGITS
    ),
    PatternDetector(
        "US_SSN",
        "us_ssn_labelled",
        _SSN_LABELLED,
        _ssn,
        priority=70,
        # The label, lower-cased, or one of the letters re matches case-insensitively that
        # lower() does not turn into the label's (long s, dotless i, dotted capital I).
        keywords=("ssn", "social security", "\u017f", "\u0131", "i\u0307"),
        prefilter=_SIX_DIGITS,
    ),
    PatternDetector("UK_NINO", "uk_nino", _NINO, _nino, priority=70, prefilter=_SIX_DIGITS),
    PatternDetector(
        "IP_ADDRESS", "ipv4", _IPV4, _ipv4, priority=60, keywords=(".",), prefilter=_DOTTED
    ),
    PatternDetector(
        "IP_ADDRESS", "ipv6", _IPV6, _ipv6, priority=60, keywords=(":",), prefilter=_COLONED
    ),
    PatternDetector(
        "PHONE",
        "phone_international",
        _INTERNATIONAL,
        _international,
        priority=55,
        prefilter=_SIX_DIGITS,
    ),
    PatternDetector("PHONE", "phone_nanp", _NANP, _nanp, priority=50, prefilter=_NANP_CORE),
    PatternDetector("PHONE", "phone_uk", _UK, _uk, priority=50, prefilter=_SIX_DIGITS),
    PatternDetector("PHONE", "phone_fr", _FR, priority=50, prefilter=_SIX_DIGITS),
)


def detect(
    text: str,
    *,
    types: Iterable[str] | None = None,
    detectors: Sequence[Detector] | None = None,
) -> list[Finding]:
    """Every PII finding in ``text``, left to right, without overlaps.

    Where findings overlap, the detector with the higher priority wins (then the longer span):
    secrets, then checksum-validated cards and IBANs, then emails, national ids, IP addresses and
    phone numbers. ``types`` keeps only some kinds (see :data:`PII_TYPES`).
    """
    wanted = set(types) if types is not None else None
    candidates: list[tuple[int, int, int, Detector]] = []
    chosen: Sequence[Detector] = detectors if detectors is not None else DEFAULT_DETECTORS
    seen: dict[re.Pattern[str], bool] = {}
    for detector in chosen:
        if wanted is not None and detector.type not in wanted:
            continue
        if isinstance(detector, PatternDetector):
            if not detector.may_match(text, seen):
                continue
            spans: Iterable[tuple[int, int]] = detector.matches(text)
        else:
            spans = detector.find(text)
        for start, end in spans:
            if end > start:
                candidates.append((detector.priority, end - start, start, detector))
    if not candidates:
        return []
    candidates.sort(key=lambda c: (-c[0], -c[1], c[2]))
    taken: list[tuple[int, int]] = []
    findings: list[Finding] = []
    for _priority, length, start, detector in candidates:
        end = start + length
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        taken.append((start, end))
        findings.append(Finding(detector.type, start, end, text[start:end], detector.name))
    findings.sort(key=lambda f: f.start)
    return findings


#: Joins the texts of :func:`detect_each`. No default detector can match across it: every
#: pattern's classes refuse ``\x00`` except a keyed secret's value class, which also refuses
#: the newlines around it (so a value holding it is one character long, below the six needed),
#: and a private key's body, whose finding then crosses a join and sends the texts to
#: :func:`detect` one by one. The newlines and ``\x00`` are outside every lookaround's class and
#: non-word for ``\b``, so a text's edges look to every pattern as they do alone; and ``\s*``
#: before an IP address's version words cannot reach past the ``\x00``.
JOIN = "\n\x00\n"


def detect_each(texts: Sequence[str], *, types: Iterable[str] | None = None) -> list[list[Finding]]:
    """``[detect(text, types=types) for text in texts]`` with the default detectors, in one pass
    over the texts joined with :data:`JOIN`.

    One pass costs each detector one call and one prefilter search for all the texts instead
    of one per text (a traced span has dozens of strings); findings are mapped back to their
    text with offsets relative to it. A finding that crosses a join (an unterminated private
    key block) falls back to scanning the texts one by one, so the result is always exactly
    the per-text one.
    """
    if not texts:
        return []
    wanted = list(types) if types is not None else None
    joined = JOIN.join(texts)
    found = detect(joined, types=wanted)
    result: list[list[Finding]] = [[] for _ in texts]
    if not found:
        return result
    starts: list[int] = []
    position = 0
    for text in texts:
        starts.append(position)
        position += len(text) + len(JOIN)
    for finding in found:
        index = bisect_right(starts, finding.start) - 1
        offset = starts[index]
        if finding.end > offset + len(texts[index]):
            return [detect(text, types=wanted) for text in texts]
        result[index].append(
            Finding(
                finding.type,
                finding.start - offset,
                finding.end - offset,
                finding.value,
                finding.detector,
            )
        )
    return result
