"""The population and the timeline of simulated production traffic (SIMULATION ONLY).

Who uses the simulated app and when: pseudonymous users with a heavy-tailed activity
(Pareto-distributed weights, so a few users send most requests), segments, locales with their
country, continent and time zone, an hour-of-week profile in each user's local time, and
sessions of several turns. Also the planted personal data (emails, phone numbers in reserved
fictional ranges, Luhn-valid card numbers) and the knowledge base the retrieval spans read.

Everything draws from one ``random.Random`` passed in, so a seed fixes the whole world.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Literal

ROUTES: tuple[str, ...] = ("support-qa", "json-extract", "agent-orders", "rag-search")

#: locale -> (ISO country, continent code, UTC offset in hours, greeting, language)
LOCALES: dict[str, tuple[str, str, int, str, str]] = {
    "en-US": ("US", "NA", -6, "Hi,", "en"),
    "en-GB": ("GB", "EU", 0, "Hello,", "en"),
    "de-DE": ("DE", "EU", 1, "Hallo,", "de"),
    "fr-FR": ("FR", "EU", 1, "Bonjour,", "fr"),
    "es-MX": ("MX", "NA", -6, "Hola,", "es"),
    "pt-BR": ("BR", "SA", -3, "Olá,", "pt"),
    "en-IN": ("IN", "AS", 5, "Hello,", "en"),
    "ja-JP": ("JP", "AS", 9, "こんにちは、", "ja"),
}

#: Relative activity by local hour of day on a weekday (a working-day curve with an evening
#: shoulder); weekend hours are scaled by ``TrafficConfig.weekend_factor``.
HOUR_PROFILE: tuple[float, ...] = (
    0.15, 0.10, 0.08, 0.07, 0.08, 0.15, 0.35, 0.60, 0.90, 1.00, 1.00, 0.95,
    0.85, 0.95, 1.00, 1.00, 0.90, 0.75, 0.60, 0.55, 0.50, 0.45, 0.35, 0.22,
)  # fmt: skip

#: Probability that a session goes on after a turn (geometric number of turns), per route.
CONTINUE_PROB: dict[str, float] = {
    "support-qa": 0.55,
    "json-extract": 0.10,
    "agent-orders": 0.40,
    "rag-search": 0.35,
}
MAX_TURNS = 12

#: Invented list prices (USD per million input, output tokens) of the simulated models, so
#: cost has a value; keyed by system name. Simulation only: no real provider charges these.
SIM_PRICES: dict[str, tuple[float, float]] = {
    "atlas-large": (3.00, 15.00),
    "atlas-small": (0.25, 1.25),
    "boreal-medium": (1.00, 5.00),
    "cirrus-mini": (0.10, 0.40),
}
NS = 1_000_000_000
HOUR_NS = 3600 * NS

Actor = Literal["human", "api_client", "internal"]


@dataclass(slots=True)
class User:
    """A pseudonymous user: ``id`` is a random token, never a name or an address."""

    id: str
    segment: str
    locale: str
    actor: Actor
    weight: float
    environment: str

    @property
    def country(self) -> str:
        return LOCALES[self.locale][0]

    @property
    def continent(self) -> str:
        return LOCALES[self.locale][1]

    @property
    def tz_offset(self) -> int:
        return LOCALES[self.locale][2]


@dataclass(slots=True)
class SessionPlan:
    """A conversation to simulate: its user, route, first-turn time and number of turns."""

    id: str
    user: User
    route: str
    start_ns: int
    turns: int
    loop: bool = False
    trace_ids: list[str] = field(default_factory=list)


def token(rng: random.Random, n: int) -> str:
    """``n`` random lower-case hex digits (ids, response ids, keys)."""
    return f"{rng.getrandbits(4 * n):0{n}x}"


def pick(rng: random.Random, shares: dict[str, float]) -> str:
    """A key of ``shares`` drawn with probability proportional to its value."""
    keys = list(shares)
    return rng.choices(keys, weights=[shares[k] for k in keys])[0]


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """A lognormal draw with the given median (``exp(mu)``) and log-scale ``sigma``."""
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


def make_users(
    rng: random.Random,
    n: int,
    segments: dict[str, float],
    locales: dict[str, float],
    alpha: float,
    n_internal: int,
) -> tuple[list[User], list[User]]:
    """Production users and internal staff who test on staging. Activity weights are
    Pareto(``alpha``), heavy-tailed so the top tenth of users send a large share of requests,
    capped so that no user has more than about 5 % of the total."""
    users: list[User] = []
    for _ in range(n):
        segment = pick(rng, segments)
        # Enterprise accounts are partly API integrations rather than people at a keyboard.
        actor: Actor = "api_client" if segment == "enterprise" and rng.random() < 0.4 else "human"
        weight = rng.paretovariate(alpha)
        users.append(User("u_" + token(rng, 12), segment, pick(rng, locales), actor, weight, ""))
    # A capped Pareto: one draw from the far tail would otherwise be most of the traffic.
    for _ in range(3):
        cap = 0.05 * sum(u.weight for u in users)
        for u in users:
            u.weight = min(u.weight, cap)
    staff = [
        User("staff_" + token(rng, 6), "internal", "en-US", "internal", 1.0, "staging")
        for _ in range(n_internal)
    ]
    return users, staff


def hour_weights(start_ns: int, n_hours: int, tz_offset: int, weekend_factor: float) -> list[float]:
    """Cumulative weights of each UTC hour of the window for a user ``tz_offset`` hours east."""
    cumulative: list[float] = []
    total = 0.0
    first_hour = start_ns // HOUR_NS
    for h in range(n_hours):
        local = first_hour + h + tz_offset
        # Unix hour 0 was a Thursday (weekday 3 with Monday = 0).
        weekday = (local // 24 + 3) % 7
        w = HOUR_PROFILE[local % 24] * (weekend_factor if weekday >= 5 else 1.0)
        total += w
        cumulative.append(total)
    return cumulative


def local_hour_of_week(time_ns: int, tz_offset: int) -> int:
    """Hour of the week (0 = Monday 00:00) at ``time_ns`` in a zone ``tz_offset`` hours east."""
    local = time_ns // HOUR_NS + tz_offset
    return ((local // 24 + 3) % 7) * 24 + local % 24


def plan_sessions(
    rng: random.Random,
    *,
    users: list[User],
    staff: list[User],
    routes: dict[str, float],
    requests: int,
    start_ns: int,
    end_ns: int,
    weekend_factor: float,
    staging_share: float,
) -> list[SessionPlan]:
    """Sessions whose turns add up to exactly ``requests``, sorted by start time.

    A route is drawn with weight ``share / mean turns`` so that the share of *requests* (not of
    sessions) per route matches ``routes``. Start times follow each user's local hour-of-week
    profile.
    """
    mean_turns = {r: 1.0 / (1.0 - CONTINUE_PROB[r]) for r in routes}
    route_weights = {r: s / mean_turns[r] for r, s in routes.items() if s > 0}
    prod_cum = []
    total = 0.0
    for u in users:
        total += u.weight
        prod_cum.append(total)
    n_hours = max(1, math.ceil((end_ns - start_ns) / HOUR_NS))
    cum_by_tz: dict[int, list[float]] = {}
    sessions: list[SessionPlan] = []
    remaining = requests
    while remaining > 0:
        staging = bool(staff) and rng.random() < staging_share
        user = rng.choice(staff) if staging else users[bisect_left(prod_cum, rng.random() * total)]
        route = pick(rng, route_weights)
        turns = 1
        while turns < MAX_TURNS and rng.random() < CONTINUE_PROB[route]:
            turns += 1
        turns = min(turns, remaining)
        remaining -= turns
        cum = cum_by_tz.get(user.tz_offset)
        if cum is None:
            cum = hour_weights(start_ns, n_hours, user.tz_offset, weekend_factor)
            cum_by_tz[user.tz_offset] = cum
        hour = min(bisect_left(cum, rng.random() * cum[-1]), n_hours - 1)
        start = start_ns + hour * HOUR_NS + int(rng.random() * HOUR_NS)
        start = min(start, end_ns - 1)
        sessions.append(SessionPlan("s_" + token(rng, 16), user, route, start, turns))
    sessions.sort(key=lambda s: s.start_ns)
    return sessions


# -- planted personal data (PII) ---------------------------------------------------------------

_FIRST = ("dana", "li", "omar", "sofia", "ken", "maria", "noah", "aiko", "lukas", "chloe")
_LAST = ("kim", "nguyen", "haddad", "rossi", "tanaka", "garcia", "smith", "weber", "martin")
_DOMAINS = ("example.com", "example.org", "mail.example.net")


def luhn_check_digit(digits: str) -> int:
    """The Luhn (mod 10) check digit to append to ``digits`` (ISO/IEC 7812-1, annex B)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # doubled: the rightmost payload digit sits next to the check digit
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return (10 - total % 10) % 10


