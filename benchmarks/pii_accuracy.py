"""PII detection precision and recall on a generated, labelled corpus (issue 7, I1).

Generates ``--records`` records (default 12,000) of filler text with planted PII of every type
in several real-world formats, and hard negatives that look like PII but are not: order and
tracking numbers, version strings, dates and times, ISBNs, UUIDs, MAC addresses, prices,
coordinates, card numbers failing Luhn, IBANs with a wrong check, SSNs from never-issued ranges,
NINOs with invalid prefixes, placeholder keys. Scores :func:`assay.data.pii.detect` per type
(a finding is a true positive when type and exact text match a planted item) and, in the same
run, a baseline of plain regular expressions without validation, so the value of the checksums
and rules shows as a ratio. With ``--presidio-python`` pointing at an interpreter that has
presidio-analyzer, its pattern recognizers are scored on the same records too.

The last line is the worst ratio of measured to target over every type, targets being recall
≥ 0.99 and precision ≥ 0.95 (stated for the checksum-validated types CARD and IBAN; held here
for every type).

    python benchmarks/pii_accuracy.py
    python benchmarks/pii_accuracy.py --presidio-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter

from assay.data.pii import PII_TYPES, detect
from assay.data.pii.checksums import IBAN_LENGTHS

TARGET_RECALL = 0.99
TARGET_PRECISION = 0.95
CHECKSUM_TYPES = ("CARD", "IBAN")

FILLER = (
    "please find the details below",
    "as discussed on the call yesterday",
    "the customer asked us to update the account",
    "thanks for your patience while we look into this",
    "see the attached summary for the full history",
    "we shipped the replacement this morning",
    "let me know if anything else is needed",
    "the ticket was escalated to the second line team",
)
FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
LAST = ("smith", "jones", "taylor", "brown", "wilson", "evans", "thomas", "roberts", "walker")
DOMAINS = ("example.com", "mail.example.org", "corp.example.co.uk", "test.io", "uni.example.edu")


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        candidate = body + check
        total = 0
        for i, c in enumerate(reversed(candidate)):
            v = int(c) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


#: Letters at the start of the BBAN (bank codes), the rest digits: the national structures.
_BBAN_LETTERS = {"GB": 4, "NL": 4, "IT": 1, "DE": 0, "FR": 0, "ES": 0, "BE": 0, "CH": 0, "PL": 0}


def _iban(rng: random.Random, country: str, valid: bool = True) -> str:
    length = IBAN_LENGTHS[country]
    letters = _BBAN_LETTERS[country]
    bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(letters)) + "".join(
        rng.choice(string.digits) for _ in range(length - 4 - letters)
    )
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    check = 98 - number % 97
    if not valid:
        check = (check + rng.randint(1, 96)) % 97 or 1
    return f"{country}{check:02d}{bban}"


def _group(text: str, size: int = 4, sep: str = " ") -> str:
    return sep.join(text[i : i + size] for i in range(0, len(text), size))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _token(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
            return value


def planted(rng: random.Random, kind: str) -> tuple[str, str]:
    """``(text to embed, exact value that must be found)`` for one PII item."""
    if kind == "EMAIL":
        local = rng.choice(
            [
                f"{rng.choice(FIRST)}.{rng.choice(LAST)}",
                f"{rng.choice(FIRST)}{rng.randint(1, 99)}",
                f"{rng.choice(FIRST)}+{rng.choice(['news', 'billing'])}",
                f"{rng.choice(FIRST)[0]}_{rng.choice(LAST)}",
            ]
        )
        value = f"{local}@{rng.choice(DOMAINS)}"
        if rng.random() < 0.2:
            value = value.capitalize()
        return value, value
    if kind == "PHONE":
        d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
        area = f"{rng.randint(2, 9)}{rng.randint(0, 8)}{rng.randint(2, 9)}"
        exchange = f"{rng.randint(2, 9)}{rng.randint(2, 9)}{rng.randint(0, 9)}"
        value = rng.choice(
            [
                f"+1 {area} {exchange} {d(4)}",
                f"({area}) {exchange}-{d(4)}",
                f"{area}-{exchange}-{d(4)}",
                f"{area}.{exchange}.{d(4)}",
                f"+44 20 {d(4)} {d(4)}",
                f"+44 7700 {d(6)}",
                f"020 {d(4)} {d(4)}",
                f"07700 {d(6)}",
                f"0161 {d(3)} {d(4)}",
                f"+49 30 {d(8)}",
                f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
                f"0{rng.randint(1, 7)} {d(2)} {d(2)} {d(2)} {d(2)}",
                f"+91 98{d(3)} {d(5)}",
                f"+61 2 {d(4)} {d(4)}",
                f"+1-{area}-{exchange}-{d(4)}",
                f"1 ({area}) {exchange}-{d(4)}",
                f"+44 (0)20 {d(4)} {d(4)}",
                f"+81 3-{d(4)}-{d(4)}",
            ]
        )
        return value, value
    if kind == "CARD":
        prefix, length = rng.choice(
            [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)]
        )
        number = _luhn_complete(rng, prefix, length)
        style = rng.random()
        if length == 15 and style < 0.5:
            value = f"{number[:4]} {number[4:10]} {number[10:]}"
        elif style < 0.35:
            value = _group(number)
        elif style < 0.55:
            value = _group(number, sep="-")
        else:
            value = number
        return value, value
    if kind == "IBAN":
        value = _iban(rng, rng.choice(["GB", "DE", "FR", "NL", "ES", "IT", "BE", "CH", "PL"]))
        if rng.random() < 0.5:
            value = _group(value)
        return value, value
    if kind == "US_SSN":
        while True:
            area = rng.randint(1, 899)
            if area != 666:
                break
        digits = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        if rng.random() < 0.8:
            value = f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
            return value, value
        return f"SSN: {digits}", digits
    if kind == "UK_NINO":
        first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
        second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
        while first + second in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}:
            second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
        digits = "".join(rng.choice(string.digits) for _ in range(6))
        suffix = rng.choice("ABCD")
        value = (
            f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
            if rng.random() < 0.5
            else f"{first}{second}{digits}{suffix}"
        )
        return value, value
    if kind == "IP_ADDRESS":
        if rng.random() < 0.6:
            value = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        else:
            groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
            value = (
                ":".join(groups)
                if rng.random() < 0.5
                else ":".join(groups[:3]) + "::" + ":".join(groups[6:])
            )
        return value, value
    if kind == "SECRET":
        choice = rng.randrange(9)
        if choice == 0:
            value = "sk-proj-" + _token(rng, 48, string.ascii_letters + string.digits + "_-")
        elif choice == 1:
            value = "AKIA" + "".join(
                rng.choice(string.ascii_uppercase + "234567") for _ in range(16)
            )
        elif choice == 2:
            value = "ghp_" + _token(rng, 36)
        elif choice == 3:
            team, user = rng.randint(10**10, 10**11), rng.randint(10**11, 10**12)
            value = f"xoxb-{team}-{user}-{_token(rng, 24)}"
        elif choice == 4:
            header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
            payload = _b64url(
                json.dumps({"sub": str(rng.randint(1, 10**9)), "iat": 1700000000}).encode()
            )
            value = f"{header}.{payload}.{_b64url(rng.randbytes(32))}"
        elif choice == 5:
            body = "\n".join(
                _token(rng, 64, string.ascii_letters + string.digits + "+/") for _ in range(4)
            )
            value = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
        elif choice == 6:
            value = _token(rng, 32, string.ascii_letters + string.digits + "/+")
            name = rng.choice(
                ["api_key", "API_KEY", "client_secret", "aws_secret_access_key", "auth_token"]
            )
            return f'{name} = "{value}"', value
        elif choice == 7:
            value = "sk_live_" + _token(rng, 24)
        else:
            value = "AIza" + _token(rng, 35, string.ascii_letters + string.digits + "_-")
        return value, value
    raise ValueError(kind)


def negative(rng: random.Random) -> str:
    """Text that looks like PII and is not."""
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    choice = rng.randrange(30)
    if choice == 0:
        return f"order ORD-{rng.randint(2019, 2026)}-{d(6)}"
    if choice == 1:
        return f"order #{d(8)}"
    if choice == 2:
        return f"version {rng.randint(0, 20)}.{rng.randint(0, 40)}.{rng.randint(0, 99)}"
    if choice == 3:
        return (
            f"v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 999)}"
        )
    if choice == 4:
        return f"on {rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if choice == 5:
        return f"due {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2000, 2030)}"
    if choice == 6:
        return f"ISBN 978-{rng.randint(0, 1)}-{d(3)}-{d(5)}-{rng.randint(0, 9)}"
    if choice == 7:
        return f"ISBN {rng.randint(0, 1)}-{d(3)}-{d(5)}-{rng.randint(0, 9)}"
    if choice == 8:
        return f"at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    if choice == 9:
        return "mac " + ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6))
    if choice == 10:
        h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        return f"request {h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if choice == 11:
        return f"total ${rng.randint(1, 999)},{d(3)}.{d(2)}"
    if choice == 12:
        return f"at {rng.uniform(-90, 90):.4f}, {rng.uniform(-180, 180):.4f}"
    if choice == 13:  # a card-shaped number that fails Luhn
        good = _luhn_complete(rng, "4", 16)
        bad = good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)
        return f"ref {_group(bad)}"
    if choice == 14:  # an IBAN-shaped string with a wrong check
        return "account " + _iban(rng, rng.choice(["GB", "DE", "FR"]), valid=False)
    if choice == 15:  # never-issued SSN ranges
        area = rng.choice(["000", "666", f"9{d(2)}"])
        return f"id {area}-{d(2)}-{d(4)}"
    if choice == 16:
        return f"nino {rng.choice(['GB', 'BG', 'NK', 'TN', 'ZZ', 'DA', 'QQ'])}{d(6)}A"
    if choice == 17:
        return rng.choice(
            [
                'api_key = "YOUR_API_KEY_HERE"',
                "password = ********",
                'token = os.environ["API_TOKEN"]',
                "secret: ${SECRET_VALUE}",
                "OPENAI_API_KEY=sk-your-key-here",
                "api_key = <insert key>",
            ]
        )
    if choice == 18:
        return f"tracking 1Z{_token(rng, 6, string.ascii_uppercase + string.digits)}{d(10)}"
    if choice == 19:
        return f"zip {d(5)}-{d(4)}"
    if choice == 20:
        return f"asset icon@{rng.randint(2, 3)}x.png"
    if choice == 21:
        return f"commit {''.join(rng.choice('0123456789abcdef') for _ in range(40))}"
    if choice == 22:
        major, minor = rng.randint(1, 30), rng.randint(0, 9)
        return f"build {major}.{minor}.{rng.randint(1000, 30000)}.{rng.randint(1, 999)}"
    if choice == 24:
        return f"population {rng.randint(1, 99)},{d(3)},{d(3)}"
    if choice == 25:
        return f"call extension {d(4)} in room {d(4)}"
    if choice == 26:
        return f"part no. {d(3)}-{d(3)}-{d(3)}"
    if choice == 27:
        return f"sku {d(4)} {d(4)} {d(4)}"
    if choice == 28:
        return f"color #{''.join(rng.choice('0123456789abcdef') for _ in range(6))}"
    return f"invoice INV-{d(4)}-{d(4)}-{d(4)}"


def generate(n: int, seed: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """Records as ``(text, [(type, value), ...])``; every type is planted equally often."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        parts = [rng.choice(FILLER)]
        labels = []
        for k in range(rng.randint(1, 3)):
            kind = PII_TYPES[(i * 3 + k) % len(PII_TYPES)]
            text, value = planted(rng, kind)
            parts.append(f"{rng.choice(['contact', 'see', 'use', 'note'])} {text}")
            labels.append((kind, value))
        for _ in range(rng.randint(1, 3)):
            parts.append(negative(rng))
        rng.shuffle(parts)
        records.append((", ".join(parts) + ".", labels))
    return records


