"""Splits: per-example seeds by hashing, exact pattern allocation, and the leak registry.

Seeds come from hashing (seed, dataset, split, index, attempt), never `seed + index`
(neighbouring seeds then make nearly identical datasets). The registry refuses any
payload or normalised question already used by another split, and any repeated
payload inside a split when `unique payloads` is asked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from fractions import Fraction

from .rng import DIGEST, StreamRandom, seed_text


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from any parts; stable across processes and Python versions."""
    return int.from_bytes(hashlib.blake2b(seed_text(*parts), digest_size=8).digest(), "big")


class SeedDeriver:
    """The per-example random streams of one split: `StreamRandom.of(*prefix, *rest)`, without
    hashing the prefix each time.

    blake2b is a stream: hashing the prefix once and copying that state gives the same
    digest as hashing the whole text.
    """

    __slots__ = ("_state",)

    def __init__(self, *prefix: object) -> None:
        self._state = hashlib.blake2b("".join(f"{p}\x1f" for p in prefix).encode(),
                                      digest_size=DIGEST)

    def rng(self, index: int, attempt: int) -> StreamRandom:
        """The stream of `StreamRandom.of(*prefix, index, attempt)`."""
        state = self._state.copy()
        state.update(b"%d\x1f%d" % (index, attempt))
        return StreamRandom(state.digest())


def allocate(total: int, weights: Sequence[tuple[str, Fraction]]) -> list[int]:
    """Exact counts per pattern summing to `total` (largest remainder), in weight order."""
    wsum = sum((w for _, w in weights), Fraction(0))
    shares = [total * w / wsum for _, w in weights]
    counts = [int(s) for s in shares]
    remainders = sorted(range(len(weights)), key=lambda i: (-(shares[i] - counts[i]), i))
    for i in remainders[: total - sum(counts)]:
        counts[i] += 1
    return counts


def pattern_order(total: int, weights: Sequence[tuple[str, Fraction]], seed: int) -> list[int]:
    """Which pattern (by index) each example of a split gets: exact mixture, shuffled."""
    order = [i for i, n in enumerate(allocate(total, weights)) for _ in range(n)]
    StreamRandom.of(seed).shuffle(order)
    return order


# Words, and the symbols that are content in procedural questions: `(]` and `()` are
# different bracket strings, `3 4 +` and `3 4 *` different expressions. A hyphen counts
# unless it joins two letters (`twenty-one` is `twenty one`, `5 - 3` keeps its minus).
_TOKEN = re.compile(r"\w+|[+*/=<>()\[\]{}^%]|(?<![^\W\d_])-|-(?![^\W\d_])")


def normalise_question(text: str) -> str:
    """Case, spacing and prose punctuation do not make a question new; operators and brackets do."""
    return " ".join(_TOKEN.findall(text.lower()))


def payload_key(pattern: str, payload: Sequence[tuple[str, str]]) -> bytes:
    # Unit/record separators cannot occur in names; values are escaped against them.
    parts = [pattern] + [f"{k}\x1e{v.replace(chr(0x1f), ' ')}" for k, v in sorted(payload)]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).digest()


def question_key(question: str) -> bytes:
    return hashlib.blake2b(normalise_question(question).encode(), digest_size=16).digest()


class LeakRegistry:
    """Keys of every accepted example, per split. Memory: ~100 bytes per example."""

    def __init__(self, unique_payloads: bool) -> None:
        self.unique = unique_payloads
        self.payloads: dict[str, set[bytes]] = {}
        self.questions: dict[str, set[bytes]] = {}

    def clash(self, split: str, pkey: bytes, qkey: bytes) -> str | None:
        """Why this candidate cannot join `split`, or None if it can."""
        for other, keys in self.payloads.items():
            if other != split and pkey in keys:
                return f"payload already in {other}"
        for other, keys in self.questions.items():
            if other != split and qkey in keys:
                return f"question already in {other}"
        if self.unique and pkey in self.payloads.get(split, ()):
            return "payload repeated in split"
        return None

    def add(self, split: str, pkey: bytes, qkey: bytes) -> None:
        self.payloads.setdefault(split, set()).add(pkey)
        self.questions.setdefault(split, set()).add(qkey)
