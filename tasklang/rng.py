"""The random stream every dataset is drawn from: BLAKE2b output, keyed by the example's seed.

Seeding a Mersenne Twister costs more than sampling a whole GSM-style payload
(its 624-word state is built on every seed), and a compile seeds once per
example. Here the example's seed *is* the first 512 bits of randomness: the
per-example hash (seed, dataset, split, index, attempt) is taken with a 64-byte
digest, and draws take bits off it; more blocks come from hashing the key with a
counter when those run out.

`StreamRandom` has the `random.Random` methods that generators use (`random`,
`randrange`, `randint`, `choice`, `shuffle`, `getrandbits`), all defined here on
top of one integer draw (`below`), so datasets are the same bytes on every
Python version (CPython's own `randrange` and `shuffle` are Python code that may
change between releases). It is not a `random.Random` subclass: those carry a
Mersenne Twister state and a `__dict__`, which made making one per example and
every draw from it twice as slow.
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableSequence, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
DIGEST = 64  # bytes per block: BLAKE2b's widest output
_BLOCK_BITS = DIGEST * 8
_TO_UNIT = 1.0 / (1 << 53)


def seed_text(*parts: object) -> bytes:
    """What seeds and keys hash: the parts as text, joined by a unit separator."""
    return "\x1f".join(str(p) for p in parts).encode()


def key_of(*parts: object) -> bytes:
    """The 64-byte key of parts (the same text `splits.derive_seed` hashes)."""
    return hashlib.blake2b(seed_text(*parts), digest_size=DIGEST).digest()


class StreamRandom:
    """Draws bits in order from BLAKE2b(key), BLAKE2b(key || 1), ...: a pure function of key."""

    __slots__ = ("_key", "_pool", "_bits", "_block")

    def __init__(self, key: bytes) -> None:
        if len(key) != DIGEST:
            raise ValueError(f"StreamRandom needs a {DIGEST}-byte key, got {len(key)} bytes")
        self._key = key
        self._pool = int.from_bytes(key, "little")
        self._bits = _BLOCK_BITS
        self._block = 0

    @classmethod
    def of(cls, *parts: object) -> StreamRandom:
        return cls(key_of(*parts))

    def getstate(self) -> tuple[Any, ...]:
        return (self._key, self._pool, self._bits, self._block)

    def setstate(self, state: tuple[Any, ...]) -> None:
        self._key, self._pool, self._bits, self._block = state

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.getstate(),))

    def _refill(self, k: int) -> None:
        while self._bits < k:
            self._block += 1
            block = hashlib.blake2b(self._key + self._block.to_bytes(8, "little"),
                                    digest_size=DIGEST).digest()
            self._pool |= int.from_bytes(block, "little") << self._bits
            self._bits += _BLOCK_BITS

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        if k > self._bits:
            self._refill(k)
        pool = self._pool
        self._pool = pool >> k
        self._bits -= k
        return pool & ((1 << k) - 1)

    def below(self, n: int) -> int:
        """Uniform in 0..n-1 by rejection over the fewest bits that hold n-1 (n >= 1)."""
        if n <= 1:
            if n == 1:
                return 0  # no choice to make: no bits used
            raise ValueError(f"empty range: below({n})")
        k = (n - 1).bit_length()
        mask = (1 << k) - 1
        while True:
            if k > self._bits:
                self._refill(k)
            pool = self._pool
            self._pool = pool >> k
            self._bits -= k
            r = pool & mask
            if r < n:
                return r

    def random(self) -> float:
        return self.getrandbits(53) * _TO_UNIT

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None:
            start, stop = 0, start
        if step == 1:
            width = stop - start
            if width <= 0:
                raise ValueError(f"empty range in randrange({start}, {stop})")
            return start + self.below(width)
        if step > 0:
            n = (stop - start + step - 1) // step
        elif step < 0:
            n = (stop - start + step + 1) // step
        else:
            raise ValueError("zero step for randrange()")
        if n <= 0:
            raise ValueError(f"empty range in randrange({start}, {stop}, {step})")
        return start + step * self.below(n)

    def randint(self, a: int, b: int) -> int:
        return self.randrange(a, b + 1)

    def choice(self, seq: Sequence[T]) -> T:
        if not seq:
            raise IndexError("cannot choose from an empty sequence")
        return seq[self.below(len(seq))]

    def shuffle(self, x: MutableSequence[Any]) -> None:
        below = self.below
        for i in range(len(x) - 1, 0, -1):
            j = below(i + 1)
            x[i], x[j] = x[j], x[i]


def _restore(state: tuple[Any, ...]) -> StreamRandom:
    rng = StreamRandom(state[0])
    rng.setstate(state)
    return rng