_NAIVE = {
    "EMAIL": re.compile(r"\S+@\S+\.\w+"),
    "PHONE": re.compile(r"\+?\(?\d[\d ().\-]{7,}\d"),
    "CARD": re.compile(r"\b(?:\d[ \-]?){12,18}\d\b"),
    "IBAN": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"),
    "US_SSN": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "UK_NINO": re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"),
    "IP_ADDRESS": re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),
    "SECRET": re.compile(r"\b(?:sk-|AKIA|ghp_|xox[abp]-|eyJ|AIza|sk_live_)\S+"),
}


def naive(text: str) -> list[tuple[str, str]]:
    return [(kind, m.group(0)) for kind, rx in _NAIVE.items() for m in rx.finditer(text)]


def score(
    records: list[tuple[str, list[tuple[str, str]]]], predictions: list[list[tuple[str, str]]]
) -> dict[str, tuple[float, float, int, int, int]]:
    """Per type: (precision, recall, true positives, false positives, false negatives)."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for (_, labels), found in zip(records, predictions, strict=True):
        expected = Counter(labels)
        got = Counter(found)
        for key, count in got.items():
            hit = min(count, expected.get(key, 0))
            tp[key[0]] += hit
            fp[key[0]] += count - hit
        for key, count in expected.items():
            fn[key[0]] += max(0, count - got.get(key, 0))
    out = {}
    for kind in PII_TYPES:
        p = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 1.0
        r = tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else 1.0
        out[kind] = (p, r, tp[kind], fp[kind], fn[kind])
    return out


_PRESIDIO_SCRIPT = r"""
import json, sys
from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer,
    IbanRecognizer, IpRecognizer, PhoneRecognizer, UkNinoRecognizer, UsSsnRecognizer)