def fake_email(rng: random.Random) -> str:
    """An email address on a reserved example domain (RFC 2606)."""
    return f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{rng.randrange(10, 99)}@{rng.choice(_DOMAINS)}"


def fake_phone(rng: random.Random) -> str:
    """A phone number in a range reserved for fiction (NANP 555-01xx, Ofcom 020 7946 0xxx)."""
    n = rng.randrange(100)
    style = rng.randrange(3)
    if style == 0:
        return f"+1 415-555-01{n:02d}"
    if style == 1:
        return f"(312) 555-01{n:02d}"
    return f"+44 20 7946 0{n:03d}"


def fake_card(rng: random.Random) -> str:
    """A Luhn-valid 16-digit card number (Visa or Mastercard prefixes), grouped by four or not."""
    prefix = rng.choice(("4", "51", "52", "55"))
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(15 - len(prefix)))
    number = body + str(luhn_check_digit(body))
    if rng.random() < 0.5:
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


# -- the knowledge base the retrieval spans read -----------------------------------------------

KB_TOPICS: dict[str, tuple[str, ...]] = {
    "billing": ("invoices", "refunds", "payment methods", "subscription plans", "taxes"),
    "account": ("password resets", "two-factor login", "account deletion", "team seats"),
    "shipping": ("delivery times", "tracking numbers", "returns", "customs fees"),
    "product": ("the mobile app", "the API", "integrations", "data export"),
}
INDEX_NAME = "kb-index"
INDEX_VERSION = "kb-index-2026-02-14"
EMBEDDING_VERSION = "sim-embed-v2"
EMBEDDING_MODEL = "sim-embed-small"


