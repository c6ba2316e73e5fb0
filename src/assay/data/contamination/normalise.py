"""Text to tokens, and tokens to stable 64-bit hashes, for contamination checks.

Normalisation follows GPT-3's overlap analysis (Brown et al. 2020, arXiv 2005.14165, App. C:
n-grams "ignoring all punctuation, whitespace, and casing") as lm-evaluation-harness's janitor
implements it: lower-case the text, *delete* punctuation (so ``don't`` becomes ``dont`` and
``well-known`` becomes ``wellknown``) and split on whitespace. Beyond ASCII, every Unicode
punctuation (P*), symbol (S*) and format (Cf) character is deleted and every other space or
control character separates tokens, so ``“Hello,” she said`` and ``hello she said`` agree.

Hashing is vectorised with numpy over a whole batch of documents at once (a Python call per
token or per n-gram would cap the scan at a few MB/s). A token of up to 8 bytes *is* its hash:
the bytes read as a little-endian integer, which is injective because tokens hold no zero
bytes. Longer tokens fold further 8-byte words in with a multiply-xorshift step. An n-gram's
hash is a polynomial in a fixed odd 64-bit radix over its token hashes, computed for every
position at once from a prefix sum. All constants are fixed, so hashes are the same in every
process and on every run (Python's ``hash`` is salted per process); candidate matches are
always confirmed on the token hashes themselves, never on an n-gram hash alone.
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

_U64 = np.uint64
#: Radix of the n-gram polynomial (odd, so invertible modulo 2**64).
_RADIX = 0x9E3779B97F4A7C15
_RADIX_INV = pow(_RADIX, -1, 2**64)
_FOLD = _U64(0xBF58476D1CE4E5B9)
_WORD_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [2**64 - 1], dtype=np.uint64)


def _ascii_table() -> bytes:
    table = bytearray(range(256))
    for code in range(ord("A"), ord("Z") + 1):
        table[code] = code + 32
    for code in [*range(32), 127]:  # control characters and whitespace separate tokens
        table[code] = 32
    return bytes(table)


_ASCII_TABLE = _ascii_table()
_ASCII_DELETE = string.punctuation.encode("ascii")


def _class_of(chars: list[str]) -> str:
    """A regex character class matching exactly ``chars`` (compressed into ranges)."""
    if not chars:
        return "(?!)"
    parts: list[str] = []
    codes = sorted(ord(c) for c in chars)
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code == prev + 1:
            prev = code
            continue
        parts.append(
            re.escape(chr(start))
            if start == prev
            else f"{re.escape(chr(start))}-{re.escape(chr(prev))}"
        )
        start = prev = code
    return "[" + "".join(parts) + "]"


@lru_cache(maxsize=1)
def _unicode_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns for non-ASCII characters to delete and to turn into spaces (built on first use:
    scanning the Unicode table takes a fraction of a second, and ASCII text never needs it)."""
    delete: list[str] = []
    space: list[str] = []
    for code in range(128, sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category[0] in "PS" or category == "Cf":
            delete.append(char)
        elif char.isspace() or category in ("Cc", "Zs", "Zl", "Zp"):
            space.append(char)
    return re.compile(_class_of(delete) + "+"), re.compile(_class_of(space) + "+")


def normalise(text: str) -> bytes:
    """``text`` lower-cased, punctuation deleted, whitespace and controls as spaces, as UTF-8.

    Tokens are the runs of bytes between spaces (``normalise(text).split()``).
    """
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE, _ASCII_DELETE)
    deleted, spaces = _unicode_patterns()
    lowered = spaces.sub(" ", deleted.sub("", text.lower()))
    return lowered.encode("utf-8", "surrogatepass").translate(_ASCII_TABLE, _ASCII_DELETE)


def tokenize(text: str) -> list[str]:
    """The normalised tokens of ``text`` (the reference the vectorised hashing must agree with)."""
    return [t.decode("utf-8", "surrogatepass") for t in normalise(text).split()]