kinds = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CARD",
         "IBAN_CODE": "IBAN", "US_SSN": "US_SSN", "UK_NINO": "UK_NINO", "IP_ADDRESS": "IP_ADDRESS"}
recognizers = [R() for R in (CreditCardRecognizer, EmailRecognizer, IbanRecognizer, IpRecognizer,
               PhoneRecognizer, UkNinoRecognizer, UsSsnRecognizer)]
for line in sys.stdin:
    text = json.loads(line)
    found = []
    for r in recognizers:
        for x in r.analyze(text, entities=r.supported_entities, nlp_artifacts=None) or []:
            if x.score >= 0.3:
                found.append([kinds[x.entity_type], text[x.start:x.end]])
    print(json.dumps(found), flush=True)
"""


def presidio(
    python: str, records: list[tuple[str, list[tuple[str, str]]]]
) -> list[list[tuple[str, str]]]:
    with tempfile.TemporaryFile("w+") as feed:
        for text, _ in records:
            feed.write(json.dumps(text) + "\n")
        feed.seek(0)
        proc = subprocess.run(
            [python, "-c", _PRESIDIO_SCRIPT], stdin=feed, capture_output=True, text=True, check=True
        )
    return [[tuple(x) for x in json.loads(line)] for line in proc.stdout.splitlines()]


def _table(
    name: str, scores: dict[str, tuple[float, float, int, int, int]], kinds=PII_TYPES
) -> None:
    print(f"\n{name}")
    print(f"  {'type':<11} {'precision':>9} {'recall':>7} {'TP':>6} {'FP':>5} {'FN':>5}")
    for kind in kinds:
        p, r, tp, fp, fn = scores[kind]
        print(f"  {kind:<11} {p:9.4f} {r:7.4f} {tp:6d} {fp:5d} {fn:5d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--presidio-python", help="an interpreter with presidio-analyzer")
    parser.add_argument("--show-errors", type=int, default=0, help="print this many mistakes")
    args = parser.parse_args()
    records = generate(args.records, args.seed)
    n_planted = sum(len(labels) for _, labels in records)
    print(f"{len(records)} records, {n_planted} planted PII items, hard negatives in every record")

    began = time.perf_counter()
    ours = [[(f.type, f.value) for f in detect(text)] for text, _ in records]
    seconds = time.perf_counter() - began
    ours_scores = score(records, ours)
    _table(f"assay.data.pii.detect ({len(records) / seconds:,.0f} records/s)", ours_scores)

    base_scores = score(records, [naive(text) for text, _ in records])
    _table("baseline: plain regular expressions, no validation", base_scores)
    for kind in CHECKSUM_TYPES:
        print(
            f"  {kind}: precision {ours_scores[kind][0]:.4f} vs baseline "
            f"{base_scores[kind][0]:.4f} = "
            f"{ours_scores[kind][0] / max(base_scores[kind][0], 1e-9):.2f}x"
        )

    if args.presidio_python:
        pres_scores = score(records, presidio(args.presidio_python, records))
        kinds = [k for k in PII_TYPES if k != "SECRET"]
        _table(
            "presidio-analyzer pattern recognizers (score >= 0.3; no secrets recognizer)",
            pres_scores,
            kinds,
        )
    else:
        print(
            "\npresidio-analyzer: not compared "
            "(pass --presidio-python PATH to an interpreter that has it)"
        )

    if args.show_errors:
        shown = 0
        for (text, labels), found in zip(records, ours, strict=True):
            if Counter(found) != Counter(labels):
                print("\nTEXT:", text, "\n  expected:", labels, "\n  found:   ", found)
                shown += 1
                if shown >= args.show_errors:
                    break

    ratios = {}
    for kind in PII_TYPES:
        p, r, *_ = ours_scores[kind]
        ratios[f"{kind} recall"] = r / TARGET_RECALL
        ratios[f"{kind} precision"] = p / TARGET_PRECISION
    checksum_worst = min(v for k, v in ratios.items() if k.split()[0] in CHECKSUM_TYPES)
    worst_name = min(ratios, key=ratios.__getitem__)
    print(f"\nchecksum-validated types (CARD, IBAN): worst ratio vs target {checksum_worst:.3f}x")
    print(
        "PII worst ratio vs targets (recall 0.99, precision 0.95), all types: "
        f"{ratios[worst_name]:.3f}x ({worst_name})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
