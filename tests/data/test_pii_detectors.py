"""PII detectors: every type found in its common formats, and look-alikes left alone."""

from __future__ import annotations

import base64
import json

import pytest

from assay.data.pii import (
    PII_TYPES,
    PatternDetector,
    card_valid,
    detect,
    iban_valid,
    luhn_valid,
    uk_nino_valid,
    us_ssn_valid,
)


def found(text: str) -> list[tuple[str, str]]:
    return [(f.type, f.value) for f in detect(text)]


# -- checksums --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("79927398713", True),  # the textbook Luhn example
        ("79927398710", False),
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("378282246310005", True),  # Amex test number
        ("6011111111111117", True),  # Discover test number
        ("0", False),
        ("12a4", False),
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


def test_cards_need_a_known_issuer_prefix_as_well() -> None:
    assert card_valid("4111111111111111")
    assert luhn_valid("9111111111111110") and not card_valid("9111111111111110")
    assert card_valid("4222222222222")  # a 13-digit Visa test number
    assert not card_valid("4222222222223")


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("GB82 WEST 1234 5698 7654 32", True),  # the ISO 13616 example
        ("GB82WEST12345698765432", True),
        ("gb82 west 1234 5698 7654 32", True),
        ("DE89 3704 0044 0532 0130 00", True),
        ("FR14 2004 1010 0505 0001 3M02 606", True),
        ("NO93 8601 1117 947", True),
        ("GB83 WEST 1234 5698 7654 32", False),  # check digits off by one
        ("GB82 WEST 1234 5698 7654 3", False),  # wrong length for GB
        ("XX82 WEST 1234 5698 7654 32", False),  # no such country
    ],
)
def test_iban_mod_97(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


@pytest.mark.parametrize(
    ("ssn", "valid"),
    [
        ("536-22-1134", True),
        ("000-12-3456", False),
        ("666-12-3456", False),
        ("912-12-3456", False),
        ("536-00-1134", False),
        ("536-22-0000", False),
        ("078-05-1120", False),  # the Woolworth wallet card number, never valid
        ("123-45-6789", False),
    ],
)
def test_us_ssn_rules(ssn: str, valid: bool) -> None:
    assert us_ssn_valid(ssn.replace("-", "")) is valid


@pytest.mark.parametrize(
    ("nino", "valid"),
    [
        ("AB123456C", True),
        ("AB 12 34 56 C", True),
        ("GB123456A", False),
        ("NK123456A", False),
        ("DA123456A", False),  # D is never a first letter
        ("AO123456A", False),  # O is never a second letter
        ("AB123456E", False),  # suffix is A-D
    ],
)
def test_uk_nino_rules(nino: str, valid: bool) -> None:
    assert uk_nino_valid(nino) is valid


# -- every type, in context ----------------------------------------------------------------


def jwt() -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': '1234567890'})}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"


POSITIVES = [
    (
        "write to Bob.Smith+tag@mail.example.co.uk today",
        "EMAIL",
        "Bob.Smith+tag@mail.example.co.uk",
    ),
    ("call +44 20 7946 0958 now", "PHONE", "+44 20 7946 0958"),
    ("call +1 (415) 555-2671", "PHONE", "+1 (415) 555-2671"),
    ("or (415) 555-2671.", "PHONE", "(415) 555-2671"),
    ("or 415-555-2671,", "PHONE", "415-555-2671"),
    ("or 415.555.2671", "PHONE", "415.555.2671"),
    ("office 020 7946 0958", "PHONE", "020 7946 0958"),
    ("mobile 07700 900123", "PHONE", "07700 900123"),
    ("bureau 01 23 45 67 89", "PHONE", "01 23 45 67 89"),
    ("Tokyo +81 3-1234-5678", "PHONE", "+81 3-1234-5678"),
    ("card 4111 1111 1111 1111 exp", "CARD", "4111 1111 1111 1111"),
    ("card 4111-1111-1111-1111", "CARD", "4111-1111-1111-1111"),
    ("amex 3782 822463 10005", "CARD", "3782 822463 10005"),
    ("card 5555555555554444.", "CARD", "5555555555554444"),
    ("pay to GB82 WEST 1234 5698 7654 32 thanks", "IBAN", "GB82 WEST 1234 5698 7654 32"),
    ("pay to DE89370400440532013000.", "IBAN", "DE89370400440532013000"),
    ("ssn 536-22-1134", "US_SSN", "536-22-1134"),
    ("SSN: 536221134", "US_SSN", "536221134"),
    ("NI number AB 12 34 56 C", "UK_NINO", "AB 12 34 56 C"),
    ("host 192.168.10.254:8080", "IP_ADDRESS", "192.168.10.254"),
    ("client 2001:db8:85a3::8a2e:370:7334 connected", "IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"),
    ("link-local fe80::1ff:fe23:4567:890a", "IP_ADDRESS", "fe80::1ff:fe23:4567:890a"),
    (
        "OPENAI_API_KEY=sk-proj-Zq3xW9vK2mN7bT4yR8sL1pQ6wE5",
        "SECRET",
        "sk-proj-Zq3xW9vK2mN7bT4yR8sL1pQ6wE5",
    ),
    ("key sk-ant-api03-" + "Ab1_" * 20, "SECRET", "sk-ant-api03-" + "Ab1_" * 20),
    ("aws AKIAIOSFODNN7EXAMPLE", "SECRET", "AKIAIOSFODNN7EXAMPLE"),
    (
        "token ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "SECRET",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    (
        "slack xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx",
        "SECRET",
        "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    (
        "google AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "SECRET",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    ),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "SECRET", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    (f"Authorization: Bearer {jwt()}", "SECRET", jwt()),
    (
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPL3KEY"',
        "SECRET",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPL3KEY",
    ),
    ("db_password: Tr0ub4dor&3x", "SECRET", "Tr0ub4dor&3x"),
    # random text that happens to contain a placeholder word is still a secret
    ('api_key = "pJ1xMJZyul1Pd/+IrFQfDuMMYwiRnW/p"', "SECRET", "pJ1xMJZyul1Pd/+IrFQfDuMMYwiRnW/p"),
]


@pytest.mark.parametrize(("text", "kind", "value"), POSITIVES, ids=[p[2][:24] for p in POSITIVES])
def test_finds_each_type(text: str, kind: str, value: str) -> None:
    assert found(text) == [(kind, value)]


def test_private_key_blocks_are_found_whole() -> None:
    block = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACB\n-----END OPENSSH PRIVATE KEY-----"
    assert found(f"here:\n{block}\nbye") == [("SECRET", block)]
    cut = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA"  # truncated: still a key
    assert found(cut) == [("SECRET", cut)]


def test_every_type_is_covered_by_a_positive_case() -> None:
    assert {kind for _, kind, _ in POSITIVES} == set(PII_TYPES)


NEGATIVES = [
    "version 1.2.3 released",
    "v1.2.3.4 build",
    "upgrade to version 10.0.0.1 today",
    "on 2024-01-15 and 15/01/2024 at 10:30:45",
    "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2",
    "order ORD-2024-004817 and order #48213957",
    "tracking 1ZUGQ3903617203858",
    "request 123e4567-e89b-12d3-a456-426614174000",
    "mac 00:1a:2b:3c:4d:5e",
    "std::vector<int> and a::b",
    "total $1,234,567.89 at 37.7749, -122.4194",
    "ref 4111 1111 1111 1112",  # fails Luhn
    "account GB83 WEST 1234 5698 7654 32",  # wrong IBAN check digits
    "id 000-12-3456 or 666-12-3456 or 912-12-3456",  # never-issued SSNs
    "nino GB123456A",
    "icon@2x.png and user@localhost",
    'api_key = "YOUR_API_KEY_HERE"',
    "password = ********",
    'token = os.environ["API_TOKEN"]',
    "secret: ${SECRET_VALUE}",
    "OPENAI_API_KEY=sk-your-key-here",
    "sk-this-is-not-a-real-key-at-all",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "zip 94105-1234, population 8,336,817, room 1203",
    "call extension 4521",
    "part no. 123-456-789",
    "invoice INV-2024-0001-0042",
    "call 555-0100",  # too short to be a full number
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_are_not_pii(text: str) -> None:
    assert found(text) == []


def test_overlaps_go_to_the_validated_type() -> None:
    # An IBAN's digits could pass for a card number; the IBAN wins and nothing is reported twice.
    assert found("IBAN DE89 3704 0044 0532 0130 00") == [("IBAN", "DE89 3704 0044 0532 0130 00")]


def test_types_filter_and_custom_detectors() -> None:
    text = "bob@example.com, 192.168.0.1, employee E-99812"
    assert [f.type for f in detect(text, types={"IP_ADDRESS"})] == ["IP_ADDRESS"]
    import re

    employee = PatternDetector("EMPLOYEE_ID", "employee", re.compile(r"\bE-\d{5}\b"), priority=10)
    assert [(f.type, f.value) for f in detect(text, detectors=[employee])] == [
        ("EMPLOYEE_ID", "E-99812")
    ]