@dataclass(slots=True)
class Chunk:
    """One retrievable chunk of a knowledge-base document; ``pii`` lists what was planted in
    its text as ``(kind, value)``."""

    document_id: str
    chunk_id: str
    topic: str
    version: str
    text: str
    pii: list[tuple[str, str]] = field(default_factory=list)


def make_knowledge_base(rng: random.Random, n_documents: int = 40) -> list[Chunk]:
    """Chunks of ``n_documents`` help-centre articles; about one chunk in twelve carries an
    escalation contact (an email or a phone number) or a card number left in an example."""
    chunks: list[Chunk] = []
    topics = list(KB_TOPICS)
    for d in range(n_documents):
        topic = topics[d % len(topics)]
        subject = KB_TOPICS[topic][(d // len(topics)) % len(KB_TOPICS[topic])]
        version = f"v{rng.randrange(1, 5)}"
        for c in range(rng.randrange(2, 6)):
            text = (
                f"Help article {d + 1}, section {c + 1}: about {subject}. "
                f"Open Settings, choose {topic.capitalize()}, and follow the steps for "
                f"{subject}. Changes take effect within {rng.randrange(2, 48)} hours."
            )
            pii: list[tuple[str, str]] = []
            draw = rng.random()
            if draw < 0.05:
                value = fake_email(rng)
                text += f" Escalations go to the team lead at {value}."
                pii.append(("email", value))
            elif draw < 0.08:
                value = fake_phone(rng)
                text += f" For urgent cases call {value}."
                pii.append(("phone", value))
            elif draw < 0.09:
                value = fake_card(rng)
                text += f" Example of a declined card from a real ticket: {value}."
                pii.append(("card", value))
            chunks.append(
                Chunk(f"kb-{d + 1:04d}", f"kb-{d + 1:04d}#c{c + 1}", topic, version, text, pii)
            )
    return chunks


def search(
    rng: random.Random, chunks: list[Chunk], topic: str, k: int
) -> list[tuple[Chunk, float]]:
    """``k`` chunks with descending similarity scores, mostly (not always) on ``topic``."""
    on_topic = [c for c in chunks if c.topic == topic]
    picked: list[Chunk] = []
    while len(picked) < k:
        pool = on_topic if rng.random() < 0.75 else chunks
        chunk = rng.choice(pool)
        if chunk not in picked:
            picked.append(chunk)
    score = 0.92 - 0.1 * rng.random()
    ranked = []
    for chunk in picked:
        ranked.append((chunk, round(score, 4)))
        score -= 0.03 + 0.08 * rng.random()
    return ranked