def hash_tokens(buffer: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Hash every token of normalised bytes; returns ``(hashes, starts)``.

    ``hashes`` (uint64) is one stable hash per token; ``starts`` (int64) is each token's byte
    offset in ``buffer``. ``buffer`` must come from :func:`normalise` (or several of its
    results joined with spaces): bytes up to 0x20 separate tokens.
    """
    padded = buffer + b"\0" * 8
    raw = np.frombuffer(padded, dtype=np.uint8)
    is_word = raw > 32  # the padding is never a word byte, so every token ends inside `raw`
    edges = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1
    if is_word[0]:
        edges = np.concatenate((np.zeros(1, dtype=edges.dtype), edges))
    starts = edges[0::2].astype(np.int64)
    lengths = edges[1::2] - starts
    if starts.size == 0:
        return np.zeros(0, dtype=np.uint64), starts
    # An unaligned 8-byte little-endian word beginning at every byte offset (a strided view).
    words = np.ndarray(shape=(len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
    hashes = words[starts] & _WORD_MASKS[np.minimum(lengths, 8)]
    long_tokens = np.flatnonzero(lengths > 8)
    offset = 8
    while long_tokens.size:
        remaining = lengths[long_tokens] - offset
        word = words[starts[long_tokens] + offset] & _WORD_MASKS[np.minimum(remaining, 8)]
        folded = (hashes[long_tokens] ^ word) * _FOLD
        hashes[long_tokens] = folded ^ (folded >> _U64(29))
        long_tokens = long_tokens[remaining > 8]
        offset += 8
    return hashes.astype(np.uint64, copy=False), starts


def hash_texts(texts: Sequence[str]) -> list[np.ndarray]:
    """The token hashes of each text (one batch call, so as fast per text as the scan)."""
    parts = [normalise(t) for t in texts]
    hashes, starts = hash_tokens(b" ".join(parts))
    bounds = doc_token_bounds(parts, starts)
    return [hashes[bounds[i] : bounds[i + 1]] for i in range(len(parts))]


def doc_token_bounds(parts: Sequence[bytes], token_starts: np.ndarray) -> np.ndarray:
    """Index of each document's first token (plus the total) in a ``b" ".join(parts)`` batch."""
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    doc_starts = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=doc_starts[1:])
    return np.searchsorted(token_starts, doc_starts).astype(np.int64)


class NgramHasher:
    """Hashes of every ``n``-gram of a token-hash array, with the radix powers kept between calls.

    ``hash(tokens)[i]`` is the hash of ``tokens[i:i+n]``; it depends only on those tokens, not
    on ``i``, so the same n-gram hashes alike in an eval sample and anywhere in a training batch.
    """

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")
        self.n = n
        self._powers = np.ones(1, dtype=np.uint64)
        self._inverse_powers = np.ones(1, dtype=np.uint64)

    def _grow(self, size: int) -> None:
        if size <= len(self._powers):
            return
        size = max(size, 2 * len(self._powers))
        with np.errstate(over="ignore"):
            self._powers = np.cumprod(
                np.concatenate(([_U64(1)], np.full(size - 1, _RADIX, dtype=np.uint64))),
                dtype=np.uint64,
            )
            self._inverse_powers = np.cumprod(
                np.concatenate(([_U64(1)], np.full(size - 1, _RADIX_INV, dtype=np.uint64))),
                dtype=np.uint64,
            )

    def hash(self, tokens: np.ndarray) -> np.ndarray:
        """uint64 hash of each n-gram (empty when there are fewer than ``n`` tokens)."""
        n = self.n
        count = len(tokens) - n + 1
        if count <= 0:
            return np.zeros(0, dtype=np.uint64)
        self._grow(len(tokens))
        prefix = np.zeros(len(tokens) + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            np.cumsum(tokens * self._powers[: len(tokens)], dtype=np.uint64, out=prefix[1:])
            return (prefix[n:] - prefix[:-n]) * self._inverse_powers[:count]
